//! Read-only views of the RIB for the API and the tests: the Loc-RIB, the
//! Adj-RIB-In and Adj-RIB-Out of a peer (RFC 4271 §3.2), counts and memory.

use ipnet::IpNet;

use super::adj_out::{self, FamilyExport};
use super::core::Core;
use super::intern::Exported;
use super::table::{Path, PrefixKey, Table};
use super::{Counts, MemoryUsage, PeerId, Rib, Route, Source};
use crate::wire::Family;

impl Rib {
    /// The Loc-RIB of `family`: each prefix with its best route, in table order.
    /// Lazy: a snapshot of a million routes streams without a million-entry `Vec`.
    pub fn loc_rib(&self, family: Family) -> Box<dyn Iterator<Item = Route> + '_> {
        with_table!(&self, family = family, |core, t| Box::new(routes(core, t, |paths| paths
            .first()
            .copied())))
    }

    /// One past the highest slot of `family`'s table: a walk of
    /// [`Rib::best_at_slot`] over `0..slot_bound` visits every prefix once.
    /// Slots are stable while a prefix lives, which is what lets a Watch
    /// snapshot walk the table a chunk at a time between other work.
    pub fn slot_bound(&self, family: Family) -> u32 {
        with_table!(&self, family = family, |_core, t| t.slot_bound())
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
        with_table!(&self, family = family, |core, t| at(core, t, slot))
    }

    /// The best route of one prefix.
    pub fn best_route(&self, prefix: IpNet) -> Option<Route> {
        self.paths(prefix).into_iter().next()
    }

    /// Every path of a prefix, best first.
    pub fn paths(&self, prefix: IpNet) -> Vec<Route> {
        fn of<P: PrefixKey>(core: &Core, t: &Table<P>, prefix: P) -> Vec<Route> {
            let Some(slot) = t.find(prefix) else { return Vec::new() };
            t.paths(slot).iter().filter_map(|p| core.route(t.prefix(slot).to_net(), p)).collect()
        }
        with_table!(&self, prefix = prefix, |core, t, p| of(core, t, p))
    }

    /// The routes learned from `peer` in `family` (after the import rules).
    pub fn adj_rib_in(&self, peer: PeerId, family: Family) -> Box<dyn Iterator<Item = Route> + '_> {
        let Ok(source) = self.peer_index(peer) else { return Box::new(std::iter::empty()) };
        let pick = move |paths: &[Path]| paths.iter().find(|p| p.source == source).copied();
        with_table!(&self, family = family, |core, t| Box::new(routes(core, t, pick)))
    }

    /// What `peer` has been announced in `family` and not withdrawn, as derived
    /// from the current best paths (exact once its queue has drained). Lazy.
    pub fn adj_rib_out(
        &mut self,
        peer: PeerId,
        family: Family,
    ) -> Box<dyn Iterator<Item = (IpNet, Exported)> + '_> {
        let Ok(source) = self.peer_index(peer) else { return Box::new(std::iter::empty()) };
        with_table!(&mut self, family = family, |core, t| Box::new(
            (0..t.slot_bound()).filter_map(move |slot| adj_out::advertised_route(
                core,
                t,
                source as usize,
                slot
            ))
        ))
    }

    /// `peer`'s export state for `family`, if it is established with it.
    fn family_export(&self, peer: PeerId, family: Family) -> Option<&FamilyExport> {
        let source = self.peer_index(peer).ok()?;
        self.core.exports.get(source as usize)?.as_ref()?.families[family.index()].as_ref()
    }

    /// How many prefixes of `family` `peer` has been announced and holds.
    pub fn advertised_count(&self, peer: PeerId, family: Family) -> usize {
        self.family_export(peer, family).map_or(0, FamilyExport::advertised_count)
    }

    /// How many prefixes of `family` are held back from `peer` because they
    /// cannot be encoded for it (see `adj_out`).
    pub fn unsendable_count(&self, peer: PeerId, family: Family) -> usize {
        self.family_export(peer, family).map_or(0, FamilyExport::unsendable_count)
    }

    /// Prefixes queued for `peer`'s Adj-RIB-Out in `family`, not yet sent.
    pub fn export_queue(&self, peer: PeerId, family: Family) -> usize {
        self.family_export(peer, family).map_or(0, FamilyExport::queued)
    }

    pub fn counts(&self, family: Family) -> Counts {
        with_table!(&self, family = family, |_core, t| Counts {
            prefixes: t.len(),
            paths: t.path_count()
        })
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

    /// Gives memory back after the tables shrank (withdrawals): trailing free
    /// slots of the prefix tables and the attribute store, the peers'
    /// bitsets beyond them, spare capacity everywhere. Costs a pass over the
    /// tables' indexes: the instance calls it when many slots are free (see
    /// [`Self::free_slots`]), not per change. Returns the heap bytes given back.
    pub fn compact(&mut self) -> usize {
        let before = self.memory_usage();
        self.v4.compact();
        self.v6.compact();
        self.core.attrs.compact();
        let bounds = [self.v4.slot_bound(), self.v6.slot_bound()];
        for pe in self.core.exports.iter_mut().flatten() {
            for (family, bound) in pe.families.iter_mut().zip(bounds) {
                if let Some(family) = family {
                    family.compact(bound);
                }
            }
        }
        let after = self.memory_usage();
        let total = |m: MemoryUsage| m.tables + m.attributes + m.exports;
        total(before).saturating_sub(total(after))
    }

    /// Slots of the prefix tables that hold no prefix: what [`Self::compact`]
    /// may give back (only the trailing ones, in fact).
    pub fn free_slots(&self) -> usize {
        let free = |bound: u32, live: usize| (bound as usize).saturating_sub(live);
        free(self.v4.slot_bound(), self.v4.len()) + free(self.v6.slot_bound(), self.v6.len())
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

/// The routes of table `t` that `pick` chooses among each prefix's paths.
fn routes<'a, P: PrefixKey>(
    core: &'a Core,
    t: &'a Table<P>,
    pick: impl Fn(&[Path]) -> Option<Path> + 'a,
) -> impl Iterator<Item = Route> + 'a {
    t.live_slots().filter_map(move |slot| {
        pick(t.paths(slot)).and_then(|p| core.route(t.prefix(slot).to_net(), &p))
    })
}
