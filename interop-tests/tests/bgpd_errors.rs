//! ironlb bgpd's error handling seen from FRR: Bad Peer AS, Hold Timer Expired against a
//! frozen peer, Cease on SIGTERM, and a SIGKILL dropping the session.
//!
//! Standard pair: bgpd left at 192.0.2.1, FRR right at 192.0.2.2.

mod common;

use std::time::Duration;

use common::*;
use interop_tests::bgpd::{BgpdConfig, BgpdNeighbor, BgpdRoute};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor};
use interop_tests::tcpdump::{Capture, CapturedMessage};
use interop_tests::topology::pair;
use interop_tests::{Check, wait_until};

fn notification_from(messages: &[CapturedMessage], from: std::net::IpAddr) -> Option<(u8, u8)> {
    messages.iter().filter(|m| m.from.ip() == from).find_map(CapturedMessage::notification)
}

/// bgpd expects AS65009, FRR is AS65002: bgpd answers FRR's OPEN with NOTIFICATION
/// OPEN Message Error / Bad Peer AS (2/2), which FRR records as its last notification.
#[test]
fn wrong_remote_as_is_answered_with_bad_peer_as() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(&pair.left, &bgpd_towards(65001, pair.right_v4, 65009));
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");

    let status = bgpd
        .annotate(wait_until(
            "FRR to receive OPEN error Bad Peer AS",
            UP,
            Duration::from_millis(200),
            || {
                frr.neighbor(pair.left_v4)
                    .ok()
                    .flatten()
                    .filter(|s| s.last_error_code_subcode.as_deref() == Some("0202"))
            },
            || frr.describe(pair.left_v4),
        ))
        .check("Bad Peer AS");
    assert!(status.notifications_received > 0, "{status:?}");
    assert_ne!(status.state, "Established");
}

/// FRR is frozen with SIGSTOP; with a 3 s hold time bgpd must send NOTIFICATION Hold Timer
/// Expired (4/0) and drop the session, which comes back once FRR is thawed.
#[test]
fn hold_timer_expires_when_the_peer_is_frozen() {
    let pair = pair("bgpd", "frr").check("topology");
    let capture = Capture::start(&pair.left, &pair.interfaces.0).check("tcpdump");
    let bgpd = start_bgpd(
        &pair.left,
        &BgpdConfig::new(65001, OURS)
            .neighbor(BgpdNeighbor::new(pair.right_v4, 65002).hold_time(3)),
    );
    let frr = Frr::start(
        &pair.right,
        &FrrConfig::new(65002, THEIRS).neighbor(FrrNeighbor::new(pair.left_v4, 65001).timers(1, 3)),
    )
    .check("FRR starts");
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session up");

    frr.freeze();
    let sent = bgpd.annotate(wait_until(
        "bgpd to send Hold Timer Expired to the frozen FRR",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || {
            notification_from(&capture.messages_so_far().ok()?, pair.left_v4)
                .filter(|(code, _)| *code == 4)
        },
        || format!("{:?}", capture.messages_so_far().map(|m| m.len())),
    ));
    frr.thaw();
    let (code, subcode) = sent.check("Hold Timer Expired");
    assert_eq!((code, subcode), (4, 0));
    bgpd.annotate(wait_until(
        "the session to come back after the thaw",
        UP,
        Duration::from_millis(200),
        || {
            frr.neighbor(pair.left_v4)
                .ok()
                .flatten()
                .filter(|s| s.state == "Established" && s.established_count >= 2)
        },
        || frr.describe(pair.left_v4),
    ))
    .check("re-established");
}

/// SIGTERM: bgpd sends NOTIFICATION Cease (6/x) to every peer and exits 0.
#[test]
fn sigterm_sends_cease_and_exits_zero() {
    let pair = pair("bgpd", "frr").check("topology");
    let capture = Capture::start(&pair.left, &pair.interfaces.0).check("tcpdump");
    let mut bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002).route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");
    bgpd.annotate(frr.wait_route(net("198.51.100.10/32"), UP, |_| true, pair.left_v4))
        .check("session up with our route");

    let status = bgpd.terminate(Duration::from_secs(10)).check("bgpd exits on SIGTERM");
    assert!(status.success(), "exit status {status}\n{}", bgpd.log_tail(40));
    let seen = wait_until(
        "FRR to record a Cease",
        ROUTE,
        Duration::from_millis(200),
        || {
            frr.neighbor(pair.left_v4).ok().flatten().filter(|s| {
                s.last_error_code_subcode.as_deref().is_some_and(|c| c.starts_with("06"))
            })
        },
        || frr.describe(pair.left_v4),
    )
    .check("Cease at FRR");
    assert_ne!(seen.state, "Established");
    let messages = capture.messages_so_far().check("pcap");
    assert_eq!(notification_from(&messages, pair.left_v4).map(|n| n.0), Some(6));
    frr.wait_no_route(net("198.51.100.10/32"), ROUTE, pair.left_v4).check("FRR flushes our route");
}

/// SIGKILL: no NOTIFICATION, the kernel closes the connection and FRR drops the session.
#[test]
fn sigkill_drops_the_session() {
    let pair = pair("bgpd", "frr").check("topology");
    let mut bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002).route(BgpdRoute::new(net("198.51.100.10/32"))),
    );
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session up");

    bgpd.kill();
    wait_until(
        "FRR to leave Established",
        ROUTE,
        Duration::from_millis(200),
        || (!frr.is_established(pair.left_v4)).then_some(()),
        || frr.describe(pair.left_v4),
    )
    .check("session down");
    frr.wait_no_route(net("198.51.100.10/32"), ROUTE, pair.left_v4).check("FRR flushes our route");
    let status = frr.neighbor(pair.left_v4).check("vtysh").expect("neighbour known");
    assert_eq!(status.notifications_received, 0, "{status:?}");
}
