//! The speaker's loop: watch Services, EndpointSlices, this Node and the config; on every
//! batch of changes bring this node's announcements up to date ([`super::incremental`]:
//! only the Services named in the batch are looked at, unless the config or the Node
//! changed) and hand the resulting bgpd state to the client task ([`super::client`]).
//!
//! Coalescing: the loop takes every trigger queued ([`crate::watch::drain`]) and computes
//! once per batch; the client task keeps only the newest state. Nothing waits on a timer.
//!
//! Visibility: which nodes announce a Service, and to which peers, is shown by a
//! `ServiceBGPStatus` per node and Service ([`super::status`], MetalLB's shape) and by
//! Events on the Service from each speaker: `AnnouncingFromNode` when this node starts
//! announcing it (with the peers) and `WithdrawnFromNode` when it stops. One object per
//! node rather than a field of the Service: N speakers writing one field would conflict,
//! and the speaker needs no write access to Services.

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
use tokio::time::Instant;

use super::bgpd::{owner, peer_marker};
use super::client::{self, ClientOptions, Desired};
use super::incremental::Incremental;
use super::layer2::{self, Layer2Options, ServiceChanges};
use super::secrets;
use super::slices::SliceIndex;
use super::status::StatusWriter;
use super::view::{Drain, NodeView, ServiceView};
use crate::allocator::{ClassPolicy, ServiceKey};
use crate::config::Config;
use crate::config::crd::{ServiceBgpStatus, ServiceBgpStatusFields};
use crate::events::Events;
use crate::metrics::SpeakerMetrics;
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
    /// How long a node leaving service (cordoned, or labelled to be excluded) keeps its BGP
    /// routes, announced with GRACEFUL_SHUTDOWN, before it withdraws them ([`Drain`]).
    /// Zero: withdraw at once.
    pub drain: Duration,
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
    run_with_metrics(client, options, Arc::default()).await
}

/// [`run`], setting `metrics` (and its readiness: caches synced, bgpd's session open).
pub async fn run_with_metrics(
    client: Client,
    options: SpeakerOptions,
    metrics: Arc<SpeakerMetrics>,
) -> Result<(), SpeakerError> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(SpeakerError::Signal)?;
    let sigterm = async move {
        terminate.recv().await;
        tracing::info!("SIGTERM: stopping cleanly");
    };
    run_until(client, options, metrics, sigterm).await
}

/// [`run_with_metrics`], with the clean stop when `stop` completes instead of on SIGTERM:
/// for a speaker embedded in a process that has other uses for the signal (the tests run
/// the speaker as a task, and stop it as the kubelet would stop its container).
pub async fn run_until(
    client: Client,
    options: SpeakerOptions,
    metrics: Arc<SpeakerMetrics>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), SpeakerError> {
    let mut stop = std::pin::pin!(stop);
    let (mut caches, mut rx) = Caches::watch(&client, &options).await;
    metrics.readiness.set_caches_synced(true);
    let events = Events::new(client.clone(), "ironlb.io/speaker", Some(options.node_name.clone()));
    let config = caches.load(&options.namespace, &metrics);
    let mut speaker = Speaker::new(options.clone(), config, &caches, Arc::clone(&metrics));
    let views = speaker.reset(&caches);
    let tasks = Tasks::spawn(&client, &options, &caches, &events, &mut speaker);
    tasks.layer2.recompute(Arc::clone(&speaker.config), ServiceChanges::All(views));
    loop {
        let drain_over = speaker.drain_deadline;
        let batch = tokio::select! {
            batch = drain(&mut rx) => batch,
            // The drain time is over: the Node is looked at again (and its routes withdrawn).
            () = sleep_until_some(drain_over) => Some(Batch { nodes: true, ..Batch::default() }),
            () = &mut stop => {
                tasks.layer2.stop().await;
                return Ok(());
            }
        };
        let Some(batch) = batch else { break };
        speaker.on_batch(&batch, &mut caches, &tasks);
    }
    Err(SpeakerError::WatchesEnded)
}

/// The caches the speaker reads, each filled by a watch whose changes arrive as triggers
/// on one channel.
struct Caches {
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    nodes: Store<Node>,
    secrets: Store<Secret>,
    sources: ConfigSources,
}

impl Caches {
    /// Starts the watches and waits for their first lists.
    async fn watch(
        client: &Client,
        options: &SpeakerOptions,
    ) -> (Self, mpsc::UnboundedReceiver<Trigger>) {
        let (tx, rx) = mpsc::unbounded_channel();
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
        let sources = ConfigSources::spawn(client, &options.namespace, options.legacy.clone(), &tx);
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
        (Self { services, slices, nodes, secrets, sources }, rx)
    }

    /// The config from the config objects and the Secrets they name.
    fn load(&mut self, namespace: &str, metrics: &SpeakerMetrics) -> Config {
        let mut collected = self.sources.collect();
        // The controller publishes config errors as Events; speakers only log them.
        for e in &collected.built.errors {
            tracing::warn!(error = %e, "invalid config object left out");
        }
        if let Some(e) = &collected.legacy_error {
            tracing::warn!(error = %e, "legacy ConfigMap unreadable");
        }
        let secrets = &self.secrets;
        let unreadable = secrets::resolve(&mut collected.built.config, namespace, |name| {
            secrets.get(&ObjectRef::new(name).within(namespace))
        });
        for e in &unreadable {
            tracing::warn!(error = %e, "BGPPeer password unreadable; the peer is left out");
        }
        if !collected.built.errors.is_empty() || !unreadable.is_empty() {
            metrics.update_error();
        }
        metrics.config_loaded(collected.legacy_error.is_some());
        collected.built.config
    }
}

/// The tasks the loop hands its results to.
struct Tasks {
    /// The bgpd state, for the client task.
    desired: watch::Sender<Arc<Desired>>,
    layer2: layer2::Handle,
    /// Services whose announced-to peers changed, for the Events.
    visible: mpsc::UnboundedSender<BTreeMap<ServiceKey, BTreeSet<String>>>,
}

impl Tasks {
    /// Starts the client task (bgpd link), the layer2 task and the Events task.
    fn spawn(
        client: &Client,
        options: &SpeakerOptions,
        caches: &Caches,
        events: &Events,
        speaker: &mut Speaker,
    ) -> Self {
        let (desired_tx, desired_rx) = watch::channel(Arc::new(speaker.desired()));
        let client_options = ClientOptions {
            endpoint: options.bgpd.clone(),
            owner: owner(&options.node_name),
            marker: peer_marker(&options.node_name),
            grace: options.grace,
            keepalive: options.keepalive,
            metrics: Arc::clone(&speaker.metrics),
        };
        let (layer2_tx, layer2_rx) = watch::channel(Arc::default());
        let layer2 = layer2::spawn(layer2::Setup {
            client: client.clone(),
            node: options.node_name.clone(),
            namespace: options.namespace.clone(),
            options: options.layer2.clone(),
            bgpd: options.bgpd.clone(),
            owner: client_options.owner.clone(),
            services: caches.services.clone(),
            events: events.clone(),
            desired: layer2_tx,
            metrics: Arc::clone(&speaker.metrics),
        });
        tokio::spawn(client::run(client_options, desired_rx, layer2_rx, events.clone()));
        // Events go from their own task, so that publishing them never delays the next push.
        let (visible_tx, visible_rx) = mpsc::unbounded_channel();
        let _ = visible_tx.send(speaker.tracker.take_announced());
        let writer =
            StatusWriter::new(client.clone(), &options.namespace, &options.node_name, "bgp");
        tokio::spawn(visibility(visible_rx, caches.services.clone(), events.clone(), writer));
        Self { desired: desired_tx, layer2, visible: visible_tx }
    }
}

/// The loop's state: the config, the slice index and the incremental announcements, with
/// references to the announced Services (for Events when bgpd refuses their paths).
struct Speaker {
    options: SpeakerOptions,
    /// Shared with the layer2 task; copied once per config change, not per batch.
    config: Arc<Config>,
    index: SliceIndex,
    tracker: Incremental,
    refs: BTreeMap<ServiceKey, Arc<ObjectReference>>,
    /// When this node started leaving service, while it does.
    drain_since: Option<Instant>,
    /// When the running drain ends.
    drain_deadline: Option<Instant>,
    metrics: Arc<SpeakerMetrics>,
}

/// Waits until `deadline`; forever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Speaker {
    /// Where this node is in a drain now ([`Drain`]), keeping the drain's start.
    fn drain_state(&mut self, node: &NodeView) -> Drain {
        if !node.leaving() {
            if self.drain_since.take().is_some() {
                tracing::info!("node back in service: announcing normally");
            }
            self.drain_deadline = None;
            return Drain::Serving;
        }
        let now = Instant::now();
        let since = *self.drain_since.get_or_insert_with(|| {
            tracing::info!(
                drain = ?self.options.drain,
                "node leaving service: layer2 addresses released, BGP routes sent with GRACEFUL_SHUTDOWN, then withdrawn"
            );
            now
        });
        let end = since + self.options.drain;
        if now < end {
            self.drain_deadline = Some(end);
            Drain::Draining
        } else {
            self.drain_deadline = None;
            Drain::Drained
        }
    }

    fn new(
        options: SpeakerOptions,
        config: Config,
        caches: &Caches,
        metrics: Arc<SpeakerMetrics>,
    ) -> Self {
        let tracker =
            Incremental::new(NodeView::default(), Config::default(), &options.node_name, []);
        let mut index = SliceIndex::default();
        index.rebuild(&caches.slices);
        Self {
            options,
            config: Arc::new(config),
            index,
            tracker,
            refs: BTreeMap::new(),
            drain_since: None,
            drain_deadline: None,
            metrics,
        }
    }

    /// One batch of changes: the announcements brought up to date (the Services it names,
    /// or everything after a config, Node or relist change), the views handed to the
    /// layer2 task, and the new bgpd state to the client task.
    fn on_batch(&mut self, batch: &Batch, caches: &mut Caches, tasks: &Tasks) {
        let started = std::time::Instant::now();
        self.metrics.updates(batch.len());
        if batch.config || batch.resync {
            self.config = Arc::new(caches.load(&self.options.namespace, &self.metrics));
        }
        // Before anything reads the index: a full recompute reads it too, so a slice that
        // arrives in the same batch as a config or Node change must be in it.
        let sliced = self.index.apply(&batch.slices, batch.resync, &caches.slices);
        let (changed, views) = if batch.config || batch.resync || batch.nodes {
            (true, ServiceChanges::All(self.reset(caches)))
        } else {
            let (changed, views) = self.apply(batch, sliced, caches);
            (changed, ServiceChanges::Changed(views))
        };
        // The layer2 election works on the same views, per change.
        tasks.layer2.recompute(Arc::clone(&self.config), views);
        if !changed {
            return;
        }
        let announced = self.tracker.take_announced();
        self.refresh_refs(&announced, &caches.services);
        let desired = self.desired();
        tracing::debug!(
            services = batch.services.len(),
            slices = batch.slices.len(),
            elapsed = ?started.elapsed(),
            "computed"
        );
        // No comparison with the previous state here (that would walk every path): the
        // client skips what bgpd already holds.
        tasks.desired.send_replace(Arc::new(desired));
        if !announced.is_empty() {
            let _ = tasks.visible.send(announced);
        }
    }

    /// Recomputes everything (new config, Node or relist); every Service's view.
    fn reset(&mut self, caches: &Caches) -> Vec<ServiceView> {
        let mut node = caches
            .nodes
            .state()
            .into_iter()
            .find(|n| n.metadata.name.as_deref() == Some(self.options.node_name.as_str()))
            .map(|n| NodeView::from_node(&n))
            .unwrap_or_else(|| NodeView {
                name: self.options.node_name.clone(),
                ..NodeView::default()
            });
        node.drain = self.drain_state(&node);
        let views: Vec<ServiceView> = caches
            .services
            .state()
            .iter()
            .filter_map(|s| {
                let mine = self.index.slices_of(&service_key(s.as_ref()), &caches.slices);
                ServiceView::from_k8s(s, mine.iter().map(AsRef::as_ref), &self.options.class)
            })
            .collect();
        self.tracker.reset(node, Config::clone(&self.config), views.clone());
        views
    }

    /// Takes in the Services of one batch and those whose slices changed (`sliced`):
    /// whether anything changed, and the view of every such Service (`None`: gone or not
    /// ours).
    fn apply(
        &mut self,
        batch: &Batch,
        sliced: BTreeSet<ServiceKey>,
        caches: &Caches,
    ) -> (bool, Vec<(ServiceKey, Option<ServiceView>)>) {
        let mut dirty: BTreeSet<ServiceKey> = batch.services.clone();
        dirty.extend(sliced);
        let mut changed = false;
        let mut views = Vec::with_capacity(dirty.len());
        for key in dirty {
            let view = caches.services.get(&object_ref(&key)).and_then(|s| {
                let mine = self.index.slices_of(&key, &caches.slices);
                ServiceView::from_k8s(&s, mine.iter().map(AsRef::as_ref), &self.options.class)
            });
            changed |= self.tracker.update(&key, view.clone());
            views.push((key, view));
        }
        (changed, views)
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

/// How often writes of status objects that failed are tried again.
const STATUS_RETRY: Duration = Duration::from_secs(5);

/// Shows which Services this node announces over BGP and to which peers: a
/// `ServiceBGPStatus` per Service ([`super::status`]), and Events on the Service
/// (`AnnouncingFromNode` with the peers, `WithdrawnFromNode`). Takes changes as they come,
/// several batches at once when they queue up. The first change holds every Service
/// announced, so this node's objects for any other Service (left by an earlier run) are
/// deleted then.
async fn visibility(
    mut changes: mpsc::UnboundedReceiver<BTreeMap<ServiceKey, BTreeSet<String>>>,
    services: Store<Service>,
    events: Events,
    writer: StatusWriter<ServiceBgpStatus>,
) {
    let node = writer.node().to_owned();
    let mut published: BTreeMap<ServiceKey, BTreeSet<String>> = BTreeMap::new();
    // Status writes that failed, by Service: the peers to write (empty: delete).
    let mut failed: BTreeMap<ServiceKey, BTreeSet<String>> = BTreeMap::new();
    let mut pruned = false;
    let mut retry = tokio::time::interval(STATUS_RETRY);
    loop {
        let mut now = tokio::select! {
            change = changes.recv() => match change {
                Some(change) => change,
                None => return,
            },
            _ = retry.tick(), if !failed.is_empty() || !pruned => BTreeMap::new(),
        };
        while let Ok(more) = changes.try_recv() {
            now.extend(more);
        }
        if !pruned {
            let keep: BTreeSet<ServiceKey> = published
                .keys()
                .chain(now.iter().filter(|(_, p)| !p.is_empty()).map(|(k, _)| k))
                .cloned()
                .collect();
            match writer.prune(&keep).await {
                Ok(()) => pruned = true,
                Err(e) => tracing::warn!(error = %e, "listing this node's ServiceBGPStatus failed"),
            }
        }
        for (key, peers) in std::mem::take(&mut failed) {
            now.entry(key).or_insert(peers);
        }
        for (key, peers) in now {
            let written = if peers.is_empty() {
                writer.remove(&key).await
            } else {
                let status = ServiceBgpStatusFields {
                    node: node.clone(),
                    service_name: key.name.clone(),
                    service_namespace: key.namespace.clone(),
                    peers: peers.iter().cloned().collect(),
                };
                writer.write(&key, serde_json::to_value(status).unwrap_or_default()).await
            };
            if let Err(e) = written {
                tracing::warn!(service = %key, error = %e, "writing its ServiceBGPStatus failed; retrying");
                failed.insert(key.clone(), peers.clone());
            }
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
