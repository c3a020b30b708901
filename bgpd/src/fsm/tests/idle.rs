//! Idle (RFC 4271 §8.2.2 "Idle state").

use super::*;

#[test]
fn new_fsm_is_idle_with_nothing_running() {
    let fsm = Fsm::new(config());
    assert_eq!(fsm.state(), State::Idle);
    assert_eq!(fsm.connect_retry_counter(), 0);
    assert!(Timer::ALL.iter().all(|t| !fsm.timer_running(*t)));
    assert!(fsm.session().is_none());
}

#[test]
fn manual_start_connects() {
    let mut fsm = Fsm::new(config());
    let actions = fsm.handle(Event::ManualStart);
    assert_eq!(
        actions,
        vec![
            Action::StartTimer(Timer::ConnectRetry, RETRY),
            Action::Connect,
            Action::StateChanged { from: State::Idle, to: State::Connect },
        ]
    );
}

#[test]
fn automatic_start_connects() {
    let mut fsm = Fsm::new(config());
    let actions = fsm.handle(Event::AutomaticStart);
    assert!(has(&actions, &Action::Connect));
    assert_eq!(fsm.state(), State::Connect);
}

#[test]
fn passive_starts_listen() {
    for event in [
        Event::ManualStartWithPassiveTcpEstablishment,
        Event::AutomaticStartWithPassiveTcpEstablishment,
        Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment,
    ] {
        let mut fsm = Fsm::new(config());
        let actions = fsm.handle(event);
        assert!(!has(&actions, &Action::Connect));
        assert_eq!(starts(&actions, Timer::ConnectRetry), Some(RETRY));
        assert_eq!(fsm.state(), State::Active);
    }
}

#[test]
fn passive_config_listens_even_on_manual_start() {
    let mut fsm = Fsm::new(SessionConfig { passive: true, ..config() });
    let actions = fsm.handle(Event::ManualStart);
    assert!(!has(&actions, &Action::Connect));
    assert_eq!(fsm.state(), State::Active);
}

#[test]
fn damped_start_without_hold_down_starts_at_once() {
    let mut fsm = Fsm::new(config());
    let actions = fsm.handle(Event::AutomaticStartWithDampPeerOscillations);
    assert!(has(&actions, &Action::Connect));
    assert_eq!(fsm.state(), State::Connect);
}

#[test]
fn other_events_leave_idle_alone() {
    let events = vec![
        Event::AutomaticStop(cease()),
        Event::ConnectRetryTimerExpires,
        Event::HoldTimerExpires,
        Event::KeepaliveTimerExpires,
        Event::DelayOpenTimerExpires,
        Event::IdleHoldTimerExpires,
        Event::TcpConnectionValid,
        Event::TcpCrInvalid,
        Event::TcpCrAcked,
        Event::TcpConnectionConfirmed,
        Event::TcpConnectionFails,
        Event::BgpOpen(peer_open()),
        Event::BgpHeaderErr(cease()),
        Event::BgpOpenMsgErr(cease()),
        Event::OpenCollisionDump,
        Event::NotifMsgVerErr(cease()),
        Event::NotifMsg(cease()),
        Event::KeepAliveMsg,
        Event::UpdateMsg,
        Event::UpdateMsgErr(cease()),
        Event::RouteRefreshMsg,
    ];
    for event in events {
        let mut fsm = Fsm::new(config());
        let actions = fsm.handle(event.clone());
        assert!(actions.is_empty(), "{event:?} gave {actions:?}");
        assert_eq!(fsm.state(), State::Idle);
    }
}

#[test]
fn manual_stop_in_idle_cancels_a_pending_restart() {
    let mut fsm = fsm_in(State::Connect);
    let actions = fsm.handle(Event::TcpConnectionFails);
    assert!(starts(&actions, Timer::IdleHold).is_some());
    let actions = fsm.handle(Event::manual_stop());
    assert_eq!(actions, vec![Action::StopTimer(Timer::IdleHold)]);
    // A late expiry does nothing.
    assert!(fsm.handle(Event::IdleHoldTimerExpires).is_empty());
    assert_eq!(fsm.state(), State::Idle);
}

#[test]
fn manual_stop_in_idle_without_restart_does_nothing() {
    let mut fsm = Fsm::new(config());
    assert!(fsm.handle(Event::manual_stop()).is_empty());
}
