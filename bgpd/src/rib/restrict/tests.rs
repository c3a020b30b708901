//! Per-peer paths: restricted paths reach only their peers, other peers get
//! the best eligible path or a withdrawal.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::super::*;
use crate::wire::PathAttributes;

const A: PeerId = PeerId(1);
const B: PeerId = PeerId(2);
const FIRST: Source = Source::Api(OwnerId(1));
const SECOND: Source = Source::Api(OwnerId(2));

fn net(s: &str) -> IpNet {
    s.parse().expect("literal")
}

fn address(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn info(asn: u32, last: u8) -> PeerInfo {
    PeerInfo {
        asn,
        local_asn: 65000,
        router_id: Ipv4Addr::new(10, 0, 0, last),
        address: address(last),
        ibgp: false,
        local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        next_hop_v4: None,
        next_hop_v6: None,
        next_hop_self: false,
        families: vec![Family::Ipv4Unicast],
        codec: crate::wire::CodecOptions { four_octet_as: true, ..Default::default() },
    }
}

/// eBGP peers A (192.0.2.1) and B (192.0.2.2).
fn rib() -> Rib {
    let mut rib = Rib::new(LocalInfo { asn: 65000, router_id: Ipv4Addr::new(10, 0, 0, 100) });
    rib.add_peer(A, info(65001, 1)).expect("peer A");
    rib.add_peer(B, info(65002, 2)).expect("peer B");
    rib
}

/// Attributes told apart by MED.
fn med(value: u32) -> PathAttributes {
    PathAttributes { med: Some(value), ..PathAttributes::default() }
}

/// What `peer` is sent: prefix → MED of the announcement, or `None` for a
/// withdrawal.
fn drain(rib: &mut Rib, peer: PeerId) -> BTreeMap<IpNet, Option<u32>> {
    let mut sent = BTreeMap::new();
    while let Some(batch) = rib.next_export_batch(peer, 1000) {
        for nlri in &batch.withdrawn {
            sent.insert(nlri.prefix, None);
        }
        for group in batch.groups() {
            for nlri in group.nlri {
                sent.insert(nlri.prefix, group.attributes.unpack().med);
            }
        }
    }
    sent
}

fn one(prefix: &str, med: Option<u32>) -> BTreeMap<IpNet, Option<u32>> {
    BTreeMap::from([(net(prefix), med)])
}

#[test]
fn a_restricted_path_reaches_only_its_peers() {
    let mut rib = rib();
    let prefix = net("198.51.100.1/32");
    rib.originate_for(FIRST, prefix, med(1), None, &[address(1).into()]).expect("originate");
    assert_eq!(drain(&mut rib, A), one("198.51.100.1/32", Some(1)));
    assert!(drain(&mut rib, B).is_empty(), "B is not in the list");
    // The Loc-RIB still holds it as best.
    assert_eq!(rib.best_route(prefix).map(|r| r.source), Some(FIRST));
    assert_eq!(rib.restricted_peers(FIRST, prefix), &[address(1).into()]);
    assert!(rib.restricted_peers(SECOND, prefix).is_empty());
}

#[test]
fn other_peers_get_the_best_eligible_path() {
    let mut rib = rib();
    let prefix = net("198.51.100.1/32");
    // FIRST (lower owner id) wins the Loc-RIB but is for A only.
    rib.originate_for(FIRST, prefix, med(1), None, &[address(1).into()]).expect("first");
    rib.originate_for(SECOND, prefix, med(2), None, &[]).expect("second");
    assert_eq!(rib.best_route(prefix).map(|r| r.source), Some(FIRST));
    assert_eq!(drain(&mut rib, A), one("198.51.100.1/32", Some(1)));
    assert_eq!(drain(&mut rib, B), one("198.51.100.1/32", Some(2)));

    // FIRST goes away: A falls back to SECOND, B keeps it (a re-send at most).
    rib.withdraw_local(FIRST, prefix).expect("withdraw");
    assert_eq!(drain(&mut rib, A), one("198.51.100.1/32", Some(2)));
    let b = drain(&mut rib, B);
    assert!(b.is_empty() || b == one("198.51.100.1/32", Some(2)), "{b:?}");

    // SECOND goes too: both are sent a withdrawal.
    rib.withdraw_local(SECOND, prefix).expect("withdraw");
    assert_eq!(drain(&mut rib, A), one("198.51.100.1/32", None));
    assert_eq!(drain(&mut rib, B), one("198.51.100.1/32", None));
}

#[test]
fn a_peer_left_without_an_eligible_path_is_sent_a_withdrawal() {
    let mut rib = rib();
    let prefix = net("198.51.100.1/32");
    rib.originate(FIRST, prefix, med(1), None).expect("unrestricted");
    assert_eq!(drain(&mut rib, B), one("198.51.100.1/32", Some(1)));
    drain(&mut rib, A);
    // Now restricted to A: B must withdraw it.
    rib.originate_for(FIRST, prefix, med(1), None, &[address(1).into()]).expect("restricted");
    assert_eq!(drain(&mut rib, B), one("198.51.100.1/32", None));
    let a = drain(&mut rib, A);
    assert!(a.is_empty() || a == one("198.51.100.1/32", Some(1)), "{a:?}");
    // And unrestricted again: B gets it back.
    rib.originate_for(FIRST, prefix, med(1), None, &[]).expect("unrestricted again");
    assert_eq!(drain(&mut rib, B), one("198.51.100.1/32", Some(1)));
}

#[test]
fn a_change_of_a_path_that_is_not_best_reaches_the_peers_that_export_it() {
    let mut rib = rib();
    let prefix = net("198.51.100.1/32");
    rib.originate_for(FIRST, prefix, med(1), None, &[address(1).into()]).expect("first");
    rib.originate(SECOND, prefix, med(2), None).expect("second");
    drain(&mut rib, A);
    drain(&mut rib, B);
    // SECOND changes; the Loc-RIB best (FIRST) does not, but B exports SECOND.
    rib.originate(SECOND, prefix, med(3), None).expect("second changed");
    assert_eq!(drain(&mut rib, B), one("198.51.100.1/32", Some(3)));
}

#[test]
fn a_new_session_gets_only_what_is_eligible_for_it() {
    let mut rib = rib();
    rib.originate_for(FIRST, net("198.51.100.1/32"), med(1), None, &[address(1).into()])
        .expect("a");
    rib.originate(FIRST, net("198.51.100.2/32"), med(1), None).expect("b");
    rib.queue_full_table(B, Family::Ipv4Unicast).expect("dump");
    assert_eq!(drain(&mut rib, B), one("198.51.100.2/32", Some(1)));
    let listed: Vec<IpNet> = rib.adj_rib_out(B, Family::Ipv4Unicast).map(|(p, _)| p).collect();
    assert_eq!(listed, vec![net("198.51.100.2/32")]);
}

#[test]
fn paths_for_no_configured_peer_are_exported_to_nobody() {
    let mut rib = rib();
    rib.originate_for(FIRST, net("198.51.100.1/32"), med(1), None, &[address(9).into()])
        .expect("x");
    assert!(drain(&mut rib, A).is_empty());
    assert!(drain(&mut rib, B).is_empty());
}

#[test]
fn a_path_restricted_to_an_interface_reaches_the_session_over_it() {
    let mut rib = rib();
    rib.set_peer_interface(A, Some("eth1".into())).expect("A is over eth1");
    rib.set_peer_interface(B, None).expect("B is not");
    let prefix = net("198.51.100.1/32");
    let eth1 = PeerKey::Interface("eth1".into());
    rib.originate_for(FIRST, prefix, med(1), None, std::slice::from_ref(&eth1)).expect("originate");
    assert_eq!(drain(&mut rib, A), one("198.51.100.1/32", Some(1)));
    assert!(drain(&mut rib, B).is_empty(), "B is over no interface");
    assert_eq!(rib.restricted_peers(FIRST, prefix), &[eth1]);
    // Another interface's path does not reach A.
    let other = net("198.51.100.2/32");
    let eth2 = PeerKey::Interface("eth2".into());
    rib.originate_for(FIRST, other, med(2), None, &[eth2]).expect("originate");
    assert!(drain(&mut rib, A).is_empty());
}
