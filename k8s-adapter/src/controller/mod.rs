//! The controller: gives Services of type LoadBalancer their addresses and writes them into
//! `status.loadBalancer.ingress`.
//!
//! One replica is active at a time: [`run`] first takes a Lease (`coordination.k8s.io/v1`,
//! through kube-lease-manager) and only then starts watching. Losing the Lease ends [`run`]
//! with [`ControllerError::LostLease`]; the binary exits and Kubernetes restarts the pod,
//! which then waits for the Lease again. Restarting is the simplest way to guarantee that a
//! deposed leader holds no stale allocator state.
//!
//! State: the allocator is rebuilt from the Services' statuses at start
//! ([`reconcile::Reconciler::start`]) and nothing else is persisted. No finalizer is put on
//! Services: an address is freed when the Service's deletion reaches the watch, and if
//! that happens while no controller runs, the next one simply does not find the Service
//! when it rebuilds its state, so the address is free anyway. A finalizer would only add
//! a write per Service and block deletions while the controller is down.
//!
//! The loop ([`reconcile::Reconciler::handle`]) takes batches of triggers from the watches
//! ([`crate::watch`]) and reconciles each Service named in a batch once; a config change
//! or a relist reconciles every Service.

pub mod pools;
pub mod reconcile;
pub mod status;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::ControllerMetrics;

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use thiserror::Error;

use crate::allocator::ClassPolicy;
use crate::watch::LegacySource;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Namespace of our CRDs and of the leader Lease.
    pub namespace: String,
    /// The MetalLB legacy ConfigMap to read as well, if any.
    pub legacy: Option<LegacySource>,
    /// Which Services are ours.
    pub class: ClassPolicy,
    /// Name of the leader election Lease.
    pub lease_name: String,
    /// Our identity in the Lease (the pod name).
    pub identity: String,
    /// Lease duration; a new leader takes over at most this long after the old one died.
    pub lease_duration: Duration,
    /// Metrics and readiness, served by [`crate::metrics::http`].
    pub metrics: Arc<ControllerMetrics>,
}

impl Options {
    /// Defaults for `namespace` and `identity`.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            legacy: None,
            class: ClassPolicy::default(),
            lease_name: "ironlb-controller".to_owned(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            metrics: Arc::default(),
        }
    }
}

/// Why the controller stopped.
#[derive(Debug, Error)]
pub enum ControllerError {
    #[error("leader election: {0}")]
    Lease(#[from] LeaseManagerError),
    #[error("lost the leader Lease {0:?}")]
    LostLease(String),
    #[error("every watch stopped")]
    WatchesEnded,
}

/// Waits for the leader Lease, then runs the controller until the Lease is lost.
pub async fn run(client: Client, options: Options) -> Result<(), ControllerError> {
    run_until(client, options, std::future::pending()).await
}

/// [`run`] until `shutdown` completes; then the Lease is released (its holder cleared)
/// and `Ok` is returned.
pub async fn run_until(
    client: Client,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ControllerError> {
    let duration = options.lease_duration.as_secs().max(2);
    let manager = LeaseManagerBuilder::new(client.clone(), &options.lease_name)
        .with_namespace(&options.namespace)
        .with_identity(&options.identity)
        .with_duration(duration)
        .with_grace((duration / 5).max(1))
        .build()
        .await?;
    let (mut leader, task) = manager.watch().await;
    let lease_name = options.lease_name.clone();
    let metrics = Arc::clone(&options.metrics);
    // Following the Lease from here on (ready); leading sets it again.
    metrics.set_leading(*leader.borrow());
    let mut shutdown = std::pin::pin!(shutdown);
    let led = async {
        while !*leader.borrow_and_update() {
            if leader.changed().await.is_err() {
                return Err(ControllerError::LostLease(lease_name.clone()));
            }
        }
        tracing::info!(identity = %options.identity, "leading; starting the controller");
        metrics.set_leading(true);
        tokio::select! {
            result = run_leader(client, options) => result,
            () = async {
                loop {
                    if leader.changed().await.is_err() || !*leader.borrow_and_update() {
                        return;
                    }
                }
            } => Err(ControllerError::LostLease(lease_name.clone())),
        }
    };
    let outcome = tokio::select! {
        result = led => Some(result),
        () = &mut shutdown => None,
    };
    if let Some(result) = outcome {
        return result;
    }
    // Dropping the last receiver makes the manager's task release the Lease and end.
    drop(leader);
    match task.await {
        Ok(Ok(_)) => {
            tracing::info!(lease = %lease_name, "shut down; Lease released");
            Ok(())
        }
        Ok(Err(e)) => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "the Lease task ended abnormally");
            Ok(())
        }
    }
}

/// The controller loop without leader election (for tests and single-replica setups).
pub async fn run_leader(client: Client, options: Options) -> Result<(), ControllerError> {
    let (mut reconciler, mut rx) = reconcile::Reconciler::spawn(client, &options);
    reconciler.start().await;
    options.metrics.readiness.set_caches_synced(true);
    while let Some(batch) = crate::watch::drain(&mut rx).await {
        reconciler.handle(batch).await;
    }
    Err(ControllerError::WatchesEnded)
}
