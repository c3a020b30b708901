//! `Watch` inside the instance: the global change sequence, each watcher's
//! snapshot and its bounded queue. The contract is the `.proto`'s at
//! `WatchEvent`; the best paths are the Loc-RIB's (RFC 4271 §9.1), taken from
//! the RIB's change tracking ([`Rib::drain_changes`]).
//!
//! # Snapshot without stalling the instance
//!
//! A snapshot of a million routes must neither stop the instance for the
//! time it takes to copy them nor hold a million events in memory. So the
//! snapshot is *walked*, not copied: a watcher keeps a cursor over the RIB's
//! table slots (stable while a prefix lives) and the instance sends
//! [`SNAPSHOT_CHUNK`] routes at a time, each chunk ending with
//! [`WatchItem::ChunkEnd`]. The stream asks for the next chunk
//! ([`Watchers::more`]) only when the client has consumed the previous one,
//! so a snapshot costs at most one chunk of memory per watcher and at most one
//! chunk of work per instance event, at the client's pace.
//!
//! It is still the state as of the sequence `S` it started at. A change that
//! arrives during the walk is numbered after `S` and held (bounded, see
//! below) until `snapshot_done`. If it touches a slot the cursor has not
//! reached, the prefix's value at `S` (the change's `old` route) is sent right
//! away as a snapshot event and the slot is remembered, so the walk skips it
//! later: every prefix is reported once, as it was at `S`.
//!
//! # Slow watchers
//!
//! Events go through a bounded channel with `try_send`; the instance never
//! waits for a watcher. The channel's capacity is the watcher's budget
//! (`[api] watch_buffer_events`, chosen by the API when it makes the
//! channel). A watcher whose channel (or whose queue of changes held during
//! the snapshot, bounded by the same budget) is full is dropped and its
//! stream ends with RESOURCE_EXHAUSTED, saying how far behind it was. The
//! channel allocates as it fills and frees when it goes, so an idle watcher
//! costs nothing for its capacity. Events carry domain values
//! (a route shares its attributes by `Arc`); the stream converts them to
//! messages, off the instance.

use std::collections::{HashSet, VecDeque};

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot};

use super::listing::{PathSource, SourceNames};
use super::requests::ApiState;
use super::status::PeerView;
use crate::fsm::State;
use crate::rib::{BestChange, PeerId, Rib, Route, Source};
use crate::wire::Family;

/// A checked `WatchRequest`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WatchFilter {
    pub peers: bool,
    pub best_paths: bool,
    /// Best paths of this family only; `None`: every family.
    pub family: Option<Family>,
}

/// A change of the configured peers, as `Watch` reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerEvent {
    /// A neighbour was configured (or is reported by a snapshot).
    Added(Box<PeerView>),
    Removed(IpAddr),
    /// The session's FSM moved (RFC 4271 §8.2.2).
    State {
        address: IpAddr,
        from: State,
        to: State,
    },
}

/// Snapshot routes sent per chunk.
pub const SNAPSHOT_CHUNK: usize = 1024;
/// Slots looked at per chunk at most, so a sparse table cannot make one
/// chunk walk far.
const SLOTS_PER_CHUNK: u32 = 16 * SNAPSHOT_CHUNK as u32;

/// One watcher, for [`Watchers::more`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct WatchId(pub u64);

/// Why the instance ended a watch.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// The watcher's buffer was full, `behind` events waiting for its
    /// client: it must watch again.
    Overflow { behind: usize },
}

/// What a best-path event says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BestEvent {
    Added,
    Changed,
}

/// One event, in domain values.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchKind {
    SnapshotDone,
    /// Peer events (they are few).
    Peer(Box<PeerEvent>),
    Best {
        event: BestEvent,
        route: Route,
        source: PathSource,
    },
    Withdrawn(IpNet),
}

/// What travels from the instance to a watcher's stream.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchItem {
    Event {
        sequence: u64,
        snapshot: bool,
        kind: WatchKind,
    },
    /// The end of a snapshot chunk: ask for the next with [`Watchers::more`].
    ChunkEnd(WatchId),
}

/// A snapshot being walked.
struct Walk {
    sequence: u64,
    /// Families still to walk, the current one first.
    families: Vec<Family>,
    cursor: u32,
    /// Slots of `families` at or past the cursor already reported (or new
    /// since `S`): the walk skips them.
    touched: HashSet<(Family, u32)>,
    /// Changes after `S`, held until `snapshot_done`.
    held: VecDeque<WatchItem>,
}

impl Walk {
    /// Whether the walk still has to visit `slot` of `family`.
    fn ahead(&self, family: Family, slot: u32) -> bool {
        match self.families.iter().position(|&f| f == family) {
            Some(0) => slot >= self.cursor,
            Some(_) => true,
            None => false,
        }
    }
}

struct Watcher {
    id: WatchId,
    filter: WatchFilter,
    sender: mpsc::Sender<WatchItem>,
    end: Option<oneshot::Sender<WatchEnd>>,
    walk: Option<Walk>,
}

impl Watcher {
    fn wants_best(&self, family: Family) -> bool {
        self.filter.best_paths && self.filter.family.is_none_or(|f| f == family)
    }

    /// Sends now; `false` if the watcher must go (gone or overflowing).
    fn send(&mut self, item: WatchItem) -> bool {
        match self.sender.try_send(item) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                let held = self.walk.as_ref().map_or(0, |walk| walk.held.len());
                self.overflow(self.sender.max_capacity() + held);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    fn overflow(&mut self, behind: usize) {
        if let Some(end) = self.end.take() {
            let _ = end.send(WatchEnd::Overflow { behind });
        }
    }

    /// A live change: sent, or held while the snapshot is walked.
    fn live(&mut self, item: WatchItem) -> bool {
        if self.sender.is_closed() {
            // The client left mid-snapshot: stop holding changes for it.
            return false;
        }
        match &mut self.walk {
            Some(walk) if walk.held.len() >= self.sender.max_capacity() => {
                let behind = walk.held.len() + self.sender.max_capacity() - self.sender.capacity();
                self.overflow(behind);
                false
            }
            Some(walk) => {
                walk.held.push_back(item);
                true
            }
            None => self.send(item),
        }
    }

    /// Sends the next chunk of the snapshot, or its end and the held changes.
    fn next_chunk(&mut self, rib: &Rib, resolve: &dyn Fn(Source) -> PathSource) -> bool {
        let Some(walk) = &mut self.walk else { return true };
        let mut sent = 0;
        let mut looked = 0;
        let mut items = Vec::new();
        while sent < SNAPSHOT_CHUNK && looked < SLOTS_PER_CHUNK {
            let Some(&family) = walk.families.first() else { break };
            if walk.cursor >= rib.slot_bound(family) {
                walk.families.remove(0);
                walk.cursor = 0;
                walk.touched.retain(|(f, _)| *f != family);
                continue;
            }
            let slot = walk.cursor;
            walk.cursor += 1;
            looked += 1;
            if walk.touched.contains(&(family, slot)) {
                continue;
            }
            if let Some(route) = rib.best_at_slot(family, slot) {
                let source = resolve(route.source);
                let kind = WatchKind::Best { event: BestEvent::Added, route, source };
                items.push(WatchItem::Event { sequence: walk.sequence, snapshot: true, kind });
                sent += 1;
            }
        }
        if walk.families.is_empty() {
            let sequence = walk.sequence;
            items.push(WatchItem::Event {
                sequence,
                snapshot: true,
                kind: WatchKind::SnapshotDone,
            });
            items.extend(walk.held.drain(..));
            self.walk = None;
        } else {
            items.push(WatchItem::ChunkEnd(self.id));
        }
        items.into_iter().all(|item| self.send(item))
    }
}

/// Every watcher and the change sequence.
#[derive(Default)]
pub struct Watchers {
    sequence: u64,
    next_id: u64,
    watchers: Vec<Watcher>,
}

fn best_kind(change: &BestChange, resolve: &dyn Fn(Source) -> PathSource) -> WatchKind {
    match (&change.old, &change.new) {
        (_, None) => WatchKind::Withdrawn(change.prefix),
        (old, Some(route)) => WatchKind::Best {
            event: if old.is_some() { BestEvent::Changed } else { BestEvent::Added },
            route: route.clone(),
            source: resolve(route.source),
        },
    }
}

impl Watchers {
    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// Open Watch streams (for the metrics).
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    /// Per watcher (by id): events queued for it and not yet taken by its
    /// stream, plus best paths its snapshot walk still holds back. A watcher
    /// is cut off when this reaches `watch_buffer_events`.
    pub fn lags(&self) -> Vec<(u64, usize)> {
        self.watchers
            .iter()
            .map(|w| {
                let queued = w.sender.max_capacity() - w.sender.capacity();
                let held = w.walk.as_ref().map_or(0, |walk| walk.held.len());
                (w.id.0, queued + held)
            })
            .collect()
    }

    /// The sequence of the latest change.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// A new watcher: its snapshot starts at the current sequence. `peers`
    /// (the configured peers) are sent at once; best paths are walked in
    /// chunks. The caller has published every change up to now and keeps
    /// the RIB's change tracking on while any watcher exists.
    pub fn add(
        &mut self,
        filter: WatchFilter,
        sender: mpsc::Sender<WatchItem>,
        end: oneshot::Sender<WatchEnd>,
        peers: impl Iterator<Item = PeerView>,
        rib: &Rib,
        resolve: &dyn Fn(Source) -> PathSource,
    ) -> WatchId {
        self.next_id += 1;
        let id = WatchId(self.next_id);
        let sequence = self.sequence;
        let families = match (filter.best_paths, filter.family) {
            (false, _) => Vec::new(),
            (true, Some(family)) => vec![family],
            (true, None) => Family::ALL.to_vec(),
        };
        let walk =
            Walk { sequence, families, cursor: 0, touched: HashSet::new(), held: VecDeque::new() };
        let mut watcher = Watcher { id, filter, sender, end: Some(end), walk: Some(walk) };
        let mut alive = true;
        if filter.peers {
            for peer in peers {
                let kind = WatchKind::Peer(Box::new(PeerEvent::Added(Box::new(peer))));
                alive &= watcher.send(WatchItem::Event { sequence, snapshot: true, kind });
            }
        }
        if alive && watcher.next_chunk(rib, resolve) {
            self.watchers.push(watcher);
        }
        id
    }

    /// The watcher consumed a chunk: send the next.
    pub fn more(&mut self, id: WatchId, rib: &Rib, resolve: &dyn Fn(Source) -> PathSource) {
        let Some(index) = self.watchers.iter().position(|w| w.id == id) else { return };
        if !self.watchers[index].next_chunk(rib, resolve) {
            self.watchers.swap_remove(index);
        }
    }

    /// A peer event: numbered and sent to the watchers of peers.
    pub fn peer_event(&mut self, event: PeerEvent) {
        if self.watchers.is_empty() {
            return;
        }
        let event = Box::new(event);
        self.sequence += 1;
        let sequence = self.sequence;
        self.watchers.retain_mut(|watcher| {
            if !watcher.filter.peers {
                return !watcher.sender.is_closed();
            }
            let kind = WatchKind::Peer(event.clone());
            watcher.live(WatchItem::Event { sequence, snapshot: false, kind })
        });
    }

    /// Best-path changes in the order they happened, each numbered.
    pub fn best_changes(
        &mut self,
        changes: Vec<BestChange>,
        resolve: &dyn Fn(Source) -> PathSource,
    ) {
        for change in changes {
            self.sequence += 1;
            let sequence = self.sequence;
            let mut kind = None;
            self.watchers.retain_mut(|watcher| {
                if !watcher.wants_best(change.family) {
                    return !watcher.sender.is_closed();
                }
                if let Some(walk) = &mut watcher.walk
                    && walk.ahead(change.family, change.slot)
                    && walk.touched.insert((change.family, change.slot))
                    && let Some(old) = &change.old
                {
                    // The walk has not reported this prefix yet: its value at
                    // `S` goes out now, and the walk will skip the slot.
                    let sequence = walk.sequence;
                    let best = WatchKind::Best {
                        event: BestEvent::Added,
                        route: old.clone(),
                        source: resolve(old.source),
                    };
                    if !watcher.send(WatchItem::Event { sequence, snapshot: true, kind: best }) {
                        return false;
                    }
                }
                let kind = kind.get_or_insert_with(|| best_kind(&change, resolve)).clone();
                watcher.live(WatchItem::Event { sequence, snapshot: false, kind })
            });
        }
    }
}

/// Publishes the RIB's best-path changes to the watchers (no-op without).
pub fn publish(rib: &mut Rib, state: &mut ApiState, peers: &HashMap<IpAddr, PeerId>) {
    if state.watchers.is_empty() {
        return;
    }
    let changes = rib.drain_changes();
    if !changes.is_empty() {
        let names = SourceNames { owners: &state.sources, peers };
        let resolve = names.resolver();
        state.watchers.best_changes(changes, &resolve);
    }
    if state.watchers.is_empty() {
        rib.track_changes(false);
    }
}

/// A new `Watch`. Every change so far has been published (the instance
/// publishes after each event), so the snapshot starts at the current
/// sequence with nothing in between.
pub fn watch(
    rib: &mut Rib,
    state: &mut ApiState,
    peers: &HashMap<IpAddr, PeerId>,
    request: WatchRequest,
) {
    publish(rib, state, peers);
    rib.track_changes(true);
    let names = SourceNames { owners: &state.sources, peers };
    let resolve = names.resolver();
    state.watchers.add(
        request.filter,
        request.sender,
        request.end,
        request.peers.into_iter(),
        rib,
        &resolve,
    );
    if state.watchers.is_empty() {
        rib.track_changes(false);
    }
}

/// The watcher consumed a snapshot chunk.
pub fn watch_more(rib: &Rib, state: &mut ApiState, peers: &HashMap<IpAddr, PeerId>, id: WatchId) {
    let names = SourceNames { owners: &state.sources, peers };
    let resolve = names.resolver();
    state.watchers.more(id, rib, &resolve);
}

/// A `Watch` as the instance receives it; `peers` are filled in by the
/// instance (the configured peers, for the snapshot).
#[derive(Debug)]
pub struct WatchRequest {
    pub filter: WatchFilter,
    pub sender: mpsc::Sender<WatchItem>,
    pub end: oneshot::Sender<WatchEnd>,
    pub peers: Vec<PeerView>,
}

#[cfg(test)]
mod tests;
