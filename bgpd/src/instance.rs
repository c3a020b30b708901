//! The instance: the single owner of the RIB, the neighbours' control state and
//! the running config. Every other task sends it [`InstanceEvent`]s; it
//! dispatches them to `rib/` and `peer/`, which hold the logic. Kept small on
//! purpose: policy lives in the modules, not here.
//!
//! Export flow control: per peer at most [`EXPORT_WINDOW`] batches of at most
//! [`EXPORT_BATCH`] prefixes are in a session's write path at once; the RIB
//! keeps the rest as a deduplicated pending set, so a slow peer costs bounded
//! memory and a prefix that changes twice before it is sent is sent once.

mod peers;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use ironlb_proto::bgpd::v1::PeerStateChange;
use ironlb_proto::bgpd::v1::watch_event::Event as WatchedEvent;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::api::handler::{self, ApiRequest, ApiState, NeighbourRef, PeerCounts};
use crate::api::live;
use crate::api::peers::{self as api_peers, PeerView, SessionStatus};
use crate::config::{Config, ConfigDiff, Neighbor, StaticRoute};
use crate::fsm::SessionConfig;
use crate::peer::socket::{self, ConnectOptions};
use crate::peer::{self, SessionCommand, SessionEvent, SessionHandle, SessionParams};
use crate::rib::{LocalInfo, PeerId, PeerInfo, Rib, Source};
use crate::wire::{AsPath, Family, Notification, NotificationKind, PathAttributes, RefreshSubtype};

#[path = "instance_gr.rs"]
mod graceful;
pub use graceful::GracefulTimer;

/// Prefixes per export batch: about 10 full UPDATEs of /32s.
const EXPORT_BATCH: usize = 8192;
/// Batches in flight per peer.
const EXPORT_WINDOW: usize = 4;
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
    },
    Session {
        peer: PeerId,
        event: SessionEvent,
    },
    Shutdown {
        signal: &'static str,
    },
    Reload,
    /// A gRPC request, answered through the oneshot it carries.
    Api(ApiRequest),
    /// A graceful restart timer fired.
    GracefulRestart(GracefulTimer),
}

struct PeerSlot {
    neighbor: Neighbor,
    session: SessionHandle,
    established: bool,
    in_flight: usize,
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
    rib: Rib,
    peers: HashMap<PeerId, PeerSlot>,
    by_address: HashMap<IpAddr, PeerId>,
    next_peer: u32,
    /// The Loc-RIB changed since the last export pump. Pumping waits until
    /// the event queue is empty, so a burst of UPDATEs is exported as full
    /// messages instead of one small batch per received UPDATE.
    export_due: bool,
    /// Paths of API owners, originated into the RIB as `Source::Api`.
    api: ApiState,
    started: Instant,
    /// Graceful restart: restarting role and state file.
    gr: graceful::Graceful,
    /// The layer2 task, told about `[[layer2]]` changes on reload.
    layer2: Option<crate::layer2::task::Handle>,
}

impl Instance {
    pub fn new(
        config: Config,
        config_path: PathBuf,
        listeners: Vec<Arc<TcpListener>>,
        events: mpsc::Sender<InstanceEvent>,
    ) -> Self {
        let rib =
            Rib::new(LocalInfo { asn: config.global.asn, router_id: config.global.router_id });
        Self {
            config,
            config_path,
            listeners,
            events,
            rib,
            peers: HashMap::new(),
            by_address: HashMap::new(),
            next_peer: 1,
            export_due: false,
            api: ApiState::default(),
            started: Instant::now(),
            gr: graceful::Graceful::default(),
            layer2: None,
        }
    }

    /// Hands reloaded `[[layer2]]` entries to the layer2 task.
    pub fn with_layer2(mut self, layer2: crate::layer2::task::Handle) -> Self {
        self.layer2 = Some(layer2);
        self
    }

    /// Owners' grace ran out: exports are due if the RIB changed, and their
    /// layer2 announcements go too (one owner across both services).
    pub(crate) fn owners_expired(&mut self, expired: live::Expired) {
        self.export_due |= expired.rib_changed;
        if let Some(layer2) = &self.layer2 {
            layer2.forget_owners(&expired.owners);
            layer2.forget_owners(&expired.layer2_dropped);
        }
    }

    pub async fn run(mut self, mut receiver: mpsc::Receiver<InstanceEvent>) {
        self.gr_read_state().await;
        for route in self.config.routes.clone() {
            self.originate(&route);
        }
        for neighbor in self.config.neighbors.clone() {
            self.add_neighbor(neighbor);
        }
        self.gr_begin();
        let mut deferred = 0;
        loop {
            // The owners' grace timer: armed at the next deadline, never polled.
            let deadline = self.api.owners.next_deadline();
            let event = tokio::select! {
                event = receiver.recv() => match event {
                    Some(event) => event,
                    None => return,
                },
                () = sleep_until(deadline) => {
                    let expired = live::expire(&mut self.rib, &mut self.api, Instant::now());
                    self.owners_expired(expired);
                    self.after_event(&receiver, &mut deferred);
                    continue;
                }
            };
            match event {
                InstanceEvent::Accepted { stream, remote } => self.on_accepted(stream, remote),
                InstanceEvent::Session { peer, event } => self.on_session(peer, event),
                InstanceEvent::Shutdown { signal } => {
                    tracing::info!(signal, "shutting down: closing every session");
                    self.shutdown(&mut receiver).await;
                    return;
                }
                InstanceEvent::Reload => self.reload().await,
                InstanceEvent::Api(request) => {
                    self.on_api(request);
                    self.gr_after_api();
                }
                InstanceEvent::GracefulRestart(timer) => self.gr_timer(timer),
            }
            self.after_event(&receiver, &mut deferred);
        }
    }

    /// After each event: tell watchers what changed, then pump exports once
    /// the queue is empty.
    fn after_event(&mut self, receiver: &mpsc::Receiver<InstanceEvent>, deferred: &mut usize) {
        live::publish(&mut self.rib, &mut self.api, &self.by_address);
        if self.export_due {
            *deferred += 1;
            // Never defer forever: a peer that streams UPDATEs without a
            // pause must not starve the others' exports.
            if receiver.is_empty() || *deferred >= MAX_DEFERRED_EVENTS {
                self.export_due = false;
                *deferred = 0;
                self.pump_all();
            }
        }
    }

    /// Numbers a peer event for the watchers (no-op without watchers).
    fn watch_peer(&mut self, event: ironlb_proto::bgpd::v1::watch_event::Event) {
        self.api.watchers.peer_event(event);
    }

    fn on_api(&mut self, request: ApiRequest) {
        let request = match request {
            ApiRequest::ManagePeer { op, reply } => {
                let _ = reply.send(self.on_peer_op(op));
                return;
            }
            other => other,
        };
        let peers = PeerCounts {
            configured: self.peers.len(),
            established: self.peers.values().filter(|slot| slot.established).count(),
        };
        let context = handler::Context {
            rib: &mut self.rib,
            state: &mut self.api,
            started: self.started,
            peers,
            by_address: &self.by_address,
            neighbours: if request.needs_neighbours() {
                self.peers
                    .iter()
                    .map(|(id, slot)| NeighbourRef {
                        id: *id,
                        neighbor: &slot.neighbor,
                        status: &slot.status,
                    })
                    .collect()
            } else {
                Vec::new()
            },
        };
        if handler::handle(request, context) {
            self.export_due = true;
        }
    }

    fn originate(&mut self, route: &StaticRoute) {
        let attributes = static_attributes(route, self.config.global.asn);
        if let Err(error) =
            self.rib.originate(Source::Static, route.prefix, attributes, route.next_hop)
        {
            tracing::error!(prefix = %route.prefix, %error, "cannot originate a static route");
        }
    }

    fn withdraw_static(&mut self, prefix: IpNet) {
        if let Err(error) = self.rib.withdraw_local(Source::Static, prefix) {
            tracing::error!(%prefix, %error, "cannot withdraw a static route");
        }
    }

    fn add_neighbor(&mut self, neighbor: Neighbor) {
        let id = PeerId(self.next_peer);
        self.next_peer += 1;
        if let Some(password) = &neighbor.password {
            self.set_listener_keys(neighbor.address, password.as_bytes());
        }
        let ibgp = neighbor.remote_asn == self.config.global.asn;
        let mut config = session_config(&self.config, &neighbor);
        config.graceful_restart = self.gr_capability(neighbor.graceful_restart, &config.families);
        let params = SessionParams {
            peer: id,
            config,
            connect: ConnectOptions {
                remote: neighbor.remote_socket(),
                local_address: neighbor.local_address,
                password: neighbor.password.as_ref().map(|p| p.as_bytes().to_vec()),
                ttl: socket::TtlSettings {
                    send: neighbor.ttl.outgoing_ttl(ibgp),
                    minimum: neighbor.ttl.minimum_incoming_ttl(),
                },
            },
            enabled: neighbor.enabled,
        };
        let neighbor_gr = neighbor.graceful_restart;
        let session = peer::spawn(params, self.events.clone());
        let counters = session.counters.clone();
        tracing::info!(peer = %neighbor.address, asn = neighbor.remote_asn, "neighbour configured");
        if !self.api.watchers.is_empty() {
            let view = PeerView::new(&neighbor, &SessionStatus::default(), &self.rib, id);
            let peer = api_peers::peer(&view, Instant::now());
            self.watch_peer(WatchedEvent::PeerAdded(peer));
        }
        self.by_address.insert(neighbor.address, id);
        self.peers.insert(
            id,
            PeerSlot {
                neighbor,
                session,
                established: false,
                in_flight: 0,
                end_of_rib_due: Vec::new(),
                end_of_refresh_due: Vec::new(),
                enhanced_refresh: false,
                status: SessionStatus::with_counters(counters),
                from_api: false,
                helper: graceful::helper_for(neighbor_gr),
            },
        );
        self.gr_neighbor_added(id);
    }

    fn remove_neighbor(&mut self, address: IpAddr, cease: Notification) {
        let Some(id) = self.by_address.remove(&address) else { return };
        self.watch_peer(WatchedEvent::PeerRemoved(address.to_string()));
        if let Some(slot) = self.peers.remove(&id) {
            slot.session.send(SessionCommand::Shutdown(cease));
            if slot.neighbor.password.is_some() {
                self.set_listener_keys(address, &[]);
            }
        }
        if let Err(error) = self.rib.remove_peer(id) {
            tracing::debug!(%error, "peer had no RIB state");
        }
        self.gr_peer_removed(id);
        self.pump_all();
    }

    /// Installs (or with an empty key removes) a neighbour's MD5 key on every
    /// listening socket of a compatible family.
    fn set_listener_keys(&self, address: IpAddr, key: &[u8]) {
        for listener in &self.listeners {
            let is_v6 = socket::is_v6_listener(listener);
            if address.is_ipv6() && !is_v6 {
                continue;
            }
            if let Err(error) = socket::set_md5_key(listener.as_raw_fd(), is_v6, address, key) {
                tracing::error!(%error, "cannot install the TCP MD5 key on a listener");
            }
        }
    }

    fn on_accepted(&mut self, stream: TcpStream, remote: SocketAddr) {
        let address = socket::canonical_ip(remote.ip());
        match self.by_address.get(&address).and_then(|id| self.peers.get(id)) {
            Some(slot) if slot.neighbor.enabled => {
                slot.session.send(SessionCommand::Inbound(stream))
            }
            Some(_) => tracing::info!(%remote, "refusing a connection from a disabled neighbour"),
            None => tracing::info!(%remote, "refusing a connection from an unknown address"),
        }
    }

    fn on_session(&mut self, id: PeerId, event: SessionEvent) {
        match event {
            SessionEvent::Established { negotiated, local, remote } => {
                let Some(slot) = self.peers.get_mut(&id) else { return };
                let info = PeerInfo {
                    asn: negotiated.peer_asn,
                    router_id: negotiated.peer_router_id,
                    address: socket::canonical_ip(remote.ip()),
                    ibgp: negotiated.peer_asn == self.config.global.asn,
                    local_address: socket::canonical_ip(local.ip()),
                    next_hop_v4: None,
                    next_hop_v6: None,
                    next_hop_self: slot.neighbor.next_hop_self,
                    families: negotiated.families.clone(),
                };
                slot.established = true;
                slot.status.on_established(&negotiated, local, remote);
                slot.in_flight = 0;
                slot.enhanced_refresh = negotiated.enhanced_route_refresh;
                slot.end_of_rib_due = negotiated.families.clone();
                if let Err(error) = self.rib.add_peer(id, info) {
                    tracing::error!(%error, "cannot register an established peer");
                    return;
                }
                for family in &negotiated.families {
                    if let Err(error) = self.rib.queue_full_table(id, *family) {
                        tracing::error!(%error, "cannot queue the table for a new peer");
                    }
                }
                // Graceful restart first: it resets the peer's GR status (which
                // the pump then updates with End-of-RIB sent) and may end our
                // selection deferral before this peer's first export.
                self.gr_established(id, &negotiated);
                self.pump(id);
            }
            SessionEvent::Down { reason, established } => {
                if let Some(slot) = self.peers.get_mut(&id) {
                    slot.established = false;
                    slot.status.on_down();
                    slot.status.last.on_down(&reason);
                    slot.end_of_rib_due.clear();
                    slot.end_of_refresh_due.clear();
                }
                if established {
                    self.gr_session_down(id, &reason);
                    self.pump_all();
                }
            }
            SessionEvent::StateChanged { from, to } => {
                if let Some(slot) = self.peers.get_mut(&id) {
                    slot.status.on_state_changed(to);
                    let change = PeerStateChange {
                        address: slot.neighbor.address.to_string(),
                        old_state: api_peers::session_state(from) as i32,
                        new_state: api_peers::session_state(to) as i32,
                        reason: String::new(),
                        notification: None,
                    };
                    self.watch_peer(WatchedEvent::PeerState(change));
                }
            }
            SessionEvent::Ended => {}
            SessionEvent::Update(update) => {
                tracing::trace!(peer = ?id, ?update, "UPDATE received");
                match self.rib.apply_update(id, &update) {
                    Ok(stats) if stats.rejected > 0 => {
                        tracing::debug!(rejected = stats.rejected, "routes rejected as loops")
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "UPDATE not applied"),
                }
                // Cheap test first: most UPDATEs carry routes and are no marker.
                if update.nlri.is_empty()
                    && update.mp_reach.is_none()
                    && let Some(family) = update.end_of_rib_family()
                {
                    self.gr_end_of_rib(id, family);
                }
                self.export_due = true;
            }
            SessionEvent::RouteRefresh(refresh) => {
                let Some(family) = refresh.afi_safi.family() else { return };
                let Some(slot) = self.peers.get_mut(&id) else { return };
                if refresh.subtype != RefreshSubtype::Request || !slot.established {
                    return;
                }
                tracing::info!(peer = %slot.neighbor.address, %family, "route refresh requested");
                if slot.enhanced_refresh {
                    slot.session.send(SessionCommand::RefreshMarker(
                        family,
                        RefreshSubtype::BeginningOfRefresh,
                    ));
                    slot.end_of_refresh_due.push(family);
                }
                if let Err(error) = self.rib.queue_full_table(id, family) {
                    tracing::warn!(%error, "cannot queue the table for a refresh");
                }
                self.pump(id);
            }
            SessionEvent::Written => {
                if let Some(slot) = self.peers.get_mut(&id) {
                    slot.in_flight = slot.in_flight.saturating_sub(1);
                }
                self.pump(id);
            }
        }
    }

    fn pump_all(&mut self) {
        let ids: Vec<PeerId> =
            self.peers.iter().filter(|(_, slot)| slot.established).map(|(id, _)| *id).collect();
        for id in ids {
            self.pump(id);
        }
    }

    /// Moves export work for one peer into its session, up to the window.
    fn pump(&mut self, id: PeerId) {
        let Some(slot) = self.peers.get_mut(&id) else { return };
        // After our restart, the RIB holds learned routes back until the
        // peers re-synced (RFC 4724 §4.1); local-only prefixes go at once.
        if !slot.established {
            return;
        }
        while slot.in_flight < EXPORT_WINDOW {
            match self.rib.next_export_batch(id, EXPORT_BATCH) {
                Some(batch) => {
                    tracing::trace!(
                        peer = %slot.neighbor.address,
                        withdrawn = batch.withdrawn.len(),
                        groups = batch.announced.len(),
                        "export batch"
                    );
                    slot.session.send(SessionCommand::Export(batch));
                    slot.in_flight += 1;
                }
                None => break,
            }
        }
        if slot.in_flight == 0 && !self.rib.export_pending(id) {
            // Held back while API owners re-sync after our restart.
            if !self.gr.restart.end_of_rib_held() {
                for family in slot.end_of_rib_due.drain(..) {
                    slot.session.send(SessionCommand::EndOfRib(family));
                    slot.status.graceful_restart.end_of_rib_sent.push(family);
                }
            }
            for family in slot.end_of_refresh_due.drain(..) {
                slot.session
                    .send(SessionCommand::RefreshMarker(family, RefreshSubtype::EndOfRefresh));
            }
        }
    }

    async fn shutdown(&mut self, receiver: &mut mpsc::Receiver<InstanceEvent>) {
        let cease = Notification::shutdown(
            NotificationKind::AdministrativeShutdown,
            "bgpd is shutting down",
        );
        let mut running = self.gr_stop_sessions(&cease);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while running > 0 {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(InstanceEvent::Session { event: SessionEvent::Ended, .. })) => running -= 1,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        self.gr_close_state().await;
    }

    async fn reload(&mut self) {
        let path = self.config_path.clone();
        let loaded = tokio::task::spawn_blocking(move || Config::load(&path)).await;
        let mut new = match loaded {
            Ok(Ok(config)) => config,
            Ok(Err(errors)) => {
                tracing::error!("reload refused, the running config stays:\n{errors}");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "reload failed");
                return;
            }
        };
        self.drop_api_conflicts(&mut new);
        let diff = ConfigDiff::between(&self.config, &new);
        if diff.needs_restart() {
            tracing::error!("reload refused: asn and router_id changes need a restart");
            return;
        }
        tracing::info!(
            added = diff.neighbors_added.len(),
            removed = diff.neighbors_removed.len(),
            changed = diff.neighbors_changed.len(),
            routes_added = diff.routes_added.len(),
            routes_removed = diff.routes_removed.len(),
            "applying reloaded config"
        );
        let deconfigured = Notification::new(NotificationKind::PeerDeconfigured, Vec::new());
        for address in &diff.neighbors_removed {
            self.remove_neighbor(*address, deconfigured.clone());
        }
        for change in &diff.neighbors_changed {
            let address = change.neighbor.address;
            if change.reset {
                let cease =
                    Notification::new(NotificationKind::OtherConfigurationChange, Vec::new());
                self.remove_neighbor(address, cease);
                self.add_neighbor(change.neighbor.clone());
            } else if let Some(slot) =
                self.by_address.get(&address).and_then(|id| self.peers.get_mut(id))
            {
                if slot.neighbor.enabled && !change.neighbor.enabled {
                    let cease = Notification::shutdown(
                        NotificationKind::AdministrativeShutdown,
                        "disabled by configuration",
                    );
                    slot.session.send(SessionCommand::Stop(cease));
                } else if !slot.neighbor.enabled && change.neighbor.enabled {
                    slot.session.send(SessionCommand::Start);
                }
                slot.neighbor = change.neighbor.clone();
            }
        }
        for neighbor in &diff.neighbors_added {
            self.add_neighbor(neighbor.clone());
        }
        for prefix in &diff.routes_removed {
            self.withdraw_static(*prefix);
        }
        for route in diff.routes_added.iter().chain(&diff.routes_changed) {
            self.originate(route);
        }
        if let Some(layer2) = &self.layer2
            && (new.layer2 != self.config.layer2
                || new.layer2_gratuitous != self.config.layer2_gratuitous)
        {
            let _ = layer2.configure(new.layer2.clone(), new.layer2_gratuitous).await;
        }
        self.config = new;
        self.pump_all();
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

fn session_config(config: &Config, neighbor: &Neighbor) -> SessionConfig {
    let mut session =
        SessionConfig::new(config.global.asn, neighbor.remote_asn, config.global.router_id);
    session.hold_time = neighbor.hold_time;
    session.keepalive_time = Some(neighbor.keepalive_time);
    session.connect_retry_time = Duration::from_secs(u64::from(neighbor.connect_retry_time.max(1)));
    session.passive = neighbor.passive;
    session.delay_open_time = (neighbor.delay_open_time > 0)
        .then(|| Duration::from_secs(u64::from(neighbor.delay_open_time)));
    session.families = neighbor.families.clone();
    session.any_external_as = neighbor.any_external_as();
    session
}

fn static_attributes(route: &StaticRoute, local_asn: u32) -> PathAttributes {
    PathAttributes {
        origin: Some(route.origin),
        as_path: AsPath::from_sequence(std::iter::repeat_n(
            local_asn,
            usize::from(route.as_path_prepend),
        )),
        med: route.med,
        local_pref: Some(route.local_pref),
        communities: route.communities.clone(),
        large_communities: route.large_communities.clone(),
        extended_communities: route.extended_communities.clone(),
        ..PathAttributes::default()
    }
}
