//! The state the RIB keeps besides its two tables (sources, interned
//! attribute sets, per-peer export state, restrictions, deferral), and the
//! per-family operations that need a table and that state at once: add or
//! remove a path, run best-path selection (RFC 4271 §9.1.2) and queue the
//! prefixes whose best path changed for every peer's Adj-RIB-Out (§9.1.3).

use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use super::adj_out::PeerExport;
use super::best::{self, Candidate, SourceFacts};
use super::export::ExportProfile;
use super::intern::{AttrStore, Summary};
use super::table::{MAX_SOURCE, Path, PrefixKey, SourceIndex, Table};
use super::{BestChange, LocalInfo, RibError, Route, Source, deferral, restrict};
use crate::wire::PathAttributes;

#[derive(Debug)]
pub(crate) struct SourceState {
    pub facts: SourceFacts,
    /// Routes held per family.
    pub routes: [usize; 2],
    /// The peer's chains (`Rib::set_peer_policy`); kept across re-registration.
    pub policy: super::PeerPolicy,
    pub counters: super::PolicyCounters,
    /// The export chain's counters (decisions for this peer as receiver).
    pub export_counters: super::PolicyCounters,
    /// The routes as received, when soft reconfiguration keeps them.
    pub pre_policy: Option<super::soft_in::PrePolicy>,
}

/// Everything but the tables, so that generic per-family code can borrow a
/// table and the rest at once.
#[derive(Debug)]
pub(crate) struct Core {
    pub local: LocalInfo,
    pub attrs: AttrStore,
    pub sources: Vec<Option<SourceState>>,
    pub source_index: FxHashMap<Source, SourceIndex>,
    pub exports: Vec<Option<PeerExport>>,
    pub profiles: Vec<ExportProfile>,
    pub changes: Option<Vec<BestChange>>,
    /// Paths for chosen peers only (see `restrict`).
    pub restrictions: restrict::Restrictions,
    /// Learned routes held after our restart (see `deferral`).
    pub deferral: deferral::Deferral,
    /// Reused by the export path (see [`ExportScratch`]).
    pub scratch: ExportScratch,
}

/// What the export path rewrites a stored set in, kept between exports so
/// that the first export of each attribute set allocates only the exported
/// set itself (it unpacked, rewrote and packed into fresh allocations before,
/// about eight per set: 1.9 M of 3.7 M allocations on the Internet-like
/// table). Its size is that of the largest set exported (a 4,096-octet
/// UPDATE's attributes at most, unpacked) plus its packed form.
///
/// An export batch builds its groups in `groups` (exported set to group) and
/// `pending` (each prefix with its group), cleared after every batch and kept
/// only up to [`KEEP_PENDING`] prefixes (the instance's batches are at most
/// 16,384; a caller asking for more gets its memory back after the batch).
#[derive(Debug, Default)]
pub(crate) struct ExportScratch {
    pub attributes: PathAttributes,
    pub packed: Vec<u8>,
    pub groups: FxHashMap<usize, u32>,
    pub pending: Vec<(u32, crate::wire::Nlri)>,
}

/// The most prefixes [`ExportScratch::pending`] keeps room for between batches.
pub(crate) const KEEP_PENDING: usize = 16_384;

const FALLBACK_SUMMARY: Summary = Summary {
    local_pref: 0,
    path_length: u32::MAX,
    origin: u8::MAX,
    med: u32::MAX,
    neighbor_as: None,
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
    pub(super) fn candidate(&self, path: &Path) -> Candidate<'_> {
        Candidate {
            summary: self.attrs.get(path.attrs).map_or(&FALLBACK_SUMMARY, |s| &s.summary),
            source: self
                .sources
                .get(path.source as usize)
                .and_then(Option::as_ref)
                .map_or(&FALLBACK_FACTS, |s| &s.facts),
        }
    }

    pub(super) fn better(&self, a: &Path, b: &Path) -> bool {
        best::compare(&self.candidate(a), &self.candidate(b)).0.is_lt()
    }

    pub(super) fn route(&self, prefix: IpNet, path: &Path) -> Option<Route> {
        let attr = self.attrs.get(path.attrs)?;
        let source = self.sources.get(path.source as usize)?.as_ref()?.facts.source;
        Some(Route {
            prefix,
            source,
            attributes: Arc::new(attr.attributes.unpack()),
            next_hop: attr.next_hop(),
            stale: path.is_stale(),
        })
    }

    /// As [`Self::route`], sharing the unpacked set with the last routes
    /// made (`AttrStore::unpacked_shared`): for the best-path changes of an
    /// UPDATE, one copy per set rather than per prefix.
    fn route_shared(&mut self, prefix: IpNet, path: &Path) -> Option<Route> {
        let source = self.sources.get(path.source as usize)?.as_ref()?.facts.source;
        let next_hop = self.attrs.get(path.attrs)?.next_hop();
        let attributes = self.attrs.unpacked_shared(path.attrs)?;
        Some(Route { prefix, source, attributes, next_hop, stale: path.is_stale() })
    }

    pub(super) fn source_state(&mut self, source: SourceIndex) -> Option<&mut SourceState> {
        self.sources.get_mut(source as usize).and_then(Option::as_mut)
    }

    /// The index of `source`, registered if new. Returns whether facts of an
    /// already known source changed (its routes then need selection again).
    pub(super) fn register(
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
        self.sources[index] = Some(SourceState {
            facts,
            routes: [0; 2],
            policy: super::PeerPolicy::default(),
            counters: super::PolicyCounters::default(),
            export_counters: super::PolicyCounters::default(),
            pre_policy: None,
        });
        self.source_index.insert(source, index as SourceIndex);
        Ok((index as SourceIndex, false))
    }

    /// Selection again wherever `source` competes with other paths.
    pub(super) fn reselect<P: PrefixKey>(&mut self, table: &mut Table<P>, source: SourceIndex) {
        for slot in table.shared_slots_of(source) {
            let Some(change) = table.reselect(slot, |a, b| self.better(a, b)) else { continue };
            if change.best_changed() {
                self.on_best_change(table, slot, change.old_best, change.new_best);
            }
        }
    }

    /// Add or replace the path of `path.source` for `prefix`. Takes over one
    /// reference to `path.attrs` from the caller.
    pub(super) fn announce<P: PrefixKey>(
        &mut self,
        table: &mut Table<P>,
        prefix: P,
        path: Path,
    ) -> bool {
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
    pub(super) fn withdraw<P: PrefixKey>(
        &mut self,
        table: &mut Table<P>,
        prefix: P,
        source: SourceIndex,
    ) -> (bool, bool) {
        let Some(slot) = table.find(prefix) else { return (false, false) };
        self.withdraw_slot(table, slot, source)
    }

    pub(super) fn withdraw_slot<P: PrefixKey>(
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

    pub(super) fn on_best_change<P: PrefixKey>(
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
                old: old.and_then(|p| self.route_shared(prefix, &p)),
                new: new.and_then(|p| self.route_shared(prefix, &p)),
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
    pub(super) fn remove_paths<P: PrefixKey>(
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

    pub(super) fn sweep_empty<P: PrefixKey>(&self, table: &mut Table<P>) {
        for slot in table.empty_slots() {
            self.release_if_unused(table, slot);
        }
    }
}
