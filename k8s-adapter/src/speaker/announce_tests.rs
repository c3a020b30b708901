//! Announcement tables: MetalLB's documented speaker behaviours as cases.

use std::collections::BTreeSet;

use serde_json::json;

use super::*;
use crate::config::{Resources, build, crd};
use crate::speaker::view::Drain;

fn labels(pairs: &[(&str, &str)]) -> crate::config::Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn selector(key: &str, value: &str) -> crd::LabelSelector {
    crd::LabelSelector {
        match_labels: [(key.to_owned(), value.to_owned())].into(),
        ..Default::default()
    }
}

/// Pools: `bgp` 198.51.100.0/25, `agg` 198.51.100.128/25, `v6` 2001:db8::/64, `l2`
/// 203.0.113.0/24. Peers: `tor-a` (all nodes, `dualStackAddressFamily`), `tor-b` (nodes
/// with rack=b, IPv4 only).
/// Advertisements: `plain` for bgp and v6; `aggregated` for agg as /25 with LOCAL_PREF 200
/// and communities to tor-a only; `edge` for bgp from zone=edge nodes with a community;
/// L2 `local` for l2 from zone=1 nodes on eth0.
fn config() -> Config {
    let pool = |name: &str, addresses: &[&str]| {
        crd::IpAddressPool::new(
            name,
            crd::IpAddressPoolSpec {
                addresses: addresses.iter().map(|a| (*a).into()).collect(),
                ..Default::default()
            },
        )
    };
    let peer = crd::test_peer;
    let adv = |name: &str, spec: crd::BgpAdvertisementSpec| crd::BgpAdvertisement::new(name, spec);
    let built = build(&Resources {
        pools: vec![
            pool("bgp", &["198.51.100.0/25"]),
            pool("agg", &["198.51.100.128/25"]),
            pool("v6", &["2001:db8::/64"]),
            pool("l2", &["203.0.113.0/24"]),
        ],
        peers: vec![
            {
                let mut p = peer("tor-a", "192.0.2.1", vec![]);
                p.spec.dual_stack_address_family = Some(true);
                p
            },
            peer("tor-b", "192.0.2.2", vec![selector("rack", "b")]),
        ],
        communities: vec![crd::Community::new(
            "names",
            crd::CommunitySpec {
                communities: vec![crd::CommunityAlias {
                    name: "gold".into(),
                    value: "65000:300".into(),
                }],
            },
        )],
        bgp_advertisements: vec![
            adv(
                "plain",
                crd::BgpAdvertisementSpec {
                    ip_address_pools: vec!["bgp".into(), "v6".into()],
                    ..Default::default()
                },
            ),
            adv(
                "aggregated",
                crd::BgpAdvertisementSpec {
                    aggregation_length: Some(25),
                    local_pref: Some(200),
                    communities: vec!["65000:1".into(), "gold".into()],
                    ip_address_pools: vec!["agg".into()],
                    peers: vec!["tor-a".into()],
                    ..Default::default()
                },
            ),
            adv(
                "edge",
                crd::BgpAdvertisementSpec {
                    communities: vec!["large:64500:1:2".into()],
                    ip_address_pools: vec!["bgp".into()],
                    node_selectors: vec![selector("zone", "edge")],
                    ..Default::default()
                },
            ),
        ],
        l2_advertisements: vec![crd::L2Advertisement::new(
            "local",
            crd::L2AdvertisementSpec {
                ip_address_pools: vec!["l2".into()],
                node_selectors: vec![selector("zone", "1")],
                interfaces: vec!["eth0".into()],
                ..Default::default()
            },
        )],
        bfd_profiles: Vec::new(),
    });
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    built.config
}

fn service(name: &str, addresses: &[&str], local: bool, ready_on: &[&str]) -> ServiceView {
    ServiceView {
        key: ServiceKey::new("default", name),
        addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
        local,
        ready_nodes: ready_on.iter().map(|n| (*n).to_owned()).collect(),
        ready_anywhere: !ready_on.is_empty(),
    }
}

fn node(name: &str, pairs: &[(&str, &str)]) -> NodeView {
    NodeView {
        name: name.into(),
        labels: labels(pairs),
        network_unavailable: false,
        addresses: vec![NODE_V4.parse().unwrap(), NODE_V6.parse().unwrap()],
        ..NodeView::default()
    }
}

const NODE_V4: &str = "192.0.2.50";
const NODE_V6: &str = "2001:db8:ff::50";

#[test]
fn sessions_carry_their_own_family_unless_dual_stack() {
    let config = config();
    let services = [service("s", &["198.51.100.5", "2001:db8::5"], false, &["x"])];
    let out = desired(&services, &node("me", &[("rack", "b")]), &config);
    let keys =
        |peer: &str| -> Vec<String> { out.peers[peer].keys().map(ToString::to_string).collect() };
    // tor-b is an IPv4 session without dualStackAddressFamily: the IPv4 address only.
    assert_eq!(keys("tor-b"), ["198.51.100.5/32"]);
    // tor-a carries both; the IPv6 prefix with the node's IPv6 address as next hop, the
    // IPv4 one with bgpd's own address on the session.
    assert_eq!(keys("tor-a"), ["198.51.100.5/32", "2001:db8::5/128"]);
    let v6 = &out.peers["tor-a"][&"2001:db8::5/128".parse().unwrap()];
    assert_eq!(v6.next_hop, Some(NODE_V6.parse().unwrap()));
    assert_eq!(out.peers["tor-a"][&"198.51.100.5/32".parse().unwrap()].next_hop, None);
    // A node without an IPv6 address has no next hop for it: not sent over IPv4.
    let mut v4_only = node("me", &[]);
    v4_only.addresses.retain(IpAddr::is_ipv4);
    let out = desired(&services, &v4_only, &config);
    let keys: Vec<String> = out.peers["tor-a"].keys().map(ToString::to_string).collect();
    assert_eq!(keys, ["198.51.100.5/32"]);
}

#[test]
fn a_session_over_an_interface_carries_both_families_with_bgpd_next_hops() {
    let mut config = config();
    let tor_a = config.peers.iter_mut().find(|p| p.name == "tor-a").expect("tor-a");
    tor_a.dual_stack = false;
    tor_a.address = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
    tor_a.interface = Some("eth1".into());
    let services = [service("s", &["198.51.100.5", "2001:db8::5"], false, &["x"])];
    let out = desired(&services, &node("me", &[("rack", "b")]), &config);
    let paths = &out.peers["tor-a"];
    let keys: Vec<String> = paths.keys().map(ToString::to_string).collect();
    assert_eq!(keys, ["198.51.100.5/32", "2001:db8::5/128"]);
    // bgpd's own next hop on the link for both (RFC 8950 for IPv4), not the node's.
    assert!(paths.values().all(|attrs| attrs.next_hop.is_none()), "{paths:?}");
}

struct Case {
    name: &'static str,
    services: Vec<ServiceView>,
    node: NodeView,
    /// (peer, prefix) pairs announced.
    bgp: &'static [(&'static str, &'static str)],
    /// (address, candidate) pairs.
    layer2: &'static [(&'static str, bool)],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "Cluster with a ready endpoint on another node announces a /32",
            services: vec![service("s", &["198.51.100.10"], false, &["other"])],
            node: node("me", &[]),
            bgp: &[("tor-a", "198.51.100.10/32")],
            layer2: &[],
        },
        Case {
            name: "Cluster without ready endpoints announces nothing",
            services: vec![service("s", &["198.51.100.10"], false, &[])],
            node: node("me", &[]),
            bgp: &[],
            layer2: &[],
        },
        Case {
            name: "Local with the endpoint on another node announces nothing here",
            services: vec![service("s", &["198.51.100.10"], true, &["other"])],
            node: node("me", &[]),
            bgp: &[],
            layer2: &[],
        },
        Case {
            name: "Local with an endpoint here announces",
            services: vec![service("s", &["198.51.100.10"], true, &["other", "me"])],
            node: node("me", &[]),
            bgp: &[("tor-a", "198.51.100.10/32")],
            layer2: &[],
        },
        Case {
            name: "excluded node announces nothing",
            services: vec![service("s", &["198.51.100.10"], false, &["me"])],
            node: node("me", &[("node.kubernetes.io/exclude-from-external-load-balancers", "")]),
            bgp: &[],
            layer2: &[],
        },
        Case {
            name: "NetworkUnavailable node announces nothing",
            services: vec![
                service("s", &["198.51.100.10"], false, &["me"]),
                service("t", &["203.0.113.1"], false, &["me"]),
            ],
            node: NodeView { network_unavailable: true, ..node("me", &[("zone", "1")]) },
            bgp: &[],
            layer2: &[("203.0.113.1", false)],
        },
        Case {
            name: "peer node selectors: tor-b only from rack b",
            services: vec![service("s", &["198.51.100.10"], false, &["x"])],
            node: node("me", &[("rack", "b")]),
            bgp: &[("tor-a", "198.51.100.10/32"), ("tor-b", "198.51.100.10/32")],
            layer2: &[],
        },
        Case {
            name: "aggregation to the named peer only, one prefix for two Services",
            services: vec![
                service("s", &["198.51.100.130"], false, &["x"]),
                service("t", &["198.51.100.200"], false, &["x"]),
            ],
            node: node("me", &[("rack", "b")]),
            bgp: &[("tor-a", "198.51.100.128/25")],
            layer2: &[],
        },
        Case {
            name: "IPv6 as /128, dual-stack Service announces both",
            services: vec![service("s", &["198.51.100.5", "2001:db8::5"], false, &["x"])],
            node: node("me", &[]),
            bgp: &[("tor-a", "198.51.100.5/32"), ("tor-a", "2001:db8::5/128")],
            layer2: &[],
        },
        Case {
            name: "address outside every pool is not announced",
            services: vec![service("s", &["192.0.2.77"], false, &["x"])],
            node: node("me", &[]),
            bgp: &[],
            layer2: &[],
        },
        Case {
            name: "layer2: candidate on a selected node with endpoints",
            services: vec![service("s", &["203.0.113.7"], false, &["x"])],
            node: node("me", &[("zone", "1")]),
            bgp: &[],
            layer2: &[("203.0.113.7", true)],
        },
        Case {
            name: "layer2: not a candidate on a node the advertisement does not select",
            services: vec![service("s", &["203.0.113.7"], false, &["x"])],
            node: node("me", &[("zone", "2")]),
            bgp: &[],
            layer2: &[("203.0.113.7", false)],
        },
        Case {
            name: "layer2: Local without an endpoint here is not a candidate",
            services: vec![service("s", &["203.0.113.7"], true, &["x"])],
            node: node("me", &[("zone", "1")]),
            bgp: &[],
            layer2: &[("203.0.113.7", false)],
        },
    ]
}

#[test]
fn announcement_table() {
    let config = config();
    for case in cases() {
        let out = desired(&case.services, &case.node, &config);
        let mut got: Vec<(String, String)> = out
            .peers
            .iter()
            .flat_map(|(peer, paths)| paths.keys().map(move |p| (peer.clone(), p.to_string())))
            .collect();
        got.sort();
        let want: Vec<(String, String)> =
            case.bgp.iter().map(|(p, n)| ((*p).to_owned(), (*n).to_owned())).collect();
        assert_eq!(got, want, "{}", case.name);
        let l2: Vec<(String, bool)> =
            out.layer2.iter().map(|a| (a.address.to_string(), a.candidate)).collect();
        let want: Vec<(String, bool)> =
            case.layer2.iter().map(|(a, c)| ((*a).to_owned(), *c)).collect();
        assert_eq!(l2, want, "{}", case.name);
        // Every peer selecting the node stays listed, even with nothing to announce.
        assert!(out.peers.contains_key("tor-a"), "{}", case.name);
        assert_eq!(
            out.peers.contains_key("tor-b"),
            case.node.labels.get("rack").is_some_and(|r| r == "b"),
            "{}",
            case.name
        );
    }
}

#[test]
fn attributes_merge_across_advertisements() {
    let config = config();
    let services = [service("s", &["198.51.100.130", "198.51.100.10"], false, &["x"])];
    let out = desired(&services, &node("me", &[("zone", "edge")]), &config);
    let tor_a = &out.peers["tor-a"];
    let agg = &tor_a[&"198.51.100.128/25".parse().unwrap()];
    assert_eq!(agg.local_pref, Some(200));
    assert_eq!(
        agg.communities,
        BTreeSet::from([
            BgpCommunity::Standard(65000 << 16 | 1),
            BgpCommunity::Standard(65000 << 16 | 300)
        ])
    );
    // `plain` and `edge` both announce the /32: the edge community is added, no LOCAL_PREF.
    let host = &tor_a[&"198.51.100.10/32".parse().unwrap()];
    assert_eq!(host.local_pref, None);
    assert_eq!(host.communities, BTreeSet::from([BgpCommunity::Large(64500, 1, 2)]));
}

#[test]
fn peers_of_a_node() {
    let config = config();
    let names = |n: &NodeView| node_peers(&config, n).map(|p| p.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&node("me", &[])), ["tor-a"]);
    assert_eq!(names(&node("me", &[("rack", "b")])), ["tor-a", "tor-b"]);
}

#[test]
fn layer2_interfaces_come_from_the_selecting_advertisement() {
    let out = desired(
        &[service("s", &["203.0.113.7"], false, &["x"])],
        &node("me", &[("zone", "1")]),
        &config(),
    );
    assert_eq!(out.layer2[0].interfaces, vec!["eth0".to_owned()]);
    assert_eq!(out.layer2[0].pool, "l2");
}

#[test]
fn from_kubernetes_objects() {
    let svc = |name: &str, etp: &str, ip: &str| -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": etp, "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}
        }))
        .unwrap()
    };
    let slice = |service: &str, endpoints: serde_json::Value| -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-abc"), "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": endpoints
        }))
        .unwrap()
    };
    let services = vec![
        svc("cluster", "Cluster", "198.51.100.1"),
        svc("local", "Local", "198.51.100.2"),
        svc("unready", "Cluster", "198.51.100.3"),
        {
            let mut other: Service = svc("other-class", "Cluster", "198.51.100.4");
            if let Some(spec) = other.spec.as_mut() {
                spec.load_balancer_class = Some("example.com/other".into());
            }
            other
        },
    ];
    let slices = vec![
        // `ready` unset counts as ready.
        slice("cluster", json!([{"addresses": ["10.0.0.1"], "nodeName": "other"}])),
        slice(
            "local",
            json!([{"addresses": ["10.0.0.2"], "nodeName": "me", "conditions": {"ready": true}}]),
        ),
        slice(
            "unready",
            json!([{"addresses": ["10.0.0.3"], "nodeName": "me", "conditions": {"ready": false}}]),
        ),
        slice("other-class", json!([{"addresses": ["10.0.0.4"], "nodeName": "me"}])),
    ];
    let nodes: Vec<Node> = vec![serde_json::from_value(json!({
        "metadata": {"name": "me", "labels": {"zone": "1"}},
        "status": {"conditions": [{"type": "NetworkUnavailable", "status": "False"}, {"type": "Ready", "status": "True"}]}
    }))
    .unwrap()];
    let out =
        desired_from_k8s(&services, &slices, &nodes, &config(), "me", &ClassPolicy::default());
    let prefixes: Vec<String> = out.peers["tor-a"].keys().map(ToString::to_string).collect();
    assert_eq!(prefixes, ["198.51.100.1/32", "198.51.100.2/32"]);

    let down: Node = serde_json::from_value(json!({
        "metadata": {"name": "me"},
        "status": {"conditions": [{"type": "NetworkUnavailable", "status": "True"}]}
    }))
    .unwrap();
    assert!(NodeView::from_node(&down).excluded());
    let out =
        desired_from_k8s(&services, &slices, &[down], &config(), "me", &ClassPolicy::default());
    assert!(out.peers["tor-a"].is_empty());
}

#[test]
fn a_draining_node_sends_graceful_shutdown_then_nothing_and_leaves_layer2_at_once() {
    let config = config();
    let services = [
        service("s", &["198.51.100.10"], false, &["x"]),
        service("t", &["203.0.113.1"], false, &["x"]),
    ];
    let mut leaving = node("me", &[("zone", "1")]);
    leaving.cordoned = true;
    let host: IpNet = "198.51.100.10/32".parse().unwrap();
    // Draining: the same routes, with GRACEFUL_SHUTDOWN added; no layer2 candidacy.
    leaving.drain = Drain::Draining;
    let out = desired(&services, &leaving, &config);
    let attrs = &out.peers["tor-a"][&host];
    assert!(attrs.communities.contains(&GRACEFUL_SHUTDOWN), "{attrs:?}");
    let serving = desired(&services, &node("me", &[("zone", "1")]), &config);
    let mut expected = serving.peers["tor-a"][&host].clone();
    expected.communities.insert(GRACEFUL_SHUTDOWN);
    assert_eq!(attrs, &expected, "its own attributes kept, the community added");
    assert_eq!(out.layer2.len(), 1);
    assert!(!out.layer2[0].candidate, "layer2 addresses move at once");
    // Drained: nothing.
    leaving.drain = Drain::Drained;
    assert!(desired(&services, &leaving, &config).peers["tor-a"].is_empty());
    // Back in service: as before, without the community.
    let back = node("me", &[("zone", "1")]);
    let out = desired(&services, &back, &config);
    assert!(!out.peers["tor-a"][&host].communities.contains(&GRACEFUL_SHUTDOWN));
    assert!(out.layer2[0].candidate);
}
