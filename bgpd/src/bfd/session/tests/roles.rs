//! Passive role (RFC 5880 §6.1), the C bit, and what a state change means to
//! BGP (RFC 5882 §3.2).

use super::*;

fn passive() -> SessionConfig {
    SessionConfig { passive: true, ..fast() }
}

#[test]
fn passive_sends_nothing_until_heard_from() {
    let mut jitter = Fixed(u32::MAX);
    let mut session = Session::new(passive(), LOCAL).unwrap();
    assert!(session.start(Instant::now(), &mut jitter).is_empty());
    assert_eq!(session.deadlines(), (None, None));
}

#[test]
fn passive_answers_at_once_when_heard_from() {
    let mut h = Harness::new(passive());
    h.at(300);
    let actions = h.receive(peer(State::Down));
    let packet = only_sent(&actions);
    assert_eq!((packet.state, packet.your_discriminator), (State::Init, PEER));
    assert_eq!(transmit_armed(&actions), Some(h.instant(1300)));
}

#[test]
fn passive_falls_silent_again_when_the_peer_is_forgotten() {
    let mut h = Harness::new(passive());
    h.receive(peer(State::Down));
    let deadline = h.session.deadlines().1.unwrap();
    h.now = deadline;
    let actions = h.feed(Event::DetectionTimerExpired);
    assert!(actions.contains(&Action::DisarmTransmitTimer));
    assert_eq!(h.session.deadlines(), (None, None));
}

#[test]
fn passive_admin_down_before_any_peer_sends_nothing() {
    let mut h = Harness::new(passive());
    let actions = h.feed(Event::AdminDown(Diagnostic::AdministrativelyDown));
    assert!(sent(&actions).is_empty());
    assert_eq!(h.session.state(), State::AdminDown);
}

#[test]
fn becoming_passive_while_unheard_stops_transmission() {
    let mut h = Harness::new(fast());
    let actions = h.feed(Event::ConfigChanged(passive()));
    assert!(actions.contains(&Action::DisarmTransmitTimer));
}

#[test]
fn control_plane_independent_sets_the_c_bit() {
    let config = SessionConfig { control_plane_independent: true, ..fast() };
    let mut jitter = Fixed(u32::MAX);
    let mut session = Session::new(config, LOCAL).unwrap();
    assert!(only_sent(&session.start(Instant::now(), &mut jitter)).control_plane_independent);
}

#[test]
fn hop_mode_is_fixed_for_the_session() {
    let mut h = Harness::new(fast());
    h.feed(Event::ConfigChanged(SessionConfig { hop: Hop::Multi { min_ttl: 2 }, ..fast() }));
    assert_eq!(h.session.config().hop, Hop::Single);
}

#[test]
fn signals_only_on_entering_or_leaving_up() {
    let change = |from, to, diagnostic, remote_state| {
        StateChange { from, to, diagnostic, remote_state, remote_control_plane_independent: false }
            .signal()
    };
    let none = Diagnostic::NoDiagnostic;
    let expired = Diagnostic::ControlDetectionTimeExpired;
    let neighbor = Diagnostic::NeighborSignaledSessionDown;
    assert_eq!(change(State::Down, State::Init, none, State::Down), None);
    assert_eq!(change(State::Init, State::Down, expired, State::Down), None);
    assert_eq!(change(State::AdminDown, State::Down, none, State::Down), None);
    assert_eq!(change(State::Down, State::AdminDown, none, State::Down), None);
    assert_eq!(change(State::Init, State::Up, none, State::Up), Some(Signal::Up));
    assert_eq!(change(State::Down, State::Up, none, State::Init), Some(Signal::Up));
    assert_eq!(change(State::Up, State::Down, expired, State::Down), Some(Signal::Down(expired)));
    assert_eq!(change(State::Up, State::Down, neighbor, State::Down), Some(Signal::Down(neighbor)));
    assert_eq!(
        change(State::Up, State::Down, neighbor, State::AdminDown),
        Some(Signal::NeighborAdminDown)
    );
    assert_eq!(change(State::Up, State::AdminDown, none, State::Up), Some(Signal::AdminDown));
}

#[test]
fn status_reports_both_sides() {
    let mut h = Harness::new(fast());
    h.receive(ControlPacket {
        diagnostic: Diagnostic::ControlDetectionTimeExpired,
        ..peer_with(State::Init, 50_000, 80_000, 4)
    });
    let status = h.session.status();
    assert_eq!(status.state, State::Up);
    assert_eq!(status.remote_state, State::Init);
    assert_eq!(status.remote_diagnostic, Diagnostic::ControlDetectionTimeExpired);
    assert_eq!((status.local_discriminator, status.remote_discriminator), (LOCAL, PEER));
    assert_eq!(status.transmit_interval, ms(80));
    assert_eq!(status.detection_time, ms(4 * 50));
    assert_eq!(status.remote_detect_multiplier, 4);
    assert!(status.polling);
}

#[test]
fn the_peers_c_bit_travels_with_the_down_change() {
    let mut h = Harness::in_state(fast(), State::Up);
    h.receive(ControlPacket { control_plane_independent: true, ..peer(State::Up) });
    assert!(h.session.status().remote_control_plane_independent);
    let deadline = h.session.deadlines().1.unwrap();
    h.now = deadline;
    let change = change(&h.feed(Event::DetectionTimerExpired)).unwrap();
    assert!(change.remote_control_plane_independent, "RFC 5882 §4.3: routes must go");
}
