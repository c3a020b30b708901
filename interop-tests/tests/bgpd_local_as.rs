//! A neighbor's own AS and BGP identifier (`local_asn`, `router_id`; issue #12, MetalLB's
//! `myASN` and `routerID`) against FRR: FRR configured for the local AS establishes, sees our
//! per-neighbor router id in `show bgp neighbor json`, and receives our routes with that AS only
//! (a 4-octet one: AS_TRANS in the OPEN and the capability); an iBGP session exists when FRR's AS
//! is the local AS, though the daemon's AS differs.
//!
//! ```text
//!   [bgpd AS65001, towards FRR AS4200000000 / 65100] 192.0.2.1 ──── 192.0.2.2 [FRR]
//! ```

mod common;

use common::*;
use interop_tests::Check;
use interop_tests::bgpd::{BgpdConfig, BgpdNeighbor, BgpdRoute};
use interop_tests::frr::Frr;
use interop_tests::topology::pair;

const ROUTER_ID: &str = "192.0.2.99";

fn neighbor_json(frr: &Frr, address: std::net::IpAddr) -> serde_json::Value {
    let text = frr.vtysh(&[&format!("show bgp neighbors {address} json")]).check("FRR's JSON");
    let json: serde_json::Value = serde_json::from_str(&text).check_json(&text);
    json.get(address.to_string()).cloned().unwrap_or(serde_json::Value::Null)
}

trait CheckJson<T> {
    fn check_json(self, text: &str) -> T;
}

impl<T> CheckJson<T> for Result<T, serde_json::Error> {
    fn check_json(self, text: &str) -> T {
        self.unwrap_or_else(|error| panic!("FRR's JSON does not parse ({error}): {text}"))
    }
}

#[test]
fn a_4_octet_local_as_and_router_id_are_what_frr_sees() {
    let pair = pair("bgpd", "frr").check("topology");
    let local = 4_200_000_000;
    let neighbor = BgpdNeighbor::new(pair.right_v4, 65002)
        .extra(&format!("local_asn = {local}\nrouter_id = \"{ROUTER_ID}\"\n"));
    let config = BgpdConfig::new(65001, OURS)
        .neighbor(neighbor)
        .route(BgpdRoute::new(net("198.51.100.10/32")))
        .route(BgpdRoute { as_path_prepend: 1, ..BgpdRoute::new(net("198.51.100.11/32")) });
    let bgpd = start_bgpd(&pair.left, &config);
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, local, pair.left_v4)).check("FRR starts");
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session up with the local AS");

    let json = neighbor_json(&frr, pair.left_v4);
    assert_eq!(json["remoteRouterId"], ROUTER_ID, "{json}");
    assert_eq!(json["remoteAs"], local, "{json}");
    let route = bgpd
        .annotate(frr.wait_route(net("198.51.100.10/32"), ROUTE, |_| true, pair.left_v4))
        .check("FRR learns the route");
    assert_eq!(route.as_path, local.to_string(), "only the local AS, never 65001");
    let prepended = bgpd
        .annotate(frr.wait_route(net("198.51.100.11/32"), ROUTE, |_| true, pair.left_v4))
        .check("FRR learns the prepended route");
    assert_eq!(
        prepended.as_path,
        format!("{local} {local}"),
        "the config's prepend is the local AS"
    );
}

#[test]
fn frr_in_the_local_as_is_an_ibgp_peer() {
    let pair = pair("bgpd", "frr").check("topology");
    // No policies: RFC 8212 would block an eBGP neighbor, so routes crossing proves iBGP.
    let neighbor = BgpdNeighbor::new(pair.right_v4, 65100)
        .import_policy(&[])
        .export_policy(&[])
        .extra("local_asn = 65100\n");
    let config = BgpdConfig::new(65001, OURS)
        .neighbor(neighbor)
        .route(BgpdRoute::new(net("198.51.100.10/32")));
    let bgpd = start_bgpd(&pair.left, &config);
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65100, 65100, pair.left_v4)).check("FRR starts");
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("iBGP session up");
    let json = neighbor_json(&frr, pair.left_v4);
    assert_eq!(json["nbrInternalLink"], true, "FRR sees an internal peer: {json}");
    let route = bgpd
        .annotate(frr.wait_route(net("198.51.100.10/32"), ROUTE, |_| true, pair.left_v4))
        .check("FRR learns the route over iBGP");
    assert_eq!(route.as_path, "", "a local route reaches an internal peer with an empty AS_PATH");
    assert_eq!(route.local_pref, Some(100), "iBGP carries LOCAL_PREF");
    let log = bgpd.log_tail(200);
    assert!(!log.contains("no route is accepted from"), "RFC 8212 must not apply to iBGP:\n{log}");
}
