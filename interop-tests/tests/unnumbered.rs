//! BGP unnumbered (issue #14, BGPPeer `interface`): ironlb bgpd with
//! `interface = "to-frr"` against FRR 8.4 with `neighbor to-bgpd interface
//! remote-as external`, over a veth pair that has only IPv6 link-local
//! addresses (no IPv4 at all on the link). bgpd finds FRR's address from the
//! Router Advertisements FRR's zebra sends (and FRR finds ours from ours),
//! the session carries IPv4 and IPv6 unicast with IPv4 routes over IPv6 next
//! hops (RFC 8950 extended next hop encoding).
//!
//! ```text
//!   [bgpd AS65001] fe80::…%to-frr ──── link-local only ──── fe80::…%to-bgpd [FRR AS65002 + zebra]
//!    originates 198.51.100.0/24                               originates 203.0.113.0/24
//! ```

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use interop_tests::api::NsRuntime;
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor, BgpdRoute};
use interop_tests::frr::{Frr, FrrConfig, FrrNetwork, FrrRoute};
use interop_tests::netns::{Namespace, connect};
use interop_tests::{Check, wait_until};
use ironlb_proto::bgpd::v1;

const API: &str = "127.0.0.1:50051";
/// RA-driven discovery on both sides, then the session: FRR's first RAs come
/// within a few seconds of zebra starting, ours every 3 s.
const UNNUMBERED_UP: Duration = Duration::from_secs(60);

/// FRR's side: the unnumbered neighbour and both families activated.
fn frr_unnumbered() -> FrrConfig {
    let mut config = FrrConfig::new(65002, THEIRS).network(FrrNetwork::new(net("203.0.113.0/24")));
    config.extra = [
        " neighbor to-bgpd interface remote-as external",
        " neighbor to-bgpd timers 3 9",
        " neighbor to-bgpd timers connect 1",
        " address-family ipv4 unicast",
        "  neighbor to-bgpd activate",
        " exit-address-family",
        " address-family ipv6 unicast",
        "  neighbor to-bgpd activate",
        " exit-address-family",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // FRR's bgpd turns RAs on for the interface through zebra; a short
    // interval makes discovery quick.
    config.zebra =
        Some("interface to-bgpd\n ipv6 nd ra-interval 1\n no ipv6 nd suppress-ra\n".into());
    config
}

/// FRR's state for its interface neighbour, from `show bgp neighbors to-bgpd json`.
fn frr_state(frr: &Frr) -> String {
    let Ok(text) = frr.vtysh(&["show bgp neighbors to-bgpd json"]) else {
        return "no answer".into();
    };
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    value
        .get("to-bgpd")
        .and_then(|n| n.get("bgpState"))
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| format!("no state in {text:.200}"), str::to_owned)
}

/// bgpd's Loc-RIB, through the API in its namespace.
fn loc_rib(runtime: &NsRuntime) -> Vec<v1::Path> {
    let Ok(mut client) = runtime.client(API, UP) else { return Vec::new() };
    runtime.run(async move {
        let mut paths = Vec::new();
        let Ok(answer) = client.list_paths(v1::ListPathsRequest::default()).await else {
            return paths;
        };
        let mut stream = answer.into_inner();
        while let Ok(Some(listed)) = stream.message().await {
            paths.extend(listed.path);
        }
        paths
    })
}

/// Two namespaces joined by a veth pair with only the kernel's link-local
/// addresses (duplicate address detection off so they are usable at once).
fn link_local_pair() -> (Namespace, Namespace) {
    let bgpd = Namespace::new("unnb").check("bgpd's namespace");
    let frr = Namespace::new("unnf").check("FRR's namespace");
    for namespace in [&bgpd, &frr] {
        namespace.exec("sysctl", &["-qw", "net.ipv6.conf.default.accept_dad=0"]).check("DAD off");
    }
    connect(&bgpd, "to-frr", &[], &frr, "to-bgpd", &[]).check("veth pair");
    (bgpd, frr)
}

/// Waits for FRR's unnumbered session to be Established, our 198.51.100.0/24
/// in FRR and FRR's 203.0.113.0/24 in bgpd's Loc-RIB, both with link-local
/// next hops (IPv4 over IPv6 next hops, RFC 8950); FRR's view of our route.
fn session_and_routes_both_ways(bgpd: &Bgpd, frr: &Frr, runtime: &NsRuntime) -> FrrRoute {
    bgpd.annotate(wait_until(
        "FRR's unnumbered session Established",
        UNNUMBERED_UP,
        Duration::from_millis(200),
        || (frr_state(frr) == "Established").then_some(()),
        || format!("FRR says {}; FRR log:\n{}", frr_state(frr), frr.log_tail(30)),
    ))
    .check("unnumbered session");
    let route = bgpd
        .annotate(wait_until(
            "198.51.100.0/24 in FRR",
            ROUTE,
            Duration::from_millis(200),
            || frr.route(net("198.51.100.0/24")).ok().flatten(),
            || frr.log_tail(20),
        ))
        .check("FRR learns our IPv4 route");
    assert!(
        !route.next_hops.is_empty()
            && route.next_hops.iter().all(|h| h.to_ascii_lowercase().starts_with("fe80:")),
        "next hops {:?} should be our link-local address",
        route.next_hops
    );
    let path = bgpd
        .annotate(wait_until(
            "203.0.113.0/24 in bgpd's Loc-RIB",
            ROUTE,
            Duration::from_millis(200),
            || loc_rib(runtime).into_iter().find(|p| p.prefix == "203.0.113.0/24"),
            || format!("{:?}", loc_rib(runtime)),
        ))
        .check("bgpd learns FRR's IPv4 route");
    assert!(path.next_hop.starts_with("fe80:"), "next hop {:?}", path.next_hop);
    route
}

#[test]
fn unnumbered_session_with_frr_over_link_local_only() {
    let (left, right) = link_local_pair();
    let config = BgpdConfig::new(65001, OURS)
        .neighbor(BgpdNeighbor::on_interface("to-frr", 65002))
        .route(BgpdRoute::new(net("198.51.100.0/24")));
    let bgpd = start_bgpd(&left, &config);
    let frr = Frr::start(&right, &frr_unnumbered()).check("FRR with zebra starts");

    // 1-3. Established, found through link-local addresses only; routes both
    // ways with link-local next hops (RFC 8950).
    let runtime = NsRuntime::new(&left).check("a runtime in bgpd's namespace");
    let route = session_and_routes_both_ways(&bgpd, &frr, &runtime);
    assert_eq!(route.as_path, "65001");

    // 4. The API names the peer by its interface and the address found there.
    let mut client = runtime.client(API, UP).check("bgpd's API");
    let peers = runtime
        .run(async move { client.list_peers(v1::ListPeersRequest {}).await })
        .map(|answer| answer.into_inner().peers)
        .unwrap_or_else(|status| panic!("ListPeers: {status}"));
    let config = peers.first().and_then(|p| p.config.as_ref()).expect("one peer");
    assert_eq!(config.interface, "to-frr");
    assert!(config.address.starts_with("fe80:"), "address {:?}", config.address);
}

/// What bgpd's discovery machinery holds: threads named `unnumbered-*`
/// and raw IPv6 sockets (the ICMPv6 one), from `/proc`.
fn discovery_resources(bgpd: &Bgpd) -> (usize, usize) {
    let proc = format!("/proc/{}", bgpd.pid());
    let threads = std::fs::read_dir(format!("{proc}/task"))
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("unnumbered-"))
                .count()
        })
        .unwrap_or(0);
    // /proc/PID/net is the process's namespace: its raw IPv6 sockets' inodes
    // (10th column), matched with the process's descriptors.
    let raw6 = std::fs::read_to_string(format!("{proc}/net/raw6")).unwrap_or_default();
    let inodes: HashSet<String> = raw6
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(9).map(str::to_owned))
        .collect();
    let sockets = std::fs::read_dir(format!("{proc}/fd"))
        .map(|fds| {
            fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                .filter_map(|link| {
                    let link = link.to_string_lossy().into_owned();
                    let inode = link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned();
                    Some(inode)
                })
                .filter(|inode| inodes.contains(inode))
                .count()
        })
        .unwrap_or(0);
    (threads, sockets)
}

#[test]
fn unnumbered_peer_added_and_deleted_through_the_api() {
    let (left, right) = link_local_pair();
    let config = BgpdConfig::new(65001, OURS).route(BgpdRoute::new(net("198.51.100.0/24")));
    let bgpd = start_bgpd(&left, &config);
    let frr = Frr::start(&right, &frr_unnumbered()).check("FRR with zebra starts");
    let runtime = NsRuntime::new(&left).check("a runtime in bgpd's namespace");
    assert_eq!(discovery_resources(&bgpd), (0, 0), "no interface peer yet");

    // 1. AddPeer with `interface` and no address.
    let mut client = runtime.client(API, UP).check("bgpd's API");
    let peer = v1::PeerConfig {
        interface: "to-frr".into(),
        remote_asn: 65002,
        // eBGP needs a policy each way (RFC 8212), as the config file's peer has.
        import_policy: vec!["accept-all".into()],
        export_policy: vec!["accept-all".into()],
        ..v1::PeerConfig::default()
    };
    let added = runtime
        .run(async move { client.add_peer(v1::AddPeerRequest { peer: Some(peer) }).await })
        .unwrap_or_else(|status| panic!("AddPeer: {status}"));
    let config = added.into_inner().peer.and_then(|p| p.config).expect("the peer");
    assert_eq!(config.interface, "to-frr");

    // 2. Established with FRR, routes both ways (IPv4 over IPv6 next hops).
    session_and_routes_both_ways(&bgpd, &frr, &runtime);
    assert_eq!(discovery_resources(&bgpd), (1, 1), "one discovery thread, one raw socket");

    // 3. GetPeer by "%to-frr" shows the session and the address found.
    let mut client = runtime.client(API, UP).check("bgpd's API");
    let shown = runtime
        .run(async move { client.get_peer(v1::GetPeerRequest { address: "%to-frr".into() }).await })
        .unwrap_or_else(|status| panic!("GetPeer %to-frr: {status}"));
    let shown = shown.into_inner().peer.expect("peer");
    let address = shown.config.as_ref().map(|c| c.address.clone()).unwrap_or_default();
    assert!(address.starts_with("fe80:"), "address {address:?}");
    assert_eq!(shown.status.map(|s| s.state), Some(v1::SessionState::Established as i32));

    // 4. A path restricted to "%to-frr" (as the Kubernetes speaker sends
    //    its paths) reaches FRR over the discovered session.
    let mut client = runtime.client(API, UP).check("bgpd's API");
    let restricted = v1::SetPathsRequest {
        owner: "lb".into(),
        paths: vec![v1::Path {
            prefix: "198.51.100.77/32".into(),
            peers: vec!["%to-frr".into()],
            ..v1::Path::default()
        }],
        grace_time_seconds: None,
    };
    runtime
        .run(async move { client.set_paths(restricted).await })
        .unwrap_or_else(|status| panic!("SetPaths to %to-frr: {status}"));
    bgpd.annotate(wait_until(
        "198.51.100.77/32 (restricted to %to-frr) in FRR",
        ROUTE,
        Duration::from_millis(200),
        || frr.route(net("198.51.100.77/32")).ok().flatten(),
        || frr.log_tail(20),
    ))
    .check("a path restricted to the interface peer reaches it");

    // 5. DeletePeer "%to-frr": the session, its routes, the thread and the
    //    raw socket go.
    let mut client = runtime.client(API, UP).check("bgpd's API");
    runtime
        .run(async move {
            client.delete_peer(v1::DeletePeerRequest { address: "%to-frr".into() }).await
        })
        .unwrap_or_else(|status| panic!("DeletePeer %to-frr: {status}"));
    bgpd.annotate(wait_until(
        "FRR's session down and our route gone",
        ROUTE,
        Duration::from_millis(200),
        || {
            (frr_state(&frr) != "Established"
                && frr.route(net("198.51.100.0/24")).ok().flatten().is_none())
            .then_some(())
        },
        || format!("FRR says {}", frr_state(&frr)),
    ))
    .check("the session ends with DeletePeer");
    assert!(
        !loc_rib(&runtime).iter().any(|p| p.prefix == "203.0.113.0/24"),
        "FRR's route left bgpd's Loc-RIB"
    );
    bgpd.annotate(wait_until(
        "the discovery thread and its raw socket gone",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || (discovery_resources(&bgpd) == (0, 0)).then_some(()),
        || format!("{:?} (threads, raw sockets)", discovery_resources(&bgpd)),
    ))
    .check("no thread or socket leak");
    let mut client = runtime.client(API, UP).check("bgpd's API");
    let peers = runtime
        .run(async move { client.list_peers(v1::ListPeersRequest {}).await })
        .map(|answer| answer.into_inner().peers)
        .unwrap_or_else(|status| panic!("ListPeers: {status}"));
    assert!(peers.is_empty(), "{peers:?}");
}

/// FRR passive: it never connects, so bgpd must find FRR's address from the
/// Router Advertisements zebra sends (hop limit 255, RFC 4861 §6.1.2: bgpd
/// reads the hop limit from the ancillary data and drops any other) and
/// connect to it.
#[test]
fn unnumbered_peer_found_from_router_advertisements_alone() {
    let (left, right) = link_local_pair();
    let config = BgpdConfig::new(65001, OURS)
        .neighbor(BgpdNeighbor::on_interface("to-frr", 65002))
        .route(BgpdRoute::new(net("198.51.100.0/24")));
    let bgpd = start_bgpd(&left, &config);
    let mut passive = frr_unnumbered();
    passive.extra.insert(1, " neighbor to-bgpd passive".to_owned());
    let frr = Frr::start(&right, &passive).check("FRR with zebra starts");
    bgpd.annotate(wait_until(
        "FRR's passive unnumbered session Established",
        UNNUMBERED_UP,
        Duration::from_millis(200),
        || (frr_state(&frr) == "Established").then_some(()),
        || format!("FRR says {}; FRR log:\n{}", frr_state(&frr), frr.log_tail(30)),
    ))
    .check("bgpd found FRR from its Router Advertisements");
}
