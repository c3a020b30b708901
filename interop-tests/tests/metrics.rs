//! bgpd's `/metrics` while a session with FRR runs and routes flow, parsed
//! with a Prometheus text parser (prometheus-parse, not regexes): messages
//! are counted, the prefixes bgpd says it received equal what FRR says it
//! sent, our route counts as announced, and `ironlb_bgp_session_up` drops
//! to 0 once FRR is gone.
//!
//! bgpd listens for metrics on the left namespace's loopback; the test reads
//! them with `curl` run inside that namespace.

mod common;

use std::time::Duration;

use common::*;
use interop_tests::bgpd::BgpdRoute;
use interop_tests::frr::{Frr, FrrNetwork};
use interop_tests::netns::Namespace;
use interop_tests::topology::pair;
use interop_tests::{Check, Family, wait_until};

const METRICS: &str = "127.0.0.1:9179";
const POLL: Duration = Duration::from_millis(200);
/// FRR announces this many /32s.
const FRR_ROUTES: u64 = 40;

/// One scrape, parsed; `None` while bgpd does not answer.
fn scrape(namespace: &Namespace) -> Option<prometheus_parse::Scrape> {
    let url = format!("http://{METRICS}/metrics");
    let output = namespace.exec("curl", &["-sf", "--max-time", "5", url.as_str()]).ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    assert!(text.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF:\n{text}");
    Some(prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses"))
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[test]
fn metrics_follow_a_session_with_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(
        &pair.left,
        &bgpd_towards(65001, pair.right_v4, 65002)
            .route(BgpdRoute::new(net("198.51.100.10/32")))
            .metrics(METRICS),
    );
    let mut frr_config = frr_towards_bgpd(65002, 65001, pair.left_v4);
    for i in 1..=FRR_ROUTES {
        frr_config = frr_config.network(FrrNetwork::new(net(&format!("203.0.113.{i}/32"))));
    }
    let mut frr = Frr::start(&pair.right, &frr_config).check("FRR starts");
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session with FRR");
    bgpd.annotate(frr.wait_route(net("198.51.100.10/32"), ROUTE, |_| true, pair.left_v4))
        .check("FRR learns our route");

    let peer = pair.right_v4.to_string();
    let peer = [("peer", peer.as_str())];
    let full = bgpd
        .annotate(wait_until(
            "bgpd's metrics to show every FRR route received",
            ROUTE,
            POLL,
            || {
                scrape(&pair.left).filter(|s| {
                    value(s, "ironlb_bgp_received_prefixes_total", &peer) == Some(FRR_ROUTES as f64)
                })
            },
            || format!("last scrape: {:?}", scrape(&pair.left).map(|s| s.samples.len())),
        ))
        .check("prefixes received reach what FRR announced");

    let (_, frr_sent) = frr.prefix_counts(pair.left_v4, Family::Ipv4Unicast).check("FRR's summary");
    // FRR also sends our own route back to us; bgpd drops it on the AS_PATH
    // loop (RFC 4271 9.1.2), so it holds what FRR sent but that one.
    assert_eq!(frr_sent, FRR_ROUTES + 1, "FRR's pfxSnt: its routes and ours");
    let v4 = [("peer", peer[0].1), ("family", "ipv4-unicast")];
    assert_eq!(value(&full, "ironlb_bgp_prefixes_received", &v4), Some((frr_sent - 1) as f64));
    assert_eq!(value(&full, "ironlb_bgp_prefixes_accepted", &v4), Some((frr_sent - 1) as f64));
    assert_eq!(value(&full, "ironlb_bgp_session_up", &peer), Some(1.0));
    assert_eq!(value(&full, "ironlb_bgp_fsm_state", &peer), Some(6.0));
    assert_eq!(value(&full, "ironlb_bgp_opens_sent", &peer), Some(1.0));
    assert_eq!(value(&full, "ironlb_bgp_opens_received", &peer), Some(1.0));
    assert_eq!(value(&full, "ironlb_bgp_established_transitions_total", &peer), Some(1.0));
    let updates_in = value(&full, "ironlb_bgp_updates_total_received", &peer).unwrap_or(0.0);
    assert!(updates_in >= 1.0, "UPDATEs received counted: {updates_in}");
    assert!(value(&full, "ironlb_bgp_updates_total", &peer).is_some_and(|n| n >= 1.0));
    assert!(value(&full, "ironlb_bgp_keepalives_received", &peer).is_some_and(|n| n >= 1.0));
    let total_in = value(&full, "ironlb_bgp_total_received", &peer).unwrap_or(0.0);
    assert!(total_in >= 2.0 + updates_in, "total counts every message: {total_in}");
    assert_eq!(value(&full, "ironlb_bgp_announced_prefixes_total", &peer), Some(1.0));
    let rib = [("family", "ipv4-unicast")];
    assert_eq!(value(&full, "ironlb_rib_prefixes", &rib), Some(FRR_ROUTES as f64 + 1.0));

    // Routes keep flowing: FRR withdraws one, bgpd counts the withdrawal.
    frr.remove_network(net("203.0.113.1/32")).check("FRR withdraws a route");
    let withdrawn = [("peer", peer[0].1), ("family", "ipv4-unicast"), ("direction", "received")];
    bgpd.annotate(wait_until(
        "the withdrawal to be counted",
        ROUTE,
        POLL,
        || {
            scrape(&pair.left).filter(|s| {
                value(s, "ironlb_bgp_withdrawals_total", &withdrawn) == Some(1.0)
                    && value(s, "ironlb_bgp_received_prefixes_total", &peer)
                        == Some(FRR_ROUTES as f64 - 1.0)
            })
        },
        String::new,
    ))
    .check("withdrawal counted and prefixes down by one");

    // FRR goes away: the session is down in the metrics, with a reason.
    frr.kill();
    let down = bgpd
        .annotate(wait_until(
            "ironlb_bgp_session_up to drop to 0",
            UP,
            POLL,
            || scrape(&pair.left).filter(|s| value(s, "ironlb_bgp_session_up", &peer) == Some(0.0)),
            String::new,
        ))
        .check("session_up 0 after FRR stops");
    assert_eq!(value(&down, "ironlb_bgp_received_prefixes_total", &peer), Some(0.0));
    assert!(
        down.samples
            .iter()
            .any(|s| s.metric == "ironlb_bgp_last_error_info"
                && s.labels.get("peer") == Some(peer[0].1)),
        "the reason the session ended is exposed"
    );
}
