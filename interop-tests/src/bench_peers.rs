//! Many-peer scenarios of the table benchmark, on the rig of [`crate::rig`]:
//!
//! - **fan-out**: one feeder (192.0.2.1) sends a table, N sinks (198.51.100.10 and up, each its
//!   own ASN) receive it all;
//! - **route server**: P peers (192.0.2.10 and up, ASN 65100 + i) each send K prefixes of their
//!   own and receive every other peer's: P × (P − 1) × K announcements out of the DUT.
//!
//! IPv4 only, one session per peer, all in the two outer namespaces of a `line` with extra
//! addresses. The sinks count announcements (no per-session hash set: 100 of them would cost
//! the rig more than the DUT); the DUT sends each prefix to each peer once, as every prefix has
//! one source. Measured like `bench_table`: from the first byte written to 99 % and 100 % of
//! all expected announcements held, DUT CPU and peak RSS, plus the rig's own CPU (this
//! process).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgpd::wire::{CodecOptions, Family, NextHop};
use bytes::Bytes;

use crate::bench_table::{Dut, DutKind, Run, cpu_seconds, peak_rss_mb, start_dut_with_metrics, v4};
use crate::netns::{Namespace, process_alive};
use crate::rig::{Session, Speaker, Tally, encode_table};
use crate::table::Table;
use crate::topology::line;
use crate::{HarnessError, Result};

/// First ASN of the route server's peers (peer i has 65100 + i).
pub const PEER_AS: u32 = 65100;
/// First ASN of the fan-out's sinks.
pub const SINK_AS: u32 = 64600;

/// Who sends what, who receives.
pub struct Plan {
    /// Per feeder: its address, ASN and pre-encoded UPDATEs (then End-of-RIB).
    pub feeders: Vec<(Ipv4Addr, u32, Bytes)>,
    /// Listen-only sinks: address and ASN.
    pub sinks: Vec<(Ipv4Addr, u32)>,
    /// Whether the feeders count what they receive too (route server).
    pub feeders_receive: bool,
    /// Announcements all counting sessions together must receive.
    pub expected: u64,
}

fn options() -> CodecOptions {
    CodecOptions { four_octet_as: true, ..CodecOptions::default() }
}

/// The sub-table of `table` made of its IPv4 prefixes `range`, with `asn` as the first hop of
/// every AS path (the peer sending it) and only the sets it uses.
fn slice(table: &Table, range: std::ops::Range<usize>, asn: u32) -> Table {
    let mut remap = vec![u32::MAX; table.sets.len()];
    let mut sets = Vec::new();
    let mut prefixes = Vec::new();
    for (prefix, set) in table.v4.get(range).unwrap_or_default() {
        let index = *set as usize;
        if remap[index] == u32::MAX {
            remap[index] = sets.len() as u32;
            let mut attributes = table.sets[index].clone();
            if let Some(first) =
                attributes.as_path.segments.first_mut().and_then(|s| s.asns.first_mut())
            {
                *first = asn;
            }
            sets.push(attributes);
        }
        prefixes.push((*prefix, remap[index]));
    }
    Table { sets, v4: prefixes, v6: Vec::new() }
}

fn encode(table: &Table, address: Ipv4Addr) -> Result<Bytes> {
    encode_table(table, Family::Ipv4Unicast, NextHop::V4(address), &options())
}

/// One feeder with all of `table` (IPv4), `sinks` sinks.
pub fn fan_out(table: &Table, sinks: usize) -> Result<Plan> {
    let feeder = Ipv4Addr::new(192, 0, 2, 1);
    let bytes = encode(&slice(table, 0..table.v4.len(), crate::bench_table::FEEDER_AS), feeder)?;
    Ok(Plan {
        feeders: vec![(feeder, crate::bench_table::FEEDER_AS, bytes)],
        sinks: (0..sinks)
            .map(|j| (Ipv4Addr::new(198, 51, 100, 10 + j as u8), SINK_AS + j as u32))
            .collect(),
        feeders_receive: false,
        expected: (table.v4.len() * sinks) as u64,
    })
}

/// `peers` peers each sending `table.v4.len() / peers` prefixes of their own and receiving
/// everyone else's.
pub fn route_server(table: &Table, peers: usize) -> Result<Plan> {
    let each = table.v4.len() / peers.max(1);
    let feeders = (0..peers)
        .map(|i| {
            let address = Ipv4Addr::new(192, 0, 2, 10 + i as u8);
            let asn = PEER_AS + i as u32;
            encode(&slice(table, i * each..(i + 1) * each, asn), address).map(|b| (address, asn, b))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Plan {
        feeders,
        sinks: Vec::new(),
        feeders_receive: true,
        expected: (peers * (peers - 1) * each) as u64,
    })
}

/// One run of `plan` through `kind` (not the floor).
pub fn run(kind: DutKind, plan: &Plan) -> Result<Run> {
    run_then(kind, plan, None, |_| Ok(())).map(|(run, ())| run)
}

/// [`run`], with bgpd serving `/metrics` on `metrics` when given; once every announcement is
/// held, with every session still up, `after` gets the DUT's namespace (the metrics scrape
/// bench times its scrapes there).
pub fn run_then<T>(
    kind: DutKind,
    plan: &Plan,
    metrics: Option<SocketAddr>,
    after: impl FnOnce(&Namespace) -> Result<T>,
) -> Result<(Run, T)> {
    let epoch = Instant::now();
    let counted = Tally::counting(epoch);
    counted.expect(plan.expected);
    let ignored = Tally::counting(epoch);
    let topology = line(["feed", "dut", "sink"])?;
    for (address, _, _) in &plan.feeders {
        topology
            .first
            .add_address("to-middle", &format!("{address}/24"))
            .or_else(ignore_existing)?;
    }
    for (address, _) in &plan.sinks {
        topology
            .last
            .add_address("to-middle", &format!("{address}/24"))
            .or_else(ignore_existing)?;
    }
    let peers: Vec<(IpAddr, u32)> = plan
        .feeders
        .iter()
        .map(|(a, asn, _)| (IpAddr::V4(*a), *asn))
        .chain(plan.sinks.iter().map(|(a, asn)| (IpAddr::V4(*a), *asn)))
        .collect();
    let dut = start_dut_with_metrics(kind, &topology.middle, &peers, metrics)?;
    let deadline = Duration::from_secs(120);
    let mut sessions = Vec::new();
    for (address, asn) in &plan.sinks {
        let speaker = Speaker { asn: *asn, router_id: *address, family: Family::Ipv4Unicast };
        let remote = SocketAddr::new(v4([198, 51, 100, 1]), 179);
        sessions.push(Session::connect(
            &topology.last,
            Some(IpAddr::V4(*address)),
            remote,
            speaker,
            Arc::clone(&counted),
            deadline,
        )?);
    }
    let mut feeders = Vec::new();
    for (address, asn, _) in &plan.feeders {
        let speaker = Speaker { asn: *asn, router_id: *address, family: Family::Ipv4Unicast };
        let remote = SocketAddr::new(v4([192, 0, 2, 2]), 179);
        let tally = if plan.feeders_receive { Arc::clone(&counted) } else { Arc::clone(&ignored) };
        feeders.push(Session::connect(
            &topology.first,
            Some(IpAddr::V4(*address)),
            remote,
            speaker,
            tally,
            deadline,
        )?);
    }
    if let Some(dut) = &dut {
        dut.wait_established(deadline)?;
    }
    // The DUT's End-of-RIBs on empty tables arrive before the clock starts.
    std::thread::sleep(Duration::from_millis(300));
    let pid = dut.as_ref().map(Dut::pid);
    let cpu_before = pid.map_or(0.0, cpu_seconds);
    let rig_before = cpu_seconds(std::process::id());
    let before = counted.counts();
    let start = epoch.elapsed();
    for (session, (_, _, bytes)) in feeders.iter().zip(&plan.feeders) {
        session.send(bytes.clone())?;
    }
    let limit = Duration::from_secs(1800);
    let counts = loop {
        let counts = counted.counts();
        if counts.p100.is_some() {
            break counts;
        }
        let failed =
            sessions.iter().chain(&feeders).find_map(|s| s.failure().map(|f| (s.peer(), f)));
        let dead = pid.filter(|p| !process_alive(*p));
        if failed.is_some() || dead.is_some() || epoch.elapsed() - start > limit {
            let log = dut.as_ref().map(Dut::log_tail).unwrap_or_default();
            return Err(HarnessError::Timeout {
                what: format!("{} announcements at the peers", plan.expected),
                waited: epoch.elapsed() - start,
                last: format!("{counts:?}; session failure {failed:?}; DUT dead {dead:?}\n{log}"),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let since = |t: Option<Duration>| t.map_or(f64::NAN, |t| t.saturating_sub(start).as_secs_f64());
    let run = Run {
        first: since(counts.first),
        p99: since(counts.p99),
        p100: since(counts.p100),
        cpu: pid.map_or(0.0, |p| cpu_seconds(p) - cpu_before),
        rss: pid.map_or(0.0, peak_rss_mb),
        updates: (counts.updates - before.updates)
            .saturating_sub(counts.end_of_ribs - before.end_of_ribs),
    };
    eprintln!("  (rig CPU {:.2} s)", cpu_seconds(std::process::id()) - rig_before);
    let then = after(&topology.middle)?;
    drop(sessions);
    drop(feeders);
    Ok((run, then))
}

/// `ip addr add` of an address the topology already has (192.0.2.1) is not an error here.
fn ignore_existing(error: HarnessError) -> Result<()> {
    match &error {
        HarnessError::CommandFailed { stderr, .. }
            if stderr.contains("File exists") || stderr.contains("already assigned") =>
        {
            Ok(())
        }
        _ => Err(error),
    }
}
