//! bgpd's BFD against FRR 8.4's bfdd (RFC 5880, 5881, 5882, 9384): the
//! sessions come Up with different intervals on each side and GetPeer shows
//! the negotiated timers; FRR's `shutdown` of its BFD peer (AdminDown) does
//! not touch BGP; a silent peer BFD (FRR's bfdd SIGSTOPped: this kernel has no
//! netem qdisc) takes the BGP session down on both sides through our BFD
//! (Cease/BFD Down, which FRR reports as "BFD down received"), long before the
//! hold time, and BGP comes back once BFD is Up again.
//!
//! The same against BIRD 2's `protocol bfd`: Up with BIRD's timers, and a
//! frozen BIRD (SIGSTOP: BFD and BGP silent together) is declared Down by our
//! BFD, which takes BGP down long before the hold time; after the thaw both
//! come back.
//!
//! Standard pair: bgpd left at 192.0.2.1, FRR (zebra, bfdd, bgpd) or BIRD
//! right at 192.0.2.2. BFD on bgpd is configured through AddPeer
//! (PeerConfig.bfd).

mod common;

use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use interop_tests::Check;
use interop_tests::bgpd::BgpdConfig;
use interop_tests::bird::{Bird, BirdBgp, BirdConfig};
use interop_tests::frr::{Frr, FrrBfd};
use interop_tests::netns::Namespace;
use interop_tests::topology::pair;
use interop_tests::wait_until;
use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

const API: &str = "127.0.0.1:50051";
/// Hold time of both BGP sessions: far above BFD's detection time, so a
/// session dropped within a few seconds was dropped by BFD.
const HOLD: u32 = 60;

fn api<T, F, Fut>(namespace: &Namespace, call: F) -> T
where
    T: Send + 'static,
    F: FnOnce(BgpServiceClient<Channel>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    interop_tests::api::with_client(namespace, API, UP, call).expect("bgpd's API")
}

fn get_peer(namespace: &Namespace, address: IpAddr) -> v1::Peer {
    api(namespace, move |mut client| async move {
        let request = v1::GetPeerRequest { address: address.to_string() };
        client.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("peer")
    })
}

fn bfd_of(peer: &v1::Peer) -> v1::BfdStatus {
    peer.status.as_ref().and_then(|s| s.bfd.clone()).unwrap_or_default()
}

fn state_of(peer: &v1::Peer) -> i32 {
    peer.status.as_ref().map_or(0, |s| s.state)
}

/// bfdd's view of its peer `address`: (status, remote-receive-interval).
fn frr_bfd(frr: &Frr, address: IpAddr) -> Option<serde_json::Value> {
    let peers = frr.bfd_peers().ok()?;
    peers.as_array()?.iter().find(|p| p["peer"] == address.to_string()).cloned()
}

/// Waits until our BFD session with `theirs` is Up; `tail` describes the peer's side.
fn wait_bfd_up(namespace: &Namespace, theirs: IpAddr, what: &str, tail: impl Fn() -> String) {
    wait_until(
        what,
        UP,
        Duration::from_millis(100),
        || {
            (bfd_of(&get_peer(namespace, theirs)).local_state == v1::BfdState::Up as i32)
                .then_some(())
        },
        tail,
    )
    .check(what);
}

/// Waits (10 s at most) until our BGP session with `theirs` left Established.
fn wait_bgp_down(namespace: &Namespace, theirs: IpAddr) -> interop_tests::Result<v1::Peer> {
    wait_until(
        "bgpd's BGP down by BFD",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            let peer = get_peer(namespace, theirs);
            (state_of(&peer) != v1::SessionState::Established as i32).then_some(peer)
        },
        || format!("{:?}", get_peer(namespace, theirs)),
    )
}

/// BGP went down because our BFD detected the peer's silence: the diagnostic
/// and the Cease/BFD Down we sent (RFC 9384).
fn assert_ended_by_bfd(peer: &v1::Peer) {
    let bfd = bfd_of(peer);
    assert!(bfd.local_diagnostic.contains("Detection"), "{bfd:?}");
    let sent = peer.status.as_ref().and_then(|s| s.last_notification_sent.clone());
    let sent = sent.expect("a Cease was sent");
    assert_eq!((sent.code, sent.subcode), (6, 10), "Cease/BFD Down (RFC 9384): {sent:?}");
}

/// AddPeer for `theirs` (AS `asn`) with BFD: send every `min_tx_ms`, accept
/// every `min_rx_ms`, multiplier `multiplier`.
fn add_bfd_peer(namespace: &Namespace, theirs: IpAddr, asn: u32, timers: (u32, u32, u32)) {
    let (min_rx_ms, min_tx_ms, multiplier) = timers;
    api(namespace, move |mut client| async move {
        let peer = v1::PeerConfig {
            address: theirs.to_string(),
            remote_asn: asn,
            connect_retry_seconds: Some(1),
            hold_time_seconds: Some(HOLD),
            bfd: Some(v1::BfdConfig {
                enabled: true,
                min_rx_ms: Some(min_rx_ms),
                min_tx_ms: Some(min_tx_ms),
                multiplier: Some(multiplier),
                ..v1::BfdConfig::default()
            }),
            ..v1::PeerConfig::default()
        };
        client.add_peer(v1::AddPeerRequest { peer: Some(peer) }).await.expect("AddPeer");
    });
}

#[test]
fn bfd_with_bird() {
    let pair = pair("bgpd", "bird").check("topology");
    let bgpd = start_bgpd(&pair.left, &BgpdConfig::new(65001, OURS));
    let config = BirdConfig::new(THEIRS)
        .bgp(BirdBgp::new("ironlb", 65002, pair.left_v4, 65001).hold_time(HOLD as u16).bfd())
        .bfd(200, 300, 3);
    let bird = Bird::start(&pair.right, &config).check("BIRD with protocol bfd starts");
    let theirs = pair.right_v4;
    add_bfd_peer(&pair.left, theirs, 65002, (250, 100, 4));
    bgpd.annotate(bird.wait_established("ironlb", UP)).check("BGP with BIRD");

    // We send at max(100, BIRD's 200) = 200 ms; BIRD at max(300, our 250) =
    // 300 ms, declared dead after BIRD's multiplier 3 x 300 ms.
    let up = wait_until(
        "BFD Up with BIRD's timers",
        UP,
        Duration::from_millis(100),
        || {
            let bfd = bfd_of(&get_peer(&pair.left, theirs));
            (bfd.local_state == v1::BfdState::Up as i32
                && bfd.transmit_interval_us == 200_000
                && bfd.detection_time_us == 900_000)
                .then_some(bfd)
        },
        || format!("{:?}\n{}", bfd_of(&get_peer(&pair.left, theirs)), bird.log_tail(20)),
    )
    .check("BFD comes Up");
    assert_eq!((up.remote_state, up.remote_multiplier), (v1::BfdState::Up as i32, 3));
    let sessions = bird.bfd_sessions().check("birdc show bfd sessions");
    assert!(sessions.contains(&(pair.left_v4, "Up".to_owned())), "{sessions:?}");

    // BIRD freezes as a whole: BFD silent, BGP silent. Our BFD ends BGP
    // within its detection time, the hold time (60 s) would take far longer.
    bird.freeze();
    let started = Instant::now();
    let peer = wait_bgp_down(&pair.left, theirs);
    let took = started.elapsed();
    bird.thaw();
    let peer = peer.check("bgpd drops BGP");
    eprintln!("BIRD frozen: BGP down at bgpd after {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_ended_by_bfd(&peer);

    // Thawed: BIRD reads the Cease, BFD comes Up, BGP is re-established.
    bgpd.annotate(bird.wait_established("ironlb", UP)).check("BGP back after the thaw");
    wait_bfd_up(&pair.left, theirs, "BFD Up after the thaw", || bird.log_tail(20));
}

#[test]
fn bfd_with_frr_bfdd() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(&pair.left, &BgpdConfig::new(65001, OURS));
    let mut config = frr_towards_bgpd(65002, 65001, pair.left_v4);
    config.neighbors[0].timers = (20, HOLD as u16);
    // FRR: send every 300 ms, accept every 200 ms, x3.
    config.bfd =
        Some(FrrBfd { receive_interval: 200, transmit_interval: 300, detect_multiplier: 3 });
    let frr = Frr::start(&pair.right, &config).check("FRR with bfdd starts");
    let theirs = pair.right_v4;

    // bgpd: send every 100 ms, accept every 250 ms, x4.
    add_bfd_peer(&pair.left, theirs, 65002, (250, 100, 4));
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("BGP with FRR");

    // Up on both sides, timers negotiated: we send at max(100, FRR's 200)
    // = 200 ms; FRR sends at max(300, our 250) = 300 ms, and we declare it
    // dead after its multiplier 3 x 300 ms.
    let up = wait_until(
        "BFD Up with the negotiated timers",
        UP,
        Duration::from_millis(100),
        || {
            let peer = get_peer(&pair.left, theirs);
            let bfd = bfd_of(&peer);
            (bfd.local_state == v1::BfdState::Up as i32
                && bfd.transmit_interval_us == 200_000
                && bfd.detection_time_us == 900_000)
                .then_some(bfd)
        },
        || format!("{:?}\n{}", bfd_of(&get_peer(&pair.left, theirs)), frr.bfd_log_tail(20)),
    )
    .check("BFD comes Up");
    assert_eq!(up.remote_state, v1::BfdState::Up as i32);
    assert_eq!(up.remote_multiplier, 3);
    assert!(!up.multihop);
    let frr_view = frr_bfd(&frr, pair.left_v4).expect("bfdd lists bgpd");
    assert_eq!(frr_view["status"], "up", "{frr_view}");

    // FRR shuts its BFD peer down (AdminDown): not a failure, BGP stays.
    let shutdown = |on: bool| {
        let peer = format!("peer {}", pair.left_v4);
        let line = if on { "shutdown" } else { "no shutdown" };
        frr.bfd_vtysh(&["configure terminal", "bfd", &peer, line]).check("bfdd shutdown");
    };
    shutdown(true);
    wait_until(
        "bgpd's BFD to see AdminDown",
        UP,
        Duration::from_millis(100),
        || {
            let bfd = bfd_of(&get_peer(&pair.left, theirs));
            (bfd.remote_state == v1::BfdState::AdminDown as i32).then_some(())
        },
        || format!("{:?}", bfd_of(&get_peer(&pair.left, theirs))),
    )
    .check("AdminDown seen");
    std::thread::sleep(Duration::from_secs(2)); // long enough for a wrong teardown to show
    let peer = get_peer(&pair.left, theirs);
    assert_eq!(state_of(&peer), v1::SessionState::Established as i32, "{peer:?}");
    assert!(frr.is_established(pair.left_v4), "FRR kept BGP: {}", frr.describe(pair.left_v4));
    shutdown(false);
    wait_bfd_up(&pair.left, theirs, "BFD Up again", || frr.bfd_log_tail(20));

    // FRR's bfdd freezes (the netem qdisc is not in this kernel, so
    // silence comes from SIGSTOP): our BFD declares it Down within its
    // detection time and takes BGP down with Cease/BFD Down, which FRR
    // receives, so the session is down on both sides (hold time 60 s).
    frr.freeze_bfdd();
    let started = Instant::now();
    let peer = wait_bgp_down(&pair.left, theirs);
    let ours = started.elapsed();
    let frr_down = wait_until(
        "FRR's BGP down",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || (!frr.is_established(pair.left_v4)).then_some(()),
        || frr.describe(pair.left_v4),
    );
    let theirs_took = started.elapsed();
    frr.thaw_bfdd();
    let peer = peer.check("bgpd drops BGP");
    frr_down.check("FRR drops BGP");
    eprintln!("bfdd frozen: BGP down at bgpd after {ours:?}, at FRR after {theirs_took:?}");
    assert!(ours < Duration::from_secs(5), "{ours:?}");
    assert_ended_by_bfd(&peer);
    let status = frr.neighbor(pair.left_v4).ok().flatten().unwrap_or_default();
    // FRR's last reset names the BFD Down either way it learnt of it: as its own reason
    // ("BFD down received"), or as our Cease/BFD Down NOTIFICATION (6/10, RFC 9384) when
    // that reached its BGP first (seen under load: "BGP Notification received", 060A).
    let by_bfd = status.last_reset.as_deref() == Some("BFD down received")
        || (status.last_reset.as_deref() == Some("BGP Notification received")
            && status.last_error_code_subcode.as_deref() == Some("060A"));
    assert!(by_bfd, "FRR's session did not end by BFD Down: {status:?}");

    // bfdd back: BFD Up releases our BGP and the session comes back.
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("BGP back after BFD Up");
    wait_bfd_up(&pair.left, theirs, "BFD Up after the thaw", || frr.bfd_log_tail(20));
}
