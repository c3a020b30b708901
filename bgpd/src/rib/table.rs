//! One address family's prefix table: the Adj-RIBs-In and the Loc-RIB of RFC 4271
//! §3.2 held in one structure, because they are keyed alike and almost every
//! prefix has exactly one path.
//!
//! Layout, chosen for memory (1 M IPv4 prefixes = 12 MB of entries):
//! - `entries`: a `Vec` of fixed-size [`Entry`] records addressed by a *slot*
//!   (`u32`). Slots are stable while a prefix lives, so per-peer export state can
//!   be plain bitsets indexed by slot (see `adj_out`).
//! - `index`: a hashbrown `HashTable<u32>` of slots, hashed by prefix. Each bucket
//!   costs 5 bytes (slot + control byte) rather than key + value, which matters
//!   at the unlucky sizes where power-of-two growth leaves the table half empty.
//! - each entry holds its single path inline (8 bytes, the prefix length
//!   tucked into its padding); prefixes with several
//!   paths point into `multi`, a slab of small vectors whose first element is
//!   always the best path. No per-prefix allocation in the common case.

use std::fmt::Debug;
use std::hash::{BuildHasher, Hash};
use std::net::{Ipv4Addr, Ipv6Addr};

use hashbrown::HashTable;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rustc_hash::FxBuildHasher;

use super::intern::AttrId;
use crate::wire::Family;

/// Internal index of a route source (peer or local origin), see `Sources`.
pub(crate) type SourceIndex = u16;

/// Path flag: the route survived a session loss and awaits refresh (RFC 4724 §4.2).
pub(crate) const FLAG_STALE: u8 = 1;

/// Sentinel sources that give an entry's inline cell a meaning other than "one path".
const CELL_FREE: SourceIndex = u16::MAX;
const CELL_MULTI: SourceIndex = u16::MAX - 1;
const CELL_EMPTY: SourceIndex = u16::MAX - 2;
/// The largest source index a real path can carry.
pub(crate) const MAX_SOURCE: SourceIndex = u16::MAX - 3;

/// One route of one prefix: who sent it and which interned attribute set it has.
///
/// `prefix_len` fills what would be padding: when the path sits inline in an
/// entry it holds that entry's prefix length, which keeps an IPv4 entry at 12
/// bytes. It is not part of the path's identity (not compared).
#[derive(Copy, Clone, Debug)]
pub(crate) struct Path {
    pub attrs: AttrId,
    pub source: SourceIndex,
    pub flags: u8,
    prefix_len: u8,
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.attrs == other.attrs && self.source == other.source && self.flags == other.flags
    }
}

impl Eq for Path {}

impl Path {
    pub fn new(source: SourceIndex, attrs: AttrId) -> Self {
        Self { attrs, source, flags: 0, prefix_len: 0 }
    }

    pub fn is_stale(&self) -> bool {
        self.flags & FLAG_STALE != 0
    }

    /// Same route for export purposes (the stale flag does not change what we send).
    pub fn same_route(&self, other: &Path) -> bool {
        self.source == other.source && self.attrs == other.attrs
    }

    const fn sentinel(kind: SourceIndex, value: u32) -> Self {
        Self { attrs: AttrId(value), source: kind, flags: 0, prefix_len: 0 }
    }
}

/// A prefix in the compact form a table is keyed by.
pub(crate) trait PrefixKey: Copy + Eq + Hash + Debug {
    /// The address part, stored apart from the length in an entry.
    type Addr: Copy + Eq + Debug;
    const FAMILY: Family;
    fn split(self) -> (Self::Addr, u8);
    fn join(addr: Self::Addr, len: u8) -> Self;
    /// `None` when `net` belongs to the other family (the RIB itself picks the
    /// family first, in `dispatch`, and uses the inherent `of`).
    #[cfg(test)]
    fn from_net(net: &IpNet) -> Option<Self>;
    fn to_net(self) -> IpNet;
}

/// An IPv4 prefix: address with host bits cleared, and length.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Prefix4 {
    addr: u32,
    len: u8,
}

impl Prefix4 {
    /// The key of `net`, host bits cleared.
    pub(crate) fn of(net: &Ipv4Net) -> Self {
        let len = net.prefix_len();
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
        Self { addr: u32::from(net.addr()) & mask, len }
    }
}

impl PrefixKey for Prefix4 {
    type Addr = u32;
    const FAMILY: Family = Family::Ipv4Unicast;

    fn split(self) -> (u32, u8) {
        (self.addr, self.len)
    }

    fn join(addr: u32, len: u8) -> Self {
        Self { addr, len }
    }

    #[cfg(test)]
    fn from_net(net: &IpNet) -> Option<Self> {
        match net {
            IpNet::V4(net) => Some(Self::of(net)),
            IpNet::V6(_) => None,
        }
    }

    fn to_net(self) -> IpNet {
        // The length came from a valid `Ipv4Net`, so this cannot fail; fall back
        // to a host route rather than panic.
        let addr = Ipv4Addr::from(self.addr);
        IpNet::V4(Ipv4Net::new(addr, self.len).unwrap_or_else(|_| Ipv4Net::from(addr)))
    }
}

/// An IPv6 prefix: address with host bits cleared (as four words, to keep the
/// entry 4-aligned and small), and length.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Prefix6 {
    addr: [u32; 4],
    len: u8,
}

impl Prefix6 {
    /// The key of `net`, host bits cleared.
    pub(crate) fn of(net: &Ipv6Net) -> Self {
        let len = net.prefix_len();
        let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
        let bits = u128::from(net.addr()) & mask;
        let addr = [(bits >> 96) as u32, (bits >> 64) as u32, (bits >> 32) as u32, bits as u32];
        Self { addr, len }
    }
}

impl PrefixKey for Prefix6 {
    type Addr = [u32; 4];
    const FAMILY: Family = Family::Ipv6Unicast;

    fn split(self) -> ([u32; 4], u8) {
        (self.addr, self.len)
    }

    fn join(addr: [u32; 4], len: u8) -> Self {
        Self { addr, len }
    }

    #[cfg(test)]
    fn from_net(net: &IpNet) -> Option<Self> {
        match net {
            IpNet::V6(net) => Some(Self::of(net)),
            IpNet::V4(_) => None,
        }
    }

    fn to_net(self) -> IpNet {
        let [a, b, c, d] = self.addr.map(u128::from);
        let addr = Ipv6Addr::from((a << 96) | (b << 64) | (c << 32) | d);
        IpNet::V6(Ipv6Net::new(addr, self.len).unwrap_or_else(|_| Ipv6Net::from(addr)))
    }
}

/// One slot of the table: the prefix address, and `cell`, which is either the
/// only path or a sentinel (free slot; empty: no path left but a peer still has
/// to be sent the withdrawal; index into `multi`). The prefix length lives in
/// `cell.prefix_len`.
#[derive(Clone, Debug)]
struct Entry<A> {
    addr: A,
    cell: Path,
}

impl<A: Copy> Entry<A> {
    fn prefix<P: PrefixKey<Addr = A>>(&self) -> P {
        P::join(self.addr, self.cell.prefix_len)
    }

    fn is<P: PrefixKey<Addr = A>>(&self, prefix: P) -> bool
    where
        A: PartialEq,
    {
        let (addr, len) = prefix.split();
        self.addr == addr && self.cell.prefix_len == len
    }

    /// Store `path` inline (or a sentinel), keeping the prefix length.
    fn set(&mut self, mut path: Path) {
        path.prefix_len = self.cell.prefix_len;
        self.cell = path;
    }
}

/// What an insertion or removal did to a prefix's best path.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Change {
    /// The path of the same source that this one replaced, or the removed path.
    pub displaced: Option<Path>,
    pub old_best: Option<Path>,
    pub new_best: Option<Path>,
}

impl Change {
    /// Whether the best route (ignoring the stale flag) changed.
    pub fn best_changed(&self) -> bool {
        match (self.old_best, self.new_best) {
            (None, None) => false,
            (Some(a), Some(b)) => !a.same_route(&b),
            _ => true,
        }
    }
}

/// A prefix table for one family. See the module documentation.
#[derive(Debug)]
pub(crate) struct Table<P: PrefixKey> {
    entries: Vec<Entry<P::Addr>>,
    index: HashTable<u32>,
    free: Vec<u32>,
    multi: Vec<Vec<Path>>,
    multi_free: Vec<u32>,
    /// Heap bytes of the lists in `multi` (their capacities), kept as they
    /// change so `heap_bytes` (read on every metrics scrape) does not walk
    /// every prefix with several paths.
    multi_bytes: usize,
    /// Prefixes with at least one path.
    live: usize,
    /// Paths over all prefixes.
    paths: usize,
}

fn hash_of<P: Hash>(prefix: &P) -> u64 {
    FxBuildHasher.hash_one(prefix)
}

impl<P: PrefixKey> Default for Table<P> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            index: HashTable::new(),
            free: Vec::new(),
            multi: Vec::new(),
            multi_free: Vec::new(),
            multi_bytes: 0,
            live: 0,
            paths: 0,
        }
    }
}

impl<P: PrefixKey> Table<P> {
    /// Prefixes with at least one path (the Loc-RIB size).
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn path_count(&self) -> usize {
        self.paths
    }

    /// One past the highest slot ever used: bitsets indexed by slot fit in this.
    pub fn slot_bound(&self) -> u32 {
        self.entries.len() as u32
    }

    pub fn find(&self, prefix: P) -> Option<u32> {
        let entries = &self.entries;
        self.index.find(hash_of(&prefix), |&slot| entries[slot as usize].is(prefix)).copied()
    }

    /// The slot of `prefix`, created empty if it is not in the table.
    pub fn find_or_insert(&mut self, prefix: P) -> u32 {
        let hash = hash_of(&prefix);
        let entries = &self.entries;
        if let Some(&slot) = self.index.find(hash, |&slot| entries[slot as usize].is(prefix)) {
            return slot;
        }
        if self.index.len() == self.index.capacity() {
            self.grow_index();
        }
        let (addr, prefix_len) = prefix.split();
        let entry = Entry { addr, cell: Path { prefix_len, ..Path::sentinel(CELL_EMPTY, 0) } };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.entries[slot as usize] = entry;
                slot
            }
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1) as u32
            }
        };
        let entries = &self.entries;
        self.index.insert_unique(hash, slot, |&s| hash_of(&entries[s as usize].prefix::<P>()));
        slot
    }

    /// Doubles the index by rebuilding it from the entries in slot order,
    /// before it is full. Growing in place (hashbrown's `reserve_rehash`)
    /// walks the old buckets and reads each slot's entry to rehash its
    /// prefix: a cache miss per prefix into 12 MB of entries on a full
    /// table, on top of the one writing the new bucket. Walking the entries
    /// in order reads them sequentially. Every entry not free is indexed
    /// (`find_or_insert` indexes an empty one, `release` frees it), so the
    /// new index holds the same slots. Both indexes exist while it runs, as
    /// in a growth in place.
    fn grow_index(&mut self) {
        let entries = &self.entries;
        let rehash = |&s: &u32| hash_of(&entries[s as usize].prefix::<P>());
        let mut index = HashTable::with_capacity(self.index.capacity() + 1);
        for (slot, entry) in entries.iter().enumerate() {
            if entry.cell.source != CELL_FREE {
                index.insert_unique(hash_of(&entry.prefix::<P>()), slot as u32, rehash);
            }
        }
        self.index = index;
    }

    /// Forget an empty slot: nobody needs its prefix any more.
    pub fn release(&mut self, slot: u32) {
        let Some(entry) = self.entries.get(slot as usize) else { return };
        if entry.cell.source != CELL_EMPTY {
            return;
        }
        let hash = hash_of(&entry.prefix::<P>());
        if let Ok(found) = self.index.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        self.entries[slot as usize].set(Path::sentinel(CELL_FREE, 0));
        self.free.push(slot);
    }

    pub fn prefix(&self, slot: u32) -> P {
        self.entries[slot as usize].prefix()
    }

    /// Whether the slot holds a prefix with at least one path.
    pub fn is_live(&self, slot: u32) -> bool {
        self.entries
            .get(slot as usize)
            .is_some_and(|e| !matches!(e.cell.source, CELL_FREE | CELL_EMPTY))
    }

    /// Whether the slot holds a prefix with no path left (awaiting withdrawals).
    pub fn is_empty_slot(&self, slot: u32) -> bool {
        self.entries.get(slot as usize).is_some_and(|e| e.cell.source == CELL_EMPTY)
    }

    /// The paths of a slot, best first.
    pub fn paths(&self, slot: u32) -> &[Path] {
        let Some(entry) = self.entries.get(slot as usize) else { return &[] };
        match entry.cell.source {
            CELL_FREE | CELL_EMPTY => &[],
            CELL_MULTI => &self.multi[entry.cell.attrs.0 as usize],
            _ => std::slice::from_ref(&entry.cell),
        }
    }

    pub fn best(&self, slot: u32) -> Option<Path> {
        self.paths(slot).first().copied()
    }

    /// Add `path` to `slot`, replacing the path of the same source if there is one.
    /// `better(a, b)` tells whether `a` is preferred over `b`.
    pub fn upsert(
        &mut self,
        slot: u32,
        path: Path,
        better: impl Fn(&Path, &Path) -> bool,
    ) -> Change {
        let cell = self.entries[slot as usize].cell;
        match cell.source {
            CELL_FREE | CELL_EMPTY => {
                self.entries[slot as usize].set(path);
                self.live += 1;
                self.paths += 1;
                Change { displaced: None, old_best: None, new_best: Some(path) }
            }
            CELL_MULTI => {
                let list = &mut self.multi[cell.attrs.0 as usize];
                let old_best = list[0];
                let displaced = match list.iter_mut().find(|p| p.source == path.source) {
                    Some(existing) => Some(std::mem::replace(existing, path)),
                    None => {
                        let capacity = list.capacity();
                        list.push(path);
                        self.multi_bytes += (list.capacity() - capacity) * size_of::<Path>();
                        self.paths += 1;
                        None
                    }
                };
                select_best(list, &better);
                Change { displaced, old_best: Some(old_best), new_best: Some(list[0]) }
            }
            source if source == path.source => {
                self.entries[slot as usize].set(path);
                Change { displaced: Some(cell), old_best: Some(cell), new_best: Some(path) }
            }
            _ => {
                let list = if better(&path, &cell) { vec![path, cell] } else { vec![cell, path] };
                let new_best = list[0];
                self.multi_bytes += list.capacity() * size_of::<Path>();
                let index = match self.multi_free.pop() {
                    Some(index) => {
                        let old = std::mem::replace(&mut self.multi[index as usize], list);
                        self.multi_bytes -= old.capacity() * size_of::<Path>();
                        index
                    }
                    None => {
                        self.multi.push(list);
                        (self.multi.len() - 1) as u32
                    }
                };
                self.entries[slot as usize].set(Path::sentinel(CELL_MULTI, index));
                self.paths += 1;
                Change { displaced: None, old_best: Some(cell), new_best: Some(new_best) }
            }
        }
    }

    /// Remove the path of `source` from `slot`, if it has one.
    pub fn remove(
        &mut self,
        slot: u32,
        source: SourceIndex,
        better: impl Fn(&Path, &Path) -> bool,
    ) -> Option<Change> {
        let cell = self.entries.get(slot as usize)?.cell;
        match cell.source {
            CELL_FREE | CELL_EMPTY => None,
            CELL_MULTI => {
                let index = cell.attrs.0 as usize;
                let list = &mut self.multi[index];
                let position = list.iter().position(|p| p.source == source)?;
                let old_best = list[0];
                let removed = list.swap_remove(position);
                self.paths -= 1;
                let new_best = if list.len() == 1 {
                    let only = list[0];
                    self.multi_bytes -= list.capacity() * size_of::<Path>();
                    self.multi[index] = Vec::new();
                    self.multi_free.push(index as u32);
                    self.entries[slot as usize].set(only);
                    only
                } else {
                    select_best(list, &better);
                    list[0]
                };
                Some(Change {
                    displaced: Some(removed),
                    old_best: Some(old_best),
                    new_best: Some(new_best),
                })
            }
            s if s == source => {
                self.entries[slot as usize].set(Path::sentinel(CELL_EMPTY, 0));
                self.live -= 1;
                self.paths -= 1;
                Some(Change { displaced: Some(cell), old_best: Some(cell), new_best: None })
            }
            _ => None,
        }
    }

    /// Slots where `source` is one of several paths (their order may depend on
    /// facts about `source` that just changed).
    pub fn shared_slots_of(&self, source: SourceIndex) -> Vec<u32> {
        (0..self.slot_bound())
            .filter(|&slot| {
                self.entries[slot as usize].cell.source == CELL_MULTI
                    && self.paths(slot).iter().any(|p| p.source == source)
            })
            .collect()
    }

    /// Run selection again on a slot with several paths.
    pub fn reselect(&mut self, slot: u32, better: impl Fn(&Path, &Path) -> bool) -> Option<Change> {
        let cell = self.entries.get(slot as usize)?.cell;
        if cell.source != CELL_MULTI {
            return None;
        }
        let list = &mut self.multi[cell.attrs.0 as usize];
        let old_best = list[0];
        select_best(list, &better);
        Some(Change { displaced: None, old_best: Some(old_best), new_best: Some(list[0]) })
    }

    /// Call `f` on every path of `source`, letting it change the path's flags.
    pub fn for_each_path_of(&mut self, source: SourceIndex, mut f: impl FnMut(&mut Path)) {
        for entry in &mut self.entries {
            match entry.cell.source {
                CELL_FREE | CELL_EMPTY => {}
                CELL_MULTI => {
                    for path in &mut self.multi[entry.cell.attrs.0 as usize] {
                        if path.source == source {
                            f(path);
                        }
                    }
                }
                s if s == source => f(&mut entry.cell),
                _ => {}
            }
        }
    }

    /// Slots holding a path of `source` matching `filter`.
    pub fn slots_of(&self, source: SourceIndex, filter: impl Fn(&Path) -> bool) -> Vec<u32> {
        (0..self.slot_bound())
            .filter(|&slot| self.paths(slot).iter().any(|p| p.source == source && filter(p)))
            .collect()
    }

    /// Every slot that holds a prefix with at least one path, in slot order.
    pub fn live_slots(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.slot_bound()).filter(|&slot| self.is_live(slot))
    }

    /// Every slot whose prefix has no path left.
    pub fn empty_slots(&self) -> Vec<u32> {
        (0..self.slot_bound()).filter(|&slot| self.is_empty_slot(slot)).collect()
    }

    /// Gives back the memory of free slots at the end of the table (a table
    /// that shrank, e.g. an owner's million paths withdrawn): the trailing
    /// free slots go, the free list forgets them, and every vector and the
    /// index are shrunk to what is left. Slots in use keep their numbers, so
    /// bitsets indexed by slot stay valid (they may be truncated to
    /// [`Self::slot_bound`]). Returns whether anything was given back.
    pub fn compact(&mut self) -> bool {
        let before = self.heap_bytes();
        while self.entries.last().is_some_and(|e| e.cell.source == CELL_FREE) {
            self.entries.pop();
        }
        let bound = self.entries.len() as u32;
        self.free.retain(|&slot| slot < bound);
        if self.multi_free.len() == self.multi.len() {
            self.multi = Vec::new();
            self.multi_free = Vec::new();
        }
        self.entries.shrink_to_fit();
        self.free.shrink_to_fit();
        self.multi.shrink_to_fit();
        self.multi_free.shrink_to_fit();
        let entries = &self.entries;
        self.index.shrink_to_fit(|&s| hash_of(&entries[s as usize].prefix::<P>()));
        self.heap_bytes() < before
    }

    /// What the kept `multi_bytes` must equal: a walk of the lists.
    #[cfg(test)]
    fn walked_multi_bytes(&self) -> usize {
        self.multi.iter().map(|v| v.capacity() * size_of::<Path>()).sum()
    }

    /// Heap bytes held, computed from capacities (O(1): the lists' bytes are
    /// kept).
    pub fn heap_bytes(&self) -> usize {
        let entries = self.entries.capacity() * size_of::<Entry<P::Addr>>();
        // hashbrown: one slot value plus one control byte per bucket.
        let buckets = (self.index.capacity() * 8 / 7).next_power_of_two();
        let index = buckets * (size_of::<u32>() + 1);
        let multi = self.multi.capacity() * size_of::<Vec<Path>>() + self.multi_bytes;
        entries + index + multi + (self.free.capacity() + self.multi_free.capacity()) * 4
    }
}

/// Move the best path of `list` to the front. Lists are short (one entry per
/// peer that sent the prefix), so a linear scan is cheapest.
fn select_best(list: &mut [Path], better: &impl Fn(&Path, &Path) -> bool) {
    let mut best = 0;
    for i in 1..list.len() {
        if better(&list[i], &list[best]) {
            best = i;
        }
    }
    list.swap(0, best);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn lower_source_wins(a: &Path, b: &Path) -> bool {
        a.source < b.source
    }

    #[test]
    fn prefixes_are_normalised_and_round_trip() {
        let p = Prefix4::from_net(&net("192.0.2.77/24")).unwrap();
        assert_eq!(p.to_net(), net("192.0.2.0/24"));
        let p = Prefix4::from_net(&net("0.0.0.0/0")).unwrap();
        assert_eq!(p.to_net(), net("0.0.0.0/0"));
        let p = Prefix6::from_net(&net("2001:db8::1/32")).unwrap();
        assert_eq!(p.to_net(), net("2001:db8::/32"));
        assert!(Prefix4::from_net(&net("2001:db8::/32")).is_none());
    }

    #[test]
    fn entries_are_compact() {
        assert_eq!(size_of::<Path>(), 8);
        assert_eq!(size_of::<Entry<u32>>(), 12);
        assert_eq!(size_of::<Entry<[u32; 4]>>(), 24);
    }

    #[test]
    fn kept_multi_bytes_equal_a_walk() {
        let mut t = Table::<Prefix4>::default();
        let slots: Vec<u32> = (0..50u32)
            .map(|i| {
                let prefix = net(&format!("10.0.{i}.0/24"));
                t.find_or_insert(Prefix4::from_net(&prefix).unwrap())
            })
            .collect();
        for (i, &slot) in slots.iter().enumerate() {
            for source in 0..(i % 6) as u16 + 1 {
                t.upsert(slot, Path::new(source, AttrId(u32::from(source))), lower_source_wins);
            }
        }
        assert!(t.multi_bytes > 0);
        assert_eq!(t.multi_bytes, t.walked_multi_bytes());
        for &slot in &slots {
            t.remove(slot, 1, lower_source_wins);
        }
        assert_eq!(t.multi_bytes, t.walked_multi_bytes());
        for &slot in &slots {
            t.upsert(slot, Path::new(9, AttrId(9)), lower_source_wins);
        }
        assert_eq!(t.multi_bytes, t.walked_multi_bytes());
        for source in [0, 2, 3, 4, 5, 9] {
            for &slot in &slots {
                t.remove(slot, source, lower_source_wins);
            }
        }
        assert_eq!(t.multi_bytes, 0);
        t.compact();
        assert_eq!(t.multi_bytes, t.walked_multi_bytes());
    }

    /// The index grows by a rebuild from the entries (`grow_index`): across
    /// many growths, with freed slots (not indexed) and reused ones among
    /// them, every prefix still finds its slot, freed ones are gone, and
    /// the index never holds a slot twice.
    #[test]
    fn the_index_grows_by_rebuilding_and_keeps_every_slot() {
        let mut t = Table::<Prefix4>::default();
        let prefix = |i: u32| {
            Prefix4::from_net(&IpNet::V4(
                Ipv4Net::new(Ipv4Addr::from(0xC612_0000 + (i << 8)), 24).unwrap(),
            ))
            .unwrap()
        };
        let mut slots: Vec<u32> = (0..3_000).map(|i| t.find_or_insert(prefix(i))).collect();
        // Free every third (empty) slot, then insert more: reused slots first.
        for i in (0..3_000).step_by(3) {
            t.release(slots[i]);
        }
        for i in 3_000..10_000 {
            slots.push(t.find_or_insert(prefix(i)));
        }
        for i in 0..10_000u32 {
            let found = t.find(prefix(i));
            if i < 3_000 && i % 3 == 0 {
                assert_eq!(found, None, "{i} was released");
            } else {
                assert_eq!(found, Some(slots[i as usize]), "{i}");
            }
        }
        let live = 10_000 - 1_000;
        assert_eq!(t.index.len(), live);
        let mut indexed: Vec<u32> = t.index.iter().copied().collect();
        indexed.sort_unstable();
        indexed.dedup();
        assert_eq!(indexed.len(), live);
    }

    #[test]
    fn single_then_multi_then_single() {
        let mut t = Table::<Prefix4>::default();
        let slot = t.find_or_insert(Prefix4::from_net(&net("192.0.2.0/24")).unwrap());
        let c = t.upsert(slot, Path::new(5, AttrId(1)), lower_source_wins);
        assert!(c.best_changed());
        let c = t.upsert(slot, Path::new(3, AttrId(2)), lower_source_wins);
        assert!(c.best_changed());
        assert_eq!(t.best(slot).unwrap().source, 3);
        assert_eq!(t.paths(slot).len(), 2);
        // Replacing the non-best path does not change the best.
        let c = t.upsert(slot, Path::new(5, AttrId(7)), lower_source_wins);
        assert!(!c.best_changed());
        assert_eq!(c.displaced.unwrap().attrs, AttrId(1));
        let c = t.remove(slot, 3, lower_source_wins).unwrap();
        assert!(c.best_changed());
        assert_eq!(t.paths(slot), &[Path::new(5, AttrId(7))]);
        assert_eq!(t.path_count(), 1);
        let c = t.remove(slot, 5, lower_source_wins).unwrap();
        assert!(c.new_best.is_none());
        assert!(t.is_empty_slot(slot));
        assert_eq!(t.len(), 0);
        t.release(slot);
        assert!(t.find(Prefix4::from_net(&net("192.0.2.0/24")).unwrap()).is_none());
        // The freed slot is reused.
        let again = t.find_or_insert(Prefix4::from_net(&net("198.51.100.0/24")).unwrap());
        assert_eq!(again, slot);
    }
}
