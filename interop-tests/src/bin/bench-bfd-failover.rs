//! BFD failover benchmark: how long after its peer goes silent a speaker
//! takes the BGP session down, with BFD at 300 ms x 3, at 50 ms x 3, and
//! without BFD on a 3 s hold time; bgpd and FRR 8.4 (bgpd + bfdd) as the
//! speaker under test, in the same run.
//!
//! ```text
//!   [DUT: bgpd or FRR, AS65001] 192.0.2.1 ──── 192.0.2.2 [peer: FRR, AS65002]
//! ```
//!
//! Each run: the session is Established (and BFD Up where configured), the
//! peer's bgpd and bfdd are SIGSTOPped together (this kernel has no netem
//! qdisc; a frozen process is a silent one, its sockets stay open), and the
//! DUT is polled until its session leaves Established: bgpd through GetPeer
//! every 5 ms (about 1 ms per call), FRR through `vtysh -c 'show bgp neighbors
//! X json'` (about 15-30 ms per call: the rig's resolution for the FRR rows,
//! reported beside them). Then the peer thaws and the session comes back.
//! The expected floor is the detection time: multiplier x the peer's
//! transmit interval (RFC 5880 §6.8.4), or the hold time without BFD.
//!
//! Run by hand as root, release build:
//! `cargo build --release -p bgpd -p interop-tests --bin bgpd --bin bench-bfd-failover &&
//!  IRONLB_BGPD=target/release/bgpd target/release/bench-bfd-failover [--runs 20]`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use interop_tests::api::NsRuntime;
use interop_tests::bgpd::{Bgpd, BgpdConfig};
use interop_tests::frr::{Frr, FrrBfd, FrrConfig, FrrNeighbor};
use interop_tests::topology::{Pair, pair};
use interop_tests::{HarnessError, Result, wait_until};
use ironlb_proto::bgpd::v1;

const API: &str = "127.0.0.1:50051";
const DUT_AS: u32 = 65001;
const PEER_AS: u32 = 65002;
const UP: Duration = Duration::from_secs(60);
/// Without BFD: keepalive 1 s, hold 3 s on both sides.
const SHORT_HOLD: u16 = 3;
/// With BFD: a hold time far above the detection time.
const LONG_HOLD: u16 = 60;

#[derive(Clone, Copy, Debug)]
enum Dut {
    Bgpd,
    Frr,
}

#[derive(Clone, Copy, Debug)]
struct Scenario {
    dut: Dut,
    /// (interval ms, multiplier) on both sides, or no BFD.
    bfd: Option<(u32, u8)>,
}

impl Scenario {
    fn name(&self) -> String {
        let dut = match self.dut {
            Dut::Bgpd => "bgpd",
            Dut::Frr => "FRR",
        };
        match self.bfd {
            Some((interval, multiplier)) => format!("{dut}, BFD {interval} ms x {multiplier}"),
            None => format!("{dut}, no BFD, hold {SHORT_HOLD} s"),
        }
    }

    fn hold(&self) -> u16 {
        if self.bfd.is_some() { LONG_HOLD } else { SHORT_HOLD }
    }

    /// What the detection should take at best.
    fn floor(&self) -> Duration {
        match self.bfd {
            Some((interval, multiplier)) => {
                Duration::from_millis(u64::from(interval) * u64::from(multiplier))
            }
            None => Duration::from_secs(u64::from(SHORT_HOLD)),
        }
    }
}

fn runs() -> std::result::Result<usize, String> {
    let mut runs = 20;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--runs needs a positive number")?;
            }
            other => return Err(format!("unknown argument {other}; use --runs N")),
        }
    }
    Ok(runs)
}

fn ip(octets: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(octets))
}

/// The peer: FRR (bgpd, and zebra + bfdd when BFD is on).
fn peer_config(scenario: &Scenario) -> FrrConfig {
    let mut neighbor = FrrNeighbor::new(ip([192, 0, 2, 1]), DUT_AS);
    neighbor.timers = (1, scenario.hold());
    let mut config = FrrConfig::new(PEER_AS, Ipv4Addr::new(192, 0, 2, 2)).neighbor(neighbor);
    config.bfd = scenario.bfd.map(|(interval, multiplier)| FrrBfd {
        receive_interval: interval,
        transmit_interval: interval,
        detect_multiplier: multiplier,
    });
    config
}

/// The speaker under test, with a way to read whether its session is up.
enum Speaker {
    Bgpd { _daemon: Bgpd, runtime: NsRuntime },
    Frr(Frr),
}

impl Speaker {
    fn start(scenario: &Scenario, pair: &Pair) -> Result<Self> {
        match scenario.dut {
            Dut::Bgpd => {
                let daemon =
                    Bgpd::start(&pair.left, &BgpdConfig::new(DUT_AS, Ipv4Addr::new(192, 0, 2, 1)))?;
                let runtime = NsRuntime::new(&pair.left)?;
                let mut client = runtime.client(API, UP)?;
                let peer = v1::PeerConfig {
                    address: pair.right_v4.to_string(),
                    remote_asn: PEER_AS,
                    connect_retry_seconds: Some(1),
                    hold_time_seconds: Some(u32::from(scenario.hold())),
                    bfd: scenario.bfd.map(|(interval, multiplier)| v1::BfdConfig {
                        enabled: true,
                        min_rx_ms: Some(interval),
                        min_tx_ms: Some(interval),
                        multiplier: Some(u32::from(multiplier)),
                        ..v1::BfdConfig::default()
                    }),
                    ..v1::PeerConfig::default()
                };
                runtime
                    .run(async move { client.add_peer(v1::AddPeerRequest { peer: Some(peer) }).await })
                    .map_err(|status| HarnessError::CommandFailed {
                        command: "AddPeer".to_owned(),
                        status: status.code().to_string(),
                        stderr: status.message().to_owned(),
                    })?;
                Ok(Self::Bgpd { _daemon: daemon, runtime })
            }
            Dut::Frr => {
                let mut config = peer_config(scenario);
                config.asn = DUT_AS;
                config.router_id = Ipv4Addr::new(192, 0, 2, 1);
                let mut neighbor = FrrNeighbor::new(pair.right_v4, PEER_AS);
                neighbor.timers = (1, scenario.hold());
                config.neighbors = vec![neighbor];
                Ok(Self::Frr(Frr::start(&pair.left, &config)?))
            }
        }
    }

    /// Whether the session with `peer` is Established and, with BFD at
    /// `bfd` (interval ms, multiplier), BFD is Up with the fast timers in
    /// force on our side (the poll sequence after Up is over, RFC 5880
    /// §6.8.3): otherwise a failure right after Up is detected at the slow
    /// start rate.
    fn ready(&self, peer: IpAddr, bfd: Option<(u32, u8)>) -> bool {
        match self {
            Self::Bgpd { runtime, .. } => {
                let Ok(mut client) = runtime.client(API, Duration::from_secs(1)) else {
                    return false;
                };
                let answer = runtime.run(async move {
                    client.get_peer(v1::GetPeerRequest { address: peer.to_string() }).await
                });
                let Ok(answer) = answer else { return false };
                let status = answer.into_inner().peer.and_then(|p| p.status).unwrap_or_default();
                let established = status.state == v1::SessionState::Established as i32;
                let fast = |(interval, multiplier): (u32, u8)| {
                    status.bfd.as_ref().is_some_and(|b| {
                        b.local_state == v1::BfdState::Up as i32
                            && b.detection_time_us
                                == u64::from(interval) * 1_000 * u64::from(multiplier)
                    })
                };
                established && bfd.is_none_or(fast)
            }
            Self::Frr(frr) => {
                let fast = |(interval, _): (u32, u8)| {
                    frr.bfd_peers()
                        .ok()
                        .and_then(|peers| {
                            let peers = peers.as_array()?.clone();
                            peers.into_iter().find(|p| p["peer"] == peer.to_string())
                        })
                        .is_some_and(|p| {
                            p["status"] == "up" && p["remote-transmit-interval"] == interval
                        })
                };
                frr.is_established(peer) && bfd.is_none_or(fast)
            }
        }
    }
}

/// What one scenario measured.
struct Measured {
    /// Times to detection, sorted.
    times: Vec<Duration>,
    /// Runs where the DUT kept the session past ten times the floor.
    missed: usize,
}

/// One scenario: `runs` failures.
fn scenario(scenario: &Scenario, runs: usize) -> Result<Measured> {
    let pair = pair("dut", "peer")?;
    let peer = Frr::start(&pair.right, &peer_config(scenario))?;
    let dut = Speaker::start(scenario, &pair)?;
    let address = pair.right_v4;
    let with_bfd = scenario.bfd.is_some();
    let mut measured = Measured { times: Vec::with_capacity(runs), missed: 0 };
    for _ in 0..runs {
        wait_until(
            "the session up with its timers in force",
            UP,
            Duration::from_millis(50),
            || dut.ready(address, scenario.bfd).then_some(()),
            || peer.describe(ip([192, 0, 2, 1])),
        )?;
        peer.freeze();
        if with_bfd {
            peer.freeze_bfdd();
        }
        let started = Instant::now();
        // Ten times what the detection should take at most.
        let deadline = scenario.floor() * 10;
        let detected = wait_until(
            "the DUT to drop the session",
            deadline,
            Duration::from_millis(5),
            || (!dut.ready(address, None)).then(|| started.elapsed()),
            String::new,
        );
        peer.thaw();
        if with_bfd {
            peer.thaw_bfdd();
        }
        match detected {
            Ok(time) => measured.times.push(time),
            Err(_) => measured.missed += 1,
        }
    }
    measured.times.sort();
    Ok(measured)
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len().saturating_sub(1) * p).div_ceil(100);
    sorted.get(index).copied().unwrap_or_default()
}

fn main() {
    let runs = match runs() {
        Ok(runs) => runs,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    let scenarios = [
        Scenario { dut: Dut::Bgpd, bfd: Some((300, 3)) },
        Scenario { dut: Dut::Frr, bfd: Some((300, 3)) },
        Scenario { dut: Dut::Bgpd, bfd: Some((50, 3)) },
        Scenario { dut: Dut::Frr, bfd: Some((50, 3)) },
        Scenario { dut: Dut::Bgpd, bfd: None },
        Scenario { dut: Dut::Frr, bfd: None },
    ];
    println!(
        "| scenario ({runs} runs) | floor | median | p90 | worst | not detected in 10x floor |"
    );
    println!("|---|---|---|---|---|---|");
    let mut failed = false;
    for s in &scenarios {
        match scenario(s, runs) {
            Ok(Measured { times, missed }) => println!(
                "| {} | {:?} | {:.0?} | {:.0?} | {:.0?} | {missed} |",
                s.name(),
                s.floor(),
                percentile(&times, 50),
                percentile(&times, 90),
                times.last().copied().unwrap_or_default()
            ),
            Err(error) => {
                failed = true;
                println!("| {} | {:?} | failed: {error} | | |", s.name(), s.floor());
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
