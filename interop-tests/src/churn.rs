//! The churn scenario of the table benchmark (`bench-table --scenario churn`): the feeder of
//! [`crate::bench_table`] announces a table (the Internet-like IPv4 table of
//! [`crate::table`]: distinct attribute sets shared Zipf-like), then flaps its prefixes at a
//! steady rate for a while, and the sink timestamps each change's arrival.
//!
//! Change `k` (0, 1, 2, …) touches prefix `k mod N` of the N-prefix table: its generation
//! becomes `k / N + 1`, a withdrawal when odd, the announcement with the prefix's own
//! attribute set when even (one UPDATE per change, as a peer whose routes flap sends them).
//! The feeder writes every change due by now, then sleeps [`TICK`]: at 10,000 changes a
//! second, about ten UPDATEs per write. Before handing a tick's bytes to the writer thread it
//! stamps each change's generation and time; the sink's reader (a [`crate::rig::Tally`]
//! observer) matches every prefix it reads to the generation its direction stands for and
//! records the latency of the first arrival of each change (feeder write to sink read, both
//! on this host's monotonic clock). A prefix changes once every N / rate seconds, which must
//! stay well above the latencies measured (10 s with the defaults, 100,000 prefixes at
//! 10,000 a second); what arrives for no pending change is counted as unexpected, changes
//! that never arrived as lost (a DUT may merge a withdrawal and the following announcement
//! only if it held the first longer than the cycle).
//!
//! Measured per run: latency p50 / p99 / max, changes lost, UPDATEs to the sink during the
//! churn, the DUT's CPU seconds from the first change written to the last one received, and
//! its RSS (VmRSS) before the churn, right after it and [`ChurnSpec::quiet`] later (no growth
//! expected), plus its peak (VmHWM). The rig's floor (feeder straight into sink) runs the
//! same schedule.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgpd::wire::{CodecOptions, Family, NextHop, Nlri, UpdatePacker};
use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashMap;

use crate::bench_table::{
    Dut, DutKind, FEEDER_AS, Wired, cpu_seconds, peak_rss_mb, rss_mb, settle, wire_up,
};
use crate::netns::process_alive;
use crate::rig::scan::Key;
use crate::rig::{Observer, Session, Tally, encode_table};
use crate::table::Table;
use crate::{HarnessError, Result};

/// How long the feeder sleeps between two writes.
pub const TICK: Duration = Duration::from_millis(1);

/// The churn's schedule.
#[derive(Debug, Clone, Copy)]
pub struct ChurnSpec {
    /// Changes per second.
    pub rate: u64,
    /// How long the churn lasts.
    pub duration: Duration,
    /// How long after the churn the DUT's RSS is read again.
    pub quiet: Duration,
}

/// The feeder's messages, encoded once for every run.
pub struct ChurnFeed {
    options: CodecOptions,
    /// The whole table, packed, then End-of-RIB.
    initial: Bytes,
    /// Per prefix: the UPDATE announcing it alone, and the one withdrawing it.
    announce: Vec<Bytes>,
    withdraw: Vec<Bytes>,
    /// Per prefix: how the sink keys it.
    keys: Vec<Key>,
}

impl ChurnFeed {
    /// Encodes `table`'s IPv4 prefixes (its IPv6 ones are left out) as the feeder sends them.
    pub fn encode(table: &Table) -> Result<Self> {
        let options = CodecOptions { four_octet_as: true, ..CodecOptions::default() };
        let next_hop = NextHop::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
        let v4 = Table { sets: table.sets.clone(), v4: table.v4.clone(), v6: Vec::new() };
        let initial = encode_table(&v4, Family::Ipv4Unicast, next_hop, &options)?;
        let fail = |e: bgpd::wire::EncodeError| HarnessError::Encode { reason: e.to_string() };
        let mut packer = UpdatePacker::new(options);
        let mut out = BytesMut::new();
        let (mut announce, mut withdraw, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        for (prefix, set) in &table.v4 {
            let nlri = Nlri::new(ipnet::IpNet::V4(*prefix));
            let attributes = table.sets.get(*set as usize).ok_or_else(|| HarnessError::Encode {
                reason: format!("{prefix} uses attribute set {set}, which the table lacks"),
            })?;
            packer
                .announce(attributes, Family::Ipv4Unicast, Some(next_hop), [nlri], &mut out)
                .map_err(fail)?;
            announce.push(out.split().freeze());
            packer.withdraw(Family::Ipv4Unicast, [nlri], &mut out).map_err(fail)?;
            withdraw.push(out.split().freeze());
            keys.push(key_v4(prefix));
        }
        Ok(Self { options, initial, announce, withdraw, keys })
    }

    /// Prefixes the churn cycles through.
    pub fn prefixes(&self) -> usize {
        self.keys.len()
    }
}

/// The sink's key of an IPv4 prefix (see `rig::scan`): its significant octets as a number.
fn key_v4(prefix: &ipnet::Ipv4Net) -> Key {
    let len = prefix.prefix_len();
    let octets = usize::from(len).div_ceil(8);
    let bits = prefix.network().octets()[..octets]
        .iter()
        .fold(0u128, |bits, octet| bits << 8 | u128::from(*octet));
    (bits, 1 << 8 | u32::from(len))
}

/// What the feeder wrote and the sink received, per prefix (shared by the bench thread, which
/// stamps, and the sink's reader, which matches).
struct Log {
    index: FxHashMap<Key, u32>,
    /// The prefix's latest change (0: the initial announcement).
    generation: Vec<AtomicU32>,
    /// When that change was handed to the feeder's writer (the tally's clock).
    written_at: Vec<AtomicU64>,
    /// The latest change the sink saw arrive.
    delivered: Vec<AtomicU32>,
    /// Nanoseconds from write to arrival, one per delivered change.
    latencies: Mutex<Vec<u64>>,
    unexpected: AtomicU64,
}

impl Log {
    fn new(keys: &[Key], capacity: usize) -> Self {
        let zeros32 = || keys.iter().map(|_| AtomicU32::new(0)).collect();
        Self {
            index: keys.iter().enumerate().map(|(i, key)| (*key, i as u32)).collect(),
            generation: zeros32(),
            written_at: keys.iter().map(|_| AtomicU64::new(0)).collect(),
            delivered: zeros32(),
            latencies: Mutex::new(Vec::with_capacity(capacity)),
            unexpected: AtomicU64::new(0),
        }
    }

    /// The feeder is about to write change `generation` of prefix `index` at `now`.
    fn stamp(&self, index: usize, generation: u32, now: u64) {
        if let (Some(at), Some(g)) = (self.written_at.get(index), self.generation.get(index)) {
            at.store(now, Ordering::Relaxed);
            g.store(generation, Ordering::Release);
        }
    }

    /// The sink read `key` (`announced` or withdrawn) at `read_at`.
    fn observe(&self, announced: bool, key: Key, read_at: u64) {
        let Some(index) = self.index.get(&key).map(|i| *i as usize) else {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let (Some(generation), Some(delivered), Some(written)) =
            (self.generation.get(index), self.delivered.get(index), self.written_at.get(index))
        else {
            return;
        };
        let generation = generation.load(Ordering::Acquire);
        if generation == 0 {
            // The initial table.
            return;
        }
        if (generation % 2 == 0) != announced || delivered.load(Ordering::Relaxed) >= generation {
            self.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        delivered.store(generation, Ordering::Relaxed);
        let latency = read_at.saturating_sub(written.load(Ordering::Relaxed));
        if let Ok(mut latencies) = self.latencies.lock() {
            latencies.push(latency);
        }
    }

    fn delivered(&self) -> usize {
        self.latencies.lock().map_or(0, |l| l.len())
    }
}

/// One churn run.
#[derive(Debug, Clone, Copy)]
pub struct ChurnRun {
    /// Latency percentiles and maximum, milliseconds.
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub changes: u64,
    pub lost: u64,
    pub unexpected: u64,
    /// UPDATEs the sink received during the churn.
    pub updates: u64,
    /// DUT CPU seconds over the churn.
    pub cpu: f64,
    /// DUT RSS MB: before, right after, `quiet` after; peak.
    pub rss_before: f64,
    pub rss_after: f64,
    pub rss_later: f64,
    pub rss_peak: f64,
}

/// One run of `spec` through `kind` (or the rig's floor).
pub fn run(kind: DutKind, feed: &ChurnFeed, spec: &ChurnSpec) -> Result<ChurnRun> {
    let epoch = Instant::now();
    let sink_tally = Tally::new(epoch);
    sink_tally.expect(feed.prefixes() as u64);
    let feeder_tally = Tally::counting(epoch);
    let total = spec.rate.saturating_mul(spec.duration.as_secs());
    let log = Arc::new(Log::new(&feed.keys, total as usize));
    let observer = Arc::clone(&log);
    sink_tally.observe(Observer(Arc::new(move |announced, key, at| {
        observer.observe(announced, key, at);
    })));
    let wired = wire_up(kind, &[Family::Ipv4Unicast], &sink_tally, &feeder_tally)?;
    let Wired { feeders, sinks, dut, .. } = &wired;
    let feeder = feeders.first().ok_or_else(|| HarnessError::Encode {
        reason: "the rig has no feeder session".to_owned(),
    })?;
    let encoding = |o: &CodecOptions| CodecOptions { external_peer_as: None, ..*o };
    if encoding(feeder.options()) != encoding(&feed.options) {
        return Err(HarnessError::Rig {
            peer: feeder.peer(),
            reason: format!("negotiated {:?}, encoded for {:?}", feeder.options(), feed.options),
        });
    }
    let pid = dut.as_ref().map(Dut::pid);
    let sessions: Vec<&Session> = sinks.iter().chain(feeders).collect();
    let check = |what: &str, waited: Duration| -> Result<()> {
        let failed = sessions.iter().find_map(|s| s.failure().map(|f| (s.peer(), f)));
        let dead = pid.filter(|p| !process_alive(*p));
        if failed.is_none() && dead.is_none() {
            return Ok(());
        }
        let log = dut.as_ref().map(Dut::log_tail).unwrap_or_default();
        Err(HarnessError::Timeout {
            what: what.to_owned(),
            waited,
            last: format!("session failure {failed:?}; DUT dead {dead:?}\n{log}"),
        })
    };

    // The initial table, then quiet.
    std::thread::sleep(Duration::from_millis(200));
    feeder.send(feed.initial.clone())?;
    let loading = Instant::now();
    while sink_tally.counts().p100.is_none() {
        check("the initial table at the sink", loading.elapsed())?;
        if loading.elapsed() > Duration::from_secs(600) {
            return Err(HarnessError::Timeout {
                what: "the initial table at the sink".to_owned(),
                waited: loading.elapsed(),
                last: format!("{:?}", sink_tally.counts()),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    settle(&sink_tally);
    std::thread::sleep(Duration::from_secs(1));
    let rss_before = pid.map_or(0.0, rss_mb);
    let cpu_before = pid.map_or(0.0, cpu_seconds);
    let updates_before = sink_tally.counts().updates;

    // The churn.
    let n = feed.prefixes() as u64;
    let start = Instant::now();
    let mut next = 0u64;
    let mut out = BytesMut::new();
    let mut checked = Instant::now();
    while next < total {
        let elapsed = start.elapsed().as_nanos();
        let due = (elapsed * u128::from(spec.rate) / 1_000_000_000) as u64 + 1;
        let due = due.min(total);
        if due > next {
            for k in next..due {
                let (index, generation) = ((k % n) as usize, (k / n + 1) as u32);
                let messages = if generation % 2 == 0 { &feed.announce } else { &feed.withdraw };
                out.extend_from_slice(messages.get(index).map_or(&[][..], |b| &b[..]));
            }
            let now = sink_tally.now();
            for k in next..due {
                log.stamp((k % n) as usize, (k / n + 1) as u32, now);
            }
            feeder.send(out.split().freeze())?;
            next = due;
        }
        if checked.elapsed() > Duration::from_millis(100) {
            check("the churn", start.elapsed())?;
            checked = Instant::now();
        }
        std::thread::sleep(TICK);
    }
    // Until every change arrived, or none arrived for a second.
    let (mut seen, mut progress) = (log.delivered(), Instant::now());
    while (seen as u64) < total && progress.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
        let now = log.delivered();
        if now != seen {
            (seen, progress) = (now, Instant::now());
        }
    }
    let cpu = pid.map_or(0.0, |p| cpu_seconds(p) - cpu_before);
    let rss_after = pid.map_or(0.0, rss_mb);
    let updates = sink_tally.counts().updates - updates_before;
    let quiet = Instant::now();
    while quiet.elapsed() < spec.quiet {
        check("the quiet after the churn", quiet.elapsed())?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let rss_later = pid.map_or(0.0, rss_mb);
    let mut latencies = log.latencies.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort_unstable();
    let ms = |q: f64| {
        let rank = ((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1);
        latencies.get(rank).map_or(f64::NAN, |ns| *ns as f64 / 1e6)
    };
    Ok(ChurnRun {
        p50: ms(0.5),
        p99: ms(0.99),
        max: ms(1.0),
        changes: total,
        lost: total.saturating_sub(latencies.len() as u64),
        unexpected: log.unexpected.load(Ordering::Relaxed),
        updates,
        cpu,
        rss_before,
        rss_after,
        rss_later,
        rss_peak: pid.map_or(0.0, peak_rss_mb),
    })
}

/// One line per run, on stderr.
pub fn report(kind: DutKind, round: usize, run: &ChurnRun) {
    eprintln!(
        "{} run {round}: latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} changes, {} lost, \
         {} unexpected, {} UPDATEs to the sink; CPU {:.2} s; RSS {:.0} → {:.0} → {:.0} MB \
         (peak {:.0})",
        kind.name(),
        run.p50,
        run.p99,
        run.max,
        run.changes,
        run.lost,
        run.unexpected,
        run.updates,
        run.cpu,
        run.rss_before,
        run.rss_after,
        run.rss_later,
        run.rss_peak
    );
}

/// The results table (medians over the runs of each DUT), on stdout.
pub fn print_table(
    spec: &ChurnSpec,
    prefixes: usize,
    sets: usize,
    results: &[(DutKind, Vec<ChurnRun>)],
) {
    println!(
        "\nchurn: {} changes/s for {} s over {prefixes} IPv4 prefixes ({sets} attribute sets, \
         feeder AS{FEEDER_AS}); RSS again {} s after; median of each DUT's runs",
        spec.rate,
        spec.duration.as_secs(),
        spec.quiet.as_secs()
    );
    println!(
        "| DUT | p50 ms | p99 ms | max ms | lost | UPDATEs to sink | DUT CPU s | RSS before MB | \
         RSS after MB | RSS {} s later MB | peak RSS MB |",
        spec.quiet.as_secs()
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (kind, runs) in results {
        let m = |f: fn(&ChurnRun) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(f).collect();
            values.sort_by(f64::total_cmp);
            values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
        };
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} |",
            kind.name(),
            m(|r| r.p50),
            m(|r| r.p99),
            m(|r| r.max),
            m(|r| r.lost as f64),
            m(|r| r.updates as f64),
            m(|r| r.cpu),
            m(|r| r.rss_before),
            m(|r| r.rss_after),
            m(|r| r.rss_later),
            m(|r| r.rss_peak)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableSpec;

    #[test]
    fn each_prefix_has_one_announcement_and_one_withdrawal_the_sink_keys_alike() {
        let table = Table::generate(&TableSpec::internet(7, 2_000, 0, FEEDER_AS));
        let feed = ChurnFeed::encode(&table).unwrap();
        assert_eq!(
            (feed.prefixes(), feed.announce.len(), feed.withdraw.len()),
            (2_000, 2_000, 2_000)
        );
        for (i, (announce, withdraw)) in feed.announce.iter().zip(&feed.withdraw).enumerate() {
            let mut seen = Vec::new();
            crate::rig::scan::scan(&announce[19..], |a, k| seen.push((a, k))).unwrap();
            crate::rig::scan::scan(&withdraw[19..], |a, k| seen.push((a, k))).unwrap();
            assert_eq!(seen, [(true, feed.keys[i]), (false, feed.keys[i])]);
        }
    }

    #[test]
    fn the_log_times_each_change_once_and_counts_the_rest_as_unexpected() {
        let keys: Vec<Key> = (0..3u128).map(|i| (i, 1 << 8 | 24)).collect();
        let log = Log::new(&keys, 8);
        // The initial table is not a change.
        log.observe(true, keys[0], 5);
        log.stamp(0, 1, 100);
        // The announcement still in flight is not the withdrawal.
        log.observe(true, keys[0], 110);
        log.observe(false, keys[0], 150);
        log.observe(false, keys[0], 160);
        log.observe(false, (9, 1 << 8 | 24), 170);
        log.stamp(0, 2, 1_000);
        log.observe(true, keys[0], 1_003);
        assert_eq!(*log.latencies.lock().unwrap(), [50, 3]);
        assert_eq!(log.unexpected.load(Ordering::Relaxed), 3);
    }
}
