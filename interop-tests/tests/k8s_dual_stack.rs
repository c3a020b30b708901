//! A dual-stack Service over one IPv4 session (issue #14): with the BGPPeer's
//! `dualStackAddressFamily`, the speaker negotiates IPv4 and IPv6 unicast on the session
//! (MP-BGP, RFC 4760) and FRR gets the Service's /32 and its /128, the latter with the node's
//! IPv6 InternalIP as next hop (bgpd's own address on an IPv4 session has no IPv6 form).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::time::Duration;

use interop_tests::Check;
use interop_tests::k8s::{NODE, NODE_ADDRESS, NODE_ADDRESS_V6, slice, world_dual_stack};
use ipnet::IpNet;
use serde_json::json;

const ROUTE: Duration = Duration::from_secs(30);

#[test]
fn a_dual_stack_service_reaches_frr_in_both_families_over_one_ipv4_session() {
    let world = world_dual_stack("198.51.100.64/28", "2001:db8:64::/124");
    world.insert(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                 "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
                 "ports": [{"port": 80, "protocol": "TCP"}]}}));
    world.insert(slice("web", NODE, true));
    let v4 = world.wait_address("web");
    let status = world
        .runtime
        .block_on(world.server.get("v1", "Service", Some("default"), "web"))
        .unwrap()
        .unwrap();
    let v6: IpAddr = status["status"]["loadBalancer"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["ip"].as_str()?.parse::<IpAddr>().ok())
        .find(IpAddr::is_ipv6)
        .unwrap_or_else(|| panic!("no IPv6 address: {status}"));
    let peer = IpAddr::V4(NODE_ADDRESS);
    world
        .bgpd
        .annotate(world.frr.wait_route(
            IpNet::new(IpAddr::V4(v4), 32).unwrap(),
            ROUTE,
            |_| true,
            peer,
        ))
        .check("the /32 at FRR");
    let route = world
        .bgpd
        .annotate(world.frr.wait_route(IpNet::new(v6, 128).unwrap(), ROUTE, |_| true, peer))
        .check("the /128 at FRR over the IPv4 session");
    assert!(
        route.next_hops.iter().any(|h| h == NODE_ADDRESS_V6),
        "the node's IPv6 address as next hop: {route:?}"
    );
}
