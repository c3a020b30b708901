//! The graceful restart state file (`<state_dir>/bgpd.state`) against real
//! `bgpd` processes: a neighbour that gets graceful restart after startup,
//! through `AddPeer` or a SIGHUP reload, starts the recording, so that a crash
//! from then on is seen as a restart by the next start. No root, no peers: the
//! neighbours never come up.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use support::*;
use tonic::transport::Channel;

const WRITE_DEADLINE: Duration = Duration::from_secs(20);
const NEIGHBOUR: &str = "[[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65003\n";

type Client = BgpServiceClient<Channel>;

impl Daemon {
    fn state_file(&self) -> PathBuf {
        self.directory.join("state").join("bgpd.state")
    }

    fn config_file(&self) -> PathBuf {
        self.directory.join("bgpd.toml")
    }
}

/// The whole config: global section with the state directory, `body`, API.
fn config_text(directory: &Path, api: SocketAddr, body: &str) -> String {
    format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = 0\nstate_dir = {:?}\n\
         {body}[api]\nlisten = \"{api}\"\n",
        directory.join("state")
    )
}

/// Starts `bgpd` with `body` and waits (with a deadline) until its API answers.
async fn start(body: &str) -> (Daemon, Client, SocketAddr) {
    let (daemon, client) =
        start_daemon(|directory, api| config_text(directory, api, body), bgp_ready).await;
    let api = daemon.api;
    (daemon, client, api)
}

/// Polls the state file until it holds `graceful_restart = true`.
async fn until_recorded(daemon: &Daemon) -> String {
    let deadline = Instant::now() + WRITE_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(50));
    loop {
        interval.tick().await;
        if let Ok(text) = std::fs::read_to_string(daemon.state_file())
            && text.contains("graceful_restart = true")
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "state file not written within {WRITE_DEADLINE:?}: {:?}",
            std::fs::read_to_string(daemon.state_file())
        );
    }
}

/// The API is served by the instance that also writes the state file: once a
/// request made after startup is answered, the startup record (if any) is
/// queued, and the writer thread writes in order.
async fn settled(client: &mut Client) {
    client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo");
}

#[tokio::test]
async fn a_peer_added_with_graceful_restart_starts_the_state_file() {
    let (daemon, mut client, _) = start(NEIGHBOUR).await;
    settled(&mut client).await;
    assert!(!daemon.state_file().exists(), "no neighbour has graceful restart yet");
    let peer = v1::PeerConfig {
        address: "192.0.2.2".to_string(),
        remote_asn: 65002,
        graceful_restart: Some(v1::GracefulRestartConfig {
            enabled: true,
            ..v1::GracefulRestartConfig::default()
        }),
        ..v1::PeerConfig::default()
    };
    client.add_peer(v1::AddPeerRequest { peer: Some(peer) }).await.expect("AddPeer");
    let text = until_recorded(&daemon).await;
    assert!(text.contains("status = \"running\""), "{text}");
}

#[tokio::test]
async fn a_reload_that_enables_graceful_restart_starts_the_state_file() {
    let (daemon, mut client, api) = start(NEIGHBOUR).await;
    settled(&mut client).await;
    assert!(!daemon.state_file().exists(), "no neighbour has graceful restart yet");
    let body = format!("{NEIGHBOUR}[neighbors.graceful_restart]\nenabled = true\n");
    std::fs::write(daemon.config_file(), config_text(&daemon.directory, api, &body))
        .expect("rewrite config");
    let pid = i32::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let text = until_recorded(&daemon).await;
    assert!(text.contains("status = \"running\""), "{text}");
}

#[tokio::test]
async fn a_neighbor_with_graceful_restart_at_startup_is_recorded_at_once() {
    let body = format!("{NEIGHBOUR}[neighbors.graceful_restart]\nenabled = true\n");
    let (daemon, _client, _) = start(&body).await;
    let text = until_recorded(&daemon).await;
    assert!(text.contains("established = false"), "{text}");
}
