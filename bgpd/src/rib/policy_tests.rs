//! The import and export chains in the RIB (`policy`): filtering, changes
//! interned once per attribute set, rejection withdrawing an earlier path,
//! RFC 8326 after import, counters, and the export decision per receiver.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;

use super::*;
use crate::policy::{CompiledChain, Context, PolicyBook, PolicyDefinitions};
use crate::wire::{AsPath, Community, NextHop, Nlri, Origin, PathAttributes, UpdateMessage};

const LOCAL_ASN: u32 = 65000;
const A: PeerId = PeerId(1);
const B: PeerId = PeerId(2);
const I: PeerId = PeerId(3);

const BOOK: &str = r#"
[[prefix_sets]]
name = "allowed"
prefixes = ["198.51.100.0/24 le 32"]
[[community_sets]]
name = "prefer"
communities = ["65001:200"]
[[policies]]
name = "only-allowed"
default = "reject"
[[policies.statements]]
match.prefix_set = "allowed"
action = "accept"
[[policies]]
name = "prefer-tagged"
default = "accept"
[[policies.statements]]
match.community_set = "prefer"
set.local_pref = 200
action = "accept"
[[policies]]
name = "prepend-allowed"
default = "reject"
[[policies.statements]]
match.prefix_set = "allowed"
set.as_path_prepend = 2
set.med = 7
action = "accept"
[[policies]]
name = "self"
default = "accept"
[[policies.statements]]
set.next_hop = "self"
"#;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn chain(names: &[&str]) -> Option<Arc<CompiledChain>> {
    let definitions: PolicyDefinitions = toml::from_str(BOOK).unwrap();
    let book = PolicyBook::build(&definitions).unwrap();
    Some(Arc::new(book.chain(names).unwrap()))
}

fn policy(import: &[&str], export: &[&str], neighbor_asn: u32) -> PeerPolicy {
    PeerPolicy {
        import: if import.is_empty() { None } else { chain(import) },
        export: if export.is_empty() { None } else { chain(export) },
        context: Context { local_asn: LOCAL_ASN, neighbor_asn },
    }
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

fn rib() -> Rib {
    let mut rib = Rib::new(LocalInfo { asn: LOCAL_ASN, router_id: Ipv4Addr::new(10, 0, 0, 100) });
    rib.add_peer(A, info(65001, 1)).unwrap();
    rib.add_peer(B, info(65002, 2)).unwrap();
    rib.add_peer(I, info(LOCAL_ASN, 3)).unwrap();
    rib
}

fn attrs(communities: &[Community]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: AsPath::from_sequence([65001]),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        communities: communities.to_vec(),
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

type Sent = BTreeMap<IpNet, (Arc<PathAttributes>, NextHop)>;

fn drain(rib: &mut Rib, peer: PeerId) -> (Vec<IpNet>, Sent) {
    let (mut withdrawn, mut announced) = (Vec::new(), BTreeMap::new());
    while let Some(batch) = rib.next_export_batch(peer, 1000) {
        withdrawn.extend(batch.withdrawn.iter().map(|n| n.prefix));
        for group in batch.groups() {
            for n in group.nlri {
                announced.insert(n.prefix, (Arc::new(group.attributes.unpack()), group.next_hop));
            }
        }
    }
    (withdrawn, announced)
}

#[test]
fn import_prefix_filter_installs_only_accepted_prefixes_and_counts() {
    let mut rib = rib();
    rib.set_peer_policy(A, policy(&["only-allowed"], &[], 65001)).unwrap();
    let update = announce(attrs(&[]), &["198.51.100.0/24", "198.51.100.7/32", "203.0.113.0/24"]);
    let stats = rib.apply_update(A, &update).unwrap();
    assert_eq!((stats.announced, stats.filtered), (2, 1));
    assert!(rib.best_route(net("198.51.100.0/24")).is_some());
    assert!(rib.best_route(net("198.51.100.7/32")).is_some());
    assert!(rib.best_route(net("203.0.113.0/24")).is_none());
    let counters = rib.policy_counters(A).unwrap();
    assert_eq!((counters.accepted, counters.rejected, counters.modified), (2, 1, 0));
}

#[test]
fn import_reject_of_a_reannounced_prefix_removes_the_old_path() {
    let mut rib = rib();
    rib.apply_update(A, &announce(attrs(&[]), &["203.0.113.0/24"])).unwrap();
    assert!(rib.best_route(net("203.0.113.0/24")).is_some());
    rib.set_peer_policy(A, policy(&["only-allowed"], &[], 65001)).unwrap();
    let stats = rib.apply_update(A, &announce(attrs(&[]), &["203.0.113.0/24"])).unwrap();
    assert_eq!((stats.filtered, stats.best_changed), (1, 1));
    assert!(rib.best_route(net("203.0.113.0/24")).is_none());
}

#[test]
fn import_changes_are_interned_once_and_counted_as_modified() {
    let mut rib = rib();
    rib.set_peer_policy(A, policy(&["prefer-tagged"], &[], 65001)).unwrap();
    let tagged = attrs(&[Community((65001 << 16) | 200)]);
    let update = announce(tagged, &["198.51.100.0/24", "198.51.100.1/32", "198.51.100.2/32"]);
    rib.apply_update(A, &update).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["203.0.113.0/24"])).unwrap();
    let route = rib.best_route(net("198.51.100.1/32")).unwrap();
    assert_eq!(route.attributes.local_pref, Some(200));
    assert_eq!(rib.best_route(net("203.0.113.0/24")).unwrap().attributes.local_pref, None);
    assert_eq!(rib.attribute_sets(), 2, "one changed set for three prefixes, one untouched");
    let counters = rib.policy_counters(A).unwrap();
    assert_eq!((counters.accepted, counters.rejected, counters.modified), (4, 0, 3));
}

#[test]
fn reject_all_and_accept_all_chains() {
    let mut rib = rib();
    rib.set_peer_policy(A, policy(&["reject-all"], &[], 65001)).unwrap();
    let stats = rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.0/24"])).unwrap();
    assert_eq!(stats.filtered, 1);
    assert!(rib.best_route(net("198.51.100.0/24")).is_none());
    rib.set_peer_policy(A, policy(&["accept-all"], &[], 65001)).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.0/24"])).unwrap();
    assert!(rib.best_route(net("198.51.100.0/24")).is_some());
}

#[test]
fn graceful_shutdown_lowers_local_pref_after_import_unless_policy_set_it() {
    let mut rib = rib();
    let gshut = attrs(&[Community::GRACEFUL_SHUTDOWN]);
    rib.apply_update(A, &announce(gshut.clone(), &["198.51.100.0/24"])).unwrap();
    let route = rib.best_route(net("198.51.100.0/24")).unwrap();
    assert_eq!(route.attributes.local_pref, Some(0), "RFC 8326 without a policy");
    rib.set_peer_policy(B, policy(&["prefer-tagged"], &[], 65002)).unwrap();
    let mut both = gshut;
    both.communities.push(Community((65001 << 16) | 200));
    both.as_path = AsPath::from_sequence([65002]);
    rib.apply_update(B, &announce(both, &["203.0.113.0/24"])).unwrap();
    let route = rib.best_route(net("203.0.113.0/24")).unwrap();
    assert_eq!(route.attributes.local_pref, Some(200), "the policy's LOCAL_PREF stands");
}

#[test]
fn export_chain_filters_and_prepends_for_its_peer_only_config_routes_included() {
    let mut rib = rib();
    rib.set_peer_policy(B, policy(&[], &["prepend-allowed"], 65002)).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.0/24", "203.0.113.0/24"])).unwrap();
    let local = PathAttributes::default();
    rib.originate(Source::Static, net("198.51.100.128/25"), local.clone(), None).unwrap();
    rib.originate(Source::Static, net("192.0.2.128/25"), local, None).unwrap();
    for family in Family::ALL {
        rib.queue_full_table(B, family).unwrap();
        rib.queue_full_table(I, family).unwrap();
    }
    let (_, to_b) = drain(&mut rib, B);
    let prefixes: Vec<String> = to_b.keys().map(ToString::to_string).collect();
    assert_eq!(prefixes, ["198.51.100.0/24", "198.51.100.128/25"]);
    let (attributes, next_hop) = &to_b[&net("198.51.100.0/24")];
    assert_eq!(attributes.as_path, AsPath::from_sequence([LOCAL_ASN, LOCAL_ASN, LOCAL_ASN, 65001]));
    assert_eq!(attributes.med, Some(7), "a MED the policy set survives towards eBGP");
    assert_eq!(*next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 100)));
    // The iBGP peer without a chain gets everything.
    assert_eq!(drain(&mut rib, I).1.len(), 4);
    // A new chain and a re-run of the decision withdraw what it rejects.
    rib.set_peer_policy(B, policy(&[], &["reject-all"], 65002)).unwrap();
    for family in Family::ALL {
        rib.queue_full_table(B, family).unwrap();
    }
    let (mut withdrawn, announced) = drain(&mut rib, B);
    withdrawn.sort();
    assert!(announced.is_empty());
    assert_eq!(withdrawn, [net("198.51.100.0/24"), net("198.51.100.128/25")]);
}

#[test]
fn export_next_hop_self_applies_to_ibgp() {
    let mut rib = rib();
    rib.set_peer_policy(I, policy(&[], &["self"], LOCAL_ASN)).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.0/24"])).unwrap();
    let (_, to_i) = drain(&mut rib, I);
    let (_, next_hop) = &to_i[&net("198.51.100.0/24")];
    assert_eq!(*next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 100)));
}

#[test]
fn the_as_we_meet_a_peer_with_is_a_loop_in_its_paths() {
    let mut rib = rib();
    let mut own = policy(&[], &[], 65001);
    own.context.local_asn = 64999;
    rib.set_peer_policy(A, own).unwrap();
    let looped = PathAttributes { as_path: AsPath::from_sequence([65001, 64999]), ..attrs(&[]) };
    rib.apply_update(A, &announce(looped, &["198.51.100.1/32"])).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.2/32"])).unwrap();
    assert_eq!(rib.source_routes(Source::Peer(A), Family::Ipv4Unicast), 1);
    assert!(rib.best_route(net("198.51.100.1/32")).is_none());
}

#[test]
fn soft_reconfiguration_reapplies_a_changed_import_chain_from_the_kept_routes() {
    let mut rib = rib();
    rib.set_soft_reconfiguration(A, true).unwrap();
    assert!(rib.keeps_pre_policy(A) && !rib.keeps_pre_policy(B));
    rib.set_peer_policy(A, policy(&["only-allowed"], &[], 65001)).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.1/32", "203.0.113.1/32"])).unwrap();
    assert_eq!(rib.source_routes(Source::Peer(A), Family::Ipv4Unicast), 1);
    assert_eq!(rib.pre_policy_count(A, Family::Ipv4Unicast), 2, "kept before the policy");

    // A wider chain: the rejected route comes in from the kept copy.
    rib.set_peer_policy(A, policy(&["prefer-tagged"], &[], 65001)).unwrap();
    assert!(rib.reapply_import(A).unwrap().is_some());
    assert_eq!(rib.source_routes(Source::Peer(A), Family::Ipv4Unicast), 2);
    assert!(rib.best_route(net("203.0.113.1/32")).is_some());
    // Narrower again: it goes.
    rib.set_peer_policy(A, policy(&["only-allowed"], &[], 65001)).unwrap();
    rib.reapply_import(A).unwrap();
    assert!(rib.best_route(net("203.0.113.1/32")).is_none());
    assert_eq!(rib.source_routes(Source::Peer(A), Family::Ipv4Unicast), 1);

    // Withdrawals and replacements keep the copy exact; a peer without it
    // has nothing to re-apply.
    let withdraw = UpdateMessage {
        withdrawn: vec![Nlri::new(net("203.0.113.1/32"))],
        ..UpdateMessage::default()
    };
    rib.apply_update(A, &withdraw).unwrap();
    rib.apply_update(A, &announce(attrs(&[Community(0xfde9_00c8)]), &["198.51.100.1/32"])).unwrap();
    assert_eq!(rib.pre_policy_count(A, Family::Ipv4Unicast), 1);
    assert_eq!(rib.reapply_import(B).unwrap(), None);

    // The session's end empties it and frees the attribute sets it held.
    rib.peer_down(A).unwrap();
    assert_eq!(rib.pre_policy_count(A, Family::Ipv4Unicast), 0);
    assert_eq!(rib.attribute_sets(), 0, "no attribute set leaks");
}

#[test]
fn receivers_whose_chains_agree_share_one_exported_set() {
    let mut rib = rib();
    let c = PeerId(4);
    rib.add_peer(c, info(65004, 4)).unwrap();
    rib.set_peer_policy(B, policy(&[], &["only-allowed"], 65002)).unwrap();
    rib.set_peer_policy(c, policy(&[], &["only-allowed"], 65004)).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.1/32", "198.51.100.2/32"])).unwrap();
    let (_, to_b) = drain(&mut rib, B);
    let (_, to_c) = drain(&mut rib, c);
    assert_eq!(to_b.len(), 2);
    for (prefix, (attributes, next_hop)) in &to_b {
        let (theirs, their_next_hop) = &to_c[prefix];
        assert_eq!(next_hop, their_next_hop);
        assert_eq!(attributes, theirs, "{prefix}");
    }
    // Each batch unpacks its own copy; the cache holds one packed set for both.
    assert_eq!(rib.core.attrs.exported_allocations(), 1, "one exported set for both");
    // A chain that changes the set keeps its own copy.
    rib.set_peer_policy(c, policy(&[], &["prepend-allowed"], 65004)).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.3/32"])).unwrap();
    let (_, to_b) = drain(&mut rib, B);
    let (_, to_c) = drain(&mut rib, c);
    let prefix = net("198.51.100.3/32");
    assert!(!Arc::ptr_eq(&to_b[&prefix].0, &to_c[&prefix].0));
    assert_ne!(to_b[&prefix].0.as_path, to_c[&prefix].0.as_path);
}

#[test]
fn reapplying_the_import_chain_judges_each_kept_route_once_in_the_counters() {
    let mut rib = rib();
    rib.set_soft_reconfiguration(A, true).unwrap();
    rib.set_peer_policy(A, policy(&["only-allowed"], &[], 65001)).unwrap();
    rib.apply_update(A, &announce(attrs(&[]), &["198.51.100.1/32", "203.0.113.1/32"])).unwrap();
    let counts = |rib: &Rib| {
        let c = rib.policy_counters(A).unwrap();
        (c.accepted, c.rejected, c.modified)
    };
    assert_eq!(counts(&rib), (1, 1, 0));
    // The same chain re-applied twice: still each route once, not three times.
    rib.reapply_import(A).unwrap();
    rib.reapply_import(A).unwrap();
    assert_eq!(counts(&rib), (1, 1, 0));
    // A changed chain restarts the counts; its reapply judges both routes.
    rib.set_peer_policy(A, policy(&["prefer-tagged"], &[], 65001)).unwrap();
    assert_eq!(counts(&rib), (0, 0, 0));
    rib.reapply_import(A).unwrap();
    rib.reapply_import(A).unwrap();
    assert_eq!(counts(&rib), (2, 0, 0));
    // UPDATEs received after it add to them as before.
    rib.apply_update(A, &announce(attrs(&[Community(0xfde9_00c8)]), &["192.0.2.7/32"])).unwrap();
    assert_eq!(counts(&rib), (3, 0, 1));
}

#[test]
fn export_counters_count_each_decision_of_the_receivers_chain() {
    let mut rib = rib();
    rib.set_peer_policy(B, policy(&[], &["prepend-allowed"], 65002)).unwrap();
    let c = c_peer(&mut rib);
    rib.set_peer_policy(c, policy(&[], &["only-allowed"], 65004)).unwrap();
    let prefixes = ["198.51.100.0/24", "198.51.100.1/32", "203.0.113.0/24"];
    rib.apply_update(A, &announce(attrs(&[]), &prefixes)).unwrap();
    let out = |rib: &Rib, peer| {
        let c = rib.export_policy_counters(peer).unwrap();
        (c.accepted, c.rejected, c.modified)
    };
    assert_eq!(drain(&mut rib, B).1.len(), 2);
    assert_eq!(out(&rib, B), (2, 1, 2), "prepend and MED: modified");
    assert_eq!(drain(&mut rib, c).1.len(), 2);
    assert_eq!(out(&rib, c), (2, 1, 0), "accepted as they are");
    // No chain (iBGP): nothing judged. The import side is apart.
    drain(&mut rib, I);
    assert_eq!(out(&rib, I), (0, 0, 0));
    assert_eq!(rib.policy_counters(B).unwrap(), PolicyCounters::default());
    // The cached decisions still count when the table is queued again; a new
    // chain restarts the counts and RFC 8212's reject-all counts as rejected.
    for family in Family::ALL {
        rib.queue_full_table(B, family).unwrap();
    }
    drain(&mut rib, B);
    assert_eq!(out(&rib, B), (4, 2, 4));
    rib.set_peer_policy(B, policy(&[], &["reject-all"], 65002)).unwrap();
    assert_eq!(out(&rib, B), (0, 0, 0));
    for family in Family::ALL {
        rib.queue_full_table(B, family).unwrap();
    }
    drain(&mut rib, B);
    assert_eq!(out(&rib, B), (0, 3, 0));
}

/// A fourth peer, eBGP in AS 65004.
fn c_peer(rib: &mut Rib) -> PeerId {
    let c = PeerId(4);
    rib.add_peer(c, info(65004, 4)).unwrap();
    c
}
