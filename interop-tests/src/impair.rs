//! A lossy, slow link built in userspace: delay and loss for kernels without `netem`.
//!
//! The soak (issue #17) wants one BGP link with 5 % loss and 200 ms delay. `tc qdisc ... netem`
//! is the usual tool, but this machine's kernel lacks the module ("Specified qdisc kind is
//! unknown") and has no tc classifiers, nft or iptables either. So the link is a middle "wire"
//! namespace holding one veth end towards each side; [`Wire`] bridges the two ends with
//! AF_PACKET raw sockets (packet(7)), holding every frame for the delay and dropping the given
//! fraction with a seeded RNG, in both directions. [`Mode::Netem`] builds the same topology as a
//! direct veth with `tc netem` on both ends, for kernels that have it.
//!
//! The decision part is sans-IO ([`Scheduler`]: frames in with their arrival time, frames out
//! when due) and unit-tested; the I/O is blocking and runs on threads of its own, two per
//! direction (a reader that stamps frames, a sender that owns the scheduler).
//!
//! Both directions are impaired: a round trip takes twice the delay (400 ms for 200 ms).
//! Offloads are turned off on the endpoints (checksums are computed before a frame leaves, no
//! 64 KB TSO/GRO super-frames), because a frame copied through a packet socket carries
//! neither a partial checksum nor segmentation metadata. The queue is bounded
//! ([`QUEUE_FRAMES`]); a frame beyond it is dropped and counted, like a full qdisc.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::{Link, Namespace, connect, run};
use crate::{HarnessError, Result};

/// Frames one direction may hold at once (200 ms at 65,536 frames is 300k frames/s: never
/// reached by the BGP traffic it carries; a bound all the same).
pub const QUEUE_FRAMES: usize = 65_536;

/// Delay and loss applied to each direction of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// How long each frame is held before it is passed on.
    pub delay: Duration,
    /// The fraction of frames dropped, 0.0..=1.0.
    pub loss: f64,
}

impl Impairment {
    /// The soak's link: 200 ms each way, 5 % loss each way.
    pub const SOAK: Impairment = Impairment { delay: Duration::from_millis(200), loss: 0.05 };
}

/// How the impairment is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The userspace [`Wire`] with this RNG seed (works everywhere).
    Userspace { seed: u64 },
    /// `tc qdisc add dev X root netem delay D loss L%` on both ends (needs `sch_netem`).
    Netem,
}

/// A wrong impairment setting.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum ImpairmentError {
    #[error("loss must be a fraction in 0.0..=1.0, got {0}")]
    Loss(f64),
}

/// xorshift64* seeded through splitmix64: reproducible, no dependency, good enough for loss.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(if z == 0 { 1 } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// What [`Scheduler::offer`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Held until this instant.
    Queued { due: Instant },
    /// Dropped by the loss draw.
    Lost,
    /// Dropped because [`QUEUE_FRAMES`] (or the scheduler's capacity) frames wait already.
    Overflow,
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub offered: u64,
    pub lost: u64,
    pub overflow: u64,
    pub delivered: u64,
}

/// One direction's delay line and loss draw, sans-IO. Frames leave in arrival order (the
/// delay is fixed), each `delay` after it arrived.
#[derive(Debug)]
pub struct Scheduler<F> {
    delay: Duration,
    /// A frame is lost when the draw is below this (`loss` scaled to `u64`).
    threshold: u64,
    always_lose: bool,
    rng: Rng,
    queue: VecDeque<(Instant, F)>,
    capacity: usize,
    counts: Counts,
}

impl<F> Scheduler<F> {
    pub fn new(
        impairment: Impairment,
        seed: u64,
        capacity: usize,
    ) -> Result<Self, ImpairmentError> {
        let loss = impairment.loss;
        if !(0.0..=1.0).contains(&loss) {
            return Err(ImpairmentError::Loss(loss));
        }
        // `as` saturates: 1.0 gives u64::MAX, which `always_lose` covers exactly.
        let threshold = (loss * u64::MAX as f64) as u64;
        Ok(Self {
            delay: impairment.delay,
            threshold,
            always_lose: loss >= 1.0,
            rng: Rng::new(seed),
            queue: VecDeque::new(),
            capacity,
            counts: Counts::default(),
        })
    }

    /// A frame that arrived at `now`.
    pub fn offer(&mut self, now: Instant, frame: F) -> Verdict {
        self.counts.offered += 1;
        let draw = self.rng.next_u64();
        if self.always_lose || draw < self.threshold {
            self.counts.lost += 1;
            return Verdict::Lost;
        }
        if self.queue.len() >= self.capacity {
            self.counts.overflow += 1;
            return Verdict::Overflow;
        }
        let due = now + self.delay;
        self.queue.push_back((due, frame));
        Verdict::Queued { due }
    }

    /// When the next frame is due, if any waits.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.front().map(|(due, _)| *due)
    }

    /// The next frame due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<F> {
        if self.next_due()? > now {
            return None;
        }
        let (_, frame) = self.queue.pop_front()?;
        self.counts.delivered += 1;
        Some(frame)
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }
}

/// Live counters of one direction of a running [`Wire`].
#[derive(Debug, Default)]
struct SharedCounts {
    offered: AtomicU64,
    lost: AtomicU64,
    overflow: AtomicU64,
    delivered: AtomicU64,
    send_errors: AtomicU64,
}

impl SharedCounts {
    fn publish(&self, counts: Counts) {
        self.offered.store(counts.offered, Ordering::Relaxed);
        self.lost.store(counts.lost, Ordering::Relaxed);
        self.overflow.store(counts.overflow, Ordering::Relaxed);
        self.delivered.store(counts.delivered, Ordering::Relaxed);
    }

    fn read(&self) -> WireCounts {
        WireCounts {
            counts: Counts {
                offered: self.offered.load(Ordering::Relaxed),
                lost: self.lost.load(Ordering::Relaxed),
                overflow: self.overflow.load(Ordering::Relaxed),
                delivered: self.delivered.load(Ordering::Relaxed),
            },
            send_errors: self.send_errors.load(Ordering::Relaxed),
        }
    }
}

/// What one direction of a [`Wire`] did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireCounts {
    pub counts: Counts,
    /// Frames the kernel refused to send (EMSGSIZE for an oversized frame, ENOBUFS).
    pub send_errors: u64,
}

/// The userspace bridge between two interfaces of one namespace; stops and joins its
/// threads on drop.
#[derive(Debug)]
pub struct Wire {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// a -> b, b -> a.
    counts: [Arc<SharedCounts>; 2],
}

const PACKET_OUTGOING: u8 = 4;
const FRAME_BUFFER: usize = 65_536;

fn io_error(command: String, source: std::io::Error) -> HarnessError {
    HarnessError::Io { command, source }
}

/// Runs `work` on a thread that joined `namespace` first (setns(2)): sockets it opens live
/// there, and stay there whichever thread uses them later.
fn in_namespace<T: Send + 'static>(
    namespace: &Namespace,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let name = namespace.name().to_owned();
    std::thread::spawn(move || -> Result<T> {
        crate::netns::enter(&name)?;
        work()
    })
    .join()
    .map_err(|_| io_error("namespace thread".into(), std::io::Error::other("it panicked")))?
}

/// An AF_PACKET socket bound to `interface` (call inside its namespace), reads timing out
/// after 100 ms so the reader can notice a stop.
pub(crate) fn packet_socket(interface: &str) -> Result<OwnedFd> {
    let name = std::ffi::CString::new(interface)
        .map_err(|e| io_error(format!("interface {interface}"), std::io::Error::other(e)))?;
    // SAFETY: if_nametoindex reads a NUL-terminated string we own.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(io_error(format!("if_nametoindex {interface}"), last_error()));
    }
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket(2) with constant arguments; the descriptor is owned at once below.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(protocol)) };
    if raw < 0 {
        return Err(io_error("socket(AF_PACKET)".into(), last_error()));
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
    let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_protocol = protocol;
    address.sll_ifindex = index as i32;
    // SAFETY: the pointer and length describe `address`, alive for the call.
    let bound = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const address).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if bound != 0 {
        return Err(io_error(format!("bind AF_PACKET to {interface}"), last_error()));
    }
    let timeout = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
    set_option(&fd, libc::SO_RCVTIMEO, &timeout, interface)?;
    set_option(&fd, libc::SO_RCVBUF, &(4 << 20_i32), interface)?;
    Ok(fd)
}

fn set_option<T>(fd: &OwnedFd, option: libc::c_int, value: &T, interface: &str) -> Result<()> {
    // SAFETY: the pointer and length describe `value`, alive for the call.
    let status = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if status != 0 {
        return Err(io_error(format!("setsockopt {option} on {interface}"), last_error()));
    }
    Ok(())
}

fn last_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// Reads frames arriving on `fd` (not those leaving it) and hands them on, stamped.
fn read_frames(fd: Arc<OwnedFd>, to: mpsc::Sender<(Instant, Vec<u8>)>, stop: Arc<AtomicBool>) {
    let mut buffer = vec![0u8; FRAME_BUFFER];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: sockaddr_ll is plain data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut length = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buffer and address pointers with their true lengths, alive for the call.
        let got = unsafe {
            libc::recvfrom(
                fd.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                0,
                (&raw mut from).cast(),
                &raw mut length,
            )
        };
        let Ok(size) = usize::try_from(got) else {
            // EAGAIN from the 100 ms timeout, EINTR: look at `stop` and read again.
            continue;
        };
        if from.sll_pkttype == PACKET_OUTGOING {
            continue;
        }
        if to.send((Instant::now(), buffer[..size].to_vec())).is_err() {
            return;
        }
    }
}

/// Owns one direction's [`Scheduler`]: takes stamped frames, sends each when due.
fn send_frames(
    mut scheduler: Scheduler<Vec<u8>>,
    fd: Arc<OwnedFd>,
    from: mpsc::Receiver<(Instant, Vec<u8>)>,
    counts: Arc<SharedCounts>,
) {
    loop {
        let now = Instant::now();
        let wait = scheduler
            .next_due()
            .map_or(Duration::from_millis(100), |due| due.saturating_duration_since(now));
        match from.recv_timeout(wait) {
            Ok((at, frame)) => {
                scheduler.offer(at, frame);
                while let Ok((at, frame)) = from.try_recv() {
                    scheduler.offer(at, frame);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        while let Some(frame) = scheduler.pop_due(Instant::now()) {
            // SAFETY: the pointer and length describe `frame`, alive for the call.
            let sent = unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if sent < 0 {
                counts.send_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        counts.publish(scheduler.counts());
    }
}

impl Wire {
    /// Bridges interfaces `a` and `b` of `namespace` with `impairment` in each direction
    /// (seeds `seed` for a -> b, `seed + 1` for b -> a).
    pub fn start(
        namespace: &Namespace,
        a: &str,
        b: &str,
        impairment: Impairment,
        seed: u64,
    ) -> Result<Self> {
        let invalid = |e: ImpairmentError| io_error("impairment".into(), std::io::Error::other(e));
        let forward = Scheduler::new(impairment, seed, QUEUE_FRAMES).map_err(invalid)?;
        let backward =
            Scheduler::new(impairment, seed.wrapping_add(1), QUEUE_FRAMES).map_err(invalid)?;
        let (a_name, b_name) = (a.to_owned(), b.to_owned());
        let (fd_a, fd_b) = in_namespace(namespace, move || {
            Ok((packet_socket(&a_name)?, packet_socket(&b_name)?))
        })?;
        let (fd_a, fd_b) = (Arc::new(fd_a), Arc::new(fd_b));
        let stop = Arc::new(AtomicBool::new(false));
        let counts = [Arc::new(SharedCounts::default()), Arc::new(SharedCounts::default())];
        let mut threads = Vec::new();
        for (scheduler, from, to, counts) in
            [(forward, &fd_a, &fd_b, &counts[0]), (backward, &fd_b, &fd_a, &counts[1])]
        {
            let (sender, receiver) = mpsc::channel();
            let (from, stop_reader) = (Arc::clone(from), Arc::clone(&stop));
            threads.push(std::thread::spawn(move || read_frames(from, sender, stop_reader)));
            let (to, counts) = (Arc::clone(to), Arc::clone(counts));
            threads.push(std::thread::spawn(move || send_frames(scheduler, to, receiver, counts)));
        }
        Ok(Self { stop, threads, counts })
    }

    /// Counters for a -> b and b -> a.
    pub fn counts(&self) -> [WireCounts; 2] {
        [self.counts[0].read(), self.counts[1].read()]
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        // Readers notice within their 100 ms receive timeout; senders end when their reader's
        // channel closes.
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// `struct ifreq` with the `ifr_data` member of its union (40 bytes on 64-bit Linux).
#[repr(C)]
struct IfreqData {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// ethtool(8)'s legacy set commands (linux/ethtool.h): TX checksum, TSO, GSO, GRO.
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_SGSO: u32 = 0x24;
const ETHTOOL_SGRO: u32 = 0x2c;

/// Turns TX checksum offload, TSO, GSO and GRO off on `interface` of `namespace` (ethtool -K
/// without the ethtool binary, which this machine lacks). The checksum is required, the rest
/// is best effort: a veth refuses nothing of it today.
fn disable_offloads(namespace: &Namespace, interface: &str) -> Result<()> {
    let name = interface.to_owned();
    in_namespace(namespace, move || {
        // SAFETY: socket(2) with constant arguments, owned at once.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
        if raw < 0 {
            return Err(io_error("socket(AF_INET)".into(), last_error()));
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        for (command, required) in [
            (ETHTOOL_STXCSUM, true),
            (ETHTOOL_STSO, false),
            (ETHTOOL_SGSO, false),
            (ETHTOOL_SGRO, false),
        ] {
            let mut value = EthtoolValue { cmd: command, data: 0 };
            let mut request = IfreqData {
                name: [0; libc::IFNAMSIZ],
                data: (&raw mut value).cast(),
                _pad: [0; 16],
            };
            for (slot, byte) in request.name.iter_mut().zip(name.bytes().take(libc::IFNAMSIZ - 1)) {
                *slot = byte as libc::c_char;
            }
            // SAFETY: SIOCETHTOOL reads the ifreq and the ethtool_value it points to, both
            // alive for the call.
            let status =
                unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCETHTOOL, &raw mut request) };
            if status != 0 && required {
                return Err(io_error(format!("ethtool {command:#x} on {name}"), last_error()));
            }
        }
        Ok(())
    })
}

/// A link between two namespaces with delay and loss in both directions; the middle
/// namespace (userspace mode) and the bridge go when it is dropped.
#[derive(Debug)]
pub struct ImpairedLink {
    pub link_left: String,
    pub link_right: String,
    /// Userspace mode: the bridge (dropped before the namespace).
    pub wire: Option<Wire>,
    /// Userspace mode: the middle namespace.
    pub wire_namespace: Option<Namespace>,
}

impl ImpairedLink {
    /// Counters of the userspace bridge (left -> right, right -> left); `None` with netem.
    pub fn counts(&self) -> Option<[WireCounts; 2]> {
        self.wire.as_ref().map(Wire::counts)
    }
}

/// Joins `left` and `right` like [`connect`], with `impairment` on the way.
pub fn impaired_link(
    left: (&Namespace, &str, &[&str]),
    right: (&Namespace, &str, &[&str]),
    impairment: Impairment,
    mode: Mode,
) -> Result<ImpairedLink> {
    let (left_ns, left_if, left_addresses) = left;
    let (right_ns, right_if, right_addresses) = right;
    match mode {
        Mode::Netem => {
            let Link { left: l, right: r } =
                connect(left_ns, left_if, left_addresses, right_ns, right_if, right_addresses)?;
            let delay = format!("{}ms", impairment.delay.as_millis());
            let loss = format!("{}%", impairment.loss * 100.0);
            for (namespace, interface) in [(left_ns, &l), (right_ns, &r)] {
                let mut args = vec!["-n", namespace.name(), "qdisc", "add", "dev"];
                args.extend([interface.as_str(), "root", "netem", "delay", &delay]);
                args.extend(["loss", &loss]);
                run("tc", args)?;
            }
            Ok(ImpairedLink { link_left: l, link_right: r, wire: None, wire_namespace: None })
        }
        Mode::Userspace { seed } => {
            let wire = Namespace::new("wire")?;
            connect(left_ns, left_if, left_addresses, &wire, "wa", &[])?;
            connect(&wire, "wb", &[], right_ns, right_if, right_addresses)?;
            for end in ["wa", "wb"] {
                wire.ip(&["link", "set", end, "promisc", "on"])?;
                let key = format!("net.ipv6.conf.{end}.disable_ipv6=1");
                wire.exec("sysctl", &["-qw", key.as_str()])?;
                disable_offloads(&wire, end)?;
            }
            disable_offloads(left_ns, left_if)?;
            disable_offloads(right_ns, right_if)?;
            let bridge = Wire::start(&wire, "wa", "wb", impairment, seed)?;
            Ok(ImpairedLink {
                link_left: left_if.to_owned(),
                link_right: right_if.to_owned(),
                wire: Some(bridge),
                wire_namespace: Some(wire),
            })
        }
    }
}

impl Drop for ImpairedLink {
    fn drop(&mut self) {
        // The threads first: their sockets close before the namespace is deleted.
        self.wire = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soak() -> Scheduler<u32> {
        Scheduler::new(Impairment::SOAK, 7, QUEUE_FRAMES).unwrap()
    }

    #[test]
    fn every_kept_frame_leaves_exactly_the_delay_after_it_arrived() {
        let mut s = soak();
        let start = Instant::now();
        let mut expected = Vec::new();
        for i in 0..1_000u32 {
            let at = start + Duration::from_millis(u64::from(i));
            if let Verdict::Queued { due } = s.offer(at, i) {
                assert_eq!(due, at + Duration::from_millis(200));
                expected.push((due, i));
            }
        }
        for (due, frame) in expected {
            assert_eq!(s.pop_due(due - Duration::from_nanos(1)), None, "frame {frame} early");
            assert_eq!(s.pop_due(due), Some(frame));
        }
        assert_eq!(s.queued(), 0);
    }

    #[test]
    fn nothing_is_due_before_the_delay() {
        let mut s = soak();
        let start = Instant::now();
        let _ = s.offer(start, 1);
        let _ = s.offer(start, 2);
        assert_eq!(s.pop_due(start + Duration::from_millis(199)), None);
    }

    #[test]
    fn frames_leave_in_arrival_order() {
        let mut s = Scheduler::new(Impairment { loss: 0.0, ..Impairment::SOAK }, 1, 100).unwrap();
        let start = Instant::now();
        for i in 0..50 {
            assert!(matches!(s.offer(start + Duration::from_micros(i), i), Verdict::Queued { .. }));
        }
        let later = start + Duration::from_secs(1);
        let out: Vec<u64> = std::iter::from_fn(|| s.pop_due(later)).collect();
        assert_eq!(out, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn about_five_percent_are_lost() {
        let mut s = Scheduler::new(Impairment::SOAK, 42, usize::MAX).unwrap();
        let now = Instant::now();
        for i in 0..100_000u32 {
            let _ = s.offer(now, i);
        }
        let lost = s.counts().lost;
        // Binomial(100000, 0.05): sd 69; 4,700..5,300 is more than 4 sd either way.
        assert!((4_700..=5_300).contains(&lost), "lost {lost} of 100000");
        assert_eq!(s.counts().offered, 100_000);
        assert_eq!(s.queued() as u64, 100_000 - lost);
    }

    #[test]
    fn the_same_seed_loses_the_same_frames() {
        let losses = |seed| {
            let mut s = Scheduler::new(Impairment::SOAK, seed, usize::MAX).unwrap();
            let now = Instant::now();
            (0..2_000u32).map(|i| s.offer(now, i) == Verdict::Lost).collect::<Vec<_>>()
        };
        assert_eq!(losses(5), losses(5));
        assert_ne!(losses(5), losses(6));
    }

    #[test]
    fn no_loss_keeps_everything_and_full_loss_keeps_nothing() {
        let now = Instant::now();
        let mut none =
            Scheduler::new(Impairment { loss: 0.0, ..Impairment::SOAK }, 3, 10_000).unwrap();
        let mut all =
            Scheduler::new(Impairment { loss: 1.0, ..Impairment::SOAK }, 3, 10_000).unwrap();
        for i in 0..10_000u32 {
            assert!(matches!(none.offer(now, i), Verdict::Queued { .. }));
            assert_eq!(all.offer(now, i), Verdict::Lost);
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let mut s = Scheduler::new(Impairment { loss: 0.0, ..Impairment::SOAK }, 3, 2).unwrap();
        let now = Instant::now();
        assert!(matches!(s.offer(now, 1), Verdict::Queued { .. }));
        assert!(matches!(s.offer(now, 2), Verdict::Queued { .. }));
        assert_eq!(s.offer(now, 3), Verdict::Overflow);
        assert_eq!(s.counts().overflow, 1);
        assert_eq!(s.pop_due(now + Duration::from_secs(1)), Some(1));
        assert!(matches!(s.offer(now, 4), Verdict::Queued { .. }));
    }

    #[test]
    fn a_loss_outside_zero_to_one_is_refused() {
        for loss in [-0.1, 1.5, f64::NAN] {
            let got = Scheduler::<u8>::new(Impairment { loss, ..Impairment::SOAK }, 0, 1);
            assert!(got.is_err(), "{loss}");
        }
    }
}
