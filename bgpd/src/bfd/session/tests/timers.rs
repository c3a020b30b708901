//! Timer negotiation (RFC 5880 §6.8.2), detection time (§6.8.4) and jitter
//! (§6.8.7).

use super::*;
use crate::bfd::XorShift;

/// Up with the given local timers against a peer advertising `peer_tx`,
/// `peer_rx` (µs) and `peer_mult`, with the Poll Sequence of reaching Up done.
fn up_against(local: Timers, peer_tx: u32, peer_rx: u32, peer_mult: u8) -> Harness {
    let mut h = Harness::new(config_with(local));
    h.receive(peer_with(State::Init, peer_tx, peer_rx, peer_mult));
    h.receive(ControlPacket { final_: true, ..peer_with(State::Up, peer_tx, peer_rx, peer_mult) });
    assert_eq!(h.session.state(), State::Up);
    assert!(!h.session.polling());
    h
}

#[test]
fn transmit_interval_is_the_larger_of_our_tx_and_their_rx() {
    // We want to send every 100 ms, they accept one every 500 ms.
    let h = up_against(timers(100, 300, 3), 200_000, 500_000, 5);
    assert_eq!(h.session.transmit_interval(), ms(500));
    // They want to send every 200 ms and may miss 5; we accept one per 300 ms.
    assert_eq!(h.session.detection_time(), ms(5 * 300));
}

#[test]
fn negotiation_the_other_way() {
    // We send slower than they require; they send slower than we accept.
    let h = up_against(timers(400, 50, 2), 700_000, 100_000, 4);
    assert_eq!(h.session.transmit_interval(), ms(400));
    assert_eq!(h.session.detection_time(), ms(4 * 700));
}

#[test]
fn transmit_timer_uses_the_negotiated_interval() {
    let mut h = up_against(timers(100, 300, 3), 200_000, 500_000, 5);
    let next = h.session.deadlines().0.unwrap();
    h.now = next;
    let actions = h.feed(Event::TransmitTimerExpired);
    let packet = only_sent(&actions);
    assert_eq!(
        (packet.state, packet.desired_min_tx, packet.required_min_rx),
        (State::Up, 100_000, 300_000)
    );
    assert_eq!(transmit_armed(&actions), Some(next + ms(500)));
}

#[test]
fn one_second_floor_while_not_up() {
    let mut h = Harness::in_state(fast(), State::Init);
    assert_eq!(h.session.advertised().0, Duration::from_secs(1));
    assert_eq!(h.session.transmit_interval(), Duration::from_secs(1));
    let next = h.session.deadlines().0.unwrap();
    h.now = next;
    assert_eq!(only_sent(&h.feed(Event::TransmitTimerExpired)).desired_min_tx, 1_000_000);
}

#[test]
fn falling_down_returns_to_one_second() {
    let mut h = up_against(timers(50, 50, 3), 50_000, 50_000, 3);
    assert_eq!(h.session.transmit_interval(), ms(50));
    h.receive(peer_with(State::Down, 1_000_000, 50_000, 3));
    assert_eq!(h.session.state(), State::Down);
    assert_eq!(h.session.advertised().0, Duration::from_secs(1));
    assert_eq!(h.session.transmit_interval(), Duration::from_secs(1));
    assert!(!h.session.polling());
}

#[test]
fn each_valid_packet_pushes_detection_out() {
    let mut h = up_against(timers(50, 50, 3), 50_000, 50_000, 3);
    h.at(100);
    let actions = h.receive(peer_with(State::Up, 50_000, 50_000, 3));
    assert_eq!(detection_armed(&actions), Some(h.instant(100 + 150)));
    h.at(200);
    let actions = h.receive(peer_with(State::Up, 50_000, 50_000, 3));
    assert_eq!(detection_armed(&actions), Some(h.instant(200 + 150)));
}

#[test]
fn stale_detection_expiry_is_ignored() {
    let mut h = up_against(timers(50, 50, 3), 50_000, 50_000, 3);
    h.at(100);
    h.receive(peer_with(State::Up, 50_000, 50_000, 3));
    // The timer armed for the previous deadline fires late from the driver.
    h.at(149);
    assert!(h.feed(Event::DetectionTimerExpired).is_empty());
    assert_eq!(h.session.state(), State::Up);
    h.at(250);
    assert_eq!(
        signal(&h.feed(Event::DetectionTimerExpired)),
        Some(Signal::Down(Diagnostic::ControlDetectionTimeExpired))
    );
}

#[test]
fn stale_transmit_expiry_is_ignored() {
    let mut h = Harness::new(fast());
    h.at(999);
    assert!(h.feed(Event::TransmitTimerExpired).is_empty());
    h.at(1000);
    assert_eq!(sent(&h.feed(Event::TransmitTimerExpired)).len(), 1);
}

#[test]
fn detection_uses_remote_multiplier_and_larger_interval() {
    let mut h = Harness::new(config_with(timers(50, 20, 3)));
    let actions = h.receive(peer_with(State::Down, 1_000_000, 50_000, 7));
    // Remote not Up: its Desired Min TX is 1 s, so 7 s.
    assert_eq!(detection_armed(&actions), Some(h.instant(7000)));
}

#[test]
fn jitter_bounds_75_to_100_percent() {
    for (value, expected) in [(0, 750), (125, 875), (u32::MAX, 1000)] {
        let mut h = Harness::new(fast());
        h.jitter = Fixed(value);
        h.at(1000);
        let actions = h.feed(Event::TransmitTimerExpired);
        assert_eq!(transmit_armed(&actions), Some(h.instant(1000 + expected)));
    }
}

#[test]
fn jitter_bounds_75_to_90_percent_with_multiplier_one() {
    for (value, expected) in [(0, 750), (u32::MAX, 900)] {
        let mut h = Harness::new(config_with(timers(50, 50, 1)));
        h.jitter = Fixed(value);
        h.at(1000);
        let actions = h.feed(Event::TransmitTimerExpired);
        assert_eq!(transmit_armed(&actions), Some(h.instant(1000 + expected)));
    }
}

#[test]
fn random_jitter_stays_in_bounds() {
    let origin = Instant::now();
    for (multiplier, high) in [(3, 1000), (1, 900)] {
        let mut session = Session::new(config_with(timers(50, 50, multiplier)), LOCAL).unwrap();
        let mut random = XorShift::new(42);
        let mut deadline = transmit_armed(&session.start(origin, &mut random)).unwrap();
        let (mut lowest, mut highest) = (u128::MAX, 0);
        for _ in 0..2000 {
            let actions = session.handle(Event::TransmitTimerExpired, deadline, &mut random);
            let next = transmit_armed(&actions).unwrap();
            let gap = (next - deadline).as_millis();
            (lowest, highest) = (lowest.min(gap), highest.max(gap));
            deadline = next;
        }
        assert!(
            lowest >= 750 && highest <= high,
            "gaps {lowest}..{highest} ms for mult {multiplier}"
        );
        assert!(lowest < 770 && highest > high - 20, "jitter spreads: {lowest}..{highest}");
    }
}

#[test]
fn a_smaller_remote_rx_pulls_the_next_packet_in() {
    // Down: our 1 s floor rules, so make the remote slower first, then faster.
    let mut h = Harness::new(fast());
    h.receive(peer_with(State::Down, 1_000_000, 3_000_000, 3));
    assert_eq!(h.session.transmit_interval(), ms(3000));
    h.at(1000);
    let actions = h.feed(Event::TransmitTimerExpired);
    assert_eq!(transmit_armed(&actions), Some(h.instant(4000)));
    h.at(1100);
    let actions = h.receive(peer_with(State::Down, 1_000_000, 1_000_000, 3));
    assert_eq!(transmit_armed(&actions), Some(h.instant(2000)), "last sent at 1000 + 1 s");
}

#[test]
fn zero_remote_rx_stops_periodic_transmission_but_polls_are_answered() {
    let mut h = Harness::new(fast());
    let actions =
        h.receive(ControlPacket { poll: true, ..peer_with(State::Down, 1_000_000, 0, 3) });
    assert!(actions.contains(&Action::DisarmTransmitTimer));
    let answer = only_sent(&actions);
    assert!(answer.final_ && !answer.poll);
    assert_eq!(h.session.deadlines().0, None);
}

#[test]
fn remote_demand_mode_stops_periodic_transmission_while_both_up() {
    let mut h = up_against(timers(50, 50, 3), 50_000, 50_000, 3);
    let actions =
        h.receive(ControlPacket { demand: true, ..peer_with(State::Up, 50_000, 50_000, 3) });
    assert!(actions.contains(&Action::DisarmTransmitTimer));
    // Our own detection keeps running: we are not in Demand mode.
    assert!(detection_armed(&actions).is_some());
    // Demand cleared: periodic transmission resumes at once.
    let actions = h.receive(peer_with(State::Up, 50_000, 50_000, 3));
    assert_eq!(sent(&actions).len(), 1);
    assert!(transmit_armed(&actions).is_some());
}

#[test]
fn aligned_transmit_times_sit_on_the_grid_inside_the_jitter_window() {
    // 50 ms × 3 aligns to 5 ms, 300 ms to 20 ms; Detect Mult 1 keeps
    // 75-90 %. Every gap stays in the RFC 5880
    // §6.8.7 window, every time is on the grid, and more than one grid
    // point is drawn (the jitter is still random).
    for (interval, multiplier, grain, high) in [(50, 3, 5, 50), (300, 3, 20, 300), (50, 1, 5, 45)] {
        let micros = u32::try_from(interval * 1000).unwrap();
        let mut h = up_against(timers(interval, interval, multiplier), micros, micros, 3);
        let origin = h.origin - Duration::from_micros(12_345);
        h.session.align_to(origin);
        let mut random = XorShift::new(7);
        // The packet armed before alignment goes off the grid, as one of a
        // session added at any instant does; the next ones are on it.
        let mut sent_at = h.session.deadlines().0.unwrap();
        let actions = h.session.handle(Event::TransmitTimerExpired, sent_at, &mut random);
        let mut deadline = transmit_armed(&actions).unwrap();
        let mut gaps = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let gap = deadline - sent_at;
            assert!(
                gap >= ms(interval) * 3 / 4 && gap <= ms(high),
                "gap {gap:?} outside 75 %..{high} ms of {interval} ms"
            );
            assert_eq!((deadline - origin).as_nanos() % ms(grain).as_nanos(), 0, "{deadline:?}");
            gaps.insert(gap);
            sent_at = deadline;
            let actions = h.session.handle(Event::TransmitTimerExpired, deadline, &mut random);
            deadline = transmit_armed(&actions).unwrap();
        }
        assert!(gaps.len() >= 2, "one gap only: {gaps:?}");
    }
}

#[test]
fn intervals_under_ten_ms_are_not_aligned() {
    let origin = Instant::now();
    let mut session = Session::new(config_with(timers(1000, 5, 3)), LOCAL).unwrap();
    session.align_to(origin);
    let start = origin + Duration::from_micros(333);
    // Down: the 1 s floor; the first packet goes at once, the next on the grid.
    let next = transmit_armed(&session.start(start, &mut Fixed(0))).unwrap();
    assert_eq!(next, origin + ms(760), "the first 20 ms grid point past 750.333 ms");
    assert_eq!(grain_for(ms(9)), None);
    assert_eq!(grain_for(ms(10)), Some(ms(1)));
    assert_eq!(grain_for(ms(50)), Some(ms(5)));
}
