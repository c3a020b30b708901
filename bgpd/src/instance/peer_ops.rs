//! The administrative peer requests of the API (`AddPeer`, `UpdatePeer`,
//! `DeletePeer`, `EnablePeer`, `DisablePeer`, `ResetPeer`), run by the
//! instance (the single owner of the neighbors): the requests, their typed
//! failures, and their execution. The API validates AddPeer and UpdatePeer
//! into the same [`Neighbor`] a `[[neighbors]]` table of the config file
//! becomes.
//!
//! RFCs: RFC 4486 (Cease subcodes: 2 Administrative Shutdown, 3 Peer
//! De-configured, 4 Administrative Reset, 6 Other Configuration Change),
//! RFC 9003 (shutdown communication), RFC 2918 and RFC 7313 (route refresh).
//!
//! # API peers and SIGHUP reload
//!
//! A peer added through the API is *not* part of the config file, and reload
//! only adds, changes and removes the peers the file names: API peers survive
//! every reload. A reloaded file that names the address of an API peer has
//! that entry skipped and an error logged (the API peer stays as it is). A
//! config-file peer may be changed through the API too. UpdatePeer and
//! DeletePeer change what runs, so the next reload finds the file different
//! and makes the peer match the file again (a deleted config peer comes
//! back). EnablePeer and DisablePeer are operational state: they hold across
//! reloads until the file's entry for that peer itself changes.
//!
//! # Interface peers (BGP unnumbered)
//!
//! A peer over an interface is named by its interface, not by an address
//! ([`PeerName::Interface`]; `%eth1` in the API's `address` fields): its
//! address is discovered and may change. AddPeer with `interface` starts the
//! same discovery thread as a config-file interface neighbor
//! (`instance::unnumbered`); DeletePeer stops it and the session. A request
//! that names the running session of an interface peer by its link-local
//! address acts on the interface peer (UpdatePeer must name the interface).
//!
//! UpdatePeer reuses the reload diff ([`ConfigDiff`]): a change of a field
//! that the OPEN or the TCP connection depends on resets the session with
//! Cease / Other Configuration Change (RFC 4486 subcode 6); others apply in
//! place, as a reload would apply them.

use std::net::IpAddr;

use super::Instance;
use super::status::PeerView;
use crate::config::{Config, ConfigDiff, Neighbor, NeighborField, rules};
use crate::peer::SessionCommand;
use crate::wire::{Family, Notification, NotificationKind, RefreshSubtype};

/// How a request names a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerName {
    /// A peer by address (a running interface peer's session too, by the
    /// link-local address found).
    Address(IpAddr),
    /// An interface peer (BGP unnumbered) by its interface.
    Interface(String),
}

impl std::fmt::Display for PeerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerName::Address(address) => write!(f, "{address}"),
            PeerName::Interface(name) => write!(f, "%{name}"),
        }
    }
}

/// One administrative peer request, validated.
#[derive(Debug)]
pub enum PeerOp {
    /// Finished by the instance with [`NewNeighbor::resolve`] (it knows the
    /// daemon's ASN).
    Add(NewNeighbor),
    Update(NewNeighbor),
    Delete(PeerName),
    Enable(PeerName),
    /// With the RFC 9003 shutdown communication (may be empty).
    Disable(PeerName, String),
    Reset(PeerName, ResetCommand),
}

/// A neighbor built from an AddPeer or UpdatePeer request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNeighbor {
    /// With a dynamic AS, `remote_asn` is set by [`NewNeighbor::resolve`].
    pub neighbor: Neighbor,
    /// The request said "keep the configured password" (`password_set` with
    /// an empty `password`): UpdatePeer copies it from the running neighbor.
    pub keep_password: bool,
    /// `soft_reconfiguration_inbound` was unset: UpdatePeer keeps the running value.
    pub keep_soft_reconfiguration: bool,
}

impl NewNeighbor {
    /// Finishes the neighbor with the daemon's ASN: a dynamic internal AS
    /// is ours towards the neighbor (its `local_asn`, else `daemon_asn`).
    pub fn resolve(mut self, daemon_asn: u32) -> Result<Self, PeerOpError> {
        if let Some(dynamic) = self.neighbor.dynamic_asn {
            self.neighbor.remote_asn =
                rules::dynamic_remote_asn(dynamic, self.neighbor.own_asn(daemon_asn));
        }
        Ok(self)
    }

    /// The neighbor UpdatePeer asks for, with what the request keeps taken
    /// from the running `old` one.
    pub fn with_running_values(self, old: &Neighbor) -> Neighbor {
        let mut neighbor = self.neighbor;
        if self.keep_password {
            neighbor.password = old.password.clone();
        }
        // Keys the API does not carry keep their running values.
        neighbor.next_hop_self = old.next_hop_self;
        if self.keep_soft_reconfiguration {
            neighbor.soft_reconfiguration_inbound = old.soft_reconfiguration_inbound;
        }
        neighbor.delay_open_time = old.delay_open_time;
        if neighbor.bfd.is_none() {
            // An UpdatePeer without a `bfd` message keeps the running BFD.
            neighbor.bfd = old.bfd;
        }
        neighbor
    }
}

/// What ResetPeer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResetCommand {
    /// Close the session with Cease / Administrative Reset and this message.
    Hard { message: String },
    /// Route refresh in, resend out, or both, for these families (empty:
    /// every negotiated family).
    Soft { inbound: bool, outbound: bool, families: Vec<Family> },
}

/// What a successful request answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerOpAnswer {
    /// The peer after the change (none for DeletePeer).
    pub view: Option<PeerView>,
    /// UpdatePeer: the change needed a new session.
    pub session_reset: bool,
}

/// Why an administrative peer request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerOpError {
    #[error("peer.address \"{0}\" is already a configured peer")]
    Exists(IpAddr),
    #[error("{field} \"{address}\" is not a configured peer")]
    NotFound { field: &'static str, address: IpAddr },
    #[error("peer.interface \"{0}\" already has a peer")]
    InterfaceExists(String),
    #[error("peer.interface: {max} peers over an interface are configured, the most bgpd runs")]
    TooManyInterfacePeers { max: usize },
    #[error("{field} \"%{interface}\" is not a configured peer")]
    InterfaceNotFound { field: &'static str, interface: String },
    #[error(
        "peer %{0} has not found its neighbor on the interface yet, so there is no session to reset"
    )]
    InterfaceNotRunning(String),
    #[error(
        "peer.address \"{address}\" is the session of the peer over interface {interface}: name it with peer.interface \"{interface}\" and an empty peer.address"
    )]
    ByInterface { address: IpAddr, interface: String },
    #[error("peer {0} is not Established, so a soft reset has no session to act on")]
    NotEstablished(IpAddr),
    #[error("peer {0} did not advertise the route refresh capability (RFC 2918)")]
    NoRouteRefresh(IpAddr),
    #[error("families: {family} is not negotiated with peer {peer}")]
    FamilyNotNegotiated { peer: IpAddr, family: Family },
    #[error("{field} {value} is not supported by bgpd yet")]
    Unsupported { field: &'static str, value: String },
    #[error("peer.password_set without peer.password: there is no password to keep for a new peer")]
    NothingToKeep,
    #[error(
        "{field}[{index}] {name:?} is not a policy of the configuration (nor accept-all / reject-all)"
    )]
    UnknownPolicy { field: &'static str, index: usize, name: String },
}

impl Instance {
    /// Runs one administrative peer request.
    pub(super) fn on_peer_op(&mut self, op: PeerOp) -> Result<PeerOpAnswer, PeerOpError> {
        match op {
            PeerOp::Add(new) => {
                self.known_policies(&new.neighbor)?;
                let new = new.resolve(self.config.global.asn)?;
                if new.neighbor.interface.is_some() {
                    return self.api_add_interface_peer(new.neighbor);
                }
                self.api_add_peer(new)
            }
            PeerOp::Update(new) => {
                self.known_policies(&new.neighbor)?;
                let new = new.resolve(self.config.global.asn)?;
                if new.neighbor.interface.is_some() {
                    return self.api_update_interface_peer(new);
                }
                if let Some(interface) = self.interface_of(new.neighbor.address) {
                    return Err(PeerOpError::ByInterface {
                        address: new.neighbor.address,
                        interface,
                    });
                }
                self.api_update_peer(new)
            }
            PeerOp::Delete(name) => match self.by_interface(name) {
                PeerName::Address(address) => self.api_delete_peer(address),
                PeerName::Interface(interface) => self.api_delete_interface_peer(&interface),
            },
            PeerOp::Enable(name) => match self.by_interface(name) {
                PeerName::Address(address) => self.api_enable_peer(address),
                PeerName::Interface(interface) => self.api_enable_interface_peer(&interface, None),
            },
            PeerOp::Disable(name, message) => match self.by_interface(name) {
                PeerName::Address(address) => self.api_disable_peer(address, message),
                PeerName::Interface(interface) => {
                    self.api_enable_interface_peer(&interface, Some(message))
                }
            },
            PeerOp::Reset(name, command) => {
                let address = match name {
                    PeerName::Address(address) => address,
                    PeerName::Interface(interface) => self.running_interface_peer(&interface)?,
                };
                self.api_reset_peer(address, command)
            }
        }
    }

    /// The interface of the interface peer whose session runs at `address`.
    fn interface_of(&self, address: IpAddr) -> Option<String> {
        let slot = self.by_address.get(&address).and_then(|id| self.peers.get(id))?;
        slot.neighbor.interface.as_ref().map(|i| i.name.clone())
    }

    /// An address that is a running interface peer's session names that
    /// interface peer.
    fn by_interface(&self, name: PeerName) -> PeerName {
        match name {
            PeerName::Address(address) => {
                self.interface_of(address).map_or(name, PeerName::Interface)
            }
            interface => interface,
        }
    }

    /// Every policy a neighbor's chains name exists in the running book.
    fn known_policies(&self, neighbor: &Neighbor) -> Result<(), PeerOpError> {
        for (field, names) in [
            ("peer.import_policy", &neighbor.import_policy),
            ("peer.export_policy", &neighbor.export_policy),
        ] {
            if let Some(unknown) = self.config.policies.unknown_policies(names).into_iter().next() {
                return Err(PeerOpError::UnknownPolicy {
                    field,
                    index: unknown.index,
                    name: unknown.name,
                });
            }
        }
        Ok(())
    }

    /// What changes from `old` to `new` (the reload diff of one neighbor).
    pub(super) fn neighbor_change(
        &self,
        old: &Neighbor,
        new: &Neighbor,
    ) -> Option<crate::config::NeighborChange> {
        let single = |n: &Neighbor| Config {
            global: self.config.global.clone(),
            api: self.config.api.clone(),
            neighbors: vec![n.clone()],
            interface_neighbors: Vec::new(),
            routes: Vec::new(),
            layer2: Vec::new(),
            metrics: None,
            layer2_gratuitous: self.config.layer2_gratuitous,
            policies: self.config.policies.clone(),
        };
        ConfigDiff::between(&single(old), &single(new)).neighbors_changed.into_iter().next()
    }

    /// The peer at `address` as the API reports it.
    pub(super) fn peer_view(&self, address: IpAddr) -> Option<PeerView> {
        let id = *self.by_address.get(&address)?;
        let slot = self.peers.get(&id)?;
        Some(PeerView::new(&slot.neighbor, &slot.status, &self.rib, id))
    }

    pub(super) fn answer(
        &self,
        address: IpAddr,
        session_reset: bool,
    ) -> Result<PeerOpAnswer, PeerOpError> {
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

    pub(super) fn api_update_peer(
        &mut self,
        new: NewNeighbor,
    ) -> Result<PeerOpAnswer, PeerOpError> {
        let address = new.neighbor.address;
        let slot = self
            .by_address
            .get(&address)
            .and_then(|id| self.peers.get(id))
            .ok_or(PeerOpError::NotFound { field: "peer.address", address })?;
        let old = slot.neighbor.clone();
        let from_api = slot.from_api;
        let neighbor = new.with_running_values(&old);
        let Some(change) = self.neighbor_change(&old, &neighbor) else {
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
        if change.fields.iter().any(|f| f.changes_policy())
            && let Some(&id) = self.by_address.get(&address)
        {
            self.reapply_policies(&[id]);
        }
        self.refresh_expected_blocks();
        if change.fields.contains(&NeighborField::MaxPrefixes)
            && let Some(&id) = self.by_address.get(&address)
        {
            self.max_prefix_changed(id);
        }
        self.bfd_sync_address(address);
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

    pub(super) fn api_enable_peer(&mut self, address: IpAddr) -> Result<PeerOpAnswer, PeerOpError> {
        let slot = self
            .by_address
            .get(&address)
            .and_then(|id| self.peers.get_mut(id))
            .ok_or(PeerOpError::NotFound { field: "address", address })?;
        let held = slot.status.max_prefix.held.is_some();
        if !slot.neighbor.enabled {
            tracing::info!(peer = %address, "neighbour enabled through the API");
            slot.neighbor.enabled = true;
            slot.status.admin_message = None;
            // Started here, so a max-prefix hold just ends.
            slot.status.max_prefix.release();
            slot.session.send(SessionCommand::Start);
        } else if held && let Some(&id) = self.by_address.get(&address) {
            self.max_prefix_release(id, "EnablePeer");
        }
        self.bfd_sync_address(address);
        self.answer(address, false)
    }

    pub(super) fn api_disable_peer(
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
        self.bfd_sync_address(address);
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
                // A reset ends a max-prefix hold (FRR's `clear bgp`).
                slot.status.max_prefix.release();
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
