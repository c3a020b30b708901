//! Poll Sequences (RFC 5880 §6.5, §6.8.3): which changes wait for the Final.

use super::*;

fn final_from_peer(tx_us: u32, rx_us: u32) -> ControlPacket {
    ControlPacket { final_: true, ..peer_with(State::Up, tx_us, rx_us, 3) }
}

/// Up at 50 ms × 3 both ways, the Poll of reaching Up answered.
fn up_fast() -> Harness {
    let mut h = Harness::new(fast());
    h.receive(peer_with(State::Init, 50_000, 50_000, 3));
    h.receive(final_from_peer(50_000, 50_000));
    assert!(!h.session.polling());
    h
}

fn next_packet(h: &mut Harness) -> ControlPacket {
    let next = h.session.deadlines().0.unwrap();
    h.now = next;
    only_sent(&h.feed(Event::TransmitTimerExpired)).clone()
}

#[test]
fn reaching_up_polls_for_the_faster_interval_and_uses_it_at_once() {
    let mut h = Harness::new(fast());
    h.receive(peer_with(State::Init, 50_000, 50_000, 3));
    assert!(h.session.polling());
    assert_eq!(h.session.advertised().0, ms(50));
    // A decrease of our TX interval is safe at once.
    assert_eq!(h.session.transmit_interval(), ms(50));
    let packet = next_packet(&mut h);
    assert!(packet.poll && !packet.final_);
    assert_eq!(packet.desired_min_tx, 50_000);
}

#[test]
fn reaching_up_pulls_the_pending_one_second_packet_in() {
    let mut h = Harness::new(fast());
    h.at(10);
    let actions = h.receive(peer_with(State::Init, 50_000, 50_000, 3));
    // Last sent at 0 with the 1 s floor; now 50 ms applies.
    assert_eq!(transmit_armed(&actions), Some(h.instant(50)));
}

#[test]
fn final_ends_the_poll() {
    let mut h = Harness::new(fast());
    h.receive(peer_with(State::Init, 50_000, 50_000, 3));
    assert!(next_packet(&mut h).poll);
    h.receive(final_from_peer(50_000, 50_000));
    assert!(!h.session.polling());
    assert!(!next_packet(&mut h).poll);
}

#[test]
fn final_without_a_poll_is_harmless() {
    let mut h = up_fast();
    h.receive(final_from_peer(50_000, 50_000));
    assert_eq!(h.session.state(), State::Up);
    assert!(!h.session.polling());
}

#[test]
fn received_poll_is_answered_at_once_with_final_only() {
    let mut h = Harness::new(fast());
    h.receive(peer_with(State::Init, 50_000, 50_000, 3));
    assert!(h.session.polling(), "our own Poll runs");
    let actions =
        h.receive(ControlPacket { poll: true, ..peer_with(State::Up, 50_000, 50_000, 3) });
    let answer = only_sent(&actions);
    assert!(answer.final_ && !answer.poll, "P and F never together");
    assert_eq!(answer.state, State::Up);
}

#[test]
fn poll_is_answered_in_down_too() {
    let mut h = Harness::new(fast());
    let actions = h.receive(ControlPacket { poll: true, ..peer(State::Down) });
    let answer = sent(&actions);
    assert!(answer.iter().any(|p| p.final_ && p.state == State::Init));
}

#[test]
fn slower_tx_waits_for_the_final() {
    let mut h = up_fast();
    let actions = h.feed(Event::ConfigChanged(config_with(timers(500, 50, 3))));
    assert!(h.session.polling());
    assert_eq!(h.session.advertised().0, ms(500));
    assert_eq!(h.session.transmit_interval(), ms(50), "§6.8.3: not before the Final");
    assert!(sent(&actions).is_empty(), "the Poll goes with the periodic packets");
    let packet = next_packet(&mut h);
    assert!(packet.poll);
    assert_eq!(packet.desired_min_tx, 500_000);
    h.receive(final_from_peer(50_000, 50_000));
    assert_eq!(h.session.transmit_interval(), ms(500));
}

#[test]
fn faster_tx_applies_at_once() {
    let mut h = up_against_slow();
    h.feed(Event::ConfigChanged(config_with(timers(50, 300, 3))));
    assert!(h.session.polling());
    assert_eq!(h.session.transmit_interval(), ms(50));
}

fn up_against_slow() -> Harness {
    let mut h = Harness::new(config_with(timers(300, 300, 3)));
    h.receive(peer_with(State::Init, 50_000, 50_000, 3));
    h.receive(final_from_peer(50_000, 50_000));
    assert_eq!(h.session.transmit_interval(), ms(300));
    h
}

#[test]
fn smaller_rx_keeps_the_old_detection_time_until_the_final() {
    let mut h = up_against_slow();
    // Peer sends every 50 ms; we required 300 ms, so detect = 3 × 300.
    assert_eq!(h.session.detection_time(), ms(900));
    h.feed(Event::ConfigChanged(config_with(timers(300, 50, 3))));
    assert_eq!(h.session.advertised().1, ms(50));
    assert_eq!(h.session.detection_time(), ms(900), "§6.8.3: old RX until the Final");
    h.at(20);
    let actions = h.receive(final_from_peer(50_000, 50_000));
    assert_eq!(h.session.detection_time(), ms(150));
    assert_eq!(detection_armed(&actions), Some(h.instant(20 + 150)));
}

#[test]
fn larger_rx_lengthens_detection_at_once() {
    let mut h = up_fast();
    h.at(10);
    let actions = h.feed(Event::ConfigChanged(config_with(timers(50, 400, 3))));
    assert!(h.session.polling());
    assert_eq!(h.session.detection_time(), ms(1200));
    // Measured from the last packet received (at 0).
    assert_eq!(detection_armed(&actions), Some(h.instant(1200)));
}

#[test]
fn unchanged_config_starts_no_poll() {
    let mut h = up_fast();
    h.feed(Event::ConfigChanged(fast()));
    assert!(!h.session.polling());
}

#[test]
fn multiplier_change_applies_to_the_next_packet_without_poll() {
    let mut h = up_fast();
    h.feed(Event::ConfigChanged(config_with(timers(50, 50, 5))));
    assert!(!h.session.polling());
    assert_eq!(next_packet(&mut h).detect_multiplier, 5);
}

#[test]
fn config_change_while_down_applies_at_once() {
    let mut h = Harness::new(fast());
    h.feed(Event::ConfigChanged(config_with(timers(2000, 700, 3))));
    assert!(!h.session.polling());
    assert_eq!(h.session.advertised(), (ms(2000), ms(700)));
    assert_eq!(h.session.transmit_interval(), ms(2000));
}

#[test]
fn invalid_config_change_is_rejected_and_changes_nothing() {
    let mut h = up_fast();
    let actions = h.feed(Event::ConfigChanged(config_with(timers(50, 50, 0))));
    assert_eq!(actions, vec![Action::ConfigRejected(ConfigError::ZeroDetectMultiplier)]);
    assert_eq!(h.session.config().timers, fast().timers);
}

#[test]
fn admin_down_from_up_keeps_the_fast_interval_until_the_final() {
    let mut h = up_fast();
    h.feed(Event::AdminDown(Diagnostic::AdministrativelyDown));
    assert!(h.session.polling());
    assert_eq!(h.session.advertised().0, Duration::from_secs(1));
    assert_eq!(h.session.transmit_interval(), ms(50));
    let packet = next_packet(&mut h);
    assert!(packet.poll && packet.state == State::AdminDown);
    // The peer's Final is read even though AdminDown discards the packet.
    let actions = h.receive(final_from_peer(50_000, 50_000));
    assert_eq!(discarded(&actions), Some(Discard::AdminDown));
    assert!(!h.session.polling());
    assert_eq!(h.session.transmit_interval(), Duration::from_secs(1));
}
