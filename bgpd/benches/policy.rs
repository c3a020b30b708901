//! Policy evaluation cost: a realistic 10-statement import chain with a
//! 1,000-entry prefix set, a community match and set actions.
//!
//! - `prefix_set/lookup`: one trie lookup in the 1,000-entry set.
//! - `evaluate/*`: the one-pass `CompiledChain::evaluate`, per route.
//! - `split/prepare`: the per-attribute-set step (cached by the RIB).
//! - `split/select`: the per-prefix step (prefix-set lookups only), routes in random order.
//! - `split/select_run_fresh` / `split/select_run_cursor`: the same over a run of
//!   consecutive /24s (as UPDATEs list them), without and with a `PrefixCursor`.
//! - `split/outcome`: actions, once per distinct (attribute set, selection).
//! - `accept_all/evaluate`: the baseline.
//!
//! Per-route benchmarks walk 1,024 prefixes (about half in the set) so the
//! branch predictor cannot learn one answer; divide by 1,024 (criterion's
//! throughput line shows elements per second).
//!
//! `cargo bench -p bgpd --bench policy -- --quick`

// Setup that fails must stop the benchmark loudly, not measure a default.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::net::Ipv4Addr;

use bgpd::policy::{
    CompiledChain, Context, PolicyBook, PolicyDefinitions, PrefixCursor, PrefixSet,
};
use bgpd::wire::{AsPath, Community, Origin, PathAttributes};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};

const ROUTES: usize = 1024;
const CTX: Context = Context { local_asn: 64500, neighbor_asn: 65010 };

/// A deterministic pseudo-random sequence (no extra dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 32) as u32
    }
}

/// 1,000 customer entries: /16 to /24 networks with `le 24`, spread over the space.
fn customer_entries() -> Vec<Ipv4Net> {
    let mut rng = Lcg(7);
    (0..1000)
        .map(|_| {
            let len = 16 + (rng.next() % 9) as u8;
            Ipv4Net::new(Ipv4Addr::from(rng.next()), len).unwrap().trunc()
        })
        .collect()
}

fn definitions(entries: &[Ipv4Net]) -> PolicyDefinitions {
    let prefixes: Vec<String> = entries.iter().map(|e| format!("\"{e} le 24\"")).collect();
    let text = format!(
        r#"
[[prefix_sets]]
name = "customers"
prefixes = [{}]
[[prefix_sets]]
name = "bogons"
prefixes = ["0.0.0.0/8 le 32", "127.0.0.0/8 le 32", "169.254.0.0/16 le 32", "224.0.0.0/3 le 32"]
[[community_sets]]
name = "blackhole"
communities = ["BLACKHOLE"]
[[community_sets]]
name = "tagged"
communities = ["65001:*"]
[[large_community_sets]]
name = "no-export-to-us"
communities = ["64500:0:*"]
[[as_path_sets]]
name = "private"
patterns = ["_6451[2-9]_", "_6452[0-9]_"]
[[policies]]
name = "import"
default = "reject"
[[policies.statements]]
match.prefix_set = "bogons"
action = "reject"
[[policies.statements]]
match.community_set = "blackhole"
match.prefix_set = "!customers"
action = "reject"
[[policies.statements]]
match.as_path_set = "private"
action = "reject"
[[policies.statements]]
match.as_path_length = "ge 50"
action = "reject"
[[policies.statements]]
match.large_community_set = "no-export-to-us"
action = "reject"
[[policies.statements]]
match.prefix_set = "customers"
match.community_set = "tagged"
set.local_pref = 200
set.communities_add = ["64500:1"]
action = "accept"
[[policies.statements]]
match.prefix_set = "customers"
set.local_pref = 150
action = "accept"
[[policies.statements]]
match.origin = "incomplete"
set.med = "+10"
[[policies.statements]]
match.med = "ge 1000"
action = "reject"
[[policies.statements]]
match.neighbor_asn = 65010
action = "accept"
"#,
        prefixes.join(", ")
    );
    toml::from_str(&text).unwrap()
}

/// Half the routes inside a customer entry, half random.
fn routes(entries: &[Ipv4Net]) -> Vec<IpNet> {
    let mut rng = Lcg(11);
    (0..ROUTES)
        .map(|i| {
            if i % 2 == 0 {
                let entry = entries[rng.next() as usize % entries.len()];
                let address = u32::from(entry.network()) | (rng.next() >> entry.prefix_len());
                IpNet::V4(Ipv4Net::new(address.into(), 24).unwrap().trunc())
            } else {
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(rng.next()), 24).unwrap().trunc())
            }
        })
        .collect()
}

fn attributes(communities: &[Community]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: AsPath::from_sequence([65010, 3356, 1299, 65020]),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        med: Some(0),
        communities: communities.to_vec(),
        ..PathAttributes::default()
    }
}

fn bench(c: &mut Criterion) {
    let entries = customer_entries();
    let book = PolicyBook::build(&definitions(&entries)).unwrap();
    let chain: CompiledChain = book.chain(&["import"]).unwrap();
    let accept_all = book.chain(&["accept-all"]).unwrap();
    let customers: &PrefixSet = book.prefix_set("customers").unwrap();
    let routes = routes(&entries);
    // Customer routes are modified (one copy each): tagged ones by statement 6
    // (LOCAL_PREF 200 and a community), plain ones by statement 7 (LOCAL_PREF
    // 150). The others reach statement 10 and are accepted unchanged (borrowed).
    let tagged = attributes(&[Community((65001 << 16) | 5)]);
    let plain = attributes(&[Community((65002 << 16) | 5)]);
    let in_set = routes.iter().filter(|r| customers.matches(r)).count();
    println!("{in_set} of {ROUTES} routes are in the 1,000-entry prefix set");

    let mut group = c.benchmark_group("policy");
    group.throughput(Throughput::Elements(ROUTES as u64));
    group.bench_function("prefix_set/lookup", |b| {
        b.iter(|| routes.iter().filter(|r| customers.matches(black_box(r))).count())
    });
    group.bench_function("evaluate/tagged_modified", |b| {
        b.iter(|| {
            routes
                .iter()
                .filter(|r| chain.evaluate(black_box(r), &tagged, &CTX).is_accept())
                .count()
        })
    });
    group.bench_function("evaluate/plain", |b| {
        b.iter(|| {
            routes.iter().filter(|r| chain.evaluate(black_box(r), &plain, &CTX).is_accept()).count()
        })
    });
    let prepared = chain.prepare(&tagged, &CTX);
    group.bench_function("split/select", |b| {
        b.iter(|| {
            for route in &routes {
                black_box(chain.select(&prepared, black_box(route)));
            }
        })
    });
    // A run of consecutive /24s from the first customer entry on, as a table or
    // an UPDATE lists them: with one cursor for the run, each prefix set is
    // searched once per region rather than once per route.
    let first = u32::from(entries.iter().min().unwrap().network());
    let run: Vec<IpNet> = (0..ROUTES as u32)
        .map(|i| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(first + (i << 8)), 24).unwrap()))
        .collect();
    group.bench_function("split/select_run_fresh", |b| {
        b.iter(|| {
            for route in &run {
                black_box(chain.select(&prepared, black_box(route)));
            }
        })
    });
    group.bench_function("split/select_run_cursor", |b| {
        b.iter(|| {
            let mut cursor = PrefixCursor::default();
            for route in &run {
                black_box(chain.select_near(&prepared, black_box(route), &mut cursor));
            }
        })
    });
    group.bench_function("accept_all/evaluate", |b| {
        b.iter(|| {
            routes
                .iter()
                .filter(|r| accept_all.evaluate(black_box(r), &tagged, &CTX).is_accept())
                .count()
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("split/prepare", |b| b.iter(|| chain.prepare(black_box(&tagged), &CTX)));
    let selection = chain.select(&prepared, &routes[0]);
    group.bench_function("split/outcome_modified", |b| {
        b.iter(|| chain.outcome(black_box(&selection), &tagged, &CTX).is_accept())
    });
    let outside = routes.iter().find(|r| !customers.matches(r)).unwrap();
    let selection = chain.select(&prepared, outside);
    group.bench_function("split/outcome_unchanged", |b| {
        b.iter(|| chain.outcome(black_box(&selection), &tagged, &CTX).is_accept())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
