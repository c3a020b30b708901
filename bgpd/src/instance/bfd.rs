//! BFD coupled to BGP (RFC 5882, RFC 9384): the instance's side of the BFD
//! driver (`crate::bfd::io`, its own OS thread).
//!
//! - The driver is spawned once, lazily, when the first neighbor enables BFD
//!   ([`driver_config`]: BGP's `listen_addresses`, by default 0.0.0.0 and
//!   ::, on 3784 and 4784; the IPv4 ones only if an IPv6 one cannot be
//!   bound). A bind failure is logged and shown in every BFD
//!   neighbor's status; it is retried when a neighbor next needs BFD (a
//!   reload, an API change), never a panic.
//! - One BFD session per neighbor with `[neighbors.bfd] enabled`, keyed by
//!   the neighbor's address and its `local_address` (none: the kernel picks
//!   the source, and received packets match on the peer's address alone).
//!   [`Instance::bfd_sync`] makes the driver match the neighbor after every
//!   change (add, reload, API update, enable/disable, removal): BFD changes
//!   never reset the BGP session. A disabled neighbor's BFD session is held
//!   AdminDown, so the peer does not see a failure (RFC 5882 §3.2).
//! - Coupling ([`couple`]): a BFD Down after Up stops the BGP session at once
//!   with Cease/BFD Down (subcode 10, RFC 9384) and holds it (no restart)
//!   until BFD is Up again, or the peer's BFD says AdminDown, or BFD is
//!   unconfigured. BGP is started before BFD is ever Up (FRR does the same):
//!   only a failure of a path BFD once saw working takes BGP down. The
//!   peer's AdminDown and ours are not failures: BGP is left alone.
//! - Graceful restart (RFC 5882 §4.3): the peer's C bit at the Down is
//!   handed to `gr::Loss::of_bfd_down` when the stopped session reports its
//!   end, so a control-plane-independent peer's routes are flushed rather
//!   than kept stale. `check_control_plane_failure` (FRR's knob) ignores a
//!   Down from a GR peer whose C bit is clear.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::Instance;
use crate::bfd::{
    BfdHandle, DriverConfig, DriverError, Report, SessionConfig, SessionCounters, SessionKey,
    SessionSpec, Signal, State, StateChange,
};
use crate::config::{BfdSettings, Neighbor};
use crate::peer::SessionCommand;
use crate::rib::PeerId;
use crate::wire::{Notification, NotificationKind};

/// Why BFD cannot run for a neighbor: the driver thread could not start
/// (shared by every BFD neighbor, so the cause is kept once).
#[derive(Clone, Debug, thiserror::Error)]
pub enum BfdUnavailable {
    #[error("the BFD driver could not start: {0}")]
    Driver(Arc<DriverError>),
    #[error("the BFD driver is not running")]
    NotStarted,
}

/// The instance's BFD driver, spawned on first use.
#[derive(Debug)]
pub(super) struct BfdDriver {
    config: DriverConfig,
    handle: Option<BfdHandle>,
    sender: mpsc::UnboundedSender<Report>,
    reports: mpsc::UnboundedReceiver<Report>,
    /// Why the driver could not start, until it does.
    error: Option<Arc<DriverError>>,
}

impl BfdDriver {
    pub(super) fn new(config: DriverConfig) -> Self {
        let (sender, reports) = mpsc::unbounded_channel();
        Self { config, handle: None, sender, reports, error: None }
    }

    /// The next report of the driver (pending forever before it runs: the
    /// instance holds a sender).
    pub(super) async fn next(&mut self) -> Option<Report> {
        self.reports.recv().await
    }

    /// The running driver, spawning it if needed.
    fn handle(&mut self) -> Result<&BfdHandle, BfdUnavailable> {
        if self.handle.is_none() {
            let spawned = BfdHandle::spawn(self.config.clone(), self.sender.clone()).or_else(|e| {
                let v4 = |a: &IpAddr| a.is_ipv4();
                if self.config.listen.iter().all(v4) {
                    return Err(e);
                }
                tracing::warn!(error = %e, "BFD on IPv6 unavailable, trying IPv4 only");
                let mut config = self.config.clone();
                config.listen.retain(IpAddr::is_ipv4);
                if config.listen.is_empty() {
                    config.listen.push(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                }
                BfdHandle::spawn(config, self.sender.clone())
            });
            match spawned {
                Ok(handle) => {
                    tracing::info!(ports = ?handle.ports(), "BFD driver started");
                    self.error = None;
                    self.handle = Some(handle);
                }
                Err(error) => {
                    tracing::error!(%error, "cannot start BFD: BFD neighbors run without it");
                    self.error = Some(Arc::new(error));
                }
            }
        }
        self.handle.as_ref().ok_or_else(|| {
            self.error.clone().map_or(BfdUnavailable::NotStarted, BfdUnavailable::Driver)
        })
    }

    /// The driver if it runs (never spawns it).
    pub(super) fn running(&self) -> Option<&BfdHandle> {
        self.handle.as_ref()
    }

    /// Tells every peer AdminDown and stops the thread (a planned stop).
    pub(super) fn shutdown(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

/// A neighbor's BFD, as the instance tracks it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BfdPeer {
    /// The session registered with the driver and its config.
    registered: Option<(SessionKey, SessionConfig)>,
    admin_down: bool,
    /// The last state change the driver reported.
    pub last: Option<StateChange>,
    /// BGP was stopped by a BFD Down and waits for BFD to come back.
    pub held: bool,
    /// A stop for BFD Down is under way: the peer's C bit then, for
    /// graceful restart (taken when the session reports its end).
    pending_down: Option<bool>,
    /// The session could not run (driver not started, or the add failed).
    pub error: Option<String>,
    /// The driver's snapshot, filled in by the API just before it answers
    /// (`BfdHandle::status`, asked through `ApiRequest::BfdStatus`).
    pub session: Option<crate::bfd::Status>,
    /// Control packets of the registered session (the driver counts).
    pub packets: Arc<SessionCounters>,
    /// Times the session came Up, and went from Up to Down (metrics).
    pub up_events: u64,
    pub down_events: u64,
}

impl BfdPeer {
    /// The key of the registered session.
    pub fn key(&self) -> Option<SessionKey> {
        self.registered.map(|(key, _)| key)
    }

    /// Keeps `change` as the last one and counts Up and Down events (a Down
    /// event is leaving Up, for any reason: MetalLB's meaning).
    pub(super) fn record(&mut self, change: StateChange) {
        if change.to == State::Up && change.from != State::Up {
            self.up_events += 1;
        } else if change.from == State::Up && change.to != State::Up {
            self.down_events += 1;
        }
        self.last = Some(change);
    }

    /// The C bit to classify the loss with, if BFD caused it.
    pub(super) fn take_pending_down(&mut self) -> Option<bool> {
        self.pending_down.take()
    }
}

/// What a BFD state change does to the BGP session.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Coupling {
    /// Stop BGP with Cease/BFD Down and hold it until BFD is back.
    TearDown {
        remote_control_plane_independent: bool,
    },
    /// A Down that `check_control_plane_failure` lets graceful restart handle.
    Ignore,
    /// Start the held BGP session again.
    Release,
    Nothing,
}

/// RFC 5882 §3.2 and §4.3 as a pure function of the change, the neighbor's
/// settings, whether graceful restart was negotiated with the peer, and
/// whether BGP is held by an earlier Down.
pub(super) fn couple(
    change: &StateChange,
    settings: BfdSettings,
    graceful_restart: bool,
    held: bool,
) -> Coupling {
    match change.signal() {
        Some(Signal::Down(_))
            if settings.check_control_plane_failure
                && graceful_restart
                && !change.remote_control_plane_independent =>
        {
            Coupling::Ignore
        }
        Some(Signal::Down(_)) => Coupling::TearDown {
            remote_control_plane_independent: change.remote_control_plane_independent,
        },
        Some(Signal::Up) if held => Coupling::Release,
        // The peer took BFD administratively down: not a failure, so BGP
        // need not wait for it any more (RFC 5882 §3.2).
        _ if held && change.remote_state == State::AdminDown => Coupling::Release,
        _ => Coupling::Nothing,
    }
}

/// Where the driver listens: where BGP listens (`listen_addresses`), so two
/// daemons on one host (tests) can each have BFD; the wildcards when BGP
/// does not listen (`listen_port = 0`).
pub(super) fn driver_config(global: &crate::config::Global) -> DriverConfig {
    let mut config =
        DriverConfig { realtime_priority: global.bfd_realtime_priority, ..DriverConfig::default() };
    if global.listen_port != 0 && !global.listen_addresses.is_empty() {
        config.listen = global.listen_addresses.clone();
    }
    config
}

/// The session a neighbor wants: its key and config, if BFD is enabled.
fn wanted(neighbor: &Neighbor) -> Option<(SessionKey, SessionConfig)> {
    let config = neighbor.bfd_session()?;
    Some((SessionKey { peer: neighbor.address, local: neighbor.local_address }, config))
}

impl Instance {
    /// Makes the driver's session for `id` match its neighbor's config and
    /// admin state. Called after any change of the neighbor.
    pub(super) fn bfd_sync(&mut self, id: PeerId) {
        let Some(slot) = self.peers.get_mut(&id) else { return };
        let bfd = &mut slot.status.bfd;
        let Some((key, config)) = wanted(&slot.neighbor) else {
            if let (Some(key), Some(handle)) = (bfd.key(), self.bfd.running()) {
                handle.remove(key);
            }
            let held = bfd.held;
            *bfd = BfdPeer::default();
            if held && slot.neighbor.enabled {
                slot.session.send(SessionCommand::Start);
            }
            return;
        };
        let handle = match self.bfd.handle() {
            Ok(handle) => handle,
            Err(error) => {
                // The status shows the cause as text (PeerStatus.bfd.error).
                bfd.error = Some(error.to_string());
                return;
            }
        };
        match bfd.registered {
            Some((old_key, _)) if old_key != key => {
                handle.remove(old_key);
                bfd.registered = None;
            }
            Some((_, old)) if old != config => {
                handle.update(key, config);
                bfd.registered = Some((key, config));
            }
            _ => {}
        }
        if bfd.registered.is_none() {
            bfd.packets = Arc::default();
            let counters = Arc::clone(&bfd.packets);
            handle.add(SessionSpec { key, config, peer_port: None, counters });
            bfd.registered = Some((key, config));
            bfd.error = None;
            bfd.last = None;
            bfd.admin_down = false;
        }
        let down = !slot.neighbor.enabled;
        if down != bfd.admin_down {
            handle.set_admin_down(key, down);
            bfd.admin_down = down;
        }
    }

    /// [`Instance::bfd_sync`] by neighbor address.
    pub(super) fn bfd_sync_address(&mut self, address: IpAddr) {
        if let Some(id) = self.by_address.get(&address).copied() {
            self.bfd_sync(id);
        }
    }

    /// Forgets `id`'s BFD session (the neighbor is being removed).
    pub(super) fn bfd_remove(&mut self, key: Option<SessionKey>) {
        if let (Some(key), Some(handle)) = (key, self.bfd.running()) {
            handle.remove(key);
        }
    }

    /// A report of the driver.
    pub(super) fn on_bfd(&mut self, report: Report) {
        match report {
            Report::StateChanged { key, change } => self.on_bfd_change(key, change),
            Report::AddFailed { key, error } => {
                tracing::error!(peer = %key.peer, %error, "BFD session not started");
                if let Some(slot) = self.bfd_slot(key) {
                    slot.status.bfd.error = Some(error.to_string());
                    slot.status.bfd.registered = None;
                }
            }
        }
    }

    fn bfd_slot(&mut self, key: SessionKey) -> Option<&mut super::PeerSlot> {
        let id = self.by_address.get(&key.peer)?;
        self.peers.get_mut(id).filter(|slot| slot.status.bfd.key() == Some(key))
    }

    fn on_bfd_change(&mut self, key: SessionKey, change: StateChange) {
        let Some(slot) = self.bfd_slot(key) else { return };
        tracing::info!(
            peer = %key.peer, from = %change.from, to = %change.to,
            diagnostic = %change.diagnostic, remote = %change.remote_state,
            "BFD session state changed"
        );
        slot.status.bfd.record(change);
        let Some(settings) = slot.neighbor.bfd else { return };
        let graceful_restart = slot.helper.negotiated().is_some();
        match couple(&change, settings, graceful_restart, slot.status.bfd.held) {
            Coupling::TearDown { remote_control_plane_independent } => {
                tracing::warn!(
                    peer = %key.peer, diagnostic = %change.diagnostic,
                    "BFD down: BGP session stopped until BFD is up again (RFC 5882)"
                );
                slot.status.bfd.held = true;
                slot.status.bfd.pending_down = Some(remote_control_plane_independent);
                let cease = Notification::new(NotificationKind::BfdDown, Vec::new());
                slot.session.send(SessionCommand::Stop(cease));
            }
            Coupling::Ignore => tracing::info!(
                peer = %key.peer,
                "BFD down ignored: the peer may be restarting (check_control_plane_failure)"
            ),
            Coupling::Release => {
                slot.status.bfd.held = false;
                if slot.neighbor.enabled {
                    tracing::info!(peer = %key.peer, "BFD back: starting BGP again");
                    slot.session.send(SessionCommand::Start);
                }
            }
            Coupling::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bfd::Diagnostic;

    fn change(from: State, to: State, remote: State, c_bit: bool) -> StateChange {
        StateChange {
            from,
            to,
            diagnostic: if to == State::Down {
                Diagnostic::ControlDetectionTimeExpired
            } else {
                Diagnostic::NoDiagnostic
            },
            remote_state: remote,
            remote_control_plane_independent: c_bit,
        }
    }

    const ON: BfdSettings = BfdSettings {
        enabled: true,
        min_rx_ms: 300,
        min_tx_ms: 300,
        multiplier: 3,
        passive: false,
        check_control_plane_failure: false,
    };
    const CHECK: BfdSettings = BfdSettings { check_control_plane_failure: true, ..ON };

    #[test]
    fn up_and_down_events_are_counted_for_metrics() {
        let mut peer = BfdPeer::default();
        peer.record(change(State::Down, State::Init, State::Init, false));
        peer.record(change(State::Init, State::Up, State::Up, false));
        peer.record(change(State::Up, State::Down, State::Down, false));
        peer.record(change(State::Down, State::Up, State::Up, false));
        peer.record(change(State::Up, State::AdminDown, State::Up, false));
        assert_eq!((peer.up_events, peer.down_events), (2, 2));
        assert_eq!(peer.last.map(|c| c.to), Some(State::AdminDown));
    }

    #[test]
    fn a_failure_after_up_tears_bgp_down() {
        let down = change(State::Up, State::Down, State::Down, false);
        assert_eq!(
            couple(&down, ON, true, false),
            Coupling::TearDown { remote_control_plane_independent: false }
        );
        let down = change(State::Up, State::Down, State::Up, true);
        assert_eq!(
            couple(&down, ON, false, false),
            Coupling::TearDown { remote_control_plane_independent: true }
        );
    }

    #[test]
    fn admin_down_on_either_side_leaves_bgp_alone() {
        let neighbor = change(State::Up, State::Down, State::AdminDown, false);
        assert_eq!(couple(&neighbor, ON, false, false), Coupling::Nothing);
        let ours = change(State::Up, State::AdminDown, State::Up, false);
        assert_eq!(couple(&ours, ON, false, false), Coupling::Nothing);
    }

    #[test]
    fn up_releases_a_held_session_only() {
        let up = change(State::Init, State::Up, State::Up, false);
        assert_eq!(couple(&up, ON, false, true), Coupling::Release);
        assert_eq!(couple(&up, ON, false, false), Coupling::Nothing);
        // Down -> Down while the peer says AdminDown: it will not come up
        // soon, and that is no failure.
        let admin = change(State::Down, State::Down, State::AdminDown, false);
        assert_eq!(couple(&admin, ON, false, true), Coupling::Release);
        // Never Up: nothing to tear down.
        let init = change(State::Down, State::Init, State::Down, false);
        assert_eq!(couple(&init, ON, false, false), Coupling::Nothing);
    }

    #[test]
    fn check_control_plane_failure_lets_graceful_restart_handle_a_c_clear_down() {
        let down = change(State::Up, State::Down, State::Down, false);
        assert_eq!(couple(&down, CHECK, true, false), Coupling::Ignore);
        // Without graceful restart there is nothing to ride it out with.
        assert_eq!(
            couple(&down, CHECK, false, false),
            Coupling::TearDown { remote_control_plane_independent: false }
        );
        // C set: the forwarding plane failed, whatever the knob says.
        let forwarding = change(State::Up, State::Down, State::Down, true);
        assert_eq!(
            couple(&forwarding, CHECK, true, false),
            Coupling::TearDown { remote_control_plane_independent: true }
        );
    }
}
