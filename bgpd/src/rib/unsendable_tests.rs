//! Routes that cannot be encoded for a peer (issue: no silent loss): never
//! recorded as advertised, a version the peer held is withdrawn, counted per
//! family and reported in the export batch; a peer with RFC 8654 extended
//! messages still gets them.

use std::net::Ipv4Addr;

use ipnet::IpNet;

use super::test_support::{LOCAL_ASN, ebgp_peer};
use super::*;
use crate::wire::{AsPath, Community, Nlri, Origin, PathAttributes, UpdateMessage};

const FROM: PeerId = PeerId(1);
const PLAIN: PeerId = PeerId(2);
const EXTENDED: PeerId = PeerId(3);

fn info(asn: u32, last: u8, extended_message: bool) -> PeerInfo {
    ebgp_peer(asn, last, extended_message)
}

fn rib() -> Rib {
    let mut rib = Rib::new(LocalInfo { asn: LOCAL_ASN, router_id: Ipv4Addr::new(10, 0, 0, 100) });
    rib.add_peer(FROM, info(65001, 1, true)).unwrap();
    rib.add_peer(PLAIN, info(65002, 2, false)).unwrap();
    rib.add_peer(EXTENDED, info(65003, 3, true)).unwrap();
    rib
}

/// A route from FROM with `communities` communities (4 octets each).
fn update(communities: u32, prefix: &str) -> UpdateMessage {
    UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: AsPath::from_sequence([65001]),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            communities: (0..communities).map(|c| Community(0xfde9_0000 + c)).collect(),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new(prefix.parse().unwrap())],
        ..UpdateMessage::default()
    }
}

/// Drains `peer`'s export: (withdrawn, announced, unsendable reports).
fn drain(rib: &mut Rib, peer: PeerId) -> (Vec<IpNet>, Vec<IpNet>, Vec<Unsendable>) {
    let (mut withdrawn, mut announced, mut unsendable) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(batch) = rib.next_export_batch(peer, 1000) {
        withdrawn.extend(batch.withdrawn.iter().map(|n| n.prefix));
        announced.extend(batch.groups().flat_map(|g| g.nlri.iter().map(|n| n.prefix)));
        unsendable.extend(batch.unsendable);
    }
    (withdrawn, announced, unsendable)
}

#[test]
fn a_route_too_large_for_the_peer_is_never_advertised_and_is_reported() {
    let mut rib = rib();
    let prefix: IpNet = "198.51.100.0/24".parse().unwrap();
    // 1,100 communities: 4,400 octets, over a 4,096-octet UPDATE.
    rib.apply_update(FROM, &update(1_100, "198.51.100.0/24")).unwrap();

    let (withdrawn, announced, unsendable) = drain(&mut rib, PLAIN);
    assert!(withdrawn.is_empty() && announced.is_empty());
    assert_eq!(
        unsendable,
        [Unsendable { count: 1, first: prefix, max_message_len: 4096 }],
        "reported with the prefix and the limit"
    );
    assert_eq!(rib.advertised_count(PLAIN, Family::Ipv4Unicast), 0);
    assert_eq!(rib.unsendable_count(PLAIN, Family::Ipv4Unicast), 1);
    assert_eq!(rib.adj_rib_out(PLAIN, Family::Ipv4Unicast).count(), 0);

    // The extended-message peer gets it.
    let (_, announced, unsendable) = drain(&mut rib, EXTENDED);
    assert_eq!(announced, [prefix]);
    assert!(unsendable.is_empty());
    assert_eq!(rib.unsendable_count(EXTENDED, Family::Ipv4Unicast), 0);
}

#[test]
fn a_sent_route_that_grows_too_large_is_withdrawn_and_comes_back_when_it_fits() {
    let mut rib = rib();
    let prefix: IpNet = "198.51.100.0/24".parse().unwrap();
    rib.apply_update(FROM, &update(10, "198.51.100.0/24")).unwrap();
    assert_eq!(drain(&mut rib, PLAIN).1, [prefix]);
    assert_eq!(rib.advertised_count(PLAIN, Family::Ipv4Unicast), 1);

    // The peer must not keep the old attributes: withdrawn.
    rib.apply_update(FROM, &update(1_100, "198.51.100.0/24")).unwrap();
    let (withdrawn, announced, unsendable) = drain(&mut rib, PLAIN);
    assert_eq!((withdrawn, announced.len(), unsendable.len()), (vec![prefix], 0, 1));
    assert_eq!(rib.advertised_count(PLAIN, Family::Ipv4Unicast), 0);
    assert_eq!(rib.unsendable_count(PLAIN, Family::Ipv4Unicast), 1);

    // Small again: announced, no longer counted.
    rib.apply_update(FROM, &update(10, "198.51.100.0/24")).unwrap();
    let (_, announced, unsendable) = drain(&mut rib, PLAIN);
    assert_eq!((announced, unsendable.len()), (vec![prefix], 0));
    assert_eq!(rib.unsendable_count(PLAIN, Family::Ipv4Unicast), 0);

    // Too large, then gone: the count follows.
    rib.apply_update(FROM, &update(1_100, "198.51.100.0/24")).unwrap();
    drain(&mut rib, PLAIN);
    assert_eq!(rib.unsendable_count(PLAIN, Family::Ipv4Unicast), 1);
    let withdraw = UpdateMessage { withdrawn: vec![Nlri::new(prefix)], ..UpdateMessage::default() };
    rib.apply_update(FROM, &withdraw).unwrap();
    drain(&mut rib, PLAIN);
    assert_eq!(rib.unsendable_count(PLAIN, Family::Ipv4Unicast), 0);
}

#[test]
fn a_batch_of_only_unsendable_prefixes_stays_bounded() {
    let mut rib = rib();
    for i in 0..50u8 {
        rib.apply_update(FROM, &update(1_100, &format!("198.51.100.{i}/32"))).unwrap();
    }
    let mut reports = Vec::new();
    while let Some(batch) = rib.next_export_batch(PLAIN, 20) {
        assert!(!batch.has_output());
        reports.push(batch.unsendable.expect("reported").count);
    }
    assert_eq!(reports, [20, 20, 10], "each call looks at no more than its maximum");
    assert_eq!(rib.unsendable_count(PLAIN, Family::Ipv4Unicast), 50);
}
