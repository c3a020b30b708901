//! The Kubernetes adapter end to end (issue 5, "How it is proven", end to end in network
//! namespaces): the API server, the controller, a speaker, a real `bgpd` and FRR, set up
//! by `interop_tests::k8s` (its module doc has the picture). What Services get is read
//! back at FRR. The pool is 198.51.100.64/28, apart from the link addresses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use interop_tests::k8s::{NODE, service, slice, world};

#[test]
fn services_reach_frr_by_readiness_and_traffic_policy_and_deletion_frees_the_address() {
    let world = world("198.51.100.64/28");

    // ETP Local whose only ready endpoint is on n2: given an address, never announced by n1.
    world.insert(service("local", true));
    world.insert(slice("local", "n2", true));
    let local = world.wait_address("local");

    // ETP Cluster with a ready endpoint: its /32 reaches FRR.
    world.insert(service("web", false));
    world.insert(slice("web", NODE, true));
    let web = world.wait_address("web");
    assert_ne!(web, local, "two Services, two addresses");
    world.wait_frr("the Cluster Service's /32 at FRR", web, true);
    assert!(!world.frr_has(local), "the Local Service is announced from a node without endpoints");

    // Its endpoints stop being ready: withdrawn at FRR.
    world.set_ready("web", false);
    world.wait_frr("the /32 withdrawn when no endpoint is ready", web, false);
    world.set_ready("web", true);
    world.wait_frr("the /32 back when the endpoint is ready again", web, true);
    assert!(!world.frr_has(local), "the Local Service is announced from a node without endpoints");

    // Deleting the Service withdraws it and frees its address for the next Service.
    world.delete_service("web");
    world.wait_frr("the /32 withdrawn when the Service is deleted", web, false);
    world.insert(service("next", false));
    world.insert(slice("next", NODE, true));
    assert_eq!(world.wait_address("next"), web, "the freed address goes to the next Service");
    world.wait_frr("the next Service's /32 at FRR", web, true);
    assert!(!world.frr_has(local), "the Local Service is announced from a node without endpoints");
}
