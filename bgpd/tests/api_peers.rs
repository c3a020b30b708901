//! The peer RPCs of the gRPC API against real `bgpd` processes: AddPeer,
//! UpdatePeer, DeletePeer, EnablePeer, DisablePeer, ResetPeer, GetPeer and
//! ListPeers with their error cases, per-peer paths and the Adj-RIB-Out.
//! Sessions run between two daemons on loopback (127.0.0.1 and 127.0.0.2),
//! so no root and no other BGP speaker are needed.

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use support::*;
use tonic::transport::Channel;

/// Sessions on loopback come up in well under a second; this bounds a hang.
const CONVERGE_DEADLINE: Duration = Duration::from_secs(30);

type Client = BgpServiceClient<Channel>;

/// Starts `bgpd` with `config` and waits (with a deadline) until its API answers.
async fn start_with(config: &str) -> (Daemon, Client) {
    start_daemon(|_, api| with_api(config, api), bgp_ready).await
}

async fn start(body: &str) -> (Daemon, Client) {
    start_with(&format!("{GLOBAL}{body}")).await
}

/// Polls `probe` until it returns `Some`, failing after [`CONVERGE_DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + CONVERGE_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(50));
    loop {
        interval.tick().await;
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {CONVERGE_DEADLINE:?}: {what}");
    }
}

fn peer_config(address: &str, remote_asn: u32) -> v1::PeerConfig {
    v1::PeerConfig { address: address.to_string(), remote_asn, ..v1::PeerConfig::default() }
}

fn add(config: v1::PeerConfig) -> v1::AddPeerRequest {
    v1::AddPeerRequest { peer: Some(config) }
}

async fn get_peer(client: &mut Client, address: &str) -> Result<v1::Peer, tonic::Status> {
    let request = v1::GetPeerRequest { address: address.to_string() };
    Ok(client.get_peer(request).await?.into_inner().peer.expect("a peer"))
}

fn status(peer: &v1::Peer) -> &v1::PeerStatus {
    peer.status.as_ref().expect("status")
}

fn assert_code<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    names: &[&str],
) {
    let status = result.expect_err("the request is refused");
    assert_eq!(status.code(), code, "{}", status.message());
    for name in names {
        assert!(status.message().contains(name), "{:?} lacks {name:?}", status.message());
    }
}

#[tokio::test]
async fn add_get_list_delete_a_peer() {
    let (_daemon, mut client) = start("").await;
    let config = v1::PeerConfig {
        description: "edge router".to_string(),
        disabled: true,
        ..peer_config("192.0.2.2", 65002)
    };
    let added = client.add_peer(add(config)).await.expect("AddPeer").into_inner();
    let peer = added.peer.expect("the added peer");
    let shown = peer.config.as_ref().expect("config");
    assert_eq!(shown.address, "192.0.2.2");
    assert_eq!(shown.remote_asn, 65002);
    assert_eq!(shown.port, 179, "defaults are filled in");
    assert_eq!(shown.hold_time_seconds, Some(90));
    assert_eq!(shown.description, "edge router");
    assert!(status(&peer).admin_down);

    let listed = client.list_peers(v1::ListPeersRequest {}).await.expect("ListPeers");
    let addresses: Vec<String> = listed
        .into_inner()
        .peers
        .iter()
        .map(|p| p.config.as_ref().expect("config").address.clone())
        .collect();
    assert_eq!(addresses, vec!["192.0.2.2"]);
    assert_eq!(get_peer(&mut client, "192.0.2.2").await.expect("GetPeer"), peer);

    let duplicate = client.add_peer(add(peer_config("192.0.2.2", 65003))).await;
    assert_code(duplicate, tonic::Code::AlreadyExists, &["peer.address", "192.0.2.2"]);

    client
        .delete_peer(v1::DeletePeerRequest { address: "192.0.2.2".to_string() })
        .await
        .expect("DeletePeer");
    assert_code(get_peer(&mut client, "192.0.2.2").await, tonic::Code::NotFound, &["192.0.2.2"]);
    let again =
        client.delete_peer(v1::DeletePeerRequest { address: "192.0.2.2".to_string() }).await;
    assert_code(again, tonic::Code::NotFound, &["address", "192.0.2.2"]);
    let info = client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo").into_inner();
    assert_eq!(info.peer_count, 0);
}

#[tokio::test]
async fn policies_are_checked_against_the_config_and_read_back() {
    let (_daemon, mut client) = start("").await;
    let unknown = v1::PeerConfig {
        export_policy: vec!["accept-all".to_string(), "nope".to_string()],
        ..peer_config("192.0.2.2", 65002)
    };
    let result = client.add_peer(add(unknown)).await;
    assert_code(result, tonic::Code::InvalidArgument, &["peer.export_policy[1]", "nope"]);
    let known = v1::PeerConfig {
        import_policy: vec!["reject-all".to_string()],
        export_policy: vec!["accept-all".to_string()],
        ..peer_config("192.0.2.2", 65002)
    };
    client.add_peer(add(known)).await.expect("AddPeer");
    let config = get_peer(&mut client, "192.0.2.2").await.expect("GetPeer").config.expect("config");
    assert_eq!(config.import_policy, ["reject-all"]);
    assert_eq!(config.export_policy, ["accept-all"]);
    // Chains given: RFC 8212 blocks nothing.
    let peer = get_peer(&mut client, "192.0.2.2").await.expect("GetPeer");
    assert_eq!(status(&peer).policy, Some(v1::PeerPolicyStatus::default()));
    // An eBGP peer without chains: GetPeer says RFC 8212 blocks both ways;
    // an iBGP one: nothing.
    client.add_peer(add(peer_config("192.0.2.3", 65002))).await.expect("AddPeer");
    let bare = get_peer(&mut client, "192.0.2.3").await.expect("GetPeer");
    let policy = status(&bare).policy.expect("policy status");
    assert!(policy.import_blocked && policy.export_blocked, "{policy:?}");
    client.add_peer(add(peer_config("192.0.2.4", 65001))).await.expect("AddPeer");
    let internal = get_peer(&mut client, "192.0.2.4").await.expect("GetPeer");
    let policy = status(&internal).policy.expect("policy status");
    assert!(!policy.import_blocked && !policy.export_blocked, "{policy:?}");
}

#[tokio::test]
async fn add_peer_refuses_bad_settings_naming_field_and_value() {
    let (_daemon, mut client) = start("").await;
    let result = client.add_peer(v1::AddPeerRequest { peer: None }).await;
    assert_code(result, tonic::Code::InvalidArgument, &["peer"]);
    let result = client.add_peer(add(peer_config("192.0.2.2", 0))).await;
    assert_code(result, tonic::Code::InvalidArgument, &["peer.remote_asn", "0"]);
    let result = client.add_peer(add(peer_config("192.0.2.300", 65002))).await;
    assert_code(result, tonic::Code::InvalidArgument, &["peer.address", "192.0.2.300"]);
    let hold = v1::PeerConfig { hold_time_seconds: Some(2), ..peer_config("192.0.2.2", 65002) };
    assert_code(
        client.add_peer(add(hold)).await,
        tonic::Code::InvalidArgument,
        &["peer.hold_time_seconds", "2"],
    );
    let local = v1::PeerConfig {
        local_address: "2001:db8::1".to_string(),
        ..peer_config("192.0.2.2", 65002)
    };
    assert_code(
        client.add_peer(add(local)).await,
        tonic::Code::InvalidArgument,
        &["peer.local_address", "2001:db8::1"],
    );
    // Prefix limits are supported now (this was UNIMPLEMENTED); a limit on a
    // family the peer does not negotiate is refused as the config file does.
    let limit = v1::PeerConfig {
        max_prefix: Some(v1::MaxPrefixConfig { ipv6_unicast: 100, ..Default::default() }),
        ..peer_config("192.0.2.2", 65002)
    };
    assert_code(
        client.add_peer(add(limit)).await,
        tonic::Code::InvalidArgument,
        &["peer.max_prefix.ipv6_unicast", "100", "ipv6-unicast"],
    );
    // Nothing of the refused requests was configured.
    let listed = client.list_peers(v1::ListPeersRequest {}).await.expect("ListPeers");
    assert!(listed.into_inner().peers.is_empty());
}

#[tokio::test]
async fn update_peer_says_whether_the_session_was_reset() {
    let (_daemon, mut client) = start("").await;
    client.add_peer(add(peer_config("192.0.2.2", 65002))).await.expect("AddPeer");
    let described = v1::PeerConfig {
        description: "now described".to_string(),
        ..peer_config("192.0.2.2", 65002)
    };
    let answer = client
        .update_peer(v1::UpdatePeerRequest { peer: Some(described.clone()) })
        .await
        .expect("UpdatePeer")
        .into_inner();
    assert!(!answer.session_reset, "a description needs no new session");
    let shown = answer.peer.expect("peer").config.expect("config");
    assert_eq!(shown.description, "now described");

    let same = client
        .update_peer(v1::UpdatePeerRequest { peer: Some(described.clone()) })
        .await
        .expect("UpdatePeer")
        .into_inner();
    assert!(!same.session_reset);

    let hold = v1::PeerConfig { hold_time_seconds: Some(30), ..described };
    let answer = client
        .update_peer(v1::UpdatePeerRequest { peer: Some(hold) })
        .await
        .expect("UpdatePeer")
        .into_inner();
    assert!(answer.session_reset, "the hold time is in the OPEN");
    assert_eq!(answer.peer.expect("peer").config.expect("config").hold_time_seconds, Some(30));

    let unknown = client
        .update_peer(v1::UpdatePeerRequest { peer: Some(peer_config("192.0.2.9", 65002)) })
        .await;
    assert_code(unknown, tonic::Code::NotFound, &["192.0.2.9"]);
}

#[tokio::test]
async fn disable_and_enable_a_peer() {
    let (_daemon, mut client) = start("").await;
    client.add_peer(add(peer_config("192.0.2.2", 65002))).await.expect("AddPeer");
    let request = v1::DisablePeerRequest {
        address: "192.0.2.2".to_string(),
        message: "maintenance until 04:00".to_string(),
    };
    client.disable_peer(request).await.expect("DisablePeer");
    let peer = get_peer(&mut client, "192.0.2.2").await.expect("GetPeer");
    assert!(status(&peer).admin_down);
    assert_eq!(status(&peer).admin_down_message, "maintenance until 04:00");
    assert!(peer.config.expect("config").disabled);

    client
        .enable_peer(v1::EnablePeerRequest { address: "192.0.2.2".to_string() })
        .await
        .expect("EnablePeer");
    let peer = get_peer(&mut client, "192.0.2.2").await.expect("GetPeer");
    assert!(!status(&peer).admin_down);
    assert!(status(&peer).admin_down_message.is_empty());

    let long =
        v1::DisablePeerRequest { address: "192.0.2.2".to_string(), message: "x".repeat(256) };
    assert_code(client.disable_peer(long).await, tonic::Code::InvalidArgument, &["message", "256"]);
    let unknown =
        v1::DisablePeerRequest { address: "192.0.2.9".to_string(), message: String::new() };
    assert_code(client.disable_peer(unknown).await, tonic::Code::NotFound, &["192.0.2.9"]);
    let unknown = v1::EnablePeerRequest { address: "192.0.2.9".to_string() };
    assert_code(client.enable_peer(unknown).await, tonic::Code::NotFound, &["192.0.2.9"]);
    let bad = v1::EnablePeerRequest { address: "not-an-address".to_string() };
    assert_code(client.enable_peer(bad).await, tonic::Code::InvalidArgument, &["address"]);
}

fn reset(address: &str, kind: v1::ResetKind) -> v1::ResetPeerRequest {
    v1::ResetPeerRequest { address: address.to_string(), kind: kind as i32, ..Default::default() }
}

#[tokio::test]
async fn reset_peer_errors() {
    let (_daemon, mut client) = start("").await;
    client.add_peer(add(peer_config("192.0.2.2", 65002))).await.expect("AddPeer");
    let unknown = client.reset_peer(reset("192.0.2.9", v1::ResetKind::Hard)).await;
    assert_code(unknown, tonic::Code::NotFound, &["192.0.2.9"]);
    let unspecified = client.reset_peer(reset("192.0.2.2", v1::ResetKind::Unspecified)).await;
    assert_code(unspecified, tonic::Code::InvalidArgument, &["kind"]);
    let down = client.reset_peer(reset("192.0.2.2", v1::ResetKind::SoftIn)).await;
    assert_code(down, tonic::Code::FailedPrecondition, &["192.0.2.2", "Established"]);
    client.reset_peer(reset("192.0.2.2", v1::ResetKind::Hard)).await.expect("a hard reset");
}

#[tokio::test]
async fn api_peers_survive_a_reload_and_the_file_wins_for_its_own_peers() {
    let config = format!("{GLOBAL}[[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65003\n");
    let (daemon, mut client) = start_with(&config).await;
    client.add_peer(add(peer_config("192.0.2.2", 65002))).await.expect("AddPeer");
    // A config-file peer deleted through the API comes back on reload.
    client
        .delete_peer(v1::DeletePeerRequest { address: "192.0.2.3".to_string() })
        .await
        .expect("DeletePeer of a config peer");
    // The file now describes its peer (so the reload is observable) and also
    // names the API peer's address: that entry is ignored.
    let path = daemon.directory.join("bgpd.toml");
    let text = std::fs::read_to_string(&path).expect("read config");
    let text = text.replacen(
        "remote_asn = 65003\n",
        "remote_asn = 65003\ndescription = \"from the file\"\n",
        1,
    );
    let extra = "[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65099\n";
    std::fs::write(&path, text.replacen("[api]", &format!("{extra}[api]"), 1)).expect("write");
    let pid = i32::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let back = eventually("the reload brings the config peer back", || async {
        state_of(&client, "192.0.2.3").await
    })
    .await;
    assert_eq!(back.config.expect("config").description, "from the file");
    let api_peer = get_peer(&mut client, "192.0.2.2").await.expect("the API peer stays");
    assert_eq!(api_peer.config.expect("config").remote_asn, 65002, "the file's entry is ignored");
    let listed = client.list_peers(v1::ListPeersRequest {}).await.expect("ListPeers");
    assert_eq!(listed.into_inner().peers.len(), 2);
}

/// Daemon A (AS 65001, 127.0.0.1) with the API under test, and daemon B
/// (AS 65002, 127.0.0.2) configured with A as a passive neighbour. Returns
/// both and B's BGP port, where A must connect.
async fn two_daemons() -> ((Daemon, Client), (Daemon, Client), u16) {
    let a_port = free_port(Ipv4Addr::LOCALHOST);
    let b_address = Ipv4Addr::new(127, 0, 0, 2);
    let b_port = free_port(b_address);
    let a = start_with(&format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {a_port}\n\
         listen_addresses = [\"127.0.0.1\"]\n"
    ))
    .await;
    let b = start_with(&format!(
        "[global]\nasn = 65002\nrouter_id = \"192.0.2.2\"\nlisten_port = {b_port}\n\
         listen_addresses = [\"127.0.0.2\"]\n\
         [[neighbors]]\naddress = \"127.0.0.1\"\nremote_asn = 65001\nport = {a_port}\n\
         local_address = \"127.0.0.2\"\npassive = true\n\
         import_policy = [\"accept-all\"]\nexport_policy = [\"accept-all\"]\n"
    ))
    .await;
    (a, b, b_port)
}

async fn state_of(client: &Client, address: &str) -> Option<v1::Peer> {
    let mut client = client.clone();
    get_peer(&mut client, address).await.ok()
}

async fn until_established(client: &Client, address: &str) -> v1::Peer {
    eventually(&format!("{address} Established"), || async {
        state_of(client, address)
            .await
            .filter(|p| status(p).state == v1::SessionState::Established as i32)
    })
    .await
}

async fn adj_rib(client: &Client, table: v1::Table, peer: &str) -> Vec<String> {
    let mut client = client.clone();
    let request = v1::ListPathsRequest {
        table: table as i32,
        peer: peer.to_string(),
        ..v1::ListPathsRequest::default()
    };
    let Ok(stream) = client.list_paths(request).await else { return Vec::new() };
    let mut stream = stream.into_inner();
    let mut prefixes = Vec::new();
    while let Ok(Some(answer)) = stream.message().await {
        prefixes.push(answer.path.expect("path").prefix);
    }
    prefixes.sort();
    prefixes
}

#[tokio::test]
async fn a_session_between_two_daemons_is_managed_through_the_api() {
    let ((_a, mut a), (_b, b), b_port) = two_daemons().await;
    let config = v1::PeerConfig {
        port: u32::from(b_port),
        local_address: "127.0.0.1".to_string(),
        connect_retry_seconds: Some(1),
        // eBGP: routes cross only with a policy (RFC 8212).
        import_policy: vec!["accept-all".to_string()],
        export_policy: vec!["accept-all".to_string()],
        ..peer_config("127.0.0.2", 65002)
    };
    a.add_peer(add(config)).await.expect("AddPeer");
    let peer = until_established(&a, "127.0.0.2").await;
    let st = status(&peer);
    assert_eq!(st.remote_asn, 65002);
    assert_eq!(st.remote_router_id, "192.0.2.2");
    let remote = st.remote_capabilities.as_ref().expect("remote capabilities");
    assert!(remote.route_refresh);
    assert_eq!(remote.four_octet_asn, 65002);
    assert!(st.local_capabilities.as_ref().expect("local capabilities").route_refresh);
    let received = st.messages_received.expect("counters");
    assert_eq!(received.open, 1);
    assert!(received.total >= 2);
    assert_eq!(st.messages_sent.expect("counters").open, 1);

    // Per-peer paths: one for B, one for a second (disabled) peer only.
    let other = v1::PeerConfig { disabled: true, ..peer_config("127.0.0.3", 65003) };
    a.add_peer(add(other)).await.expect("AddPeer 127.0.0.3");
    let mut for_b = v1::Path { prefix: "198.51.100.1/32".to_string(), ..v1::Path::default() };
    for_b.peers = vec!["127.0.0.2".to_string()];
    let mut for_other = v1::Path { prefix: "198.51.100.2/32".to_string(), ..v1::Path::default() };
    for_other.peers = vec!["127.0.0.3".to_string()];
    let everyone = v1::Path { prefix: "198.51.100.3/32".to_string(), ..v1::Path::default() };
    let request = v1::SetPathsRequest {
        owner: "lb".to_string(),
        paths: vec![for_b, for_other, everyone],
        grace_time_seconds: None,
    };
    a.set_paths(request).await.expect("SetPaths");
    let expected = vec!["198.51.100.1/32".to_string(), "198.51.100.3/32".to_string()];
    eventually("B holds the paths meant for it", || async {
        (adj_rib(&b, v1::Table::AdjRibIn, "127.0.0.1").await == expected).then_some(())
    })
    .await;
    assert_eq!(adj_rib(&a, v1::Table::AdjRibOut, "127.0.0.2").await, expected);
    let request = v1::ListPathsRequest {
        prefix: "198.51.100.1/32".to_string(),
        ..v1::ListPathsRequest::default()
    };
    let mut listed = a.list_paths(request).await.expect("ListPaths").into_inner();
    let shown = listed.message().await.expect("stream").expect("one path");
    assert_eq!(shown.path.expect("path").peers, vec!["127.0.0.2"]);
    let unknown = adj_rib(&a, v1::Table::AdjRibOut, "127.0.0.9").await;
    assert!(unknown.is_empty());
    let peer = state_of(&a, "127.0.0.2").await.expect("peer");
    let prefixes = &status(&peer).prefixes;
    assert_eq!(prefixes.len(), 1);
    assert_eq!(prefixes[0].advertised, 2);

    // Soft in: B receives a ROUTE-REFRESH.
    a.reset_peer(reset("127.0.0.2", v1::ResetKind::SoftIn)).await.expect("soft in");
    eventually("B counts a ROUTE-REFRESH", || async {
        let peer = state_of(&b, "127.0.0.1").await?;
        (status(&peer).messages_received?.route_refresh >= 1).then_some(())
    })
    .await;
    // Soft out: A sends its UPDATEs again.
    let before = status(&state_of(&a, "127.0.0.2").await.expect("peer"))
        .messages_sent
        .expect("counters")
        .update;
    a.reset_peer(reset("127.0.0.2", v1::ResetKind::SoftOut)).await.expect("soft out");
    eventually("A re-sends its table", || async {
        let peer = state_of(&a, "127.0.0.2").await?;
        (status(&peer).messages_sent?.update > before).then_some(())
    })
    .await;

    // Administrative shutdown with a message B records.
    let request = v1::DisablePeerRequest {
        address: "127.0.0.2".to_string(),
        message: "planned maintenance".to_string(),
    };
    a.disable_peer(request).await.expect("DisablePeer");
    let seen = eventually("B records the shutdown communication", || async {
        let peer = state_of(&b, "127.0.0.1").await?;
        status(&peer).last_notification_received.clone()
    })
    .await;
    assert_eq!((seen.code, seen.subcode), (6, 2));
    assert_eq!(seen.reason, "Administrative Shutdown");
    assert_eq!(seen.shutdown_message, "planned maintenance");
    let peer = state_of(&a, "127.0.0.2").await.expect("peer");
    let sent = status(&peer).last_notification_sent.clone().expect("sent");
    assert_eq!(sent.shutdown_message, "planned maintenance");
    assert_eq!(status(&peer).state, v1::SessionState::Idle as i32);

    a.enable_peer(v1::EnablePeerRequest { address: "127.0.0.2".to_string() })
        .await
        .expect("EnablePeer");
    until_established(&a, "127.0.0.2").await;

    // Hard reset: Cease / Administrative Reset with its message, then back up.
    let hard = v1::ResetPeerRequest {
        message: "new config".to_string(),
        ..reset("127.0.0.2", v1::ResetKind::Hard)
    };
    a.reset_peer(hard).await.expect("hard reset");
    let seen = eventually("B sees Administrative Reset", || async {
        let peer = state_of(&b, "127.0.0.1").await?;
        status(&peer).last_notification_received.clone().filter(|n| n.subcode == 4)
    })
    .await;
    assert_eq!(seen.shutdown_message, "new config");
    let peer = until_established(&a, "127.0.0.2").await;
    assert!(status(&peer).flaps >= 2);

    // Deleting the peer closes the session: B sees Peer De-configured.
    a.delete_peer(v1::DeletePeerRequest { address: "127.0.0.2".to_string() })
        .await
        .expect("DeletePeer");
    eventually("B sees Peer De-configured", || async {
        let peer = state_of(&b, "127.0.0.1").await?;
        let last = status(&peer).last_notification_received.clone()?;
        (last.subcode == 3).then_some(())
    })
    .await;
}
