//! One test per cell of the RFC 5880 §6.8.6 state table (and the TIMER and
//! ADMIN DOWN edges of the §6.2 diagram), plus the session-level discards.

use super::*;

fn assert_change(actions: &[Action], from: State, to: State, diagnostic: Diagnostic) {
    let change = change(actions).expect("a state change");
    assert_eq!((change.from, change.to, change.diagnostic), (from, to, diagnostic));
}

// Down.

#[test]
fn down_receiving_down_goes_init() {
    let mut h = Harness::new(fast());
    let actions = h.receive(peer(State::Down));
    assert_change(&actions, State::Down, State::Init, Diagnostic::NoDiagnostic);
    assert_eq!(signal(&actions), None);
    assert_eq!(h.session.remote_discriminator(), PEER);
}

#[test]
fn down_receiving_init_goes_up() {
    let mut h = Harness::new(fast());
    let actions = h.receive(peer(State::Init));
    assert_change(&actions, State::Down, State::Up, Diagnostic::NoDiagnostic);
    assert_eq!(signal(&actions), Some(Signal::Up));
}

#[test]
fn down_receiving_up_stays_down() {
    let mut h = Harness::new(fast());
    let actions = h.receive(peer(State::Up));
    assert_eq!(change(&actions), None);
    assert_eq!(h.session.state(), State::Down);
    assert!(detection_armed(&actions).is_some(), "still a valid reception");
}

#[test]
fn down_receiving_admin_down_stays_down() {
    let mut h = Harness::new(fast());
    let actions = h.receive(peer(State::AdminDown));
    assert_eq!(change(&actions), None);
    assert_eq!(h.session.local_diagnostic(), Diagnostic::NoDiagnostic);
}

// Init.

#[test]
fn init_receiving_init_goes_up() {
    let mut h = Harness::in_state(fast(), State::Init);
    let actions = h.receive(peer(State::Init));
    assert_change(&actions, State::Init, State::Up, Diagnostic::NoDiagnostic);
    assert_eq!(signal(&actions), Some(Signal::Up));
}

#[test]
fn init_receiving_up_goes_up() {
    let mut h = Harness::in_state(fast(), State::Init);
    let actions = h.receive(peer(State::Up));
    assert_change(&actions, State::Init, State::Up, Diagnostic::NoDiagnostic);
}

#[test]
fn init_receiving_down_stays_init() {
    let mut h = Harness::in_state(fast(), State::Init);
    let actions = h.receive(peer(State::Down));
    assert_eq!(change(&actions), None);
    assert_eq!(h.session.state(), State::Init);
}

#[test]
fn init_receiving_admin_down_goes_down_neighbor_signaled() {
    let mut h = Harness::in_state(fast(), State::Init);
    let actions = h.receive(peer(State::AdminDown));
    assert_change(&actions, State::Init, State::Down, Diagnostic::NeighborSignaledSessionDown);
    assert_eq!(signal(&actions), None, "never was Up: nothing for BGP");
}

#[test]
fn init_detection_expiry_goes_down() {
    let mut h = Harness::in_state(fast(), State::Init);
    let deadline = h.session.deadlines().1.unwrap();
    h.now = deadline;
    let actions = h.feed(Event::DetectionTimerExpired);
    assert_change(&actions, State::Init, State::Down, Diagnostic::ControlDetectionTimeExpired);
    assert_eq!(h.session.remote_discriminator(), 0, "§6.8.1: zeroed on expiry");
}

// Up.

#[test]
fn up_receiving_down_goes_down_and_signals_failure() {
    let mut h = Harness::in_state(fast(), State::Up);
    let actions = h.receive(peer(State::Down));
    assert_change(&actions, State::Up, State::Down, Diagnostic::NeighborSignaledSessionDown);
    assert_eq!(signal(&actions), Some(Signal::Down(Diagnostic::NeighborSignaledSessionDown)));
    // Our next packets say why.
    let next = h.session.deadlines().0.unwrap();
    h.now = next;
    let packet = only_sent(&h.feed(Event::TransmitTimerExpired)).clone();
    assert_eq!(
        (packet.state, packet.diagnostic),
        (State::Down, Diagnostic::NeighborSignaledSessionDown)
    );
}

#[test]
fn up_receiving_init_or_up_stays_up() {
    for received in [State::Init, State::Up] {
        let mut h = Harness::in_state(fast(), State::Up);
        let actions = h.receive(peer(received));
        assert_eq!(change(&actions), None);
        assert_eq!(h.session.state(), State::Up);
    }
}

#[test]
fn up_receiving_admin_down_goes_down_without_signalling_failure() {
    let mut h = Harness::in_state(fast(), State::Up);
    let actions = h.receive(peer(State::AdminDown));
    assert_change(&actions, State::Up, State::Down, Diagnostic::NeighborSignaledSessionDown);
    assert_eq!(change(&actions).unwrap().remote_state, State::AdminDown);
    // RFC 5882 §3.2: distinct from a failure.
    assert_eq!(signal(&actions), Some(Signal::NeighborAdminDown));
}

#[test]
fn up_detection_expiry_goes_down_and_signals_failure() {
    let mut h = Harness::in_state(fast(), State::Up);
    let deadline = h.session.deadlines().1.unwrap();
    h.now = deadline;
    let actions = h.feed(Event::DetectionTimerExpired);
    assert_change(&actions, State::Up, State::Down, Diagnostic::ControlDetectionTimeExpired);
    assert_eq!(signal(&actions), Some(Signal::Down(Diagnostic::ControlDetectionTimeExpired)));
    assert_eq!(h.session.remote_discriminator(), 0);
}

#[test]
fn down_detection_expiry_forgets_the_peer_without_a_change() {
    let mut h = Harness::new(fast());
    h.receive(peer(State::Up));
    let deadline = h.session.deadlines().1.unwrap();
    h.now = deadline;
    let actions = h.feed(Event::DetectionTimerExpired);
    assert_eq!(change(&actions), None);
    assert_eq!(h.session.remote_discriminator(), 0);
    assert_eq!(h.session.deadlines().1, None);
}

// AdminDown (§6.8.16).

#[test]
fn admin_down_from_up_signals_admin_down_and_tells_the_peer_at_once() {
    let mut h = Harness::in_state(fast(), State::Up);
    let actions = h.feed(Event::AdminDown(Diagnostic::AdministrativelyDown));
    assert_change(&actions, State::Up, State::AdminDown, Diagnostic::AdministrativelyDown);
    assert_eq!(signal(&actions), Some(Signal::AdminDown));
    let packet = only_sent(&actions);
    assert_eq!(
        (packet.state, packet.diagnostic),
        (State::AdminDown, Diagnostic::AdministrativelyDown)
    );
    assert!(actions.contains(&Action::DisarmDetectionTimer));
}

#[test]
fn admin_down_discards_every_packet_and_answers_no_poll() {
    let mut h = Harness::in_state(fast(), State::AdminDown);
    for state in [State::AdminDown, State::Down, State::Init, State::Up] {
        let actions = h.receive(ControlPacket { poll: true, ..peer(state) });
        assert_eq!(discarded(&actions), Some(Discard::AdminDown));
        assert!(sent(&actions).is_empty());
        assert_eq!(h.session.state(), State::AdminDown);
        assert_eq!(detection_armed(&actions), None);
    }
}

#[test]
fn admin_down_keeps_transmitting_admin_down() {
    let mut h = Harness::in_state(fast(), State::AdminDown);
    let next = h.session.deadlines().0.unwrap();
    h.now = next;
    let actions = h.feed(Event::TransmitTimerExpired);
    assert_eq!(only_sent(&actions).state, State::AdminDown);
    assert_eq!(transmit_armed(&actions), Some(next + Duration::from_secs(1)));
}

#[test]
fn admin_up_returns_to_down() {
    let mut h = Harness::in_state(fast(), State::AdminDown);
    let actions = h.feed(Event::AdminUp);
    assert_change(&actions, State::AdminDown, State::Down, Diagnostic::AdministrativelyDown);
    assert_eq!(signal(&actions), None);
    // And comes up again through the table.
    h.receive(peer(State::Init));
    assert_eq!(h.session.state(), State::Up);
}

#[test]
fn admin_up_when_not_admin_down_does_nothing() {
    let mut h = Harness::in_state(fast(), State::Up);
    assert_eq!(change(&h.feed(Event::AdminUp)), None);
    assert_eq!(h.session.state(), State::Up);
}

// Session-level discards (§6.8.6).

#[test]
fn zero_your_discriminator_outside_down_is_discarded() {
    for state in [State::Init, State::Up] {
        let mut h = Harness::new(fast());
        let actions = h.receive(ControlPacket { your_discriminator: 0, ..peer(state) });
        assert_eq!(discarded(&actions), Some(Discard::ZeroYourDiscriminator { state }));
        assert_eq!(h.session.remote_discriminator(), 0);
        assert_eq!(detection_armed(&actions), None, "not a valid reception");
    }
}

#[test]
fn zero_your_discriminator_in_admin_down_is_accepted() {
    let mut h = Harness::in_state(fast(), State::Up);
    let actions = h.receive(ControlPacket { your_discriminator: 0, ..peer(State::AdminDown) });
    assert_eq!(discarded(&actions), None);
    assert_eq!(h.session.state(), State::Down);
}

#[test]
fn someone_elses_discriminator_is_discarded() {
    let mut h = Harness::new(fast());
    let actions = h.receive(ControlPacket { your_discriminator: 7, ..peer(State::Init) });
    assert_eq!(
        discarded(&actions),
        Some(Discard::WrongDiscriminator { received: 7, local: LOCAL })
    );
    assert_eq!(h.session.state(), State::Down);
}

#[test]
fn authenticated_packet_is_discarded_without_authentication_configured() {
    let mut h = Harness::new(fast());
    let packet = ControlPacket {
        authentication: Some(crate::bfd::Authentication {
            kind: crate::bfd::AuthenticationType::KeyedSha1,
            data: vec![0; 26],
        }),
        ..peer(State::Down)
    };
    let actions = h.receive(packet);
    assert_eq!(
        discarded(&actions),
        Some(Discard::AuthenticationNotConfigured {
            kind: crate::bfd::AuthenticationType::KeyedSha1
        })
    );
    assert_eq!(h.session.state(), State::Down);
}

#[test]
fn full_three_way_handshake_between_two_sessions() {
    // Two sessions fed each other's packets: Down/Down -> Init -> Up.
    let now = Instant::now();
    let mut jitter = Fixed(u32::MAX);
    let mut a = Session::new(fast(), 1).unwrap();
    let mut b = Session::new(fast(), 2).unwrap();
    let first_a = only_sent(&a.start(now, &mut jitter)).clone();
    let first_b = only_sent(&b.start(now, &mut jitter)).clone();
    b.handle(Event::ControlPacketReceived(first_a), now, &mut jitter);
    assert_eq!(b.state(), State::Init);
    a.handle(Event::ControlPacketReceived(first_b), now, &mut jitter);
    assert_eq!(a.state(), State::Init);
    let t = now + ms(1000);
    let from_a = only_sent(&a.handle(Event::TransmitTimerExpired, t, &mut jitter)).clone();
    assert_eq!((from_a.state, from_a.your_discriminator), (State::Init, 2));
    let actions = b.handle(Event::ControlPacketReceived(from_a), t, &mut jitter);
    assert_eq!(signal(&actions), Some(Signal::Up));
    let from_b = sent(&actions).first().map(|p| (*p).clone()).unwrap_or_else(|| {
        only_sent(&b.handle(Event::TransmitTimerExpired, t + ms(1000), &mut jitter)).clone()
    });
    a.handle(Event::ControlPacketReceived(from_b), t, &mut jitter);
    assert_eq!((a.state(), b.state()), (State::Up, State::Up));
}
