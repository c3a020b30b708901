//! Routes through ironlb bgpd: config routes with attributes, routes learned from one peer and
//! re-advertised to another (with attribute changes and withdrawals), route refresh, and two
//! bgpd processes peering with each other.

mod common;

use common::*;
use interop_tests::bgpd::{BgpdConfig, BgpdNeighbor, BgpdRoute};
use interop_tests::bird::{Bird, BirdBgp, BirdConfig, BirdStatic, BirdStaticRoute};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor, FrrNetwork};
use interop_tests::tcpdump::{Capture, UPDATE};
use interop_tests::topology::{ip, line, pair};
use interop_tests::{Check, Family, wait_until};
use std::net::Ipv4Addr;
use std::time::Duration;

#[test]
fn config_routes_reach_frr_with_attributes() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002)
            .route(route_with_attributes("198.51.100.10/32"))
            .route(BgpdRoute {
                next_hop: Some(ip([192, 0, 2, 1])),
                ..BgpdRoute::new(net("198.51.100.11/32"))
            }),
    );
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");

    let route = bgpd
        .annotate(frr.wait_route(net("198.51.100.10/32"), UP, |_| true, pair.left_v4))
        .check("FRR learns our route");
    assert_eq!(route.med, Some(50));
    assert_eq!(route.communities, ["65001:100", "65001:200"]);
    assert_eq!(route.large_communities, ["65001:1:2"]);
    assert_eq!(route.next_hops, ["192.0.2.1"]);
    bgpd.annotate(frr.wait_route(net("198.51.100.11/32"), ROUTE, |_| true, pair.left_v4))
        .check("FRR learns the route with an explicit next hop");
}

#[test]
fn config_routes_reach_bird_with_attributes() {
    let pair = pair("bgpd", "bird").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002).route(route_with_attributes("198.51.100.10/32")),
    );
    let bird = Bird::start(&pair.right, &bird_towards_bgpd(65002, 65001, pair.left_v4))
        .check("BIRD starts");

    let route = bgpd
        .annotate(bird.wait_route(net("198.51.100.10/32"), UP, |_| true, "ironlb"))
        .check("BIRD learns our route");
    assert_eq!(route.med, Some(50));
    assert_eq!(route.communities, ["65001:100", "65001:200"]);
    assert_eq!(route.large_communities, ["65001:1:2"]);
}

/// ```text
///   [FRR AS65002] 192.0.2.1 ── eBGP ── 192.0.2.2 [bgpd AS65001] 198.51.100.1 ── iBGP ──
///   198.51.100.2 [BIRD AS65001]
/// ```
/// MED may cross into iBGP, so BIRD sees FRR's MED as well as its communities.
#[test]
fn routes_cross_bgpd_both_ways_with_changes_and_withdrawals() {
    let line = line(["frr", "bgpd", "bird"]).check("topology");
    let frr_route = FrrNetwork {
        med: Some(10),
        communities: vec!["65002:1".into()],
        large_communities: vec!["65002:1:1".into()],
        ..FrrNetwork::new(net("198.18.1.0/24"))
    };
    let frr = Frr::start(
        &line.first,
        &FrrConfig::new(65002, Ipv4Addr::new(192, 0, 2, 1))
            .neighbor(FrrNeighbor::new(ip([192, 0, 2, 2]), 65001))
            .network(frr_route.clone()),
    )
    .check("FRR starts");
    let bgpd = start_bgpd(
        &line.middle,
        &BgpdConfig::new(65001, Ipv4Addr::new(192, 0, 2, 2))
            .neighbor(BgpdNeighbor::new(ip([192, 0, 2, 1]), 65002))
            // No IGP here: BIRD can only reach FRR's routes through us.
            .neighbor(BgpdNeighbor::new(ip([198, 51, 100, 2]), 65001).next_hop_self()),
    );
    let bird_origin = BirdStatic::new("origin", Family::Ipv4Unicast).route(BirdStaticRoute {
        communities: vec!["65001:7".into()],
        ..BirdStaticRoute::new(net("198.18.2.0/24"))
    });
    let bird_config = BirdConfig::new(Ipv4Addr::new(198, 51, 100, 2)).bgp(BirdBgp::new(
        "ironlb",
        65001,
        ip([198, 51, 100, 1]),
        65001,
    ));
    let mut bird = Bird::start(&line.last, &bird_config.clone().static_protocol(bird_origin))
        .check("BIRD starts");
    let frr_peer = ip([192, 0, 2, 2]);

    // 1. FRR → bgpd → BIRD with attributes.
    let at_bird = bgpd
        .annotate(bird.wait_route(net("198.18.1.0/24"), UP, |r| r.med == Some(10), "ironlb"))
        .check("BIRD learns FRR's route through bgpd");
    assert_eq!(at_bird.as_path, "65002");
    assert_eq!(at_bird.communities, ["65002:1"]);
    assert_eq!(at_bird.large_communities, ["65002:1:1"]);
    // 2. BIRD → bgpd → FRR.
    let at_frr = bgpd
        .annotate(frr.wait_route(net("198.18.2.0/24"), UP, |_| true, frr_peer))
        .check("FRR learns BIRD's route through bgpd");
    assert_eq!(at_frr.as_path, "65001");
    assert_eq!(at_frr.communities, ["65001:7"]);
    // 3. FRR changes MED, communities and large communities; BIRD follows.
    frr.announce(&FrrNetwork {
        med: Some(20),
        communities: vec!["65002:2".into()],
        large_communities: vec!["65002:2:2".into()],
        ..FrrNetwork::new(net("198.18.1.0/24"))
    })
    .check("vtysh");
    let changed = bgpd
        .annotate(bird.wait_route(net("198.18.1.0/24"), ROUTE, |r| r.med == Some(20), "ironlb"))
        .check("BIRD sees the changed attributes");
    assert_eq!(changed.communities, ["65002:2"]);
    assert_eq!(changed.large_communities, ["65002:2:2"]);
    // 4. Withdrawals both ways.
    frr.remove_network(net("198.18.1.0/24")).check("vtysh no network");
    bgpd.annotate(bird.wait_no_route(net("198.18.1.0/24"), ROUTE, "ironlb"))
        .check("BIRD drops the withdrawn route");
    bird.reconfigure(&bird_config.static_protocol(BirdStatic::new("origin", Family::Ipv4Unicast)))
        .check("birdc configure");
    bgpd.annotate(frr.wait_no_route(net("198.18.2.0/24"), ROUTE, frr_peer))
        .check("FRR drops the withdrawn route");
}

/// FRR asks for a ROUTE-REFRESH (`clear bgp X soft in`); bgpd answers with its routes again
/// and the session is not reset.
#[test]
fn route_refresh_keeps_our_routes() {
    let pair = pair("bgpd", "frr").check("topology");
    let capture = Capture::start(&pair.left, &pair.interfaces.0).check("tcpdump");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002).route(route_with_attributes("198.51.100.10/32")),
    );
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");
    bgpd.annotate(frr.wait_route(net("198.51.100.10/32"), UP, |_| true, pair.left_v4))
        .check("FRR learns our route");

    frr.clear_soft_in(pair.left_v4).check("clear bgp soft in");
    // 1. The refresh request went out and bgpd answered with an UPDATE after it.
    let ours = std::net::SocketAddr::new(pair.left_v4, 0);
    bgpd.annotate(wait_until(
        "an UPDATE from bgpd after FRR's ROUTE-REFRESH",
        ROUTE,
        Duration::from_millis(200),
        || {
            let messages = capture.messages_so_far().ok()?;
            let refresh = messages.iter().position(|m| m.kind() == 5)?;
            messages[refresh..]
                .iter()
                .any(|m| m.kind() == UPDATE && m.from.ip() == ours.ip())
                .then_some(())
        },
        || frr.describe(pair.left_v4),
    ))
    .check("bgpd answers the refresh");
    // 2. Still held, session never reset.
    let route = frr.route(net("198.51.100.10/32")).check("vtysh");
    assert!(route.is_some(), "FRR still holds our route after the refresh");
    let status = frr.neighbor(pair.left_v4).check("vtysh").expect("neighbour known");
    assert_eq!(status.established_count, 1, "{status:?}");
}

/// ```text
///   [bgpd A AS65001] 192.0.2.1 ── 192.0.2.2 [bgpd B AS65002] 198.51.100.1 ──
///   198.51.100.2 [FRR AS65003]
/// ```
#[test]
fn two_bgpd_processes_exchange_routes() {
    let line = line(["bgpda", "bgpdb", "frr"]).check("topology");
    let a = start_bgpd(
        &line.first,
        &BgpdConfig::new(65001, Ipv4Addr::new(192, 0, 2, 1))
            .neighbor(BgpdNeighbor::new(ip([192, 0, 2, 2]), 65002))
            .route(route_with_attributes("198.18.10.0/24")),
    );
    let b = start_bgpd(
        &line.middle,
        &BgpdConfig::new(65002, Ipv4Addr::new(192, 0, 2, 2))
            .neighbor(BgpdNeighbor::new(ip([192, 0, 2, 1]), 65001))
            .neighbor(BgpdNeighbor::new(ip([198, 51, 100, 2]), 65003))
            .route(BgpdRoute::new(net("198.18.20.0/24"))),
    );
    let frr = Frr::start(
        &line.last,
        &FrrConfig::new(65003, Ipv4Addr::new(198, 51, 100, 2))
            .neighbor(FrrNeighbor::new(ip([198, 51, 100, 1]), 65002)),
    )
    .check("FRR starts");
    let b_address = ip([198, 51, 100, 1]);

    let from_b = b
        .annotate(frr.wait_route(net("198.18.20.0/24"), UP, |_| true, b_address))
        .check("FRR learns B's route");
    assert_eq!(from_b.as_path, "65002");
    let from_a = a
        .annotate(b.annotate(frr.wait_route(net("198.18.10.0/24"), UP, |_| true, b_address)))
        .check("FRR learns A's route through B");
    assert_eq!(from_a.as_path, "65002 65001");
    assert_eq!(from_a.communities, ["65001:100", "65001:200"]);
    assert_eq!(from_a.large_communities, ["65001:1:2"]);
}

/// A table large enough that writes to the sink are partial: 100,000 /32s from a BIRD feeder
/// through bgpd to a BIRD sink arrive complete, and the sink never resets the session (a
/// corrupt byte stream would end in an UPDATE error NOTIFICATION).
///
/// ```text
///   [BIRD feeder AS65002] 192.0.2.1 ── 192.0.2.2 [bgpd AS65001] 198.51.100.1 ──
///   198.51.100.2 [BIRD sink AS65003]
/// ```
#[test]
fn a_large_table_crosses_bgpd_intact() {
    const COUNT: u32 = 100_000;
    let line = line(["feed", "bgpd", "sink"]).check("topology");
    let bgpd = start_bgpd(
        &line.middle,
        &BgpdConfig::new(65001, Ipv4Addr::new(192, 0, 2, 2))
            .neighbor(BgpdNeighbor::new(ip([192, 0, 2, 1]), 65002))
            .neighbor(BgpdNeighbor::new(ip([198, 51, 100, 2]), 65003)),
    );
    let feeder = Bird::start(
        &line.first,
        &BirdConfig::new(Ipv4Addr::new(192, 0, 2, 1))
            .static_protocol(BirdStatic::new("generated", Family::Ipv4Unicast).generated(
                Ipv4Addr::new(198, 18, 0, 0),
                32,
                COUNT,
            ))
            .bgp(BirdBgp::new("ironlb", 65002, ip([192, 0, 2, 2]), 65001)),
    )
    .check("feeder starts");
    let sink = Bird::start(
        &line.last,
        &BirdConfig::new(Ipv4Addr::new(198, 51, 100, 2)).bgp(BirdBgp::new(
            "ironlb",
            65003,
            ip([198, 51, 100, 1]),
            65001,
        )),
    )
    .check("sink starts");
    bgpd.annotate(wait_until(
        "the sink to hold every route",
        Duration::from_secs(60),
        Duration::from_millis(250),
        || sink.route_count().ok().filter(|n| *n >= u64::from(COUNT)),
        || format!("sink: {:?}\n{}", sink.route_count(), sink.describe("ironlb")),
    ))
    .check("100,000 routes reach the sink");
    let protocol = sink.protocol("ironlb").check("sink protocol");
    assert_eq!(protocol.last_error, None, "the sink never reset the session: {protocol:?}");
    drop(feeder);
}
