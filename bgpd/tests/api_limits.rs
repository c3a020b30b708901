//! The bounds on what an API client can hold (README "Limits", issue #17
//! items 1 and 2) against real `bgpd` processes: idle connections beyond
//! `[api] max_connections` neither starve the API nor BGP and time out
//! after `idle_timeout`; `Session` streams that never open time out;
//! `Watch` streams are capped and a watcher that never reads is cut off at
//! its `watch_buffer_events` budget.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::transport::Channel;

type Client = BgpServiceClient<Channel>;

/// Bounds every wait in these tests.
const DEADLINE: Duration = Duration::from_secs(30);

async fn start_with(config: &str) -> (Daemon, Client) {
    start_daemon(|_, api| with_api(config, api), bgp_ready).await
}

/// Polls `probe` until it returns `Some`, failing after [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {DEADLINE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `bgpd` with `config` (its `[api]` table opened by the caller's
/// `api_keys`) under an open-file limit of `nofile` (soft and hard), as a
/// host with the usual 1,024 would run it.
async fn start_with_fd_limit(config: &str, api_keys: &str, nofile: u64) -> Daemon {
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let directory = scratch_directory();
    let path = directory.join("bgpd.toml");
    std::fs::write(&path, format!("{config}[api]\nlisten = \"{api}\"\n{api_keys}"))
        .expect("write config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_bgpd"));
    command.arg("--config").arg(&path).stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe and touches only its argument.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: nofile, rlim_max: nofile };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().expect("start bgpd");
    let mut daemon = Daemon { child, directory, config: path, api };
    let _: Client = wait_ready(&mut daemon, bgp_ready).await;
    daemon
}

/// Whether B reports its session with 127.0.0.1 as Established.
async fn established(client: &Client) -> Option<()> {
    let mut client = client.clone();
    let request = v1::GetPeerRequest { address: "127.0.0.1".to_string() };
    let peer = client.get_peer(request).await.ok()?.into_inner().peer?;
    let state = peer.status?.state;
    (state == v1::SessionState::Established as i32).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_beyond_the_cap_starve_neither_the_api_nor_bgp() {
    // A (under test, 1,024 open files, API cap 64, idle timeout 2 s) connects
    // to B, which starts only after A's API is flooded.
    let a_port = free_port(Ipv4Addr::LOCALHOST);
    let b_address = Ipv4Addr::new(127, 0, 0, 2);
    let b_port = free_port(b_address);
    let a = start_with_fd_limit(
        &format!(
            "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {a_port}\n\
             listen_addresses = [\"127.0.0.1\"]\nconnect_retry_time = 1\n\
             [[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\nport = {b_port}\n\
             local_address = \"127.0.0.1\"\n"
        ),
        "max_connections = 64\nidle_timeout = 2\n",
        1024,
    )
    .await;

    // More idle connections than the process has descriptors.
    let mut idle = Vec::new();
    for _ in 0..1100 {
        let connect = TcpStream::connect(a.api);
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(500), connect).await {
            idle.push(stream);
        }
    }
    assert!(idle.len() > 1024, "only {} connections opened", idle.len());

    // A new client is answered or refused promptly, never left hanging.
    let started = Instant::now();
    let asked = tokio::time::timeout(Duration::from_secs(5), async {
        match BgpServiceClient::connect(format!("http://{}", a.api)).await {
            Ok(mut client) => client.get_info(v1::GetInfoRequest {}).await.map(drop),
            Err(error) => Err(tonic::Status::unavailable(error.to_string())),
        }
    })
    .await;
    assert!(asked.is_ok(), "GetInfo on a new connection hung for {:?}", started.elapsed());

    // BGP still has descriptors: A's session to B comes up.
    let (_b, b) = start_with(&format!(
        "[global]\nasn = 65002\nrouter_id = \"192.0.2.2\"\nlisten_port = {b_port}\n\
         listen_addresses = [\"127.0.0.2\"]\n\
         [[neighbors]]\naddress = \"127.0.0.1\"\nremote_asn = 65001\nport = {a_port}\n\
         local_address = \"127.0.0.2\"\npassive = true\n"
    ))
    .await;
    eventually("A's session with B Established", || established(&b)).await;

    // Every idle connection is closed by A: the ones over the cap at once,
    // the others after the idle timeout.
    // (A accepted one sends its HTTP/2 SETTINGS first: read to the end.)
    for stream in &mut idle {
        let mut sink = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink));
        let read = read.await;
        assert!(read.is_ok(), "an idle connection stayed open: {read:?}");
    }
    drop(idle);
    let mut client =
        eventually("GetInfo answered again", || async { bgp_ready(a.api).await }).await;
    client.get_info(v1::GetInfoRequest {}).await.expect("GetInfo");
}

#[tokio::test]
async fn a_session_stream_that_never_opens_times_out() {
    let (_daemon, mut client) = start_daemon(
        |_, api| format!("{GLOBAL}[api]\nlisten = \"{api}\"\nsession_open_timeout = 1\n"),
        bgp_ready,
    )
    .await;
    let (_keep, silent) = tokio::sync::mpsc::channel::<v1::SessionRequest>(1);
    let stream = tokio_stream::wrappers::ReceiverStream::new(silent);
    let answer = tokio::time::timeout(Duration::from_secs(10), client.session(stream))
        .await
        .expect("the Session stream was held past its open timeout");
    let status = answer.expect_err("no open, no session");
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("session_open_timeout"), "{status:?}");
}

fn watch_all() -> v1::WatchRequest {
    v1::WatchRequest { best_paths: true, peers: true, ..v1::WatchRequest::default() }
}

#[tokio::test]
async fn watch_streams_beyond_the_cap_are_refused_until_one_ends() {
    let (_daemon, mut client) = start_daemon(
        |_, api| format!("{GLOBAL}[api]\nlisten = \"{api}\"\nmax_watchers = 2\n"),
        bgp_ready,
    )
    .await;
    let first = client.watch(watch_all()).await.expect("first Watch");
    let _second = client.watch(watch_all()).await.expect("second Watch");
    let refused = client.watch(watch_all()).await.expect_err("a third is over the cap");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("max_watchers"), "{refused:?}");
    drop(first);
    eventually("a Watch accepted once one ended", || {
        let mut again = client.clone();
        async move { again.watch(watch_all()).await.ok() }
    })
    .await;
}

fn host_route(index: u32) -> v1::Path {
    let prefix = format!("10.{}.{}.{}/32", (index >> 16) & 255, (index >> 8) & 255, index & 255);
    v1::Path { prefix, ..v1::Path::default() }
}

/// Resident memory of `pid` in kB, from /proc.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_never_reads_is_cut_off_at_its_budget() {
    const BUDGET: usize = 10_000;
    const PATHS: u32 = 200_000;
    let (daemon, mut client) = start_daemon(
        |_, api| format!("{GLOBAL}[api]\nlisten = \"{api}\"\nwatch_buffer_events = {BUDGET}\n"),
        bgp_ready,
    )
    .await;
    // The watcher on its own connection, so its unread stream cannot hold
    // back the SetPaths answer on a shared HTTP/2 window.
    let mut watcher = bgp_ready(daemon.api).await.expect("watcher");
    let mut stalled = watcher.watch(watch_all()).await.expect("Watch").into_inner();

    let paths = (0..PATHS).map(host_route).collect();
    let request = v1::SetPathsRequest { owner: "bulk".into(), paths, grace_time_seconds: None };
    let answer = client.set_paths(request).await.expect("SetPaths").into_inner();
    assert_eq!(answer.added_count, u64::from(PATHS));

    // Now read: what was in flight, then the cut-off.
    let mut received = 0usize;
    let status = loop {
        match tokio::time::timeout(DEADLINE, stalled.message()).await.expect("stream ends") {
            Ok(Some(_)) => received += 1,
            Ok(None) => panic!("the stream ended without a status after {received} events"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains(&format!("fell {BUDGET} events behind")),
        "the cut-off names the budget: {status:?}"
    );
    assert!(status.message().contains("watch_buffer_events"), "{status:?}");
    assert!(received < BUDGET + 2 * 1024, "{received} events reached a client that never read");
    let rss = rss_kb(daemon.child.id());
    assert!(rss < 1024 * 1024, "bgpd's RSS is {rss} kB after cutting off one stalled watcher");
}
