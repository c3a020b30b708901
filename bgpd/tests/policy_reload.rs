//! Routing policy across a reload (issue #12): two `bgpd` processes on
//! loopback in an eBGP session; changing a chain in the file and sending
//! SIGHUP re-evaluates routes without resetting the session: the export side
//! at once, the import side by ROUTE-REFRESH, or from the routes kept as
//! received (soft reconfiguration inbound, also listed by ListPaths). UpdatePeer
//! turns soft reconfiguration on (a ROUTE-REFRESH fills the copy) and off.

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use support::*;
use tonic::transport::Channel;

type Client = BgpServiceClient<Channel>;

async fn start_with(config: &str) -> (Daemon, Client) {
    start_daemon(|_, api| with_api(config, api), bgp_ready).await
}

async fn info(client: &mut Client) -> v1::GetInfoResponse {
    client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo").into_inner()
}

async fn wait_for(
    client: &mut Client,
    what: &str,
    condition: impl Fn(&v1::GetInfoResponse) -> bool,
) {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        let info = info(client).await;
        if condition(&info) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} not seen within {READY_DEADLINE:?}: {info:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rewrites one line of `daemon`'s config file and sends it SIGHUP.
fn reload(daemon: &Daemon, from: &str, to: &str) {
    let text = std::fs::read_to_string(&daemon.config).expect("read config");
    assert!(text.contains(from), "{from:?} not in the config");
    std::fs::write(&daemon.config, text.replacen(from, to, 1)).expect("write config");
    let pid = i32::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

async fn flaps(client: &mut Client, address: &str) -> (i32, u64) {
    let request = v1::GetPeerRequest { address: address.to_string() };
    let peer = client.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("peer");
    let status = peer.status.expect("status");
    (status.state, status.flaps)
}

#[tokio::test]
async fn changed_policies_apply_on_reload_without_a_session_reset() {
    let bgp_port = free_port(Ipv4Addr::LOCALHOST);
    let announcer = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {bgp_port}\n\
         listen_addresses = [\"127.0.0.1\"]\n\
         [[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\npassive = true\n\
         import_policy = [\"reject-all\"]\nexport_policy = [\"reject-all\"]\n"
    );
    let receiver = format!(
        "[global]\nasn = 65002\nrouter_id = \"192.0.2.2\"\nlisten_port = 0\n\
         [[neighbors]]\naddress = \"127.0.0.1\"\nremote_asn = 65001\nport = {bgp_port}\n\
         local_address = \"127.0.0.2\"\nimport_policy = [\"accept-all\"]\n\
         export_policy = [\"reject-all\"]\n"
    );
    let (a, mut announcer) = start_with(&announcer).await;
    let (b, mut receiver) = start_with(&receiver).await;
    wait_for(&mut announcer, "the session", |i| i.established_peer_count == 1).await;
    let paths = ["198.51.100.1/32", "198.51.100.2/32"];
    let request = v1::SetPathsRequest {
        owner: "lb".to_string(),
        paths: paths
            .iter()
            .map(|p| v1::Path { prefix: (*p).to_string(), ..v1::Path::default() })
            .collect(),
        grace_time_seconds: None,
    };
    announcer.set_paths(request).await.expect("SetPaths");
    assert_eq!(info(&mut receiver).await.path_count, 0, "exported through reject-all");

    // Outbound: the announcer's export chain now accepts; re-run at once.
    reload(&a, "export_policy = [\"reject-all\"]", "export_policy = [\"accept-all\"]");
    wait_for(&mut receiver, "the paths after the export change", |i| i.path_count == 2).await;

    // Inbound: the receiver now rejects; ROUTE-REFRESH brings the routes
    // back through the new chain, which drops them.
    reload(&b, "import_policy = [\"accept-all\"]", "import_policy = [\"reject-all\"]");
    wait_for(&mut receiver, "the paths dropped by the import change", |i| i.path_count == 0).await;
    reload(&b, "import_policy = [\"reject-all\"]", "import_policy = [\"accept-all\"]");
    wait_for(&mut receiver, "the paths back after a refresh", |i| i.path_count == 2).await;

    let established = v1::SessionState::Established as i32;
    assert_eq!(flaps(&mut receiver, "127.0.0.1").await, (established, 0), "no session reset");
    assert_eq!(flaps(&mut announcer, "127.0.0.2").await, (established, 0), "no session reset");
}

#[tokio::test]
async fn soft_reconfiguration_reapplies_the_import_chain_without_a_refresh() {
    let bgp_port = free_port(Ipv4Addr::LOCALHOST);
    let announcer = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {bgp_port}\n\
         listen_addresses = [\"127.0.0.1\"]\n\
         [[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\npassive = true\n\
         import_policy = [\"reject-all\"]\nexport_policy = [\"accept-all\"]\n"
    );
    let receiver = format!(
        "[global]\nasn = 65002\nrouter_id = \"192.0.2.2\"\nlisten_port = 0\n\
         [[neighbors]]\naddress = \"127.0.0.1\"\nremote_asn = 65001\nport = {bgp_port}\n\
         local_address = \"127.0.0.2\"\nimport_policy = [\"reject-all\"]\n\
         export_policy = [\"reject-all\"]\nsoft_reconfiguration_inbound = true\n"
    );
    let (_a, mut announcer) = start_with(&announcer).await;
    let (b, mut receiver) = start_with(&receiver).await;
    wait_for(&mut announcer, "the session", |i| i.established_peer_count == 1).await;
    let request = v1::SetPathsRequest {
        owner: "lb".to_string(),
        paths: ["198.51.100.1/32", "198.51.100.2/32"]
            .iter()
            .map(|p| v1::Path { prefix: (*p).to_string(), ..v1::Path::default() })
            .collect(),
        grace_time_seconds: None,
    };
    announcer.set_paths(request).await.expect("SetPaths");
    // Received and kept, but rejected by the import chain. Wait for both in the pre-policy
    // Adj-RIB-In, not for "an UPDATE": the End-of-RIB is one, and can come first.
    let deadline = Instant::now() + READY_DEADLINE;
    let kept = loop {
        let kept = pre_policy(&mut receiver, "127.0.0.1").await.expect("ListPaths pre-policy");
        if kept.len() >= 2 {
            break kept;
        }
        assert!(Instant::now() < deadline, "the two paths never reached the pre-policy table");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(info(&mut receiver).await.path_count, 0, "imported through reject-all");
    // The pre-policy Adj-RIB-In shows them, marked rejected.
    let seen: Vec<(String, bool)> =
        kept.iter().map(|p| (p.path.as_ref().expect("path").prefix.clone(), p.rejected)).collect();
    assert_eq!(
        seen,
        [("198.51.100.1/32".to_string(), true), ("198.51.100.2/32".to_string(), true)]
    );
    // GetPeer: two received (kept), none accepted.
    let request = v1::GetPeerRequest { address: "127.0.0.1".to_string() };
    let peer = receiver.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("peer");
    let prefixes = peer.status.expect("status").prefixes;
    assert_eq!((prefixes[0].received, prefixes[0].accepted), (2, 0), "{prefixes:?}");
    // A peer that keeps nothing: FAILED_PRECONDITION naming the key.
    let refused = pre_policy(&mut announcer, "127.0.0.2").await.expect_err("not kept");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("soft_reconfiguration_inbound"), "{refused:?}");

    // The chain accepts now: applied from the kept routes, no ROUTE-REFRESH.
    reload(&b, "import_policy = [\"reject-all\"]", "import_policy = [\"accept-all\"]");
    wait_for(&mut receiver, "the kept paths after the import change", |i| i.path_count == 2).await;
    let kept = pre_policy(&mut receiver, "127.0.0.1").await.expect("ListPaths pre-policy");
    assert!(kept.len() == 2 && kept.iter().all(|p| !p.rejected), "{kept:?}");
    let request = v1::GetPeerRequest { address: "127.0.0.1".to_string() };
    let peer = receiver.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("peer");
    let status = peer.status.expect("status");
    assert_eq!(status.messages_sent.map(|m| m.route_refresh), Some(0), "no ROUTE-REFRESH sent");
    assert_eq!(status.flaps, 0, "no session reset");
}

/// The pre-policy Adj-RIB-In of `peer`.
async fn pre_policy(
    client: &mut Client,
    peer: &str,
) -> Result<Vec<v1::ListPathsResponse>, tonic::Status> {
    let request = v1::ListPathsRequest {
        table: v1::Table::AdjRibIn as i32,
        peer: peer.to_string(),
        pre_policy: true,
        ..v1::ListPathsRequest::default()
    };
    let mut stream = client.list_paths(request).await?.into_inner();
    let mut paths = Vec::new();
    while let Some(path) = stream.message().await? {
        paths.push(path);
    }
    Ok(paths)
}

async fn get_peer(client: &mut Client, address: &str) -> v1::Peer {
    let request = v1::GetPeerRequest { address: address.to_string() };
    client.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("peer")
}

/// UpdatePeer with the running config, `soft_reconfiguration_inbound` set to `keep`.
async fn update_soft_reconfiguration(client: &mut Client, address: &str, keep: Option<bool>) {
    let mut config = get_peer(client, address).await.config.expect("config");
    config.soft_reconfiguration_inbound = keep;
    let answer = client
        .update_peer(v1::UpdatePeerRequest { peer: Some(config) })
        .await
        .expect("UpdatePeer")
        .into_inner();
    let running = answer.peer.and_then(|p| p.config).and_then(|c| c.soft_reconfiguration_inbound);
    assert!(running.is_some(), "reads report the running value");
}

#[tokio::test]
async fn update_peer_turns_soft_reconfiguration_on_with_a_refresh_and_off_at_once() {
    let bgp_port = free_port(Ipv4Addr::LOCALHOST);
    let announcer = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {bgp_port}\n\
         listen_addresses = [\"127.0.0.1\"]\n\
         [[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\npassive = true\n\
         import_policy = [\"reject-all\"]\nexport_policy = [\"accept-all\"]\n"
    );
    let receiver = format!(
        "[global]\nasn = 65002\nrouter_id = \"192.0.2.2\"\nlisten_port = 0\n\
         [[neighbors]]\naddress = \"127.0.0.1\"\nremote_asn = 65001\nport = {bgp_port}\n\
         local_address = \"127.0.0.2\"\nimport_policy = [\"accept-all\"]\n\
         export_policy = [\"reject-all\"]\n"
    );
    let (_a, mut announcer) = start_with(&announcer).await;
    let (_b, mut receiver) = start_with(&receiver).await;
    wait_for(&mut announcer, "the session", |i| i.established_peer_count == 1).await;
    let request = v1::SetPathsRequest {
        owner: "lb".to_string(),
        paths: ["198.51.100.1/32", "198.51.100.2/32"]
            .iter()
            .map(|p| v1::Path { prefix: (*p).to_string(), ..v1::Path::default() })
            .collect(),
        grace_time_seconds: None,
    };
    announcer.set_paths(request).await.expect("SetPaths");
    wait_for(&mut receiver, "the paths", |i| i.path_count == 2).await;
    let soft = |peer: &v1::Peer| peer.config.as_ref().and_then(|c| c.soft_reconfiguration_inbound);
    assert_eq!(soft(&get_peer(&mut receiver, "127.0.0.1").await), Some(false));
    pre_policy(&mut receiver, "127.0.0.1").await.expect_err("nothing kept yet");

    // On: the peer is asked for its routes again, and the copy fills.
    update_soft_reconfiguration(&mut receiver, "127.0.0.1", Some(true)).await;
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if pre_policy(&mut receiver, "127.0.0.1").await.is_ok_and(|kept| kept.len() == 2) {
            break;
        }
        assert!(Instant::now() < deadline, "the pre-policy copy did not fill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let peer = get_peer(&mut receiver, "127.0.0.1").await;
    assert_eq!(soft(&peer), Some(true));
    let status = peer.status.expect("status");
    assert!(status.messages_sent.is_some_and(|m| m.route_refresh >= 1), "ROUTE-REFRESH sent");
    assert_eq!(status.flaps, 0, "no session reset");
    // Unset on UpdatePeer: the running value stays.
    update_soft_reconfiguration(&mut receiver, "127.0.0.1", None).await;
    assert_eq!(soft(&get_peer(&mut receiver, "127.0.0.1").await), Some(true));
    assert_eq!(pre_policy(&mut receiver, "127.0.0.1").await.expect("kept").len(), 2);

    // Off: the copy is freed at once, the routes stay.
    update_soft_reconfiguration(&mut receiver, "127.0.0.1", Some(false)).await;
    let refused = pre_policy(&mut receiver, "127.0.0.1").await.expect_err("freed");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert_eq!(soft(&get_peer(&mut receiver, "127.0.0.1").await), Some(false));
    wait_for(&mut receiver, "the paths, still", |i| i.path_count == 2).await;
    assert_eq!(get_peer(&mut receiver, "127.0.0.1").await.status.expect("status").flaps, 0);
}
