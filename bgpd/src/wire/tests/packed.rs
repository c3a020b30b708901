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

/// No next hop, IPv4, IPv6 with and without a link-local address.
fn next_hop() -> impl Strategy<Value = Option<NextHop>> {
    prop_oneof![
        Just(None),
        any::<[u8; 4]>().prop_map(|a| Some(NextHop::V4(a.into()))),
        (any::<[u8; 16]>(), proptest::option::of(any::<[u8; 16]>())).prop_map(|(g, l)| {
            Some(NextHop::V6 { global: g.into(), link_local: l.map(Into::into) })
        }),
    ]
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

    /// Unpacking into a set that held another one (the export path's
    /// scratch) gives exactly what a fresh unpack gives: nothing of the
    /// earlier set is left, whatever lists and segments each had.
    #[test]
    fn unpacking_into_a_used_set_leaves_nothing_of_it(
        a in stored(),
        b in stored(),
        hop in next_hop(),
    ) {
        let mut scratch = a.clone();
        PackedAttributes::pack_route(&b, hop, false).unpack_into(&mut scratch);
        prop_assert_eq!(&scratch, &b);
        PackedAttributes::pack(&a).unpack_into(&mut scratch);
        prop_assert_eq!(&scratch, &a);
    }

    #[test]
    fn packed_bytes_are_equal_exactly_when_sets_are(a in stored(), b in stored()) {
        let (pa, pb) = (PackedAttributes::pack(&a), PackedAttributes::pack(&b));
        prop_assert_eq!(pa == pb, a == b);
    }

    /// The route form carries the next hop and flag after the attributes:
    /// unpacking reads the attributes alone, the next hop and flag come
    /// back, the AS_PATH check is not misled by the trailer, and two route
    /// forms are equal exactly when attributes, next hop and flag are
    /// (`same_route`: all but the flag).
    #[test]
    fn route_form_round_trips_and_compares(
        a in stored(),
        b in stored(),
        hops in (next_hop(), next_hop()),
        flags in (any::<bool>(), any::<bool>()),
        asn in any::<u32>(),
    ) {
        let (nh_a, nh_b) = hops;
        let pa = PackedAttributes::pack_route(&a, nh_a, flags.0);
        prop_assert_eq!(&pa.unpack(), &a);
        prop_assert_eq!(pa.route_next_hop(), nh_a);
        prop_assert_eq!(pa.route_flag(), flags.0);
        prop_assert_eq!(pa.as_path_contains(asn), a.as_path.contains(asn));
        let mut buffer = vec![0xFF; 7];
        PackedAttributes::pack_route_to(&a, nh_a, flags.0, &mut buffer);
        prop_assert_eq!(&buffer[..], pa.bytes());
        let pb = PackedAttributes::pack_route(&b, nh_b, flags.1);
        prop_assert_eq!(pa == pb, a == b && nh_a == nh_b && flags.0 == flags.1);
        prop_assert_eq!(pa.same_route(&pb), a == b && nh_a == nh_b);
        let unflagged = PackedAttributes::pack_route(&a, nh_a, !flags.0);
        prop_assert!(pa.same_route(&unflagged) && pa != unflagged);
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

/// One announcement of `set` as the packer writes it, or its error.
fn announced<A: AttributeSource + ?Sized>(
    set: &A,
    options: CodecOptions,
    family: Family,
    next_hop: Option<NextHop>,
) -> Result<Vec<u8>, EncodeError> {
    let prefix = match family {
        Family::Ipv4Unicast => "203.0.113.0/24",
        Family::Ipv6Unicast => "2001:db8::/32",
    };
    let nlri = [Nlri::new(prefix.parse().expect("a prefix"))];
    let mut out = BytesMut::new();
    UpdatePacker::new(options).announce(set, family, next_hop, nlri, &mut out)?;
    Ok(out.to_vec())
}

proptest! {
    /// The encoder writes the same bytes (or fails the same way) whether it
    /// reads a set or its packed form in place: export batches carry packed
    /// sets to the sessions, which encode them without unpacking.
    #[test]
    fn a_packed_set_encodes_as_the_set_itself(
        a in stored(),
        four_octet_as in any::<bool>(),
        extended_message in any::<bool>(),
        route in 0..3u8,
    ) {
        let options = CodecOptions { four_octet_as, extended_message, ..CodecOptions::default() };
        let (family, next_hop) = match route {
            0 => (Family::Ipv4Unicast, None),
            1 => (Family::Ipv4Unicast, Some(NextHop::V4("192.0.2.1".parse().expect("an address")))),
            _ => (
                Family::Ipv6Unicast,
                Some(NextHop::V6 { global: "2001:db8::1".parse().expect("an address"), link_local: None }),
            ),
        };
        let packed = PackedAttributes::pack(&a);
        let direct = announced(&a, options, family, next_hop);
        let from_packed = announced(&packed.view(), options, family, next_hop);
        prop_assert_eq!(&direct, &from_packed);
        // The RIB's route form (a next hop and flag after the set) reads
        // the same: the view stops where the attributes end.
        let route_form = PackedAttributes::pack_route(&a, next_hop, route == 2);
        let from_route = announced(&route_form.view(), options, family, next_hop);
        prop_assert_eq!(direct, from_route);
    }
}

/// AS_PATH segments longer than 255 ASNs are split the same way from the
/// packed form, for 4-octet and 2-octet (AS4_PATH) sessions alike.
#[test]
fn long_segments_split_the_same_from_the_packed_form() {
    let mut a = PathAttributes {
        origin: Some(Origin::Igp),
        next_hop: Some("192.0.2.1".parse().expect("an address")),
        ..PathAttributes::default()
    };
    a.as_path.segments.push(AsSegment {
        kind: SegmentType::Sequence,
        asns: (0..600).map(|i| 65_536 + i).collect(),
    });
    let packed = PackedAttributes::pack(&a);
    for four_octet_as in [true, false] {
        let options = CodecOptions { four_octet_as, ..CodecOptions::default() };
        let direct = announced(&a, options, Family::Ipv4Unicast, None);
        assert!(direct.is_ok());
        assert_eq!(direct, announced(&packed.view(), options, Family::Ipv4Unicast, None));
    }
}
