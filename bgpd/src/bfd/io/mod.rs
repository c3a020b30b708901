//! The BFD I/O driver: one dedicated OS thread that owns the UDP sockets and
//! every session's timers, so that no amount of RIB work on the tokio
//! runtime can delay a BFD packet.
//!
//! ```text
//!   owner (instance)                         BFD thread
//!   BfdHandle::add/remove/update/admin ──► std mpsc + eventfd wake
//!                                            │ ppoll(eventfd [, listeners],
//!                                            │   timeout = earliest deadline,
//!                                            │   rounded up to a 1 ms tick)
//!                                            ├─ commands → Session::start / handle
//!                                            ├─ datagrams (recvmmsg, 32 a call) →
//!                                            │   TTL check → decode → demux (Your
//!                                            │   Discriminator, else source +
//!                                            │   destination) → handle
//!                                            └─ due timers (a deadline heap) → handle
//!   tokio mpsc (unbounded) ◄── Report::StateChanged (rare: bounded by flaps)
//! ```
//!
//! The heap holds every transmit deadline ever armed and at most one
//! detection entry per session; an entry fires only if it is still the
//! session's armed deadline, so disarming costs nothing, and stale entries
//! are dropped (a detection one pushed again at the session's current
//! deadline) when they reach the top, before the wait is computed, so they
//! never cause a wake-up.
//!
//! Wake-ups are what BFD costs (the context switch, not the packet work),
//! so they are shared. Every session's transmit times are aligned to a grid
//! counted from the thread's start (`Session::align_to`): the RFC 5880
//! §6.8.7 jitter is drawn among the grid points inside the 75-100 % window
//! (75-90 % with Detect Mult 1), in grains of at most a tenth of the
//! interval (5 ms at 50 ms, 20 ms at 300 ms), so sessions with the same
//! grain fall due on the same instants. Timers are served at the first
//! 1 ms [`TICK`] at or after their deadline (grid points are ticks);
//! packets are read only at those wake-ups when a timer is due within
//! [`PACKET_HOLD`] (5 ms; with many sessions, always), else a packet wakes
//! the thread and the rest of its tick's packets and timers join it. One
//! clock reading serves every event of a wake-up. Received packets are
//! handled before timers, so one that arrived before its session's
//! detection deadline always counts. A late transmit timer is handled as
//! of its deadline, so a delay never stretches the intervals that follow.
//! Each session's socket is connected to its peer (the route is looked up
//! once, not per packet) and IPv4 ones set Don't Fragment (no per-packet
//! IP ID hash). A received packet moves its session's detection deadline
//! without a heap push: the queued entry fires early and is pushed again
//! at the deadline of the moment.
//!
//! Cost (`interop-tests/src/bin/bench-bfd-cost.rs`, release bgpd against
//! the rig's responder over a veth, 100 sessions at 50 ms × 3, about 2,220
//! packets/s each way): about 200 wake-ups a second, and 1.3-1.6 % of one
//! core on a quiet machine, 1.9 % at a load average of 5 (the README has
//! the table); the 1 ms ticks alone woke ~700 times a second and cost
//! 3.4 % on a quiet machine. Most of
//! what is left is the kernel's `sendto` path, which on a veth also runs
//! the receiving namespace's input path on our thread. The user-space part
//! per packet is ~150 ns (`cargo bench -p bgpd --bench bfd`).
//!
//! The thread asks for SCHED_FIFO at start (`raise_priority`, at
//! `[global] bfd_realtime_priority`, by default the lowest): on a
//! busy machine an ordinary thread can wait on the run queue for longer
//! than a 150 ms Detection Time, which is a false Down on both sides (seen
//! with the machine's load average at 10: ten in ten minutes). Without
//! CAP_SYS_NICE it stays an ordinary thread.
//!
//! Cost (`interop-tests/src/bin/bench-bfd-cost.rs`, release bgpd against
//! the rig's responder over a veth, 100 sessions at 50 ms × 3, about 2,250
//! packets/s each way, load average 7 to 10 on the 2-core VM): the thread
//! uses 3.8-3.9 % of one core, against 6.2 % for the driver that woke per
//! packet and per timer, measured back to back; most of what is left is
//! the kernel (context switches, and `sendto`, which on a veth also runs
//! the receiver's input path on our thread). The earlier in-process figure
//! (`cargo test --release -p bgpd --lib bfd::io::tests::cpu -- --ignored
//! --nocapture`, both ends on loopback) was 2.2-2.6 % per driver on a
//! moderately loaded machine, 5.6-7 % at a load average of 9-11. The
//! user-space part per packet is ~150 ns (`cargo bench -p bgpd --bench
//! bfd`).
//!
//! The report channel is unbounded so the thread never blocks on a slow
//! owner; state changes are few (two per flap), so it cannot grow without a
//! flapping storm that the owner would see anyway.

mod socket;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use super::config::{Hop, SessionConfig};
use super::event::{Action, Event, Jitter, StateChange, XorShift};
use super::packet::{ControlPacket, Diagnostic, MAX_PACKET_LEN};
use super::session::{Session, Status};

/// RFC 5881 §4: single-hop Control packets go to UDP port 3784.
pub const SINGLE_HOP_PORT: u16 = 3784;
/// RFC 5883 §5: multihop Control packets go to UDP port 4784.
pub const MULTIHOP_PORT: u16 = 4784;
/// RFC 5881 §4: source ports 49152 to 65535.
pub const SOURCE_PORTS: RangeInclusive<u16> = 49152..=65535;

/// The driver's time grain: timers are served, and packets that arrive
/// between two ticks are read, at the next tick boundary, so every session
/// due in the same millisecond shares one wake-up (at most 1,000 a second
/// however many sessions). A packet leaves at most one tick after its
/// jittered time (RFC 5880 §6.8.7's 75-100 % is drawn exactly; the tick is
/// the driver's latency, as any OS timer has), a detection fires at most one
/// tick late.
pub const TICK: Duration = Duration::from_millis(1);

/// How long a received packet may wait for a timer's wake-up instead of
/// waking the thread itself. Transmit times are aligned to grids of 1 to
/// 20 ms (5 ms at 50 ms intervals, `Session::align_to`), so with many
/// sessions a timer is always this close and the thread wakes once per
/// grid point, not once per packet. Waiting is safe for detection:
/// packets are read before timers at every wake-up, so a packet that
/// arrived before its session's detection deadline always counts.
const PACKET_HOLD: Duration = Duration::from_millis(5);

/// How far back a late transmit timer is taken to have fired. Below the
/// shortest jittered interval (75 % of 10 ms), so a thread that stalled
/// never sends a burst to catch up: the next packet is always in the future.
const LATE_TRANSMIT: Duration = Duration::from_millis(5);

/// The answer of [`BfdHandle::status`]: every session's status, by key.
pub type StatusAnswer = oneshot::Receiver<Vec<(SessionKey, Status)>>;

/// Where the driver listens and sends from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverConfig {
    /// Addresses to listen on (default: 0.0.0.0 and ::).
    pub listen: Vec<IpAddr>,
    /// Our single-hop port (0: any free port, for tests).
    pub single_hop_port: u16,
    /// Our multihop port (0: any free port, for tests).
    pub multihop_port: u16,
    pub source_ports: RangeInclusive<u16>,
    /// The thread's SCHED_FIFO priority (1..=99); 0: an ordinary thread.
    pub realtime_priority: u8,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            listen: vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6(Ipv6Addr::UNSPECIFIED)],
            single_hop_port: SINGLE_HOP_PORT,
            multihop_port: MULTIHOP_PORT,
            source_ports: SOURCE_PORTS,
            realtime_priority: 1,
        }
    }
}

/// A session's identity: the neighbor's address, and our address when the
/// neighbor is configured with one (BGP's update-source).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    pub peer: IpAddr,
    pub local: Option<IpAddr>,
}

/// What [`BfdHandle::add`] needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSpec {
    pub key: SessionKey,
    pub config: SessionConfig,
    /// The peer's BFD port; `None` is the standard port of the hop mode.
    /// Only tests set it (two drivers on one host).
    pub peer_port: Option<u16>,
    /// This session's packet counts, shared with the owner (metrics).
    pub counters: Arc<SessionCounters>,
}

/// One session's Control packets, counted by the driver and read by the
/// owner without locks (`ironlb_bfd_control_packets_total`).
#[derive(Debug, Default)]
pub struct SessionCounters {
    pub sent: AtomicU64,
    /// Accepted for the session (after the TTL and discriminator checks).
    pub received: AtomicU64,
}

impl SessionCounters {
    /// (sent, received).
    pub fn get(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.received.load(Ordering::Relaxed))
    }
}

/// Counters compare by value, so an owner's state that holds them stays
/// comparable in tests.
impl PartialEq for SessionCounters {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for SessionCounters {}

/// What the driver tells the session owner.
#[derive(Debug)]
pub enum Report {
    /// A session changed state; [`StateChange::signal`] says what it means
    /// for BGP.
    StateChanged { key: SessionKey, change: StateChange },
    /// [`BfdHandle::add`] failed; the session does not exist.
    AddFailed { key: SessionKey, error: DriverError },
}

/// Driver failures.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("BFD socket {step} on {address}: {source}")]
    Socket { step: &'static str, address: SocketAddr, source: io::Error },
    #[error("BFD driver thread: {0}")]
    Thread(io::Error),
    #[error("BFD session: {0}")]
    Config(#[from] super::config::ConfigError),
}

/// Packet counters, read without locks (for metrics and `bgpctl`).
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub send_errors: AtomicU64,
    pub received: AtomicU64,
    pub decode_errors: AtomicU64,
    /// Wrong TTL / hop limit, or a packet on the port of the other hop mode.
    pub ttl_rejected: AtomicU64,
    /// No session for the discriminator or addresses, or a source address
    /// that is not the session's peer.
    pub no_session: AtomicU64,
    /// Discarded by a session (§6.8.6 session checks).
    pub discarded: AtomicU64,
    /// Returns from `ppoll` (the thread's wake-ups).
    pub wakeups: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

enum Command {
    Add(SessionSpec),
    Remove(SessionKey),
    Update(SessionKey, SessionConfig),
    AdminDown(SessionKey, bool),
    Status(oneshot::Sender<Vec<(SessionKey, Status)>>),
    Shutdown,
}

/// The owner's side of the driver. Dropping it stops the thread silently
/// (as a crash would); [`BfdHandle::shutdown`] first tells every peer
/// AdminDown.
#[derive(Debug)]
pub struct BfdHandle {
    commands: mpsc::Sender<Command>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    ports: (u16, u16),
    thread_id: Arc<AtomicI32>,
}

impl BfdHandle {
    /// Binds the listeners and starts the thread. State changes go to
    /// `reports`.
    pub fn spawn(
        config: DriverConfig,
        reports: tokio_mpsc::UnboundedSender<Report>,
    ) -> Result<BfdHandle, DriverError> {
        let mut listeners = Vec::new();
        let mut ports = (config.single_hop_port, config.multihop_port);
        for &address in &config.listen {
            for multihop in [false, true] {
                let port = if multihop { ports.1 } else { ports.0 };
                let at = SocketAddr::new(address, port);
                let socket = socket::listener(address, port)
                    .map_err(|source| DriverError::Socket { step: "bind", address: at, source })?;
                // Port 0: every further listener of this kind takes the port
                // the first one got.
                let bound =
                    socket.local_addr().ok().and_then(|a| a.as_socket()).map_or(port, |a| a.port());
                if multihop {
                    ports.1 = bound
                } else {
                    ports.0 = bound
                }
                listeners.push(Listener { socket, multihop });
            }
        }
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(DriverError::Thread(io::Error::last_os_error()));
        }
        // SAFETY: `fd` is fresh and owned by nothing else.
        let wake = unsafe { OwnedFd::from_raw_fd(fd) };
        let thread_wake = wake.try_clone().map_err(DriverError::Thread)?;
        let (commands, queue) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread_id = Arc::new(AtomicI32::new(0));
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        let seed = clock ^ u64::from(std::process::id()).rotate_left(32);
        let driver = Driver {
            config,
            listeners,
            wake: thread_wake,
            queue,
            reports,
            sessions: FxHashMap::default(),
            by_key: FxHashMap::default(),
            timers: BinaryHeap::new(),
            random: XorShift::new(seed),
            epoch: Instant::now(),
            buffer: Vec::with_capacity(MAX_PACKET_LEN),
            counters: counters.clone(),
        };
        let id = thread_id.clone();
        let priority = driver.config.realtime_priority;
        let thread = std::thread::Builder::new()
            .name("bfd".into())
            .spawn(move || {
                // SAFETY: plain syscall.
                id.store(unsafe { libc::gettid() }, Ordering::Relaxed);
                raise_priority(priority);
                driver.run();
            })
            .map_err(DriverError::Thread)?;
        Ok(BfdHandle { commands, wake, thread: Some(thread), counters, ports, thread_id })
    }

    fn send(&self, command: Command) {
        let _ = self.commands.send(command);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our eventfd. A full
        // counter (EAGAIN) means the thread is already due to wake.
        let _ = unsafe { libc::write(self.wake.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Creates a session (or reconfigures it if the key exists) and starts
    /// it in Down. A failure comes back as [`Report::AddFailed`].
    pub fn add(&self, spec: SessionSpec) {
        self.send(Command::Add(spec));
    }

    /// Tells the peer AdminDown once (so it does not see a failure, RFC 5882
    /// §3.2), then forgets the session.
    pub fn remove(&self, key: SessionKey) {
        self.send(Command::Remove(key));
    }

    /// New timers or passive role (a Poll Sequence if Up).
    pub fn update(&self, key: SessionKey, config: SessionConfig) {
        self.send(Command::Update(key, config));
    }

    /// Holds the session AdminDown (diag Administratively Down) or lets it
    /// come up again (RFC 5880 §6.8.16).
    pub fn set_admin_down(&self, key: SessionKey, down: bool) {
        self.send(Command::AdminDown(key, down));
    }

    /// Every session's status, sorted by key.
    pub fn status(&self) -> StatusAnswer {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Status(reply));
        answer
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The bound (single-hop, multihop) ports: the configured ones, or what
    /// port 0 became.
    pub fn ports(&self) -> (u16, u16) {
        self.ports
    }

    /// The driver thread's kernel thread id (for CPU accounting in
    /// `/proc/self/task/<tid>/stat`); 0 until it has started.
    pub fn thread_id(&self) -> i32 {
        self.thread_id.load(Ordering::Relaxed)
    }

    /// Sends AdminDown to every peer, then stops the thread and waits for it.
    pub fn shutdown(mut self) {
        self.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BfdHandle {
    fn drop(&mut self) {
        // The thread sees the channel closed once woken, and returns.
        let (closed, _) = mpsc::channel();
        self.commands = closed;
        let one: u64 = 1;
        // SAFETY: as in `send`.
        let _ = unsafe { libc::write(self.wake.as_raw_fd(), (&raw const one).cast(), 8) };
    }
}

struct Listener {
    socket: socket2::Socket,
    multihop: bool,
}

struct Entry {
    key: SessionKey,
    session: Session,
    socket: socket2::Socket,
    destination: socket2::SockAddr,
    /// The socket is connected to `destination`: `send` reuses its cached
    /// route instead of looking one up per packet as `sendto` does. False
    /// when connecting failed (no route yet): `sendto` then, which retries
    /// the lookup each time.
    connected: bool,
    counters: Arc<SessionCounters>,
    /// The detection deadline this session has in the timer heap, if any.
    /// Every received packet moves the deadline later; rather than push a
    /// heap entry each time, the queued one is left to fire early and is
    /// then pushed again at the deadline of the moment (see `due_timer`).
    detection_queued: Option<Instant>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Transmit,
    Detection,
}

struct Driver {
    config: DriverConfig,
    listeners: Vec<Listener>,
    wake: OwnedFd,
    queue: mpsc::Receiver<Command>,
    reports: tokio_mpsc::UnboundedSender<Report>,
    /// By local discriminator.
    sessions: FxHashMap<u32, Entry>,
    by_key: FxHashMap<SessionKey, u32>,
    timers: BinaryHeap<Reverse<(Instant, u32, TimerKind)>>,
    random: XorShift,
    /// Where the ticks of [`TICK`] are counted from.
    epoch: Instant,
    buffer: Vec<u8>,
    counters: Arc<Counters>,
}

impl Driver {
    fn run(mut self) {
        let mut batch = socket::Batch::new();
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.wake.as_raw_fd())
            .chain(self.listeners.iter().map(|l| l.socket.as_raw_fd()))
            .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
            .collect();
        loop {
            for fd in &mut fds {
                fd.revents = 0;
            }
            let next = self.next_deadline().map(|at| self.tick_at_or_after(at));
            // With a timer due within PACKET_HOLD, packets wait for it rather
            // than wake the thread on their own: one wake-up serves both.
            let listen = next
                .is_none_or(|tick| tick.saturating_duration_since(Instant::now()) > PACKET_HOLD);
            let polled = if listen { fds.len() } else { 1 };
            let timeout = next.map(|tick| timespec(tick.saturating_duration_since(Instant::now())));
            if !poll(&mut fds[..polled], timeout.as_ref()) {
                return;
            }
            bump(&self.counters.wakeups);
            if fds[0].revents != 0 && !self.on_commands() {
                return;
            }
            if !listen {
                // Which listeners have packets: a poll that does not wait.
                let zero = timespec(Duration::ZERO);
                if !poll(&mut fds[1..], Some(&zero)) {
                    return;
                }
            } else if fds[1..].iter().any(|fd| fd.revents != 0) {
                // A packet woke us between ticks (no timer was near): let
                // the rest of this tick's packets and timers join it.
                let now = Instant::now();
                let tick = self.tick_at_or_after(now);
                if tick > now {
                    std::thread::sleep(tick - now);
                }
            }
            // One clock reading per wake-up, for every packet and timer. A
            // packet is handled at most PACKET_HOLD after it arrived; its
            // session's detection deadline only moves later for it.
            let now = Instant::now();
            for index in 0..self.listeners.len() {
                if fds[index + 1].revents != 0 {
                    self.drain(index, &mut batch, now);
                }
            }
            // After the packets: one that arrived in time moves its
            // session's detection deadline before that timer is looked at.
            self.fire_due_timers(now);
        }
    }

    /// The first tick boundary at or after `at`. Timers are served in ticks
    /// of [`TICK`] counted from the thread's start, so every session due in
    /// the same tick shares one wake-up.
    fn tick_at_or_after(&self, at: Instant) -> Instant {
        let since = at.saturating_duration_since(self.epoch);
        let tick = TICK.as_nanos();
        let ticks = since.as_nanos().div_ceil(tick);
        let nanos = u64::try_from(ticks.saturating_mul(tick)).unwrap_or(u64::MAX);
        self.epoch + Duration::from_nanos(nanos)
    }

    /// Carries out queued commands; false when the thread must end.
    fn on_commands(&mut self) -> bool {
        let mut counter = 0u64;
        // SAFETY: reads 8 bytes into a live u64 (resets the eventfd).
        let _ = unsafe { libc::read(self.wake.as_raw_fd(), (&raw mut counter).cast(), 8) };
        loop {
            match self.queue.try_recv() {
                Ok(Command::Add(spec)) => self.add(spec),
                Ok(Command::Remove(key)) => {
                    if let Some(discriminator) = self.by_key.remove(&key) {
                        self.say_goodbye(discriminator);
                        self.sessions.remove(&discriminator);
                    }
                }
                Ok(Command::Update(key, config)) => {
                    self.feed_key(key, Event::ConfigChanged(config));
                }
                Ok(Command::AdminDown(key, true)) => {
                    self.feed_key(key, Event::AdminDown(Diagnostic::AdministrativelyDown));
                }
                Ok(Command::AdminDown(key, false)) => self.feed_key(key, Event::AdminUp),
                Ok(Command::Status(reply)) => {
                    let mut all: Vec<_> =
                        self.sessions.values().map(|e| (e.key, e.session.status())).collect();
                    all.sort_by_key(|(key, _)| *key);
                    let _ = reply.send(all);
                }
                Ok(Command::Shutdown) => {
                    let all: Vec<u32> = self.sessions.keys().copied().collect();
                    for discriminator in all {
                        self.say_goodbye(discriminator);
                    }
                    return false;
                }
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Sends the session's AdminDown packet without reporting the change
    /// (the owner asked for it).
    fn say_goodbye(&mut self, discriminator: u32) {
        let Some(entry) = self.sessions.get_mut(&discriminator) else { return };
        let event = Event::AdminDown(Diagnostic::AdministrativelyDown);
        let actions = entry.session.handle(event, Instant::now(), &mut self.random);
        for action in actions {
            if let Action::Send(packet) = action {
                send(&self.counters, &mut self.buffer, entry, &packet);
            }
        }
    }

    fn add(&mut self, spec: SessionSpec) {
        if self.by_key.contains_key(&spec.key) {
            self.feed_key(spec.key, Event::ConfigChanged(spec.config));
            return;
        }
        let key = spec.key;
        match self.create(spec) {
            Ok(discriminator) => {
                let Some(entry) = self.sessions.get_mut(&discriminator) else { return };
                let actions = entry.session.start(Instant::now(), &mut self.random);
                self.execute(discriminator, actions);
            }
            Err(error) => {
                tracing::warn!(peer = %key.peer, %error, "bfd: session not created");
                let _ = self.reports.send(Report::AddFailed { key, error });
            }
        }
    }

    fn create(&mut self, spec: SessionSpec) -> Result<u32, DriverError> {
        let discriminator = loop {
            let candidate = self.random.below(u32::MAX) + 1;
            if !self.sessions.contains_key(&candidate) {
                break candidate;
            }
        };
        let mut session = Session::new(spec.config, discriminator)?;
        // Every session's transmit times on grids counted from the same
        // origin as the ticks: sessions with the same grain share wake-ups.
        session.align_to(self.epoch);
        let ports = &self.config.source_ports;
        let span = u32::from(ports.end().saturating_sub(*ports.start())) + 1;
        let start = ports.start().saturating_add(self.random.below(span) as u16);
        let port = spec.peer_port.unwrap_or(match spec.config.hop {
            Hop::Single => SINGLE_HOP_PORT,
            Hop::Multi { .. } => MULTIHOP_PORT,
        });
        let destination = SocketAddr::new(spec.key.peer, port);
        let socket =
            socket::sender(spec.key.local, spec.key.peer, ports, start).map_err(|source| {
                DriverError::Socket { step: "bind sender", address: destination, source }
            })?;
        let destination = socket2::SockAddr::from(destination);
        let connected = socket.connect(&destination).is_ok();
        self.sessions.insert(
            discriminator,
            Entry {
                key: spec.key,
                session,
                socket,
                destination,
                connected,
                counters: spec.counters,
                detection_queued: None,
            },
        );
        self.by_key.insert(spec.key, discriminator);
        Ok(discriminator)
    }

    fn feed_key(&mut self, key: SessionKey, event: Event) {
        if let Some(&discriminator) = self.by_key.get(&key) {
            self.feed(discriminator, event, Instant::now());
        }
    }

    fn feed(&mut self, discriminator: u32, event: Event, now: Instant) {
        let Some(entry) = self.sessions.get_mut(&discriminator) else { return };
        let actions = entry.session.handle(event, now, &mut self.random);
        self.execute(discriminator, actions);
    }

    fn execute(&mut self, discriminator: u32, actions: Vec<Action>) {
        let Some(entry) = self.sessions.get_mut(&discriminator) else { return };
        for action in actions {
            match action {
                Action::Send(packet) => send(&self.counters, &mut self.buffer, entry, &packet),
                Action::ArmTransmitTimer(at) => {
                    self.timers.push(Reverse((at, discriminator, TimerKind::Transmit)));
                }
                Action::ArmDetectionTimer(at) => {
                    // An entry already queued for no later than `at` serves.
                    if entry.detection_queued.is_none_or(|queued| queued > at) {
                        entry.detection_queued = Some(at);
                        self.timers.push(Reverse((at, discriminator, TimerKind::Detection)));
                    }
                }
                Action::DisarmTransmitTimer | Action::DisarmDetectionTimer => {}
                Action::StateChanged(change) => {
                    tracing::info!(
                        peer = %entry.key.peer,
                        from = %change.from,
                        to = %change.to,
                        diagnostic = %change.diagnostic,
                        remote = %change.remote_state,
                        "bfd: session state changed"
                    );
                    let _ = self.reports.send(Report::StateChanged { key: entry.key, change });
                }
                Action::Discarded(reason) => {
                    bump(&self.counters.discarded);
                    tracing::debug!(peer = %entry.key.peer, %reason, "bfd: packet discarded");
                }
                Action::ConfigRejected(error) => {
                    tracing::warn!(peer = %entry.key.peer, %error, "bfd: configuration rejected");
                }
            }
        }
    }

    /// Whether a heap entry is still its session's armed deadline.
    fn is_armed(&self, at: Instant, discriminator: u32, kind: TimerKind) -> bool {
        self.sessions.get(&discriminator).is_some_and(|entry| {
            let (transmit, detection) = entry.session.deadlines();
            match kind {
                TimerKind::Transmit => transmit == Some(at),
                TimerKind::Detection => detection == Some(at),
            }
        })
    }

    /// Takes the top heap entry off, known stale. A detection entry that the
    /// deadline has since moved past is pushed again at the current deadline
    /// (`Entry::detection_queued`).
    fn drop_stale(&mut self) {
        let Some(Reverse((at, discriminator, kind))) = self.timers.pop() else { return };
        if kind == TimerKind::Detection
            && let Some(entry) = self.sessions.get_mut(&discriminator)
            && entry.detection_queued == Some(at)
        {
            entry.detection_queued = entry.session.deadlines().1;
            if let Some(later) = entry.detection_queued {
                self.timers.push(Reverse((later, discriminator, TimerKind::Detection)));
            }
        }
    }

    /// The earliest live deadline, dropping stale entries on the way so the
    /// thread never wakes for a timer that was re-armed or disarmed.
    fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, discriminator, kind))) = self.timers.peek() {
            if self.is_armed(at, discriminator, kind) {
                return Some(at);
            }
            self.drop_stale();
        }
        None
    }

    /// Feeds every timer due by `now`. A transmit timer served late (the
    /// tick, a busy machine) is handled at its deadline, up to
    /// [`LATE_TRANSMIT`] back, so the next one is jittered from there and
    /// the delays do not add up over packets (the mean interval stays
    /// 87.5 % of the negotiated one).
    fn fire_due_timers(&mut self, now: Instant) {
        while let Some(&Reverse((at, discriminator, kind))) = self.timers.peek() {
            if at > now {
                break;
            }
            if !self.is_armed(at, discriminator, kind) {
                self.drop_stale();
                continue;
            }
            self.timers.pop();
            let (event, time) = match kind {
                TimerKind::Transmit => {
                    let earliest = now.checked_sub(LATE_TRANSMIT).unwrap_or(now);
                    (Event::TransmitTimerExpired, at.max(earliest))
                }
                TimerKind::Detection => {
                    // Fired: the next ArmDetectionTimer pushes a fresh entry.
                    if let Some(entry) = self.sessions.get_mut(&discriminator) {
                        entry.detection_queued = None;
                    }
                    (Event::DetectionTimerExpired, now)
                }
            };
            self.feed(discriminator, event, time);
        }
    }

    /// Reads every queued datagram of one listener, [`socket::BATCH`] per
    /// system call.
    fn drain(&mut self, index: usize, batch: &mut socket::Batch, now: Instant) {
        let fd = self.listeners[index].socket.as_raw_fd();
        let multihop = self.listeners[index].multihop;
        loop {
            let count = match batch.receive(fd) {
                Ok(count) => count,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    tracing::debug!(%error, "bfd: receive failed");
                    return;
                }
            };
            for datagram in 0..count {
                if let Some((datagram, payload)) = batch.datagram(datagram) {
                    bump(&self.counters.received);
                    self.on_datagram(&datagram, payload, multihop, now);
                }
            }
            if count < socket::BATCH {
                return;
            }
        }
    }

    fn on_datagram(
        &mut self,
        datagram: &socket::Datagram,
        payload: &[u8],
        multihop: bool,
        now: Instant,
    ) {
        let packet = match ControlPacket::decode(payload) {
            Ok(packet) => packet,
            Err(error) => {
                bump(&self.counters.decode_errors);
                tracing::debug!(source = %datagram.source, %error, "bfd: bad Control packet");
                return;
            }
        };
        let peer = datagram.source.ip();
        let discriminator = if packet.your_discriminator != 0 {
            Some(packet.your_discriminator)
        } else {
            let exact = SessionKey { peer, local: datagram.destination };
            self.by_key
                .get(&exact)
                .or_else(|| self.by_key.get(&SessionKey { peer, local: None }))
                .copied()
        };
        let Some(entry) = discriminator.and_then(|d| self.sessions.get(&d)) else {
            bump(&self.counters.no_session);
            return;
        };
        if entry.key.peer != peer {
            bump(&self.counters.no_session);
            return;
        }
        let hop = entry.session.config().hop;
        let right_port = multihop == matches!(hop, Hop::Multi { .. });
        if !right_port || !datagram.ttl.is_some_and(|ttl| hop.accepts_ttl(ttl)) {
            bump(&self.counters.ttl_rejected);
            tracing::debug!(source = %datagram.source, ttl = ?datagram.ttl, "bfd: TTL check failed");
            return;
        }
        bump(&entry.counters.received);
        let discriminator = entry.session.local_discriminator();
        self.feed(discriminator, Event::ControlPacketReceived(packet), now);
    }
}

fn send(counters: &Counters, buffer: &mut Vec<u8>, entry: &Entry, packet: &ControlPacket) {
    if packet.encode(buffer).is_err() {
        return;
    }
    let sent = if entry.connected {
        entry.socket.send(buffer)
    } else {
        entry.socket.send_to(buffer, &entry.destination)
    };
    match sent {
        Ok(_) => {
            bump(&counters.sent);
            bump(&entry.counters.sent);
        }
        Err(error) => {
            bump(&counters.send_errors);
            tracing::debug!(peer = %entry.key.peer, %error, "bfd: send failed");
        }
    }
}

fn timespec(wait: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_nsec: wait.subsec_nanos() as libc::c_long,
    }
}

/// `ppoll` on `fds` (the timeout: `None` waits for ever); false on a
/// failure other than EINTR, which ends the driver.
fn poll(fds: &mut [libc::pollfd], timeout: Option<&libc::timespec>) -> bool {
    let timeout = timeout.map_or(std::ptr::null(), |t| t as *const _);
    // SAFETY: `fds` is a live array of its length; the timeout is null or a
    // live timespec; no signal mask.
    let rc = unsafe {
        libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout, std::ptr::null())
    };
    if rc < 0 {
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            tracing::error!(%error, "bfd: ppoll failed; driver stopped");
            return false;
        }
        // Interrupted: nothing is marked ready; the loop goes round again.
        for fd in fds.iter_mut() {
            fd.revents = 0;
        }
    }
    true
}

/// Real-time priority for the calling (BFD) thread: SCHED_FIFO at
/// `priority` (`[global] bfd_realtime_priority`, default 1, the lowest
/// there is; 0 leaves the thread ordinary). A BFD thread that waits on a busy run queue for a
/// Detection Time is a false Down on both sides; at priority 1 it runs as
/// soon as it wakes, ahead of every ordinary thread (the RIB's, a build's).
/// It is safe to give: the thread sleeps between packets and does bounded
/// work per wake-up (a few per cent of one core at 100 sessions at 50 ms),
/// and the kernel's RT throttling caps it anyway. Without CAP_SYS_NICE
/// (most containers) it stays an ordinary thread, which is logged.
fn raise_priority(priority: u8) {
    if priority == 0 {
        tracing::info!("bfd: thread runs at normal priority (bfd_realtime_priority = 0)");
        return;
    }
    let parameters = libc::sched_param { sched_priority: i32::from(priority) };
    // SAFETY: plain syscall on the calling thread (pid 0) with a live
    // sched_param.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const parameters) };
    if rc == 0 {
        tracing::info!(priority, "bfd: thread runs at real-time priority (SCHED_FIFO)");
    } else {
        let error = io::Error::last_os_error();
        tracing::info!(%error, "bfd: thread runs at normal priority (no CAP_SYS_NICE)");
    }
}
