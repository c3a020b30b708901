//! Golden vectors written octet by octet from the RFC diagrams (the RFCs give
//! no byte examples for these), checked both ways: every capability, every
//! attribute, AS4_PATH generation, ADD-PATH, enhanced route refresh subtypes.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::*;
use crate::wire::message_type as t;

fn asn_sequence(kind: SegmentType, asns: &[u32]) -> AsSegment {
    AsSegment { kind, asns: asns.to_vec() }
}

fn full_open() -> OpenMessage {
    OpenMessage {
        version: 4,
        my_as: open::AS_TRANS,
        hold_time: 90,
        router_id: Ipv4Addr::new(203, 0, 113, 7),
        capabilities: vec![
            Capability::Multiprotocol(Family::Ipv4Unicast.afi_safi()),
            Capability::Multiprotocol(Family::Ipv6Unicast.afi_safi()),
            Capability::RouteRefresh { cisco: false },
            Capability::RouteRefresh { cisco: true },
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(4_200_000_001),
            Capability::GracefulRestart(GracefulRestartCapability {
                restart_state: true,
                notification: true,
                restart_time: 300,
                families: vec![
                    GracefulRestartFamily {
                        afi_safi: Family::Ipv4Unicast.afi_safi(),
                        forwarding_preserved: true,
                    },
                    GracefulRestartFamily {
                        afi_safi: Family::Ipv6Unicast.afi_safi(),
                        forwarding_preserved: false,
                    },
                ],
            }),
            Capability::AddPath(vec![
                AddPathFamily { afi_safi: Family::Ipv4Unicast.afi_safi(), mode: AddPathMode::Both },
                AddPathFamily { afi_safi: Family::Ipv6Unicast.afi_safi(), mode: AddPathMode::Send },
            ]),
            Capability::ExtendedMessage,
            Capability::Fqdn { hostname: "node1".into(), domain: "example".into() },
            Capability::Unknown { code: 200, value: Bytes::from_static(&[1, 2, 3]) },
        ],
    }
}

/// The capabilities of [`full_open`], RFC 5492 §4 layout.
const FULL_CAPABILITIES: &str = "
    01 04 0001 00 01
    01 04 0002 00 01
    02 00
    80 00
    46 00
    41 04 fa56ea01
    40 0a c12c 0001 01 80 0002 01 00
    45 08 0001 01 03 0002 01 02
    06 00
    49 0e 05 6e6f646531 07 6578616d706c65
    c8 03 010203";

#[test]
fn open_with_every_capability_both_ways() {
    let capabilities = bytes(FULL_CAPABILITIES);
    let mut body = bytes("04 5ba0 005a cb007107");
    body.push(u8::try_from(capabilities.len() + 2).unwrap());
    body.push(2);
    body.push(u8::try_from(capabilities.len()).unwrap());
    body.extend(&capabilities);
    let open = full_open();
    assert_eq!(open.asn(), 4_200_000_001);
    both_ways(&frame(t::OPEN, &body), &Message::Open(open), &CodecOptions::default());
}

#[test]
fn open_rfc9072_extended_parameters_decode() {
    let capabilities = bytes(FULL_CAPABILITIES);
    let mut body = bytes("04 5ba0 005a cb007107 ff ff");
    body.extend(u16::try_from(capabilities.len() + 3).unwrap().to_be_bytes());
    body.push(2);
    body.extend(u16::try_from(capabilities.len()).unwrap().to_be_bytes());
    body.extend(&capabilities);
    let decoded = decode_message(&frame(t::OPEN, &body), &CodecOptions::default()).unwrap();
    assert_eq!(decoded, Decoded::Open(full_open()));
}

#[test]
fn open_with_many_capabilities_uses_rfc9072_form() {
    let mut open = full_open();
    open.capabilities = (0..60u8)
        .map(|i| Capability::Unknown { code: 150 + i, value: Bytes::from_static(&[0; 4]) })
        .collect();
    let encoded = encode(&Message::Open(open.clone()), &CodecOptions::default());
    assert_eq!(&encoded[28..30], &[0xFF, 0xFF]);
    assert_eq!(decode_message(&encoded, &CodecOptions::default()).unwrap(), Decoded::Open(open));
}

fn every_attribute() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Egp),
        as_path: AsPath {
            segments: vec![
                asn_sequence(SegmentType::ConfedSequence, &[64512, 64513]),
                asn_sequence(SegmentType::ConfedSet, &[64514]),
                asn_sequence(SegmentType::Sequence, &[65001, 4_200_000_000]),
                asn_sequence(SegmentType::Set, &[65010, 65011]),
            ],
        },
        next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
        med: Some(100),
        local_pref: Some(200),
        atomic_aggregate: true,
        aggregator: Some(Aggregator {
            asn: 4_200_000_000,
            address: Ipv4Addr::new(198, 51, 100, 2),
        }),
        communities: vec![Community::NO_EXPORT, Community((65001 << 16) | 1)],
        originator_id: Some(Ipv4Addr::new(192, 0, 2, 9)),
        cluster_list: vec![Ipv4Addr::new(192, 0, 2, 10), Ipv4Addr::new(192, 0, 2, 11)],
        extended_communities: vec![ExtendedCommunity([0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 7])],
        large_communities: vec![LargeCommunity {
            global_admin: 4_200_000_000,
            local_data_1: 1,
            local_data_2: 2,
        }],
        unknown: vec![UnknownAttribute {
            flags: 0xE0,
            type_code: 99,
            value: Bytes::from_static(&[9, 9]),
        }],
    }
}

#[test]
fn update_with_every_attribute_four_octet_both_ways() {
    let attributes = "
        40 01 01 01
        40 02 24 03 02 0000fc00 0000fc01  04 01 0000fc02  02 02 0000fde9 fa56ea00  01 02 0000fdf2 0000fdf3
        40 03 04 c6336401
        80 04 04 00000064
        40 05 04 000000c8
        40 06 00
        c0 07 08 fa56ea00 c6336402
        c0 08 08 ffffff01 fde90001
        80 09 04 c0000209
        80 0a 08 c000020a c000020b
        c0 10 08 0002fde900000007
        c0 20 0c fa56ea00 00000001 00000002
        e0 63 02 0909";
    let attributes = bytes(attributes);
    let mut body = bytes("0000");
    body.extend(u16::try_from(attributes.len()).unwrap().to_be_bytes());
    body.extend(attributes);
    body.extend(bytes("18 cb0071  20 c0000201"));
    let update = UpdateMessage {
        attributes: every_attribute(),
        nlri: vec![nlri("203.0.113.0/24"), nlri("192.0.2.1/32")],
        ..UpdateMessage::default()
    };
    both_ways(&frame(t::UPDATE, &body), &Message::Update(Box::new(update)), &four_octet());
}

#[test]
fn two_octet_session_generates_as4_attributes_both_ways() {
    // AS_PATH with AS_TRANS, AGGREGATOR with AS_TRANS, then AS4_PATH (no
    // confederation segments) and AS4_AGGREGATOR, RFC 6793 §4.2.2.
    let attributes = "
        40 01 01 00
        40 02 10 03 01 fc00  02 03 fde9 5ba0 fdea  01 01 fdf2
        40 03 04 c6336401
        c0 07 06 5ba0 c6336402
        c0 11 14 02 03 0000fde9 fa56ea00 0000fdea  01 01 0000fdf2
        c0 12 08 fa56ea00 c6336402";
    let attributes = bytes(attributes);
    let mut body = bytes("0000");
    body.extend(u16::try_from(attributes.len()).unwrap().to_be_bytes());
    body.extend(attributes);
    body.extend(bytes("18 cb0071"));
    let path = AsPath {
        segments: vec![
            asn_sequence(SegmentType::ConfedSequence, &[64512]),
            asn_sequence(SegmentType::Sequence, &[65001, 4_200_000_000, 65002]),
            asn_sequence(SegmentType::Set, &[65010]),
        ],
    };
    let update = UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: path,
            next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
            aggregator: Some(Aggregator {
                asn: 4_200_000_000,
                address: Ipv4Addr::new(198, 51, 100, 2),
            }),
            ..PathAttributes::default()
        },
        nlri: vec![nlri("203.0.113.0/24")],
        ..UpdateMessage::default()
    };
    both_ways(
        &frame(t::UPDATE, &body),
        &Message::Update(Box::new(update)),
        &CodecOptions::default(),
    );
}

#[test]
fn two_octet_session_sends_no_as4_path_when_not_needed() {
    let update = UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: AsPath::from_sequence([65001, 65002]),
            next_hop: Some(Ipv4Addr::new(198, 51, 100, 1)),
            ..PathAttributes::default()
        },
        nlri: vec![nlri("203.0.113.0/24")],
        ..UpdateMessage::default()
    };
    let body = bytes("0000 0014 40010100 4002 06 02 02 fde9 fdea 400304c6336401 18cb0071");
    both_ways(
        &frame(t::UPDATE, &body),
        &Message::Update(Box::new(update)),
        &CodecOptions::default(),
    );
}

#[test]
fn withdrawals_ipv4_and_mp_unreach_both_ways() {
    let body = bytes("0009 18cb0071 20c0000201  000e 800f 0b 0002 01 30 20010db80001 00");
    let update = UpdateMessage {
        withdrawn: vec![nlri("203.0.113.0/24"), nlri("192.0.2.1/32")],
        mp_unreach: Some(MpUnreach {
            family: Family::Ipv6Unicast,
            withdrawn: vec![nlri("2001:db8:1::/48"), nlri("::/0")],
        }),
        ..UpdateMessage::default()
    };
    both_ways(&frame(t::UPDATE, &body), &Message::Update(Box::new(update)), &four_octet());
}

#[test]
fn add_path_nlri_both_ways() {
    let options = CodecOptions {
        four_octet_as: true,
        add_path_receive: FamilySet::EMPTY.with(Family::Ipv4Unicast).with(Family::Ipv6Unicast),
        add_path_send: FamilySet::EMPTY.with(Family::Ipv4Unicast).with(Family::Ipv6Unicast),
        ..CodecOptions::default()
    };
    let body = bytes(
        "0000 0029
         900e 001e 0002 01 10 20010db8000000000000000000000001 00 00000007 20 20010db8
         40 01 01 02
         40 02 00
         00000001 18 cb0071  00000002 18 cb0071",
    );
    let prefix = |id| Nlri { prefix: "203.0.113.0/24".parse().unwrap(), path_id: Some(id) };
    let update = UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Incomplete),
            ..PathAttributes::default()
        },
        nlri: vec![prefix(1), prefix(2)],
        mp_reach: Some(MpReach {
            family: Family::Ipv6Unicast,
            next_hop: NextHop::V6 {
                global: "2001:db8::1".parse::<Ipv6Addr>().unwrap(),
                link_local: None,
            },
            nlri: vec![Nlri { prefix: "2001:db8::/32".parse().unwrap(), path_id: Some(7) }],
        }),
        ..UpdateMessage::default()
    };
    let frame = frame(t::UPDATE, &body);
    let decoded = decode_update(&frame, &options);
    // No NEXT_HOP with IPv4 NLRI: treat-as-withdraw; checked in errors.rs.
    assert!(decoded.outcome.treat_as_withdraw());
    assert_eq!(encode(&Message::Update(Box::new(update.clone())), &options), frame);
    let mut with_next_hop = update;
    with_next_hop.attributes.next_hop = Some(Ipv4Addr::new(192, 0, 2, 1));
    let encoded = encode(&Message::Update(Box::new(with_next_hop.clone())), &options);
    assert_eq!(
        to_message(decode_message(&encoded, &options).unwrap()),
        Message::Update(Box::new(with_next_hop))
    );
}

#[test]
fn route_refresh_subtypes_both_ways() {
    for (subtype, octet) in [
        (RefreshSubtype::Request, 0u8),
        (RefreshSubtype::BeginningOfRefresh, 1),
        (RefreshSubtype::EndOfRefresh, 2),
        (RefreshSubtype::Other(255), 255),
    ] {
        let refresh = RouteRefresh { afi_safi: Family::Ipv6Unicast.afi_safi(), subtype };
        let frame = frame(t::ROUTE_REFRESH, &[0, 2, octet, 1]);
        both_ways(&frame, &Message::RouteRefresh(refresh), &CodecOptions::default());
    }
}

#[test]
fn notification_with_data_both_ways() {
    // Bad Message Length carrying the length 5000 (RFC 4271 §6.1).
    let frame = frame(t::NOTIFICATION, &bytes("01 02 1388"));
    let notification = Notification::new(NotificationKind::BadMessageLength, vec![0x13, 0x88]);
    both_ways(&frame, &Message::Notification(notification), &CodecOptions::default());
    // An unknown code survives.
    let frame = super::frame(t::NOTIFICATION, &bytes("63 07 aabb"));
    let unknown = Notification { code: 0x63, subcode: 7, data: Bytes::from_static(&[0xaa, 0xbb]) };
    both_ways(&frame, &Message::Notification(unknown), &CodecOptions::default());
}

#[test]
fn unknown_transitive_attribute_gets_partial_bit() {
    let body = bytes("0000 0012 40010100 400200 400304c6336401 c0 63 01 07 18cb0071");
    let decoded = decode_update(&frame(t::UPDATE, &body), &four_octet());
    assert_eq!(decoded.update.attributes.unknown[0].flags, 0xC0);
    let encoded = encode(&Message::Update(Box::new(decoded.update)), &four_octet());
    assert_eq!(encoded[19 + 4 + 4 + 3 + 7], 0xE0);
    // Unknown optional non-transitive: dropped quietly.
    let body = bytes("0000 0012 40010100 400200 400304c6336401 80 63 01 07 18cb0071");
    let decoded = decode_update(&frame(t::UPDATE, &body), &four_octet());
    assert!(decoded.update.attributes.unknown.is_empty() && decoded.outcome.is_clean());
}

#[test]
fn extended_message_allows_large_updates() {
    let options = CodecOptions { extended_message: true, ..four_octet() };
    let communities: Vec<Community> = (0..2000).map(Community).collect();
    let update = UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            communities,
            ..PathAttributes::default()
        },
        nlri: vec![nlri("203.0.113.0/24")],
        ..UpdateMessage::default()
    };
    let message = Message::Update(Box::new(update));
    let encoded = encode(&message, &options);
    assert!(encoded.len() > 4096);
    assert_eq!(to_message(decode_message(&encoded, &options).unwrap()), message);
    let mut out = BytesMut::new();
    let error = encode_message(&message, &four_octet(), &mut out).unwrap_err();
    assert!(matches!(error, EncodeError::MessageTooLong { max: 4096, .. }));
    assert!(out.is_empty());
    assert!(decode_message(&encoded, &four_octet()).is_err());
}
