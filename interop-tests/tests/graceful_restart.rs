//! Graceful restart (RFC 4724, RFC 8538) against FRR and BIRD.
//!
//! ```text
//!   [left: ironlb bgpd AS65001] 192.0.2.1 ──── 192.0.2.2 [right: FRR or BIRD AS65002]
//! ```
//!
//! bgpd as restarting speaker: it is SIGKILLed or SIGTERMed while announcing two config
//! routes and started again with one of them removed from its config. Checks:
//! 1. the peer holds the kept route at every 50 ms poll through the restart (no gap);
//! 2. the removed route is gone after our End-of-RIB;
//! 3. (FRR) the kept route is fresh again, not stale.

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdGracefulRestart, BgpdNeighbor, BgpdRoute};
use interop_tests::bird::{Bird, BirdBgp, BirdConfig};
use interop_tests::frr::{Frr, FrrGracefulRestart};
use interop_tests::topology::pair;
use interop_tests::{Check, TempDir, wait_until};
use ipnet::IpNet;

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
    let mut bgpd = start_bgpd(&pair.left, &bgpd_config(&state, pair.right_v4, &[kept, dropped]));
    let mut frr_config = frr_towards_bgpd(65002, 65001, pair.left_v4);
    frr_config.graceful_restart =
        Some(FrrGracefulRestart { restart_time: 120, stalepath_time: 360 });
    let frr = Frr::start(&pair.right, &frr_config).check("FRR starts");
    for prefix in [kept, dropped] {
        bgpd.annotate(frr.wait_route(prefix, UP, |_| true, pair.left_v4))
            .check("FRR learns our routes");
    }
    wait_state_established(&bgpd, &state);

    let done = AtomicBool::new(false);
    let (seen, restarted) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| watch(|| frr.route(kept).ok().map(|r| r.is_some()), &done));
        stop_bgpd(&mut bgpd, stop);
        let restarted = start_bgpd(&pair.left, &bgpd_config(&state, pair.right_v4, &[kept]));
        let swept = restarted.annotate(frr.wait_no_route(dropped, ROUTE, pair.left_v4));
        let fresh = restarted.annotate(frr.wait_route(kept, ROUTE, |r| !r.stale, pair.left_v4));
        done.store(true, Ordering::Relaxed);
        let seen = watcher.join().expect("watcher");
        swept.check("2. the removed route is gone after our End-of-RIB");
        fresh.check("3. the kept route is fresh again");
        (seen, restarted)
    });
    assert!(seen.polls >= 2, "too few polls: {seen:?}");
    assert!(
        seen.gaps.is_empty(),
        "1. FRR lost {kept} during the restart: {seen:?}\n{}",
        restarted.log_tail(60)
    );
}

fn bgpd_restart_against_bird(stop: Stop) {
    let pair = pair("bgpd", "bird").check("topology");
    let state = TempDir::new("gr-state").check("state dir");
    let kept = net("198.51.100.10/32");
    let dropped = net("198.51.100.11/32");
    let mut bgpd = start_bgpd(&pair.left, &bgpd_config(&state, pair.right_v4, &[kept, dropped]));
    let bird_config = BirdConfig::new(THEIRS)
        .bgp(BirdBgp::new("ironlb", 65002, pair.left_v4, 65001).graceful_restart(120));
    let bird = Bird::start(&pair.right, &bird_config).check("BIRD starts");
    for prefix in [kept, dropped] {
        bgpd.annotate(bird.wait_route(prefix, UP, |_| true, "ironlb"))
            .check("BIRD learns our routes");
    }
    wait_state_established(&bgpd, &state);

    let done = AtomicBool::new(false);
    let (seen, restarted) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| watch(|| bird.route(kept).ok().map(|r| r.is_some()), &done));
        stop_bgpd(&mut bgpd, stop);
        let restarted = start_bgpd(&pair.left, &bgpd_config(&state, pair.right_v4, &[kept]));
        let swept = restarted.annotate(bird.wait_no_route(dropped, ROUTE, "ironlb"));
        let back = restarted.annotate(bird.wait_established("ironlb", UP));
        done.store(true, Ordering::Relaxed);
        let seen = watcher.join().expect("watcher");
        swept.check("2. the removed route is gone after our End-of-RIB");
        back.check("the session is back");
        (seen, restarted)
    });
    assert!(seen.polls >= 2, "too few polls: {seen:?}");
    assert!(
        seen.gaps.is_empty(),
        "1. BIRD lost {kept} during the restart: {seen:?}\n{}",
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
