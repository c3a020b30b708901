//! `[neighbors.max_prefixes]`: the per-family limit on the prefixes a
//! neighbor may have accepted (RFC 4271 §8.1.2's "upper bound", the Cease
//! subcode 1 of RFC 4486 §4), as FRR's `maximum-prefix N [THRESHOLD]
//! [restart M | warning-only]` and BIRD's `import limit`.
//!
//! The limit counts the prefixes *accepted*, after the import policy (what
//! FRR counts, and what costs memory in the Loc-RIB: a neighbor whose policy
//! drops most of a full table is no danger). The instance applies it
//! (`instance::max_prefix`); the config file and the API (`AddPeer`,
//! `UpdatePeer`) produce the same [`MaxPrefixes`] through `config::rules`.

use crate::wire::Family;

/// Default warning threshold, percent of the limit (FRR's default, 75 %).
pub const DEFAULT_MAX_PREFIX_WARNING_PERCENT: u8 = 75;
/// Valid warning thresholds, percent.
pub const MAX_PREFIX_WARNING_PERCENT_RANGE: (u8, u8) = (1, 100);
/// Valid limits: at least one prefix (0 would refuse every route: use an
/// import policy of reject-all for that).
pub const MAX_PREFIX_LIMIT_RANGE: (u32, u32) = (1, u32::MAX);

/// One neighbor's prefix limits.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct MaxPrefixes {
    /// The limit per family, indexed by [`Family::index`]; `None`: no limit
    /// for that family.
    pub limits: [Option<u32>; 2],
    /// Log a warning (once per crossing) when a family reaches this
    /// percentage of its limit.
    pub warning_percent: u8,
    /// Never tear the session down; only log (and count) the crossing.
    pub warning_only: bool,
    /// Seconds the session stays down after a teardown before it is started
    /// again; 0: down until EnablePeer or a hard ResetPeer (`bgpctl neighbor
    /// enable` / `reset`), as FRR without `restart`.
    pub restart_time: u16,
}

impl Default for MaxPrefixes {
    fn default() -> Self {
        Self {
            limits: [None, None],
            warning_percent: DEFAULT_MAX_PREFIX_WARNING_PERCENT,
            warning_only: false,
            restart_time: 0,
        }
    }
}

impl MaxPrefixes {
    /// The limit of `family`, if any.
    pub fn limit(&self, family: Family) -> Option<u32> {
        self.limits[family.index()]
    }

    /// The count at which `family` warns: `warning_percent` of its limit,
    /// rounded up, at least 1.
    pub fn warning_at(&self, family: Family) -> Option<u64> {
        let limit = u64::from(self.limit(family)?);
        Some((limit * u64::from(self.warning_percent)).div_ceil(100).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_threshold_rounds_up_and_is_at_least_one() {
        let limits = MaxPrefixes { limits: [Some(1000), Some(3)], ..MaxPrefixes::default() };
        assert_eq!(limits.warning_at(Family::Ipv4Unicast), Some(750));
        assert_eq!(limits.warning_at(Family::Ipv6Unicast), Some(3), "75 % of 3 is 2.25: 3");
        let one = MaxPrefixes { limits: [Some(1), None], warning_percent: 1, ..limits };
        assert_eq!(one.warning_at(Family::Ipv4Unicast), Some(1));
        assert_eq!(one.warning_at(Family::Ipv6Unicast), None);
    }
}
