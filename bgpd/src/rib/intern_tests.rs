//! Unit tests of the interning table (`intern.rs`).

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
            let grown = slot.push_export(entry);
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

/// The first export without a chain is cached inline, the others (a
/// second flavour, a receiver's chain, a selection) out of line; each is
/// found again under its own key (a chain's result not for receivers
/// without one), the shared-result lookup sees both,
/// forgetting a receiver drops only its entries, and the kept bytes
/// follow.
#[test]
fn exports_are_cached_inline_then_out_of_line() {
    let mut store = AttrStore::default();
    let nh = NextHop::V4(Ipv4Addr::new(198, 51, 100, 1));
    let id = store.intern(&attrs(65001), Some(nh));
    let exported = |asn| Some(PackedExport::new(&attrs(asn), nh, false));
    let chained = 5 | (3 << 32);
    let entries = [
        (5, None, exported(65001), Judged::Unjudged),
        (4, None, None, Judged::Unjudged),
        (chained, None, exported(65002), Judged::Modified),
        (5 | (5 << 32), None, None, Judged::Rejected),
    ];
    for (key, selection, result, judged) in entries.clone() {
        let slot = store.get_mut(id).unwrap();
        let grown = slot.push_export(CachedExport { key, selection, result, judged });
        store.cache_grew(grown);
        assert_eq!(store.kept_set_bytes(), store.walked_set_bytes());
    }
    let slot = store.get(id).unwrap();
    assert_eq!(slot.export_key, 5, "the first one inline");
    assert_eq!(slot.cold.as_ref().unwrap().exports.len(), 3);
    for (key, selection, result, judged) in entries {
        assert_eq!(slot.cached_export(key, &selection), Some((result, judged)));
    }
    assert_eq!(slot.cached_export(6, &None), None);
    assert_eq!(slot.cached_export(5 | (4 << 32), &None), None);
    assert_eq!(slot.last_export_of(5), None, "the last of flavour 5 did not export");
    assert_eq!(slot.next_hop(), Some(nh));
    store.forget_exports_of(4);
    assert_eq!(store.get(id).unwrap().last_export_of(5), exported(65002).as_ref());
    store.forget_exports_of(2);
    let slot = store.get(id).unwrap();
    assert_eq!(slot.cached_export(chained, &None), None);
    assert_eq!(slot.cached_export(5, &None), Some((exported(65001), Judged::Unjudged)));
    assert_eq!(slot.last_export_of(5), exported(65001).as_ref(), "the inline one is left");
    assert_eq!(store.kept_set_bytes(), store.walked_set_bytes());
    store.release(id);
    assert_eq!(store.kept_set_bytes(), 0);
}

/// An exported set keeps its next hop and too-large flag; two exports
/// are the same route whatever their flag.
#[test]
fn packed_exports_carry_next_hop_and_flag() {
    let v6 = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    let a = PackedExport::new(&attrs(65001), v6, true);
    assert_eq!(a.next_hop(), v6);
    assert!(a.too_large());
    assert_eq!(
        a.unpacked(),
        Exported { attributes: Arc::new(attrs(65001)), next_hop: v6, too_large: true }
    );
    let b = PackedExport::new(&attrs(65001), v6, false);
    assert!(a.same_route(&b) && a != b);
    let c = PackedExport::new(&attrs(65001), NextHop::V4(Ipv4Addr::LOCALHOST), true);
    assert!(!a.same_route(&c));
}

/// An export equal to the interned set (a route server's transparent
/// export) shares its bytes; a rewritten one, or one flagged too large,
/// has its own.
#[test]
fn an_unchanged_export_shares_the_interned_bytes() {
    let mut store = AttrStore::default();
    let nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
    let id = store.intern(&attrs(65001), Some(nh));
    let interned = store.get(id).unwrap().attributes.clone();
    let mut scratch = Vec::new();
    let same = PackedExport::new_or_shared(&attrs(65001), nh, false, &interned, &mut scratch);
    assert!(std::ptr::eq(same.attributes().bytes().as_ptr(), interned.bytes().as_ptr()));
    assert_eq!(same, PackedExport::new(&attrs(65001), nh, false));
    let prepended = PackedExport::new_or_shared(&attrs(65002), nh, false, &interned, &mut scratch);
    assert!(!std::ptr::eq(prepended.attributes().bytes().as_ptr(), interned.bytes().as_ptr()));
    let other_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 9));
    let moved =
        PackedExport::new_or_shared(&attrs(65001), other_hop, false, &interned, &mut scratch);
    assert_eq!(moved.next_hop(), other_hop);
    let flagged = PackedExport::new_or_shared(&attrs(65001), nh, true, &interned, &mut scratch);
    assert!(flagged.too_large());
}

/// The slot is 80 bytes (it was 144, with a vector of 96-byte export
/// entries beside it).
#[test]
fn a_slot_is_80_bytes() {
    assert_eq!(size_of::<Option<AttrSlot>>(), 80);
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

/// Across many growths of the index (rebuilt from the slots in order), with
/// sets released and their ids reused in between, every live set is found
/// again under its own id, once, and a released one is not found.
#[test]
fn the_index_rebuilt_as_it_grows_finds_every_live_set_once() {
    let mut store = AttrStore::default();
    let nh = Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let mut live: Vec<(u32, AttrId)> = Vec::new();
    for asn in 0..5_000u32 {
        live.push((asn, store.intern(&attrs(70_000 + asn), nh)));
        if asn % 3 == 0 {
            let (gone, id) = live.remove(live.len() / 2);
            store.release(id);
            assert!(store.get(id).is_none(), "set of {gone} released");
        }
    }
    assert_eq!(store.len(), live.len());
    assert_eq!(store.index.len(), live.len(), "one index entry per live set");
    for &(asn, id) in &live {
        assert_eq!(store.intern(&attrs(70_000 + asn), nh), id, "set of {asn} found again");
        store.release(id);
    }
    assert_eq!(store.len(), live.len(), "finding a set added nothing");
}
