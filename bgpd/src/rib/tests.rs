//! Behaviour tests of the whole RIB: import, selection, export, stale handling,
//! interning lifetimes and size.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;

use super::*;
use crate::wire::{
    AsPath, Community, MpReach, MpUnreach, NextHop, Nlri, Origin, PathAttributes, UpdateMessage,
};

const LOCAL_ASN: u32 = 65000;
const A: PeerId = PeerId(1);
const B: PeerId = PeerId(2);
const I1: PeerId = PeerId(3);
const I2: PeerId = PeerId(4);

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn rib() -> Rib {
    Rib::new(LocalInfo { asn: LOCAL_ASN, router_id: Ipv4Addr::new(10, 0, 0, 100) })
}

fn info(asn: u32, last: u8) -> PeerInfo {
    PeerInfo {
        asn,
        local_asn: LOCAL_ASN,
        router_id: Ipv4Addr::new(10, 0, 0, last),
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
        ibgp: asn == LOCAL_ASN,
        local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        next_hop_v4: None,
        next_hop_v6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 100)),
        next_hop_self: false,
        families: Family::ALL.to_vec(),
        codec: crate::wire::CodecOptions { four_octet_as: true, ..Default::default() },
    }
}

/// A RIB with eBGP peers A (65001) and B (65002) and iBGP peers I1, I2.
fn rib_with_peers() -> Rib {
    let mut rib = rib();
    rib.add_peer(A, info(65001, 1)).unwrap();
    rib.add_peer(B, info(65002, 2)).unwrap();
    rib.add_peer(I1, info(LOCAL_ASN, 3)).unwrap();
    rib.add_peer(I2, info(LOCAL_ASN, 4)).unwrap();
    rib
}

fn attrs(path: &[u32], next_hop: [u8; 4]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: AsPath::from_sequence(path.iter().copied()),
        next_hop: Some(Ipv4Addr::from(next_hop)),
        ..PathAttributes::default()
    }
}

fn announce(attributes: PathAttributes, prefixes: &[&str]) -> UpdateMessage {
    UpdateMessage {
        attributes,
        nlri: prefixes.iter().map(|p| Nlri::new(net(p))).collect(),
        ..UpdateMessage::default()
    }
}

fn withdraw(prefixes: &[&str]) -> UpdateMessage {
    UpdateMessage {
        withdrawn: prefixes.iter().map(|p| Nlri::new(net(p))).collect(),
        ..UpdateMessage::default()
    }
}

/// Everything pending for `peer`: (withdrawn, announced prefix → exported, batches).
#[derive(Debug, Default)]
struct Sent {
    withdrawn: Vec<IpNet>,
    announced: BTreeMap<IpNet, (Arc<PathAttributes>, NextHop)>,
    groups: usize,
}

fn drain(rib: &mut Rib, peer: PeerId) -> Sent {
    let mut sent = Sent::default();
    while let Some(batch) = rib.next_export_batch(peer, 1000) {
        sent.withdrawn.extend(batch.withdrawn.iter().map(|n| n.prefix));
        for group in batch.groups() {
            sent.groups += 1;
            for n in group.nlri {
                sent.announced
                    .insert(n.prefix, (Arc::new(group.attributes.unpack()), group.next_hop));
            }
        }
    }
    assert!(!rib.export_pending(peer));
    sent
}

fn drain_all(rib: &mut Rib) {
    for peer in [A, B, I1, I2] {
        drain(rib, peer);
    }
}

/// One export batch judges runs of one attribute set once (`BatchMemo`),
/// but by set *and* source: the same interned set from the receiver itself
/// and from another peer, interleaved in the table, is sent only for the
/// other peer's prefixes.
#[test]
fn a_set_shared_by_two_sources_is_judged_per_source_within_a_batch() {
    let mut rib = rib_with_peers();
    let shared = attrs(&[64512], [192, 0, 2, 9]);
    for (peer, prefix) in [
        (A, "198.51.100.0/26"),
        (B, "198.51.100.64/26"),
        (A, "198.51.100.128/26"),
        (B, "198.51.100.192/26"),
    ] {
        rib.apply_update(peer, &announce(shared.clone(), &[prefix])).unwrap();
    }
    let to_a = drain(&mut rib, A);
    let sent: Vec<IpNet> = to_a.announced.keys().copied().collect();
    assert_eq!(sent, vec![net("198.51.100.64/26"), net("198.51.100.192/26")]);
    assert_eq!(to_a.groups, 1);
    let to_b = drain(&mut rib, B);
    let sent: Vec<IpNet> = to_b.announced.keys().copied().collect();
    assert_eq!(sent, vec![net("198.51.100.0/26"), net("198.51.100.128/26")]);
}

#[test]
fn ebgp_route_is_exported_to_every_other_peer_with_rewritten_attributes() {
    let mut rib = rib_with_peers();
    let mut a = attrs(&[65001, 64512], [192, 0, 2, 1]);
    a.med = Some(10);
    a.local_pref = Some(500);
    let stats = rib.apply_update(A, &announce(a, &["198.51.100.0/24", "203.0.113.0/24"])).unwrap();
    assert_eq!(stats.announced, 2);
    assert_eq!(stats.best_changed, 2);
    // Not back to the sender.
    assert!(drain(&mut rib, A).announced.is_empty());
    let to_b = drain(&mut rib, B);
    assert_eq!(to_b.announced.len(), 2);
    assert_eq!(to_b.groups, 1, "one attribute set, one group");
    let (out, next_hop) = &to_b.announced[&net("198.51.100.0/24")];
    assert_eq!(out.as_path, AsPath::from_sequence([LOCAL_ASN, 65001, 64512]));
    assert_eq!(*next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 100)));
    assert_eq!(out.med, None);
    assert_eq!(out.local_pref, None);
    let to_i1 = drain(&mut rib, I1);
    let (out, next_hop) = &to_i1.announced[&net("198.51.100.0/24")];
    assert_eq!(out.as_path, AsPath::from_sequence([65001, 64512]));
    assert_eq!(out.local_pref, Some(100), "eBGP LOCAL_PREF ignored, default set for iBGP");
    assert_eq!(out.med, Some(10));
    assert_eq!(*next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
    // Adj-RIB-Out shows what was sent.
    assert_eq!(rib.adj_rib_out(B, Family::Ipv4Unicast).count(), 2);
    assert_eq!(rib.adj_rib_out(A, Family::Ipv4Unicast).count(), 0);
}

#[test]
fn loops_are_rejected_and_withdraw_the_earlier_path() {
    let mut rib = rib_with_peers();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["198.51.100.0/24"])).unwrap();
    let looped = attrs(&[65001, LOCAL_ASN, 64512], [192, 0, 2, 1]);
    let stats = rib.apply_update(A, &announce(looped, &["198.51.100.0/24"])).unwrap();
    assert_eq!(stats.rejected, 1);
    assert_eq!(rib.counts(Family::Ipv4Unicast), Counts { prefixes: 0, paths: 0 });
    assert_eq!(rib.attribute_sets(), 0);
    // iBGP route carrying our router id as ORIGINATOR_ID: reflected back to us.
    let mut reflected = attrs(&[], [192, 0, 2, 3]);
    reflected.originator_id = Some(Ipv4Addr::new(10, 0, 0, 100));
    let stats = rib.apply_update(I1, &announce(reflected, &["203.0.113.0/24"])).unwrap();
    assert_eq!(stats.rejected, 1);
}

#[test]
fn ibgp_routes_are_not_reflected_and_compare_with_default_local_pref() {
    let mut rib = rib_with_peers();
    // iBGP path without LOCAL_PREF (100) vs eBGP path: eBGP wins (shorter path
    // equal, then eBGP over iBGP).
    rib.apply_update(I1, &announce(attrs(&[64999], [192, 0, 2, 3]), &["198.51.100.0/24"])).unwrap();
    assert_eq!(rib.best_route(net("198.51.100.0/24")).unwrap().source, Source::Peer(I1));
    assert!(drain(&mut rib, I2).announced.is_empty(), "iBGP to iBGP is not re-advertised");
    assert_eq!(drain(&mut rib, A).announced.len(), 1);
    rib.apply_update(B, &announce(attrs(&[65002], [192, 0, 2, 2]), &["198.51.100.0/24"])).unwrap();
    assert_eq!(rib.best_route(net("198.51.100.0/24")).unwrap().source, Source::Peer(B));
    // I2 now gets the eBGP route; B had never been sent it.
    assert_eq!(drain(&mut rib, I2).announced.len(), 1);
    assert!(drain(&mut rib, B).announced.is_empty());
    // iBGP path with LOCAL_PREF 101 beats the eBGP one.
    let mut preferred = attrs(&[64999], [192, 0, 2, 3]);
    preferred.local_pref = Some(101);
    rib.apply_update(I1, &announce(preferred, &["198.51.100.0/24"])).unwrap();
    assert_eq!(rib.best_route(net("198.51.100.0/24")).unwrap().source, Source::Peer(I1));
    // I2 is told to withdraw (best is iBGP now), B gets the iBGP route.
    assert_eq!(drain(&mut rib, I2).withdrawn, vec![net("198.51.100.0/24")]);
    assert_eq!(drain(&mut rib, B).announced.len(), 1);
    assert_eq!(rib.paths(net("198.51.100.0/24")).len(), 2);
}

#[test]
fn changed_peer_facts_rerun_selection() {
    let mut rib = rib_with_peers();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["198.51.100.0/24"])).unwrap();
    rib.apply_update(B, &announce(attrs(&[65002], [192, 0, 2, 2]), &["198.51.100.0/24"])).unwrap();
    assert_eq!(rib.best_route(net("198.51.100.0/24")).unwrap().source, Source::Peer(A));
    // A comes back with a higher router id than B's: B now wins the tie-break.
    let mut again = info(65001, 1);
    again.router_id = Ipv4Addr::new(10, 0, 0, 200);
    rib.add_peer(A, again).unwrap();
    assert_eq!(rib.best_route(net("198.51.100.0/24")).unwrap().source, Source::Peer(B));
}

#[test]
fn communities_limit_export() {
    let mut rib = rib_with_peers();
    let mut no_export = attrs(&[65001], [192, 0, 2, 1]);
    no_export.communities = vec![Community::NO_EXPORT];
    rib.apply_update(A, &announce(no_export, &["198.51.100.0/24"])).unwrap();
    let mut no_advertise = attrs(&[65001, 1], [192, 0, 2, 1]);
    no_advertise.communities = vec![Community::NO_ADVERTISE];
    rib.apply_update(A, &announce(no_advertise, &["203.0.113.0/24"])).unwrap();
    assert!(drain(&mut rib, B).announced.is_empty());
    let to_i1 = drain(&mut rib, I1);
    assert_eq!(to_i1.announced.keys().copied().collect::<Vec<_>>(), vec![net("198.51.100.0/24")]);
}

#[test]
fn peer_asn_in_path_is_not_sent_to_that_peer() {
    let mut rib = rib_with_peers();
    rib.apply_update(A, &announce(attrs(&[65001, 65002], [192, 0, 2, 1]), &["198.51.100.0/24"]))
        .unwrap();
    assert!(drain(&mut rib, B).announced.is_empty());
}

#[test]
fn attribute_sets_are_shared_and_freed() {
    let mut rib = rib_with_peers();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["198.51.100.0/24"])).unwrap();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["203.0.113.0/24"])).unwrap();
    rib.apply_update(B, &announce(attrs(&[65002], [192, 0, 2, 2]), &["203.0.113.0/24"])).unwrap();
    assert_eq!(rib.attribute_sets(), 2);
    // Replacing the only user of a set frees it.
    rib.apply_update(B, &announce(attrs(&[65002, 7], [192, 0, 2, 2]), &["203.0.113.0/24"]))
        .unwrap();
    assert_eq!(rib.attribute_sets(), 2);
    rib.apply_update(A, &withdraw(&["198.51.100.0/24"])).unwrap();
    assert_eq!(rib.attribute_sets(), 2, "still used by 203.0.113.0/24");
    rib.apply_update(A, &withdraw(&["203.0.113.0/24"])).unwrap();
    assert_eq!(rib.attribute_sets(), 1);
    rib.peer_down(B).unwrap();
    assert_eq!(rib.attribute_sets(), 0);
    assert_eq!(rib.counts(Family::Ipv4Unicast), Counts::default());
    drain_all(&mut rib);
    assert_eq!(rib.v4.len(), 0);
}

#[test]
fn stale_routes_are_kept_refreshed_or_swept() {
    let mut rib = rib_with_peers();
    let prefixes = ["198.51.100.0/24", "198.51.100.0/25", "203.0.113.0/24"];
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &prefixes)).unwrap();
    drain_all(&mut rib);
    rib.reset_export(A).unwrap();
    rib.mark_stale(A, Family::Ipv4Unicast).unwrap();
    assert!(rib.adj_rib_in(A, Family::Ipv4Unicast).all(|r| r.stale));
    // Stale routes are still used and still exported; marking changes nothing.
    assert!(drain(&mut rib, B).announced.is_empty());
    // The peer comes back and re-announces one prefix.
    rib.add_peer(A, info(65001, 1)).unwrap();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["203.0.113.0/24"])).unwrap();
    let stale: Vec<_> = rib.adj_rib_in(A, Family::Ipv4Unicast).filter(|r| r.stale).collect();
    assert_eq!(stale.len(), 2);
    assert_eq!(rib.sweep_stale(A, Family::Ipv4Unicast).unwrap(), 2);
    assert_eq!(rib.counts(Family::Ipv4Unicast).prefixes, 1);
    let to_b = drain(&mut rib, B);
    assert_eq!(to_b.withdrawn.len(), 2);
    assert!(to_b.announced.is_empty(), "the refreshed route did not change");
    assert_eq!(rib.source_routes(Source::Peer(A), Family::Ipv4Unicast), 1);
}

#[test]
fn export_groups_by_attribute_set_and_dedupes() {
    let mut rib = rib_with_peers();
    for i in 0..10u8 {
        let a = attrs(&[65001, 64512 + u32::from(i % 3)], [192, 0, 2, 1]);
        rib.apply_update(A, &announce(a, &[&format!("198.51.{i}.0/24")])).unwrap();
    }
    // Change one prefix twice more before B's queue drains: sent once, latest.
    let latest = attrs(&[65001, 9], [192, 0, 2, 1]);
    rib.apply_update(A, &announce(attrs(&[65001, 8], [192, 0, 2, 1]), &["198.51.0.0/24"])).unwrap();
    rib.apply_update(A, &announce(latest, &["198.51.0.0/24"])).unwrap();
    let batch = rib.next_export_batch(B, 100).unwrap();
    let total: usize = batch.groups().map(|g| g.nlri.len()).sum();
    assert_eq!(total, 10);
    assert_eq!(batch.groups().len(), 4);
    assert!(rib.next_export_batch(B, 100).is_none());
    let group = batch.groups().find(|g| g.nlri[0].prefix == net("198.51.0.0/24")).unwrap();
    assert_eq!(group.attributes.unpack().as_path, AsPath::from_sequence([LOCAL_ASN, 65001, 9]));
    // Batches respect the limit.
    rib.queue_full_table(B, Family::Ipv4Unicast).unwrap();
    let sizes: Vec<usize> = std::iter::from_fn(|| rib.next_export_batch(B, 4))
        .map(|b| b.groups().map(|g| g.nlri.len()).sum())
        .collect();
    assert_eq!(sizes, vec![4, 4, 2]);
}

#[test]
fn withdrawal_only_after_announcement() {
    let mut rib = rib_with_peers();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["198.51.100.0/24"])).unwrap();
    rib.apply_update(A, &withdraw(&["198.51.100.0/24"])).unwrap();
    let to_b = drain(&mut rib, B);
    assert!(to_b.withdrawn.is_empty() && to_b.announced.is_empty());
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["198.51.100.0/24"])).unwrap();
    drain_all(&mut rib);
    rib.apply_update(A, &withdraw(&["198.51.100.0/24", "203.0.113.0/24"])).unwrap();
    assert_eq!(drain(&mut rib, B).withdrawn, vec![net("198.51.100.0/24")]);
    assert!(drain(&mut rib, A).withdrawn.is_empty());
    // Every slot is free again once every peer has been told.
    assert!(!rib.v4.empty_slots().is_empty());
    drain_all(&mut rib);
    assert!(rib.v4.empty_slots().is_empty());
}

#[test]
fn local_routes_win_after_local_pref_and_export_with_our_asn() {
    let mut rib = rib_with_peers();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["198.51.100.0/24"])).unwrap();
    let local = PathAttributes { med: Some(5), ..PathAttributes::default() };
    rib.originate(Source::Static, net("198.51.100.0/24"), local.clone(), None).unwrap();
    let best = rib.best_route(net("198.51.100.0/24")).unwrap();
    assert_eq!(best.source, Source::Static);
    assert_eq!(best.attributes.origin, Some(Origin::Igp));
    // A learned route with higher LOCAL_PREF (iBGP) still wins.
    let mut high = attrs(&[], [192, 0, 2, 3]);
    high.local_pref = Some(200);
    rib.apply_update(I1, &announce(high, &["198.51.100.0/24"])).unwrap();
    assert_eq!(rib.best_route(net("198.51.100.0/24")).unwrap().source, Source::Peer(I1));
    rib.apply_update(I1, &withdraw(&["198.51.100.0/24"])).unwrap();
    let to_a = drain(&mut rib, A);
    let (out, next_hop) = &to_a.announced[&net("198.51.100.0/24")];
    assert_eq!(out.as_path, AsPath::from_sequence([LOCAL_ASN]));
    assert_eq!(out.med, Some(5), "a locally set MED is kept");
    assert_eq!(*next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 100)));
    // Static wins over an API owner with the same attributes.
    rib.originate(Source::Api(OwnerId(7)), net("198.51.100.0/24"), local, None).unwrap();
    assert_eq!(rib.best_route(net("198.51.100.0/24")).unwrap().source, Source::Static);
    assert!(rib.withdraw_local(Source::Static, net("198.51.100.0/24")).unwrap());
    assert_eq!(rib.best_route(net("198.51.100.0/24")).unwrap().source, Source::Api(OwnerId(7)));
    let err =
        rib.originate(Source::Peer(A), net("198.51.100.0/24"), PathAttributes::default(), None);
    assert_eq!(err, Err(RibError::NotLocal(Source::Peer(A))));
    let bad = NextHop::V4(Ipv4Addr::new(192, 0, 2, 9));
    let err =
        rib.originate(Source::Static, net("2001:db8::/48"), PathAttributes::default(), Some(bad));
    assert!(matches!(err, Err(RibError::NextHopFamily { .. })));
}

#[test]
fn change_events_are_recorded_only_when_asked() {
    let mut rib = rib_with_peers();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["198.51.100.0/24"])).unwrap();
    assert!(rib.drain_changes().is_empty());
    rib.track_changes(true);
    rib.apply_update(B, &announce(attrs(&[65002], [192, 0, 2, 2]), &["198.51.100.0/24"])).unwrap();
    assert!(rib.drain_changes().is_empty(), "A stays best (lower router id)");
    rib.apply_update(A, &withdraw(&["198.51.100.0/24"])).unwrap();
    let changes = rib.drain_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].old.as_ref().unwrap().source, Source::Peer(A));
    assert_eq!(changes[0].new.as_ref().unwrap().source, Source::Peer(B));
    rib.apply_update(B, &withdraw(&["198.51.100.0/24"])).unwrap();
    assert!(rib.drain_changes()[0].new.is_none());
}

#[test]
fn peer_down_withdraws_from_others_and_new_peer_gets_full_table() {
    let mut rib = rib_with_peers();
    rib.apply_update(A, &announce(attrs(&[65001], [192, 0, 2, 1]), &["198.51.100.0/24"])).unwrap();
    rib.apply_update(B, &announce(attrs(&[65002], [192, 0, 2, 2]), &["203.0.113.0/24"])).unwrap();
    drain_all(&mut rib);
    assert_eq!(rib.peer_down(A).unwrap(), 1);
    assert_eq!(drain(&mut rib, B).withdrawn, vec![net("198.51.100.0/24")]);
    // A comes back: full table (B's route only).
    rib.add_peer(A, info(65001, 1)).unwrap();
    rib.queue_full_table(A, Family::Ipv4Unicast).unwrap();
    assert!(rib.export_pending(A));
    let to_a = drain(&mut rib, A);
    assert_eq!(to_a.announced.keys().copied().collect::<Vec<_>>(), vec![net("203.0.113.0/24")]);
    assert_eq!(rib.remove_peer(B).unwrap(), 1);
    assert_eq!(drain(&mut rib, A).withdrawn, vec![net("203.0.113.0/24")]);
    assert_eq!(rib.apply_update(B, &withdraw(&[])), Err(RibError::UnknownPeer(B)));
}

#[test]
fn ipv6_routes_travel_in_mp_attributes() {
    let mut rib = rib_with_peers();
    let next_hop = NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None };
    let update = UpdateMessage {
        attributes: PathAttributes { next_hop: None, ..attrs(&[65001], [0, 0, 0, 0]) },
        mp_reach: Some(MpReach {
            family: Family::Ipv6Unicast,
            next_hop,
            nlri: vec![Nlri::new(net("2001:db8:1::/48")), Nlri::new(net("2001:db8:2::/48"))],
        }),
        ..UpdateMessage::default()
    };
    rib.apply_update(A, &update).unwrap();
    assert_eq!(rib.counts(Family::Ipv6Unicast).prefixes, 2);
    let to_b = drain(&mut rib, B);
    let (out, hop) = &to_b.announced[&net("2001:db8:1::/48")];
    assert_eq!(out.next_hop, None);
    assert_eq!(*hop, NextHop::V6 { global: "2001:db8::64".parse().unwrap(), link_local: None });
    let unreach = UpdateMessage {
        mp_unreach: Some(MpUnreach {
            family: Family::Ipv6Unicast,
            withdrawn: vec![Nlri::new(net("2001:db8:1::/48"))],
        }),
        ..UpdateMessage::default()
    };
    assert_eq!(rib.apply_update(A, &unreach).unwrap().withdrawn, 1);
    assert_eq!(drain(&mut rib, B).withdrawn, vec![net("2001:db8:1::/48")]);
}

/// Learn `count` IPv4 prefixes from A over `sets` attribute sets, export to B.
pub(crate) fn load(rib: &mut Rib, count: u32, per_update: usize, sets: u32) {
    let mut update = UpdateMessage::default();
    for start in (0..count).step_by(per_update) {
        let set = (start / per_update as u32) % sets;
        update.attributes = attrs(&[65001, 100_000 + set], [192, 0, 2, 1]);
        update.nlri.clear();
        for i in start..(start + per_update as u32).min(count) {
            let prefix = Ipv4Net::new(Ipv4Addr::from((1 << 24) + (i << 8)), 24).unwrap();
            update.nlri.push(Nlri::new(IpNet::V4(prefix)));
        }
        rib.apply_update(A, &update).unwrap();
    }
}

use ipnet::Ipv4Net;

#[test]
fn many_prefixes_fit_the_memory_budget() {
    let count = if cfg!(debug_assertions) { 100_000 } else { 1_000_000 };
    // The target scenario: learned from one peer, exported to another.
    let mut rib = rib();
    rib.add_peer(A, info(65001, 1)).unwrap();
    rib.add_peer(B, info(65002, 2)).unwrap();
    load(&mut rib, count, count as usize / 2_000, 2_000);
    assert_eq!(rib.counts(Family::Ipv4Unicast).prefixes, count as usize);
    assert_eq!(rib.attribute_sets(), 2_000);
    let mut announced = 0;
    while let Some(batch) = rib.next_export_batch(B, 10_000) {
        announced += batch.groups().map(|g| g.nlri.len()).sum::<usize>();
    }
    assert_eq!(announced, count as usize);
    let usage = rib.memory_usage();
    eprintln!("{count} prefixes: {usage:?}, total {} bytes", usage.total());
    // Per prefix: 16 B entry, 5 to 10 B of index, 2 bits per peer; plus about
    // 600 B per attribute set (the set, its summary and its cached export).
    assert!(usage.total() < count as usize * 32 + 2_000 * 1_000, "{usage:?}");
}

mod model {
    //! Random operation sequences against a simple model of what each peer was
    //! told: every peer ends up holding exactly the Loc-RIB minus its own routes,
    //! no withdrawal is sent for a prefix the peer does not hold, and nothing
    //! (attribute sets, empty slots) is left behind.

    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    const PEERS: [PeerId; 3] = [PeerId(1), PeerId(2), PeerId(3)];

    #[derive(Clone, Debug)]
    enum Op {
        Announce { peer: usize, prefix: u8, variant: u32 },
        Withdraw { peer: usize, prefix: u8 },
        Drain { peer: usize, max: usize },
        Down { peer: usize },
        Stale { peer: usize, refresh: Vec<u8> },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3usize, 0..12u8, 0..3u32)
                .prop_map(|(peer, prefix, variant)| Op::Announce { peer, prefix, variant }),
            2 => (0..3usize, 0..12u8).prop_map(|(peer, prefix)| Op::Withdraw { peer, prefix }),
            2 => (0..3usize, 1..5usize).prop_map(|(peer, max)| Op::Drain { peer, max }),
            1 => (0..3usize).prop_map(|peer| Op::Down { peer }),
            1 => (0..3usize, proptest::collection::vec(0..12u8, 0..4))
                .prop_map(|(peer, refresh)| Op::Stale { peer, refresh }),
        ]
    }

    fn prefix(i: u8) -> IpNet {
        net(&format!("198.51.100.{}/32", i))
    }

    fn peer_attrs(peer: usize, variant: u32) -> PathAttributes {
        attrs(&[65001 + peer as u32, 64512 + variant], [192, 0, 2, 1 + peer as u8])
    }

    type Held = BTreeMap<IpNet, Arc<PathAttributes>>;

    fn drain_into(rib: &mut Rib, peer: PeerId, held: &mut Held, max: usize) {
        while let Some(batch) = rib.next_export_batch(peer, max) {
            for w in &batch.withdrawn {
                assert!(held.remove(&w.prefix).is_some(), "withdrawal of unsent {}", w.prefix);
            }
            for group in batch.groups() {
                for n in group.nlri {
                    held.insert(n.prefix, Arc::new(group.attributes.unpack()));
                }
            }
            if max < 5 {
                break;
            }
        }
    }

    fn up(rib: &mut Rib, peer: usize) {
        rib.add_peer(PEERS[peer], info(65001 + peer as u32, 1 + peer as u8)).unwrap();
        rib.queue_full_table(PEERS[peer], Family::Ipv4Unicast).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn peers_converge_to_the_loc_rib(ops in proptest::collection::vec(op(), 1..60)) {
            let mut rib = rib();
            let mut held: Vec<Held> = vec![Held::new(); 3];
            for peer in 0..3 {
                up(&mut rib, peer);
            }
            for op in ops {
                match op {
                    Op::Announce { peer, prefix: p, variant } => {
                        rib.apply_update(PEERS[peer], &announce(peer_attrs(peer, variant), &[&prefix(p).to_string()])).unwrap();
                    }
                    Op::Withdraw { peer, prefix: p } => {
                        rib.apply_update(PEERS[peer], &withdraw(&[&prefix(p).to_string()])).unwrap();
                    }
                    Op::Drain { peer, max } => drain_into(&mut rib, PEERS[peer], &mut held[peer], max),
                    Op::Down { peer } => {
                        rib.peer_down(PEERS[peer]).unwrap();
                        held[peer].clear();
                        up(&mut rib, peer);
                    }
                    Op::Stale { peer, refresh } => {
                        rib.reset_export(PEERS[peer]).unwrap();
                        held[peer].clear();
                        rib.mark_stale(PEERS[peer], Family::Ipv4Unicast).unwrap();
                        up(&mut rib, peer);
                        for p in refresh {
                            rib.apply_update(PEERS[peer], &announce(peer_attrs(peer, 0), &[&prefix(p).to_string()])).unwrap();
                        }
                        rib.sweep_stale(PEERS[peer], Family::Ipv4Unicast).unwrap();
                    }
                }
            }
            for peer in 0..3 {
                drain_into(&mut rib, PEERS[peer], &mut held[peer], 1000);
                prop_assert!(!rib.export_pending(PEERS[peer]));
            }
            let loc_rib: Vec<Route> = rib.loc_rib(Family::Ipv4Unicast).collect();
            for peer in 0..3 {
                let expected: BTreeSet<IpNet> = loc_rib
                    .iter()
                    .filter(|r| r.source != Source::Peer(PEERS[peer]))
                    .map(|r| r.prefix)
                    .collect();
                let got: BTreeSet<IpNet> = held[peer].keys().copied().collect();
                prop_assert_eq!(&got, &expected, "peer {}", peer);
                let out: BTreeMap<IpNet, Arc<PathAttributes>> = rib
                    .adj_rib_out(PEERS[peer], Family::Ipv4Unicast)
                    .map(|(p, e)| (p, e.attributes))
                    .collect();
                prop_assert_eq!(&out, &held[peer]);
            }
            // Sets are stored packed and unpacked per query: count the
            // distinct (attributes, next hop) in use, which interning keeps
            // one set each.
            let in_use: std::collections::HashSet<_> = PEERS
                .iter()
                .flat_map(|&p| rib.adj_rib_in(p, Family::Ipv4Unicast))
                .map(|r| (r.attributes, r.next_hop))
                .collect();
            prop_assert_eq!(rib.attribute_sets(), in_use.len());
            prop_assert!(rib.v4.empty_slots().is_empty());
            let paths: usize = PEERS.iter().map(|&p| rib.source_routes(Source::Peer(p), Family::Ipv4Unicast)).sum();
            prop_assert_eq!(rib.counts(Family::Ipv4Unicast).paths, paths);
        }
    }
}

#[test]
fn a_local_route_keeps_the_as_path_it_was_given() {
    // Config prepends and API paths carry an AS_PATH; eBGP export puts our
    // ASN in front of it.
    let mut rib = rib_with_peers();
    let given = PathAttributes { as_path: AsPath::from_sequence([64999]), ..Default::default() };
    rib.originate(Source::Api(OwnerId(1)), net("203.0.113.0/24"), given, None).unwrap();
    let to_a = drain(&mut rib, A);
    let (out, _) = &to_a.announced[&net("203.0.113.0/24")];
    assert_eq!(out.as_path, AsPath::from_sequence([LOCAL_ASN, 64999]));
}

#[test]
fn own_asn_prepends_of_a_local_route_go_to_ebgp_only() {
    // A `[[routes]]` entry with as_path_prepend = 2 is originated with our
    // ASN twice (instance::neighbors::static_attributes). RFC 4271 §5.1.2:
    // towards internal peers a locally originated route has an empty AS_PATH;
    // an iBGP peer would drop our own ASN as a loop.
    let mut rib = rib_with_peers();
    let prepended =
        PathAttributes { as_path: AsPath::from_sequence([LOCAL_ASN; 2]), ..Default::default() };
    rib.originate(Source::Static, net("203.0.113.0/24"), prepended, None).unwrap();
    let to_a = drain(&mut rib, A);
    assert_eq!(
        to_a.announced[&net("203.0.113.0/24")].0.as_path,
        AsPath::from_sequence([LOCAL_ASN; 3])
    );
    let to_i1 = drain(&mut rib, I1);
    assert_eq!(to_i1.announced[&net("203.0.113.0/24")].0.as_path, AsPath::default());

    // An API path with prepends before another AS: only ours are dropped.
    let given =
        PathAttributes { as_path: AsPath::from_sequence([LOCAL_ASN, 64999]), ..Default::default() };
    rib.originate(Source::Api(OwnerId(1)), net("198.51.100.0/24"), given, None).unwrap();
    let to_i1 = drain(&mut rib, I1);
    assert_eq!(to_i1.announced[&net("198.51.100.0/24")].0.as_path, AsPath::from_sequence([64999]));
    let to_a = drain(&mut rib, A);
    assert_eq!(
        to_a.announced[&net("198.51.100.0/24")].0.as_path,
        AsPath::from_sequence([LOCAL_ASN, LOCAL_ASN, 64999])
    );
}
