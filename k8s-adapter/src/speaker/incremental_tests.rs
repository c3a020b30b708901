//! Incremental == full: any sequence of Service changes, Node changes and config changes
//! leaves [`Incremental`] where [`desired`] and [`bgpd_state`] of the current views are.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::config::{Resources, build, crd};
use crate::speaker::bgpd::bgpd_state;

/// Pools `bgp` (198.51.100.0/26), `agg` (198.51.100.64/26), `l2` (203.0.113.0/28).
/// Peers `a` (all nodes) and `b` (rack=b). Advertisements: `plain` for bgp; `agg24` for agg
/// as /28 to `a` with LOCAL_PREF 200; `agg-more` for agg as /28 to every peer with a
/// community (so `a` gets merged attributes and `b` different ones); `edge` for bgp from
/// zone=edge with a community; L2 for l2 from zone=1.
fn config(second_plain: bool) -> Config {
    let selector = |k: &str, v: &str| crd::LabelSelector {
        match_labels: [(k.to_owned(), v.to_owned())].into(),
        ..Default::default()
    };
    let pool = |name: &str, cidr: &str| {
        crd::IpAddressPool::new(
            name,
            crd::IpAddressPoolSpec { addresses: vec![cidr.into()], ..Default::default() },
        )
    };
    let peer = crd::test_peer;
    let adv = |name: &str, spec: crd::BgpAdvertisementSpec| crd::BgpAdvertisement::new(name, spec);
    let mut bgp_advertisements = vec![
        adv(
            "plain",
            crd::BgpAdvertisementSpec {
                ip_address_pools: vec!["bgp".into()],
                peers: if second_plain { vec!["b".into()] } else { Vec::new() },
                ..Default::default()
            },
        ),
        adv(
            "agg24",
            crd::BgpAdvertisementSpec {
                aggregation_length: Some(28),
                local_pref: Some(200),
                ip_address_pools: vec!["agg".into()],
                peers: vec!["a".into()],
                ..Default::default()
            },
        ),
        adv(
            "agg-more",
            crd::BgpAdvertisementSpec {
                aggregation_length: Some(28),
                communities: vec!["65000:1".into()],
                ip_address_pools: vec!["agg".into()],
                ..Default::default()
            },
        ),
        adv(
            "edge",
            crd::BgpAdvertisementSpec {
                communities: vec!["65000:2".into()],
                ip_address_pools: vec!["bgp".into()],
                node_selectors: vec![selector("zone", "edge")],
                ..Default::default()
            },
        ),
    ];
    if second_plain {
        bgp_advertisements.pop();
    }
    let built = build(&Resources {
        pools: vec![
            pool("bgp", "198.51.100.0/26"),
            pool("agg", "198.51.100.64/26"),
            pool("l2", "203.0.113.0/28"),
        ],
        peers: vec![
            peer("a", "192.0.2.1", vec![]),
            peer("b", "192.0.2.2", vec![selector("rack", "b")]),
        ],
        bgp_advertisements,
        l2_advertisements: vec![crd::L2Advertisement::new(
            "l2",
            crd::L2AdvertisementSpec {
                ip_address_pools: vec!["l2".into()],
                node_selectors: vec![selector("zone", "1")],
                ..Default::default()
            },
        )],
        communities: Vec::new(),
        bfd_profiles: Vec::new(),
    });
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    built.config
}

fn node(variant: u8) -> NodeView {
    let mut labels = BTreeMap::new();
    if variant & 1 != 0 {
        labels.insert("rack".to_owned(), "b".to_owned());
    }
    if variant & 2 != 0 {
        labels.insert("zone".to_owned(), "edge".to_owned());
    } else if variant & 4 != 0 {
        labels.insert("zone".to_owned(), "1".to_owned());
    }
    NodeView {
        name: "n1".into(),
        labels: labels.into_iter().collect(),
        network_unavailable: variant & 8 != 0,
        addresses: Vec::new(),
        ..NodeView::default()
    }
}

/// Addresses drawn from every pool and outside them, so shares collide on /32s (shared
/// addresses) and on aggregates.
const ADDRESSES: &[&str] = &[
    "198.51.100.1",
    "198.51.100.2",
    "198.51.100.65",
    "198.51.100.66",
    "198.51.100.90",
    "203.0.113.1",
    "203.0.113.2",
    "192.0.2.200",
];

/// A Service's shape: address indexes, ETP Local, ready on (bit 0: this node, bit 1:
/// another), ready anywhere.
type Spec = (Vec<usize>, bool, u8, bool);

fn view_strategy() -> impl Strategy<Value = (u8, Option<Spec>)> {
    (
        0u8..8,
        proptest::option::weighted(
            0.8,
            (
                proptest::collection::vec(0..ADDRESSES.len(), 0..3),
                any::<bool>(),
                0u8..4,
                any::<bool>(),
            ),
        ),
    )
}

fn make_view(index: u8, spec: &Spec) -> ServiceView {
    let (addresses, local, ready, anywhere) = spec;
    let mut ready_nodes = BTreeSet::new();
    if ready & 1 != 0 {
        ready_nodes.insert("n1".to_owned());
    }
    if ready & 2 != 0 {
        ready_nodes.insert("n2".to_owned());
    }
    ServiceView {
        key: ServiceKey::new("default", format!("s{index}")),
        addresses: addresses.iter().filter_map(|&i| ADDRESSES[i].parse().ok()).collect(),
        local: *local,
        ready_anywhere: *anywhere || !ready_nodes.is_empty(),
        ready_nodes,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Service(u8, Option<Spec>),
    Node(u8),
    Config(bool),
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => view_strategy().prop_map(|(i, v)| Step::Service(i, v)),
        1 => (0u8..16).prop_map(Step::Node),
        1 => any::<bool>().prop_map(Step::Config),
    ]
}

fn check(
    incremental: &Incremental,
    views: &BTreeMap<ServiceKey, ServiceView>,
    node: &NodeView,
    config: &Config,
) {
    let all: Vec<ServiceView> = views.values().cloned().collect();
    let full = desired(&all, node, config);
    assert_eq!(incremental.announcements(), full);
    assert_eq!(incremental.state(), bgpd_state(&full, config, "n1"));
}

proptest! {
    #[test]
    fn incremental_equals_full(steps in proptest::collection::vec(step_strategy(), 1..40)) {
        let mut node_view = node(0);
        let mut cfg = config(false);
        let mut views: BTreeMap<ServiceKey, ServiceView> = BTreeMap::new();
        let mut incremental = Incremental::new(node_view.clone(), cfg.clone(), "n1", []);
        for step in steps {
            match step {
                Step::Service(index, spec) => {
                    let key = ServiceKey::new("default", format!("s{index}"));
                    let view = spec.as_ref().map(|s| make_view(index, s));
                    match &view {
                        Some(v) => views.insert(key.clone(), v.clone()),
                        None => views.remove(&key),
                    };
                    incremental.update(&key, view);
                }
                Step::Node(variant) => {
                    node_view = node(variant);
                    incremental.reset(node_view.clone(), cfg.clone(), views.values().cloned());
                }
                Step::Config(second) => {
                    cfg = config(second);
                    incremental.reset(node_view.clone(), cfg.clone(), views.values().cloned());
                }
            }
            check(&incremental, &views, &node_view, &cfg);
        }
    }
}

#[test]
fn announced_changes_are_reported_once() {
    let mut incremental = Incremental::new(node(0), config(false), "n1", []);
    let key = ServiceKey::new("default", "s1");
    let view = make_view(1, &(vec![0], false, 1, true));
    assert!(incremental.update(&key, Some(view.clone())));
    assert!(!incremental.update(&key, Some(view)), "the same view changes nothing");
    let changes = incremental.take_announced();
    assert_eq!(changes[&key], BTreeSet::from(["a".to_owned()]));
    assert!(incremental.is_announced(&key));
    assert!(incremental.take_announced().is_empty());
    incremental.update(&key, None);
    assert_eq!(incremental.take_announced()[&key], BTreeSet::new());
    assert!(!incremental.is_announced(&key));
}
