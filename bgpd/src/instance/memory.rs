//! Giving memory back after the RIB shrank.
//!
//! A million withdrawn paths leave their slots free inside the RIB's vectors
//! and indexes, and glibc keeps freed heap pages mapped. After the instance
//! handled an event, [`Compaction::after_event`] checks one number (free table
//! slots); when many slots are free and that number changed since the last
//! compaction, the RIB compacts (`Rib::compact`: trailing free slots, spare
//! capacity) and, with glibc's allocator, `malloc_trim(0)` hands free pages to
//! the kernel on a blocking thread (it walks the heap: never on the instance's
//! worker). At most once per [`MIN_INTERVAL`], so a churning table pays for
//! no compaction per change. bench-memory measures the effect.

use std::time::{Duration, Instant};

use crate::rib::Rib;

/// Free table slots below which compaction is not worth a pass.
const THRESHOLD: usize = 65_536;
/// The shortest time between two compactions.
const MIN_INTERVAL: Duration = Duration::from_secs(5);

/// When the RIB was last compacted, and how many slots were free then.
#[derive(Debug, Default)]
pub(super) struct Compaction {
    last: Option<(Instant, usize)>,
    /// A compaction is wanted but the interval has not passed: the instance
    /// wakes at this time even when no event comes.
    wanted_at: Option<Instant>,
}

impl Compaction {
    /// Compacts `rib` if many slots are free and something changed since the
    /// last time; returns the heap bytes the RIB gave back (0 if it did not run).
    pub(super) fn after_event(&mut self, rib: &mut Rib, now: Instant) -> usize {
        let free = rib.free_slots();
        if !self.due(free, now) {
            self.wanted_at = self.wanted(free).then(|| self.next_allowed()).flatten();
            return 0;
        }
        self.wanted_at = None;
        let given_back = rib.compact();
        self.last = Some((now, rib.free_slots()));
        tracing::debug!(given_back, free_before = free, "RIB compacted");
        trim_heap();
        given_back
    }

    /// When the instance must wake to compact, if a compaction waits.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.wanted_at
    }

    /// Many slots are free and the count moved since the last compaction.
    fn wanted(&self, free: usize) -> bool {
        free >= THRESHOLD && self.last.is_none_or(|(_, free_then)| free != free_then)
    }

    fn next_allowed(&self) -> Option<Instant> {
        self.last.map(|(at, _)| at + MIN_INTERVAL)
    }

    fn due(&self, free: usize, now: Instant) -> bool {
        self.wanted(free) && self.next_allowed().is_none_or(|allowed| now >= allowed)
    }
}

/// glibc: return free heap pages to the kernel (other allocators return
/// memory on their own).
fn trim_heap() {
    #[cfg(all(target_env = "gnu", not(feature = "jemalloc"), not(feature = "mimalloc")))]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn_blocking(|| {
            // SAFETY: malloc_trim only walks glibc's own heap; it is thread-safe.
            unsafe { libc::malloc_trim(0) };
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compaction_waits_for_many_free_slots_a_change_and_the_interval() {
        let start = Instant::now();
        let mut compaction = Compaction::default();
        assert!(!compaction.due(THRESHOLD - 1, start));
        assert!(compaction.due(THRESHOLD, start));
        compaction.last = Some((start, THRESHOLD));
        assert!(!compaction.due(THRESHOLD, start + MIN_INTERVAL), "nothing changed");
        assert!(!compaction.due(THRESHOLD + 1, start + Duration::from_secs(1)), "too soon");
        assert!(compaction.due(THRESHOLD + 1, start + MIN_INTERVAL));
        assert!(compaction.wanted(THRESHOLD + 1));
        assert_eq!(compaction.next_allowed(), Some(start + MIN_INTERVAL));
    }

    #[test]
    fn an_empty_rib_is_never_compacted() {
        let mut rib = Rib::new(crate::rib::LocalInfo {
            asn: 65000,
            router_id: std::net::Ipv4Addr::new(192, 0, 2, 1),
        });
        let mut compaction = Compaction::default();
        assert_eq!(compaction.after_event(&mut rib, Instant::now()), 0);
        assert_eq!(compaction.deadline(), None);
    }
}
