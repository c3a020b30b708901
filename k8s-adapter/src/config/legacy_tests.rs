//! The legacy format: the seed's ConfigMap, every field, and what goes wrong.

use super::*;
use crate::config::build;
use k8s_openapi::api::core::v1::ConfigMap;

const FULL: &str = r#"
peers:
- peer-address: 192.0.2.1
  peer-asn: 64501
  my-asn: 64500
  peer-port: 1179
  hold-time: 90s
  router-id: 192.0.2.100
  source-address: 192.0.2.10
  password: secret
  ebgp-multihop: true
  node-selectors:
  - match-labels:
      rack: a
    match-expressions:
    - key: zone
      operator: In
      values: [east]
bgp-communities:
  no-advertise: 65535:65282
address-pools:
- name: bgp-pool
  protocol: bgp
  addresses:
  - 198.51.100.0/24
  avoid-buggy-ips: true
  auto-assign: false
  bgp-advertisements:
  - aggregation-length: 32
    localpref: 100
    communities: [no-advertise]
  - aggregation-length: 24
- name: l2-pool
  protocol: layer2
  addresses:
  - 203.0.113.10-203.0.113.20
"#;

#[test]
fn seed_config_map_reads_as_is() {
    let (legacy, source) =
        LegacyConfig::parse_file(include_str!("../../testdata/seed-lbconfig.yaml"), DEFAULT_KEY)
            .unwrap();
    assert_eq!(source.to_string(), "ConfigMap metallb-system/config");
    assert_eq!(legacy.address_pools.len(), 1);
    let (resources, errors) = legacy.to_resources("ironlb-system", &source);
    assert!(errors.is_empty());
    assert_eq!(resources.pools[0].spec.addresses, ["11.11.11.150-11.11.11.200"]);
    assert_eq!(resources.l2_advertisements[0].spec.ip_address_pools, ["lbpool"]);
    assert_eq!(resources.pools[0].metadata.namespace.as_deref(), Some("ironlb-system"));
    let built = build(&resources);
    assert!(built.errors.is_empty());
    assert_eq!(built.config.pools["lbpool"].ranges.len(), 1);
}

#[test]
fn every_field_converts() {
    let (legacy, source) = LegacyConfig::parse_file(FULL, DEFAULT_KEY).unwrap();
    let (resources, errors) = legacy.to_resources("ironlb-system", &source);
    assert!(errors.is_empty());
    let peer = &resources.peers[0].spec;
    assert_eq!((peer.my_asn, peer.peer_asn, peer.peer_port), (64500, Some(64501), Some(1179)));
    assert_eq!(peer.node_selectors[0].match_expressions[0].values, ["east"]);
    assert_eq!(resources.bgp_advertisements.len(), 2);
    assert_eq!(resources.bgp_advertisements[1].metadata.name.as_deref(), Some("bgp-pool-2"));
    let built = build(&resources);
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    let config = &built.config;
    assert!(!config.pools["bgp-pool"].auto_assign);
    assert!(config.pools["bgp-pool"].avoid_buggy_ips);
    assert_eq!(
        config.bgp_advertisements[0].communities,
        vec![crate::config::BgpCommunity::Standard(0xffff_ff02)]
    );
    assert_eq!(config.bgp_advertisements[1].aggregation_length, 24);
    assert_eq!(config.peers[0].router_id, Some("192.0.2.100".parse().unwrap()));
    assert_eq!(config.l2_advertisements[0].pools.names, ["l2-pool"]);
}

#[test]
fn bgp_pool_without_advertisements_gets_a_default_one() {
    let doc = "address-pools:\n- name: p\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n";
    let (legacy, source) = LegacyConfig::parse_file(doc, DEFAULT_KEY).unwrap();
    let (resources, _) = legacy.to_resources("ns", &source);
    assert_eq!(resources.bgp_advertisements.len(), 1);
    assert_eq!(resources.bgp_advertisements[0].spec.aggregation_length, None);
}

#[test]
fn bad_pools_are_reported_and_the_rest_kept() {
    let doc = "address-pools:\n\
- name: odd\n  protocol: carrier-pigeon\n  addresses: [192.0.2.0/24]\n\
- name: backwards\n  protocol: layer2\n  addresses: [198.51.100.20-198.51.100.10]\n\
- name: good\n  protocol: layer2\n  addresses: [203.0.113.0/24]\n";
    let (legacy, source) = LegacyConfig::parse_file(doc, DEFAULT_KEY).unwrap();
    let (resources, errors) = legacy.to_resources("ns", &source);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "ConfigMap -: address-pools[0].protocol: unknown protocol \"carrier-pigeon\" (expected bgp or layer2)"
    );
    let built = build(&resources);
    assert_eq!(built.errors.len(), 1);
    assert_eq!(built.errors[0].object.name, "backwards");
    assert!(built.config.pools.contains_key("good"));
}

#[test]
fn unknown_keys_and_missing_data_are_refused() {
    let err = LegacyConfig::parse_file(
        "address-pools:\n- name: p\n  protocol: bgp\n  auto-asign: false\n",
        DEFAULT_KEY,
    )
    .unwrap_err();
    assert!(matches!(err, LegacyError::Yaml { .. }), "{err}");
    assert!(err.to_string().contains("auto-asign"), "{err}");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n  namespace: metallb-system\ndata:\n  other: x\n";
    assert_eq!(
        LegacyConfig::parse_file(cm, DEFAULT_KEY).unwrap_err(),
        LegacyError::MissingKey {
            object: config_map_ref(Some("metallb-system"), "config"),
            key: "config".into()
        }
    );
}

#[test]
fn migration_yaml_reads_back_as_our_crds() {
    let (legacy, source) = LegacyConfig::parse_file(FULL, DEFAULT_KEY).unwrap();
    let (resources, _) = legacy.to_resources("ironlb-system", &source);
    let yaml = to_yaml(&resources).unwrap();
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        kinds,
        [
            "IPAddressPool",
            "IPAddressPool",
            "Community",
            "BGPPeer",
            "BGPAdvertisement",
            "BGPAdvertisement",
            "L2Advertisement"
        ]
    );
    assert!(docs.iter().all(|d| d["apiVersion"] == "ironlb.io/v1beta1"));
    assert_eq!(docs[0]["spec"]["avoidBuggyIPs"], true);
    assert_eq!(docs[3]["spec"]["peerASN"], 64501);
    let pool: crd::IpAddressPool = serde_json::from_value(docs[0].clone()).unwrap();
    assert_eq!(pool, resources.pools[0]);
}

#[test]
fn config_map_object_and_both_sources_together() {
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "config", "namespace": "metallb-system"},
        "data": {"config": "address-pools:\n- name: legacy\n  protocol: layer2\n  addresses: [198.51.100.0/24]\n"}
    }))
    .unwrap();
    let (legacy, source) = LegacyConfig::from_config_map(&cm, DEFAULT_KEY).unwrap();
    let (from_map, errors) = legacy.to_resources("ironlb-system", &source);
    assert!(errors.is_empty());
    assert!(matches!(
        LegacyConfig::from_config_map(&cm, "other"),
        Err(LegacyError::MissingKey { .. })
    ));
    // A CRD pool overlapping the legacy one: the overlap is reported, both sources are read.
    let mut resources = Resources {
        pools: vec![
            crd::IpAddressPool::new(
                "crd",
                crd::IpAddressPoolSpec {
                    addresses: vec!["203.0.113.0/24".into()],
                    ..Default::default()
                },
            ),
            crd::IpAddressPool::new(
                "clash",
                crd::IpAddressPoolSpec {
                    addresses: vec!["198.51.100.128/25".into()],
                    ..Default::default()
                },
            ),
        ],
        ..Default::default()
    };
    resources.extend(from_map);
    let built = build(&resources);
    let names: Vec<&String> = built.config.pools.keys().collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(built.errors.len(), 1);
}

#[test]
fn bfd_profiles_become_bfd_profile_objects() {
    let text = r#"
peers:
- peer-address: 192.0.2.1
  peer-asn: 64501
  my-asn: 64500
  bfd-profile: fast
bfd-profiles:
- name: fast
  receive-interval: 100
  transmit-interval: 150
  detect-multiplier: 4
  passive-mode: true
"#;
    let (legacy, source) = LegacyConfig::parse_file(text, DEFAULT_KEY).unwrap();
    let (resources, errors) = legacy.to_resources("ironlb-system", &source);
    assert!(errors.is_empty());
    assert_eq!(resources.bfd_profiles[0].spec.receive_interval, Some(100));
    let built = build(&resources);
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    let bfd = built.config.peers[0].bfd.unwrap();
    assert_eq!((bfd.receive_interval_ms, bfd.transmit_interval_ms), (100, 150));
    assert_eq!((bfd.multiplier, bfd.passive), (4, true));
}
