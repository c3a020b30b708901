//! BFD stability under a full table (issue 15: "no false Down in 10 minutes
//! at 50 ms x 3 while the node's bgpd takes a 1M-prefix table"): bgpd keeps
//! a BFD session at 50 ms x 3 with FRR 8.4 (bgpd + bfdd) while the rig's
//! feeder pushes a 1,000,000-prefix IPv4 table into it, withdraws it all and
//! announces it again, for the whole window (default 10 minutes). BFD Down
//! events are counted on both sides at the end: bgpd's
//! `ironlb_bfd_session_down_events` and bfdd's `session-down` counter
//! (`show bfd peers counters json`); either above zero is a false Down.
//!
//! ```text
//!   [node: bgpd, AS65001] 192.0.2.1 ──┬── 192.0.2.2 [router: FRR + bfdd, AS65002]
//!                                     └── 192.0.2.3 [feeder: the rig, AS65003, same namespace]
//! ```
//!
//! The feeder is `interop_tests::rig` (a pre-encoded Internet-like table,
//! UPDATEs packed up to 4,096 octets, written at socket speed; then every
//! prefix withdrawn at socket speed). bgpd imports everything from it and
//! exports nothing to FRR (RFC 8212 default): the load is bgpd taking the
//! table, not FRR's. A round ends when bgpd's GetPeer says it accepted all
//! (or none, after the withdrawal) of the feeder's prefixes.
//!
//! Both BFD speakers run at SCHED_FIFO 1: bgpd's thread raises itself
//! (`bgpd::bfd::io`), FRR's bfdd is raised by the bench, so the shared
//! machine's other load starves neither.
//!
//! Run as root after `cargo build --release -p bgpd --bin bgpd && cargo
//! build -p interop-tests --bin bench-bfd-stability`:
//! `IRONLB_BGPD=target/release/bgpd target/debug/bench-bfd-stability
//! [--minutes 10] [--prefixes 1000000] [--interval 50] [--multiplier 3]`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bgpd::wire::{CodecOptions, Family as WireFamily, NextHop, Nlri, UpdatePacker};
use bytes::{Bytes, BytesMut};
use interop_tests::api::NsRuntime;
use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor};
use interop_tests::frr::{Frr, FrrBfd, FrrConfig, FrrNeighbor};
use interop_tests::netns::Namespace;
use interop_tests::rig::{self, HOLD_TIME, Session, Speaker, Tally};
use interop_tests::table::{Table, TableSpec};
use interop_tests::topology::pair;
use interop_tests::{HarnessError, Result, wait_until};
use ironlb_proto::bgpd::v1;

const NODE_AS: u32 = 65001;
const ROUTER_AS: u32 = 65002;
const FEEDER_AS: u32 = 65003;
const API: &str = "127.0.0.1:50051";
const METRICS: &str = "127.0.0.1:9179";
const UP: Duration = Duration::from_secs(60);

struct Options {
    minutes: u64,
    prefixes: usize,
    interval: u32,
    multiplier: u8,
}

fn options() -> std::result::Result<Options, String> {
    let mut o = Options { minutes: 10, prefixes: 1_000_000, interval: 50, multiplier: 3 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: std::num::ParseIntError| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--minutes" => o.minutes = value.parse().map_err(bad)?,
            "--prefixes" => o.prefixes = value.parse().map_err(bad)?,
            "--interval" => o.interval = value.parse().map_err(bad)?,
            "--multiplier" => o.multiplier = value.parse().map_err(bad)?,
            other => {
                return Err(format!(
                    "unknown argument {other}; use --minutes M --prefixes N --interval MS \
                     --multiplier M"
                ));
            }
        }
    }
    Ok(o)
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    match run(&options) {
        Ok(false) => {}
        Ok(true) => std::process::exit(1),
        Err(error) => {
            eprintln!("bench-bfd-stability failed: {error}");
            std::process::exit(1);
        }
    }
}

fn v4(octets: [u8; 4]) -> IpAddr {
    IpAddr::from(octets)
}

/// The feeder's two byte streams: the whole table (then End-of-RIB), and
/// the withdrawal of every prefix of it.
fn encode(table: &Table, options: &CodecOptions) -> Result<(Bytes, Bytes)> {
    let next_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 3));
    let announce = rig::encode_table(table, WireFamily::Ipv4Unicast, next_hop, options)?;
    let mut withdraw = BytesMut::new();
    UpdatePacker::new(*options)
        .withdraw(
            WireFamily::Ipv4Unicast,
            table.v4.iter().map(|(prefix, _)| Nlri::new(ipnet::IpNet::V4(*prefix))),
            &mut withdraw,
        )
        .map_err(|e| HarnessError::Encode { reason: e.to_string() })?;
    Ok((announce, withdraw.freeze()))
}

/// What bgpd's API says of one neighbor.
fn get_peer(runtime: &NsRuntime, address: IpAddr) -> Option<v1::Peer> {
    let mut client = runtime.client(API, UP).ok()?;
    runtime
        .run(async move {
            client.get_peer(v1::GetPeerRequest { address: address.to_string() }).await
        })
        .ok()?
        .into_inner()
        .peer
}

fn accepted(peer: &v1::Peer) -> u64 {
    peer.status.as_ref().map_or(0, |s| s.prefixes.iter().map(|p| p.accepted).sum())
}

fn bfd_up(peer: &v1::Peer) -> bool {
    peer.status
        .as_ref()
        .and_then(|s| s.bfd.as_ref())
        .is_some_and(|b| b.local_state == v1::BfdState::Up as i32)
}

/// bgpd's `ironlb_bfd_session_{up,down}_events` for `peer`, scraped with curl
/// inside the node's namespace.
fn bgpd_events(namespace: &Namespace, peer: IpAddr) -> Option<(u64, u64)> {
    let url = format!("http://{METRICS}/metrics");
    let output = namespace.exec("curl", &["-sf", "--max-time", "5", url.as_str()]).ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let label = format!("peer=\"{peer}\"");
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
    };
    Some((value("ironlb_bfd_session_up_events")?, value("ironlb_bfd_session_down_events")?))
}

/// bfdd's (session-up, session-down) counters for `peer`.
fn frr_events(router: &Frr, peer: IpAddr) -> Option<(u64, u64)> {
    let text = router.bfd_vtysh(&["show bfd peers counters json"]).ok()?;
    let all: serde_json::Value = serde_json::from_str(&text).ok()?;
    let entry = all.as_array()?.iter().find(|p| p["peer"] == peer.to_string())?.clone();
    Some((entry["session-up"].as_u64()?, entry["session-down"].as_u64()?))
}

fn run(o: &Options) -> Result<bool> {
    let started_encoding = Instant::now();
    let table = Table::generate(&TableSpec::internet(16, o.prefixes, 0, FEEDER_AS));
    let options = CodecOptions { four_octet_as: true, ..CodecOptions::default() };
    let (announce, withdraw) = encode(&table, &options)?;
    println!(
        "table: {} prefixes, {} MB announced, {} MB withdrawn, encoded in {:.1?}",
        table.v4.len(),
        announce.len() >> 20,
        withdraw.len() >> 20,
        started_encoding.elapsed()
    );
    let expected = table.v4.len() as u64;

    let pair = pair("node", "router")?;
    let feeder_address = v4([192, 0, 2, 3]);
    pair.right.add_address(&pair.interfaces.1, "192.0.2.3/24")?;
    let bfd = FrrBfd {
        receive_interval: o.interval,
        transmit_interval: o.interval,
        detect_multiplier: o.multiplier,
    };
    let mut router_config = FrrConfig::new(ROUTER_AS, Ipv4Addr::new(192, 0, 2, 2))
        .neighbor(FrrNeighbor::new(pair.left_v4, NODE_AS));
    router_config.bfd = Some(bfd);
    let router = Frr::start(&pair.right, &router_config)?;
    // bfdd gets what bgpd's BFD thread gives itself (SCHED_FIFO 1), so a
    // busy shared machine starves neither side: this bench is about bgpd's
    // own table load, and a false Down from the router's side would say
    // nothing about it.
    for pid in pair.right.pids() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "bfdd" {
            let parameters = libc::sched_param { sched_priority: 1 };
            // SAFETY: plain syscall with a live sched_param.
            let rc = unsafe {
                libc::sched_setscheduler(
                    pid as libc::pid_t,
                    libc::SCHED_FIFO,
                    &raw const parameters,
                )
            };
            println!("FRR bfdd (pid {pid}) at SCHED_FIFO 1: {}", rc == 0);
        }
    }

    let bfd_block = format!(
        "[neighbors.bfd]\nenabled = true\nmin_rx_ms = {0}\nmin_tx_ms = {0}\nmultiplier = {1}\n",
        o.interval, o.multiplier
    );
    let config = BgpdConfig::new(NODE_AS, Ipv4Addr::new(192, 0, 2, 1))
        .metrics(METRICS)
        .neighbor(BgpdNeighbor::new(pair.right_v4, ROUTER_AS).extra(&bfd_block))
        .neighbor(
            BgpdNeighbor::new(feeder_address, FEEDER_AS)
                .passive()
                .hold_time(HOLD_TIME)
                .import_policy(&["accept-all"]),
        );
    let node = Bgpd::start(&pair.left, &config)?;
    let runtime = NsRuntime::new(&pair.left)?;
    wait_until(
        "BGP Established and BFD Up with FRR",
        UP,
        Duration::from_millis(200),
        || {
            let peer = get_peer(&runtime, pair.right_v4)?;
            (bfd_up(&peer) && router.is_established(pair.left_v4)).then_some(())
        },
        || format!("{}\n{}", router.describe(pair.left_v4), node.log_tail(20)),
    )?;
    let feeder = Session::connect(
        &pair.right,
        Some(feeder_address),
        SocketAddr::new(pair.left_v4, 179),
        Speaker {
            asn: FEEDER_AS,
            router_id: Ipv4Addr::new(192, 0, 2, 3),
            family: WireFamily::Ipv4Unicast,
        },
        Tally::new(Instant::now()),
        UP,
    )?;
    let before = (bgpd_events(&pair.left, pair.right_v4), frr_events(&router, pair.left_v4));
    println!("BFD events before (up, down): bgpd {:?}, FRR {:?}", before.0, before.1);

    let window = Duration::from_secs(o.minutes * 60);
    let started = Instant::now();
    let mut rounds = Vec::new();
    while started.elapsed() < window {
        let round = Instant::now();
        for (bytes, target) in [(&announce, expected), (&withdraw, 0)] {
            feeder.send(bytes.clone())?;
            wait_until(
                "bgpd to hold the feeder's prefixes",
                Duration::from_secs(600),
                Duration::from_millis(250),
                || {
                    (get_peer(&runtime, feeder_address).map(|p| accepted(&p)) == Some(target))
                        .then_some(())
                },
                || {
                    let held = get_peer(&runtime, feeder_address).map(|p| accepted(&p));
                    format!(
                        "holds {held:?} of {target}; feeder: {:?}\n{}",
                        feeder.failure(),
                        node.log_tail(20)
                    )
                },
            )?;
        }
        rounds.push(round.elapsed());
        let bfd =
            get_peer(&runtime, pair.right_v4).and_then(|p| p.status.and_then(|s| s.bfd)).map(|b| {
                let state = v1::BfdState::try_from(b.local_state)
                    .map_or("unknown".to_owned(), |s| s.as_str_name().to_owned());
                format!("{state} ({} / remote {})", b.local_diagnostic, b.remote_diagnostic)
            });
        println!(
            "round {}: announce + withdraw {:.1?}; bgpd BFD {}; load {}",
            rounds.len(),
            round.elapsed(),
            bfd.unwrap_or_default(),
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
        );
    }
    let elapsed = started.elapsed();
    let after = (bgpd_events(&pair.left, pair.right_v4), frr_events(&router, pair.left_v4));
    let still_up = get_peer(&runtime, pair.right_v4).is_some_and(|p| bfd_up(&p))
        && router.is_established(pair.left_v4);
    let downs = |b: Option<(u64, u64)>, a: Option<(u64, u64)>| match (b, a) {
        (Some((_, b)), Some((_, a))) => Some(a.saturating_sub(b)),
        _ => None,
    };
    let bgpd_downs = downs(before.0, after.0);
    let frr_downs = downs(before.1, after.1);
    println!(
        "{} rounds of {} prefixes in {elapsed:.0?} at BFD {} ms x {}: BFD Down events: bgpd {}, FRR bfdd {}; \
         BFD Up and BGP Established at the end: {still_up}",
        rounds.len(),
        expected,
        o.interval,
        o.multiplier,
        bgpd_downs.map_or("unknown".to_owned(), |n| n.to_string()),
        frr_downs.map_or("unknown".to_owned(), |n| n.to_string()),
    );
    rounds.sort();
    if let (Some(first), Some(last)) = (rounds.first(), rounds.last()) {
        println!("round (announce + withdraw): fastest {first:.1?}, slowest {last:.1?}");
    }
    // What each side logged of its BFD state changes (bgpd's tracing lines;
    // bfdd logs its own at notice level).
    let changes = std::fs::read_to_string(node.log_path()).unwrap_or_default();
    for line in changes.lines().filter(|l| l.contains("bfd: session state changed")) {
        println!("bgpd: {line}");
    }
    match router.bfd_vtysh(&["show bfd peers counters json"]) {
        Ok(text) => println!("bfdd counters: {}", text.split_whitespace().collect::<String>()),
        Err(error) => println!("bfdd counters: {error}"),
    }
    println!("bfdd log tail:\n{}", router.bfd_log_tail(30));
    drop(feeder);
    let failed = bgpd_downs != Some(0) || frr_downs != Some(0) || !still_up;
    Ok(failed)
}
