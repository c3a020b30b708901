//! Memory benchmark: does bgpd give memory back after its routes are
//! withdrawn? (issue: 1M API paths took RSS from 19 MB to 340 MB and
//! withdrawing them all left 347 MB.)
//!
//! bgpd runs alone in a namespace (no peers: only the API, the owners' paths
//! and the RIB). Each cycle sets `--count` /32s (198.18.0.0/15, RFC 2544) with
//! one `SetPaths`, reads RSS (VmRSS), then withdraws them all with an empty
//! `SetPaths` and reads RSS again once it has been stable for a second (at
//! most `--settle` seconds: some allocators return memory on a timer).
//!
//! Compare allocators by building bgpd with each and pointing `IRONLB_BGPD`
//! at it, as root:
//! `cargo build --release -p bgpd --bin bgpd [--features jemalloc|mimalloc] &&
//!  cargo build --release -p interop-tests --bin bench-memory &&
//!  IRONLB_BGPD=target/release/bgpd target/release/bench-memory [--count 1000000] [--cycles 3]`.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use interop_tests::api::NsRuntime;
use interop_tests::bgpd::{Bgpd, BgpdConfig};
use interop_tests::topology::pair;
use interop_tests::{HarnessError, Result};
use ironlb_proto::bgpd::v1;

const API: &str = "127.0.0.1:50051";
const UP: Duration = Duration::from_secs(60);

struct Options {
    count: u32,
    cycles: usize,
    settle: Duration,
}

fn options() -> std::result::Result<Options, String> {
    let mut options = Options { count: 1_000_000, cycles: 3, settle: Duration::from_secs(15) };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut number = || -> std::result::Result<u64, String> {
            args.next().and_then(|v| v.parse().ok()).ok_or(format!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--count" => {
                options.count = u32::try_from(number()?).map_err(|_| "--count too large")?
            }
            "--cycles" => options.cycles = usize::try_from(number()?).map_err(|e| e.to_string())?,
            "--settle" => options.settle = Duration::from_secs(number()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// Resident set size in MB (VmRSS).
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// RSS once it has not moved by more than 1 MB for a second, or after `most`.
fn settled_rss_mb(pid: u32, most: Duration) -> f64 {
    let start = Instant::now();
    let mut last = rss_mb(pid);
    let mut stable_since = Instant::now();
    while start.elapsed() < most {
        std::thread::sleep(Duration::from_millis(100));
        let now = rss_mb(pid);
        if (now - last).abs() > 1.0 {
            stable_since = Instant::now();
            last = now;
        } else if stable_since.elapsed() >= Duration::from_secs(1) {
            return now;
        }
    }
    rss_mb(pid)
}

fn set_paths(runtime: &NsRuntime, count: u32) -> Result<()> {
    let mut client = runtime.client(API, UP)?;
    let paths = (0..count)
        .map(|i| v1::Path {
            prefix: format!("{}/32", Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + i)),
            communities: vec!["65001:100".to_owned()],
            ..v1::Path::default()
        })
        .collect();
    let request =
        v1::SetPathsRequest { owner: "bench".to_owned(), paths, grace_time_seconds: None };
    runtime.run(async move { client.set_paths(request).await }).map(|_| ()).map_err(|status| {
        HarnessError::CommandFailed {
            command: "SetPaths".to_owned(),
            status: status.code().to_string(),
            stderr: status.message().to_owned(),
        }
    })
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(&options) {
        eprintln!("bench-memory: {error}");
        std::process::exit(1);
    }
}

fn run(options: &Options) -> Result<()> {
    let pair = pair("mem", "unused")?;
    let bgpd = Bgpd::start(&pair.left, &BgpdConfig::new(65001, Ipv4Addr::new(192, 0, 2, 1)))?;
    let runtime = NsRuntime::new(&pair.left)?;
    runtime.client(API, UP)?;
    let pid = bgpd.pid();
    let idle = settled_rss_mb(pid, options.settle);
    println!("{} paths per cycle; bgpd idle: {idle:.0} MB", options.count);
    println!("| cycle | loaded | after withdrawing all |");
    println!("|---|---|---|");
    for cycle in 1..=options.cycles {
        set_paths(&runtime, options.count)?;
        let loaded = settled_rss_mb(pid, Duration::from_secs(3));
        set_paths(&runtime, 0)?;
        let after = settled_rss_mb(pid, options.settle);
        println!("| {cycle} | {loaded:.0} MB | {after:.0} MB |");
    }
    Ok(())
}
