//! `Layer2Service` against a real `bgpd` process: SetAnnouncements is
//! declarative and validated, ListAnnouncements reports owners, interface
//! states and counters, `[[layer2]]` config entries appear under the owner
//! "config" and follow a SIGHUP reload. Interfaces used here either do not
//! exist or cannot carry ARP (`lo`), so no frame ever leaves this host; the
//! wire behaviour is proven in namespaces by interop-tests/tests/layer2.rs.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::layer2_service_client::Layer2ServiceClient;
use support::*;
use tonic::transport::Channel;

const MISSING: &str = "ironlbnone0";

/// A Layer2Service client, once `ListAnnouncements` answers.
async fn layer2_ready(api: SocketAddr) -> Option<Layer2ServiceClient<Channel>> {
    let mut client = Layer2ServiceClient::connect(format!("http://{api}")).await.ok()?;
    client.list_announcements(v1::ListAnnouncementsRequest {}).await.ok()?;
    Some(client)
}

/// Starts `bgpd` with `body` after `[global]` and waits until Layer2Service answers.
async fn start(body: &str) -> (Daemon, Layer2ServiceClient<Channel>) {
    start_daemon(|_, api| with_api(&format!("{GLOBAL}{body}"), api), layer2_ready).await
}

fn request(owner: &str, entries: &[(&str, &[&str])]) -> v1::SetAnnouncementsRequest {
    v1::SetAnnouncementsRequest {
        owner: owner.into(),
        announcements: entries
            .iter()
            .map(|(address, interfaces)| v1::Layer2Announcement {
                address: (*address).into(),
                interfaces: interfaces.iter().map(|s| (*s).into()).collect(),
            })
            .collect(),
    }
}

async fn list(client: &mut Layer2ServiceClient<Channel>) -> Vec<v1::Layer2AnnouncementStatus> {
    client
        .list_announcements(v1::ListAnnouncementsRequest {})
        .await
        .expect("ListAnnouncements")
        .into_inner()
        .announcements
}

fn states(status: &v1::Layer2AnnouncementStatus) -> Vec<(String, v1::Layer2InterfaceState)> {
    status
        .interfaces
        .iter()
        .map(|i| (i.name.clone(), v1::Layer2InterfaceState::try_from(i.state).expect("known")))
        .collect()
}

/// Polls ListAnnouncements until `check` holds, with a deadline.
async fn wait_list(
    client: &mut Layer2ServiceClient<Channel>,
    what: &str,
    check: impl Fn(&[v1::Layer2AnnouncementStatus]) -> bool,
) -> Vec<v1::Layer2AnnouncementStatus> {
    let deadline = Instant::now() + READY_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(50));
    loop {
        interval.tick().await;
        let listed = list(client).await;
        if check(&listed) {
            return listed;
        }
        assert!(Instant::now() < deadline, "{what}: not within {READY_DEADLINE:?}: {listed:?}");
    }
}

/// Opens a `Session` for `owner`; dropping the returned pair ends it.
async fn open_session(
    api: SocketAddr,
    owner: &str,
    grace: u32,
    layer2_grace: Option<u32>,
) -> (
    tokio::sync::mpsc::Sender<v1::SessionRequest>,
    tonic::Streaming<v1::SessionResponse>,
    v1::SessionOpened,
) {
    use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
    use tokio_stream::wrappers::ReceiverStream;

    let mut bgp = BgpServiceClient::connect(format!("http://{api}")).await.expect("BgpService");
    let (requests, receiver) = tokio::sync::mpsc::channel(4);
    let open = v1::SessionRequest {
        request: Some(v1::session_request::Request::Open(v1::SessionOpen {
            owner: owner.into(),
            grace_time_seconds: Some(grace),
            hold_time_seconds: None,
            layer2_grace_time_seconds: layer2_grace,
        })),
    };
    requests.send(open).await.expect("queue open");
    let mut responses =
        bgp.session(ReceiverStream::new(receiver)).await.expect("Session").into_inner();
    let first = responses.message().await.expect("opened").expect("a message");
    let Some(v1::session_response::Response::Opened(opened)) = first.response else {
        panic!("not an open answer: {first:?}")
    };
    (requests, responses, opened)
}

async fn owner_state(api: SocketAddr, owner: &str) -> Option<v1::OwnerState> {
    use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
    let mut bgp = BgpServiceClient::connect(format!("http://{api}")).await.expect("BgpService");
    let owners = bgp.list_owners(v1::ListOwnersRequest {}).await.expect("ListOwners");
    let owners = owners.into_inner().owners;
    owners.iter().find(|o| o.name == owner).and_then(|o| v1::OwnerState::try_from(o.state).ok())
}

#[tokio::test]
async fn a_lapsed_owners_announcements_go_when_its_layer2_grace_runs_out() {
    let (daemon, mut client) = start("").await;
    let (requests, responses, opened) = open_session(daemon.api, "speaker", 1, Some(1)).await;
    assert_eq!((opened.grace_time_seconds, opened.layer2_grace_time_seconds), (1, 1));
    client
        .set_announcements(request("speaker", &[("198.51.100.60", &[MISSING])]))
        .await
        .expect("SetAnnouncements");
    client
        .set_announcements(request("other", &[("198.51.100.61", &[MISSING])]))
        .await
        .expect("SetAnnouncements of an unleased owner");
    assert_eq!(list(&mut client).await.len(), 2);

    drop(requests);
    drop(responses);
    let left =
        wait_list(&mut client, "the lapsed owner's address withdrawn", |listed| listed.len() == 1)
            .await;
    assert_eq!((left[0].address.as_str(), left[0].owner.as_str()), ("198.51.100.61", "other"));
    assert_eq!(owner_state(daemon.api, "speaker").await, None, "grace over: owner forgotten");
}

#[tokio::test]
async fn layer2_announcements_go_at_once_while_paths_keep_their_grace() {
    let (daemon, mut client) = start("").await;
    // The default layer2 grace is 0, whatever the paths' grace.
    let (requests, responses, opened) = open_session(daemon.api, "speaker", 120, None).await;
    assert_eq!((opened.grace_time_seconds, opened.layer2_grace_time_seconds), (120, 0));
    client
        .set_announcements(request("speaker", &[("198.51.100.62", &[MISSING])]))
        .await
        .expect("SetAnnouncements");
    assert_eq!(list(&mut client).await.len(), 1);

    drop(requests);
    drop(responses);
    wait_list(&mut client, "the lapsed owner's address withdrawn", |listed| listed.is_empty())
        .await;
    assert_eq!(
        owner_state(daemon.api, "speaker").await,
        Some(v1::OwnerState::Detached),
        "the owner itself stays for its grace time"
    );
    // Coming back within the grace time and setting again announces again.
    let (_requests, _responses, opened) = open_session(daemon.api, "speaker", 120, None).await;
    assert!(opened.reclaimed);
    client
        .set_announcements(request("speaker", &[("198.51.100.62", &[MISSING])]))
        .await
        .expect("SetAnnouncements after reclaiming");
    assert_eq!(list(&mut client).await.len(), 1);
}

#[tokio::test]
async fn set_announcements_is_declarative_and_listed_with_states() {
    let (_daemon, mut client) = start("").await;
    let answer = client
        .set_announcements(request(
            "svc",
            &[("198.51.100.50", &[MISSING]), ("2001:db8::50", &[MISSING, "lo"])],
        ))
        .await
        .expect("SetAnnouncements")
        .into_inner();
    assert_eq!(answer.added, ["198.51.100.50", "2001:db8::50"]);
    assert!(answer.removed.is_empty() && answer.changed.is_empty());

    let listed = list(&mut client).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].address, "198.51.100.50");
    assert_eq!(listed[0].owner, "svc");
    assert_eq!(states(&listed[0]), [(MISSING.to_string(), v1::Layer2InterfaceState::Missing)]);
    // Loopback has no Ethernet address: it can carry no ARP, so it is never used.
    assert_eq!(
        states(&listed[1]),
        [
            (MISSING.to_string(), v1::Layer2InterfaceState::Missing),
            ("lo".to_string(), v1::Layer2InterfaceState::Down)
        ]
    );
    assert_eq!(listed[0].gratuitous_sent, 0, "nothing sent on a missing interface");

    let answer = client
        .set_announcements(request("svc", &[("2001:db8::50", &["lo"])]))
        .await
        .expect("second SetAnnouncements")
        .into_inner();
    assert_eq!(answer.removed, ["198.51.100.50"]);
    assert_eq!(answer.changed, ["2001:db8::50"]);
    assert!(answer.added.is_empty());

    let answer = client
        .set_announcements(request("svc", &[]))
        .await
        .expect("empty SetAnnouncements")
        .into_inner();
    assert_eq!(answer.removed, ["2001:db8::50"]);
    assert!(list(&mut client).await.is_empty());
}

#[tokio::test]
async fn another_owners_address_is_refused_and_nothing_changes() {
    let (_daemon, mut client) = start("").await;
    client
        .set_announcements(request("a", &[("198.51.100.50", &[MISSING])]))
        .await
        .expect("owner a");
    let status = client
        .set_announcements(request(
            "b",
            &[("198.51.100.51", &[MISSING]), ("198.51.100.50", &[MISSING])],
        ))
        .await
        .expect_err("held by a");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "announcements[1].address \"198.51.100.50\" is announced for owner \"a\""
    );
    let listed = list(&mut client).await;
    assert_eq!(listed.len(), 1, "198.51.100.51 was not added: {listed:?}");
}

#[tokio::test]
async fn invalid_requests_name_the_field_and_value() {
    let (_daemon, mut client) = start("").await;
    let cases = [
        (
            request("svc", &[("198.51.100.256", &["eth0"])]),
            "announcements[0].address \"198.51.100.256\"",
        ),
        (
            request("svc", &[("198.51.100.50", &["eth0/1"])]),
            "announcements[0].interfaces[0] \"eth0/1\"",
        ),
        (request("svc", &[("ff02::1", &["eth0"])]), "announcements[0].address \"ff02::1\""),
        (request("bad owner", &[]), "owner \"bad owner\""),
    ];
    for (request, expected) in cases {
        let status = client.set_announcements(request).await.expect_err("invalid");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(expected), "{:?} vs {expected:?}", status.message());
    }
    assert!(list(&mut client).await.is_empty());
}

#[tokio::test]
async fn config_entries_belong_to_config_and_follow_a_reload() {
    let entry = |address: &str| {
        format!("[[layer2]]\naddress = \"{address}\"\ninterfaces = [\"{MISSING}\"]\n")
    };
    let (daemon, mut client) = start(&entry("198.51.100.60")).await;
    let listed = list(&mut client).await;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].address.as_str(), listed[0].owner.as_str()), ("198.51.100.60", "config"));

    let api_line = std::fs::read_to_string(&daemon.config)
        .expect("config")
        .lines()
        .find(|l| l.starts_with("listen ="))
        .map(str::to_string)
        .expect("api listen");
    let reloaded =
        format!("{GLOBAL}{}{}[api]\n{api_line}\n", entry("198.51.100.61"), entry("2001:db8::61"));
    std::fs::write(&daemon.config, reloaded).expect("rewrite config");
    let pid = i32::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);

    let deadline = Instant::now() + READY_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        let addresses: Vec<String> =
            list(&mut client).await.into_iter().map(|s| s.address).collect();
        if addresses == ["198.51.100.61", "2001:db8::61"] {
            break;
        }
        assert!(Instant::now() < deadline, "reload not applied: {addresses:?}");
    }
}

#[tokio::test]
async fn layer2_service_is_healthy_and_reflected() {
    let (daemon, _client) = start("").await;
    let text = std::fs::read_to_string(&daemon.config).expect("config");
    let api = text
        .lines()
        .find_map(|l| l.strip_prefix("listen = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("api address")
        .to_string();
    let channel = Channel::from_shared(format!("http://{api}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let request = tonic_health::pb::HealthCheckRequest {
        service: ironlb_proto::LAYER2_SERVICE_NAME.to_string(),
    };
    let answer = health.check(request).await.expect("health check").into_inner();
    assert_eq!(
        answer.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(
            ironlb_proto::LAYER2_SERVICE_NAME.to_string(),
        )),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let answer = answers.message().await.expect("an answer").expect("a message");
    let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response else {
        panic!("no file for Layer2Service: {answer:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

#[tokio::test]
async fn the_config_owner_is_reserved() {
    let entry = "[[layer2]]\naddress = \"198.51.100.62\"\ninterfaces = [\"ironlbnone0\"]\n";
    let (daemon, mut client) = start(entry).await;
    let status = client.set_announcements(request("config", &[])).await.expect_err("reserved");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("owner \"config\" is reserved"), "{status:?}");
    let listed = list(&mut client).await;
    assert_eq!(listed.len(), 1, "the config's entry survives: {listed:?}");
    assert_eq!(listed[0].owner, "config");

    let mut bgp = ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient::connect(format!(
        "http://{}",
        daemon.api
    ))
    .await
    .expect("connect");
    let set = v1::SetPathsRequest { owner: "config".into(), ..Default::default() };
    let status = bgp.set_paths(set).await.expect_err("reserved");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("owner \"config\" is reserved"), "{status:?}");
}
