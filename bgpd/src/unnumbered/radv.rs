//! Router Advertisements on one interface (RFC 4861 §4.2), sent and heard on
//! a raw ICMPv6 socket. Only what BGP unnumbered needs: our RA tells the peer
//! our link-local address, the peer's tells us its own.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Cur Hop Limit |M|O|  Reserved |       Router Lifetime         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Reachable Time                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Retrans Timer                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The kernel fills in the checksum of raw ICMPv6 sockets (RFC 3542 §3.1).
//! Ours has everything zero but the type: no hop limit advice, Router
//! Lifetime 0 (not a default router), no timers.

use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// ICMPv6 type of a Router Advertisement.
pub const ROUTER_ADVERTISEMENT: u8 = 134;
/// All-nodes multicast (RFC 4291 §2.7.1), where unsolicited RAs go.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// RFC 4861 §4.2: sent with hop limit 255, which receivers check.
const HOP_LIMIT: u32 = 255;

/// Our advertisement: 16 octets, all zero but the type.
pub fn our_advertisement() -> [u8; 16] {
    let mut ra = [0u8; 16];
    ra[0] = ROUTER_ADVERTISEMENT;
    ra
}

/// Whether `packet` (an ICMPv6 message) from `source` scoped to
/// `scope_id` is a Router Advertisement of a neighbor on interface `index`.
pub fn is_neighbor_advertisement(packet: &[u8], source: &SocketAddrV6, index: u32) -> bool {
    packet.len() >= 16
        && packet[0] == ROUTER_ADVERTISEMENT
        && packet[1] == 0
        && source.ip().is_unicast_link_local()
        && source.scope_id() == index
}

/// A raw ICMPv6 socket sending and hearing RAs on one interface.
pub struct RaSocket {
    socket: Socket,
    index: u32,
}

impl RaSocket {
    /// Needs `CAP_NET_RAW`.
    pub fn open(index: u32) -> io::Result<Self> {
        let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        socket.set_multicast_if_v6(index)?;
        socket.set_multicast_hops_v6(HOP_LIMIT)?;
        socket.set_unicast_hops_v6(HOP_LIMIT)?;
        socket.set_multicast_loop_v6(false)?;
        Ok(Self { socket, index })
    }

    /// Sends our RA to all nodes on the interface.
    pub fn advertise(&self) -> io::Result<()> {
        let destination = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, self.index));
        self.socket.send_to(&our_advertisement(), &destination).map(|_| ())
    }

    /// Waits up to `wait` for an RA from a neighbor on the interface;
    /// `Ok(None)` when none came (other ICMPv6 messages are skipped).
    pub fn receive(&self, wait: Duration) -> io::Result<Option<Ipv6Addr>> {
        self.socket.set_read_timeout(Some(wait.max(Duration::from_millis(10))))?;
        let mut buffer = [MaybeUninit::<u8>::uninit(); 1500];
        let (length, source) = match self.socket.recv_from(&mut buffer) {
            Ok(received) => received,
            Err(error)
                if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        let packet: Vec<u8> = buffer[..length]
            .iter()
            // SAFETY: `recv_from` initialised the first `length` octets.
            .map(|b| unsafe { b.assume_init() })
            .collect();
        Ok(source
            .as_socket_ipv6()
            .filter(|source| is_neighbor_advertisement(&packet, source, self.index))
            .map(|source| *source.ip()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_advertisement_is_a_zero_lifetime_ra() {
        let ra = our_advertisement();
        assert_eq!(ra[0], 134);
        assert_eq!(&ra[6..8], &[0, 0], "router lifetime 0");
    }

    #[test]
    fn only_link_local_ras_on_our_interface_count() {
        let ra = our_advertisement();
        let from = |address: &str, scope| SocketAddrV6::new(address.parse().unwrap(), 0, 0, scope);
        assert!(is_neighbor_advertisement(&ra, &from("fe80::2", 5), 5));
        assert!(!is_neighbor_advertisement(&ra, &from("fe80::2", 6), 5), "other interface");
        assert!(!is_neighbor_advertisement(&ra, &from("2001:db8::2", 5), 5), "not link-local");
        let mut solicitation = ra;
        solicitation[0] = 133;
        assert!(!is_neighbor_advertisement(&solicitation, &from("fe80::2", 5), 5));
        assert!(!is_neighbor_advertisement(&ra[..8], &from("fe80::2", 5), 5), "short");
    }
}
