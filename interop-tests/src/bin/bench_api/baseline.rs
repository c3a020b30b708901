//! The same two measurements with BIRD in bgpd's place, in the same run, so
//! bench-api reports ratios rather than absolute times (which depend on the
//! machine and its load).
//!
//! (a) BIRD holds the N /32s in a disabled `protocol static` (blackhole
//!     routes, one attribute set, as bgpd's paths); at t0 `birdc enable`
//!     starts it and BIRD exports them over its established session. Time
//!     until FRR's BGP table holds all N, and FRR's count of UPDATEs received.
//! (b) One disabled static protocol per round carrying one /32; `birdc
//!     enable` at t0, FRR's kernel table as the finish line, `birdc disable`
//!     to remove it. The `birdc` round trip counts, as the gRPC call does for
//!     bgpd.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use interop_tests::bird::{Bird, BirdBgp, BirdConfig};
use interop_tests::frr::Frr;
use interop_tests::topology::{Pair, pair};
use interop_tests::{Family, Result, wait_until};

use super::{
    ANNOUNCEMENTS, Bulk, CONVERGE, FrrWithZebra, LineReader, Single, UP, epoch_seconds, frr_config,
    median, ms, prefix, updates_received,
};

/// BIRD's BGP protocol towards FRR (AS65001 like bgpd, hold time 90 s).
const BGP: &str = "frr";

/// A disabled static protocol `name` with `count` blackhole /32s from `from`.
fn static_protocol(text: &mut String, name: &str, from: u32, count: u32) {
    let _ = writeln!(text, "protocol static {name} {{\n  ipv4;\n  disabled;");
    for index in from..from + count {
        let _ = writeln!(text, "  route {} blackhole;", prefix(index));
    }
    let _ = writeln!(text, "}}");
}

fn bird_config(pair: &Pair, extra: String) -> BirdConfig {
    let mut config = BirdConfig::new(Ipv4Addr::new(192, 0, 2, 1))
        .bgp(BirdBgp::new(BGP, 65001, pair.right_v4, 65002).hold_time(90));
    config.extra = extra;
    config
}

/// (a) with BIRD as the sender.
pub(super) fn bulk(count: u32) -> Result<Bulk> {
    let pair = pair("bird", "frr")?;
    let mut statics = String::new();
    static_protocol(&mut statics, "bench", 0, count);
    let bird = Bird::start_with_deadline(
        &pair.left,
        &bird_config(&pair, statics),
        Duration::from_secs(300),
    )?;
    let frr = Frr::start(&pair.right, &frr_config(&pair))?;
    frr.wait_established(pair.left_v4, UP)?;
    let received = || frr.prefix_counts(pair.left_v4, Family::Ipv4Unicast).map_or(0, |c| c.0);
    let tcpdump = ["tcpdump", "-l", "-n", "-tt", "-i", &pair.interfaces.1, ANNOUNCEMENTS];
    let wire = LineReader::start(pair.right.name(), &tcpdump)?;
    let updates_before = updates_received(&frr, pair.left_v4)?;
    let called = epoch_seconds();
    let start = Instant::now();
    bird.enable("bench")?;
    wait_until(
        "FRR to hold every route from BIRD",
        CONVERGE,
        Duration::from_millis(10),
        || (received() >= u64::from(count)).then_some(()),
        || format!("FRR has {}", received()),
    )?;
    let converged = start.elapsed();
    let last_on_wire = wire.last_stamp()?;
    let updates = updates_received(&frr, pair.left_v4)?.saturating_sub(updates_before);
    let on_wire = Duration::from_secs_f64((last_on_wire - called).max(0.0));
    println!(
        "BIRD, {count} static /32s enabled: last UPDATE on the wire after {:.1} ms, all in \
         FRR's BGP table after {:.1} ms; {updates} UPDATEs",
        ms(on_wire),
        ms(converged)
    );
    Ok(Bulk { on_wire, converged, updates })
}

/// (b) with BIRD as the sender: `repeat` rounds after one warm-up.
pub(super) fn latency(repeat: usize) -> Result<Single> {
    let pair = pair("bird", "frrz")?;
    let mut statics = String::new();
    for round in 0..=repeat {
        static_protocol(&mut statics, &format!("single{round}"), round as u32, 1);
    }
    let bird = Bird::start(&pair.left, &bird_config(&pair, statics))?;
    let _frr = FrrWithZebra::start(&pair.right, &frr_config(&pair))?;
    bird.wait_established(BGP, UP)?;
    let monitor = LineReader::start(pair.right.name(), &["ip", "monitor", "route"])?;
    let tcpdump = ["tcpdump", "-l", "-n", "-tt", "-i", &pair.interfaces.1, ANNOUNCEMENTS];
    let wire = LineReader::start(pair.right.name(), &tcpdump)?;
    let mut to_wire = Vec::with_capacity(repeat);
    let mut to_kernel = Vec::with_capacity(repeat);
    for round in 0..=repeat {
        let name = format!("single{round}");
        let address = prefix(round as u32).trim_end_matches("/32").to_owned();
        let called = epoch_seconds();
        let start = Instant::now();
        bird.enable(&name)?;
        let installed = monitor.wait_for(&format!("{address} "), CONVERGE)?;
        let on_wire = wire.first_stamp_after(called, CONVERGE)?;
        bird.disable(&name)?;
        monitor.wait_for(&format!("Deleted {address} "), CONVERGE)?;
        // Round 0 is the warm-up.
        if round > 0 {
            to_wire.push(Duration::from_secs_f64((on_wire - called).max(0.0)));
            to_kernel.push(installed.saturating_duration_since(start));
        }
    }
    let single = Single { to_wire: median(&mut to_wire), to_kernel: median(&mut to_kernel) };
    println!(
        "BIRD, one static /32 enabled, {repeat} runs: median {:.2} ms on the wire, {:.2} ms in \
         FRR's kernel table",
        ms(single.to_wire),
        ms(single.to_kernel)
    );
    Ok(single)
}
