//! Golden vectors captured from real sessions: FRR 8.4.4 (AS 65002, router id
//! 192.0.2.2) peering BIRD 2.0.12 (AS 65001, router id 192.0.2.1) over a veth
//! pair between two network namespaces, IPv4 (192.0.2.0/24) and IPv6
//! (2001:db8::/64) sessions, recorded with `tcpdump -w` on 2026-11-25 and cut
//! into messages by their length fields.
//!
//! BIRD's messages are checked both ways (decode to the struct, encode back
//! to the same bytes): it orders attributes as we do and puts all
//! capabilities in one optional parameter. FRR's are checked decode-wise and
//! for a stable re-encode: FRR sends one optional parameter per capability
//! and AS_PATH always in the extended-length form, both legal but not ours.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::wire::open::capability_code;

const MARKER: &str = "ffffffffffffffffffffffffffffffff";

fn captured(hex: &str) -> Vec<u8> {
    bytes(&format!("{MARKER}{hex}"))
}

/// FRR's OPEN to BIRD on the IPv4 session.
const FRR_OPEN: &str = "00630104fdea00b4c0000202460206010400010001020280000202020002024600020641040000fdea020206000206450400010101020b490907667272706565720002044002c0780209470700010180000000";
/// BIRD's OPEN to FRR on the IPv4 session.
const BIRD_OPEN: &str =
    "00350104fde900f0c000020118021601040001000102004002007841040000fde946004700";
/// BIRD → FRR: 203.0.113.0/26 with a community and a large community.
const BIRD_UPDATE_COMMUNITIES: &str = "0046020000002a4001010040020602010000fde9400304c0000201c00804fde9002ac0200c0000fde900000007000000081acb007100";
/// BIRD → FRR: 198.51.100.128/25, plain.
const BIRD_UPDATE_PLAIN: &str = "003002000000144001010040020602010000fde9400304c000020119c6336480";
/// BIRD → FRR on the IPv6 session: 2001:db8:200::/48 in MP_REACH_NLRI with a
/// global and a link-local next hop.
const BIRD_UPDATE_IPV6: &str = "005b0200000044900e002c0002012020010db8000000000000000000000001fe800000000000009022c5fffe0abf3d003020010db802004001010040020602010000fde9c00804fde90042";
/// End-of-RIB, IPv4 unicast (both daemons send the same bytes).
const END_OF_RIB_IPV4: &str = "00170200000000";
/// End-of-RIB, IPv6 unicast (both daemons).
const END_OF_RIB_IPV6: &str = "001d0200000006800f03000201";
const KEEPALIVE: &str = "001304";
/// BIRD's Cease / Administrative Shutdown when it was stopped.
const BIRD_CEASE: &str = "0015030602";
/// FRR → BIRD: 203.0.113.0/26 passed back with AS_PATH 65002 65001.
const FRR_UPDATE_COMMUNITIES: &str = "004b020000002f400101005002000a02020000fdea0000fde9400304c0000202c00804fde9002ac0200c0000fde900000007000000081acb007100";
/// FRR → BIRD: its own 203.0.113.128/25, with MED 0.
const FRR_UPDATE_MED: &str =
    "0038020000001c400101005002000602010000fdea400304c00002028004040000000019cb007180";
/// FRR → BIRD on the IPv6 session: 2001:db8:100::/48, MED 0, community 65002:600.
const FRR_UPDATE_IPV6: &str = "0053020000003c900e001c0002011020010db8000000000000000000000002003020010db80100400101005002000602010000fdea80040400000000c00804fdea0258";
/// FRR's ROUTE-REFRESH for IPv4 unicast (`clear bgp ... soft in`).
const FRR_ROUTE_REFRESH: &str = "00170500010001";
/// FRR's Cease / Administrative Shutdown with an RFC 9003 message
/// (`neighbor ... shutdown message maintenance`).
const FRR_SHUTDOWN: &str = "00210306020b6d61696e74656e616e6365";

fn sequence(asns: &[u32]) -> AsPath {
    AsPath::from_sequence(asns.iter().copied())
}

#[test]
fn bird_open_both_ways() {
    let expected = Message::Open(OpenMessage {
        version: 4,
        my_as: 65001,
        hold_time: 240,
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        capabilities: vec![
            Capability::Multiprotocol(Family::Ipv4Unicast.afi_safi()),
            Capability::RouteRefresh { cisco: false },
            Capability::GracefulRestart(GracefulRestartCapability {
                restart_state: false,
                notification: false,
                restart_time: 120,
                families: vec![],
            }),
            Capability::FourOctetAs(65001),
            Capability::EnhancedRouteRefresh,
            // Long-lived graceful restart (code 71): not ours, kept raw.
            Capability::Unknown { code: 71, value: bytes::Bytes::new() },
        ],
    });
    both_ways(&captured(BIRD_OPEN), &expected, &CodecOptions::default());
}

#[test]
fn frr_open_decodes() {
    let Message::Open(open) = stable(&captured(FRR_OPEN), &CodecOptions::default()) else {
        panic!("not an OPEN");
    };
    assert_eq!(
        (open.my_as, open.hold_time, open.router_id),
        (65002, 180, Ipv4Addr::new(192, 0, 2, 2))
    );
    assert_eq!(open.asn(), 65002);
    assert_eq!(
        open.capabilities,
        vec![
            Capability::Multiprotocol(Family::Ipv4Unicast.afi_safi()),
            Capability::RouteRefresh { cisco: true },
            Capability::RouteRefresh { cisco: false },
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(65002),
            Capability::ExtendedMessage,
            Capability::AddPath(vec![AddPathFamily {
                afi_safi: Family::Ipv4Unicast.afi_safi(),
                mode: AddPathMode::Receive,
            }]),
            Capability::Fqdn { hostname: "frrpeer".into(), domain: String::new() },
            Capability::GracefulRestart(GracefulRestartCapability {
                restart_state: true,
                notification: true,
                restart_time: 120,
                families: vec![],
            }),
            Capability::Unknown {
                code: 71,
                value: bytes::Bytes::from_static(&[0, 1, 1, 0x80, 0, 0, 0])
            },
        ]
    );
    let bird = match decode_message(&captured(BIRD_OPEN), &CodecOptions::default()).unwrap() {
        Decoded::Open(open) => open,
        other => panic!("{other:?}"),
    };
    let negotiated = CodecOptions::negotiated(&open, &bird);
    assert!(
        negotiated.four_octet_as
            && negotiated.enhanced_route_refresh
            && !negotiated.extended_message
    );
    assert!(
        open.capabilities.iter().any(
            |c| matches!(c, Capability::Unknown { code, .. } if *code != capability_code::FQDN)
        )
    );
}

#[test]
fn bird_update_with_communities_both_ways() {
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: sequence(&[65001]),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        communities: vec![Community((65001 << 16) | 42)],
        large_communities: vec![LargeCommunity {
            global_admin: 65001,
            local_data_1: 7,
            local_data_2: 8,
        }],
        ..PathAttributes::default()
    };
    let update = UpdateMessage {
        attributes,
        nlri: vec![nlri("203.0.113.0/26")],
        ..UpdateMessage::default()
    };
    both_ways(
        &captured(BIRD_UPDATE_COMMUNITIES),
        &Message::Update(Box::new(update)),
        &four_octet(),
    );
}

#[test]
fn bird_update_plain_both_ways() {
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: sequence(&[65001]),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ..PathAttributes::default()
    };
    let update = UpdateMessage {
        attributes,
        nlri: vec![nlri("198.51.100.128/25")],
        ..UpdateMessage::default()
    };
    both_ways(&captured(BIRD_UPDATE_PLAIN), &Message::Update(Box::new(update)), &four_octet());
}

#[test]
fn bird_ipv6_mp_reach_both_ways() {
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: sequence(&[65001]),
        communities: vec![Community((65001 << 16) | 66)],
        ..PathAttributes::default()
    };
    let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let link_local: Ipv6Addr = "fe80::9022:c5ff:fe0a:bf3d".parse().unwrap();
    let update = UpdateMessage {
        attributes,
        mp_reach: Some(MpReach {
            family: Family::Ipv6Unicast,
            next_hop: NextHop::V6 { global, link_local: Some(link_local) },
            nlri: vec![nlri("2001:db8:200::/48")],
        }),
        ..UpdateMessage::default()
    };
    both_ways(&captured(BIRD_UPDATE_IPV6), &Message::Update(Box::new(update)), &four_octet());
}

#[test]
fn end_of_rib_both_ways() {
    for (hex, family) in
        [(END_OF_RIB_IPV4, Family::Ipv4Unicast), (END_OF_RIB_IPV6, Family::Ipv6Unicast)]
    {
        let frame = captured(hex);
        let update = UpdateMessage::end_of_rib(family);
        both_ways(&frame, &Message::Update(Box::new(update)), &four_octet());
        assert_eq!(decode_update(&frame, &four_octet()).update.end_of_rib_family(), Some(family));
    }
}

#[test]
fn keepalive_and_bird_cease_both_ways() {
    both_ways(&captured(KEEPALIVE), &Message::Keepalive, &CodecOptions::default());
    let cease = Notification::new(NotificationKind::AdministrativeShutdown, bytes::Bytes::new());
    both_ways(&captured(BIRD_CEASE), &Message::Notification(cease), &CodecOptions::default());
}

#[test]
fn frr_route_refresh_and_shutdown_both_ways() {
    let refresh =
        RouteRefresh { afi_safi: Family::Ipv4Unicast.afi_safi(), subtype: RefreshSubtype::Request };
    both_ways(
        &captured(FRR_ROUTE_REFRESH),
        &Message::RouteRefresh(refresh),
        &CodecOptions::default(),
    );
    let shutdown = Notification::shutdown(NotificationKind::AdministrativeShutdown, "maintenance");
    both_ways(
        &captured(FRR_SHUTDOWN),
        &Message::Notification(shutdown.clone()),
        &CodecOptions::default(),
    );
    assert_eq!(shutdown.shutdown_message(), Some("maintenance"));
}

#[test]
fn frr_updates_decode() {
    let Message::Update(update) = stable(&captured(FRR_UPDATE_COMMUNITIES), &four_octet()) else {
        panic!("not an UPDATE");
    };
    assert_eq!(update.attributes.as_path, sequence(&[65002, 65001]));
    assert_eq!(update.attributes.next_hop, Some(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(update.attributes.communities, vec![Community((65001 << 16) | 42)]);
    assert_eq!(update.attributes.large_communities.len(), 1);
    assert_eq!(update.nlri, vec![nlri("203.0.113.0/26")]);

    let Message::Update(update) = stable(&captured(FRR_UPDATE_MED), &four_octet()) else {
        panic!("not an UPDATE");
    };
    assert_eq!(update.attributes.med, Some(0));
    assert_eq!(update.nlri, vec![nlri("203.0.113.128/25")]);

    let Message::Update(update) = stable(&captured(FRR_UPDATE_IPV6), &four_octet()) else {
        panic!("not an UPDATE");
    };
    let reach = update.mp_reach.as_ref().unwrap();
    assert_eq!(
        reach.next_hop,
        NextHop::V6 { global: "2001:db8::2".parse().unwrap(), link_local: None }
    );
    assert_eq!(reach.nlri, vec![nlri("2001:db8:100::/48")]);
    assert_eq!(update.attributes.communities, vec![Community((65002 << 16) | 600)]);
    assert_eq!(update.attributes.med, Some(0));
}

#[test]
fn captured_frames_frame_exactly() {
    let mut stream = Vec::new();
    for hex in [FRR_OPEN, KEEPALIVE, FRR_UPDATE_COMMUNITIES, END_OF_RIB_IPV4, FRR_SHUTDOWN] {
        stream.extend(captured(hex));
    }
    let mut rest = &stream[..];
    let mut count = 0;
    while !rest.is_empty() {
        assert_eq!(frame_length(&rest[..rest.len().min(10)], 4096).unwrap(), None);
        let length = frame_length(rest, 4096).unwrap().unwrap();
        decode_message(&rest[..length], &four_octet()).unwrap();
        rest = &rest[length..];
        count += 1;
    }
    assert_eq!(count, 5);
}

/// Second capture, same setup with a wrong remote AS configured on each side:
/// BIRD's Bad Peer AS carries FRR's 4-octet ASN as data...
const BIRD_BAD_PEER_AS: &str = "00190302020000fdea";
/// ... and FRR's carries BIRD's ASN in two octets.
const FRR_BAD_PEER_AS: &str = "0017030202fde9";

#[test]
fn bad_peer_as_notifications_both_ways() {
    for (hex, data) in
        [(BIRD_BAD_PEER_AS, &[0, 0, 0xfd, 0xea][..]), (FRR_BAD_PEER_AS, &[0xfd, 0xe9][..])]
    {
        let notification = Notification::new(NotificationKind::BadPeerAs, data.to_vec());
        both_ways(&captured(hex), &Message::Notification(notification), &CodecOptions::default());
    }
}
