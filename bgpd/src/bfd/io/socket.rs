//! The UDP sockets of the BFD driver and the `recvmmsg` that reads queued
//! packets, each with its TTL (or IPv6 hop limit) and destination address,
//! in one call.
//!
//! - Listeners are bound to the BFD port (3784 single hop, RFC 5881 §4; 4784
//!   multihop, RFC 5883 §5) with IP_RECVTTL and IP_PKTINFO (IPv6:
//!   IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO): the TTL is checked against the
//!   session's hop mode (RFC 5881 §5: 255 for single hop; RFC 5883: a
//!   configured minimum), and the destination address picks the session when
//!   Your Discriminator is still zero.
//! - Each session sends from its own socket bound to a source port in
//!   49152-65535 (RFC 5881 §4: the same source port for the whole life of a
//!   session) with TTL / hop limit 255 (RFC 5881 §5, RFC 5883 §5).

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ops::RangeInclusive;
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::read_unaligned;

use socket2::{Domain, Protocol, Socket, Type};

use crate::sockopt::set_int;

/// One datagram read by [`receive`].
#[derive(Copy, Clone, Debug)]
pub(super) struct Datagram {
    pub source: SocketAddr,
    /// The IP header's destination address (IP_PKTINFO / IPV6_PKTINFO).
    pub destination: Option<IpAddr>,
    /// The IP header's TTL or hop limit; `None` if the kernel gave none.
    pub ttl: Option<u8>,
}

fn domain_of(address: IpAddr) -> Domain {
    if address.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 }
}

/// A non-blocking listener on `address`:`port` that reports TTL and
/// destination with every datagram.
pub(super) fn listener(address: IpAddr, port: u16) -> io::Result<Socket> {
    let socket = Socket::new(domain_of(address), Type::DGRAM, Some(Protocol::UDP))?;
    let fd = socket.as_raw_fd();
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
        socket.set_recv_hoplimit_v6(true)?;
        set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
    } else {
        set_int(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
        set_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::new(address, port).into())?;
    Ok(socket)
}

/// A non-blocking sender towards `peer`, TTL 255, bound to `local` (or the
/// unspecified address of the peer's family) and the first free source port
/// of `ports` from `start` on, wrapping around.
pub(super) fn sender(
    local: Option<IpAddr>,
    peer: IpAddr,
    ports: &RangeInclusive<u16>,
    start: u16,
) -> io::Result<Socket> {
    let socket = Socket::new(domain_of(peer), Type::DGRAM, Some(Protocol::UDP))?;
    if peer.is_ipv6() {
        socket.set_only_v6(true)?;
        socket.set_unicast_hops_v6(255)?;
    } else {
        socket.set_ttl_v4(255)?;
        // Don't Fragment: a 24-octet packet never needs fragmenting, and with
        // DF set the kernel takes the IP ID from a per-socket counter instead
        // of hashing one per packet (`__ip_select_ident`, 7 % of the BFD
        // thread's samples at 100 sessions before).
        set_int(socket.as_raw_fd(), libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, libc::IP_PMTUDISC_DO)?;
    }
    socket.set_nonblocking(true)?;
    let local = local.unwrap_or(match peer {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let (low, high) = (u32::from(*ports.start()), u32::from(*ports.end()));
    let span = high.saturating_sub(low) + 1;
    let offset = u32::from(start).saturating_sub(low) % span;
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for step in 0..span {
        let port = u16::try_from(low + (offset + step) % span).unwrap_or(u16::MAX);
        match socket.bind(&SocketAddr::new(local, port).into()) {
            Ok(()) => return Ok(socket),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last = error,
            Err(error) => return Err(error),
        }
    }
    Err(last)
}

/// Datagrams one [`Batch::receive`] call can read (`recvmmsg`): at 100
/// sessions at 50 ms a 1 ms tick sees about 2 packets, so 32 is plenty.
pub(super) const BATCH: usize = 32;
/// Receive buffer per datagram: the longest Control packet, with room to
/// notice a longer (bad) one.
const BUFFER: usize = 512;
/// Control messages per datagram: TTL and PKTINFO fit in 128 octets (u64s
/// keep it aligned for cmsghdr).
const CONTROL_WORDS: usize = 16;

/// Buffers for up to [`BATCH`] datagrams read with one `recvmmsg`, reused
/// for every call (no allocation per packet). Heap-allocated once so the
/// pointers handed to the kernel stay put.
pub(super) struct Batch {
    buffers: [[u8; BUFFER]; BATCH],
    sources: [libc::sockaddr_storage; BATCH],
    controls: [[u64; CONTROL_WORDS]; BATCH],
    iovecs: [libc::iovec; BATCH],
    headers: [libc::mmsghdr; BATCH],
}

impl Batch {
    pub(super) fn new() -> Box<Batch> {
        // SAFETY: all-zero bytes, storage, iovecs and mmsghdrs are valid
        // values (null pointers, zero lengths); `receive` sets the pointers.
        Box::new(unsafe { zeroed() })
    }

    /// Reads up to [`BATCH`] queued datagrams without blocking; their
    /// number (fewer than [`BATCH`]: the queue is empty now). `WouldBlock`
    /// when none is queued.
    pub(super) fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
        for index in 0..BATCH {
            self.iovecs[index] =
                libc::iovec { iov_base: self.buffers[index].as_mut_ptr().cast(), iov_len: BUFFER };
            let header = &mut self.headers[index].msg_hdr;
            header.msg_name = (&raw mut self.sources[index]).cast();
            header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_iov = &raw mut self.iovecs[index];
            header.msg_iovlen = 1;
            header.msg_control = self.controls[index].as_mut_ptr().cast();
            header.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
            header.msg_flags = 0;
            self.headers[index].msg_len = 0;
        }
        // SAFETY: every header points into `self` (boxed, so it does not
        // move during the call) at buffers of the sizes given; the kernel
        // writes within those bounds and fills in `msg_len`.
        let count = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if count < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(count as usize)
    }

    /// The `index`-th datagram of the last [`Batch::receive`]: its
    /// addresses and TTL, and its payload (cut to the buffer).
    pub(super) fn datagram(&self, index: usize) -> Option<(Datagram, &[u8])> {
        let header = self.headers.get(index)?;
        let length = header.msg_len as usize;
        let (ttl, destination) = control_messages(&header.msg_hdr);
        let source = socket_address(&self.sources[index])?;
        let payload = &self.buffers[index][..length.min(BUFFER)];
        Some((Datagram { source, destination, ttl }, payload))
    }
}

/// The TTL (or hop limit) and destination address among the control
/// messages the kernel wrote for one datagram.
fn control_messages(header: &libc::msghdr) -> (Option<u8>, Option<IpAddr>) {
    let mut ttl = None;
    let mut destination = None;
    // SAFETY: walks the control messages the kernel wrote into the buffer
    // `header` points at, with the libc macros that bound each step by
    // `msg_controllen`; every payload is read unaligned with the type the
    // (level, type) pair defines.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(header);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::IPPROTO_IP, libc::IP_TTL) | (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    let value = read_unaligned(data.cast::<libc::c_int>());
                    ttl = u8::try_from(value).ok();
                }
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    let info = read_unaligned(data.cast::<libc::in_pktinfo>());
                    let address = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                    destination = Some(IpAddr::V4(address));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let info = read_unaligned(data.cast::<libc::in6_pktinfo>());
                    destination = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(header, cmsg);
        }
    }
    (ttl, destination)
}

fn socket_address(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let address = unsafe {
                read_unaligned(
                    (storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                )
            };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(address.sin_addr.s_addr)),
                u16::from_be(address.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let address = unsafe {
                read_unaligned(
                    (storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                )
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(address.sin6_addr.s6_addr),
                u16::from_be(address.sin6_port),
                address.sin6_flowinfo,
                address.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
