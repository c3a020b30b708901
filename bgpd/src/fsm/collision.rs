//! Connection collision detection: RFC 4271 §6.8, with the tie-break of
//! RFC 6286 §2.1 for external peers that share a BGP Identifier.
//!
//! When two speakers connect to each other at once, each holds two TCP
//! connections for one peering. Both ends must close the same one: the
//! connection initiated by the speaker with the higher BGP Identifier
//! survives (both compare the same two numbers, so they agree).
//!
//! # How the I/O layer drives it
//!
//! 1. Keep at most two connections per peer, each with its own [`Fsm`]. While
//!    the peer's FSM has exchanged no BGP message (Idle, Connect, Active), hand
//!    an accepted inbound connection to it ([`Event::TcpConnectionConfirmed`])
//!    and abandon the outbound attempt. Once it is in OpenSent, OpenConfirm or
//!    Established, give the inbound connection a second FSM built from the
//!    same [`SessionConfig`](super::SessionConfig) and fed
//!    [`Event::ManualStartWithPassiveTcpEstablishment`] then
//!    [`Event::TcpConnectionConfirmed`].
//! 2. Each time an FSM accepts an OPEN (it was fed [`Event::BgpOpen`] and is
//!    now in OpenConfirm) while the other connection's FSM exists, call
//!    [`connection_to_dump`] with that OPEN, the direction of the connection it
//!    arrived on and the *other* FSM's state.
//! 3. If it returns a direction, feed [`Event::OpenCollisionDump`] to that
//!    connection's FSM and execute its actions: it sends a Cease NOTIFICATION
//!    with subcode 7, Connection Collision Resolution, disconnects and stops in
//!    Idle without scheduling a restart. Then discard it; the other FSM is now
//!    the peer's only one.
//!
//! [`Fsm`]: super::Fsm
//! [`Event::TcpConnectionConfirmed`]: super::Event::TcpConnectionConfirmed
//! [`Event::ManualStartWithPassiveTcpEstablishment`]: super::Event::ManualStartWithPassiveTcpEstablishment
//! [`Event::BgpOpen`]: super::Event::BgpOpen
//! [`Event::OpenCollisionDump`]: super::Event::OpenCollisionDump

use std::cmp::Ordering;
use std::net::Ipv4Addr;

use crate::wire::OpenMessage;

use super::state::State;

/// Which end initiated a TCP connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected to the peer.
    Outbound,
    /// The peer connected to us.
    Inbound,
}

impl Direction {
    pub fn other(self) -> Self {
        match self {
            Direction::Outbound => Direction::Inbound,
            Direction::Inbound => Direction::Outbound,
        }
    }
}

/// The direction of the connection that survives a collision: the one
/// initiated by the higher BGP Identifier, compared as 32-bit unsigned
/// integers (RFC 4271 §6.8); on equal identifiers, by the higher ASN
/// (RFC 6286 §2.1). Equal in both cannot pass the OPEN checks; we keep our own
/// connection then.
pub fn resolve_collision(
    local_router_id: Ipv4Addr,
    local_asn: u32,
    remote_router_id: Ipv4Addr,
    remote_asn: u32,
) -> Direction {
    let order = u32::from(local_router_id)
        .cmp(&u32::from(remote_router_id))
        .then(local_asn.cmp(&remote_asn));
    match order {
        Ordering::Greater | Ordering::Equal => Direction::Outbound,
        Ordering::Less => Direction::Inbound,
    }
}

/// Called when the FSM of the `opened` connection has accepted `open` while
/// another connection to the same peer has an FSM in `other`. Returns the
/// connection to close, or `None` when there is no collision yet.
///
/// - `other` in Idle, Connect or Active: no BGP conversation on it, nothing to
///   resolve (it will be checked again when an OPEN arrives there).
/// - `other` in OpenSent or OpenConfirm: resolved by identifiers. RFC 4271
///   §6.8 requires this for OpenConfirm and allows it for OpenSent when the
///   peer's identifier is known, which `open` just told us.
/// - `other` Established: the new connection goes (RFC 4271 §6.8 with
///   CollisionDetectEstablishedState off, its default).
pub fn connection_to_dump(
    local_router_id: Ipv4Addr,
    local_asn: u32,
    open: &OpenMessage,
    opened: Direction,
    other: State,
) -> Option<Direction> {
    match other {
        State::Idle | State::Connect | State::Active => None,
        State::Established => Some(opened),
        State::OpenSent | State::OpenConfirm => {
            let keep = resolve_collision(local_router_id, local_asn, open.router_id, open.asn());
            Some(keep.other())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const HIGH: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);

    fn open_from(router_id: Ipv4Addr, asn: u16) -> OpenMessage {
        OpenMessage { version: 4, my_as: asn, hold_time: 90, router_id, capabilities: Vec::new() }
    }

    #[test]
    fn higher_local_identifier_keeps_our_connection() {
        assert_eq!(resolve_collision(HIGH, 65001, LOW, 65002), Direction::Outbound);
    }

    #[test]
    fn lower_local_identifier_keeps_the_peers_connection() {
        assert_eq!(resolve_collision(LOW, 65001, HIGH, 65002), Direction::Inbound);
    }

    #[test]
    fn identifiers_compare_as_unsigned_integers_not_text() {
        // 10.0.0.1 > 9.255.255.255 numerically although "1" < "9" as text.
        let ten = Ipv4Addr::new(10, 0, 0, 1);
        let nine = Ipv4Addr::new(9, 255, 255, 255);
        assert_eq!(resolve_collision(ten, 1, nine, 1), Direction::Outbound);
        // High bit set must not compare as negative.
        let high_bit = Ipv4Addr::new(200, 0, 0, 1);
        assert_eq!(resolve_collision(nine, 1, high_bit, 1), Direction::Inbound);
    }

    #[test]
    fn equal_identifiers_fall_back_to_the_asn() {
        assert_eq!(resolve_collision(LOW, 65002, LOW, 65001), Direction::Outbound);
        assert_eq!(resolve_collision(LOW, 65001, LOW, 65002), Direction::Inbound);
    }

    #[test]
    fn both_ends_agree_on_the_survivor() {
        // What we call outbound the peer calls inbound.
        let ours = resolve_collision(LOW, 65001, HIGH, 65002);
        let theirs = resolve_collision(HIGH, 65002, LOW, 65001);
        assert_eq!(ours, theirs.other());
    }

    #[test]
    fn open_on_inbound_with_outbound_in_open_confirm_lower_local_id() {
        let open = open_from(HIGH, 65002);
        let dump = connection_to_dump(LOW, 65001, &open, Direction::Inbound, State::OpenConfirm);
        assert_eq!(dump, Some(Direction::Outbound));
    }

    #[test]
    fn open_on_inbound_with_outbound_in_open_confirm_higher_local_id() {
        let open = open_from(LOW, 65002);
        let dump = connection_to_dump(HIGH, 65001, &open, Direction::Inbound, State::OpenConfirm);
        assert_eq!(dump, Some(Direction::Inbound));
    }

    #[test]
    fn open_on_outbound_with_inbound_in_open_sent() {
        let open = open_from(HIGH, 65002);
        let dump = connection_to_dump(LOW, 65001, &open, Direction::Outbound, State::OpenSent);
        assert_eq!(dump, Some(Direction::Outbound));
        let open = open_from(LOW, 65002);
        let dump = connection_to_dump(HIGH, 65001, &open, Direction::Outbound, State::OpenSent);
        assert_eq!(dump, Some(Direction::Inbound));
    }

    #[test]
    fn established_session_survives_a_new_connection() {
        let open = open_from(HIGH, 65002);
        for opened in [Direction::Inbound, Direction::Outbound] {
            let dump = connection_to_dump(LOW, 65001, &open, opened, State::Established);
            assert_eq!(dump, Some(opened));
        }
    }

    #[test]
    fn no_collision_before_the_other_connection_speaks_bgp() {
        let open = open_from(HIGH, 65002);
        for other in [State::Idle, State::Connect, State::Active] {
            assert_eq!(connection_to_dump(LOW, 65001, &open, Direction::Inbound, other), None);
        }
    }

    #[test]
    fn four_octet_asn_breaks_ties() {
        use crate::wire::Capability;
        let mut open = open_from(LOW, crate::wire::open::AS_TRANS);
        open.capabilities.push(Capability::FourOctetAs(4_200_000_000));
        let dump = connection_to_dump(LOW, 65001, &open, Direction::Outbound, State::OpenConfirm);
        // The peer's ASN is higher: its connection (inbound) survives.
        assert_eq!(dump, Some(Direction::Outbound));
    }
}
