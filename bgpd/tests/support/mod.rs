//! What the API test files share: a `bgpd` process started from a config in a
//! scratch directory, killed and cleaned up when dropped, and a wait (with a
//! deadline) until its API answers.

// Each test file includes this module and uses part of it.
#![allow(dead_code)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

/// How long a daemon may take until its API answers.
pub const READY_DEADLINE: Duration = Duration::from_secs(20);
/// `[global]` of AS 65001 without a BGP listener.
pub const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = 0\n";

/// A running `bgpd`, killed and cleaned up when dropped.
pub struct Daemon {
    pub child: Child,
    pub directory: PathBuf,
    /// The config file it was started with.
    pub config: PathBuf,
    /// Where its API listens (unspecified port 0 for a Unix socket).
    pub api: SocketAddr,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

/// Sends SIGTERM to `daemon` and waits (with a deadline) for its exit status.
pub async fn terminate(daemon: &mut Daemon) -> std::process::ExitStatus {
    let pid = i32::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + READY_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        if let Some(status) = daemon.child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "bgpd did not stop on SIGTERM");
    }
}

/// A fresh directory under the system's temporary directory.
pub fn scratch_directory() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let directory = std::env::temp_dir().join(format!(
        "bgpd-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&directory).expect("temp dir");
    directory
}

/// A TCP port free on `address` at the time of asking.
pub fn free_port(address: Ipv4Addr) -> u16 {
    let listener = TcpListener::bind((address, 0)).expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// Writes `text` to `directory/bgpd.toml` and starts `bgpd` on it.
pub fn spawn_config(directory: &Path, text: &str, stderr: Stdio) -> (Child, PathBuf) {
    let path = directory.join("bgpd.toml");
    std::fs::write(&path, text).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start bgpd");
    (child, path)
}

/// Polls `ready` until it gives a client, failing if `bgpd` exits or the
/// deadline passes.
pub async fn wait_ready<C, F, Fut>(daemon: &mut Daemon, mut ready: F) -> C
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = Option<C>>,
{
    let deadline = Instant::now() + READY_DEADLINE;
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        if let Some(status) = daemon.child.try_wait().expect("try_wait") {
            panic!("bgpd exited before its API was ready: {status}");
        }
        if let Some(client) = ready(daemon.api).await {
            return client;
        }
        assert!(Instant::now() < deadline, "bgpd's API not ready within {READY_DEADLINE:?}");
    }
}

/// A BgpService client, once `GetInfo` answers.
pub async fn bgp_ready(api: SocketAddr) -> Option<BgpServiceClient<Channel>> {
    let mut client = BgpServiceClient::connect(format!("http://{api}")).await.ok()?;
    client.get_info(v1::GetInfoRequest {}).await.ok()?;
    Some(client)
}

/// Starts `bgpd` in a scratch directory with the config `text(directory,
/// api)` (which must set `[api] listen = api`), the API on a free loopback
/// port, and waits until `ready` gives a client.
pub async fn start_daemon<C, F, Fut>(
    text: impl FnOnce(&Path, SocketAddr) -> String,
    ready: F,
) -> (Daemon, C)
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = Option<C>>,
{
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let directory = scratch_directory();
    let (child, config) = spawn_config(&directory, &text(&directory, api), Stdio::null());
    let mut daemon = Daemon { child, directory, config, api };
    let client = wait_ready(&mut daemon, ready).await;
    (daemon, client)
}

/// `config` followed by `[api] listen = api`.
pub fn with_api(config: &str, api: SocketAddr) -> String {
    format!("{config}[api]\nlisten = \"{api}\"\n")
}
