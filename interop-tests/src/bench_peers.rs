//! Many-peer scenarios of the table benchmark, on the rig of [`crate::rig`]:
//!
//! - **fan-out**: one feeder (192.0.2.1, and 2001:db8:1::1 when the table has IPv6 prefixes)
//!   sends a table, N sinks (198.51.100.10 and up, and 2001:db8:2::10 and up, each sink its own
//!   ASN) receive it all: N × (IPv4 + IPv6 prefixes) announcements out of the DUT;
//! - **route server**: P peers (192.0.2.10 and up, ASN 65100 + i) each send K prefixes of their
//!   own and receive every other peer's: P × (P − 1) × K announcements out of the DUT (IPv4).
//!
//! One session per peer and family (the rig's sessions carry one family each), all in the two
//! outer namespaces of a `line` with extra addresses. The sinks count announcements (no per-session hash set: 100 of them would cost
//! the rig more than the DUT); the DUT sends each prefix to each peer once, as every prefix has
//! one source. Measured like `bench_table`: from the first byte written to 99 % and 100 % of
//! all expected announcements held, DUT CPU and peak RSS, plus the rig's own CPU (this
//! process).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgpd::wire::{CodecOptions, Family, NextHop};
use bytes::Bytes;

use crate::bench_table::{
    Dut, DutKind, Run, cpu_seconds, peak_rss_mb, start_dut_with_metrics, v4, v6,
};
use crate::netns::{Namespace, process_alive};
use crate::rig::{Session, Speaker, Tally, encode_table};
use crate::table::Table;
use crate::topology::line;
use crate::{HarnessError, Result};

/// First ASN of the route server's peers (peer i has 65100 + i).
pub const PEER_AS: u32 = 65100;
/// First ASN of the fan-out's sinks.
pub const SINK_AS: u32 = 64600;

/// One rig peer of a plan: one session, carrying the family of its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub address: IpAddr,
    pub asn: u32,
    /// The IPv4 address of the same peer (an IPv6 session's BGP identifier).
    pub router_id: Ipv4Addr,
}

impl Peer {
    fn v4(address: Ipv4Addr, asn: u32) -> Self {
        Self { address: IpAddr::V4(address), asn, router_id: address }
    }

    fn family(&self) -> Family {
        if self.address.is_ipv4() { Family::Ipv4Unicast } else { Family::Ipv6Unicast }
    }

    /// The address with its prefix length, for `ip addr add`.
    fn cidr(&self) -> String {
        let len = if self.address.is_ipv4() { 24 } else { 64 };
        format!("{}/{len}", self.address)
    }
}

/// Who sends what, who receives.
pub struct Plan {
    /// Per feeder session: the peer and its pre-encoded UPDATEs (then End-of-RIB).
    pub feeders: Vec<(Peer, Bytes)>,
    /// Listen-only sink sessions.
    pub sinks: Vec<Peer>,
    /// Whether the feeders count what they receive too (route server).
    pub feeders_receive: bool,
    /// Announcements all counting sessions together must receive.
    pub expected: u64,
    /// How long a run may take from the first byte written before it is stopped (a timeout
    /// error saying how many announcements had arrived). 30 minutes unless changed.
    pub limit: Duration,
}

/// The default [`Plan::limit`].
pub const LIMIT: Duration = Duration::from_secs(1800);

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

/// One feeder with all of `table`, `sinks` sinks; with IPv6 prefixes in the table, one more
/// session per side for them (sink j: 198.51.100.(10 + j) and 2001:db8:2::(10 + j) hex, one
/// ASN).
pub fn fan_out(table: &Table, sinks: usize) -> Result<Plan> {
    let feeder = Ipv4Addr::new(192, 0, 2, 1);
    let asn = crate::bench_table::FEEDER_AS;
    let bytes = encode(&slice(table, 0..table.v4.len(), asn), feeder)?;
    let mut feeders = vec![(Peer::v4(feeder, asn), bytes)];
    let v4_sinks: Vec<Peer> = (0..sinks)
        .map(|j| Peer::v4(Ipv4Addr::new(198, 51, 100, 10 + j as u8), SINK_AS + j as u32))
        .collect();
    let mut all_sinks = v4_sinks.clone();
    if !table.v6.is_empty() {
        let IpAddr::V6(global) = v6("2001:db8:1::1") else {
            return Err(HarnessError::Encode { reason: "2001:db8:1::1 is not IPv6".to_owned() });
        };
        let next_hop = NextHop::V6 { global, link_local: None };
        let bytes = encode_table(table, Family::Ipv6Unicast, next_hop, &options())?;
        feeders.push((Peer { address: IpAddr::V6(global), asn, router_id: feeder }, bytes));
        all_sinks.extend(v4_sinks.iter().enumerate().map(|(j, sink)| Peer {
            address: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x10 + j as u16)),
            ..*sink
        }));
    }
    Ok(Plan {
        feeders,
        sinks: all_sinks,
        feeders_receive: false,
        expected: ((table.v4.len() + table.v6.len()) * sinks) as u64,
        limit: LIMIT,
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
            encode(&slice(table, i * each..(i + 1) * each, asn), address)
                .map(|b| (Peer::v4(address, asn), b))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Plan {
        feeders,
        sinks: Vec::new(),
        feeders_receive: true,
        expected: (peers * (peers - 1) * each) as u64,
        limit: LIMIT,
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
    for (peer, _) in &plan.feeders {
        topology.first.add_address("to-middle", &peer.cidr()).or_else(ignore_existing)?;
    }
    for peer in &plan.sinks {
        topology.last.add_address("to-middle", &peer.cidr()).or_else(ignore_existing)?;
    }
    let peers: Vec<(IpAddr, u32)> = plan
        .feeders
        .iter()
        .map(|(peer, _)| peer)
        .chain(&plan.sinks)
        .map(|peer| (peer.address, peer.asn))
        .collect();
    let dut = start_dut_with_metrics(kind, &topology.middle, &peers, metrics)?;
    let deadline = Duration::from_secs(120);
    // The DUT's addresses on the sinks' side and on the feeders' side.
    let dut_address = |peer: &Peer, toward_sinks: bool| match (peer.address, toward_sinks) {
        (IpAddr::V4(_), true) => v4([198, 51, 100, 1]),
        (IpAddr::V4(_), false) => v4([192, 0, 2, 2]),
        (IpAddr::V6(_), true) => v6("2001:db8:2::1"),
        (IpAddr::V6(_), false) => v6("2001:db8:1::2"),
    };
    let speaker =
        |peer: &Peer| Speaker { asn: peer.asn, router_id: peer.router_id, family: peer.family() };
    let mut sessions = Vec::new();
    for peer in &plan.sinks {
        sessions.push(Session::connect(
            &topology.last,
            Some(peer.address),
            SocketAddr::new(dut_address(peer, true), 179),
            speaker(peer),
            Arc::clone(&counted),
            deadline,
        )?);
    }
    let mut feeders = Vec::new();
    for (peer, _) in &plan.feeders {
        let tally = if plan.feeders_receive { Arc::clone(&counted) } else { Arc::clone(&ignored) };
        feeders.push(Session::connect(
            &topology.first,
            Some(peer.address),
            SocketAddr::new(dut_address(peer, false), 179),
            speaker(peer),
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
    for (session, (_, bytes)) in feeders.iter().zip(&plan.feeders) {
        session.send(bytes.clone())?;
    }
    let limit = plan.limit;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableSpec;

    #[test]
    fn a_dual_stack_fan_out_has_a_session_per_family_on_each_side() {
        let table = Table::generate(&TableSpec::internet(16, 2_000, 500, 65001));
        let plan = fan_out(&table, 3).unwrap();
        assert_eq!(plan.expected, 3 * 2_500);
        let families: Vec<bool> = plan.feeders.iter().map(|(p, _)| p.address.is_ipv4()).collect();
        assert_eq!(families, [true, false]);
        assert_eq!(plan.sinks.len(), 6);
        let v6_sink = plan.sinks[3];
        assert_eq!(v6_sink.address, v6("2001:db8:2::10"));
        // The same peer on both sessions: one ASN, one BGP identifier.
        assert_eq!((v6_sink.asn, v6_sink.router_id), (plan.sinks[0].asn, plan.sinks[0].router_id));
        assert_eq!(plan.sinks[5].cidr(), "2001:db8:2::12/64");
        assert_eq!(plan.sinks[2].cidr(), "198.51.100.12/24");
    }

    #[test]
    fn an_ipv4_fan_out_has_no_ipv6_sessions() {
        let table = Table::generate(&TableSpec::internet(16, 2_000, 0, 65001));
        let plan = fan_out(&table, 4).unwrap();
        assert_eq!((plan.feeders.len(), plan.sinks.len(), plan.expected), (1, 4, 8_000));
        assert!(plan.sinks.iter().all(|p| p.address.is_ipv4()));
    }
}
