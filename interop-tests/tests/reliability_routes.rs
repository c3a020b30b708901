//! A `[[routes]]` entry's `as_path_prepend` reaches eBGP neighbors only: an
//! iBGP FRR gets the locally originated route with an empty AS_PATH (RFC 4271
//! §5.1.2) and accepts it, where it used to see our own AS and drop the route
//! as a loop; an eBGP FRR sees our AS once plus the prepends.
//!
//! Topology (`line`): FRR AS 65001 (iBGP) 192.0.2.1 ↔ 192.0.2.2 bgpd AS 65001
//! 198.51.100.1 ↔ 198.51.100.2 FRR AS 65002 (eBGP).

mod common;

use std::net::Ipv4Addr;

use common::*;
use interop_tests::Check;
use interop_tests::bgpd::{BgpdNeighbor, BgpdRoute};
use interop_tests::frr::Frr;
use interop_tests::topology::{Line, ip, line};

#[test]
fn prepends_go_to_ebgp_only() {
    let line = line(["frr-i", "bgpd", "frr-e"]).check("topology");
    let internal = ip(Line::FIRST);
    let external = ip(Line::LAST);
    // A router id that neither FRR uses (both use 192.0.2.2, `THEIRS`).
    let config = interop_tests::bgpd::BgpdConfig::new(65001, Ipv4Addr::new(203, 0, 113, 1))
        .neighbor(BgpdNeighbor::new(internal, 65001))
        .neighbor(BgpdNeighbor::new(external, 65002))
        .route(BgpdRoute { as_path_prepend: 2, ..BgpdRoute::new(net("203.0.113.0/24")) });
    let bgpd = start_bgpd(&line.middle, &config);
    let frr_i = Frr::start(&line.first, &frr_towards_bgpd(65001, 65001, ip(Line::MIDDLE_FIRST)))
        .check("iBGP FRR starts");
    let frr_e = Frr::start(&line.last, &frr_towards_bgpd(65002, 65001, ip(Line::MIDDLE_LAST)))
        .check("eBGP FRR starts");

    bgpd.annotate(frr_i.wait_established(ip(Line::MIDDLE_FIRST), UP)).check("iBGP session");
    bgpd.annotate(frr_e.wait_established(ip(Line::MIDDLE_LAST), UP)).check("eBGP session");
    let route = bgpd
        .annotate(frr_e.wait_route(net("203.0.113.0/24"), ROUTE, |_| true, ip(Line::MIDDLE_LAST)))
        .check("the eBGP FRR learns the route");
    assert_eq!(route.as_path, "65001 65001 65001", "our AS once plus two prepends");
    let route = bgpd
        .annotate(frr_i.wait_route(net("203.0.113.0/24"), ROUTE, |_| true, ip(Line::MIDDLE_FIRST)))
        .check("the iBGP FRR accepts the route");
    assert_eq!(route.as_path, "", "a locally originated route has an empty AS_PATH towards iBGP");
}
