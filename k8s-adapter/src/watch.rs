//! Watching the API server: one reflector per resource kind keeps a local cache (a kube
//! [`Store`]), and every change becomes a [`Trigger`] on one channel that the controller or
//! speaker loop owns.
//!
//! Why one channel of small triggers: the loop is the single owner of its state (the
//! allocator, the last state sent to bgpd); the watch tasks only own their caches. A loop
//! takes the first trigger, then drains whatever else is queued ([`drain`]) and handles the
//! whole batch at once, so a burst of a thousand changes costs one recomputation, with no
//! fixed delay.
//!
//! A relist (start, or a watch that expired with 410 Gone) ends with `InitDone`, which
//! becomes [`Trigger::Resync`]: objects deleted while the watch was down vanish from the
//! cache without a Delete event, so the loop looks at everything again.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::hash::Hash;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::allocator::ServiceKey;
use crate::config::crd::{
    BfdProfile, BgpAdvertisement, BgpPeer, Community, IpAddressPool, L2Advertisement,
};
use crate::config::legacy::{LegacyConfig, LegacyError};
use crate::config::{Built, ConfigError, Resources, build};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// A config object (CRD or the legacy ConfigMap).
    Config,
    /// A Service, or an EndpointSlice of it.
    Service(ServiceKey),
    /// An EndpointSlice (namespace and slice name), for a loop that indexes slices by
    /// Service itself (the speaker).
    Slice(ServiceKey),
    /// A Namespace's labels (pool `serviceAllocation.namespaceSelectors`).
    Namespace(String),
    /// A Node.
    Node,
    /// A cache was relisted: look at everything.
    Resync,
}

/// A batch of triggers, deduplicated.
#[derive(Debug, Default)]
pub struct Batch {
    pub config: bool,
    pub resync: bool,
    pub nodes: bool,
    pub services: BTreeSet<ServiceKey>,
    pub slices: BTreeSet<ServiceKey>,
    pub namespaces: BTreeSet<String>,
}

impl Batch {
    /// How many changes it holds (each named object once, each flag once).
    pub fn len(&self) -> u64 {
        let flags = u64::from(self.config) + u64::from(self.resync) + u64::from(self.nodes);
        let named = self.services.len() + self.slices.len() + self.namespaces.len();
        flags.saturating_add(u64::try_from(named).unwrap_or(u64::MAX))
    }

    /// No change at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn add(&mut self, trigger: Trigger) {
        match trigger {
            Trigger::Config => self.config = true,
            Trigger::Service(key) => {
                self.services.insert(key);
            }
            Trigger::Slice(key) => {
                self.slices.insert(key);
            }
            Trigger::Namespace(name) => {
                self.namespaces.insert(name);
            }
            Trigger::Node => self.nodes = true,
            Trigger::Resync => self.resync = true,
        }
    }
}

/// Waits for one trigger, then takes every other one already queued. `None` when every
/// watch task is gone.
pub async fn drain(rx: &mut mpsc::UnboundedReceiver<Trigger>) -> Option<Batch> {
    let first = rx.recv().await?;
    let mut batch = Batch::default();
    batch.add(first);
    while let Ok(more) = rx.try_recv() {
        batch.add(more);
    }
    Some(batch)
}

/// Starts a reflector for `api` and returns its cache. Every applied or deleted object is
/// sent as `map(object)`; every completed (re)list as [`Trigger::Resync`]. Watch errors are
/// retried with kube's default backoff and logged.
pub fn spawn_watch<K>(
    api: Api<K>,
    config: watcher::Config,
    tx: mpsc::UnboundedSender<Trigger>,
    map: fn(&K) -> Trigger,
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    spawn_watch_filtered(api, config, tx, map, false)
}

/// [`spawn_watch`], and with `spec_only` set, an update that changed neither the object's
/// `generation` nor its labels (a write of its status alone, such as the controller's own
/// IPAddressPool status) triggers nothing.
pub fn spawn_watch_filtered<K>(
    api: Api<K>,
    config: watcher::Config,
    tx: mpsc::UnboundedSender<Trigger>,
    map: fn(&K) -> Trigger,
    spec_only: bool,
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let mut filter = SpecFilter::new(spec_only);
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let trigger = match event {
                Ok(watcher::Event::Apply(o)) if filter.unchanged(o.meta()) => continue,
                Ok(watcher::Event::Delete(o)) => {
                    filter.forget(o.meta());
                    map(&o)
                }
                Ok(watcher::Event::Apply(o)) => map(&o),
                // A (re)list: what it lists is what later updates are compared with.
                Ok(watcher::Event::Init) => {
                    filter.clear();
                    continue;
                }
                Ok(watcher::Event::InitApply(o)) => {
                    filter.unchanged(o.meta());
                    continue;
                }
                Ok(watcher::Event::InitDone) => Trigger::Resync,
                Err(e) => {
                    tracing::warn!(kind = %K::kind(&K::DynamicType::default()), error = %e, "watch failed; retrying");
                    continue;
                }
            };
            if tx.send(trigger).is_err() {
                break;
            }
        }
    });
    reader
}

/// Tells, with `spec_only` set, an update that changed neither an object's `generation`
/// nor its labels (a write of its status alone) from one that did. The first sight of an
/// object counts as a change, except in a list: the listed objects are the baseline the
/// later updates are compared with (without it, the controller's first status write after
/// a speaker starts would look like a config change). Holds one entry per object.
struct SpecFilter {
    spec_only: bool,
    /// (namespace, name) → (generation, labels).
    seen: HashMap<ObjectId, (Option<i64>, String)>,
}

type ObjectId = (Option<String>, Option<String>);

impl SpecFilter {
    fn new(spec_only: bool) -> Self {
        Self { spec_only, seen: HashMap::new() }
    }

    /// Records `meta`; whether neither its generation nor its labels changed since the
    /// object was last seen (always false without `spec_only`, or without a generation).
    fn unchanged(&mut self, meta: &ObjectMeta) -> bool {
        if !self.spec_only {
            return false;
        }
        let id = (meta.namespace.clone(), meta.name.clone());
        let now = (meta.generation, format!("{:?}", meta.labels));
        let same = meta.generation.is_some() && self.seen.get(&id) == Some(&now);
        self.seen.insert(id, now);
        same
    }

    fn forget(&mut self, meta: &ObjectMeta) {
        self.seen.remove(&(meta.namespace.clone(), meta.name.clone()));
    }

    fn clear(&mut self) {
        self.seen.clear();
    }
}

/// The key of a namespaced object.
pub fn service_key<K: Resource>(o: &K) -> ServiceKey {
    ServiceKey::new(
        o.meta().namespace.clone().unwrap_or_default(),
        o.meta().name.clone().unwrap_or_default(),
    )
}

/// Where the MetalLB legacy ConfigMap is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacySource {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

/// The caches of every config object: our CRDs in one namespace, and optionally the legacy
/// ConfigMap.
#[derive(Clone)]
pub struct ConfigSources {
    pools: Store<IpAddressPool>,
    peers: Store<BgpPeer>,
    bgp_advertisements: Store<BgpAdvertisement>,
    l2_advertisements: Store<L2Advertisement>,
    communities: Store<Community>,
    bfd_profiles: Store<BfdProfile>,
    legacy: Option<(Store<ConfigMap>, LegacySource)>,
    /// The legacy ConfigMap's objects as last read successfully: kept in force while the
    /// ConfigMap cannot be parsed, so a typo there takes no addresses away.
    legacy_last_good: Option<(Resources, Vec<ConfigError>)>,
    namespace: String,
}

/// The validated config with everything wrong in it.
#[derive(Debug, Default)]
pub struct Collected {
    pub built: Built,
    /// The legacy ConfigMap could not be read (its last good objects stay in force).
    pub legacy_error: Option<LegacyError>,
}

impl ConfigSources {
    /// Starts the config watches; their changes arrive as [`Trigger::Config`].
    pub fn spawn(
        client: &Client,
        namespace: &str,
        legacy: Option<LegacySource>,
        tx: &mpsc::UnboundedSender<Trigger>,
    ) -> Self {
        fn config<K>(_: &K) -> Trigger {
            Trigger::Config
        }
        let cfg = watcher::Config::default;
        let ns = |c: &Client| c.clone();
        Self {
            // The controller writes the pools' status: that alone is no config change.
            pools: spawn_watch_filtered(
                Api::namespaced(ns(client), namespace),
                cfg(),
                tx.clone(),
                config,
                true,
            ),
            peers: spawn_watch(Api::namespaced(ns(client), namespace), cfg(), tx.clone(), config),
            bgp_advertisements: spawn_watch(
                Api::namespaced(ns(client), namespace),
                cfg(),
                tx.clone(),
                config,
            ),
            l2_advertisements: spawn_watch(
                Api::namespaced(ns(client), namespace),
                cfg(),
                tx.clone(),
                config,
            ),
            communities: spawn_watch(
                Api::namespaced(ns(client), namespace),
                cfg(),
                tx.clone(),
                config,
            ),
            bfd_profiles: spawn_watch(
                Api::namespaced(ns(client), namespace),
                cfg(),
                tx.clone(),
                config,
            ),
            legacy: legacy.map(|source| {
                let store = spawn_watch(
                    Api::namespaced(client.clone(), &source.namespace),
                    cfg().fields(&format!("metadata.name={}", source.name)),
                    tx.clone(),
                    config,
                );
                (store, source)
            }),
            legacy_last_good: None,
            namespace: namespace.to_owned(),
        }
    }

    /// Waits until every cache has its first list.
    pub async fn ready(&self) {
        let _ = self.pools.wait_until_ready().await;
        let _ = self.peers.wait_until_ready().await;
        let _ = self.bgp_advertisements.wait_until_ready().await;
        let _ = self.l2_advertisements.wait_until_ready().await;
        let _ = self.communities.wait_until_ready().await;
        let _ = self.bfd_profiles.wait_until_ready().await;
        if let Some((store, _)) = &self.legacy {
            let _ = store.wait_until_ready().await;
        }
    }

    /// Validates what the caches hold now.
    pub fn collect(&mut self) -> Collected {
        let (resources, legacy_errors, legacy_error) = self.gather();
        let mut built = build(&resources);
        built.errors.extend(legacy_errors);
        Collected { built, legacy_error }
    }

    /// Every config object the caches hold now (the legacy ConfigMap's, as last read
    /// successfully, included), unvalidated: what the admission webhook compares with.
    pub fn resources(&mut self) -> Resources {
        self.gather().0
    }

    /// The objects, the legacy ConfigMap's conversion errors, and why it could not be read.
    fn gather(&mut self) -> (Resources, Vec<ConfigError>, Option<LegacyError>) {
        fn all<K: Clone + Resource>(s: &Store<K>) -> Vec<K>
        where
            K::DynamicType: Eq + Hash + Clone,
        {
            let mut v: Vec<K> = s.state().iter().map(|o| K::clone(o)).collect();
            v.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
            v
        }
        let mut resources = Resources {
            pools: all(&self.pools),
            peers: all(&self.peers),
            bgp_advertisements: all(&self.bgp_advertisements),
            l2_advertisements: all(&self.l2_advertisements),
            communities: all(&self.communities),
            bfd_profiles: all(&self.bfd_profiles),
        };
        let mut legacy_errors = Vec::new();
        let mut legacy_error = None;
        if let Some((store, source)) = &self.legacy {
            let found = store
                .state()
                .into_iter()
                .find(|c| c.metadata.name.as_deref() == Some(&source.name));
            match found.map(|cm| LegacyConfig::from_config_map(&cm, &source.key)) {
                None => self.legacy_last_good = None,
                Some(Ok((legacy, object))) => {
                    self.legacy_last_good = Some(legacy.to_resources(&self.namespace, &object));
                }
                Some(Err(e)) => legacy_error = Some(e),
            }
            if let Some((more, errors)) = &self.legacy_last_good {
                resources.extend(more.clone());
                legacy_errors.clone_from(errors);
            }
        }
        (resources, legacy_errors, legacy_error)
    }
}

#[cfg(test)]
mod spec_filter_tests {
    use super::*;

    fn meta(generation: i64, status_writes: u32) -> ObjectMeta {
        ObjectMeta {
            namespace: Some("ironlb-system".into()),
            name: Some("pool".into()),
            generation: Some(generation),
            resource_version: Some(status_writes.to_string()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn a_status_write_after_the_list_is_no_change() {
        let mut filter = SpecFilter::new(true);
        filter.clear();
        filter.unchanged(&meta(1, 1)); // listed
        assert!(filter.unchanged(&meta(1, 2)), "status only: same generation");
        assert!(!filter.unchanged(&meta(2, 3)), "spec changed");
        let mut labelled = meta(2, 4);
        labelled.labels = Some([("a".to_owned(), "b".to_owned())].into());
        assert!(!filter.unchanged(&labelled), "labels changed");
    }

    #[test]
    fn an_unseen_or_forgotten_object_is_a_change_and_so_is_everything_without_spec_only() {
        let mut filter = SpecFilter::new(true);
        assert!(!filter.unchanged(&meta(1, 1)));
        filter.forget(&meta(1, 1));
        assert!(!filter.unchanged(&meta(1, 2)));
        filter.clear();
        assert!(!filter.unchanged(&meta(1, 3)));
        let mut all = SpecFilter::new(false);
        assert!(!all.unchanged(&meta(1, 1)));
        assert!(!all.unchanged(&meta(1, 1)));
        let mut no_generation = SpecFilter::new(true);
        let mut m = meta(1, 1);
        m.generation = None;
        no_generation.unchanged(&m);
        assert!(!no_generation.unchanged(&m), "without a generation every write counts");
    }
}
