//! The layer2 side of the Services, kept per change: the candidates of every layer2
//! address ([`crate::election::candidates()`]) and this node's own layer2 addresses (the
//! `layer2` part of [`desired`]), so that a batch naming a few Services costs work for
//! those Services, not for all of them.
//!
//! As [`crate::speaker::incremental`] does for BGP: the result for a set of Services is
//! the merge of each Service's own result, because both merges are order-free (the
//! candidates of a shared address are united and keyed by the Service that sorts first;
//! this node's addresses are listed per address in Service order). So [`Layer2Views`]
//! keeps per Service its view and its share, and per address the Services that give it;
//! a Service's change recomputes only the addresses its old and new shares touch. A change
//! of the config, the Nodes or the fallback view affects every Service and recomputes
//! every share ([`Layer2Views::reset`]). The tests check that any sequence of changes ends
//! where the full functions do.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use crate::allocator::ServiceKey;
use crate::config::Config;
use crate::election::candidates::{PoolNodes, service_candidates};
use crate::election::{AddressCandidates, FallbackView};
use crate::speaker::{Layer2Address, NodeView, ServiceView, desired};

/// What changed in the Services, as the speaker loop computed their views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceChanges {
    /// Every Service's view (after a relist, a config or Node change).
    All(Vec<ServiceView>),
    /// The Services of one batch: the new view, or `None` when gone or not ours.
    Changed(Vec<(ServiceKey, Option<ServiceView>)>),
}

/// One Service's view and its own layer2 results.
#[derive(Debug)]
struct Share {
    view: ServiceView,
    /// This node's layer2 addresses of the Service (candidate or not).
    mine: Vec<Layer2Address>,
    candidates: Vec<(IpAddr, AddressCandidates)>,
}

/// The layer2 results of every Service, maintained per change.
#[derive(Debug)]
pub struct Layer2Views {
    node: String,
    config: Arc<Config>,
    nodes: Vec<NodeView>,
    /// This node among `nodes` (labels only when it is there).
    me: NodeView,
    fallback: FallbackView,
    pools: PoolNodes,
    shares: HashMap<ServiceKey, Share>,
    /// Per layer2 address of this node, per Service giving it: the interfaces its
    /// L2Advertisements name (empty: all).
    mine: BTreeMap<IpAddr, BTreeMap<ServiceKey, Vec<String>>>,
    /// Per address, the Services whose candidates name it.
    contributors: BTreeMap<IpAddr, BTreeSet<ServiceKey>>,
    candidates: BTreeMap<IpAddr, AddressCandidates>,
}

impl Layer2Views {
    /// No Services, no Nodes, the empty config, as seen by node `node`.
    pub fn new(node: &str) -> Self {
        Self {
            node: node.to_owned(),
            config: Arc::new(Config::default()),
            nodes: Vec::new(),
            me: NodeView { name: node.to_owned(), ..NodeView::default() },
            fallback: FallbackView::default(),
            pools: PoolNodes::default(),
            shares: HashMap::new(),
            mine: BTreeMap::new(),
            contributors: BTreeMap::new(),
            candidates: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Whether `node` is one of the cluster's Nodes.
    pub fn knows(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n.name == node)
    }

    pub fn me(&self) -> &NodeView {
        &self.me
    }

    pub fn fallback(&self) -> &FallbackView {
        &self.fallback
    }

    /// A new config; takes effect at the next [`Self::reset`].
    pub fn set_config(&mut self, config: Arc<Config>) {
        self.config = config;
    }

    /// Every Node; takes effect at the next [`Self::reset`].
    pub fn set_nodes(&mut self, nodes: Vec<NodeView>) {
        self.me = nodes
            .iter()
            .find(|n| n.name == self.node)
            .cloned()
            .unwrap_or_else(|| NodeView { name: self.node.clone(), ..NodeView::default() });
        self.nodes = nodes;
    }

    /// A new fallback view; takes effect at the next [`Self::reset`].
    pub fn set_fallback(&mut self, fallback: FallbackView) {
        self.fallback = fallback;
    }

    /// Recomputes every Service's share (the config, the Nodes or the fallback view
    /// changed).
    pub fn reset(&mut self) {
        let views: Vec<ServiceView> = self.shares.drain().map(|(_, s)| s.view).collect();
        self.replace_all(views);
    }

    /// Takes in a batch of changes.
    pub fn apply(&mut self, changes: ServiceChanges) {
        match changes {
            ServiceChanges::All(views) => self.replace_all(views),
            ServiceChanges::Changed(changed) => {
                for (key, view) in changed {
                    self.update(&key, view);
                }
            }
        }
    }

    /// Every Service's view at once.
    pub fn replace_all(&mut self, views: Vec<ServiceView>) {
        self.pools.clear();
        self.shares.clear();
        self.mine.clear();
        self.contributors.clear();
        self.candidates.clear();
        let mut addresses = BTreeSet::new();
        for view in views {
            let share = self.share(view);
            addresses.extend(share.candidates.iter().map(|(a, _)| *a));
            self.insert(share);
        }
        for address in addresses {
            self.refresh(address);
        }
    }

    /// One Service changed: its new view, or `None` when it is gone or not ours. Whether
    /// anything changed.
    pub fn update(&mut self, key: &ServiceKey, view: Option<ServiceView>) -> bool {
        if self.shares.get(key).map(|s| &s.view) == view.as_ref() {
            return false;
        }
        let mut addresses = BTreeSet::new();
        if let Some(old) = self.remove(key) {
            addresses.extend(old.candidates.iter().map(|(a, _)| *a));
        }
        if let Some(view) = view {
            let share = self.share(view);
            addresses.extend(share.candidates.iter().map(|(a, _)| *a));
            self.insert(share);
        }
        for address in addresses {
            self.refresh(address);
        }
        true
    }

    /// The candidates of every layer2 address, as [`crate::election::candidates()`] of
    /// every view gives them.
    pub fn candidates(&self) -> &BTreeMap<IpAddr, AddressCandidates> {
        &self.candidates
    }

    /// The interfaces to answer for `address` on, as this node's Services' L2Advertisements
    /// name them, in Service order (empty: none named, all of ours).
    pub fn interfaces(&self, address: IpAddr) -> Vec<String> {
        self.mine.get(&address).into_iter().flat_map(|s| s.values().flatten().cloned()).collect()
    }

    /// The Services giving this node `address`, in key order.
    pub fn services(&self, address: IpAddr) -> impl Iterator<Item = &ServiceKey> {
        self.mine.get(&address).into_iter().flat_map(BTreeMap::keys)
    }

    fn share(&mut self, view: ServiceView) -> Share {
        let mine = desired(std::slice::from_ref(&view), &self.me, &self.config).layer2;
        let candidates =
            service_candidates(&view, &self.nodes, &self.config, &self.fallback, &mut self.pools);
        Share { view, mine, candidates }
    }

    fn insert(&mut self, share: Share) {
        let key = share.view.key.clone();
        for l2 in &share.mine {
            let interfaces =
                self.mine.entry(l2.address).or_default().entry(key.clone()).or_default();
            interfaces.extend(l2.interfaces.iter().cloned());
        }
        for (address, _) in &share.candidates {
            self.contributors.entry(*address).or_default().insert(key.clone());
        }
        self.shares.insert(key, share);
    }

    fn remove(&mut self, key: &ServiceKey) -> Option<Share> {
        let share = self.shares.remove(key)?;
        for l2 in &share.mine {
            if let Some(services) = self.mine.get_mut(&l2.address) {
                services.remove(key);
                if services.is_empty() {
                    self.mine.remove(&l2.address);
                }
            }
        }
        for (address, _) in &share.candidates {
            if let Some(set) = self.contributors.get_mut(address) {
                set.remove(key);
                if set.is_empty() {
                    self.contributors.remove(address);
                }
            }
        }
        Some(share)
    }

    /// Merges one address's candidates from the Services that give it, in key order.
    fn refresh(&mut self, address: IpAddr) {
        let mut merged: Option<AddressCandidates> = None;
        for key in self.contributors.get(&address).into_iter().flatten() {
            let Some(share) = self.shares.get(key) else { continue };
            for (_, own) in share.candidates.iter().filter(|(a, _)| *a == address) {
                match &mut merged {
                    Some(m) => m.candidates.extend(own.candidates.iter().cloned()),
                    None => merged = Some(own.clone()),
                }
            }
        }
        match merged {
            Some(m) => {
                self.candidates.insert(address, m);
            }
            None => {
                self.candidates.remove(&address);
            }
        }
    }
}

#[cfg(test)]
#[path = "views_tests.rs"]
mod tests;
