//! Prefix sets: entries `PREFIX [ge N] [le M]` (the FRR prefix-list and GoBGP
//! `masklength-range` idea), compiled into one binary trie per family.
//!
//! An entry matches a route prefix when the route lies inside the entry's
//! prefix and the route's length is within `ge..=le`. Without `ge`/`le` the
//! entry matches exactly its own prefix; `le M` alone means `ge` = the entry's
//! length; `ge N` alone means `le` = 32 or 128 (as FRR does).
//!
//! # Matching cost
//!
//! A set is compiled, per family, into sorted address intervals per route
//! length: for each length `l`, the union of the address ranges of the
//! entries whose `ge..=le` holds `l`, merged into disjoint intervals (two
//! sorted arrays, starts and ends). A lookup is one binary search over the
//! intervals of the route's length: no pointer chasing, and adjacent entries
//! (a thousand `/24`s in a row) merge into one interval. Lengths whose
//! intervals equal the previous length's share one list, so a set of `le 32`
//! entries keeps one list for all its lengths.
//!
//! Bound: when the intervals of a family would outnumber its entries by more
//! than [`FLAT_FACTOR`] (many entries with wide and different `ge`/`le`
//! ranges, IPv6 mostly), that family falls back to a path-compressed binary
//! trie (nodes only where an entry ends or two entries part; each entry node
//! holds, as a bit mask over 0..=128, the route lengths its entries accept),
//! whose size is linear in the entries; a lookup then walks about
//! log2(entries) nodes.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use super::chain::LastSelection;

/// One prefix set entry, as written `PREFIX [ge N] [le M]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct PrefixEntry {
    pub prefix: IpNet,
    /// Shortest route length accepted.
    pub ge: u8,
    /// Longest route length accepted.
    pub le: u8,
}

/// What is wrong with a prefix entry's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixEntryErrorKind {
    #[error("not an IPv4 or IPv6 prefix ADDRESS/LENGTH")]
    Prefix,
    #[error("the prefix has host bits set (the network is {network})")]
    HostBits { network: IpNet },
    #[error("expected `ge N` then `le M`")]
    Keyword,
    #[error("not a length 0..={max}")]
    Length { max: u8 },
    #[error("lengths must satisfy prefix length {prefix_len} <= ge {ge} <= le {le} <= {max}")]
    Range { prefix_len: u8, ge: u8, le: u8, max: u8 },
}

/// A prefix entry that does not parse: the text, the byte offset of the bad
/// token in it, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("prefix entry {text:?}, at byte {position}: {kind}")]
pub struct PrefixEntryError {
    pub text: String,
    pub position: usize,
    pub kind: PrefixEntryErrorKind,
}

impl PrefixEntry {
    /// An entry from its parts, with the range checks of the text form.
    pub fn new(
        prefix: IpNet,
        ge: Option<u8>,
        le: Option<u8>,
    ) -> Result<Self, PrefixEntryErrorKind> {
        let max = prefix.max_prefix_len();
        let prefix_len = prefix.prefix_len();
        if prefix.trunc() != prefix {
            return Err(PrefixEntryErrorKind::HostBits { network: prefix.trunc() });
        }
        let (ge, le) = match (ge, le) {
            (None, None) => (prefix_len, prefix_len),
            (Some(ge), None) => (ge, max),
            (None, Some(le)) => (prefix_len, le),
            (Some(ge), Some(le)) => (ge, le),
        };
        if !(prefix_len <= ge && ge <= le && le <= max) {
            return Err(PrefixEntryErrorKind::Range { prefix_len, ge, le, max });
        }
        Ok(Self { prefix, ge, le })
    }

    /// Whether `route` is accepted by this entry (the naive definition the
    /// trie must agree with).
    pub fn matches(&self, route: &IpNet) -> bool {
        let len = route.prefix_len();
        self.ge <= len && len <= self.le && self.prefix.contains(route)
    }
}

impl FromStr for PrefixEntry {
    type Err = PrefixEntryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail =
            |position: usize, kind| PrefixEntryError { text: text.to_string(), position, kind };
        let mut tokens = tokens(text);
        let Some((at, first)) = tokens.next() else {
            return Err(fail(0, PrefixEntryErrorKind::Prefix));
        };
        let prefix: IpNet = first.parse().map_err(|_| fail(at, PrefixEntryErrorKind::Prefix))?;
        let max = prefix.max_prefix_len();
        let mut ge = None;
        let mut le = None;
        while let Some((at, keyword)) = tokens.next() {
            let slot = match keyword {
                "ge" if ge.is_none() && le.is_none() => &mut ge,
                "le" if le.is_none() => &mut le,
                _ => return Err(fail(at, PrefixEntryErrorKind::Keyword)),
            };
            let Some((at, number)) = tokens.next() else {
                return Err(fail(text.len(), PrefixEntryErrorKind::Length { max }));
            };
            let value: u8 = number
                .parse()
                .ok()
                .filter(|value| *value <= max)
                .ok_or_else(|| fail(at, PrefixEntryErrorKind::Length { max }))?;
            *slot = Some(value);
        }
        Self::new(prefix, ge, le).map_err(|kind| fail(at, kind))
    }
}

impl fmt::Display for PrefixEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.prefix.prefix_len();
        write!(f, "{}", self.prefix)?;
        if self.ge == len && self.le == len {
            return Ok(());
        }
        if self.ge != len {
            write!(f, " ge {}", self.ge)?;
        }
        if self.le != self.prefix.max_prefix_len() || self.ge == len {
            write!(f, " le {}", self.le)?;
        }
        Ok(())
    }
}

/// Whitespace-separated tokens with their byte offsets.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_ascii_whitespace()
        .map(move |token| (token.as_ptr() as usize - text.as_ptr() as usize, token))
}

/// Route lengths 0..=128 as a bit mask.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Lengths([u64; 3]);

impl Lengths {
    fn range(ge: u8, le: u8) -> Self {
        let mut mask = Self::default();
        for len in ge..=le {
            mask.0[usize::from(len / 64)] |= 1 << (len % 64);
        }
        mask
    }

    fn union(&mut self, other: Self) {
        for (word, add) in self.0.iter_mut().zip(other.0) {
            *word |= add;
        }
    }

    #[inline]
    fn contains(&self, len: u8) -> bool {
        self.0[usize::from(len / 64)] & (1 << (len % 64)) != 0
    }
}

const NONE: u32 = u32::MAX;

/// A node of the path-compressed trie: the prefix it stands for, its
/// children by the next bit after it, and the lengths entries ending here accept.
#[derive(Clone, Debug)]
struct Node {
    /// Left-aligned prefix bits, zero past `len`.
    bits: u128,
    len: u8,
    /// Index in `Trie::lengths`, or `NONE` for a pure branch point.
    lengths: u32,
    children: [u32; 2],
}

/// A path-compressed binary trie (PATRICIA) over left-aligned prefix bits (an
/// IPv4 address sits in the top 32 bits of the `u128`). Nodes exist only where
/// an entry ends or two entries part, so a lookup visits about log2(entries)
/// nodes instead of one per bit.
#[derive(Clone, Debug)]
struct Trie {
    nodes: Vec<Node>,
    lengths: Vec<Lengths>,
}

impl Default for Trie {
    fn default() -> Self {
        Self {
            nodes: vec![Node { bits: 0, len: 0, lengths: NONE, children: [NONE; 2] }],
            lengths: Vec::new(),
        }
    }
}

/// Bit `depth` (0 = most significant) of `bits`; `depth` < 128.
#[inline]
fn bit(bits: u128, depth: u8) -> usize {
    ((bits >> (127 - u32::from(depth))) & 1) as usize
}

/// The first `len` bits set.
#[inline]
fn mask(len: u8) -> u128 {
    if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) }
}

impl Trie {
    fn push(&mut self, bits: u128, len: u8, lengths: Option<Lengths>) -> u32 {
        let lengths = match lengths {
            Some(mask) => {
                self.lengths.push(mask);
                (self.lengths.len() - 1) as u32
            }
            None => NONE,
        };
        self.nodes.push(Node { bits, len, lengths, children: [NONE; 2] });
        (self.nodes.len() - 1) as u32
    }

    fn insert(&mut self, bits: u128, len: u8, lengths: Lengths) {
        let bits = bits & mask(len);
        // Invariant: `node`'s prefix is a prefix of (bits, len).
        let mut node = 0usize;
        loop {
            if self.nodes[node].len == len {
                match self.nodes[node].lengths {
                    NONE => {
                        self.lengths.push(lengths);
                        self.nodes[node].lengths = (self.lengths.len() - 1) as u32;
                    }
                    index => self.lengths[index as usize].union(lengths),
                }
                return;
            }
            let side = bit(bits, self.nodes[node].len);
            let child = self.nodes[node].children[side];
            if child == NONE {
                let leaf = self.push(bits, len, Some(lengths));
                self.nodes[node].children[side] = leaf;
                return;
            }
            let (child_bits, child_len) = {
                let c = &self.nodes[child as usize];
                (c.bits, c.len)
            };
            let common = ((bits ^ child_bits).leading_zeros() as u8).min(len).min(child_len);
            if common == child_len {
                node = child as usize;
                continue;
            }
            // The new prefix and the child part at `common`: put a node there.
            let parent = if common == len {
                self.push(bits, len, Some(lengths))
            } else {
                let branch = self.push(bits & mask(common), common, None);
                let leaf = self.push(bits, len, Some(lengths));
                self.nodes[branch as usize].children[bit(bits, common)] = leaf;
                branch
            };
            self.nodes[parent as usize].children[bit(child_bits, common)] = child;
            self.nodes[node].children[side] = parent;
            return;
        }
    }

    #[inline]
    fn matches(&self, bits: u128, len: u8) -> bool {
        let mut here = &self.nodes[0];
        loop {
            if here.lengths != NONE && self.lengths[here.lengths as usize].contains(len) {
                return true;
            }
            if here.len >= len {
                return false;
            }
            let child = here.children[bit(bits, here.len)];
            if child == NONE {
                return false;
            }
            here = &self.nodes[child as usize];
            if here.len > len || (bits ^ here.bits) & mask(here.len) != 0 {
                return false;
            }
        }
    }
}

/// A route's address as the matchers and [`Region`]s compare it: left-aligned.
pub(super) fn key(prefix: &IpNet) -> u128 {
    match prefix.network() {
        IpAddr::V4(address) => u128::from(u32::from(address)) << 96,
        IpAddr::V6(address) => u128::from(address),
    }
}

/// How many intervals per entry (and per family) a flat matcher may hold
/// before the family falls back to the trie: bounds the flat form's memory
/// at this many intervals (2 x 4 octets for IPv4, 2 x 16 for IPv6) per entry.
pub const FLAT_FACTOR: usize = 8;

/// Disjoint, sorted address intervals (left-aligned keys: an IPv4 address
/// in the top 32 bits).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Intervals {
    starts: Vec<u128>,
    ends: Vec<u128>,
}

impl Intervals {
    #[inline]
    fn contains(&self, address: u128) -> bool {
        let index = self.ends.partition_point(|end| *end < address);
        self.starts.get(index).is_some_and(|start| *start <= address)
    }

    /// Whether `address` is in an interval, and the widest range of addresses
    /// around it with the same answer (its interval, or the gap it falls in).
    #[inline]
    fn region(&self, address: u128) -> Region {
        let index = self.ends.partition_point(|end| *end < address);
        match self.starts.get(index) {
            Some(&start) if start <= address => {
                Region { low: start, high: self.ends[index], matches: true }
            }
            next => Region {
                low: index.checked_sub(1).map_or(0, |i| self.ends[i] + 1),
                high: next.map_or(u128::MAX, |start| start - 1),
                matches: false,
            },
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

/// The flat form of one family: per route length, an index into `lists`.
#[derive(Clone, Debug, Default)]
struct Flat {
    by_length: Vec<u32>,
    lists: Vec<Intervals>,
}

impl Flat {
    /// The flat form of `entries` (one family, route lengths up to `max`),
    /// or `None` when it would hold more than `FLAT_FACTOR` intervals per
    /// entry.
    fn build(entries: &[PrefixEntry], max: u8) -> Option<Self> {
        let mut ranges: Vec<(u128, u128, u8, u8)> = entries
            .iter()
            .map(|e| {
                let start = key(&e.prefix);
                // Every bit past the entry's length, the unused low bits of
                // an IPv4 key included: adjacent entries then merge.
                (start, start | !mask(e.prefix.prefix_len()), e.ge, e.le)
            })
            .collect();
        ranges.sort_unstable();
        let budget = FLAT_FACTOR * entries.len().max(1);
        let mut flat = Flat::default();
        let mut held = 0;
        for len in 0..=max {
            let mut list = Intervals::default();
            for &(start, end, _, _) in ranges.iter().filter(|r| r.2 <= len && len <= r.3) {
                match list.ends.last_mut() {
                    // Sorted by start: overlapping or adjacent to the last one.
                    Some(last) if *last == u128::MAX || start <= *last + 1 => {
                        *last = (*last).max(end);
                    }
                    _ => {
                        list.starts.push(start);
                        list.ends.push(end);
                    }
                }
            }
            if flat.lists.last() != Some(&list) {
                held += list.len();
                if held > budget {
                    return None;
                }
                list.starts.shrink_to_fit();
                list.ends.shrink_to_fit();
                flat.lists.push(list);
            }
            flat.by_length.push((flat.lists.len() - 1) as u32);
        }
        Some(flat)
    }

    #[inline]
    fn matches(&self, address: u128, len: u8) -> bool {
        self.by_length
            .get(usize::from(len))
            .and_then(|index| self.lists.get(*index as usize))
            .is_some_and(|list| list.contains(address))
    }

    #[inline]
    fn region(&self, address: u128, len: u8) -> Region {
        self.by_length
            .get(usize::from(len))
            .and_then(|index| self.lists.get(*index as usize))
            .map_or(Region { low: 0, high: u128::MAX, matches: false }, |list| list.region(address))
    }
}

/// A range of route addresses (left-aligned keys, one route length) over which
/// a prefix set's answer is the same: what lets [`PrefixCursor`] answer the
/// next, nearby prefix without a search.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct Region {
    pub(super) low: u128,
    pub(super) high: u128,
    pub(super) matches: bool,
}

/// One family's matcher: flat when that stays within its bound, else the trie.
#[derive(Clone, Debug)]
enum Matcher {
    Flat(Flat),
    Trie(Trie),
}

impl Default for Matcher {
    fn default() -> Self {
        Self::Flat(Flat::default())
    }
}

impl Matcher {
    fn build(entries: &[PrefixEntry], max: u8) -> Self {
        match Flat::build(entries, max) {
            Some(flat) => Self::Flat(flat),
            None => Self::trie(entries),
        }
    }

    fn trie(entries: &[PrefixEntry]) -> Self {
        let mut trie = Trie::default();
        for entry in entries {
            trie.insert(
                key(&entry.prefix),
                entry.prefix.prefix_len(),
                Lengths::range(entry.ge, entry.le),
            );
        }
        Self::Trie(trie)
    }

    #[inline]
    fn matches(&self, address: u128, len: u8) -> bool {
        match self {
            Self::Flat(flat) => flat.matches(address, len),
            Self::Trie(trie) => trie.matches(address, len),
        }
    }

    /// The trie gives no region: its answer holds for this address only.
    #[inline]
    fn region(&self, address: u128, len: u8) -> Region {
        match self {
            Self::Flat(flat) => flat.region(address, len),
            Self::Trie(trie) => {
                Region { low: address, high: address, matches: trie.matches(address, len) }
            }
        }
    }
}

/// How many prefix sets a [`PrefixCursor`] remembers at once.
pub const CURSOR_SETS: usize = 8;

/// The last answer of up to [`CURSOR_SETS`] prefix sets with the region it
/// holds for (see [`PrefixSet::matches_near`]). Keep one for a run of routes
/// (an UPDATE's NLRI, an export batch) and drop it with the run: it refers to
/// sets by address, so it must not outlive a change of the policy book.
#[derive(Clone, Debug, Default)]
pub struct PrefixCursor {
    entries: [CursorEntry; CURSOR_SETS],
    next: usize,
    /// [`CompiledChain::select_near`](super::CompiledChain::select_near)'s
    /// last [`SELECTIONS`] selections and the addresses each holds for,
    /// replaced in turn.
    pub(super) last: [Option<LastSelection>; SELECTIONS],
    pub(super) next_last: usize,
}

/// How many selections a [`PrefixCursor`] remembers: routes that do not come
/// in address order (a table in its arrival order, a peer that walks its
/// table otherwise) often alternate between a few regions, inside a set or
/// not (the propagation bench's feed does: one remembered selection left the
/// per-prefix step at 15 % of bgpd's CPU samples, four at 2 %).
pub const SELECTIONS: usize = 4;

#[derive(Copy, Clone, Debug)]
struct CursorEntry {
    /// The set's address; 0 for an unused entry.
    set: usize,
    v6: bool,
    len: u8,
    region: Region,
}

impl Default for CursorEntry {
    fn default() -> Self {
        Self { set: 0, v6: false, len: 0, region: Region { low: 1, high: 0, matches: false } }
    }
}

/// A compiled prefix set: both families, any number of entries.
#[derive(Clone, Debug, Default)]
pub struct PrefixSet {
    entries: Vec<PrefixEntry>,
    v4: Matcher,
    v6: Matcher,
}

impl PrefixSet {
    pub fn new(entries: impl IntoIterator<Item = PrefixEntry>) -> Self {
        let entries: Vec<PrefixEntry> = entries.into_iter().collect();
        let (v4, v6): (Vec<PrefixEntry>, Vec<PrefixEntry>) =
            entries.iter().partition(|e| matches!(e.prefix, IpNet::V4(_)));
        Self { v4: Matcher::build(&v4, 32), v6: Matcher::build(&v6, 128), entries }
    }

    /// Whether any entry accepts `route` (of its own family). A route with host
    /// bits set is looked up by its network.
    #[inline]
    pub fn matches(&self, route: &IpNet) -> bool {
        let matcher = match route {
            IpNet::V4(_) => &self.v4,
            IpNet::V6(_) => &self.v6,
        };
        matcher.matches(key(route), route.prefix_len())
    }

    /// [`PrefixSet::matches`], answered from `cursor` when its last answer for
    /// this set covers `route` (same family and length, address within the
    /// region where the answer does not change). Tables and UPDATEs list
    /// prefixes in address order, so consecutive routes mostly fall in the same
    /// region: one search per region instead of one per route.
    #[inline]
    pub fn matches_near(&self, route: &IpNet, cursor: &mut PrefixCursor) -> bool {
        self.region_near(route, cursor).matches
    }

    /// [`PrefixSet::matches_near`] with the region its answer holds for.
    #[inline]
    pub(super) fn region_near(&self, route: &IpNet, cursor: &mut PrefixCursor) -> Region {
        let (matcher, v6) = match route {
            IpNet::V4(_) => (&self.v4, false),
            IpNet::V6(_) => (&self.v6, true),
        };
        let address = key(route);
        let len = route.prefix_len();
        let id = std::ptr::from_ref(self) as usize;
        let slot = match cursor.entries.iter().position(|e| e.set == id) {
            Some(slot) => {
                let e = &cursor.entries[slot];
                if e.v6 == v6 && e.len == len && e.region.low <= address && address <= e.region.high
                {
                    return e.region;
                }
                slot
            }
            None => {
                let slot = cursor.next;
                cursor.next = (cursor.next + 1) % CURSOR_SETS;
                slot
            }
        };
        let region = matcher.region(address, len);
        cursor.entries[slot] = CursorEntry { set: id, v6, len, region };
        region
    }

    /// Whether any entry accepts the host route of `address` (for next-hop matching).
    pub fn matches_address(&self, address: IpAddr) -> bool {
        self.matches(&IpNet::from(address))
    }

    /// The entries, in definition order (for listing through the API).
    pub fn entries(&self) -> &[PrefixEntry] {
        &self.entries
    }

    /// Whether each family uses the flat form (IPv4, IPv6), for tests.
    #[cfg(test)]
    fn flat(&self) -> (bool, bool) {
        (matches!(self.v4, Matcher::Flat(_)), matches!(self.v6, Matcher::Flat(_)))
    }

    /// The same set with both families in the trie form, for tests.
    #[cfg(test)]
    fn with_tries(&self) -> Self {
        let (v4, v6): (Vec<PrefixEntry>, Vec<PrefixEntry>) =
            self.entries.iter().partition(|e| matches!(e.prefix, IpNet::V4(_)));
        Self { entries: self.entries.clone(), v4: Matcher::trie(&v4), v6: Matcher::trie(&v6) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    fn set(entries: &[&str]) -> PrefixSet {
        PrefixSet::new(entries.iter().map(|e| e.parse::<PrefixEntry>().unwrap()))
    }

    #[test]
    fn parses_the_issue_forms_and_defaults() {
        let e: PrefixEntry = "198.51.100.0/24 le 32".parse().unwrap();
        assert_eq!((e.ge, e.le), (24, 32));
        let e: PrefixEntry = "2001:db8::/32 ge 48 le 128".parse().unwrap();
        assert_eq!((e.ge, e.le), (48, 128));
        let e: PrefixEntry = "10.0.0.0/8".parse().unwrap();
        assert_eq!((e.ge, e.le), (8, 8));
        let e: PrefixEntry = "10.0.0.0/8 ge 16".parse().unwrap();
        assert_eq!((e.ge, e.le), (16, 32));
        let e: PrefixEntry = "0.0.0.0/0 le 32".parse().unwrap();
        assert_eq!((e.ge, e.le), (0, 32));
        let e: PrefixEntry = "::/0 ge 128".parse().unwrap();
        assert_eq!((e.ge, e.le), (128, 128));
        for text in ["10.0.0.0/8", "10.0.0.0/8 ge 16", "10.0.0.0/8 le 24", "10.0.0.0/8 ge 16 le 24"]
        {
            assert_eq!(text.parse::<PrefixEntry>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn reports_the_bad_token_and_its_position() {
        let cases: [(&str, usize, PrefixEntryErrorKind); 9] = [
            ("", 0, PrefixEntryErrorKind::Prefix),
            ("10.0.0/8", 0, PrefixEntryErrorKind::Prefix),
            ("10.0.0.1/8", 0, PrefixEntryErrorKind::HostBits { network: net("10.0.0.0/8") }),
            ("10.0.0.0/8 gt 9", 11, PrefixEntryErrorKind::Keyword),
            ("10.0.0.0/8 le 24 ge 16", 17, PrefixEntryErrorKind::Keyword),
            ("10.0.0.0/8 le 33", 14, PrefixEntryErrorKind::Length { max: 32 }),
            ("10.0.0.0/8 le", 13, PrefixEntryErrorKind::Length { max: 32 }),
            (
                "10.0.0.0/16 le 8",
                0,
                PrefixEntryErrorKind::Range { prefix_len: 16, ge: 16, le: 8, max: 32 },
            ),
            (
                "2001:db8::/32 ge 64 le 48",
                0,
                PrefixEntryErrorKind::Range { prefix_len: 32, ge: 64, le: 48, max: 128 },
            ),
        ];
        for (text, position, kind) in cases {
            let error = text.parse::<PrefixEntry>().unwrap_err();
            assert_eq!(
                error,
                PrefixEntryError { text: text.to_string(), position, kind },
                "{text}"
            );
        }
        assert!("2001:db8::/32 le 129".parse::<PrefixEntry>().is_err());
        assert!("2001:db8::/32 le 128".parse::<PrefixEntry>().is_ok());
    }

    #[test]
    fn ranges_match_at_their_edges_in_both_families() {
        let s =
            set(&["198.51.100.0/24 le 32", "10.0.0.0/8 ge 16 le 24", "2001:db8::/32 ge 48 le 128"]);
        assert!(s.matches(&net("198.51.100.0/24")));
        assert!(s.matches(&net("198.51.100.7/32")));
        assert!(!s.matches(&net("198.51.0.0/16")));
        assert!(!s.matches(&net("198.51.101.0/24")));
        assert!(!s.matches(&net("10.0.0.0/8")));
        assert!(!s.matches(&net("10.1.0.0/15")));
        assert!(s.matches(&net("10.1.0.0/16")));
        assert!(s.matches(&net("10.1.2.0/24")));
        assert!(!s.matches(&net("10.1.2.0/25")));
        assert!(!s.matches(&net("2001:db8::/32")));
        assert!(!s.matches(&net("2001:db8::/47")));
        assert!(s.matches(&net("2001:db8::/48")));
        assert!(s.matches(&net("2001:db8::1/128")));
        assert!(!s.matches(&net("2001:db9::/48")));
        // Families never cross: ::/0-ish IPv6 entries do not match IPv4 routes.
        let v6_default = set(&["::/0 le 128"]);
        assert!(!v6_default.matches(&net("10.0.0.0/8")));
        assert!(v6_default.matches(&net("::/0")));
        let v4_default = set(&["0.0.0.0/0"]);
        assert!(v4_default.matches(&net("0.0.0.0/0")));
        assert!(!v4_default.matches(&net("0.0.0.0/1")));
        assert!(set(&["0.0.0.0/0 le 32"]).matches(&net("255.255.255.255/32")));
        assert!(set(&["255.255.255.255/32"]).matches_address("255.255.255.255".parse().unwrap()));
        assert!(set(&["::/0 ge 128"]).matches_address("::1".parse().unwrap()));
        assert!(!PrefixSet::default().matches(&net("10.0.0.0/8")));
    }

    #[test]
    fn adjacent_entries_merge_into_one_interval_per_length() {
        let entries: Vec<String> =
            (0..1_000u32).map(|i| format!("10.{}.{}.0/24 le 32", i / 256, i % 256)).collect();
        let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
        let s = set(&refs);
        assert_eq!(s.flat(), (true, true));
        let Matcher::Flat(flat) = &s.v4 else { unreachable!() };
        // Lengths 0..=23 share the empty list, 24..=32 the one merged interval.
        assert_eq!(flat.lists.len(), 2);
        assert_eq!(flat.lists[1].len(), 1);
        assert!(s.matches(&net("10.0.0.0/24")));
        assert!(s.matches(&net("10.3.231.255/32")));
        assert!(!s.matches(&net("10.3.232.0/32")));
        assert!(!s.matches(&net("10.0.0.0/23")));
        assert!(!s.matches(&net("9.255.255.255/32")));
    }

    #[test]
    fn a_set_past_the_flat_bound_falls_back_to_the_trie_and_agrees() {
        // Disjoint /48s, each accepting lengths from a different `ge` on:
        // each length 48..=128 gets its own list, 40 intervals per entry.
        let entries: Vec<PrefixEntry> = (0..200u32)
            .map(|i| {
                let prefix: IpNet = format!("2001:db8:{:x}::/48", i * 2).parse().unwrap();
                PrefixEntry::new(prefix, Some(48 + (i % 81) as u8), Some(128)).unwrap()
            })
            .collect();
        let mut mixed = entries.clone();
        mixed.push("2001:db8::/32 ge 40 le 128".parse().unwrap());
        for entries in [entries.clone(), mixed] {
            let s = PrefixSet::new(entries.iter().copied());
            for (i, entry) in entries.iter().enumerate() {
                let route = IpNet::new(entry.prefix.network(), entry.ge).unwrap();
                let naive = entries.iter().any(|e| e.matches(&route));
                assert!(naive && s.matches(&route), "entry {i} {entry}");
                let longer = IpNet::new(entry.prefix.network(), entry.le.min(127) + 1).unwrap();
                assert_eq!(s.matches(&longer), entries.iter().any(|e| e.matches(&longer)));
            }
        }
        let wide = PrefixSet::new(entries.iter().copied());
        assert_eq!(wide.flat(), (true, false), "over the bound: the trie");
    }

    fn arb_entry() -> impl Strategy<Value = PrefixEntry> {
        let v4 =
            (0u32..4, any::<u32>(), 0u8..=32, 0u8..=32, 0u8..=32).prop_map(|(h, a, len, x, y)| {
                let address = (h << 30) | (a >> 2);
                let prefix = IpNet::V4(ipnet::Ipv4Net::new(address.into(), len).unwrap().trunc());
                (prefix, x, y)
            });
        let v6 = (0u128..4, any::<u128>(), 0u8..=128, 0u8..=128, 0u8..=128).prop_map(
            |(h, a, len, x, y)| {
                let address = (h << 126) | (a >> 2);
                let prefix = IpNet::V6(ipnet::Ipv6Net::new(address.into(), len).unwrap().trunc());
                (prefix, x, y)
            },
        );
        prop_oneof![v4, v6].prop_map(|(prefix, x, y)| {
            let len = prefix.prefix_len();
            let (ge, le) = (x.max(len).min(y.max(len)), x.max(len).max(y.max(len)));
            PrefixEntry::new(prefix, Some(ge), Some(le)).unwrap()
        })
    }

    fn arb_route() -> impl Strategy<Value = IpNet> {
        // Few distinct high bits so that routes often fall inside entries.
        prop_oneof![
            (0u32..4, any::<u32>(), 0u8..=32).prop_map(|(high, low, len)| {
                IpNet::V4(
                    ipnet::Ipv4Net::new(((high << 30) | (low >> 2)).into(), len).unwrap().trunc(),
                )
            }),
            (0u128..4, any::<u128>(), 0u8..=128).prop_map(|(high, low, len)| {
                IpNet::V6(
                    ipnet::Ipv6Net::new(((high << 126) | (low >> 2)).into(), len).unwrap().trunc(),
                )
            }),
        ]
    }

    proptest! {
        #[test]
        fn trie_agrees_with_a_linear_scan(
            entries in proptest::collection::vec(arb_entry(), 0..40),
            routes in proptest::collection::vec(arb_route(), 1..40),
        ) {
            let set = PrefixSet::new(entries.iter().copied());
            let tries = set.with_tries();
            for route in routes.iter().chain(entries.iter().map(|e| &e.prefix)) {
                let naive = entries.iter().any(|e| e.matches(route));
                prop_assert_eq!(set.matches(route), naive, "route {}", route);
                prop_assert_eq!(tries.matches(route), naive, "trie, route {}", route);
            }
        }

        /// One cursor kept across routes in any order (sorted, as NLRI mostly
        /// are, and as given), shared by two sets (flat and trie forms) and
        /// more sets than it has entries, answers as a fresh search does.
        #[test]
        fn a_cursor_kept_across_routes_answers_as_a_search(
            entries in proptest::collection::vec(arb_entry(), 0..40),
            others in proptest::collection::vec(arb_entry(), 0..10),
            mut routes in proptest::collection::vec(arb_route(), 1..60),
            sorted in proptest::bool::ANY,
        ) {
            let sets: Vec<PrefixSet> = (0..CURSOR_SETS + 2)
                .map(|i| match i % 3 {
                    0 => PrefixSet::new(entries.iter().copied()),
                    1 => PrefixSet::new(entries.iter().copied()).with_tries(),
                    _ => PrefixSet::new(others.iter().copied()),
                })
                .collect();
            if sorted {
                routes.sort_by_key(|r| (r.prefix_len(), key(r)));
            }
            let mut cursor = PrefixCursor::default();
            for route in &routes {
                for (i, set) in sets.iter().enumerate() {
                    prop_assert_eq!(
                        set.matches_near(route, &mut cursor),
                        set.matches(route),
                        "set {}, route {}", i, route
                    );
                }
            }
        }
    }

    #[test]
    fn a_cursor_answers_neighbouring_routes_from_one_region() {
        let set = PrefixSet::new(["10.0.0.0/16 le 32".parse::<PrefixEntry>().unwrap()]);
        let mut cursor = PrefixCursor::default();
        for (route, inside) in [
            ("10.0.1.0/24", true),
            ("10.0.2.0/24", true),
            ("10.1.0.0/24", false),
            ("9.255.255.0/24", false),
            ("10.0.255.0/24", true),
            ("10.0.0.0/8", false),
            ("10.0.0.1/32", true),
        ] {
            let route: IpNet = route.parse().unwrap();
            assert_eq!(set.matches_near(&route, &mut cursor), inside, "{route}");
        }
    }
}
