//! Connection collisions (RFC 4271 §6.8): both ends connect at once, again and again.
//!
//! ```text
//!   [left: ironlb bgpd AS65001] 192.0.2.1 ──── 192.0.2.2 [right: ironlb bgpd or FRR AS65002]
//! ```
//!
//! Each round starts both daemons at the same moment, so that each end's first connection
//! attempt meets the other's. Checked on the wire (tcpdump on the link):
//! - the round ends with one session carrying the routes both ways;
//! - ironlb never answers an OPEN with a KEEPALIVE on a connection it then closes with the
//!   collision Cease (6/7): a peer can be Established on such a connection, and a graceful
//!   restart helper (FRR 8.4) flushes routes it was keeping stale when that session drops.
//!
//! Collisions happen in some rounds, not all; the count is printed. The decision logic is
//! proven over every delivery order in `bgpd::fsm::collision`'s tests; these rounds prove
//! the session task carries it out against real sockets and a real FRR.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor, BgpdRoute};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor, FrrNetwork};
use interop_tests::netns::Namespace;
use interop_tests::tcpdump::{Capture, CapturedMessage, KEEPALIVE, NOTIFICATION, OPEN, UPDATE};
use interop_tests::topology::pair;
use interop_tests::{Check, wait_until};

const ROUNDS: usize = 8;

/// What one round's capture shows.
#[derive(Debug, Default)]
struct Round {
    /// TCP connections on which both ends sent an OPEN.
    connections: usize,
    /// Connections on which both ends sent UPDATEs.
    carrying: usize,
    /// `from → to` where ironlb sent a KEEPALIVE, then the collision Cease.
    torn: Vec<String>,
}

fn analyse(messages: &[CapturedMessage], ironlb: &[IpAddr]) -> Round {
    let mut round = Round::default();
    let key = |m: &CapturedMessage| {
        if m.from < m.to { (m.from, m.to) } else { (m.to, m.from) }
    };
    let mut opens: HashSet<(SocketAddr, SocketAddr)> = HashSet::new();
    let mut updates: HashSet<(SocketAddr, SocketAddr)> = HashSet::new();
    let mut keepalive_sent: HashSet<(SocketAddr, SocketAddr)> = HashSet::new();
    let mut both_open: HashSet<(SocketAddr, SocketAddr)> = HashSet::new();
    let mut both_update: HashSet<(SocketAddr, SocketAddr)> = HashSet::new();
    for m in messages {
        match m.kind() {
            OPEN => {
                opens.insert((m.from, m.to));
                if opens.contains(&(m.to, m.from)) {
                    both_open.insert(key(m));
                }
            }
            UPDATE => {
                updates.insert((m.from, m.to));
                if updates.contains(&(m.to, m.from)) {
                    both_update.insert(key(m));
                }
            }
            KEEPALIVE => {
                keepalive_sent.insert((m.from, m.to));
            }
            NOTIFICATION
                if m.notification() == Some((6, 7))
                    && ironlb.contains(&m.from.ip())
                    && keepalive_sent.contains(&(m.from, m.to)) =>
            {
                round.torn.push(format!("{} → {}", m.from, m.to));
            }
            _ => {}
        }
    }
    round.connections = both_open.len();
    round.carrying = both_update.len();
    round
}

fn bgpd_config(
    asn: u32,
    router_id: std::net::Ipv4Addr,
    peer: IpAddr,
    peer_asn: u32,
    route: &str,
) -> BgpdConfig {
    BgpdConfig::new(asn, router_id)
        .neighbor(BgpdNeighbor::new(peer, peer_asn).connect_retry_time(1))
        .route(BgpdRoute::new(net(route)))
}

/// Waits until the capture shows UPDATEs both ways on one connection.
fn wait_carrying(capture: &Capture, ironlb: &[IpAddr], what: &str) -> Round {
    wait_until(
        what,
        UP,
        Duration::from_millis(100),
        || {
            let messages = capture.messages_so_far().ok()?;
            let round = analyse(&messages, ironlb);
            (round.carrying > 0).then_some(round)
        },
        || "no connection carried UPDATEs both ways".to_owned(),
    )
    .check(what)
}

fn start_both<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = scope.spawn(b);
        (a.join().expect("start"), b.join().expect("start"))
    })
}

fn start_bgpd(namespace: &Namespace, config: &BgpdConfig) -> Bgpd {
    Bgpd::start(namespace, config).check("bgpd starts")
}

/// Runs [`ROUNDS`] rounds: both ends started at once (`start` gives both, with a closure
/// that tails their logs for failure messages), then the capture is checked; the ends are
/// killed when the round drops them.
fn rounds<Ends>(
    pair: &interop_tests::topology::Pair,
    ironlb: &[IpAddr],
    start: impl Fn() -> Ends,
    logs: impl Fn(&Ends) -> String,
) {
    let mut collisions = 0;
    for round in 0..ROUNDS {
        let mut capture = Capture::start(&pair.left, &pair.interfaces.0).check("capture");
        let ends = start();
        let seen = wait_carrying(&capture, ironlb, "routes both ways");
        let messages = capture.messages().check("capture");
        let last = analyse(&messages, ironlb);
        assert!(
            seen.torn.is_empty() && last.torn.is_empty(),
            "round {round}: KEEPALIVE then collision Cease on {:?}\n{}",
            last.torn,
            logs(&ends)
        );
        assert_eq!(last.carrying, 1, "round {round}: {last:?}");
        if last.connections > 1 {
            collisions += 1;
        }
    }
    println!("{collisions} of {ROUNDS} rounds had both connections reach the OPEN exchange");
}

#[test]
fn two_bgpds_connecting_at_once_keep_one_connection() {
    let pair = pair("bgpd-a", "bgpd-b").check("topology");
    let left = bgpd_config(65001, OURS, pair.right_v4, 65002, "198.51.100.1/32");
    let right = bgpd_config(65002, THEIRS, pair.left_v4, 65001, "198.51.100.2/32");
    rounds(
        &pair,
        &[pair.left_v4, pair.right_v4],
        || start_both(|| start_bgpd(&pair.left, &left), || start_bgpd(&pair.right, &right)),
        |(a, b)| format!("{}\n{}", a.log_tail(40), b.log_tail(40)),
    );
}

#[test]
fn bgpd_and_frr_connecting_at_once_keep_one_connection() {
    let pair = pair("bgpd", "frr").check("topology");
    let left = bgpd_config(65001, OURS, pair.right_v4, 65002, "198.51.100.1/32");
    let frr_config = FrrConfig::new(65002, THEIRS)
        .neighbor(FrrNeighbor::new(pair.left_v4, 65001))
        .network(FrrNetwork::new(net("198.51.100.2/32")));
    rounds(
        &pair,
        &[pair.left_v4],
        || {
            start_both(
                || start_bgpd(&pair.left, &left),
                || Frr::start(&pair.right, &frr_config).check("FRR starts"),
            )
        },
        |(bgpd, frr)| format!("{}\n{}", bgpd.log_tail(40), frr.log_tail(40)),
    );
}
