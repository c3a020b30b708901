//! BFD cost benchmark (issue 15: "100 BFD sessions at 50 ms x 3 use under
//! 2 % of one core"): bgpd runs N BFD sessions (default 100) at 50 ms x 3
//! against N peer addresses; once all are Up, bgpd's CPU (utime + stime of
//! the whole process, and of its `bfd` thread alone, from /proc) is sampled
//! over a window (default 60 s) and given as a share of one core.
//!
//! ```text
//!   [node: bgpd, AS65001] 192.0.2.1 ──── 192.0.2.2 .. 192.0.2.(N+1) [peers: the rig's responder]
//! ```
//!
//! The peers are the rig's own BFD responder: bgpd's BFD driver
//! (`bgpd::bfd::BfdHandle`, the same code as the node's) on a thread of this
//! process inside the peers' namespace, one session per peer address, each
//! bound to its own source address. FRR's bfdd is not used: one bfdd holding
//! 100 peers costs more than the node under test and would share the 2 cores
//! with it. The responder's own CPU (its driver thread) is reported beside
//! the node's as the rig's cost.
//!
//! bgpd's neighbors are passive (nothing listens for BGP on the peers'
//! side), so its BGP side is idle: what it costs beyond BFD is the process's
//! idle tasks, shown separately as "process - bfd thread".
//!
//! Run as root after `cargo build --release -p bgpd -p interop-tests --bin
//! bgpd --bin bench-bfd-cost`: `IRONLB_BGPD=target/release/bgpd
//! target/release/bench-bfd-cost [--sessions 100] [--seconds 60]
//! [--interval 50] [--multiplier 3]`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bgpd::bfd::{
    BfdHandle, DriverConfig, Hop, Report, SOURCE_PORTS, SessionConfig, SessionKey, SessionSpec,
    State, Timers,
};
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor};
use interop_tests::netns::Namespace;
use interop_tests::topology::pair;
use interop_tests::{HarnessError, Result, wait_until};

const NODE_AS: u32 = 65001;
const PEER_AS: u32 = 65002;

struct Options {
    sessions: u8,
    seconds: u64,
    interval: u32,
    multiplier: u8,
}

fn options() -> std::result::Result<Options, String> {
    let mut o = Options { sessions: 100, seconds: 60, interval: 50, multiplier: 3 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--sessions" => o.sessions = value.parse().map_err(bad)?,
            "--seconds" => o.seconds = value.parse().map_err(bad)?,
            "--interval" => o.interval = value.parse().map_err(bad)?,
            "--multiplier" => o.multiplier = value.parse().map_err(bad)?,
            other => {
                return Err(format!(
                    "unknown argument {other}; use --sessions N (1..=250) --seconds S \
                     --interval MS --multiplier M"
                ));
            }
        }
    }
    if !(1..=250).contains(&o.sessions) {
        return Err("--sessions must be 1..=250 (one /24 of peer addresses)".to_owned());
    }
    Ok(o)
}

fn peer_address(index: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, index.saturating_add(2))
}

fn io_error(command: &str, source: std::io::Error) -> HarnessError {
    HarnessError::Io { command: command.to_owned(), source }
}

/// bgpd's BFD driver as the peers' responder, its thread inside `namespace`
/// (a thread inherits the network namespace of the thread that spawns it).
fn responder(
    namespace: &Namespace,
) -> Result<(BfdHandle, tokio::sync::mpsc::UnboundedReceiver<Report>)> {
    let name = namespace.name().to_owned();
    let (sender, reports) = tokio::sync::mpsc::unbounded_channel();
    let spawned = std::thread::spawn(move || -> Result<BfdHandle> {
        interop_tests::netns::enter(&name)?;
        let config = DriverConfig {
            listen: vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
            single_hop_port: bgpd::bfd::SINGLE_HOP_PORT,
            multihop_port: 0,
            source_ports: SOURCE_PORTS,
            realtime_priority: 1,
        };
        BfdHandle::spawn(config, sender)
            .map_err(|e| io_error("the BFD responder", std::io::Error::other(e)))
    });
    let handle = spawned
        .join()
        .map_err(|_| io_error("the responder thread", std::io::Error::other("panicked")))??;
    Ok((handle, reports))
}

/// (utime + stime) in seconds of /proc/`pid`/task/`tid`, or of the whole
/// process when `tid` is `None`.
fn cpu_seconds(pid: u32, tid: Option<u32>) -> f64 {
    let path = match tid {
        Some(tid) => format!("/proc/{pid}/task/{tid}/stat"),
        None => format!("/proc/{pid}/stat"),
    };
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 =
        [11, 12].iter().filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok())).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / if hz > 0 { hz as f64 } else { 100.0 }
}

/// Time on the CPU in seconds of /proc/`pid`/task/`tid` by the scheduler's
/// own count (`schedstat`, first field, nanoseconds): exact, where utime +
/// stime are sampled in 10 ms ticks (a 2 % thread is 120 ticks a minute).
fn run_seconds(pid: u32, tid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"));
    let nanos = stat.ok().and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
    nanos.unwrap_or_default() as f64 / 1e9
}

/// The task id of `pid`'s thread named `name`.
fn thread_named(pid: u32, name: &str) -> Option<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        (comm.trim() == name).then(|| task.file_name().to_str()?.parse().ok())?
    })
}

fn statuses(handle: &BfdHandle) -> Vec<(SessionKey, bgpd::bfd::Status)> {
    handle.status().blocking_recv().unwrap_or_default()
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(&options) {
        eprintln!("bench-bfd-cost failed: {error}");
        std::process::exit(1);
    }
}

fn run(o: &Options) -> Result<()> {
    let pair = pair("node", "peers")?;
    for index in 1..o.sessions {
        pair.right.add_address(&pair.interfaces.1, &format!("{}/24", peer_address(index)))?;
    }
    let bfd = format!(
        "[neighbors.bfd]\nenabled = true\nmin_rx_ms = {0}\nmin_tx_ms = {0}\nmultiplier = {1}\n",
        o.interval, o.multiplier
    );
    let mut config = BgpdConfig::new(NODE_AS, Ipv4Addr::new(192, 0, 2, 1));
    for index in 0..o.sessions {
        let neighbor =
            BgpdNeighbor::new(IpAddr::V4(peer_address(index)), PEER_AS).passive().extra(&bfd);
        config = config.neighbor(neighbor);
    }
    let node = Bgpd::start(&pair.left, &config)?;
    let (responder, _reports) = responder(&pair.right)?;
    let interval = Duration::from_millis(u64::from(o.interval));
    let timers = Timers {
        desired_min_tx: interval,
        required_min_rx: interval,
        detect_multiplier: o.multiplier,
    };
    for index in 0..o.sessions {
        responder.add(SessionSpec {
            key: SessionKey { peer: pair.left_v4, local: Some(IpAddr::V4(peer_address(index))) },
            config: SessionConfig { timers, hop: Hop::Single, ..SessionConfig::default() },
            peer_port: None,
            counters: Arc::default(),
        });
    }
    let all_up = |handle: &BfdHandle| {
        let all = statuses(handle);
        all.len() == usize::from(o.sessions)
            && all
                .iter()
                .all(|(_, s)| s.state == State::Up && !s.polling && s.transmit_interval == interval)
    };
    wait_until(
        "every BFD session Up with the fast timers",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || all_up(&responder).then_some(()),
        || {
            let all = statuses(&responder);
            let up = all.iter().filter(|(_, s)| s.state == State::Up).count();
            format!("{up} of {} Up at the responder\n{}", all.len(), node.log_tail(20))
        },
    )?;
    // Past the Poll Sequences of coming Up, and the log lines of it.
    std::thread::sleep(Duration::from_secs(2));
    let pid = node.pid();
    let bfd_thread = thread_named(pid, "bfd").ok_or_else(|| {
        io_error(
            "find bgpd's bfd thread",
            std::io::Error::other(format!("none in /proc/{pid}/task")),
        )
    })?;
    let rig_pid = std::process::id();
    let rig_thread = u32::try_from(responder.thread_id()).unwrap_or_default();
    let sample = || {
        (
            cpu_seconds(pid, None),
            cpu_seconds(pid, Some(bfd_thread)),
            cpu_seconds(rig_pid, Some(rig_thread)),
            responder.counters().sent.load(Ordering::Relaxed),
            responder.counters().received.load(Ordering::Relaxed),
            run_seconds(pid, bfd_thread),
            run_seconds(rig_pid, rig_thread),
        )
    };
    let before = sample();
    let started = Instant::now();
    let window = Duration::from_secs(o.seconds);
    // The window is the measurement itself, not a wait for a condition; the
    // sessions are checked after it (a flap would show in `stayed`).
    std::thread::sleep(window);
    let after = sample();
    let seconds = started.elapsed().as_secs_f64();
    let share = |a: f64, b: f64| (b - a) / seconds * 100.0;
    let stayed = all_up(&responder);
    println!(
        "{} BFD sessions at {} ms x {}, {seconds:.1} s window after all were Up:",
        o.sessions, o.interval, o.multiplier
    );
    println!("| what | CPU, % of one core (utime + stime) | by schedstat |");
    println!("|---|---|---|");
    println!("| bgpd process | {:.2} | |", share(before.0, after.0));
    println!(
        "| bgpd `bfd` thread | {:.2} | {:.2} |",
        share(before.1, after.1),
        share(before.5, after.5)
    );
    println!(
        "| bgpd process - bfd thread | {:.2} | |",
        share(before.0, after.0) - share(before.1, after.1)
    );
    println!(
        "| rig: responder thread (same driver code) | {:.2} | {:.2} |",
        share(before.2, after.2),
        share(before.6, after.6)
    );
    println!(
        "responder: {:.0} packets/s sent, {:.0} received; all sessions still Up: {stayed}",
        (after.3 - before.3) as f64 / seconds,
        (after.4 - before.4) as f64 / seconds
    );
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", loadavg.trim());
    drop(responder);
    drop(node);
    if stayed {
        Ok(())
    } else {
        Err(HarnessError::Violated {
            what: "every BFD session Up".to_owned(),
            after: started.elapsed(),
            last: String::new(),
        })
    }
}
