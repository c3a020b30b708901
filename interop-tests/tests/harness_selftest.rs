//! Proves the harness against real daemons: FRR 8.4 ↔ BIRD 2.0.12 inside namespaces.
//!
//! Topology of every test (one veth, documentation addresses):
//!
//! ```text
//!   [left: FRR AS65001] 192.0.2.1 / 2001:db8::1 ──── 192.0.2.2 / 2001:db8::2 [right: BIRD AS65002]
//! ```

use std::net::IpAddr;
use std::time::Duration;

use interop_tests::bird::{Bird, BirdBgp, BirdConfig, BirdStatic, BirdStaticRoute};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor, FrrNetwork};
use interop_tests::netns::{namespace_exists, process_alive};
use interop_tests::tcpdump::Capture;
use interop_tests::topology::{Pair, pair};
use interop_tests::{Check, Family, hold_for};
use ipnet::IpNet;

const UP: Duration = Duration::from_secs(25);
const ROUTE: Duration = Duration::from_secs(30);

fn net(s: &str) -> IpNet {
    s.parse().expect("test prefix")
}

fn frr_config(pair: &Pair, peer: IpAddr, families: &[Family]) -> FrrConfig {
    let router_id = match pair.left_v4 {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => unreachable!("left_v4 is IPv4"),
    };
    FrrConfig::new(65001, router_id).neighbor(FrrNeighbor::new(peer, 65002).families(families))
}

fn bird_config(peer: IpAddr) -> BirdConfig {
    BirdConfig::new("192.0.2.2".parse().expect("router id"))
        .bgp(BirdBgp::new("peer1", 65002, peer, 65001))
}

fn frr_route_with_attributes() -> FrrNetwork {
    FrrNetwork {
        med: Some(10),
        communities: vec!["65001:100".into()],
        large_communities: vec!["65001:1:2".into()],
        ..FrrNetwork::new(net("198.18.1.0/24"))
    }
}

fn bird_route_with_attributes() -> BirdStaticRoute {
    BirdStaticRoute {
        med: Some(20),
        communities: vec!["65002:200".into()],
        large_communities: vec!["65002:3:4".into()],
        ..BirdStaticRoute::new(net("198.18.2.0/24"))
    }
}

#[test]
fn frr_and_bird_exchange_ipv4_routes_with_attributes() {
    let pair = pair("frr", "bird").check("topology");
    let frr = Frr::start(
        &pair.left,
        &frr_config(&pair, pair.right_v4, &[Family::Ipv4Unicast])
            .network(frr_route_with_attributes()),
    )
    .check("FRR starts");
    let bird = Bird::start(
        &pair.right,
        &bird_config(pair.left_v4).static_protocol(
            BirdStatic::new("origin", Family::Ipv4Unicast).route(bird_route_with_attributes()),
        ),
    )
    .check("BIRD starts");

    // 1. The session comes up.
    frr.wait_established(pair.right_v4, UP).check("FRR sees Established");
    bird.wait_established("peer1", UP).check("BIRD sees Established");
    // 2. FRR → BIRD carries MED, communities and large communities.
    let at_bird = bird
        .wait_route(net("198.18.1.0/24"), ROUTE, |r| r.med == Some(10), "peer1")
        .check("BIRD learns FRR's route");
    assert_eq!(at_bird.as_path, "65001");
    assert_eq!(at_bird.next_hop.as_deref(), Some("192.0.2.1"));
    assert_eq!(at_bird.communities, ["65001:100"]);
    assert_eq!(at_bird.large_communities, ["65001:1:2"]);
    // 3. BIRD → FRR likewise.
    let at_frr = frr
        .wait_route(net("198.18.2.0/24"), ROUTE, |r| r.med == Some(20), pair.right_v4)
        .check("FRR learns BIRD's route");
    assert_eq!(at_frr.as_path, "65002");
    assert_eq!(at_frr.next_hops, ["192.0.2.2"]);
    assert_eq!(at_frr.communities, ["65002:200"]);
    assert_eq!(at_frr.large_communities, ["65002:3:4"]);
    let (received, _sent) = frr.prefix_counts(pair.right_v4, Family::Ipv4Unicast).check("summary");
    assert_eq!(received, 1);
}

#[test]
fn frr_and_bird_exchange_ipv6_routes_over_mp_bgp() {
    let pair = pair("frr6", "bird6").check("topology");
    let frr = Frr::start(
        &pair.left,
        &frr_config(&pair, pair.right_v6, &[Family::Ipv6Unicast])
            .network(FrrNetwork::new(net("2001:db8:ffff::/48"))),
    )
    .check("FRR starts");
    let bird = Bird::start(
        &pair.right,
        &bird_config(pair.left_v6).static_protocol(
            BirdStatic::new("origin", Family::Ipv6Unicast)
                .route(BirdStaticRoute::new(net("2001:db8:eeee::/48"))),
        ),
    )
    .check("BIRD starts");

    frr.wait_established(pair.right_v6, UP).check("FRR sees Established");
    let at_bird = bird
        .wait_route(net("2001:db8:ffff::/48"), ROUTE, |_| true, "peer1")
        .check("BIRD learns FRR's IPv6 route");
    assert_eq!(at_bird.as_path, "65001");
    let at_frr = frr
        .wait_route(net("2001:db8:eeee::/48"), ROUTE, |_| true, pair.right_v6)
        .check("FRR learns BIRD's IPv6 route");
    assert_eq!(at_frr.as_path, "65002");
    assert!(at_frr.next_hops.iter().any(|h| h == "2001:db8::2"), "{at_frr:?}");
}

#[test]
fn md5_with_the_right_password_establishes_and_signs() {
    let pair = pair("frrmd5", "birdmd5").check("topology");
    let mut capture = Capture::start(&pair.left, &pair.interfaces.0).check("tcpdump");
    let mut frr_neighbor = FrrNeighbor::new(pair.right_v4, 65002).password("s3cret");
    frr_neighbor.families = vec![Family::Ipv4Unicast];
    let frr = Frr::start(
        &pair.left,
        &FrrConfig::new(65001, "192.0.2.1".parse().expect("id")).neighbor(frr_neighbor),
    )
    .check("FRR starts");
    let _bird = Bird::start(
        &pair.right,
        &BirdConfig::new("192.0.2.2".parse().expect("id"))
            .bgp(BirdBgp::new("peer1", 65002, pair.left_v4, 65001).password("s3cret")),
    )
    .check("BIRD starts");

    frr.wait_established(pair.right_v4, UP).check("MD5 session comes up");
    assert!(capture.md5_valid("s3cret").check("tcpdump -M"), "segments carry valid MD5");
    let messages = capture.messages().check("pcap");
    assert!(messages.iter().any(|m| m.kind() == 1), "an OPEN was captured");
}

#[test]
fn md5_with_a_wrong_password_never_establishes() {
    let pair = pair("frrbad", "birdbad").check("topology");
    let frr = Frr::start(
        &pair.left,
        &FrrConfig::new(65001, "192.0.2.1".parse().expect("id"))
            .neighbor(FrrNeighbor::new(pair.right_v4, 65002).password("right")),
    )
    .check("FRR starts");
    let bird = Bird::start(
        &pair.right,
        &BirdConfig::new("192.0.2.2".parse().expect("id"))
            .bgp(BirdBgp::new("peer1", 65002, pair.left_v4, 65001).password("wrong")),
    )
    .check("BIRD starts");

    hold_for(
        "no Established with mismatched MD5 passwords",
        Duration::from_secs(10),
        Duration::from_millis(250),
        || !frr.is_established(pair.right_v4) && !bird.is_established("peer1"),
        || format!("{}\n{}", frr.describe(pair.right_v4), bird.describe("peer1")),
    )
    .check("the session stays down for the whole window");
}

#[test]
fn withdrawals_propagate_both_ways() {
    let pair = pair("frrwd", "birdwd").check("topology");
    let frr = Frr::start(
        &pair.left,
        &frr_config(&pair, pair.right_v4, &[Family::Ipv4Unicast])
            .network(frr_route_with_attributes()),
    )
    .check("FRR starts");
    let origin = BirdStatic::new("origin", Family::Ipv4Unicast).route(bird_route_with_attributes());
    let mut bird = Bird::start(&pair.right, &bird_config(pair.left_v4).static_protocol(origin))
        .check("BIRD starts");
    bird.wait_route(net("198.18.1.0/24"), UP, |_| true, "peer1").check("BIRD learns");
    frr.wait_route(net("198.18.2.0/24"), ROUTE, |_| true, pair.right_v4).check("FRR learns");

    // 1. FRR withdraws at run time; BIRD drops the route.
    frr.remove_network(net("198.18.1.0/24")).check("vtysh no network");
    bird.wait_no_route(net("198.18.1.0/24"), ROUTE, "peer1").check("BIRD drops");
    // 2. A route added at run time shows up.
    frr.add_network(net("198.18.3.0/24")).check("vtysh network");
    bird.wait_route(net("198.18.3.0/24"), ROUTE, |_| true, "peer1").check("BIRD learns new");
    // 3. BIRD withdraws by reconfiguration; FRR drops the route.
    let empty =
        bird_config(pair.left_v4).static_protocol(BirdStatic::new("origin", Family::Ipv4Unicast));
    bird.reconfigure(&empty).check("birdc configure");
    frr.wait_no_route(net("198.18.2.0/24"), ROUTE, pair.right_v4).check("FRR drops");
}

#[test]
fn cleanup_leaves_no_namespace_and_no_process() {
    let mut names = Vec::new();
    let mut pids = Vec::new();
    {
        let pair = pair("frrgone", "birdgone").check("topology");
        let frr = Frr::start(&pair.left, &frr_config(&pair, pair.right_v4, &[Family::Ipv4Unicast]))
            .check("FRR starts");
        let bird = Bird::start(&pair.right, &bird_config(pair.left_v4)).check("BIRD starts");
        names.extend([pair.left.name().to_owned(), pair.right.name().to_owned()]);
        pids.extend([frr.pid(), bird.pid()]);
        assert!(pids.iter().all(|p| process_alive(*p)));
    }
    // A panicking test cleans up too.
    let seen = std::sync::Mutex::new(None);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let pair = pair("frrpanic", "x").check("topology");
        let frr = Frr::start(&pair.left, &frr_config(&pair, pair.right_v4, &[Family::Ipv4Unicast]))
            .check("FRR starts");
        *seen.lock().expect("lock") = Some((pair.left.name().to_owned(), frr.pid()));
        panic!("deliberate panic with FRR running");
    }));
    if let Some((name, pid)) = seen.lock().expect("lock").take() {
        names.push(name);
        pids.push(pid);
    }
    assert!(panicked.is_err());
    for name in &names {
        assert!(!namespace_exists(name), "namespace {name} left behind");
    }
    for pid in &pids {
        assert!(!process_alive(*pid), "process {pid} left behind");
    }
    let ours = format!("il{}x", std::process::id());
    let leftover: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()))
        .into_iter()
        .flatten()
        .filter(|n| n.starts_with(&ours) && (n.contains("gone") || n.contains("panic")))
        .collect();
    assert!(leftover.is_empty(), "left behind: {leftover:?}");
}

#[test]
fn attribute_changes_propagate() {
    let pair = pair("frrattr", "birdattr").check("topology");
    let frr = Frr::start(
        &pair.left,
        &frr_config(&pair, pair.right_v4, &[Family::Ipv4Unicast])
            .network(frr_route_with_attributes()),
    )
    .check("FRR starts");
    let bird = Bird::start(&pair.right, &bird_config(pair.left_v4)).check("BIRD starts");
    bird.wait_route(net("198.18.1.0/24"), UP, |r| r.med == Some(10), "peer1").check("learns");

    // 1. New MED, communities and large communities replace the old ones.
    frr.announce(&FrrNetwork {
        med: Some(30),
        communities: vec!["65001:300".into(), "65001:301".into()],
        large_communities: vec!["65001:9:9".into()],
        ..FrrNetwork::new(net("198.18.1.0/24"))
    })
    .check("vtysh");
    let changed = bird
        .wait_route(net("198.18.1.0/24"), ROUTE, |r| r.med == Some(30), "peer1")
        .check("BIRD sees the new attributes");
    assert_eq!(changed.communities, ["65001:300", "65001:301"]);
    assert_eq!(changed.large_communities, ["65001:9:9"]);
}

#[test]
fn two_octet_session_carries_as_trans_and_as4_path() {
    // BIRD's `enable as4 off` still reads a peer's AS4 capability, so FRR sends none
    // (`dont-capability-negotiate`): both ends then speak 2-octet ASNs on this session.
    let pair = pair("frras4", "birdas2").check("topology");
    let frr = Frr::start(
        &pair.left,
        &FrrConfig::new(4_200_000_001, "192.0.2.1".parse().expect("id"))
            .neighbor(FrrNeighbor::new(pair.right_v4, 65002).dont_capability_negotiate())
            .network(FrrNetwork::new(net("198.18.1.0/24"))),
    )
    .check("FRR starts");
    let bird = Bird::start(
        &pair.right,
        &BirdConfig::new("192.0.2.2".parse().expect("id"))
            .bgp(BirdBgp::new("peer1", 65002, pair.left_v4, 23456).without_as4())
            .static_protocol(
                BirdStatic::new("origin", Family::Ipv4Unicast)
                    .route(BirdStaticRoute::new(net("198.18.2.0/24"))),
            ),
    )
    .check("BIRD starts");

    let at_bird = bird
        .wait_route(net("198.18.1.0/24"), UP, |_| true, "peer1")
        .check("BIRD learns FRR's route");
    // FRR sent AS_PATH [23456] with AS4_PATH [4200000001]; BIRD merges the two back.
    assert_eq!(at_bird.as_path, "4200000001", "AS_TRANS + AS4_PATH merged");
    let at_frr = frr
        .wait_route(net("198.18.2.0/24"), ROUTE, |_| true, pair.right_v4)
        .check("FRR learns BIRD's route");
    assert_eq!(at_frr.as_path, "65002");
}

#[test]
fn ipv6_routes_over_an_ipv4_session() {
    let pair = pair("frrds", "birdds").check("topology");
    let both = [Family::Ipv4Unicast, Family::Ipv6Unicast];
    let frr = Frr::start(
        &pair.left,
        &FrrConfig::new(65001, "192.0.2.1".parse().expect("id"))
            .neighbor(FrrNeighbor {
                ipv6_next_hop: Some(pair.left_v6),
                ..FrrNeighbor::new(pair.right_v4, 65002).families(&both)
            })
            .network(FrrNetwork::new(net("2001:db8:ffff::/48"))),
    )
    .check("FRR starts");
    let bird = Bird::start(
        &pair.right,
        &BirdConfig::new("192.0.2.2".parse().expect("id"))
            .bgp(BirdBgp {
                ipv6_next_hop: Some(pair.right_v6),
                ..BirdBgp::new("peer1", 65002, pair.left_v4, 65001).families(&both)
            })
            .static_protocol(
                BirdStatic::new("origin", Family::Ipv6Unicast)
                    .route(BirdStaticRoute::new(net("2001:db8:eeee::/48"))),
            ),
    )
    .check("BIRD starts");

    bird.wait_route(net("2001:db8:ffff::/48"), UP, |_| true, "peer1")
        .check("BIRD learns FRR's IPv6 route over the IPv4 session");
    let at_frr = frr
        .wait_route(net("2001:db8:eeee::/48"), ROUTE, |_| true, pair.right_v4)
        .check("FRR learns BIRD's IPv6 route over the IPv4 session");
    assert!(at_frr.next_hops.iter().any(|h| h == "2001:db8::2"), "{at_frr:?}");
}

/// The layer2 helper: FRR and BIRD on one bridge (203.0.113.0/24) reach each other.
#[test]
fn bridge_joins_nodes_on_one_segment() {
    let mut lan = interop_tests::netns::Bridge::new().check("bridge");
    let left = interop_tests::netns::Namespace::new("frrlan").check("namespace");
    let right = interop_tests::netns::Namespace::new("birdlan").check("namespace");
    lan.attach(&left, "lan0", &["203.0.113.1/24"]).check("attach FRR");
    lan.attach(&right, "lan0", &["203.0.113.2/24"]).check("attach BIRD");
    let frr = Frr::start(
        &left,
        &FrrConfig::new(65001, "203.0.113.1".parse().expect("id"))
            .neighbor(FrrNeighbor::new("203.0.113.2".parse().expect("peer"), 65002)),
    )
    .check("FRR starts");
    let _bird = Bird::start(
        &right,
        &BirdConfig::new("203.0.113.2".parse().expect("id")).bgp(BirdBgp::new(
            "peer1",
            65002,
            "203.0.113.1".parse().expect("peer"),
            65001,
        )),
    )
    .check("BIRD starts");
    frr.wait_established("203.0.113.2".parse().expect("peer"), UP)
        .check("session across the bridge");
}
