//! Session tests, event by event: one test per cell of the RFC 5880 §6.8.6
//! reception table and §6.2 diagram (`transitions`), timer negotiation,
//! detection and jitter (`timers`), Poll Sequences (`poll`), passive role and
//! administrative control (`roles`). A [`Harness`] holds a session, a clock
//! in milliseconds from an origin, and a fixed jitter.

mod poll;
mod roles;
mod timers;
mod transitions;

use std::time::{Duration, Instant};

use super::*;
use crate::bfd::{Action, Discard, Event, Hop, Jitter, Signal, StateChange, Timers};

pub(super) const LOCAL: u32 = 0x1111;
pub(super) const PEER: u32 = 0x2222;

/// A jitter source returning a fixed value (clamped below `bound`):
/// `Fixed(u32::MAX)` gives the full interval (90 % with Detect Mult 1),
/// `Fixed(0)` gives 75 %.
pub(super) struct Fixed(pub u32);

impl Jitter for Fixed {
    fn below(&mut self, bound: u32) -> u32 {
        self.0.min(bound - 1)
    }
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn timers(tx: u64, rx: u64, multiplier: u8) -> Timers {
    Timers { desired_min_tx: ms(tx), required_min_rx: ms(rx), detect_multiplier: multiplier }
}

pub(super) fn config_with(timers: Timers) -> SessionConfig {
    SessionConfig { timers, ..SessionConfig::default() }
}

/// 50 ms × 3, the fast profile.
pub(super) fn fast() -> SessionConfig {
    config_with(timers(50, 50, 3))
}

pub(super) struct Harness {
    pub session: Session,
    pub origin: Instant,
    pub now: Instant,
    pub jitter: Fixed,
}

impl Harness {
    /// A started session (the first packet already sent unless passive).
    pub fn new(config: SessionConfig) -> Harness {
        let origin = Instant::now();
        let mut jitter = Fixed(u32::MAX);
        let mut session = Session::new(config, LOCAL).unwrap();
        session.start(origin, &mut jitter);
        Harness { session, origin, now: origin, jitter }
    }

    /// A session driven to `state` by a peer running `peer_timers`.
    pub fn in_state(config: SessionConfig, state: State) -> Harness {
        let mut harness = Harness::new(config);
        match state {
            State::Down => {}
            State::Init => {
                harness.receive(peer(State::Down));
            }
            State::Up => {
                harness.receive(peer(State::Init));
            }
            State::AdminDown => {
                harness.feed(Event::AdminDown(Diagnostic::AdministrativelyDown));
            }
        }
        assert_eq!(harness.session.state(), state);
        harness
    }

    /// Moves the clock to `n` ms after the origin.
    pub fn at(&mut self, n: u64) -> &mut Self {
        self.now = self.origin + ms(n);
        self
    }

    pub fn feed(&mut self, event: Event) -> Vec<Action> {
        self.session.handle(event, self.now, &mut self.jitter)
    }

    pub fn receive(&mut self, packet: ControlPacket) -> Vec<Action> {
        self.feed(Event::ControlPacketReceived(packet))
    }

    pub fn instant(&self, n: u64) -> Instant {
        self.origin + ms(n)
    }
}

/// What the peer sends in `state`: 300 ms × 3 (MetalLB's default), and our
/// discriminator once it knows it (not in Down).
pub(super) fn peer(state: State) -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_multiplier: 3,
        my_discriminator: PEER,
        your_discriminator: if state == State::Down { 0 } else { LOCAL },
        desired_min_tx: 300_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 0,
        authentication: None,
    }
}

pub(super) fn peer_with(state: State, tx_us: u32, rx_us: u32, multiplier: u8) -> ControlPacket {
    ControlPacket {
        desired_min_tx: tx_us,
        required_min_rx: rx_us,
        detect_multiplier: multiplier,
        ..peer(state)
    }
}

pub(super) fn sent(actions: &[Action]) -> Vec<&ControlPacket> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send(packet) => Some(packet),
            _ => None,
        })
        .collect()
}

pub(super) fn only_sent(actions: &[Action]) -> &ControlPacket {
    let packets = sent(actions);
    assert_eq!(packets.len(), 1, "expected one packet in {actions:?}");
    packets[0]
}

pub(super) fn change(actions: &[Action]) -> Option<StateChange> {
    actions.iter().find_map(|action| match action {
        Action::StateChanged(change) => Some(*change),
        _ => None,
    })
}

pub(super) fn signal(actions: &[Action]) -> Option<Signal> {
    change(actions).and_then(|change| change.signal())
}

pub(super) fn transmit_armed(actions: &[Action]) -> Option<Instant> {
    actions.iter().rev().find_map(|action| match action {
        Action::ArmTransmitTimer(at) => Some(*at),
        _ => None,
    })
}

pub(super) fn detection_armed(actions: &[Action]) -> Option<Instant> {
    actions.iter().rev().find_map(|action| match action {
        Action::ArmDetectionTimer(at) => Some(*at),
        _ => None,
    })
}

pub(super) fn discarded(actions: &[Action]) -> Option<Discard> {
    actions.iter().find_map(|action| match action {
        Action::Discarded(discard) => Some(*discard),
        _ => None,
    })
}

#[test]
fn new_session_is_down_and_sends_at_once_at_one_second() {
    let mut jitter = Fixed(u32::MAX);
    let now = Instant::now();
    let mut session = Session::new(fast(), LOCAL).unwrap();
    assert_eq!(session.state(), State::Down);
    assert_eq!(session.deadlines(), (None, None));
    let actions = session.start(now, &mut jitter);
    let packet = only_sent(&actions);
    assert_eq!(packet.state, State::Down);
    assert_eq!(packet.my_discriminator, LOCAL);
    assert_eq!(packet.your_discriminator, 0);
    assert_eq!(packet.desired_min_tx, 1_000_000, "§6.8.3: one second while not Up");
    assert_eq!(packet.required_min_rx, 50_000);
    assert_eq!(packet.detect_multiplier, 3);
    assert_eq!(packet.required_min_echo_rx, 0, "no Echo");
    assert!(!packet.demand && !packet.poll && !packet.final_ && !packet.control_plane_independent);
    // bfd.RemoteMinRxInterval starts at 1 µs, so our own 1 s rules.
    assert_eq!(transmit_armed(&actions), Some(now + Duration::from_secs(1)));
}

#[test]
fn invalid_configs_are_refused() {
    assert_eq!(Session::new(fast(), 0).unwrap_err(), ConfigError::ZeroDiscriminator);
    assert_eq!(
        Session::new(config_with(timers(50, 50, 0)), 1).unwrap_err(),
        ConfigError::ZeroDetectMultiplier
    );
    assert_eq!(
        Session::new(config_with(timers(0, 50, 3)), 1).unwrap_err(),
        ConfigError::ZeroInterval { field: "desired_min_tx" }
    );
    let huge = Timers { required_min_rx: Duration::from_secs(5000), ..timers(50, 50, 3) };
    assert!(matches!(
        Session::new(config_with(huge), 1),
        Err(ConfigError::IntervalTooLarge { field: "required_min_rx", .. })
    ));
}

#[test]
fn multihop_checks_minimum_ttl_and_single_hop_255() {
    assert!(Hop::Single.accepts_ttl(255));
    assert!(!Hop::Single.accepts_ttl(254));
    let multi = Hop::Multi { min_ttl: 250 };
    assert!(multi.accepts_ttl(250) && multi.accepts_ttl(255));
    assert!(!multi.accepts_ttl(249));
}
