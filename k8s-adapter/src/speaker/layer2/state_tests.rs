//! The layer2 task's core without a cluster or a socket: Services, Nodes and Leases in,
//! Lease writes, heartbeats and the sets for the client task and the annotations out.

use std::collections::BTreeMap;

use super::*;
use crate::allocator::ServiceKey;
use crate::config::{Resources, build, crd};
use crate::election::failover::FailoverTiming;
use crate::election::membership::LeaseTiming;
use crate::speaker::ServiceView;
use crate::speaker::layer2::push::Layer2Announcement;
use crate::speaker::layer2::visible::Answer;

/// Pool `l2` (203.0.113.0/28) answered on eth1 by every node.
fn config() -> Arc<Config> {
    let built = build(&Resources {
        pools: vec![crd::IpAddressPool::new(
            "l2",
            crd::IpAddressPoolSpec {
                addresses: vec!["203.0.113.0/28".into()],
                ..Default::default()
            },
        )],
        l2_advertisements: vec![crd::L2Advertisement::new(
            "l2",
            crd::L2AdvertisementSpec {
                ip_address_pools: vec!["l2".into()],
                interfaces: vec!["eth1".into()],
                ..Default::default()
            },
        )],
        ..Default::default()
    });
    assert!(built.errors.is_empty(), "{:?}", built.errors);
    Arc::new(built.config)
}

fn node(name: &str) -> NodeView {
    NodeView { name: name.into(), ..NodeView::default() }
}

fn service(name: &str, address: &str, ready: &[&str]) -> ServiceView {
    ServiceView {
        key: ServiceKey::new("default", name),
        addresses: vec![address.parse().unwrap()],
        local: false,
        ready_nodes: ready.iter().map(|n| (*n).to_owned()).collect(),
        ready_anywhere: !ready.is_empty(),
    }
}

fn state(me: &str, nodes: &[&str], now: Now) -> State {
    let failover = Failover::new(me, FailoverTiming::default()).unwrap();
    let keeper = LeaseKeeper::new(me, "ironlb", LeaseTiming::default()).unwrap();
    let nodes = nodes.iter().map(|n| node(n)).collect();
    State::new(me, failover, keeper, nodes, vec!["eth0".into()], now)
}

/// The Lease our keeper writes at the first wall-clock deadline.
fn own_lease(state: &mut State, now: Now) -> Arc<Lease> {
    assert_eq!(state.deadlines().wall, Some(now.wall), "written at once");
    let actions = state.handle(Event::WallClock(&[]), now);
    match actions.as_slice() {
        [Action::Lease(LeaseAction::Apply(lease))] => Arc::new((**lease).clone()),
        other => panic!("expected our Lease, got {other:?}"),
    }
}

fn desired(actions: &[Action]) -> Option<&Layer2Desired> {
    actions.iter().find_map(|a| if let Action::Desired(d) = a { Some(&**d) } else { None })
}

fn answering(actions: &[Action]) -> Option<&Answering> {
    actions.iter().find_map(|a| if let Action::Answering(x) = a { Some(x) } else { None })
}

#[test]
fn a_lone_candidate_announces_its_address_on_the_advertised_interface() {
    let now = Now::read();
    let mut state = state("n1", &["n1"], now);
    let lease = own_lease(&mut state, now);
    // Live in the Lease set: it sends heartbeats.
    state.handle(Event::Leases(&[lease]), now);
    let beats = state.handle(Event::Tick, now);
    let [Action::SendHeartbeat(datagram)] = beats.as_slice() else {
        panic!("one heartbeat, got {beats:?}")
    };
    assert_eq!(wire::decode(datagram).unwrap().node, "n1");
    // A Service with a layer2 address, ready on n1.
    let changes = ServiceChanges::All(vec![service("web", "203.0.113.1", &["n1"])]);
    let mut actions = state.handle(Event::Services { config: config(), changes }, now);
    // No peer to hear: announced now, or when the listening timer fires.
    if desired(&actions).is_none() {
        let at = state.deadlines().failover.expect("a listening timer");
        actions = state.handle(Event::FailoverTimer, Now { instant: at, ..now });
    }
    let address: IpAddr = "203.0.113.1".parse().unwrap();
    assert_eq!(
        desired(&actions).unwrap().announcements,
        [Layer2Announcement { address, interfaces: vec!["eth1".into()] }]
    );
    assert_eq!(
        answering(&actions).unwrap(),
        &BTreeMap::from([(
            ServiceKey::new("default", "web"),
            Answer {
                addresses: BTreeSet::from([address]),
                interfaces: BTreeSet::from(["eth1".to_owned()])
            }
        )])
    );
    assert_eq!(state.announcing(), &BTreeSet::from([address]));
    // Another batch naming an unrelated Service: nothing moves, the status task is woken.
    let config_again = Arc::clone(state.views.config());
    let changes = ServiceChanges::Changed(vec![(ServiceKey::new("default", "other"), None)]);
    let actions = state.handle(Event::Services { config: config_again, changes }, now);
    assert_eq!(actions, [Action::Nudge]);
    // The Service goes: withdrawn.
    let config_again = Arc::clone(state.views.config());
    let changes = ServiceChanges::Changed(vec![(ServiceKey::new("default", "web"), None)]);
    let actions = state.handle(Event::Services { config: config_again, changes }, now);
    assert_eq!(desired(&actions).unwrap().announcements, []);
    assert_eq!(answering(&actions).unwrap(), &Answering::new());
    assert!(state.announcing().is_empty());
}

#[test]
fn not_a_member_announces_nothing_and_sends_no_heartbeat() {
    let now = Now::read();
    let mut state = state("n1", &["n1"], now);
    let changes = ServiceChanges::All(vec![service("web", "203.0.113.1", &["n1"])]);
    let actions = state.handle(Event::Services { config: config(), changes }, now);
    assert!(desired(&actions).is_none(), "{actions:?}");
    assert_eq!(state.handle(Event::Tick, now), []);
    assert_eq!(state.handle(Event::Heard(b"not a heartbeat"), now), []);
}

#[test]
fn a_node_change_recomputes_the_candidates_and_the_interfaces() {
    let now = Now::read();
    let mut state = state("n1", &["n1"], now);
    let changes = ServiceChanges::All(vec![service("web", "203.0.113.1", &["n1"])]);
    state.handle(Event::Services { config: config(), changes }, now);
    let address: IpAddr = "203.0.113.1".parse().unwrap();
    assert_eq!(state.views.candidates()[&address].candidates, BTreeSet::from(["n1".into()]));
    let mut excluded = node("n1");
    excluded.network_unavailable = true;
    state.handle(Event::Nodes(vec![excluded, node("n2")]), now);
    assert_eq!(state.views.candidates()[&address].candidates, BTreeSet::from(["n2".into()]));
}

#[test]
fn a_failed_lease_write_is_retried_at_once_within_the_budget() {
    let now = Now::read();
    let mut state = state("n1", &["n1"], now);
    own_lease(&mut state, now);
    assert_ne!(state.deadlines().wall, Some(now.wall));
    state.handle(Event::LeaseWriteFailed, now);
    assert_eq!(state.deadlines().wall, Some(now.wall));
}

#[test]
fn stopping_deletes_the_lease_then_withdraws() {
    let now = Now::read();
    let mut state = state("n1", &["n1"], now);
    assert!(matches!(state.stop(), LeaseAction::Delete { .. }));
    state.withdraw();
    assert!(state.announcing().is_empty());
    assert_eq!(state.handle(Event::Tick, now), []);
}

#[test]
fn with_keys_heartbeats_are_signed_and_forged_ones_dropped() {
    use crate::election::auth::{HeartbeatKeys, TAG};
    use crate::election::wire::Heartbeat;
    let now = Now::read();
    let keys = |k: &[u8]| HeartbeatKeys::new([("current".to_owned(), k.to_vec())]).unwrap();
    let ours = keys(b"0123456789abcdef-ours");
    let mut n1 = state("n1", &["n1", "n2"], now).with_keys(ours.clone());
    let mut n2 = state("n2", &["n1", "n2"], now);
    let leases = [own_lease(&mut n1, now), own_lease(&mut n2, now)];
    n1.handle(Event::Leases(&leases), now);
    let yielding = |state: &mut State| {
        let beats = state.handle(Event::Tick, now);
        let [Action::SendHeartbeat(datagram)] = beats.as_slice() else {
            panic!("one heartbeat, got {beats:?}")
        };
        let body = ours.open(datagram).expect("signed with our key");
        assert_eq!(datagram.len(), body.len() + TAG);
        let heartbeat = wire::decode(body).unwrap();
        assert_eq!(heartbeat.node, "n1");
        heartbeat.yielding
    };
    assert!(!yielding(&mut n1));
    // n2 says it cannot hear n1: n1 would yield, if it believed it.
    let accusation = Heartbeat {
        node: "n2".into(),
        yielding: false,
        suspects: BTreeSet::from(["n1".to_owned()]),
    };
    let mut plain = Vec::new();
    wire::encode(&accusation, &mut plain).unwrap();
    let mut forged = plain.clone();
    keys(b"0123456789abcdef-theirs").seal(&mut forged);
    assert_eq!(n1.handle(Event::Heard(&plain), now), []);
    assert_eq!(n1.handle(Event::Heard(&forged), now), []);
    assert!(!yielding(&mut n1), "an unauthenticated or forged accusation is dropped");
    let mut signed = plain.clone();
    ours.seal(&mut signed);
    n1.handle(Event::Heard(&signed), now);
    assert!(yielding(&mut n1), "a signed accusation is heard");
}

#[test]
fn the_counters_follow_heartbeats_takeovers_and_silences() {
    use crate::election::wire::Heartbeat;
    let now = Now::read();
    let mut n1 = state("n1", &["n1", "n2"], now);
    let mut n2 = state("n2", &["n1", "n2"], now);
    let leases = [own_lease(&mut n1, now), own_lease(&mut n2, now)];
    n1.handle(Event::Leases(&leases), now);
    let changes = ServiceChanges::All(vec![service("web", "203.0.113.1", &["n1", "n2"])]);
    n1.handle(Event::Services { config: config(), changes }, now);
    let sent = n1.counters().heartbeats_sent;
    n1.handle(Event::Tick, now);
    assert_eq!(n1.counters().heartbeats_sent, sent + 1, "one per tick");
    // Heard from n2 (a Node) and from a name no Node has.
    let mut datagram = Vec::new();
    let from = |node: &str, datagram: &mut Vec<u8>| {
        let beat = Heartbeat { node: node.into(), yielding: false, suspects: BTreeSet::new() };
        wire::encode(&beat, datagram).unwrap();
    };
    from("n2", &mut datagram);
    n1.handle(Event::Heard(&datagram), now);
    from("forged", &mut datagram);
    n1.handle(Event::Heard(&datagram), now);
    assert_eq!(
        n1.counters().heartbeats_received,
        BTreeMap::from([("n2".to_owned(), 1), ("unknown".to_owned(), 1)])
    );
    // n2 falls silent past the dead interval: n1 suspects it once, and takes what it won.
    let mut at = now;
    for _ in 0..20 {
        at.instant += FailoverTiming::default().heartbeat_interval;
        if let Some(timer) = n1.deadlines().failover.filter(|t| *t <= at.instant) {
            n1.handle(Event::FailoverTimer, Now { instant: timer, ..at });
        }
        n1.handle(Event::Tick, at);
    }
    assert_eq!(n1.counters().silences, BTreeMap::from([("n2".to_owned(), 1)]));
    assert_eq!(n1.counters().takeovers, 1, "{:?}", n1.announcing());
    assert!(n1.counters().heartbeats_sent > 10);
}
