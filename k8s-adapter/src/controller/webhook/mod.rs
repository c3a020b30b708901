//! The validating admission webhook (`--webhook-address`): every ironlb config kind is
//! reviewed at create and update by [`crate::config::admission::respond`], so an object
//! the controller would leave out (the checks of `validate.rs`, overlapping pools, a
//! BGPAdvertisement naming a missing Community, an unknown BFDProfile) is refused with the
//! message its Warning Event would carry, as MetalLB's webhook does.
//!
//! Runs on every controller replica, leader or not (the webhook Service selects them all),
//! so it keeps its own config caches ([`crate::watch::ConfigSources`], the same reflectors
//! the reconciler keeps, in a task of its own) instead of borrowing the leader's, which
//! exist only while leading. It answers only once they have their first lists.
//!
//! Certificates: [`bootstrap`] (a self-signed CA and serving certificate in a Secret, the CA
//! patched into the `ValidatingWebhookConfiguration`), checked again every
//! [`Options::check_every`]: a renewal made by any replica is picked up by all.
//! Failures of the API server are logged and retried at the next check; the listener keeps
//! serving with the certificate it has.

pub mod bootstrap;
pub mod cert;
pub mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kube::Client;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub use bootstrap::Target;

use crate::config::Resources;
use crate::watch::{ConfigSources, LegacySource};

/// Defaults of the flags.
pub const DEFAULT_SERVICE: &str = "ironlb-webhook-service";
pub const DEFAULT_SECRET: &str = "ironlb-webhook-cert";
pub const DEFAULT_CONFIGURATION: &str = "ironlb-validating-webhook";

/// How the webhook runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Secret, Service and configuration it keeps.
    pub target: Target,
    /// The MetalLB legacy ConfigMap, whose objects count as stored ones too.
    pub legacy: Option<LegacySource>,
    /// How often the Secret and the configuration are checked again.
    pub check_every: Duration,
}

impl Options {
    /// The defaults for `namespace`.
    pub fn new(namespace: &str) -> Self {
        Self {
            target: Target {
                namespace: namespace.to_owned(),
                service: DEFAULT_SERVICE.to_owned(),
                secret: DEFAULT_SECRET.to_owned(),
                configuration: DEFAULT_CONFIGURATION.to_owned(),
                failure_policy: None,
            },
            legacy: None,
            check_every: Duration::from_secs(3600),
        }
    }
}

/// The listener could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for the webhook on {address}: {source}")]
pub struct BindError {
    pub address: SocketAddr,
    pub source: std::io::Error,
}

/// Binds `address` (port 0: a free port; see the listener's local address).
pub async fn bind(address: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(address).await.map_err(|source| BindError { address, source })
}

/// The webhook's view of the config: its caches (behind a mutex only because collecting
/// the legacy ConfigMap remembers its last good parse; the lock is held for one read).
struct Caches {
    sources: Mutex<ConfigSources>,
    namespace: String,
}

impl server::Current for Caches {
    fn current(&self) -> Resources {
        match self.sources.lock() {
            Ok(mut sources) => sources.resources(),
            Err(poisoned) => poisoned.into_inner().resources(),
        }
    }

    fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// Makes sure of the certificate (retrying every few seconds until the API server lets
/// it), starts the config caches, serves `listener` once they are synced, and from then on
/// checks the certificate every [`Options::check_every`]. Runs until dropped.
pub async fn run(client: Client, listener: TcpListener, options: Options) {
    let target = &options.target;
    let bundle = loop {
        match bootstrap::ensure_secret(&client, target, SystemTime::now()).await {
            Ok(bundle) => match cert::server_config(&bundle) {
                Ok(config) => break (bundle, config),
                Err(error) => tracing::error!(%error, "the webhook certificate is unusable"),
            },
            Err(error) => tracing::warn!(%error, "webhook certificate; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    };
    let (mut bundle, config) = bundle;
    publish(&client, target, &bundle).await;
    let (tx, rx) = watch::channel(config);

    // The caches' change notices are not needed: each review reads the caches as they are.
    let (changes, mut notices) = mpsc::unbounded_channel();
    let sources =
        ConfigSources::spawn(&client, &target.namespace, options.legacy.clone(), &changes);
    tokio::spawn(async move { while notices.recv().await.is_some() {} });
    sources.ready().await;
    let caches = Caches { sources: Mutex::new(sources), namespace: target.namespace.clone() };
    tracing::info!(address = ?listener.local_addr().ok(), "serving the admission webhook");
    let serving = tokio::spawn(server::serve(listener, rx, Arc::new(caches)));
    let _abort = AbortOnDrop(serving);

    loop {
        tokio::time::sleep(options.check_every).await;
        match bootstrap::ensure_secret(&client, target, SystemTime::now()).await {
            Ok(fresh) if fresh != bundle => match cert::server_config(&fresh) {
                Ok(config) => {
                    tracing::info!("the webhook certificate changed; serving the new one");
                    bundle = fresh;
                    let _ = tx.send(config);
                }
                Err(error) => tracing::error!(%error, "the new webhook certificate is unusable"),
            },
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "checking the webhook certificate"),
        }
        publish(&client, target, &bundle).await;
    }
}

/// [`bootstrap::publish_ca`], with failures logged (retried at the next check).
async fn publish(client: &Client, target: &Target, bundle: &cert::Bundle) {
    if let Err(error) = bootstrap::publish_ca(client, target, bundle).await {
        tracing::warn!(%error, "cannot publish the webhook CA; retrying at the next check");
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
