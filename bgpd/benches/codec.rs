//! Codec throughput in prefixes per second: 1,000,000 IPv4 /24 routes (one
//! attribute set, as a full-table re-advertisement looks after interning)
//! packed into UPDATEs, then framed and decoded again; plus a single
//! realistic UPDATE decode. Run with `cargo bench -p bgpd --bench codec`.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bgpd::wire::{
    AsPath, CodecOptions, Community, Decoded, Family, LargeCommunity, NextHop, Nlri, Origin,
    PathAttributes, UpdatePacker, decode_message, frame_length,
};
use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

const ROUTES: u32 = 1_000_000;

fn options() -> CodecOptions {
    CodecOptions { four_octet_as: true, ..CodecOptions::default() }
}

fn attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: AsPath::from_sequence([65001, 65010, 4_200_000_000]),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        med: Some(50),
        communities: vec![Community((65001 << 16) | 100), Community::NO_EXPORT],
        large_communities: vec![LargeCommunity {
            global_admin: 65001,
            local_data_1: 1,
            local_data_2: 2,
        }],
        ..PathAttributes::default()
    }
}

/// Distinct /24s: the shape of a real IPv4 table (most routes are /24).
fn ipv4_routes() -> impl Iterator<Item = Nlri> {
    (0..ROUTES).map(|i| {
        let address = Ipv4Addr::from((i + (1 << 16)) << 8);
        Nlri::new(IpNet::V4(Ipv4Net::new(address, 24).unwrap_or_default()))
    })
}

fn ipv6_routes(count: u32) -> impl Iterator<Item = Nlri> {
    let base = u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0));
    (0..count).map(move |i| {
        let address = Ipv6Addr::from(base + (u128::from(i) << 80));
        Nlri::new(IpNet::V6(Ipv6Net::new(address, 48).unwrap_or_default()))
    })
}

fn pack(out: &mut BytesMut) -> usize {
    let mut packer = UpdatePacker::new(options());
    packer
        .announce(&attributes(), Family::Ipv4Unicast, None, ipv4_routes(), out)
        .unwrap_or_default()
}

fn decode_all(buffer: &[u8]) -> usize {
    let options = options();
    let mut rest = buffer;
    let mut prefixes = 0;
    while let Ok(Some(length)) = frame_length(rest, options.max_message_len()) {
        if let Ok(Decoded::Update(update)) = decode_message(&rest[..length], &options) {
            prefixes += update.update.nlri.len();
        }
        rest = &rest[length..];
    }
    prefixes
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("ipv4_full_table");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(u64::from(ROUTES)));
    let mut out = BytesMut::with_capacity(8 << 20);
    group.bench_function("pack", |b| {
        b.iter(|| {
            out.clear();
            black_box(pack(&mut out))
        })
    });
    out.clear();
    let messages = pack(&mut out);
    let packed = out.freeze();
    eprintln!("{ROUTES} routes -> {messages} UPDATEs, {} octets", packed.len());
    group.bench_function("decode", |b| b.iter(|| black_box(decode_all(&packed))));
    group.finish();

    let mut group = c.benchmark_group("ipv6");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100_000));
    let next_hop =
        NextHop::V6 { global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), link_local: None };
    let mut v6_attributes = attributes();
    v6_attributes.next_hop = None;
    let mut out = BytesMut::with_capacity(4 << 20);
    group.bench_function("pack", |b| {
        b.iter(|| {
            out.clear();
            let mut packer = UpdatePacker::new(options());
            black_box(packer.announce(
                &v6_attributes,
                Family::Ipv6Unicast,
                Some(next_hop),
                ipv6_routes(100_000),
                &mut out,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
