//! One BFD session's state machine in Asynchronous mode (RFC 5880 §6.8).
//!
//! Sans-IO: [`Session::handle`] takes an [`Event`], the current `Instant` and
//! a [`Jitter`] source, and returns the [`Action`]s for the I/O driver. The
//! session never reads a clock or touches a socket.
//!
//! State variables follow §6.8.1 (`bfd.SessionState` is [`Session::state`],
//! and so on). Transitions follow the reception procedure of §6.8.6 and the
//! diagram of §6.2:
//!
//! ```text
//!            received: Down        received: Init, Up
//!   Down ------------------> Init ------------------> Up
//!   Down ------------------------------------------> Up   received: Init
//!   Init, Up ---------------> Down   received: AdminDown (diag 3), or
//!                                    Detection Time expiry (diag 1)
//!   Up ---------------------> Down   received: Down (diag 3)
//!   any <--> AdminDown               administrative control (§6.8.16)
//! ```
//!
//! Timers (§6.8.2 to §6.8.4, §6.8.7):
//! - We transmit every max(bfd.DesiredMinTxInterval, bfd.RemoteMinRxInterval),
//!   less a random 0-25 % (10-25 % when bfd.DetectMult is 1). While not Up,
//!   bfd.DesiredMinTxInterval is at least one second.
//! - The peer is declared dead after its Detect Mult times
//!   max(bfd.RequiredMinRxInterval, its last Desired Min TX Interval) without
//!   a valid packet.
//! - A change of our advertised intervals while Up (config, reaching Up, or
//!   going AdminDown from Up) runs a Poll Sequence (§6.5): packets carry P
//!   until a packet with F arrives. Until then the changes that could make
//!   the peer declare us dead are held back (§6.8.3): a larger TX interval is
//!   not used yet, a smaller RX interval does not shorten our detection time
//!   yet. Changes the other way apply at once.
//! - A received P is answered at once with F, whatever the state and timers.
//!
//! Where we choose among what the RFC allows, and why:
//! - Intervals changed while not Up apply at once without a Poll: the peer
//!   is not relying on them yet (it cannot be Up with us).
//! - Going AdminDown from Up keeps the old transmit interval until the peer
//!   answers the Poll, and sends one AdminDown packet at once, so the peer
//!   hears of it before its detection timer could fire (§6.8.16 asks for
//!   AdminDown packets "for at least a Detection Time"). We keep sending
//!   AdminDown packets at one per second for as long as the session exists.
//! - Demand mode (§6.6): we never set D. When the peer does, we stop periodic
//!   transmission while both sides are Up (§6.8.7), except during a Poll.
//!   Our detection timer keeps running because we are not in Demand mode.
//! - Echo (§6.4) is not implemented: Required Min Echo RX is always zero.
//! - Authentication (§6.7) is not implemented: a packet with A set is
//!   discarded ([`Discard::AuthenticationNotConfigured`]).
//! - bfd.LocalDiag keeps the reason of the last fall (RFC 5880 §4.1) and is
//!   not cleared on Up.
//! - A timer expiry before the armed instant is ignored, so the driver
//!   needs no exact cancellation.

use std::cmp::{max, min};
use std::time::{Duration, Instant};

use super::config::{ConfigError, SLOW_TX_INTERVAL, SessionConfig};
use super::event::{Action, Discard, Event, Jitter, StateChange};
use super::packet::{ControlPacket, Diagnostic, State};

/// bfd.RemoteMinRxInterval before the peer is heard from (§6.8.1: 1 µs).
const INITIAL_REMOTE_MIN_RX: Duration = Duration::from_micros(1);

/// One session. See the module documentation.
#[derive(Clone, Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    remote_state: State,
    local_discriminator: u32,
    remote_discriminator: u32,
    local_diagnostic: Diagnostic,
    remote_diagnostic: Diagnostic,
    /// bfd.DesiredMinTxInterval: what we advertise.
    desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval: what we advertise.
    required_min_rx: Duration,
    /// The Desired Min TX our transmit interval uses (differs during a Poll).
    tx_in_force: Duration,
    /// The Required Min RX our detection time uses (differs during a Poll).
    rx_in_force: Duration,
    remote_min_rx: Duration,
    remote_desired_min_tx: Duration,
    remote_detect_multiplier: u8,
    remote_demand: bool,
    remote_control_plane_independent: bool,
    polling: bool,
    next_transmit: Option<Instant>,
    /// The un-jittered interval `next_transmit` was computed with.
    armed_interval: Duration,
    last_transmit: Option<Instant>,
    detection_deadline: Option<Instant>,
    last_received: Option<Instant>,
    /// Where the driver's grid of transmit times starts ([`Session::align_to`]).
    grid_origin: Option<Instant>,
}

/// Transmit grains, largest first: a transmit time is aligned to the largest
/// grain that is at most a tenth of the interval ([`Session::align_to`]).
const GRAINS: [Duration; 5] = [
    Duration::from_millis(20),
    Duration::from_millis(10),
    Duration::from_millis(5),
    Duration::from_millis(2),
    Duration::from_millis(1),
];

/// The grain transmit times of `interval` are aligned to: the largest of
/// [`GRAINS`] no more than a tenth of it (so the 75-100 % window, a quarter
/// of the interval, holds at least two grid points, and the 75-90 % one of
/// Detect Mult 1 at least one), none below 10 ms.
fn grain_for(interval: Duration) -> Option<Duration> {
    GRAINS.into_iter().find(|grain| *grain * 10 <= interval)
}

/// A snapshot for the API and `bgpctl` (local and remote state, diagnostics,
/// negotiated timers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub remote_state: State,
    pub local_diagnostic: Diagnostic,
    pub remote_diagnostic: Diagnostic,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    /// The negotiated transmit interval, before jitter.
    pub transmit_interval: Duration,
    /// How long without a packet before the peer is declared dead.
    pub detection_time: Duration,
    pub remote_detect_multiplier: u8,
    /// The peer's C bit (RFC 5882 §4.3).
    pub remote_control_plane_independent: bool,
    pub polling: bool,
}

impl Session {
    /// A session in Down with nothing armed; call [`Session::start`] next.
    /// `local_discriminator` must be non-zero and unique among our sessions.
    pub fn new(config: SessionConfig, local_discriminator: u32) -> Result<Session, ConfigError> {
        config.timers.validate()?;
        if local_discriminator == 0 {
            return Err(ConfigError::ZeroDiscriminator);
        }
        let desired_min_tx = max(config.timers.desired_min_tx, SLOW_TX_INTERVAL);
        let required_min_rx = config.timers.required_min_rx;
        Ok(Session {
            config,
            state: State::Down,
            remote_state: State::Down,
            local_discriminator,
            remote_discriminator: 0,
            local_diagnostic: Diagnostic::NoDiagnostic,
            remote_diagnostic: Diagnostic::NoDiagnostic,
            desired_min_tx,
            required_min_rx,
            tx_in_force: desired_min_tx,
            rx_in_force: required_min_rx,
            remote_min_rx: INITIAL_REMOTE_MIN_RX,
            remote_desired_min_tx: Duration::ZERO,
            remote_detect_multiplier: 0,
            remote_demand: false,
            remote_control_plane_independent: false,
            polling: false,
            next_transmit: None,
            armed_interval: Duration::ZERO,
            last_transmit: None,
            detection_deadline: None,
            last_received: None,
            grid_origin: None,
        })
    }

    /// Aligns every periodic transmit time to a grid counted from `origin`,
    /// in grains of a tenth of the interval or less (5 ms at 50 ms, 20 ms at
    /// 300 ms): the jittered time is drawn among the grid points inside the
    /// RFC 5880 §6.8.7 window (75-100 % of the interval after the last
    /// packet, 75-90 % with Detect Mult 1), so the intervals are as the RFC
    /// asks, still random, and every session of a driver with the same
    /// grain is due on the same instants: 100 sessions at 50 ms share 200
    /// wake-ups a second instead of each taking its own. Without it the
    /// time is drawn to the nanosecond.
    pub fn align_to(&mut self, origin: Instant) {
        self.grid_origin = Some(origin);
    }

    /// Starts periodic transmission (at once, unless passive).
    pub fn start(&mut self, now: Instant, jitter: &mut impl Jitter) -> Vec<Action> {
        let mut out = Vec::new();
        self.refresh_timers(now, jitter, &mut out);
        out
    }

    /// Feeds one event; returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: Instant, jitter: &mut impl Jitter) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::ControlPacketReceived(packet) => self.on_packet(packet, now, &mut out),
            Event::TransmitTimerExpired => {
                if self.next_transmit.is_none_or(|deadline| now < deadline) {
                    return out;
                }
                self.next_transmit = None;
            }
            Event::DetectionTimerExpired => {
                if self.detection_deadline.is_none_or(|deadline| now < deadline) {
                    return out;
                }
                self.on_detection_expired(&mut out);
            }
            Event::AdminDown(diagnostic) => self.on_admin_down(diagnostic, &mut out),
            Event::AdminUp => {
                if self.state == State::AdminDown {
                    self.change_state(State::Down, None, &mut out);
                }
            }
            Event::ConfigChanged(config) => {
                if let Err(error) = config.timers.validate() {
                    out.push(Action::ConfigRejected(error));
                    return out;
                }
                self.config = SessionConfig { hop: self.config.hop, ..config };
                let tx = match self.state {
                    State::Up => config.timers.desired_min_tx,
                    _ => max(config.timers.desired_min_tx, SLOW_TX_INTERVAL),
                };
                self.advertise(tx, config.timers.required_min_rx, self.state == State::Up);
            }
        }
        self.refresh_timers(now, jitter, &mut out);
        out
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn remote_state(&self) -> State {
        self.remote_state
    }

    pub fn local_diagnostic(&self) -> Diagnostic {
        self.local_diagnostic
    }

    pub fn local_discriminator(&self) -> u32 {
        self.local_discriminator
    }

    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discriminator
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether a Poll Sequence is running.
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// The advertised bfd.DesiredMinTxInterval and bfd.RequiredMinRxInterval.
    pub fn advertised(&self) -> (Duration, Duration) {
        (self.desired_min_tx, self.required_min_rx)
    }

    /// The transmit interval before jitter (§6.8.2).
    pub fn transmit_interval(&self) -> Duration {
        max(self.tx_in_force, self.remote_min_rx)
    }

    /// The Detection Time (§6.8.4); zero until the peer is heard from.
    pub fn detection_time(&self) -> Duration {
        max(self.rx_in_force, self.remote_desired_min_tx) * u32::from(self.remote_detect_multiplier)
    }

    /// When the transmit and detection timers are armed for.
    pub fn deadlines(&self) -> (Option<Instant>, Option<Instant>) {
        (self.next_transmit, self.detection_deadline)
    }

    pub fn status(&self) -> Status {
        Status {
            state: self.state,
            remote_state: self.remote_state,
            local_diagnostic: self.local_diagnostic,
            remote_diagnostic: self.remote_diagnostic,
            local_discriminator: self.local_discriminator,
            remote_discriminator: self.remote_discriminator,
            transmit_interval: self.transmit_interval(),
            detection_time: self.detection_time(),
            remote_detect_multiplier: self.remote_detect_multiplier,
            remote_control_plane_independent: self.remote_control_plane_independent,
            polling: self.polling,
        }
    }

    /// §6.8.6, from the Your Discriminator check on (the packet checks ran
    /// in [`ControlPacket::decode`], the TTL and port checks in the driver).
    fn on_packet(&mut self, packet: ControlPacket, now: Instant, out: &mut Vec<Action>) {
        if packet.your_discriminator == 0 && !matches!(packet.state, State::Down | State::AdminDown)
        {
            out.push(Action::Discarded(Discard::ZeroYourDiscriminator { state: packet.state }));
            return;
        }
        if packet.your_discriminator != 0 && packet.your_discriminator != self.local_discriminator {
            out.push(Action::Discarded(Discard::WrongDiscriminator {
                received: packet.your_discriminator,
                local: self.local_discriminator,
            }));
            return;
        }
        if let Some(auth) = &packet.authentication {
            out.push(Action::Discarded(Discard::AuthenticationNotConfigured { kind: auth.kind }));
            return;
        }
        self.remote_discriminator = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_diagnostic = packet.diagnostic;
        self.remote_demand = packet.demand;
        self.remote_control_plane_independent = packet.control_plane_independent;
        self.remote_min_rx = Duration::from_micros(u64::from(packet.required_min_rx));
        self.remote_desired_min_tx = Duration::from_micros(u64::from(packet.desired_min_tx));
        self.remote_detect_multiplier = packet.detect_multiplier;
        if self.polling && packet.final_ {
            self.polling = false;
            self.tx_in_force = self.desired_min_tx;
            self.rx_in_force = self.required_min_rx;
        }
        if self.state == State::AdminDown {
            out.push(Action::Discarded(Discard::AdminDown));
            return;
        }
        self.last_received = Some(now);
        let deadline = now + self.detection_time();
        self.detection_deadline = Some(deadline);
        out.push(Action::ArmDetectionTimer(deadline));

        let neighbor_down = Some(Diagnostic::NeighborSignaledSessionDown);
        match (self.state, packet.state) {
            (State::Down, State::AdminDown) => {}
            (_, State::AdminDown) | (State::Up, State::Down) => {
                self.change_state(State::Down, neighbor_down, out);
            }
            (State::Down, State::Down) => self.change_state(State::Init, None, out),
            (State::Down, State::Init) | (State::Init, State::Init | State::Up) => {
                self.change_state(State::Up, None, out);
            }
            _ => {}
        }
        if packet.poll {
            out.push(Action::Send(self.packet(false, true)));
        }
    }

    /// §6.8.4: no valid packet for a Detection Time.
    fn on_detection_expired(&mut self, out: &mut Vec<Action>) {
        self.detection_deadline = None;
        self.remote_discriminator = 0;
        self.remote_state = State::Down;
        self.remote_demand = false;
        if matches!(self.state, State::Init | State::Up) {
            self.change_state(State::Down, Some(Diagnostic::ControlDetectionTimeExpired), out);
        }
    }

    /// §6.8.16. The AdminDown news goes out at once.
    fn on_admin_down(&mut self, diagnostic: Diagnostic, out: &mut Vec<Action>) {
        if self.state == State::AdminDown {
            return;
        }
        self.change_state(State::AdminDown, Some(diagnostic), out);
        if self.detection_deadline.take().is_some() {
            out.push(Action::DisarmDetectionTimer);
        }
        if self.remote_discriminator != 0 || !self.config.passive {
            out.push(Action::Send(self.packet(self.polling, false)));
        }
    }

    fn change_state(&mut self, to: State, diagnostic: Option<Diagnostic>, out: &mut Vec<Action>) {
        let from = self.state;
        if let Some(diagnostic) = diagnostic {
            self.local_diagnostic = diagnostic;
        }
        self.state = to;
        out.push(Action::StateChanged(StateChange {
            from,
            to,
            diagnostic: self.local_diagnostic,
            remote_state: self.remote_state,
            remote_control_plane_independent: self.remote_control_plane_independent,
        }));
        let rx = self.required_min_rx;
        let slow = max(self.config.timers.desired_min_tx, SLOW_TX_INTERVAL);
        match to {
            State::Up => self.advertise(self.config.timers.desired_min_tx, rx, true),
            // The peer may still time us by our fast interval: slow down
            // only once it has acknowledged (§6.8.3).
            State::AdminDown => self.advertise(slow, rx, from == State::Up),
            // The peer is down or gone: nothing relies on our fast interval.
            State::Down | State::Init => self.advertise(slow, rx, false),
        }
    }

    /// Sets what we advertise. With `poll`, a change starts a Poll Sequence
    /// and only the safe half of it applies at once (§6.8.3); without, it all
    /// applies at once and any Poll Sequence ends.
    fn advertise(&mut self, tx: Duration, rx: Duration, poll: bool) {
        let changed = (tx, rx) != (self.desired_min_tx, self.required_min_rx);
        self.desired_min_tx = tx;
        self.required_min_rx = rx;
        if !poll {
            self.tx_in_force = tx;
            self.rx_in_force = rx;
            self.polling = false;
        } else if changed {
            self.tx_in_force = min(self.tx_in_force, tx);
            self.rx_in_force = max(self.rx_in_force, rx);
            self.polling = true;
        }
    }

    /// §6.8.7: whether periodic packets go out.
    fn sends_periodic(&self) -> bool {
        if self.config.passive && self.remote_discriminator == 0 {
            return false;
        }
        if self.remote_min_rx.is_zero() {
            return false;
        }
        let remote_demand =
            self.remote_demand && self.state == State::Up && self.remote_state == State::Up;
        !remote_demand || self.polling
    }

    /// Brings both timers in line with the current intervals: starts, stops
    /// or pulls in the transmit timer, and moves the detection deadline.
    fn refresh_timers(&mut self, now: Instant, jitter: &mut impl Jitter, out: &mut Vec<Action>) {
        if let (Some(deadline), Some(received)) = (self.detection_deadline, self.last_received) {
            let moved = received + self.detection_time();
            if moved != deadline {
                self.detection_deadline = Some(moved);
                out.push(Action::ArmDetectionTimer(moved));
            }
        }
        if !self.sends_periodic() {
            if self.next_transmit.take().is_some() {
                out.push(Action::DisarmTransmitTimer);
            }
            return;
        }
        let interval = self.transmit_interval();
        match self.next_transmit {
            None => self.transmit(now, jitter, out),
            Some(deadline) if interval < self.armed_interval => {
                self.armed_interval = interval;
                let base = self.last_transmit.unwrap_or(now);
                let sooner = max(self.next_after(base, interval, jitter), now);
                if sooner < deadline {
                    self.next_transmit = Some(sooner);
                    out.push(Action::ArmTransmitTimer(sooner));
                }
            }
            Some(_) => {}
        }
    }

    fn transmit(&mut self, now: Instant, jitter: &mut impl Jitter, out: &mut Vec<Action>) {
        out.push(Action::Send(self.packet(self.polling, false)));
        self.last_transmit = Some(now);
        let interval = self.transmit_interval();
        self.armed_interval = interval;
        let next = self.next_after(now, interval, jitter);
        self.next_transmit = Some(next);
        out.push(Action::ArmTransmitTimer(next));
    }

    /// The next periodic transmit after one at `base`. §6.8.7: 75-100 % of
    /// the interval later, 75-90 % with a Detect Mult of 1; on the grid of
    /// [`Session::align_to`] when there is one.
    fn next_after(&self, base: Instant, interval: Duration, jitter: &mut impl Jitter) -> Instant {
        let span = if self.config.timers.detect_multiplier == 1 { 151 } else { 251 };
        let earliest = base + interval * 750 / 1000;
        let latest = base + interval * (750 + span - 1) / 1000;
        if let Some(at) = self.grid_point(earliest, latest, interval, jitter) {
            return at;
        }
        base + interval * (750 + jitter.below(span)) / 1000
    }

    /// A grid point drawn uniformly among those in `earliest..=latest`.
    fn grid_point(
        &self,
        earliest: Instant,
        latest: Instant,
        interval: Duration,
        jitter: &mut impl Jitter,
    ) -> Option<Instant> {
        let origin = self.grid_origin?;
        let grain = grain_for(interval)?.as_nanos();
        let first = earliest.checked_duration_since(origin)?.as_nanos().div_ceil(grain);
        let last = latest.checked_duration_since(origin)?.as_nanos() / grain;
        let choices = u32::try_from(last.checked_sub(first)? + 1).ok()?;
        let point = (first + u128::from(jitter.below(choices))) * grain;
        Some(origin + Duration::from_nanos(u64::try_from(point).ok()?))
    }

    /// §6.8.7 "Transmitting BFD Control Packets": the packet for the current
    /// state. P and F are never both set.
    fn packet(&self, poll: bool, final_: bool) -> ControlPacket {
        ControlPacket {
            diagnostic: self.local_diagnostic,
            state: self.state,
            poll: poll && !final_,
            final_,
            control_plane_independent: self.config.control_plane_independent,
            demand: false,
            detect_multiplier: self.config.timers.detect_multiplier,
            my_discriminator: self.local_discriminator,
            your_discriminator: self.remote_discriminator,
            desired_min_tx: micros(self.desired_min_tx),
            required_min_rx: micros(self.required_min_rx),
            required_min_echo_rx: 0,
            authentication: None,
        }
    }
}

/// An interval in the 32-bit microsecond field (validated intervals fit).
fn micros(interval: Duration) -> u32 {
    u32::try_from(interval.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
