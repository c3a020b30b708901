//! Our custom resources, group `ironlb.io`, version `v1beta1`.
//!
//! Field names and meanings are MetalLB's `metallb.io/v1beta1` (and the `BGPPeer` fields of
//! `v1beta2`, a superset), so a MetalLB user moves over by changing only the `apiVersion`.
//! These structs are the wire form: they accept what a user may write and keep it as
//! written; [`super::validate`] turns them into the checked [`super::Config`]. The CRD YAML
//! that `k8s-adapter crds` prints is generated from them ([`definitions`]).

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of every ironlb resource.
pub const GROUP: &str = "ironlb.io";
/// API version of every ironlb resource.
pub const VERSION: &str = "v1beta1";

// `metav1.LabelSelector`, restated so that its schema comes from our schemars version.
/// A label selector: every `matchLabels` pair and every `matchExpressions` entry must hold.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One `matchExpressions` entry: `key`, `operator` (In, NotIn, Exists, DoesNotExist), `values`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A pool of addresses that Services of type LoadBalancer get theirs from.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ironlb.io",
    version = "v1beta1",
    kind = "IPAddressPool",
    root = "IpAddressPool",
    plural = "ipaddresspools",
    namespaced,
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct IpAddressPoolSpec {
    /// CIDRs (`198.51.100.0/24`) and inclusive ranges (`198.51.100.10-198.51.100.20`).
    pub addresses: Vec<String>,
    /// Whether addresses are handed out to Services that did not ask for this pool
    /// (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_assign: Option<bool>,
    /// Never hand out IPv4 addresses ending in .0 or .255 (default false).
    #[serde(default, rename = "avoidBuggyIPs", skip_serializing_if = "Option::is_none")]
    pub avoid_buggy_ips: Option<bool>,
    /// Which Services may use the pool, and its priority among pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_allocation: Option<ServiceAllocation>,
}

/// `serviceAllocation`: restricts a pool to some namespaces or Services and orders pools.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAllocation {
    /// Lower value, higher priority; 0 or absent means no priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
}

/// A BGP router that speakers on the selected nodes peer with.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ironlb.io",
    version = "v1beta1",
    kind = "BGPPeer",
    root = "BgpPeer",
    plural = "bgppeers",
    namespaced,
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct BgpPeerSpec {
    #[serde(rename = "myASN")]
    pub my_asn: u32,
    #[serde(rename = "peerASN", default, skip_serializing_if = "Option::is_none")]
    pub peer_asn: Option<u32>,
    /// `internal` or `external`: accept any AS of that kind instead of `peerASN`.
    #[serde(rename = "dynamicASN", default, skip_serializing_if = "Option::is_none")]
    pub dynamic_asn: Option<String>,
    pub peer_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_port: Option<u16>,
    /// A Go duration (`90s`, `1m30s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_time: Option<String>,
    #[serde(rename = "routerID", default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretReference>,
    /// Accepted for compatibility; BFD is not implemented and the field is ignored with a
    /// warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_graceful_restart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebgp_multi_hop: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrf: Option<String>,
    #[serde(rename = "disableMP", default, skip_serializing_if = "Option::is_none")]
    pub disable_mp: Option<bool>,
}

/// Where a peer's TCP MD5 password lives (`kubernetes.io/basic-auth`, key `password`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct SecretReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// How the addresses of some pools are announced over BGP.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ironlb.io",
    version = "v1beta1",
    kind = "BGPAdvertisement",
    root = "BgpAdvertisement",
    plural = "bgpadvertisements",
    namespaced,
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct BgpAdvertisementSpec {
    /// Prefix length IPv4 addresses are announced with (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_length: Option<i32>,
    /// Prefix length IPv6 addresses are announced with (default 128).
    #[serde(rename = "aggregationLengthV6", default, skip_serializing_if = "Option::is_none")]
    pub aggregation_length_v6: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    /// `65000:100`, `large:65000:1:2`, or the name of an alias from a `Community`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pools: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    /// Names of `BGPPeer`s to announce to; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
}

/// Which pools are answered for on layer2 (ARP/NDP), from which nodes and interfaces.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ironlb.io",
    version = "v1beta1",
    kind = "L2Advertisement",
    plural = "l2advertisements",
    namespaced,
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct L2AdvertisementSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pools: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    /// ironlb's own field (MetalLB has none): layer2 as a fallback for BGP. For the pools
    /// this selects that a BGPAdvertisement also selects, a node answers on layer2 only
    /// while its BGP sessions for the pool are all down (it joins the pool's layer2
    /// election then, and leaves when a session has been up for a few seconds).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bgp_fallback: bool,
}

/// Names for BGP community values, usable in `BGPAdvertisement.spec.communities`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ironlb.io",
    version = "v1beta1",
    kind = "Community",
    plural = "communities",
    namespaced,
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct CommunitySpec {
    #[serde(default)]
    pub communities: Vec<CommunityAlias>,
}

/// One alias: `name` stands for `value` (`65000:100` or `large:65000:1:2`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct CommunityAlias {
    pub name: String,
    pub value: String,
}

/// The five CustomResourceDefinitions, in the order they are printed.
pub fn definitions() -> Vec<CustomResourceDefinition> {
    vec![
        IpAddressPool::crd(),
        BgpPeer::crd(),
        BgpAdvertisement::crd(),
        L2Advertisement::crd(),
        Community::crd(),
    ]
}

/// A BGPPeer for tests: AS 64500 towards AS 64501 at `address`, for the nodes matching
/// `node_selectors` (every node when empty).
#[cfg(test)]
pub(crate) fn test_peer(name: &str, address: &str, node_selectors: Vec<LabelSelector>) -> BgpPeer {
    BgpPeer::new(
        name,
        BgpPeerSpec {
            my_asn: 64500,
            peer_asn: Some(64501),
            peer_address: address.into(),
            node_selectors,
            ..Default::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metallb_field_names_deserialize() {
        let pool: IpAddressPoolSpec = serde_json::from_value(serde_json::json!({
            "addresses": ["198.51.100.0/24"],
            "autoAssign": false,
            "avoidBuggyIPs": true,
            "serviceAllocation": {"priority": 50, "namespaces": ["a"],
                "serviceSelectors": [{"matchExpressions": [{"key": "k", "operator": "Exists"}]}]}
        }))
        .unwrap();
        assert_eq!(pool.auto_assign, Some(false));
        assert_eq!(pool.avoid_buggy_ips, Some(true));
        assert_eq!(pool.service_allocation.unwrap().priority, Some(50));
        let peer: BgpPeerSpec = serde_json::from_value(serde_json::json!({
            "myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1", "routerID": "192.0.2.9",
            "ebgpMultiHop": true, "bfdProfile": "fast", "holdTime": "90s",
            "passwordSecret": {"name": "s", "namespace": "n"}
        }))
        .unwrap();
        assert_eq!((peer.my_asn, peer.peer_asn), (64500, Some(64501)));
        assert_eq!(peer.router_id.as_deref(), Some("192.0.2.9"));
        let adv: BgpAdvertisementSpec = serde_json::from_value(serde_json::json!({
            "aggregationLength": 24, "aggregationLengthV6": 120, "localPref": 50,
            "communities": ["65000:1"], "ipAddressPools": ["p"], "peers": ["x"]
        }))
        .unwrap();
        assert_eq!(adv.aggregation_length_v6, Some(120));
    }

    #[test]
    fn definitions_are_ours() {
        let crds = definitions();
        let names: Vec<_> =
            crds.iter().map(|c| c.metadata.name.clone().unwrap_or_default()).collect();
        assert_eq!(
            names,
            [
                "ipaddresspools.ironlb.io",
                "bgppeers.ironlb.io",
                "bgpadvertisements.ironlb.io",
                "l2advertisements.ironlb.io",
                "communities.ironlb.io"
            ]
        );
        assert!(crds.iter().all(|c| c.spec.versions[0].name == VERSION && c.spec.group == GROUP));
    }
}
