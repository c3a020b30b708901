//! Soft reconfiguration inbound: a neighbor's routes kept as received,
//! before its import policy (the Adj-RIB-In of RFC 4271 §3.2 in full), so
//! that a changed import chain is applied from them without asking the peer
//! to send everything again (ROUTE-REFRESH, RFC 2918).
//!
//! Kept only for peers that ask for it (`soft_reconfiguration_inbound`):
//! one map entry per prefix (the prefix and a 4-byte reference to the
//! interned attribute set the peer sent, which the Loc-RIB usually shares).
//! The copy is emptied whenever the session goes down or is registered
//! again (it refills from the new session's UPDATEs). Its size is what the
//! neighbor's max-prefix limit counts when it is kept (`instance::max_prefix`),
//! so the limit bounds it too.

use ipnet::IpNet;
use rustc_hash::FxHashMap;
use std::sync::Arc;

use super::intern::AttrId;
use super::table::SourceIndex;
use super::{ApplyStats, PeerId, Rib, RibError, Route, Source};
use crate::wire::{Family, NextHop, Nlri, UpdateMessage};

/// One peer's routes as received.
#[derive(Debug, Default)]
pub(crate) struct PrePolicy {
    routes: FxHashMap<IpNet, AttrId>,
    /// Entries per family ([`Family::index`]).
    counts: [usize; 2],
}

impl Rib {
    /// Keep (or stop keeping) `peer`'s routes as received. Turning it on
    /// starts empty: the routes the peer sends from then on are kept.
    pub fn set_soft_reconfiguration(&mut self, peer: PeerId, on: bool) -> Result<(), RibError> {
        let source = self.peer_index(peer)?;
        self.clear_pre_policy(source);
        if let Some(state) = self.core.source_state(source) {
            state.pre_policy = on.then(PrePolicy::default);
        }
        Ok(())
    }

    /// Whether `peer`'s routes are kept as received.
    pub fn keeps_pre_policy(&self, peer: PeerId) -> bool {
        let Ok(source) = self.peer_index(peer) else { return false };
        self.core
            .sources
            .get(source as usize)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.pre_policy.is_some())
    }

    /// Prefixes of `family` kept as received from `peer` (0 when not kept).
    pub fn pre_policy_count(&self, peer: PeerId, family: Family) -> usize {
        let Ok(source) = self.peer_index(peer) else { return 0 };
        self.core
            .sources
            .get(source as usize)
            .and_then(Option::as_ref)
            .and_then(|s| s.pre_policy.as_ref())
            .map_or(0, |p| p.counts[family.index()])
    }

    /// `peer`'s routes of `family` as received, sorted by prefix, each with
    /// whether the RIB holds it from the peer (false: the import policy, or
    /// a loop check, refused it). Empty when the routes are not kept.
    pub fn pre_policy_routes(&self, peer: PeerId, family: Family) -> Vec<(Route, bool)> {
        let Ok(source) = self.peer_index(peer) else { return Vec::new() };
        let Some(pre) = self
            .core
            .sources
            .get(source as usize)
            .and_then(Option::as_ref)
            .and_then(|s| s.pre_policy.as_ref())
        else {
            return Vec::new();
        };
        let mut routes: Vec<(Route, bool)> = pre
            .routes
            .iter()
            .filter(|(prefix, _)| Family::of(prefix) == family)
            .filter_map(|(prefix, id)| {
                let slot = self.core.attrs.get(*id)?;
                let route = Route {
                    prefix: *prefix,
                    source: Source::Peer(peer),
                    attributes: Arc::new(slot.attributes.unpack()),
                    next_hop: slot.next_hop(),
                    stale: false,
                };
                let accepted = self.paths(*prefix).iter().any(|r| r.source == Source::Peer(peer));
                Some((route, accepted))
            })
            .collect();
        routes.sort_by_key(|(route, _)| route.prefix);
        routes
    }

    /// Runs `peer`'s import chain again over the routes it sent, as kept:
    /// accepted ones are (re)installed with the chain's changes, rejected
    /// ones withdraw what the old chain had accepted. `None` when the routes
    /// are not kept (ask the peer for them instead). The import counters
    /// restart: after this they count the kept routes once, as judged now.
    pub fn reapply_import(&mut self, peer: PeerId) -> Result<Option<ApplyStats>, RibError> {
        let source = self.peer_index(peer)?;
        let Some(state) = self.core.source_state(source) else { return Ok(None) };
        // Every kept route is judged again: the counts restart, or each
        // reapply would add the whole table to them once more.
        if state.pre_policy.is_none() {
            return Ok(None);
        }
        state.counters = super::PolicyCounters::default();
        let Some(pre) = state.pre_policy.as_ref() else { return Ok(None) };
        let mut groups: FxHashMap<AttrId, Vec<Nlri>> = FxHashMap::default();
        for (prefix, id) in &pre.routes {
            groups.entry(*id).or_default().push(Nlri::new(*prefix));
        }
        let mut stats = ApplyStats::default();
        for (id, nlri) in groups {
            let Some(slot) = self.core.attrs.get(id) else { continue };
            let (attributes, next_hop) = (slot.attributes.unpack(), slot.next_hop());
            self.announce_all(source, &attributes, next_hop, &nlri, &mut stats);
        }
        Ok(Some(stats))
    }

    /// Records `update` in `source`'s kept routes, if it keeps them.
    pub(super) fn keep_pre_policy(&mut self, source: SourceIndex, update: &UpdateMessage) {
        let core = &mut self.core;
        let Some(pre) = core
            .sources
            .get_mut(source as usize)
            .and_then(Option::as_mut)
            .and_then(|s| s.pre_policy.as_mut())
        else {
            return;
        };
        let unreach = update.mp_unreach.iter().flat_map(|u| &u.withdrawn);
        for nlri in update.withdrawn.iter().chain(unreach) {
            if let Some(old) = pre.routes.remove(&nlri.prefix) {
                pre.counts[Family::of(&nlri.prefix).index()] -= 1;
                core.attrs.release(old);
            }
        }
        let v4 = (!update.nlri.is_empty())
            .then(|| (update.attributes.next_hop.map(NextHop::V4), update.nlri.as_slice()));
        let mp = update.mp_reach.as_ref().map(|r| (Some(r.next_hop), r.nlri.as_slice()));
        for (next_hop, nlri) in v4.into_iter().chain(mp) {
            let id = core.attrs.intern(&update.attributes, next_hop);
            for n in nlri {
                core.attrs.retain(id);
                match pre.routes.insert(n.prefix, id) {
                    Some(old) => core.attrs.release(old),
                    None => pre.counts[Family::of(&n.prefix).index()] += 1,
                }
            }
            core.attrs.release(id);
        }
    }

    /// Empties `source`'s kept routes (it keeps keeping them).
    pub(super) fn clear_pre_policy(&mut self, source: SourceIndex) {
        let core = &mut self.core;
        let Some(pre) = core
            .sources
            .get_mut(source as usize)
            .and_then(Option::as_mut)
            .and_then(|s| s.pre_policy.as_mut())
        else {
            return;
        };
        for (_, id) in pre.routes.drain() {
            core.attrs.release(id);
        }
        pre.counts = [0; 2];
    }
}
