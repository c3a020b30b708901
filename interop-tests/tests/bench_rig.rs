//! Smoke test of the table benchmark's rig (`bench-table`): a small Internet-like table
//! (1,500 IPv4 + 500 IPv6 prefixes, 400 attribute sets) from our feeder, through no DUT, ironlb
//! bgpd, BIRD and GoBGP, to our sink, which must hold every prefix. Keeps the rig working in CI; the
//! figures themselves are benchmarks and never asserted.

use interop_tests::Check;
use interop_tests::bench_table::{DutKind, FEEDER_AS, Feed, Scenario, encode_feed, run_once};
use interop_tests::table::{Table, TableSpec};

fn feed() -> Feed {
    let table = Table::generate(&TableSpec::internet(16, 1_500, 500, FEEDER_AS));
    encode_feed(Scenario::Internet, &table).check("encode the table")
}

fn every_prefix_arrives(kind: DutKind) {
    let feed = feed();
    let run = run_once(kind, &feed).check(&format!("{} run", kind.name()));
    // run_once returns only once the sink held all 2,000 prefixes: 100 % has a time.
    assert!(run.p100.is_finite() && run.p99 <= run.p100, "{run:?}");
    assert!(run.updates > 0, "{run:?}");
}

#[test]
fn the_feeder_fills_the_sink_directly() {
    every_prefix_arrives(DutKind::Floor);
}

#[test]
fn every_prefix_crosses_ironlb() {
    every_prefix_arrives(DutKind::Bgpd);
}

#[test]
fn every_prefix_crosses_bird() {
    every_prefix_arrives(DutKind::Bird);
}

#[test]
fn every_prefix_crosses_gobgp() {
    every_prefix_arrives(DutKind::Gobgp);
}
