//! API benchmark: how fast paths given to bgpd's gRPC API reach FRR.
//!
//! ```text
//!   [bgpd AS65001, API on its loopback] 192.0.2.1 ──── 192.0.2.2 [FRR AS65002]
//! ```
//!
//! (a) One `SetPaths` of N /32s (from 198.18.0.0/15, RFC 2544) from the call
//!     until FRR's BGP table holds all N (`show bgp summary json`, polled every
//!     10 ms), and bgpd's peak RSS (VmHWM) after it.
//! (b) One `AddPaths` of a single /32 until zebra installs it in the kernel of
//!     FRR's namespace: `ip monitor route` runs there with its output piped to
//!     a reader thread that stamps each line as it arrives (no vtysh polling).
//!     Then `DeletePaths` and wait for the removal; repeated, median and worst.
//!     Also the time until the UPDATE is on the link (`tcpdump -tt` in FRR's
//!     namespace): FRR holds received routes ~60 ms in its work queues before
//!     the kernel has them, which no speaker can shorten.
//!
//! Both are measured again with BIRD in bgpd's place (`bench_api/baseline.rs`)
//! and reported as ratios (bgpd / BIRD, below 1 is faster), with the UPDATE
//! count FRR received for (a) (`show bgp neighbors json`, `updatesRecv`).
//!
//! Run by hand as root, release build:
//! `cargo build --release -p bgpd -p interop-tests --bin bgpd --bin bench-api &&
//!  IRONLB_BGPD=target/release/bgpd target/release/bench-api [--count 100000] [--repeat 20]`.

use std::io::BufRead;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use interop_tests::api::NsRuntime;
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor};
use interop_tests::topology::pair;
use interop_tests::{Family, HarnessError, Result, wait_until};
use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

#[path = "bench_api/baseline.rs"]
mod baseline;

const API: &str = "127.0.0.1:50051";
/// The sender's announcements to FRR: a KEEPALIVE or a one-prefix withdrawal
/// makes a frame shorter than 100 bytes, a one-prefix announcement a longer
/// one. Port 179 on either end: either side may have opened the connection.
const ANNOUNCEMENTS: &str = "src host 192.0.2.1 and tcp port 179 and greater 100";
const UP: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(120);

struct Options {
    count: u32,
    repeat: usize,
}

fn options() -> std::result::Result<Options, String> {
    let mut options = Options { count: 100_000, repeat: 20 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<u32>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--count" => options.count = number()?,
            "--repeat" => options.repeat = number()? as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

fn prefix(index: u32) -> String {
    format!("{}/32", Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + index))
}

fn path(prefix: String) -> v1::Path {
    v1::Path { prefix, ..v1::Path::default() }
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// utime + stime of a process, seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: utime and stime are fields 14 and 15 (1-based).
    let ticks: u64 =
        [11, 12].iter().filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok())).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    ticks as f64 / hz
}

fn status(what: &str, status: tonic::Status) -> HarnessError {
    HarnessError::CommandFailed {
        command: what.to_owned(),
        status: status.code().to_string(),
        stderr: status.message().to_owned(),
    }
}

/// A program in a namespace whose output lines are read as they come, each
/// with the instant it was read (`ip monitor route`, `tcpdump -l`).
struct LineReader {
    child: std::process::Child,
    lines: mpsc::Receiver<(Instant, String)>,
}

impl LineReader {
    fn start(namespace: &str, command: &[&str]) -> Result<Self> {
        let what = command.join(" ");
        let mut child = Command::new("ip")
            .args(["netns", "exec", namespace])
            .args(command)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| HarnessError::Io { command: what.clone(), source })?;
        let stdout = child.stdout.take().ok_or_else(|| HarnessError::Io {
            command: what,
            source: std::io::Error::other("no stdout"),
        })?;
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        // Let the program subscribe before anything is measured.
        std::thread::sleep(Duration::from_millis(500));
        while lines.try_recv().is_ok() {}
        Ok(Self { child, lines })
    }

    /// The first `tcpdump -tt` line stamped at or after `since` (seconds
    /// since the epoch), as its capture time in seconds since the epoch.
    fn first_stamp_after(&self, since: f64, deadline: Duration) -> Result<f64> {
        let limit = Instant::now() + deadline;
        loop {
            let left = limit.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((_, line)) => {
                    let stamp = line.split_whitespace().next().and_then(|t| t.parse::<f64>().ok());
                    if let Some(stamp) = stamp.filter(|&t| t >= since) {
                        return Ok(stamp);
                    }
                }
                Err(_) => {
                    return Err(HarnessError::Timeout {
                        what: "the UPDATE on the wire".to_owned(),
                        waited: deadline,
                        last: String::new(),
                    });
                }
            }
        }
    }

    /// The capture time (seconds since the epoch) of the last `tcpdump -tt`
    /// line read so far.
    fn last_stamp(&self) -> Result<f64> {
        let mut last = None;
        while let Ok((_, line)) = self.lines.recv_timeout(Duration::from_millis(300)) {
            last = line.split_whitespace().next().and_then(|t| t.parse::<f64>().ok()).or(last);
        }
        last.ok_or_else(|| HarnessError::Timeout {
            what: "UPDATEs on the wire".to_owned(),
            waited: Duration::from_millis(300),
            last: String::new(),
        })
    }

    /// The instant a line starting with `start` arrived.
    fn wait_for(&self, start: &str, deadline: Duration) -> Result<Instant> {
        let limit = Instant::now() + deadline;
        loop {
            let left = limit.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if line.starts_with(start) => return Ok(at),
                Ok(_) => {}
                Err(_) => {
                    return Err(HarnessError::Timeout {
                        what: format!("a route line `{start}`"),
                        waited: deadline,
                        last: String::new(),
                    });
                }
            }
        }
    }
}

impl Drop for LineReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bgpd_config(pair: &interop_tests::topology::Pair) -> BgpdConfig {
    BgpdConfig::new(65001, Ipv4Addr::new(192, 0, 2, 1))
        .neighbor(BgpdNeighbor::new(pair.right_v4, 65002))
}

fn frr_config(pair: &interop_tests::topology::Pair) -> FrrConfig {
    FrrConfig::new(65002, Ipv4Addr::new(192, 0, 2, 2))
        .neighbor(FrrNeighbor::new(pair.left_v4, 65001))
}

/// What (a) measured for one sender.
struct Bulk {
    /// t0 → the last announcement captured on FRR's side of the link.
    on_wire: Duration,
    /// t0 → FRR's BGP table holds every route.
    converged: Duration,
    /// UPDATEs FRR received meanwhile.
    updates: u64,
}

/// What (b) measured for one sender: medians.
struct Single {
    to_wire: Duration,
    to_kernel: Duration,
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// FRR's count of UPDATEs received from `neighbor`.
fn updates_received(frr: &Frr, neighbor: std::net::IpAddr) -> Result<u64> {
    let command = format!("show bgp neighbors {neighbor} json");
    let text = frr.vtysh(&[&command])?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| HarnessError::Parse {
        command: command.clone(),
        reason: e.to_string(),
        output: text.chars().take(2000).collect(),
    })?;
    Ok(json
        .get(neighbor.to_string())
        .and_then(|n| n.get("messageStats"))
        .and_then(|m| m.get("updatesRecv"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0))
}

/// (a): one SetPaths of `count` /32s until FRR's BGP table holds them all.
fn bulk(count: u32) -> Result<Bulk> {
    let pair = pair("bgpd", "frr")?;
    let bgpd = Bgpd::start(&pair.left, &bgpd_config(&pair))?;
    let frr = Frr::start(&pair.right, &frr_config(&pair))?;
    bgpd.annotate(frr.wait_established(pair.left_v4, UP))?;
    let runtime = NsRuntime::new(&pair.left)?;
    let mut client = runtime.client(API, UP)?;
    let received = || frr.prefix_counts(pair.left_v4, Family::Ipv4Unicast).map_or(0, |c| c.0);
    let tcpdump = ["tcpdump", "-l", "-n", "-tt", "-i", &pair.interfaces.1, ANNOUNCEMENTS];
    let wire = LineReader::start(pair.right.name(), &tcpdump)?;
    let updates_before = updates_received(&frr, pair.left_v4)?;

    let request = v1::SetPathsRequest {
        owner: "bench".to_owned(),
        paths: (0..count).map(|i| path(prefix(i))).collect(),
        grace_time_seconds: None,
    };
    let cpu_before = cpu_seconds(bgpd.pid());
    let called = epoch_seconds();
    let start = Instant::now();
    let answer = runtime.run(async move { client.set_paths(request).await });
    let answered = start.elapsed();
    let added = answer.map_err(|e| status("SetPaths", e))?.into_inner().added.len();
    wait_until(
        "FRR to hold every path",
        CONVERGE,
        Duration::from_millis(10),
        || (received() >= u64::from(count)).then_some(()),
        || format!("FRR has {}", received()),
    )?;
    let converged = start.elapsed();
    let cpu = cpu_seconds(bgpd.pid()) - cpu_before;
    let last_on_wire = wire.last_stamp()?;
    let updates = updates_received(&frr, pair.left_v4)?.saturating_sub(updates_before);
    println!(
        "SetPaths of {count} /32s: answered in {:.1} ms ({added} added), last UPDATE on the wire \
         after {:.1} ms, all in FRR's BGP table after {:.1} ms; {updates} UPDATEs; bgpd CPU \
         {:.0} ms; bgpd peak RSS {:.1} MB",
        answered.as_secs_f64() * 1e3,
        (last_on_wire - called) * 1e3,
        converged.as_secs_f64() * 1e3,
        cpu * 1e3,
        peak_rss_mb(bgpd.pid())
    );
    Ok(Bulk {
        on_wire: Duration::from_secs_f64((last_on_wire - called).max(0.0)),
        converged,
        updates,
    })
}

/// FRR's bgpd with zebra, so that routes reach the namespace's kernel table
/// (the harness runs `bgpd -Z`, without zebra).
struct FrrWithZebra {
    _zebra: interop_tests::netns::Process,
    _bgpd: interop_tests::netns::Process,
    _dir: interop_tests::TempDir,
}

impl FrrWithZebra {
    fn start(namespace: &interop_tests::netns::Namespace, config: &FrrConfig) -> Result<Self> {
        let dir = interop_tests::TempDir::new("frrz")?;
        let text = |p: std::path::PathBuf| p.display().to_string();
        let zserv = text(dir.join("zserv.api"));
        let vty = dir.path().display().to_string();
        let zebra_conf = dir.write("zebra.conf", "")?;
        // zebra refuses to run as root unless root is in the `frrvty` group,
        // so it runs as `frr` (keeping the capabilities it needs) and gets a
        // directory it may write to.
        use std::os::unix::fs::PermissionsExt;
        let open = |path: &std::path::Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|source| HarnessError::Io { command: "chmod".into(), source })
        };
        open(dir.path(), 0o777)?;
        open(&zebra_conf, 0o666)?;
        let zebra_args = [
            "-z".to_owned(),
            zserv.clone(),
            "-u".to_owned(),
            "frr".to_owned(),
            "-g".to_owned(),
            "frr".to_owned(),
            "-f".to_owned(),
            text(zebra_conf),
            "-i".to_owned(),
            text(dir.join("zebra.pid")),
            "--vty_socket".to_owned(),
            vty.clone(),
        ];
        let zebra = namespace.spawn(
            "frr-zebra",
            std::path::Path::new("/usr/lib/frr/zebra"),
            &zebra_args,
            &dir.join("zebra.log"),
        )?;
        wait_until(
            "zebra's zserv socket",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || std::path::Path::new(&zserv).exists().then_some(()),
            String::new,
        )?;
        let conf = dir.write("frr.conf", &config.render(&dir.join("bgpd.log")))?;
        let bgpd_args = [
            "-z".to_owned(),
            zserv,
            "-S".to_owned(),
            "-u".to_owned(),
            "root".to_owned(),
            "-g".to_owned(),
            "root".to_owned(),
            "-f".to_owned(),
            text(conf),
            "-i".to_owned(),
            text(dir.join("bgpd.pid")),
            "--vty_socket".to_owned(),
            vty,
            "-P".to_owned(),
            "0".to_owned(),
        ];
        let bgpd = namespace.spawn(
            "frr-bgpd",
            std::path::Path::new("/usr/lib/frr/bgpd"),
            &bgpd_args,
            &dir.join("stdout.log"),
        )?;
        Ok(Self { _zebra: zebra, _bgpd: bgpd, _dir: dir })
    }
}

fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One AddPaths of one /32 until zebra installs it, then DeletePaths until
/// it is removed. Returns (call → UPDATE captured on FRR's side of the link,
/// call → route in FRR's kernel table).
fn single(
    runtime: &NsRuntime,
    client: &BgpServiceClient<Channel>,
    monitor: &LineReader,
    wire: &LineReader,
    index: u32,
) -> Result<(Duration, Duration)> {
    let single = prefix(index);
    let address = single.trim_end_matches("/32").to_owned();
    let mut adder = client.clone();
    let request =
        v1::AddPathsRequest { owner: "single".to_owned(), paths: vec![path(single.clone())] };
    let called = epoch_seconds();
    let start = Instant::now();
    runtime
        .run(async move { adder.add_paths(request).await })
        .map_err(|e| status("AddPaths", e))?;
    let installed = monitor.wait_for(&format!("{address} "), CONVERGE)?;
    let on_wire = wire.first_stamp_after(called, CONVERGE)?;
    let mut deleter = client.clone();
    let request = v1::DeletePathsRequest { owner: "single".to_owned(), prefixes: vec![single] };
    runtime
        .run(async move { deleter.delete_paths(request).await })
        .map_err(|e| status("DeletePaths", e))?;
    monitor.wait_for(&format!("Deleted {address} "), CONVERGE)?;
    let wire_time = Duration::from_secs_f64((on_wire - called).max(0.0));
    Ok((wire_time, installed.saturating_duration_since(start)))
}

/// (b): the single route, `repeat` times after one warm-up (which also
/// waits for the session). FRR itself holds a received route for its work
/// queue's 50 ms (`WORK_QUEUE_DEFAULT_HOLD`) and zebra for 10 ms more before
/// the kernel sees it, so the time to the wire is reported beside it: that
/// part is bgpd's.
fn latency(repeat: usize) -> Result<Single> {
    let pair = pair("bgpd", "frrz")?;
    let bgpd = Bgpd::start(&pair.left, &bgpd_config(&pair))?;
    let _frr = FrrWithZebra::start(&pair.right, &frr_config(&pair))?;
    let monitor = LineReader::start(pair.right.name(), &["ip", "monitor", "route"])?;
    let tcpdump = ["tcpdump", "-l", "-n", "-tt", "-i", &pair.interfaces.1, ANNOUNCEMENTS];
    let wire = LineReader::start(pair.right.name(), &tcpdump)?;
    let runtime = NsRuntime::new(&pair.left)?;
    let client = runtime.client(API, UP)?;
    bgpd.annotate(single(&runtime, &client, &monitor, &wire, 0))?;
    let mut to_wire = Vec::with_capacity(repeat);
    let mut to_kernel = Vec::with_capacity(repeat);
    for round in 0..repeat {
        let (wire_time, kernel_time) =
            single(&runtime, &client, &monitor, &wire, 1 + round as u32)?;
        to_wire.push(wire_time);
        to_kernel.push(kernel_time);
    }
    for (what, samples) in
        [("on the wire to FRR", &mut to_wire), ("in FRR's kernel table", &mut to_kernel)]
    {
        samples.sort_unstable();
        if let (Some(median), Some(worst)) = (samples.get(samples.len() / 2), samples.last()) {
            println!(
                "AddPaths of one /32 until it is {what}, {} runs: median {:.2} ms, worst {:.2} ms",
                samples.len(),
                ms(*median),
                ms(*worst)
            );
        }
    }
    Ok(Single { to_wire: median(&mut to_wire), to_kernel: median(&mut to_kernel) })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// One line of the comparison: bgpd, BIRD, and their ratio.
fn compare(what: &str, ours: Duration, bird: Duration) {
    println!(
        "  {what:<40} bgpd {:>9.2} ms   BIRD {:>9.2} ms   bgpd/BIRD {:.2}",
        ms(ours),
        ms(bird),
        ms(ours) / ms(bird).max(f64::MIN_POSITIVE)
    );
}

fn run(options: &Options) -> Result<()> {
    let bulk_results = if options.count > 0 {
        let ours = bulk(options.count)?;
        let bird = baseline::bulk(options.count)?;
        Some((ours, bird))
    } else {
        None
    };
    let ours = latency(options.repeat)?;
    let bird = baseline::latency(options.repeat)?;
    println!("\nSame run, bgpd against BIRD 2 as the sender to the same FRR:");
    if let Some((ours_bulk, bird_bulk)) = bulk_results {
        let count = options.count;
        compare(
            &format!("{count} /32s, last UPDATE on the wire"),
            ours_bulk.on_wire,
            bird_bulk.on_wire,
        );
        compare(
            &format!("{count} /32s, all in FRR's BGP table"),
            ours_bulk.converged,
            bird_bulk.converged,
        );
        println!(
            "  {:<40} bgpd {:>9}      BIRD {:>9}      bgpd/BIRD {:.2}",
            "UPDATEs FRR received",
            ours_bulk.updates,
            bird_bulk.updates,
            ours_bulk.updates as f64 / (bird_bulk.updates as f64).max(1.0)
        );
    }
    compare("one /32, median, on the wire", ours.to_wire, bird.to_wire);
    compare("one /32, median, in FRR's kernel", ours.to_kernel, bird.to_kernel);
    Ok(())
}

fn main() -> std::process::ExitCode {
    let result = options().and_then(|options| run(&options).map_err(|e| e.to_string()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-api: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
