//! The table benchmark's runs (see `src/bin/bench-table.rs`): our feeder → DUT → our sink on
//! the rig of [`crate::rig`], with DUT = ironlb bgpd, BIRD, FRR or GoBGP, or none (the rig's
//! floor: feeder straight into sink).
//!
//! ```text
//!   [feeder AS65001] 192.0.2.1 / 2001:db8:1::1 ── 192.0.2.2 / 2001:db8:1::2 [DUT AS65002]
//!   198.51.100.1 / 2001:db8:2::1 ── 198.51.100.2 / 2001:db8:2::2 [sink AS65003]
//! ```
//!
//! One BGP session per family on each side (the DUT is passive; eBGP, accept-all policies).
//! Per run, in fresh namespaces: the sink sessions come up, then the feeder's, then the feeder
//! writes the whole pre-encoded table at socket speed. Measured from the first byte written:
//! time until the sink held the first prefix, 99 % and 100 % of them; the DUT's CPU seconds
//! (utime + stime of its process, /proc/PID/stat) over that window and its peak RSS (VmHWM).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgpd::wire::{CodecOptions, Family as WireFamily, NextHop};
use bytes::Bytes;

use crate::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor};
use crate::bird::{Bird, BirdBgp, BirdConfig};
use crate::frr::{Frr, FrrConfig, FrrNeighbor};
use crate::gobgp::{Gobgp, GobgpConfig, GobgpNeighbor};
use crate::netns::{Namespace, process_alive};
use crate::rig::{self, Counts, HOLD_TIME, Session, Speaker, Tally};
use crate::table::Table;
use crate::topology::{line, pair};
use crate::{HarnessError, Result};

pub const FEEDER_AS: u32 = 65001;
pub const DUT_AS: u32 = 65002;
pub const SINK_AS: u32 = 65003;
pub const SESSION_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Internet,
    OneSet,
    Trickle,
    /// One table to many peers (`bench_peers`).
    FanOut,
    /// Many peers each sending its own prefixes to all others (`bench_peers`).
    RouteServer,
    /// Prefix flaps at a steady rate, latency per change (`churn`).
    Churn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DutKind {
    Floor,
    Bgpd,
    Bird,
    Frr,
    Gobgp,
}

impl DutKind {
    pub fn name(self) -> &'static str {
        match self {
            DutKind::Floor => "rig floor",
            DutKind::Bgpd => "ironlb",
            DutKind::Bird => "BIRD",
            DutKind::Frr => "FRR",
            DutKind::Gobgp => "GoBGP",
        }
    }
}

pub fn v4(octets: [u8; 4]) -> IpAddr {
    IpAddr::from(octets)
}

pub fn v6(text: &str) -> IpAddr {
    text.parse().unwrap_or(IpAddr::from([0u16; 8]))
}

/// The DUT guard, whichever daemon it is.
pub enum Dut {
    Bgpd(Bgpd),
    Bird(Bird),
    Frr(Frr),
    Gobgp(Gobgp),
}

impl Dut {
    pub fn pid(&self) -> u32 {
        match self {
            Dut::Bgpd(d) => d.pid(),
            Dut::Bird(d) => d.pid(),
            Dut::Frr(d) => d.pid(),
            Dut::Gobgp(d) => d.pid(),
        }
    }

    pub fn log_tail(&self) -> String {
        match self {
            Dut::Bgpd(d) => d.log_tail(20),
            Dut::Bird(d) => d.log_tail(20),
            Dut::Frr(d) => d.log_tail(20),
            Dut::Gobgp(d) => d.log_tail(20),
        }
    }

    /// Returns once the DUT itself reports every rig session Established. The rig's sessions
    /// are Established on our side when they return; GoBGP is asked through its CLI (its side
    /// moves to Established on our KEEPALIVE, a moment later). The others need no wait.
    pub fn wait_established(&self, deadline: Duration) -> Result<()> {
        match self {
            Dut::Gobgp(d) => d.wait_all_established(deadline),
            Dut::Bgpd(_) | Dut::Bird(_) | Dut::Frr(_) => Ok(()),
        }
    }
}

/// Starts `kind` in `namespace` with passive eBGP sessions to the feeder and the sink, one per
/// family in use, accepting everything.
pub fn start_dut(kind: DutKind, namespace: &Namespace, with_v6: bool) -> Result<Option<Dut>> {
    let mut peers = vec![(v4([192, 0, 2, 1]), FEEDER_AS), (v4([198, 51, 100, 2]), SINK_AS)];
    if with_v6 {
        peers.push((v6("2001:db8:1::1"), FEEDER_AS));
        peers.push((v6("2001:db8:2::2"), SINK_AS));
    }
    start_dut_with(kind, namespace, &peers)
}

/// Starts `kind` in `namespace` with a passive, accept-all eBGP session to each of `peers`
/// (address, ASN).
pub fn start_dut_with(
    kind: DutKind,
    namespace: &Namespace,
    peers: &[(IpAddr, u32)],
) -> Result<Option<Dut>> {
    start_dut_with_metrics(kind, namespace, peers, None)
}

/// [`start_dut_with`], and bgpd serves `/metrics` on `metrics` when given (`[metrics] listen`;
/// the other DUTs ignore it).
pub fn start_dut_with_metrics(
    kind: DutKind,
    namespace: &Namespace,
    peers: &[(IpAddr, u32)],
    metrics: Option<SocketAddr>,
) -> Result<Option<Dut>> {
    let peers = peers.iter().copied();
    let router_id = Ipv4Addr::new(192, 0, 2, 2);
    Ok(Some(match kind {
        DutKind::Floor => return Ok(None),
        DutKind::Bgpd => {
            let mut config = BgpdConfig::new(DUT_AS, router_id);
            for (address, asn) in peers {
                config =
                    config.neighbor(BgpdNeighbor::new(address, asn).passive().hold_time(HOLD_TIME));
            }
            if let Some(metrics) = metrics {
                config = config.metrics(&metrics.to_string());
            }
            Dut::Bgpd(Bgpd::start(namespace, &config)?)
        }
        DutKind::Bird => {
            let mut config = BirdConfig::new(router_id);
            for (index, (address, asn)) in peers.enumerate() {
                let name = format!("peer{index}");
                config = config
                    .bgp(BirdBgp::new(&name, DUT_AS, address, asn).passive().hold_time(HOLD_TIME));
            }
            Dut::Bird(Bird::start(namespace, &config)?)
        }
        DutKind::Frr => {
            let mut config = FrrConfig::new(DUT_AS, router_id);
            for (address, asn) in peers {
                config = config.neighbor(
                    FrrNeighbor::new(address, asn).passive().timers(HOLD_TIME / 3, HOLD_TIME),
                );
            }
            // With -Z FRR logs one error per prefix otherwise: a fifth of its time.
            config.log_level = "critical";
            Dut::Frr(Frr::start(namespace, &config)?)
        }
        DutKind::Gobgp => {
            let mut config = GobgpConfig::new(DUT_AS, router_id);
            for (address, asn) in peers {
                config = config
                    .neighbor(GobgpNeighbor::new(address, asn).passive().hold_time(HOLD_TIME));
            }
            Dut::Gobgp(Gobgp::start(namespace, &config)?)
        }
    }))
}

/// The feeder's bytes per family, encoded once for the whole run.
pub struct Feed {
    pub options: CodecOptions,
    pub v4: Bytes,
    pub v6: Bytes,
    pub prefixes: u64,
}

pub fn encode_feed(scenario: Scenario, table: &Table) -> Result<Feed> {
    // What every rig session negotiates with every DUT here: 4-octet ASNs, 4096-octet messages.
    let options = CodecOptions { four_octet_as: true, ..CodecOptions::default() };
    let encode = match scenario {
        Scenario::Trickle => rig::encode_trickle,
        Scenario::Internet
        | Scenario::OneSet
        | Scenario::FanOut
        | Scenario::RouteServer
        | Scenario::Churn => rig::encode_table,
    };
    let feeder_v6 = match v6("2001:db8:1::1") {
        IpAddr::V6(global) => NextHop::V6 { global, link_local: None },
        IpAddr::V4(address) => NextHop::V4(address),
    };
    let v4 =
        encode(table, WireFamily::Ipv4Unicast, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)), &options)?;
    let v6 = if table.v6.is_empty() {
        Bytes::new()
    } else {
        encode(table, WireFamily::Ipv6Unicast, feeder_v6, &options)?
    };
    Ok(Feed { options, v4, v6, prefixes: (table.v4.len() + table.v6.len()) as u64 })
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub first: f64,
    pub p99: f64,
    pub p100: f64,
    pub cpu: f64,
    pub rss: f64,
    /// UPDATEs the sink received, End-of-RIBs left out.
    pub updates: u64,
}

fn speaker(asn: u32, router_id: [u8; 4], family: WireFamily) -> Speaker {
    Speaker { asn, router_id: Ipv4Addr::from(router_id), family }
}

pub fn run_once(kind: DutKind, feed: &Feed) -> Result<Run> {
    let epoch = Instant::now();
    let sink_tally = Tally::new(epoch);
    sink_tally.expect(feed.prefixes);
    let feeder_tally = Tally::new(epoch);
    let with_v6 = !feed.v6.is_empty();
    let families: &[WireFamily] = if with_v6 {
        &[WireFamily::Ipv4Unicast, WireFamily::Ipv6Unicast]
    } else {
        &[WireFamily::Ipv4Unicast]
    };
    let wired = wire_up(kind, families, &sink_tally, &feeder_tally)?;
    let Wired { feeders, sinks, dut, .. } = &wired;
    // Whether the peer is external changes how it is decoded, not how the
    // feed is encoded: only the encoding options must match.
    let encoding = |o: &CodecOptions| CodecOptions { external_peer_as: None, ..*o };
    if let Some(session) = feeders.iter().find(|s| encoding(s.options()) != encoding(&feed.options))
    {
        return Err(HarnessError::Rig {
            peer: session.peer(),
            reason: format!(
                "negotiated {:?}, the feed was encoded for {:?}",
                session.options(),
                feed.options
            ),
        });
    }
    // Let the sink's End-of-RIBs from the DUT (empty table) arrive before measuring.
    std::thread::sleep(Duration::from_millis(200));
    let before = sink_tally.counts();
    let pid = dut.as_ref().map(Dut::pid);
    let cpu_before = pid.map_or(0.0, cpu_seconds);
    let start = epoch.elapsed();
    for (session, bytes) in feeders.iter().zip([&feed.v4, &feed.v6]) {
        session.send(bytes.clone())?;
    }
    let deadline = Duration::from_secs(1800);
    let counts = loop {
        let counts = sink_tally.counts();
        if counts.p100.is_some() {
            break counts;
        }
        let failed = sinks.iter().chain(feeders).find_map(|s| s.failure().map(|f| (s.peer(), f)));
        let dead = pid.filter(|p| !process_alive(*p));
        if failed.is_some() || dead.is_some() || epoch.elapsed() - start > deadline {
            let log = dut.as_ref().map(Dut::log_tail).unwrap_or_default();
            return Err(HarnessError::Timeout {
                what: format!("the sink to hold {} prefixes", feed.prefixes),
                waited: epoch.elapsed() - start,
                last: format!("{counts:?}; session failure {failed:?}; DUT dead {dead:?}\n{log}"),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let cpu = pid.map_or(0.0, |p| cpu_seconds(p) - cpu_before);
    // Trickle: the DUT may still be flushing after the last prefix landed; End-of-RIB too.
    if kind != DutKind::Floor {
        settle(&sink_tally);
    }
    let after = sink_tally.counts();
    let since = |t: Option<Duration>| t.map_or(f64::NAN, |t| t.saturating_sub(start).as_secs_f64());
    Ok(Run {
        first: since(counts.first),
        p99: since(counts.p99),
        p100: since(counts.p100),
        cpu,
        rss: pid.map_or(0.0, peak_rss_mb),
        updates: (after.updates - before.updates)
            .saturating_sub(after.end_of_ribs - before.end_of_ribs),
    })
}

/// A rig wired for one run: the feeder's and the sink's sessions (one per family), Established,
/// and what must live until the run ends. Dropping it closes the sessions, then stops the DUT,
/// then removes the namespaces.
pub struct Wired {
    pub feeders: Vec<Session>,
    pub sinks: Vec<Session>,
    pub dut: Option<Dut>,
    pub namespaces: Vec<Namespace>,
}

/// Starts `kind` between a feeder and a sink (or, for the floor, connects the feeder straight
/// to the sink) and brings up one session per family on each side.
pub fn wire_up(
    kind: DutKind,
    families: &[WireFamily],
    sink_tally: &Arc<Tally>,
    feeder_tally: &Arc<Tally>,
) -> Result<Wired> {
    let mut sinks = Vec::new();
    let mut feeders = Vec::new();
    let (namespaces, dut);
    if kind == DutKind::Floor {
        let link = pair("feed", "sink")?;
        let listener = rig::listen(&link.right, SocketAddr::new(v4([192, 0, 2, 2]), 179))?;
        let accepted = std::thread::scope(|scope| {
            let sink = scope.spawn(|| {
                families
                    .iter()
                    .map(|f| {
                        Session::accept(
                            &listener,
                            speaker(SINK_AS, [192, 0, 2, 2], *f),
                            sink_tally.clone(),
                            SESSION_DEADLINE,
                        )
                    })
                    .collect::<Result<Vec<_>>>()
            });
            for family in families {
                feeders.push(Session::connect(
                    &link.left,
                    None,
                    SocketAddr::new(v4([192, 0, 2, 2]), 179),
                    speaker(FEEDER_AS, [192, 0, 2, 1], *family),
                    feeder_tally.clone(),
                    SESSION_DEADLINE,
                )?);
            }
            sink.join().unwrap_or_else(|_| {
                Err(HarnessError::Encode { reason: "sink thread panicked".to_owned() })
            })
        })?;
        sinks = accepted;
        namespaces = vec![link.left, link.right];
        dut = None;
    } else {
        let topology = line(["feed", "dut", "sink"])?;
        dut = start_dut(kind, &topology.middle, families.contains(&WireFamily::Ipv6Unicast))?;
        let remotes = [
            (v4([198, 51, 100, 1]), v4([192, 0, 2, 2])),
            (v6("2001:db8:2::1"), v6("2001:db8:1::2")),
        ];
        for (family, (sink_side, feeder_side)) in families.iter().zip(remotes) {
            sinks.push(Session::connect(
                &topology.last,
                None,
                SocketAddr::new(sink_side, 179),
                speaker(SINK_AS, [198, 51, 100, 2], *family),
                sink_tally.clone(),
                SESSION_DEADLINE,
            )?);
            feeders.push(Session::connect(
                &topology.first,
                None,
                SocketAddr::new(feeder_side, 179),
                speaker(FEEDER_AS, [192, 0, 2, 1], *family),
                feeder_tally.clone(),
                SESSION_DEADLINE,
            )?);
        }
        if let Some(dut) = &dut {
            dut.wait_established(SESSION_DEADLINE)?;
        }
        namespaces = vec![topology.first, topology.middle, topology.last];
    }
    Ok(Wired { feeders, sinks, dut, namespaces })
}

/// Waits until the sink's UPDATE count stops moving for 300 ms (at most 5 s).
pub(crate) fn settle(tally: &Tally) {
    let start = Instant::now();
    let mut last: Counts = tally.counts();
    let mut still = Instant::now();
    while start.elapsed() < Duration::from_secs(5) && still.elapsed() < Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(20));
        let now = tally.counts();
        if now.updates != last.updates {
            still = Instant::now();
            last = now;
        }
    }
}

/// CPU seconds (utime + stime) of `pid`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: utime and stime are fields 14 and 15 (1-based) → index 11, 12.
    let ticks: u64 =
        [11, 12].iter().filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok())).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / if hz > 0 { hz as f64 } else { 100.0 }
}

/// Peak resident set size in MB (VmHWM).
pub fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM:")
}

/// Resident set size now, in MB (VmRSS).
pub fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

/// A size field of /proc/PID/status (in kB there), in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
