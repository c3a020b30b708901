//! The gRPC API against a real `bgpd` process: start the binary with a config
//! in a temporary directory, talk to it with the generated tonic client.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

const READY_DEADLINE: Duration = Duration::from_secs(20);
const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = 0\n";

/// A running `bgpd`, killed and cleaned up when dropped.
struct Daemon {
    child: Child,
    directory: PathBuf,
    api: SocketAddr,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn scratch_directory() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let directory = std::env::temp_dir().join(format!(
        "bgpd-api-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&directory).expect("temp dir");
    directory
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

fn spawn(config_body: &str, api: SocketAddr) -> (Child, PathBuf) {
    let directory = scratch_directory();
    let path = directory.join("bgpd.toml");
    let text = format!("{GLOBAL}{config_body}[api]\nlisten = \"{api}\"\n");
    std::fs::write(&path, text).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bgpd");
    (child, directory)
}

/// Starts `bgpd` and waits (with a deadline) until its API answers.
async fn start(config_body: &str) -> (Daemon, BgpServiceClient<Channel>) {
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let (child, directory) = spawn(config_body, api);
    let mut daemon = Daemon { child, directory, api };
    let deadline = Instant::now() + READY_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        if let Some(status) = daemon.child.try_wait().expect("try_wait") {
            panic!("bgpd exited before its API was ready: {status}");
        }
        if let Ok(mut client) = BgpServiceClient::connect(format!("http://{}", daemon.api)).await
            && client.get_info(v1::GetInfoRequest {}).await.is_ok()
        {
            return (daemon, client);
        }
        assert!(Instant::now() < deadline, "bgpd's API not ready within {READY_DEADLINE:?}");
    }
}

#[tokio::test]
async fn get_info_reports_the_running_daemon() {
    let neighbours = "[[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\n";
    let (daemon, mut client) = start(neighbours).await;
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
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", ironlb_proto::BGP_SERVICE_NAME] {
        let request = tonic_health::pb::HealthCheckRequest { service: service.to_string() };
        let answer = health.check(request).await.expect("health check").into_inner();
        assert_eq!(
            answer.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "service {service:?}"
        );
    }
}

#[tokio::test]
async fn sigterm_stops_the_daemon_cleanly() {
    let (mut daemon, _client) = start("").await;
    let pid = i32::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + READY_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    let status = loop {
        interval.tick().await;
        if let Some(status) = daemon.child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "bgpd did not stop on SIGTERM");
    };
    assert!(status.success(), "bgpd exited with {status}");
}

#[test]
fn api_bind_failure_is_a_startup_error() {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let api = taken.local_addr().expect("address");
    let (child, directory) = spawn("", api);
    let output = child.wait_with_output().expect("bgpd exits");
    let _ = std::fs::remove_dir_all(&directory);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot start the gRPC API"), "stderr: {stderr}");
    assert!(stderr.contains(&api.to_string()), "stderr: {stderr}");
}
