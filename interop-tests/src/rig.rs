//! The benchmark rig's own BGP speakers: a feeder that replays a pre-encoded table and a sink
//! that decodes, counts and timestamps what it receives.
//!
//! Both are plain blocking code on threads of the bench process, with bgpd's wire codec
//! (RFC 4271 §4 messages, RFC 4760 MP_REACH for IPv6, RFC 6793 4-octet ASNs). A session's
//! socket is created inside a test namespace by a short-lived thread that joins it (`setns`);
//! the socket then stays in that namespace whichever thread uses it. Per session:
//!
//! - a writer thread owns the write half: it writes whatever bytes the bench hands it (whole
//!   pre-encoded tables, at socket speed) and a KEEPALIVE whenever 30 s pass without one, so
//!   a keepalive never lands inside an UPDATE;
//! - a reader thread frames every message and walks each UPDATE's prefixes without building
//!   a message (`scan`: a few ns a prefix; the full decoder made the rig's floor 0.8 s for an
//!   Internet-like table of 300,000 UPDATEs); they are counted into a [`Tally`]
//!   (shared by the sessions of one sink) that timestamps the first prefix and the moments
//!   99 % and 100 % of the expected prefixes were held.
//!
//! The rig's cost is what a feeder-to-sink run with no DUT measures (the "rig floor"), and the
//! bench reports it beside every result. Counting distinct prefixes uses one hash set per
//! session, filled by the reader only: no per-prefix work elsewhere.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bgpd::wire::open::AS_TRANS;
use bgpd::wire::{
    Capability, CodecOptions, Decoded, Family, Message, NextHop, Nlri, OpenMessage, UpdateMessage,
    UpdatePacker, decode_message, encode_message, frame_length, message_type,
};
use bytes::{Bytes, BytesMut};

use rustc_hash::FxBuildHasher;

use crate::netns::Namespace;
use crate::table::Table;
use crate::{HarnessError, Result};

/// Hold time the rig proposes: long enough that a slow DUT under a full table never expires
/// it, short enough that the negotiated value is ours.
pub const HOLD_TIME: u16 = 240;
const KEEPALIVE_EVERY: Duration = Duration::from_secs(30);
/// Largest message the rig reads: it never offers the extended message capability.
const MAX_MESSAGE: usize = bgpd::wire::MAX_MESSAGE_LEN;

/// One side of a rig session.
#[derive(Debug, Clone, Copy)]
pub struct Speaker {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// The family the session carries (one per session keeps every DUT's config simple).
    pub family: Family,
}

impl Speaker {
    fn open(&self) -> OpenMessage {
        OpenMessage {
            version: 4,
            my_as: u16::try_from(self.asn).unwrap_or(AS_TRANS),
            hold_time: HOLD_TIME,
            router_id: self.router_id,
            capabilities: vec![
                Capability::Multiprotocol(self.family.afi_safi()),
                Capability::RouteRefresh { cisco: false },
                Capability::FourOctetAs(self.asn),
            ],
        }
    }
}

/// What the sinks of one run saw, shared by their sessions. Times are nanoseconds since the
/// rig's epoch plus one (0: not yet).
#[derive(Debug)]
pub struct Tally {
    epoch: Instant,
    /// Count distinct prefixes per session (a hash set each), or every announcement (many
    /// sessions: a route server's 100 peers would hold 10 M entries).
    dedup: bool,
    expected: AtomicU64,
    prefixes: AtomicU64,
    updates: AtomicU64,
    withdrawn: AtomicU64,
    end_of_ribs: AtomicU64,
    first: AtomicU64,
    p99: AtomicU64,
    p100: AtomicU64,
    /// Told every prefix the sessions read, with the time its message was read (the churn
    /// scenario's latency log, `crate::churn`).
    observer: OnceLock<Observer>,
}

/// Called by a sink's reader for every prefix of every UPDATE: announced or withdrawn, the
/// prefix, and when the message was read (nanoseconds since the tally's epoch, plus one).
#[derive(Clone)]
pub(crate) struct Observer(pub Arc<dyn Fn(bool, scan::Key, u64) + Send + Sync>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

/// A snapshot of a [`Tally`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Distinct prefixes held (announced and not withdrawn).
    pub prefixes: u64,
    /// UPDATE messages received, End-of-RIB included.
    pub updates: u64,
    pub withdrawn: u64,
    pub end_of_ribs: u64,
    /// Since the epoch: first prefix, 99 % and 100 % of the expected count held.
    pub first: Option<Duration>,
    pub p99: Option<Duration>,
    pub p100: Option<Duration>,
}

impl Tally {
    /// A tally of distinct prefixes.
    pub fn new(epoch: Instant) -> Arc<Self> {
        Self::with_dedup(epoch, true)
    }

    /// A tally of announcements, duplicates included: for many sessions, where a hash set per
    /// session would cost the rig more than the DUT. Withdrawals are counted, not subtracted.
    pub fn counting(epoch: Instant) -> Arc<Self> {
        Self::with_dedup(epoch, false)
    }

    fn with_dedup(epoch: Instant, dedup: bool) -> Arc<Self> {
        Arc::new(Self {
            epoch,
            dedup,
            expected: AtomicU64::new(u64::MAX),
            prefixes: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            withdrawn: AtomicU64::new(0),
            end_of_ribs: AtomicU64::new(0),
            first: AtomicU64::new(0),
            p99: AtomicU64::new(0),
            p100: AtomicU64::new(0),
            observer: OnceLock::new(),
        })
    }

    /// Has `observer` told every prefix read from now on (once per tally; a second call is
    /// ignored).
    pub(crate) fn observe(&self, observer: Observer) {
        let _ = self.observer.set(observer);
    }

    /// The prefix count that makes 100 %.
    pub fn expect(&self, count: u64) {
        self.expected.store(count, Ordering::Relaxed);
    }

    pub fn counts(&self) -> Counts {
        let time = |a: &AtomicU64| match a.load(Ordering::Acquire) {
            0 => None,
            n => Some(Duration::from_nanos(n - 1)),
        };
        Counts {
            prefixes: self.prefixes.load(Ordering::Acquire),
            updates: self.updates.load(Ordering::Acquire),
            withdrawn: self.withdrawn.load(Ordering::Acquire),
            end_of_ribs: self.end_of_ribs.load(Ordering::Acquire),
            first: time(&self.first),
            p99: time(&self.p99),
            p100: time(&self.p100),
        }
    }

    pub(crate) fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn added(&self, n: u64) {
        if n == 0 {
            return;
        }
        let held = self.prefixes.fetch_add(n, Ordering::AcqRel) + n;
        let now = self.now();
        let _ = self.first.compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
        let expected = self.expected.load(Ordering::Relaxed);
        if held >= expected - expected / 100 {
            let _ = self.p99.compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
        }
        if held >= expected {
            let _ = self.p100.compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
        }
    }
}

pub(crate) mod scan;

/// A rig session: Established when returned, writer and reader threads running. Dropping it
/// closes the socket and joins both threads.
#[derive(Debug)]
pub struct Session {
    peer: SocketAddr,
    options: CodecOptions,
    stream: TcpStream,
    writer: Option<mpsc::Sender<Bytes>>,
    threads: Vec<JoinHandle<()>>,
    closed: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
}

impl Session {
    /// Connects from inside `namespace` (from `local` when given) to `remote`, retrying until
    /// `deadline`, and runs the OPEN/KEEPALIVE exchange.
    pub fn connect(
        namespace: &Namespace,
        local: Option<IpAddr>,
        remote: SocketAddr,
        speaker: Speaker,
        tally: Arc<Tally>,
        deadline: Duration,
    ) -> Result<Self> {
        let start = Instant::now();
        let stream = loop {
            match in_namespace(namespace, || connect_from(local, remote)) {
                Ok(stream) => break stream,
                Err(error) if start.elapsed() < deadline => {
                    let _ = error;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(source) => {
                    return Err(HarnessError::Io {
                        command: format!("connect to {remote}"),
                        source,
                    });
                }
            }
        };
        Self::establish(stream, remote, speaker, tally, deadline)
    }

    /// Accepts one connection on `listener` (see [`listen`]) and runs the OPEN/KEEPALIVE exchange.
    pub fn accept(
        listener: &TcpListener,
        speaker: Speaker,
        tally: Arc<Tally>,
        deadline: Duration,
    ) -> Result<Self> {
        let io = |source| HarnessError::Io { command: "accept a rig session".to_owned(), source };
        listener.set_nonblocking(true).map_err(io)?;
        let start = Instant::now();
        let (stream, peer) = loop {
            match listener.accept() {
                Ok(accepted) => break accepted,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(io(e)),
            }
        };
        stream.set_nonblocking(false).map_err(io)?;
        Self::establish(stream, peer, speaker, tally, deadline)
    }

    fn establish(
        mut stream: TcpStream,
        peer: SocketAddr,
        speaker: Speaker,
        tally: Arc<Tally>,
        deadline: Duration,
    ) -> Result<Self> {
        let fail = |reason: String| HarnessError::Rig { peer, reason };
        let io = |e: std::io::Error| HarnessError::Rig { peer, reason: e.to_string() };
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(deadline)).map_err(io)?;
        let ours = speaker.open();
        let mut out = BytesMut::new();
        encode_message(&Message::Open(ours.clone()), &CodecOptions::default(), &mut out)
            .map_err(|e| fail(e.to_string()))?;
        stream.write_all(&out).map_err(io)?;
        let mut framer = Framer::new(stream.try_clone().map_err(io)?);
        let theirs = match framer.decode(&CodecOptions::default()).map_err(&fail)? {
            Decoded::Open(open) => open,
            other => return Err(fail(format!("expected OPEN, got {other:?}"))),
        };
        let options = CodecOptions::negotiated(&ours, &theirs);
        out.clear();
        encode_message(&Message::Keepalive, &options, &mut out).map_err(|e| fail(e.to_string()))?;
        stream.write_all(&out).map_err(io)?;
        match framer.decode(&options).map_err(&fail)? {
            Decoded::Keepalive => {}
            other => return Err(fail(format!("expected KEEPALIVE, got {other:?}"))),
        }
        stream.set_read_timeout(None).map_err(io)?;

        let closed = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let (writer, queue) = mpsc::channel::<Bytes>();
        let mut write_half = stream.try_clone().map_err(io)?;
        let writer_thread = std::thread::spawn(move || {
            let keepalive = [0xffu8; 16].into_iter().chain([0, 19, 4]).collect::<Vec<u8>>();
            loop {
                let result = match queue.recv_timeout(KEEPALIVE_EVERY) {
                    Ok(bytes) => write_half.write_all(&bytes),
                    Err(mpsc::RecvTimeoutError::Timeout) => write_half.write_all(&keepalive),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                };
                if result.is_err() {
                    break;
                }
            }
        });
        let reader_closed = Arc::clone(&closed);
        let reader_error = Arc::clone(&error);
        let reader_thread = std::thread::spawn(move || {
            // Sized for the whole expected table up front (bounded: the sink of a route server
            // counts without a set): growing rehashes a million keys several times.
            let expected = tally.expected.load(Ordering::Relaxed);
            let capacity = if tally.dedup { expected.min(4_000_000) as usize } else { 0 };
            let mut held = HashSet::with_capacity_and_hasher(capacity, FxBuildHasher);
            let outcome = read_updates(&mut framer, &options, &tally, &mut held);
            if let Err(reason) = outcome
                && let Ok(mut slot) = reader_error.lock()
            {
                *slot = Some(reason);
            }
            reader_closed.store(true, Ordering::Release);
        });
        Ok(Self {
            peer,
            options,
            stream,
            writer: Some(writer),
            threads: vec![writer_thread, reader_thread],
            closed,
            error,
        })
    }

    /// What was negotiated (the feeder encodes its table under it).
    pub fn options(&self) -> &CodecOptions {
        &self.options
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Queues `bytes` (whole messages) for the writer thread.
    pub fn send(&self, bytes: Bytes) -> Result<()> {
        self.writer
            .as_ref()
            .and_then(|w| w.send(bytes).ok())
            .ok_or_else(|| HarnessError::Rig { peer: self.peer, reason: "writer gone".to_owned() })
    }

    /// Why the session ended, if it did.
    pub fn failure(&self) -> Option<String> {
        if !self.closed.load(Ordering::Acquire) {
            return None;
        }
        let reason = self.error.lock().ok().and_then(|e| e.clone());
        Some(reason.unwrap_or_else(|| "closed by the peer".to_owned()))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.writer = None;
        let _ = self.stream.shutdown(Shutdown::Both);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A listener on `address` inside `namespace`.
pub fn listen(namespace: &Namespace, address: SocketAddr) -> Result<TcpListener> {
    in_namespace(namespace, || TcpListener::bind(address))
        .map_err(|source| HarnessError::Io { command: format!("listen on {address}"), source })
}

/// Runs `f` on a thread that has joined `namespace`'s network namespace (`setns(2)` affects
/// only the calling thread; sockets keep the namespace they were made in).
fn in_namespace<T: Send>(
    namespace: &Namespace,
    f: impl FnOnce() -> std::io::Result<T> + Send,
) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                join_namespace(namespace.name())?;
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")))
    })
}

/// Moves the calling thread into the network namespace `name` (`setns(2)`; the process's
/// other threads stay where they are). For threads that live in a namespace, such as
/// [`crate::scrape::Scraper`]'s.
pub(crate) fn join_namespace(name: &str) -> std::io::Result<()> {
    let file = std::fs::File::open(format!("/run/netns/{name}"))?;
    // SAFETY: setns on a valid namespace fd; it changes only this thread.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn connect_from(local: Option<IpAddr>, remote: SocketAddr) -> std::io::Result<TcpStream> {
    let domain = socket2::Domain::for_address(remote);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    if let Some(local) = local {
        socket.bind(&SocketAddr::new(local, 0).into())?;
    }
    socket.connect_timeout(&remote.into(), Duration::from_secs(2))?;
    Ok(socket.into())
}

/// Frames messages off a stream (RFC 4271 §4.1) into one reusable buffer.
struct Framer {
    stream: TcpStream,
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

impl Framer {
    fn new(stream: TcpStream) -> Self {
        Self { stream, buffer: vec![0; 1 << 20], start: 0, end: 0 }
    }

    /// The next complete frame, or `None` at end of stream.
    fn next(&mut self) -> std::result::Result<Option<&[u8]>, String> {
        loop {
            let pending = &self.buffer[self.start..self.end];
            if let Some(len) = frame_length(pending, MAX_MESSAGE).map_err(|e| e.to_string())? {
                let frame = &self.buffer[self.start..self.start + len];
                self.start += len;
                return Ok(Some(frame));
            }
            if self.start > 0 {
                self.buffer.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match self.stream.read(&mut self.buffer[self.end..]) {
                Ok(0) => return Ok(None),
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    fn decode(&mut self, options: &CodecOptions) -> std::result::Result<Decoded, String> {
        let frame = self.next()?.ok_or("connection closed")?;
        decode_message(frame, options).map_err(|e| e.to_string())
    }
}

/// The reader loop: counts UPDATEs and distinct prefixes into `tally` until the stream ends.
fn read_updates(
    framer: &mut Framer,
    options: &CodecOptions,
    tally: &Tally,
    held: &mut HashSet<scan::Key, FxBuildHasher>,
) -> std::result::Result<(), String> {
    while let Some(frame) = framer.next()? {
        match frame.get(18).copied() {
            Some(message_type::UPDATE) => {}
            Some(message_type::NOTIFICATION) => {
                return Err(format!("NOTIFICATION {:?}", decode_message(frame, options)));
            }
            _ => continue,
        }
        tally.updates.fetch_add(1, Ordering::AcqRel);
        let (mut added, mut withdrawn) = (0u64, 0u64);
        let observer = tally.observer.get();
        let read_at = if observer.is_some() { tally.now() } else { 0 };
        let end_of_rib = scan::scan(&frame[19..], |announced, key| {
            if let Some(Observer(observe)) = observer {
                observe(announced, key, read_at);
            }
            let counts = match (tally.dedup, announced) {
                (false, _) => true,
                (true, true) => held.insert(key),
                (true, false) => held.remove(&key),
            };
            if counts && announced {
                added += 1;
            } else if counts {
                withdrawn += 1;
            }
        })?;
        if end_of_rib {
            tally.end_of_ribs.fetch_add(1, Ordering::AcqRel);
            continue;
        }
        if withdrawn > 0 {
            if tally.dedup {
                tally.prefixes.fetch_sub(withdrawn, Ordering::AcqRel);
            }
            tally.withdrawn.fetch_add(withdrawn, Ordering::AcqRel);
        }
        tally.added(added);
    }
    Ok(())
}

/// The UPDATEs announcing one family of `table` with `next_hop`, packed as a speaker dumping
/// its table packs them (one attribute set per run of UPDATEs, up to 4096 octets each), then
/// that family's End-of-RIB (RFC 4724 §2).
pub fn encode_table(
    table: &Table,
    family: Family,
    next_hop: NextHop,
    options: &CodecOptions,
) -> Result<Bytes> {
    let fail = |e: bgpd::wire::EncodeError| HarnessError::Encode { reason: e.to_string() };
    let mut packer = UpdatePacker::new(*options);
    let mut out = BytesMut::new();
    for (set, prefixes) in table.grouped(family == Family::Ipv6Unicast) {
        let Some(attributes) = table.sets.get(set as usize) else { continue };
        packer
            .announce(
                attributes,
                family,
                Some(next_hop),
                prefixes.into_iter().map(Nlri::new),
                &mut out,
            )
            .map_err(fail)?;
    }
    end_of_rib(family, options, &mut out)?;
    Ok(out.freeze())
}

/// One UPDATE per prefix of one family of `table` (the worst packing a feeder can send: routes
/// trickling in), then End-of-RIB.
pub fn encode_trickle(
    table: &Table,
    family: Family,
    next_hop: NextHop,
    options: &CodecOptions,
) -> Result<Bytes> {
    let fail = |e: bgpd::wire::EncodeError| HarnessError::Encode { reason: e.to_string() };
    let mut packer = UpdatePacker::new(*options);
    let mut out = BytesMut::new();
    for (set, prefixes) in table.grouped(family == Family::Ipv6Unicast) {
        let Some(attributes) = table.sets.get(set as usize) else { continue };
        for prefix in prefixes {
            packer
                .announce(attributes, family, Some(next_hop), [Nlri::new(prefix)], &mut out)
                .map_err(fail)?;
        }
    }
    end_of_rib(family, options, &mut out)?;
    Ok(out.freeze())
}

fn end_of_rib(family: Family, options: &CodecOptions, out: &mut BytesMut) -> Result<()> {
    let marker = Message::Update(Box::new(UpdateMessage::end_of_rib(family)));
    encode_message(&marker, options, out)
        .map_err(|e| HarnessError::Encode { reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::TableSpec;

    fn options() -> CodecOptions {
        CodecOptions { four_octet_as: true, ..CodecOptions::default() }
    }

    /// Decodes every message of `bytes`: (UPDATEs, prefixes announced, End-of-RIBs).
    fn census(bytes: &[u8]) -> (usize, usize, usize) {
        let (mut updates, mut prefixes, mut eors) = (0, 0, 0);
        let mut rest = bytes;
        while let Some(len) = frame_length(rest, MAX_MESSAGE).unwrap() {
            assert!(len <= 4096);
            let Decoded::Update(d) = decode_message(&rest[..len], &options()).unwrap() else {
                panic!("not an UPDATE");
            };
            assert!(d.outcome.is_clean(), "{:?}", d.outcome);
            updates += 1;
            if d.update.end_of_rib_family().is_some() {
                eors += 1;
            }
            prefixes += d.update.nlri.len() + d.update.mp_reach.map_or(0, |r| r.nlri.len());
            rest = &rest[len..];
        }
        assert!(rest.is_empty());
        (updates, prefixes, eors)
    }

    #[test]
    fn a_table_encodes_to_packed_updates_that_decode_back() {
        let table = Table::generate(&TableSpec::internet(3, 5_000, 1_000, 65001));
        let v4 = encode_table(
            &table,
            Family::Ipv4Unicast,
            NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
            &options(),
        )
        .unwrap();
        let (updates, prefixes, eors) = census(&v4);
        assert_eq!((prefixes, eors), (5_000, 1));
        // 1,200 sets: about one UPDATE per set used, fewer than one per prefix.
        assert!(updates < 2_000, "{updates} UPDATEs");
        let global = "2001:db8:1::1".parse().unwrap();
        let v6 = encode_table(
            &table,
            Family::Ipv6Unicast,
            NextHop::V6 { global, link_local: None },
            &options(),
        )
        .unwrap();
        assert_eq!(census(&v6).1, 1_000);
    }

    #[test]
    fn one_set_packs_hundreds_of_prefixes_per_update() {
        let table = Table::generate(&TableSpec::one_set(3, 10_000, 0, 65001));
        let next_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        let bytes = encode_table(&table, Family::Ipv4Unicast, next_hop, &options()).unwrap();
        let (updates, prefixes, _) = census(&bytes);
        assert_eq!(prefixes, 10_000);
        assert!(updates <= 15, "{updates} UPDATEs");
        let trickle = encode_trickle(&table, Family::Ipv4Unicast, next_hop, &options()).unwrap();
        assert_eq!(census(&trickle), (10_001, 10_000, 1));
    }

    #[test]
    fn tally_timestamps_first_99_and_100_percent_once() {
        let tally = Tally::new(Instant::now());
        tally.expect(200);
        tally.added(1);
        let c = tally.counts();
        assert!(c.first.is_some() && c.p99.is_none());
        tally.added(197);
        assert!(tally.counts().p99.is_some() && tally.counts().p100.is_none());
        let p99 = tally.counts().p99;
        tally.added(2);
        let c = tally.counts();
        assert_eq!((c.prefixes, c.p99), (200, p99));
        assert!(c.p100 >= c.p99);
    }

    #[test]
    fn speakers_open_with_four_octet_asns() {
        let open = Speaker {
            asn: 4_200_000_001,
            router_id: Ipv4Addr::LOCALHOST,
            family: Family::Ipv6Unicast,
        }
        .open();
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_001);
        assert_eq!(open.hold_time, HOLD_TIME);
    }
}
