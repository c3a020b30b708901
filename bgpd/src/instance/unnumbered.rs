//! Interface neighbors (BGP unnumbered, see `crate::unnumbered`) in the
//! instance: one discovery thread each, started with the instance; the
//! session of such a neighbor starts once its peer's link-local address is
//! known, from the peer's Router Advertisements or from its connection.
//!
//! Where FRR differs: FRR learns the peer's address only from RAs (zebra's)
//! and the IPv6 neighbour table; we also take it from an incoming connection
//! (any `fe80::/10` source scoped to the interface), as the issue asks. A
//! peer that changes its link-local address gets a new session (the old one
//! is ended with a Cease, "other configuration change"); a vanished interface
//! leaves the session to its hold timer and the discovery to retry.
//!
//! Interface neighbors come from the config file or from AddPeer (keyed by
//! their interface, at most one per interface: see `peer_ops`); DeletePeer
//! drops the entry, whose [`DiscoveryHandle`] stops the thread (and closes
//! its raw socket) within [`crate::unnumbered::POLL_INTERVAL`], and ends the
//! running session. Until the peer is found, ListPeers and GetPeer show the
//! entry with address `::` and, while the interface is missing or has no
//! link-local address, the reason in `device_problem`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use tokio::net::TcpStream;

use super::peer_ops::{NewNeighbor, PeerOpAnswer, PeerOpError};
use super::status::{PeerView, SessionStatus};
use super::{Instance, InstanceEvent};
use crate::config::Neighbor;
use crate::peer::SessionCommand;
use crate::unnumbered::{self, Discovery, DiscoveryHandle, Link};
use crate::wire::{Notification, NotificationKind};

/// Most interface neighbors (config file and API together): each holds a
/// thread and, while its interface exists, a raw socket. AddPeer beyond it
/// is refused (RESOURCE_EXHAUSTED); far more than a host's links.
pub const MAX_INTERFACE_NEIGHBORS: usize = 256;

/// One interface neighbor of the config and what is known of it.
pub(super) struct InterfaceNeighbor {
    /// As configured: `address` is `::`, the interface index 0.
    template: Neighbor,
    link: Option<Link>,
    /// The peer address whose session runs, with the index it is scoped to.
    running: Option<(Ipv6Addr, u32)>,
    /// Added through the API, not the config file: reload leaves it alone.
    from_api: bool,
    /// Stops the discovery thread when dropped (the neighbor deleted, or
    /// the instance gone).
    _discovery: Option<DiscoveryHandle>,
}

impl InterfaceNeighbor {
    /// Its interface's name.
    pub(super) fn name(&self) -> &str {
        self.template.interface.as_ref().map_or("", |i| i.name.as_str())
    }

    /// Why no session can start yet, for `device_problem`.
    fn problem(&self) -> Option<String> {
        self.link.is_none().then(|| {
            format!(
                "interface {}: not found or without an IPv6 link-local address; looking again every second",
                self.name()
            )
        })
    }
}

impl Instance {
    /// Starts the discovery thread of every interface neighbor.
    pub(super) fn start_interface_neighbors(&mut self) {
        for template in self.config.interface_neighbors.clone() {
            self.start_interface_neighbor(template, false);
        }
    }

    /// Starts the discovery thread of one interface neighbor.
    fn start_interface_neighbor(&mut self, template: Neighbor, from_api: bool) {
        let Some(interface) = template.interface.clone() else { return };
        let events = self.events.clone();
        let report =
            move |discovery| events.blocking_send(InstanceEvent::Unnumbered(discovery)).is_ok();
        let discovery = match unnumbered::spawn(interface.name.clone(), report) {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::error!(interface = %interface.name, %error, "cannot start the neighbor discovery thread");
                None
            }
        };
        tracing::info!(interface = %interface.name, "neighbour over interface configured, looking for its link-local address");
        self.interface_neighbors.push(InterfaceNeighbor {
            template,
            link: None,
            running: None,
            from_api,
            _discovery: discovery,
        });
    }

    /// Stops interface neighbor `index`: its discovery thread and its session.
    fn stop_interface_neighbor(&mut self, index: usize, cease: Notification) -> InterfaceNeighbor {
        let session = self.interface_neighbors.get(index).and_then(|e| self.session_of(e));
        let entry = self.interface_neighbors.remove(index);
        if let Some(address) = session {
            self.remove_neighbor(address, cease);
        }
        tracing::info!(interface = %entry.name(), "neighbour over interface removed");
        entry
    }

    /// The address of the session of `entry`, if it runs (the address's
    /// slot is this interface neighbor's).
    fn session_of(&self, entry: &InterfaceNeighbor) -> Option<IpAddr> {
        let (address, _) = entry.running?;
        let address = IpAddr::V6(address);
        let slot = self.by_address.get(&address).and_then(|id| self.peers.get(id))?;
        slot.neighbor.interface.as_ref().is_some_and(|i| i.name == entry.name()).then_some(address)
    }

    fn interface_index(&self, interface: &str) -> Option<usize> {
        self.interface_neighbors.iter().position(|n| n.name() == interface)
    }

    fn interface_not_found(interface: &str) -> PeerOpError {
        PeerOpError::InterfaceNotFound { field: "address", interface: interface.to_string() }
    }

    /// The view of interface neighbor `index`: its session's, or while its
    /// peer is unknown its template with what is wrong.
    fn interface_view(&self, index: usize) -> Option<PeerView> {
        let entry = self.interface_neighbors.get(index)?;
        if let Some(view) = self.session_of(entry).and_then(|address| self.peer_view(address)) {
            return Some(view);
        }
        Some(pending_view(entry))
    }

    /// The interface neighbors whose session does not run, for ListPeers
    /// and GetPeer.
    pub(super) fn pending_interface_views(&self) -> Vec<PeerView> {
        self.interface_neighbors
            .iter()
            .filter(|n| self.session_of(n).is_none())
            .map(pending_view)
            .collect()
    }

    /// How many interface neighbors have no session (configured peers that
    /// `self.peers` does not count).
    pub(super) fn pending_interface_count(&self) -> usize {
        self.interface_neighbors.iter().filter(|n| self.session_of(n).is_none()).count()
    }

    /// The address of the running session of interface peer `interface`.
    pub(super) fn running_interface_peer(&self, interface: &str) -> Result<IpAddr, PeerOpError> {
        let index =
            self.interface_index(interface).ok_or_else(|| Self::interface_not_found(interface))?;
        self.session_of(&self.interface_neighbors[index])
            .ok_or_else(|| PeerOpError::InterfaceNotRunning(interface.to_string()))
    }

    /// AddPeer with `interface`: one peer per interface.
    pub(super) fn api_add_interface_peer(
        &mut self,
        template: Neighbor,
    ) -> Result<PeerOpAnswer, PeerOpError> {
        let Some(interface) = template.interface.as_ref().map(|i| i.name.clone()) else {
            return Err(PeerOpError::InterfaceNotFound {
                field: "peer.interface",
                interface: String::new(),
            });
        };
        if self.interface_index(&interface).is_some() {
            return Err(PeerOpError::InterfaceExists(interface));
        }
        if self.interface_neighbors.len() >= MAX_INTERFACE_NEIGHBORS {
            return Err(PeerOpError::TooManyInterfacePeers { max: MAX_INTERFACE_NEIGHBORS });
        }
        self.start_interface_neighbor(template, true);
        tracing::info!(interface = %interface, "neighbour over interface added through the API");
        let view = self.interface_index(&interface).and_then(|i| self.interface_view(i));
        Ok(PeerOpAnswer { view, session_reset: false })
    }

    /// UpdatePeer with `interface`: the template changes, and the running
    /// session as UpdatePeer changes a peer by address.
    pub(super) fn api_update_interface_peer(
        &mut self,
        new: NewNeighbor,
    ) -> Result<PeerOpAnswer, PeerOpError> {
        let interface = new.neighbor.interface.as_ref().map(|i| i.name.clone()).unwrap_or_default();
        let index = self.interface_index(&interface).ok_or(PeerOpError::InterfaceNotFound {
            field: "peer.interface",
            interface: interface.clone(),
        })?;
        let entry = &self.interface_neighbors[index];
        let template = new.clone().with_running_values(&entry.template);
        let (running, from_api) =
            (entry.running.filter(|_| self.session_of(entry).is_some()), entry.from_api);
        if self.neighbor_change(&entry.template, &template).is_none() {
            let view = self.interface_view(index);
            return Ok(PeerOpAnswer { view, session_reset: false });
        }
        tracing::info!(interface = %interface, "neighbour over interface updated through the API");
        self.interface_neighbors[index].template = template.clone();
        if !from_api {
            // A reload compares the file with what runs, so the file wins
            // again where the two differ.
            if let Some(entry) = self
                .config
                .interface_neighbors
                .iter_mut()
                .find(|n| n.interface.as_ref().is_some_and(|i| i.name == interface))
            {
                *entry = template.clone();
            }
        }
        match running {
            Some((address, scope)) => {
                let mut neighbor = template;
                neighbor.address = IpAddr::V6(address);
                if let Some(interface) = neighbor.interface.as_mut() {
                    interface.index = scope;
                }
                self.api_update_peer(NewNeighbor {
                    neighbor,
                    keep_password: false,
                    keep_soft_reconfiguration: false,
                })
            }
            _ => Ok(PeerOpAnswer { view: self.interface_view(index), session_reset: false }),
        }
    }

    /// DeletePeer of an interface peer: its discovery thread and session end.
    pub(super) fn api_delete_interface_peer(
        &mut self,
        interface: &str,
    ) -> Result<PeerOpAnswer, PeerOpError> {
        let index =
            self.interface_index(interface).ok_or_else(|| Self::interface_not_found(interface))?;
        let cease = Notification::new(NotificationKind::PeerDeconfigured, Vec::new());
        let entry = self.stop_interface_neighbor(index, cease);
        if !entry.from_api {
            self.config
                .interface_neighbors
                .retain(|n| n.interface.as_ref().is_none_or(|i| i.name != interface));
        }
        tracing::info!(interface, "neighbour over interface deleted through the API");
        Ok(PeerOpAnswer { view: None, session_reset: false })
    }

    /// EnablePeer (`message` `None`) or DisablePeer of an interface peer:
    /// the template keeps the state for the sessions to come, the running
    /// session changes now.
    pub(super) fn api_enable_interface_peer(
        &mut self,
        interface: &str,
        disable: Option<String>,
    ) -> Result<PeerOpAnswer, PeerOpError> {
        let index =
            self.interface_index(interface).ok_or_else(|| Self::interface_not_found(interface))?;
        self.interface_neighbors[index].template.enabled = disable.is_none();
        if let Ok(address) = self.running_interface_peer(interface) {
            return match disable {
                None => self.api_enable_peer(address),
                Some(message) => self.api_disable_peer(address, message),
            };
        }
        Ok(PeerOpAnswer { view: self.interface_view(index), session_reset: false })
    }

    /// A discovery thread saw its interface or its peer change.
    pub(super) fn on_discovery(&mut self, discovery: Discovery) {
        let Some(index) =
            self.interface_neighbors.iter().position(|n| n.name() == discovery.interface)
        else {
            return;
        };
        self.interface_neighbors[index].link = discovery.link;
        if let (Some(link), Some(peer)) = (discovery.link, discovery.peer) {
            self.run_interface_neighbor(index, link, peer);
        }
    }

    /// Starts (or moves) the session of interface neighbor `index` to `peer`.
    fn run_interface_neighbor(&mut self, index: usize, link: Link, peer: Ipv6Addr) {
        let entry = &mut self.interface_neighbors[index];
        if entry.running == Some((peer, link.index)) {
            return;
        }
        let previous = entry.running.replace((peer, link.index));
        let mut neighbor = entry.template.clone();
        neighbor.address = IpAddr::V6(peer);
        if let Some(interface) = neighbor.interface.as_mut() {
            interface.index = link.index;
        }
        tracing::info!(
            interface = %entry.name(),
            peer = %peer,
            local = %link.link_local,
            "found the neighbour's link-local address"
        );
        if let Some((old, _)) = previous {
            let cease = Notification::new(NotificationKind::OtherConfigurationChange, Vec::new());
            self.remove_neighbor(IpAddr::V6(old), cease);
        }
        if self.by_address.contains_key(&neighbor.address) {
            tracing::error!(peer = %neighbor.display_name(), "another neighbour has this address; not started");
            self.interface_neighbors[index].running = None;
            return;
        }
        self.add_neighbor(neighbor);
    }

    /// An inbound connection no neighbor has the address of: if it comes
    /// from a link-local address scoped to an interface neighbor's
    /// interface, that is the peer. Gives the stream back otherwise.
    pub(super) fn accept_on_interface(
        &mut self,
        stream: TcpStream,
        remote: SocketAddr,
    ) -> Option<TcpStream> {
        let SocketAddr::V6(remote) = remote else { return Some(stream) };
        if !remote.ip().is_unicast_link_local() || remote.scope_id() == 0 {
            return Some(stream);
        }
        let Some(index) = self
            .interface_neighbors
            .iter()
            .position(|n| n.link.is_some_and(|l| l.index == remote.scope_id()))
        else {
            return Some(stream);
        };
        let Some(link) = self.interface_neighbors[index].link else { return Some(stream) };
        self.run_interface_neighbor(index, link, *remote.ip());
        let id = self.by_address.get(&IpAddr::V6(*remote.ip()))?;
        match self.peers.get(id) {
            Some(slot) if slot.neighbor.enabled => {
                slot.session.send(SessionCommand::Inbound(stream));
                None
            }
            _ => Some(stream),
        }
    }

    /// Applies a reloaded config's interface neighbors (SIGHUP): by
    /// interface name, a removed one stops, an added one starts, a changed
    /// one starts again (its session, if any, ends with Cease / Other
    /// Configuration Change). API interface peers stay; a file entry on the
    /// interface of an API peer is skipped with an error, as for addresses.
    pub(super) fn reload_interface_neighbors(&mut self, new: &[Neighbor]) -> Vec<Neighbor> {
        let name = |n: &Neighbor| n.interface.as_ref().map_or(String::new(), |i| i.name.clone());
        let mut kept = Vec::with_capacity(new.len());
        for neighbor in new {
            let api_peer = self
                .interface_index(&name(neighbor))
                .is_some_and(|i| self.interface_neighbors[i].from_api);
            if api_peer {
                tracing::error!(
                    interface = %name(neighbor),
                    "reload: a neighbour over this interface was added through the API; the config entry is ignored \
                     (delete the API peer and reload to use it)"
                );
            } else {
                kept.push(neighbor.clone());
            }
        }
        let mut index = 0;
        while index < self.interface_neighbors.len() {
            let entry = &self.interface_neighbors[index];
            let same = kept.contains(&entry.template);
            if entry.from_api || same {
                index += 1;
                continue;
            }
            let removed = !kept.iter().any(|n| name(n) == entry.name());
            let cease = if removed {
                Notification::new(NotificationKind::PeerDeconfigured, Vec::new())
            } else {
                Notification::new(NotificationKind::OtherConfigurationChange, Vec::new())
            };
            self.stop_interface_neighbor(index, cease);
        }
        for neighbor in &kept {
            if self.interface_index(&name(neighbor)).is_none() {
                self.start_interface_neighbor(neighbor.clone(), false);
            }
        }
        kept
    }

    /// Our global IPv6 address on an interface neighbor's interface, the
    /// first next hop we announce to it (the link-local one comes from the
    /// session's local address).
    pub(super) fn interface_global(&self, neighbor: &Neighbor) -> Option<Ipv6Addr> {
        let interface = neighbor.interface.as_ref()?;
        self.interface_neighbors
            .iter()
            .find(|n| n.name() == interface.name)
            .and_then(|n| n.link)
            .filter(|l| l.index == interface.index)
            .and_then(|l| l.global)
    }
}

/// An interface neighbor whose peer is not known yet, as the API shows it.
fn pending_view(entry: &InterfaceNeighbor) -> PeerView {
    let status = SessionStatus { device_problem: entry.problem(), ..SessionStatus::default() };
    PeerView::unconnected(&entry.template, &status)
}
