//! Attribute interning: each distinct (attribute set, next hop) is stored once,
//! with a reference count, and addressed by a 4-byte [`AttrId`].
//!
//! A full Internet table has about a million prefixes but only a few hundred
//! thousand distinct attribute sets (and a route server or a Kubernetes node far
//! fewer), so a prefix costs 4 bytes for its attributes instead of a few hundred.
//! A set is stored packed ([`PackedAttributes`]: one allocation of about its
//! wire size, not a `PathAttributes` of six `Vec`s and its lists) and unpacked
//! on demand, once per set and export flavour, never per prefix.
//! Each slot also caches what best-path selection needs (the `Summary`), so
//! comparing two paths touches neither the AS_PATH vectors nor the hash map,
//! and what export produced for each export flavour, so a million prefixes that
//! share attributes are transformed once.

use std::hash::{BuildHasher, Hash, Hasher};
use std::net::Ipv4Addr;
use std::sync::Arc;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::policy::{Prepared, Selection};
use crate::wire::{Community, NextHop, PackedAttributes, PathAttributes};

/// Handle of an interned attribute set. Valid while its reference count is
/// above zero; the number is reused afterwards.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct AttrId(pub u32);

/// The attributes best-path selection reads, extracted once per attribute set.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    /// LOCAL_PREF, 100 when absent (eBGP-learned sets have had it removed on import).
    pub local_pref: u32,
    pub path_length: u32,
    pub origin: u8,
    /// MULTI_EXIT_DISC, 0 when absent.
    pub med: u32,
    /// First ASN of the path, the neighbouring AS the MED belongs to.
    pub neighbor_as: Option<u32>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_length: u32,
    pub no_export: bool,
    pub no_advertise: bool,
}

/// Default LOCAL_PREF for routes that carry none (RFC 4271 §5.1.5 leaves the
/// value to policy; 100 is what every implementation uses).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

impl Summary {
    pub fn of(attrs: &PathAttributes) -> Self {
        Self {
            local_pref: attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
            path_length: attrs.as_path.path_length() as u32,
            origin: attrs.origin.map_or(0, |o| o as u8),
            med: attrs.med.unwrap_or(0),
            neighbor_as: attrs.as_path.first_asn(),
            originator_id: attrs.originator_id,
            cluster_length: attrs.cluster_list.len() as u32,
            no_export: attrs.communities.contains(&Community::NO_EXPORT),
            no_advertise: attrs.communities.contains(&Community::NO_ADVERTISE),
        }
    }
}

/// The attribute set and next hop as sent to a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub attributes: Arc<PathAttributes>,
    pub next_hop: NextHop,
    /// Even one host route with these attributes does not fit an UPDATE the
    /// peer accepts (`UpdatePacker::fits`): never sent, never shown as
    /// advertised, counted as unsendable instead.
    pub too_large: bool,
}

/// An export result as the slot caches it: the exported set packed into one
/// allocation ([`PackedAttributes`]; about a quarter of an `Arc<PathAttributes>`
/// with its lists on the Internet-like table) and shared by every prefix with
/// this set and flavour. A batch unpacks it once per group
/// ([`PackedExport::unpacked`]), never per prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PackedExport {
    pub attributes: PackedAttributes,
    pub next_hop: NextHop,
    /// As [`Exported::too_large`].
    pub too_large: bool,
}

impl PackedExport {
    pub fn unpacked(&self) -> Exported {
        Exported {
            attributes: Arc::new(self.attributes.unpack()),
            next_hop: self.next_hop,
            too_large: self.too_large,
        }
    }
}

/// A cached export result: `key` packs (export profile, local-origin bit,
/// family) in its low 32 bits and, for a receiver with an export chain, its
/// source index + 1 above them; `selection` is the export chain's selection
/// when the chain reads the prefix. `None` means "never exported with this
/// flavour".
#[derive(Clone, Debug)]
pub(crate) struct CachedExport {
    pub key: u64,
    pub selection: Option<Selection>,
    pub result: Option<PackedExport>,
    /// What the receiver's export chain said (for its counters).
    pub judged: Judged,
}

/// What an export chain said of a route, for the receiver's export counters.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Judged {
    /// No chain ran (none, or the route was not exportable before it).
    #[default]
    Unjudged,
    Accepted,
    Modified,
    Rejected,
}

/// Appends an export result to a slot's cache ([`push_cached`]), also
/// counting the packed set it holds. Returns the heap bytes grown.
pub(crate) fn push_export(cache: &mut Vec<CachedExport>, entry: CachedExport) -> usize {
    let bytes = entry.result_bytes();
    push_cached(cache, entry) + bytes
}

/// Appends to one of a slot's caches (`exports`, `prepared`), growing it by
/// half its length (at least one) rather than doubling from four: a set is
/// exported with one or two flavours in most deployments, and with
/// `Vec::push`'s first capacity of four the unused entries cost 240 bytes of
/// `CachedExport` and 96 of `CachedPrepared` per attribute set (tens of MB on a
/// full table of a few hundred thousand sets). Growth stays geometric for a
/// route server whose receivers each have their own chain.
///
/// Returns the heap bytes the cache grew by, for [`AttrStore::cache_grew`].
pub(crate) fn push_cached<T>(cache: &mut Vec<T>, entry: T) -> usize {
    let before = cache.capacity();
    if cache.len() == cache.capacity() {
        cache.reserve_exact((cache.len() / 2).max(1));
    }
    cache.push(entry);
    (cache.capacity() - before) * size_of::<T>()
}

/// A receiver's export chain prepared for this attribute set (see `policy`).
#[derive(Clone, Debug)]
pub(crate) struct CachedPrepared {
    pub key: u64,
    pub prepared: Prepared,
}

#[derive(Debug)]
pub(crate) struct AttrSlot {
    /// The set, packed: [`PackedAttributes::unpack`] gives it back.
    pub attributes: PackedAttributes,
    /// The next hop the route was learned with (`None`: originated with "self").
    pub next_hop: Option<NextHop>,
    pub summary: Summary,
    pub exports: Vec<CachedExport>,
    /// Empty unless a receiver has an export chain that reads the prefix.
    pub prepared: Vec<CachedPrepared>,
    hash: u64,
    refs: u32,
}

/// The interning table.
#[derive(Debug, Default)]
pub(crate) struct AttrStore {
    slots: Vec<Option<AttrSlot>>,
    index: HashTable<u32>,
    free: Vec<u32>,
    live: usize,
    /// Heap bytes of the live sets and their caches ([`slot_bytes`]), kept as
    /// sets come and go and caches grow, so [`Self::heap_bytes`] (read on
    /// every metrics scrape) does not walk a few hundred thousand sets.
    set_bytes: usize,
    /// Where a set to intern is packed, to be compared with the stored ones
    /// without an allocation.
    scratch: Vec<u8>,
    /// The last two sets unpacked for best-path changes
    /// ([`Self::unpacked_shared`]), so the routes of one UPDATE share one copy.
    unpacked: [Option<(PackedAttributes, Arc<PathAttributes>)>; 2],
}

/// Heap bytes of an attribute set itself (fixed once interned).
fn own_bytes(attributes: &PackedAttributes) -> usize {
    attributes.heap_bytes()
}

/// Heap bytes of a slot: its set and its caches.
fn slot_bytes(slot: &AttrSlot) -> usize {
    own_bytes(&slot.attributes)
        + slot.exports.capacity() * size_of::<CachedExport>()
        + slot.exports.iter().map(CachedExport::result_bytes).sum::<usize>()
        + slot.prepared.capacity() * size_of::<CachedPrepared>()
}

impl CachedExport {
    /// Heap bytes of the packed exported set (counted once per entry, even
    /// when entries share it).
    pub fn result_bytes(&self) -> usize {
        self.result.as_ref().map_or(0, |r| r.attributes.heap_bytes())
    }
}

fn hash_key(packed: &[u8], next_hop: &Option<NextHop>) -> u64 {
    let mut hasher = FxBuildHasher.build_hasher();
    packed.hash(&mut hasher);
    next_hop.hash(&mut hasher);
    hasher.finish()
}

impl AttrStore {
    /// Distinct attribute sets held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Intern a borrowed set: clones it only when it is new. Adds one reference.
    /// It is packed into a reused buffer and allocates only when new.
    pub fn intern(&mut self, attributes: &PathAttributes, next_hop: Option<NextHop>) -> AttrId {
        let mut scratch = std::mem::take(&mut self.scratch);
        PackedAttributes::pack_to(attributes, &mut scratch);
        let hash = hash_key(&scratch, &next_hop);
        let id = match self.lookup(hash, &scratch, &next_hop) {
            Some(id) => {
                self.retain(id);
                id
            }
            None => {
                let packed = PackedAttributes::from_packed(&scratch);
                self.insert(hash, packed, Summary::of(attributes), next_hop)
            }
        };
        self.scratch = scratch;
        id
    }

    /// Intern an owned set. Adds one reference.
    pub fn intern_owned(
        &mut self,
        attributes: PathAttributes,
        next_hop: Option<NextHop>,
    ) -> AttrId {
        self.intern(&attributes, next_hop)
    }

    fn lookup(&self, hash: u64, packed: &[u8], next_hop: &Option<NextHop>) -> Option<AttrId> {
        let slots = &self.slots;
        self.index
            .find(hash, |&i| {
                slots[i as usize]
                    .as_ref()
                    .is_some_and(|s| s.next_hop == *next_hop && s.attributes.bytes() == packed)
            })
            .map(|&i| AttrId(i))
    }

    fn insert(
        &mut self,
        hash: u64,
        attributes: PackedAttributes,
        summary: Summary,
        next_hop: Option<NextHop>,
    ) -> AttrId {
        self.set_bytes += own_bytes(&attributes);
        let slot = AttrSlot {
            summary,
            attributes,
            next_hop,
            exports: Vec::new(),
            prepared: Vec::new(),
            hash,
            refs: 1,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index as usize] = Some(slot);
                index
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.index
            .insert_unique(hash, index, |&i| slots[i as usize].as_ref().map_or(0, |s| s.hash));
        self.live += 1;
        AttrId(index)
    }

    /// Gives back the memory of free slots at the end and shrinks the index
    /// (see `Table::compact`); ids in use keep their numbers.
    pub fn compact(&mut self) {
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        let bound = self.slots.len() as u32;
        self.free.retain(|&index| index < bound);
        self.slots.shrink_to_fit();
        self.free.shrink_to_fit();
        let slots = &self.slots;
        self.index.shrink_to_fit(|&i| slots[i as usize].as_ref().map_or(0, |s| s.hash));
    }

    pub fn retain(&mut self, id: AttrId) {
        if let Some(Some(slot)) = self.slots.get_mut(id.0 as usize) {
            slot.refs += 1;
        }
    }

    /// Drop one reference; the set (and its export cache) is freed with the last.
    pub fn release(&mut self, id: AttrId) {
        let Some(Some(slot)) = self.slots.get_mut(id.0 as usize) else { return };
        slot.refs -= 1;
        if slot.refs > 0 {
            return;
        }
        let hash = slot.hash;
        self.set_bytes = self.set_bytes.saturating_sub(slot_bytes(slot));
        if let Ok(found) = self.index.find_entry(hash, |&i| i == id.0) {
            found.remove();
        }
        self.slots[id.0 as usize] = None;
        self.free.push(id.0);
        self.live -= 1;
    }

    /// The slot of a live id. Ids held by paths are always live; a missing one is
    /// a bug, answered with a panic-free default by the callers that can.
    pub fn get(&self, id: AttrId) -> Option<&AttrSlot> {
        self.slots.get(id.0 as usize).and_then(Option::as_ref)
    }

    pub fn get_mut(&mut self, id: AttrId) -> Option<&mut AttrSlot> {
        self.slots.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// The set of `id` unpacked and shared: the routes of one UPDATE (and
    /// its old and new best paths) get one copy, not one per prefix.
    pub fn unpacked_shared(&mut self, id: AttrId) -> Option<Arc<PathAttributes>> {
        let packed = &self.slots.get(id.0 as usize)?.as_ref()?.attributes;
        for (known, unpacked) in self.unpacked.iter().flatten() {
            if known.ptr_eq(packed) {
                return Some(Arc::clone(unpacked));
            }
        }
        let unpacked = Arc::new(packed.unpack());
        self.unpacked[1] = self.unpacked[0].take();
        self.unpacked[0] = Some((packed.clone(), Arc::clone(&unpacked)));
        Some(unpacked)
    }

    /// A slot's cache grew by `bytes` ([`push_cached`]'s answer): every push
    /// onto `exports` or `prepared` reports here.
    pub fn cache_grew(&mut self, bytes: usize) {
        self.set_bytes += bytes;
    }

    /// Drops the cached exports made for the receiver `source` with its
    /// export chain (the chain changed, or the index goes to another peer).
    pub fn forget_exports_of(&mut self, source: u16) {
        let tag = u64::from(source) + 1;
        for slot in self.slots.iter_mut().flatten() {
            let dropped: usize = slot
                .exports
                .iter()
                .filter(|c| c.key >> 32 == tag)
                .map(CachedExport::result_bytes)
                .sum();
            self.set_bytes = self.set_bytes.saturating_sub(dropped);
            slot.exports.retain(|c| c.key >> 32 != tag);
            slot.prepared.retain(|c| c.key >> 32 != tag);
        }
    }

    #[cfg(test)]
    pub fn refs(&self, id: AttrId) -> u32 {
        self.get(id).map_or(0, |s| s.refs)
    }

    /// Approximate heap bytes: slots, index, and the attribute sets with
    /// their caches (kept, not walked: O(1)).
    pub fn heap_bytes(&self) -> usize {
        let slots = self.slots.capacity() * size_of::<Option<AttrSlot>>();
        let index = (self.index.capacity() * 8 / 7).next_power_of_two() * 5;
        slots + index + self.set_bytes
    }

    /// What the kept `set_bytes` must equal: a walk of every live slot.
    #[cfg(test)]
    pub fn walked_set_bytes(&self) -> usize {
        self.slots.iter().flatten().map(slot_bytes).sum()
    }

    /// Distinct packed exported sets the export caches hold (entries may
    /// share one).
    #[cfg(test)]
    pub fn exported_allocations(&self) -> usize {
        let shared: std::collections::BTreeSet<usize> = self
            .slots
            .iter()
            .flatten()
            .flat_map(|slot| &slot.exports)
            .filter_map(|c| c.result.as_ref())
            .map(|r| r.attributes.bytes().as_ptr() as usize)
            .collect();
        shared.len()
    }

    #[cfg(test)]
    pub fn kept_set_bytes(&self) -> usize {
        self.set_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AsPath, Origin};

    fn attrs(asn: u32) -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: AsPath::from_sequence([asn]),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..PathAttributes::default()
        }
    }

    #[test]
    fn equal_sets_share_one_id_and_are_freed_with_the_last_reference() {
        let mut store = AttrStore::default();
        let nh = Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let a = store.intern(&attrs(65001), nh);
        let b = store.intern(&attrs(65001), nh);
        let c = store.intern(&attrs(65002), nh);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(store.len(), 2);
        assert_eq!(store.refs(a), 2);
        // Same attributes, other next hop: another set.
        let d = store.intern(&attrs(65001), None);
        assert_ne!(a, d);
        store.release(a);
        assert_eq!(store.refs(a), 1);
        store.release(b);
        assert!(store.get(a).is_none());
        assert_eq!(store.len(), 2);
        // The id is reused and the old content is not found any more.
        let e = store.intern_owned(attrs(65003), nh);
        assert_eq!(e, a);
        let f = store.intern(&attrs(65001), nh);
        assert_ne!(f, a);
    }

    /// The bytes `heap_bytes` reads are kept as sets come, caches grow and
    /// sets go, and equal a walk of the store.
    #[test]
    fn kept_set_bytes_follow_interning_caches_and_release() {
        let mut store = AttrStore::default();
        let ids: Vec<AttrId> = (0..20).map(|asn| store.intern(&attrs(65000 + asn), None)).collect();
        assert_eq!(store.kept_set_bytes(), store.walked_set_bytes());
        for (n, id) in ids.iter().enumerate() {
            for key in 0..n as u64 {
                let slot = store.get_mut(*id).unwrap();
                let entry =
                    CachedExport { key, selection: None, result: None, judged: Judged::Unjudged };
                let grown = push_cached(&mut slot.exports, entry);
                store.cache_grew(grown);
            }
        }
        assert_eq!(store.kept_set_bytes(), store.walked_set_bytes());
        let before = store.kept_set_bytes();
        store.forget_exports_of(0);
        assert_eq!(store.kept_set_bytes(), before, "retain keeps the capacity");
        assert_eq!(store.kept_set_bytes(), store.walked_set_bytes());
        for id in ids.iter().step_by(2) {
            store.release(*id);
        }
        assert_eq!(store.kept_set_bytes(), store.walked_set_bytes());
        for id in ids.iter().skip(1).step_by(2) {
            store.release(*id);
        }
        assert_eq!(store.kept_set_bytes(), 0);
    }

    /// Best-path changes of one UPDATE share the unpacked set; a released id
    /// reused for another set is not answered from the memo.
    #[test]
    fn unpacked_shared_follows_the_slot() {
        let mut store = AttrStore::default();
        let a = store.intern(&attrs(65001), None);
        let first = store.unpacked_shared(a).unwrap();
        assert!(Arc::ptr_eq(&first, &store.unpacked_shared(a).unwrap()));
        store.release(a);
        let b = store.intern(&attrs(65002), None);
        assert_eq!(a, b);
        assert_eq!(*store.unpacked_shared(b).unwrap(), attrs(65002));
    }

    #[test]
    fn caches_grow_by_half_from_one_entry() {
        let mut cache = Vec::new();
        let mut capacities = Vec::new();
        for entry in 0..10 {
            push_cached(&mut cache, entry);
            capacities.push(cache.capacity());
        }
        assert_eq!(capacities, [1, 2, 3, 4, 6, 6, 9, 9, 9, 13]);
        assert_eq!(cache, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn summary_reads_selection_attributes() {
        let mut a = attrs(65001);
        a.med = Some(7);
        a.communities = vec![Community::NO_EXPORT];
        let s = Summary::of(&a);
        assert_eq!(s.local_pref, DEFAULT_LOCAL_PREF);
        assert_eq!(s.med, 7);
        assert_eq!(s.neighbor_as, Some(65001));
        assert!(s.no_export && !s.no_advertise);
    }
}
