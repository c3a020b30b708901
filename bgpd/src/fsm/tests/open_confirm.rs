//! OpenConfirm (RFC 4271 §8.2.2 "OpenConfirm state", RFC 6608 subcode 2).

use super::*;

#[test]
fn open_confirm_keepalive_establishes() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let session = fsm.session().cloned().expect("negotiated");
    let actions = fsm.handle(Event::KeepAliveMsg);
    assert_eq!(
        actions,
        vec![
            Action::StartTimer(Timer::Hold, Duration::from_secs(90)),
            Action::StartTimer(Timer::DampingReset, DEFAULT_DAMPING_RESET_TIME),
            Action::StateChanged { from: State::OpenConfirm, to: State::Established },
            Action::Established(Box::new(session)),
        ]
    );
}

#[test]
fn open_confirm_keepalive_with_hold_time_zero_starts_no_hold_timer() {
    let mut fsm = fsm_in(State::OpenSent);
    fsm.handle(Event::BgpOpen(peer_open_with_hold(0)));
    let actions = fsm.handle(Event::KeepAliveMsg);
    assert_eq!(starts(&actions, Timer::Hold), None);
    assert_eq!(fsm.state(), State::Established);
}

#[test]
fn open_confirm_keepalive_timer_sends_keepalive() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let actions = fsm.handle(Event::KeepaliveTimerExpires);
    assert_eq!(
        actions,
        vec![Action::SendKeepalive, Action::StartTimer(Timer::Keepalive, Duration::from_secs(30))]
    );
    assert_eq!(fsm.state(), State::OpenConfirm);
}

#[test]
fn open_confirm_hold_expiry_sends_hold_timer_expired() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let actions = fsm.handle(Event::HoldTimerExpires);
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_kind(&actions), Some(NotificationKind::HoldTimerExpired));
    assert!(has(&actions, &Action::StopTimer(Timer::Keepalive)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn open_confirm_manual_stop_sends_cease() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let actions = fsm.handle(Event::manual_stop());
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_kind(&actions), Some(NotificationKind::AdministrativeShutdown));
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn open_confirm_automatic_stop_sends_cease_and_counts() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let actions = fsm.handle(Event::AutomaticStop(cease()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), Some(&cease()));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn open_confirm_tcp_failure_goes_idle() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let actions = fsm.handle(Event::TcpConnectionFails);
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(down_reason(&actions), Some((&DownReason::TcpConnectionFailed, false)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn open_confirm_notification_goes_idle() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let actions = fsm.handle(Event::NotifMsg(cease()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), None);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn open_confirm_version_notification_keeps_the_counter() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let version = notification(NotificationKind::UnsupportedVersionNumber);
    let actions = fsm.handle(Event::NotifMsgVerErr(version));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn open_confirm_header_and_open_errors_send_their_notification() {
    for make in [Event::BgpHeaderErr, Event::BgpOpenMsgErr] {
        let mut fsm = fsm_in(State::OpenConfirm);
        let error = notification(NotificationKind::BadMessageType);
        let actions = fsm.handle(make(error.clone()));
        assert_fell_to_idle(&fsm, &actions);
        assert_eq!(sent_notification(&actions), Some(&error));
    }
}

#[test]
fn open_confirm_collision_dump_sends_cease_7() {
    let mut fsm = fsm_in(State::OpenConfirm);
    let actions = fsm.handle(Event::OpenCollisionDump);
    assert_fell_to_idle(&fsm, &actions);
    let sent = sent_notification(&actions).expect("sent");
    assert_eq!((sent.code, sent.subcode), (6, 7));
    assert_eq!(starts(&actions, Timer::IdleHold), None);
}

#[test]
fn open_confirm_unexpected_messages_are_fsm_errors_subcode_2() {
    for event in [
        Event::BgpOpen(peer_open()),
        Event::UpdateMsg,
        Event::UpdateMsgErr(cease()),
        Event::RouteRefreshMsg,
    ] {
        let mut fsm = fsm_in(State::OpenConfirm);
        let actions = fsm.handle(event.clone());
        assert_fell_to_idle(&fsm, &actions);
        let sent = sent_notification(&actions).expect("sent");
        assert_eq!((sent.code, sent.subcode), (5, 2), "{event:?}");
        assert_eq!(fsm.connect_retry_counter(), 1);
    }
}

#[test]
fn open_confirm_stale_timers_are_ignored() {
    for event in [Event::ConnectRetryTimerExpires, Event::DelayOpenTimerExpires] {
        let mut fsm = fsm_in(State::OpenConfirm);
        assert!(fsm.handle(event).is_empty());
    }
}
