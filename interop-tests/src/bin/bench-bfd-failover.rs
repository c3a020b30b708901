//! BFD failover benchmark: a node announces a /32 to an FRR router and then
//! fails silently; how long until the router removes the route. The node is
//! bgpd, or FRR 8.4 (bgpd + bfdd) as the anchor, measured in the same run,
//! with BFD at 300 ms x 3 (MetalLB's default profile), at 50 ms x 3, and
//! without BFD on a 3 s hold time.
//!
//! ```text
//!   [node: bgpd or FRR, AS65001] 192.0.2.1 ──── 192.0.2.2 [router: FRR + bfdd, AS65002]
//! ```
//!
//! Two silent failures (this kernel has no netem qdisc and no tc actions):
//! - **stop**: the node's daemons are SIGSTOPped (bgpd: one process with its
//!   BFD thread; FRR: bgpd and bfdd). Sockets stay open, nothing is sent.
//! - **drop**: both ends' neighbour entries for each other point at a MAC
//!   that is on neither (00:00:5e:00:53:99, RFC 7042's documentation range),
//!   so every frame between them is discarded by the receiving interface,
//!   as `netem loss 100%` would; the daemons keep running. Restored by
//!   deleting the entries.
//!
//! The router is polled with `show bgp ipv4 203.0.113.10/32 json` until the
//! route is gone: vtysh costs 15 to 30 ms a call, the rig's resolution. With
//! BFD, zebra runs beside the router's bgpd and programs its FIB, so the
//! route's removal from the kernel is also read as an rtnetlink event
//! (`interop_tests::fib_watch`), within a millisecond: that is the "FIB"
//! column, the moment forwarding changes; and the router's bfdd's first
//! Control packet with State Down, read off its interface, is when it
//! declared the node dead: the part a node's BFD decides (the rest is the
//! router's BGP and zebra). The
//! floor is the router's detection time (multiplier x the node's interval,
//! RFC 5880 §6.8.4) or the hold time; a run can beat it by up to one
//! interval (the node's last packet left up to an interval before the
//! failure). Each run starts once the route is in the router's table and
//! BFD runs with its fast timers, plus a random 1 to 2 s, so the failure
//! falls at a random phase of the node's BFD packets (without it, bgpd's
//! runs started a fixed BGP setup time after BFD Up, just after its first
//! fast packet, and read ~80 ms slow at 300 ms x 3).
//!
//! Run by hand as root, release build:
//! `cargo build --release -p bgpd -p interop-tests --bin bgpd --bin bench-bfd-failover &&
//!  IRONLB_BGPD=target/release/bgpd target/release/bench-bfd-failover [--runs 20]
//!  [--only "stop, BFD 300"]` (`--only`: the scenarios whose name contains it).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use interop_tests::api::NsRuntime;
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdRoute};
use interop_tests::fib_watch::{Change, FibWatch};
use interop_tests::frr::{Frr, FrrBfd, FrrConfig, FrrNeighbor, FrrNetwork};
use interop_tests::netns::Namespace;
use interop_tests::table::Rng;
use interop_tests::topology::{Pair, pair};
use interop_tests::{HarnessError, Result, hold_for, wait_until};
use ipnet::IpNet;
use ironlb_proto::bgpd::v1;

const API: &str = "127.0.0.1:50051";
const NODE_AS: u32 = 65001;
const ROUTER_AS: u32 = 65002;
const UP: Duration = Duration::from_secs(60);
/// Without BFD: keepalive 1 s, hold 3 s on both sides.
const SHORT_HOLD: u16 = 3;
/// With BFD: a hold time far above the detection time.
const LONG_HOLD: u16 = 60;
/// The least time between readiness and the failure (plus up to as much
/// again at random).
const SETTLE: Duration = Duration::from_secs(1);
/// Where frames go in the drop failure: on no interface.
const NOWHERE: &str = "00:00:5e:00:53:99";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Bgpd,
    Frr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Stop,
    Drop,
}

#[derive(Clone, Copy, Debug)]
struct Scenario {
    node: Node,
    failure: Failure,
    /// (interval ms, multiplier) on both sides, or no BFD.
    bfd: Option<(u32, u8)>,
}

impl Scenario {
    fn name(&self) -> String {
        let node = match self.node {
            Node::Bgpd => "bgpd",
            Node::Frr => "FRR",
        };
        let failure = match self.failure {
            Failure::Stop => "stop",
            Failure::Drop => "drop",
        };
        match self.bfd {
            Some((interval, multiplier)) => {
                format!("{node}, {failure}, BFD {interval} ms x {multiplier}")
            }
            None => format!("{node}, {failure}, no BFD, hold {SHORT_HOLD} s"),
        }
    }

    fn hold(&self) -> u16 {
        if self.bfd.is_some() { LONG_HOLD } else { SHORT_HOLD }
    }

    /// What the detection takes at best.
    fn floor(&self) -> Duration {
        match self.bfd {
            Some((interval, multiplier)) => {
                Duration::from_millis(u64::from(interval) * u64::from(multiplier))
            }
            None => Duration::from_secs(u64::from(SHORT_HOLD)),
        }
    }

    fn frr_bfd(&self) -> Option<FrrBfd> {
        self.bfd.map(|(interval, multiplier)| FrrBfd {
            receive_interval: interval,
            transmit_interval: interval,
            detect_multiplier: multiplier,
        })
    }
}

/// `--runs N` (default 20) and `--only TEXT` (only the scenarios whose name
/// contains TEXT, e.g. "stop, BFD 300").
fn runs() -> std::result::Result<(usize, Option<String>), String> {
    let mut runs = 20;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--runs needs a positive number")?;
            }
            "--only" => only = Some(args.next().ok_or("--only needs a scenario name part")?),
            other => return Err(format!("unknown argument {other}; use --runs N --only TEXT")),
        }
    }
    Ok((runs, only))
}

fn announced() -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::new(203, 0, 113, 10), 32).unwrap_or_default())
}

/// The node: bgpd (BFD through AddPeer) or FRR.
enum NodeDaemon {
    Bgpd(Bgpd),
    Frr(Frr),
}

impl NodeDaemon {
    fn start(scenario: &Scenario, pair: &Pair) -> Result<Self> {
        let router_id = Ipv4Addr::new(192, 0, 2, 1);
        match scenario.node {
            Node::Bgpd => {
                let config = BgpdConfig::new(NODE_AS, router_id).route(BgpdRoute::new(announced()));
                let daemon = Bgpd::start(&pair.left, &config)?;
                let runtime = NsRuntime::new(&pair.left)?;
                let mut client = runtime.client(API, UP)?;
                let peer = v1::PeerConfig {
                    address: pair.right_v4.to_string(),
                    remote_asn: ROUTER_AS,
                    connect_retry_seconds: Some(1),
                    hold_time_seconds: Some(u32::from(scenario.hold())),
                    export_policy: vec!["accept-all".to_owned()],
                    import_policy: vec!["accept-all".to_owned()],
                    bfd: scenario.bfd.map(|(interval, multiplier)| v1::BfdConfig {
                        enabled: true,
                        min_rx_ms: Some(interval),
                        min_tx_ms: Some(interval),
                        multiplier: Some(u32::from(multiplier)),
                        ..v1::BfdConfig::default()
                    }),
                    ..v1::PeerConfig::default()
                };
                let added = runtime.run(async move {
                    client.add_peer(v1::AddPeerRequest { peer: Some(peer) }).await
                });
                added.map_err(|status| HarnessError::CommandFailed {
                    command: "AddPeer".to_owned(),
                    status: status.code().to_string(),
                    stderr: status.message().to_owned(),
                })?;
                Ok(Self::Bgpd(daemon))
            }
            Node::Frr => {
                let mut neighbor = FrrNeighbor::new(pair.right_v4, ROUTER_AS);
                neighbor.timers = (1, scenario.hold());
                let mut config = FrrConfig::new(NODE_AS, router_id)
                    .neighbor(neighbor)
                    .network(FrrNetwork::new(announced()));
                config.bfd = scenario.frr_bfd();
                Ok(Self::Frr(Frr::start(&pair.left, &config)?))
            }
        }
    }

    fn freeze(&self) {
        match self {
            Self::Bgpd(bgpd) => bgpd.freeze(),
            Self::Frr(frr) => {
                // bfdd too, when it runs (FrrConfig::bfd).
                frr.freeze();
                frr.freeze_bfdd();
            }
        }
    }

    fn thaw(&self) {
        match self {
            Self::Bgpd(bgpd) => bgpd.thaw(),
            Self::Frr(frr) => {
                frr.thaw();
                frr.thaw_bfdd();
            }
        }
    }
}

/// The router's view: the route is there and, with BFD, its BFD session
/// to the node runs with the node's fast interval.
fn ready(router: &Frr, node: IpAddr, bfd: Option<(u32, u8)>) -> bool {
    let fast = |(interval, _): (u32, u8)| {
        router
            .bfd_peers()
            .ok()
            .and_then(|peers| {
                let peers = peers.as_array()?.clone();
                peers.into_iter().find(|p| p["peer"] == node.to_string())
            })
            .is_some_and(|p| p["status"] == "up" && p["remote-transmit-interval"] == interval)
    };
    matches!(router.route(announced()), Ok(Some(_))) && bfd.is_none_or(fast)
}

/// Points `namespace`'s neighbour entry for `address` on `interface` at
/// nowhere (`cut`), or deletes it so it is learned again.
fn neighbor_entry(
    namespace: &Namespace,
    interface: &str,
    address: IpAddr,
    cut: bool,
) -> Result<()> {
    let address = address.to_string();
    let args: Vec<&str> = if cut {
        vec!["neigh", "replace", &address, "lladdr", NOWHERE, "nud", "permanent", "dev", interface]
    } else {
        vec!["neigh", "del", &address, "dev", interface]
    };
    namespace.ip(&args).map(|_| ())
}

/// One scenario: `runs` failures.
struct Measured {
    /// Times to the route's removal as vtysh saw it, sorted.
    times: Vec<Duration>,
    /// Times to the route's removal from the router's FIB (BFD scenarios,
    /// where zebra runs), sorted.
    fib_times: Vec<Duration>,
    /// Times to the router's first BFD packet with State Down (BFD
    /// scenarios), sorted.
    down_times: Vec<Duration>,
    /// Runs where the router kept the route past ten times the floor.
    missed: usize,
}

fn scenario(scenario: &Scenario, runs: usize) -> Result<Measured> {
    let pair = pair("node", "router")?;
    let mut neighbor = FrrNeighbor::new(pair.left_v4, NODE_AS);
    neighbor.timers = (1, scenario.hold());
    let mut config = FrrConfig::new(ROUTER_AS, Ipv4Addr::new(192, 0, 2, 2)).neighbor(neighbor);
    config.bfd = scenario.frr_bfd();
    let router = Frr::start(&pair.right, &config)?;
    let node = NodeDaemon::start(scenario, &pair)?;
    // With BFD, zebra programs the router's FIB: its removal of the route
    // is an rtnetlink event, stamped within a millisecond.
    // Its bfdd's first Down packet on the wire is when it declared the
    // node dead.
    let mut fib = match scenario.bfd {
        Some(_) => Some(
            FibWatch::start(&pair.right, Ipv4Addr::new(203, 0, 113, 10))?
                .with_bfd_downs(&pair.interfaces.1)?,
        ),
        None => None,
    };
    let mut measured = Measured {
        times: Vec::with_capacity(runs),
        fib_times: Vec::new(),
        down_times: Vec::new(),
        missed: 0,
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |since| since.as_nanos() as u64);
    let mut random = Rng::new(seed);
    for _ in 0..runs {
        wait_until(
            "the route at the router with BFD's fast timers",
            UP,
            Duration::from_millis(50),
            || ready(&router, pair.left_v4, scenario.bfd).then_some(()),
            || router.describe(pair.left_v4),
        )?;
        // A random settle after readiness, so the failure falls at a random
        // phase of the node's packet train. Without it bgpd's runs failed
        // its BFD just after its first fast packet: bgpd holds BGP until BFD
        // is Up, so the route (and readiness) came back a fixed BGP setup
        // time after BFD Up; the router then saw a fresh last packet and
        // detected ~80 ms later than at a random phase (RFC 5880 §6.8.4: the
        // detection time runs from the last packet received).
        let settle = SETTLE + Duration::from_millis(random.below(SETTLE.as_millis() as u64));
        hold_for(
            "the route and BFD to stay up before the failure",
            settle,
            Duration::from_millis(100),
            || ready(&router, pair.left_v4, scenario.bfd),
            || router.describe(pair.left_v4),
        )?;
        let cut = |on: bool| -> Result<()> {
            neighbor_entry(&pair.left, &pair.interfaces.0, pair.right_v4, on)?;
            neighbor_entry(&pair.right, &pair.interfaces.1, pair.left_v4, on)
        };
        if let Some(fib) = &mut fib {
            fib.clear();
        }
        let started = Instant::now();
        match scenario.failure {
            Failure::Stop => node.freeze(),
            Failure::Drop => cut(true)?,
        }
        let removed = wait_until(
            "the router to remove the route",
            scenario.floor() * 10,
            Duration::from_millis(2),
            || matches!(router.route(announced()), Ok(None)).then(|| started.elapsed()),
            String::new,
        );
        if let Some(fib) = &mut fib {
            let deadline = started + scenario.floor() * 10;
            if let Some(time) = fib.first(Change::BfdDown, started, deadline) {
                measured.down_times.push(time);
            }
            if let Some(time) = fib.first(Change::Deleted, started, deadline) {
                measured.fib_times.push(time);
            }
        }
        match scenario.failure {
            Failure::Stop => node.thaw(),
            Failure::Drop => cut(false)?,
        }
        match removed {
            Ok(time) => measured.times.push(time),
            Err(_) => measured.missed += 1,
        }
    }
    measured.times.sort();
    measured.fib_times.sort();
    measured.down_times.sort();
    Ok(measured)
}

/// Median, p90 and worst of the watched times, or dashes without BFD
/// (no zebra then); the count is given when fewer were seen than runs.
fn fib_columns(sorted: &[Duration], runs: usize) -> String {
    if sorted.is_empty() {
        return "- | - | -".to_owned();
    }
    let seen =
        if sorted.len() < runs { format!(" ({} of {runs})", sorted.len()) } else { String::new() };
    format!(
        "{} ms{seen} | {} ms | {} ms",
        percentile(sorted, 50).as_millis(),
        percentile(sorted, 90).as_millis(),
        sorted.last().copied().unwrap_or_default().as_millis()
    )
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len().saturating_sub(1) * p).div_ceil(100);
    sorted.get(index).copied().unwrap_or_default()
}

fn main() {
    let (runs, only) = match runs() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    let mut scenarios = Vec::new();
    for failure in [Failure::Stop, Failure::Drop] {
        for bfd in [Some((300, 3)), Some((50, 3)), None] {
            for node in [Node::Bgpd, Node::Frr] {
                let scenario = Scenario { node, failure, bfd };
                if only.as_ref().is_none_or(|part| scenario.name().contains(part.as_str())) {
                    scenarios.push(scenario);
                }
            }
        }
    }
    println!(
        "| node, failure, timers ({runs} runs) | floor | router's BFD Down: median | p90 | worst | FIB: median | p90 | worst | vtysh: median | p90 | worst | not removed in 10x floor |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut failed = false;
    for s in &scenarios {
        match scenario(s, runs) {
            Ok(Measured { times, fib_times, down_times, missed }) => println!(
                "| {} | {} ms | {} | {} | {} ms | {} ms | {} ms | {missed} |",
                s.name(),
                s.floor().as_millis(),
                fib_columns(&down_times, times.len()),
                fib_columns(&fib_times, times.len()),
                percentile(&times, 50).as_millis(),
                percentile(&times, 90).as_millis(),
                times.last().copied().unwrap_or_default().as_millis()
            ),
            Err(error) => {
                failed = true;
                println!("| {} | {:?} | failed: {error} | | | |", s.name(), s.floor());
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
