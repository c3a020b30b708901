//! The instance's graceful restart glue: feeds the `gr` machines with what the
//! sessions report and executes their actions on the RIB, the sessions and
//! timers. The logic is in `gr`; this file only dispatches.

use std::time::{Duration, Instant};

use super::requests;
use super::status::GracefulRestartFacts;
use super::{Instance, InstanceEvent};
use crate::fsm::{DownReason, NegotiatedSession};
use crate::gr::{
    self, Helper, HelperAction, HelperEvent, HelperTimer, Loss, Negotiated, Recorder, Restart,
    RestartAction, RestartEvent, StateRecord, StateWriter,
};
use crate::peer::SessionCommand;
use crate::rib::PeerId;
use crate::wire::Family;

/// A graceful restart timer that fired.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GracefulTimer {
    Helper { peer: PeerId, timer: HelperTimer, token: u64 },
    Deferral { token: u64 },
}

/// The instance's graceful restart state.
pub(super) struct Graceful {
    pub restart: Restart,
    /// We restarted and still defer: our OPENs set the R bit.
    pub restarted: bool,
    recorder: Recorder,
    /// Started with the first record to write.
    writer: Option<StateWriter>,
}

impl Default for Graceful {
    fn default() -> Self {
        Self {
            restart: Restart::not_restarted(),
            restarted: false,
            recorder: Recorder::start(None, false).0,
            writer: None,
        }
    }
}

/// The helper of a new neighbour.
pub(super) fn helper_for(settings: Option<gr::Settings>) -> Helper {
    let settings = settings.unwrap_or(gr::Settings { enabled: false, ..gr::Settings::default() });
    Helper::new(settings.enabled, settings.stale_routes_duration())
}

impl Instance {
    /// Before any neighbour starts: read how the previous run ended, and
    /// record that this one runs.
    pub(super) async fn gr_read_state(&mut self) {
        let dir = self.config.global.state_dir.clone();
        let previous = tokio::task::spawn_blocking(move || gr::state_file::read(&dir)).await;
        let previous = match previous {
            Ok(Ok(previous)) => previous,
            Ok(Err(error)) => {
                tracing::warn!(%error, "graceful restart state unreadable: starting as new");
                None
            }
            Err(_) => None,
        };
        let enabled = self
            .config
            .neighbors
            .iter()
            .any(|n| n.graceful_restart.is_some_and(|s| s.restarting_role()));
        let (recorder, startup, write) = Recorder::start(previous, enabled);
        self.gr.recorder = recorder;
        self.gr.restarted = startup.restarted;
        if startup.restarted {
            tracing::info!(
                owners = ?startup.owners,
                "restarted: deferring the selection of learned routes and End-of-RIB (RFC 4724 §4.1)"
            );
            let deadline = Instant::now() + self.deferral();
            self.api.owners.require_resync(startup.owners.iter().map(String::as_str), deadline);
        }
        self.gr_write(write);
    }

    /// A neighbour was added (startup, reload, `AddPeer`): one with the
    /// restarting role starts the state file; while we defer, its End-of-RIB
    /// is waited for too.
    pub(super) fn gr_neighbor_added(&mut self, id: PeerId) {
        let Some(slot) = self.peers.get(&id) else { return };
        let settings = slot.neighbor.graceful_restart;
        let awaited = gr::restart::awaits(settings, slot.neighbor.enabled);
        if settings.is_some_and(|s| s.restarting_role()) {
            let write = self.gr.recorder.neighbor_enabled();
            self.gr_write(write);
        }
        if awaited {
            let actions = self.gr.restart.handle(RestartEvent::PeerAdded { peer: id });
            self.gr_restart_actions(actions);
        }
    }

    /// After the neighbours are added: start the restarting role.
    pub(super) fn gr_begin(&mut self) {
        if !self.gr.restarted {
            return;
        }
        let expected: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, slot)| {
                gr::restart::awaits(slot.neighbor.graceful_restart, slot.neighbor.enabled)
            })
            .map(|(id, _)| *id)
            .collect();
        let owners_pending = self.api.owners.resync_pending();
        let (restart, actions) = Restart::restarted(expected, owners_pending, self.deferral());
        if restart.exports_held() {
            self.rib.defer_learned_routes();
        }
        self.gr.restart = restart;
        self.gr_restart_actions(actions);
    }

    fn deferral(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.global.selection_deferral_time))
    }

    /// The capability a neighbour's sessions advertise now.
    pub(super) fn gr_capability(
        &self,
        settings: Option<gr::Settings>,
        families: &[Family],
    ) -> Option<crate::wire::GracefulRestartCapability> {
        gr::build_capability(&settings?, families, self.gr.restarted)
    }

    pub(super) fn gr_established(&mut self, id: PeerId, negotiated: &NegotiatedSession) {
        let agreement = Negotiated::from_opens(
            &negotiated.local_open,
            &negotiated.remote_open,
            &negotiated.families,
        );
        tracing::debug!(peer = ?id, ?agreement, "graceful restart agreement");
        let restart_event = RestartEvent::PeerEstablished {
            peer: id,
            families: negotiated.families.clone(),
            graceful_restart: agreement.is_some(),
            peer_restarting: agreement.as_ref().is_some_and(|a| a.peer_restarting),
        };
        if let Some(slot) = self.peers.get_mut(&id) {
            slot.status.graceful_restart = GracefulRestartFacts {
                negotiated: agreement.clone(),
                ..GracefulRestartFacts::default()
            };
            let actions = slot.helper.handle(HelperEvent::Established {
                families: negotiated.families.clone(),
                graceful_restart: agreement,
            });
            self.gr_helper_actions(id, actions);
        }
        let actions = self.gr.restart.handle(restart_event);
        self.gr_restart_actions(actions);
        let write = self.gr.recorder.established();
        self.gr_write(write);
    }

    /// An established session went down: keep its routes stale or flush them.
    /// `bfd_down`: BFD took the session down, with the peer's C bit (RFC
    /// 5882 §4.3, `Loss::of_bfd_down`).
    pub(super) fn gr_session_down(
        &mut self,
        id: PeerId,
        reason: &DownReason,
        bfd_down: Option<bool>,
    ) {
        let loss = match bfd_down {
            Some(c_bit) => Loss::of_bfd_down(reason, c_bit),
            None => Loss::of(reason),
        };
        let actions = match self.peers.get_mut(&id) {
            Some(slot) => slot.helper.handle(HelperEvent::SessionDown(loss)),
            None => Vec::new(),
        };
        if actions.iter().any(|a| matches!(a, HelperAction::KeepStale(_))) {
            if let Err(error) = self.rib.reset_export(id) {
                tracing::debug!(%error, "peer had no RIB state");
            }
            let peer = self.peers.get(&id).map(|s| s.neighbor.address.to_string());
            tracing::info!(
                peer = peer.unwrap_or_default(),
                "session lost gracefully: routes kept as stale (RFC 4724 §4.2)"
            );
            self.gr_helper_actions(id, actions);
        } else {
            // Not graceful (only flushes): every route goes at once.
            if let Some(slot) = self.peers.get_mut(&id) {
                slot.status.graceful_restart.peer_restarting = false;
            }
            match self.rib.peer_down(id) {
                Ok(removed) => tracing::debug!(removed, "routes of the peer removed"),
                Err(error) => tracing::debug!(%error, "peer had no RIB state"),
            }
        }
        self.export_due = true;
    }

    pub(super) fn gr_end_of_rib(&mut self, id: PeerId, family: Family) {
        tracing::debug!(peer = ?id, %family, "End-of-RIB received");
        if let Some(slot) = self.peers.get_mut(&id) {
            slot.status.graceful_restart.end_of_rib_received.push(family);
            let actions = slot.helper.handle(HelperEvent::EndOfRib(family));
            self.gr_helper_actions(id, actions);
        }
        let actions = self.gr.restart.handle(RestartEvent::PeerEndOfRib { peer: id, family });
        self.gr_restart_actions(actions);
    }

    pub(super) fn gr_peer_removed(&mut self, id: PeerId) {
        let actions = self.gr.restart.handle(RestartEvent::PeerRemoved { peer: id });
        self.gr_restart_actions(actions);
    }

    /// After an API request: the owners may have re-synced, or changed.
    pub(super) fn gr_after_api(&mut self) {
        if self.gr.restart.end_of_rib_held() && !self.api.owners.resync_pending() {
            let actions = self.gr.restart.handle(RestartEvent::OwnersResynced);
            self.gr_restart_actions(actions);
        }
        if !self.gr.recorder.same_owners(self.api.owners.owners().map(|o| o.name)) {
            let owners = self.api.owners.owners().map(|o| o.name.to_string()).collect();
            let write = self.gr.recorder.set_owners(owners);
            self.gr_write(write);
        }
    }

    pub(super) fn gr_timer(&mut self, timer: GracefulTimer) {
        match timer {
            GracefulTimer::Helper { peer, timer, token } => {
                let Some(slot) = self.peers.get_mut(&peer) else { return };
                let actions = slot.helper.handle(HelperEvent::TimerExpired { timer, token });
                if !actions.is_empty() {
                    tracing::info!(peer = %slot.neighbor.address, ?timer, "graceful restart timer expired: stale routes removed");
                }
                self.gr_helper_actions(peer, actions);
            }
            GracefulTimer::Deferral { token } => {
                let actions = self.gr.restart.handle(RestartEvent::TimerExpired { token });
                self.gr_restart_actions(actions);
            }
        }
    }

    /// SIGTERM: close graceful restart sessions without a NOTIFICATION so the
    /// peers keep our routes; the others get `cease`. Returns how many
    /// sessions were told to end.
    pub(super) fn gr_stop_sessions(&mut self, cease: &crate::wire::Notification) -> usize {
        let mut graceful = false;
        for slot in self.peers.values() {
            // The peer keeps our routes only if it saw families in our capability.
            let kept = Negotiated::keeps_our_routes(slot.helper.negotiated());
            if slot.established && kept {
                graceful = true;
                slot.session.send(SessionCommand::Close);
            } else {
                slot.session.send(SessionCommand::Shutdown(cease.clone()));
            }
        }
        let write = self.gr.recorder.stopped(graceful);
        self.gr_write(write);
        self.peers.len()
    }

    /// Waits until the state file holds the last record.
    pub(super) async fn gr_close_state(&mut self) {
        if let Some(writer) = self.gr.writer.take() {
            let _ = tokio::task::spawn_blocking(move || writer.close()).await;
        }
    }

    /// Hands `record` to the writer thread, started with the first record.
    fn gr_write(&mut self, record: Option<StateRecord>) {
        let Some(record) = record else { return };
        let dir = &self.config.global.state_dir;
        self.gr.writer.get_or_insert_with(|| StateWriter::spawn(dir.clone())).write(record);
    }

    fn gr_helper_actions(&mut self, id: PeerId, actions: Vec<HelperAction>) {
        for action in actions {
            let result = match action {
                HelperAction::KeepStale(family) => self.rib.mark_stale(id, family).map(|_| 0),
                HelperAction::Flush(family) => {
                    self.rib.mark_stale(id, family).and_then(|_| self.rib.sweep_stale(id, family))
                }
                HelperAction::SweepStale(family) => self.rib.sweep_stale(id, family),
                HelperAction::StartTimer { timer, after, token } => {
                    self.gr_arm(after, GracefulTimer::Helper { peer: id, timer, token });
                    Ok(0)
                }
            };
            match result {
                Ok(0) => {}
                Ok(removed) => {
                    let peer = self.peers.get(&id).map(|s| s.neighbor.address.to_string());
                    tracing::info!(
                        peer = peer.unwrap_or_default(),
                        removed,
                        "stale routes removed"
                    );
                    self.export_due = true;
                }
                Err(error) => tracing::debug!(%error, "graceful restart action on an unknown peer"),
            }
        }
        if let Some(slot) = self.peers.get_mut(&id) {
            slot.status.graceful_restart.peer_restarting = !slot.helper.stale_families().is_empty();
        }
    }

    fn gr_restart_actions(&mut self, actions: Vec<RestartAction>) {
        for action in actions {
            match action {
                RestartAction::StartTimer { after, token } => {
                    self.gr_arm(after, GracefulTimer::Deferral { token })
                }
                RestartAction::ReleaseExports => {
                    tracing::info!("route selection deferral over: exporting learned routes");
                    self.rib.release_learned_routes();
                    self.export_due = true;
                }
                RestartAction::ReleaseEndOfRib => {
                    tracing::info!("restart complete: End-of-RIB released");
                    self.gr.restarted = false;
                    let enabled = self.peers.values().any(|slot| {
                        slot.neighbor.graceful_restart.is_some_and(|s| s.restarting_role())
                    });
                    let write = self.gr.recorder.restart_complete(enabled);
                    self.gr_write(write);
                    let expired =
                        requests::expire_owners(&mut self.rib, &mut self.api, Instant::now());
                    self.owners_expired(expired);
                    for slot in self.peers.values() {
                        let families = &slot.neighbor.families;
                        let capability = slot
                            .neighbor
                            .graceful_restart
                            .and_then(|s| gr::build_capability(&s, families, false));
                        slot.session.send(SessionCommand::SetGracefulRestart(capability));
                    }
                    self.export_due = true;
                }
            }
        }
    }

    fn gr_arm(&self, after: Duration, timer: GracefulTimer) {
        let events = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = events.send(InstanceEvent::GracefulRestart(timer)).await;
        });
    }
}
