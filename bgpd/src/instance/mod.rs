//! The instance: the single owner of the RIB, the neighbours' control state,
//! the API's owners and watchers, and the running config. Other tasks send it
//! [`InstanceEvent`]s; session tasks send their `peer::SessionReport`s on a
//! channel of their own. It dispatches them to `rib/`, `peer/` and `gr/`,
//! which hold the logic. Kept small on purpose: policy lives in the modules.
//!
//! Its parts: `neighbors` (sessions started and stopped, reload),
//! `sessions` (what session events do, and the export pump), [`graceful`]
//! (graceful restart glue), [`peer_ops`] (the administrative peer requests),
//! [`requests`] (every other API request, one function each), [`owners`] and
//! [`leases`] (API owners, their paths and leases), [`watch`] (the `Watch`
//! log), [`listing`] (`ListPaths` pages) and [`status`] (what is reported
//! about each peer's session). All of it works in domain types (`IpNet`,
//! `wire`/`rib` attributes, `config::Neighbor`); `api::convert` makes
//! messages of them. The instance never names the API or a `.proto` type.
//!
//! Export flow control: per peer at most `EXPORT_WINDOW` batches are in a
//! session's write path at once, and all peers together hold at most
//! [`export_flow::EXPORT_BUDGET_BYTES`] of batches; the RIB keeps the rest as a deduplicated
//! pending set, so a slow peer costs bounded memory and a prefix that changes
//! twice before it is sent is sent once. The window is what each session
//! holds, as batches and then as encoded UPDATEs in its write buffer, so its
//! size follows the number of established peers ([`export_batch`]): all
//! peers together have at most `EXPORT_BUDGET` prefixes in flight (about
//! 6 MB of UPDATEs on an Internet-like table), or `MIN_EXPORT_BATCH` x
//! `EXPORT_WINDOW` per peer when there are more peers than that allows. With
//! a fixed 4 batches of 8,192 prefixes a route server's 100 peers held 100+ MB
//! of encoded output at once; one peer still gets the deep window a full
//! table needs on a busy machine.

pub mod bfd;
pub(crate) mod devices;
mod export_flow;
pub mod graceful;
pub mod leases;
pub mod listing;
pub mod max_prefix;
mod memory;
pub mod metrics;
mod neighbors;
pub mod owners;
pub mod peer_ops;
mod policies;
pub mod policy_listing;
pub mod refusals;
pub mod requests;
mod sessions;
pub mod status;
mod unnumbered;
pub mod watch;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub use graceful::GracefulTimer;
use requests::{ApiRequest, ApiState, NeighborRef, PeerCounts};
use status::SessionStatus;
use watch::PeerEvent;

use crate::config::{Config, Neighbor};
use crate::peer::{SessionEvent, SessionHandle, SessionReport};
use crate::rib::{LocalInfo, PeerId, Rib};
use crate::wire::{Family, Notification, NotificationKind};

/// Prefixes in flight to all peers together (see the module doc).
const EXPORT_BUDGET: usize = 1 << 18;
/// The smallest and largest export batch, in prefixes.
const MIN_EXPORT_BATCH: usize = 2048;
const MAX_EXPORT_BATCH: usize = 16_384;
/// Batches in flight per peer: two, so the instance prepares the next batch
/// while the session encodes and writes the last.
const EXPORT_WINDOW: usize = 2;

/// The export batch size when `established` peers share [`EXPORT_BUDGET`].
fn export_batch(established: usize) -> usize {
    (EXPORT_BUDGET / (EXPORT_WINDOW * established.max(1))).clamp(MIN_EXPORT_BATCH, MAX_EXPORT_BATCH)
}
/// Events handled at most between two export pumps while the queue is busy.
const MAX_DEFERRED_EVENTS: usize = 256;
/// How long shutdown waits for sessions to send their Cease.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Messages to the instance.
#[derive(Debug)]
pub enum InstanceEvent {
    Accepted {
        stream: TcpStream,
        remote: SocketAddr,
        /// The device of the listener that accepted it (`instance::devices`);
        /// `None`: a default listener.
        device: Option<Arc<str>>,
    },
    /// A neighbor's `vrf` device could not be bound: try again.
    DeviceRetry {
        device: String,
    },
    Shutdown {
        signal: &'static str,
    },
    Reload,
    /// A gRPC request, answered through the oneshot it carries.
    Api(ApiRequest),
    /// A graceful restart timer fired.
    GracefulRestart(GracefulTimer),
    /// A scrape of `/metrics` (or a `/readyz` probe) asks for the counts only
    /// the instance knows; see [`metrics`].
    Metrics(tokio::sync::oneshot::Sender<metrics::Snapshot>),
    /// A neighbor held down by its prefix limit may start again (see
    /// [`max_prefix`]); `token` tells a stale timer from the current one.
    MaxPrefixRestart {
        peer: PeerId,
        token: u64,
    },
    /// A discovery thread of an interface neighbor (BGP unnumbered) saw a
    /// change (see [`crate::unnumbered`]).
    Unnumbered(crate::unnumbered::Discovery),
}

struct PeerSlot {
    neighbor: Neighbor,
    session: SessionHandle,
    established: bool,
    /// Heap bytes of each export batch in flight to the session, oldest
    /// first (answered in order by `SessionEvent::Written`).
    in_flight: std::collections::VecDeque<usize>,
    /// Families still owed an End-of-RIB after the initial table.
    end_of_rib_due: Vec<Family>,
    /// Families owed an EoRR marker after a refresh (RFC 7313).
    end_of_refresh_due: Vec<Family>,
    enhanced_refresh: bool,
    /// What the API reports about the session.
    status: SessionStatus,
    /// Graceful restart, helper role (RFC 4724 §4.2).
    helper: crate::gr::Helper,
    /// Added through the API, not the config file: reload leaves it alone.
    from_api: bool,
}

pub struct Instance {
    config: Config,
    config_path: PathBuf,
    listeners: Vec<Arc<TcpListener>>,
    events: mpsc::Sender<InstanceEvent>,
    /// Handed to each session task it starts.
    sessions: mpsc::Sender<SessionReport>,
    /// Applied UPDATE lists on their way back to the sessions (see
    /// `peer::session::updates`).
    recycling: crate::peer::Recycling,
    rib: Rib,
    peers: HashMap<PeerId, PeerSlot>,
    by_address: HashMap<IpAddr, PeerId>,
    next_peer: u32,
    /// The Loc-RIB changed since the last export pump. Pumping waits until
    /// the event queue is empty, so a burst of UPDATEs is exported as full
    /// messages instead of one small batch per received UPDATE.
    export_due: bool,
    /// Export batches in flight to all peers together (see [`export_flow`]).
    export_budget: export_flow::ExportBudget,
    /// Paths of API owners, originated into the RIB as `Source::Api`.
    api: ApiState,
    started: Instant,
    /// Gives memory back after the RIB shrank.
    compaction: memory::Compaction,
    /// Graceful restart: restarting role and state file.
    gr: graceful::Graceful,
    /// The layer2 task, told about `[[layer2]]` changes on reload.
    layer2: Option<crate::layer2::task::Handle>,
    /// Bounds the log lines for refused BGP connections.
    refusals: refusals::RefusalLog,
    /// The BFD driver (its own thread), spawned with the first BFD neighbor.
    bfd: bfd::BfdDriver,
    /// Neighbors over an interface (BGP unnumbered), in config order.
    interface_neighbors: Vec<unnumbered::InterfaceNeighbor>,
    /// Listeners bound to the devices of the neighbors' `vrf`.
    devices: devices::Devices,
}

impl Instance {
    /// `events` and `sessions` are the senders of the two receivers
    /// [`Instance::run`] takes.
    pub fn new(
        config: Config,
        config_path: PathBuf,
        listeners: Vec<Arc<TcpListener>>,
        events: mpsc::Sender<InstanceEvent>,
        sessions: mpsc::Sender<SessionReport>,
    ) -> Self {
        let rib =
            Rib::new(LocalInfo { asn: config.global.asn, router_id: config.global.router_id });
        let bfd = bfd::BfdDriver::new(bfd::driver_config(&config.global));
        Self {
            bfd,
            config,
            config_path,
            listeners,
            events,
            sessions,
            recycling: crate::peer::Recycling::default(),
            rib,
            peers: HashMap::new(),
            by_address: HashMap::new(),
            next_peer: 1,
            export_due: false,
            export_budget: export_flow::ExportBudget::default(),
            api: ApiState::default(),
            started: Instant::now(),
            compaction: memory::Compaction::default(),
            gr: graceful::Graceful::default(),
            layer2: None,
            refusals: refusals::RefusalLog::default(),
            interface_neighbors: Vec::new(),
            devices: devices::Devices::default(),
        }
    }

    /// Where the BFD driver listens (default: 0.0.0.0 and :: on the standard
    /// ports); tests use port 0.
    pub fn with_bfd_driver(mut self, config: crate::bfd::DriverConfig) -> Self {
        self.bfd = bfd::BfdDriver::new(config);
        self
    }

    /// Hands reloaded `[[layer2]]` entries to the layer2 task.
    pub fn with_layer2(mut self, layer2: crate::layer2::task::Handle) -> Self {
        self.layer2 = Some(layer2);
        self
    }

    /// Owners' grace ran out: exports are due if the RIB changed, and their
    /// layer2 announcements go too (one owner across both services).
    pub(crate) fn owners_expired(&mut self, expired: leases::Expired) {
        self.export_due |= expired.rib_changed;
        if let Some(layer2) = &self.layer2 {
            layer2.forget_owners(&expired.owners);
            layer2.forget_owners(&expired.layer2_dropped);
        }
    }

    /// Runs until shutdown: `receiver` carries every task's events but the
    /// sessions', which come on `reports`.
    pub async fn run(
        mut self,
        mut receiver: mpsc::Receiver<InstanceEvent>,
        mut reports: mpsc::Receiver<SessionReport>,
    ) {
        self.gr_read_state().await;
        for route in self.config.routes.clone() {
            self.originate(&route);
        }
        for neighbor in self.config.neighbors.clone() {
            self.add_neighbor(neighbor);
        }
        self.start_interface_neighbors();
        self.gr_begin();
        let mut deferred = 0;
        loop {
            // The owners' grace timer: armed at the next deadline, never polled.
            let deadline = match (self.api.owners.next_deadline(), self.compaction.deadline()) {
                (Some(owners), Some(compaction)) => Some(owners.min(compaction)),
                (owners, compaction) => owners.or(compaction),
            };
            let event = tokio::select! {
                event = receiver.recv() => match event {
                    Some(event) => event,
                    None => return,
                },
                // The instance holds a sender itself: this never ends.
                Some(report) = reports.recv() => {
                    // A report of n UPDATEs counts as n events toward
                    // `MAX_DEFERRED_EVENTS`, as when each came alone.
                    if let SessionEvent::Updates(updates) = &report.event {
                        deferred += updates.len().saturating_sub(1);
                    }
                    self.on_session(report.peer, report.event);
                    self.after_event(&receiver, &reports, &mut deferred);
                    continue;
                }
                Some(report) = self.bfd.next() => {
                    self.on_bfd(report);
                    self.after_event(&receiver, &reports, &mut deferred);
                    continue;
                }
                () = crate::time::sleep_until(deadline) => {
                    let expired = leases::expire(&mut self.rib, &mut self.api, Instant::now());
                    self.owners_expired(expired);
                    self.after_event(&receiver, &reports, &mut deferred);
                    continue;
                }
            };
            match event {
                InstanceEvent::Accepted { stream, remote, device } => {
                    self.on_accepted(stream, remote, device.as_deref())
                }
                InstanceEvent::DeviceRetry { device } => self.device_retry(device),
                InstanceEvent::Shutdown { signal } => {
                    tracing::info!(signal, "shutting down: closing every session");
                    self.shutdown(&mut receiver, &mut reports).await;
                    return;
                }
                InstanceEvent::Reload => self.reload().await,
                InstanceEvent::Api(request) => {
                    self.on_api(request);
                    self.gr_after_api();
                }
                InstanceEvent::GracefulRestart(timer) => self.gr_timer(timer),
                InstanceEvent::MaxPrefixRestart { peer, token } => {
                    self.max_prefix_timer(peer, token)
                }
                InstanceEvent::Metrics(reply) => {
                    let _ = reply.send(self.metrics_snapshot());
                }
                InstanceEvent::Unnumbered(discovery) => self.on_discovery(discovery),
            }
            self.after_event(&receiver, &reports, &mut deferred);
        }
    }

    /// After each event: tell watchers what changed, then pump exports once
    /// the queue is empty.
    fn after_event(
        &mut self,
        receiver: &mpsc::Receiver<InstanceEvent>,
        reports: &mpsc::Receiver<SessionReport>,
        deferred: &mut usize,
    ) {
        watch::publish(&mut self.rib, &mut self.api, &self.by_address);
        if self.export_due {
            *deferred += 1;
            // Never defer forever: a peer that streams UPDATEs without a
            // pause must not starve the others' exports.
            if (receiver.is_empty() && reports.is_empty()) || *deferred >= MAX_DEFERRED_EVENTS {
                self.export_due = false;
                *deferred = 0;
                self.pump_all();
            }
        }
        if receiver.is_empty() && reports.is_empty() {
            self.compaction.after_event(&mut self.rib, Instant::now());
        }
    }

    /// Numbers a peer event for the watchers (no-op without watchers).
    fn watch_peer(&mut self, event: PeerEvent) {
        self.api.watchers.peer_event(event);
    }

    fn on_api(&mut self, request: ApiRequest) {
        let request = match request {
            ApiRequest::ManagePeer { op, reply } => {
                let _ = reply.send(self.on_peer_op(*op));
                return;
            }
            ApiRequest::BfdStatus { reply } => {
                let _ = reply.send(self.bfd.running().map(|handle| handle.status()));
                return;
            }
            ApiRequest::ListPolicies { reply } => {
                let neighbors = self.peers.values().map(|slot| &slot.neighbor);
                let _ = reply.send(policy_listing::list(&self.config, neighbors));
                return;
            }
            other => other,
        };
        let peers = PeerCounts {
            configured: self.peers.len() + self.pending_interface_count(),
            established: self.peers.values().filter(|slot| slot.established).count(),
        };
        let pending =
            if request.needs_neighbors() { self.pending_interface_views() } else { Vec::new() };
        let context = requests::Context {
            rib: &mut self.rib,
            state: &mut self.api,
            started: self.started,
            peers,
            by_address: &self.by_address,
            interfaces: self
                .interface_neighbors
                .iter()
                .map(unnumbered::InterfaceNeighbor::name)
                .collect(),
            neighbors: if request.needs_neighbors() {
                self.peers
                    .iter()
                    .map(|(id, slot)| NeighborRef {
                        id: *id,
                        neighbor: &slot.neighbor,
                        status: &slot.status,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            pending,
        };
        if requests::handle(request, context) {
            self.export_due = true;
        }
    }

    /// Tells every session to end and waits (at most [`SHUTDOWN_GRACE`]) for
    /// them to send their Cease; other events are dropped meanwhile (an API
    /// caller's reply channel closes: UNAVAILABLE).
    async fn shutdown(
        &mut self,
        receiver: &mut mpsc::Receiver<InstanceEvent>,
        reports: &mut mpsc::Receiver<SessionReport>,
    ) {
        let cease = Notification::shutdown(
            NotificationKind::AdministrativeShutdown,
            "bgpd is shutting down",
        );
        let mut running = self.gr_stop_sessions(&cease);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        let mut open = true;
        while running > 0 {
            let next = async {
                tokio::select! {
                    report = reports.recv() => Some(report),
                    event = receiver.recv(), if open => {
                        open = event.is_some();
                        None
                    }
                }
            };
            match tokio::time::timeout_at(deadline, next).await {
                Ok(Some(Some(SessionReport { event: SessionEvent::Ended, .. }))) => running -= 1,
                Ok(Some(Some(_))) | Ok(None) => {}
                Ok(Some(None)) | Err(_) => break,
            }
        }
        self.gr_close_state().await;
        // After the Ceases: AdminDown tells each BFD peer this is no failure.
        self.bfd.shutdown();
    }
}
