//! Table benchmark on the rig of `interop_tests::rig`: our feeder → DUT → our sink, with DUT =
//! ironlb bgpd, BIRD or FRR, and the rig's floor (feeder straight into sink) in the same run.
//!
//! ```text
//!   [feeder AS65001] 192.0.2.1 / 2001:db8:1::1 ── 192.0.2.2 / 2001:db8:1::2 [DUT AS65002]
//!   198.51.100.1 / 2001:db8:2::1 ── 198.51.100.2 / 2001:db8:2::2 [sink AS65003]
//! ```
//!
//! One BGP session per family on each side (the DUT is passive; eBGP, accept-all policies).
//! Per DUT and repetition, in fresh namespaces: the sink sessions come up, then the feeder's,
//! then the feeder writes the whole pre-encoded table (UPDATEs packed up to 4096 octets per
//! attribute set, then End-of-RIB) at socket speed. Measured from the first byte written: time
//! until the sink held the first prefix, 99 % and 100 % of them; the DUT's CPU seconds
//! (utime + stime of its process, /proc/PID/stat) over that window and its peak RSS (VmHWM).
//!
//! Scenarios: `internet` (the generated Internet-like table: one attribute set per five
//! prefixes, shared Zipf-like), `one-set` (the same prefixes, one attribute set), `trickle`
//! (one UPDATE per prefix from the feeder, one attribute set; the figure is how many UPDATEs the
//! DUT sends the sink).
//!
//! `churn` (`--rate R` changes a second for `--seconds S`, default 10,000 and 60, over the
//! Internet-like IPv4 table; see `interop_tests::churn`): latency of each change from the
//! feeder's write to the sink's read, DUT CPU over the churn, DUT RSS before, after and 10 s
//! after; the floor runs the same schedule.
//!
//! `fan-out` (`--peers N` sinks each receiving the Internet-like table, IPv4 and IPv6 on a
//! session each) and `route-server` (`--peers N` peers each sending `--v4 / N` IPv4 prefixes of
//! their own and receiving all others') run through `interop_tests::bench_peers`, without a
//! floor row; `--limit S` stops a DUT's run after S seconds (default 1800), and the DUT is left
//! out of the table with what it had delivered by then.
//!
//! DUTs (`--duts`): `bgpd`, `bird`, `frr`, `gobgp` (gobgpd 3.x; installed with apt-get when
//! missing, see `interop_tests::gobgp`).
//!
//! Run as root after `cargo build --release -p bgpd -p interop-tests --bin bgpd --bin
//! bench-table`: `IRONLB_BGPD=target/release/bgpd target/release/bench-table --scenario internet
//! --v4 1000000 --v6 230000 --repeat 3 --duts bgpd,bird,frr`.

use interop_tests::bench_peers;
use interop_tests::bench_table::{DutKind, FEEDER_AS, Run, Scenario, encode_feed, run_once};
use interop_tests::churn::{self, ChurnFeed, ChurnSpec};
use interop_tests::table::{Table, TableSpec};
use std::time::Instant;

struct Options {
    scenario: Scenario,
    v4: usize,
    v6: usize,
    sets: Option<usize>,
    /// Sinks (fan-out) or peers (route server).
    peers: usize,
    seed: u64,
    repeat: usize,
    duts: Vec<DutKind>,
    /// Churn: changes per second and seconds.
    rate: u64,
    seconds: u64,
    /// Fan-out and route server: seconds a run may take before it is stopped.
    limit: Option<u64>,
}

fn options() -> std::result::Result<Options, String> {
    let mut o = Options {
        scenario: Scenario::Internet,
        v4: 100_000,
        v6: 20_000,
        sets: None,
        peers: 50,
        seed: 16,
        repeat: 3,
        duts: vec![DutKind::Bgpd, DutKind::Bird, DutKind::Frr],
        rate: 10_000,
        seconds: 60,
        limit: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--scenario" => {
                o.scenario = match value.as_str() {
                    "internet" => Scenario::Internet,
                    "one-set" => Scenario::OneSet,
                    "trickle" => Scenario::Trickle,
                    "fan-out" => Scenario::FanOut,
                    "route-server" => Scenario::RouteServer,
                    "churn" => Scenario::Churn,
                    other => return Err(format!("unknown scenario {other}")),
                }
            }
            "--v4" => o.v4 = number()?,
            "--v6" => o.v6 = number()?,
            "--sets" => o.sets = Some(number()?),
            "--peers" => o.peers = number()?,
            "--seed" => o.seed = number()? as u64,
            "--repeat" => o.repeat = number()?,
            "--rate" => o.rate = number()? as u64,
            "--seconds" => o.seconds = number()? as u64,
            "--limit" => o.limit = Some(number()? as u64),
            "--duts" => {
                o.duts = value
                    .split(',')
                    .map(|d| match d {
                        "bird" => Ok(DutKind::Bird),
                        "frr" => Ok(DutKind::Frr),
                        "bgpd" | "ironlb" => Ok(DutKind::Bgpd),
                        "gobgp" | "gobgpd" => Ok(DutKind::Gobgp),
                        other => Err(format!("unknown DUT {other}")),
                    })
                    .collect::<std::result::Result<_, _>>()?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let options = match options() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("bench-table: {message}");
            std::process::exit(2);
        }
    };
    let mut options = options;
    if options.duts.contains(&DutKind::Gobgp)
        && let Err(error) = interop_tests::gobgp::ensure_installed()
    {
        eprintln!("bench-table: GoBGP: {error}");
        std::process::exit(1);
    }
    if matches!(options.scenario, Scenario::RouteServer | Scenario::Churn) {
        // One IPv4 session per peer (the fan-out adds IPv6 sessions for IPv6 prefixes).
        options.v6 = 0;
    }
    let spec = match (options.scenario, options.sets) {
        (_, Some(sets)) => TableSpec {
            sets,
            ..TableSpec::internet(options.seed, options.v4, options.v6, FEEDER_AS)
        },
        (Scenario::Internet | Scenario::FanOut | Scenario::RouteServer | Scenario::Churn, None) => {
            TableSpec::internet(options.seed, options.v4, options.v6, FEEDER_AS)
        }
        (Scenario::OneSet | Scenario::Trickle, None) => {
            TableSpec::one_set(options.seed, options.v4, options.v6, FEEDER_AS)
        }
    };
    let started = Instant::now();
    let table = Table::generate(&spec);
    if matches!(options.scenario, Scenario::FanOut | Scenario::RouteServer) {
        many_peers(&options, &spec, &table);
        return;
    }
    if options.scenario == Scenario::Churn {
        run_churn(&options, &table);
        return;
    }
    let feed = match encode_feed(options.scenario, &table) {
        Ok(feed) => feed,
        Err(error) => {
            eprintln!("bench-table: {error}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "table: {} IPv4 + {} IPv6 prefixes, {} attribute sets, {:.1} MB of UPDATEs, built in {:.1} s",
        table.v4.len(),
        table.v6.len(),
        table.distinct_sets(),
        (feed.v4.len() + feed.v6.len()) as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    drop(table);
    let kinds = std::iter::once(DutKind::Floor).chain(options.duts.iter().copied());
    let results = rounds(kinds, options.repeat, |kind| run_once(kind, &feed), report);
    print_table(&options, &spec, &results);
}

/// Fan-out and route server: no floor (the DUT is what replicates), IPv4 only.
fn many_peers(options: &Options, spec: &TableSpec, table: &Table) {
    let plan = match options.scenario {
        Scenario::FanOut => bench_peers::fan_out(table, options.peers),
        _ => bench_peers::route_server(table, options.peers),
    };
    let mut plan = match plan {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("bench-table: {error}");
            std::process::exit(1);
        }
    };
    if let Some(seconds) = options.limit {
        plan.limit = std::time::Duration::from_secs(seconds);
    }
    eprintln!(
        "{} feeder session(s), {} listen-only sink session(s), {} announcements expected at the \
         peers",
        plan.feeders.len(),
        plan.sinks.len(),
        plan.expected
    );
    let results: Vec<(DutKind, Vec<Run>)> = rounds(
        options.duts.iter().copied(),
        options.repeat,
        |kind| bench_peers::run(kind, &plan),
        report,
    );
    print_table(options, spec, &results);
}

/// The churn scenario: the floor, then each DUT.
fn run_churn(options: &Options, table: &Table) {
    let feed = match ChurnFeed::encode(table) {
        Ok(feed) => feed,
        Err(error) => {
            eprintln!("bench-table: {error}");
            std::process::exit(1);
        }
    };
    let spec = ChurnSpec {
        rate: options.rate,
        duration: std::time::Duration::from_secs(options.seconds),
        quiet: std::time::Duration::from_secs(10),
    };
    let kinds = std::iter::once(DutKind::Floor).chain(options.duts.iter().copied());
    let results =
        rounds(kinds, options.repeat, |kind| churn::run(kind, &feed, &spec), churn::report);
    churn::print_table(&spec, feed.prefixes(), table.distinct_sets(), &results);
}

fn report(kind: DutKind, round: usize, run: &Run) {
    eprintln!(
        "{} run {round}: first {:.3} s, 99 % {:.3} s, 100 % {:.3} s, CPU {:.2} s, RSS {:.0} MB, \
         {} UPDATEs to the sink(s)",
        kind.name(),
        run.first,
        run.p99,
        run.p100,
        run.cpu,
        run.rss,
        run.updates
    );
}

fn print_table(options: &Options, spec: &TableSpec, results: &[(DutKind, Vec<Run>)]) {
    let scenario = match options.scenario {
        Scenario::Internet => "Internet-like table",
        Scenario::OneSet => "one attribute set",
        Scenario::Trickle => "one UPDATE per prefix from the feeder",
        Scenario::FanOut => "fan-out: one table to every sink",
        Scenario::RouteServer => "route server: every peer's prefixes to every other peer",
        Scenario::Churn => "churn",
    };
    println!(
        "\n{scenario}: {} IPv4 + {} IPv6 prefixes, {} attribute sets, seed {}; median of {} run(s)",
        spec.v4, spec.v6, spec.sets, spec.seed, options.repeat
    );
    println!(
        "| DUT | first prefix s | 99 % s | 100 % s | DUT CPU s | DUT peak RSS MB | UPDATEs to sink |"
    );
    println!("|---|---|---|---|---|---|---|");
    let medians: Vec<(DutKind, [f64; 6])> = results
        .iter()
        .map(|(kind, runs)| {
            let m = |f: fn(&Run) -> f64| median(runs.iter().map(f));
            (
                *kind,
                [
                    m(|r| r.first),
                    m(|r| r.p99),
                    m(|r| r.p100),
                    m(|r| r.cpu),
                    m(|r| r.rss),
                    m(|r| r.updates as f64),
                ],
            )
        })
        .collect();
    for (kind, [first, p99, p100, cpu, rss, updates]) in &medians {
        println!(
            "| {} | {first:.3} | {p99:.3} | {p100:.3} | {cpu:.2} | {rss:.0} | {updates:.0} |",
            kind.name()
        );
    }
    for reference in [DutKind::Bird, DutKind::Frr] {
        let Some((_, base)) = medians.iter().find(|(k, _)| *k == reference) else { continue };
        println!("\nratios against {} (lower is better):", reference.name());
        for (kind, m) in medians.iter().filter(|(k, _)| *k != reference && *k != DutKind::Floor) {
            println!(
                "  {:<8} 99 % {:.2}x  100 % {:.2}x  CPU {:.2}x  RSS {:.2}x  UPDATEs {:.2}x",
                kind.name(),
                m[1] / base[1],
                m[2] / base[2],
                m[3] / base[3],
                m[4] / base[4],
                m[5] / base[5]
            );
        }
    }
}

/// Each DUT of `kinds` run `repeat` times by `run`, each run reported as it ends;
/// a DUT's first failure is reported and ends its rounds (what it ran so far is kept).
fn rounds<R>(
    kinds: impl IntoIterator<Item = DutKind>,
    repeat: usize,
    run: impl Fn(DutKind) -> interop_tests::Result<R>,
    report: impl Fn(DutKind, usize, &R),
) -> Vec<(DutKind, Vec<R>)> {
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for kind in kinds {
        let mut runs = Vec::new();
        for round in 1..=repeat {
            match run(kind) {
                Ok(run) => {
                    report(kind, round, &run);
                    runs.push(run);
                }
                Err(error) => {
                    eprintln!("{} run {round} failed: {error}", kind.name());
                    failures.push(failure_line(kind, round, &error.to_string()));
                    break;
                }
            }
        }
        if !runs.is_empty() {
            results.push((kind, runs));
        }
    }
    // On stdout, before the table: a DUT missing from it says why.
    for line in failures {
        println!("{line}");
    }
    results
}

/// "NAME run R failed: <first line>; <what the rig had seen>", one line.
fn failure_line(kind: DutKind, round: usize, error: &str) -> String {
    let mut lines = error.lines().filter(|l| !l.trim().is_empty() && !l.starts_with("---"));
    let what = lines.next().unwrap_or_default();
    let seen = lines.next().unwrap_or_default();
    format!("{} run {round} failed (not in the table): {what}; last seen: {seen}", kind.name())
}
