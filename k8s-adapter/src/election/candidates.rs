//! Who may answer for each layer2 address, seen from any node: the same rules as
//! [`crate::speaker::announce`] applies to this node, applied to every node, so that every
//! speaker computes the same candidate sets from the same informer caches.
//!
//! A node is a candidate for an address when an `L2Advertisement` selecting the address's
//! pool selects the node, the node is not excluded (label or `NetworkUnavailable`), the
//! Service has a ready endpoint (on that node, under `externalTrafficPolicy: Local`), and,
//! for a pool in fallback mode, the node has joined the pool's election (its BGP sessions
//! for the pool are down, see [`super::fallback`]). Liveness is not applied here: the
//! Lease set and the failover filter candidates at election time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::order::AddressCandidates;
use crate::config::selector::any_matches;
use crate::config::{Config, Pool};
use crate::speaker::{NodeView, ServiceView};

/// Which nodes have joined the layer2 election of fallback pools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FallbackView {
    /// Pools in fallback mode (they name both bgp and layer2 with `fallback`): only nodes
    /// that joined answer for them on layer2.
    pub pools: BTreeSet<String>,
    /// Node → the fallback pools it joined, read from its Lease
    /// ([`super::membership::LeaseView::fallback_pools`]).
    pub joined: BTreeMap<String, BTreeSet<String>>,
}

impl FallbackView {
    /// Whether `node` may stand for `pool`'s addresses as far as fallback is concerned.
    pub fn allows(&self, node: &str, pool: &str) -> bool {
        !self.pools.contains(pool) || self.joined.get(node).is_some_and(|p| p.contains(pool))
    }
}

/// Per pool, the usable nodes (not excluded) an `L2Advertisement` of the pool selects and
/// the fallback view allows; `None` when no `L2Advertisement` selects the pool (not a
/// layer2 pool). Selector matching is the costly part and many Services share a pool, so
/// each pool is computed once and kept until the nodes, the config or the fallback view
/// change ([`Self::clear`]).
#[derive(Debug, Default)]
pub struct PoolNodes {
    by_pool: HashMap<String, Option<Vec<String>>>,
}

impl PoolNodes {
    /// Forgets every pool (the nodes, the config or the fallback view changed).
    pub fn clear(&mut self) {
        self.by_pool.clear();
    }

    fn selected(
        &mut self,
        pool: &Pool,
        nodes: &[NodeView],
        config: &Config,
        fallback: &FallbackView,
    ) -> Option<&[String]> {
        self.by_pool
            .entry(pool.name.clone())
            .or_insert_with(|| {
                let advertisements: Vec<_> =
                    config.l2_advertisements.iter().filter(|a| a.pools.selects(pool)).collect();
                (!advertisements.is_empty()).then(|| {
                    nodes
                        .iter()
                        .filter(|n| {
                            !n.excluded()
                                && advertisements
                                    .iter()
                                    .any(|a| any_matches(&a.node_selectors, &n.labels))
                                && fallback.allows(&n.name, &pool.name)
                        })
                        .map(|n| n.name.clone())
                        .collect()
                })
            })
            .as_deref()
    }
}

/// One Service's own candidates, before they are merged with other Services' for a shared
/// address: per layer2 address, the Service's key address (its first) and the nodes that
/// may answer for it (possibly none).
pub fn service_candidates(
    service: &ServiceView,
    nodes: &[NodeView],
    config: &Config,
    fallback: &FallbackView,
    pools: &mut PoolNodes,
) -> Vec<(IpAddr, AddressCandidates)> {
    let mut out = Vec::new();
    let Some(&key) = service.addresses.first() else { return out };
    if !service.ready_anywhere {
        return out;
    }
    for &address in &service.addresses {
        let Some(pool) = config.pool_of(address) else { continue };
        let Some(selected) = pools.selected(pool, nodes, config, fallback) else { continue };
        let endpoint = |n: &&String| !service.local || service.ready_nodes.contains(n.as_str());
        let candidates = selected.iter().filter(endpoint).cloned().collect();
        out.push((address, AddressCandidates { key, candidates }));
    }
    out
}

/// Candidates for every layer2 address of `services`.
///
/// An address shared by several Services (a sharing key) gets the union of their
/// candidates and the key of the Service that sorts first, so that it has one owner.
pub fn candidates(
    services: &[ServiceView],
    nodes: &[NodeView],
    config: &Config,
    fallback: &FallbackView,
) -> BTreeMap<IpAddr, AddressCandidates> {
    let mut out: BTreeMap<IpAddr, AddressCandidates> = BTreeMap::new();
    let mut pools = PoolNodes::default();
    let mut sorted: Vec<&ServiceView> = services.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for service in sorted {
        for (address, own) in service_candidates(service, nodes, config, fallback, &mut pools) {
            merge(&mut out, address, own);
        }
    }
    out
}

/// Adds one Service's candidates for `address` to those of the Services before it (in key
/// order): the first one's key address stays, the candidates are united.
fn merge(into: &mut BTreeMap<IpAddr, AddressCandidates>, address: IpAddr, own: AddressCandidates) {
    match into.get_mut(&address) {
        Some(entry) => entry.candidates.extend(own.candidates),
        None => {
            into.insert(address, own);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::ServiceKey;
    use crate::config::{Resources, build, crd};

    /// Pool `l2` 203.0.113.0/24 advertised on layer2 from zone=a nodes; pool `fb`
    /// 198.51.100.0/24 in fallback mode, advertised on layer2 from every node.
    fn config() -> Config {
        let pool = |name: &str, addresses: &str| {
            crd::IpAddressPool::new(
                name,
                crd::IpAddressPoolSpec { addresses: vec![addresses.into()], ..Default::default() },
            )
        };
        let l2 = |name: &str, pool: &str, selectors: Vec<crd::LabelSelector>| {
            crd::L2Advertisement::new(
                name,
                crd::L2AdvertisementSpec {
                    ip_address_pools: vec![pool.into()],
                    node_selectors: selectors,
                    ..Default::default()
                },
            )
        };
        let zone_a = crd::LabelSelector {
            match_labels: [("zone".to_owned(), "a".to_owned())].into(),
            ..Default::default()
        };
        let built = build(&Resources {
            pools: vec![pool("l2", "203.0.113.0/24"), pool("fb", "198.51.100.0/24")],
            l2_advertisements: vec![l2("zone-a", "l2", vec![zone_a]), l2("fallback", "fb", vec![])],
            ..Default::default()
        });
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        built.config
    }

    fn node(name: &str, zone: &str) -> NodeView {
        NodeView {
            name: name.into(),
            labels: [("zone".to_owned(), zone.to_owned())].into(),
            network_unavailable: false,
            addresses: Vec::new(),
            ..NodeView::default()
        }
    }

    fn service(name: &str, addresses: &[&str], local: bool, ready: &[&str]) -> ServiceView {
        ServiceView {
            key: ServiceKey::new("default", name),
            addresses: addresses
                .iter()
                .map(|a| a.parse().unwrap_or_else(|e| panic!("{e}")))
                .collect(),
            local,
            ready_nodes: ready.iter().map(|n| (*n).to_owned()).collect(),
            ready_anywhere: !ready.is_empty(),
        }
    }

    fn names(c: &AddressCandidates) -> Vec<&str> {
        c.candidates.iter().map(String::as_str).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn selectors_exclusion_and_traffic_policy() {
        let mut excluded = node("n4", "a");
        excluded.network_unavailable = true;
        let nodes = [node("n1", "a"), node("n2", "a"), node("n3", "b"), excluded];
        let services = [
            service("cluster", &["203.0.113.1"], false, &["n3"]),
            service("local", &["203.0.113.2"], true, &["n2", "n3", "n4"]),
            service("no-endpoints", &["203.0.113.3"], false, &[]),
            service("outside", &["192.0.2.1"], false, &["n1"]),
        ];
        let got = candidates(&services, &nodes, &config(), &FallbackView::default());
        let cluster = &got[&ip("203.0.113.1")];
        assert_eq!(names(cluster), ["n1", "n2"], "zone a, not excluded, endpoint anywhere");
        assert_eq!(
            names(&got[&ip("203.0.113.2")]),
            ["n2"],
            "Local: only zone-a nodes with an endpoint"
        );
        assert!(!got.contains_key(&ip("203.0.113.3")), "no ready endpoint: nothing to elect");
        assert!(!got.contains_key(&ip("192.0.2.1")), "outside every pool");
    }

    #[test]
    fn dual_stack_service_keys_on_its_first_address() {
        let nodes = [node("n1", "a")];
        let services = [service("dual", &["203.0.113.9", "198.51.100.9"], false, &["n1"])];
        let got = candidates(&services, &nodes, &config(), &FallbackView::default());
        assert_eq!(got[&ip("198.51.100.9")].key, ip("203.0.113.9"));
        assert_eq!(got[&ip("203.0.113.9")].key, ip("203.0.113.9"));
    }

    #[test]
    fn fallback_pool_takes_only_nodes_that_joined() {
        let nodes = [node("n1", "a"), node("n2", "b"), node("n3", "b")];
        let services = [service("fb", &["198.51.100.5"], false, &["n1"])];
        let fallback = FallbackView {
            pools: ["fb".to_owned()].into(),
            joined: [("n2".to_owned(), ["fb".to_owned()].into())].into(),
        };
        let got = candidates(&services, &nodes, &config(), &fallback);
        assert_eq!(names(&got[&ip("198.51.100.5")]), ["n2"]);
        let got = candidates(&services, &nodes, &config(), &FallbackView::default());
        assert_eq!(names(&got[&ip("198.51.100.5")]), ["n1", "n2", "n3"], "not in fallback mode");
    }
}
