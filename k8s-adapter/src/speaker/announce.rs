//! This node's desired announcements, a pure function of the Services (with their
//! endpoints), this Node and the config. The speaker calls it on every change and sends the
//! result to `bgpd` declaratively (`SetPaths`, the whole set per peer).
//!
//! Rules, as MetalLB documents them:
//! - a node whose `NetworkUnavailable` condition is `True` announces nothing (its peers stay
//!   listed, with no paths, so sessions stay up and routes are withdrawn); a node labelled
//!   `node.kubernetes.io/exclude-from-external-load-balancers` or cordoned drains
//!   ([`super::view::Drain`]): its layer2 addresses move at once, its BGP routes are sent
//!   with GRACEFUL_SHUTDOWN (RFC 8326) for the drain time, then withdrawn;
//! - `externalTrafficPolicy: Cluster` announces when any ready endpoint exists anywhere;
//!   `Local` only from nodes hosting a ready endpoint;
//! - an address is announced over BGP by every `BGPAdvertisement` that selects its pool and
//!   this node, to the advertisement's peers (all when it names none) among the `BGPPeer`s
//!   that select this node, as a /32 or /128, or as the aggregate of `aggregationLength`
//!   (`aggregationLengthV6`), with its LOCAL_PREF and communities. When several
//!   advertisements give one prefix to one peer, communities are merged and the highest
//!   LOCAL_PREF wins, so the result does not depend on their order. Different peers keep
//!   their own attributes (never merged across peers, [`super::bgpd`]);
//! - a peer gets only the families its session carries: its address's, or both with
//!   `dualStackAddressFamily` (MetalLB's default and field). A prefix of the other family
//!   goes with the node's `InternalIP` of that family as next hop (bgpd's "next hop self"
//!   has no address of that family on the session), and to no such peer from a node that
//!   has no address of that family;
//! - an address whose pool an `L2Advertisement` selects is a layer2 address; this node is a
//!   candidate to answer for it when the advertisement selects the node and the traffic
//!   policy allows, as for BGP. The election among candidates is the layer2 module's job.
//! - addresses outside every pool are not announced (the controller will move them).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::view::{NodeView, ServiceView, slice_service};
use crate::allocator::{ClassPolicy, ServiceKey};
use crate::config::selector::any_matches;
use crate::config::{BgpCommunity, Config, Family, Peer};

/// The well-known GRACEFUL_SHUTDOWN community, 65535:0 (RFC 8326).
pub const GRACEFUL_SHUTDOWN: BgpCommunity = BgpCommunity::Standard(0xffff_0000);

/// Attributes of one announced prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathAttributes {
    pub local_pref: Option<u32>,
    pub communities: BTreeSet<BgpCommunity>,
    /// An explicit next hop: the node's address of the prefix's family, for a session of
    /// the other family. `None`: bgpd's own address on the session.
    pub next_hop: Option<IpAddr>,
}

/// A layer2 address and whether this node may answer for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer2Address {
    pub address: IpAddr,
    pub service: ServiceKey,
    pub pool: String,
    /// This node may be elected to answer ARP/NDP for the address.
    pub candidate: bool,
    /// Interfaces to answer on; empty means all.
    pub interfaces: Vec<String>,
}

/// This node's desired state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcements {
    /// Per `BGPPeer` name (every peer that selects this node, even with nothing to
    /// announce): prefix → attributes.
    pub peers: BTreeMap<String, BTreeMap<IpNet, PathAttributes>>,
    /// Sorted by address, then Service.
    pub layer2: Vec<Layer2Address>,
}

/// The `BGPPeer`s this node peers with (their `nodeSelectors` select it): the sessions the
/// speaker configures in its `bgpd`, whether or not the node is excluded from announcing.
pub fn node_peers<'a>(
    config: &'a Config,
    node: &'a NodeView,
) -> impl Iterator<Item = &'a Peer> + 'a {
    config.peers.iter().filter(|p| any_matches(&p.node_selectors, &node.labels))
}

/// This node's desired announcements.
pub fn desired(services: &[ServiceView], node: &NodeView, config: &Config) -> Announcements {
    let mut out = Announcements::default();
    let my_peers: Vec<&Peer> = node_peers(config, node).collect();
    for peer in &my_peers {
        out.peers.insert(peer.name.clone(), BTreeMap::new());
    }
    let bgp_mode = node.bgp();
    let layer2_ok = !node.excluded();
    // Advertisements that select this node, once.
    let bgp: Vec<_> = config
        .bgp_advertisements
        .iter()
        .filter(|a| any_matches(&a.node_selectors, &node.labels))
        .collect();
    for service in services {
        let has_endpoint = if service.local {
            service.ready_nodes.contains(&node.name)
        } else {
            service.ready_anywhere
        };
        for &address in &service.addresses {
            let Some(pool) = config.pool_of(address) else { continue };
            if let Some(shutdown) = bgp_mode.filter(|_| has_endpoint) {
                let family = Family::of(address);
                for adv in bgp.iter().filter(|a| a.pools.selects(pool)) {
                    let Ok(prefix) =
                        IpNet::new(address, adv.aggregation_for(family)).map(|n| n.trunc())
                    else {
                        continue;
                    };
                    for peer in my_peers.iter().filter(|p| {
                        p.carries(family) && (adv.peers.is_empty() || adv.peers.contains(&p.name))
                    }) {
                        // Over an interface bgpd sends its own next hop for both
                        // families (IPv4 over IPv6 next hops, RFC 8950).
                        let next_hop =
                            if peer.interface.is_some() || Family::of(peer.address) == family {
                                None
                            } else {
                                match node.address_of(family) {
                                    Some(address) => Some(address),
                                    None => continue,
                                }
                            };
                        let Some(paths) = out.peers.get_mut(&peer.name) else { continue };
                        let attrs = paths.entry(prefix).or_default();
                        attrs.next_hop = next_hop;
                        attrs.local_pref = attrs.local_pref.max(adv.local_pref);
                        attrs.communities.extend(adv.communities.iter().copied());
                        if shutdown {
                            attrs.communities.insert(GRACEFUL_SHUTDOWN);
                        }
                    }
                }
            }
            let mut l2 =
                config.l2_advertisements.iter().filter(|a| a.pools.selects(pool)).peekable();
            if l2.peek().is_none() {
                continue;
            }
            let mut selected = false;
            let mut all_interfaces = false;
            let mut interfaces: BTreeSet<&str> = BTreeSet::new();
            for adv in l2.filter(|a| any_matches(&a.node_selectors, &node.labels)) {
                selected = true;
                all_interfaces |= adv.interfaces.is_empty();
                interfaces.extend(adv.interfaces.iter().map(String::as_str));
            }
            out.layer2.push(Layer2Address {
                address,
                service: service.key.clone(),
                pool: pool.name.clone(),
                candidate: layer2_ok && has_endpoint && selected,
                interfaces: if all_interfaces {
                    Vec::new()
                } else {
                    interfaces.into_iter().map(str::to_owned).collect()
                },
            });
        }
    }
    out.layer2.sort_by(|a, b| (a.address, &a.service).cmp(&(b.address, &b.service)));
    out
}

/// [`desired`] straight from the Kubernetes objects the speaker watches: groups the
/// EndpointSlices by Service and finds this node by name. A node missing from `nodes`
/// (not yet seen) is treated as having no labels.
pub fn desired_from_k8s<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    nodes: impl IntoIterator<Item = &'a Node>,
    config: &Config,
    node_name: &str,
    class: &ClassPolicy,
) -> Announcements {
    let mut by_service: HashMap<ServiceKey, Vec<&EndpointSlice>> = HashMap::new();
    for slice in slices {
        if let Some(key) = slice_service(slice) {
            by_service.entry(key).or_default().push(slice);
        }
    }
    let views: Vec<ServiceView> = services
        .into_iter()
        .filter_map(|s| {
            let key = ServiceKey::new(
                s.metadata.namespace.clone().unwrap_or_default(),
                s.metadata.name.clone().unwrap_or_default(),
            );
            let mine = by_service.get(&key).map_or(&[][..], Vec::as_slice);
            ServiceView::from_k8s(s, mine.iter().copied(), class)
        })
        .collect();
    let node = nodes
        .into_iter()
        .find(|n| n.metadata.name.as_deref() == Some(node_name))
        .map(NodeView::from_node)
        .unwrap_or_else(|| NodeView { name: node_name.to_owned(), ..NodeView::default() });
    desired(&views, &node, config)
}

#[cfg(test)]
#[path = "announce_tests.rs"]
mod tests;
