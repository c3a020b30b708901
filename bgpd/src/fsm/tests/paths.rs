//! Whole sessions: happy paths, two FSMs talking to each other, and
//! connection collisions resolved with [`collision::connection_to_dump`].

use super::*;
use crate::fsm::collision::{Direction, connection_to_dump};

#[test]
fn active_open_happy_path() {
    let mut fsm = Fsm::new(config());
    let local_open = build_open(&config());
    let mut all = Vec::new();
    for event in
        [Event::ManualStart, Event::TcpCrAcked, Event::BgpOpen(peer_open()), Event::KeepAliveMsg]
    {
        all.extend(fsm.handle(event));
    }
    let session = fsm.session().cloned().expect("negotiated");
    assert_eq!(
        all,
        vec![
            Action::StartTimer(Timer::ConnectRetry, RETRY),
            Action::Connect,
            Action::StateChanged { from: State::Idle, to: State::Connect },
            Action::StopTimer(Timer::ConnectRetry),
            Action::SendOpen(local_open),
            Action::StartTimer(Timer::Hold, INITIAL_HOLD_TIME),
            Action::StateChanged { from: State::Connect, to: State::OpenSent },
            Action::SendKeepalive,
            Action::StartTimer(Timer::Keepalive, Duration::from_secs(30)),
            Action::StartTimer(Timer::Hold, Duration::from_secs(90)),
            Action::StateChanged { from: State::OpenSent, to: State::OpenConfirm },
            Action::StartTimer(Timer::Hold, Duration::from_secs(90)),
            Action::StartTimer(Timer::DampingReset, DEFAULT_DAMPING_RESET_TIME),
            Action::StateChanged { from: State::OpenConfirm, to: State::Established },
            Action::Established(Box::new(session.clone())),
        ]
    );
    assert_eq!(session.peer_asn, 65002);
    assert_eq!(session.families, vec![Family::Ipv4Unicast]);
}

#[test]
fn passive_happy_path() {
    let mut fsm = Fsm::new(SessionConfig { passive: true, ..config() });
    feed(
        &mut fsm,
        [
            Event::ManualStart,
            Event::TcpConnectionValid,
            Event::TcpConnectionConfirmed,
            Event::BgpOpen(peer_open()),
        ],
    );
    assert_eq!(fsm.state(), State::OpenConfirm);
    let actions = fsm.handle(Event::KeepAliveMsg);
    assert!(matches!(actions.last(), Some(Action::Established(_))));
    assert_eq!(fsm.state(), State::Established);
}

#[test]
fn delay_open_happy_path() {
    let mut fsm = Fsm::new(delay_config());
    feed(
        &mut fsm,
        [
            Event::ManualStartWithPassiveTcpEstablishment,
            Event::TcpConnectionConfirmed,
            Event::BgpOpen(peer_open()),
            Event::KeepAliveMsg,
        ],
    );
    assert_eq!(fsm.state(), State::Established);
}

/// Delivers what `from` sends to `to` over their one connection; returns
/// `to`'s actions.
fn deliver(actions: &[Action], to: &mut Fsm) -> Vec<Action> {
    let mut out = Vec::new();
    for action in actions {
        let event = match action {
            Action::SendOpen(open) => Event::BgpOpen(open.clone()),
            Action::SendKeepalive => Event::KeepAliveMsg,
            Action::SendNotification(notification) => Event::NotifMsg(notification.clone()),
            _ => continue,
        };
        out.extend(to.handle(event));
    }
    out
}

fn peer_config() -> SessionConfig {
    SessionConfig::new(65002, 65001, PEER_ID)
}

#[test]
fn two_fsms_reach_established_together() {
    let mut local = Fsm::new(config());
    let mut peer = Fsm::new(SessionConfig { passive: true, ..peer_config() });
    local.handle(Event::ManualStart);
    peer.handle(Event::ManualStart);
    // The connection comes up on both ends.
    let mut to_peer = local.handle(Event::TcpCrAcked);
    let mut to_local = peer.handle(Event::TcpConnectionConfirmed);
    for _ in 0..3 {
        let next_to_local = deliver(&to_peer, &mut peer);
        let next_to_peer = deliver(&to_local, &mut local);
        to_peer = next_to_peer;
        to_local = next_to_local;
    }
    assert_eq!(local.state(), State::Established);
    assert_eq!(peer.state(), State::Established);
    let (ours, theirs) = (local.session().expect("up"), peer.session().expect("up"));
    assert_eq!(ours.peer_asn, 65002);
    assert_eq!(theirs.peer_asn, 65001);
    assert_eq!(ours.local_open, theirs.remote_open);
    assert_eq!(ours.families, vec![Family::Ipv4Unicast, Family::Ipv6Unicast]);
    assert!(ours.four_octet_as && ours.route_refresh && ours.extended_message);
}

#[test]
fn peer_rejecting_us_sends_a_notification_we_record() {
    let mut local = fsm_in(State::OpenSent);
    let mut peer = Fsm::new(SessionConfig { remote_asn: 65099, ..peer_config() });
    feed(&mut peer, [Event::ManualStartWithPassiveTcpEstablishment, Event::TcpConnectionConfirmed]);
    let refusal = peer.handle(Event::BgpOpen(build_open(&config())));
    assert_eq!(sent_kind(&refusal), Some(NotificationKind::BadPeerAs));
    let actions = deliver(&refusal, &mut local);
    let received = notification(NotificationKind::BadPeerAs);
    assert_eq!(down_reason(&actions), Some((&DownReason::NotificationReceived(received), false)));
}

/// Both speakers connect at once: each has an outbound and an inbound FSM.
/// `local.outbound` and `peer.inbound` share one TCP connection, and
/// `local.inbound` and `peer.outbound` the other. Returns which connection
/// each side closes, named from the local side.
fn collide(local_id: Ipv4Addr, peer_id: Ipv4Addr) -> (Direction, Direction) {
    let local_config = SessionConfig { router_id: local_id, ..config() };
    let peer_config = SessionConfig { router_id: peer_id, ..peer_config() };
    let open_sent = |config: &SessionConfig, outbound: bool| {
        let mut fsm = Fsm::new(config.clone());
        if outbound {
            feed(&mut fsm, [Event::ManualStart, Event::TcpCrAcked]);
        } else {
            let start = Event::ManualStartWithPassiveTcpEstablishment;
            feed(&mut fsm, [start, Event::TcpConnectionConfirmed]);
        }
        assert_eq!(fsm.state(), State::OpenSent);
        fsm
    };
    let mut local_out = open_sent(&local_config, true);
    let mut local_in = open_sent(&local_config, false);
    let mut peer_out = open_sent(&peer_config, true);
    let mut peer_in = open_sent(&peer_config, false);

    // The OPENs on the first connection arrive first at both ends.
    local_out.handle(Event::BgpOpen(peer_in.local_open().clone()));
    peer_in.handle(Event::BgpOpen(local_out.local_open().clone()));
    let local_first = connection_to_dump(
        local_id,
        65001,
        peer_in.local_open(),
        Direction::Outbound,
        local_in.state(),
    );
    let peer_first = connection_to_dump(
        peer_id,
        65002,
        local_out.local_open(),
        Direction::Inbound,
        peer_out.state(),
    );
    // Both ends decide at once, from the same numbers.
    let local_dump = local_first.expect("collision seen locally");
    let peer_dump = peer_first.expect("collision seen by the peer");
    assert_eq!(local_dump, peer_dump.other(), "both ends close the same connection");

    // The local side dumps its loser; the survivor reaches Established.
    let (loser, survivor, survivor_peer) = match local_dump {
        Direction::Outbound => (&mut local_out, &mut local_in, &mut peer_out),
        Direction::Inbound => (&mut local_in, &mut local_out, &mut peer_in),
    };
    let actions = loser.handle(Event::OpenCollisionDump);
    assert_eq!(sent_kind(&actions), Some(NotificationKind::ConnectionCollisionResolution));
    assert_eq!(loser.state(), State::Idle);
    if survivor.state() == State::OpenSent {
        survivor.handle(Event::BgpOpen(survivor_peer.local_open().clone()));
    }
    survivor.handle(Event::KeepAliveMsg);
    assert_eq!(survivor.state(), State::Established);
    (local_dump, peer_dump)
}

#[test]
fn collision_with_higher_local_identifier_keeps_our_connection() {
    let high = Ipv4Addr::new(192, 0, 2, 200);
    let (local_dump, peer_dump) = collide(high, PEER_ID);
    assert_eq!(local_dump, Direction::Inbound);
    assert_eq!(peer_dump, Direction::Outbound);
}

#[test]
fn collision_with_higher_peer_identifier_keeps_its_connection() {
    let low = Ipv4Addr::new(192, 0, 2, 1);
    let high = Ipv4Addr::new(203, 0, 113, 1);
    let (local_dump, peer_dump) = collide(low, high);
    assert_eq!(local_dump, Direction::Outbound);
    assert_eq!(peer_dump, Direction::Inbound);
}
