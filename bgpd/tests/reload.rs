//! SIGHUP against a real `bgpd` process: a change the reload cannot apply
//! (listeners, the API address, the state directory, the log level...) is
//! refused as a whole with one ERROR line naming each key, its old and new
//! value and "needs a restart"; the running config stays, nothing of the
//! edit is half-applied.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use support::*;
use tonic::transport::Channel;

async fn peer_addresses(client: &mut BgpServiceClient<Channel>) -> Vec<String> {
    let listed = client.list_peers(v1::ListPeersRequest {}).await.expect("ListPeers");
    listed
        .into_inner()
        .peers
        .iter()
        .filter_map(|p| p.config.as_ref())
        .map(|c| c.address.clone())
        .collect()
}

/// Polls the log file until a line contains `needle`; fails at the deadline
/// or when the reload was applied instead.
async fn wait_log_line(log: &std::path::Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    loop {
        interval.tick().await;
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        assert!(!text.contains("applying reloaded config"), "the reload was applied:\n{text}");
        assert!(Instant::now() < deadline, "no log line with {needle:?}:\n{text}");
    }
}

#[tokio::test]
async fn a_reload_that_needs_a_restart_is_refused_whole() {
    let directory = scratch_directory();
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let bgp_port = free_port(Ipv4Addr::LOCALHOST);
    let state = directory.join("state");
    let neighbor = "[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\npassive = true\n";
    let config =
        |port: u16, address: &str, state: &str, level: &str, api: SocketAddr, extra: &str| {
            format!(
                "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {port}\n\
             listen_addresses = [\"{address}\"]\nstate_dir = \"{state}\"\nlog_level = \"{level}\"\n\
             {neighbor}{extra}[api]\nlisten = \"{api}\"\n"
            )
        };
    let text = config(bgp_port, "127.0.0.1", &state.display().to_string(), "info", api, "");
    let log = directory.join("bgpd.log");
    // The log goes to standard output.
    let path = directory.join("bgpd.toml");
    std::fs::write(&path, &text).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::from(std::fs::File::create(&log).expect("log file")))
        .stderr(Stdio::null())
        .spawn()
        .expect("start bgpd");
    let mut daemon = Daemon { child, directory: directory.clone(), config: path, api };
    let mut client = wait_ready(&mut daemon, bgp_ready).await;
    assert_eq!(peer_addresses(&mut client).await, ["192.0.2.2"]);

    let other_api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let added = "[[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65003\npassive = true\n";
    let edited = config(bgp_port + 1, "127.0.0.2", "/nonexistent/state", "debug", other_api, added);
    std::fs::write(&daemon.config, edited).expect("rewrite config");
    let pid = i32::try_from(daemon.child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);

    let line = wait_log_line(&log, "needs a restart").await;
    assert!(line.contains("ERROR"), "{line}");
    for expected in [
        format!("global.listen_port {bgp_port} -> {}", bgp_port + 1),
        "global.listen_addresses [127.0.0.1] -> [127.0.0.2]".to_string(),
        format!("api.listen {api} -> {other_api}"),
        format!("global.state_dir {:?} -> \"/nonexistent/state\"", state.display().to_string()),
        "global.log_level info -> debug".to_string(),
    ] {
        assert!(line.contains(&expected), "{expected:?} missing from {line}");
    }
    // Nothing was applied: the new neighbor is absent, the BGP listener and
    // the API are where they were.
    assert_eq!(peer_addresses(&mut client).await, ["192.0.2.2"]);
    std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, bgp_port)).expect("BGP still listens");
    assert!(daemon.child.try_wait().expect("try_wait").is_none(), "bgpd keeps running");
}

#[tokio::test]
async fn a_log_written_to_a_file_has_no_colour_codes() {
    let directory = scratch_directory();
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let log = directory.join("bgpd.log");
    let path = directory.join("bgpd.toml");
    std::fs::write(&path, with_api(GLOBAL, api)).expect("write config");
    let child = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::from(std::fs::File::create(&log).expect("log file")))
        .stderr(Stdio::from(std::fs::File::create(directory.join("stderr")).expect("file")))
        .spawn()
        .expect("start bgpd");
    let mut daemon = Daemon { child, directory: directory.clone(), config: path, api };
    wait_ready(&mut daemon, bgp_ready).await;
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("gRPC API listening"), "{text}");
    assert!(!text.contains('\x1b'), "ANSI escape codes in a log file:\n{text}");
}
