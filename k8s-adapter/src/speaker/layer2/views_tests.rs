//! Per change == full: any sequence of Service, Node, config and fallback changes leaves
//! [`Layer2Views`] where [`crate::election::candidates()`] and [`desired`] of the current views
//! are.

use proptest::prelude::*;

use super::*;
use crate::config::{Resources, build, crd};

/// Pools `l2` (203.0.113.0/28) and `fb` (198.51.100.0/28, fallback mode when `fallback`).
/// L2Advertisements: `zone-1` for l2 from zone=1 on eth1, `all` for l2 from every node on
/// every interface (only when `wide`), `fb` for fb on eth2.
fn config(wide: bool, fallback: bool) -> Config {
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
    let l2 = |name: &str, pool: &str, selectors, interfaces: &[&str], bgp_fallback| {
        crd::L2Advertisement::new(
            name,
            crd::L2AdvertisementSpec {
                ip_address_pools: vec![pool.into()],
                node_selectors: selectors,
                interfaces: interfaces.iter().map(|i| (*i).to_owned()).collect(),
                bgp_fallback,
                ..Default::default()
            },
        )
    };
    let mut l2_advertisements = vec![
        l2("zone-1", "l2", vec![selector("zone", "1")], &["eth1"], false),
        l2("fb", "fb", vec![], &["eth2"], fallback),
    ];
    if wide {
        l2_advertisements.push(l2("all", "l2", vec![], &[], false));
    }
    let built = build(&Resources {
        pools: vec![pool("l2", "203.0.113.0/28"), pool("fb", "198.51.100.0/28")],
        peers: vec![crd::test_peer("a", "192.0.2.1", vec![])],
        bgp_advertisements: vec![crd::BgpAdvertisement::new(
            "fb",
            crd::BgpAdvertisementSpec { ip_address_pools: vec!["fb".into()], ..Default::default() },
        )],
        l2_advertisements,
        communities: Vec::new(),
        bfd_profiles: Vec::new(),
    });
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    built.config
}

/// Nodes n1..n3; bit i of `zones`: node i+1 is in zone 1; bit 3: n2 is excluded.
fn nodes(zones: u8) -> Vec<NodeView> {
    (0..3)
        .map(|i| NodeView {
            name: format!("n{}", i + 1),
            labels: if zones & (1 << i) != 0 {
                [("zone".to_owned(), "1".to_owned())].into()
            } else {
                Default::default()
            },
            network_unavailable: i == 1 && zones & 8 != 0,
            addresses: Vec::new(),
            ..NodeView::default()
        })
        .collect()
}

const ADDRESSES: &[&str] =
    &["203.0.113.1", "203.0.113.2", "198.51.100.1", "198.51.100.2", "192.0.2.200"];

/// Address indexes, ETP Local, ready on (bits: n1, n2, n3).
type Spec = (Vec<usize>, bool, u8);

fn make_view(index: u8, (addresses, local, ready): &Spec) -> ServiceView {
    let ready_nodes: BTreeSet<String> =
        (0..3).filter(|i| ready & (1 << i) != 0).map(|i| format!("n{}", i + 1)).collect();
    ServiceView {
        key: ServiceKey::new("default", format!("s{index}")),
        addresses: addresses.iter().filter_map(|&i| ADDRESSES[i].parse().ok()).collect(),
        local: *local,
        ready_anywhere: !ready_nodes.is_empty(),
        ready_nodes,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Service(u8, Option<Spec>),
    Nodes(u8),
    Config(bool, bool),
    /// n1 and n3 joined fb (bits 0 and 1).
    Joined(u8),
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let spec = (proptest::collection::vec(0..ADDRESSES.len(), 0..3), any::<bool>(), 0u8..8);
    prop_oneof![
        8 => (0u8..6, proptest::option::weighted(0.8, spec)).prop_map(|(i, s)| Step::Service(i, s)),
        1 => (0u8..16).prop_map(Step::Nodes),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(w, f)| Step::Config(w, f)),
        1 => (0u8..4).prop_map(Step::Joined),
    ]
}

fn joined(bits: u8) -> BTreeMap<String, BTreeSet<String>> {
    [("n1", 1u8), ("n3", 2)]
        .into_iter()
        .filter(|(_, bit)| bits & bit != 0)
        .map(|(n, _)| (n.to_owned(), BTreeSet::from(["fb".to_owned()])))
        .collect()
}

/// This node's addresses from the full computation: per address, the interfaces and the
/// Services, as the layer2 task built them from [`desired`] of every view.
type Mine = (BTreeMap<IpAddr, Vec<String>>, BTreeMap<IpAddr, Vec<ServiceKey>>);

fn full_mine(views: &[ServiceView], me: &NodeView, config: &Config) -> Mine {
    let mut interfaces: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
    let mut services: BTreeMap<IpAddr, Vec<ServiceKey>> = BTreeMap::new();
    for l2 in desired(views, me, config).layer2 {
        services.entry(l2.address).or_default().push(l2.service);
        interfaces.entry(l2.address).or_default().extend(l2.interfaces);
    }
    (interfaces, services)
}

fn check(l2: &Layer2Views, views: &BTreeMap<ServiceKey, ServiceView>) {
    let all: Vec<ServiceView> = views.values().cloned().collect();
    let candidates = crate::election::candidates(&all, &l2.nodes, l2.config(), l2.fallback());
    let (interfaces, services) = full_mine(&all, l2.me(), l2.config());
    assert_eq!(l2.candidates(), &candidates);
    let mine: BTreeSet<IpAddr> = l2.mine.keys().copied().collect();
    assert_eq!(mine, services.keys().copied().collect::<BTreeSet<_>>());
    for (address, keys) in &services {
        // A Service listing one address twice is one Service for it.
        let mut keys = keys.clone();
        keys.dedup();
        assert_eq!(l2.services(*address).cloned().collect::<Vec<_>>(), keys);
        assert_eq!(l2.interfaces(*address), interfaces[address]);
    }
}

proptest! {
    #[test]
    fn per_change_equals_full(steps in proptest::collection::vec(step_strategy(), 1..40)) {
        let mut l2 = Layer2Views::new("n1");
        let mut views: BTreeMap<ServiceKey, ServiceView> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Service(index, spec) => {
                    let key = ServiceKey::new("default", format!("s{index}"));
                    let view = spec.map(|s| make_view(index, &s));
                    match &view {
                        Some(v) => views.insert(key.clone(), v.clone()),
                        None => views.remove(&key),
                    };
                    l2.apply(ServiceChanges::Changed(vec![(key, view)]));
                }
                Step::Nodes(zones) => {
                    l2.set_nodes(nodes(zones));
                    l2.reset();
                }
                Step::Config(wide, fallback) => {
                    let config = config(wide, fallback);
                    let pools = crate::election::fallback::fallback_pools(&config);
                    l2.set_config(Arc::new(config));
                    l2.set_fallback(FallbackView { pools, joined: l2.fallback().joined.clone() });
                    l2.reset();
                }
                Step::Joined(bits) => {
                    let pools = l2.fallback().pools.clone();
                    l2.set_fallback(FallbackView { pools, joined: joined(bits) });
                    l2.reset();
                }
            }
            check(&l2, &views);
        }
        // A relist gives the same result as the changes did.
        let mut relisted = Layer2Views::new("n1");
        relisted.set_config(Arc::clone(l2.config()));
        relisted.set_nodes(l2.nodes.clone());
        relisted.set_fallback(l2.fallback().clone());
        relisted.apply(ServiceChanges::All(views.values().cloned().collect()));
        prop_assert_eq!(relisted.candidates(), l2.candidates());
    }
}

#[test]
fn shared_address_keeps_the_first_services_key_and_interfaces_in_service_order() {
    let mut l2 = Layer2Views::new("n1");
    l2.set_config(Arc::new(config(false, false)));
    l2.set_nodes(nodes(0b001));
    l2.reset();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // s1: 203.0.113.1 only; s0: 203.0.113.2 then .1 (its key is .2).
    l2.apply(ServiceChanges::Changed(vec![(
        ServiceKey::new("default", "s1"),
        Some(make_view(1, &(vec![0], false, 0b111))),
    )]));
    assert_eq!(l2.candidates()[&ip("203.0.113.1")].key, ip("203.0.113.1"));
    l2.apply(ServiceChanges::Changed(vec![(
        ServiceKey::new("default", "s0"),
        Some(make_view(0, &(vec![1, 0], true, 0b010))),
    )]));
    let shared = &l2.candidates()[&ip("203.0.113.1")];
    assert_eq!(shared.key, ip("203.0.113.2"), "s0 sorts first");
    assert_eq!(shared.candidates, BTreeSet::from(["n1".to_owned()]), "s0 is Local, on n2");
    // Both Services give n1 (zone 1) the address on eth1.
    assert_eq!(l2.interfaces(ip("203.0.113.1")), ["eth1", "eth1"]);
    let services: Vec<String> = l2.services(ip("203.0.113.1")).map(|k| k.name.clone()).collect();
    assert_eq!(services, ["s0", "s1"]);
    l2.apply(ServiceChanges::Changed(vec![(ServiceKey::new("default", "s0"), None)]));
    assert_eq!(l2.candidates()[&ip("203.0.113.1")].key, ip("203.0.113.1"));
    assert!(!l2.candidates().contains_key(&ip("203.0.113.2")));
}
