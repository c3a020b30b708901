//! FSM tests, one small test per event and state (RFC 4271 §8.2.2), plus full
//! sessions and the damping behaviour. Helpers here drive an FSM to a state.

mod connecting;
mod damping;
mod established;
mod idle;
mod open_confirm;
mod open_sent;
mod paths;
mod properties;

use std::net::Ipv4Addr;
use std::time::Duration;

use super::*;
use crate::wire::{Capability, Family, Notification, NotificationKind, OpenMessage};

pub(super) const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub(super) const PEER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub(super) const RETRY: Duration = DEFAULT_CONNECT_RETRY_TIME;
pub(super) const DELAY: Duration = Duration::from_secs(5);

pub(super) fn config() -> SessionConfig {
    SessionConfig::new(65001, 65002, LOCAL_ID)
}

pub(super) fn delay_config() -> SessionConfig {
    SessionConfig { delay_open_time: Some(DELAY), ..config() }
}

pub(super) fn peer_open() -> OpenMessage {
    OpenMessage {
        version: 4,
        my_as: 65002,
        hold_time: 90,
        router_id: PEER_ID,
        capabilities: vec![
            Capability::Multiprotocol(Family::Ipv4Unicast.afi_safi()),
            Capability::FourOctetAs(65002),
        ],
    }
}

pub(super) fn peer_open_with_hold(hold_time: u16) -> OpenMessage {
    OpenMessage { hold_time, ..peer_open() }
}

pub(super) fn notification(kind: NotificationKind) -> Notification {
    Notification::new(kind, Vec::new())
}

pub(super) fn cease() -> Notification {
    notification(NotificationKind::AdministrativeShutdown)
}

/// Feeds events in order and returns the actions of the last one.
pub(super) fn feed(fsm: &mut Fsm, events: impl IntoIterator<Item = Event>) -> Vec<Action> {
    let mut last = Vec::new();
    for event in events {
        last = fsm.handle(event);
    }
    last
}

/// An FSM driven to `state` with `config`, over an outbound connection.
pub(super) fn fsm_in_with(config: SessionConfig, state: State) -> Fsm {
    let mut fsm = Fsm::new(config);
    let path: Vec<Event> = match state {
        State::Idle => vec![],
        State::Connect => vec![Event::ManualStart],
        State::Active => vec![Event::ManualStartWithPassiveTcpEstablishment],
        State::OpenSent => vec![Event::ManualStart, Event::TcpCrAcked],
        State::OpenConfirm => {
            vec![Event::ManualStart, Event::TcpCrAcked, Event::BgpOpen(peer_open())]
        }
        State::Established => vec![
            Event::ManualStart,
            Event::TcpCrAcked,
            Event::BgpOpen(peer_open()),
            Event::KeepAliveMsg,
        ],
    };
    feed(&mut fsm, path);
    assert_eq!(fsm.state(), state);
    fsm
}

pub(super) fn fsm_in(state: State) -> Fsm {
    fsm_in_with(config(), state)
}

/// The NOTIFICATION the actions send, if any.
pub(super) fn sent_notification(actions: &[Action]) -> Option<&Notification> {
    actions.iter().find_map(|action| match action {
        Action::SendNotification(notification) => Some(notification),
        _ => None,
    })
}

pub(super) fn sent_kind(actions: &[Action]) -> Option<NotificationKind> {
    sent_notification(actions).and_then(Notification::kind)
}

pub(super) fn down_reason(actions: &[Action]) -> Option<(&DownReason, bool)> {
    actions.iter().find_map(|action| match action {
        Action::SessionDown { reason, established } => Some((reason, *established)),
        _ => None,
    })
}

pub(super) fn has(actions: &[Action], wanted: &Action) -> bool {
    actions.contains(wanted)
}

pub(super) fn starts(actions: &[Action], timer: Timer) -> Option<Duration> {
    actions.iter().find_map(|action| match action {
        Action::StartTimer(t, duration) if *t == timer => Some(*duration),
        _ => None,
    })
}

/// Checks the common shape of a fall to Idle: Disconnect, SessionDown, state
/// Idle, no session timers left running, NOTIFICATION before Disconnect.
pub(super) fn assert_fell_to_idle(fsm: &Fsm, actions: &[Action]) {
    assert_eq!(fsm.state(), State::Idle, "{actions:?}");
    let disconnect = actions.iter().position(|a| *a == Action::Disconnect);
    assert!(disconnect.is_some(), "no Disconnect in {actions:?}");
    if let Some(send) = actions.iter().position(|a| matches!(a, Action::SendNotification(_))) {
        assert!(Some(send) < disconnect, "NOTIFICATION after Disconnect: {actions:?}");
    }
    assert!(down_reason(actions).is_some(), "no SessionDown in {actions:?}");
    for timer in [Timer::ConnectRetry, Timer::Hold, Timer::Keepalive, Timer::DelayOpen] {
        assert!(!fsm.timer_running(timer), "{timer:?} still running");
    }
    assert!(fsm.session().is_none());
}

/// Every event, for "ignored in this state" sweeps.
pub(super) fn start_events() -> Vec<Event> {
    vec![
        Event::ManualStart,
        Event::AutomaticStart,
        Event::ManualStartWithPassiveTcpEstablishment,
        Event::AutomaticStartWithPassiveTcpEstablishment,
        Event::AutomaticStartWithDampPeerOscillations,
        Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment,
    ]
}

/// Once OPENs are exchanged, start events and a second connection's TCP events are
/// not this FSM's business (a second connection gets its own, see `collision`).
#[test]
fn after_the_open_start_and_second_connection_events_are_ignored() {
    let mut events = start_events();
    events.extend([
        Event::TcpConnectionValid,
        Event::TcpCrInvalid,
        Event::TcpCrAcked,
        Event::TcpConnectionConfirmed,
    ]);
    for state in [State::OpenSent, State::OpenConfirm, State::Established] {
        for event in &events {
            let mut fsm = fsm_in(state);
            assert!(fsm.handle(event.clone()).is_empty(), "{state:?} {event:?}");
            assert_eq!(fsm.state(), state);
        }
    }
}

#[test]
fn event_numbers_follow_rfc_4271() {
    let events = [
        Event::ManualStart,
        Event::manual_stop(),
        Event::AutomaticStart,
        Event::ManualStartWithPassiveTcpEstablishment,
        Event::AutomaticStartWithPassiveTcpEstablishment,
        Event::AutomaticStartWithDampPeerOscillations,
        Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment,
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
        Event::BgpOpenWithDelayOpenTimerRunning(peer_open()),
        Event::BgpHeaderErr(cease()),
        Event::BgpOpenMsgErr(cease()),
        Event::OpenCollisionDump,
        Event::NotifMsgVerErr(cease()),
        Event::NotifMsg(cease()),
        Event::KeepAliveMsg,
        Event::UpdateMsg,
        Event::UpdateMsgErr(cease()),
    ];
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.number(), Some(index as u8 + 1), "{event:?}");
    }
    assert_eq!(Event::RouteRefreshMsg.number(), None);
}

#[test]
fn timer_expiry_events_round_trip() {
    for timer in Timer::ALL {
        assert_eq!(Event::timer_expired(timer).expired_timer(), Some(timer));
    }
}

#[test]
fn manual_stop_with_message_carries_rfc_9003_text() {
    let Event::ManualStop(notification) = Event::manual_stop_with_message("maintenance") else {
        panic!("not a ManualStop");
    };
    assert_eq!(notification.shutdown_message(), Some("maintenance"));
}

#[test]
fn handle_into_appends_to_the_callers_buffer() {
    let mut fsm = fsm_in(State::Established);
    let mut buffer = Vec::with_capacity(8);
    fsm.handle_into(Event::UpdateMsg, &mut buffer);
    fsm.handle_into(Event::UpdateMsg, &mut buffer);
    assert_eq!(buffer.len(), 2);
    assert!(buffer.iter().all(|a| *a == Action::StartTimer(Timer::Hold, Duration::from_secs(90))));
}
