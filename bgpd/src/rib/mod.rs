//! The routing information bases (RFC 4271 §3.2, §9): Adj-RIB-In per peer, the
//! Loc-RIB with best-path selection (§9.1), Adj-RIB-Out per peer with the export
//! rules (§9.1.3, §5.1, RFC 1997, RFC 4456), and graceful-restart stale marking
//! (RFC 4724 §4.2).
//!
//! [`Rib`] is owned by the single instance task: no locks, no async, no I/O. It
//! works on `wire` types (never bytes); the peer tasks encode what it hands out.
//!
//! # Flow
//! ```text
//! UpdateMessage ──apply_update──► table (Adj-RIB-In paths + best) ──► per-peer queues
//! originate / withdraw_local ──┘        │                                 │
//!                                       └─► changes (opt-in, drain_changes) next_export_batch
//! ```
//!
//! # Storage (see `table`, `intern`, `adj_out`)
//! One table per family: a `Vec` of 12-byte entries (IPv4: address `u32`, and
//! the only path inline: attribute id `u32`, source index `u16`, flags such as
//! stale, prefix length) addressed by a stable *slot*, plus a hashbrown index
//! of slots (5 bytes a bucket). Prefixes with several paths point into a side
//! slab whose lists keep the best path first. Attribute sets are interned with
//! reference counts and freed with their last user. Per peer, the Adj-RIB-Out
//! is two bits per prefix plus a deduplicated FIFO of slots.
//!
//! Growth: the entry `Vec` doubles, but capacity it has not used yet is never
//! written, so it costs address space, not RSS (and large reallocations are
//! `mremap`s). The index must double too (hashbrown is power-of-two); holding
//! only a `u32` per bucket bounds the waste to ≈5 MB at 1 M prefixes, and its
//! transient peak while rehashing to ≈15 MB. A custom non-power-of-two table
//! would save those few MB at the price of more probes or tag bytes; not worth
//! it at this size.
//!
//! Measured (`cargo bench --bench rib`, 1 M IPv4 prefixes over 2,000 attribute
//! sets, from one eBGP peer, exported to another): the RIB adds 31 MiB to the
//! process peak RSS (heap 27 MiB after the import, 24 MiB after the export);
//! import ≈3 M prefixes/s, full-table export ≈17 M prefixes/s on one core.
//!
//! # Sources and local routes
//! A route's [`Source`] is a BGP peer ([`PeerId`], chosen by the caller), the
//! static config or an API owner. Local routes have an empty AS_PATH and ORIGIN
//! IGP unless set; they win over learned routes after LOCAL_PREF (so a learned
//! route with a higher LOCAL_PREF still wins), and among themselves Static wins
//! over Api, lower owner id first. See `best` for every step.
//!
//! # Import rules
//! Routes whose AS_PATH holds our ASN, and iBGP routes whose ORIGINATOR_ID is our
//! router id, are rejected and withdraw any earlier path of that peer for the
//! prefix (RFC 4271 §9.1.2, RFC 4456 §8). LOCAL_PREF from eBGP peers is ignored
//! (§5.1.5); routes without one count as 100. ADD-PATH path identifiers are
//! ignored: one path per (prefix, source).
//!
//! # Export
//! [`Rib::next_export_batch`] hands out withdrawals and announcements grouped by
//! exported attribute set; the exported set is computed once per (attribute set,
//! peer flavour) and cached. A withdrawal is only sent for a prefix that was
//! announced. [`Rib::queue_full_table`] starts a dump; [`Rib::export_pending`]
//! says when the caller may send End-of-RIB.

mod adj_out;
mod best;
mod deferral;
mod export;
mod intern;
mod restrict;
mod table;
#[cfg(test)]
mod tests;
mod types;

use std::borrow::Cow;
use std::net::Ipv4Addr;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

pub use best::Reason;
pub use intern::Exported;
pub use types::{
    AnnounceGroup, ApplyStats, BestChange, Counts, ExportBatch, LocalInfo, MemoryUsage, OwnerId,
    PeerId, PeerInfo, RibError, Route, Source,
};

use adj_out::{FamilyExport, PeerExport};
use best::{Candidate, SourceFacts};
use export::{ExportProfile, Receiver};
use intern::{AttrId, AttrStore, Summary};
use table::{FLAG_STALE, MAX_SOURCE, Path, Prefix4, Prefix6, PrefixKey, SourceIndex, Table};

use crate::wire::{Family, NextHop, Nlri, Origin, PathAttributes, UpdateMessage};

#[derive(Debug)]
pub(crate) struct SourceState {
    pub facts: SourceFacts,
    /// Routes held per family.
    pub routes: [usize; 2],
}

/// Everything but the tables, so that generic per-family code can borrow a
/// table and the rest at once.
#[derive(Debug)]
pub(crate) struct Core {
    pub local: LocalInfo,
    pub attrs: AttrStore,
    pub sources: Vec<Option<SourceState>>,
    source_index: FxHashMap<Source, SourceIndex>,
    pub exports: Vec<Option<PeerExport>>,
    pub profiles: Vec<ExportProfile>,
    changes: Option<Vec<BestChange>>,
    /// Paths for chosen peers only (see `restrict`).
    pub restrictions: restrict::Restrictions,
    /// Learned routes held after our restart (see `deferral`).
    pub deferral: deferral::Deferral,
}

const FALLBACK_SUMMARY: Summary = Summary {
    local_pref: 0,
    path_length: u32::MAX,
    origin: u8::MAX,
    med: u32::MAX,
    neighbour_as: None,
    originator_id: None,
    cluster_length: u32::MAX,
    no_export: true,
    no_advertise: true,
};

const FALLBACK_FACTS: SourceFacts = SourceFacts {
    source: Source::Static,
    local: false,
    ibgp: true,
    router_id: Ipv4Addr::BROADCAST,
    address: None,
};

impl Core {
    fn candidate(&self, path: &Path) -> Candidate<'_> {
        Candidate {
            summary: self.attrs.get(path.attrs).map_or(&FALLBACK_SUMMARY, |s| &s.summary),
            source: self
                .sources
                .get(path.source as usize)
                .and_then(Option::as_ref)
                .map_or(&FALLBACK_FACTS, |s| &s.facts),
        }
    }

    fn better(&self, a: &Path, b: &Path) -> bool {
        best::compare(&self.candidate(a), &self.candidate(b)).0.is_lt()
    }

    fn route(&self, prefix: IpNet, path: &Path) -> Option<Route> {
        let attr = self.attrs.get(path.attrs)?;
        let source = self.sources.get(path.source as usize)?.as_ref()?.facts.source;
        Some(Route {
            prefix,
            source,
            attributes: attr.attributes.clone(),
            next_hop: attr.next_hop,
            stale: path.is_stale(),
        })
    }

    fn source_state(&mut self, source: SourceIndex) -> Option<&mut SourceState> {
        self.sources.get_mut(source as usize).and_then(Option::as_mut)
    }

    /// The index of `source`, registered if new. Returns whether facts of an
    /// already known source changed (its routes then need selection again).
    fn register(
        &mut self,
        source: Source,
        facts: SourceFacts,
    ) -> Result<(SourceIndex, bool), RibError> {
        if let Some(&index) = self.source_index.get(&source) {
            let mut changed = false;
            if let Some(state) = self.source_state(index) {
                changed = state.facts != facts;
                state.facts = facts;
            }
            return Ok((index, changed));
        }
        let index = match self.sources.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.sources.len() <= MAX_SOURCE as usize => {
                self.sources.push(None);
                self.sources.len() - 1
            }
            None => return Err(RibError::TooManySources(MAX_SOURCE as usize + 1)),
        };
        self.sources[index] = Some(SourceState { facts, routes: [0; 2] });
        self.source_index.insert(source, index as SourceIndex);
        Ok((index as SourceIndex, false))
    }

    /// Selection again wherever `source` competes with other paths.
    fn reselect<P: PrefixKey>(&mut self, table: &mut Table<P>, source: SourceIndex) {
        for slot in table.shared_slots_of(source) {
            let Some(change) = table.reselect(slot, |a, b| self.better(a, b)) else { continue };
            if change.best_changed() {
                self.on_best_change(table, slot, change.old_best, change.new_best);
            }
        }
    }

    /// Add or replace the path of `path.source` for `prefix`. Takes over one
    /// reference to `path.attrs` from the caller.
    fn announce<P: PrefixKey>(&mut self, table: &mut Table<P>, prefix: P, path: Path) -> bool {
        let slot = table.find_or_insert(prefix);
        let change = table.upsert(slot, path, |a, b| self.better(a, b));
        if change.displaced.is_none()
            && let Some(state) = self.source_state(path.source)
        {
            state.routes[P::FAMILY.index()] += 1;
        }
        let changed = change.best_changed();
        if changed {
            self.on_best_change(table, slot, change.old_best, change.new_best);
        }
        if let Some(displaced) = change.displaced {
            self.attrs.release(displaced.attrs);
        }
        self.path_changed(table, slot, path.source);
        changed
    }

    /// Remove the path of `source` for `prefix`. Returns (had a path, best changed).
    fn withdraw<P: PrefixKey>(
        &mut self,
        table: &mut Table<P>,
        prefix: P,
        source: SourceIndex,
    ) -> (bool, bool) {
        let Some(slot) = table.find(prefix) else { return (false, false) };
        self.withdraw_slot(table, slot, source)
    }

    fn withdraw_slot<P: PrefixKey>(
        &mut self,
        table: &mut Table<P>,
        slot: u32,
        source: SourceIndex,
    ) -> (bool, bool) {
        let Some(change) = table.remove(slot, source, |a, b| self.better(a, b)) else {
            return (false, false);
        };
        if let Some(state) = self.source_state(source) {
            state.routes[P::FAMILY.index()] -= 1;
        }
        let changed = change.best_changed();
        if changed {
            self.on_best_change(table, slot, change.old_best, change.new_best);
        }
        if let Some(displaced) = change.displaced {
            self.attrs.release(displaced.attrs);
        }
        self.path_changed(table, slot, source);
        (true, changed)
    }

    fn on_best_change<P: PrefixKey>(
        &mut self,
        table: &mut Table<P>,
        slot: u32,
        old: Option<Path>,
        new: Option<Path>,
    ) {
        if self.changes.is_some() {
            let prefix = table.prefix(slot).to_net();
            let change = BestChange {
                family: P::FAMILY,
                prefix,
                slot,
                old: old.and_then(|p| self.route(prefix, &p)),
                new: new.and_then(|p| self.route(prefix, &p)),
            };
            if let Some(changes) = self.changes.as_mut() {
                changes.push(change);
            }
        }
        let fi = P::FAMILY.index();
        let live = new.is_some();
        let mut held = false;
        for pe in self.exports.iter_mut().flatten() {
            // Split horizon: a peer is never sent its own route, so it only
            // needs the prefix queued when it holds an older announcement.
            let own = new.is_some_and(|p| p.source == pe.receiver.source);
            if let Some(fe) = pe.families[fi].as_mut() {
                held |= fe.enqueue(slot, live && !own);
            }
        }
        if !live && !held {
            table.release(slot);
        }
    }

    /// Free an empty slot once no peer has it queued or advertised.
    pub(crate) fn release_if_unused<P: PrefixKey>(&self, table: &mut Table<P>, slot: u32) {
        if !table.is_empty_slot(slot) {
            return;
        }
        let fi = P::FAMILY.index();
        let held = self
            .exports
            .iter()
            .flatten()
            .any(|pe| pe.families[fi].as_ref().is_some_and(|fe| fe.holds(slot)));
        if !held {
            table.release(slot);
        }
    }

    /// Remove every path of `source` that `filter` selects. Returns the count.
    fn remove_paths<P: PrefixKey>(
        &mut self,
        table: &mut Table<P>,
        source: SourceIndex,
        filter: impl Fn(&Path) -> bool,
    ) -> usize {
        let slots = table.slots_of(source, filter);
        for &slot in &slots {
            self.withdraw_slot(table, slot, source);
        }
        slots.len()
    }

    fn sweep_empty<P: PrefixKey>(&self, table: &mut Table<P>) {
        for slot in table.empty_slots() {
            self.release_if_unused(table, slot);
        }
    }
}

/// The RIB of one BGP instance. See the module documentation.
#[derive(Debug)]
pub struct Rib {
    core: Core,
    v4: Table<Prefix4>,
    v6: Table<Prefix6>,
}

/// Run `$body` with `$t` bound to the table of `$family`.
macro_rules! with_table {
    ($self:ident, $family:expr, |$core:ident, $t:ident| $body:expr) => {
        match $family {
            Family::Ipv4Unicast => {
                let ($core, $t) = (&mut $self.core, &mut $self.v4);
                $body
            }
            Family::Ipv6Unicast => {
                let ($core, $t) = (&mut $self.core, &mut $self.v6);
                $body
            }
        }
    };
}

impl Rib {
    pub fn new(local: LocalInfo) -> Self {
        Self {
            core: Core {
                local,
                attrs: AttrStore::default(),
                sources: Vec::new(),
                source_index: FxHashMap::default(),
                exports: Vec::new(),
                profiles: Vec::new(),
                changes: None,
                restrictions: restrict::Restrictions::default(),
                deferral: deferral::Deferral::default(),
            },
            v4: Table::default(),
            v6: Table::default(),
        }
    }

    pub fn local(&self) -> LocalInfo {
        self.core.local
    }

    // ----- peers -----

    /// Register a peer whose session reached Established (or update it after a
    /// graceful restart: its routes stay). Its export state starts empty: call
    /// [`Rib::queue_full_table`] for each family to send it the table.
    pub fn add_peer(&mut self, id: PeerId, info: PeerInfo) -> Result<(), RibError> {
        let facts = SourceFacts {
            source: Source::Peer(id),
            local: false,
            ibgp: info.ibgp,
            router_id: info.router_id,
            address: Some(info.address),
        };
        let (index, facts_changed) = self.core.register(Source::Peer(id), facts)?;
        let (next_hop_v4, next_hop_v6) =
            export::own_addresses(info.local_address, info.next_hop_v4, info.next_hop_v6);
        let profile = ExportProfile {
            ibgp: info.ibgp,
            next_hop_self: info.next_hop_self,
            next_hop_v4,
            next_hop_v6,
        };
        let profile = match self.core.profiles.iter().position(|p| *p == profile) {
            Some(i) => i,
            None => {
                self.core.profiles.push(profile);
                self.core.profiles.len() - 1
            }
        } as u16;
        let mut families = [None, None];
        for family in &info.families {
            families[family.index()] = Some(FamilyExport::default());
        }
        let exports = &mut self.core.exports;
        if exports.len() <= index as usize {
            exports.resize_with(index as usize + 1, || None);
        }
        let previous = exports[index as usize].replace(PeerExport {
            receiver: Receiver { source: index, ibgp: info.ibgp, asn: info.asn },
            profile,
            families,
        });
        if previous.is_some() {
            // Withdrawals the old session still owed are moot: free their slots.
            self.core.sweep_empty(&mut self.v4);
            self.core.sweep_empty(&mut self.v6);
        }
        if facts_changed {
            // E.g. a new router id after a restart: kept (stale) routes compete anew.
            self.core.reselect(&mut self.v4, index);
            self.core.reselect(&mut self.v6, index);
        }
        Ok(())
    }

    /// The session went down without graceful restart: drop every route learned
    /// from it and forget what it was sent. The peer stays registered.
    pub fn peer_down(&mut self, id: PeerId) -> Result<usize, RibError> {
        let source = self.peer_index(id)?;
        self.reset_export(id)?;
        let removed = self.core.remove_paths(&mut self.v4, source, |_| true)
            + self.core.remove_paths(&mut self.v6, source, |_| true);
        Ok(removed)
    }

    /// Forget what `id` was sent and stop exporting to it (session lost with
    /// graceful restart: its routes stay, see [`Rib::mark_stale`]).
    pub fn reset_export(&mut self, id: PeerId) -> Result<(), RibError> {
        let source = self.peer_index(id)? as usize;
        if let Some(slot) = self.core.exports.get_mut(source) {
            *slot = None;
        }
        self.core.sweep_empty(&mut self.v4);
        self.core.sweep_empty(&mut self.v6);
        Ok(())
    }

    /// [`Rib::peer_down`] and unregister.
    pub fn remove_peer(&mut self, id: PeerId) -> Result<usize, RibError> {
        let removed = self.peer_down(id)?;
        if let Some(index) = self.core.source_index.remove(&Source::Peer(id)) {
            self.core.sources[index as usize] = None;
        }
        Ok(removed)
    }

    fn peer_index(&self, id: PeerId) -> Result<SourceIndex, RibError> {
        self.core.source_index.get(&Source::Peer(id)).copied().ok_or(RibError::UnknownPeer(id))
    }

    // ----- import -----

    /// Apply one UPDATE from `peer`: withdrawals first, then announcements; the
    /// attribute set is interned once per family in the message.
    pub fn apply_update(
        &mut self,
        peer: PeerId,
        update: &UpdateMessage,
    ) -> Result<ApplyStats, RibError> {
        let source = self.peer_index(peer)?;
        let mut stats = ApplyStats::default();
        let unreach = update.mp_unreach.iter().flat_map(|u| &u.withdrawn);
        for nlri in update.withdrawn.iter().chain(unreach) {
            let (had, changed) = match Prefix4::from_net(&nlri.prefix) {
                Some(p) => self.core.withdraw(&mut self.v4, p, source),
                None => match Prefix6::from_net(&nlri.prefix) {
                    Some(p) => self.core.withdraw(&mut self.v6, p, source),
                    None => (false, false),
                },
            };
            stats.withdrawn += usize::from(had);
            stats.best_changed += usize::from(changed);
        }
        if !update.nlri.is_empty() {
            let next_hop = update.attributes.next_hop.map(NextHop::V4);
            self.announce_all(source, &update.attributes, next_hop, &update.nlri, &mut stats);
        }
        if let Some(reach) = &update.mp_reach {
            self.announce_all(
                source,
                &update.attributes,
                Some(reach.next_hop),
                &reach.nlri,
                &mut stats,
            );
        }
        Ok(stats)
    }

    fn announce_all(
        &mut self,
        source: SourceIndex,
        attributes: &PathAttributes,
        next_hop: Option<NextHop>,
        nlri: &[Nlri],
        stats: &mut ApplyStats,
    ) {
        let Some(facts) =
            self.core.sources.get(source as usize).and_then(Option::as_ref).map(|s| &s.facts)
        else {
            return;
        };
        let ibgp = facts.ibgp;
        let looped = attributes.as_path.contains(self.core.local.asn)
            || (ibgp && attributes.originator_id == Some(self.core.local.router_id));
        if looped {
            for n in nlri {
                let (_, changed) =
                    match (Prefix4::from_net(&n.prefix), Prefix6::from_net(&n.prefix)) {
                        (Some(p), _) => self.core.withdraw(&mut self.v4, p, source),
                        (_, Some(p)) => self.core.withdraw(&mut self.v6, p, source),
                        _ => (false, false),
                    };
                stats.best_changed += usize::from(changed);
            }
            stats.rejected += nlri.len();
            return;
        }
        let attributes = if !ibgp && attributes.local_pref.is_some() {
            Cow::Owned(PathAttributes { local_pref: None, ..attributes.clone() })
        } else {
            Cow::Borrowed(attributes)
        };
        // One reference held for the duration of the loop, so a set is not
        // freed and re-created while paths of this message replace each other.
        let id = self.core.attrs.intern(&attributes, next_hop);
        for n in nlri {
            let changed = match n.prefix {
                IpNet::V4(_) => Prefix4::from_net(&n.prefix).map(|p| self.insert(source, id, p)),
                IpNet::V6(_) => Prefix6::from_net(&n.prefix).map(|p| self.insert_v6(source, id, p)),
            };
            stats.announced += 1;
            stats.best_changed += usize::from(changed == Some(true));
        }
        self.core.attrs.release(id);
    }

    fn insert(&mut self, source: SourceIndex, id: AttrId, prefix: Prefix4) -> bool {
        self.core.attrs.retain(id);
        self.core.announce(&mut self.v4, prefix, Path::new(source, id))
    }

    fn insert_v6(&mut self, source: SourceIndex, id: AttrId, prefix: Prefix6) -> bool {
        self.core.attrs.retain(id);
        self.core.announce(&mut self.v6, prefix, Path::new(source, id))
    }

    /// Originate `prefix` from a local source. The AS_PATH is kept as given (an
    /// API client may originate with a path, e.g. to prepend; config routes
    /// pass an empty one) and ORIGIN defaults to IGP. `next_hop: None` announces ourselves as next hop.
    /// Returns whether the best path of the prefix changed.
    pub fn originate(
        &mut self,
        source: Source,
        prefix: IpNet,
        mut attributes: PathAttributes,
        next_hop: Option<NextHop>,
    ) -> Result<bool, RibError> {
        let index = self.local_index(source)?;
        let family = Family::of(&prefix);
        if let Some(next_hop) = next_hop {
            let fits = matches!(
                (family, next_hop),
                (Family::Ipv4Unicast, NextHop::V4(_)) | (Family::Ipv6Unicast, NextHop::V6 { .. })
            );
            if !fits {
                return Err(RibError::NextHopFamily { prefix, next_hop });
            }
        }
        attributes.origin.get_or_insert(Origin::Igp);
        attributes.next_hop = match next_hop {
            Some(NextHop::V4(address)) => Some(address),
            _ => None,
        };
        let id = self.core.attrs.intern_owned(attributes, next_hop);
        let path = Path::new(index, id);
        Ok(match (Prefix4::from_net(&prefix), Prefix6::from_net(&prefix)) {
            (Some(p), _) => self.core.announce(&mut self.v4, p, path),
            (_, Some(p)) => self.core.announce(&mut self.v6, p, path),
            _ => false,
        })
    }

    /// Withdraw a route `source` originated. Returns whether it existed.
    pub fn withdraw_local(&mut self, source: Source, prefix: IpNet) -> Result<bool, RibError> {
        let index = self.local_index(source)?;
        Ok(match (Prefix4::from_net(&prefix), Prefix6::from_net(&prefix)) {
            (Some(p), _) => self.core.withdraw(&mut self.v4, p, index).0,
            (_, Some(p)) => self.core.withdraw(&mut self.v6, p, index).0,
            _ => false,
        })
    }

    fn local_index(&mut self, source: Source) -> Result<SourceIndex, RibError> {
        if matches!(source, Source::Peer(_)) {
            return Err(RibError::NotLocal(source));
        }
        if let Some(&index) = self.core.source_index.get(&source) {
            return Ok(index);
        }
        let facts = SourceFacts {
            source,
            local: true,
            ibgp: false,
            router_id: self.core.local.router_id,
            address: None,
        };
        Ok(self.core.register(source, facts)?.0)
    }

    // ----- graceful restart -----

    /// Mark every route of `peer` in `family` stale (RFC 4724 §4.2). A route the
    /// peer announces again loses the mark.
    pub fn mark_stale(&mut self, peer: PeerId, family: Family) -> Result<(), RibError> {
        let source = self.peer_index(peer)?;
        with_table!(self, family, |_core, t| t.for_each_path_of(source, |p| p.flags |= FLAG_STALE));
        Ok(())
    }

    /// Remove the routes of `peer` in `family` still marked stale. Returns the count.
    pub fn sweep_stale(&mut self, peer: PeerId, family: Family) -> Result<usize, RibError> {
        let source = self.peer_index(peer)?;
        Ok(with_table!(self, family, |core, t| core.remove_paths(t, source, Path::is_stale)))
    }

    // ----- export -----

    /// Queue every Loc-RIB prefix of `family` for `peer` (new session, route refresh).
    pub fn queue_full_table(&mut self, peer: PeerId, family: Family) -> Result<(), RibError> {
        let source = self.peer_index(peer)? as usize;
        let fe = self.core.exports.get_mut(source).and_then(Option::as_mut);
        if let Some(fe) = fe.and_then(|pe| pe.families[family.index()].as_mut()) {
            fe.start_dump();
        }
        Ok(())
    }

    /// The next withdrawals and announcements for `peer`, at most `max_prefixes`
    /// prefixes (at least one), one family per batch. `None` when nothing is pending.
    pub fn next_export_batch(&mut self, peer: PeerId, max_prefixes: usize) -> Option<ExportBatch> {
        let source = self.peer_index(peer).ok()? as usize;
        let max_prefixes = max_prefixes.max(1);
        adj_out::next_batch(&mut self.core, &mut self.v4, source, max_prefixes)
            .or_else(|| adj_out::next_batch(&mut self.core, &mut self.v6, source, max_prefixes))
    }

    /// Whether `peer` has export work queued (End-of-RIB waits until it has not).
    pub fn export_pending(&self, peer: PeerId) -> bool {
        let Ok(source) = self.peer_index(peer) else { return false };
        self.core
            .exports
            .get(source as usize)
            .and_then(Option::as_ref)
            .is_some_and(|pe| pe.families.iter().flatten().any(FamilyExport::pending))
    }

    // ----- change events -----

    /// Start (or stop) recording best-path changes for [`Rib::drain_changes`].
    /// Off by default: then nothing is recorded and nothing costs.
    pub fn track_changes(&mut self, on: bool) {
        self.core.changes =
            if on { Some(self.core.changes.take().unwrap_or_default()) } else { None };
    }

    /// Best-path changes since the last call, oldest first.
    pub fn drain_changes(&mut self) -> Vec<BestChange> {
        self.core.changes.as_mut().map(std::mem::take).unwrap_or_default()
    }

    // ----- queries -----

    /// The Loc-RIB of `family`: each prefix with its best route, in table order.
    /// Lazy: a snapshot of a million routes streams without a million-entry `Vec`.
    pub fn loc_rib(&self, family: Family) -> Box<dyn Iterator<Item = Route> + '_> {
        match family {
            Family::Ipv4Unicast => Box::new(self.routes(&self.v4, |paths| paths.first().copied())),
            Family::Ipv6Unicast => Box::new(self.routes(&self.v6, |paths| paths.first().copied())),
        }
    }

    /// One past the highest slot of `family`'s table: a walk of
    /// [`Rib::best_at_slot`] over `0..slot_bound` visits every prefix once.
    /// Slots are stable while a prefix lives, which is what lets a Watch
    /// snapshot walk the table a chunk at a time between other work.
    pub fn slot_bound(&self, family: Family) -> u32 {
        match family {
            Family::Ipv4Unicast => self.v4.slot_bound(),
            Family::Ipv6Unicast => self.v6.slot_bound(),
        }
    }

    /// The best route held in `slot` of `family`'s table, if the slot is live.
    pub fn best_at_slot(&self, family: Family, slot: u32) -> Option<Route> {
        fn at<P: PrefixKey>(core: &Core, t: &Table<P>, slot: u32) -> Option<Route> {
            if !t.is_live(slot) {
                return None;
            }
            let best = t.paths(slot).first().copied()?;
            core.route(t.prefix(slot).to_net(), &best)
        }
        match family {
            Family::Ipv4Unicast => at(&self.core, &self.v4, slot),
            Family::Ipv6Unicast => at(&self.core, &self.v6, slot),
        }
    }

    /// The best route of one prefix.
    pub fn best_route(&self, prefix: IpNet) -> Option<Route> {
        self.paths(prefix).into_iter().next()
    }

    /// Every path of a prefix, best first.
    pub fn paths(&self, prefix: IpNet) -> Vec<Route> {
        fn of<P: PrefixKey>(core: &Core, t: &Table<P>, prefix: IpNet) -> Vec<Route> {
            let Some(slot) = P::from_net(&prefix).and_then(|p| t.find(p)) else {
                return Vec::new();
            };
            t.paths(slot).iter().filter_map(|p| core.route(t.prefix(slot).to_net(), p)).collect()
        }
        match Family::of(&prefix) {
            Family::Ipv4Unicast => of(&self.core, &self.v4, prefix),
            Family::Ipv6Unicast => of(&self.core, &self.v6, prefix),
        }
    }

    /// The routes learned from `peer` in `family` (after the import rules).
    pub fn adj_rib_in(&self, peer: PeerId, family: Family) -> Box<dyn Iterator<Item = Route> + '_> {
        let Ok(source) = self.peer_index(peer) else { return Box::new(std::iter::empty()) };
        let pick = move |paths: &[Path]| paths.iter().find(|p| p.source == source).copied();
        match family {
            Family::Ipv4Unicast => Box::new(self.routes(&self.v4, pick)),
            Family::Ipv6Unicast => Box::new(self.routes(&self.v6, pick)),
        }
    }

    fn routes<'a, P: PrefixKey>(
        &'a self,
        t: &'a Table<P>,
        pick: impl Fn(&[Path]) -> Option<Path> + 'a,
    ) -> impl Iterator<Item = Route> + 'a {
        t.live_slots().filter_map(move |slot| {
            pick(t.paths(slot)).and_then(|p| self.core.route(t.prefix(slot).to_net(), &p))
        })
    }

    /// What `peer` has been announced in `family` and not withdrawn, as derived
    /// from the current best paths (exact once its queue has drained). Lazy.
    pub fn adj_rib_out(
        &mut self,
        peer: PeerId,
        family: Family,
    ) -> Box<dyn Iterator<Item = (IpNet, Exported)> + '_> {
        let Ok(source) = self.peer_index(peer) else { return Box::new(std::iter::empty()) };
        with_table!(self, family, |core, t| Box::new(
            (0..t.slot_bound()).filter_map(move |slot| adj_out::advertised_route(
                core,
                t,
                source as usize,
                slot
            ))
        ))
    }

    /// How many prefixes of `family` `peer` has been announced and holds.
    pub fn advertised_count(&self, peer: PeerId, family: Family) -> usize {
        let Ok(source) = self.peer_index(peer) else { return 0 };
        self.core
            .exports
            .get(source as usize)
            .and_then(Option::as_ref)
            .and_then(|pe| pe.families[family.index()].as_ref())
            .map_or(0, FamilyExport::advertised_count)
    }

    pub fn counts(&self, family: Family) -> Counts {
        match family {
            Family::Ipv4Unicast => Counts { prefixes: self.v4.len(), paths: self.v4.path_count() },
            Family::Ipv6Unicast => Counts { prefixes: self.v6.len(), paths: self.v6.path_count() },
        }
    }

    /// Routes held from `source` in `family`.
    pub fn source_routes(&self, source: Source, family: Family) -> usize {
        self.core
            .source_index
            .get(&source)
            .and_then(|&i| self.core.sources.get(i as usize)?.as_ref())
            .map_or(0, |s| s.routes[family.index()])
    }

    /// Distinct attribute sets interned.
    pub fn attribute_sets(&self) -> usize {
        self.core.attrs.len()
    }

    pub fn memory_usage(&self) -> MemoryUsage {
        let exports = self
            .core
            .exports
            .iter()
            .flatten()
            .flat_map(|pe| pe.families.iter().flatten())
            .map(FamilyExport::heap_bytes)
            .sum();
        MemoryUsage {
            tables: self.v4.heap_bytes() + self.v6.heap_bytes(),
            attributes: self.core.attrs.heap_bytes(),
            exports,
        }
    }
}
