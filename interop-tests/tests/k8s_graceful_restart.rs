//! Graceful restart as deployed (issue #14): the speaker and its bgpd with bgpd's state
//! directory kept across restarts (the DaemonSet's hostPath), the BGPPeer with
//! `enableGracefulRestart`, FRR as helper. FRR is polled every 50 ms while bgpd is killed
//! (SIGKILL) and started again, alone and together with the speaker, and while the pair
//! goes through a rolling update (SIGTERM to both, then both started): the Service's /32 never
//! leaves FRR's table, and it is fresh (not stale) again once the speaker re-synced and bgpd
//! sent its End-of-RIB.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use interop_tests::k8s::{NODE, NODE_ADDRESS, World, service, slice, world_with};
use interop_tests::{Check, wait_until};
use ipnet::IpNet;

const POLL: Duration = Duration::from_millis(50);
/// How long bgpd stays down: longer than a poll, as a rescheduled container would be.
const DOWNTIME: Duration = Duration::from_secs(1);
/// Session back up, speaker re-synced, End-of-RIB: well within this.
const BACK: Duration = Duration::from_secs(60);

/// What the watcher saw: polls made, and each gap (route missing) with its length.
#[derive(Debug, Default)]
struct Watch {
    polls: usize,
    gaps: Vec<Duration>,
}

/// Polls `present` every 50 ms until `stop`; a poll that cannot tell (`None`) is no gap.
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

/// A world with graceful restart and the Service `web` announced; its /32.
fn announced() -> (World, IpNet) {
    let world = world_with("198.51.100.64/28", true);
    world.insert(service("web", false));
    world.insert(slice("web", NODE, true));
    let address = world.wait_address("web");
    world.wait_frr("the Service's /32 at FRR", address, true);
    // The state file must record an established session for the next start to be a restart.
    let file = world.state_file().expect("a state directory");
    world
        .bgpd
        .annotate(wait_until(
            "bgpd's state file to record an established session",
            BACK,
            POLL,
            || {
                std::fs::read_to_string(&file)
                    .ok()
                    .filter(|t| t.contains("established = true"))
                    .map(|_| ())
            },
            || format!("{:?}", std::fs::read_to_string(&file)),
        ))
        .check("state file written");
    (world, IpNet::new(IpAddr::V4(address), 32).unwrap())
}

/// Restarts as `restart` does while FRR is polled; then waits until the route is fresh again
/// and checks that it never went missing.
fn survives(world: &mut World, prefix: IpNet, restart: impl FnOnce(&mut World)) {
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (frr, done) = (Arc::clone(&world.frr), Arc::clone(&done));
        std::thread::spawn(move || watch(|| Some(frr.route(prefix).ok()?.is_some()), &done))
    };
    restart(world);
    let node = IpAddr::V4(NODE_ADDRESS);
    let fresh = world.bgpd.annotate(world.frr.wait_route(prefix, BACK, |r| !r.stale, node));
    done.store(true, Ordering::Relaxed);
    let seen = watcher.join().expect("watcher");
    fresh.check("the route fresh again after the speaker re-synced");
    assert!(seen.polls >= 2, "too few polls: {seen:?}");
    assert!(
        seen.gaps.is_empty(),
        "FRR lost {prefix} during the restart: {seen:?}\n{}",
        world.bgpd.log_tail(60)
    );
}

#[test]
fn bgpd_killed_alone_frr_keeps_the_service_route() {
    let (mut world, prefix) = announced();
    survives(&mut world, prefix, |w| w.restart_bgpd(DOWNTIME));
}

#[test]
fn speaker_and_bgpd_killed_together_frr_keeps_the_service_route() {
    let (mut world, prefix) = announced();
    survives(&mut world, prefix, |w| {
        w.kill_speaker();
        w.restart_bgpd(DOWNTIME);
        w.start_speaker();
    });
}

/// A rolling update of the DaemonSet: the kubelet sends SIGTERM to both containers (the
/// speaker's clean stop, bgpd's graceful-restart close without a NOTIFICATION), the new pod
/// starts bgpd and the speaker with the same hostPath state.
#[test]
fn a_rolling_update_with_sigterm_keeps_the_service_route() {
    let (mut world, prefix) = announced();
    survives(&mut world, prefix, |w| {
        w.stop_speaker(Duration::from_secs(10));
        w.terminate_and_restart_bgpd(DOWNTIME);
        w.start_speaker();
    });
}
