//! Graceful restart (RFC 4724, RFC 8538) against FRR and BIRD.
//!
//! ```text
//!   [left: ironlb bgpd AS65001] 192.0.2.1 ──── 192.0.2.2 [right: FRR or BIRD AS65002]
//! ```
//!
//! bgpd as restarting speaker: it is SIGKILLed or SIGTERMed while announcing two config
//! routes and an API owner's route, and started again with one config route removed; the
//! owner sets its route again as soon as the API answers. Checks:
//! 1. the peer holds the kept and the owner's route at every 50 ms poll through the restart
//!    (no gap);
//! 2. the removed route is gone after our End-of-RIB;
//! 3. (FRR) the kept route is fresh again, not stale, and FRR received no NOTIFICATION.
//!
//! With IPv4 and IPv6 unicast on one session (FRR), the IPv6 route removed from the config is
//! swept by FRR after our IPv6 End-of-RIB (an UPDATE with only an empty MP_UNREACH_NLRI).
//!
//! bgpd as helper (its Loc-RIB read through the gRPC API, from a thread inside its namespace):
//! 4. FRR killed and started again with one network fewer: its routes are kept, stale, then
//!    the one it did not send again is swept after its End-of-RIB, the other is fresh;
//!    The same with BIRD, started again with `bird -R` (graceful restart recovery);
//! 5. FRR killed and left down past its restart time: its routes go;
//! 6. RFC 8538 with FRR: our hold timer expires with N negotiated: routes kept stale, then
//!    fresh when FRR is back; a Hard Reset from FRR (`clear bgp` with
//!    `bgp hard-administrative-reset`) flushes them.
//!
//! 7. An API owner re-syncing (`SetPaths`) within the deferral time after bgpd was killed:
//!    FRR holds its route through the restart (no gap), fresh afterwards.
//! 8. Config routes go out at once after a restart, before our End-of-RIB, while the selection
//!    deferral waits for a neighbour that stays down.

mod common;

use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdGracefulRestart, BgpdNeighbor, BgpdRoute};
use interop_tests::bird::{Bird, BirdBgp, BirdConfig, BirdStatic, BirdStaticRoute};
use interop_tests::frr::{Frr, FrrConfig, FrrGracefulRestart, FrrNeighbor, FrrNetwork};
use interop_tests::netns::Namespace;
use interop_tests::topology::pair;
use interop_tests::{Check, Family, TempDir, wait_until};
use ipnet::IpNet;
use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;

/// How bgpd is stopped.
#[derive(Copy, Clone, Debug)]
enum Stop {
    Kill,
    Terminate,
}

const POLL: Duration = Duration::from_millis(50);
/// How long bgpd stays down: a real restart (a new binary, a rescheduled pod) takes a while,
/// and a gap shorter than one poll could slip between two polls.
const DOWNTIME: Duration = Duration::from_secs(1);

/// bgpd with graceful restart towards `theirs`, announcing `routes`, its state in `state`.
fn bgpd_config(state: &TempDir, theirs: IpAddr, routes: &[IpNet]) -> BgpdConfig {
    let mut config = BgpdConfig::new(65001, OURS).state_dir(state.path()).neighbor(
        BgpdNeighbor::new(theirs, 65002).graceful_restart(BgpdGracefulRestart::default()),
    );
    config.selection_deferral_time = Some(30);
    for route in routes {
        config = config.route(BgpdRoute::new(*route));
    }
    config
}

/// Waits until bgpd's state file records an established session, so that the next start
/// sees a restart (the file is written by a thread, shortly after Established).
fn wait_state_established(bgpd: &Bgpd, state: &TempDir) {
    let file = state.join("bgpd.state");
    bgpd.annotate(wait_until(
        "bgpd's state file to record an established session",
        UP,
        POLL,
        || {
            std::fs::read_to_string(&file)
                .ok()
                .filter(|text| text.contains("established = true"))
                .map(|_| ())
        },
        || format!("{:?}", std::fs::read_to_string(&file)),
    ))
    .check("state file written");
}

/// What a watcher saw: polls made, and each gap (route missing) with its length.
#[derive(Debug, Default)]
struct Watch {
    polls: usize,
    gaps: Vec<Duration>,
}

/// Polls `present` every 50 ms until `stop`; a poll that cannot tell (`None`) is not a gap.
fn watch(present: impl Fn() -> Option<bool>, stop: &AtomicBool) -> Watch {
    let mut watch = Watch::default();
    let mut missing_since: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        match present() {
            Some(true) => {
                if let Some(since) = missing_since.take() {
                    watch.gaps.push(since.elapsed());
                }
            }
            Some(false) => {
                missing_since.get_or_insert_with(Instant::now);
            }
            None => {}
        }
        watch.polls += 1;
        std::thread::sleep(POLL);
    }
    if let Some(since) = missing_since {
        watch.gaps.push(since.elapsed());
    }
    watch
}

fn stop_bgpd(bgpd: &mut Bgpd, stop: Stop) {
    match stop {
        Stop::Kill => bgpd.kill(),
        Stop::Terminate => {
            let status = bgpd.terminate(Duration::from_secs(10)).check("bgpd stops on SIGTERM");
            assert!(status.success(), "bgpd exited with {status}");
        }
    }
    // Scenario time, not a wait for convergence: the peer must bridge this downtime.
    std::thread::sleep(DOWNTIME);
}

fn bgpd_restart_against_frr(stop: Stop) {
    let pair = pair("bgpd", "frr").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let kept = net("198.51.100.10/32");
    let dropped = net("198.51.100.11/32");
    let owned = net("198.51.100.20/32");
    let mut bgpd = start_bgpd(&pair.left, &bgpd_config(&state, pair.right_v4, &[kept, dropped]));
    let mut frr_config = frr_towards_bgpd(65002, 65001, pair.left_v4);
    frr_config.graceful_restart =
        Some(FrrGracefulRestart { restart_time: 120, stalepath_time: 360 });
    let frr = Frr::start(&pair.right, &frr_config).check("FRR starts");
    set_owned_before_restart(&bgpd, &state, owned);
    for prefix in [kept, dropped, owned] {
        bgpd.annotate(frr.wait_route(prefix, UP, |_| true, pair.left_v4))
            .check("FRR learns our routes");
    }
    wait_state_established(&bgpd, &state);
    let notifications = |frr: &Frr| {
        frr.neighbor(pair.left_v4).ok().flatten().map_or(0, |n| n.notifications_received)
    };
    let received_before = notifications(&frr);

    let done = AtomicBool::new(false);
    let (seen, restarted) = std::thread::scope(|scope| {
        let present = || Some(frr.route(kept).ok()?.is_some() && frr.route(owned).ok()?.is_some());
        let done = &done;
        let watcher = scope.spawn(move || watch(present, done));
        stop_bgpd(&mut bgpd, stop);
        let restarted = start_bgpd(&pair.left, &bgpd_config(&state, pair.right_v4, &[kept]));
        let resynced = resync_owned(&restarted, owned);
        let swept = restarted.annotate(frr.wait_no_route(dropped, ROUTE, pair.left_v4));
        let fresh = restarted.annotate(frr.wait_route(kept, ROUTE, |r| !r.stale, pair.left_v4));
        let owned_fresh =
            restarted.annotate(frr.wait_route(owned, ROUTE, |r| !r.stale, pair.left_v4));
        done.store(true, Ordering::Relaxed);
        let seen = watcher.join().expect("watcher");
        resynced.check("the owner re-syncs");
        swept.check("2. the removed route is gone after our End-of-RIB");
        fresh.check("3. the kept route is fresh again");
        owned_fresh.check("3. the owner's route is fresh again");
        (seen, restarted)
    });
    assert!(seen.polls >= 2, "too few polls: {seen:?}");
    assert!(
        seen.gaps.is_empty(),
        "1. FRR lost {kept} or {owned} during the restart: {seen:?}\n{}",
        restarted.log_tail(60)
    );
    // A planned stop closes the connection without a NOTIFICATION (nor does a SIGKILL send one).
    assert_eq!(notifications(&frr), received_before, "{}", frr.describe(pair.left_v4));
}

fn bgpd_restart_against_bird(stop: Stop) {
    let pair = pair("bgpd", "bird").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let kept = net("198.51.100.10/32");
    let dropped = net("198.51.100.11/32");
    let owned = net("198.51.100.20/32");
    let mut bgpd = start_bgpd(&pair.left, &bgpd_config(&state, pair.right_v4, &[kept, dropped]));
    let bird_config = BirdConfig::new(THEIRS)
        .bgp(BirdBgp::new("ironlb", 65002, pair.left_v4, 65001).graceful_restart(120));
    let bird = Bird::start(&pair.right, &bird_config).check("BIRD starts");
    set_owned_before_restart(&bgpd, &state, owned);
    for prefix in [kept, dropped, owned] {
        bgpd.annotate(bird.wait_route(prefix, UP, |_| true, "ironlb"))
            .check("BIRD learns our routes");
    }
    wait_state_established(&bgpd, &state);

    let done = AtomicBool::new(false);
    let (seen, restarted) = std::thread::scope(|scope| {
        let present =
            || Some(bird.route(kept).ok()?.is_some() && bird.route(owned).ok()?.is_some());
        let done = &done;
        let watcher = scope.spawn(move || watch(present, done));
        stop_bgpd(&mut bgpd, stop);
        let restarted = start_bgpd(&pair.left, &bgpd_config(&state, pair.right_v4, &[kept]));
        let resynced = resync_owned(&restarted, owned);
        let swept = restarted.annotate(bird.wait_no_route(dropped, ROUTE, "ironlb"));
        let back = restarted.annotate(bird.wait_established("ironlb", UP));
        done.store(true, Ordering::Relaxed);
        let seen = watcher.join().expect("watcher");
        resynced.check("the owner re-syncs");
        swept.check("2. the removed route is gone after our End-of-RIB");
        back.check("the session is back");
        assert!(
            bird.route(owned).ok().flatten().is_some(),
            "3. BIRD holds the owner's route after our End-of-RIB"
        );
        (seen, restarted)
    });
    assert!(seen.polls >= 2, "too few polls: {seen:?}");
    assert!(
        seen.gaps.is_empty(),
        "1. BIRD lost {kept} or {owned} during the restart: {seen:?}\n{}",
        restarted.log_tail(60)
    );
}

#[test]
fn bgpd_sigkill_frr_keeps_every_route() {
    bgpd_restart_against_frr(Stop::Kill);
}

#[test]
fn bgpd_sigterm_frr_keeps_every_route() {
    bgpd_restart_against_frr(Stop::Terminate);
}

#[test]
fn bgpd_sigkill_bird_keeps_every_route() {
    bgpd_restart_against_bird(Stop::Kill);
}

#[test]
fn bgpd_sigterm_bird_keeps_every_route() {
    bgpd_restart_against_bird(Stop::Terminate);
}

/// One Loc-RIB path as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LocPath {
    prefix: String,
    stale: bool,
}

/// A runtime on a thread that entered `namespace`'s network namespace, so that bgpd's API
/// (127.0.0.1:50051 there) is reachable; `None` if that failed.
fn runtime_in(namespace: &Namespace) -> Option<tokio::runtime::Runtime> {
    let file = std::fs::File::open(format!("/var/run/netns/{}", namespace.name())).ok()?;
    // SAFETY: setns only changes the calling (short-lived, test-owned) thread's namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return None;
    }
    tokio::runtime::Builder::new_current_thread().enable_all().build().ok()
}

/// bgpd's Loc-RIB (`ListPaths`). `None` when the API cannot be reached.
fn loc_rib(namespace: &Namespace) -> Option<Vec<LocPath>> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                runtime_in(namespace)?.block_on(async {
                    let mut client =
                        BgpServiceClient::connect("http://127.0.0.1:50051").await.ok()?;
                    let request = v1::ListPathsRequest::default();
                    let mut stream = client.list_paths(request).await.ok()?.into_inner();
                    let mut paths = Vec::new();
                    while let Some(response) = stream.message().await.ok()? {
                        if let Some(path) = response.path {
                            paths.push(LocPath { prefix: path.prefix, stale: path.stale });
                        }
                    }
                    Some(paths)
                })
            })
            .join()
            .ok()
            .flatten()
    })
}

/// `SetPaths(owner, prefixes)` with our address as next hop; `None` when it failed.
fn set_paths(namespace: &Namespace, owner: &str, prefixes: &[IpNet]) -> Option<()> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                runtime_in(namespace)?.block_on(async {
                    let mut client =
                        BgpServiceClient::connect("http://127.0.0.1:50051").await.ok()?;
                    let paths = prefixes
                        .iter()
                        .map(|p| v1::Path { prefix: p.to_string(), ..v1::Path::default() })
                        .collect();
                    let request = v1::SetPathsRequest {
                        owner: owner.to_owned(),
                        paths,
                        grace_time_seconds: None,
                    };
                    client.set_paths(request).await.ok().map(|_| ())
                })
            })
            .join()
            .ok()
            .flatten()
    })
}

/// The owner `k8s` sets `owned` through the API, and the state file records the owner (so
/// that the next start holds the owner's paths until it re-syncs).
fn set_owned_before_restart(bgpd: &Bgpd, state: &TempDir, owned: IpNet) {
    let namespace = bgpd.namespace();
    bgpd.annotate(wait_until(
        "SetPaths",
        UP,
        POLL,
        || set_paths(namespace, "k8s", &[owned]),
        String::new,
    ))
    .check("SetPaths before the restart");
    let file = state.join("bgpd.state");
    bgpd.annotate(wait_until(
        "the state file to name the owner",
        UP,
        POLL,
        || std::fs::read_to_string(&file).ok().filter(|t| t.contains("\"k8s\"")).map(|_| ()),
        || format!("{:?}", std::fs::read_to_string(&file)),
    ))
    .check("owner recorded");
}

/// The owner `k8s` sets `owned` again once the restarted bgpd answers.
fn resync_owned(bgpd: &Bgpd, owned: IpNet) -> interop_tests::Result<()> {
    let namespace = bgpd.namespace();
    bgpd.annotate(wait_until(
        "SetPaths after the restart",
        UP,
        POLL,
        || set_paths(namespace, "k8s", &[owned]),
        String::new,
    ))
}

/// The Loc-RIB path of `prefix`: `Some(Some(stale))` when present, `Some(None)` when absent,
/// `None` when the API did not answer.
fn loc_path(namespace: &Namespace, prefix: IpNet) -> Option<Option<bool>> {
    let wanted = prefix.to_string();
    loc_rib(namespace).map(|paths| paths.iter().find(|p| p.prefix == wanted).map(|p| p.stale))
}

/// Waits until `check` accepts the state of `prefix` in bgpd's Loc-RIB (`None`: absent,
/// `Some(stale)`: present).
fn wait_loc(bgpd: &Bgpd, prefix: IpNet, what: &str, check: impl Fn(Option<bool>) -> bool) {
    let namespace = bgpd.namespace();
    bgpd.annotate(wait_until(
        what,
        ROUTE,
        POLL,
        || loc_path(namespace, prefix).filter(|state| check(*state)).map(|_| ()),
        || format!("Loc-RIB: {:?}", loc_rib(namespace)),
    ))
    .check(what);
}

const PRESENT_FRESH: fn(Option<bool>) -> bool = |s| s == Some(false);
const PRESENT_STALE: fn(Option<bool>) -> bool = |s| s == Some(true);
const ABSENT: fn(Option<bool>) -> bool = |s| s.is_none();

/// FRR with graceful restart (F bits set, N bit when `notification`) announcing `networks`.
fn frr_with_gr(
    ours: IpAddr,
    restart_time: u16,
    notification: bool,
    networks: &[IpNet],
) -> FrrConfig {
    let mut config = frr_towards_bgpd(65002, 65001, ours);
    config.graceful_restart = Some(FrrGracefulRestart { restart_time, stalepath_time: 360 });
    config.extra.push(" bgp graceful-restart preserve-fw-state".to_owned());
    if notification {
        config.extra.push(" bgp graceful-restart notification".to_owned());
        config.extra.push(" bgp hard-administrative-reset".to_owned());
    }
    for network in networks {
        config = config.network(FrrNetwork::new(*network));
    }
    config
}

/// bgpd with graceful restart towards FRR (hold time 9 s), nothing of its own to announce.
fn bgpd_helper(state: &TempDir, theirs: IpAddr) -> BgpdConfig {
    bgpd_config(state, theirs, &[])
}

#[test]
fn frr_restart_keeps_routes_stale_then_sweeps_what_it_did_not_resend() {
    let pair = pair("bgpd", "frr").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let resent = net("203.0.113.0/25");
    let forgotten = net("203.0.113.128/25");
    let bgpd = start_bgpd(&pair.left, &bgpd_helper(&state, pair.right_v4));
    let mut frr =
        Frr::start(&pair.right, &frr_with_gr(pair.left_v4, 120, true, &[resent, forgotten]))
            .check("FRR starts");
    for prefix in [resent, forgotten] {
        wait_loc(&bgpd, prefix, "bgpd learns FRR's routes", PRESENT_FRESH);
    }

    let frr = peer_restart_keeps_stale_then_sweeps(
        &bgpd,
        [resent, forgotten],
        "FRR",
        || frr.kill(),
        || {
            Frr::start(&pair.right, &frr_with_gr(pair.left_v4, 120, true, &[resent]))
                .check("FRR starts again")
        },
    );
    let log = frr.log_tail(400);
    assert!(!log.contains("Unknown command"), "FRR refused a command:\n{log}");
}

/// Scenario 4 for any peer: `kill` takes it down, bgpd keeps both routes stale; `restart` brings it
/// back sending `resent` only: `forgotten` is swept after its End-of-RIB, `resent` is fresh,
/// and `resent` never left bgpd's Loc-RIB (polled every 50 ms). Returns the restarted peer.
fn peer_restart_keeps_stale_then_sweeps<P>(
    bgpd: &Bgpd,
    [resent, forgotten]: [IpNet; 2],
    peer: &str,
    kill: impl FnOnce(),
    restart: impl FnOnce() -> P,
) -> P {
    let done = AtomicBool::new(false);
    let (seen, restarted) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            watch(|| loc_path(bgpd.namespace(), resent).map(|state| state.is_some()), &done)
        });
        kill();
        for prefix in [resent, forgotten] {
            let what = format!("4. {peer}'s routes are kept, stale, while it is down");
            wait_loc(bgpd, prefix, &what, PRESENT_STALE);
        }
        let restarted = restart();
        let what = format!("4. the route {peer} did not send again is swept");
        wait_loc(bgpd, forgotten, &what, ABSENT);
        wait_loc(bgpd, resent, &format!("4. the route {peer} sent again is fresh"), PRESENT_FRESH);
        done.store(true, Ordering::Relaxed);
        (watcher.join().expect("watcher"), restarted)
    });
    assert!(seen.gaps.is_empty(), "4. the route {peer} sent again was missing meanwhile: {seen:?}");
    restarted
}

/// 4 with BIRD: killed, started again with `bird -R` (graceful restart recovery) and one
/// route fewer.
#[test]
fn bird_restart_keeps_routes_stale_then_sweeps_what_it_did_not_resend() {
    let pair = pair("bgpd", "bird").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let resent = net("203.0.113.0/25");
    let forgotten = net("203.0.113.128/25");
    let bird_config = |routes: &[IpNet]| {
        let mut statics = BirdStatic::new("origin", Family::Ipv4Unicast);
        for prefix in routes {
            statics = statics.route(BirdStaticRoute::new(*prefix));
        }
        BirdConfig::new(THEIRS)
            .bgp(BirdBgp::new("ironlb", 65002, pair.left_v4, 65001).graceful_restart(120))
            .static_protocol(statics)
    };
    let bgpd = start_bgpd(&pair.left, &bgpd_helper(&state, pair.right_v4));
    let mut bird =
        Bird::start(&pair.right, &bird_config(&[resent, forgotten])).check("BIRD starts");
    for prefix in [resent, forgotten] {
        wait_loc(&bgpd, prefix, "bgpd learns BIRD's routes", PRESENT_FRESH);
    }

    peer_restart_keeps_stale_then_sweeps(
        &bgpd,
        [resent, forgotten],
        "BIRD",
        || bird.process().kill(),
        || {
            Bird::start_recovering(&pair.right, &bird_config(&[resent]))
                .check("BIRD starts again in recovery")
        },
    );
}

#[test]
fn frr_down_past_its_restart_time_loses_its_routes() {
    let pair = pair("bgpd", "frr").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let prefix = net("203.0.113.0/25");
    let bgpd = start_bgpd(&pair.left, &bgpd_helper(&state, pair.right_v4));
    let mut frr =
        Frr::start(&pair.right, &frr_with_gr(pair.left_v4, 3, true, &[prefix])).check("FRR starts");
    wait_loc(&bgpd, prefix, "bgpd learns FRR's route", PRESENT_FRESH);
    frr.kill();
    wait_loc(&bgpd, prefix, "FRR's route is kept, stale", PRESENT_STALE);
    wait_loc(&bgpd, prefix, "5. after FRR's restart time its route is gone", ABSENT);
}

#[test]
fn rfc8538_hold_expiry_keeps_routes_and_hard_reset_flushes() {
    let pair = pair("bgpd", "frr").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let prefix = net("203.0.113.0/25");
    let bgpd = start_bgpd(&pair.left, &bgpd_helper(&state, pair.right_v4));
    let frr = Frr::start(&pair.right, &frr_with_gr(pair.left_v4, 120, true, &[prefix]))
        .check("FRR starts");
    wait_loc(&bgpd, prefix, "bgpd learns FRR's route", PRESENT_FRESH);

    // Hold timer expiry (9 s): we send a NOTIFICATION, N is negotiated: a restart.
    frr.freeze();
    wait_loc(&bgpd, prefix, "6. hold timer expiry with N keeps FRR's route, stale", PRESENT_STALE);
    frr.thaw();
    wait_loc(&bgpd, prefix, "6. FRR back: its route is fresh", PRESENT_FRESH);
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session back");

    // Hard Reset: FRR's `clear bgp` with hard-administrative-reset sends Cease/Hard Reset.
    let done = AtomicBool::new(false);
    let seen = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            watch(|| loc_path(bgpd.namespace(), prefix).map(|state| state.is_some()), &done)
        });
        frr.vtysh(&[&format!("clear bgp {}", pair.left_v4)]).check("vtysh clear bgp");
        let back = bgpd.annotate(wait_until(
            "FRR's route to be flushed and learned again",
            ROUTE,
            POLL,
            || {
                let fresh = loc_path(bgpd.namespace(), prefix) == Some(Some(false));
                (fresh && frr.is_established(pair.left_v4)).then_some(())
            },
            || frr.describe(pair.left_v4),
        ));
        done.store(true, Ordering::Relaxed);
        back.check("session and route back after the Hard Reset");
        watcher.join().expect("watcher")
    });
    assert!(
        !seen.gaps.is_empty(),
        "6. the Hard Reset should have flushed FRR's route (never seen absent): {seen:?}\n{}",
        frr.describe(pair.left_v4)
    );
}

#[test]
fn owner_resyncing_after_a_restart_keeps_its_route_at_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let owned = net("198.51.100.20/32");
    let config = bgpd_config(&state, pair.right_v4, &[net("198.51.100.10/32")]);
    let mut bgpd = start_bgpd(&pair.left, &config);
    let frr =
        Frr::start(&pair.right, &frr_with_gr(pair.left_v4, 120, true, &[])).check("FRR starts");
    set_owned_before_restart(&bgpd, &state, owned);
    bgpd.annotate(frr.wait_route(owned, UP, |_| true, pair.left_v4))
        .check("FRR learns the owner's route");

    let done = AtomicBool::new(false);
    let (seen, restarted) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| watch(|| frr.route(owned).ok().map(|r| r.is_some()), &done));
        stop_bgpd(&mut bgpd, Stop::Kill);
        let restarted = start_bgpd(&pair.left, &config);
        // Scenario time: the owner (a Kubernetes adapter, say) takes a while to come back;
        // meanwhile bgpd must hold its End-of-RIB, or FRR would sweep the route.
        std::thread::sleep(2 * DOWNTIME);
        let resynced = resync_owned(&restarted, owned);
        let fresh = resynced.and_then(|()| {
            restarted.annotate(frr.wait_route(owned, ROUTE, |r| !r.stale, pair.left_v4))
        });
        done.store(true, Ordering::Relaxed);
        let seen = watcher.join().expect("watcher");
        fresh.check("7. the owner's route is fresh at FRR after the re-sync");
        (seen, restarted)
    });
    assert!(seen.polls >= 2, "too few polls: {seen:?}");
    assert!(
        seen.gaps.is_empty(),
        "7. FRR lost the owner's route during the restart: {seen:?}\n{}",
        restarted.log_tail(60)
    );
}

#[test]
fn bgpd_sigkill_frr_keeps_ipv4_and_ipv6_routes_and_understands_mp_end_of_rib() {
    let pair = pair("bgpd", "frr").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let kept_v4 = net("198.51.100.10/32");
    let kept_v6 = net("2001:db8:ffff::/48");
    let dropped_v6 = net("2001:db8:fffe::/48");
    let config = |with_dropped: bool| {
        let mut config = BgpdConfig::new(65001, OURS).state_dir(state.path()).neighbor(
            BgpdNeighbor::new(pair.right_v4, 65002)
                .families(&both_families())
                .graceful_restart(BgpdGracefulRestart::default()),
        );
        config = config.route(BgpdRoute::new(kept_v4));
        let mut v6 = vec![kept_v6];
        if with_dropped {
            v6.push(dropped_v6);
        }
        for prefix in v6 {
            config =
                config.route(BgpdRoute { next_hop: Some(pair.left_v6), ..BgpdRoute::new(prefix) });
        }
        config
    };
    let mut bgpd = start_bgpd(&pair.left, &config(true));
    // FRR connects too: after the restart both ends may connect at once. bgpd settles
    // that collision without ever closing a connection it sent a KEEPALIVE on (FRR
    // 8.4 drops the routes it keeps stale when an Established session closes again);
    // see `bgpd::fsm::collision` and `bgpd/tests/collision.rs`.
    let mut frr_config = FrrConfig::new(65002, THEIRS)
        .neighbor(FrrNeighbor::new(pair.left_v4, 65001).families(&both_families()));
    frr_config.graceful_restart =
        Some(FrrGracefulRestart { restart_time: 120, stalepath_time: 360 });
    let frr = Frr::start(&pair.right, &frr_config).check("FRR starts");
    for prefix in [kept_v4, kept_v6, dropped_v6] {
        bgpd.annotate(frr.wait_route(prefix, UP, |_| true, pair.left_v4))
            .check("FRR learns our IPv4 and IPv6 routes");
    }
    wait_state_established(&bgpd, &state);

    let done = AtomicBool::new(false);
    let (seen, restarted) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            watch(
                || {
                    let v4 = frr.route(kept_v4).ok()?.is_some();
                    let v6 = frr.route(kept_v6).ok()?.is_some();
                    Some(v4 && v6)
                },
                &done,
            )
        });
        stop_bgpd(&mut bgpd, Stop::Kill);
        let restarted = start_bgpd(&pair.left, &config(false));
        let swept = restarted.annotate(frr.wait_no_route(dropped_v6, ROUTE, pair.left_v4));
        let fresh = restarted.annotate(frr.wait_route(kept_v6, ROUTE, |r| !r.stale, pair.left_v4));
        done.store(true, Ordering::Relaxed);
        let seen = watcher.join().expect("watcher");
        swept.check("the removed IPv6 route is gone after our IPv6 End-of-RIB");
        fresh.check("the kept IPv6 route is fresh again");
        (seen, restarted)
    });
    assert!(seen.polls >= 2, "too few polls: {seen:?}");
    assert!(
        seen.gaps.is_empty(),
        "FRR lost a kept route during the restart: {seen:?}\n{}",
        restarted.log_tail(60)
    );
}

/// 8. After a restart, config routes go out before the selection deferral ends: with a second
///    graceful restart neighbour that never comes up, bgpd defers until its timer (40 s), yet
///    FRR gets a route new in the config and the kept one fresh at once, while the removed one
///    stays (stale) at FRR until our End-of-RIB, which only the timer releases.
#[test]
fn config_routes_reach_frr_before_our_end_of_rib_while_a_peer_is_down() {
    const DEFERRAL: u16 = 40;
    let pair = pair("bgpd", "frr").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let kept = net("198.51.100.10/32");
    let dropped = net("198.51.100.11/32");
    let added = net("198.51.100.12/32");
    let absent = ip("192.0.2.3");
    let config = |routes: &[IpNet]| {
        let mut config = bgpd_config(&state, pair.right_v4, routes).neighbor(
            BgpdNeighbor::new(absent, 65003).graceful_restart(BgpdGracefulRestart::default()),
        );
        config.selection_deferral_time = Some(DEFERRAL);
        config
    };
    let mut bgpd = start_bgpd(&pair.left, &config(&[kept, dropped]));
    let frr =
        Frr::start(&pair.right, &frr_with_gr(pair.left_v4, 120, false, &[])).check("FRR starts");
    for prefix in [kept, dropped] {
        bgpd.annotate(frr.wait_route(prefix, UP, |_| true, pair.left_v4))
            .check("FRR learns our routes");
    }
    wait_state_established(&bgpd, &state);

    stop_bgpd(&mut bgpd, Stop::Kill);
    let restarted = start_bgpd(&pair.left, &config(&[kept, added]));
    restarted
        .annotate(frr.wait_route(added, ROUTE, |_| true, pair.left_v4))
        .check("8. a new config route reaches FRR during the deferral");
    restarted
        .annotate(frr.wait_route(kept, ROUTE, |r| !r.stale, pair.left_v4))
        .check("8. the kept config route is fresh during the deferral");
    // Our End-of-RIB waits for the absent neighbour (or the timer): FRR still holds the
    // removed route, stale.
    let held = frr.route(dropped).check("FRR answers");
    assert!(
        held.as_ref().is_some_and(|r| r.stale),
        "8. FRR swept {dropped} before the deferral ended: {held:?}\n{}",
        restarted.log_tail(60)
    );
    restarted
        .annotate(frr.wait_no_route(
            dropped,
            Duration::from_secs(DEFERRAL.into()) + ROUTE,
            pair.left_v4,
        ))
        .check("8. the removed route goes with our End-of-RIB after the deferral timer");
}
