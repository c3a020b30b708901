//! Owner leases (`Session`), grace times, `Watch` and the bulk streams,
//! against a real `bgpd` process through the generated tonic client. The
//! lease protocol is the `.proto`'s at `SessionRequest`; Watch's at
//! `WatchEvent`.

mod support;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use ironlb_proto::bgpd::v1::watch_event::Event;
use support::*;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Streaming};

/// Deadline of every wait for the daemon to converge.
const CONVERGE: Duration = Duration::from_secs(20);

/// Starts `bgpd` as AS 65001 without a BGP listener, `body` after `[global]`,
/// and waits (with a deadline) until its API answers.
async fn start(body: &str) -> (Daemon, BgpServiceClient<Channel>) {
    start_daemon(|_, api| with_api(&format!("{GLOBAL}{body}"), api), bgp_ready).await
}

fn path(prefix: &str) -> v1::Path {
    v1::Path { prefix: prefix.to_string(), ..v1::Path::default() }
}

fn set(owner: &str, prefixes: &[String]) -> v1::SetPathsRequest {
    v1::SetPathsRequest {
        owner: owner.to_string(),
        paths: prefixes.iter().map(|p| path(p)).collect(),
        grace_time_seconds: None,
    }
}

/// `count` /32s from 198.51.100.0/24 upwards (wrapping into 203.0.113.0/24).
fn prefixes(first: u32, count: u32) -> Vec<String> {
    (first..first + count)
        .map(|i| {
            let base =
                if i < 256 { [198, 51, 100, i as u8] } else { [203, 0, 113, (i - 256) as u8] };
            format!("{}/32", Ipv4Addr::from(base))
        })
        .collect()
}

/// An open `Session`: the request side and the response stream.
struct Lease {
    requests: mpsc::Sender<v1::SessionRequest>,
    responses: Streaming<v1::SessionResponse>,
    opened: v1::SessionOpened,
}

fn open_request(owner: &str, grace: Option<u32>, hold: Option<u32>) -> v1::SessionRequest {
    v1::SessionRequest {
        request: Some(v1::session_request::Request::Open(v1::SessionOpen {
            owner: owner.to_string(),
            grace_time_seconds: grace,
            hold_time_seconds: hold,
            layer2_grace_time_seconds: None,
        })),
    }
}

async fn open(
    client: &mut BgpServiceClient<Channel>,
    owner: &str,
    grace: Option<u32>,
    hold: Option<u32>,
) -> Lease {
    let (requests, receiver) = mpsc::channel(8);
    requests.send(open_request(owner, grace, hold)).await.expect("queue open");
    let mut responses =
        client.session(ReceiverStream::new(receiver)).await.expect("Session").into_inner();
    let first = responses.message().await.expect("opened").expect("a message");
    let Some(v1::session_response::Response::Opened(opened)) = first.response else {
        panic!("first answer is not `opened`: {first:?}");
    };
    Lease { requests, responses, opened }
}

async fn owners(client: &mut BgpServiceClient<Channel>) -> Vec<v1::Owner> {
    client.list_owners(v1::ListOwnersRequest {}).await.expect("ListOwners").into_inner().owners
}

/// Polls ListOwners until `check` holds for the list, with a deadline.
async fn wait_owners(
    client: &mut BgpServiceClient<Channel>,
    what: &str,
    check: impl Fn(&[v1::Owner]) -> bool,
) -> Vec<v1::Owner> {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let list = owners(client).await;
        if check(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "{what}: not within {CONVERGE:?}; owners: {list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn state_of(list: &[v1::Owner], name: &str) -> Option<v1::OwnerState> {
    list.iter().find(|o| o.name == name).and_then(|o| v1::OwnerState::try_from(o.state).ok())
}

async fn loc_rib_prefixes(client: &mut BgpServiceClient<Channel>) -> Vec<String> {
    let mut stream =
        client.list_paths(v1::ListPathsRequest::default()).await.expect("ListPaths").into_inner();
    let mut listed = Vec::new();
    while let Some(item) = stream.message().await.expect("ListPaths item") {
        listed.push(item.path.expect("a path").prefix);
    }
    listed
}

#[tokio::test]
async fn session_opens_and_acks_keepalives() {
    let (_daemon, mut client) = start("").await;
    let mut lease = open(&mut client, "lb", None, None).await;
    assert!(!lease.opened.reclaimed);
    assert_eq!(lease.opened.path_count, 0);
    assert_eq!(lease.opened.grace_time_seconds, 120);
    assert_eq!(lease.opened.hold_time_seconds, 30);
    for nonce in [7, 8] {
        let keepalive = v1::SessionRequest {
            request: Some(v1::session_request::Request::Keepalive(v1::SessionKeepAlive { nonce })),
        };
        lease.requests.send(keepalive).await.expect("keepalive");
        let answer = lease.responses.message().await.expect("ack").expect("a message");
        assert_eq!(
            answer.response,
            Some(v1::session_response::Response::KeepaliveAck(v1::SessionKeepAliveAck { nonce }))
        );
    }
    let list = owners(&mut client).await;
    assert_eq!(state_of(&list, "lb"), Some(v1::OwnerState::Attached), "{list:?}");
}

#[tokio::test]
async fn session_must_start_with_open() {
    let (_daemon, mut client) = start("").await;
    let keepalive = v1::SessionRequest {
        request: Some(v1::session_request::Request::Keepalive(v1::SessionKeepAlive { nonce: 1 })),
    };
    let error = client.session(tokio_stream::iter(vec![keepalive])).await.expect_err("refused");
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("open"), "{error:?}");
}

#[tokio::test]
async fn a_newer_session_takes_over_and_the_old_stream_ends_aborted() {
    let (_daemon, mut client) = start("").await;
    let mut first = open(&mut client, "lb", Some(60), None).await;
    client.set_paths(set("lb", &prefixes(1, 2))).await.expect("SetPaths");
    let second = open(&mut client, "lb", None, None).await;
    assert!(!second.opened.reclaimed, "an attached owner reclaims nothing");
    assert_eq!(second.opened.path_count, 2);
    let error = first.responses.message().await.expect_err("the old stream ends");
    assert_eq!(error.code(), Code::Aborted);
    // The old stream's end must not detach the new session.
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let list = owners(&mut client).await;
    assert_eq!(state_of(&list, "lb"), Some(v1::OwnerState::Attached), "{list:?}");
    drop(second);
}

#[tokio::test]
async fn a_closed_session_detaches_and_keeps_the_paths_for_the_grace_time() {
    let (_daemon, mut client) = start("").await;
    let lease = open(&mut client, "lb", Some(600), None).await;
    client.set_paths(set("lb", &prefixes(1, 3))).await.expect("SetPaths");
    drop(lease);
    let list = wait_owners(&mut client, "detached", |l| {
        state_of(l, "lb") == Some(v1::OwnerState::Detached)
    })
    .await;
    let owner = list.iter().find(|o| o.name == "lb").expect("listed");
    assert_eq!(owner.path_count, 3);
    assert_eq!(owner.grace_time_seconds, 600);
    assert!((590..=600).contains(&owner.grace_remaining_seconds), "{owner:?}");
    assert_eq!(loc_rib_prefixes(&mut client).await.len(), 3);
}

#[tokio::test]
async fn a_session_without_keepalives_lapses_after_its_hold_time() {
    let (_daemon, mut client) = start("").await;
    let mut lease = open(&mut client, "lb", Some(600), Some(3)).await;
    let error = lease.responses.message().await.expect_err("the lease lapses");
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
    wait_owners(&mut client, "detached", |l| state_of(l, "lb") == Some(v1::OwnerState::Detached))
        .await;
    drop(lease.requests);
}

#[tokio::test]
async fn paths_are_withdrawn_when_the_grace_time_runs_out() {
    let (_daemon, mut client) = start("").await;
    let lease = open(&mut client, "lb", Some(1), None).await;
    client.set_paths(set("lb", &prefixes(1, 3))).await.expect("SetPaths");
    client.set_paths(set("manual", &prefixes(10, 1))).await.expect("SetPaths");
    drop(lease);
    wait_owners(&mut client, "owner forgotten", |l| state_of(l, "lb").is_none()).await;
    assert_eq!(loc_rib_prefixes(&mut client).await, prefixes(10, 1));
    let list = owners(&mut client).await;
    assert_eq!(state_of(&list, "manual"), Some(v1::OwnerState::Unleased), "{list:?}");
}

#[tokio::test]
async fn an_owner_back_within_its_grace_time_reclaims_its_paths() {
    let (_daemon, mut client) = start("").await;
    let wanted = prefixes(1, 4);
    let lease = open(&mut client, "lb", Some(600), None).await;
    client.set_paths(set("lb", &wanted)).await.expect("SetPaths");
    drop(lease);
    wait_owners(&mut client, "detached", |l| state_of(l, "lb") == Some(v1::OwnerState::Detached))
        .await;

    let again = open(&mut client, "lb", None, None).await;
    assert!(again.opened.reclaimed);
    assert_eq!(again.opened.path_count, 4);
    assert_eq!(again.opened.grace_time_seconds, 600);
    let diff = client.set_paths(set("lb", &wanted)).await.expect("SetPaths").into_inner();
    assert_eq!(diff, v1::SetPathsResponse::default(), "the same set changes nothing");
    let list = owners(&mut client).await;
    assert_eq!(state_of(&list, "lb"), Some(v1::OwnerState::Attached), "{list:?}");
    drop(again);
}

/// Reads a Watch stream until `snapshot_done`; returns the snapshot events
/// and the sequence S.
async fn read_snapshot(stream: &mut Streaming<v1::WatchEvent>) -> (Vec<v1::WatchEvent>, u64) {
    let mut snapshot = Vec::new();
    loop {
        let event = stream.message().await.expect("watch event").expect("stream open");
        assert!(event.snapshot, "a live event before snapshot_done: {event:?}");
        if let Some(Event::SnapshotDone(_)) = event.event {
            assert!(snapshot.iter().all(|e: &v1::WatchEvent| e.sequence == event.sequence));
            return (snapshot, event.sequence);
        }
        snapshot.push(event);
    }
}

fn best_prefix(event: &v1::WatchEvent) -> Option<&str> {
    match &event.event {
        Some(Event::BestPathAdded(best) | Event::BestPathChanged(best)) => {
            best.path.as_ref().map(|p| p.prefix.as_str())
        }
        Some(Event::BestPathWithdrawn(prefix)) => Some(prefix),
        _ => None,
    }
}

#[tokio::test]
async fn watch_sends_a_snapshot_then_the_changes() {
    let neighbors = "[[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\n";
    let (_daemon, mut client) = start(neighbors).await;
    client.set_paths(set("lb", &prefixes(1, 3))).await.expect("SetPaths");
    let request = v1::WatchRequest { peers: true, best_paths: true, family: 0 };
    let mut stream = client.watch(request).await.expect("Watch").into_inner();
    let (snapshot, start) = read_snapshot(&mut stream).await;
    let peers: Vec<_> =
        snapshot.iter().filter(|e| matches!(e.event, Some(Event::PeerAdded(_)))).collect();
    assert_eq!(peers.len(), 1, "{snapshot:?}");
    let mut paths: Vec<&str> = snapshot.iter().filter_map(best_prefix).collect();
    paths.sort_unstable();
    assert_eq!(paths, prefixes(1, 3));
    let added = snapshot.iter().find_map(|e| match &e.event {
        Some(Event::BestPathAdded(best)) => Some(best),
        _ => None,
    });
    let source = added.and_then(|b| b.source.clone()).and_then(|s| s.source);
    assert_eq!(source, Some(v1::path_source::Source::Owner("lb".to_string())));

    client.set_paths(set("lb", &prefixes(2, 3))).await.expect("SetPaths");
    let mut last = start;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = stream.message().await.expect("event").expect("open");
        assert!(!event.snapshot);
        assert!(event.sequence > last, "sequence {} after {last}", event.sequence);
        last = event.sequence;
        seen.push(event);
    }
    assert!(
        seen.iter().any(|e| e.event == Some(Event::BestPathWithdrawn(prefixes(1, 1)[0].clone())))
    );
    assert!(seen.iter().any(|e| matches!(&e.event, Some(Event::BestPathAdded(b))
        if b.path.as_ref().is_some_and(|p| p.prefix == prefixes(4, 1)[0]))));
}

#[tokio::test]
async fn watch_rejects_an_empty_request() {
    let (_daemon, mut client) = start("").await;
    let error = client.watch(v1::WatchRequest::default()).await.expect_err("refused");
    assert_eq!(error.code(), Code::InvalidArgument);
}

/// /32s of 10.x for the race test, in the order the adder sends them.
fn bulk(index: u32) -> String {
    format!("{}/32", Ipv4Addr::from(0x0a00_0000 + index))
}

#[tokio::test]
async fn a_watch_that_starts_while_paths_are_added_sees_each_exactly_once() {
    const BEFORE: u32 = 3000;
    const TOTAL: u32 = 12_000;
    const BATCH: u32 = 100;
    let (_daemon, mut client) = start("").await;
    let all: Vec<String> = (0..TOTAL).map(bulk).collect();
    client.set_paths(set("before", &all[..BEFORE as usize])).await.expect("SetPaths");

    let mut adder = client.clone();
    let adding = tokio::spawn(async move {
        let mut next = BEFORE;
        while next < TOTAL {
            let request = v1::AddPathsRequest {
                owner: "adder".to_string(),
                paths: (next..next + BATCH).map(|i| path(&bulk(i))).collect(),
            };
            adder.add_paths(request).await.expect("AddPaths");
            next += BATCH;
        }
    });
    // Let some batches go first, so that the watch starts in the middle.
    let deadline = Instant::now() + CONVERGE;
    while loc_rib_prefixes(&mut client).await.len() < (BEFORE + 10 * BATCH) as usize {
        assert!(Instant::now() < deadline, "adds did not start");
    }
    let request = v1::WatchRequest { peers: false, best_paths: true, family: 0 };
    let mut stream = client.watch(request).await.expect("Watch").into_inner();
    let (snapshot, start) = read_snapshot(&mut stream).await;
    let mut seen: HashSet<String> = HashSet::new();
    for event in &snapshot {
        let prefix = best_prefix(event).expect("a best path").to_string();
        assert!(seen.insert(prefix.clone()), "{prefix} twice in the snapshot");
    }
    assert!(seen.len() < TOTAL as usize, "the watch should start before the adds end");
    let mut last = start;
    while seen.len() < TOTAL as usize {
        let event = tokio::time::timeout(CONVERGE, stream.message())
            .await
            .expect("events keep coming")
            .expect("event")
            .expect("open");
        assert!(!event.snapshot);
        assert!(event.sequence > last, "sequence {} after {last}", event.sequence);
        last = event.sequence;
        let Some(Event::BestPathAdded(best)) = &event.event else {
            panic!("only additions happen: {event:?}");
        };
        let prefix = best.path.as_ref().expect("path").prefix.clone();
        assert!(seen.insert(prefix.clone()), "{prefix} seen twice");
    }
    adding.await.expect("adder");
    let expected: HashSet<String> = all.into_iter().collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn add_and_delete_streams_answer_per_path_in_order() {
    let (_daemon, mut client) = start("").await;
    let batches = vec![
        v1::AddPathsRequest { owner: "bulk".to_string(), paths: vec![path("198.51.100.1/32")] },
        v1::AddPathsRequest {
            owner: "bulk".to_string(),
            paths: vec![path("198.51.100.2/24"), path("198.51.100.1/32"), path("203.0.113.0/24")],
        },
    ];
    let answer =
        client.add_paths_stream(tokio_stream::iter(batches)).await.expect("stream").into_inner();
    let outcomes: Vec<i32> = answer.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            v1::PathOutcome::Added as i32,
            v1::PathOutcome::Rejected as i32,
            v1::PathOutcome::Unchanged as i32,
            v1::PathOutcome::Added as i32,
        ]
    );
    assert_eq!(answer.results[1].code, Code::InvalidArgument as i32);
    assert_eq!(loc_rib_prefixes(&mut client).await.len(), 2);

    let deletes = vec![
        v1::DeletePathsRequest {
            owner: "bulk".to_string(),
            prefixes: vec!["203.0.113.0/24".into()],
        },
        v1::DeletePathsRequest {
            owner: "bulk".to_string(),
            prefixes: vec!["198.51.100.1/32".into(), "198.51.100.9/32".into()],
        },
    ];
    let answer =
        client.delete_paths_stream(tokio_stream::iter(deletes)).await.expect("stream").into_inner();
    let outcomes: Vec<i32> = answer.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            v1::PathOutcome::Withdrawn as i32,
            v1::PathOutcome::Withdrawn as i32,
            v1::PathOutcome::NotFound as i32,
        ]
    );
    assert!(loc_rib_prefixes(&mut client).await.is_empty());
}

#[tokio::test]
async fn watch_reports_peer_state_changes_after_the_snapshot() {
    // Nothing listens at 127.0.0.2:1: every connection attempt fails, and the
    // FSM moves between Connect and Active each retry.
    let neighbors = "[[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\nport = 1\n\
                      connect_retry_time = 1\n";
    let (_daemon, mut client) = start(neighbors).await;
    let request = v1::WatchRequest { peers: true, best_paths: false, family: 0 };
    let mut stream = client.watch(request).await.expect("Watch").into_inner();
    let (snapshot, start) = read_snapshot(&mut stream).await;
    assert_eq!(snapshot.len(), 1, "one peer: {snapshot:?}");
    let event = tokio::time::timeout(CONVERGE, stream.message())
        .await
        .expect("a state change within the deadline")
        .expect("event")
        .expect("open");
    assert!(event.sequence > start && !event.snapshot);
    let Some(Event::PeerState(change)) = event.event else {
        panic!("not a peer state change: {event:?}");
    };
    assert_eq!(change.address, "127.0.0.2");
    assert_ne!(change.old_state, change.new_state);
}
