//! Automatic restart from Idle and its exponential IdleHold backoff
//! (RFC 4271 §8.1.1 DampPeerOscillations, events 6, 7 and 13).

use super::*;

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// Makes the session in Connect fail once and returns the IdleHold delay used.
fn flap(fsm: &mut Fsm) -> Option<Duration> {
    let actions = fsm.handle(Event::TcpConnectionFails);
    assert_eq!(fsm.state(), State::Idle);
    starts(&actions, Timer::IdleHold)
}

#[test]
fn idle_hold_doubles_up_to_the_cap() {
    let mut fsm = fsm_in(State::Connect);
    let mut delays = Vec::new();
    for _ in 0..9 {
        delays.push(flap(&mut fsm).expect("restart scheduled"));
        fsm.handle(Event::IdleHoldTimerExpires);
        assert_eq!(fsm.state(), State::Connect);
    }
    let expected: Vec<Duration> =
        [1, 2, 4, 8, 16, 32, 64, 120, 120].into_iter().map(secs).collect();
    assert_eq!(delays, expected);
}

#[test]
fn idle_hold_follows_configured_base_and_cap() {
    let config = SessionConfig { idle_hold_base: secs(10), idle_hold_cap: secs(25), ..config() };
    let mut fsm = fsm_in_with(config, State::Connect);
    let mut delays = Vec::new();
    for _ in 0..4 {
        delays.push(flap(&mut fsm).expect("restart scheduled"));
        fsm.handle(Event::IdleHoldTimerExpires);
    }
    assert_eq!(delays, vec![secs(10), secs(20), secs(25), secs(25)]);
}

#[test]
fn idle_hold_expiry_restarts_connecting() {
    let mut fsm = fsm_in(State::Connect);
    flap(&mut fsm);
    let actions = fsm.handle(Event::IdleHoldTimerExpires);
    assert_eq!(
        actions,
        vec![
            Action::StartTimer(Timer::ConnectRetry, RETRY),
            Action::Connect,
            Action::StateChanged { from: State::Idle, to: State::Connect },
        ]
    );
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn idle_hold_expiry_restarts_listening_after_a_passive_start() {
    let mut fsm = fsm_in(State::Active);
    feed(&mut fsm, [Event::TcpConnectionConfirmed, Event::HoldTimerExpires]);
    assert_eq!(fsm.state(), State::Idle);
    let actions = fsm.handle(Event::IdleHoldTimerExpires);
    assert!(!has(&actions, &Action::Connect));
    assert_eq!(fsm.state(), State::Active);
}

#[test]
fn stable_session_resets_the_backoff() {
    let mut fsm = fsm_in(State::Connect);
    for _ in 0..4 {
        flap(&mut fsm);
        fsm.handle(Event::IdleHoldTimerExpires);
    }
    assert_eq!(fsm.next_idle_hold(), secs(16));
    feed(&mut fsm, [Event::TcpCrAcked, Event::BgpOpen(peer_open()), Event::KeepAliveMsg]);
    assert!(fsm.timer_running(Timer::DampingReset));
    assert!(fsm.handle(Event::DampingResetTimerExpires).is_empty());
    assert_eq!(fsm.next_idle_hold(), DEFAULT_IDLE_HOLD_BASE);
    let actions = fsm.handle(Event::HoldTimerExpires);
    assert_eq!(starts(&actions, Timer::IdleHold), Some(DEFAULT_IDLE_HOLD_BASE));
}

#[test]
fn short_lived_session_keeps_growing_the_backoff() {
    let mut fsm = fsm_in(State::Established);
    let actions = fsm.handle(Event::HoldTimerExpires);
    assert_eq!(starts(&actions, Timer::IdleHold), Some(secs(1)));
    feed(
        &mut fsm,
        [
            Event::IdleHoldTimerExpires,
            Event::TcpCrAcked,
            Event::BgpOpen(peer_open()),
            Event::KeepAliveMsg,
        ],
    );
    assert_eq!(fsm.state(), State::Established);
    let actions = fsm.handle(Event::TcpConnectionFails);
    assert_eq!(starts(&actions, Timer::IdleHold), Some(secs(2)));
    // The reset timer was stopped with the session: a late expiry is ignored.
    assert!(fsm.handle(Event::DampingResetTimerExpires).is_empty());
    assert_eq!(fsm.next_idle_hold(), secs(4));
}

#[test]
fn damped_start_waits_for_the_idle_hold_timer() {
    let mut fsm = fsm_in(State::Connect);
    flap(&mut fsm);
    assert!(fsm.handle(Event::AutomaticStartWithDampPeerOscillations).is_empty());
    assert_eq!(fsm.state(), State::Idle);
    fsm.handle(Event::IdleHoldTimerExpires);
    assert_eq!(fsm.state(), State::Connect);
}

#[test]
fn damped_passive_start_waits_then_listens() {
    let mut fsm = fsm_in(State::Connect);
    flap(&mut fsm);
    let event = Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment;
    assert!(fsm.handle(event).is_empty());
    fsm.handle(Event::IdleHoldTimerExpires);
    assert_eq!(fsm.state(), State::Active);
}

#[test]
fn undamped_start_during_hold_down_starts_at_once() {
    for event in [Event::ManualStart, Event::AutomaticStart] {
        let mut fsm = fsm_in(State::Connect);
        flap(&mut fsm);
        let actions = fsm.handle(event);
        assert_eq!(actions[0], Action::StopTimer(Timer::IdleHold));
        assert_eq!(fsm.state(), State::Connect);
        // The cancelled timer's late expiry does nothing.
        assert!(fsm.handle(Event::IdleHoldTimerExpires).is_empty());
    }
}

#[test]
fn collision_dump_never_restarts() {
    let mut fsm = fsm_in(State::OpenConfirm);
    fsm.handle(Event::OpenCollisionDump);
    assert!(!fsm.timer_running(Timer::IdleHold));
    assert!(fsm.handle(Event::IdleHoldTimerExpires).is_empty());
    assert_eq!(fsm.state(), State::Idle);
}

#[test]
fn manual_stop_disables_restart_until_the_next_start() {
    let mut fsm = fsm_in(State::Established);
    let actions = fsm.handle(Event::manual_stop());
    assert_eq!(starts(&actions, Timer::IdleHold), None);
    fsm.handle(Event::ManualStart);
    assert_eq!(fsm.state(), State::Connect);
    assert!(flap(&mut fsm).is_some());
}
