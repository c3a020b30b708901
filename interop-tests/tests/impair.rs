//! The userspace impaired link (`interop_tests::impair`, issue #17 soak) on real namespaces:
//! a ping shows the delay in both directions, and BGP comes up across 5 % loss and 200 ms.
//!
//! ```text
//!   [left] 192.0.2.1 ── wa [wire: AF_PACKET bridge, delay + loss] wb ── 192.0.2.2 [right]
//! ```

mod common;

use std::time::Duration;

use common::*;
use interop_tests::Check;
use interop_tests::bgpd::BgpdRoute;
use interop_tests::frr::Frr;
use interop_tests::impair::{ImpairedLink, Impairment, Mode, impaired_link};
use interop_tests::netns::Namespace;

fn impaired_pair(impairment: Impairment) -> (Namespace, Namespace, ImpairedLink) {
    let left = Namespace::new("left").check("left namespace");
    let right = Namespace::new("right").check("right namespace");
    let link = impaired_link(
        (&left, "to-right", &["192.0.2.1/24"]),
        (&right, "to-left", &["192.0.2.2/24"]),
        impairment,
        Mode::Userspace { seed: 17 },
    )
    .check("impaired link");
    (left, right, link)
}

/// `rtt min/avg/max/mdev = 400.1/400.5/401.0/0.3 ms` -> (min, max) in ms.
fn rtt_min_max(output: &str) -> Option<(f64, f64)> {
    let line = output.lines().find(|l| l.contains("min/avg/max"))?;
    let values = line.split('=').nth(1)?.split_whitespace().next()?;
    let numbers: Vec<f64> = values.split('/').filter_map(|v| v.parse().ok()).collect();
    Some((*numbers.first()?, *numbers.get(2)?))
}

#[test]
fn a_ping_takes_the_delay_each_way() {
    let (left, _right, link) =
        impaired_pair(Impairment { loss: 0.0, delay: Duration::from_millis(200) });
    let output = left
        .exec("ping", &["-c", "5", "-i", "0.2", "-W", "3", "192.0.2.2"])
        .check("ping across the wire (no loss)");
    let text = String::from_utf8_lossy(&output.stdout);
    let (min, max) = rtt_min_max(&text).unwrap_or_else(|| panic!("no rtt line in:\n{text}"));
    // 200 ms each way; ARP resolution adds one more round trip to the first ping only.
    assert!(min >= 399.0, "round trip {min} ms is shorter than 2 x 200 ms:\n{text}");
    assert!(max < 1_300.0, "round trip {max} ms is far beyond 2 x 200 ms:\n{text}");
    let [forward, backward] = link.counts().expect("userspace counters");
    assert!(forward.counts.delivered >= 5 && backward.counts.delivered >= 5, "{forward:?}");
    assert_eq!(forward.counts.lost + backward.counts.lost, 0);
    assert_eq!(forward.send_errors + backward.send_errors, 0);
}

#[test]
fn bgp_comes_up_across_loss_and_delay() {
    let (left, right, link) = impaired_pair(Impairment::SOAK);
    let bgpd = start_bgpd(
        &left,
        &bgpd_towards(65001, ip("192.0.2.2"), 65002).route(BgpdRoute::new(net("203.0.113.0/24"))),
    );
    let frr =
        Frr::start(&right, &frr_towards_bgpd(65002, 65001, ip("192.0.2.1"))).check("FRR starts");
    bgpd.annotate(frr.wait_established(ip("192.0.2.1"), Duration::from_secs(60)))
        .check("eBGP session across the impaired link");
    bgpd.annotate(frr.wait_route(net("203.0.113.0/24"), ROUTE, |_| true, ip("192.0.2.1")))
        .check("FRR learns bgpd's route across the impaired link");
    let [forward, backward] = link.counts().expect("userspace counters");
    assert!(forward.counts.offered > 0 && backward.counts.offered > 0, "{forward:?} {backward:?}");
    assert_eq!(forward.send_errors + backward.send_errors, 0, "{forward:?} {backward:?}");
}
