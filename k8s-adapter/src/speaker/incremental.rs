//! This node's announcements and bgpd state kept up to date change by change, so that one
//! Service changing costs work for that Service, not for all of them.
//!
//! The pure function [`super::desired`] stays the reference: the announcements of a set of
//! Services are the merge of each Service's own announcements (`desired` of that Service
//! alone), because `desired` merges what several Services give one prefix with an
//! order-free rule (highest LOCAL_PREF, union of communities). So [`Incremental`] keeps
//! per Service its view and its share, and per prefix the Services that give it; a change
//! of one Service recomputes only the prefixes its old and new shares touch, and their
//! bgpd paths ([`super::bgpd::prefix_paths`]). A change of the config or of this Node
//! affects every Service and rebuilds everything ([`Incremental::reset`]). The tests check
//! that any sequence of changes ends where the full computation does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::announce::{Announcements, Layer2Address, PathAttributes, desired, node_peers};
use super::bgpd::{BgpdState, Path, PeerSet, peer_set, place, prefix_paths};
use super::view::{NodeView, ServiceView};
use crate::allocator::ServiceKey;
use crate::config::Config;

/// One Service's view and its own announcements.
#[derive(Debug)]
struct Share {
    view: ServiceView,
    announcements: Announcements,
}

impl Share {
    /// Every prefix this share gives to some peer.
    fn prefixes(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.announcements.peers.values().flat_map(|paths| paths.keys().copied())
    }

    /// The peers (`BGPPeer` names) this share announces something to.
    fn announced_to(&self) -> BTreeSet<String> {
        self.announcements
            .peers
            .iter()
            .filter(|(_, paths)| !paths.is_empty())
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// The announcements and bgpd state of this node, maintained per change.
#[derive(Debug)]
pub struct Incremental {
    node: NodeView,
    config: Config,
    node_name: String,
    shares: HashMap<ServiceKey, Share>,
    /// Per prefix, the Services whose shares give it to some peer.
    contributors: HashMap<IpNet, BTreeSet<ServiceKey>>,
    /// Per `BGPPeer` name (every peer of this node): prefix → its attributes (merged over
    /// the advertisements that give it to that peer).
    peers: BTreeMap<String, BTreeMap<IpNet, PathAttributes>>,
    layer2: BTreeMap<(IpAddr, ServiceKey), Vec<Layer2Address>>,
    sessions: PeerSet,
    /// Per prefix, its paths: one per attribute set, the first for the main owner.
    paths: BTreeMap<IpNet, Vec<Arc<Path>>>,
    /// Services whose announced-to peers changed since [`Self::take_announced`] (an empty
    /// set: no longer announced).
    announced: BTreeMap<ServiceKey, BTreeSet<String>>,
}

impl Incremental {
    /// Everything computed from `views`.
    pub fn new(
        node: NodeView,
        config: Config,
        node_name: &str,
        views: impl IntoIterator<Item = ServiceView>,
    ) -> Self {
        let mut me = Self {
            node: NodeView::default(),
            config: Config::default(),
            node_name: node_name.to_owned(),
            shares: HashMap::new(),
            contributors: HashMap::new(),
            peers: BTreeMap::new(),
            layer2: BTreeMap::new(),
            sessions: PeerSet::default(),
            paths: BTreeMap::new(),
            announced: BTreeMap::new(),
        };
        me.reset(node, config, views);
        me
    }

    /// Rebuilds everything for a new Node or config (every Service is affected). Services
    /// whose announced-to peers changed are recorded for [`Self::take_announced`].
    pub fn reset(
        &mut self,
        node: NodeView,
        config: Config,
        views: impl IntoIterator<Item = ServiceView>,
    ) {
        let before: HashMap<ServiceKey, BTreeSet<String>> =
            self.shares.iter().map(|(k, s)| (k.clone(), s.announced_to())).collect();
        self.node = node;
        self.config = config;
        self.shares.clear();
        self.contributors.clear();
        self.layer2.clear();
        self.paths.clear();
        self.peers = node_peers(&self.config, &self.node)
            .map(|p| (p.name.clone(), BTreeMap::new()))
            .collect();
        self.sessions =
            peer_set(self.peers.keys().map(String::as_str), &self.config, &self.node_name);
        let mut prefixes = BTreeSet::new();
        for view in views {
            let key = view.key.clone();
            let share = self.share(view);
            prefixes.extend(share.prefixes());
            self.insert(key, share);
        }
        for prefix in prefixes {
            self.refresh(prefix);
        }
        for (key, share) in &self.shares {
            let now = share.announced_to();
            if before.get(key).unwrap_or(&BTreeSet::new()) != &now {
                self.announced.insert(key.clone(), now);
            }
        }
        for key in before.keys().filter(|k| !self.shares.contains_key(*k)) {
            if before.get(key).is_some_and(|peers| !peers.is_empty()) {
                self.announced.insert(key.clone(), BTreeSet::new());
            }
        }
    }

    /// One Service changed: its new view, or `None` when it is gone or not ours. Returns
    /// whether anything changed.
    pub fn update(&mut self, key: &ServiceKey, view: Option<ServiceView>) -> bool {
        if self.shares.get(key).map(|s| &s.view) == view.as_ref() {
            return false;
        }
        let mut prefixes = BTreeSet::new();
        let before = match self.remove(key) {
            Some(old) => {
                prefixes.extend(old.prefixes());
                old.announced_to()
            }
            None => BTreeSet::new(),
        };
        let now = match view {
            Some(view) => {
                let share = self.share(view);
                prefixes.extend(share.prefixes());
                let now = share.announced_to();
                self.insert(key.clone(), share);
                now
            }
            None => BTreeSet::new(),
        };
        for prefix in prefixes {
            self.refresh(prefix);
        }
        if before != now {
            self.announced.insert(key.clone(), now);
        }
        true
    }

    /// The Services whose announced-to peers changed since the last call.
    pub fn take_announced(&mut self) -> BTreeMap<ServiceKey, BTreeSet<String>> {
        std::mem::take(&mut self.announced)
    }

    /// Whether the Service is announced to some peer.
    pub fn is_announced(&self, key: &ServiceKey) -> bool {
        self.shares.get(key).is_some_and(|s| s.announcements.peers.values().any(|p| !p.is_empty()))
    }

    /// The announcements, as [`desired`] of every view gives them.
    pub fn announcements(&self) -> Announcements {
        Announcements {
            peers: self.peers.clone(),
            layer2: self.layer2.values().flatten().cloned().collect(),
        }
    }

    /// The bgpd state, as [`super::bgpd::bgpd_state`] of [`Self::announcements`] gives it.
    pub fn state(&self) -> BgpdState {
        let mut state = BgpdState {
            peers: self.sessions.configs.clone(),
            skipped: self.sessions.skipped.clone(),
            ..BgpdState::default()
        };
        for paths in self.paths.values() {
            place(paths.iter().cloned(), &mut state.paths, &mut state.variants);
        }
        state
    }

    fn share(&self, view: ServiceView) -> Share {
        let announcements = desired(std::slice::from_ref(&view), &self.node, &self.config);
        Share { view, announcements }
    }

    fn insert(&mut self, key: ServiceKey, share: Share) {
        for prefix in share.prefixes() {
            self.contributors.entry(prefix).or_default().insert(key.clone());
        }
        for l2 in &share.announcements.layer2 {
            self.layer2.entry((l2.address, key.clone())).or_default().push(l2.clone());
        }
        self.shares.insert(key, share);
    }

    fn remove(&mut self, key: &ServiceKey) -> Option<Share> {
        let share = self.shares.remove(key)?;
        for prefix in share.prefixes() {
            if let Some(set) = self.contributors.get_mut(&prefix) {
                set.remove(key);
                if set.is_empty() {
                    self.contributors.remove(&prefix);
                }
            }
        }
        for l2 in &share.announcements.layer2 {
            self.layer2.remove(&(l2.address, key.clone()));
        }
        Some(share)
    }

    /// Recomputes one prefix towards every peer from the shares that give it, then its
    /// bgpd path.
    fn refresh(&mut self, prefix: IpNet) {
        let contributors = self.contributors.get(&prefix);
        for (name, paths) in &mut self.peers {
            let mut merged: Option<PathAttributes> = None;
            for key in contributors.into_iter().flatten() {
                let Some(attrs) = self
                    .shares
                    .get(key)
                    .and_then(|s| s.announcements.peers.get(name))
                    .and_then(|p| p.get(&prefix))
                else {
                    continue;
                };
                let m = merged.get_or_insert_with(PathAttributes::default);
                // The same for every share: it depends on the peer and the family only.
                m.next_hop = attrs.next_hop;
                m.local_pref = m.local_pref.max(attrs.local_pref);
                m.communities.extend(attrs.communities.iter().copied());
            }
            match merged {
                Some(m) => {
                    paths.insert(prefix, m);
                }
                None => {
                    paths.remove(&prefix);
                }
            }
        }
        let entries = self.peers.iter().filter_map(|(name, paths)| {
            Some((self.sessions.addresses.get(name)?.clone(), paths.get(&prefix)?))
        });
        let paths: Vec<Arc<Path>> =
            prefix_paths(prefix, entries).into_iter().map(Arc::new).collect();
        if paths.is_empty() {
            self.paths.remove(&prefix);
        } else {
            self.paths.insert(prefix, paths);
        }
    }
}

#[cfg(test)]
#[path = "incremental_tests.rs"]
mod tests;
