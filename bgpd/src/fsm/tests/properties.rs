//! Invariants that hold whatever the event sequence: no panic, Idle holds no
//! session resources, NOTIFICATIONs leave before the connection closes, the
//! reported state changes chain up, and the timer bookkeeping matches the
//! actions.

use proptest::prelude::*;

use super::*;

fn any_event(index: u8) -> Event {
    let bad_as = OpenMessage { my_as: 65099, ..peer_open() };
    match index % 34 {
        0 => Event::ManualStart,
        1 => Event::manual_stop(),
        2 => Event::AutomaticStart,
        3 => Event::ManualStartWithPassiveTcpEstablishment,
        4 => Event::AutomaticStartWithPassiveTcpEstablishment,
        5 => Event::AutomaticStartWithDampPeerOscillations,
        6 => Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment,
        7 => Event::AutomaticStop(cease()),
        8 => Event::ConnectRetryTimerExpires,
        9 => Event::HoldTimerExpires,
        10 => Event::KeepaliveTimerExpires,
        11 => Event::DelayOpenTimerExpires,
        12 => Event::IdleHoldTimerExpires,
        13 => Event::TcpConnectionValid,
        14 => Event::TcpCrInvalid,
        15 => Event::TcpCrAcked,
        16 => Event::TcpConnectionConfirmed,
        17 => Event::TcpConnectionFails,
        18 => Event::BgpOpen(peer_open()),
        19 => Event::BgpOpenWithDelayOpenTimerRunning(peer_open()),
        20 => Event::BgpHeaderErr(notification(NotificationKind::BadMessageLength)),
        21 => Event::BgpOpenMsgErr(notification(NotificationKind::UnsupportedCapability)),
        22 => Event::OpenCollisionDump,
        23 => Event::NotifMsgVerErr(notification(NotificationKind::UnsupportedVersionNumber)),
        24 => Event::NotifMsg(cease()),
        25 => Event::KeepAliveMsg,
        26 => Event::UpdateMsg,
        27 => Event::UpdateMsgErr(notification(NotificationKind::MalformedAttributeList)),
        28 => Event::RouteRefreshMsg,
        29 => Event::DampingResetTimerExpires,
        30 => Event::BgpOpen(bad_as),
        31 => Event::BgpOpen(peer_open_with_hold(0)),
        32 => Event::KeepAliveMsg,
        _ => Event::TcpCrAcked,
    }
}

fn check_batch(fsm: &Fsm, before: State, actions: &[Action]) {
    // State changes chain from the state before to the state after.
    let mut state = before;
    for action in actions {
        if let Action::StateChanged { from, to } = action {
            assert_eq!(*from, state);
            assert_ne!(from, to);
            state = *to;
        }
        if let Action::Established(_) = action {
            assert_eq!(state, State::Established);
        }
    }
    assert_eq!(state, fsm.state());
    // A NOTIFICATION is never sent after the connection is closed.
    let send = actions.iter().rposition(|a| matches!(a, Action::SendNotification(_)));
    let close = actions.iter().position(|a| *a == Action::Disconnect);
    if let (Some(send), Some(close)) = (send, close) {
        assert!(send < close, "{actions:?}");
    }
    // Each timer's last word in the batch matches the FSM's bookkeeping.
    for timer in Timer::ALL {
        let last = actions.iter().rev().find_map(|a| match a {
            Action::StartTimer(t, _) if *t == timer => Some(true),
            Action::StopTimer(t) if *t == timer => Some(false),
            _ => None,
        });
        if let Some(running) = last {
            assert_eq!(fsm.timer_running(timer), running, "{timer:?} in {actions:?}");
        }
    }
    // Idle holds nothing but, perhaps, the IdleHoldTimer.
    if fsm.state() == State::Idle {
        for timer in [
            Timer::ConnectRetry,
            Timer::Hold,
            Timer::Keepalive,
            Timer::DelayOpen,
            Timer::DampingReset,
        ] {
            assert!(!fsm.timer_running(timer), "{timer:?} running in Idle");
        }
        assert!(fsm.session().is_none());
    }
    if matches!(fsm.state(), State::OpenConfirm | State::Established) {
        assert!(fsm.session().is_some());
    }
}

proptest! {
    #[test]
    fn any_event_sequence_keeps_the_invariants(
        events in proptest::collection::vec(any::<u8>(), 0..64),
        delay_open in any::<bool>(),
        passive in any::<bool>(),
    ) {
        let config = SessionConfig {
            delay_open_time: delay_open.then_some(DELAY),
            passive,
            ..config()
        };
        let mut fsm = Fsm::new(config);
        for index in events {
            let before = fsm.state();
            let actions = fsm.handle(any_event(index));
            check_batch(&fsm, before, &actions);
        }
    }
}
