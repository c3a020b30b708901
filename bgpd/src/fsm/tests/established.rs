//! Established (RFC 4271 §8.2.2 "Established state", RFC 6608 subcode 3).

use super::*;

const HOLD: Duration = Duration::from_secs(90);

#[test]
fn established_messages_restart_the_hold_timer() {
    for event in [Event::KeepAliveMsg, Event::UpdateMsg, Event::RouteRefreshMsg] {
        let mut fsm = fsm_in(State::Established);
        assert_eq!(fsm.handle(event), vec![Action::StartTimer(Timer::Hold, HOLD)]);
    }
}

#[test]
fn established_with_hold_time_zero_runs_no_timers() {
    let mut fsm = fsm_in(State::OpenSent);
    feed(&mut fsm, [Event::BgpOpen(peer_open_with_hold(0)), Event::KeepAliveMsg]);
    assert_eq!(fsm.state(), State::Established);
    assert!(fsm.handle(Event::UpdateMsg).is_empty());
    assert!(fsm.handle(Event::KeepAliveMsg).is_empty());
    // No keepalive or hold timer runs, so their expiries are stale.
    assert!(fsm.handle(Event::KeepaliveTimerExpires).is_empty());
    assert!(fsm.handle(Event::HoldTimerExpires).is_empty());
    assert_eq!(fsm.state(), State::Established);
}

#[test]
fn established_keepalive_timer_sends_keepalive() {
    let mut fsm = fsm_in(State::Established);
    let actions = fsm.handle(Event::KeepaliveTimerExpires);
    assert_eq!(
        actions,
        vec![Action::SendKeepalive, Action::StartTimer(Timer::Keepalive, Duration::from_secs(30))]
    );
}

#[test]
fn established_hold_expiry_sends_hold_timer_expired() {
    let mut fsm = fsm_in(State::Established);
    let actions = fsm.handle(Event::HoldTimerExpires);
    assert_fell_to_idle(&fsm, &actions);
    let sent = notification(NotificationKind::HoldTimerExpired);
    assert_eq!(sent_notification(&actions), Some(&sent));
    assert_eq!(down_reason(&actions), Some((&DownReason::NotificationSent(sent), true)));
    assert!(has(&actions, &Action::StopTimer(Timer::DampingReset)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn established_manual_stop_sends_cease_without_restart() {
    let mut fsm = fsm_in(State::Established);
    let actions = fsm.handle(Event::manual_stop_with_message("maintenance"));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions).and_then(|n| n.shutdown_message()), Some("maintenance"));
    assert_eq!(starts(&actions, Timer::IdleHold), None);
    assert_eq!(fsm.connect_retry_counter(), 0);
    assert!(matches!(down_reason(&actions), Some((_, true))));
}

#[test]
fn established_automatic_stop_sends_its_cease() {
    let mut fsm = fsm_in(State::Established);
    let reset = notification(NotificationKind::OtherConfigurationChange);
    let actions = fsm.handle(Event::AutomaticStop(reset.clone()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), Some(&reset));
    assert!(starts(&actions, Timer::IdleHold).is_some());
}

#[test]
fn established_tcp_failure_goes_idle() {
    let mut fsm = fsm_in(State::Established);
    let actions = fsm.handle(Event::TcpConnectionFails);
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(down_reason(&actions), Some((&DownReason::TcpConnectionFailed, true)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn established_notification_goes_idle() {
    for event in [
        Event::NotifMsg(cease()),
        Event::NotifMsgVerErr(notification(NotificationKind::UnsupportedVersionNumber)),
    ] {
        let mut fsm = fsm_in(State::Established);
        let actions = fsm.handle(event);
        assert_fell_to_idle(&fsm, &actions);
        assert_eq!(sent_notification(&actions), None);
        assert_eq!(fsm.connect_retry_counter(), 1);
    }
}

#[test]
fn established_update_error_sends_its_notification() {
    let mut fsm = fsm_in(State::Established);
    let error = notification(NotificationKind::MalformedAttributeList);
    let actions = fsm.handle(Event::UpdateMsgErr(error.clone()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), Some(&error));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn established_header_error_sends_its_notification() {
    let mut fsm = fsm_in(State::Established);
    let error = notification(NotificationKind::BadMessageLength);
    let actions = fsm.handle(Event::BgpHeaderErr(error.clone()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), Some(&error));
}

#[test]
fn established_open_is_an_fsm_error_subcode_3() {
    let mut fsm = fsm_in(State::Established);
    let actions = fsm.handle(Event::BgpOpen(peer_open()));
    assert_fell_to_idle(&fsm, &actions);
    let sent = sent_notification(&actions).expect("sent");
    assert_eq!((sent.code, sent.subcode), (5, 3));
    assert_eq!(sent.kind(), Some(NotificationKind::FsmUnexpectedInEstablished));
}

#[test]
fn established_collision_dump_sends_cease_7() {
    let mut fsm = fsm_in(State::Established);
    let actions = fsm.handle(Event::OpenCollisionDump);
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_kind(&actions), Some(NotificationKind::ConnectionCollisionResolution));
    assert_eq!(starts(&actions, Timer::IdleHold), None);
}

#[test]
fn established_stale_timers_are_ignored() {
    for event in
        [Event::ConnectRetryTimerExpires, Event::DelayOpenTimerExpires, Event::IdleHoldTimerExpires]
    {
        let mut fsm = fsm_in(State::Established);
        assert!(fsm.handle(event).is_empty());
        assert_eq!(fsm.state(), State::Established);
    }
}
