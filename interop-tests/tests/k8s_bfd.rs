//! MetalLB's BFDProfile end to end (issue 15, "The Kubernetes e2e"): a BGPPeer names a
//! BFDProfile (300 ms x 3, MetalLB's default timers), the speaker gives bgpd the peer with
//! those BFD settings, FRR runs bfdd with the same timers; the node then fails silently (its
//! bgpd is SIGSTOPped: no BFD packet, no BGP message, no TCP reset) and the Service's /32
//! leaves FRR's table in about the detection time, not after the BGP hold time (90 s).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use interop_tests::k8s::{
    BFD_INTERVAL_MS, BFD_MULTIPLIER, CONVERGE, NODE, NODE_ADDRESS, service, slice, world_bfd,
};
use interop_tests::{Check, wait_until};

#[test]
fn a_silent_node_loses_its_service_route_within_the_bfd_detection_time() {
    let world = world_bfd("198.51.100.64/28");
    world.insert(service("web", false));
    world.insert(slice("web", NODE, true));
    let address = world.wait_address("web");
    world.wait_frr("the Service's /32 at FRR", address, true);
    let node = NODE_ADDRESS.to_string();
    world
        .bgpd
        .annotate(wait_until(
            "FRR's BFD session with the node Up",
            CONVERGE,
            Duration::from_millis(100),
            || {
                let peers = world.frr.bfd_peers().ok()?;
                peers.as_array()?.iter().find(|p| p["peer"] == node && p["status"] == "up").cloned()
            },
            || format!("{:?}\n{}", world.frr.bfd_peers(), world.frr.bfd_log_tail(20)),
        ))
        .check("BFD Up");

    world.bgpd.freeze();
    let frozen = Instant::now();
    let gone = wait_until(
        "FRR to drop the Service's route",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || (!world.frr_has(address)).then_some(()),
        || format!("{:?}\n{}", world.frr.bfd_peers(), world.frr.bfd_log_tail(20)),
    );
    let took = frozen.elapsed();
    world.bgpd.thaw();
    gone.check("route withdrawn by BFD");
    let detect = Duration::from_millis(u64::from(BFD_INTERVAL_MS) * u64::from(BFD_MULTIPLIER));
    eprintln!("silent node → route gone at FRR: {took:?} (detection time {detect:?})");
    // The detection time, plus FRR's teardown and our vtysh polling (about 100 ms each poll
    // on a loaded machine): far below the 90 s hold time that would apply without BFD.
    assert!(
        took <= detect + Duration::from_secs(1),
        "the route left FRR {took:?} after the node went silent; BFD detects in {detect:?}"
    );
}
