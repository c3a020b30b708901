//! What the instance does with its sessions' events: Established, down, FSM
//! state changes, received UPDATEs and ROUTE-REFRESHes, and the export pump
//! that moves the RIB's pending changes into each session's write path within
//! a window (flow control: see the module doc of `instance`).
//!
//! The session tasks send `(PeerId, SessionEvent)` as a [`SessionReport`] on
//! their own channel; the instance's loop receives them beside its other
//! events (`peer::SessionReport`).

use std::net::SocketAddr;

use super::watch::PeerEvent;
use super::{EXPORT_WINDOW, Instance, export_batch};
use crate::fsm::{DownReason, NegotiatedSession, State};
use crate::peer::socket;
use crate::peer::{SessionCommand, SessionEvent};
use crate::rib::{PeerId, PeerInfo, Unsendable};
use crate::wire::{CodecOptions, Family, RefreshSubtype, RouteRefresh, UpdateMessage};

impl Instance {
    /// One event of a session task, dispatched to the handler of its kind.
    pub(super) fn on_session(&mut self, id: PeerId, event: SessionEvent) {
        match event {
            SessionEvent::Established { negotiated, local, remote } => {
                self.on_established(id, &negotiated, local, remote)
            }
            SessionEvent::Down { reason, established } => self.on_down(id, &reason, established),
            SessionEvent::StateChanged { from, to } => self.on_state_changed(id, from, to),
            SessionEvent::Ended => {}
            SessionEvent::Updates(updates) => {
                for update in &updates {
                    self.on_update(id, update);
                }
                // Freed where it was decoded (see `peer::session::updates`).
                if let Some(slot) = self.peers.get(&id) {
                    slot.session.recycle(updates);
                }
            }
            SessionEvent::RouteRefresh(refresh) => self.on_route_refresh(id, &refresh),
            SessionEvent::Written => {
                if let Some(bytes) = self.peers.get_mut(&id).and_then(|s| s.in_flight.pop_front()) {
                    self.export_budget.give_back(bytes);
                }
                // Peers that found no room go first, then this one.
                while self.export_budget.has_room() {
                    let Some(waiting) = self.export_budget.next_waiting() else { break };
                    self.pump(waiting);
                }
                self.pump(id);
            }
        }
    }

    /// The session reached Established (RFC 4271 §8.2.2): register the peer
    /// with the RIB and queue the whole table for each negotiated family.
    fn on_established(
        &mut self,
        id: PeerId,
        negotiated: &NegotiatedSession,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let interface_global =
            self.peers.get(&id).and_then(|slot| self.interface_global(&slot.neighbor));
        let Some(slot) = self.peers.get_mut(&id) else { return };
        let info = PeerInfo {
            asn: negotiated.peer_asn,
            router_id: negotiated.peer_router_id,
            address: socket::canonical_ip(remote.ip()),
            ibgp: negotiated.peer_asn == slot.neighbor.own_asn(self.config.global.asn),
            local_asn: slot.neighbor.own_asn(self.config.global.asn),
            local_address: socket::canonical_ip(local.ip()),
            next_hop_v4: None,
            next_hop_v6: interface_global,
            next_hop_self: slot.neighbor.next_hop_self,
            families: negotiated.families.clone(),
            codec: CodecOptions::negotiated(&negotiated.local_open, &negotiated.remote_open),
        };
        slot.established = true;
        slot.status.on_established(negotiated, local, remote);
        // The session's own socket bound the device: it exists now, so its
        // listener need not wait for the retry timer.
        let device = slot.neighbor.vrf.clone().filter(|_| slot.status.device_problem.is_some());
        self.export_budget.give_back(slot.in_flight.drain(..).sum());
        slot.enhanced_refresh = negotiated.enhanced_route_refresh;
        slot.end_of_rib_due = negotiated.families.clone();
        if let Some(device) = device {
            self.device_retry(device);
        }
        if let Err(error) = self.rib.add_peer(id, info) {
            tracing::error!(%error, "cannot register an established peer");
            return;
        }
        // Paths restricted to "%IFNAME" (API `Path.peers`) go to the session
        // over that interface.
        let interface = self
            .peers
            .get(&id)
            .and_then(|slot| slot.neighbor.interface.as_ref())
            .map(|i| std::sync::Arc::from(i.name.as_str()));
        if let Err(error) = self.rib.set_peer_interface(id, interface) {
            tracing::error!(%error, "cannot register the interface of an established peer");
        }
        self.set_peer_policy(id, negotiated.peer_asn);
        if let Some(slot) = self.peers.get(&id)
            && let Err(error) =
                self.rib.set_soft_reconfiguration(id, slot.neighbor.soft_reconfiguration_inbound)
        {
            tracing::error!(%error, "cannot keep the routes as received");
        }
        for family in &negotiated.families {
            if let Err(error) = self.rib.queue_full_table(id, *family) {
                tracing::error!(%error, "cannot queue the table for a new peer");
            }
        }
        // Graceful restart first: it resets the peer's GR status (which
        // the pump then updates with End-of-RIB sent) and may end our
        // selection deferral before this peer's first export.
        self.gr_established(id, negotiated);
        self.pump(id);
    }

    /// The session went down: its status records why; an Established one
    /// hands its routes to graceful restart (kept stale or removed).
    fn on_down(&mut self, id: PeerId, reason: &DownReason, established: bool) {
        let mut bfd_down = None;
        if let Some(slot) = self.peers.get_mut(&id) {
            bfd_down = slot.status.bfd.take_pending_down();
            slot.established = false;
            // Batches the session held are gone with its connection.
            self.export_budget.give_back(slot.in_flight.drain(..).sum());
            slot.status.on_down();
            slot.status.last.on_down(reason);
            slot.end_of_rib_due.clear();
            slot.end_of_refresh_due.clear();
        }
        if established {
            self.gr_session_down(id, reason, bfd_down);
            self.pump_all();
        }
    }

    /// The FSM moved: the status follows and watchers hear of it.
    fn on_state_changed(&mut self, id: PeerId, from: State, to: State) {
        if let Some(slot) = self.peers.get_mut(&id) {
            slot.status.on_state_changed(to);
            let address = slot.neighbor.address;
            self.watch_peer(PeerEvent::State { address, from, to });
        }
    }

    /// A received UPDATE goes into the RIB (RFC 4271 §9); an End-of-RIB
    /// marker (RFC 4724 §2) goes to graceful restart.
    fn on_update(&mut self, id: PeerId, update: &UpdateMessage) {
        tracing::trace!(peer = ?id, ?update, "UPDATE received");
        match self.rib.apply_update(id, update) {
            Ok(stats) if stats.rejected > 0 => {
                tracing::debug!(rejected = stats.rejected, "routes rejected as loops")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "UPDATE not applied"),
        }
        if self.peers.get(&id).is_some_and(|slot| slot.neighbor.max_prefixes.is_some()) {
            self.max_prefix_check(id, &update_families(update));
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

    /// The peer asked for our routes again (RFC 2918), bracketed by BoRR and
    /// EoRR when enhanced route refresh was negotiated (RFC 7313).
    fn on_route_refresh(&mut self, id: PeerId, refresh: &RouteRefresh) {
        let Some(family) = refresh.afi_safi.family() else { return };
        let Some(slot) = self.peers.get_mut(&id) else { return };
        if refresh.subtype != RefreshSubtype::Request || !slot.established {
            return;
        }
        tracing::info!(peer = %slot.neighbor.address, %family, "route refresh requested");
        if slot.enhanced_refresh {
            slot.session
                .send(SessionCommand::RefreshMarker(family, RefreshSubtype::BeginningOfRefresh));
            slot.end_of_refresh_due.push(family);
        }
        if let Err(error) = self.rib.queue_full_table(id, family) {
            tracing::warn!(%error, "cannot queue the table for a refresh");
        }
        self.pump(id);
    }

    pub(super) fn pump_all(&mut self) {
        let ids: Vec<PeerId> =
            self.peers.iter().filter(|(_, slot)| slot.established).map(|(id, _)| *id).collect();
        for id in ids {
            self.pump(id);
        }
    }

    /// Moves export work for one peer into its session, up to the window.
    pub(super) fn pump(&mut self, id: PeerId) {
        let size = export_batch(self.peers.values().filter(|s| s.established).count());
        let Some(slot) = self.peers.get_mut(&id) else { return };
        // After our restart, the RIB holds learned routes back until the
        // peers re-synced (RFC 4724 §4.1); local-only prefixes go at once.
        if !slot.established {
            return;
        }
        while slot.in_flight.len() < EXPORT_WINDOW {
            if !self.export_budget.has_room() {
                if self.rib.export_pending(id) {
                    self.export_budget.wait(id);
                }
                break;
            }
            let Some(batch) = self.rib.next_export_batch(id, size) else { break };
            if let Some(unsendable) = &batch.unsendable {
                report_unsendable(&slot.neighbor.address, batch.family, unsendable);
            }
            // A batch of only prefixes that cannot be encoded: reported, nothing to send.
            if batch.has_output() {
                tracing::trace!(
                    peer = %slot.neighbor.address,
                    withdrawn = batch.withdrawn.len(),
                    groups = batch.groups().len(),
                    "export batch"
                );
                let bytes = batch.heap_bytes();
                slot.session.send(SessionCommand::Export(batch));
                self.export_budget.take(bytes);
                slot.in_flight.push_back(bytes);
            }
        }
        if slot.in_flight.is_empty() && !self.rib.export_pending(id) {
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
}

/// Logs prefixes of one export batch that cannot be encoded for the peer (one
/// line per export batch; `GetPeer` and the metrics
/// count them per family).
fn report_unsendable(peer: &std::net::IpAddr, family: Family, unsendable: &Unsendable) {
    tracing::warn!(
        %peer,
        %family,
        count = unsendable.count,
        first = %unsendable.first,
        max_message_len = unsendable.max_message_len,
        "prefixes not advertised: their attributes do not fit in one UPDATE the peer accepts"
    );
}

/// The families an UPDATE announces or withdraws in (at most two).
fn update_families(update: &UpdateMessage) -> Vec<Family> {
    let mut families = Vec::with_capacity(2);
    if !update.nlri.is_empty() || !update.withdrawn.is_empty() {
        families.push(Family::Ipv4Unicast);
    }
    let reach = update.mp_reach.as_ref().filter(|r| !r.nlri.is_empty()).map(|r| r.family);
    let unreach = update.mp_unreach.as_ref().filter(|u| !u.withdrawn.is_empty()).map(|u| u.family);
    for family in reach.into_iter().chain(unreach) {
        if !families.contains(&family) {
            families.push(family);
        }
    }
    families
}

#[cfg(test)]
mod tests {
    use super::super::{EXPORT_BUDGET, MAX_EXPORT_BATCH, MIN_EXPORT_BATCH};
    use super::*;

    #[test]
    fn peers_share_the_export_budget_down_to_a_minimum_window_each() {
        // One peer gets the deep window a full table needs.
        assert_eq!(EXPORT_WINDOW * export_batch(1), 2 * MAX_EXPORT_BATCH);
        for peers in 1..=2_000 {
            let in_flight = peers * EXPORT_WINDOW * export_batch(peers);
            assert!(
                in_flight <= EXPORT_BUDGET.max(peers * EXPORT_WINDOW * MIN_EXPORT_BATCH),
                "{peers} peers: {in_flight} prefixes in flight"
            );
        }
        // A route server's 100 peers: 4,096 prefixes each (was 32,768).
        assert_eq!(EXPORT_WINDOW * export_batch(100), 4_096);
    }
}
