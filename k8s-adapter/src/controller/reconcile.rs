//! The controller's state and its reconcile step; one task owns it.
//!
//! Reconciling a Service (idempotent, from the cache only):
//! - gone, or being deleted: release its addresses;
//! - no longer ours (type or class changed): release, clear the ingress we wrote and our
//!   condition, Event `ClearAssignment`;
//! - ours: read its request and assign; write the status when it differs
//!   ([`super::status::status_patch`]); Event `IPAllocated` when the addresses changed,
//!   `AllocationFailed` (Warning) with the reason when none could be given.
//!
//! A config change validates every config object again: each error becomes a Warning Event
//! on the object at fault (once per distinct error), and the valid objects replace the
//! allocator's pools. A legacy ConfigMap that cannot be parsed at all keeps its last good
//! objects in force ([`crate::watch::ConfigSources::collect`]), so a typo there never
//! takes addresses away. Every Service is then
//! reconciled, which moves those whose address left its pool.
//!
//! A status write that fails is retried with a growing delay (an error backoff, not a
//! batching delay), by sending the Service's key to the loop again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use tokio::sync::mpsc;

use super::Options;
use super::pools::PoolStatusWriter;
use super::status::{Outcome, join, our_condition, status_patch};
use crate::allocator::request::request;
use crate::allocator::{Allocator, ClassPolicy, ServiceKey, status_addresses};
use crate::config::legacy::LegacyError;
use crate::config::{Config, Labels};
use crate::events::{Events, config_object_ref};
use crate::metrics::{ControllerMetrics, PoolGauges};
use crate::watch::{Batch, ConfigSources, Trigger, service_key, spawn_watch};

/// Event reasons.
pub const IP_ALLOCATED: &str = "IPAllocated";
pub const ALLOCATION_FAILED: &str = "AllocationFailed";
pub const CLEAR_ASSIGNMENT: &str = "ClearAssignment";
pub const INVALID_CONFIG: &str = "InvalidConfig";
pub const CONFIG_WARNING: &str = "ConfigWarning";

const MAX_RETRY: Duration = Duration::from_secs(30);

/// The controller's state.
pub struct Reconciler {
    client: Client,
    events: Events,
    class: ClassPolicy,
    allocator: Allocator,
    /// Services the allocator holds addresses for.
    held: BTreeSet<ServiceKey>,
    services: Store<Service>,
    namespaces: Store<Namespace>,
    sources: ConfigSources,
    /// Config errors and warnings already published, by their text.
    published: BTreeSet<String>,
    /// Consecutive write failures per Service, for the retry delay.
    failures: HashMap<ServiceKey, u32>,
    tx: mpsc::UnboundedSender<Trigger>,
    /// The pools' status (addresses in use and free).
    pool_status: PoolStatusWriter,
    /// The same usage as metrics, and the reconcile counters.
    metrics: Arc<ControllerMetrics>,
    pool_gauges: PoolGauges,
}

impl Reconciler {
    /// Starts the watches and returns the state with the channel its triggers arrive on.
    pub fn spawn(client: Client, options: &Options) -> (Self, mpsc::UnboundedReceiver<Trigger>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let services = spawn_watch(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
            tx.clone(),
            |s| Trigger::Service(service_key(s)),
        );
        let namespaces = spawn_watch(
            Api::<Namespace>::all(client.clone()),
            watcher::Config::default(),
            tx.clone(),
            |n| Trigger::Namespace(n.metadata.name.clone().unwrap_or_default()),
        );
        let sources =
            ConfigSources::spawn(&client, &options.namespace, options.legacy.clone(), &tx);
        let events =
            Events::new(client.clone(), "ironlb.io/controller", Some(options.identity.clone()));
        let pool_status = PoolStatusWriter::new(client.clone(), &options.namespace);
        let me = Self {
            pool_status,
            metrics: Arc::clone(&options.metrics),
            pool_gauges: options.metrics.pool_gauges(),
            client,
            events,
            class: options.class.clone(),
            allocator: Allocator::new(&Config::default()),
            held: BTreeSet::new(),
            services,
            namespaces,
            sources,
            published: BTreeSet::new(),
            failures: HashMap::new(),
            tx,
        };
        (me, rx)
    }

    /// Waits for every cache, loads the config, rebuilds the allocator from the Services'
    /// statuses (oldest Service first, so that of two claiming one address the older keeps
    /// it), then reconciles everything.
    pub async fn start(&mut self) {
        tracing::info!("waiting for the first lists (Services, Namespaces, config CRDs)");
        let _ = self.services.wait_until_ready().await;
        let _ = self.namespaces.wait_until_ready().await;
        self.sources.ready().await;
        self.apply_config().await;
        let mut services: Vec<_> =
            self.services.state().into_iter().filter(|s| self.class.manages(s)).collect();
        services.sort_by(|a, b| {
            (&a.metadata.creation_timestamp, service_key(a.as_ref()))
                .cmp(&(&b.metadata.creation_timestamp, service_key(b.as_ref())))
        });
        for svc in services {
            let addresses = status_addresses(&svc);
            if addresses.is_empty() {
                continue;
            }
            let labels = self.namespace_labels(svc.metadata.namespace.as_deref().unwrap_or(""));
            let Ok(req) = request(&svc, &labels) else { continue };
            match self.allocator.restore(&req, &addresses) {
                Ok(_) => {
                    self.held.insert(req.key);
                }
                Err(e) => tracing::info!(service = %req.key, error = %e, "not restoring"),
            }
        }
        tracing::info!(restored = self.held.len(), "allocator rebuilt from Service statuses");
        self.reconcile_all().await;
        self.publish_usage().await;
    }

    /// Handles one batch of triggers.
    pub async fn handle(&mut self, batch: Batch) {
        if batch.config {
            self.apply_config().await;
        }
        if batch.config || batch.resync {
            self.reconcile_all().await;
            self.publish_usage().await;
            return;
        }
        let mut keys = batch.services;
        for ns in &batch.namespaces {
            keys.extend(
                self.services
                    .state()
                    .iter()
                    .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
                    .map(|s| service_key(s.as_ref())),
            );
        }
        for key in keys {
            self.reconcile(&key).await;
        }
        self.publish_usage().await;
    }

    async fn reconcile_all(&mut self) {
        let mut keys: BTreeSet<ServiceKey> =
            self.services.state().iter().map(|s| service_key(s.as_ref())).collect();
        keys.extend(self.held.iter().cloned());
        for key in keys {
            self.reconcile(&key).await;
        }
    }

    fn namespace_labels(&self, namespace: &str) -> Labels {
        self.namespaces
            .get(&ObjectRef::new(namespace))
            .and_then(|n| n.metadata.labels.clone())
            .unwrap_or_default()
    }

    /// Validates the config, publishes what is wrong in it, and gives the allocator the
    /// pools.
    async fn apply_config(&mut self) {
        let collected = self.sources.collect();
        let mut now_wrong = BTreeSet::new();
        if let Some(e) = &collected.legacy_error {
            let text = e.to_string();
            let object = match e {
                LegacyError::Yaml { object, .. } | LegacyError::MissingKey { object, .. } => object,
            };
            if !self.published.contains(&text) {
                tracing::warn!(error = %text, "legacy ConfigMap unreadable; its last good objects stay in force");
                let on = config_object_ref(object);
                self.events.warning(&on, INVALID_CONFIG, "LoadConfig", text.clone()).await;
            }
            now_wrong.insert(text);
        }
        for e in &collected.built.errors {
            let text = e.to_string();
            if !self.published.contains(&text) {
                tracing::warn!(error = %text, "invalid config object left out");
                self.events
                    .warning(
                        &config_object_ref(&e.object),
                        INVALID_CONFIG,
                        "LoadConfig",
                        text.clone(),
                    )
                    .await;
            }
            now_wrong.insert(text);
        }
        for w in &collected.built.warnings {
            let text = w.to_string();
            if !self.published.contains(&text) {
                tracing::info!(warning = %text, "config warning");
                self.events
                    .warning(
                        &config_object_ref(&w.object),
                        CONFIG_WARNING,
                        "LoadConfig",
                        text.clone(),
                    )
                    .await;
            }
            now_wrong.insert(text);
        }
        self.published = now_wrong;
        let stale = self.allocator.set_pools(&collected.built.config);
        if !stale.is_empty() {
            tracing::info!(count = stale.len(), "Services whose address left its pool will move");
        }
    }

    /// The pools' usage to their status objects and the metrics.
    async fn publish_usage(&mut self) {
        let usage = self.allocator.usage();
        self.pool_gauges.set(&usage);
        self.pool_status.publish(&usage).await;
    }

    /// Brings one Service's allocation and status in line with the cache.
    pub async fn reconcile(&mut self, key: &ServiceKey) {
        let started = std::time::Instant::now();
        self.reconcile_one(key).await;
        self.metrics.reconciled(started.elapsed());
    }

    async fn reconcile_one(&mut self, key: &ServiceKey) {
        let reference = ObjectRef::<Service>::new(&key.name).within(&key.namespace);
        let Some(svc) = self.services.get(&reference) else {
            if let Some(a) = self.allocator.release(key) {
                tracing::info!(service = %key, addresses = %join(&a.addresses), "released (Service deleted)");
            }
            self.held.remove(key);
            self.failures.remove(key);
            return;
        };
        if svc.metadata.deletion_timestamp.is_some() {
            self.allocator.release(key);
            self.held.remove(key);
            return;
        }
        let outcome = if self.class.manages(&svc) {
            let labels = self.namespace_labels(&key.namespace);
            match request(&svc, &labels) {
                Err(e) => {
                    self.allocator.release(key);
                    self.held.remove(key);
                    Outcome::Failed { reason: e.reason(), message: e.to_string() }
                }
                Ok(req) => match self.allocator.assign(&req) {
                    Ok(a) => {
                        self.held.insert(key.clone());
                        Outcome::Assigned(a)
                    }
                    Err(e) => {
                        self.held.remove(key);
                        Outcome::Failed { reason: e.reason(), message: e.to_string() }
                    }
                },
            }
        } else {
            let had = self.allocator.release(key).is_some();
            self.held.remove(key);
            if !had && our_condition(&svc).is_none() {
                return;
            }
            Outcome::Cleared
        };
        let Some(patch) = status_patch(&svc, &outcome, Timestamp::now()) else {
            self.failures.remove(key);
            return;
        };
        let api = Api::<Service>::namespaced(self.client.clone(), &key.namespace);
        if let Err(e) =
            api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await
        {
            tracing::warn!(service = %key, error = %e, "writing the Service status failed; will retry");
            self.retry(key.clone());
            return;
        }
        self.failures.remove(key);
        let before = status_addresses(&svc);
        let on = svc.object_ref(&());
        match &outcome {
            Outcome::Assigned(a) if a.addresses != before => {
                let note = format!("Assigned IP [{}] from pool {}", join(&a.addresses), a.pool);
                tracing::info!(service = %key, "{note}");
                self.events.normal(&on, IP_ALLOCATED, "Allocate", note).await;
            }
            Outcome::Assigned(_) => {}
            Outcome::Failed { reason, message } => {
                tracing::info!(service = %key, reason, message, "no address");
                self.metrics.allocation_failed();
                let note = format!("{reason}: {message}");
                self.events.warning(&on, ALLOCATION_FAILED, "Allocate", note).await;
                if !before.is_empty() {
                    let note = format!("cleared [{}]: {reason}", join(&before));
                    self.events.normal(&on, CLEAR_ASSIGNMENT, "Release", note).await;
                }
            }
            Outcome::Cleared => {
                let note = format!(
                    "cleared [{}]: no longer a LoadBalancer Service of this controller",
                    join(&before)
                );
                self.events.normal(&on, CLEAR_ASSIGNMENT, "Release", note).await;
            }
        }
    }

    /// Sends `key` to the loop again after a delay that doubles per consecutive failure.
    fn retry(&mut self, key: ServiceKey) {
        let n = self.failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        let delay = Duration::from_millis(100u64.saturating_mul(1 << (*n).min(9))).min(MAX_RETRY);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(Trigger::Service(key));
        });
    }
}
