//! The soak (issue #17): bgpd for N minutes with an FRR and a BIRD peer, one of the links
//! lossy and slow, under API churn and misbehaving API clients; then the tables compared and
//! the RSS and open-file slopes judged.
//!
//! ```text
//!   [FRR AS65002] 192.0.2.2 ── 192.0.2.1 [bgpd AS65001] 198.51.100.1 ── wire ── 198.51.100.2 [BIRD]
//!                                 API 127.0.0.1:50051      (200 ms, 5 % loss each way)  AS65003
//! ```
//!
//! - Churn: `rate` prefix changes a second through the gRPC API (AddPaths/DeletePaths in
//!   batches every 100 ms, owner `soak-churn`, /32s from 198.18.0.0/15), beside 1,000 stable
//!   paths (owner `soak-stable`) that must never move.
//! - Misbehaving clients, a round every 10 s: 3 Watch streams that are never read (each on its
//!   own connection), 8 TCP connections to the API that never send a byte, a `Session` that
//!   never sends `open` and one abandoned after `open`. Issue #17's bounds must cut each off:
//!   `[api] idle_timeout`, `session_open_timeout`, the lease hold time, `max_watchers` and
//!   `watch_buffer_events` (set low here so the bounds are reached within minutes).
//! - Every 10 s a CSV row: bgpd's VmRSS, its open files, both sessions' state and flap count
//!   (GetPeer), what the clients did.
//! - At the end: churn stops, the tables must converge (bgpd's Adj-RIB-Out to each peer is
//!   exactly what the peer holds from it, and holds every API path), no session may have
//!   flapped (the hold time, 90 s, is far above what 5 % loss and 400 ms round trips delay a
//!   KEEPALIVE), and the least-squares RSS and open-file slopes after the warm-up must stay
//!   within the bounds given.

pub mod clients;
pub mod sample;
pub mod tables;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;

use crate::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor};
use crate::bird::{Bird, BirdBgp, BirdConfig, BirdStatic, BirdStaticRoute};
use crate::frr::{Frr, FrrConfig, FrrNeighbor, FrrNetwork};
use crate::impair::{Impairment, Mode, impaired_link};
use crate::netns::{Namespace, connect};
use crate::{Family, HarnessError, Result, wait_until};
use clients::{ApiBounds, ChurnCounters, ChurnPlan, MisbehaviourCounters};
use sample::{CsvWriter, Sample};

const API: &str = "127.0.0.1:50051";
const FRR_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const BIRD_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const STABLE_PATHS: u32 = 1_000;
/// The prefixes FRR and BIRD announce to bgpd.
const FRR_NETWORKS: [&str; 2] = ["203.0.113.0/26", "203.0.113.64/26"];
const BIRD_NETWORKS: [&str; 2] = ["203.0.113.128/26", "203.0.113.192/26"];

/// How to run the soak.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long the churn runs.
    pub duration: Duration,
    /// Samples before this are left out of the slopes.
    pub warmup: Duration,
    /// Prefix changes a second, and the pool they cycle over.
    pub rate: u32,
    pub pool: u32,
    pub sample_every: Duration,
    /// BGP hold time on all three speakers, seconds.
    pub hold_time: u16,
    /// The BIRD link's impairment and how it is made.
    pub impairment: Impairment,
    pub mode: Mode,
    /// The bgpd binary; `None`: the harness's usual search (debug, then release).
    pub binary: Option<PathBuf>,
    pub csv: PathBuf,
    /// Bounds on the slopes after the warm-up.
    pub max_rss_mib_per_minute: f64,
    pub max_fds_per_minute: f64,
    /// How long the tables may take to converge once the churn stops.
    pub converge: Duration,
}

impl Options {
    /// The full soak: `minutes` of churn, the first 5 minutes warm-up; RSS may grow 1 MiB and
    /// the open files 1 a minute after it.
    pub fn full(minutes: u64) -> Self {
        Self {
            duration: Duration::from_secs(minutes * 60),
            warmup: Duration::from_secs(300.min(minutes * 60 / 2)),
            rate: 10_000,
            pool: 25_000,
            sample_every: Duration::from_secs(10),
            hold_time: 90,
            impairment: Impairment::SOAK,
            mode: Mode::Userspace { seed: 17 },
            binary: None,
            csv: std::env::temp_dir().join("ironlb-soak.csv"),
            max_rss_mib_per_minute: 1.0,
            max_fds_per_minute: 1.0,
            converge: Duration::from_secs(300),
        }
    }

    /// CI's 2-minute soak: the first minute is warm-up, and a slope over the 7 samples of the
    /// second minute is coarse (each stalled watcher's queue fills and frees in steps), so the
    /// bounds are wider: 16 MiB and 20 open files a minute.
    pub fn ci() -> Self {
        Self {
            duration: Duration::from_secs(120),
            warmup: Duration::from_secs(60),
            max_rss_mib_per_minute: 16.0,
            max_fds_per_minute: 20.0,
            converge: Duration::from_secs(180),
            ..Self::full(2)
        }
    }

    fn bounds(&self) -> ApiBounds {
        ApiBounds {
            idle_timeout: Duration::from_secs(20),
            session_open_timeout: Duration::from_secs(5),
            session_hold: Duration::from_secs(3),
            max_watchers: 8,
        }
    }
}

/// What the soak measured; `failures` is empty when it passed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub minutes: f64,
    pub changes: u64,
    pub changes_per_second: f64,
    pub churn_errors: u64,
    pub slowest_call_ms: f64,
    pub frr_flaps: u64,
    pub bird_flaps: u64,
    pub converged_after: Option<Duration>,
    pub final_frr_prefixes: usize,
    pub final_bird_prefixes: usize,
    pub rss_start_mib: f64,
    pub rss_end_mib: f64,
    pub rss_max_mib: f64,
    pub rss_mib_per_minute: Option<f64>,
    pub fds_start: u64,
    pub fds_end: u64,
    pub fds_max: u64,
    pub fds_per_minute: Option<f64>,
    pub clients: String,
    pub wire: String,
    pub csv: PathBuf,
    pub failures: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slope = |s: Option<f64>| s.map_or("n/a".to_owned(), |v| format!("{v:+.3}"));
        writeln!(f, "soak: {:.1} min of churn", self.minutes)?;
        writeln!(
            f,
            "  churn: {} changes, {:.0}/s achieved, {} errors, slowest call {:.0} ms",
            self.changes, self.changes_per_second, self.churn_errors, self.slowest_call_ms
        )?;
        writeln!(f, "  flaps: FRR {}, BIRD {}", self.frr_flaps, self.bird_flaps)?;
        writeln!(
            f,
            "  tables: converged after {:?}; FRR holds {}, BIRD holds {} prefixes from bgpd",
            self.converged_after, self.final_frr_prefixes, self.final_bird_prefixes
        )?;
        writeln!(
            f,
            "  RSS: {:.1} -> {:.1} MiB (max {:.1}), slope after warm-up {} MiB/min",
            self.rss_start_mib,
            self.rss_end_mib,
            self.rss_max_mib,
            slope(self.rss_mib_per_minute)
        )?;
        writeln!(
            f,
            "  open files: {} -> {} (max {}), slope after warm-up {} /min",
            self.fds_start,
            self.fds_end,
            self.fds_max,
            slope(self.fds_per_minute)
        )?;
        writeln!(f, "  clients: {}", self.clients)?;
        writeln!(f, "  wire: {}", self.wire)?;
        writeln!(f, "  samples: {}", self.csv.display())?;
        if self.failures.is_empty() {
            writeln!(f, "  PASSED")
        } else {
            writeln!(f, "  FAILED:")?;
            self.failures.iter().try_for_each(|reason| writeln!(f, "   - {reason}"))
        }
    }
}

fn net(text: &str) -> ipnet::IpNet {
    text.parse().unwrap_or_default()
}

fn status_error(what: &str, status: tonic::Status) -> HarnessError {
    HarnessError::CommandFailed {
        command: what.to_owned(),
        status: status.code().to_string(),
        stderr: status.message().to_owned(),
    }
}

/// A tokio runtime whose threads live in `namespace` (see `crate::api::NsRuntime`), kept
/// here as a plain runtime so that tasks can be spawned and joined later.
fn runtime_in(namespace: &Namespace) -> Result<tokio::runtime::Runtime> {
    let name = namespace.name().to_owned();
    let io = |command: &str, source| HarnessError::Io { command: command.to_owned(), source };
    std::thread::spawn(move || {
        // The runtime's threads are spawned from this one and inherit the namespace.
        crate::netns::enter(&name)?;
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| io("tokio runtime", e))
    })
    .join()
    .map_err(|_| io("namespace thread", std::io::Error::other("it panicked")))?
}

/// Runs `future` on the namespace's worker threads (not on the caller's, which is in the
/// root namespace) and waits for it; `None` if the task panicked.
fn on<F>(runtime: &tokio::runtime::Runtime, future: F) -> Option<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime.block_on(runtime.spawn(future)).ok()
}

/// The three speakers, the links and the API runtime.
struct World {
    bgpd: Bgpd,
    frr: Frr,
    bird: Bird,
    runtime: tokio::runtime::Runtime,
    link: crate::impair::ImpairedLink,
    _namespaces: [Namespace; 3],
}

fn build(options: &Options) -> Result<World> {
    let bgpd_ns = Namespace::new("soakbgpd")?;
    let frr_ns = Namespace::new("soakfrr")?;
    let bird_ns = Namespace::new("soakbird")?;
    connect(&bgpd_ns, "to-frr", &["192.0.2.1/24"], &frr_ns, "to-bgpd", &["192.0.2.2/24"])?;
    let link = impaired_link(
        (&bgpd_ns, "to-bird", &["198.51.100.1/24"]),
        (&bird_ns, "to-bgpd", &["198.51.100.2/24"]),
        options.impairment,
        options.mode,
    )?;
    let hold = options.hold_time;
    let config = BgpdConfig::new(65001, Ipv4Addr::new(192, 0, 2, 1))
        .neighbor(
            BgpdNeighbor::new(IpAddr::V4(FRR_ADDRESS), 65002)
                .local_address(IpAddr::from([192, 0, 2, 1]))
                .hold_time(hold),
        )
        .neighbor(
            BgpdNeighbor::new(IpAddr::V4(BIRD_ADDRESS), 65003)
                .local_address(IpAddr::from([198, 51, 100, 1]))
                .hold_time(hold),
        );
    let bounds = options.bounds();
    let api = format!(
        "[api]\nlisten = \"{API}\"\nidle_timeout = {}\nsession_open_timeout = {}\n\
         max_watchers = {}\nwatch_buffer_events = 16384\n",
        bounds.idle_timeout.as_secs(),
        bounds.session_open_timeout.as_secs(),
        bounds.max_watchers
    );
    let rendered = config.render().replace(&format!("[api]\nlisten = \"{API}\"\n"), &api);
    let program = match &options.binary {
        Some(path) => path.clone(),
        None => crate::bgpd::binary()?,
    };
    // `info`: at `debug` the churn and the stalled watchers' HTTP/2 frames log gigabytes a
    // minute (the first 30-minute run filled the disk).
    let bgpd = Bgpd::start_rendered(&bgpd_ns, &rendered, &program, "info")?;
    let mut frr_config = FrrConfig::new(65002, FRR_ADDRESS)
        .neighbor(FrrNeighbor::new(IpAddr::from([192, 0, 2, 1]), 65001).timers(hold / 3, hold));
    for prefix in FRR_NETWORKS {
        frr_config = frr_config.network(FrrNetwork::new(net(prefix)));
    }
    let frr = Frr::start(&frr_ns, &frr_config)?;
    let mut statics = BirdStatic::new("soaknets", Family::Ipv4Unicast);
    for prefix in BIRD_NETWORKS {
        statics = statics.route(BirdStaticRoute::new(net(prefix)));
    }
    let bird_config = BirdConfig::new(BIRD_ADDRESS)
        .bgp(BirdBgp::new("ironlb", 65003, IpAddr::from([198, 51, 100, 1]), 65001).hold_time(hold))
        .static_protocol(statics);
    let bird = Bird::start(&bird_ns, &bird_config)?;
    let runtime = runtime_in(&bgpd_ns)?;
    Ok(World { bgpd, frr, bird, runtime, link, _namespaces: [bgpd_ns, frr_ns, bird_ns] })
}

/// (state, flaps) of a peer by GetPeer.
async fn peer_state(
    mut client: v1::bgp_service_client::BgpServiceClient<tonic::transport::Channel>,
    address: String,
) -> (String, u64) {
    match client.get_peer(v1::GetPeerRequest { address }).await {
        Ok(answer) => {
            let status = answer.into_inner().peer.and_then(|p| p.status).unwrap_or_default();
            (format!("{:?}", status.state()), status.flaps)
        }
        Err(status) => (format!("error:{:?}", status.code()), u64::MAX),
    }
}

/// Runs the soak; `Err` only when the world cannot be built or bgpd dies, every other
/// finding is in `Report::failures`.
pub fn run(options: &Options) -> Result<Report> {
    let mut world = build(options)?;
    let mut report = Report { csv: options.csv.clone(), ..Report::default() };
    let up = Duration::from_secs(90);
    world.bgpd.annotate(world.frr.wait_established(IpAddr::from([192, 0, 2, 1]), up))?;
    world.bgpd.annotate(world.bird.wait_established("ironlb", up))?;

    let client = on(&world.runtime, async {
        let start = Instant::now();
        loop {
            if let Some(client) = clients::connect(API).await {
                return Some(client);
            }
            if start.elapsed() > Duration::from_secs(20) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .flatten()
    .ok_or_else(|| HarnessError::Timeout {
        what: "bgpd's API".to_owned(),
        waited: Duration::from_secs(20),
        last: world.bgpd.log_tail(20),
    })?;
    // BIRD is Established one delayed KEEPALIVE (200 ms) before bgpd is: wait for bgpd's view.
    let rt = &world.runtime;
    let both_up = || {
        let frr = on(rt, peer_state(client.clone(), FRR_ADDRESS.to_string()))?;
        let bird = on(rt, peer_state(client.clone(), BIRD_ADDRESS.to_string()))?;
        (frr.0 == "Established" && bird.0 == "Established").then_some(())
    };
    world.bgpd.annotate(wait_until(
        "bgpd to see both sessions Established",
        Duration::from_secs(30),
        Duration::from_millis(100),
        both_up,
        String::new,
    ))?;
    let stable: Vec<v1::Path> = (0..STABLE_PATHS)
        .map(|i| v1::Path { prefix: clients::host(clients::STABLE_BASE, i), ..Default::default() })
        .collect();
    let mut setter = client.clone();
    let stable_request = v1::SetPathsRequest {
        owner: clients::STABLE_OWNER.to_owned(),
        paths: stable,
        grace_time_seconds: None,
    };
    on(&world.runtime, async move { setter.set_paths(stable_request).await })
        .unwrap_or_else(|| Err(tonic::Status::internal("the SetPaths task panicked")))
        .map_err(|s| status_error("SetPaths soak-stable", s))?;

    let stop = Arc::new(AtomicBool::new(false));
    let churn_counters = Arc::new(ChurnCounters::default());
    let bad = Arc::new(MisbehaviourCounters::default());
    let plan =
        ChurnPlan { rate: options.rate, pool: options.pool, tick: Duration::from_millis(100) };
    let churn = world.runtime.spawn(clients::churn(
        client.clone(),
        plan,
        Arc::clone(&churn_counters),
        Arc::clone(&stop),
    ));
    let misbehaving = world.runtime.spawn(clients::misbehave(
        API.to_owned(),
        options.bounds(),
        Duration::from_secs(10),
        Arc::clone(&bad),
        Arc::clone(&stop),
    ));

    let mut csv = CsvWriter::create(&options.csv)?;
    let mut samples: Vec<Sample> = Vec::new();
    let started = Instant::now();
    let pid = world.bgpd.pid();
    let mut died = None;
    loop {
        let t = started.elapsed();
        let frr = on(&world.runtime, peer_state(client.clone(), FRR_ADDRESS.to_string()))
            .unwrap_or_default();
        let bird = on(&world.runtime, peer_state(client.clone(), BIRD_ADDRESS.to_string()))
            .unwrap_or_default();
        let sample = Sample {
            t_seconds: t.as_secs_f64(),
            rss_kib: sample::rss_kib(pid),
            fds: sample::open_fds(pid),
            frr_state: frr.0,
            frr_flaps: frr.1,
            bird_state: bird.0,
            bird_flaps: bird.1,
            churn_changes: churn_counters.changes.load(Ordering::Relaxed),
            stalled_watchers: bad.watchers_held.load(Ordering::Relaxed),
            idle_connections: bad.idle_held.load(Ordering::Relaxed),
            sessions_cut: bad.sessions_unopened_cut.load(Ordering::Relaxed)
                + bad.sessions_abandoned_cut.load(Ordering::Relaxed),
        };
        csv.push(&sample)?;
        eprintln!("soak {}", sample.csv_row());
        samples.push(sample);
        if let Err(error) = world.bgpd.check_running() {
            died = Some(error);
            break;
        }
        if t >= options.duration {
            break;
        }
        let next = options.sample_every * samples.len() as u32;
        std::thread::sleep(next.saturating_sub(started.elapsed()).min(options.sample_every));
    }
    stop.store(true, Ordering::Relaxed);
    let churn_time = started.elapsed();
    if let Some(error) = died {
        return Err(error);
    }
    let held = world.runtime.block_on(churn).unwrap_or_default();
    let _ = world.runtime.block_on(misbehaving);

    report.minutes = churn_time.as_secs_f64() / 60.0;
    report.changes = churn_counters.changes.load(Ordering::Relaxed);
    report.changes_per_second = report.changes as f64 / churn_time.as_secs_f64();
    report.churn_errors = churn_counters.errors.load(Ordering::Relaxed);
    report.slowest_call_ms = churn_counters.slowest_call_us.load(Ordering::Relaxed) as f64 / 1e3;
    if report.churn_errors > 0 {
        report.failures.push(format!("{} churn calls failed or disagreed", report.churn_errors));
    }

    // The API paths every peer must get: the stable ones and what the churn left held.
    let mut expected: std::collections::BTreeSet<String> =
        (0..STABLE_PATHS).map(|i| clients::host(clients::STABLE_BASE, i)).collect();
    expected.extend(
        held.iter()
            .enumerate()
            .filter(|(_, h)| **h)
            .map(|(i, _)| clients::host(clients::CHURN_BASE, i as u32)),
    );
    converge(&world, &client, &expected, options.converge, &mut report);

    judge_sessions(&world, &samples, &client, &mut report);
    judge_resources(options, &samples, &mut report);
    report.clients = clients_summary(&bad, options.bounds(), &mut report.failures);
    report.wire = format!("{:?}", world.link.counts());
    Ok(report)
}

/// Polls until each peer holds exactly bgpd's Adj-RIB-Out towards it and that holds every
/// expected API path plus the other peer's networks.
fn converge(
    world: &World,
    client: &v1::bgp_service_client::BgpServiceClient<tonic::transport::Channel>,
    expected: &std::collections::BTreeSet<String>,
    deadline: Duration,
    report: &mut Report,
) {
    let start = Instant::now();
    let mut last = String::new();
    let frr_command = "show bgp ipv4 unicast neighbors 192.0.2.1 routes json";
    let result = wait_until(
        "the peers' tables to match bgpd's Adj-RIB-Out",
        deadline,
        Duration::from_secs(3),
        || {
            let out_frr = world
                .runtime
                .block_on(
                    world
                        .runtime
                        .spawn(tables::adj_rib_out(client.clone(), FRR_ADDRESS.to_string())),
                )
                .ok()?
                .ok()?;
            let out_bird = world
                .runtime
                .block_on(
                    world
                        .runtime
                        .spawn(tables::adj_rib_out(client.clone(), BIRD_ADDRESS.to_string())),
                )
                .ok()?
                .ok()?;
            let frr_text = world.frr.vtysh(&[frr_command]).ok()?;
            let frr_held = tables::frr_prefixes(&serde_json::from_str(&frr_text).ok()?);
            let bird_text = world.bird.birdc(&["show", "route", "protocol", "ironlb"]).ok()?;
            let bird_held = tables::bird_prefixes(&bird_text);
            let mut want_frr = expected.clone();
            want_frr.extend(BIRD_NETWORKS.map(str::to_owned));
            let mut want_bird = expected.clone();
            want_bird.extend(FRR_NETWORKS.map(str::to_owned));
            let problems: Vec<String> = [
                tables::difference(&out_frr, &frr_held).map(|d| format!("FRR: {d}")),
                tables::difference(&out_bird, &bird_held).map(|d| format!("BIRD: {d}")),
                (!want_frr.is_subset(&out_frr)).then(|| {
                    format!(
                        "{} expected paths not in the Adj-RIB-Out to FRR",
                        want_frr.difference(&out_frr).count()
                    )
                }),
                (!want_bird.is_subset(&out_bird)).then(|| {
                    format!(
                        "{} expected paths not in the Adj-RIB-Out to BIRD",
                        want_bird.difference(&out_bird).count()
                    )
                }),
            ]
            .into_iter()
            .flatten()
            .collect();
            report.final_frr_prefixes = frr_held.len();
            report.final_bird_prefixes = bird_held.len();
            last = problems.join("; ");
            problems.is_empty().then_some(())
        },
        String::new,
    );
    match result {
        Ok(()) => report.converged_after = Some(start.elapsed()),
        Err(_) => report.failures.push(format!("tables did not converge in {deadline:?}: {last}")),
    }
}

fn judge_sessions(
    world: &World,
    samples: &[Sample],
    client: &v1::bgp_service_client::BgpServiceClient<tonic::transport::Channel>,
    report: &mut Report,
) {
    let frr =
        on(&world.runtime, peer_state(client.clone(), FRR_ADDRESS.to_string())).unwrap_or_default();
    let bird = on(&world.runtime, peer_state(client.clone(), BIRD_ADDRESS.to_string()))
        .unwrap_or_default();
    report.frr_flaps = frr.1;
    report.bird_flaps = bird.1;
    for (name, (state, flaps)) in [("FRR", &frr), ("BIRD", &bird)] {
        if *flaps != 0 || state != "Established" {
            report.failures.push(format!("{name} session: {state} after {flaps} flaps"));
        }
    }
    let down: Vec<String> = samples
        .iter()
        .filter(|s| s.frr_state != "Established" || s.bird_state != "Established")
        .map(|s| format!("t={:.0}s FRR {} BIRD {}", s.t_seconds, s.frr_state, s.bird_state))
        .collect();
    if !down.is_empty() {
        report.failures.push(format!("sessions not Established at {}", down.join(", ")));
    }
    if let Ok(Some(status)) = world.frr.neighbor(IpAddr::from([192, 0, 2, 1]))
        && status.established_count != 1
    {
        report
            .failures
            .push(format!("FRR counts {} establishments (want 1)", status.established_count));
    }
}

fn judge_resources(options: &Options, samples: &[Sample], report: &mut Report) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    report.rss_start_mib = samples.first().map_or(0.0, |s| mib(s.rss_kib));
    report.rss_end_mib = samples.last().map_or(0.0, |s| mib(s.rss_kib));
    report.rss_max_mib = samples.iter().map(|s| mib(s.rss_kib)).fold(0.0, f64::max);
    report.fds_start = samples.first().map_or(0, |s| s.fds);
    report.fds_end = samples.last().map_or(0, |s| s.fds);
    report.fds_max = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    let (rss, fds) = sample::slopes_after(samples, options.warmup.as_secs_f64());
    report.rss_mib_per_minute = rss;
    report.fds_per_minute = fds;
    match rss {
        Some(v) if v > options.max_rss_mib_per_minute => report.failures.push(format!(
            "RSS grows {v:.3} MiB/min after the warm-up (bound {})",
            options.max_rss_mib_per_minute
        )),
        None => report.failures.push("too few samples after the warm-up for a slope".to_owned()),
        _ => {}
    }
    if let Some(v) = fds
        && v > options.max_fds_per_minute
    {
        report.failures.push(format!(
            "open files grow {v:.2}/min after the warm-up (bound {})",
            options.max_fds_per_minute
        ));
    }
}

fn clients_summary(
    c: &MisbehaviourCounters,
    bounds: ApiBounds,
    failures: &mut Vec<String>,
) -> String {
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    for (count, what) in [
        (get(&c.idle_overdue), "idle API connections outlived idle_timeout"),
        (
            get(&c.sessions_unopened_overdue),
            "Session streams without open outlived session_open_timeout",
        ),
        (get(&c.sessions_abandoned_overdue), "abandoned Session streams outlived their hold time"),
        (get(&c.watchers_alive), "stalled Watch streams were never cut off"),
        (get(&c.unexpected), "client calls failed unexpectedly"),
    ] {
        if count > 0 {
            failures.push(format!("{count} {what}"));
        }
    }
    if get(&c.watchers_cut_off) == 0 {
        failures.push("no stalled Watch stream was cut off".to_owned());
    }
    // Stalled watchers are opened every round and more are held than `max_watchers`: once
    // the first are cut off their slots must serve new ones (before the fix of
    // `api::streams::watch_stream`, a cut-off watcher kept its slot while its client
    // read nothing).
    if get(&c.watchers_opened) <= u64::from(bounds.max_watchers) {
        failures.push(format!(
            "only {} Watch streams were accepted in all: cut-off watchers keep their \
             max_watchers slots ({})",
            get(&c.watchers_opened),
            bounds.max_watchers
        ));
    }
    format!(
        "watchers opened {} refused {} cut off {} alive {} (at the end {}); idle connections opened {} closed {} \
         overdue {}; sessions without open cut {} overdue {}; abandoned sessions cut {} overdue {}; \
         unexpected {}",
        get(&c.watchers_opened),
        get(&c.watchers_refused),
        get(&c.watchers_cut_off),
        get(&c.watchers_alive),
        get(&c.watchers_alive_at_end),
        get(&c.idle_opened),
        get(&c.idle_closed),
        get(&c.idle_overdue),
        get(&c.sessions_unopened_cut),
        get(&c.sessions_unopened_overdue),
        get(&c.sessions_abandoned_cut),
        get(&c.sessions_abandoned_overdue),
        get(&c.unexpected)
    )
}
