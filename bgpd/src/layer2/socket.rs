//! The raw socket of one interface and the std thread that owns it.
//!
//! An `AF_PACKET` socket (packet(7)) bound to one interface, with a classic
//! BPF filter that lets only ARP requests and ICMPv6 Neighbor Solicitations
//! up from the kernel: everything else is dropped before it is copied, so a
//! busy interface costs the thread nothing. The thread sleeps in `poll` on
//! the socket and an eventfd; the owner task wakes it through the eventfd
//! after queueing [`LinkCommand`]s (frames to send, groups to join or leave),
//! so a gratuitous frame leaves within microseconds of the decision. It
//! never blocks a tokio worker.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;

use tokio::sync::mpsc as tokio_mpsc;

use super::announcer::Frame;
use super::arp::{ArpPacket, ETHERTYPE_ARP, MacAddress};
use super::ndp::{ETHERTYPE_IPV6, NdpMessage, NdpPacket};

const SOL_PACKET: libc::c_int = 263;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_DROP_MEMBERSHIP: libc::c_int = 2;
const PACKET_MR_MULTICAST: libc::c_ushort = 0;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_OUTGOING: u8 = 4;
const SO_ATTACH_FILTER: libc::c_int = 26;
/// Largest frame read; requests are under 100 bytes, the rest is truncated.
const RECEIVE_BUFFER: usize = 256;

/// `struct packet_mreq` (linux/if_packet.h).
#[repr(C)]
struct PacketMreq {
    ifindex: libc::c_int,
    kind: libc::c_ushort,
    address_length: libc::c_ushort,
    address: [u8; 8],
}

/// Classic BPF: accept ARP with operation 1 (request) and IPv6 whose next
/// header is ICMPv6 with type 135 (Neighbor Solicitation); drop the rest.
/// Jump offsets count instructions after the jump.
const FILTER: [libc::sock_filter; 11] = {
    const LDH: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    const LDB: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }
    [
        op(LDH, 0, 0, 12),                    // 0: EtherType
        op(JEQ, 0, 2, ETHERTYPE_ARP as u32),  // 1: ARP? else 4
        op(LDH, 0, 0, 20),                    // 2: ARP operation
        op(JEQ, 5, 6, 1),                     // 3: request? accept : drop
        op(JEQ, 0, 5, ETHERTYPE_IPV6 as u32), // 4: IPv6? else drop
        op(LDB, 0, 0, 20),                    // 5: next header
        op(JEQ, 0, 3, 58),                    // 6: ICMPv6? else drop
        op(LDB, 0, 0, 54),                    // 7: ICMPv6 type
        op(JEQ, 0, 1, 135),                   // 8: solicitation? accept : drop
        op(RET, 0, 0, RECEIVE_BUFFER as u32), // 9: accept
        op(RET, 0, 0, 0),                     // 10: drop
    ]
};

/// What a link thread is asked to do.
#[derive(Debug)]
pub enum LinkCommand {
    Send(Frame),
    /// The addresses announced on this link, sorted: requests for others are
    /// dropped in the thread (the owner still decides for these).
    Targets(Vec<IpAddr>),
    Join(MacAddress),
    Leave(MacAddress),
}

/// A request read from an interface, for the owner task.
#[derive(Debug, Clone, Copy)]
pub enum Received {
    Arp { link: u32, packet: ArpPacket },
    Solicitation { link: u32, packet: NdpPacket },
}

/// Why a link could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("interface {link}: {step}: {source}")]
    Socket { link: u32, step: &'static str, source: io::Error },
}

fn check(rc: libc::c_int, link: u32, step: &'static str) -> Result<libc::c_int, LinkError> {
    if rc < 0 {
        Err(LinkError::Socket { link, step, source: io::Error::last_os_error() })
    } else {
        Ok(rc)
    }
}

fn set_option<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> libc::c_int {
    // SAFETY: `value` points to a live `T` of the size passed.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    }
}

/// The handle the owner task keeps for one interface's thread. Dropping it
/// stops the thread, which closes the socket (and so leaves its groups).
#[derive(Debug)]
pub struct LinkThread {
    commands: mpsc::Sender<LinkCommand>,
    wake: OwnedFd,
}

impl LinkThread {
    /// Opens the socket of interface `link` and starts its thread, which
    /// reports requests on `received` (dropping them when the owner is
    /// behind: a requester retries, and the queue must not grow).
    pub fn spawn(link: u32, received: tokio_mpsc::Sender<Received>) -> Result<Self, LinkError> {
        let socket = open(link)?;
        // SAFETY: plain syscall; the result is checked.
        let wake = check(
            unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) },
            link,
            "eventfd",
        )?;
        // SAFETY: `wake` is a fresh descriptor owned by nothing else.
        let wake = unsafe { OwnedFd::from_raw_fd(wake) };
        let thread_wake =
            wake.try_clone().map_err(|source| LinkError::Socket { link, step: "dup", source })?;
        let (commands, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("layer2-if{link}"))
            .spawn(move || run(link, socket, thread_wake, queue, received))
            .map_err(|source| LinkError::Socket { link, step: "spawn thread", source })?;
        Ok(Self { commands, wake })
    }

    /// Queues a command; [`LinkThread::wake`] makes the thread act on it.
    pub fn queue(&self, command: LinkCommand) {
        let _ = self.commands.send(command);
    }

    /// Wakes the thread to carry out what was queued.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. A full
        // counter (EAGAIN) means the thread is already due to wake.
        let _ = unsafe { libc::write(self.wake.as_raw_fd(), (&raw const one).cast(), 8) };
    }
}

impl Drop for LinkThread {
    fn drop(&mut self) {
        // The thread sees the channel closed once woken, and returns.
        let (closed, _) = mpsc::channel();
        self.commands = closed;
        self.wake();
    }
}

/// Creates the filtered socket bound to `link`. The filter is attached
/// before the bind, while protocol 0 still receives nothing, so no
/// unfiltered frame is ever queued.
fn open(link: u32) -> Result<OwnedFd, LinkError> {
    let kind = libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: plain syscall; the result is checked.
    let fd = check(unsafe { libc::socket(libc::AF_PACKET, kind, 0) }, link, "socket")?;
    // SAFETY: `fd` is fresh and owned by nothing else.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let program = libc::sock_fprog { len: FILTER.len() as u16, filter: FILTER.as_ptr().cast_mut() };
    check(set_option(fd, libc::SOL_SOCKET, SO_ATTACH_FILTER, &program), link, "attach filter")?;
    // Linux 4.20+; older kernels loop our own frames back, which `run`
    // drops by their packet type anyway.
    let _ = set_option(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &1 as &libc::c_int);
    // SAFETY: an all-zero sockaddr_ll is valid; the fields are set below.
    let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    address.sll_ifindex = link as libc::c_int;
    // SAFETY: `address` is a live sockaddr_ll and its size is passed.
    let rc = unsafe {
        libc::bind(
            fd,
            (&raw const address).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    check(rc, link, "bind")?;
    Ok(socket)
}

/// Joins or leaves a solicited-node group twice: on the packet socket
/// (`PACKET_MR_MULTICAST`, so the interface's filter passes the group's
/// frames up), and in the kernel's IPv6 stack on `mld`, so that the kernel
/// sends MLD reports (RFC 3810) and switches that snoop MLD forward the
/// group's solicitations to this port. The kernel does not answer them: the
/// target is none of its addresses.
fn membership(fd: RawFd, mld: Option<&socket2::Socket>, link: u32, group: MacAddress, add: bool) {
    let [_, _, _, a, b, c] = group.0;
    let v6_group =
        std::net::Ipv6Addr::from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, a, b, c]);
    if let Some(mld) = mld {
        let joined = if add {
            mld.join_multicast_v6(&v6_group, link)
        } else {
            mld.leave_multicast_v6(&v6_group, link)
        };
        if let Err(error) = joined {
            tracing::warn!(link, group = %v6_group, %error, add, "layer2: MLD membership failed");
        }
    }
    packet_membership(fd, link, group, add);
}

fn packet_membership(fd: RawFd, link: u32, group: MacAddress, add: bool) {
    let mut address = [0u8; 8];
    address[..6].copy_from_slice(&group.0);
    let request = PacketMreq {
        ifindex: link as libc::c_int,
        kind: PACKET_MR_MULTICAST,
        address_length: 6,
        address,
    };
    let name = if add { PACKET_ADD_MEMBERSHIP } else { PACKET_DROP_MEMBERSHIP };
    if set_option(fd, SOL_PACKET, name, &request) < 0 {
        let error = io::Error::last_os_error();
        tracing::warn!(link, %group, %error, add, "layer2: multicast membership failed");
    }
}

/// The thread: wait, carry out commands, read requests, until the owner
/// drops its [`LinkThread`].
fn run(
    link: u32,
    socket: OwnedFd,
    wake: OwnedFd,
    commands: mpsc::Receiver<LinkCommand>,
    received: tokio_mpsc::Sender<Received>,
) {
    let fd = socket.as_raw_fd();
    let mut buffer = [0u8; RECEIVE_BUFFER];
    let mut targets: Vec<IpAddr> = Vec::new();
    // Only for MLD reports; without it (no IPv6 in this kernel) the packet
    // membership still works on segments that do not snoop MLD.
    let mld = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::DGRAM, None)
        .inspect_err(|error| tracing::warn!(link, %error, "layer2: no IPv6 socket for MLD"))
        .ok();
    loop {
        let mut fds = [
            libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: wake.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: `fds` is a live array of two pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if rc < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tracing::error!(link, %error, "layer2: poll failed; interface abandoned");
            return;
        }
        if fds[1].revents != 0 {
            let mut counter = 0u64;
            // SAFETY: reads 8 bytes into a live u64 (resets the eventfd).
            let _ = unsafe { libc::read(wake.as_raw_fd(), (&raw mut counter).cast(), 8) };
            loop {
                match commands.try_recv() {
                    Ok(LinkCommand::Send(frame)) => send(fd, link, &frame),
                    Ok(LinkCommand::Targets(list)) => targets = list,
                    Ok(LinkCommand::Join(group)) => membership(fd, mld.as_ref(), link, group, true),
                    Ok(LinkCommand::Leave(group)) => {
                        membership(fd, mld.as_ref(), link, group, false)
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            }
        }
        if fds[0].revents != 0 && !drain(fd, link, &mut buffer, &targets, &received) {
            return;
        }
    }
}

fn send(fd: RawFd, link: u32, frame: &Frame) {
    let bytes = frame.as_bytes();
    // SAFETY: sends from a live slice of the length passed.
    let rc = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), 0) };
    if rc < 0 {
        let error = io::Error::last_os_error();
        tracing::warn!(link, %error, "layer2: send failed");
    }
}

/// Reads every queued frame; `false` when the owner is gone.
fn drain(
    fd: RawFd,
    link: u32,
    buffer: &mut [u8],
    targets: &[IpAddr],
    received: &tokio_mpsc::Sender<Received>,
) -> bool {
    loop {
        // SAFETY: an all-zero sockaddr_ll is valid to be written into.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_length = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: receives into a live buffer of the length passed, and the
        // sender address into a live sockaddr_ll.
        let length = unsafe {
            libc::recvfrom(
                fd,
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                libc::MSG_DONTWAIT,
                (&raw mut from).cast(),
                &raw mut from_length,
            )
        };
        let Ok(length) = usize::try_from(length) else {
            return true; // EAGAIN: drained (other errors: try again at the next poll)
        };
        if from.sll_pkttype == PACKET_OUTGOING {
            continue;
        }
        let frame = &buffer[..length.min(buffer.len())];
        let (event, target) = match ArpPacket::parse(frame) {
            Ok(packet) => (Received::Arp { link, packet }, IpAddr::V4(packet.target_ip)),
            Err(_) => match NdpPacket::parse(frame) {
                Ok(packet @ NdpPacket { message: NdpMessage::Solicitation { target, .. }, .. }) => {
                    (Received::Solicitation { link, packet }, IpAddr::V6(target))
                }
                _ => continue,
            },
        };
        if targets.binary_search(&target).is_err() {
            continue;
        }
        if let Err(tokio_mpsc::error::TrySendError::Closed(_)) = received.try_send(event) {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the classic BPF program the way the kernel does, for the few
    /// instructions it uses: the number of bytes to keep (0: dropped).
    fn run_filter(frame: &[u8]) -> u32 {
        let mut accumulator = 0u32;
        let mut pc = 0;
        loop {
            let op = FILTER[pc];
            let k = op.k as usize;
            match op.code {
                0x28 if k + 2 <= frame.len() => {
                    accumulator = u32::from(u16::from_be_bytes([frame[k], frame[k + 1]]))
                }
                0x30 if k < frame.len() => accumulator = u32::from(frame[k]),
                0x28 | 0x30 => return 0, // a load past the end drops the packet
                0x15 => {
                    let jump = if accumulator == op.k { op.jt } else { op.jf };
                    pc += usize::from(jump);
                }
                0x06 => return op.k,
                code => panic!("unexpected opcode {code:#x}"),
            }
            pc += 1;
        }
    }

    #[test]
    fn filter_passes_arp_requests_and_solicitations_only() {
        let client = MacAddress([2, 0, 0, 0, 0, 0x0c]);
        let address = std::net::Ipv4Addr::new(198, 51, 100, 50);
        let mut arp = [0u8; 42];
        ArpPacket::gratuitous_request(address, client).encode(&mut arp);
        assert_eq!(run_filter(&arp), RECEIVE_BUFFER as u32, "ARP request");
        ArpPacket::gratuitous_reply(address, client).encode(&mut arp);
        assert_eq!(run_filter(&arp), 0, "ARP reply");

        let target: std::net::Ipv6Addr = "2001:db8::50".parse().unwrap();
        let mut ndp = [0u8; crate::layer2::ndp::NDP_FRAME_MAX];
        let advertisement = NdpPacket::unsolicited_advertisement(target, client);
        let length = advertisement.encode(&mut ndp);
        assert_eq!(run_filter(&ndp[..length]), 0, "neighbour advertisement");
        let solicitation = NdpPacket {
            message: NdpMessage::Solicitation { target, source_link_address: Some(client) },
            ..advertisement
        };
        let length = solicitation.encode(&mut ndp);
        assert_eq!(run_filter(&ndp[..length]), RECEIVE_BUFFER as u32, "solicitation");

        let mut ipv4 = arp.to_vec();
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(run_filter(&ipv4), 0, "IPv4");
        let mut tcp6 = ndp[..length].to_vec();
        tcp6[20] = 6;
        assert_eq!(run_filter(&tcp6), 0, "IPv6 but not ICMPv6");
        assert_eq!(run_filter(&arp[..13]), 0, "runt");
    }
}
