//! Routing policy of ironlb bgpd against FRR (issue #12): RFC 8212 by default (nothing crosses
//! an eBGP session without a policy, and bgpd says so), and an export prefix filter with AS-path
//! prepending seen by FRR, beside an import chain (import filtering itself is covered by the RIB's
//! unit tests: FRR cannot see what bgpd keeps from it).
//!
//! ```text
//!   [bgpd AS65001] 192.0.2.1 ──── eBGP ──── 192.0.2.2 [FRR AS65002]
//! ```

mod common;

use std::time::Duration;

use common::*;
use interop_tests::bgpd::{BgpdConfig, BgpdNeighbor, BgpdRoute};
use interop_tests::frr::{Frr, FrrNetwork};
use interop_tests::topology::pair;
use interop_tests::{Check, Family, wait_until};

/// A negative ("nothing arrives") can only be watched for a while: this long, once the session
/// is up and both sides have had the time to send their tables.
const QUIET: Duration = Duration::from_secs(3);

const POLICIES: &str = r#"[[prefix_sets]]
name = "services"
prefixes = ["198.51.100.0/24 le 32"]

[[prefix_sets]]
name = "wanted"
prefixes = ["198.18.1.0/24"]

[[policies]]
name = "export-services"
default = "reject"

[[policies.statements]]
match.prefix_set = "services"
set.as_path_prepend = 2
action = "accept"

[[policies]]
name = "import-wanted"
default = "reject"

[[policies.statements]]
match.prefix_set = "wanted"
action = "accept"
"#;

#[test]
fn rfc8212_nothing_crosses_ebgp_without_policy() {
    let pair = pair("bgpd", "frr").check("topology");
    let config = BgpdConfig::new(65001, OURS)
        .neighbor(BgpdNeighbor::new(pair.right_v4, 65002).import_policy(&[]).export_policy(&[]))
        .route(BgpdRoute::new(net("198.51.100.10/32")));
    let bgpd = start_bgpd(&pair.left, &config);
    let frr = Frr::start(
        &pair.right,
        &frr_towards_bgpd(65002, 65001, pair.left_v4)
            .network(FrrNetwork::new(net("198.18.1.0/24"))),
    )
    .check("FRR starts");
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session up");
    // FRR sent its route; bgpd warned that it takes and sends nothing.
    bgpd.annotate(wait_until(
        "FRR to send its prefix and bgpd to warn about RFC 8212",
        ROUTE,
        Duration::from_millis(200),
        || {
            let sent = frr.prefix_counts(pair.left_v4, Family::Ipv4Unicast).ok()?.1;
            let log = bgpd.log_tail(200);
            (sent == 1
                && log.contains("no route is accepted from")
                && log.contains("no route is sent to"))
            .then_some(())
        },
        || bgpd.log_tail(40),
    ))
    .check("RFC 8212 applies");
    let start = std::time::Instant::now();
    while start.elapsed() < QUIET {
        let received = frr.prefix_counts(pair.left_v4, Family::Ipv4Unicast).check("counts").0;
        assert_eq!(received, 0, "bgpd sent a route without an export policy");
        assert!(frr.route(net("198.51.100.10/32")).check("FRR's table").is_none());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn export_filter_and_prepend_are_seen_by_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let mut config = BgpdConfig::new(65001, OURS)
        .neighbor(
            BgpdNeighbor::new(pair.right_v4, 65002)
                .import_policy(&["import-wanted"])
                .export_policy(&["export-services"]),
        )
        .route(BgpdRoute::new(net("198.51.100.10/32")))
        .route(BgpdRoute::new(net("203.0.113.10/32")));
    config.policies = POLICIES.to_owned();
    let bgpd = start_bgpd(&pair.left, &config);
    let frr = Frr::start(
        &pair.right,
        &frr_towards_bgpd(65002, 65001, pair.left_v4)
            .network(FrrNetwork::new(net("198.18.1.0/24")))
            .network(FrrNetwork::new(net("198.18.2.0/24"))),
    )
    .check("FRR starts");

    let route = bgpd
        .annotate(frr.wait_route(net("198.51.100.10/32"), UP, |_| true, pair.left_v4))
        .check("FRR learns the service route");
    assert_eq!(route.as_path, "65001 65001 65001", "prepended twice, then our own AS");
    // The initial table went out in one go: the filtered route would be there by now.
    assert!(
        frr.route(net("203.0.113.10/32")).check("FRR's table").is_none(),
        "a route outside the prefix set crossed"
    );
    assert_eq!(frr.prefix_counts(pair.left_v4, Family::Ipv4Unicast).check("counts").0, 1);
}
