//! Layer2 failover benchmark (issue 6, "Speed"): how long until a client's neighbour entry
//! for a Service address points at the new owner, after the old owner's crash (SIGKILL of
//! its speaker and `bgpd`) and after its clean stop (SIGTERM of its speaker); median and
//! worst of N each (default 20).
//!
//! The world is `interop_tests::layer2_k8s`'s: two nodes with `bgpd` and a speaker process
//! each, a client, the test API server and the controller. Each round: the client resolves
//! the address (one ping), the owner is crashed and the clock runs until `ip neigh` in the
//! client shows the other node's MAC (polled every 2 ms: a process start per poll, so the
//! figures include up to a few ms of polling); the owner restarts and takes its address
//! back after the hold-down; then its speaker gets SIGTERM, timed the same way, and
//! restarts. Nothing here is asserted: a round that does not converge in 30 s fails the
//! run.
//!
//! Each failover is also split at the successor's takeover decision ([`takeover`]): from
//! the decision (its speaker's `layer2: announcing` log line, wall clock) to the first
//! gratuitous ARP from its MAC captured on the client (`tcpdump -tt`).
//!
//! Run by hand as root: `cargo build -p bgpd -p k8s-adapter -p interop-tests --bins &&
//! target/debug/bench-layer2 [--repeat 20]`. Release binaries: `IRONLB_BGPD=target/release/bgpd
//! IRONLB_K8S_ADAPTER=target/release/k8s-adapter target/release/bench-layer2`.

use std::time::{Duration, Instant};

use interop_tests::layer2_k8s::{
    Cluster, Node, config_objects, neighbor, service, slice, try_exec, wait_address, wait_winner,
};
use interop_tests::netns::{Namespace, Process};
use interop_tests::takeover::{self, unix_micros};
use interop_tests::{Check, TempDir, require_program, wait_until};

const ROUND: Duration = Duration::from_secs(30);
const FAST_POLL: Duration = Duration::from_millis(2);

/// Waits until the client's entry for `address` is `mac`; the time from `since`.
fn moved(client: &Namespace, address: &str, mac: &str, since: Instant, nodes: &[Node]) -> Duration {
    wait_until(
        &format!("the client's entry for {address} to become {mac}"),
        ROUND,
        FAST_POLL,
        || (neighbor(client, address).0.as_deref() == Some(mac)).then(Instant::now),
        || format!("{}{}", neighbor(client, address).1, interop_tests::layer2_k8s::logs(nodes)),
    )
    .check("failover")
    .saturating_duration_since(since)
}

/// `tcpdump -e -tt -n -l arp` on the client's eth0, running once this returns.
fn capture(client: &Namespace, dir: &TempDir) -> (Process, std::path::PathBuf) {
    let program = require_program("tcpdump", "tcpdump").check("tcpdump");
    let log = dir.join("arp.txt");
    let args = ["-e", "-tt", "-n", "-l", "-i", "eth0", "arp"];
    let process = client.spawn("tcpdump", &program, &args, &log).check("tcpdump starts");
    wait_until(
        "tcpdump to listen",
        ROUND,
        FAST_POLL,
        || std::fs::read_to_string(&log).ok().filter(|t| t.contains("listening on")).map(|_| ()),
        || interop_tests::tail(&log, 10),
    )
    .check("tcpdump listens");
    (process, log)
}

/// From the successor's takeover decision (at or after `since_us`) to its first gratuitous
/// ARP on the client's wire.
fn split(successor: &Node, capture: &std::path::Path, address: &str, since_us: u128) -> Duration {
    let log = successor.speaker.as_ref().map(|s| s.log().to_path_buf()).unwrap_or_default();
    let (decided, sent) = wait_until(
        "the takeover decision and its gratuitous ARP",
        ROUND,
        FAST_POLL,
        || {
            let text = std::fs::read_to_string(&log).ok()?;
            let decided = takeover::decision(&text, address, since_us)?;
            let arp = std::fs::read_to_string(capture).ok()?;
            Some((decided, takeover::first_garp(&arp, &successor.mac, address, decided)?))
        },
        || format!("{}\n{}", interop_tests::tail(&log, 20), interop_tests::tail(capture, 20)),
    )
    .check("split");
    Duration::from_micros(u64::try_from(sent - decided).unwrap_or(u64::MAX))
}

fn summary(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let worst = times.last().copied().unwrap_or_default();
    println!(
        "{what}: median {:.1} ms, worst {:.1} ms over {} ({:?})",
        ms(median),
        ms(worst),
        times.len(),
        times.iter().map(|d| format!("{:.0}", ms(*d))).collect::<Vec<_>>()
    );
}

fn run(repeat: usize) {
    let Cluster { bridge: _bridge, client, mut nodes, api, kubeconfig, _dir } =
        interop_tests::layer2_k8s::cluster(config_objects(), false);
    api.insert(service("web"));
    api.insert(slice("web", "n1"));
    let address = wait_address(&api, "web");
    let winner_name = wait_winner(&api, &client, &nodes, "web", &address);
    let winner = nodes.iter().position(|n| n.name == winner_name).unwrap_or_default();
    let other = 1 - winner;
    let (winner_mac, other_mac) = (nodes[winner].mac.clone(), nodes[other].mac.clone());
    let (mut crash, mut stop) = (Vec::new(), Vec::new());
    let (mut crash_split, mut stop_split) = (Vec::new(), Vec::new());
    let dir = TempDir::new("bench-l2").check("capture directory");
    let (mut tcpdump, arp) = capture(&client, &dir);
    let mut generation = 1;
    for round in 0..repeat {
        let _ = try_exec(&client, "ping", &["-c", "1", "-W", "1", &address]);
        let since_us = unix_micros();
        let since = Instant::now();
        nodes[winner].crash();
        crash.push(moved(&client, &address, &other_mac, since, &nodes));
        crash_split.push(split(&nodes[other], &arp, &address, since_us));
        nodes[winner].start(&kubeconfig, generation);
        generation += 1;
        moved(&client, &address, &winner_mac, Instant::now(), &nodes);

        let _ = try_exec(&client, "ping", &["-c", "1", "-W", "1", &address]);
        let mut speaker = nodes[winner].speaker.take().check_some("a running speaker");
        let since_us = unix_micros();
        let since = Instant::now();
        speaker.signal(libc::SIGTERM);
        stop.push(moved(&client, &address, &other_mac, since, &nodes));
        stop_split.push(split(&nodes[other], &arp, &address, since_us));
        speaker.stop_with(libc::SIGTERM, ROUND).check("the speaker exits");
        nodes[winner].start_speaker(&kubeconfig, generation);
        generation += 1;
        moved(&client, &address, &winner_mac, Instant::now(), &nodes);
        eprintln!(
            "round {}: crash {:?} (decision to GARP {:?}), clean stop {:?} (decision to GARP {:?})",
            round + 1,
            crash[round],
            crash_split[round],
            stop[round],
            stop_split[round]
        );
    }
    tcpdump.kill();
    summary("crash (speaker and bgpd SIGKILL)", crash);
    summary("  of which takeover decision to first gratuitous ARP", crash_split);
    summary("clean stop (speaker SIGTERM)", stop);
    summary("  of which takeover decision to first gratuitous ARP", stop_split);
}

trait CheckSome<T> {
    fn check_some(self, what: &str) -> T;
}

impl<T> CheckSome<T> for Option<T> {
    fn check_some(self, what: &str) -> T {
        self.unwrap_or_else(|| panic!("{what}: none"))
    }
}

fn main() -> std::process::ExitCode {
    let mut repeat = 20;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|v| v.parse::<usize>().ok())) {
            ("--repeat", Some(n)) if (1..=1000).contains(&n) => repeat = n,
            _ => {
                eprintln!("usage: bench-layer2 [--repeat N]   (1 <= N <= 1000)");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    run(repeat);
    std::process::ExitCode::SUCCESS
}
