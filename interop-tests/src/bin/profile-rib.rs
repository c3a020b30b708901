//! Where bgpd's RIB memory goes on the Internet-like table: a heap profile by a counting
//! global allocator, with no network and no daemon.
//!
//! The table of `interop_tests::table` is encoded as the rig's feeder sends it and decoded
//! back into `UpdateMessage`s before the baseline is taken (so messages are not charged to the
//! RIB); then the UPDATEs are applied to a `bgpd::rib::Rib` from one eBGP peer and the whole
//! table is exported to another, as the daemon does for a transit. Done twice, on the same
//! prefixes: once with one attribute set, once with the Internet-like sets. The one-set heap
//! divided by the prefix count is the per-prefix cost (table entry, index, Adj-RIB-Out); the
//! difference between the two runs divided by the extra sets is the cost of one attribute set
//! (interned set, its export cache, hash table slots).
//!
//! Run: `cargo build --release -p interop-tests --bin profile-rib && target/release/profile-rib
//! [--v4 1000000] [--v6 230000]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bgpd::rib::{LocalInfo, MemoryUsage, PeerId, PeerInfo, Rib};
use bgpd::wire::{
    CodecOptions, Decoded, Family, NextHop, UpdateMessage, decode_message, frame_length,
};
use interop_tests::rig::encode_table;
use interop_tests::table::{Table, TableSpec};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters only
// observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const FEEDER_AS: u32 = 65001;
const FROM: PeerId = PeerId(1);
const TO: PeerId = PeerId(2);

/// Heap figures of one pass, bytes.
struct Pass {
    sets: usize,
    after_apply: usize,
    after_export: usize,
    peak: usize,
    /// Live allocations the RIB holds after the export.
    allocations: usize,
    account: MemoryUsage,
    apply_s: f64,
    export_s: f64,
}

fn updates(table: &Table) -> Vec<UpdateMessage> {
    let options = CodecOptions { four_octet_as: true, ..CodecOptions::default() };
    let v6_hop =
        NextHop::V6 { global: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1), link_local: None };
    let mut messages = Vec::new();
    for (family, next_hop) in [
        (Family::Ipv4Unicast, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))),
        (Family::Ipv6Unicast, v6_hop),
    ] {
        let Ok(bytes) = encode_table(table, family, next_hop, &options) else {
            eprintln!("profile-rib: cannot encode the {family} table");
            std::process::exit(1);
        };
        let mut rest = &bytes[..];
        while let Ok(Some(len)) = frame_length(rest, 4096) {
            if let Ok(Decoded::Update(decoded)) = decode_message(&rest[..len], &options) {
                messages.push(decoded.update);
            }
            rest = &rest[len..];
        }
    }
    messages
}

fn peer(asn: u32, last: u8) -> PeerInfo {
    PeerInfo {
        asn,
        router_id: Ipv4Addr::new(10, 0, 0, last),
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
        ibgp: false,
        local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        next_hop_v4: None,
        next_hop_v6: Some(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 100)),
        next_hop_self: false,
        families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
        local_asn: 65002,
        codec: bgpd::wire::CodecOptions { four_octet_as: true, ..Default::default() },
    }
}

fn pass(table: &Table) -> Pass {
    let messages = updates(table);
    let baseline = CURRENT.load(Ordering::Relaxed);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let mut rib = Rib::new(LocalInfo { asn: 65002, router_id: Ipv4Addr::new(10, 0, 0, 100) });
    let registered = rib.add_peer(FROM, peer(FEEDER_AS, 1)).and(rib.add_peer(TO, peer(65003, 2)));
    if let Err(error) = registered {
        eprintln!("profile-rib: {error}");
        std::process::exit(1);
    }
    let start = Instant::now();
    for message in &messages {
        let _ = rib.apply_update(FROM, message);
    }
    let apply_s = start.elapsed().as_secs_f64();
    let after_apply = CURRENT.load(Ordering::Relaxed) - baseline;
    let start = Instant::now();
    for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
        let _ = rib.queue_full_table(TO, family);
    }
    while let Some(batch) = rib.next_export_batch(TO, 4096) {
        std::hint::black_box(batch);
    }
    let export_s = start.elapsed().as_secs_f64();
    let pass = Pass {
        sets: rib.attribute_sets(),
        after_apply,
        after_export: CURRENT.load(Ordering::Relaxed) - baseline,
        peak: PEAK.load(Ordering::Relaxed) - baseline,
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - allocations,
        account: rib.memory_usage(),
        apply_s,
        export_s,
    };
    drop(rib);
    drop(messages);
    pass
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let mut v4 = 1_000_000;
    let mut v6 = 230_000;
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        let Ok(n) = value.parse::<usize>() else {
            eprintln!("profile-rib: {flag} {value}: not a number");
            std::process::exit(2);
        };
        match flag.as_str() {
            "--v4" => v4 = n,
            "--v6" => v6 = n,
            other => {
                eprintln!("profile-rib: unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    let prefixes = v4 + v6;
    let one = pass(&Table::generate(&TableSpec::one_set(16, v4, v6, FEEDER_AS)));
    let internet_table = Table::generate(&TableSpec::internet(16, v4, v6, FEEDER_AS));
    let internet = pass(&internet_table);
    println!("{v4} IPv4 + {v6} IPv6 prefixes from one eBGP peer, exported to another");
    println!(
        "| table | sets | heap after import MiB | after export MiB | peak MiB | live allocations | RIB's own account MiB (tables / attributes / exports) | import s | export s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, p) in [("one set", &one), ("Internet-like", &internet)] {
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} | {} | {:.1} / {:.1} / {:.1} | {:.2} | {:.2} |",
            p.sets,
            mib(p.after_apply),
            mib(p.after_export),
            mib(p.peak),
            p.allocations,
            mib(p.account.tables),
            mib(p.account.attributes),
            mib(p.account.exports),
            p.apply_s,
            p.export_s
        );
    }
    let extra_sets = internet.sets.saturating_sub(one.sets).max(1);
    let per_set = internet.after_export.saturating_sub(one.after_export) as f64 / extra_sets as f64;
    let per_set_account = internet.account.attributes.saturating_sub(one.account.attributes) as f64
        / extra_sets as f64;
    let wire: usize = internet_table
        .sets
        .iter()
        .map(|s| {
            let path: usize = s.as_path.segments.iter().map(|g| 2 + 4 * g.asns.len()).sum();
            4 + 3
                + path
                + 7 * usize::from(s.med.is_some())
                + 3
                + 4 * s.communities.len()
                + 3
                + 12 * s.large_communities.len()
        })
        .sum();
    println!(
        "\nper prefix (one set, after export): {:.1} bytes; per attribute set: {per_set:.0} bytes \
         (RIB's account of the attribute store: {per_set_account:.0}); the sets' wire size \
         averages about {:.0} bytes",
        one.after_export as f64 / prefixes as f64,
        wire as f64 / internet_table.sets.len().max(1) as f64
    );
}
