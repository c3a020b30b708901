//! The speaker's loop: watch Services, EndpointSlices, this Node and the config; on every
//! batch of changes bring this node's announcements up to date ([`super::incremental`]:
//! only the Services named in the batch are looked at, unless the config or the Node
//! changed) and hand the resulting bgpd state to the client task ([`super::client`]).
//!
//! Coalescing: the loop takes every trigger queued ([`crate::watch::drain`]) and computes
//! once per batch; the client task keeps only the newest state. Nothing waits on a timer.
//!
//! Visibility: which nodes announce a Service is shown by Events on the Service from each
//! speaker: `AnnouncingFromNode` when this node starts announcing it (with the peers) and
//! `WithdrawnFromNode` when it stops. Events rather than an annotation because every
//! node's speaker would write the same annotation, and N writers of one field conflict;
//! Events are per node and never conflict.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, ObjectReference, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use thiserror::Error;
use tokio::sync::{mpsc, watch};

use super::bgpd::{owner, peer_marker};
use super::client::{self, ClientOptions, Desired};
use super::incremental::Incremental;
use super::layer2::{self, Layer2Options};
use super::secrets;
use super::slices::SliceIndex;
use super::view::{NodeView, ServiceView};
use crate::allocator::{ClassPolicy, ServiceKey};
use crate::config::Config;
use crate::events::Events;
use crate::watch::{Batch, ConfigSources, LegacySource, Trigger, drain, service_key, spawn_watch};

/// Event reasons (defined beside [`Events`], where the layer2 side reads them too).
pub use crate::events::{ANNOUNCING, WITHDRAWN};

/// How the speaker runs.
#[derive(Debug, Clone)]
pub struct SpeakerOptions {
    /// This node's name (downward API `spec.nodeName`).
    pub node_name: String,
    /// Namespace of our CRDs.
    pub namespace: String,
    pub legacy: Option<LegacySource>,
    pub class: ClassPolicy,
    /// bgpd's API: `host:port` or `unix:/path`.
    pub bgpd: String,
    /// How long bgpd keeps our paths when we are gone (restart without withdrawal).
    pub grace: Duration,
    /// bgpd session keepalive interval ([`client::KEEPALIVE`] by default).
    pub keepalive: Duration,
    /// The layer2 election's knobs ([`super::layer2`]).
    pub layer2: Layer2Options,
}

/// Why the speaker stopped.
#[derive(Debug, Error)]
pub enum SpeakerError {
    #[error("every watch stopped")]
    WatchesEnded,
    #[error("cannot watch for SIGTERM: {0}")]
    Signal(std::io::Error),
}

/// Runs the speaker until its watches end, or until SIGTERM: then the layer2 election's
/// clean stop (Lease deleted first, then withdrawal) runs and this returns `Ok`.
pub async fn run(client: Client, options: SpeakerOptions) -> Result<(), SpeakerError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let services: Store<Service> =
        spawn_watch(Api::all(client.clone()), watcher::Config::default(), tx.clone(), |s| {
            Trigger::Service(service_key(s))
        });
    // Only slices that belong to a Service (the label the EndpointSlice controller sets).
    let slices: Store<EndpointSlice> = spawn_watch(
        Api::all(client.clone()),
        watcher::Config::default().labels(super::view::SERVICE_NAME_LABEL),
        tx.clone(),
        |s| Trigger::Slice(service_key(s)),
    );
    let nodes: Store<Node> = spawn_watch(
        Api::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={}", options.node_name)),
        tx.clone(),
        |_| Trigger::Node,
    );
    let mut sources =
        ConfigSources::spawn(&client, &options.namespace, options.legacy.clone(), &tx);
    // BGPPeer passwords (`passwordSecret`): a Secret change is a config change.
    let secrets: Store<Secret> = spawn_watch(
        Api::namespaced(client.clone(), &options.namespace),
        watcher::Config::default(),
        tx.clone(),
        |_| Trigger::Config,
    );
    drop(tx);
    tracing::info!(node = %options.node_name, "waiting for the first lists");
    let _ = services.wait_until_ready().await;
    let _ = slices.wait_until_ready().await;
    let _ = nodes.wait_until_ready().await;
    sources.ready().await;
    let _ = secrets.wait_until_ready().await;
    let load = |sources: &mut ConfigSources| load(sources, &secrets, &options.namespace);

    let events = Events::new(client.clone(), "ironlb.io/speaker", Some(options.node_name.clone()));
    let mut speaker = Speaker::new(options.clone(), load(&mut sources), &services, &slices, &nodes);
    let (desired_tx, desired_rx) = watch::channel(Arc::new(speaker.desired()));
    let client_options = ClientOptions {
        endpoint: options.bgpd.clone(),
        owner: owner(&options.node_name),
        marker: peer_marker(&options.node_name),
        grace: options.grace,
        keepalive: options.keepalive,
    };
    let (layer2_tx, layer2_rx) = watch::channel(Arc::default());
    let layer2 = layer2::spawn(layer2::Setup {
        client: client.clone(),
        node: options.node_name.clone(),
        namespace: options.namespace.clone(),
        class: options.class.clone(),
        options: options.layer2.clone(),
        bgpd: options.bgpd.clone(),
        owner: client_options.owner.clone(),
        services: services.clone(),
        slices: slices.clone(),
        events: events.clone(),
        desired: layer2_tx,
    });
    // Shared with the layer2 task; copied once per config change, not per batch.
    let mut shared_config = Arc::new(speaker.config.clone());
    layer2.recompute(Arc::clone(&shared_config));
    tokio::spawn(client::run(client_options, desired_rx, layer2_rx, events.clone()));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(SpeakerError::Signal)?;
    // Events go from their own task, so that publishing them never delays the next push.
    let (visible_tx, visible_rx) = mpsc::unbounded_channel();
    let _ = visible_tx.send(speaker.tracker.take_announced());
    tokio::spawn(visibility(visible_rx, services.clone(), events, options.node_name.clone()));

    loop {
        let batch = tokio::select! {
            batch = drain(&mut rx) => batch,
            _ = terminate.recv() => {
                tracing::info!("SIGTERM: stopping cleanly");
                layer2.stop().await;
                return Ok(());
            }
        };
        let Some(batch) = batch else { break };
        let started = std::time::Instant::now();
        if batch.config || batch.resync {
            speaker.config = load(&mut sources);
            shared_config = Arc::new(speaker.config.clone());
        }
        // The layer2 election reads the same stores; it recomputes its candidates itself.
        layer2.recompute(Arc::clone(&shared_config));
        let changed = if batch.config || batch.resync || batch.nodes {
            if batch.resync {
                speaker.index.rebuild(&slices);
            }
            speaker.reset(&services, &slices, &nodes);
            true
        } else {
            speaker.apply(&batch, &services, &slices)
        };
        if !changed {
            continue;
        }
        let announced = speaker.tracker.take_announced();
        speaker.refresh_refs(&announced, &services);
        let desired = speaker.desired();
        tracing::debug!(
            services = batch.services.len(),
            slices = batch.slices.len(),
            elapsed = ?started.elapsed(),
            "computed"
        );
        // No comparison with the previous state here (that would walk every path): the
        // client skips what bgpd already holds.
        desired_tx.send_replace(Arc::new(desired));
        if !announced.is_empty() {
            let _ = visible_tx.send(announced);
        }
    }
    Err(SpeakerError::WatchesEnded)
}

fn load(sources: &mut ConfigSources, secrets: &Store<Secret>, namespace: &str) -> Config {
    let mut collected = sources.collect();
    // The controller publishes config errors as Events; speakers only log them.
    for e in &collected.built.errors {
        tracing::warn!(error = %e, "invalid config object left out");
    }
    if let Some(e) = &collected.legacy_error {
        tracing::warn!(error = %e, "legacy ConfigMap unreadable");
    }
    let unreadable = secrets::resolve(&mut collected.built.config, namespace, |name| {
        secrets.get(&ObjectRef::new(name).within(namespace))
    });
    for e in &unreadable {
        tracing::warn!(error = %e, "BGPPeer password unreadable; the peer is left out");
    }
    collected.built.config
}

/// The loop's state: the config, the slice index and the incremental announcements, with
/// references to the announced Services (for Events when bgpd refuses their paths).
struct Speaker {
    options: SpeakerOptions,
    config: Config,
    index: SliceIndex,
    tracker: Incremental,
    refs: BTreeMap<ServiceKey, Arc<ObjectReference>>,
}

impl Speaker {
    fn new(
        options: SpeakerOptions,
        config: Config,
        services: &Store<Service>,
        slices: &Store<EndpointSlice>,
        nodes: &Store<Node>,
    ) -> Self {
        let mut index = SliceIndex::default();
        index.rebuild(slices);
        let tracker =
            Incremental::new(NodeView::default(), Config::default(), &options.node_name, []);
        let mut me = Self { options, config, index, tracker, refs: BTreeMap::new() };
        me.reset(services, slices, nodes);
        me
    }

    /// Recomputes everything (new config, Node or relist).
    fn reset(
        &mut self,
        services: &Store<Service>,
        slices: &Store<EndpointSlice>,
        nodes: &Store<Node>,
    ) {
        let node = nodes
            .state()
            .into_iter()
            .find(|n| n.metadata.name.as_deref() == Some(self.options.node_name.as_str()))
            .map(|n| NodeView::from_node(&n))
            .unwrap_or_else(|| NodeView {
                name: self.options.node_name.clone(),
                ..NodeView::default()
            });
        let views: Vec<ServiceView> = services
            .state()
            .iter()
            .filter_map(|s| {
                let mine = self.index.slices_of(&service_key(s.as_ref()), slices);
                ServiceView::from_k8s(s, mine.iter().map(AsRef::as_ref), &self.options.class)
            })
            .collect();
        self.tracker.reset(node, self.config.clone(), views);
    }

    /// Takes in the Services and slices of one batch; whether anything changed.
    fn apply(
        &mut self,
        batch: &Batch,
        services: &Store<Service>,
        slices: &Store<EndpointSlice>,
    ) -> bool {
        let mut dirty: BTreeSet<ServiceKey> = batch.services.clone();
        for slice in &batch.slices {
            let (before, now) = self.index.update(slice, slices);
            dirty.extend(before);
            dirty.extend(now);
        }
        let mut changed = false;
        for key in &dirty {
            let view = services.get(&object_ref(key)).and_then(|s| {
                let mine = self.index.slices_of(key, slices);
                ServiceView::from_k8s(&s, mine.iter().map(AsRef::as_ref), &self.options.class)
            });
            changed |= self.tracker.update(key, view);
        }
        changed
    }

    fn refresh_refs(
        &mut self,
        announced: &BTreeMap<ServiceKey, BTreeSet<String>>,
        services: &Store<Service>,
    ) {
        for (key, peers) in announced {
            match services.get(&object_ref(key)).filter(|_| !peers.is_empty()) {
                Some(svc) => {
                    self.refs.insert(key.clone(), Arc::new(svc.object_ref(&())));
                }
                None => {
                    self.refs.remove(key);
                }
            }
        }
    }

    fn desired(&self) -> Desired {
        Desired { state: self.tracker.state(), services: self.refs.values().cloned().collect() }
    }
}

fn object_ref(key: &ServiceKey) -> ObjectRef<Service> {
    ObjectRef::new(&key.name).within(&key.namespace)
}

/// Publishes Events for the Services this node starts or stops announcing (per BGPPeer
/// set). Takes changes as they come, several batches at once when they queue up.
async fn visibility(
    mut changes: mpsc::UnboundedReceiver<BTreeMap<ServiceKey, BTreeSet<String>>>,
    services: Store<Service>,
    events: Events,
    node: String,
) {
    let mut published: BTreeMap<ServiceKey, BTreeSet<String>> = BTreeMap::new();
    while let Some(mut now) = changes.recv().await {
        while let Ok(more) = changes.try_recv() {
            now.extend(more);
        }
        for (key, peers) in now {
            if published.get(&key).unwrap_or(&BTreeSet::new()) == &peers {
                continue;
            }
            if let Some(svc) = services.get(&object_ref(&key)) {
                let (reason, action, note) = if peers.is_empty() {
                    (WITHDRAWN, "Withdraw", format!("no longer announced from node {node}"))
                } else {
                    let peers: Vec<&str> = peers.iter().map(String::as_str).collect();
                    let note =
                        format!("announced from node {node} over BGP to {}", peers.join(", "));
                    (ANNOUNCING, "Announce", note)
                };
                events.normal(&svc.object_ref(&()), reason, action, note).await;
            }
            if peers.is_empty() {
                published.remove(&key);
            } else {
                published.insert(key, peers);
            }
        }
    }
}
