//! A set of integers stored as merged inclusive runs, so that "lowest free key at or after
//! x" costs one ordered-map lookup however many addresses are taken. This is what keeps
//! allocation in a /64 pool holding 10,000 Services from scanning the pool.

use std::collections::BTreeMap;

/// Taken keys as disjoint, non-adjacent runs `start → end` (inclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntervalSet {
    runs: BTreeMap<u128, u128>,
}

impl IntervalSet {
    /// The run containing `key`, if any.
    fn run_of(&self, key: u128) -> Option<(u128, u128)> {
        let (&start, &end) = self.runs.range(..=key).next_back()?;
        (end >= key).then_some((start, end))
    }

    pub fn contains(&self, key: u128) -> bool {
        self.run_of(key).is_some()
    }

    /// Marks `key` taken; returns false when it already was.
    pub fn insert(&mut self, key: u128) -> bool {
        if self.contains(key) {
            return false;
        }
        let mut start = key;
        let mut end = key;
        // Merge with the run ending right before.
        if let Some(before) = key.checked_sub(1)
            && let Some((s, _)) = self.run_of(before)
        {
            self.runs.remove(&s);
            start = s;
        }
        // Merge with the run starting right after.
        if let Some(after) = key.checked_add(1)
            && let Some(e) = self.runs.remove(&after)
        {
            end = e;
        }
        self.runs.insert(start, end);
        true
    }

    /// Marks `key` free; returns false when it was not taken.
    pub fn remove(&mut self, key: u128) -> bool {
        let Some((start, end)) = self.run_of(key) else {
            return false;
        };
        self.runs.remove(&start);
        if start < key {
            self.runs.insert(start, key - 1);
        }
        if key < end {
            self.runs.insert(key + 1, end);
        }
        true
    }

    /// The lowest key in `lo..=hi` that is free and that `skip` does not refuse. `skip`
    /// refuses few, isolated keys (the .0 and .255 of avoidBuggyIPs), so the walk stays short.
    pub fn first_free(&self, lo: u128, hi: u128, skip: impl Fn(u128) -> bool) -> Option<u128> {
        let mut candidate = lo;
        loop {
            if candidate > hi {
                return None;
            }
            if let Some((_, end)) = self.run_of(candidate) {
                candidate = end.checked_add(1)?;
                continue;
            }
            if skip(candidate) {
                candidate = candidate.checked_add(1)?;
                continue;
            }
            return Some(candidate);
        }
    }

    /// How many runs there are (for tests).
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_and_split() {
        let mut set = IntervalSet::default();
        assert!(set.insert(5));
        assert!(set.insert(7));
        assert_eq!(set.run_count(), 2);
        assert!(set.insert(6));
        assert_eq!(set.run_count(), 1);
        assert!(!set.insert(6));
        assert_eq!(set.first_free(5, 100, |_| false), Some(8));
        assert_eq!(set.first_free(0, 100, |_| false), Some(0));
        assert!(set.remove(6));
        assert!(!set.remove(6));
        assert_eq!(set.run_count(), 2);
        assert_eq!(set.first_free(5, 100, |_| false), Some(6));
        assert_eq!(set.first_free(5, 5, |_| false), None);
        assert_eq!(set.first_free(5, 100, |k| k == 6), Some(8));
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut set = IntervalSet::default();
        assert!(set.insert(u128::MAX));
        assert!(set.insert(0));
        assert_eq!(set.first_free(u128::MAX, u128::MAX, |_| false), None);
        assert_eq!(set.first_free(0, 1, |_| false), Some(1));
        assert!(set.remove(u128::MAX));
        assert!(set.remove(0));
        assert_eq!(set.run_count(), 0);
    }
}
