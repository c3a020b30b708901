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
//!
//! A received RA counts only if its IPv6 Hop Limit is 255 (RFC 4861
//! §6.1.2): a router off the link cannot send one that arrives with 255, so
//! nobody beyond the link can pose as the peer. The hop limit comes as
//! ancillary data (`IPV6_RECVHOPLIMIT`, RFC 3542 §6.3); a packet without it
//! is dropped too.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::ptr::read_unaligned;
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

/// Control buffer words for the hop limit (one `int` control message).
const CONTROL_WORDS: usize = 8;

/// Whether `packet` (an ICMPv6 message) from `source` scoped to
/// `scope_id`, received with IPv6 hop limit `hop_limit`, is a Router
/// Advertisement of a neighbor on interface `index`.
pub fn is_neighbor_advertisement(
    packet: &[u8],
    source: &SocketAddrV6,
    index: u32,
    hop_limit: Option<u8>,
) -> bool {
    packet.len() >= 16
        && hop_limit == Some(HOP_LIMIT as u8)
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
        crate::sockopt::set_int(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVHOPLIMIT,
            1,
        )?;
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
        let mut buffer = [0u8; 1500];
        // SAFETY: all-zero bytes are a valid sockaddr_in6 and control buffer.
        let mut source: libc::sockaddr_in6 = unsafe { zeroed() };
        let mut control = [0u64; CONTROL_WORDS];
        let mut iovec = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: buffer.len() };
        // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths);
        // the pointers are set below.
        let mut header: libc::msghdr = unsafe { zeroed() };
        header.msg_name = (&raw mut source).cast();
        header.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        header.msg_iov = &raw mut iovec;
        header.msg_iovlen = 1;
        header.msg_control = control.as_mut_ptr().cast();
        header.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
        // SAFETY: every pointer of `header` points at a live local of the
        // size given; the kernel writes within those bounds.
        let length = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &raw mut header, 0) };
        if length < 0 {
            let error = io::Error::last_os_error();
            if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
                return Ok(None);
            }
            return Err(error);
        }
        if libc::c_int::from(source.sin6_family) != libc::AF_INET6 {
            return Ok(None);
        }
        let from =
            SocketAddrV6::new(Ipv6Addr::from(source.sin6_addr.s6_addr), 0, 0, source.sin6_scope_id);
        let packet = &buffer[..(length as usize).min(buffer.len())];
        let hop_limit = hop_limit(&header);
        if packet.first() == Some(&ROUTER_ADVERTISEMENT) && hop_limit != Some(HOP_LIMIT as u8) {
            tracing::debug!(source = %from, ?hop_limit, "Router Advertisement dropped: hop limit is not 255 (RFC 4861 §6.1.2)");
        }
        Ok(is_neighbor_advertisement(packet, &from, self.index, hop_limit).then(|| *from.ip()))
    }
}

/// The IPv6 hop limit among the control messages of one received packet.
fn hop_limit(header: &libc::msghdr) -> Option<u8> {
    let mut hop_limit = None;
    // SAFETY: walks the control messages written into the buffer `header`
    // points at, with the libc macros that bound each step by
    // `msg_controllen`; the payload is read unaligned as the int that
    // (IPPROTO_IPV6, IPV6_HOPLIMIT) carries (RFC 3542 §6.3).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(header);
        while !cmsg.is_null() {
            if ((*cmsg).cmsg_level, (*cmsg).cmsg_type) == (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT)
            {
                let value = read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                hop_limit = u8::try_from(value).ok();
            }
            cmsg = libc::CMSG_NXTHDR(header, cmsg);
        }
    }
    hop_limit
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

    const ON_LINK: Option<u8> = Some(255);

    #[test]
    fn only_link_local_ras_on_our_interface_count() {
        let ra = our_advertisement();
        let from = |address: &str, scope| SocketAddrV6::new(address.parse().unwrap(), 0, 0, scope);
        assert!(is_neighbor_advertisement(&ra, &from("fe80::2", 5), 5, ON_LINK));
        assert!(
            !is_neighbor_advertisement(&ra, &from("fe80::2", 6), 5, ON_LINK),
            "other interface"
        );
        assert!(
            !is_neighbor_advertisement(&ra, &from("2001:db8::2", 5), 5, ON_LINK),
            "not link-local"
        );
        let mut solicitation = ra;
        solicitation[0] = 133;
        assert!(!is_neighbor_advertisement(&solicitation, &from("fe80::2", 5), 5, ON_LINK));
        assert!(!is_neighbor_advertisement(&ra[..8], &from("fe80::2", 5), 5, ON_LINK), "short");
    }

    #[test]
    fn an_ra_counts_only_with_hop_limit_255() {
        let ra = our_advertisement();
        let from = SocketAddrV6::new("fe80::2".parse().unwrap(), 0, 0, 5);
        assert!(is_neighbor_advertisement(&ra, &from, 5, Some(255)));
        assert!(!is_neighbor_advertisement(&ra, &from, 5, Some(254)), "routed from off the link");
        assert!(!is_neighbor_advertisement(&ra, &from, 5, Some(64)));
        assert!(!is_neighbor_advertisement(&ra, &from, 5, None), "no hop limit reported");
    }

    /// A control buffer as the kernel writes it: one IPV6_HOPLIMIT message.
    fn header_with_hop_limit(
        control: &mut [u64; CONTROL_WORDS],
        value: libc::c_int,
    ) -> libc::msghdr {
        // SAFETY: all-zero is a valid msghdr; the control message is
        // written with the libc macros inside `control`.
        unsafe {
            let mut header: libc::msghdr = zeroed();
            header.msg_control = control.as_mut_ptr().cast();
            header.msg_controllen = libc::CMSG_SPACE(size_of::<libc::c_int>() as u32) as _;
            let cmsg = libc::CMSG_FIRSTHDR(&header);
            (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
            (*cmsg).cmsg_type = libc::IPV6_HOPLIMIT;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::c_int>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), value);
            header
        }
    }

    #[test]
    fn the_hop_limit_is_read_from_the_control_message() {
        let mut control = [0u64; CONTROL_WORDS];
        assert_eq!(hop_limit(&header_with_hop_limit(&mut control, 255)), Some(255));
        let mut control = [0u64; CONTROL_WORDS];
        assert_eq!(hop_limit(&header_with_hop_limit(&mut control, 254)), Some(254));
        // SAFETY: all-zero is a valid msghdr without control messages.
        let empty: libc::msghdr = unsafe { zeroed() };
        assert_eq!(hop_limit(&empty), None);
    }
}
