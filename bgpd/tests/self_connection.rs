//! A neighbor whose address is this host's own: bgpd connects to itself and
//! its own OPEN comes back (our BGP identifier and AS, from a local
//! address). It says so once at ERROR and stops that session instead of
//! connecting to itself for ever.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

#[tokio::test]
async fn a_neighbor_that_is_this_host_is_stopped_with_a_clear_error() {
    let directory = scratch_directory();
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let port = free_port(Ipv4Addr::LOCALHOST);
    let text = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {port}\n\
         listen_addresses = [\"127.0.0.1\"]\nstate_dir = \"{}\"\n\
         [[neighbors]]\naddress = \"127.0.0.1\"\nremote_asn = 65002\nport = {port}\n\
         connect_retry_time = 1\n[api]\nlisten = \"{api}\"\n",
        directory.display()
    );
    let path = directory.join("bgpd.toml");
    std::fs::write(&path, &text).expect("write config");
    let log = directory.join("bgpd.log");
    let child = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::from(std::fs::File::create(&log).expect("log file")))
        .stderr(Stdio::null())
        .spawn()
        .expect("start bgpd");
    let mut daemon = Daemon { child, directory: directory.clone(), config: path, api };
    wait_ready(&mut daemon, bgp_ready).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let needle = "is this host itself";
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(needle) {
            break;
        }
        assert!(Instant::now() < deadline, "no {needle:?} line:\n{text}");
    }
    // Several connect retry times later: still one line, no new attempt.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(needle)).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("ERROR") && lines[0].contains("127.0.0.1"), "{}", lines[0]);
    let downs = text.lines().filter(|l| l.contains("session down")).count();
    assert!(downs <= 1, "the session kept retrying:\n{text}");
}
