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

use std::hash::BuildHasher;
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

/// An export result as the slot caches it: the exported set, its next hop
/// and whether it is too large, packed into one allocation (the route form
/// of [`PackedAttributes`]: about a quarter of an `Arc<PathAttributes>` with
/// its lists on the Internet-like table) and shared by every prefix with
/// this set and flavour. A batch unpacks it once per group
/// ([`PackedExport::unpacked`]), never per prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PackedExport(PackedAttributes);

impl PackedExport {
    pub fn new(attributes: &PathAttributes, next_hop: NextHop, too_large: bool) -> Self {
        Self(PackedAttributes::pack_route(attributes, Some(next_hop), too_large))
    }

    /// As [`Self::new`], but an export equal to `interned` (the set it was
    /// rewritten from, in the same route form) shares its bytes: a route
    /// server's exports are the sets as received (RFC 7947 §2.2), so each
    /// set is one allocation rather than two (4.4 MB of the route-server
    /// benchmark's 40 MB heap). The store's byte count still counts the
    /// export apart (see [`CachedExport::result_bytes`]). The set is packed
    /// into `scratch` first, so a shared export allocates nothing and a new
    /// one exactly its size, once.
    pub fn new_or_shared(
        attributes: &PathAttributes,
        next_hop: NextHop,
        too_large: bool,
        interned: &PackedAttributes,
        scratch: &mut Vec<u8>,
    ) -> Self {
        PackedAttributes::pack_route_to(attributes, Some(next_hop), too_large, scratch);
        if scratch.as_slice() == interned.bytes() {
            Self(interned.clone())
        } else {
            Self(PackedAttributes::from_packed(scratch))
        }
    }

    /// The exported set (its bytes also hold the next hop and the flag:
    /// compare with [`Self::same_route`], unpack with `unpack`).
    pub fn attributes(&self) -> &PackedAttributes {
        &self.0
    }

    pub fn next_hop(&self) -> NextHop {
        // Always there: `new` is the only way in.
        self.0.route_next_hop().unwrap_or(NextHop::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// As [`Exported::too_large`].
    pub fn too_large(&self) -> bool {
        self.0.route_flag()
    }

    /// Whether both hold the same attributes and next hop (whatever their
    /// too-large flag).
    pub fn same_route(&self, other: &Self) -> bool {
        self.0.same_route(&other.0)
    }

    pub fn unpacked(&self) -> Exported {
        Exported {
            attributes: Arc::new(self.0.unpack()),
            next_hop: self.next_hop(),
            too_large: self.too_large(),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
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

/// One interned set. 80 bytes: the set with its next hop (one allocation),
/// the selection summary, the reference count and the export of the common
/// flavour inline; every other cached result (a second flavour, receivers
/// with export chains, prepared chains) out of line in [`ColdCaches`], which
/// most sets never allocate. Before, the slot was 144 bytes with a vector of
/// 96-byte export entries beside it.
#[derive(Debug)]
pub(crate) struct AttrSlot {
    /// The set and the next hop it was learned with (`None`: originated with
    /// "self"), packed in the route form: [`PackedAttributes::unpack`] gives
    /// the set back, [`Self::next_hop`] the next hop.
    pub attributes: PackedAttributes,
    pub summary: Summary,
    refs: u32,
    /// The flavour key of `export` (a key without a receiver, see
    /// [`CachedExport`]); [`NO_EXPORT`] while none is cached inline.
    export_key: u32,
    /// The export of flavour `export_key` for receivers without an export
    /// chain: `None` when the route does not export with it.
    export: Option<PackedExport>,
    cold: Option<Box<ColdCaches>>,
}

/// `AttrSlot::export_key` while nothing is cached inline (no flavour key
/// reaches it: the profile takes 16 bits above the low 8).
const NO_EXPORT: u32 = u32::MAX;

/// A slot's rarely used caches, allocated on first use.
#[derive(Debug, Default)]
pub(crate) struct ColdCaches {
    /// Export results beyond the slot's inline one.
    exports: Vec<CachedExport>,
    /// Empty unless a receiver has an export chain that reads the prefix.
    prepared: Vec<CachedPrepared>,
}

impl AttrSlot {
    /// The next hop the route was learned with (`None`: originated with "self").
    pub fn next_hop(&self) -> Option<NextHop> {
        self.attributes.route_next_hop()
    }

    /// The cached export for `key` and `selection`, if any: the result
    /// (`None`: not exported) and what the chain said.
    pub fn cached_export(
        &self,
        key: u64,
        selection: &Option<Selection>,
    ) -> Option<(Option<PackedExport>, Judged)> {
        if self.export_key != NO_EXPORT && u64::from(self.export_key) == key && selection.is_none()
        {
            return Some((self.export.clone(), Judged::Unjudged));
        }
        let cold = self.cold.as_ref()?;
        let cached = cold.exports.iter().find(|c| c.key == key && c.selection == *selection)?;
        Some((cached.result.clone(), cached.judged))
    }

    /// The exported set cached last for `flavour` (a key's low 32 bits),
    /// whatever the receiver: receivers whose chains give the same result
    /// share it.
    pub fn last_export_of(&self, flavour: u64) -> Option<&PackedExport> {
        let cold = self.cold.as_ref().and_then(|cold| {
            cold.exports
                .iter()
                .rev()
                .find(|c| c.key & u64::from(u32::MAX) == flavour)
                .map(|c| c.result.as_ref())
        });
        match cold {
            Some(found) => found,
            None if u64::from(self.export_key) == flavour => self.export.as_ref(),
            None => None,
        }
    }

    /// Caches an export result: inline when it is the first result without
    /// a receiver's chain, else out of line ([`push_cached`]). Returns the
    /// heap bytes grown, for [`AttrStore::cache_grew`].
    pub fn push_export(&mut self, entry: CachedExport) -> usize {
        let bytes = entry.result.as_ref().map_or(0, PackedExport::heap_bytes);
        if self.export_key == NO_EXPORT
            && let Ok(key) = u32::try_from(entry.key)
            && key != NO_EXPORT
            && entry.selection.is_none()
            && entry.judged == Judged::Unjudged
        {
            self.export_key = key;
            self.export = entry.result;
            return bytes;
        }
        let (cold, grown) = self.cold();
        grown + bytes + push_cached(&mut cold.exports, entry)
    }

    /// The prepared chain cached for `key`.
    pub fn prepared(&self, key: u64) -> Option<&Prepared> {
        let cold = self.cold.as_ref()?;
        cold.prepared.iter().find(|c| c.key == key).map(|c| &c.prepared)
    }

    /// Caches a prepared chain. Returns the heap bytes grown.
    pub fn push_prepared(&mut self, entry: CachedPrepared) -> usize {
        let (cold, grown) = self.cold();
        grown + push_cached(&mut cold.prepared, entry)
    }

    /// The out-of-line caches, allocated now if need be, and the bytes that
    /// cost.
    fn cold(&mut self) -> (&mut ColdCaches, usize) {
        let grown = if self.cold.is_none() { size_of::<ColdCaches>() } else { 0 };
        (self.cold.get_or_insert_with(Box::default), grown)
    }

    /// Heap bytes of the set and its caches.
    fn heap_bytes(&self) -> usize {
        let inline = self.export.as_ref().map_or(0, PackedExport::heap_bytes);
        let cold = self.cold.as_ref().map_or(0, |cold| {
            size_of::<ColdCaches>()
                + cold.exports.capacity() * size_of::<CachedExport>()
                + cold.exports.iter().map(CachedExport::result_bytes).sum::<usize>()
                + cold.prepared.capacity() * size_of::<CachedPrepared>()
        });
        own_bytes(&self.attributes) + inline + cold
    }

    /// Drops the cached results whose key carries `tag` above its low 32
    /// bits (a receiver's chain); returns the heap bytes of the exported
    /// sets dropped (the caches keep their capacity).
    fn forget(&mut self, tag: u64) -> usize {
        let Some(cold) = self.cold.as_mut() else { return 0 };
        let dropped = cold
            .exports
            .iter()
            .filter(|c| c.key >> 32 == tag)
            .map(CachedExport::result_bytes)
            .sum();
        cold.exports.retain(|c| c.key >> 32 != tag);
        cold.prepared.retain(|c| c.key >> 32 != tag);
        dropped
    }
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
    slot.heap_bytes()
}

impl CachedExport {
    /// Heap bytes of the packed exported set (counted once per entry, even
    /// when entries share it).
    pub fn result_bytes(&self) -> usize {
        self.result.as_ref().map_or(0, PackedExport::heap_bytes)
    }
}

/// The index's hash of a set in the route form (it holds the next hop).
/// Not kept in the slot: the index recomputes it when it grows, and
/// `release` when it removes a set.
fn hash_key(packed: &[u8]) -> u64 {
    FxBuildHasher.hash_one(packed)
}

/// The hash of the set in slot `index`, for the index to rehash with.
fn slot_hash(slots: &[Option<AttrSlot>], index: u32) -> u64 {
    slots[index as usize].as_ref().map_or(0, |s| hash_key(s.attributes.bytes()))
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
        PackedAttributes::pack_route_to(attributes, next_hop, false, &mut scratch);
        let hash = hash_key(&scratch);
        let id = match self.lookup(hash, &scratch) {
            Some(id) => {
                self.retain(id);
                id
            }
            None => {
                let packed = PackedAttributes::from_packed(&scratch);
                self.insert(hash, packed, Summary::of(attributes))
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

    fn lookup(&self, hash: u64, packed: &[u8]) -> Option<AttrId> {
        let slots = &self.slots;
        self.index
            .find(hash, |&i| {
                slots[i as usize].as_ref().is_some_and(|s| s.attributes.bytes() == packed)
            })
            .map(|&i| AttrId(i))
    }

    fn insert(&mut self, hash: u64, attributes: PackedAttributes, summary: Summary) -> AttrId {
        if self.index.len() == self.index.capacity() {
            self.grow_index();
        }
        self.set_bytes += own_bytes(&attributes);
        let slot = AttrSlot {
            summary,
            attributes,
            refs: 1,
            export_key: NO_EXPORT,
            export: None,
            cold: None,
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
        self.index.insert_unique(hash, index, |&i| slot_hash(slots, i));
        self.live += 1;
        AttrId(index)
    }

    /// Doubles the index by rebuilding it from the slots in order, before it
    /// is full (as `Table::grow_index` does for prefixes). Growing in place
    /// (hashbrown's `reserve_rehash`) walks the old buckets and rehashes each
    /// set's packed bytes, read through its slot at random: `slot_hash` was
    /// 3.6 % of bgpd's samples on the Internet-like table. In slot order the
    /// slots and, mostly, their bytes (allocated in interning order) are read
    /// sequentially. Every live slot is indexed (`insert` indexes it,
    /// `release` removes it with the slot), so the new index holds the same
    /// ids. Both indexes exist while it runs, as in a growth in place.
    fn grow_index(&mut self) {
        let slots = &self.slots;
        let mut index = HashTable::with_capacity(self.index.capacity() + 1);
        for (i, slot) in slots.iter().enumerate() {
            if let Some(slot) = slot {
                let hash = hash_key(slot.attributes.bytes());
                index.insert_unique(hash, i as u32, |&i| slot_hash(slots, i));
            }
        }
        self.index = index;
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
        self.index.shrink_to_fit(|&i| slot_hash(slots, i));
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
        let hash = hash_key(slot.attributes.bytes());
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
            let dropped = slot.forget(tag);
            self.set_bytes = self.set_bytes.saturating_sub(dropped);
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
            .flat_map(|slot| {
                let cold =
                    slot.cold.iter().flat_map(|c| &c.exports).filter_map(|c| c.result.as_ref());
                slot.export.iter().chain(cold)
            })
            .map(|r| r.attributes().bytes().as_ptr() as usize)
            .collect();
        shared.len()
    }

    #[cfg(test)]
    pub fn kept_set_bytes(&self) -> usize {
        self.set_bytes
    }
}

#[cfg(test)]
#[path = "intern_tests.rs"]
mod tests;
