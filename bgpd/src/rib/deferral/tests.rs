//! Selection deferral: local-only prefixes go out at once, prefixes with a
//! learned path wait for the release, and nothing held is withdrawn.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::super::*;
use crate::wire::{AsPath, Nlri, Origin, PathAttributes, UpdateMessage};

const A: PeerId = PeerId(1);
const B: PeerId = PeerId(2);

fn net(s: &str) -> IpNet {
    s.parse().expect("literal")
}

fn info(asn: u32, last: u8) -> PeerInfo {
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
        codec: crate::wire::CodecOptions { four_octet_as: true, ..Default::default() },
    }
}

/// eBGP peers A and B, deferring.
fn rib() -> Rib {
    let mut rib = Rib::new(LocalInfo { asn: 65000, router_id: Ipv4Addr::new(10, 0, 0, 100) });
    rib.add_peer(A, info(65001, 1)).expect("peer A");
    rib.add_peer(B, info(65002, 2)).expect("peer B");
    rib.defer_learned_routes();
    rib
}

fn config(med: u32) -> PathAttributes {
    PathAttributes { origin: Some(Origin::Igp), med: Some(med), ..PathAttributes::default() }
}

/// A learns `prefix` from its peer (MED 7 tells it apart).
fn learn(rib: &mut Rib, prefix: &str) {
    let update = UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: AsPath::from_sequence([65001]),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            med: Some(7),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new(net(prefix))],
        ..UpdateMessage::default()
    };
    rib.apply_update(A, &update).expect("update");
}

/// What `peer` is sent: prefix → announced (true) or withdrawn (false).
fn drain(rib: &mut Rib, peer: PeerId) -> BTreeMap<IpNet, bool> {
    let mut sent = BTreeMap::new();
    while let Some(batch) = rib.next_export_batch(peer, 1000) {
        for nlri in &batch.withdrawn {
            sent.insert(nlri.prefix, false);
        }
        for group in batch.groups() {
            for nlri in group.nlri {
                sent.insert(nlri.prefix, true);
            }
        }
    }
    sent
}

#[test]
fn config_routes_go_out_at_once_learned_ones_wait_for_the_release() {
    let mut rib = rib();
    rib.originate(Source::Static, net("203.0.113.1/32"), config(1), None).expect("config");
    learn(&mut rib, "198.51.100.0/24");
    assert!(rib.learned_routes_deferred());
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(net("203.0.113.1/32"), true)]));
    assert!(!rib.export_pending(B), "held prefixes are not pending: End-of-RIB is the GR logic's");
    assert!(rib.release_learned_routes());
    assert!(!rib.learned_routes_deferred());
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(net("198.51.100.0/24"), true)]));
    assert!(!rib.release_learned_routes(), "released once");
}

#[test]
fn a_config_prefix_that_a_peer_also_announces_waits() {
    let mut rib = rib();
    let prefix = net("203.0.113.1/32");
    rib.originate(Source::Static, prefix, config(1), None).expect("config");
    learn(&mut rib, "203.0.113.1/32");
    // Both candidates exist: the selection must wait for the peers.
    assert!(drain(&mut rib, B).is_empty());
    rib.release_learned_routes();
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(prefix, true)]));
}

#[test]
fn an_announced_config_prefix_is_not_withdrawn_when_a_peer_path_arrives() {
    let mut rib = rib();
    let prefix = net("203.0.113.1/32");
    rib.originate(Source::Static, prefix, config(1), None).expect("config");
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(prefix, true)]));
    learn(&mut rib, "203.0.113.1/32");
    rib.withdraw_local(Source::Static, prefix).expect("withdraw");
    // Only the learned path is left, and it is held: B keeps what it has.
    assert!(drain(&mut rib, B).is_empty());
    rib.release_learned_routes();
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(prefix, true)]));
    assert_eq!(rib.adj_rib_out(B, Family::Ipv4Unicast).count(), 1);
}

#[test]
fn a_held_prefix_that_lost_a_learned_path_that_was_not_best_waits_for_the_release() {
    let mut rib = rib();
    let prefix = net("203.0.113.1/32");
    learn(&mut rib, "203.0.113.1/32");
    rib.originate(Source::Static, prefix, config(1), None).expect("config");
    assert!(drain(&mut rib, B).is_empty());
    rib.apply_update(
        A,
        &UpdateMessage { withdrawn: vec![Nlri::new(prefix)], ..UpdateMessage::default() },
    )
    .expect("withdraw");
    // The best path did not change, so the prefix is not looked at again
    // before the release (see `deferral`): a late announcement, not a wrong one.
    assert!(drain(&mut rib, B).is_empty());
    rib.release_learned_routes();
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(prefix, true)]));
}

#[test]
fn a_new_session_during_the_deferral_gets_the_local_prefixes_only() {
    let mut rib = rib();
    rib.originate(Source::Static, net("203.0.113.1/32"), config(1), None).expect("config");
    learn(&mut rib, "198.51.100.0/24");
    rib.queue_full_table(B, Family::Ipv4Unicast).expect("dump");
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(net("203.0.113.1/32"), true)]));
    rib.release_learned_routes();
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(net("198.51.100.0/24"), true)]));
    // A is never sent its own route back, held or not.
    assert_eq!(drain(&mut rib, A), BTreeMap::from([(net("203.0.113.1/32"), true)]));
}

#[test]
fn without_a_deferral_learned_routes_go_out_at_once() {
    let mut rib = rib();
    rib.release_learned_routes();
    learn(&mut rib, "198.51.100.0/24");
    assert_eq!(drain(&mut rib, B), BTreeMap::from([(net("198.51.100.0/24"), true)]));
}
