//! Peers over an interface (BGP unnumbered) through the gRPC API and SIGHUP,
//! against a real `bgpd` process: AddPeer with `interface`, the peer named
//! `%IFNAME` by GetPeer, EnablePeer, DisablePeer, ResetPeer and DeletePeer,
//! one peer per interface, and the discovery thread ended by DeletePeer and
//! by a reload. The interfaces do not exist (the test runs on the host, which
//! it must not change): the peer is accepted and reported, its thread
//! retries; sessions over a real link are `interop-tests/tests/unnumbered.rs`.

mod support;

use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use support::*;
use tonic::Code;
use tonic::transport::Channel;

type Client = BgpServiceClient<Channel>;

/// A discovery thread notices it is stopped within a second.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Interface names no test machine has, short enough that the thread names
/// (`unnumbered-` and the name, cut to 15 bytes) tell them apart.
const MISSING: &str = "ilb8";
const MISSING_TOO: &str = "ilb9";

fn interface_peer(interface: &str) -> v1::PeerConfig {
    v1::PeerConfig {
        interface: interface.to_string(),
        remote_asn: 65002,
        ..v1::PeerConfig::default()
    }
}

async fn get(client: &mut Client, address: &str) -> Result<v1::Peer, tonic::Status> {
    let request = v1::GetPeerRequest { address: address.to_string() };
    Ok(client.get_peer(request).await?.into_inner().peer.expect("a peer"))
}

fn assert_code<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, names: &[&str]) {
    let status = result.expect_err("the request is refused");
    assert_eq!(status.code(), code, "{}", status.message());
    for name in names {
        assert!(status.message().contains(name), "{:?} lacks {name:?}", status.message());
    }
}

/// The discovery threads of `daemon` (named `unnumbered-IFNAME`, cut to the
/// kernel's 15 bytes).
fn discovery_threads(daemon: &Daemon) -> Vec<String> {
    let tasks = format!("/proc/{}/task", daemon.child.id());
    let Ok(entries) = std::fs::read_dir(tasks) else { return Vec::new() };
    entries
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .filter(|name| name.starts_with("unnumbered-"))
        .collect()
}

fn thread_name(interface: &str) -> String {
    let name: String = format!("unnumbered-{interface}").chars().take(15).collect();
    assert!(name.ends_with(interface), "{interface} is too long to tell threads apart");
    name
}

/// Waits until the discovery threads of `daemon` are `expected` (sorted).
async fn threads_become(daemon: &Daemon, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|i| thread_name(i)).collect();
    expected.sort();
    let deadline = Instant::now() + STOP_DEADLINE;
    loop {
        let mut threads = discovery_threads(daemon);
        threads.sort();
        if threads == expected {
            return;
        }
        assert!(Instant::now() < deadline, "discovery threads {threads:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_interface_peer_is_added_named_and_deleted_through_the_api() {
    let (daemon, mut client) = start_daemon(|_, api| with_api(GLOBAL, api), bgp_ready).await;
    threads_become(&daemon, &[]).await;

    let added = client.add_peer(v1::AddPeerRequest { peer: Some(interface_peer(MISSING)) }).await;
    let peer = added.expect("AddPeer").into_inner().peer.expect("the peer");
    let config = peer.config.clone().expect("config");
    assert_eq!((config.interface.as_str(), config.address.as_str()), (MISSING, "::"));
    let device_error = peer.status.clone().expect("status").device_error;
    assert!(device_error.contains(MISSING) && device_error.contains("not found"), "{device_error}");
    threads_become(&daemon, &[MISSING]).await;

    // Named by `%IFNAME` and listed.
    let name = format!("%{MISSING}");
    let got = get(&mut client, &name).await.expect("GetPeer %IFNAME");
    assert_eq!(got.config.expect("config").interface, MISSING);
    let listed = client.list_peers(v1::ListPeersRequest {}).await.expect("ListPeers");
    let listed: Vec<_> = listed.into_inner().peers;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].config.as_ref().expect("config").interface, MISSING);

    // One peer per interface; exactly one of interface and address.
    let again = client.add_peer(v1::AddPeerRequest { peer: Some(interface_peer(MISSING)) }).await;
    assert_code(again, Code::AlreadyExists, &["peer.interface", MISSING]);
    let both = v1::PeerConfig { address: "192.0.2.2".into(), ..interface_peer(MISSING_TOO) };
    let both = client.add_peer(v1::AddPeerRequest { peer: Some(both) }).await;
    assert_code(both, Code::InvalidArgument, &["peer.interface", "peer.address"]);
    let neither = v1::PeerConfig { remote_asn: 65002, ..v1::PeerConfig::default() };
    let neither = client.add_peer(v1::AddPeerRequest { peer: Some(neither) }).await;
    assert_code(neither, Code::InvalidArgument, &["peer.address is required"]);

    // Disable and enable hold for the sessions to come; no session to reset.
    let disable = v1::DisablePeerRequest { address: name.clone(), message: "maintenance".into() };
    client.disable_peer(disable).await.expect("DisablePeer %IFNAME");
    let disabled = get(&mut client, &name).await.expect("GetPeer");
    assert!(disabled.config.expect("config").disabled);
    client
        .enable_peer(v1::EnablePeerRequest { address: name.clone() })
        .await
        .expect("EnablePeer %IFNAME");
    let reset = v1::ResetPeerRequest {
        address: name.clone(),
        kind: v1::ResetKind::Hard as i32,
        ..Default::default()
    };
    assert_code(client.reset_peer(reset).await, Code::FailedPrecondition, &[&name]);

    // UpdatePeer by interface changes it; an unknown interface is NOT_FOUND.
    let update = v1::PeerConfig { hold_time_seconds: Some(9), ..interface_peer(MISSING) };
    let updated = client.update_peer(v1::UpdatePeerRequest { peer: Some(update) }).await;
    let updated = updated.expect("UpdatePeer").into_inner().peer.expect("peer");
    assert_eq!(updated.config.expect("config").hold_time_seconds, Some(9));
    let unknown =
        client.update_peer(v1::UpdatePeerRequest { peer: Some(interface_peer(MISSING_TOO)) }).await;
    assert_code(unknown, Code::NotFound, &[MISSING_TOO]);

    // DeletePeer ends the discovery thread.
    client
        .delete_peer(v1::DeletePeerRequest { address: name.clone() })
        .await
        .expect("DeletePeer %IFNAME");
    assert_code(get(&mut client, &name).await, Code::NotFound, &[&name]);
    let gone = client.delete_peer(v1::DeletePeerRequest { address: name.clone() }).await;
    assert_code(gone, Code::NotFound, &[&name]);
    threads_become(&daemon, &[]).await;
    let listed = client.list_peers(v1::ListPeersRequest {}).await.expect("ListPeers");
    assert!(listed.into_inner().peers.is_empty());
}

#[tokio::test]
async fn a_reload_changes_an_interface_neighbor_without_a_restart() {
    let neighbor = |interface: &str| {
        format!("[[neighbors]]\ninterface = \"{interface}\"\nremote_asn = 65002\n")
    };
    let (daemon, mut client) =
        start_daemon(|_, api| with_api(&format!("{GLOBAL}{}", neighbor(MISSING)), api), bgp_ready)
            .await;
    threads_become(&daemon, &[MISSING]).await;
    get(&mut client, &format!("%{MISSING}")).await.expect("the config file's interface peer");

    let text = std::fs::read_to_string(&daemon.config).expect("config");
    std::fs::write(&daemon.config, text.replace(MISSING, MISSING_TOO)).expect("rewrite config");
    let pid = i32::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    threads_become(&daemon, &[MISSING_TOO]).await;
    get(&mut client, &format!("%{MISSING_TOO}")).await.expect("the reloaded interface peer");
    assert_code(get(&mut client, &format!("%{MISSING}")).await, Code::NotFound, &[MISSING]);

    // An API interface peer survives a reload that does not name it; the
    // file's peer changes in the same reload (which shows it was applied).
    client
        .add_peer(v1::AddPeerRequest { peer: Some(interface_peer(MISSING)) })
        .await
        .expect("AddPeer");
    let text = std::fs::read_to_string(&daemon.config).expect("config");
    std::fs::write(&daemon.config, text.replace("65002", "65003")).expect("rewrite config");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let deadline = Instant::now() + STOP_DEADLINE;
    loop {
        let peer = get(&mut client, &format!("%{MISSING_TOO}")).await.expect("file peer");
        if peer.config.expect("config").remote_asn == 65003 {
            break;
        }
        assert!(Instant::now() < deadline, "the reload did not change the file's peer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    threads_become(&daemon, &[MISSING, MISSING_TOO]).await;
    let api_peer = get(&mut client, &format!("%{MISSING}")).await.expect("the API peer stays");
    assert_eq!(api_peer.config.expect("config").remote_asn, 65002);
}

#[tokio::test]
async fn a_path_is_restricted_to_a_peer_over_an_interface_by_percent_ifname() {
    let (_daemon, mut client) = start_daemon(|_, api| with_api(GLOBAL, api), bgp_ready).await;
    let path = |peer: &str| v1::Path {
        prefix: "198.51.100.1/32".into(),
        peers: vec![peer.to_string()],
        ..v1::Path::default()
    };
    let set = |peer: &str| v1::SetPathsRequest {
        owner: "lb".into(),
        paths: vec![path(peer)],
        grace_time_seconds: None,
    };
    let name = format!("%{MISSING}");
    // Unknown until the interface peer is added.
    assert_code(client.set_paths(set(&name)).await, Code::NotFound, &["paths[0].peers[0]", &name]);
    client
        .add_peer(v1::AddPeerRequest { peer: Some(interface_peer(MISSING)) })
        .await
        .expect("AddPeer");
    client.set_paths(set(&name)).await.expect("SetPaths to %IFNAME");
    let request = v1::ListPathsRequest {
        prefix: "198.51.100.1/32".to_string(),
        ..v1::ListPathsRequest::default()
    };
    let mut listed = client.list_paths(request).await.expect("ListPaths").into_inner();
    let shown = listed.message().await.expect("stream").expect("one path");
    assert_eq!(shown.path.expect("path").peers, vec![name.clone()]);
}

#[tokio::test]
async fn interface_peers_are_bounded() {
    let (_daemon, mut client) = start_daemon(|_, api| with_api(GLOBAL, api), bgp_ready).await;
    // bgpd's MAX_INTERFACE_NEIGHBORS.
    for i in 0..256 {
        let peer = interface_peer(&format!("i{i}"));
        client.add_peer(v1::AddPeerRequest { peer: Some(peer) }).await.expect("AddPeer");
    }
    let one_more = client.add_peer(v1::AddPeerRequest { peer: Some(interface_peer("i256")) }).await;
    assert_code(one_more, Code::ResourceExhausted, &["peer.interface", "256"]);
    // A slot frees with DeletePeer.
    client.delete_peer(v1::DeletePeerRequest { address: "%i0".into() }).await.expect("DeletePeer");
    client
        .add_peer(v1::AddPeerRequest { peer: Some(interface_peer("i256")) })
        .await
        .expect("AddPeer after a delete");
}
