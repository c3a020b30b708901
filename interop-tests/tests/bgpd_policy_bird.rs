//! Routing policy of ironlb bgpd against BIRD (issue #12, the BIRD half of `bgpd_policy.rs`):
//! RFC 8212 by default (nothing crosses an eBGP session without a policy, either way), and a
//! community-based import (BIRD's tagged route gets LOCAL_PREF 200 and a community of ours, the
//! untagged one is refused) beside an export prefix filter with prepending that BIRD sees.
//!
//! ```text
//!   [bgpd AS65001] 192.0.2.1 ──── eBGP ──── 192.0.2.2 [BIRD AS65002, 2 static routes]
//! ```

mod common;

use std::time::{Duration, Instant};

use common::*;
use interop_tests::api::NsRuntime;
use interop_tests::bgpd::{BgpdConfig, BgpdNeighbor, BgpdRoute};
use interop_tests::bird::{Bird, BirdStatic, BirdStaticRoute};
use interop_tests::topology::pair;
use interop_tests::{Check, Family, wait_until};
use ironlb_proto::bgpd::v1;

/// A negative ("nothing arrives") is watched this long once the session is up.
const QUIET: Duration = Duration::from_secs(3);
const API: &str = "127.0.0.1:50051";

const POLICIES: &str = r#"[[prefix_sets]]
name = "services"
prefixes = ["198.51.100.0/24 le 32"]

[[community_sets]]
name = "tagged"
communities = ["65002:100"]

[[policies]]
name = "import-tagged"
default = "reject"

[[policies.statements]]
match.community_set = "tagged"
set.local_pref = 200
set.communities_add = ["65001:42"]
action = "accept"

[[policies]]
name = "export-services"
default = "reject"

[[policies.statements]]
match.prefix_set = "services"
set.as_path_prepend = 1
action = "accept"
"#;

/// BIRD with a tagged and an untagged static route.
fn bird_statics() -> BirdStatic {
    BirdStatic::new("origin", Family::Ipv4Unicast)
        .route(BirdStaticRoute {
            communities: vec!["65002:100".into()],
            ..BirdStaticRoute::new(net("198.18.1.0/24"))
        })
        .route(BirdStaticRoute::new(net("198.18.2.0/24")))
}

/// bgpd's Loc-RIB, through the API in its namespace.
fn loc_rib(runtime: &NsRuntime) -> Vec<v1::Path> {
    let mut client = runtime.client(API, UP).check("bgpd's API");
    runtime.run(async move {
        let request = v1::ListPathsRequest::default();
        let mut paths = Vec::new();
        let Ok(answer) = client.list_paths(request).await else { return paths };
        let mut stream = answer.into_inner();
        while let Ok(Some(listed)) = stream.message().await {
            paths.extend(listed.path);
        }
        paths
    })
}

fn peer(runtime: &NsRuntime, address: &str) -> v1::Peer {
    let mut client = runtime.client(API, UP).check("bgpd's API");
    let request = v1::GetPeerRequest { address: address.to_owned() };
    runtime
        .run(async move { client.get_peer(request).await })
        .map(|answer| answer.into_inner().peer.expect("a peer"))
        .unwrap_or_else(|status| panic!("GetPeer: {status}"))
}

#[test]
fn rfc8212_nothing_crosses_ebgp_with_bird_without_policy() {
    let pair = pair("bgpd", "bird").check("topology");
    let config = BgpdConfig::new(65001, OURS)
        .neighbor(BgpdNeighbor::new(pair.right_v4, 65002).import_policy(&[]).export_policy(&[]))
        .route(BgpdRoute::new(net("198.51.100.10/32")));
    let bgpd = start_bgpd(&pair.left, &config);
    let bird = Bird::start(
        &pair.right,
        &bird_towards_bgpd(65002, 65001, pair.left_v4).static_protocol(bird_statics()),
    )
    .check("BIRD starts");
    bgpd.annotate(bird.wait_established("ironlb", UP)).check("session up");
    bgpd.annotate(wait_until(
        "bgpd to warn about RFC 8212",
        ROUTE,
        Duration::from_millis(200),
        || {
            let log = bgpd.log_tail(200);
            (log.contains("no route is accepted from") && log.contains("no route is sent to"))
                .then_some(())
        },
        || bgpd.log_tail(40),
    ))
    .check("RFC 8212 applies");
    let runtime = NsRuntime::new(&pair.left).check("a runtime in bgpd's namespace");
    let start = Instant::now();
    while start.elapsed() < QUIET {
        let imported = bird.protocol("ironlb").check("BIRD's protocol").imported;
        assert_eq!(imported, 0, "bgpd sent BIRD a route without an export policy");
        let learned: Vec<String> = loc_rib(&runtime)
            .into_iter()
            .map(|p| p.prefix)
            .filter(|p| p.starts_with("198.18."))
            .collect();
        assert!(learned.is_empty(), "bgpd took {learned:?} without an import policy");
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = peer(&runtime, &pair.right_v4.to_string()).status.expect("status");
    let policy = status.policy.expect("policy status");
    assert!(policy.import_blocked && policy.export_blocked, "{policy:?}");
}

#[test]
fn community_import_and_prefix_export_with_bird() {
    let pair = pair("bgpd", "bird").check("topology");
    let mut config = BgpdConfig::new(65001, OURS)
        .neighbor(
            BgpdNeighbor::new(pair.right_v4, 65002)
                .import_policy(&["import-tagged"])
                .export_policy(&["export-services"]),
        )
        .route(BgpdRoute::new(net("198.51.100.10/32")))
        .route(BgpdRoute::new(net("203.0.113.10/32")));
    config.policies = POLICIES.to_owned();
    let bgpd = start_bgpd(&pair.left, &config);
    let bird = Bird::start(
        &pair.right,
        &bird_towards_bgpd(65002, 65001, pair.left_v4).static_protocol(bird_statics()),
    )
    .check("BIRD starts");

    // Export: the prefix set passes one route, prepended once, then our AS.
    let route = bgpd
        .annotate(bird.wait_route(net("198.51.100.10/32"), UP, |_| true, "ironlb"))
        .check("BIRD learns the service route");
    assert_eq!(route.as_path, "65001 65001", "prepended once, then our own AS");
    assert!(
        bird.route(net("203.0.113.10/32")).check("BIRD's table").is_none(),
        "a route outside the prefix set crossed"
    );

    // Import: the tagged route with LOCAL_PREF 200 and our community; not the other.
    let runtime = NsRuntime::new(&pair.left).check("a runtime in bgpd's namespace");
    let tagged = bgpd
        .annotate(wait_until(
            "bgpd to install BIRD's tagged route",
            ROUTE,
            Duration::from_millis(200),
            || loc_rib(&runtime).into_iter().find(|p| p.prefix == "198.18.1.0/24"),
            || format!("{:?}", loc_rib(&runtime)),
        ))
        .check("the tagged route is imported");
    assert_eq!(tagged.local_pref, Some(200), "{tagged:?}");
    assert!(tagged.communities.iter().any(|c| c == "65001:42"), "{tagged:?}");
    assert!(tagged.communities.iter().any(|c| c == "65002:100"), "{tagged:?}");
    // BIRD sends the two routes in UPDATEs of their own: wait for the refusal.
    let address = pair.right_v4.to_string();
    let policy = bgpd
        .annotate(wait_until(
            "bgpd to count the untagged route as rejected",
            ROUTE,
            Duration::from_millis(200),
            || {
                let policy = peer(&runtime, &address).status?.policy?;
                (policy.import_rejected >= 1).then_some(policy)
            },
            || format!("{:?}", peer(&runtime, &address).status.and_then(|s| s.policy)),
        ))
        .check("the import counters");
    assert!(!policy.import_blocked && !policy.export_blocked, "{policy:?}");
    assert!(policy.import_accepted >= 1 && policy.import_modified >= 1, "{policy:?}");
    let paths = loc_rib(&runtime);
    assert!(
        paths.iter().all(|p| p.prefix != "198.18.2.0/24"),
        "the untagged route was imported: {paths:?}"
    );
}
