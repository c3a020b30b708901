//! The gRPC API against a real `bgpd` process: start the binary with a config
//! in a temporary directory, talk to it with the generated tonic client.

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use support::*;
use tonic::transport::Channel;

/// Starts `bgpd` in a scratch directory with the API on `api`; stderr is
/// piped for the tests that read it.
fn spawn(config: &str, api: SocketAddr) -> (Child, PathBuf) {
    let directory = scratch_directory();
    let (child, _) = spawn_config(&directory, &with_api(config, api), Stdio::piped());
    (child, directory)
}

/// Starts `bgpd` as AS 65001 without a BGP listener, `body` after `[global]`.
async fn start(body: &str) -> (Daemon, BgpServiceClient<Channel>) {
    start_with(&format!("{GLOBAL}{body}")).await
}

/// Starts `bgpd` and waits (with a deadline) until its API answers.
async fn start_with(config: &str) -> (Daemon, BgpServiceClient<Channel>) {
    start_daemon(|_, api| with_api(config, api), bgp_ready).await
}

#[tokio::test]
async fn get_info_reports_the_running_daemon() {
    let neighbors = "[[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\n";
    let (daemon, mut client) = start(neighbors).await;
    let info = client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo").into_inner();
    assert_eq!(info.asn, 65001);
    assert_eq!(info.router_id, "192.0.2.1");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.peer_count, 1);
    assert_eq!(info.established_peer_count, 0);
    assert_eq!(info.path_count, 0);
    assert_eq!(info.owner_count, 0);
    assert_eq!(info.listen, vec![daemon.api.to_string()]);
}

#[tokio::test]
async fn static_routes_count_as_paths() {
    let routes = "[[routes]]\nprefix = \"198.51.100.0/24\"\nnext_hop = \"192.0.2.1\"\n\
                  [[routes]]\nprefix = \"2001:db8::/48\"\nnext_hop = \"2001:db8::1\"\n";
    let (_daemon, mut client) = start(routes).await;
    let info = client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo").into_inner();
    assert_eq!(info.path_count, 2);
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let (daemon, _client) = start("").await;
    let channel = Channel::from_shared(format!("http://{}", daemon.api))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", ironlb_proto::BGP_SERVICE_NAME] {
        let request = tonic_health::pb::HealthCheckRequest { service: service.to_string() };
        let answer = health.check(request).await.expect("health check").into_inner();
        assert_eq!(
            answer.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "service {service:?}"
        );
    }

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("reflection")
        .into_inner();
    let answer = answers.message().await.expect("an answer").expect("a message");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&ironlb_proto::BGP_SERVICE_NAME), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

#[tokio::test]
async fn sigterm_stops_the_daemon_cleanly() {
    let (mut daemon, _client) = start("").await;
    let status = terminate(&mut daemon).await;
    assert!(status.success(), "bgpd exited with {status}");
}

#[test]
fn api_bind_failure_is_a_startup_error() {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let api = taken.local_addr().expect("address");
    let (child, directory) = spawn(GLOBAL, api);
    let output = child.wait_with_output().expect("bgpd exits");
    let _ = std::fs::remove_dir_all(&directory);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot start the gRPC API"), "stderr: {stderr}");
    assert!(stderr.contains(&api.to_string()), "stderr: {stderr}");
}

fn path(prefix: &str) -> v1::Path {
    v1::Path { prefix: prefix.to_string(), ..v1::Path::default() }
}

fn set(owner: &str, prefixes: &[&str]) -> v1::SetPathsRequest {
    v1::SetPathsRequest {
        owner: owner.to_string(),
        paths: prefixes.iter().map(|p| path(p)).collect(),
        grace_time_seconds: None,
    }
}

async fn path_count(client: &mut BgpServiceClient<Channel>) -> u64 {
    client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo").into_inner().path_count
}

#[tokio::test]
async fn set_paths_applies_the_difference_and_is_idempotent() {
    let (_daemon, mut client) = start("").await;
    let first = ["198.51.100.1/32", "198.51.100.2/32", "2001:db8::1/128"];
    let answer = client.set_paths(set("lb", &first)).await.expect("SetPaths").into_inner();
    assert_eq!(answer.added, vec!["198.51.100.1/32", "198.51.100.2/32", "2001:db8::1/128"]);
    assert!(answer.changed.is_empty() && answer.withdrawn.is_empty());
    assert_eq!(path_count(&mut client).await, 3);

    let again = client.set_paths(set("lb", &first)).await.expect("SetPaths").into_inner();
    assert_eq!(again, v1::SetPathsResponse::default(), "re-setting the same set changes nothing");
    assert_eq!(path_count(&mut client).await, 3);

    let mut changed = set("lb", &["198.51.100.1/32"]);
    changed.paths[0].med = Some(10);
    let shrunk = client.set_paths(changed).await.expect("SetPaths").into_inner();
    assert!(shrunk.added.is_empty());
    assert_eq!(shrunk.changed, vec!["198.51.100.1/32"]);
    assert_eq!(shrunk.withdrawn, vec!["198.51.100.2/32", "2001:db8::1/128"]);
    assert_eq!(path_count(&mut client).await, 1);

    let info = client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo").into_inner();
    assert_eq!(info.owner_count, 1);
    let owners = client.list_owners(v1::ListOwnersRequest {}).await.expect("ListOwners");
    let owners = owners.into_inner().owners;
    assert_eq!(owners.len(), 1);
    assert_eq!((owners[0].name.as_str(), owners[0].path_count), ("lb", 1));
    assert_eq!(owners[0].state, v1::OwnerState::Unleased as i32);
    let emptied = client.set_paths(set("lb", &[])).await.expect("SetPaths").into_inner();
    assert_eq!(emptied.withdrawn, vec!["198.51.100.1/32"]);
    assert_eq!(path_count(&mut client).await, 0);
}

#[tokio::test]
async fn owners_hold_their_own_paths() {
    let (_daemon, mut client) = start("").await;
    client.set_paths(set("a", &["198.51.100.1/32"])).await.expect("SetPaths a");
    client.set_paths(set("b", &["198.51.100.1/32", "198.51.100.2/32"])).await.expect("SetPaths b");
    assert_eq!(path_count(&mut client).await, 2);
    let emptied = client.set_paths(set("b", &[])).await.expect("SetPaths b").into_inner();
    assert_eq!(emptied.withdrawn.len(), 2);
    // Owner a still holds its path: the prefix stays in the Loc-RIB.
    assert_eq!(path_count(&mut client).await, 1);
}

#[tokio::test]
async fn set_paths_rejects_host_bits_naming_field_and_value() {
    let (_daemon, mut client) = start("").await;
    let status = client
        .set_paths(set("lb", &["198.51.100.0/32", "198.51.100.1/24"]))
        .await
        .expect_err("host bits are refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("paths[1].prefix"), "{}", status.message());
    assert!(status.message().contains("198.51.100.1/24"), "{}", status.message());
    // Nothing of a refused request is applied.
    assert_eq!(path_count(&mut client).await, 0);

    let status = client.set_paths(set("", &[])).await.expect_err("an owner is required");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);

    let mut restricted = set("lb", &["198.51.100.0/24"]);
    restricted.paths[0].peers = vec!["192.0.2.2".to_string()];
    let status = client.set_paths(restricted).await.expect_err("192.0.2.2 is not a peer");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert!(status.message().contains("paths[0].peers[0]"), "{}", status.message());
}

#[tokio::test]
async fn add_and_delete_paths_answer_per_path() {
    let (_daemon, mut client) = start("").await;
    let request = v1::AddPathsRequest {
        owner: "lb".to_string(),
        paths: vec![path("198.51.100.1/32"), path("198.51.100.1/24"), path("2001:db8::/64")],
    };
    let results = client.add_paths(request.clone()).await.expect("AddPaths").into_inner().results;
    let outcomes: Vec<i32> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            v1::PathOutcome::Added as i32,
            v1::PathOutcome::Rejected as i32,
            v1::PathOutcome::Added as i32
        ]
    );
    assert_eq!(results[1].code, tonic::Code::InvalidArgument as i32);
    assert!(results[1].message.contains("198.51.100.1/24"), "{}", results[1].message);
    assert_eq!(path_count(&mut client).await, 2);

    let again = client.add_paths(request).await.expect("AddPaths").into_inner().results;
    assert_eq!(again[0].outcome, v1::PathOutcome::Unchanged as i32);

    let delete = v1::DeletePathsRequest {
        owner: "lb".to_string(),
        prefixes: vec!["198.51.100.1/32".into(), "203.0.113.0/24".into(), "nonsense".into()],
    };
    let results = client.delete_paths(delete).await.expect("DeletePaths").into_inner().results;
    let outcomes: Vec<i32> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            v1::PathOutcome::Withdrawn as i32,
            v1::PathOutcome::NotFound as i32,
            v1::PathOutcome::Rejected as i32
        ]
    );
    assert_eq!(path_count(&mut client).await, 1);
}

/// Polls `condition` on GetInfo until it holds, with a deadline.
async fn wait_for_info(
    client: &mut BgpServiceClient<Channel>,
    what: &str,
    condition: impl Fn(&v1::GetInfoResponse) -> bool,
) {
    let deadline = Instant::now() + READY_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        let info = client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo").into_inner();
        if condition(&info) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} not seen within {READY_DEADLINE:?}: {info:?}");
    }
}

/// End to end: paths set through the API of one bgpd reach another bgpd over
/// BGP, and leave it when the owner shrinks its set.
#[tokio::test]
async fn api_paths_are_exported_to_peers() {
    let bgp_port = free_port(Ipv4Addr::LOCALHOST);
    let announcer = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {bgp_port}\n\
         listen_addresses = [\"127.0.0.1\"]\n\
         [[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\npassive = true\n\
         export_policy = [\"accept-all\"]\n"
    );
    // eBGP needs a policy each way (RFC 8212): the announcer's export, the
    // receiver's import.
    let receiver = format!(
        "[global]\nasn = 65002\nrouter_id = \"192.0.2.2\"\nlisten_port = 0\n\
         [[neighbors]]\naddress = \"127.0.0.1\"\nremote_asn = 65001\nport = {bgp_port}\n\
         local_address = \"127.0.0.2\"\nimport_policy = [\"accept-all\"]\n"
    );
    let (_a, mut announcer) = start_with(&announcer).await;
    let (_b, mut receiver) = start_with(&receiver).await;
    wait_for_info(&mut announcer, "the session", |info| info.established_peer_count == 1).await;

    let paths = ["198.51.100.1/32", "198.51.100.2/32"];
    announcer.set_paths(set("lb", &paths)).await.expect("SetPaths");
    wait_for_info(&mut receiver, "two learned paths", |info| info.path_count == 2).await;

    let learned = list(&mut receiver, v1::ListPathsRequest::default()).await.expect("ListPaths");
    let peer =
        Some(v1::PathSource { source: Some(v1::path_source::Source::Peer("127.0.0.1".into())) });
    assert!(learned.iter().all(|l| l.source == peer), "{learned:?}");
    let adj_in = v1::ListPathsRequest {
        table: v1::Table::AdjRibIn as i32,
        peer: "127.0.0.1".into(),
        ..Default::default()
    };
    assert_eq!(prefixes(&list(&mut receiver, adj_in).await.expect("Adj-RIB-In")), paths);

    let request = v1::GetPeerRequest { address: "127.0.0.1".to_string() };
    let peer = receiver.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("peer");
    let status = peer.status.expect("status");
    assert_eq!(status.state, v1::SessionState::Established as i32);
    assert_eq!(status.remote_asn, 65001);
    assert_eq!(status.remote_router_id, "192.0.2.1");
    assert!(status.hold_time_seconds > 0);
    assert!(status.families.contains(&(v1::Family::Ipv4Unicast as i32)));
    let v4 = status.prefixes.iter().find(|c| c.family == v1::Family::Ipv4Unicast as i32);
    assert_eq!(v4.map(|c| c.accepted), Some(2));

    announcer.set_paths(set("lb", &paths[..1])).await.expect("SetPaths");
    wait_for_info(&mut receiver, "the withdrawal", |info| info.path_count == 1).await;
}

async fn list(
    client: &mut BgpServiceClient<Channel>,
    request: v1::ListPathsRequest,
) -> Result<Vec<v1::ListPathsResponse>, tonic::Status> {
    let mut stream = client.list_paths(request).await?.into_inner();
    let mut paths = Vec::new();
    while let Some(message) = stream.message().await? {
        paths.push(message);
    }
    Ok(paths)
}

fn prefixes(listed: &[v1::ListPathsResponse]) -> Vec<String> {
    listed.iter().map(|l| l.path.as_ref().map(|p| p.prefix.clone()).unwrap_or_default()).collect()
}

#[tokio::test]
async fn list_paths_filters_the_loc_rib() {
    let routes = "[[routes]]\nprefix = \"203.0.113.0/24\"\nnext_hop = \"192.0.2.1\"\n";
    let (_daemon, mut client) = start(routes).await;
    let mut wanted = set("lb", &["198.51.100.1/32", "198.51.100.2/32", "2001:db8::/64"]);
    wanted.paths[0].med = Some(7);
    client.set_paths(wanted).await.expect("SetPaths");
    client.set_paths(set("other", &["198.51.100.1/32"])).await.expect("SetPaths other");

    let all = list(&mut client, v1::ListPathsRequest::default()).await.expect("ListPaths");
    // Two owners hold 198.51.100.1/32: both paths are listed, one best.
    assert_eq!(all.len(), 5, "{all:?}");
    let config = all.iter().find(|l| l.path.as_ref().is_some_and(|p| p.prefix == "203.0.113.0/24"));
    let config = config.expect("the static route is listed");
    assert_eq!(
        config.source,
        Some(v1::PathSource { source: Some(v1::path_source::Source::Config(true)) })
    );
    assert!(config.best);

    let v6 = v1::ListPathsRequest { family: v1::Family::Ipv6Unicast as i32, ..Default::default() };
    assert_eq!(prefixes(&list(&mut client, v6).await.expect("v6")), vec!["2001:db8::/64"]);

    let exact = v1::ListPathsRequest {
        prefix: "198.51.100.1/32".to_string(),
        best_only: true,
        ..Default::default()
    };
    let best = list(&mut client, exact).await.expect("exact");
    assert_eq!(prefixes(&best), vec!["198.51.100.1/32"]);
    assert!(best[0].best);

    let longer = v1::ListPathsRequest {
        prefix: "198.51.100.0/24".to_string(),
        r#match: v1::PrefixMatch::Longer as i32,
        owner: "lb".to_string(),
        ..Default::default()
    };
    let owned = list(&mut client, longer).await.expect("longer");
    assert_eq!(prefixes(&owned), vec!["198.51.100.1/32", "198.51.100.2/32"]);
    let owner = Some(v1::PathSource { source: Some(v1::path_source::Source::Owner("lb".into())) });
    assert!(owned.iter().all(|l| l.source == owner));
    assert_eq!(owned[0].path.as_ref().and_then(|p| p.med), Some(7));

    let nobody = v1::ListPathsRequest { owner: "nobody".to_string(), ..Default::default() };
    assert!(list(&mut client, nobody).await.expect("unknown owner").is_empty());
}

#[tokio::test]
async fn list_paths_rejects_bad_queries() {
    let (_daemon, mut client) = start("").await;
    let host_bits = v1::ListPathsRequest { prefix: "198.51.100.1/24".into(), ..Default::default() };
    let status = list(&mut client, host_bits).await.expect_err("host bits");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("198.51.100.1/24"), "{}", status.message());

    let unknown = v1::ListPathsRequest {
        table: v1::Table::AdjRibIn as i32,
        peer: "192.0.2.99".into(),
        ..Default::default()
    };
    let status = list(&mut client, unknown).await.expect_err("unknown peer");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert!(status.message().contains("192.0.2.99"), "{}", status.message());
}

#[tokio::test]
async fn peers_are_listed_with_config_and_state() {
    let neighbors = "[[neighbors]]\naddress = \"127.0.0.3\"\nremote_asn = 65003\n\
                      [[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\nenabled = false\n";
    let (_daemon, mut client) = start(neighbors).await;
    let peers = client.list_peers(v1::ListPeersRequest {}).await.expect("ListPeers").into_inner();
    let addresses: Vec<&str> =
        peers.peers.iter().filter_map(|p| p.config.as_ref()).map(|c| c.address.as_str()).collect();
    assert_eq!(addresses, vec!["127.0.0.2", "127.0.0.3"]);

    let request = v1::GetPeerRequest { address: "127.0.0.2".to_string() };
    let peer = client.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("peer");
    let config = peer.config.expect("config");
    assert_eq!(config.remote_asn, 65002);
    assert!(config.disabled);
    let status = peer.status.expect("status");
    assert!(status.admin_down);
    assert_ne!(status.state, v1::SessionState::Established as i32);
    assert_eq!(status.hold_time_seconds, 0, "nothing negotiated yet");

    let unknown = v1::GetPeerRequest { address: "192.0.2.99".to_string() };
    let status = client.get_peer(unknown).await.expect_err("unknown peer");
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert!(status.message().contains("192.0.2.99"), "{}", status.message());
    let invalid = v1::GetPeerRequest { address: "not-an-address".to_string() };
    let status = client.get_peer(invalid).await.expect_err("invalid address");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn the_api_serves_on_a_unix_socket() {
    let directory = scratch_directory();
    let socket = directory.join("bgpd.sock");
    let listen = format!("unix:{}", socket.display());
    let text = format!("{GLOBAL}[api]\nlisten = \"{listen}\"\n");
    let (child, config) = spawn_config(&directory, &text, Stdio::null());
    // No TCP address: `ready` below dials the socket itself.
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut daemon = Daemon { child, directory, config, api };
    let info = wait_ready(&mut daemon, |_| async {
        let mut client = BgpServiceClient::connect(listen.clone()).await.ok()?;
        Some(client.get_info(v1::GetInfoRequest {}).await.ok()?.into_inner())
    })
    .await;
    assert_eq!(info.listen, vec![listen]);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&socket).expect("socket exists").permissions(),
    );
    assert_eq!(mode & 0o777, 0o660);
}
