//! The administrative peer requests of the API, run by the instance (the
//! single owner of the neighbours): add, update, delete, enable, disable and
//! reset a peer, and the rule that keeps API peers out of a config reload
//! (see `api::peer_ops` for that rule and the RFCs).
//!
//! UpdatePeer reuses the reload diff ([`ConfigDiff`]): a change of a field
//! that the OPEN or the TCP connection depends on resets the session with
//! Cease / Other Configuration Change (RFC 4486 subcode 6); others apply in
//! place, as a reload would apply them.

use std::net::IpAddr;

use super::Instance;
use crate::api::peer::ResetCommand;
use crate::api::peer_ops::{NewNeighbor, PeerOp, PeerOpAnswer, PeerOpError, neighbor_from};
use crate::api::peers::PeerView;
use crate::config::{Config, ConfigDiff, Neighbor};
use crate::peer::SessionCommand;
use crate::wire::{Family, Notification, NotificationKind, RefreshSubtype};

impl Instance {
    /// Runs one administrative peer request.
    pub(super) fn on_peer_op(&mut self, op: PeerOp) -> Result<PeerOpAnswer, PeerOpError> {
        match op {
            PeerOp::Add(settings) => {
                self.api_add_peer(neighbor_from(&settings, self.config.global.asn)?)
            }
            PeerOp::Update(settings) => {
                self.api_update_peer(neighbor_from(&settings, self.config.global.asn)?)
            }
            PeerOp::Delete(address) => self.api_delete_peer(address),
            PeerOp::Enable(address) => self.api_enable_peer(address),
            PeerOp::Disable(address, message) => self.api_disable_peer(address, message),
            PeerOp::Reset(address, command) => self.api_reset_peer(address, command),
        }
    }

    /// The peer at `address` as the API reports it.
    pub(super) fn peer_view(&self, address: IpAddr) -> Option<PeerView> {
        let id = *self.by_address.get(&address)?;
        let slot = self.peers.get(&id)?;
        Some(PeerView::new(&slot.neighbor, &slot.status, &self.rib, id))
    }

    fn answer(&self, address: IpAddr, session_reset: bool) -> Result<PeerOpAnswer, PeerOpError> {
        Ok(PeerOpAnswer { view: self.peer_view(address), session_reset })
    }

    fn api_add_peer(&mut self, new: NewNeighbor) -> Result<PeerOpAnswer, PeerOpError> {
        let address = new.neighbor.address;
        if self.by_address.contains_key(&address) {
            return Err(PeerOpError::Exists(address));
        }
        if new.keep_password {
            return Err(PeerOpError::NothingToKeep);
        }
        self.add_neighbor(new.neighbor);
        if let Some(slot) = self.by_address.get(&address).and_then(|id| self.peers.get_mut(id)) {
            slot.from_api = true;
        }
        tracing::info!(peer = %address, "neighbour added through the API");
        self.answer(address, false)
    }

    fn api_update_peer(&mut self, new: NewNeighbor) -> Result<PeerOpAnswer, PeerOpError> {
        let address = new.neighbor.address;
        let slot = self
            .by_address
            .get(&address)
            .and_then(|id| self.peers.get(id))
            .ok_or(PeerOpError::NotFound { field: "peer.address", address })?;
        let old = slot.neighbor.clone();
        let from_api = slot.from_api;
        let mut neighbor = new.neighbor;
        if new.keep_password {
            neighbor.password = old.password.clone();
        }
        // Keys the API does not carry keep their running values.
        neighbor.next_hop_self = old.next_hop_self;
        neighbor.delay_open_time = old.delay_open_time;
        let single = |n: &Neighbor| Config {
            global: self.config.global.clone(),
            api: self.config.api.clone(),
            neighbors: vec![n.clone()],
            routes: Vec::new(),
            layer2: Vec::new(),
            layer2_gratuitous: self.config.layer2_gratuitous,
        };
        let diff = ConfigDiff::between(&single(&old), &single(&neighbor));
        let Some(change) = diff.neighbors_changed.into_iter().next() else {
            return self.answer(address, false);
        };
        tracing::info!(peer = %address, fields = ?change.fields, reset = change.reset, "neighbour updated through the API");
        if !from_api {
            // A reload compares the file with what runs, so the file wins
            // again where the two differ.
            if let Some(entry) = self.config.neighbors.iter_mut().find(|n| n.address == address) {
                *entry = neighbor.clone();
            }
        }
        if change.reset {
            let cease = Notification::new(NotificationKind::OtherConfigurationChange, Vec::new());
            self.remove_neighbor(address, cease);
            self.add_neighbor(neighbor);
            if let Some(slot) = self.by_address.get(&address).and_then(|id| self.peers.get_mut(id))
            {
                slot.from_api = from_api;
            }
            return self.answer(address, true);
        }
        if let Some(slot) = self.by_address.get(&address).and_then(|id| self.peers.get_mut(id)) {
            if slot.neighbor.enabled && !neighbor.enabled {
                let cease = Notification::shutdown(
                    NotificationKind::AdministrativeShutdown,
                    "disabled by configuration",
                );
                slot.session.send(SessionCommand::Stop(cease));
            } else if !slot.neighbor.enabled && neighbor.enabled {
                slot.status.admin_message = None;
                slot.session.send(SessionCommand::Start);
            }
            slot.neighbor = neighbor;
        }
        self.answer(address, false)
    }

    fn api_delete_peer(&mut self, address: IpAddr) -> Result<PeerOpAnswer, PeerOpError> {
        let id = *self
            .by_address
            .get(&address)
            .ok_or(PeerOpError::NotFound { field: "address", address })?;
        let from_api = self.peers.get(&id).is_some_and(|slot| slot.from_api);
        if !from_api {
            self.config.neighbors.retain(|n| n.address != address);
        }
        tracing::info!(peer = %address, "neighbour deleted through the API");
        self.remove_neighbor(
            address,
            Notification::new(NotificationKind::PeerDeconfigured, Vec::new()),
        );
        Ok(PeerOpAnswer { view: None, session_reset: false })
    }

    fn api_enable_peer(&mut self, address: IpAddr) -> Result<PeerOpAnswer, PeerOpError> {
        let slot = self
            .by_address
            .get(&address)
            .and_then(|id| self.peers.get_mut(id))
            .ok_or(PeerOpError::NotFound { field: "address", address })?;
        if !slot.neighbor.enabled {
            tracing::info!(peer = %address, "neighbour enabled through the API");
            slot.neighbor.enabled = true;
            slot.status.admin_message = None;
            slot.session.send(SessionCommand::Start);
        }
        self.answer(address, false)
    }

    fn api_disable_peer(
        &mut self,
        address: IpAddr,
        message: String,
    ) -> Result<PeerOpAnswer, PeerOpError> {
        let slot = self
            .by_address
            .get(&address)
            .and_then(|id| self.peers.get_mut(id))
            .ok_or(PeerOpError::NotFound { field: "address", address })?;
        if slot.neighbor.enabled {
            tracing::info!(peer = %address, %message, "neighbour disabled through the API");
            slot.neighbor.enabled = false;
            let cease = Notification::shutdown(NotificationKind::AdministrativeShutdown, &message);
            slot.status.admin_message = Some(message);
            slot.session.send(SessionCommand::Stop(cease));
        }
        self.answer(address, false)
    }

    fn api_reset_peer(
        &mut self,
        address: IpAddr,
        command: ResetCommand,
    ) -> Result<PeerOpAnswer, PeerOpError> {
        let id = *self
            .by_address
            .get(&address)
            .ok_or(PeerOpError::NotFound { field: "address", address })?;
        let slot =
            self.peers.get_mut(&id).ok_or(PeerOpError::NotFound { field: "address", address })?;
        let (inbound, outbound, requested) = match command {
            ResetCommand::Hard { message } => {
                tracing::info!(peer = %address, %message, "hard reset through the API");
                let cease = Notification::shutdown(NotificationKind::AdministrativeReset, &message);
                slot.session.send(SessionCommand::Stop(cease));
                if slot.neighbor.enabled {
                    slot.session.send(SessionCommand::Start);
                }
                return self.answer(address, true);
            }
            ResetCommand::Soft { inbound, outbound, families } => (inbound, outbound, families),
        };
        let facts = match (&slot.status.established, slot.established) {
            (Some(facts), true) => facts,
            _ => return Err(PeerOpError::NotEstablished(address)),
        };
        let families: Vec<Family> =
            if requested.is_empty() { facts.families.clone() } else { requested };
        if let Some(family) = families.iter().find(|f| !facts.families.contains(f)) {
            return Err(PeerOpError::FamilyNotNegotiated { peer: address, family: *family });
        }
        if inbound && !facts.route_refresh {
            return Err(PeerOpError::NoRouteRefresh(address));
        }
        if inbound {
            for family in &families {
                slot.session.send(SessionCommand::RefreshMarker(*family, RefreshSubtype::Request));
            }
        }
        if outbound {
            // A plain re-send: no BoRR/EoRR markers, which RFC 7313 ties to
            // answering the peer's request.
            for family in &families {
                if let Err(error) = self.rib.queue_full_table(id, *family) {
                    tracing::warn!(%error, "cannot queue the table for a soft reset");
                }
            }
            self.pump(id);
        }
        tracing::info!(peer = %address, inbound, outbound, ?families, "soft reset through the API");
        self.answer(address, false)
    }

    /// Drops from a reloaded config every neighbour whose address is an API
    /// peer's: the API peer stays, the file's entry is an error for that
    /// entry only (logged), and is picked up by a later reload once the API
    /// peer is gone.
    pub(super) fn drop_api_conflicts(&self, new: &mut Config) {
        new.neighbors.retain(|neighbor| {
            let api_peer = self
                .by_address
                .get(&neighbor.address)
                .and_then(|id| self.peers.get(id))
                .is_some_and(|slot| slot.from_api);
            if api_peer {
                tracing::error!(
                    peer = %neighbor.address,
                    "reload: this neighbour was added through the API; the config entry is ignored \
                     (delete the API peer and reload to use it)"
                );
            }
            !api_peer
        });
    }
}
