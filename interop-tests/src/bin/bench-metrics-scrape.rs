//! Scrape time of bgpd's `/metrics` with a full table and many peers (the operability issue's
//! speed check: under 50 ms with 1M prefixes and 100 peers).
//!
//! ```text
//!   [feeder AS65001] 192.0.2.1 ── 192.0.2.2 [bgpd AS65002] 198.51.100.1 ──
//!   198.51.100.10.. [99 sinks AS64600..]
//! ```
//!
//! The fan-out of `interop_tests::bench_peers`: one rig feeder sends the Internet-like table
//! (`--prefixes` IPv4 prefixes, one attribute set per five), bgpd (with `[metrics] listen` on
//! its namespace's loopback) sends all of it to `--peers` − 1 rig sinks, so it holds the
//! table, every peer's Adj-RIB-Out is full and `--peers` sessions are Established. Once every
//! sink holds every prefix, a thread of this process inside bgpd's namespace times `--scrapes`
//! scrapes of `/metrics`, `--gap-ms` apart (client wall time from connect to last byte, HTTP/1.1
//! with `Connection: close`), checks each is 200 and parses, and that the last one shows the
//! table and the sessions; it prints min, median, p99 and max and the exposition's size.
//!
//! Run as root after `cargo build --release -p bgpd -p interop-tests --bin bgpd --bin
//! bench-metrics-scrape`: `IRONLB_BGPD=target/release/bgpd target/release/bench-metrics-scrape
//! [--prefixes 1000000] [--peers 100] [--scrapes 100] [--gap-ms 100] [--seed 16]`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use interop_tests::bench_peers;
use interop_tests::bench_table::{DutKind, FEEDER_AS};
use interop_tests::scrape::{Scrape, quantile, series};
use interop_tests::table::{Table, TableSpec};

/// Where bgpd serves `/metrics`: its namespace's loopback.
const METRICS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9179);
/// The issue's goal for one scrape.
const GOAL: Duration = Duration::from_millis(50);

struct Options {
    prefixes: usize,
    peers: usize,
    scrapes: usize,
    gap: Duration,
    seed: u64,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        prefixes: 1_000_000,
        peers: 100,
        scrapes: 100,
        gap: Duration::from_millis(100),
        seed: 16,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--prefixes" => o.prefixes = number()?,
            "--peers" => o.peers = number()?,
            "--scrapes" => o.scrapes = number()?.max(1),
            "--gap-ms" => o.gap = Duration::from_millis(number()? as u64),
            "--seed" => o.seed = number()? as u64,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if !(2..=200).contains(&o.peers) {
        return Err(format!("--peers {}: between 2 and 200 (one feeder, the rest sinks)", o.peers));
    }
    Ok(o)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_owned()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What the last scrape must show: the table in the RIB, every session up, every sink
/// holding the table. Returns the problems found.
fn check(scrape: &Scrape, o: &Options) -> Vec<String> {
    let mut problems = Vec::new();
    let rib: f64 = scrape.samples("ironlb_rib_prefixes", &[]).sum();
    if rib as usize != o.prefixes {
        problems.push(format!("ironlb_rib_prefixes sums to {rib}, not {}", o.prefixes));
    }
    let up = scrape.samples("ironlb_bgp_session_up", &[]).filter(|v| *v == 1.0).count();
    if up != o.peers {
        problems.push(format!("{up} sessions up, not {}", o.peers));
    }
    let full = scrape
        .samples("ironlb_bgp_announced_prefixes_total", &[])
        .filter(|v| *v as usize == o.prefixes)
        .count();
    if full != o.peers - 1 {
        problems.push(format!("{full} peers advertised the whole table, not {}", o.peers - 1));
    }
    problems
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("bench-metrics-scrape: {message}");
            std::process::exit(2);
        }
    };
    println!("# load average at the start: {}", loadavg());
    let generating = Instant::now();
    let table = Table::generate(&TableSpec::internet(o.seed, o.prefixes, 0, FEEDER_AS));
    let plan = match bench_peers::fan_out(&table, o.peers - 1) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("bench-metrics-scrape: {error}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "table of {} prefixes, {} attribute sets, encoded in {:.1} s",
        table.v4.len(),
        table.sets.len(),
        generating.elapsed().as_secs_f64()
    );
    drop(table);
    let outcome = bench_peers::run_then(DutKind::Bgpd, &plan, Some(METRICS), |namespace| {
        series(namespace, METRICS, o.scrapes, o.gap)
    });
    let (run, scrapes) = match outcome {
        Ok(done) => done,
        Err(error) => {
            eprintln!("bench-metrics-scrape: {error}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "fan-out done: {} prefixes to {} sinks in {:.2} s, bgpd CPU {:.2} s, peak RSS {:.0} MB",
        o.prefixes,
        o.peers - 1,
        run.p100,
        run.cpu,
        run.rss
    );
    let problems = scrapes.last().map(|s| check(s, &o)).unwrap_or_default();
    let bytes = scrapes.last().map_or(0, |s| s.bytes);
    let samples = scrapes.last().map_or(0, |s| s.parsed.samples.len());
    let mut times: Vec<Duration> = scrapes.iter().map(|s| s.elapsed).collect();
    let (min, median, p99, max) = (
        quantile(&mut times, 0.0),
        quantile(&mut times, 0.5),
        quantile(&mut times, 0.99),
        quantile(&mut times, 1.0),
    );
    println!(
        "\nbgpd holding {} IPv4 prefixes (Internet-like, seed {}) with {} Established peers \
         (1 feeder, {} sinks each advertised the table); {} scrapes of /metrics, {} ms apart, \
         each 200 and parsed",
        o.prefixes,
        o.seed,
        o.peers,
        o.peers - 1,
        scrapes.len(),
        o.gap.as_millis()
    );
    println!("| min ms | median ms | p99 ms | max ms | bytes | samples |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {:.2} | {:.2} | {:.2} | {:.2} | {bytes} | {samples} |",
        ms(min),
        ms(median),
        ms(p99),
        ms(max)
    );
    println!(
        "goal: under {} ms: {}",
        GOAL.as_millis(),
        if p99 < GOAL { "met (p99)" } else { "NOT met (p99)" }
    );
    println!("# load average at the end: {}", loadavg());
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("bench-metrics-scrape: the last scrape disagrees: {problem}");
        }
        std::process::exit(1);
    }
}
