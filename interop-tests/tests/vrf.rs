//! A neighbor's `vrf` (SO_BINDTODEVICE) against FRR 8.4.
//!
//! This kernel has no VRF device type: `ip link add vrf-blue type vrf table
//! 10` fails with "Error: Unknown device type." (the `vrf` module is not
//! built). So the binding is shown with ordinary devices, which
//! SO_BINDTODEVICE treats the same way for routing (the route lookup is
//! limited to the bound device) and for receiving (only packets that arrived
//! on the device reach the socket). `real_vrf_device` runs the VRF case where
//! the kernel has VRFs and otherwise says what it could not do.
//!
//! ```text
//!            link-a 192.0.2.1/24    ──── 192.0.2.2/24    link-a
//!  [bgpd]    link-b 198.51.100.1/24 ──── 198.51.100.2/24 link-b    [FRR]
//!  lo 203.0.113.1/32                                    lo 203.0.113.2/32
//! ```
//!
//! The session runs between the loopbacks. bgpd's namespace routes FRR's
//! loopback over link B first (metric 10) and link A second (metric 20);
//! FRR's namespace routes back over A first. With `vrf = "link-a"`:
//!
//! 1. link A does not exist yet when bgpd starts: the session stays down
//!    (FRR's connections arrive over B and are refused), GetPeer and
//!    `bgpctl neighbor show` say the device is missing;
//! 2. link A is created: bgpd's retry binds it and the session comes up,
//!    its socket bound to link-a (`ss` shows `%link-a`) although the
//!    preferred route is over B;
//! 3. link B down: the session stays up (hold time 9 s, watched for 12 s);
//! 4. link B up, link A down: the session drops and stays down, although B
//!    still routes between the loopbacks (FRR's new connections over B are
//!    refused, bgpd's own connections cannot leave through a down device).

mod common;

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use common::*;
use interop_tests::bgpd::{BgpdConfig, BgpdNeighbor};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor};
use interop_tests::netns::{Namespace, connect};
use interop_tests::{Check, hold_for, wait_until};
use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

const API: &str = "127.0.0.1:50051";
const BGPD_LO: &str = "203.0.113.1";
const FRR_LO: &str = "203.0.113.2";
/// Hold time on both sides is 9 s: a dead path shows within it.
const DROP: Duration = Duration::from_secs(20);
/// Longer than the hold time: a session that survives it does not depend on the link.
const SURVIVE: Duration = Duration::from_secs(12);
const POLL: Duration = Duration::from_millis(200);

/// Runs `call` with an API client inside `namespace` (a thread that joined it).
fn api<T, F, Fut>(namespace: &Namespace, call: F) -> T
where
    T: Send + 'static,
    F: FnOnce(BgpServiceClient<Channel>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    interop_tests::api::with_client(namespace, API, UP, call).expect("bgpd's API")
}

fn get_peer(namespace: &Namespace, address: &str) -> v1::Peer {
    let address = address.to_owned();
    api(namespace, move |mut client| async move {
        let request = v1::GetPeerRequest { address };
        client.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("peer")
    })
}

fn ip_in(namespace: &Namespace, args: &[&str]) {
    namespace.ip(args).check(&format!("ip {}", args.join(" ")));
}

/// Link A: bgpd's side and FRR's, with the routes between the loopbacks
/// (bgpd prefers B, so metric 20 here; FRR prefers A).
fn add_link_a(bgpd: &Namespace, frr: &Namespace) {
    connect(bgpd, "link-a", &["192.0.2.1/24"], frr, "link-a", &["192.0.2.2/24"]).check("link A");
    let via = ["route", "add", "203.0.113.2/32", "via", "192.0.2.2", "dev", "link-a"];
    ip_in(bgpd, &[&via[..], &["metric", "20"]].concat());
    let back = ["route", "add", "203.0.113.1/32", "via", "192.0.2.1", "dev", "link-a"];
    ip_in(frr, &[&back[..], &["metric", "10"]].concat());
}

/// The TCP sockets of BGP sessions in `namespace`, as `ss` prints them.
fn bgp_sockets(namespace: &Namespace) -> String {
    let args = ["-tnH", "state", "established", "( sport = :179 or dport = :179 )"];
    namespace
        .exec("ss", &args)
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

fn bgpctl_show(namespace: &Namespace, address: &str) -> String {
    let bgpctl = interop_tests::bgpd::binary().check("bgpd binary").with_file_name("bgpctl");
    let bgpctl = bgpctl.display().to_string();
    match namespace.exec(&bgpctl, &["--api", API, "neighbor", "show", address]) {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(error) => format!("bgpctl failed: {error}"),
    }
}

#[test]
fn a_session_bound_to_a_device_uses_that_device_only() {
    let bgpd_ns = Namespace::new("bgpd").check("namespace");
    let frr_ns = Namespace::new("frr").check("namespace");
    connect(&bgpd_ns, "link-b", &["198.51.100.1/24"], &frr_ns, "link-b", &["198.51.100.2/24"])
        .check("link B");
    bgpd_ns.add_address("lo", "203.0.113.1/32").check("bgpd loopback");
    frr_ns.add_address("lo", "203.0.113.2/32").check("FRR loopback");
    ip_in(&bgpd_ns, &["route", "add", "203.0.113.2/32", "via", "198.51.100.2", "metric", "10"]);
    ip_in(&frr_ns, &["route", "add", "203.0.113.1/32", "via", "198.51.100.1", "metric", "20"]);

    let ours = ip(BGPD_LO);
    let theirs = ip(FRR_LO);
    let neighbor = BgpdNeighbor {
        local_address: Some(ours),
        ebgp_multihop: 2,
        connect_retry_time: Some(1),
        ..BgpdNeighbor::new(theirs, 65002).extra("vrf = \"link-a\"\n")
    };
    let bgpd = start_bgpd(&bgpd_ns, &BgpdConfig::new(65001, OURS).neighbor(neighbor));
    let frr_neighbor = FrrNeighbor {
        ebgp_multihop: Some(2),
        update_source: Some(FRR_LO.to_owned()),
        ..FrrNeighbor::new(ours, 65001)
    };
    let frr = Frr::start(&frr_ns, &FrrConfig::new(65002, THEIRS).neighbor(frr_neighbor))
        .check("FRR starts");

    // 1. No link A yet: down, and bgpd says why.
    let missing = wait_until(
        "GetPeer to report the missing device",
        UP,
        POLL,
        || {
            let peer = get_peer(&bgpd_ns, FRR_LO);
            let status = peer.status.unwrap_or_default();
            (!status.device_error.is_empty()).then_some(status.device_error)
        },
        || bgpd.log_tail(20),
    );
    let missing = bgpd.annotate(missing).check("device_error");
    assert!(missing.contains("link-a") && missing.contains("No such device"), "{missing}");
    let shown = bgpctl_show(&bgpd_ns, FRR_LO);
    assert!(shown.contains("VRF:") && shown.contains("link-a"), "{shown}");
    assert!(shown.contains("Device error:") && shown.contains("No such device"), "{shown}");
    bgpd.annotate(hold_for(
        "no session while the device is missing (FRR's connections arrive over B)",
        Duration::from_secs(5),
        POLL,
        || !frr.is_established(ours),
        || frr.describe(ours),
    ))
    .check("down without the device");

    // 2. Link A appears: the retry binds it and the session comes up over A.
    add_link_a(&bgpd_ns, &frr_ns);
    bgpd.annotate(frr.wait_established(ours, UP)).check("session over link A");
    let sockets = bgpd_ns_sockets_bound(&bgpd_ns);
    assert!(sockets.contains("%link-a"), "the session's socket is bound to link-a: {sockets}");
    // The established session tells bgpd the device is back: its listener
    // opens then, not at the next retry.
    // (Polled: bgpd may see its KEEPALIVE a moment after FRR does.)
    let bound = wait_until(
        "GetPeer: Established, no device_error",
        Duration::from_secs(3),
        POLL,
        || {
            let status = get_peer(&bgpd_ns, FRR_LO).status.unwrap_or_default();
            let up = status.state == v1::SessionState::Established as i32;
            (up && status.device_error.is_empty()).then_some(())
        },
        || format!("{:?}", get_peer(&bgpd_ns, FRR_LO).status),
    );
    bgpd.annotate(bound).check("bound now");

    // 3. Link B down: nothing changes.
    ip_in(&bgpd_ns, &["link", "set", "link-b", "down"]);
    bgpd.annotate(hold_for(
        "the session stays up without link B",
        SURVIVE,
        POLL,
        || frr.is_established(ours),
        || frr.describe(ours),
    ))
    .check("independent of link B");

    // 4. Link B up, link A down: the session drops and stays down, though
    // B still joins the loopbacks.
    ip_in(&bgpd_ns, &["link", "set", "link-b", "up"]);
    ip_in(&bgpd_ns, &["route", "replace", "203.0.113.2/32", "via", "198.51.100.2", "metric", "10"]);
    ip_in(&bgpd_ns, &["link", "set", "link-a", "down"]);
    wait_until(
        "the session to drop with link A",
        DROP,
        POLL,
        || (!frr.is_established(ours)).then_some(()),
        || frr.describe(ours),
    )
    .check("down with link A");
    bgpd.annotate(hold_for(
        "no session over link B while bound to link A",
        SURVIVE,
        POLL,
        || !frr.is_established(ours),
        || frr.describe(ours),
    ))
    .check("never over B");
}

/// `ss` output of bgpd's namespace, waited for until a session socket shows.
fn bgpd_ns_sockets_bound(namespace: &Namespace) -> String {
    wait_until(
        "an established BGP socket in bgpd's namespace",
        UP,
        POLL,
        || Some(bgp_sockets(namespace)).filter(|s| !s.trim().is_empty()),
        String::new,
    )
    .check("ss")
}

/// The same with a real VRF device. Ignored by default, so that the test summary says it did
/// not run rather than count a pass: the kernel of the machine CI runs on has no VRF device
/// type (`ip link add vrf-blue type vrf table 10`: "Unknown device type"), and the test
/// command cannot add one. Run it where the kernel has CONFIG_NET_VRF:
/// `cargo test -p interop-tests --test vrf -- --ignored`. It fails, saying so, on a kernel
/// without VRFs.
#[test]
#[ignore = "needs a kernel with VRF devices (CONFIG_NET_VRF); run with --ignored where there is one"]
fn real_vrf_device() {
    let probe = Namespace::new("vrfprobe").check("namespace");
    if let Err(error) = probe.ip(&["link", "add", "vrf-blue", "type", "vrf", "table", "10"]) {
        panic!(
            "this kernel cannot create a VRF device ({error}); the session in a real VRF \
             (l3mdev) needs one. a_session_bound_to_a_device_uses_that_device_only shows the \
             binding with ordinary devices."
        );
    }
    // The kernel has VRFs: bgpd in vrf-blue (table 10, link A enslaved), FRR
    // in the default VRF of its own namespace.
    let bgpd_ns = Namespace::new("bgpd").check("namespace");
    let frr_ns = Namespace::new("frr").check("namespace");
    ip_in(&bgpd_ns, &["link", "add", "vrf-blue", "type", "vrf", "table", "10"]);
    ip_in(&bgpd_ns, &["link", "set", "vrf-blue", "up"]);
    connect(&bgpd_ns, "link-a", &["192.0.2.1/24"], &frr_ns, "link-a", &["192.0.2.2/24"])
        .check("link A");
    ip_in(&bgpd_ns, &["link", "set", "link-a", "master", "vrf-blue"]);
    ip_in(&bgpd_ns, &["link", "set", "link-a", "up"]);
    let neighbor = BgpdNeighbor::new(ip("192.0.2.2"), 65002).extra("vrf = \"vrf-blue\"\n");
    let bgpd = start_bgpd(&bgpd_ns, &BgpdConfig::new(65001, OURS).neighbor(neighbor));
    let frr =
        Frr::start(&frr_ns, &frr_towards_bgpd(65002, 65001, ip("192.0.2.1"))).check("FRR starts");
    bgpd.annotate(frr.wait_established(ip("192.0.2.1"), UP)).check("session in vrf-blue");
    let peer: IpAddr = ip("192.0.2.1");
    bgpd.annotate(hold_for(
        "the VRF session stays up",
        SURVIVE,
        POLL,
        || frr.is_established(peer),
        || frr.describe(peer),
    ))
    .check("VRF session stable");
}
