//! Property tests of the packed storage form: packing then unpacking gives
//! back the set, unpacking then packing gives back the bytes, and two sets
//! pack to equal bytes exactly when they are equal.

use proptest::prelude::*;

use super::roundtrip::{as_path, attributes};
use super::*;

/// Any attribute set the RIB may hold, with origin and NEXT_HOP sometimes
/// absent and lists of any length the varint counts must carry.
fn stored() -> impl Strategy<Value = PathAttributes> {
    (attributes(as_path()), any::<bool>(), any::<bool>(), 0..300usize).prop_map(
        |(mut a, origin, next_hop, many)| {
            if !origin {
                a.origin = None;
            }
            if !next_hop {
                a.next_hop = None;
            }
            if many > 200 {
                a.communities = (0..many as u32).map(Community).collect();
            }
            a
        },
    )
}

proptest! {
    #[test]
    fn packed_round_trips_both_ways(a in stored()) {
        let packed = PackedAttributes::pack(&a);
        let unpacked = packed.unpack();
        prop_assert_eq!(&unpacked, &a);
        let repacked = PackedAttributes::pack(&unpacked);
        prop_assert_eq!(repacked.bytes(), packed.bytes());
        prop_assert_eq!(&repacked, &packed);
        let mut buffer = vec![0xFF; 3];
        PackedAttributes::pack_to(&a, &mut buffer);
        prop_assert_eq!(&buffer[..], packed.bytes());
        prop_assert_eq!(PackedAttributes::from_packed(&buffer), packed);
    }

    #[test]
    fn packed_bytes_are_equal_exactly_when_sets_are(a in stored(), b in stored()) {
        let (pa, pb) = (PackedAttributes::pack(&a), PackedAttributes::pack(&b));
        prop_assert_eq!(pa == pb, a == b);
    }

    #[test]
    fn packed_as_path_contains_matches_the_path(a in stored(), asn in any::<u32>(), pick in any::<prop::sample::Index>()) {
        let packed = PackedAttributes::pack(&a);
        prop_assert_eq!(packed.as_path_contains(asn), a.as_path.contains(asn));
        let asns: Vec<u32> = a.as_path.segments.iter().flat_map(|s| s.asns.iter().copied()).collect();
        if !asns.is_empty() {
            prop_assert!(packed.as_path_contains(asns[pick.index(asns.len())]));
        }
    }
}

/// An empty set packs to its two bit sets, and one with only an AS path
/// costs a byte per count and four per ASN.
#[test]
fn packed_sizes() {
    assert_eq!(PackedAttributes::pack(&PathAttributes::default()).bytes(), &[0, 0]);
    let a = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: AsPath::from_sequence([65001, 65002, 65003]),
        ..PathAttributes::default()
    };
    assert_eq!(PackedAttributes::pack(&a).bytes().len(), 1 + 1 + 1 + 1 + 1 + 1 + 12);
    assert_eq!(PackedAttributes::pack(&a).unpack(), a);
}
