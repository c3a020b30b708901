//! An Internet-like routing table, generated deterministically from a seed, for the benchmarks.
//!
//! What makes a real full table expensive is not its prefix count alone but how many distinct
//! attribute sets it holds and how unevenly prefixes share them. The generator models:
//!
//! - prefix lengths as in the public tables: IPv4 mostly /24 with /22-/23 next, a thin tail up
//!   to /8; IPv6 mostly /48 with /32-/44 next. Prefixes are distinct but otherwise anywhere in
//!   global unicast space (they are only carried in BGP, never installed), avoiding the ranges
//!   the test links use (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32);
//! - attribute sets shared in a Zipf-like way: every set is used at least once, and the
//!   remaining prefixes pick set `i` with probability about `1 / (i + 1)` (a few sets carry
//!   many prefixes, most carry one or two);
//! - AS paths of 2 to 7 hops (RFC 4271 §5.1.2) of 2- and 4-octet ASNs (RFC 6793), starting with
//!   the feeding peer's ASN (eBGP peers check it), some with the origin prepended 1-3 times, a
//!   few ending in an AS_SET with ATOMIC_AGGREGATE and AGGREGATOR (RFC 4271 §5.1.6-7);
//! - standard communities (RFC 1997), large communities (RFC 8092), MEDs, ORIGIN IGP or
//!   INCOMPLETE.
//!
//! NEXT_HOP is left out of the sets: the feeder sets it per session.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use bgpd::wire::{
    Aggregator, AsPath, AsSegment, Community, LargeCommunity, Origin, PathAttributes, SegmentType,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    pub seed: u64,
    pub v4: usize,
    pub v6: usize,
    /// Distinct attribute sets (at most the prefix count; 1 for the one-set case).
    pub sets: usize,
    /// The feeding peer's ASN, first in every AS path.
    pub peer_asn: u32,
}

impl TableSpec {
    /// An Internet-like table: one attribute set per five prefixes, as in a full table seen
    /// from one transit (about 250,000 sets for 1.23M prefixes).
    pub fn internet(seed: u64, v4: usize, v6: usize, peer_asn: u32) -> Self {
        Self { seed, v4, v6, sets: ((v4 + v6) / 5).max(1), peer_asn }
    }

    /// Every prefix with the same attributes: the best case for interning.
    pub fn one_set(seed: u64, v4: usize, v6: usize, peer_asn: u32) -> Self {
        Self { seed, v4, v6, sets: 1, peer_asn }
    }
}

/// A generated table: attribute sets and the prefixes pointing at them.
#[derive(Debug, Clone)]
pub struct Table {
    /// Distinct attribute sets, without NEXT_HOP.
    pub sets: Vec<PathAttributes>,
    /// IPv4 prefixes with the index of their set in `sets`.
    pub v4: Vec<(Ipv4Net, u32)>,
    /// IPv6 prefixes with the index of their set in `sets`.
    pub v6: Vec<(Ipv6Net, u32)>,
}

/// Per mille of IPv4 prefixes of each length (RIPE/RouteViews tables, 2024, rounded).
const V4_LENGTHS: &[(u8, u32)] = &[
    (24, 622),
    (23, 100),
    (22, 120),
    (21, 45),
    (20, 40),
    (19, 25),
    (18, 12),
    (17, 8),
    (16, 14),
    (15, 3),
    (14, 3),
    (13, 2),
    (12, 2),
    (11, 1),
    (10, 1),
    (9, 1),
    (8, 1),
];

/// Per mille of IPv6 prefixes of each length.
const V6_LENGTHS: &[(u8, u32)] = &[
    (48, 500),
    (47, 30),
    (46, 40),
    (45, 15),
    (44, 90),
    (42, 25),
    (40, 70),
    (38, 10),
    (36, 35),
    (34, 10),
    (33, 15),
    (32, 130),
    (31, 5),
    (30, 5),
    (29, 15),
    (28, 5),
];

/// Per cent of AS paths of each hop count (the peer's ASN included).
const PATH_HOPS: &[(u8, u32)] = &[(2, 10), (3, 25), (4, 30), (5, 20), (6, 10), (7, 5)];

/// A small, fast, deterministic generator (SplitMix64): no dependency, same stream on every
/// platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; 0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `percent` % of the time.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A key of `weights` drawn in proportion to its weight.
    fn weighted<T: Copy>(&mut self, weights: &[(T, u32)]) -> T {
        let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut pick = self.below(total);
        for (value, weight) in weights {
            if pick < u64::from(*weight) {
                return *value;
            }
            pick -= u64::from(*weight);
        }
        weights[0].0
    }

    /// Zipf-like (exponent 1) index in `0..n`: log-uniform, so index `i` comes up with
    /// probability about `1 / ((i + 1) ln n)`.
    pub fn zipf(&mut self, n: usize) -> usize {
        let value = ((n + 1) as f64).powf(self.unit()) as usize;
        value.saturating_sub(1).min(n.saturating_sub(1))
    }
}

impl Table {
    /// Generates the table `spec` describes. Same spec, same table.
    pub fn generate(spec: &TableSpec) -> Self {
        let mut rng = Rng::new(spec.seed);
        let total = spec.v4 + spec.v6;
        let set_count = spec.sets.clamp(1, total.max(1));
        let sets = attribute_sets(&mut rng, set_count, spec.peer_asn);
        // Set of prefix k: the first `set_count` prefixes (in v4-then-v6 order, shuffled by the
        // address draw) take one set each, the rest draw Zipf-like.
        let set_of = |k: usize, rng: &mut Rng| -> u32 {
            let index = if k < set_count { k } else { rng.zipf(set_count) };
            u32::try_from(index).unwrap_or(u32::MAX)
        };
        let mut seen_v4 = HashSet::with_capacity(spec.v4);
        let mut v4 = Vec::with_capacity(spec.v4);
        while v4.len() < spec.v4 {
            let prefix = v4_prefix(&mut rng);
            if seen_v4.insert(prefix) {
                let set = set_of(v4.len(), &mut rng);
                v4.push((prefix, set));
            }
        }
        let mut seen_v6 = HashSet::with_capacity(spec.v6);
        let mut v6 = Vec::with_capacity(spec.v6);
        while v6.len() < spec.v6 {
            let prefix = v6_prefix(&mut rng);
            if seen_v6.insert(prefix) {
                let set = set_of(spec.v4 + v6.len(), &mut rng);
                v6.push((prefix, set));
            }
        }
        Self { sets, v4, v6 }
    }

    /// Every prefix, IPv4 first.
    pub fn prefixes(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.v4.iter().map(|(p, _)| IpNet::V4(*p)).chain(self.v6.iter().map(|(p, _)| IpNet::V6(*p)))
    }

    /// The prefixes of one family grouped by attribute set, sets in index order: what a
    /// speaker dumping its table packs into UPDATEs.
    pub fn grouped(&self, ipv6: bool) -> Vec<(u32, Vec<IpNet>)> {
        let mut groups: Vec<Vec<IpNet>> = vec![Vec::new(); self.sets.len()];
        let prefixes: Box<dyn Iterator<Item = (IpNet, u32)>> = if ipv6 {
            Box::new(self.v6.iter().map(|(p, s)| (IpNet::V6(*p), *s)))
        } else {
            Box::new(self.v4.iter().map(|(p, s)| (IpNet::V4(*p), *s)))
        };
        for (prefix, set) in prefixes {
            if let Some(group) = groups.get_mut(set as usize) {
                group.push(prefix);
            }
        }
        groups
            .into_iter()
            .enumerate()
            .filter(|(_, g)| !g.is_empty())
            .map(|(i, g)| (u32::try_from(i).unwrap_or(u32::MAX), g))
            .collect()
    }

    /// How many distinct attribute sets the prefixes use.
    pub fn distinct_sets(&self) -> usize {
        let used: HashSet<u32> =
            self.v4.iter().map(|(_, s)| *s).chain(self.v6.iter().map(|(_, s)| *s)).collect();
        used.len()
    }
}

/// A global unicast IPv4 prefix outside 0/8, 10/8, 127/8, 192/8, 198/8, 203/8 and 224/3.
fn v4_prefix(rng: &mut Rng) -> Ipv4Net {
    loop {
        let len = rng.weighted(V4_LENGTHS);
        let address = Ipv4Addr::from(rng.next_u64() as u32);
        let first = address.octets()[0];
        if matches!(first, 0 | 10 | 127 | 192 | 198 | 203) || first >= 224 {
            continue;
        }
        if let Ok(net) = Ipv4Net::new(address, len) {
            return net.trunc();
        }
    }
}

/// A prefix inside 2400::/6 (2400:: to 27ff::), well away from 2001:db8::/32.
fn v6_prefix(rng: &mut Rng) -> Ipv6Net {
    let len = rng.weighted(V6_LENGTHS);
    let high = 0x2400_u128 + u128::from(rng.below(0x400));
    let low = u128::from(rng.next_u64()) << 48 | u128::from(rng.next_u64() >> 16);
    let address = Ipv6Addr::from(high << 112 | (low & ((1u128 << 112) - 1)));
    Ipv6Net::new(address, len).map(|n| n.trunc()).unwrap_or_default()
}

/// An ASN that is neither private, reserved, nor one of the rig's (64496-65535 and
/// 4200000000+ are left out): 2-octet mostly, 4-octet (RFC 6793) a third of the time.
fn public_asn(rng: &mut Rng) -> u32 {
    if rng.chance(33) { 131_072 + rng.below(270_000) as u32 } else { 1 + rng.below(64_000) as u32 }
}

/// `count` distinct attribute sets; set 0 is the simplest (the one-set case uses it alone).
fn attribute_sets(rng: &mut Rng, count: usize, peer_asn: u32) -> Vec<PathAttributes> {
    let mut seen = HashSet::with_capacity(count);
    let mut sets = Vec::with_capacity(count);
    if count == 1 {
        sets.push(PathAttributes {
            origin: Some(Origin::Igp),
            as_path: AsPath::from_sequence([peer_asn]),
            ..PathAttributes::default()
        });
        return sets;
    }
    // A few hundred transit ASNs carry most paths, as in the real graph.
    let transits: Vec<u32> = (0..400).map(|_| public_asn(rng)).collect();
    while sets.len() < count {
        let set = attribute_set(rng, peer_asn, &transits);
        if seen.insert(set.clone()) {
            sets.push(set);
        }
    }
    sets
}

fn attribute_set(rng: &mut Rng, peer_asn: u32, transits: &[u32]) -> PathAttributes {
    let hops = rng.weighted(PATH_HOPS);
    let mut asns = vec![peer_asn];
    for _ in 2..hops {
        asns.push(transits[rng.zipf(transits.len())]);
    }
    let origin_asn = public_asn(rng);
    asns.push(origin_asn);
    if rng.chance(10) {
        for _ in 0..=rng.below(3) {
            asns.push(origin_asn);
        }
    }
    let mut segments = vec![AsSegment { kind: SegmentType::Sequence, asns }];
    let mut attributes = PathAttributes::default();
    if rng.below(200) == 0 {
        let members = (0..2 + rng.below(2)).map(|_| public_asn(rng)).collect();
        segments.push(AsSegment { kind: SegmentType::Set, asns: members });
        attributes.atomic_aggregate = true;
        attributes.aggregator =
            Some(Aggregator { asn: origin_asn, address: Ipv4Addr::from(rng.next_u64() as u32) });
    }
    attributes.as_path = AsPath { segments };
    attributes.origin = Some(if rng.chance(85) { Origin::Igp } else { Origin::Incomplete });
    if rng.chance(40) {
        attributes.med = Some(rng.below(1000) as u32);
    }
    if rng.chance(60) {
        let n = 1 + rng.below(6);
        let mut communities: Vec<Community> = (0..n)
            .map(|_| {
                // 1..=64000: never the well-known 0xFFFF.... range (RFC 1997 NO_EXPORT etc.).
                let asn = transits[rng.zipf(transits.len())] % 64_000 + 1;
                Community((asn << 16) | rng.below(1000) as u32)
            })
            .collect();
        communities.sort_unstable();
        communities.dedup();
        attributes.communities = communities;
    }
    if rng.chance(20) {
        let n = 1 + rng.below(3);
        attributes.large_communities = (0..n)
            .map(|_| LargeCommunity {
                global_admin: transits[rng.zipf(transits.len())],
                local_data_1: rng.below(100) as u32,
                local_data_2: rng.below(10_000) as u32,
            })
            .collect();
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Table {
        Table::generate(&TableSpec::internet(7, 20_000, 5_000, 65001))
    }

    #[test]
    fn same_seed_same_table_other_seed_other_table() {
        let a = small();
        let b = small();
        assert_eq!(a.sets, b.sets);
        assert_eq!(a.v4, b.v4);
        assert_eq!(a.v6, b.v6);
        let c = Table::generate(&TableSpec::internet(8, 20_000, 5_000, 65001));
        assert_ne!(a.v4, c.v4);
    }

    #[test]
    fn prefixes_are_distinct_and_of_the_asked_counts() {
        let table = small();
        assert_eq!(table.v4.len(), 20_000);
        assert_eq!(table.v6.len(), 5_000);
        let distinct: HashSet<IpNet> = table.prefixes().collect();
        assert_eq!(distinct.len(), 25_000);
    }

    #[test]
    fn prefix_lengths_follow_the_real_tables() {
        let table = small();
        let share = |len: u8| {
            table.v4.iter().filter(|(p, _)| p.prefix_len() == len).count() as f64 / 20_000.0
        };
        assert!((0.58..0.66).contains(&share(24)), "/24 share {}", share(24));
        assert!((0.08..0.14).contains(&(share(22))), "/22 share {}", share(22));
        assert!(table.v4.iter().all(|(p, _)| (8..=24).contains(&p.prefix_len())));
        let v6_48 = table.v6.iter().filter(|(p, _)| p.prefix_len() == 48).count() as f64 / 5_000.0;
        assert!((0.45..0.55).contains(&v6_48), "/48 share {v6_48}");
        assert!(table.v6.iter().all(|(p, _)| (28..=48).contains(&p.prefix_len())));
        let reserved: [IpNet; 4] = [
            "192.0.2.0/24".parse().unwrap(),
            "198.51.100.0/24".parse().unwrap(),
            "203.0.113.0/24".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        for prefix in table.prefixes() {
            for r in &reserved {
                assert!(!r.contains(&prefix) && !prefix.contains(r), "{prefix} overlaps {r}");
            }
        }
    }

    #[test]
    fn every_set_is_used_and_distinct_and_sharing_is_skewed() {
        let table = small();
        assert_eq!(table.sets.len(), 5_000);
        assert_eq!(table.distinct_sets(), 5_000);
        let distinct: HashSet<&PathAttributes> = table.sets.iter().collect();
        assert_eq!(distinct.len(), 5_000);
        let mut uses = vec![0usize; table.sets.len()];
        for (_, s) in table.v4.iter().map(|(p, s)| (IpNet::V4(*p), s)) {
            uses[*s as usize] += 1;
        }
        for (_, s) in &table.v6 {
            uses[*s as usize] += 1;
        }
        uses.sort_unstable_by(|a, b| b.cmp(a));
        // Zipf: the busiest set carries far more than the average of 5, most carry 1 or 2.
        assert!(uses[0] > 500, "busiest set has {}", uses[0]);
        let small_sets = uses.iter().filter(|u| **u <= 2).count();
        assert!(small_sets > 2_500, "{small_sets} sets with at most 2 prefixes");
    }

    #[test]
    fn as_paths_look_like_the_internet() {
        let table = small();
        let mut as_sets = 0;
        let mut prepended = 0;
        let mut four_octet = 0;
        for set in &table.sets {
            let first = &set.as_path.segments[0];
            assert_eq!(first.kind, SegmentType::Sequence);
            assert_eq!(first.asns[0], 65001, "the peer's ASN leads");
            let hops = set.as_path.path_length();
            assert!((2..=11).contains(&hops), "{hops} hops");
            if set.as_path.segments.len() > 1 {
                as_sets += 1;
                assert!(set.atomic_aggregate && set.aggregator.is_some());
            }
            if first.asns.windows(2).any(|w| w[0] == w[1]) {
                prepended += 1;
            }
            if first.asns.iter().any(|a| *a > 65535) {
                four_octet += 1;
            }
            assert!(set.next_hop.is_none());
        }
        assert!((5..=60).contains(&as_sets), "{as_sets} AS_SETs");
        assert!(prepended > 250, "{prepended} prepended");
        assert!(four_octet > 1_000, "{four_octet} with 4-octet ASNs");
        assert!(table.sets.iter().filter(|s| !s.communities.is_empty()).count() > 2_000);
        assert!(table.sets.iter().filter(|s| !s.large_communities.is_empty()).count() > 500);
        assert!(table.sets.iter().filter(|s| s.med.is_some()).count() > 1_500);
    }

    #[test]
    fn one_set_shares_one_attribute_set() {
        let table = Table::generate(&TableSpec::one_set(1, 1_000, 100, 65001));
        assert_eq!(table.sets.len(), 1);
        assert_eq!(table.distinct_sets(), 1);
        assert_eq!(
            table.grouped(false),
            vec![(0, table.v4.iter().map(|(p, _)| IpNet::V4(*p)).collect())]
        );
    }

    #[test]
    fn grouping_keeps_every_prefix_once() {
        let table = small();
        let v4: usize = table.grouped(false).iter().map(|(_, g)| g.len()).sum();
        let v6: usize = table.grouped(true).iter().map(|(_, g)| g.len()).sum();
        assert_eq!((v4, v6), (20_000, 5_000));
    }
}
