//! Export flow control across peers: the export batches in flight to all
//! sessions together (built by the RIB, waiting in a session's queue or being
//! encoded) hold at most [`EXPORT_BUDGET_BYTES`] of heap, plus one batch.
//!
//! Why a shared bound in bytes: per peer, at most `EXPORT_WINDOW` batches are
//! in flight, and the batch size shrinks as peers are added; but a batch's
//! memory depends on how scattered its prefixes' attribute sets are (one
//! group per set), and the per-peer window alone let a route server's 100
//! peers hold 400,000 prefixes in batches at once: about 75 MB on a table
//! where a set is shared by five prefixes, more than everything else bgpd
//! held. With the shared bound, peers beyond it wait their turn in arrival
//! order and are served as batches complete, so the sessions always have
//! work and the memory does not grow with the number of peers.

use std::collections::{HashSet, VecDeque};

use crate::rib::PeerId;

/// Heap bytes of export batches in flight to all peers together.
pub(super) const EXPORT_BUDGET_BYTES: usize = 8 << 20;

/// The bytes in flight and the peers waiting for room (sans-IO: the instance
/// tells it what it sends and what completes).
#[derive(Debug, Default)]
pub(super) struct ExportBudget {
    used: usize,
    waiting: VecDeque<PeerId>,
    queued: HashSet<PeerId>,
}

impl ExportBudget {
    /// Whether another batch may be sent now.
    pub fn has_room(&self) -> bool {
        self.used < EXPORT_BUDGET_BYTES
    }

    /// A batch of `bytes` was handed to a session.
    pub fn take(&mut self, bytes: usize) {
        self.used += bytes;
    }

    /// A batch of `bytes` completed, or its session went away.
    pub fn give_back(&mut self, bytes: usize) {
        self.used = self.used.saturating_sub(bytes);
    }

    /// `peer` has work but found no room: served when room comes back,
    /// after the peers that waited before it. Queued once.
    pub fn wait(&mut self, peer: PeerId) {
        if self.queued.insert(peer) {
            self.waiting.push_back(peer);
        }
    }

    /// The peer that has waited longest, if any.
    pub fn next_waiting(&mut self) -> Option<PeerId> {
        let peer = self.waiting.pop_front()?;
        self.queued.remove(&peer);
        Some(peer)
    }

    /// Bytes in flight now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ends_at_the_budget_and_comes_back_when_batches_complete() {
        let mut budget = ExportBudget::default();
        assert!(budget.has_room());
        budget.take(EXPORT_BUDGET_BYTES - 1);
        assert!(budget.has_room(), "one more batch may start below the bound");
        budget.take(1_000);
        assert!(!budget.has_room());
        budget.give_back(1_000);
        assert!(budget.has_room());
        budget.give_back(usize::MAX);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn waiting_peers_are_served_in_arrival_order_once_each() {
        let mut budget = ExportBudget::default();
        for peer in [PeerId(3), PeerId(1), PeerId(3), PeerId(2)] {
            budget.wait(peer);
        }
        let order: Vec<PeerId> = std::iter::from_fn(|| budget.next_waiting()).collect();
        assert_eq!(order, [PeerId(3), PeerId(1), PeerId(2)]);
        budget.wait(PeerId(3));
        assert_eq!(budget.next_waiting(), Some(PeerId(3)), "queued again after being served");
    }
}
