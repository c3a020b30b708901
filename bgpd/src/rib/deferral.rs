//! Route selection deferral after our own restart (RFC 4724 §4.1): learned
//! routes are not exported until the peers re-sent theirs (End-of-RIB) or the
//! selection deferral timer fired, but a prefix whose only paths are local
//! (config routes, and API paths of owners that re-synced; owners still
//! re-syncing keep their paths out of the RIB, see `instance::owners`) goes out
//! at once: its best path cannot change when the peers' routes arrive.
//!
//! A prefix with any learned path is *held*: when a peer's export reaches it,
//! nothing is sent (neither announcement nor withdrawal: what the peer holds
//! from our previous run, or from earlier in this one, stays) and the slot is
//! remembered. Releasing the deferral queues every remembered slot for every
//! peer again, so each is decided once with the full selection.
//!
//! A held prefix is looked at again only when its best path changes or at the
//! release: one that loses its learned paths without a best-path change (the
//! local path stayed best) goes out at the release, late but never wrong.
//!
//! Cost: when no deferral runs, one boolean test per exported prefix. While
//! one runs, a scan of the prefix's paths (usually one or two) per export
//! decision, and two bits plus a queue entry per held slot.

use super::adj_out::BitSet;
use super::table::{PrefixKey, Table};
use super::{Core, Rib};

/// The held slots of one family, deduplicated.
#[derive(Debug, Default)]
struct HeldSlots {
    slots: Vec<u32>,
    seen: BitSet,
}

/// The deferral state of the RIB.
#[derive(Debug, Default)]
pub(crate) struct Deferral {
    /// Learned routes are held.
    active: bool,
    held: [HeldSlots; 2],
}

impl Core {
    /// Whether `slot` must not be exported now. Records it for the release.
    #[inline]
    pub(crate) fn deferred<P: PrefixKey>(&mut self, table: &Table<P>, slot: u32) -> bool {
        if !self.deferral.active {
            return false;
        }
        let learned = table.paths(slot).iter().any(|path| {
            self.sources
                .get(path.source as usize)
                .and_then(Option::as_ref)
                .is_none_or(|state| !state.facts.local)
        });
        if learned {
            let held = &mut self.deferral.held[P::FAMILY.index()];
            if !held.seen.get(slot) {
                held.seen.set(slot);
                held.slots.push(slot);
            }
        }
        learned
    }

    /// Queues each held slot of `table` for every peer.
    fn requeue_held<P: PrefixKey>(&mut self, table: &Table<P>) {
        let held = std::mem::take(&mut self.deferral.held[P::FAMILY.index()]);
        let fi = P::FAMILY.index();
        for slot in held.slots {
            let live = !table.paths(slot).is_empty();
            for pe in self.exports.iter_mut().flatten() {
                if let Some(fe) = pe.families[fi].as_mut() {
                    fe.enqueue(slot, live);
                }
            }
        }
    }
}

impl Rib {
    /// Starts deferring the export of learned routes (we restarted).
    pub fn defer_learned_routes(&mut self) {
        self.core.deferral.active = true;
    }

    /// Whether learned routes are held.
    pub fn learned_routes_deferred(&self) -> bool {
        self.core.deferral.active
    }

    /// Ends the deferral: every prefix held back is exported with the full
    /// selection. Returns whether anything was queued.
    pub fn release_learned_routes(&mut self) -> bool {
        if !self.core.deferral.active {
            return false;
        }
        self.core.deferral.active = false;
        let queued = self.core.deferral.held.iter().any(|h| !h.slots.is_empty());
        self.core.requeue_held(&self.v4);
        self.core.requeue_held(&self.v6);
        queued
    }
}

#[cfg(test)]
mod tests;
