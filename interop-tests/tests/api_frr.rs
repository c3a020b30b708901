//! The gRPC API against FRR: bulk `SetPaths`, its difference, and the owner
//! lease's grace time as FRR sees it (the protocol is the `.proto`'s at
//! `SessionRequest`).
//!
//! ```text
//!   [bgpd AS65001, API on its loopback] 192.0.2.1 ──── 192.0.2.2 [FRR AS65002]
//! ```
//! The paths are /32s of 198.18.0.0/15 (RFC 2544's benchmarking range), as in
//! the other route tests: 10,000 of them do not fit the documentation ranges.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use interop_tests::api::{NsRuntime, announced_prefixes, withdrawn_prefixes};
use interop_tests::frr::Frr;
use interop_tests::tcpdump::Capture;
use interop_tests::topology::{Pair, pair};
use interop_tests::{Check, Family, hold_for, wait_until};
use ipnet::IpNet;
use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

const API: &str = "127.0.0.1:50051";
/// The grace time of the lease tests: long enough to observe, short enough to wait for.
const GRACE: u32 = 4;

fn bench_prefix(index: u32) -> IpNet {
    let address = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + index);
    IpNet::V4(ipnet::Ipv4Net::new(address, 32).expect("a /32"))
}

fn set(owner: &str, prefixes: &[IpNet]) -> v1::SetPathsRequest {
    v1::SetPathsRequest {
        owner: owner.to_string(),
        paths: prefixes
            .iter()
            .map(|p| v1::Path { prefix: p.to_string(), ..v1::Path::default() })
            .collect(),
        grace_time_seconds: None,
    }
}

/// bgpd and FRR up and peering, a capture on bgpd's side of the link, and
/// an API client inside bgpd's namespace.
struct World {
    pair: Pair,
    bgpd: interop_tests::bgpd::Bgpd,
    frr: Frr,
    capture: Capture,
    runtime: NsRuntime,
    client: BgpServiceClient<Channel>,
}

fn world() -> World {
    let pair = pair("bgpd", "frr").check("topology");
    let capture = Capture::start(&pair.left, &pair.interfaces.0).check("tcpdump");
    let bgpd = start_bgpd(&pair.left, &bgpd_towards(65001, pair.right_v4, 65002));
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("session up");
    let runtime = NsRuntime::new(&pair.left).check("runtime in bgpd's namespace");
    let client = bgpd.annotate(runtime.client(API, UP)).check("API client");
    World { pair, bgpd, frr, capture, runtime, client }
}

impl World {
    fn frr_prefixes(&self) -> BTreeSet<IpNet> {
        self.frr
            .prefixes(Family::Ipv4Unicast)
            .check("show bgp")
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    fn frr_count(&self) -> u64 {
        self.frr.prefix_counts(self.pair.left_v4, Family::Ipv4Unicast).check("summary").0
    }

    fn wait_frr_count(&self, what: &str, count: u64) {
        self.bgpd
            .annotate(wait_until(
                what,
                ROUTE,
                Duration::from_millis(200),
                || (self.frr_count() == count).then_some(()),
                || format!("FRR has {} prefixes from bgpd", self.frr_count()),
            ))
            .check(what);
    }

    fn set_paths(&self, request: v1::SetPathsRequest) -> v1::SetPathsResponse {
        let mut client = self.client.clone();
        self.runtime
            .run(async move { client.set_paths(request).await })
            .check_status("SetPaths")
            .into_inner()
    }

    /// Opens a Session for `owner`; dropping the sender ends it.
    fn open(
        &self,
        owner: &str,
        grace: u32,
    ) -> (mpsc::Sender<v1::SessionRequest>, v1::SessionOpened) {
        let mut client = self.client.clone();
        let open = v1::SessionRequest {
            request: Some(v1::session_request::Request::Open(v1::SessionOpen {
                owner: owner.to_string(),
                grace_time_seconds: Some(grace),
                hold_time_seconds: None,
                layer2_grace_time_seconds: None,
            })),
        };
        self.runtime.run(async move {
            let (sender, receiver) = mpsc::channel(4);
            sender.send(open).await.expect("queue open");
            let mut responses =
                client.session(ReceiverStream::new(receiver)).await.expect("Session").into_inner();
            let first = responses.message().await.expect("opened").expect("a message");
            let Some(v1::session_response::Response::Opened(opened)) = first.response else {
                panic!("not `opened`: {first:?}");
            };
            // Keep reading so the stream stays polled; it ends with the session.
            tokio::spawn(async move { while let Ok(Some(_)) = responses.message().await {} });
            (sender, opened)
        })
    }

    fn owner_state(&self, owner: &str) -> Option<v1::OwnerState> {
        let mut client = self.client.clone();
        let owners = self
            .runtime
            .run(async move { client.list_owners(v1::ListOwnersRequest {}).await })
            .check_status("ListOwners")
            .into_inner()
            .owners;
        owners.iter().find(|o| o.name == owner).and_then(|o| v1::OwnerState::try_from(o.state).ok())
    }

    /// Messages bgpd sent to FRR so far.
    fn sent(&self) -> Vec<interop_tests::tcpdump::CapturedMessage> {
        let ours = self.pair.left_v4;
        let all = self.capture.messages_so_far().check("read capture");
        all.into_iter().filter(|m| m.from.ip() == ours).collect()
    }
}

trait CheckStatus<T> {
    fn check_status(self, what: &str) -> T;
}

impl<T> CheckStatus<T> for Result<T, tonic::Status> {
    fn check_status(self, what: &str) -> T {
        self.unwrap_or_else(|status| panic!("{what}: {status}"))
    }
}

#[test]
fn ten_thousand_paths_by_one_set_paths_and_half_of_them_withdrawn() {
    let world = world();
    let all: Vec<IpNet> = (0..10_000).map(bench_prefix).collect();
    let diff = world.set_paths(set("bulk", &all));
    assert_eq!(diff.added.len(), 10_000);
    world.wait_frr_count("FRR holds the 10,000 paths", 10_000);
    assert!(world.frr_prefixes() == all.iter().copied().collect(), "FRR's table is not our set");

    let (kept, dropped) = all.split_at(5_000);
    let diff = world.set_paths(set("bulk", kept));
    assert_eq!(diff.withdrawn.len(), 5_000);
    assert!(diff.added.is_empty() && diff.changed.is_empty());
    world.wait_frr_count("FRR drops the other half", 5_000);
    assert!(world.frr_prefixes() == kept.iter().copied().collect(), "FRR kept another half");

    // FRR acted on every withdrawal; tcpdump may still be writing the last
    // segments, so read the capture until it holds as many.
    let withdrawn = wait_until(
        "the capture to hold the withdrawals",
        ROUTE,
        Duration::from_millis(100),
        || Some(withdrawn_prefixes(&world.sent())).filter(|w| w.len() >= dropped.len()),
        || format!("{} withdrawals captured", withdrawn_prefixes(&world.sent()).len()),
    )
    .check("capture");
    let unique: BTreeSet<IpNet> = withdrawn.iter().copied().collect();
    assert_eq!(withdrawn.len(), unique.len(), "a prefix withdrawn twice");
    let expected: BTreeSet<IpNet> = dropped.iter().copied().collect();
    let stray: Vec<&IpNet> = unique.difference(&expected).take(5).collect();
    assert!(stray.is_empty(), "withdrawn but kept: {stray:?}...");
    assert_eq!(unique.len(), expected.len(), "exactly the other half withdrawn");
}

#[test]
fn an_owner_whose_session_ends_loses_its_routes_after_its_grace_time() {
    let world = world();
    let paths: Vec<IpNet> = (0..100).map(bench_prefix).collect();
    let (session, opened) = world.open("leaving", GRACE);
    assert_eq!(opened.grace_time_seconds, GRACE);
    world.set_paths(set("leaving", &paths));
    world.wait_frr_count("FRR learns the owner's paths", 100);

    drop(session);
    wait_until(
        "the owner to detach",
        ROUTE,
        Duration::from_millis(20),
        || (world.owner_state("leaving") == Some(v1::OwnerState::Detached)).then_some(()),
        || format!("{:?}", world.owner_state("leaving")),
    )
    .check("detached");
    // Not before: FRR keeps every route for most of the grace time.
    world
        .bgpd
        .annotate(hold_for(
            "FRR keeps the routes during the grace time",
            Duration::from_secs(u64::from(GRACE) - 1),
            Duration::from_millis(200),
            || world.frr_count() == 100,
            || format!("FRR has {}", world.frr_count()),
        ))
        .check("kept during grace");
    // After: all gone.
    world.wait_frr_count("FRR loses the routes after the grace time", 0);
    assert_eq!(world.owner_state("leaving"), None, "the owner is forgotten");
}

#[test]
fn an_owner_back_within_its_grace_time_causes_no_withdraw() {
    let world = world();
    let paths: Vec<IpNet> = (0..100).map(bench_prefix).collect();
    let (session, _) = world.open("restarting", 30);
    world.set_paths(set("restarting", &paths));
    world.wait_frr_count("FRR learns the owner's paths", 100);

    drop(session);
    wait_until(
        "the owner to detach",
        ROUTE,
        Duration::from_millis(20),
        || (world.owner_state("restarting") == Some(v1::OwnerState::Detached)).then_some(()),
        || format!("{:?}", world.owner_state("restarting")),
    )
    .check("detached");
    let (_session, opened) = world.open("restarting", 30);
    assert!(opened.reclaimed);
    assert_eq!(opened.path_count, 100);
    let diff = world.set_paths(set("restarting", &paths));
    assert_eq!(diff, v1::SetPathsResponse::default(), "the same set changes nothing");

    // A marker path after it: UPDATEs arrive in order, so once FRR has the
    // marker, anything sent for the reclaimed paths has been captured.
    let marker = bench_prefix(1_000);
    world.set_paths(set("marker", &[marker]));
    world.wait_frr_count("FRR learns the marker", 101);
    let sent = world.sent();
    let withdrawn = withdrawn_prefixes(&sent);
    assert!(withdrawn.is_empty(), "withdrawn at FRR: {withdrawn:?}");
    let announced = announced_prefixes(&sent);
    assert_eq!(announced.len(), 101, "each path announced once, the marker once");
    assert_eq!(world.owner_state("restarting"), Some(v1::OwnerState::Attached));
}
