//! Kubernetes benchmark (issue 5, "Speed"): from a Service's EndpointSlice becoming ready
//! in the API server to its /32 reaching FRR, over N Services (default 1,000).
//!
//! The world is `interop_tests::k8s`'s (API server, controller and speaker in this
//! process, bgpd in the node's namespace, FRR beside it). The pool is 198.18.0.0/20
//! (RFC 2544's benchmarking range: 1,000 /32s do not fit the documentation ranges).
//! N Services of ETP Cluster are created with EndpointSlices that are not ready, and
//! given their addresses by the controller; then:
//!
//! (a) one at a time: the slice's endpoint is marked ready (the clock starts before the
//!     write to the API server) and two times are taken:
//!     - on the wire: the UPDATE carrying the /32 captured on FRR's side of the link
//!       (`tcpdump -l -tt` in FRR's namespace, kernel capture stamps, read as they come);
//!     - in FRR's table: the /32 is FRR's selected best path (its BGP Loc-RIB), seen by
//!       querying FRR's bgpd over its vty socket (one connection kept open, `show bgp
//!       ipv4 unicast P/32 json` every millisecond until the path has `bestpath.overall`).
//!     FRR's share is table minus wire: FRR holds a received route in its work queue
//!     before best-path selection, which no speaker can shorten. Median, p99 and worst of
//!     each over the N.
//!     Why this and not BMP or the kernel: FRR 8.4's BMP has no Loc-RIB monitoring, and
//!     its adj-RIB-in monitoring fires when the UPDATE arrives, not when the route is
//!     selected; the harness runs FRR's bgpd without zebra (`-Z`), so there is no FIB.
//! (b) all at once: every slice back to not ready (FRR's table empty), then all N marked
//!     ready by concurrent writes; the time until FRR counts the N received (polled) and
//!     until the last UPDATE is on the wire.
//!
//! Run by hand as root: `cargo build --release -p bgpd -p interop-tests --bin bgpd --bin
//! bench-k8s && IRONLB_BGPD=target/release/bgpd target/release/bench-k8s [--count 1000]`.
//! `RUST_LOG=k8s_adapter=debug` prints the speaker's per-batch compute time.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use interop_tests::k8s::{NODE, NODE_ADDRESS, World, service, slice, world};
use interop_tests::{Family, HarnessError, Result, wait_until};
use serde_json::json;

const POOL: &str = "198.18.0.0/20";
const POOL_SIZE: usize = 4096;
const CONVERGE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(10);
/// Between two queries of FRR's table for one prefix.
const VTY_POLL: Duration = Duration::from_millis(1);

/// bgpd's announcements to FRR: a KEEPALIVE or a one-prefix withdrawal makes a frame
/// shorter than 100 bytes, a one-prefix announcement a longer one.
fn announcements() -> String {
    format!("src host {NODE_ADDRESS} and tcp port 179 and greater 100")
}

/// `tcpdump -l -n -tt` in a namespace, its lines read by a thread as they come.
struct Wire {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Wire {
    fn start(namespace: &str, interface: &str) -> Result<Self> {
        let filter = announcements();
        let args = ["netns", "exec", namespace, "tcpdump", "-l", "-n", "-tt", "-i", interface];
        let mut child = Command::new("ip")
            .args(args)
            .arg(&filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| HarnessError::Io { command: "tcpdump".to_owned(), source })?;
        let stdout = child.stdout.take().ok_or_else(|| HarnessError::Io {
            command: "tcpdump".to_owned(),
            source: std::io::Error::other("no stdout"),
        })?;
        let stderr = child.stderr.take().ok_or_else(|| HarnessError::Io {
            command: "tcpdump".to_owned(),
            source: std::io::Error::other("no stderr"),
        })?;
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        // tcpdump says "listening on ..." on stderr once its filter is attached.
        let mut said = String::new();
        let mut stderr = std::io::BufReader::new(stderr);
        while !said.contains("listening") {
            let read = stderr.read_line(&mut said).map_err(|source| HarnessError::Io {
                command: "tcpdump stderr".to_owned(),
                source,
            })?;
            if read == 0 {
                return Err(HarnessError::Io {
                    command: "tcpdump".to_owned(),
                    source: std::io::Error::other(said),
                });
            }
        }
        Ok(Self { child, lines })
    }

    /// The capture stamp (seconds since the epoch) of the first line stamped at or
    /// after `since`.
    fn first_after(&self, since: f64, deadline: Duration) -> Result<f64> {
        let limit = Instant::now() + deadline;
        loop {
            let left = limit.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).map_err(|_| HarnessError::Timeout {
                what: "the UPDATE on the wire".to_owned(),
                waited: deadline,
                last: String::new(),
            })?;
            if let Some(stamp) = stamp(&line).filter(|&t| t >= since) {
                return Ok(stamp);
            }
        }
    }

    /// The stamp of the last line that arrives before `quiet` passes without one.
    fn last(&self, quiet: Duration) -> Option<f64> {
        let mut last = None;
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            last = stamp(&line).or(last);
        }
        last
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One open connection to FRR's bgpd vty socket, speaking vtysh's protocol: a command
/// ends with NUL; the answer ends with three NULs and a status byte.
struct Vty {
    stream: UnixStream,
    answer: Vec<u8>,
}

impl Vty {
    fn connect(path: &std::path::Path) -> Result<Self> {
        let stream = UnixStream::connect(path).map_err(|source| HarnessError::Io {
            command: format!("connect {}", path.display()),
            source,
        })?;
        Ok(Self { stream, answer: Vec::with_capacity(1 << 16) })
    }

    fn query(&mut self, command: &str) -> Result<&[u8]> {
        let io = |source| HarnessError::Io { command: format!("vty {command}"), source };
        self.stream.write_all(command.as_bytes()).map_err(io)?;
        self.stream.write_all(&[0]).map_err(io)?;
        self.answer.clear();
        let mut chunk = [0u8; 8192];
        loop {
            let n = self.stream.read(&mut chunk).map_err(io)?;
            if n == 0 {
                return Err(io(std::io::Error::other("FRR closed the vty")));
            }
            self.answer.extend_from_slice(&chunk[..n]);
            let len = self.answer.len();
            if len >= 4 && self.answer[len - 4..len - 1] == [0, 0, 0] {
                return Ok(&self.answer[..len - 4]);
            }
        }
    }

    /// Whether `prefix` is FRR's selected best path.
    fn selected(&mut self, prefix: &str) -> Result<bool> {
        let answer = self.query(&format!("show bgp ipv4 unicast {prefix} json"))?;
        let needle = b"\"overall\":true";
        Ok(answer.windows(needle.len()).any(|w| w == needle))
    }

    /// Polls until `prefix` is selected; the time it was seen so.
    fn wait_selected(&mut self, prefix: &str, deadline: Duration) -> Result<f64> {
        let limit = Instant::now() + deadline;
        loop {
            if self.selected(prefix)? {
                return Ok(epoch_seconds());
            }
            if Instant::now() > limit {
                return Err(HarnessError::Timeout {
                    what: format!("{prefix} selected in FRR's table"),
                    waited: deadline,
                    last: String::from_utf8_lossy(&self.answer).into_owned(),
                });
            }
            std::thread::sleep(VTY_POLL);
        }
    }
}

fn stamp(line: &str) -> Option<f64> {
    line.split_whitespace().next()?.parse().ok()
}

fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn name(index: usize) -> String {
    format!("svc-{index}")
}

fn frr_count(world: &World) -> Result<u64> {
    Ok(world.frr.prefix_counts(std::net::IpAddr::V4(NODE_ADDRESS), Family::Ipv4Unicast)?.0)
}

fn wait_frr_count(world: &World, what: &str, count: u64) -> Result<Instant> {
    world.bgpd.annotate(wait_until(
        what,
        CONVERGE,
        POLL,
        || frr_count(world).ok().filter(|&c| c == count).map(|_| Instant::now()),
        || format!("FRR has {:?}", frr_count(world)),
    ))
}

/// N Services with slices that are not ready, each with its address.
fn populate(world: &World, count: usize) -> Result<()> {
    world.runtime.block_on(async {
        for index in 0..count {
            let name = name(index);
            let inserted = async {
                world.server.insert(service(&name, false)).await?;
                world.server.insert(slice(&name, NODE, false)).await
            };
            inserted.await.map_err(|e| HarnessError::Io {
                command: format!("create {name}"),
                source: std::io::Error::other(e.to_string()),
            })?;
        }
        Ok::<(), HarnessError>(())
    })?;
    let allocated = || {
        world
            .runtime
            .block_on(world.server.list("v1", "Service", Some("default")))
            .map(|all| {
                all.iter()
                    .filter(|s| !s["status"]["loadBalancer"]["ingress"][0]["ip"].is_null())
                    .count()
            })
            .unwrap_or(0)
    };
    wait_until(
        "the controller to give every Service its address",
        CONVERGE,
        Duration::from_millis(50),
        || (allocated() == count).then_some(()),
        || format!("{} allocated", allocated()),
    )
}

/// Each Service's address, by name.
fn addresses(world: &World) -> Result<HashMap<String, String>> {
    let all = world.runtime.block_on(world.server.list("v1", "Service", Some("default"))).map_err(
        |e| HarnessError::Io {
            command: "list Services".to_owned(),
            source: std::io::Error::other(e.to_string()),
        },
    )?;
    Ok(all
        .iter()
        .filter_map(|s| {
            let name = s["metadata"]["name"].as_str()?;
            let ip = s["status"]["loadBalancer"]["ingress"][0]["ip"].as_str()?;
            Some((name.to_owned(), ip.to_owned()))
        })
        .collect())
}

fn set_ready(world: &World, index: usize, ready: bool) -> Result<()> {
    let name = format!("{}-a", name(index));
    world
        .runtime
        .block_on(world.server.modify(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            Some("default"),
            &name,
            move |o| o["endpoints"][0]["conditions"]["ready"] = json!(ready),
        ))
        .map(|_| ())
        .map_err(|e| HarnessError::Io {
            command: format!("modify {name}"),
            source: std::io::Error::other(e.to_string()),
        })
}

/// All N slices set to `ready` by concurrent writes.
fn set_all(world: &World, count: usize, ready: bool) -> Result<()> {
    let handles: Vec<_> = (0..count)
        .map(|index| {
            let server = world.server.clone();
            let name = format!("{}-a", name(index));
            world.runtime.spawn(async move {
                server
                    .modify(
                        "discovery.k8s.io/v1",
                        "EndpointSlice",
                        Some("default"),
                        &name,
                        move |o| o["endpoints"][0]["conditions"]["ready"] = json!(ready),
                    )
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    world.runtime.block_on(async {
        for handle in handles {
            let outcome = handle.await.map_err(|e| e.to_string()).and_then(|r| r);
            outcome.map_err(|e| HarnessError::Io {
                command: "modify slice".to_owned(),
                source: std::io::Error::other(e),
            })?;
        }
        Ok(())
    })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn run(count: usize) -> Result<()> {
    let world = world(POOL);
    populate(&world, count)?;
    let addresses = addresses(&world)?;
    let wire = Wire::start(world.peer.name(), "to-node")?;
    let mut vty = Vty::connect(&world.frr.vty_socket())?;

    // (a) one at a time.
    let mut to_wire = Vec::with_capacity(count);
    let mut to_table = Vec::with_capacity(count);
    let mut frr_share = Vec::with_capacity(count);
    for index in 0..count {
        let prefix = addresses.get(&name(index)).map(|ip| format!("{ip}/32")).ok_or_else(|| {
            HarnessError::Io {
                command: format!("address of {}", name(index)),
                source: std::io::Error::other("no address"),
            }
        })?;
        let started = epoch_seconds();
        set_ready(&world, index, true)?;
        let in_table = world.bgpd.annotate(vty.wait_selected(&prefix, CONVERGE))?;
        let on_wire = world.bgpd.annotate(wire.first_after(started, CONVERGE))?;
        if std::env::var_os("RUST_LOG").is_some() {
            eprintln!("sample {index}: started {started:.6} wire {on_wire:.6} table {in_table:.6}");
        }
        let since = |t: f64| Duration::from_secs_f64((t - started).max(0.0));
        to_wire.push(since(on_wire));
        to_table.push(since(in_table));
        frr_share.push(Duration::from_secs_f64((in_table - on_wire).max(0.0)));
    }
    wait_frr_count(&world, "FRR's table to hold every /32", count as u64)?;
    let summary = |samples: &mut Vec<Duration>| {
        samples.sort();
        let at = |q: f64| {
            samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        (at(0.5), at(0.99), at(1.0))
    };
    let (wire_median, wire_p99, wire_worst) = summary(&mut to_wire);
    let (table_median, table_p99, table_worst) = summary(&mut to_table);
    let (frr_median, frr_p99, frr_worst) = summary(&mut frr_share);
    println!(
        "(a) one at a time, {count} Services, slice ready in the API server ->\n\
         \x20   UPDATE on FRR's link:   median {:.2} ms, p99 {:.2} ms, worst {:.2} ms\n\
         \x20   in FRR's table (best):  median {:.2} ms, p99 {:.2} ms, worst {:.2} ms\n\
         \x20   FRR's share (wire->table): median {:.2} ms, p99 {:.2} ms, worst {:.2} ms\n\
         \x20   ours / FRR's, medians: {:.2}",
        ms(wire_median),
        ms(wire_p99),
        ms(wire_worst),
        ms(table_median),
        ms(table_p99),
        ms(table_worst),
        ms(frr_median),
        ms(frr_p99),
        ms(frr_worst),
        ms(wire_median) / ms(frr_median).max(f64::EPSILON),
    );

    // (b) all at once.
    set_all(&world, count, false)?;
    wait_frr_count(&world, "FRR's table to empty", 0)?;
    let _ = wire.last(Duration::from_millis(300));
    let started_epoch = epoch_seconds();
    let started = Instant::now();
    set_all(&world, count, true)?;
    let written = started.elapsed();
    let in_table = wait_frr_count(&world, "FRR's table to hold every /32 again", count as u64)?;
    let last_on_wire = wire.last(Duration::from_millis(300)).unwrap_or(started_epoch);
    println!(
        "(b) all {count} at once: writes done {:.1} ms, last UPDATE at FRR {:.1} ms, FRR counts all {count} received (polled every {} ms) {:.1} ms",
        ms(written),
        (last_on_wire - started_epoch) * 1000.0,
        POLL.as_millis(),
        ms(in_table.saturating_duration_since(started)),
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let mut count = 1000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|v| v.parse::<usize>().ok())) {
            ("--count", Some(n)) if (1..=POOL_SIZE).contains(&n) => count = n,
            _ => {
                eprintln!("usage: bench-k8s [--count N]   (1 <= N <= {POOL_SIZE})");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    match run(count) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-k8s: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
