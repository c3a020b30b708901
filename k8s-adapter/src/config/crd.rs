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
    status = "IpAddressPoolStatus",
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

/// What the controller reports about a pool (MetalLB's field names): addresses in use and
/// still free, per family. Counts above 2^63 - 1 (large IPv6 pools) show as that.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAddressPoolStatus {
    #[serde(rename = "assignedIPv4")]
    pub assigned_ipv4: i64,
    #[serde(rename = "assignedIPv6")]
    pub assigned_ipv6: i64,
    #[serde(rename = "availableIPv4")]
    pub available_ipv4: i64,
    #[serde(rename = "availableIPv6")]
    pub available_ipv6: i64,
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
    /// The router's address. Exactly one of `peerAddress` and `interface` is set.
    #[serde(default)]
    pub peer_address: String,
    /// MetalLB v1beta2: BGP unnumbered over this interface of the node instead of
    /// `peerAddress`: bgpd finds the router's IPv6 link-local address there (its Router
    /// Advertisements, or its connection) and runs the session over it, with IPv4 and
    /// IPv6 routes (IPv4 with IPv6 next hops, RFC 8950). An interface missing on a node is
    /// reported by bgpd and looked for again every second. Cannot be combined with
    /// `sourceAddress`, `password` or `passwordSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
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
    /// The name of a `BFDProfile` (same namespace): bgpd runs BFD beside the session with
    /// its timers. A name no profile has is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_graceful_restart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebgp_multi_hop: Option<bool>,
    /// The VRF device (or any interface) the session's sockets are bound to
    /// (`SO_BINDTODEVICE`): bgpd connects through that device's routes and accepts the
    /// session's connections only when they arrive on it. A device missing on a node keeps
    /// that node's session down (bgpd reports it and retries). A name that is no Linux
    /// interface name (1 to 15 bytes, no '/', ':' or whitespace) is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrf: Option<String>,
    /// Deprecated by MetalLB, and what ironlb does anyway: a session carries only its own
    /// address's family unless `dualStackAddressFamily` is set (a warning says so).
    #[serde(rename = "disableMP", default, skip_serializing_if = "Option::is_none")]
    pub disable_mp: Option<bool>,
    /// MetalLB v1beta2: negotiate both IPv4 and IPv6 unicast (RFC 4760) on this session, so
    /// that a dual-stack Service's other address goes over it too (with the node's address
    /// of that family as next hop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dual_stack_address_family: Option<bool>,
}

/// BFD settings a `BGPPeer` names in `bfdProfile` (MetalLB's `BFDProfile`). Intervals in
/// milliseconds.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ironlb.io",
    version = "v1beta1",
    kind = "BFDProfile",
    root = "BfdProfile",
    plural = "bfdprofiles",
    namespaced,
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct BfdProfileSpec {
    /// Required minimum receive interval, 10..=60000 (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive_interval: Option<u32>,
    /// Desired minimum transmit interval, 10..=60000 (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmit_interval: Option<u32>,
    /// Detection multiplier, 2..=255 (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_multiplier: Option<u32>,
    /// Echo receive interval: meaningful only with `echoMode`, which is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_interval: Option<u32>,
    /// Echo mode: refused (bgpd's BFD has no echo function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_mode: Option<bool>,
    /// Send nothing until the peer is heard from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_mode: Option<bool>,
    /// Refused: bgpd derives a multihop session's minimum TTL from its hop count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_ttl: Option<u32>,
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
    /// MetalLB's newest field: only Services matching these. Refused by validation (not
    /// implemented yet), never ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
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
    /// MetalLB's newest field: only Services matching these. Refused by validation (not
    /// implemented yet), never ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
    /// MetalLB's newest field: weighted node preferences in the layer2 election. Refused by
    /// validation (ironlb's election has no weights yet), never ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_node_selectors: Vec<PreferredNodeSelector>,
    /// ironlb's own field (MetalLB has none): layer2 as a fallback for BGP. For the pools
    /// this selects that a BGPAdvertisement also selects, a node answers on layer2 only
    /// while its BGP sessions for the pool are all down (it joins the pool's layer2
    /// election then, and leaves when a session has been up for a few seconds).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bgp_fallback: bool,
}

/// A weighted node preference (MetalLB's `preferredNodeSelectors` entry).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct PreferredNodeSelector {
    pub weight: i32,
    pub preference: LabelSelector,
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

/// Which BGP peers a node announces a Service to, written by that node's speaker (MetalLB's
/// `ServiceBGPStatus`; one object per node and Service, deleted when the node stops).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ironlb.io",
    version = "v1beta1",
    kind = "ServiceBGPStatus",
    root = "ServiceBgpStatus",
    plural = "servicebgpstatuses",
    namespaced,
    status = "ServiceBgpStatusFields",
    printcolumn = r#"{"name":"Node","type":"string","jsonPath":".status.node"}"#,
    printcolumn = r#"{"name":"Service Name","type":"string","jsonPath":".status.serviceName"}"#,
    printcolumn = r#"{"name":"Service Namespace","type":"string","jsonPath":".status.serviceNamespace"}"#,
    derive = "PartialEq"
)]
pub struct ServiceBgpStatusSpec {}

/// The status of a [`ServiceBgpStatus`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceBgpStatusFields {
    /// The node announcing the Service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_namespace: String,
    /// The `BGPPeer`s the Service is announced to from this node (whether each session is
    /// up is the peer's own state).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
}

/// Which node answers ARP/NDP for a Service's layer2 addresses, written by that node's
/// speaker (MetalLB's `ServiceL2Status`; deleted when it stops answering).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "ironlb.io",
    version = "v1beta1",
    kind = "ServiceL2Status",
    plural = "servicel2statuses",
    namespaced,
    status = "ServiceL2StatusFields",
    printcolumn = r#"{"name":"Allocated Node","type":"string","jsonPath":".status.node"}"#,
    printcolumn = r#"{"name":"Service Name","type":"string","jsonPath":".status.serviceName"}"#,
    printcolumn = r#"{"name":"Service Namespace","type":"string","jsonPath":".status.serviceNamespace"}"#,
    derive = "PartialEq"
)]
pub struct ServiceL2StatusSpec {}

/// The status of a [`ServiceL2Status`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceL2StatusFields {
    /// The node that receives the Service's traffic.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_namespace: String,
    /// The interfaces answering; empty: every interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceInfo>,
}

/// One interface of a [`ServiceL2StatusFields`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct InterfaceInfo {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// The CustomResourceDefinitions of the config kinds, in the order they are printed.
/// Field-local rules of `validate.rs` are on the schemas as CEL ([`super::crd_cel`]).
pub fn definitions() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        IpAddressPool::crd(),
        BgpPeer::crd(),
        BgpAdvertisement::crd(),
        L2Advertisement::crd(),
        Community::crd(),
        BfdProfile::crd(),
        ServiceBgpStatus::crd(),
        ServiceL2Status::crd(),
    ];
    super::crd_cel::add_rules(&mut crds);
    crds
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
                "communities.ironlb.io",
                "bfdprofiles.ironlb.io",
                "servicebgpstatuses.ironlb.io",
                "servicel2statuses.ironlb.io"
            ]
        );
        assert!(crds.iter().all(|c| c.spec.versions[0].name == VERSION && c.spec.group == GROUP));
    }
}
