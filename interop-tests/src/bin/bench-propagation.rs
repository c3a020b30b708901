//! Propagation benchmark: feeder BIRD → DUT → sink BIRD, with DUT = BIRD, FRR or ironlb bgpd.
//!
//! ```text
//!   [feeder BIRD AS65001] 192.0.2.1 ── 192.0.2.2 [DUT AS65002] 198.51.100.1 ──
//!   198.51.100.2 [sink BIRD AS65003]
//! ```
//!
//! Per DUT and repetition, in fresh namespaces: the DUT–sink session is Established first, then
//! the feeder's BGP protocol (carrying N generated /32s sharing one attribute set) is enabled.
//! Measured: time from that enable (and from the feeder session's Established) until the sink
//! holds all N routes, the DUT's CPU seconds (utime + stime from /proc/PID/stat) over that
//! window, and its peak RSS (VmHWM). A second phase counts the UPDATE messages the DUT sends to
//! the sink for 10,000 prefixes sharing attributes (tcpdump on the DUT → sink link).
//!
//! `bird-policy` and `bgpd-policy` are BIRD and bgpd with the realistic ten-statement import
//! and export policy of `bench_propagation/policy.rs` on both sessions instead of accept-all
//! (the routing-policy issue's speed check: policy CPU against accept-all and against BIRD).
//!
//! `bgpd-metrics` is bgpd with `[metrics] listen` on the DUT namespace's loopback and a scraper
//! in this process (a thread inside that namespace, [`interop_tests::scrape`]) that GETs
//! `/metrics` every second from before the feeder is enabled until the sink holds every route,
//! and checks each answer is 200 and parses (the operability issue's speed check: metrics on
//! against `bgpd`, metrics off, in the same run; a Prometheus scrapes every 15 s or more, so
//! once a second is the harsher case).
//!
//! The DUTs are alternated: round 1 runs every DUT once, then round 2, and so on, so a change
//! of the machine's load (other builds on the same cores) spreads over all of them.
//!
//! Run by hand as root: `cargo run --release -p interop-tests --bin bench-propagation --
//! [--count 1000000] [--repeat 3] [--duts bird,frr,bgpd,bgpd-metrics,bird-policy,bgpd-policy]
//! [--update-prefixes 10000]`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor};
use interop_tests::bird::{Bird, BirdBgp, BirdConfig, BirdStatic};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor};
use interop_tests::scrape::{ScrapeLog, Scraper};
use interop_tests::tcpdump::{Capture, UPDATE};
use interop_tests::topology::{Line, line};
use interop_tests::{Family, HarnessError, Result, wait_until};

#[path = "bench_propagation/policy.rs"]
mod policy;

const FEEDER_AS: u32 = 65001;
const DUT_AS: u32 = 65002;
const SINK_AS: u32 = 65003;
const FEED_START: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 0);
/// Where `bgpd-metrics` serves `/metrics`: the DUT namespace's loopback.
const METRICS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9179);
/// How often the bench scrapes `bgpd-metrics`.
const SCRAPE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DutKind {
    Bird,
    Frr,
    Bgpd,
    BirdPolicy,
    BgpdPolicy,
    BgpdMetrics,
}

impl DutKind {
    fn name(self) -> &'static str {
        match self {
            DutKind::Bird => "BIRD",
            DutKind::Frr => "FRR",
            DutKind::Bgpd => "ironlb",
            DutKind::BirdPolicy => "BIRD+pol",
            DutKind::BgpdPolicy => "ironlb+pol",
            DutKind::BgpdMetrics => "ironlb+met",
        }
    }
}

/// The DUT guard, whichever daemon it is.
enum Dut {
    Bird(Bird),
    Frr(Frr),
    Bgpd(Bgpd),
}

impl Dut {
    fn pid(&self) -> u32 {
        match self {
            Dut::Bird(d) => d.pid(),
            Dut::Frr(d) => d.pid(),
            Dut::Bgpd(d) => d.pid(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Dut::Bird(d) => format!("{}\n{}", d.describe("feeder"), d.describe("sink")),
            Dut::Frr(d) => {
                format!("{}\n{}", d.describe(ip([192, 0, 2, 1])), d.describe(ip([198, 51, 100, 2])))
            }
            Dut::Bgpd(d) => d.log_tail(20),
        }
    }
}

fn ip(octets: [u8; 4]) -> IpAddr {
    IpAddr::from(octets)
}

struct Options {
    count: u32,
    repeat: usize,
    duts: Vec<DutKind>,
    update_prefixes: u32,
}

fn options() -> std::result::Result<Options, String> {
    let mut options = Options {
        count: 1_000_000,
        repeat: 3,
        duts: vec![DutKind::Bird, DutKind::Frr, DutKind::Bgpd],
        update_prefixes: 10_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<u32>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--count" => options.count = number()?,
            "--repeat" => options.repeat = usize::try_from(number()?).map_err(|e| e.to_string())?,
            "--update-prefixes" => options.update_prefixes = number()?,
            "--duts" => {
                options.duts = value
                    .split(',')
                    .map(|d| match d {
                        "bird" => Ok(DutKind::Bird),
                        "frr" => Ok(DutKind::Frr),
                        "bgpd" | "ironlb" => Ok(DutKind::Bgpd),
                        "bird-policy" => Ok(DutKind::BirdPolicy),
                        "bgpd-policy" => Ok(DutKind::BgpdPolicy),
                        "bgpd-metrics" => Ok(DutKind::BgpdMetrics),
                        other => Err(format!("unknown DUT {other}")),
                    })
                    .collect::<std::result::Result<_, _>>()?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

/// Feeder, DUT and sink, running, DUT–sink session Established, feeder disabled.
struct Testbed {
    feeder: Bird,
    dut: Dut,
    sink: Bird,
    _line: Line,
}

fn testbed(kind: DutKind, prefixes: u32) -> Result<Testbed> {
    let line = line(["feed", "dut", "sink"])?;
    let feeder_config = BirdConfig::new(Ipv4Addr::new(192, 0, 2, 1))
        .static_protocol(
            BirdStatic::new("generated", Family::Ipv4Unicast).generated(FEED_START, 32, prefixes),
        )
        .bgp(BirdBgp { disabled: true, ..bench_bgp("dut", FEEDER_AS, ip([192, 0, 2, 2]), DUT_AS) });
    let feeder = Bird::start_with_deadline(&line.first, &feeder_config, Duration::from_secs(300))?;
    let sink = Bird::start(
        &line.last,
        &BirdConfig::new(Ipv4Addr::new(198, 51, 100, 2)).bgp(bench_bgp(
            "dut",
            SINK_AS,
            ip([198, 51, 100, 1]),
            DUT_AS,
        )),
    )?;
    let dut = match kind {
        DutKind::Bird => Dut::Bird(Bird::start(
            &line.middle,
            &BirdConfig::new(Ipv4Addr::new(192, 0, 2, 2))
                .bgp(bench_bgp("feeder", DUT_AS, ip([192, 0, 2, 1]), FEEDER_AS))
                .bgp(bench_bgp("sink", DUT_AS, ip([198, 51, 100, 2]), SINK_AS)),
        )?),
        DutKind::Frr => {
            let mut config = FrrConfig::new(DUT_AS, Ipv4Addr::new(192, 0, 2, 2))
                .neighbor(FrrNeighbor::new(ip([192, 0, 2, 1]), FEEDER_AS).timers(30, 90))
                .neighbor(FrrNeighbor::new(ip([198, 51, 100, 2]), SINK_AS).timers(30, 90));
            // With -Z FRR logs one error per prefix; a fifth of its time otherwise.
            config.log_level = "critical";
            Dut::Frr(Frr::start(&line.middle, &config)?)
        }
        DutKind::BirdPolicy => {
            let filters = Some(("import_realistic".to_owned(), "export_realistic".to_owned()));
            let with_filters = |b: BirdBgp| BirdBgp { filters: filters.clone(), ..b };
            let mut config = BirdConfig::new(Ipv4Addr::new(192, 0, 2, 2))
                .bgp(with_filters(bench_bgp("feeder", DUT_AS, ip([192, 0, 2, 1]), FEEDER_AS)))
                .bgp(with_filters(bench_bgp("sink", DUT_AS, ip([198, 51, 100, 2]), SINK_AS)));
            config.definitions = policy::bird();
            Dut::Bird(Bird::start(&line.middle, &config)?)
        }
        DutKind::BgpdPolicy => {
            let neighbor = |address: [u8; 4], asn: u32| {
                BgpdNeighbor::new(ip(address), asn)
                    .hold_time(90)
                    .import_policy(&["import-realistic"])
                    .export_policy(&["export-realistic"])
            };
            let mut config = BgpdConfig::new(DUT_AS, Ipv4Addr::new(192, 0, 2, 2))
                .neighbor(neighbor([192, 0, 2, 1], FEEDER_AS))
                .neighbor(neighbor([198, 51, 100, 2], SINK_AS));
            config.policies = policy::bgpd();
            Dut::Bgpd(Bgpd::start(&line.middle, &config)?)
        }
        DutKind::Bgpd | DutKind::BgpdMetrics => {
            let mut config = BgpdConfig::new(DUT_AS, Ipv4Addr::new(192, 0, 2, 2))
                .neighbor(BgpdNeighbor::new(ip([192, 0, 2, 1]), FEEDER_AS).hold_time(90))
                .neighbor(BgpdNeighbor::new(ip([198, 51, 100, 2]), SINK_AS).hold_time(90));
            if kind == DutKind::BgpdMetrics {
                config = config.metrics(&METRICS.to_string());
            }
            Dut::Bgpd(Bgpd::start(&line.middle, &config)?)
        }
    };
    sink.wait_established("dut", Duration::from_secs(30)).map_err(|e| annotate(e, &dut))?;
    Ok(Testbed { feeder, dut, sink, _line: line })
}

fn bench_bgp(name: &str, local_as: u32, neighbor: IpAddr, remote_as: u32) -> BirdBgp {
    BirdBgp::new(name, local_as, neighbor, remote_as).hold_time(90)
}

fn annotate(error: HarnessError, dut: &Dut) -> HarnessError {
    match error {
        HarnessError::Timeout { what, waited, last } => HarnessError::Timeout {
            what,
            waited,
            last: format!("{last}\n--- DUT ---\n{}", dut.describe()),
        },
        other => other,
    }
}

/// CPU seconds (utime + stime) of `pid`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based) → index 11, 12.
    let ticks: u64 =
        [11, 12].iter().filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok())).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    ticks as f64 / hz
}

/// Nanoseconds on CPU of each live thread of `pid`, from the scheduler's own account
/// (`/proc/PID/task/TID/schedstat`, first field): finer than the 10 ms ticks of
/// [`cpu_seconds`], for DUTs whose CPU differs by a few percent (bgpd with metrics on and off).
fn thread_cpu_ns(pid: u32) -> HashMap<u32, u64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    tasks
        .filter_map(|task| {
            let task = task.ok()?;
            let tid = task.file_name().to_str()?.parse::<u32>().ok()?;
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            Some((tid, stat.split_whitespace().next()?.parse::<u64>().ok()?))
        })
        .collect()
}

/// CPU seconds between two [`thread_cpu_ns`] readings: threads born in between count whole;
/// the share of threads that ended in between is lost (bgpd's tokio workers live as long as
/// the process; its blocking threads idle 10 s before they end).
fn thread_cpu_delta(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> f64 {
    let ns: u64 = after
        .iter()
        .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum();
    ns as f64 / 1e9
}

/// Peak resident set size in MB (VmHWM).
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Run {
    from_enable: f64,
    from_established: f64,
    cpu: f64,
    rss: f64,
    /// CPU seconds of feeder and sink over the same window: the rig's own cost, which bounds
    /// the time any DUT can show on a 2-core machine.
    rig_cpu: f64,
    /// The DUT's CPU seconds over the window from the scheduler's nanosecond account.
    sched_cpu: f64,
    /// `bgpd-metrics`: the scrapes made during the run.
    scrapes: Option<ScrapeLog>,
}

fn propagation_run(kind: DutKind, count: u32) -> Result<Run> {
    let bed = testbed(kind, count)?;
    let pid = bed.dut.pid();
    let rig = [bed.feeder.pid(), bed.sink.pid()];
    let scraper = (kind == DutKind::BgpdMetrics)
        .then(|| Scraper::start(bed.dut_namespace(), METRICS, SCRAPE_EVERY));
    let rig_before: f64 = rig.iter().map(|p| cpu_seconds(*p)).sum();
    let cpu_before = cpu_seconds(pid);
    let threads_before = thread_cpu_ns(pid);
    let start = Instant::now();
    bed.feeder.enable("dut")?;
    let mut established_at = None;
    wait_until(
        &format!("the sink to hold {count} routes"),
        Duration::from_secs(600),
        Duration::from_millis(50),
        || {
            if established_at.is_none() && bed.feeder.is_established("dut") {
                established_at = Some(start.elapsed());
            }
            bed.sink.route_count().ok().filter(|n| *n >= u64::from(count))
        },
        || {
            format!(
                "sink has {:?}\n{}\n{}",
                bed.sink.route_count(),
                bed.feeder.describe("dut"),
                bed.dut.describe()
            )
        },
    )?;
    let elapsed = start.elapsed();
    let cpu = cpu_seconds(pid) - cpu_before;
    let sched_cpu = thread_cpu_delta(&threads_before, &thread_cpu_ns(pid));
    let from_established = elapsed.saturating_sub(established_at.unwrap_or_default());
    Ok(Run {
        from_enable: elapsed.as_secs_f64(),
        from_established: from_established.as_secs_f64(),
        cpu,
        rss: peak_rss_mb(pid),
        rig_cpu: rig.iter().map(|p| cpu_seconds(*p)).sum::<f64>() - rig_before,
        sched_cpu,
        scrapes: scraper.map(Scraper::finish),
    })
}

/// (UPDATEs carrying NLRI, all UPDATEs incl. End-of-RIB) sent by the DUT to the sink.
fn update_count(kind: DutKind, prefixes: u32) -> Result<(usize, usize)> {
    let bed = testbed(kind, prefixes)?;
    let mut capture = Capture::start(bed.dut_namespace(), "to-last")?;
    bed.feeder.enable("dut")?;
    wait_until(
        &format!("the sink to hold {prefixes} routes"),
        Duration::from_secs(120),
        Duration::from_millis(50),
        || bed.sink.route_count().ok().filter(|n| *n >= u64::from(prefixes)),
        || bed.dut.describe(),
    )?;
    let dut_address = ip([198, 51, 100, 1]);
    let updates: Vec<_> = capture
        .messages()?
        .into_iter()
        .filter(|m| m.kind() == UPDATE && m.from.ip() == dut_address)
        .collect();
    // An IPv4 End-of-RIB is the empty UPDATE: 23 octets.
    let with_nlri = updates.iter().filter(|m| m.bytes.len() > 23).count();
    Ok((with_nlri, updates.len()))
}

impl Testbed {
    fn dut_namespace(&self) -> &interop_tests::netns::Namespace {
        match &self.dut {
            Dut::Bird(d) => d.namespace(),
            Dut::Frr(d) => d.namespace(),
            Dut::Bgpd(d) => d.namespace(),
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

struct Summary {
    kind: DutKind,
    time: f64,
    from_established: f64,
    cpu: f64,
    sched_cpu: f64,
    rss: f64,
    runs: Vec<f64>,
    updates: Option<(usize, usize)>,
    scrapes: Option<ScrapeTotals>,
}

/// The scrapes of all runs of `bgpd-metrics`.
struct ScrapeTotals {
    answered: usize,
    failed: usize,
    slowest: Duration,
    bytes: usize,
}

/// "; N scrapes ...", for a run's line.
fn describe_scrapes(log: &ScrapeLog) -> String {
    let mut text = format!(
        "; {} scrapes (200, parsed), slowest {:.1} ms, {} bytes",
        log.times.len(),
        log.max().as_secs_f64() * 1000.0,
        log.bytes
    );
    if let Some(first) = log.failures.first() {
        text.push_str(&format!("; {} FAILED, first: {first}", log.failures.len()));
    }
    text
}

fn main() {
    let options = match options() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("bench-propagation: {message}");
            std::process::exit(2);
        }
    };
    let load_at_start = loadavg();
    // Alternated: every DUT once per round, so load changes hit all of them alike.
    let mut runs: Vec<Vec<Run>> = options.duts.iter().map(|_| Vec::new()).collect();
    let mut failed = vec![false; options.duts.len()];
    for round in 1..=options.repeat {
        for (i, &kind) in options.duts.iter().enumerate() {
            if failed[i] {
                continue;
            }
            match propagation_run(kind, options.count) {
                Ok(run) => {
                    eprintln!(
                        "{} run {round}: {:.2} s ({:.2} s from Established), {:.2} CPU s \
                         ({:.4} s by schedstat), {:.0} MB; feeder + sink {:.2} CPU s{}",
                        kind.name(),
                        run.from_enable,
                        run.from_established,
                        run.cpu,
                        run.sched_cpu,
                        run.rss,
                        run.rig_cpu,
                        run.scrapes.as_ref().map_or(String::new(), describe_scrapes)
                    );
                    runs[i].push(run);
                }
                Err(error) => {
                    eprintln!("{} run {round} failed: {error}", kind.name());
                    failed[i] = true;
                }
            }
        }
    }
    let mut summaries = Vec::new();
    for (&kind, runs) in options.duts.iter().zip(&runs) {
        if runs.is_empty() {
            continue;
        }
        let updates = match update_count(kind, options.update_prefixes) {
            Ok(counts) => Some(counts),
            Err(error) => {
                eprintln!("{} UPDATE count failed: {error}", kind.name());
                None
            }
        };
        let pick = |f: fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
        let logs: Vec<&ScrapeLog> = runs.iter().filter_map(|r| r.scrapes.as_ref()).collect();
        summaries.push(Summary {
            kind,
            time: pick(|r| r.from_enable),
            from_established: pick(|r| r.from_established),
            cpu: pick(|r| r.cpu),
            sched_cpu: pick(|r| r.sched_cpu),
            rss: pick(|r| r.rss),
            runs: runs.iter().map(|r| r.from_enable).collect(),
            updates,
            scrapes: (!logs.is_empty()).then(|| ScrapeTotals {
                answered: logs.iter().map(|l| l.times.len()).sum(),
                failed: logs.iter().map(|l| l.failures.len()).sum(),
                slowest: logs.iter().map(|l| l.max()).max().unwrap_or_default(),
                bytes: logs.iter().map(|l| l.bytes).max().unwrap_or_default(),
            }),
        });
    }
    print_table(&options, &summaries);
    println!(
        "\nload average (/proc/loadavg) at the start: {load_at_start}; at the end: {}",
        loadavg()
    );
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_owned()
}

fn print_table(options: &Options, summaries: &[Summary]) {
    println!(
        "\n{} IPv4 prefixes feeder → DUT → sink, median of {} run(s); UPDATEs for {} prefixes",
        options.count, options.repeat, options.update_prefixes
    );
    println!(
        "{:<10} {:>9} {:>12} {:>8} {:>11} {:>9} {:>14}  runs (s)",
        "DUT", "time s", "from Estab s", "CPU s", "sched CPU s", "RSS MB", "UPDATEs (+EoR)"
    );
    for s in summaries {
        let updates = s.updates.map_or("-".to_owned(), |(n, all)| format!("{n} ({all})"));
        let runs: Vec<String> = s.runs.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "{:<10} {:>9.2} {:>12.2} {:>8.2} {:>11.4} {:>9.0} {:>14}  {}",
            s.kind.name(),
            s.time,
            s.from_established,
            s.cpu,
            s.sched_cpu,
            s.rss,
            updates,
            runs.join(" ")
        );
    }
    for s in summaries {
        if let Some(t) = &s.scrapes {
            println!(
                "{}: /metrics scraped every {} s during every run: {} answered 200 and parsed, \
                 {} failed, slowest {:.1} ms, {} bytes",
                s.kind.name(),
                SCRAPE_EVERY.as_secs(),
                t.answered,
                t.failed,
                t.slowest.as_secs_f64() * 1000.0,
                t.bytes
            );
        }
    }
    for reference in [DutKind::Bird, DutKind::Frr, DutKind::BirdPolicy, DutKind::Bgpd] {
        let Some(base) = summaries.iter().find(|s| s.kind == reference) else {
            continue;
        };
        println!("\nratios against {} (lower is better):", reference.name());
        for s in summaries.iter().filter(|s| s.kind != reference) {
            println!(
                "  {:<10} time {:.2}x  CPU {:.3}x (schedstat {:.3}x)  RSS {:.2}x",
                s.kind.name(),
                s.time / base.time,
                s.cpu / base.cpu,
                s.sched_cpu / base.sched_cpu,
                s.rss / base.rss
            );
        }
    }
}
