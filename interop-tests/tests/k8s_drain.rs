//! Graceful drain (issue #14 item 7) against FRR: the node is cordoned; its speaker
//! re-announces the Service's /32 with GRACEFUL_SHUTDOWN (RFC 8326, 65535:0, which FRR shows
//! as `gracefulShutdown` and honours with LOCAL_PREF 0, so a router with another node's path
//! prefers that one) for the drain time (3 s here), then withdraws it; uncordoned, the route
//! is back without the community. (Two nodes with FRR preferring the other one while
//! the first drains is the next step; here one node shows the sequence on the wire.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use interop_tests::Check;
use interop_tests::k8s::{DRAIN, NODE, NODE_ADDRESS, service, slice, world};
use ipnet::IpNet;

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
