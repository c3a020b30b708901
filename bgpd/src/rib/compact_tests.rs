//! `Rib::compact`: memory comes back after withdrawals, and what is left
//! keeps working (slots keep their numbers, peers their export state).

use std::net::Ipv4Addr;

use ipnet::IpNet;

use super::test_support::ebgp_peer;
use super::*;
use crate::wire::{AsPath, Nlri, Origin, PathAttributes, UpdateMessage};

const FROM: PeerId = PeerId(1);
const TO: PeerId = PeerId(2);

fn info(asn: u32, last: u8) -> PeerInfo {
    ebgp_peer(asn, last, false)
}

fn prefixes(range: std::ops::Range<u32>) -> Vec<Nlri> {
    range
        .map(|i| Nlri::new(IpNet::V4(ipnet::Ipv4Net::new((0xc612_0000 + i).into(), 32).unwrap())))
        .collect()
}

fn announce(nlri: Vec<Nlri>, med: u32) -> UpdateMessage {
    UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: AsPath::from_sequence([65001]),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            med: Some(med),
            ..PathAttributes::default()
        },
        nlri,
        ..UpdateMessage::default()
    }
}

fn drain(rib: &mut Rib) -> usize {
    let mut sent = 0;
    while let Some(batch) = rib.next_export_batch(TO, 4096) {
        sent += batch.withdrawn.len() + batch.groups().map(|g| g.nlri.len()).sum::<usize>();
    }
    sent
}

fn total(m: MemoryUsage) -> usize {
    m.tables + m.attributes + m.exports
}

#[test]
fn withdrawn_tables_give_their_memory_back_and_keep_working() {
    let mut rib = Rib::new(LocalInfo { asn: 65000, router_id: Ipv4Addr::new(10, 0, 0, 100) });
    rib.add_peer(FROM, info(65001, 1)).unwrap();
    rib.add_peer(TO, info(65002, 2)).unwrap();
    let empty = total(rib.memory_usage());

    // 10,000 kept, 90,000 withdrawn: the withdrawn ones sit behind the kept.
    rib.apply_update(FROM, &announce(prefixes(0..10_000), 1)).unwrap();
    rib.apply_update(FROM, &announce(prefixes(10_000..100_000), 2)).unwrap();
    assert_eq!(drain(&mut rib), 100_000);
    let loaded = total(rib.memory_usage());
    let withdraw =
        UpdateMessage { withdrawn: prefixes(10_000..100_000), ..UpdateMessage::default() };
    rib.apply_update(FROM, &withdraw).unwrap();
    assert_eq!(drain(&mut rib), 90_000);
    assert_eq!(rib.free_slots(), 90_000);

    let given_back = rib.compact();
    let after = total(rib.memory_usage());
    assert!(given_back > 0 && after < loaded / 5, "{empty} {loaded} {after}");
    assert_eq!(rib.free_slots(), 0);
    assert_eq!(rib.advertised_count(TO, Family::Ipv4Unicast), 10_000);

    // Still works: a change to a kept prefix and new prefixes reach the peer.
    rib.apply_update(FROM, &announce(prefixes(0..1), 3)).unwrap();
    rib.apply_update(FROM, &announce(prefixes(200_000..200_010), 3)).unwrap();
    assert_eq!(drain(&mut rib), 11);
    assert_eq!(rib.advertised_count(TO, Family::Ipv4Unicast), 10_010);
    assert_eq!(rib.counts(Family::Ipv4Unicast).prefixes, 10_010);

    // Everything withdrawn: back to about nothing.
    let all = UpdateMessage {
        withdrawn: [prefixes(0..10_000), prefixes(200_000..200_010)].concat(),
        ..UpdateMessage::default()
    };
    rib.apply_update(FROM, &all).unwrap();
    drain(&mut rib);
    rib.compact();
    assert!(total(rib.memory_usage()) <= empty + 4096, "{}", total(rib.memory_usage()));
}

/// A metrics scrape reads the RIB's memory use (`ironlb_rib_memory_bytes`):
/// the attribute store keeps its sets' and caches' bytes as they change, and
/// that kept number equals a walk of every set through announcements,
/// exports (which grow the sets' caches), withdrawals and compaction, so a
/// scrape reads it in O(1) instead of walking a full table's sets (issue 13,
/// "Speed").
#[test]
fn kept_attribute_bytes_equal_a_walk() {
    let mut rib = Rib::new(LocalInfo { asn: 65000, router_id: Ipv4Addr::new(10, 0, 0, 100) });
    rib.add_peer(FROM, info(65001, 1)).unwrap();
    rib.add_peer(TO, info(65002, 2)).unwrap();
    let check = |rib: &Rib, when: &str| {
        let kept = rib.core.attrs.kept_set_bytes();
        assert_eq!(kept, rib.core.attrs.walked_set_bytes(), "{when}");
        kept
    };
    assert_eq!(check(&rib, "empty"), 0);
    for set in 0..50u32 {
        rib.apply_update(FROM, &announce(prefixes(set * 100..(set + 1) * 100), set)).unwrap();
    }
    let announced = check(&rib, "announced");
    drain(&mut rib);
    let exported = check(&rib, "exported");
    assert!(exported > announced, "exports grow the caches: {announced} -> {exported}");
    let withdraw = UpdateMessage { withdrawn: prefixes(0..2_500), ..UpdateMessage::default() };
    rib.apply_update(FROM, &withdraw).unwrap();
    drain(&mut rib);
    check(&rib, "half withdrawn");
    rib.compact();
    check(&rib, "compacted");
    let all = UpdateMessage { withdrawn: prefixes(2_500..5_000), ..UpdateMessage::default() };
    rib.apply_update(FROM, &all).unwrap();
    drain(&mut rib);
    assert_eq!(check(&rib, "all withdrawn"), 0);
}
