//! `k8s-adapter`: one binary for the controller, the speaker, and two offline helpers
//! (`crds` prints our CustomResourceDefinitions, `migrate` converts MetalLB's legacy
//! ConfigMap into our CRDs).

// No `unwrap` or `expect` outside tests (clippy runs with `-D warnings`; `unwrap_used` is set
// for the workspace, `expect_used` here; clippy.toml lets tests use both).
#![warn(clippy::expect_used)]

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use k8s_adapter::allocator::ClassPolicy;
use k8s_adapter::config::legacy::{self, LegacyConfig};
use k8s_adapter::config::{build, crd};
use k8s_adapter::speaker::runtime::SpeakerOptions;
use k8s_adapter::watch::LegacySource;
use k8s_adapter::{controller, speaker};

#[derive(Debug, Parser)]
#[command(name = "k8s-adapter", version, about = "ironlb's Kubernetes LoadBalancer adapter")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Flags both long-running commands share.
#[derive(Debug, clap::Args)]
struct Common {
    /// Namespace of the ironlb.io config objects (and of the controller's Lease).
    #[arg(long, env = "POD_NAMESPACE", default_value = "ironlb-system")]
    namespace: String,
    /// Also read a MetalLB legacy ConfigMap, as NAMESPACE/NAME (e.g. metallb-system/config).
    #[arg(long)]
    legacy_config_map: Option<String>,
    /// Data key of the legacy ConfigMap's document.
    #[arg(long, default_value = legacy::DEFAULT_KEY)]
    legacy_key: String,
    /// The spec.loadBalancerClass we serve.
    #[arg(long, default_value = k8s_adapter::allocator::request::DEFAULT_CLASS)]
    load_balancer_class: String,
    /// Do not serve Services without a loadBalancerClass.
    #[arg(long)]
    only_with_class: bool,
    /// Log filter (RUST_LOG syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
    /// Where to serve /metrics (OpenMetrics), /healthz and /readyz (MetalLB's port).
    #[arg(long, default_value = k8s_adapter::metrics::DEFAULT_ADDRESS)]
    metrics_address: std::net::SocketAddr,
}

/// Binds the metrics listener (failing the start if it cannot) and serves it.
async fn serve_metrics(
    address: std::net::SocketAddr,
    exposition: std::sync::Arc<dyn k8s_adapter::metrics::Exposition>,
) -> anyhow::Result<()> {
    use k8s_adapter::metrics::http;
    let listener = http::bind(address).await?;
    tracing::info!(%address, "serving /metrics, /healthz and /readyz");
    tokio::spawn(http::serve(listener, exposition));
    Ok(())
}

impl Common {
    fn legacy(&self) -> anyhow::Result<Option<LegacySource>> {
        let Some(text) = &self.legacy_config_map else { return Ok(None) };
        let (namespace, name) = text
            .split_once('/')
            .with_context(|| format!("--legacy-config-map {text:?}: expected NAMESPACE/NAME"))?;
        Ok(Some(LegacySource {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            key: self.legacy_key.clone(),
        }))
    }

    fn class(&self) -> ClassPolicy {
        ClassPolicy { class: self.load_balancer_class.clone(), classless: !self.only_with_class }
    }
}

/// The speaker's layer2 election knobs (trade-offs: README, "Layer2").
#[derive(Debug, clap::Args)]
struct Layer2Flags {
    /// Interfaces to answer ARP/NDP and send failover heartbeats on, comma-separated
    /// (an L2Advertisement's `interfaces` still narrow its addresses). Default: the
    /// interface holding this node's InternalIP.
    #[arg(long, value_delimiter = ',')]
    layer2_interfaces: Vec<String>,
    /// Heartbeat IPv4 link-local multicast group and UDP port (the same on every node).
    #[arg(long, default_value_t = k8s_adapter::speaker::layer2::heartbeat::DEFAULT_GROUP)]
    layer2_heartbeat_group: std::net::SocketAddrV4,
    /// Heartbeat IPv6 link-local multicast group and UDP port, `[ff02::...]:port` (the
    /// same on every node; heartbeats go to both groups).
    #[arg(long, default_value_t = k8s_adapter::speaker::layer2::heartbeat::DEFAULT_GROUP6)]
    layer2_heartbeat_group6: std::net::SocketAddrV6,
    /// Milliseconds between heartbeats.
    #[arg(long, default_value_t = 200)]
    layer2_heartbeat_ms: u64,
    /// Milliseconds of silence after which a peer is taken for dead (crash failover time).
    #[arg(long, default_value_t = 600)]
    layer2_dead_ms: u64,
    /// Milliseconds a peer taken for dead stays out after it is heard again.
    #[arg(long, default_value_t = 2000)]
    layer2_hold_down_ms: u64,
    /// Seconds a speaker Lease lives without renewal.
    #[arg(long, default_value_t = 15)]
    lease_duration_seconds: u64,
    /// Seconds between speaker Lease renewals (API writes per node: 1 / this).
    #[arg(long, default_value_t = 5)]
    lease_renew_seconds: u64,
    /// Directory of the heartbeat authentication keys (a Secret mounted as a volume): file
    /// `current` signs, `previous` is accepted too (rotation). No `current`: heartbeats
    /// are not authenticated. Read at start.
    #[arg(long)]
    layer2_heartbeat_key_dir: Option<std::path::PathBuf>,
}

impl Layer2Flags {
    fn options(&self) -> anyhow::Result<k8s_adapter::speaker::layer2::Layer2Options> {
        use k8s_adapter::election::failover::FailoverTiming;
        use k8s_adapter::election::membership::LeaseTiming;
        let failover = FailoverTiming {
            heartbeat_interval: Duration::from_millis(self.layer2_heartbeat_ms),
            dead_interval: Duration::from_millis(self.layer2_dead_ms),
            hold_down: Duration::from_millis(self.layer2_hold_down_ms),
        };
        failover.validate().context("layer2 heartbeat timing")?;
        let lease = LeaseTiming {
            duration: Duration::from_secs(self.lease_duration_seconds),
            renew_every: Duration::from_secs(self.lease_renew_seconds),
        };
        lease.validate().context("speaker Lease timing")?;
        Ok(k8s_adapter::speaker::layer2::Layer2Options {
            interfaces: self.layer2_interfaces.clone(),
            groups: k8s_adapter::speaker::layer2::heartbeat::Groups {
                v4: self.layer2_heartbeat_group,
                v6: self.layer2_heartbeat_group6,
            },
            failover,
            lease,
            keys: match &self.layer2_heartbeat_key_dir {
                Some(dir) => k8s_adapter::election::auth::HeartbeatKeys::from_dir(dir)
                    .context("layer2 heartbeat keys")?,
                None => Default::default(),
            },
        })
    }
}

/// The validating admission webhook (README, "Admission webhook").
#[derive(Debug, clap::Args)]
struct WebhookFlags {
    /// Serve the validating admission webhook (HTTPS, POST /validate) on this address
    /// (the manifests give 0.0.0.0:9443). Absent: no webhook.
    #[arg(long)]
    webhook_address: Option<std::net::SocketAddr>,
    /// The webhook's Service; its certificate names <service>.<namespace>.svc.
    #[arg(long, default_value = controller::webhook::DEFAULT_SERVICE)]
    webhook_service: String,
    /// The Secret holding the webhook's CA and certificate (created if missing).
    #[arg(long, default_value = controller::webhook::DEFAULT_SECRET)]
    webhook_secret: String,
    /// The ValidatingWebhookConfiguration whose caBundle is kept up to date.
    #[arg(long, default_value = controller::webhook::DEFAULT_CONFIGURATION)]
    webhook_configuration: String,
    /// Set this failurePolicy (Fail or Ignore) on every webhook of the configuration.
    /// Absent: the manifest's stays (Fail).
    #[arg(long, value_parser = ["Fail", "Ignore"])]
    webhook_failure_policy: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Allocate LoadBalancer addresses and write Service status (one active replica).
    Controller {
        #[command(flatten)]
        common: Common,
        /// Our identity in the leader Lease.
        #[arg(long, env = "POD_NAME")]
        identity: String,
        /// Name of the leader Lease.
        #[arg(long, default_value = "ironlb-controller")]
        lease_name: String,
        /// Lease duration, seconds.
        #[arg(long, default_value_t = 15)]
        lease_seconds: u64,
        #[command(flatten)]
        webhook: WebhookFlags,
    },
    /// Announce this node's Service addresses through the local bgpd (one per node).
    Speaker {
        #[command(flatten)]
        common: Common,
        /// This node's name (downward API spec.nodeName).
        #[arg(long, env = "NODE_NAME")]
        node_name: String,
        /// bgpd's gRPC API: HOST:PORT, http://HOST:PORT or unix:/PATH.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bgpd_api: String,
        /// Seconds bgpd keeps this speaker's paths after its session lapses.
        #[arg(long, default_value_t = 120)]
        grace_seconds: u64,
        /// Seconds a node leaving service (cordoned, or labelled
        /// node.kubernetes.io/exclude-from-external-load-balancers) keeps its BGP routes,
        /// sent with GRACEFUL_SHUTDOWN (RFC 8326), before withdrawing them; 0: at once.
        #[arg(long, default_value_t = 30)]
        drain_seconds: u64,
        #[command(flatten)]
        layer2: Layer2Flags,
    },
    /// Print the ironlb.io CustomResourceDefinitions as multi-document YAML.
    Crds,
    /// Convert a MetalLB legacy ConfigMap (or its bare `config` document) into ironlb CRDs.
    Migrate {
        /// File to read; `-` or absent reads standard input.
        #[arg(long, short)]
        file: Option<PathBuf>,
        /// ConfigMap data key holding the document.
        #[arg(long, default_value = legacy::DEFAULT_KEY)]
        key: String,
        /// Namespace of the objects printed.
        #[arg(long, default_value = "ironlb-system")]
        namespace: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Controller { common, identity, lease_name, lease_seconds, webhook } => {
            controller(common, identity, (lease_name, lease_seconds), webhook)
        }
        Command::Speaker { common, node_name, bgpd_api, grace_seconds, drain_seconds, layer2 } => {
            let times = (Duration::from_secs(grace_seconds), Duration::from_secs(drain_seconds));
            speaker(common, node_name, bgpd_api, times, layer2)
        }
        Command::Crds => crds(),
        Command::Migrate { file, key, namespace } => migrate(file, &key, &namespace),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("k8s-adapter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(k8s_adapter::logging::LogOutput)
        .init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")
}

/// Completes on SIGTERM (what Kubernetes sends a pod it stops) or SIGINT.
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch for SIGTERM; only SIGINT stops us");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("terminating");
}

/// Runs until the leader Lease is lost (then exits 1 so that Kubernetes restarts the pod),
/// or until SIGTERM, which releases the Lease first so a standby takes over at once.
fn controller(
    common: Common,
    identity: String,
    (lease_name, lease_seconds): (String, u64),
    webhook: WebhookFlags,
) -> anyhow::Result<ExitCode> {
    init_logging(&common.log);
    let mut options = controller::Options::new(&common.namespace, identity);
    options.legacy = common.legacy()?;
    options.class = common.class();
    options.lease_name = lease_name;
    options.lease_duration = Duration::from_secs(lease_seconds);
    let metrics = std::sync::Arc::clone(&options.metrics);
    let mut webhook_options = controller::webhook::Options::new(&common.namespace);
    webhook_options.legacy.clone_from(&options.legacy);
    webhook_options.target.service = webhook.webhook_service;
    webhook_options.target.secret = webhook.webhook_secret;
    webhook_options.target.configuration = webhook.webhook_configuration;
    webhook_options.target.failure_policy = webhook.webhook_failure_policy;
    runtime()?.block_on(async {
        serve_metrics(common.metrics_address, metrics).await?;
        let client = kube::Client::try_default().await.context("connecting to Kubernetes")?;
        // Served on every replica, leader or not; a listener that cannot be bound fails
        // the start.
        let _webhook = match webhook.webhook_address {
            Some(address) => {
                let listener = controller::webhook::bind(address).await?;
                let task = controller::webhook::run(client.clone(), listener, webhook_options);
                Some(AbortOnDrop(tokio::spawn(task)))
            }
            None => None,
        };
        controller::run_until(client, options, terminated()).await.context("controller")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn speaker(
    common: Common,
    node_name: String,
    bgpd_api: String,
    (grace, drain): (Duration, Duration),
    layer2: Layer2Flags,
) -> anyhow::Result<ExitCode> {
    init_logging(&common.log);
    let layer2 = layer2.options()?;
    let options = SpeakerOptions {
        node_name,
        namespace: common.namespace.clone(),
        legacy: common.legacy()?,
        class: common.class(),
        bgpd: bgpd_api,
        grace,
        keepalive: k8s_adapter::speaker::client::KEEPALIVE,
        layer2,
        drain,
    };
    let metrics = std::sync::Arc::new(k8s_adapter::metrics::SpeakerMetrics::default());
    runtime()?.block_on(async {
        serve_metrics(common.metrics_address, metrics.clone()).await?;
        let client = kube::Client::try_default().await.context("connecting to Kubernetes")?;
        speaker::runtime::run_with_metrics(client, options, metrics).await.context("speaker")
    })?;
    Ok(ExitCode::SUCCESS)
}

fn crds() -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    for definition in crd::definitions() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&definition).context("serializing a CRD")?);
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Prints every object converted; reports conversion and validation problems on standard
/// error and exits 1 when there are any, so scripts notice.
fn migrate(file: Option<PathBuf>, key: &str, namespace: &str) -> anyhow::Result<ExitCode> {
    let text = match file.as_deref() {
        None => read_stdin()?,
        Some(p) if p.as_os_str() == "-" => read_stdin()?,
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
    };
    let (config, source) = LegacyConfig::parse_file(&text, key)?;
    let (resources, mut errors) = config.to_resources(namespace, &source);
    let built = build(&resources);
    errors.extend(built.errors);
    print!("{}", legacy::to_yaml(&resources).context("serializing the objects")?);
    for w in &built.warnings {
        eprintln!("warning: {w}");
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(if errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
    Ok(text)
}
