//! Watches a namespace's kernel FIB for one IPv4 route, from rtnetlink's route multicast group
//! (rtnetlink(7), `RTMGRP_IPV4_ROUTE`), and stamps each addition and removal as the kernel
//! reports it; optionally also the BFD Control packets (RFC 5880 §4.1) that leave one of the
//! namespace's interfaces, read from a packet socket (packet(7)), stamping those whose State is
//! Down: when the namespace's BFD speaker declared its peer dead.
//!
//! The BFD failover benchmark used to poll FRR with vtysh (15 to 30 ms a call) to see the route
//! go; when zebra programs the router's FIB, the removal is an event here, read on a thread of
//! its own within a millisecond of the kernel's change. That is also the moment forwarding
//! changes, which is what a failover is about.
//!
//! ```text
//!   struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }   16 octets
//!   struct rtmsg    { u8 family, dst_len, src_len, tos, table, protocol, scope, type;
//!                     u32 flags; }                                          12 octets
//!   struct rtattr   { u16 len; u16 type; value ... } aligned to 4 octets; RTA_DST = 1
//! ```

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::Namespace;
use crate::{HarnessError, Result};

const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTA_DST: u16 = 1;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const NLMSG_HEADER: usize = 16;
const RTMSG: usize = 12;

/// What the kernel said about the watched route, or what the BFD speaker sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Deleted,
    /// A BFD Control packet with State Down left the watched interface.
    BfdDown,
}

/// A running watch; stops (and joins its threads) on drop.
pub struct FibWatch {
    changes: mpsc::Receiver<(Instant, Change)>,
    sender: mpsc::Sender<(Instant, Change)>,
    /// Every change received so far, in order.
    seen: Vec<(Instant, Change)>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The namespace the watch threads join.
    name: String,
}

impl FibWatch {
    /// Starts watching `prefix`/32 in `namespace`'s main FIB (any table, in fact).
    pub fn start(namespace: &Namespace, prefix: Ipv4Addr) -> Result<FibWatch> {
        let name = namespace.name().to_owned();
        let (sender, changes) = mpsc::channel();
        let mut watch = FibWatch {
            changes,
            sender,
            seen: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            name,
        };
        watch.spawn("the FIB watch", open_route_socket, move |socket, to, stop| {
            read_stamped(&socket, to, stop, |bytes| route_changes(bytes, prefix))
        })?;
        Ok(watch)
    }

    /// Also stamps every BFD Control packet with State Down that leaves `interface` (single
    /// hop, UDP 3784, IPv4).
    pub fn with_bfd_downs(mut self, interface: &str) -> Result<FibWatch> {
        let interface = interface.to_owned();
        self.spawn(
            "the BFD packet watch",
            move || crate::impair::packet_socket(&interface),
            // The frames leaving the interface with a single-hop BFD Control packet (IPv4, UDP
            // to 3784) whose State is Down (RFC 5880 §4.1: the top two bits of the second
            // octet, 1 = Down).
            |socket, to, stop| {
                read_stamped(&socket, to, stop, |frame| {
                    if is_bfd_down(frame) { vec![Change::BfdDown] } else { Vec::new() }
                })
            },
        )?;
        Ok(self)
    }

    /// Runs `read` on a thread that first joined the namespace and opened its socket there.
    fn spawn(
        &mut self,
        what: &str,
        open: impl FnOnce() -> Result<OwnedFd> + Send + 'static,
        read: impl FnOnce(OwnedFd, &mpsc::Sender<(Instant, Change)>, &AtomicBool) + Send + 'static,
    ) -> Result<()> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        let (name, to, stop) = (self.name.clone(), self.sender.clone(), self.stop.clone());
        let thread =
            std::thread::spawn(move || match crate::netns::enter(&name).and_then(|()| open()) {
                Ok(socket) => {
                    let _ = ready_tx.send(Ok(()));
                    read(socket, &to, &stop);
                }
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                }
            });
        self.threads.push(thread);
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| io_error(what.to_owned(), std::io::Error::other("did not start")))?
    }

    /// Forgets every change reported so far.
    pub fn clear(&mut self) {
        while self.changes.try_recv().is_ok() {}
        self.seen.clear();
    }

    /// The first `change` stamped at or after `since`, waiting until `deadline` at most; the
    /// time from `since` to it. Changes of other kinds received meanwhile are kept for later
    /// calls.
    pub fn first(&mut self, change: Change, since: Instant, deadline: Instant) -> Option<Duration> {
        let found = |seen: &[(Instant, Change)]| {
            seen.iter().find(|(at, c)| *c == change && *at >= since).map(|(at, _)| *at - since)
        };
        if let Some(time) = found(&self.seen) {
            return Some(time);
        }
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let next = self.changes.recv_timeout(left).ok()?;
            self.seen.push(next);
            if let Some(time) = found(&self.seen[self.seen.len() - 1..]) {
                return Some(time);
            }
        }
    }
}

impl Drop for FibWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn io_error(command: String, source: std::io::Error) -> HarnessError {
    HarnessError::Io { command, source }
}

/// An rtnetlink socket joined to the IPv4 route group.
fn open_route_socket() -> Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; owned at once below.
    let raw = unsafe {
        libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE)
    };
    if raw < 0 {
        return Err(io_error("socket(AF_NETLINK)".into(), std::io::Error::last_os_error()));
    }
    // SAFETY: `raw` is fresh and owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_nl is plain data; all-zero is a valid start.
    let mut address: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    address.nl_family = libc::AF_NETLINK as u16;
    address.nl_groups = RTMGRP_IPV4_ROUTE;
    // SAFETY: the pointer and length describe `address`, alive for the call.
    let bound = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const address).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if bound != 0 {
        return Err(io_error("bind(RTMGRP_IPV4_ROUTE)".into(), std::io::Error::last_os_error()));
    }
    // Reads time out so the thread notices a stop.
    let timeout = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
    // SAFETY: setsockopt(2) with a live timeval of the size given.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    Ok(fd)
}

/// Reads `socket` until stopped, stamping each datagram as it is read and sending on what
/// `changes_in` finds in it.
fn read_stamped(
    socket: &OwnedFd,
    changes: &mpsc::Sender<(Instant, Change)>,
    stop: &AtomicBool,
    changes_in: impl Fn(&[u8]) -> Vec<Change>,
) {
    let mut buffer = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: reads into a live buffer of the length given.
        let read =
            unsafe { libc::recv(socket.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len(), 0) };
        let Ok(length) = usize::try_from(read) else { continue };
        let at = Instant::now();
        let Some(bytes) = buffer.get(..length) else { continue };
        for change in changes_in(bytes) {
            if changes.send((at, change)).is_err() {
                return;
            }
        }
    }
}

/// Whether an Ethernet frame holds an IPv4 UDP datagram to port 3784 whose BFD State is Down.
fn is_bfd_down(frame: &[u8]) -> bool {
    const ETHERNET: usize = 14;
    if frame.get(12..14) != Some(&[0x08, 0x00]) {
        return false;
    }
    let Some(&version_ihl) = frame.get(ETHERNET) else { return false };
    let ihl = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || frame.get(ETHERNET + 9) != Some(&17) {
        return false;
    }
    let udp = ETHERNET + ihl;
    if frame.get(udp + 2..udp + 4) != Some(&3784u16.to_be_bytes()) {
        return false;
    }
    frame.get(udp + 8 + 1).is_some_and(|state| state >> 6 == 1)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The additions and removals of `prefix`/32 in one datagram of netlink messages.
fn route_changes(mut bytes: &[u8], prefix: Ipv4Addr) -> Vec<Change> {
    let mut found = Vec::new();
    while let Some(length) = u32_at(bytes, 0).map(|l| l as usize) {
        if length < NLMSG_HEADER || length > bytes.len() {
            break;
        }
        let change = match u16_at(bytes, 4) {
            Some(RTM_NEWROUTE) => Some(Change::Added),
            Some(RTM_DELROUTE) => Some(Change::Deleted),
            _ => None,
        };
        let body = &bytes[NLMSG_HEADER..length];
        if let Some(change) = change
            && is_host_route_to(body, prefix)
        {
            found.push(change);
        }
        bytes = bytes.get(length.next_multiple_of(4)..).unwrap_or_default();
    }
    found
}

/// Whether an rtmsg and its attributes describe the IPv4 route `prefix`/32.
fn is_host_route_to(body: &[u8], prefix: Ipv4Addr) -> bool {
    let (Some(&family), Some(&dst_len)) = (body.first(), body.get(1)) else { return false };
    if i32::from(family) != libc::AF_INET || dst_len != 32 {
        return false;
    }
    let mut attributes = body.get(RTMSG..).unwrap_or_default();
    while let (Some(length), Some(kind)) = (u16_at(attributes, 0), u16_at(attributes, 2)) {
        let length = usize::from(length);
        if length < 4 || length > attributes.len() {
            return false;
        }
        if kind == RTA_DST {
            return attributes.get(4..8) == Some(&prefix.octets()[..]);
        }
        attributes = attributes.get(length.next_multiple_of(4)..).unwrap_or_default();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, family: u8, dst_len: u8, dst: [u8; 4]) -> Vec<u8> {
        let mut body = vec![family, dst_len, 0, 0, 254, 186, 0, 1, 0, 0, 0, 0];
        // RTA_TABLE first, then RTA_DST, as the kernel orders them.
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&15u16.to_ne_bytes());
        body.extend_from_slice(&254u32.to_ne_bytes());
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&RTA_DST.to_ne_bytes());
        body.extend_from_slice(&dst);
        let mut bytes = ((NLMSG_HEADER + body.len()) as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&[0; 10]);
        bytes.extend_from_slice(&body);
        bytes
    }

    #[test]
    fn finds_the_route_among_others_in_one_datagram() {
        let watched = Ipv4Addr::new(203, 0, 113, 10);
        let mut datagram = message(RTM_NEWROUTE, libc::AF_INET as u8, 32, [203, 0, 113, 11]);
        datagram.extend(message(RTM_DELROUTE, libc::AF_INET as u8, 24, [203, 0, 113, 0]));
        datagram.extend(message(RTM_DELROUTE, libc::AF_INET as u8, 32, [203, 0, 113, 10]));
        datagram.extend(message(RTM_NEWROUTE, libc::AF_INET as u8, 32, [203, 0, 113, 10]));
        assert_eq!(route_changes(&datagram, watched), [Change::Deleted, Change::Added]);
    }

    #[test]
    fn bfd_down_packets_are_told_from_up_ones() {
        let frame = |state: u8, port: u16| {
            let mut frame = vec![0u8; 12];
            frame.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 52, 0, 0, 0x40, 0, 255, 17, 0, 0]);
            frame.extend_from_slice(&[192, 0, 2, 2, 192, 0, 2, 1]);
            frame.extend_from_slice(&49152u16.to_be_bytes());
            frame.extend_from_slice(&port.to_be_bytes());
            frame.extend_from_slice(&[0, 32, 0, 0]);
            frame.extend_from_slice(&[0x20, state << 6, 3, 24]);
            frame.extend_from_slice(&[0; 20]);
            frame
        };
        assert!(is_bfd_down(&frame(1, 3784)));
        assert!(!is_bfd_down(&frame(3, 3784)), "Up");
        assert!(!is_bfd_down(&frame(1, 4784)), "multihop port");
        let whole = frame(1, 3784);
        for cut in 0..43 {
            assert!(!is_bfd_down(&whole[..cut]), "cut at {cut}");
        }
    }

    #[test]
    fn truncated_or_foreign_messages_are_skipped() {
        let watched = Ipv4Addr::new(203, 0, 113, 10);
        let whole = message(RTM_DELROUTE, libc::AF_INET as u8, 32, [203, 0, 113, 10]);
        for cut in 0..whole.len() {
            assert_eq!(route_changes(&whole[..cut], watched), []);
        }
        let v6 = message(RTM_DELROUTE, libc::AF_INET6 as u8, 32, [203, 0, 113, 10]);
        assert_eq!(route_changes(&v6, watched), []);
    }
}
