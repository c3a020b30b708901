//! Max-prefix of ironlb bgpd against FRR (issue #12, RFC 4486 §4): FRR sends more prefixes than
//! bgpd's `[neighbors.max_prefixes]` allows, bgpd stops the session with Cease / Maximum Number of
//! Prefixes Reached (FRR records 6/1 with its data) and holds it down (until EnablePeer, or
//! `restart_time`), and `warning_only` keeps the session with a log line. bgpd's GetPeer shows
//! the hold.
//!
//! ```text
//!   [bgpd AS65001] 192.0.2.1 ──── eBGP ──── 192.0.2.2 [FRR AS65002, 5 networks]
//! ```

mod common;

use std::time::{Duration, Instant};

use common::*;
use interop_tests::api::NsRuntime;
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor};
use interop_tests::frr::{Frr, FrrNetwork};
use interop_tests::topology::{Pair, pair};
use interop_tests::{Check, Family, wait_until};
use ironlb_proto::bgpd::v1;

/// How long a held-down session is watched to stay down.
const QUIET: Duration = Duration::from_secs(4);
/// FRR's networks: five, against a limit of three.
const NETWORKS: [&str; 5] =
    ["198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24", "198.18.4.0/24", "198.18.5.0/24"];
const API: &str = "127.0.0.1:50051";

fn start(pair: &Pair, limits: &str) -> (Bgpd, Frr) {
    let config = BgpdConfig::new(65001, OURS).neighbor(
        BgpdNeighbor::new(pair.right_v4, 65002)
            .connect_retry_time(1)
            .extra(&format!("[neighbors.max_prefixes]\n{limits}")),
    );
    let bgpd = start_bgpd(&pair.left, &config);
    let mut frr_config = frr_towards_bgpd(65002, 65001, pair.left_v4);
    for network in NETWORKS {
        frr_config = frr_config.network(FrrNetwork::new(net(network)));
    }
    let frr = Frr::start(&pair.right, &frr_config).check("FRR starts");
    (bgpd, frr)
}

/// bgpd's log line for a teardown: the peer, the family, the count and the limit.
const TEARDOWN: &str = "5 prefixes accepted from 192.0.2.2 (ipv4-unicast) exceed the limit 3: \
                        session stopped";

/// Waits until bgpd logged its `times`th teardown and FRR records bgpd's Cease 6/1.
fn wait_for_teardown(bgpd: &Bgpd, frr: &Frr, pair: &Pair, times: usize) {
    bgpd.annotate(wait_until(
        "bgpd to stop the session and FRR to receive Cease/Maximum Number of Prefixes Reached",
        ROUTE,
        Duration::from_millis(200),
        || {
            let logged = bgpd.log_tail(1000).matches(TEARDOWN).count();
            let status = frr.neighbor(pair.left_v4).ok()??;
            (logged >= times
                && status.last_error_code_subcode.as_deref() == Some("0601")
                && status.state != "Established")
                .then_some(())
        },
        || frr.describe(pair.left_v4),
    ))
    .check("bgpd tears the session down with 6/1");
}

fn get_peer(runtime: &NsRuntime, address: &str) -> v1::Peer {
    let mut client = runtime.client(API, UP).check("bgpd's API");
    let request = v1::GetPeerRequest { address: address.to_owned() };
    runtime
        .run(async move { client.get_peer(request).await })
        .check_status("GetPeer")
        .into_inner()
        .peer
        .expect("GetPeer answers a peer")
}

trait CheckStatus<T> {
    fn check_status(self, what: &str) -> T;
}

impl<T> CheckStatus<T> for Result<T, tonic::Status> {
    fn check_status(self, what: &str) -> T {
        self.unwrap_or_else(|status| panic!("{what}: {status}"))
    }
}

#[test]
fn exceeding_the_limit_sends_cease_6_1_and_holds_the_session_until_enable() {
    let pair = pair("bgpd", "frr").check("topology");
    let (bgpd, frr) = start(&pair, "ipv4-unicast = 3\n");
    wait_for_teardown(&bgpd, &frr, &pair, 1);
    // FRR saw the Cease with RFC 4486's data: AFI 1, SAFI 1, limit 3.
    let json = frr
        .vtysh(&[&format!("show bgp neighbors {} json", pair.left_v4)])
        .check("FRR's neighbour JSON");
    assert!(json.contains("Maximum Number of Prefixes Reached"), "{json}");

    // Held down: FRR keeps trying (every second) and is refused.
    let start = Instant::now();
    while start.elapsed() < QUIET {
        assert!(!frr.is_established(pair.left_v4), "the session came back while held down");
        std::thread::sleep(Duration::from_millis(200));
    }
    let runtime = NsRuntime::new(&pair.left).check("a runtime in bgpd's namespace");
    let peer = get_peer(&runtime, &pair.right_v4.to_string());
    let held = peer.status.and_then(|s| s.max_prefix).expect("GetPeer shows the max-prefix state");
    assert!(held.held, "{held:?}");
    assert_eq!((held.count, held.limit, held.restart_in_seconds), (5, 3, 0), "{held:?}");
    assert_eq!(held.family, v1::Family::Ipv4Unicast as i32);
    assert_eq!(held.teardowns, 1);

    // EnablePeer ends the hold: the session comes back (and FRR's five prefixes take it down again).
    let mut client = runtime.client(API, UP).check("bgpd's API");
    let address = pair.right_v4.to_string();
    runtime
        .run(async move { client.enable_peer(v1::EnablePeerRequest { address }).await })
        .check_status("EnablePeer");
    wait_for_teardown(&bgpd, &frr, &pair, 2);
    let established = frr.neighbor(pair.left_v4).check("FRR").expect("neighbour").established_count;
    assert!(established >= 2, "EnablePeer brought the session back: {established} sessions");
}

#[test]
fn restart_time_starts_the_session_again() {
    let pair = pair("bgpd", "frr").check("topology");
    let (bgpd, frr) = start(&pair, "ipv4-unicast = 3\nrestart_time = 2\n");
    wait_for_teardown(&bgpd, &frr, &pair, 1);
    // Two seconds later bgpd starts again, and the five prefixes stop it again.
    wait_for_teardown(&bgpd, &frr, &pair, 2);
    let status = frr.neighbor(pair.left_v4).check("FRR").expect("neighbour");
    assert!(status.established_count >= 2, "{status:?}");
}

#[test]
fn warning_only_keeps_the_session_and_the_routes() {
    let pair = pair("bgpd", "frr").check("topology");
    let (bgpd, frr) = start(&pair, "ipv4-unicast = 3\nwarning_only = true\n");
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session up");
    bgpd.annotate(wait_until(
        "bgpd to warn that the limit is exceeded",
        ROUTE,
        Duration::from_millis(200),
        || {
            let log = bgpd.log_tail(400);
            // Five prefixes arrive in one UPDATE: straight over the limit, past the threshold.
            log.contains("exceed the limit 3; warning_only, the session stays").then_some(())
        },
        || bgpd.log_tail(40),
    ))
    .check("warning logged");
    let start = Instant::now();
    while start.elapsed() < QUIET {
        assert!(frr.is_established(pair.left_v4), "warning_only tore the session down");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, sent) = frr.prefix_counts(pair.left_v4, Family::Ipv4Unicast).check("counts");
    assert_eq!(sent, 5);
    let runtime = NsRuntime::new(&pair.left).check("a runtime in bgpd's namespace");
    let peer = get_peer(&runtime, &pair.right_v4.to_string());
    let status = peer.status.expect("status");
    let learned: u64 = status.prefixes.iter().map(|p| p.accepted).sum();
    assert_eq!(learned, 5, "the routes are kept");
    let state = status.max_prefix.expect("max-prefix state");
    assert!(!state.held);
    assert_eq!(state.exceeded, [v1::Family::Ipv4Unicast as i32]);
}
