//! Session inputs and outputs, and the injected randomness for jitter.
//!
//! Inputs are named after what RFC 5880 §6.8 reacts to: reception of a
//! Control packet (§6.8.6), the periodic transmission (§6.8.7), Detection
//! Time expiry (§6.8.4), administrative control (§6.8.16) and a change of
//! timer parameters (§6.8.3).

use std::time::Instant;

use super::config::{ConfigError, SessionConfig};
use super::packet::{AuthenticationType, ControlPacket, Diagnostic, State};

/// One session input. The current time is passed beside it to
/// [`Session::handle`](super::Session::handle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A Control packet for this session, decoded and past the socket checks
    /// (TTL, port). §6.8.6.
    ControlPacketReceived(ControlPacket),
    /// The transmit timer fired (§6.8.7). An expiry earlier than the armed
    /// instant (a stale timer) is ignored.
    TransmitTimerExpired,
    /// The detection timer fired (§6.8.4). An expiry earlier than the armed
    /// instant (a packet arrived meanwhile) is ignored.
    DetectionTimerExpired,
    /// Hold the session administratively down with this diagnostic (normally
    /// Administratively Down, or Path Down; §6.8.16).
    AdminDown(Diagnostic),
    /// Allow the session to come up again (§6.8.16).
    AdminUp,
    /// New timers or passive role. A change of the intervals while Up runs a
    /// Poll Sequence (§6.8.3). `hop` is ignored: it is fixed per session.
    ConfigChanged(SessionConfig),
}

/// One thing for the I/O driver to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this packet to the peer now.
    Send(ControlPacket),
    /// (Re)arm the transmit timer: feed [`Event::TransmitTimerExpired`] at
    /// this instant.
    ArmTransmitTimer(Instant),
    /// No periodic transmission (passive and unheard, Demand mode, or the
    /// peer's Required Min RX is zero).
    DisarmTransmitTimer,
    /// (Re)arm the detection timer: feed [`Event::DetectionTimerExpired`] at
    /// this instant.
    ArmDetectionTimer(Instant),
    DisarmDetectionTimer,
    /// The session state changed.
    StateChanged(StateChange),
    /// A received packet was discarded (for counters and debug logs).
    Discarded(Discard),
    /// [`Event::ConfigChanged`] carried timers that fail
    /// [`Timers::validate`](super::Timers::validate); nothing changed.
    ConfigRejected(ConfigError),
}

/// A change of bfd.SessionState with what caused it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub from: State,
    pub to: State,
    /// bfd.LocalDiag after the change.
    pub diagnostic: Diagnostic,
    /// bfd.RemoteSessionState after the change: AdminDown when the peer's
    /// AdminDown took us Down.
    pub remote_state: State,
    /// The C bit of the peer's last packet: its BFD does not share fate with
    /// its control plane, so a Down means its forwarding failed and graceful
    /// restart must not keep its routes (RFC 5882 §4.3).
    pub remote_control_plane_independent: bool,
}

/// What a state change means to a client protocol such as BGP (RFC 5882 §3).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The session came Up: the path works in both directions.
    Up,
    /// The session left Up because the path failed: the client should act
    /// at once (BGP: Cease, RFC 5882 §3.2). Carries bfd.LocalDiag.
    Down(Diagnostic),
    /// The peer took its session administratively down. Not a failure: the
    /// client must not tear anything down because of it (RFC 5882 §3.2).
    NeighborAdminDown,
    /// We took the session administratively down. Not a failure either.
    AdminDown,
}

impl StateChange {
    /// The client-facing meaning of this change, if it has one: only entering
    /// or leaving Up matters to a client protocol (RFC 5882 §3).
    pub fn signal(&self) -> Option<Signal> {
        match (self.from, self.to) {
            (from, State::Up) if from != State::Up => Some(Signal::Up),
            (State::Up, State::AdminDown) => Some(Signal::AdminDown),
            (State::Up, State::Down) if self.remote_state == State::AdminDown => {
                Some(Signal::NeighborAdminDown)
            }
            (State::Up, State::Down) => Some(Signal::Down(self.diagnostic)),
            _ => None,
        }
    }
}

/// Why the session discarded a packet (RFC 5880 §6.8.6 session-level checks).
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Discard {
    #[error("Your Discriminator is zero while the peer claims state {state}")]
    ZeroYourDiscriminator { state: State },
    #[error("Your Discriminator {received} is not ours ({local})")]
    WrongDiscriminator { received: u32, local: u32 },
    #[error("authentication type {kind:?} present but no authentication is configured")]
    AuthenticationNotConfigured { kind: AuthenticationType },
    #[error("session is administratively down")]
    AdminDown,
}

/// The random source for transmit jitter (RFC 5880 §6.8.7), injected so tests
/// are deterministic.
pub trait Jitter {
    /// A value in `0..bound` (`bound` > 0), uniform enough for jitter.
    fn below(&mut self, bound: u32) -> u32;
}

/// xorshift64*: fast, no dependency, plenty for spreading packet times.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from a seed (zero is replaced, xorshift cannot leave it).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }
}

impl Jitter for XorShift {
    fn below(&mut self, bound: u32) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let value = x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        (value % u64::from(bound.max(1))) as u32
    }
}
