//! RIB throughput and memory: 1,000,000 IPv4 prefixes over 2,000 attribute sets
//! learned from one eBGP peer (UPDATEs of 500 prefixes) and exported to another.
//!
//! Before the criterion runs it prints one measured pass: apply and export rates,
//! and the heap the RIB holds (peak and after), counted by a global allocator
//! that tracks live bytes. The UPDATE messages are built before the baseline is
//! taken, so they are not charged to the RIB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bgpd::rib::{LocalInfo, PeerId, PeerInfo, Rib};
use bgpd::wire::{AsPath, Family, Nlri, Origin, PathAttributes, UpdateMessage};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
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

const PREFIXES: u32 = 1_000_000;
const PER_UPDATE: u32 = 500;
const SETS: u32 = 2_000;
const FROM: PeerId = PeerId(1);
const TO: PeerId = PeerId(2);

fn updates() -> Vec<UpdateMessage> {
    (0..PREFIXES / PER_UPDATE)
        .map(|u| UpdateMessage {
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: AsPath::from_sequence([65001, 100_000 + u % SETS, 3356]),
                next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
                ..PathAttributes::default()
            },
            nlri: (u * PER_UPDATE..(u + 1) * PER_UPDATE)
                .map(|i| {
                    let addr = Ipv4Addr::from((1 << 24) + (i << 8));
                    Nlri::new(IpNet::V4(Ipv4Net::new(addr, 24).unwrap_or_default()))
                })
                .collect(),
            ..UpdateMessage::default()
        })
        .collect()
}

fn peer(asn: u32, last: u8) -> PeerInfo {
    PeerInfo {
        asn,
        local_asn: 65000,
        router_id: Ipv4Addr::new(10, 0, 0, last),
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
        ibgp: false,
        local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        next_hop_v4: None,
        next_hop_v6: None,
        next_hop_self: false,
        families: vec![Family::Ipv4Unicast],
        codec: bgpd::wire::CodecOptions { four_octet_as: true, ..Default::default() },
    }
}

fn rib() -> Rib {
    let mut rib = Rib::new(LocalInfo { asn: 65000, router_id: Ipv4Addr::new(10, 0, 0, 100) });
    rib.add_peer(FROM, peer(65001, 1)).unwrap_or_default();
    rib.add_peer(TO, peer(65002, 2)).unwrap_or_default();
    rib
}

fn apply(rib: &mut Rib, updates: &[UpdateMessage]) {
    for update in updates {
        black_box(rib.apply_update(FROM, update).unwrap_or_default());
    }
}

/// Drain `TO`'s queue; returns the number of prefixes announced.
fn export(rib: &mut Rib) -> usize {
    let mut announced = 0;
    while let Some(batch) = rib.next_export_batch(TO, 4096) {
        announced += batch.groups().map(|g| g.nlri.len()).sum::<usize>();
        black_box(batch);
    }
    announced
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A field of /proc/self/status in bytes (Linux), 0 elsewhere.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix(" kB")?.trim().parse().ok())
        .map_or(0, |kib: usize| kib * 1024)
}

fn one_pass(updates: &[UpdateMessage]) {
    // Reset the peak RSS (Linux ≥ 4.0) so VmHWM measures this pass only.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = status_bytes("VmRSS:");
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let mut rib = rib();
    let start = Instant::now();
    apply(&mut rib, updates);
    let applied = start.elapsed();
    let after_apply = CURRENT.load(Ordering::Relaxed) - baseline;
    let start = Instant::now();
    let announced = export(&mut rib);
    let exported = start.elapsed();
    let after_export = CURRENT.load(Ordering::Relaxed) - baseline;
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    let rate = |d: Duration| f64::from(PREFIXES) / d.as_secs_f64() / 1e6;
    println!(
        "rib: {PREFIXES} prefixes, {} attribute sets: apply {applied:?} ({:.2} M/s), \
         export {announced} in {exported:?} ({:.2} M/s)",
        rib.attribute_sets(),
        rate(applied),
        rate(exported),
    );
    println!(
        "rib heap: after apply {:.1} MiB, after export {:.1} MiB, peak {:.1} MiB; \
         RIB's own account {:?}",
        mib(after_apply),
        mib(after_export),
        mib(peak),
        rib.memory_usage(),
    );
    println!(
        "process RSS: {:.1} MiB before (UPDATEs built), peak {:.1} MiB: the RIB added {:.1} MiB",
        mib(rss_before),
        mib(status_bytes("VmHWM:")),
        mib(status_bytes("VmHWM:").saturating_sub(rss_before)),
    );
}

fn benches(c: &mut Criterion) {
    let updates = updates();
    one_pass(&updates);
    let mut group = c.benchmark_group("rib_1m");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("apply", |b| {
        b.iter_batched(
            rib,
            |mut rib| {
                apply(&mut rib, &updates);
                rib
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("export_full_table", |b| {
        let mut loaded = rib();
        apply(&mut loaded, &updates);
        export(&mut loaded);
        b.iter(|| {
            loaded.queue_full_table(TO, Family::Ipv4Unicast).unwrap_or_default();
            export(&mut loaded)
        })
    });
    group.finish();
}

criterion_group!(rib_benches, benches);
criterion_main!(rib_benches);
