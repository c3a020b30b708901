//! The heartbeat sockets: per layer2 interface, one UDP socket for an IPv4 and one for an
//! IPv6 link-local multicast group, each bound to the interface (`SO_BINDTODEVICE`), with a
//! hop limit of 1, so a heartbeat never leaves the segment (the datagram is
//! [`crate::election::wire`]'s; VRRP, RFC 9568 §5.1.1.3, uses the same link-local scope).
//!
//! Why IPv4 `224.0.0.0/24`: routers never forward that block (RFC 5771 §4) and every Linux
//! interface joins it without configuration. Why IPv6 `ff02::/16` beside it: link-local
//! scope (RFC 4291 §2.7), so the same holds, and every IPv6 interface has a link-local
//! address to send from, so a segment whose nodes have no IPv4 address is covered too. The
//! IPv6 socket is scoped to the interface (its index as the scope id, RFC 4007 §6).
//!
//! Why both at once rather than IPv6 only where IPv4 is missing: a speaker cannot tell
//! which family its peers listen on (a peer of an older release hears IPv4 only, an
//! IPv6-only peer hears IPv6 only), and an interface's addresses change at run time; so
//! every speaker sends each heartbeat to both groups and hears either. Hearing the same
//! heartbeat twice is routine for the failover (it only moves deadlines). The price is two
//! datagrams per heartbeat on a dual-stack segment (10 a second per node by default, about
//! 1.5 kB/s). A family that cannot be set up on an interface (IPv6 disabled, say) is
//! logged and retried at the heartbeat interval; the other works meanwhile. Right after an
//! interface comes up its IPv6 link-local address is tentative (duplicate address
//! detection, RFC 4862 §5.4, about a second) and IPv6 sends fail with `EADDRNOTAVAIL`
//! (logged at debug); on an IPv6-only segment heartbeats start once it is usable.
//!
//! The groups and port are the speaker's `--layer2-heartbeat-group` (default
//! [`DEFAULT_GROUP`]) and `--layer2-heartbeat-group6` (default [`DEFAULT_GROUP6`]:
//! `ff02::114`, IANA's link-local "any private experiment" group, unlikely to be in use on
//! a node segment); every speaker of a cluster must use the same.
//!
//! The sockets are non-blocking (tokio); [`Heartbeats::recv`] waits on all of them at once
//! into one buffer, so hearing a heartbeat allocates nothing.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::task::Poll;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use thiserror::Error;
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// The default IPv4 heartbeat group and port.
pub const DEFAULT_GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 240), 7947);
/// The default IPv6 heartbeat group and port (the scope id is each interface's index).
pub const DEFAULT_GROUP6: SocketAddrV6 =
    SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x114), 7947, 0, 0);

/// The two groups every heartbeat goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    pub v4: SocketAddrV4,
    pub v6: SocketAddrV6,
}

impl Default for Groups {
    fn default() -> Self {
        Self { v4: DEFAULT_GROUP, v6: DEFAULT_GROUP6 }
    }
}

impl Groups {
    fn both(&self) -> [SocketAddr; 2] {
        [SocketAddr::V4(self.v4), SocketAddr::V6(self.v6)]
    }
}

/// A socket [`open`] made: its interface and where it sends (the group, scoped).
#[derive(Debug)]
pub struct Opened {
    pub interface: String,
    pub socket: std::net::UdpSocket,
    pub to: SocketAddr,
}

/// A heartbeat socket that could not be set up.
#[derive(Debug, Error)]
pub enum HeartbeatError {
    #[error("interface {interface:?}: reading its index from {path}: {source}")]
    Index { interface: String, path: String, source: io::Error },
    #[error("interface {interface:?}: index {text:?} is not a number")]
    BadIndex { interface: String, text: String },
    #[error("interface {interface:?}: {step}: {source}")]
    Socket { interface: String, step: &'static str, source: io::Error },
    #[error("group {0} is not a multicast address")]
    NotMulticast(std::net::IpAddr),
}

/// The index of `interface`, from sysfs (blocking file read: call off the async threads).
pub fn interface_index(interface: &str) -> Result<u32, HeartbeatError> {
    let path = format!("/sys/class/net/{interface}/ifindex");
    let text = std::fs::read_to_string(&path).map_err(|source| HeartbeatError::Index {
        interface: interface.to_owned(),
        path,
        source,
    })?;
    text.trim()
        .parse()
        .map_err(|_| HeartbeatError::BadIndex { interface: interface.to_owned(), text })
}

/// A socket for each (interface, group) pair, and why the others could not be opened
/// (blocking setup: call off the async threads, then [`Heartbeats::new`] inside the
/// runtime).
pub fn open_all(pairs: Vec<(String, SocketAddr)>) -> (Vec<Opened>, Vec<HeartbeatError>) {
    let (mut opened, mut failed) = (Vec::new(), Vec::new());
    for (interface, group) in pairs {
        match open(&interface, group) {
            Ok(o) => opened.push(o),
            Err(e) => failed.push(e),
        }
    }
    (opened, failed)
}

/// Every (interface, group) pair of `interfaces`.
pub fn pairs(interfaces: &[String], groups: Groups) -> Vec<(String, SocketAddr)> {
    interfaces.iter().flat_map(|i| groups.both().map(|g| (i.clone(), g))).collect()
}

/// One bound, joined, non-blocking socket for `interface` and `group` (blocking setup).
pub fn open(interface: &str, group: SocketAddr) -> Result<Opened, HeartbeatError> {
    if !group.ip().is_multicast() {
        return Err(HeartbeatError::NotMulticast(group.ip()));
    }
    let index = interface_index(interface)?;
    let step = |step: &'static str| {
        move |source| HeartbeatError::Socket { interface: interface.to_owned(), step, source }
    };
    let domain = if group.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(step("socket"))?;
    socket.set_reuse_address(true).map_err(step("SO_REUSEADDR"))?;
    // Bound to the device: sends leave by it (whatever the routes) and only its datagrams
    // are received.
    socket.bind_device(Some(interface.as_bytes())).map_err(step("SO_BINDTODEVICE"))?;
    let to = match group {
        SocketAddr::V4(v4) => {
            socket.set_multicast_ttl_v4(1).map_err(step("IP_MULTICAST_TTL"))?;
            socket.set_multicast_loop_v4(false).map_err(step("IP_MULTICAST_LOOP"))?;
            socket
                .join_multicast_v4_n(v4.ip(), &InterfaceIndexOrAddress::Index(index))
                .map_err(step("IP_ADD_MEMBERSHIP"))?;
            SocketAddr::V4(v4)
        }
        SocketAddr::V6(v6) => {
            socket.set_only_v6(true).map_err(step("IPV6_V6ONLY"))?;
            socket.set_multicast_hops_v6(1).map_err(step("IPV6_MULTICAST_HOPS"))?;
            socket.set_multicast_loop_v6(false).map_err(step("IPV6_MULTICAST_LOOP"))?;
            socket.set_multicast_if_v6(index).map_err(step("IPV6_MULTICAST_IF"))?;
            socket.join_multicast_v6(v6.ip(), index).map_err(step("IPV6_JOIN_GROUP"))?;
            SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, index))
        }
    };
    socket.set_nonblocking(true).map_err(step("O_NONBLOCK"))?;
    // Bound to the group: unicast datagrams to the port are not ours.
    socket.bind(&to.into()).map_err(step("bind"))?;
    Ok(Opened { interface: interface.to_owned(), socket: socket.into(), to })
}

/// The heartbeat sockets of every layer2 interface.
pub struct Heartbeats {
    /// Interface, socket, where it sends.
    sockets: Vec<(String, UdpSocket, SocketAddr)>,
}

impl Heartbeats {
    /// Takes the sockets [`open`] made. Must run inside the tokio runtime.
    pub fn new(sockets: Vec<Opened>) -> io::Result<Self> {
        let mut heartbeats = Self { sockets: Vec::new() };
        heartbeats.add(sockets)?;
        Ok(heartbeats)
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The (interface, group) pairs of `wanted` without a socket: absent when the speaker
    /// started, a family not set up yet, or closed after an error.
    pub fn missing(&self, wanted: &[String], groups: Groups) -> Vec<(String, SocketAddr)> {
        let mut missing = Vec::new();
        for interface in wanted {
            for group in groups.both() {
                let family = group.is_ipv4();
                if !self.sockets.iter().any(|(n, _, t)| n == interface && t.is_ipv4() == family) {
                    missing.push((interface.clone(), group));
                }
            }
        }
        missing
    }

    /// Adds sockets [`open`] made later, unless the interface has one for that group
    /// already. Must run inside the tokio runtime.
    pub fn add(&mut self, sockets: Vec<Opened>) -> io::Result<()> {
        for Opened { interface, socket, to } in sockets {
            let family = to.is_ipv4();
            if !self.sockets.iter().any(|(n, _, t)| *n == interface && t.is_ipv4() == family) {
                self.sockets.push((interface, UdpSocket::from_std(socket)?, to));
            }
        }
        Ok(())
    }

    /// Sends `datagram` on every interface; a failure (interface down, no address) is
    /// logged and does not stop the others.
    pub fn send(&self, datagram: &[u8]) {
        for (name, socket, to) in &self.sockets {
            if let Err(e) = socket.try_send_to(datagram, *to) {
                tracing::debug!(interface = %name, error = %e, "heartbeat not sent");
            }
        }
    }

    /// The next datagram from any interface, into `buf`; its length, or the interface
    /// whose socket failed (drop it with [`Self::remove`]: an error that repeats, e.g. a
    /// deleted interface, would otherwise wake the loop forever). Never resolves without
    /// sockets.
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize, (String, io::Error)> {
        std::future::poll_fn(|cx| {
            for (name, socket, _) in &self.sockets {
                let mut read = ReadBuf::new(buf);
                match socket.poll_recv_from(cx, &mut read) {
                    Poll::Ready(Ok(_)) => return Poll::Ready(Ok(read.filled().len())),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err((name.clone(), e))),
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Closes `interface`'s sockets; they are opened again at the next heartbeat interval.
    pub fn remove(&mut self, interface: &str) {
        self.sockets.retain(|(n, _, _)| n != interface);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interface_is_named_for_both_families() {
        let (opened, failed) = open_all(pairs(&["ironlbnone0".into()], Groups::default()));
        assert!(opened.is_empty());
        assert_eq!(failed.len(), 2);
        assert!(failed.iter().all(|e| e.to_string().contains("ironlbnone0")));
    }

    #[test]
    fn the_group_must_be_multicast() {
        let v4 = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 7947));
        assert!(matches!(open("lo", v4), Err(HeartbeatError::NotMulticast(_))));
        let v6 = SocketAddr::V6(SocketAddrV6::new("2001:db8::1".parse().unwrap(), 7947, 0, 0));
        assert!(matches!(open("lo", v6), Err(HeartbeatError::NotMulticast(_))));
    }

    #[test]
    fn the_default_groups_are_link_local() {
        // 224.0.0.0/24 (RFC 5771 §4) and ff02::/16 (RFC 4291 §2.7, scope 2).
        assert_eq!(DEFAULT_GROUP.ip().octets()[..3], [224, 0, 0]);
        assert_eq!(DEFAULT_GROUP6.ip().segments()[0], 0xff02);
        assert_eq!(DEFAULT_GROUP.port(), DEFAULT_GROUP6.port());
    }

    /// Both families on the loopback interface of the test's network namespace, where it
    /// takes multicast: the IPv6 socket sends to the group with the interface's scope.
    #[tokio::test]
    async fn an_interface_gets_a_socket_per_family_and_is_complete_with_both() {
        let lo = ["lo".to_owned()];
        let (opened, failed) = open_all(pairs(&lo, Groups::default()));
        let heartbeats = Heartbeats::new(opened).unwrap();
        let missing = heartbeats.missing(&lo, Groups::default());
        assert_eq!(missing.len(), failed.len());
        if !failed.is_empty() {
            // Loopback without multicast (most hosts): only the bookkeeping is checked.
            return;
        }
        drop(heartbeats);
        let (opened, _) = open_all(pairs(&lo, Groups::default()));
        let scoped = opened.iter().find(|o| o.to.is_ipv6()).map(|o| o.to);
        assert!(matches!(scoped, Some(SocketAddr::V6(v6)) if v6.scope_id() != 0));
        let mut heartbeats = Heartbeats::new(opened).unwrap();
        assert!(heartbeats.missing(&lo, Groups::default()).is_empty());
        // A second socket for a family the interface has is not added.
        let (again, _) = open_all(pairs(&lo, Groups::default()));
        heartbeats.add(again).unwrap();
        assert_eq!(heartbeats.sockets.len(), 2);
        heartbeats.remove("lo");
        assert!(heartbeats.is_empty());
    }
}
