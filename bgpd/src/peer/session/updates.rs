//! UPDATEs decoded in one step travel to the instance together, in one
//! [`SessionEvent::Updates`](super::SessionEvent::Updates) report of at most
//! [`MAX_UPDATES_PER_REPORT`].
//!
//! One report per UPDATE cost the instance's thread, the one every UPDATE
//! waits for, a channel receive, a wake-up of the session waiting for room
//! on the channel and a pass of its event loop for each of the 300,000
//! UPDATEs of a full table; one report per step of decoding (the connection
//! decodes at most 32 frames a step) costs that once per step. On the
//! Internet-like table bgpd's CPU fell from 2.11 s to 1.71 s
//! (`interop-tests/bench/table-internet-cpu.txt`).
//!
//! Order is kept: the session hands over the pending UPDATEs before any
//! other report it sends (`Task::notify`), and at the end of each step, so
//! nothing waits for a later read. Bound: a session holds at most
//! [`MAX_UPDATES_PER_REPORT`] UPDATEs here, and only while it delivers one
//! step's frames.
//!
//! The instance hands each report's list back once it applied it
//! ([`SessionHandle::recycle`](super::SessionHandle::recycle)): the session
//! drops the UPDATEs on its own thread and keeps the emptied list for a later
//! report. Dropped on the instance's thread, the lists, NLRI and AS paths
//! decoded on a worker were freed into the worker's malloc arena from
//! another thread, and the worker's next allocations missed its cache: malloc
//! and free were a fifth of bgpd's samples on the Internet-like table.
//!
//! Bounds: at most [`KEEP_LISTS`] emptied lists are kept. Handed-back lists
//! wait only until the session's loop next turns (it takes them all first),
//! so no more than the reports of one wakeup: were they queued behind the
//! commands, a busy feeder's lists waited for the whole table and held its
//! decoded UPDATEs, doubling peak RSS on the Internet-like table.

use crate::wire::UpdateMessage;

/// UPDATEs in one report at most: bounds what one report holds and how long
/// the instance works on one report before it looks at its other events; the
/// daemon's queue of reports is sized by it, so that as many UPDATEs wait
/// decoded as when each came alone.
pub const MAX_UPDATES_PER_REPORT: usize = 32;

/// Emptied report lists a session keeps for its next reports.
pub const KEEP_LISTS: usize = 4;

/// The UPDATEs of the current wakeup not yet handed to the instance, and
/// emptied lists to hand the next ones over in.
#[derive(Debug, Default)]
pub(super) struct PendingUpdates {
    pending: Vec<UpdateMessage>,
    spare: Vec<Vec<UpdateMessage>>,
}

impl PendingUpdates {
    /// Adds `update`; gives back the full batch once it holds
    /// [`MAX_UPDATES_PER_REPORT`].
    pub fn push(&mut self, update: UpdateMessage) -> Option<Vec<UpdateMessage>> {
        if self.pending.capacity() == 0 {
            self.pending =
                self.spare.pop().unwrap_or_else(|| Vec::with_capacity(MAX_UPDATES_PER_REPORT));
        }
        self.pending.push(update);
        (self.pending.len() >= MAX_UPDATES_PER_REPORT).then(|| std::mem::take(&mut self.pending))
    }

    /// The pending UPDATEs, if any, in the order they came.
    pub fn take(&mut self) -> Option<Vec<UpdateMessage>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }

    /// A report's list the instance is done with: its UPDATEs are dropped
    /// here and the list kept for a later report, up to [`KEEP_LISTS`].
    pub fn recycle(&mut self, mut list: Vec<UpdateMessage>) {
        list.clear();
        if self.spare.len() < KEEP_LISTS && list.capacity() >= MAX_UPDATES_PER_REPORT {
            self.spare.push(list);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Nlri;

    fn update(index: u32) -> UpdateMessage {
        let prefix = format!("10.{}.{}.0/24", index / 256, index % 256);
        UpdateMessage { withdrawn: vec![Nlri::new(prefix.parse().unwrap())], ..Default::default() }
    }

    #[test]
    fn a_burst_is_handed_over_in_order_in_bounded_reports() {
        let mut pending = PendingUpdates::default();
        let total = 2 * MAX_UPDATES_PER_REPORT + 3;
        let mut reports = Vec::new();
        for index in 0..total {
            reports.extend(pending.push(update(index as u32)));
        }
        reports.extend(pending.take());
        assert_eq!(
            reports.iter().map(Vec::len).collect::<Vec<_>>(),
            [MAX_UPDATES_PER_REPORT, MAX_UPDATES_PER_REPORT, 3]
        );
        let order: Vec<UpdateMessage> = reports.into_iter().flatten().collect();
        assert_eq!(order, (0..total).map(|i| update(i as u32)).collect::<Vec<_>>());
        assert!(pending.take().is_none(), "nothing is handed over twice");
    }

    #[test]
    fn handed_back_lists_are_reused_emptied_and_kept_up_to_the_bound() {
        let mut pending = PendingUpdates::default();
        let mut reports = Vec::new();
        for index in 0..(KEEP_LISTS + 2) * MAX_UPDATES_PER_REPORT {
            reports.extend(pending.push(update(index as u32)));
        }
        let addresses: Vec<*const UpdateMessage> = reports.iter().map(|r| r.as_ptr()).collect();
        for report in reports {
            pending.recycle(report);
        }
        assert_eq!(pending.spare.len(), KEEP_LISTS, "the rest are freed");
        let full = (0..MAX_UPDATES_PER_REPORT).find_map(|i| pending.push(update(i as u32)));
        let full = full.expect("a full report");
        assert!(addresses.contains(&full.as_ptr()), "a kept list carries the next report");
        assert_eq!(full, (0..MAX_UPDATES_PER_REPORT).map(|i| update(i as u32)).collect::<Vec<_>>());
        // A short list (a step's remainder, never grown to a report) is not kept.
        pending.recycle(Vec::with_capacity(1));
        assert_eq!(pending.spare.len(), KEEP_LISTS - 1);
    }
}
