//! One TCP connection of a session and the FSM that drives it (RFC 4271 §8:
//! one FSM per connection, two while a collision is being resolved, §6.8).
//!
//! The connection only does I/O: it frames and decodes what arrives (counting
//! every message received, here and nowhere else), turns it into FSM events,
//! runs the timers the FSM asks for and writes what its [`Outbox`] holds.
//! Decisions belong to the FSM and the instance.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use crate::fsm::{Action, Direction, Event, Fsm, NegotiatedSession, State, Timer};
use crate::wire::{
    CodecOptions, DecodeError, Decoded, HEADER_LEN, MAX_MESSAGE_LEN, Message, Notification,
    decode_message, frame_length, message_type,
};

use super::counters::SharedCounters;
use super::outbox::Outbox;
use super::socket::SocketError;

/// Largest read. A table transfer still takes few system calls (1,800 for
/// the 29 MB of a full table), and a route server whose 100 sessions all
/// read at once holds 1.6 MB of read buffers rather than 6.4 MB at 64 KiB.
/// An extended message (up to 65,535 bytes) is read in several steps; the
/// buffer grows to hold it whole.
const READ_CHUNK: usize = 16 * 1024;
/// Smallest read, what a session at rest (KEEPALIVEs, a few UPDATEs) asks
/// for: 100 resting sessions hold 100 x 4 KiB of read buffers.
const READ_MIN: usize = 4 * 1024;
/// Messages decoded per [`Connection::drain_frames`] call: the session hands
/// them to the instance before decoding more. A 64 KiB read held up to
/// 3,000 small UPDATEs; decoded all at once while the instance's queue was
/// full, a route server's 100 sessions held 65,000 decoded UPDATEs (40 MB)
/// at the start of a run.
const MAX_FRAMES_PER_DRAIN: usize = 32;
/// How long a NOTIFICATION may take to leave before the socket is dropped.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(1);

type ConnectFuture = Pin<Box<dyn Future<Output = Result<TcpStream, SocketError>> + Send>>;

/// What woke a connection up.
pub enum Wakeup {
    Connected(Result<TcpStream, SocketError>),
    /// Bytes arrived (or EOF/error).
    Read(std::io::Result<usize>),
    /// Part of the outbox's buffer left (`write_buf` already consumed it).
    Wrote(std::io::Result<usize>),
    Timer(Timer),
}

/// A decoded input for the session: FSM events plus the data the FSM does not
/// look at (UPDATE contents, ROUTE-REFRESH requests).
pub enum Received {
    Event(Event),
    Update(Box<crate::wire::DecodedUpdate>),
    RouteRefresh(crate::wire::RouteRefresh),
}

/// How much the next read asks for: it doubles while reads fill what was
/// asked (a table transfer) and halves when they use less than a quarter of
/// it, between [`READ_MIN`] and [`READ_CHUNK`]; an empty buffer more than
/// twice that size is given back before the read. Bound: a session's read
/// buffer is at most one message plus [`READ_CHUNK`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ReadSizing {
    chunk: usize,
}

impl Default for ReadSizing {
    fn default() -> Self {
        Self { chunk: READ_MIN }
    }
}

impl ReadSizing {
    fn after_read(&mut self, read: usize) {
        if read >= self.chunk {
            self.chunk = (self.chunk * 2).min(READ_CHUNK);
        } else if read < self.chunk / 4 {
            self.chunk = (self.chunk / 2).max(READ_MIN);
        }
    }

    fn prepare(&self, buffer: &mut BytesMut) {
        if buffer.is_empty() && buffer.capacity() > 2 * self.chunk {
            *buffer = BytesMut::new();
        }
        buffer.reserve(self.chunk);
    }
}

pub struct Connection {
    pub fsm: Fsm,
    pub direction: Direction,
    reader: Option<OwnedReadHalf>,
    writer: Option<OwnedWriteHalf>,
    connecting: Option<ConnectFuture>,
    read_buffer: BytesMut,
    read_sizing: ReadSizing,
    /// What this connection sends: packer, write buffer, held prefixes.
    pub outbox: Outbox,
    timers: [Option<Instant>; 6],
    /// Decoding options; the outbox encodes with the same.
    pub codec: CodecOptions,
    /// The neighbour's counters (see `counters`), shared by its connections.
    counters: SharedCounters,
    /// Established while not the session's primary connection: told to the
    /// instance when it becomes the primary.
    pub unannounced: Option<Box<NegotiatedSession>>,
}

fn timer_index(timer: Timer) -> usize {
    match timer {
        Timer::ConnectRetry => 0,
        Timer::Hold => 1,
        Timer::Keepalive => 2,
        Timer::DelayOpen => 3,
        Timer::IdleHold => 4,
        Timer::DampingReset => 5,
    }
}

const TIMERS: [Timer; 6] = [
    Timer::ConnectRetry,
    Timer::Hold,
    Timer::Keepalive,
    Timer::DelayOpen,
    Timer::IdleHold,
    Timer::DampingReset,
];

impl Connection {
    /// A connection of the neighbour whose counters are `counters`.
    pub fn new(fsm: Fsm, direction: Direction, counters: SharedCounters) -> Self {
        Self {
            fsm,
            direction,
            reader: None,
            writer: None,
            connecting: None,
            read_buffer: BytesMut::new(),
            read_sizing: ReadSizing::default(),
            outbox: Outbox::new(counters.clone()),
            timers: [None; 6],
            codec: CodecOptions::default(),
            counters,
            unannounced: None,
        }
    }

    pub fn state(&self) -> State {
        self.fsm.state()
    }

    pub fn is_connected(&self) -> bool {
        self.writer.is_some()
    }

    pub fn attach(&mut self, stream: TcpStream) {
        self.connecting = None;
        let (reader, writer) = stream.into_split();
        self.reader = Some(reader);
        self.writer = Some(writer);
        self.read_buffer.clear();
        self.outbox.discard();
        self.unannounced = None;
    }

    pub fn start_connect(&mut self, future: ConnectFuture) {
        self.connecting = Some(future);
    }

    pub fn local_and_remote(&self) -> Option<(std::net::SocketAddr, std::net::SocketAddr)> {
        let writer = self.writer.as_ref()?;
        Some((writer.local_addr().ok()?, writer.peer_addr().ok()?))
    }

    pub fn set_timer(&mut self, timer: Timer, after: Option<Duration>) {
        self.timers[timer_index(timer)] = after.map(|d| Instant::now() + d);
    }

    /// Waits for the next thing to happen on this connection. Cancel-safe:
    /// every branch is (reads and writes of tokio buffers, sleeps).
    pub async fn wakeup(&mut self) -> Wakeup {
        let next_timer =
            self.timers.iter().enumerate().filter_map(|(i, t)| t.map(|t| (t, i))).min();
        let Self { reader, writer, connecting, read_buffer, read_sizing, outbox, .. } = self;
        let writable = outbox.writable();
        tokio::select! {
            result = async {
                match connecting.as_mut() {
                    Some(future) => future.await,
                    None => std::future::pending().await,
                }
            } => {
                *connecting = None;
                Wakeup::Connected(result)
            }
            result = async {
                match reader.as_mut() {
                    Some(reader) => {
                        read_sizing.prepare(read_buffer);
                        let result = reader.read_buf(read_buffer).await;
                        if let Ok(read) = result {
                            read_sizing.after_read(read);
                        }
                        result
                    }
                    None => std::future::pending().await,
                }
            } => Wakeup::Read(result),
            result = async {
                match (writer.as_mut(), writable) {
                    (Some(writer), Some(buffer)) => writer.write_buf(buffer).await,
                    _ => std::future::pending().await,
                }
            } => Wakeup::Wrote(result),
            _ = async {
                match next_timer {
                    Some((deadline, _)) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            } => {
                let index = next_timer.map_or(0, |(_, i)| i);
                self.timers[index] = None;
                Wakeup::Timer(TIMERS[index])
            }
        }
    }

    /// Takes complete messages out of the read buffer. A framing or decoding
    /// error ends the list with the FSM event that resets the session.
    ///
    /// Before Established it stops after an OPEN or KEEPALIVE: those change
    /// what the following bytes mean (4-octet AS, ADD-PATH, message size are
    /// only known once the FSM has processed them), so the caller feeds them
    /// to the FSM and calls again. It also stops after
    /// [`MAX_FRAMES_PER_DRAIN`] messages, so what a session holds decoded
    /// stays bounded however much one read brought.
    pub fn drain_frames(&mut self, out: &mut Vec<Received>) {
        let max = self.codec.max_message_len().max(MAX_MESSAGE_LEN);
        for _ in 0..MAX_FRAMES_PER_DRAIN {
            let length = match frame_length(&self.read_buffer, max) {
                Ok(Some(length)) => length,
                Ok(None) => return,
                Err(error) => {
                    out.push(Received::Event(Event::BgpHeaderErr(error.notification())));
                    self.read_buffer.clear();
                    return;
                }
            };
            let frame = self.read_buffer.split_to(length);
            if let Some(code) = type_octet(&frame) {
                self.counters.0.received.add(code, 1);
            }
            match decode_message(&frame, &self.codec) {
                Ok(Decoded::Open(open)) => {
                    let event = if self.fsm.timer_running(Timer::DelayOpen) {
                        Event::BgpOpenWithDelayOpenTimerRunning(open)
                    } else {
                        Event::BgpOpen(open)
                    };
                    out.push(Received::Event(event));
                    return;
                }
                Ok(Decoded::Update(update)) => {
                    out.push(Received::Event(Event::UpdateMsg));
                    out.push(Received::Update(update));
                }
                Ok(Decoded::Notification(notification)) => {
                    self.counters.0.notifications.received(notification.code, notification.subcode);
                    out.push(Received::Event(Event::NotifMsg(notification)));
                }
                Ok(Decoded::Keepalive) => {
                    out.push(Received::Event(Event::KeepAliveMsg));
                    if self.fsm.state() != State::Established {
                        return;
                    }
                }
                Ok(Decoded::RouteRefresh(refresh)) => {
                    out.push(Received::Event(Event::RouteRefreshMsg));
                    out.push(Received::RouteRefresh(refresh));
                }
                Err(error) => {
                    // Rare (the session ends with a NOTIFICATION): the
                    // address lookup costs nothing that matters here.
                    let peer = self.local_and_remote().map(|(_, remote)| remote.ip().to_string());
                    tracing::warn!(peer = peer.unwrap_or_default(), %error, "malformed message from peer");
                    out.push(Received::Event(error_event(&frame, &error)));
                    self.read_buffer.clear();
                    return;
                }
            }
        }
    }

    /// Executes the transport side of one FSM action; returns `true` when the
    /// action was handled here.
    pub async fn execute_io(&mut self, action: &Action) -> bool {
        match action {
            Action::SendOpen(open) => self.outbox.push_message(&Message::Open(open.clone())),
            Action::SendKeepalive => self.outbox.push_message(&Message::Keepalive),
            Action::SendNotification(notification) => {
                self.outbox.push_message(&Message::Notification(notification.clone()))
            }
            Action::StartTimer(timer, after) => self.set_timer(*timer, Some(*after)),
            Action::StopTimer(timer) => self.set_timer(*timer, None),
            Action::Disconnect => self.disconnect().await,
            _ => return false,
        }
        true
    }

    /// Flushes what is queued (a NOTIFICATION), bounded in time, and drops the
    /// socket.
    pub async fn disconnect(&mut self) {
        self.connecting = None;
        self.unannounced = None;
        // Deferred output (a KEEPALIVE kept back during a collision) never
        // leaves; the outbox starts over with the options before OPEN.
        let buffer = self.outbox.close();
        if let Some(mut writer) = self.writer.take() {
            let _ = tokio::time::timeout(FLUSH_ON_CLOSE, async {
                writer.write_all(&buffer).await?;
                writer.shutdown().await
            })
            .await;
        }
        self.reader = None;
        self.read_buffer.clear();
        self.codec = CodecOptions::default();
    }
}

/// The type octet of a framed message, the last of its header (RFC 4271 §4.1).
fn type_octet(frame: &[u8]) -> Option<u8> {
    frame.get(HEADER_LEN - 1).copied()
}

/// The FSM event for a message that could not be decoded, chosen by the
/// message type octet (header errors otherwise).
fn error_event(frame: &[u8], error: &DecodeError) -> Event {
    let notification: Notification = error.notification();
    match type_octet(frame) {
        Some(message_type::OPEN) => Event::BgpOpenMsgErr(notification),
        Some(message_type::UPDATE) => Event::UpdateMsgErr(notification),
        _ => Event::BgpHeaderErr(notification),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::SessionConfig;
    use crate::wire::encode_message;
    use std::net::Ipv4Addr;

    fn connection() -> Connection {
        let config = SessionConfig::new(65001, 65002, Ipv4Addr::new(192, 0, 2, 1));
        Connection::new(Fsm::new(config), Direction::Outbound, SharedCounters::default())
    }

    #[test]
    fn before_established_decoding_stops_after_a_keepalive() {
        let mut connection = connection();
        let options = CodecOptions::default();
        encode_message(&Message::Keepalive, &options, &mut connection.read_buffer).unwrap();
        let update = Message::Update(Box::default());
        encode_message(&update, &options, &mut connection.read_buffer).unwrap();
        let mut out = Vec::new();
        connection.drain_frames(&mut out);
        assert_eq!(out.len(), 1, "only the KEEPALIVE is taken");
        assert!(matches!(out[0], Received::Event(Event::KeepAliveMsg)));
        assert_eq!(connection.read_buffer.len(), 23, "the UPDATE waits for the FSM");
    }

    /// Reads grow to the largest size during a transfer and shrink back
    /// when the session rests, giving back the large buffer.
    #[test]
    fn reads_grow_with_a_transfer_and_shrink_at_rest() {
        let mut sizing = ReadSizing::default();
        let mut buffer = BytesMut::new();
        sizing.prepare(&mut buffer);
        assert!(buffer.capacity() >= READ_MIN && buffer.capacity() < READ_CHUNK);
        for _ in 0..10 {
            sizing.after_read(sizing.chunk);
        }
        assert_eq!(sizing.chunk, READ_CHUNK);
        sizing.prepare(&mut buffer);
        assert!(buffer.capacity() >= READ_CHUNK);
        sizing.after_read(READ_CHUNK / 2);
        assert_eq!(sizing.chunk, READ_CHUNK, "half full keeps the size");
        for _ in 0..10 {
            sizing.after_read(19);
        }
        assert_eq!(sizing.chunk, READ_MIN);
        buffer.extend_from_slice(&[0; 19]);
        sizing.prepare(&mut buffer);
        assert!(buffer.capacity() >= READ_CHUNK, "bytes still to decode keep the buffer");
        buffer.clear();
        sizing.prepare(&mut buffer);
        assert!(buffer.capacity() < READ_CHUNK, "an empty large buffer is given back");
    }

    #[test]
    fn one_call_decodes_a_bounded_number_of_messages() {
        let mut connection = connection();
        let options = CodecOptions::default();
        let update = Message::Update(Box::default());
        for _ in 0..100 {
            encode_message(&update, &options, &mut connection.read_buffer).unwrap();
        }
        let mut out = Vec::new();
        connection.drain_frames(&mut out);
        let updates =
            |out: &[Received]| out.iter().filter(|r| matches!(r, Received::Update(_))).count();
        assert_eq!(updates(&out), MAX_FRAMES_PER_DRAIN);
        assert_eq!(connection.read_buffer.len(), (100 - MAX_FRAMES_PER_DRAIN) * 23);
        let mut calls = 1;
        while !connection.read_buffer.is_empty() {
            connection.drain_frames(&mut out);
            calls += 1;
        }
        assert_eq!(updates(&out), 100, "nothing is lost between calls");
        assert_eq!(calls, 100usize.div_ceil(MAX_FRAMES_PER_DRAIN));
    }

    #[test]
    fn a_bad_marker_becomes_a_header_error_and_clears_the_buffer() {
        let mut connection = connection();
        connection.read_buffer.extend_from_slice(&[0u8; 19]);
        let mut out = Vec::new();
        connection.drain_frames(&mut out);
        assert!(matches!(out[0], Received::Event(Event::BgpHeaderErr(_))));
        assert!(connection.read_buffer.is_empty());
    }

    #[test]
    fn a_partial_frame_waits_for_more_bytes() {
        let mut connection = connection();
        let mut frame = BytesMut::new();
        encode_message(&Message::Keepalive, &CodecOptions::default(), &mut frame).unwrap();
        connection.read_buffer.extend_from_slice(&frame[..10]);
        let mut out = Vec::new();
        connection.drain_frames(&mut out);
        assert!(out.is_empty());
        assert_eq!(connection.read_buffer.len(), 10);
    }
}
