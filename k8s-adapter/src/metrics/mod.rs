//! The adapter's operating surface (issue #13): Prometheus metrics in OpenMetrics text,
//! `/healthz` and `/readyz`, served on `--metrics-address` (default [`DEFAULT_ADDRESS`],
//! MetalLB's port) by [`http`].
//!
//! Names follow MetalLB's one to one where MetalLB has one (`metallb_` becomes `ironlb_`;
//! the README's metric table lists them), so a MetalLB dashboard or alert needs only the
//! prefix changed. Everything is an atomic (prometheus-client's counters and gauges) set
//! by the task that owns the state; a scrape reads them. No lock is taken on the speaker's
//! or controller's loop except the per-pool gauges' family map, touched once per batch.
//!
//! Readiness ([`Readiness`]): the speaker is ready when its caches synced and bgpd's
//! session is open; the controller when it follows the leader Lease, or leads it with its
//! caches synced.

pub mod http;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::allocator::PoolUsage;

/// MetalLB's metrics port.
pub const DEFAULT_ADDRESS: &str = "0.0.0.0:7472";

/// A pool's label (MetalLB's `pool`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub pool: String,
}

type IntGauge = Gauge<i64, AtomicI64>;

/// A peer node's label, for the layer2 heartbeat counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    pub node: String,
}

/// A BGP peer's label (MetalLB's `peer`: its address).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabels {
    pub peer: String,
}

/// The layer2 election's counts since the speaker started, kept by its sans-IO state
/// ([`crate::speaker::layer2`]) and copied into the metrics after each event. Per node
/// only for nodes the cluster has (a forged heartbeat's name counts under `unknown`), so
/// the label set is bounded by the Node count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer2Counters {
    /// Addresses this node started answering for.
    pub takeovers: u64,
    pub heartbeats_sent: u64,
    /// Heartbeats heard (authenticated when keys are set), by sender.
    pub heartbeats_received: BTreeMap<String, u64>,
    /// Times a peer went silent for a dead interval (its heartbeats missed), by peer.
    pub silences: BTreeMap<String, u64>,
}

/// Readiness conditions, each set by the task that knows it.
#[derive(Debug, Default)]
pub struct Readiness {
    caches_synced: AtomicBool,
    /// Speaker: bgpd's session open. Controller: following or leading the Lease.
    link: AtomicBool,
}

impl Readiness {
    pub fn set_caches_synced(&self, synced: bool) {
        self.caches_synced.store(synced, Ordering::Relaxed);
    }

    pub fn set_link(&self, up: bool) {
        self.link.store(up, Ordering::Relaxed);
    }

    pub fn caches_synced(&self) -> bool {
        self.caches_synced.load(Ordering::Relaxed)
    }

    pub fn link(&self) -> bool {
        self.link.load(Ordering::Relaxed)
    }
}

/// What [`http`] serves: a registry and a readiness test.
pub trait Exposition: Send + Sync + 'static {
    fn registry(&self) -> &Registry;
    fn ready(&self) -> bool;
}

/// The controller's metrics.
#[derive(Debug)]
pub struct ControllerMetrics {
    registry: Registry,
    in_use: Family<PoolLabels, IntGauge>,
    total: Family<PoolLabels, IntGauge>,
    reconciles: Counter,
    allocation_failures: Counter,
    reconcile_duration: Histogram,
    /// Set while this replica leads (then ready needs synced caches) or follows.
    leading: AtomicBool,
    pub readiness: Readiness,
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        let in_use = Family::<PoolLabels, IntGauge>::default();
        let total = Family::<PoolLabels, IntGauge>::default();
        let reconciles = Counter::default();
        let allocation_failures = Counter::default();
        // 0.5 ms to about 16 s.
        let reconcile_duration = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let mut registry = Registry::with_prefix("ironlb");
        registry.register(
            "log_lines_lost",
            "Log lines that could not be written (a full disk, a closed output)",
            crate::logging::lost_counter(),
        );
        registry.register(
            "allocator_addresses_in_use_total",
            "Addresses of the pool given to Services (MetalLB: metallb_allocator_addresses_in_use_total)",
            in_use.clone(),
        );
        registry.register(
            "allocator_addresses_total",
            "Addresses in the pool (MetalLB: metallb_allocator_addresses_total); saturates at 2^63-1",
            total.clone(),
        );
        registry.register(
            "controller_reconciles",
            "Service reconciles run by the leading controller",
            reconciles.clone(),
        );
        registry.register(
            "allocator_allocation_failures",
            "Reconciles of a Service that could give it no address",
            allocation_failures.clone(),
        );
        registry.register(
            "controller_reconcile_duration_seconds",
            "Time of one Service reconcile by the leading controller, its API writes included",
            reconcile_duration.clone(),
        );
        Self {
            registry,
            in_use,
            total,
            reconciles,
            allocation_failures,
            reconcile_duration,
            leading: AtomicBool::new(false),
            readiness: Readiness::default(),
        }
    }
}

impl ControllerMetrics {
    /// The pool gauges, for the one task that owns the allocator.
    pub fn pool_gauges(&self) -> PoolGauges {
        PoolGauges {
            in_use: self.in_use.clone(),
            total: self.total.clone(),
            known: std::collections::BTreeSet::new(),
        }
    }

    /// One reconcile done, in `took`.
    pub fn reconciled(&self, took: Duration) {
        self.reconciles.inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    pub fn allocation_failed(&self) {
        self.allocation_failures.inc();
    }

    /// Leading (`true`: ready once the caches synced) or following (`false`: ready) the
    /// Lease.
    pub fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Relaxed);
        self.readiness.set_link(true);
    }
}

impl Exposition for ControllerMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn ready(&self) -> bool {
        self.readiness.link()
            && (!self.leading.load(Ordering::Relaxed) || self.readiness.caches_synced())
    }
}

/// The per-pool gauges with the pools last set; owned by the controller's task.
#[derive(Debug)]
pub struct PoolGauges {
    in_use: Family<PoolLabels, IntGauge>,
    total: Family<PoolLabels, IntGauge>,
    known: std::collections::BTreeSet<String>,
}

impl PoolGauges {
    /// The pools' usage after a batch (both families summed); pools no longer configured
    /// disappear. Counts beyond `i64` (large IPv6 pools) saturate.
    pub fn set<'a>(&mut self, usage: impl IntoIterator<Item = (&'a String, &'a PoolUsage)>) {
        let count = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
        let mut seen = std::collections::BTreeSet::new();
        for (name, usage) in usage {
            let labels = PoolLabels { pool: name.clone() };
            let sum = |v: [u128; 2]| v[0].saturating_add(v[1]);
            self.in_use.get_or_create(&labels).set(count(sum(usage.assigned)));
            self.total.get_or_create(&labels).set(count(sum(usage.total)));
            seen.insert(name.clone());
        }
        for gone in self.known.difference(&seen) {
            let labels = PoolLabels { pool: gone.clone() };
            self.in_use.remove(&labels);
            self.total.remove(&labels);
        }
        self.known = seen;
    }
}

/// The speaker's metrics.
#[derive(Debug)]
pub struct SpeakerMetrics {
    registry: Registry,
    updates: Counter,
    update_errors: Counter,
    config_loaded: IntGauge,
    config_stale: IntGauge,
    layer2_won: IntGauge,
    layer2_takeovers: Counter,
    heartbeats_sent: Counter,
    heartbeats_received: Family<NodeLabels, Counter>,
    silences: Family<NodeLabels, Counter>,
    sessions: Family<PeerLabels, IntGauge>,
    pub readiness: Readiness,
}

impl Default for SpeakerMetrics {
    fn default() -> Self {
        let updates = Counter::default();
        let update_errors = Counter::default();
        let config_loaded = IntGauge::default();
        let config_stale = IntGauge::default();
        let layer2_won = IntGauge::default();
        let mut registry = Registry::with_prefix("ironlb");
        registry.register(
            "log_lines_lost",
            "Log lines that could not be written (a full disk, a closed output)",
            crate::logging::lost_counter(),
        );
        registry.register(
            "k8s_client_updates",
            "Kubernetes object updates processed (MetalLB: metallb_k8s_client_updates_total)",
            updates.clone(),
        );
        registry.register(
            "k8s_client_update_errors",
            "Kubernetes object updates that failed to process (MetalLB: metallb_k8s_client_update_errors_total)",
            update_errors.clone(),
        );
        registry.register(
            "k8s_client_config_loaded_bool",
            "1 once a config was loaded (MetalLB: metallb_k8s_client_config_loaded_bool)",
            config_loaded.clone(),
        );
        registry.register(
            "k8s_client_config_stale_bool",
            "1 while the last config change could not be read and the last good one runs (MetalLB: metallb_k8s_client_config_stale_bool)",
            config_stale.clone(),
        );
        registry.register(
            "layer2_addresses_won",
            "Layer2 addresses this node won the election for and answers",
            layer2_won.clone(),
        );
        let layer2_takeovers = Counter::default();
        registry.register(
            "layer2_takeovers",
            "Layer2 addresses this node started answering for (elections won, failovers taken)",
            layer2_takeovers.clone(),
        );
        let heartbeats_sent = Counter::default();
        registry.register(
            "layer2_heartbeats_sent",
            "Layer2 election heartbeats this node sent (each on every layer2 interface)",
            heartbeats_sent.clone(),
        );
        let heartbeats_received = Family::<NodeLabels, Counter>::default();
        registry.register(
            "layer2_heartbeats_received",
            "Layer2 election heartbeats heard, by sender node (unknown: not a Node of the cluster)",
            heartbeats_received.clone(),
        );
        let silences = Family::<NodeLabels, Counter>::default();
        registry.register(
            "layer2_heartbeats_missed",
            "Times a peer node's heartbeats stopped for a dead interval (it was suspected), by node",
            silences.clone(),
        );
        let sessions = Family::<PeerLabels, IntGauge>::default();
        registry.register(
            "speaker_bgp_session_up",
            "1 while bgpd's BGP session with the peer is Established, as the speaker sees it on bgpd's Watch (bgpd's own ironlb_bgp_session_up needs its [metrics] listener)",
            sessions.clone(),
        );
        Self {
            registry,
            updates,
            update_errors,
            config_loaded,
            config_stale,
            layer2_won,
            layer2_takeovers,
            heartbeats_sent,
            heartbeats_received,
            silences,
            sessions,
            readiness: Readiness::default(),
        }
    }
}

impl SpeakerMetrics {
    /// `updates` object changes processed in one batch.
    pub fn updates(&self, updates: u64) {
        self.updates.inc_by(updates);
    }

    pub fn update_error(&self) {
        self.update_errors.inc();
    }

    /// A config was loaded; `stale`: part of it could not be read, the last good part runs.
    pub fn config_loaded(&self, stale: bool) {
        self.config_loaded.set(1);
        self.config_stale.set(i64::from(stale));
    }

    pub fn layer2_won(&self, addresses: usize) {
        self.layer2_won.set(i64::try_from(addresses).unwrap_or(i64::MAX));
    }

    /// The layer2 election's counts, as its state keeps them (absolute values).
    pub fn layer2_counters(&self, counters: &Layer2Counters) {
        self.layer2_takeovers.inner().store(counters.takeovers, Ordering::Relaxed);
        self.heartbeats_sent.inner().store(counters.heartbeats_sent, Ordering::Relaxed);
        for (node, count) in &counters.heartbeats_received {
            let labels = NodeLabels { node: node.clone() };
            self.heartbeats_received
                .get_or_create(&labels)
                .inner()
                .store(*count, Ordering::Relaxed);
        }
        for (node, count) in &counters.silences {
            let labels = NodeLabels { node: node.clone() };
            self.silences.get_or_create(&labels).inner().store(*count, Ordering::Relaxed);
        }
    }

    /// The per-peer session gauges, for the one task that reads bgpd's Watch.
    pub fn session_gauges(&self) -> SessionGauges {
        SessionGauges { sessions: self.sessions.clone(), known: BTreeSet::new() }
    }
}

/// The per-peer session gauges with the peers last set; owned by the task that reads
/// bgpd's Watch.
#[derive(Debug)]
pub struct SessionGauges {
    sessions: Family<PeerLabels, IntGauge>,
    known: BTreeSet<String>,
}

impl SessionGauges {
    /// bgpd's sessions as its Watch reports them: peer address, Established or not. Peers
    /// bgpd no longer reports lose their series.
    pub fn set<'a>(&mut self, sessions: impl IntoIterator<Item = (&'a String, bool)>) {
        let mut now = BTreeSet::new();
        for (peer, up) in sessions {
            self.sessions.get_or_create(&PeerLabels { peer: peer.clone() }).set(i64::from(up));
            now.insert(peer.clone());
        }
        for gone in self.known.difference(&now) {
            self.sessions.remove(&PeerLabels { peer: gone.clone() });
        }
        self.known = now;
    }
}

impl Exposition for SpeakerMetrics {
    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn ready(&self) -> bool {
        self.readiness.caches_synced() && self.readiness.link()
    }
}
