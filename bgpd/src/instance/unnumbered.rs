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

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use tokio::net::TcpStream;

use super::{Instance, InstanceEvent};
use crate::config::Neighbor;
use crate::peer::SessionCommand;
use crate::unnumbered::{self, Discovery, DiscoveryHandle, Link};
use crate::wire::{Notification, NotificationKind};

/// One interface neighbor of the config and what is known of it.
pub(super) struct InterfaceNeighbor {
    /// As configured: `address` is `::`, the interface index 0.
    template: Neighbor,
    link: Option<Link>,
    /// The peer address whose session runs, with the index it is scoped to.
    running: Option<(Ipv6Addr, u32)>,
    /// Stops the discovery thread when the instance goes.
    _discovery: Option<DiscoveryHandle>,
}

impl InterfaceNeighbor {
    fn name(&self) -> &str {
        self.template.interface.as_ref().map_or("", |i| i.name.as_str())
    }
}

impl Instance {
    /// Starts the discovery thread of every interface neighbor.
    pub(super) fn start_interface_neighbors(&mut self) {
        for template in self.config.interface_neighbors.clone() {
            let Some(interface) = template.interface.clone() else { continue };
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
                _discovery: discovery,
            });
        }
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
