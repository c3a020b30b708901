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
//! Bounds: a session keeps at most [`KEEP_LISTS`] emptied lists (10 KiB
//! each, with room for a report), and at most [`RECYCLE_BOUND`] lists are on
//! their way back to all sessions together ([`Recycling`]); beyond that the
//! instance drops a list itself. A session takes its lists at every turn of
//! its loop and while it waits for room on the instance's queue, where a
//! feeder spends most of a full table (`Task::report`). Queued behind the
//! commands, a busy feeder's lists waited for the whole table and held its
//! decoded UPDATEs, doubling peak RSS on the Internet-like table; bounded
//! per session, a route server's 100 sessions, each scheduled rarely, held
//! 10 MB of theirs (2 each) or sent most lists back to be dropped by the
//! instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::wire::UpdateMessage;

/// UPDATEs in one report at most: bounds what one report holds and how long
/// the instance works on one report before it looks at its other events; the
/// daemon's queue of reports is sized by it, so that as many UPDATEs wait
/// decoded as when each came alone.
pub const MAX_UPDATES_PER_REPORT: usize = 32;

/// Emptied report lists a session keeps for its next reports.
pub const KEEP_LISTS: usize = 2;

/// Applied report lists on their way back to all sessions together: at most
/// 2,048 decoded UPDATEs, about 1 MB on the Internet-like table.
pub const RECYCLE_BOUND: usize = 64;

/// The count of lists on their way back, shared by the instance (which adds
/// one per list it sends) and the sessions (which take one off per list
/// they receive, or that their inbox held when it closed).
#[derive(Clone, Debug, Default)]
pub struct Recycling(Arc<AtomicUsize>);

impl Recycling {
    /// Counts one more list on its way, if the bound allows it.
    fn try_reserve(&self) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < RECYCLE_BOUND).then_some(n + 1)
            })
            .is_ok()
    }

    fn release(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }

    /// Lists on their way now.
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// The instance's end of one session's way back.
#[derive(Clone, Debug)]
pub struct RecycleSender {
    sender: mpsc::UnboundedSender<Vec<UpdateMessage>>,
    recycling: Recycling,
}

impl RecycleSender {
    /// Sends `list` back, or drops it here when [`RECYCLE_BOUND`] lists are
    /// on their way or the session has ended.
    pub fn send(&self, list: Vec<UpdateMessage>) {
        if self.recycling.try_reserve() && self.sender.send(list).is_err() {
            self.recycling.release();
        }
    }
}

/// The session's end: gives back the count of what it held when dropped.
#[derive(Debug)]
pub struct RecycleInbox {
    receiver: mpsc::UnboundedReceiver<Vec<UpdateMessage>>,
    recycling: Recycling,
}

impl RecycleInbox {
    /// The next list, once one comes (never, once every sender is gone).
    pub async fn recv(&mut self) -> Option<Vec<UpdateMessage>> {
        let list = self.receiver.recv().await;
        self.counted_off(list)
    }

    /// A list that has come, if any.
    pub fn try_recv(&mut self) -> Option<Vec<UpdateMessage>> {
        let list = self.receiver.try_recv().ok();
        self.counted_off(list)
    }

    /// `list`, taken off the count of lists on their way if there is one.
    fn counted_off(&self, list: Option<Vec<UpdateMessage>>) -> Option<Vec<UpdateMessage>> {
        if list.is_some() {
            self.recycling.release();
        }
        list
    }
}

impl Drop for RecycleInbox {
    fn drop(&mut self) {
        // Closed first: a list sent after this fails and is counted back by
        // its sender; one already in is counted back here.
        self.receiver.close();
        while self.try_recv().is_some() {}
    }
}

/// A session's way back for applied report lists, counted in `recycling`.
pub fn recycle_channel(recycling: &Recycling) -> (RecycleSender, RecycleInbox) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let recycling = recycling.clone();
    (RecycleSender { sender, recycling: recycling.clone() }, RecycleInbox { receiver, recycling })
}

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
    fn lists_on_their_way_back_are_bounded_across_sessions_and_counted_back() {
        let recycling = Recycling::default();
        let (to_a, mut a) = recycle_channel(&recycling);
        let (to_b, b) = recycle_channel(&recycling);
        for _ in 0..RECYCLE_BOUND {
            to_a.send(vec![update(1)]);
            to_b.send(vec![update(2)]);
        }
        assert_eq!(recycling.in_flight(), RECYCLE_BOUND, "the rest were dropped by the sender");
        let to_a_count = std::iter::from_fn(|| a.try_recv()).count();
        assert_eq!(recycling.in_flight(), RECYCLE_BOUND - to_a_count);
        // A session that ends counts back what its inbox held, and a list
        // sent to it afterwards is counted back by the sender.
        drop(b);
        assert_eq!(recycling.in_flight(), 0);
        to_b.send(vec![update(3)]);
        assert_eq!(recycling.in_flight(), 0);
        to_a.send(vec![update(4)]);
        assert_eq!(a.try_recv().map(|list| list.len()), Some(1));
        assert_eq!(recycling.in_flight(), 0);
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
