//! ironlb bgpd sessions against FRR 8.4 and BIRD 2.0.12: eBGP and iBGP, IPv4 and IPv6 over
//! MP-BGP, 4-octet ASNs, 2-octet-only peers, MD5, passive and active opening.
//!
//! Every test uses the standard pair of `common` (bgpd left at 192.0.2.1 / 2001:db8::1, the
//! peer right at 192.0.2.2 / 2001:db8::2). bgpd has no query interface yet, so each test checks
//! what the peer learned from it.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use interop_tests::bgpd::{BgpdNeighbor, BgpdRoute};
use interop_tests::bird::{Bird, BirdBgp, BirdConfig};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor, FrrNetwork};
use interop_tests::tcpdump::Capture;
use interop_tests::topology::{line, pair};
use interop_tests::{Check, hold_for};

#[test]
fn ebgp_with_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002).route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");

    // 1. Established. 2. Our config route arrives with our AS and next hop.
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("eBGP session with FRR");
    let route = bgpd
        .annotate(frr.wait_route(net("198.51.100.10/32"), ROUTE, |_| true, pair.left_v4))
        .check("FRR learns our route");
    assert_eq!(route.as_path, "65001");
    assert_eq!(route.next_hops, ["192.0.2.1"]);
}

#[test]
fn ebgp_with_bird() {
    let pair = pair("bgpd", "bird").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002).route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let bird = Bird::start(&pair.right, &bird_towards_bgpd(65002, 65001, pair.left_v4))
        .check("BIRD starts");

    bgpd.annotate(bird.wait_established("ironlb", UP)).check("eBGP session with BIRD");
    let route = bgpd
        .annotate(bird.wait_route(net("198.51.100.10/32"), ROUTE, |_| true, "ironlb"))
        .check("BIRD learns our route");
    assert_eq!(route.as_path, "65001");
    assert_eq!(route.next_hop.as_deref(), Some("192.0.2.1"));
}

#[test]
fn ibgp_with_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65001)
            .route(BgpdRoute { local_pref: 200, ..BgpdRoute::new(net("198.51.100.10/32")) }),
    );
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65001, 65001, pair.left_v4)).check("FRR starts");

    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("iBGP session with FRR");
    let route = bgpd
        .annotate(frr.wait_route(
            net("198.51.100.10/32"),
            ROUTE,
            |r| r.local_pref == Some(200),
            pair.left_v4,
        ))
        .check("FRR learns our route with LOCAL_PREF 200");
    assert_eq!(route.as_path, "", "iBGP adds no AS");
}

#[test]
fn ibgp_with_bird() {
    let pair = pair("bgpd", "bird").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65001)
            .route(BgpdRoute { local_pref: 200, ..BgpdRoute::new(net("198.51.100.10/32")) }),
    );
    let bird = Bird::start(&pair.right, &bird_towards_bgpd(65001, 65001, pair.left_v4))
        .check("BIRD starts");

    bgpd.annotate(bird.wait_established("ironlb", UP)).check("iBGP session with BIRD");
    let route = bgpd
        .annotate(bird.wait_route(
            net("198.51.100.10/32"),
            ROUTE,
            |r| r.local_pref == Some(200),
            "ironlb",
        ))
        .check("BIRD learns our route with LOCAL_PREF 200");
    assert_eq!(route.as_path, "");
}

#[test]
fn ipv4_and_ipv6_unicast_on_one_session_with_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let neighbor = BgpdNeighbor::new(pair.right_v4, 65002).families(&both_families());
    let bgpd = start_bgpd(
        &pair.left,
        &interop_tests::bgpd::BgpdConfig::new(65001, OURS)
            .neighbor(neighbor)
            .route(BgpdRoute::new(net("198.51.100.10/32")))
            .route(BgpdRoute {
                next_hop: Some(pair.left_v6),
                ..BgpdRoute::new(net("2001:db8:ffff::/48"))
            }),
    );
    let frr = Frr::start(
        &pair.right,
        &FrrConfig::new(65002, THEIRS)
            .neighbor(FrrNeighbor::new(pair.left_v4, 65001).families(&both_families())),
    )
    .check("FRR starts");

    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session with FRR");
    bgpd.annotate(frr.wait_route(net("198.51.100.10/32"), ROUTE, |_| true, pair.left_v4))
        .check("FRR learns the IPv4 route");
    let v6 = bgpd
        .annotate(frr.wait_route(net("2001:db8:ffff::/48"), ROUTE, |_| true, pair.left_v4))
        .check("FRR learns the IPv6 route over MP_REACH_NLRI");
    assert!(v6.next_hops.iter().any(|h| h == "2001:db8::1"), "{v6:?}");
}

#[test]
fn ipv6_unicast_over_an_ipv6_session_with_bird() {
    let pair = pair("bgpd", "bird").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v6, 65002).route(BgpdRoute::new(net("2001:db8:ffff::/48"))),
    );
    let bird = Bird::start(&pair.right, &bird_towards_bgpd(65002, 65001, pair.left_v6))
        .check("BIRD starts");

    bgpd.annotate(bird.wait_established("ironlb", UP)).check("IPv6 session with BIRD");
    let route = bgpd
        .annotate(bird.wait_route(net("2001:db8:ffff::/48"), ROUTE, |_| true, "ironlb"))
        .check("BIRD learns the IPv6 route");
    assert_eq!(route.as_path, "65001");
    assert_eq!(route.next_hop.as_deref(), Some("2001:db8::1"));
}

#[test]
fn four_octet_asn_on_our_side() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(4_200_000_001, pair.right_v4, 65002)
            .route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let frr = Frr::start(&pair.right, &frr_towards_bgpd(65002, 4_200_000_001, pair.left_v4))
        .check("FRR starts");

    let route = bgpd
        .annotate(frr.wait_route(net("198.51.100.10/32"), UP, |_| true, pair.left_v4))
        .check("FRR learns our route");
    assert_eq!(route.as_path, "4200000001");
}

#[test]
fn four_octet_asn_on_their_side() {
    let pair = pair("bgpd", "bird").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 4_200_000_002)
            .route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let bird = Bird::start(&pair.right, &bird_towards_bgpd(4_200_000_002, 65001, pair.left_v4))
        .check("BIRD starts");

    bgpd.annotate(bird.wait_established("ironlb", UP)).check("session with AS4200000002");
    let route = bgpd
        .annotate(bird.wait_route(net("198.51.100.10/32"), ROUTE, |_| true, "ironlb"))
        .check("BIRD learns our route");
    assert_eq!(route.as_path, "65001");
}

/// FRR sends no capabilities (`dont-capability-negotiate`), so the session is 2-octet: our
/// AS 4200000001 must travel as AS_TRANS (23456) in a 2-octet AS_PATH plus an AS4_PATH
/// carrying the real number (RFC 6793 §4.2.2). FRR itself shows 23456 (it ignores AS4_PATH
/// from a peer that advertised the AS4 capability), so the wire is checked directly.
#[test]
fn two_octet_frr_gets_as_trans_and_as4_path() {
    let pair = pair("bgpd", "frr2").check("topology");
    let capture = Capture::start(&pair.left, &pair.interfaces.0).check("tcpdump");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(4_200_000_001, pair.right_v4, 65002)
            .route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let frr = Frr::start(
        &pair.right,
        &FrrConfig::new(65002, THEIRS)
            .neighbor(FrrNeighbor::new(pair.left_v4, 4_200_000_001).dont_capability_negotiate()),
    )
    .check("FRR starts");

    let route = bgpd
        .annotate(frr.wait_route(net("198.51.100.10/32"), UP, |_| true, pair.left_v4))
        .check("FRR learns our route");
    assert_eq!(route.as_path, "23456", "a 2-octet AS_PATH with AS_TRANS");
    let update = capture
        .messages_so_far()
        .check("pcap")
        .into_iter()
        .find(|m| m.from.ip() == pair.left_v4 && !m.path_attributes().is_empty())
        .expect("an UPDATE from bgpd on the wire");
    let attributes = update.path_attributes();
    let value = |code: u8| attributes.iter().find(|(c, _)| *c == code).map(|(_, v)| v.clone());
    // AS_SEQUENCE of one 2-octet AS: 23456.
    assert_eq!(value(2), Some(vec![2, 1, 0x5b, 0xa0]), "AS_PATH");
    // AS4_PATH: AS_SEQUENCE of one 4-octet AS: 4200000001.
    let mut as4_path = vec![2, 1];
    as4_path.extend_from_slice(&4_200_000_001u32.to_be_bytes());
    assert_eq!(value(17), Some(as4_path), "AS4_PATH");
}

/// ```text
///   [FRR AS4200000002] ── eBGP ── [bgpd AS65001] ── eBGP, 2-octet ── [BIRD AS65003 as4 off]
/// ```
/// bgpd must send AS_PATH "65001 23456" with AS4_PATH "65001 4200000002"; BIRD merges them.
#[test]
fn two_octet_bird_sees_a_four_octet_path_through_bgpd() {
    let line = line(["frr", "bgpd", "bird2"]).check("topology");
    let first = ip("192.0.2.1");
    let middle_first = ip("192.0.2.2");
    let middle_last = ip("198.51.100.1");
    let last = ip("198.51.100.2");
    let _frr = Frr::start(
        &line.first,
        &FrrConfig::new(4_200_000_002, Ipv4Addr::new(192, 0, 2, 1))
            .neighbor(FrrNeighbor::new(middle_first, 65001))
            .network(FrrNetwork::new(net("198.18.1.0/24"))),
    )
    .check("FRR starts");
    let bgpd = start_bgpd(
        &line.middle,
        &interop_tests::bgpd::BgpdConfig::new(65001, Ipv4Addr::new(192, 0, 2, 2))
            .neighbor(BgpdNeighbor::new(first, 4_200_000_002))
            .neighbor(BgpdNeighbor::new(last, 65003)),
    );
    let bird = Bird::start(
        &line.last,
        &BirdConfig::new(Ipv4Addr::new(198, 51, 100, 2))
            .bgp(BirdBgp::new("ironlb", 65003, middle_last, 65001).without_as4()),
    )
    .check("BIRD starts");

    let route = bgpd
        .annotate(bird.wait_route(net("198.18.1.0/24"), UP, |_| true, "ironlb"))
        .check("BIRD learns FRR's route through bgpd");
    assert_eq!(route.as_path, "65001 4200000002");
}

#[test]
fn md5_with_the_right_password() {
    let pair = pair("bgpd", "frr").check("topology");
    let mut capture = Capture::start(&pair.left, &pair.interfaces.0).check("tcpdump");
    let bgpd = start_bgpd(
        &pair.left,
        &interop_tests::bgpd::BgpdConfig::new(65001, OURS)
            .neighbor(BgpdNeighbor::new(pair.right_v4, 65002).password("s3cret")),
    );
    let frr = Frr::start(
        &pair.right,
        &FrrConfig::new(65002, THEIRS)
            .neighbor(FrrNeighbor::new(pair.left_v4, 65001).password("s3cret")),
    )
    .check("FRR starts");

    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("MD5 session");
    assert!(capture.md5_valid("s3cret").check("tcpdump -M"), "every segment signed");
}

#[test]
fn md5_with_a_wrong_password() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &interop_tests::bgpd::BgpdConfig::new(65001, OURS)
            .neighbor(BgpdNeighbor::new(pair.right_v4, 65002).password("wrong")),
    );
    let frr = Frr::start(
        &pair.right,
        &FrrConfig::new(65002, THEIRS)
            .neighbor(FrrNeighbor::new(pair.left_v4, 65001).password("right")),
    )
    .check("FRR starts");

    bgpd.annotate(hold_for(
        "no Established with mismatched MD5 passwords",
        Duration::from_secs(10),
        Duration::from_millis(250),
        || !frr.is_established(pair.left_v4),
        || frr.describe(pair.left_v4),
    ))
    .check("the session stays down");
    let mut bgpd = bgpd;
    bgpd.check_running().check("bgpd survives refused connections");
}

#[test]
fn our_side_passive() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &interop_tests::bgpd::BgpdConfig::new(65001, OURS)
            .neighbor(BgpdNeighbor::new(pair.right_v4, 65002).passive())
            .route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");

    bgpd.annotate(frr.wait_route(net("198.51.100.10/32"), UP, |_| true, pair.left_v4))
        .check("FRR connects to passive bgpd and learns our route");
}

#[test]
fn our_side_active() {
    let pair = pair("bgpd", "bird").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002).route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let bird = Bird::start(
        &pair.right,
        &BirdConfig::new(THEIRS).bgp(BirdBgp::new("ironlb", 65002, pair.left_v4, 65001).passive()),
    )
    .check("BIRD starts");

    bgpd.annotate(bird.wait_route(net("198.51.100.10/32"), UP, |_| true, "ironlb"))
        .check("bgpd connects to passive BIRD");
}

/// GTSM (RFC 5082) on both ends: FRR drops segments that arrive with a TTL below 255, so the
/// session comes up only if bgpd sends TTL 255, and bgpd's IP_MINTTL must accept FRR's.
#[test]
fn gtsm_with_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &interop_tests::bgpd::BgpdConfig::new(65001, OURS)
            .neighbor(BgpdNeighbor::new(pair.right_v4, 65002).ttl_security(1))
            .route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let mut neighbor = FrrNeighbor::new(pair.left_v4, 65001);
    neighbor.ttl_security = Some(1);
    let frr =
        Frr::start(&pair.right, &FrrConfig::new(65002, THEIRS).neighbor(neighbor)).check("FRR");
    bgpd.annotate(frr.wait_route(net("198.51.100.10/32"), UP, |_| true, pair.left_v4))
        .check("GTSM session carries our route");
}

/// GTSM on our side only: FRR sends eBGP segments with TTL 1, which our IP_MINTTL of 255
/// drops. FRR's OPEN may slip in before the accepted socket gets IP_MINTTL (the listener is
/// shared by every neighbour), so FRR can believe in the session for a while; but bgpd never
/// hears FRR's KEEPALIVE, never reaches Established and so never sends its route.
#[test]
fn gtsm_drops_a_peer_that_does_not_send_ttl_255() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &interop_tests::bgpd::BgpdConfig::new(65001, OURS)
            .neighbor(BgpdNeighbor::new(pair.right_v4, 65002).ttl_security(1))
            .route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");
    bgpd.annotate(hold_for(
        "no route from bgpd when the peer's TTL is 1",
        Duration::from_secs(6),
        Duration::from_millis(250),
        || matches!(frr.route(net("198.51.100.10/32")), Ok(None)),
        || frr.describe(pair.left_v4),
    ))
    .check("nothing crosses the session");
}
