//! Graceful drain (issue #14 item 7) against FRR: the node is cordoned; its speaker
//! re-announces the Service's /32 with GRACEFUL_SHUTDOWN (RFC 8326, 65535:0, which FRR shows
//! as `gracefulShutdown` and honours with LOCAL_PREF 0, so a router with another node's path
//! prefers that one) for the drain time (3 s here), then withdraws it; uncordoned, the route
//! is back without the community. Then with two nodes announcing the same /32 (the layer2
//! world's two nodes, FRR as their router): while the cordoned node drains, FRR's best path
//! is already the other node's, before the drained path is withdrawn.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use interop_tests::k8s::{DRAIN, NODE, NODE_ADDRESS, service, slice, world};
use interop_tests::layer2_k8s::{self as l2, Cluster, NS, ROUTER_ADDRESS};
use interop_tests::{Check, require_program, wait_until};
use ipnet::IpNet;
use serde_json::json;

const ROUTE: Duration = Duration::from_secs(30);

fn gshut(communities: &[String]) -> bool {
    communities
        .iter()
        .any(|c| matches!(c.as_str(), "gracefulShutdown" | "graceful-shutdown" | "65535:0"))
}

#[test]
fn a_cordoned_node_sends_graceful_shutdown_then_withdraws() {
    let world = world("198.51.100.64/28");
    world.insert(service("web", false));
    world.insert(slice("web", NODE, true));
    let address = world.wait_address("web");
    let prefix = IpNet::new(IpAddr::V4(address), 32).unwrap();
    let peer = IpAddr::V4(NODE_ADDRESS);
    world
        .bgpd
        .annotate(world.frr.wait_route(prefix, ROUTE, |r| !gshut(&r.communities), peer))
        .check("the /32 at FRR");

    world.cordon(true);
    let cordoned = Instant::now();
    let draining = world
        .bgpd
        .annotate(world.frr.wait_route(prefix, ROUTE, |r| gshut(&r.communities), peer))
        .check("the /32 with GRACEFUL_SHUTDOWN while draining");
    assert_eq!(draining.local_pref, Some(0), "FRR honours it (RFC 8326 §4): {draining:?}");
    world.bgpd.annotate(world.frr.wait_no_route(prefix, ROUTE, peer)).check("withdrawn after");
    assert!(
        cordoned.elapsed() >= DRAIN - Duration::from_millis(500),
        "withdrawn {:?} after the cordon, before the drain time {DRAIN:?}",
        cordoned.elapsed()
    );

    world.cordon(false);
    world
        .bgpd
        .annotate(world.frr.wait_route(prefix, ROUTE, |r| !gshut(&r.communities), peer))
        .check("back without the community");
}

/// Both nodes announce the Service's /32 to FRR; the one FRR prefers is cordoned: for the
/// drain time its path stays, with GRACEFUL_SHUTDOWN and LOCAL_PREF 0, and FRR's best path
/// is the other node's; then it is withdrawn and the other node's path is the only one.
#[test]
fn with_two_nodes_the_best_path_moves_before_the_withdrawal() {
    l2::requires();
    require_program("vtysh", "frr").check("FRR");
    let mut objects = l2::cluster_objects();
    objects.extend([
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": "bgp", "namespace": NS},
               "spec": {"addresses": ["198.51.100.96/28"]}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
               "metadata": {"name": "bgp", "namespace": NS},
               "spec": {"ipAddressPools": ["bgp"]}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
               "metadata": {"name": "router", "namespace": NS},
               "spec": {"myASN": 65001, "peerASN": 65002, "peerAddress": ROUTER_ADDRESS}}),
    ]);
    let drain: &[&str] = &["--drain-seconds", "5"];
    let Cluster { bridge, client: _, nodes, api, kubeconfig: _, _dir } =
        l2::cluster_with(objects, true, [drain, drain]);
    let frr = l2::start_router(&bridge);
    let node_ips = l2::node_ips();

    api.insert(l2::service("web"));
    api.insert(l2::slice("web", "n1"));
    let address = l2::wait_address(&api, "web");
    let prefix: IpNet = format!("{address}/32").parse().unwrap();
    let both = wait_until(
        "both nodes' paths at FRR",
        ROUTE,
        l2::POLL,
        || {
            let paths = frr.paths(prefix).ok()?;
            (paths.len() == 2 && paths.iter().all(|p| !gshut(&p.route.communities)))
                .then_some(paths)
        },
        || format!("{:?}{}", frr.paths(prefix), l2::logs(&nodes)),
    )
    .check("two paths");
    let best = both.iter().find(|p| p.best).map(|p| p.from.clone()).expect("a best path");
    let drained = node_ips.iter().position(|ip| ip.to_string() == best).expect("a node's path");
    let other = node_ips[1 - drained].to_string();

    // Cordon the node FRR prefers.
    let server = api.server.clone();
    let name = l2::NODES[drained];
    api.runtime
        .run(async move {
            server
                .modify("v1", "Node", None, name, |o| o["spec"]["unschedulable"] = json!(true))
                .await
        })
        .unwrap_or_else(|e| panic!("Node cordoned: {e}"));
    let cordoned = Instant::now();
    let moved = wait_until(
        "FRR's best path on the other node while the cordoned one still announces",
        ROUTE,
        Duration::from_millis(100),
        || {
            let paths = frr.paths(prefix).ok()?;
            let draining = paths.iter().find(|p| p.from == best)?;
            let chosen = paths.iter().find(|p| p.best)?;
            (gshut(&draining.route.communities) && chosen.from == other).then_some(paths)
        },
        || format!("{:?}{}", frr.paths(prefix), l2::logs(&nodes)),
    )
    .check("best path moved first");
    let draining = moved.iter().find(|p| p.from == best).unwrap();
    assert_eq!(draining.route.local_pref, Some(0), "FRR honours GRACEFUL_SHUTDOWN: {moved:?}");
    eprintln!("best path on {other} {:?} after the cordon", cordoned.elapsed());
    wait_until(
        "the drained node's path withdrawn, the other's alone",
        ROUTE,
        Duration::from_millis(100),
        || {
            let paths = frr.paths(prefix).ok()?;
            (paths.len() == 1 && paths[0].from == other).then_some(())
        },
        || format!("{:?}{}", frr.paths(prefix), l2::logs(&nodes)),
    )
    .check("withdrawn after the drain");
    assert!(
        cordoned.elapsed() >= Duration::from_millis(4500),
        "withdrawn {:?} after the cordon, before the 5 s drain",
        cordoned.elapsed()
    );
}
