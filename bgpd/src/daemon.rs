//! The running daemon: listening sockets, signals, and the instance task that
//! owns all control state.
//!
//! ```text
//!  listener tasks ──Accepted──┐
//!  signal task ──Shutdown/Reload──► instance task (owns RIB, peers, config)
//!  session tasks ──SessionEvent──┘        │ SessionCommand
//!         ▲────────────────────────────────┘
//! ```
//!
//! Every task other than the instance only does I/O and sends messages; the
//! instance is the single owner of shared state, so no lock is needed anywhere.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::instance::{Instance, InstanceEvent};
use crate::peer::socket::{self, SocketError};

/// Queue depth between the I/O tasks and the instance. Bounded, so a flood of
/// UPDATEs from one peer slows its reader (TCP pushes back on the peer) instead
/// of growing memory without limit.
const EVENT_QUEUE: usize = 1024;

/// Reasons the daemon cannot start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen for BGP connections: {0}")]
    Listen(#[source] SocketError),
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// Runs `bgpd` until SIGTERM or SIGINT.
pub async fn run(config: Config, config_path: PathBuf) -> Result<(), DaemonError> {
    let (events, receiver) = mpsc::channel(EVENT_QUEUE);

    let mut listeners = Vec::new();
    if config.global.listen_port != 0 {
        for address in &config.global.listen_addresses {
            let address = SocketAddr::new(*address, config.global.listen_port);
            let listener = Arc::new(socket::listen(address).map_err(DaemonError::Listen)?);
            tracing::info!(%address, "listening for BGP connections");
            tokio::spawn(accept_loop(Arc::clone(&listener), events.clone()));
            listeners.push(listener);
        }
    }

    spawn_signal_task(events.clone()).map_err(DaemonError::Signals)?;

    let instance = Instance::new(config, config_path, listeners, events);
    instance.run(receiver).await;
    Ok(())
}

async fn accept_loop(listener: Arc<TcpListener>, events: mpsc::Sender<InstanceEvent>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                if events.send(InstanceEvent::Accepted { stream, remote }).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
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
