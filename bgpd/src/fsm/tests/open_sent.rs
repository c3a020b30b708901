//! OpenSent (RFC 4271 §8.2.2 "OpenSent state", RFC 6608 subcode 1).

use super::*;

#[test]
fn open_sent_manual_stop_sends_cease_and_resets_the_counter() {
    let mut fsm = fsm_in(State::OpenSent);
    let actions = fsm.handle(Event::manual_stop());
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_kind(&actions), Some(NotificationKind::AdministrativeShutdown));
    assert_eq!(fsm.connect_retry_counter(), 0);
    assert_eq!(starts(&actions, Timer::IdleHold), None);
}

#[test]
fn open_sent_automatic_stop_sends_its_cease_and_counts() {
    let mut fsm = fsm_in(State::OpenSent);
    let max_prefixes = notification(NotificationKind::MaximumPrefixesReached);
    let actions = fsm.handle(Event::AutomaticStop(max_prefixes.clone()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), Some(&max_prefixes));
    assert_eq!(fsm.connect_retry_counter(), 1);
    assert!(starts(&actions, Timer::IdleHold).is_some());
}

#[test]
fn open_sent_hold_expiry_sends_hold_timer_expired() {
    let mut fsm = fsm_in(State::OpenSent);
    let actions = fsm.handle(Event::HoldTimerExpires);
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_kind(&actions), Some(NotificationKind::HoldTimerExpired));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn open_sent_tcp_failure_goes_back_to_active() {
    let mut fsm = fsm_in(State::OpenSent);
    let actions = fsm.handle(Event::TcpConnectionFails);
    assert_eq!(
        actions,
        vec![
            Action::StopTimer(Timer::Hold),
            Action::Disconnect,
            Action::StartTimer(Timer::ConnectRetry, RETRY),
            Action::StateChanged { from: State::OpenSent, to: State::Active },
        ]
    );
}

#[test]
fn open_sent_valid_open_sends_keepalive_and_starts_negotiated_timers() {
    let mut fsm = fsm_in(State::OpenSent);
    let actions = fsm.handle(Event::BgpOpen(peer_open()));
    assert_eq!(
        actions,
        vec![
            Action::SendKeepalive,
            Action::StartTimer(Timer::Keepalive, Duration::from_secs(30)),
            Action::StartTimer(Timer::Hold, Duration::from_secs(90)),
            Action::StateChanged { from: State::OpenSent, to: State::OpenConfirm },
        ]
    );
    let session = fsm.session().expect("negotiated");
    assert_eq!(session.peer_router_id, PEER_ID);
}

#[test]
fn open_sent_takes_the_smaller_hold_time() {
    let mut fsm = fsm_in(State::OpenSent);
    let actions = fsm.handle(Event::BgpOpen(peer_open_with_hold(9)));
    assert_eq!(starts(&actions, Timer::Keepalive), Some(Duration::from_secs(3)));
    assert_eq!(starts(&actions, Timer::Hold), Some(Duration::from_secs(9)));
}

#[test]
fn open_sent_configured_keepalive_is_used() {
    let config = SessionConfig { keepalive_time: Some(5), ..config() };
    let mut fsm = fsm_in_with(config, State::OpenSent);
    let actions = fsm.handle(Event::BgpOpen(peer_open()));
    assert_eq!(starts(&actions, Timer::Keepalive), Some(Duration::from_secs(5)));
}

#[test]
fn open_sent_hold_time_zero_stops_the_hold_timer() {
    let mut fsm = fsm_in(State::OpenSent);
    let actions = fsm.handle(Event::BgpOpen(peer_open_with_hold(0)));
    assert_eq!(
        actions,
        vec![
            Action::SendKeepalive,
            Action::StopTimer(Timer::Hold),
            Action::StateChanged { from: State::OpenSent, to: State::OpenConfirm },
        ]
    );
    assert!(!fsm.timer_running(Timer::Hold));
    assert!(!fsm.timer_running(Timer::Keepalive));
}

#[test]
fn open_sent_every_open_rejection_maps_to_its_notification() {
    let table = [
        (OpenMessage { version: 3, ..peer_open() }, NotificationKind::UnsupportedVersionNumber),
        (OpenMessage { my_as: 65099, ..peer_open() }, NotificationKind::BadPeerAs),
        (OpenMessage { router_id: Ipv4Addr::UNSPECIFIED, ..peer_open() }, {
            NotificationKind::BadBgpIdentifier
        }),
        (peer_open_with_hold(1), NotificationKind::UnacceptableHoldTime),
        (peer_open_with_hold(2), NotificationKind::UnacceptableHoldTime),
    ];
    for (open, kind) in table {
        let mut fsm = fsm_in(State::OpenSent);
        let actions = fsm.handle(Event::BgpOpen(open));
        assert_fell_to_idle(&fsm, &actions);
        assert_eq!(sent_kind(&actions), Some(kind));
        assert_eq!(fsm.connect_retry_counter(), 1);
        let sent = sent_notification(&actions).cloned().expect("sent");
        assert_eq!(down_reason(&actions), Some((&DownReason::NotificationSent(sent), false)));
    }
}

#[test]
fn open_sent_internal_peer_with_our_identifier_is_refused() {
    let config = SessionConfig { remote_asn: 65001, ..config() };
    let mut fsm = fsm_in_with(config, State::OpenSent);
    let open =
        OpenMessage { my_as: 65001, router_id: LOCAL_ID, capabilities: vec![], ..peer_open() };
    let actions = fsm.handle(Event::BgpOpen(open));
    assert_eq!(sent_kind(&actions), Some(NotificationKind::BadBgpIdentifier));
}

#[test]
fn open_sent_no_common_family_is_unsupported_capability() {
    let config = SessionConfig { families: vec![Family::Ipv6Unicast], ..config() };
    let mut fsm = fsm_in_with(config, State::OpenSent);
    let actions = fsm.handle(Event::BgpOpen(peer_open()));
    assert_eq!(sent_kind(&actions), Some(NotificationKind::UnsupportedCapability));
}

#[test]
fn open_sent_header_and_open_errors_send_their_notification() {
    for make in [Event::BgpHeaderErr, Event::BgpOpenMsgErr] {
        let mut fsm = fsm_in(State::OpenSent);
        let error = notification(NotificationKind::ConnectionNotSynchronized);
        let actions = fsm.handle(make(error.clone()));
        assert_fell_to_idle(&fsm, &actions);
        assert_eq!(sent_notification(&actions), Some(&error));
        assert_eq!(fsm.connect_retry_counter(), 1);
    }
}

#[test]
fn open_sent_collision_dump_sends_cease_7_and_never_restarts() {
    let mut fsm = fsm_in(State::OpenSent);
    let actions = fsm.handle(Event::OpenCollisionDump);
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_kind(&actions), Some(NotificationKind::ConnectionCollisionResolution));
    assert_eq!(starts(&actions, Timer::IdleHold), None);
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn open_sent_version_notification_keeps_the_counter() {
    let mut fsm = fsm_in(State::OpenSent);
    let version = notification(NotificationKind::UnsupportedVersionNumber);
    let actions = fsm.handle(Event::NotifMsgVerErr(version));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), None);
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn open_sent_version_notification_is_recognised_in_notif_msg() {
    let mut fsm = fsm_in(State::OpenSent);
    let version = notification(NotificationKind::UnsupportedVersionNumber);
    fsm.handle(Event::NotifMsg(version));
    assert_eq!(fsm.connect_retry_counter(), 0);
}

#[test]
fn open_sent_notification_closes_without_answering() {
    let mut fsm = fsm_in(State::OpenSent);
    let bad_as = notification(NotificationKind::BadPeerAs);
    let actions = fsm.handle(Event::NotifMsg(bad_as.clone()));
    assert_fell_to_idle(&fsm, &actions);
    assert_eq!(sent_notification(&actions), None);
    assert_eq!(down_reason(&actions), Some((&DownReason::NotificationReceived(bad_as), false)));
    assert_eq!(fsm.connect_retry_counter(), 1);
}

#[test]
fn open_sent_unexpected_messages_are_fsm_errors_subcode_1() {
    for event in [
        Event::KeepAliveMsg,
        Event::UpdateMsg,
        Event::UpdateMsgErr(cease()),
        Event::RouteRefreshMsg,
    ] {
        let mut fsm = fsm_in(State::OpenSent);
        let actions = fsm.handle(event.clone());
        assert_fell_to_idle(&fsm, &actions);
        assert_eq!(
            sent_kind(&actions),
            Some(NotificationKind::FsmUnexpectedInOpenSent),
            "{event:?}"
        );
        let sent = sent_notification(&actions).expect("sent");
        assert_eq!((sent.code, sent.subcode), (5, 1));
        assert_eq!(fsm.connect_retry_counter(), 1);
    }
}

#[test]
fn open_sent_stale_timers_are_ignored() {
    for event in [
        Event::ConnectRetryTimerExpires,
        Event::KeepaliveTimerExpires,
        Event::DelayOpenTimerExpires,
        Event::IdleHoldTimerExpires,
    ] {
        let mut fsm = fsm_in(State::OpenSent);
        assert!(fsm.handle(event).is_empty());
        assert_eq!(fsm.state(), State::OpenSent);
    }
}
