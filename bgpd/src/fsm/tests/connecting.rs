//! Connect and Active (RFC 4271 §8.2.2 "Connect state", "Active state").

use super::*;

// --- Connect ---

#[test]
fn connect_ignores_start_events() {
    for event in start_events() {
        let mut fsm = fsm_in(State::Connect);
        assert!(fsm.handle(event).is_empty());
        assert_eq!(fsm.state(), State::Connect);
    }
}

#[test]
fn connect_ignores_inbound_validation_events() {
    for event in [Event::TcpConnectionValid, Event::TcpCrInvalid] {
        let mut fsm = fsm_in(State::Connect);
        assert!(fsm.handle(event).is_empty());
    }
}

#[test]
fn connect_manual_stop_goes_idle_without_restart() {
    let mut fsm = fsm_in(State::Connect);
    let actions = fsm.handle(Event::manual_stop());
    assert_fell_to_idle(&fsm, &actions);
    assert!(has(&actions, &Action::StopTimer(Timer::ConnectRetry)));
    assert_eq!(sent_notification(&actions), None);
    assert_eq!(down_reason(&actions), Some((&DownReason::Stopped, false)));
    assert_eq!(starts(&actions, Timer::IdleHold), None);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn connect_retry_expiry_retries_the_connection() {
    let mut fsm = fsm_in(State::Connect);
    let actions = fsm.handle(Event::ConnectRetryTimerExpires);
    assert_eq!(
        actions,
        vec![Action::StartTimer(Timer::ConnectRetry, RETRY), Action::Disconnect, Action::Connect,]
    );
    assert_eq!(fsm.state(), State::Connect);
}

#[test]
fn connect_tcp_acked_sends_open_with_large_hold_timer() {
    let mut fsm = fsm_in(State::Connect);
    let actions = fsm.handle(Event::TcpCrAcked);
    assert_eq!(
        actions,
        vec![
            Action::StopTimer(Timer::ConnectRetry),
            Action::SendOpen(build_open(&config())),
            Action::StartTimer(Timer::Hold, INITIAL_HOLD_TIME),
            Action::StateChanged { from: State::Connect, to: State::OpenSent },
        ]
    );
    assert_eq!(INITIAL_HOLD_TIME, Duration::from_secs(240));
}

#[test]
fn connect_tcp_confirmed_sends_open() {
    let mut fsm = fsm_in(State::Connect);
    let actions = fsm.handle(Event::TcpConnectionConfirmed);
    assert!(has(&actions, &Action::SendOpen(build_open(&config()))));
    assert_eq!(fsm.state(), State::OpenSent);
}

#[test]
fn connect_with_delay_open_waits_for_the_peer() {
    let mut fsm = fsm_in_with(delay_config(), State::Connect);
    let actions = fsm.handle(Event::TcpCrAcked);
    assert_eq!(
        actions,
        vec![Action::StopTimer(Timer::ConnectRetry), Action::StartTimer(Timer::DelayOpen, DELAY)]
    );
    assert_eq!(fsm.state(), State::Connect);
}

#[test]
fn connect_delay_open_expiry_sends_open() {
    let mut fsm = fsm_in_with(delay_config(), State::Connect);
    let actions = feed(&mut fsm, [Event::TcpCrAcked, Event::DelayOpenTimerExpires]);
    assert!(has(&actions, &Action::SendOpen(build_open(&delay_config()))));
    assert_eq!(starts(&actions, Timer::Hold), Some(INITIAL_HOLD_TIME));
    assert_eq!(fsm.state(), State::OpenSent);
}

#[test]
fn connect_open_during_delay_answers_open_and_keepalive() {
    let mut fsm = fsm_in_with(delay_config(), State::Connect);
    let actions = feed(&mut fsm, [Event::TcpCrAcked, Event::BgpOpen(peer_open())]);
    assert_eq!(
        actions,
        vec![
            Action::StopTimer(Timer::DelayOpen),
            Action::SendOpen(build_open(&delay_config())),
            Action::SendKeepalive,
            Action::StartTimer(Timer::Keepalive, Duration::from_secs(30)),
            Action::StartTimer(Timer::Hold, Duration::from_secs(90)),
            Action::StateChanged { from: State::Connect, to: State::OpenConfirm },
        ]
    );
    assert_eq!(fsm.session().map(|s| s.peer_asn), Some(65002));
}

#[test]
fn connect_open_event_20_is_the_same_as_19() {
    let mut fsm = fsm_in_with(delay_config(), State::Connect);
    feed(&mut fsm, [Event::TcpCrAcked, Event::BgpOpenWithDelayOpenTimerRunning(peer_open())]);
    assert_eq!(fsm.state(), State::OpenConfirm);
}

#[test]
fn connect_bad_open_during_delay_is_refused() {
    let mut fsm = fsm_in_with(delay_config(), State::Connect);
    let bad = OpenMessage { my_as: 65099, ..peer_open() };
    let actions = feed(&mut fsm, [Event::TcpCrAcked, Event::BgpOpen(bad)]);
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_kind(&actions), Some(NotificationKind::BadPeerAs));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn connect_open_without_delay_open_is_unexpected() {
    let mut fsm = fsm_in(State::Connect);
    let actions = fsm.handle(Event::BgpOpen(peer_open()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), None);
    let reason = DownReason::UnexpectedEvent { event: Some(19), state: State::Connect };
    assert_eq!(down_reason(&actions), Some((&reason, false)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn connect_tcp_failure_goes_idle_keeping_the_counter() {
    let mut fsm = fsm_in(State::Connect);
    let actions = fsm.handle(Event::TcpConnectionFails);
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(down_reason(&actions), Some((&DownReason::TcpConnectionFailed, false)));
    assert_eq!(fsm.connect_retry_counter(), 0);
    assert_eq!(starts(&actions, Timer::IdleHold), Some(DEFAULT_IDLE_HOLD_BASE));
}

#[test]
fn connect_tcp_failure_during_delay_open_goes_active() {
    let mut fsm = fsm_in_with(delay_config(), State::Connect);
    let actions = feed(&mut fsm, [Event::TcpCrAcked, Event::TcpConnectionFails]);
    assert_eq!(
        actions,
        vec![
            Action::StopTimer(Timer::DelayOpen),
            Action::StartTimer(Timer::ConnectRetry, RETRY),
            Action::Disconnect,
            Action::StateChanged { from: State::Connect, to: State::Active },
        ]
    );
}

#[test]
fn connect_header_and_open_errors_send_their_notification() {
    for make in [Event::BgpHeaderErr, Event::BgpOpenMsgErr] {
        let mut fsm = fsm_in_with(delay_config(), State::Connect);
        fsm.handle(Event::TcpCrAcked);
        let error = notification(NotificationKind::BadMessageLength);
        let actions = fsm.handle(make(error.clone()));
        assert_fell_to_idle(&fsm, &actions);
        assert_eq!(sent_notification(&actions), Some(&error));
        assert_eq!(fsm.connect_retry_counter(), 1);
    }
}

#[test]
fn connect_version_notification_during_delay_keeps_the_counter() {
    let mut fsm = fsm_in_with(delay_config(), State::Connect);
    fsm.handle(Event::TcpCrAcked);
    let version = notification(NotificationKind::UnsupportedVersionNumber);
    let actions = fsm.handle(Event::NotifMsgVerErr(version));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn connect_version_notification_without_delay_counts() {
    let mut fsm = fsm_in(State::Connect);
    let version = notification(NotificationKind::UnsupportedVersionNumber);
    let actions = fsm.handle(Event::NotifMsgVerErr(version.clone()));
    assert_eq!(down_reason(&actions), Some((&DownReason::NotificationReceived(version), false)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn connect_other_events_go_idle_and_count() {
    let events = [
        Event::KeepAliveMsg,
        Event::UpdateMsg,
        Event::UpdateMsgErr(cease()),
        Event::OpenCollisionDump,
        Event::NotifMsg(cease()),
        Event::RouteRefreshMsg,
    ];
    for event in events {
        let mut fsm = fsm_in(State::Connect);
        let actions = fsm.handle(event.clone());
        assert_fell_to_idle(&fsm, &actions);
        assert_eq!(fsm.connect_retry_counter(), 1, "{event:?}");
    }
}

#[test]
fn connect_automatic_stop_goes_idle_and_restarts_later() {
    let mut fsm = fsm_in(State::Connect);
    let actions = fsm.handle(Event::AutomaticStop(cease()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(fsm.connect_retry_counter(), 1);
    assert!(starts(&actions, Timer::IdleHold).is_some());
}

#[test]
fn connect_stale_timer_expiry_is_ignored() {
    for event in
        [Event::HoldTimerExpires, Event::KeepaliveTimerExpires, Event::DelayOpenTimerExpires]
    {
        let mut fsm = fsm_in(State::Connect);
        assert!(fsm.handle(event).is_empty());
        assert_eq!(fsm.state(), State::Connect);
    }
}

// --- Active ---

#[test]
fn active_ignores_start_events() {
    for event in start_events() {
        let mut fsm = fsm_in(State::Active);
        assert!(fsm.handle(event).is_empty());
        assert_eq!(fsm.state(), State::Active);
    }
}

#[test]
fn active_manual_stop_goes_idle() {
    let mut fsm = fsm_in(State::Active);
    let actions = fsm.handle(Event::manual_stop());
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), None);
    assert_eq!(starts(&actions, Timer::IdleHold), None);
}

#[test]
fn active_manual_stop_with_connection_up_sends_cease() {
    let mut fsm = fsm_in_with(delay_config(), State::Active);
    fsm.handle(Event::TcpConnectionConfirmed);
    let actions = fsm.handle(Event::manual_stop_with_message("bye"));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions).and_then(|n| n.shutdown_message()), Some("bye"));
}

#[test]
fn active_connect_retry_expiry_connects() {
    let mut fsm = fsm_in(State::Active);
    let actions = fsm.handle(Event::ConnectRetryTimerExpires);
    assert_eq!(
        actions,
        vec![
            Action::StartTimer(Timer::ConnectRetry, RETRY),
            Action::Connect,
            Action::StateChanged { from: State::Active, to: State::Connect },
        ]
    );
}

#[test]
fn active_passive_peer_never_connects() {
    let mut fsm = fsm_in_with(SessionConfig { passive: true, ..config() }, State::Active);
    let actions = fsm.handle(Event::ConnectRetryTimerExpires);
    assert_eq!(actions, vec![Action::StartTimer(Timer::ConnectRetry, RETRY)]);
    assert_eq!(fsm.state(), State::Active);
}

#[test]
fn active_tcp_confirmed_sends_open() {
    let mut fsm = fsm_in(State::Active);
    let actions = fsm.handle(Event::TcpConnectionConfirmed);
    assert!(has(&actions, &Action::SendOpen(build_open(&config()))));
    assert_eq!(starts(&actions, Timer::Hold), Some(INITIAL_HOLD_TIME));
    assert_eq!(fsm.state(), State::OpenSent);
}

#[test]
fn active_tcp_acked_sends_open() {
    let mut fsm = fsm_in(State::Active);
    fsm.handle(Event::TcpCrAcked);
    assert_eq!(fsm.state(), State::OpenSent);
}

#[test]
fn active_delay_open_then_expiry() {
    let mut fsm = fsm_in_with(delay_config(), State::Active);
    let actions = fsm.handle(Event::TcpConnectionConfirmed);
    assert_eq!(starts(&actions, Timer::DelayOpen), Some(DELAY));
    assert_eq!(fsm.state(), State::Active);
    let actions = fsm.handle(Event::DelayOpenTimerExpires);
    assert!(has(&actions, &Action::SendOpen(build_open(&delay_config()))));
    assert_eq!(fsm.state(), State::OpenSent);
}

#[test]
fn active_open_during_delay_goes_open_confirm() {
    let mut fsm = fsm_in_with(delay_config(), State::Active);
    let actions = feed(&mut fsm, [Event::TcpConnectionConfirmed, Event::BgpOpen(peer_open())]);
    assert!(has(&actions, &Action::SendKeepalive));
    assert_eq!(fsm.state(), State::OpenConfirm);
}

#[test]
fn active_tcp_failure_goes_idle_and_counts() {
    let mut fsm = fsm_in_with(delay_config(), State::Active);
    fsm.handle(Event::TcpConnectionConfirmed);
    let actions = fsm.handle(Event::TcpConnectionFails);
    assert_fell_to_idle(&fsm, &actions);
    assert!(has(&actions, &Action::StopTimer(Timer::DelayOpen)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn active_open_message_error_sends_it() {
    let mut fsm = fsm_in_with(delay_config(), State::Active);
    fsm.handle(Event::TcpConnectionConfirmed);
    let error = notification(NotificationKind::UnsupportedOptionalParameter);
    let actions = fsm.handle(Event::BgpOpenMsgErr(error.clone()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), Some(&error));
}

#[test]
fn active_notification_goes_idle() {
    let mut fsm = fsm_in(State::Active);
    let actions = fsm.handle(Event::NotifMsg(cease()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(down_reason(&actions), Some((&DownReason::NotificationReceived(cease()), false)));
}

#[test]
fn active_unexpected_message_goes_idle_and_counts() {
    let mut fsm = fsm_in(State::Active);
    let actions = fsm.handle(Event::UpdateMsg);
    assert_fell_to_idle(&fsm, &actions);
    let reason = DownReason::UnexpectedEvent { event: Some(27), state: State::Active };
    assert_eq!(down_reason(&actions), Some((&reason, false)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}
