//! A neighbor that is this host: connecting to one of our own addresses
//! reaches our own listener, so our own OPEN comes back. RFC 4271 §6.2 would
//! answer it with Bad BGP Identifier (internal) or Bad Peer AS (external),
//! and the session would retry for ever. It is recognised instead: the OPEN
//! carries our BGP Identifier and our AS, and the connection's remote address
//! is one of this host's (it can be bound). The session is then stopped with
//! one ERROR line; a reload that changes the neighbor, or EnablePeer, starts
//! it again.
//!
//! Why not refuse such a neighbor when the config is validated: the host's
//! addresses change at run time (DHCP, a VIP moved here), and a check of the
//! interface list then would miss a later clash; the OPEN shows it for sure.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

use super::connection::{Connection, Received};
use crate::fsm::{Event, SessionConfig};
use crate::wire::{Notification, NotificationKind, OpenMessage};

/// Whether `address` is one of this host's: binding a socket to it works
/// only then (short of `ip_nonlocal_bind`, and the BGP Identifier and AS must
/// match too).
pub fn is_local_address(address: IpAddr) -> bool {
    UdpSocket::bind((address, 0)).is_ok()
}

/// Whether `open`, received from `remote`, is our own.
pub fn is_own_open(
    open: &OpenMessage,
    router_id: Ipv4Addr,
    local_asn: u32,
    remote: Option<IpAddr>,
) -> bool {
    open.router_id == router_id && open.asn() == local_asn && remote.is_some_and(is_local_address)
}

/// Whether `item`, received on `connection`, is our own OPEN.
pub(super) fn is_own(item: &Received, config: &SessionConfig, connection: &Connection) -> bool {
    match item {
        Received::Event(Event::BgpOpen(open) | Event::BgpOpenWithDelayOpenTimerRunning(open)) => {
            let remote = connection.local_and_remote().map(|(_, remote)| remote.ip());
            is_own_open(open, config.router_id, config.local_asn, remote)
        }
        _ => false,
    }
}

/// Logs the one line that says so; the NOTIFICATION the session stops with
/// (Bad BGP Identifier, RFC 4271 §6.2), which only we receive.
pub(super) fn report(neighbor: IpAddr) -> Notification {
    tracing::error!(
        peer = %neighbor,
        "neighbor {neighbor} is this host itself (our own OPEN came back: our BGP identifier \
         and AS, from a local address); its session is stopped instead of retried: fix the \
         neighbor's address"
    );
    Notification::new(NotificationKind::BadBgpIdentifier, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_local_and_a_documentation_address_is_not() {
        assert!(is_local_address(IpAddr::from(Ipv4Addr::LOCALHOST)));
        assert!(!is_local_address(IpAddr::from(Ipv4Addr::new(203, 0, 113, 254))));
    }

    #[test]
    fn only_our_identifier_and_as_from_a_local_address() {
        let id = Ipv4Addr::new(192, 0, 2, 1);
        let open = OpenMessage {
            version: 4,
            my_as: 65001,
            hold_time: 90,
            router_id: id,
            capabilities: Vec::new(),
        };
        let local = Some(IpAddr::from(Ipv4Addr::LOCALHOST));
        assert!(is_own_open(&open, id, 65001, local));
        assert!(!is_own_open(&open, Ipv4Addr::new(192, 0, 2, 9), 65001, local));
        assert!(!is_own_open(&open, id, 65002, local));
        assert!(!is_own_open(
            &open,
            id,
            65001,
            Some(IpAddr::from(Ipv4Addr::new(203, 0, 113, 254)))
        ));
    }
}
