//! The running daemon: listening sockets, signals, and the instance task that
//! owns all control state.
//!
//! ```text
//!  listener tasks ──Accepted──┐
//!  signal task ──Shutdown/Reload──► instance task (owns RIB, peers, config)
//!  session tasks ──SessionReport──┘       │ SessionCommand
//!         ▲────────────────────────────────┘
//! ```
//!
//! The layer2 task (`crate::layer2::task`) owns the ARP/NDP responder; the
//! API's `Layer2Service` and the instance (on reload) send it messages.
//!
//! The metrics listener (`[metrics]`, `crate::metrics::http`) asks the
//! instance for a snapshot per scrape, the same way.
//!
//! The gRPC API task sends `InstanceEvent::Api` requests, each with a oneshot
//! for the answer; it never touches the RIB itself.
//!
//! Every task other than the instance only does I/O and sends messages; the
//! instance is the single owner of shared state, so no lock is needed anywhere.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::api::layer2::Layer2Api;
use crate::api::service::Service;
use crate::api::transport::{self, ConnectionLimits, ListenAddress, ServeError};
use crate::config::{ApiListen, Config};
use crate::instance::devices::accept_loop;
use crate::instance::{Instance, InstanceEvent};
use crate::layer2;
use crate::metrics::{ApiMetrics, Endpoint, MetricsError};
use crate::peer::socket::{self, SocketError};

/// Queue depth between the I/O tasks and the instance (each of its two
/// queues: sessions' reports, everything else). Bounded, so a flood of
/// UPDATEs from one peer slows its reader (TCP pushes back on the peer) instead
/// of growing memory without limit.
const EVENT_QUEUE: usize = 1024;
/// The sessions' queue, in reports: with up to
/// [`MAX_UPDATES_PER_REPORT`](crate::peer::MAX_UPDATES_PER_REPORT) UPDATEs a
/// report, at most [`EVENT_QUEUE`] UPDATEs wait decoded, as when each came
/// alone (a deeper queue let the sessions decode a whole table ahead of the
/// RIB: twice the memory, and their CPU taken from the RIB's).
const SESSION_QUEUE: usize = EVENT_QUEUE / crate::peer::MAX_UPDATES_PER_REPORT;
/// How long shutdown waits for in-flight API calls.
const API_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Reasons the daemon cannot start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen for BGP connections: {0}")]
    Listen(#[source] SocketError),
    #[error("cannot start the gRPC API: {0}")]
    Api(#[source] ServeError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// Runs `bgpd` until SIGTERM or SIGINT.
pub async fn run(config: Config, config_path: PathBuf) -> Result<(), DaemonError> {
    let (events, receiver) = mpsc::channel(EVENT_QUEUE);
    let (sessions, reports) = mpsc::channel(SESSION_QUEUE);
    // First of all: a SIGHUP's default action ends the process, so a client
    // that sees the API answer and sends SIGHUP must find the handler in
    // place. Signals that arrive before the instance runs wait in its queue.
    spawn_signal_task(events.clone()).map_err(DaemonError::Signals)?;
    let fd_limit = raise_fd_limit();

    let mut listeners = Vec::new();
    if config.global.listen_port != 0 {
        for address in &config.global.listen_addresses {
            let address = SocketAddr::new(*address, config.global.listen_port);
            let listener = Arc::new(socket::listen(address).map_err(DaemonError::Listen)?);
            tracing::info!(%address, "listening for BGP connections");
            tokio::spawn(accept_loop(Arc::clone(&listener), None, events.clone()));
            listeners.push(listener);
        }
    }

    // Before the API and the instance: /healthz answers and /readyz says 503
    // while the rest starts.
    let layer2 = layer2::task::spawn(config.layer2.clone(), config.layer2_gratuitous);
    let api_metrics = ApiMetrics::default();
    let endpoint = Endpoint::new(events.clone(), api_metrics.clone()).with_layer2(layer2.clone());
    let metrics = match &config.metrics {
        Some(metrics) => {
            let listener = crate::metrics::http::bind(metrics.listen).await?;
            let bound = listener.local_addr().unwrap_or(metrics.listen);
            tracing::info!(address = %bound, "metrics, /healthz and /readyz listening");
            Some(tokio::spawn(crate::metrics::http::serve(listener, endpoint.clone())))
        }
        None => None,
    };

    let address = match &config.api.listen {
        ApiListen::Tcp(socket) => ListenAddress::Tcp(*socket),
        ApiListen::Unix(path) => ListenAddress::Unix(path.clone()),
    };
    let api = transport::bind(&address).await.map_err(DaemonError::Api)?;
    let bound = api.local_address().unwrap_or(address);
    let limits = config.api.limits;
    let connections = ConnectionLimits {
        max_connections: limits.max_connections as usize,
        idle_timeout: limits.idle_timeout,
    }
    .within_fd_limit(fd_limit);
    if connections.max_connections < limits.max_connections as usize {
        tracing::warn!(
            configured = limits.max_connections,
            effective = connections.max_connections,
            fd_limit,
            reserve = transport::accept::FD_RESERVE,
            "[api] max_connections lowered to keep descriptors for BGP"
        );
    }
    let service = Service::with_limits(events.clone(), vec![bound.to_string()], limits);
    let max_message = limits.max_message_bytes as usize;
    let (routes, health) =
        transport::routes_limited(service, max_message).await.map_err(DaemonError::Api)?;
    let routes = transport::add_layer2(routes, &health, Layer2Api::new(layer2.clone())).await;
    let routes = transport::measured(routes, api_metrics);
    let (stop_api, api_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        if let Err(error) = transport::serve_limited(api, routes, connections, async {
            let _ = api_stopped.await;
        })
        .await
        {
            tracing::error!(%error, "the gRPC API stopped");
        }
    });
    tracing::info!(address = %bound, "gRPC API listening");
    endpoint.api_serving();

    let instance =
        Instance::new(config, config_path, listeners, events, sessions).with_layer2(layer2);
    instance.run(receiver, reports).await;
    let _ = stop_api.send(());
    // In-flight calls may finish, but an idle client must not hold shutdown.
    let _ = tokio::time::timeout(API_SHUTDOWN_GRACE, server).await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    Ok(())
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft
/// limit in force (1024 if it cannot be read). API connections are capped
/// below it (`transport::accept::FD_RESERVE`), so API clients can never take
/// the descriptors BGP sessions need.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given; no other memory.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        let error = std::io::Error::last_os_error();
        tracing::warn!(%error, "cannot read the open-file limit; assuming 1024");
        return 1024;
    }
    let before = limit.rlim_cur;
    if before >= limit.rlim_max {
        tracing::info!(limit = before, "open-file limit already at its hard limit");
        return before;
    }
    let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
    // SAFETY: setrlimit reads the struct it is given; no other memory.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        tracing::info!(from = before, to = raised.rlim_cur, "raised the open-file limit");
        raised.rlim_cur
    } else {
        let error = std::io::Error::last_os_error();
        tracing::warn!(%error, limit = before, "cannot raise the open-file limit");
        before
    }
}

fn spawn_signal_task(events: mpsc::Sender<InstanceEvent>) -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = terminate.recv() => InstanceEvent::Shutdown { signal: "SIGTERM" },
                _ = interrupt.recv() => InstanceEvent::Shutdown { signal: "SIGINT" },
                _ = hangup.recv() => InstanceEvent::Reload,
            };
            if events.send(event).await.is_err() {
                return;
            }
        }
    });
    Ok(())
}
