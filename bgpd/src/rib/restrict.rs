//! Paths for chosen peers only (the API's `Path.peers`): a local path may be
//! restricted to a list of peers (by address). Such a path is exported only to
//! those peers; every other peer is sent the best of the paths that are
//! eligible for it (unrestricted ones, or ones restricted to it), or a
//! withdrawal when none is. This is per-peer selection on top of the Loc-RIB
//! decision process (RFC 4271 §9.1.2 picks the Loc-RIB best; §9.1.3 lets
//! export policy decide per peer what goes to its Adj-RIB-Out).
//!
//! Cost: nothing is stored per path. A side map per family, keyed by table
//! slot, holds the restricted paths of the prefixes that have any. The
//! common case (no restricted path in the family) costs one `is_empty` test
//! per announcement, withdrawal and export decision. A prefix with a
//! restricted path takes the slow path: every change of any of its paths is
//! queued for every peer, and each peer's export picks among the eligible
//! paths. Peers are named by address so that a restriction survives the
//! peer's session (and RIB id) coming and going; a peer over an interface
//! (BGP unnumbered) by its interface ([`PeerKey::Interface`]), since its
//! address is discovered and may change: the instance tells the RIB which
//! interface each such session runs over ([`Rib::set_peer_interface`]).

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use super::export::Receiver;
use super::table::{Path, PrefixKey, SourceIndex, Table};
use super::{Core, Rib, RibError, Source};
use crate::wire::{NextHop, PathAttributes};

/// How a restricted path names one of its peers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerKey {
    /// The peer at this address.
    Address(IpAddr),
    /// The peer over this interface (BGP unnumbered), whatever its address.
    Interface(Arc<str>),
}

impl From<IpAddr> for PeerKey {
    fn from(address: IpAddr) -> Self {
        PeerKey::Address(address)
    }
}

impl std::fmt::Display for PeerKey {
    /// As the API writes it: the address, or `%IFNAME`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerKey::Address(address) => write!(f, "{address}"),
            PeerKey::Interface(name) => write!(f, "%{name}"),
        }
    }
}

/// The restricted paths of one family: per slot, each restricted path's
/// source and the peers it is for.
type SlotRestrictions = FxHashMap<u32, Vec<(SourceIndex, Box<[PeerKey]>)>>;

/// Every restricted path, per family.
#[derive(Debug, Default)]
pub(crate) struct Restrictions {
    by_slot: [SlotRestrictions; 2],
    /// The interface of each peer session over one (by source index).
    interfaces: FxHashMap<SourceIndex, Arc<str>>,
}

impl Restrictions {
    /// Whether the family has no restricted path at all (the fast path).
    #[inline]
    pub fn none_in(&self, fi: usize) -> bool {
        self.by_slot[fi].is_empty()
    }

    /// Whether some path of `slot` is restricted.
    #[inline]
    pub fn restricted(&self, fi: usize, slot: u32) -> bool {
        !self.none_in(fi) && self.by_slot[fi].contains_key(&slot)
    }

    /// Whether `source`'s path of `slot` may go to the peer at `receiver`
    /// (over interface `interface`, if it is an interface peer's session).
    fn allows(
        &self,
        fi: usize,
        slot: u32,
        source: SourceIndex,
        receiver: Option<IpAddr>,
        interface: Option<&Arc<str>>,
    ) -> bool {
        let Some(list) = self.by_slot[fi].get(&slot) else { return true };
        match list.iter().find(|(s, _)| *s == source) {
            None => true,
            Some((_, peers)) => peers.iter().any(|peer| match peer {
                PeerKey::Address(address) => receiver == Some(*address),
                PeerKey::Interface(name) => interface == Some(name),
            }),
        }
    }

    fn set(&mut self, fi: usize, slot: u32, source: SourceIndex, peers: Box<[PeerKey]>) {
        let list = self.by_slot[fi].entry(slot).or_default();
        list.retain(|(s, _)| *s != source);
        list.push((source, peers));
    }

    /// Drops `source`'s restriction at `slot`. Returns whether the slot had
    /// any restricted path before (its peers then need the slot again).
    fn clear(&mut self, fi: usize, slot: u32, source: SourceIndex) -> bool {
        let Some(list) = self.by_slot[fi].get_mut(&slot) else { return false };
        list.retain(|(s, _)| *s != source);
        if list.is_empty() {
            self.by_slot[fi].remove(&slot);
        }
        true
    }
}

impl Core {
    /// After `source`'s path at `slot` was replaced or removed: its old
    /// restriction is gone, and if the slot had restricted paths every peer
    /// must look at it again (its eligible best may have changed even where
    /// the Loc-RIB best did not).
    pub(crate) fn path_changed<P: PrefixKey>(
        &mut self,
        table: &Table<P>,
        slot: u32,
        source: SourceIndex,
    ) {
        let fi = P::FAMILY.index();
        if self.restrictions.none_in(fi) {
            return;
        }
        if self.restrictions.clear(fi, slot, source) {
            self.requeue(table, slot);
        }
    }

    /// Queues `slot` for every peer.
    fn requeue<P: PrefixKey>(&mut self, table: &Table<P>, slot: u32) {
        let fi = P::FAMILY.index();
        let live = !table.paths(slot).is_empty();
        for pe in self.exports.iter_mut().flatten() {
            if let Some(fe) = pe.families[fi].as_mut() {
                fe.enqueue(slot, live);
            }
        }
    }

    /// The path of `slot` to export to `receiver` when the slot has restricted
    /// paths: the best of those eligible for it.
    pub(crate) fn best_for<P: PrefixKey>(
        &self,
        table: &Table<P>,
        slot: u32,
        receiver: &Receiver,
    ) -> Option<Path> {
        let fi = P::FAMILY.index();
        let address = self
            .sources
            .get(receiver.source as usize)
            .and_then(Option::as_ref)
            .and_then(|state| state.facts.address);
        let interface = self.restrictions.interfaces.get(&receiver.source);
        let mut best: Option<Path> = None;
        for path in table.paths(slot) {
            if !self.restrictions.allows(fi, slot, path.source, address, interface) {
                continue;
            }
            if best.is_none_or(|b| self.better(path, &b)) {
                best = Some(*path);
            }
        }
        best
    }
}

impl Rib {
    /// Says that the session of peer `id` (registered with
    /// [`Rib::add_peer`]) runs over `interface` (BGP unnumbered), so paths
    /// restricted to [`PeerKey::Interface`] of it go to it; `None`: not over
    /// an interface. Call after every `add_peer` and before its table is
    /// exported: a source index is reused by later peers, which this resets.
    pub fn set_peer_interface(
        &mut self,
        id: super::PeerId,
        interface: Option<Arc<str>>,
    ) -> Result<(), RibError> {
        let index = self.peer_index(id)?;
        match interface {
            Some(name) => self.core.restrictions.interfaces.insert(index, name),
            None => self.core.restrictions.interfaces.remove(&index),
        };
        Ok(())
    }

    /// The peers `source`'s path for `prefix` is restricted to; empty when it
    /// is for every peer (or absent).
    pub fn restricted_peers(&self, source: Source, prefix: IpNet) -> &[PeerKey] {
        let Some(&index) = self.core.source_index.get(&source) else { return &[] };
        let slot = with_table!(&self, prefix = prefix, |_core, t, p| t.find(p));
        let fi = super::Family::of(&prefix).index();
        slot.and_then(|slot| self.core.restrictions.by_slot[fi].get(&slot))
            .and_then(|list| list.iter().find(|(s, _)| *s == index))
            .map_or(&[], |(_, peers)| peers)
    }

    /// [`Rib::originate`] for the peers at `peers` only; empty `peers`: for
    /// every peer, exactly as `originate`. Returns whether anything may need
    /// exporting (the Loc-RIB best changed, or the path is restricted).
    pub fn originate_for(
        &mut self,
        source: Source,
        prefix: IpNet,
        attributes: PathAttributes,
        next_hop: Option<NextHop>,
        peers: &[PeerKey],
    ) -> Result<bool, RibError> {
        let changed = self.originate(source, prefix, attributes, next_hop)?;
        if peers.is_empty() {
            return Ok(changed);
        }
        let index = self.local_index(source)?;
        fn restrict<P: PrefixKey>(
            core: &mut Core,
            table: &Table<P>,
            prefix: P,
            index: SourceIndex,
            peers: &[PeerKey],
        ) {
            let Some(slot) = table.find(prefix) else { return };
            let fi = P::FAMILY.index();
            core.restrictions.set(fi, slot, index, peers.into());
            core.requeue(table, slot);
        }
        with_table!(&mut self, prefix = prefix, |core, t, p| restrict(core, t, p, index, peers));
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
