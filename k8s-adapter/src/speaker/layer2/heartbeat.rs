//! The heartbeat sockets: one UDP socket per layer2 interface, bound to it
//! (`SO_BINDTODEVICE`), sending to and receiving from a link-local IPv4 multicast group with
//! TTL 1, so a heartbeat never leaves the segment (the datagram is
//! [`crate::election::wire`]'s; VRRP, RFC 9568 §5.1.1.3, uses the same link-local scope).
//!
//! Why IPv4 `224.0.0.0/24`: routers never forward that block (RFC 5771 §4), every Linux
//! interface joins it without configuration, and a node's layer2 interface holds an IPv4
//! address in every cluster we serve today. The group and port are the speaker's
//! `--layer2-heartbeat-group` (default [`DEFAULT_GROUP`]); every speaker of a cluster must
//! use the same. An IPv6-only segment is not covered yet (it would take an `ff02::` group).
//!
//! The sockets are non-blocking (tokio); [`Heartbeats::recv`] waits on all of them at once
//! into one buffer, so hearing a heartbeat allocates nothing.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::task::Poll;

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use thiserror::Error;
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// The default heartbeat group and port.
pub const DEFAULT_GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 240), 7947);

/// A heartbeat socket that could not be set up.
#[derive(Debug, Error)]
pub enum HeartbeatError {
    #[error("interface {interface:?}: reading its index from {path}: {source}")]
    Index { interface: String, path: String, source: io::Error },
    #[error("interface {interface:?}: index {text:?} is not a number")]
    BadIndex { interface: String, text: String },
    #[error("interface {interface:?}: {step}: {source}")]
    Socket { interface: String, step: &'static str, source: io::Error },
    #[error("group {0} is not an IPv4 multicast address")]
    NotMulticast(Ipv4Addr),
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

/// One bound, joined, non-blocking socket for `interface` (blocking setup: call off the
/// async threads, then [`Heartbeats::new`] inside the runtime).
pub fn open(interface: &str, group: SocketAddrV4) -> Result<std::net::UdpSocket, HeartbeatError> {
    if !group.ip().is_multicast() {
        return Err(HeartbeatError::NotMulticast(*group.ip()));
    }
    let index = interface_index(interface)?;
    let step = |step: &'static str| {
        move |source| HeartbeatError::Socket { interface: interface.to_owned(), step, source }
    };
    let socket =
        Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(step("socket"))?;
    socket.set_reuse_address(true).map_err(step("SO_REUSEADDR"))?;
    // Bound to the device: sends leave by it (whatever the routes) and only its datagrams
    // are received.
    socket.bind_device(Some(interface.as_bytes())).map_err(step("SO_BINDTODEVICE"))?;
    socket.set_multicast_ttl_v4(1).map_err(step("IP_MULTICAST_TTL"))?;
    socket.set_multicast_loop_v4(false).map_err(step("IP_MULTICAST_LOOP"))?;
    socket
        .join_multicast_v4_n(group.ip(), &InterfaceIndexOrAddress::Index(index))
        .map_err(step("IP_ADD_MEMBERSHIP"))?;
    socket.set_nonblocking(true).map_err(step("O_NONBLOCK"))?;
    // Bound to the group: unicast datagrams to the port are not ours.
    socket.bind(&SocketAddr::V4(group).into()).map_err(step("bind"))?;
    Ok(socket.into())
}

/// The heartbeat sockets of every layer2 interface.
pub struct Heartbeats {
    sockets: Vec<(String, UdpSocket)>,
    group: SocketAddr,
}

impl Heartbeats {
    /// Takes the sockets [`open`] made. Must run inside the tokio runtime.
    pub fn new(
        sockets: Vec<(String, std::net::UdpSocket)>,
        group: SocketAddrV4,
    ) -> io::Result<Self> {
        let sockets = sockets
            .into_iter()
            .map(|(name, s)| Ok((name, UdpSocket::from_std(s)?)))
            .collect::<io::Result<_>>()?;
        Ok(Self { sockets, group: SocketAddr::V4(group) })
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Those of `wanted` without a socket (absent when the speaker started).
    pub fn missing(&self, wanted: &[String]) -> Vec<String> {
        wanted.iter().filter(|w| !self.sockets.iter().any(|(n, _)| n == *w)).cloned().collect()
    }

    /// Adds sockets [`open`] made later. Must run inside the tokio runtime.
    pub fn add(&mut self, sockets: Vec<(String, std::net::UdpSocket)>) -> io::Result<()> {
        for (name, socket) in sockets {
            if !self.sockets.iter().any(|(n, _)| *n == name) {
                self.sockets.push((name, UdpSocket::from_std(socket)?));
            }
        }
        Ok(())
    }

    /// Sends `datagram` on every interface; a failure (interface down, no address) is
    /// logged and does not stop the others.
    pub fn send(&self, datagram: &[u8]) {
        for (name, socket) in &self.sockets {
            if let Err(e) = socket.try_send_to(datagram, self.group) {
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
            for (name, socket) in &self.sockets {
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

    /// Closes `interface`'s socket; it is opened again when a link comes up.
    pub fn remove(&mut self, interface: &str) {
        self.sockets.retain(|(n, _)| n != interface);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interface_is_named() {
        let e = open("ironlbnone0", DEFAULT_GROUP).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("ironlbnone0")));
    }

    #[test]
    fn the_group_must_be_multicast() {
        let group = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 7947);
        assert!(matches!(open("lo", group), Err(HeartbeatError::NotMulticast(_))));
    }
}
