//! `bgpctl` end to end for the commands whose RPCs land in parallel work:
//! `neighbor add/del/enable/disable/reset` (AddPeer, DeletePeer, EnablePeer,
//! DisablePeer, ResetPeer) and `watch` (Watch). Written against the
//! contract in `proto/ironlb/bgpd/v1/bgpd.proto`; until bgpd serves those
//! RPCs these tests fail with `bgpd refused: UNIMPLEMENTED`.

mod bgpctl_support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use bgpctl_support::{Daemon, NEIGHBOR, assert_failure, start};

const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn neighbor_add_show_and_delete() {
    let daemon = start("");
    let added = daemon.ok(&[
        "neighbor",
        "add",
        "127.0.0.3",
        "--remote-as",
        "65003",
        "--description",
        "added by bgpctl",
        "--hold-time",
        "30",
        "--connect-retry",
        "5",
        "--family",
        "ipv4",
    ]);
    assert!(added.starts_with("neighbor 127.0.0.3 added\n"), "{added}");
    assert!(added.contains("65003"), "the summary line follows: {added}");

    let json = daemon.json(&["neighbor", "show", "127.0.0.3"]);
    let config = &json["peer"]["config"];
    assert_eq!(config["remoteAsn"], 65003);
    assert_eq!(config["description"], "added by bgpctl");
    assert_eq!(config["holdTimeSeconds"], 30);
    assert_eq!(config["connectRetrySeconds"], 5);
    assert_eq!(config["families"], serde_json::json!(["FAMILY_IPV4_UNICAST"]));
    assert_eq!(daemon.json(&["status"])["peerCount"], 1);

    // A second add of the same address is refused.
    let output = daemon.run(&["neighbor", "add", "127.0.0.3", "--remote-as", "65003"]);
    assert_failure(&output, 1, "bgpd refused: ALREADY_EXISTS: ");
    // So is an ASN of 0, naming the field.
    let output = daemon.run(&["neighbor", "add", "127.0.0.4", "--remote-as", "0"]);
    assert_failure(&output, 1, "bgpd refused: INVALID_ARGUMENT: ");
    // A dynamic AS instead of a number; not both.
    let json = daemon.json(&["neighbor", "add", "127.0.0.5", "--dynamic-asn", "external"]);
    assert_eq!(json["peer"]["config"]["dynamicAsn"], "DYNAMIC_ASN_EXTERNAL");
    let shown = daemon.run(&["neighbor", "show", "127.0.0.5"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("Neighbor 127.0.0.5, remote AS external"), "{text}");
    let both =
        ["neighbor", "add", "127.0.0.6", "--remote-as", "65006", "--dynamic-asn", "internal"];
    for (args, why) in [(&both[..], "cannot be used with"), (&both[..3], "--remote-as")] {
        let output = daemon.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    }
    daemon.ok(&["neighbor", "del", "127.0.0.5"]);

    let deleted = daemon.json(&["neighbor", "del", "127.0.0.3"]);
    assert_eq!(deleted, serde_json::json!({}));
    assert_failure(&daemon.run(&["neighbor", "show", "127.0.0.3"]), 1, "NOT_FOUND");
    assert_failure(&daemon.run(&["neighbor", "del", "127.0.0.3"]), 1, "NOT_FOUND");
    assert_eq!(daemon.json(&["neighbor", "list"])["peers"], serde_json::json!([]));
}

#[test]
fn neighbor_add_show_and_delete_over_an_interface() {
    let daemon = start("");
    // An interface no machine has: accepted, reported, looked for again.
    let added =
        daemon.ok(&["neighbor", "add", "--interface", "ironlbnone3", "--remote-as", "65003"]);
    assert!(added.starts_with("neighbor %ironlbnone3 added\n"), "{added}");
    let json = daemon.json(&["neighbor", "show", "%ironlbnone3"]);
    assert_eq!(json["peer"]["config"]["interface"], "ironlbnone3");
    assert_eq!(
        json["peer"]["config"]["families"],
        serde_json::json!(["FAMILY_IPV4_UNICAST", "FAMILY_IPV6_UNICAST"])
    );
    let device_error = json["peer"]["status"]["deviceError"].as_str().unwrap_or_default();
    assert!(device_error.contains("ironlbnone3"), "{json}");
    let shown = daemon.run(&["neighbor", "show", "%ironlbnone3"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("Neighbor %ironlbnone3, remote AS 65003"), "{text}");
    let list = daemon.run(&["neighbor", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("%ironlbnone3"));
    assert_eq!(daemon.json(&["status"])["peerCount"], 1);
    // An address and an interface: refused by the command line.
    let output =
        daemon.run(&["neighbor", "add", "192.0.2.9", "--interface", "eth9", "--remote-as", "1"]);
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));

    assert_eq!(daemon.json(&["neighbor", "del", "%ironlbnone3"]), serde_json::json!({}));
    assert_failure(&daemon.run(&["neighbor", "show", "%ironlbnone3"]), 1, "NOT_FOUND");
    assert_eq!(daemon.json(&["neighbor", "list"])["peers"], serde_json::json!([]));
}

#[test]
fn neighbor_add_prints_proto3_json() {
    let daemon = start("");
    // Disabled: it never dials out (nothing may leave this machine).
    let json =
        daemon.json(&["neighbor", "add", "2001:db8::2", "--remote-as", "65002", "--disabled"]);
    assert_eq!(json["peer"]["config"]["address"], "2001:db8::2");
    assert_eq!(json["peer"]["config"]["disabled"], true);
    assert!(json["peer"]["status"]["state"].is_string(), "{json}");
}

#[test]
fn neighbor_disable_and_enable() {
    let daemon = start(NEIGHBOR);
    let disabled = daemon.ok(&["neighbor", "disable", "127.0.0.2", "--message", "maintenance"]);
    assert_eq!(disabled, "neighbor 127.0.0.2 disabled\n");
    let json = daemon.json_until("admin down", &["neighbor", "show", "127.0.0.2"], |json| {
        json["peer"]["status"]["adminDown"] == true
    });
    assert_eq!(json["peer"]["status"]["adminDownMessage"], "maintenance");
    let table = daemon.ok(&["neighbor", "list"]);
    assert!(table.contains("(Admin)"), "{table}");
    let detail = daemon.ok(&["neighbor", "show", "127.0.0.2"]);
    assert!(detail.contains("administratively down: \"maintenance\""), "{detail}");

    assert_eq!(daemon.ok(&["neighbor", "enable", "127.0.0.2"]), "neighbor 127.0.0.2 enabled\n");
    daemon.json_until("admin up", &["neighbor", "show", "127.0.0.2"], |json| {
        json["peer"]["status"]["adminDown"] == false
    });
    assert_failure(&daemon.run(&["neighbor", "enable", "127.0.0.9"]), 1, "NOT_FOUND");
    assert_failure(&daemon.run(&["neighbor", "disable", "127.0.0.9"]), 1, "NOT_FOUND");
}

#[test]
fn neighbor_reset() {
    let daemon = start(NEIGHBOR);
    let reset = daemon.ok(&["neighbor", "reset", "127.0.0.2", "--message", "new config"]);
    assert_eq!(reset, "neighbor 127.0.0.2 reset\n");
    assert_eq!(daemon.json(&["neighbor", "reset", "127.0.0.2"]), serde_json::json!({}));
    assert_failure(&daemon.run(&["neighbor", "reset", "127.0.0.9"]), 1, "NOT_FOUND");
    // A soft reset is either done or refused with a status; never a crash
    // or a usage error.
    let output = daemon.run(&["neighbor", "reset", "127.0.0.2", "--soft-in", "--soft-out"]);
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
}

/// A `bgpctl watch` running in the background, its stdout read line by line
/// on a thread; killed when dropped.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
}

impl Watcher {
    fn start(daemon: &Daemon, args: &[&str]) -> Watcher {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bgpctl"))
            .args(["--api", &daemon.api])
            .args(args)
            .env_remove("BGPCTL_API")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bgpctl watch");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher { child, lines }
    }

    /// Reads lines until one satisfies `wanted`, within the deadline;
    /// returns that line.
    fn until(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let mut lines = self.through(what, wanted);
        lines.pop().unwrap_or_default()
    }

    /// Reads lines until one satisfies `wanted`, within the deadline;
    /// returns every line read, that one last.
    fn through(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => {
                    seen.push(line);
                    return seen;
                }
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout) => panic!("{what} not seen; got {seen:#?}"),
                Err(RecvTimeoutError::Disconnected) => {
                    let mut stderr = String::new();
                    if let Some(mut pipe) = self.child.stderr.take() {
                        let _ = pipe.read_to_string(&mut stderr);
                    }
                    panic!("watch ended before {what}; got {seen:#?}; stderr: {stderr}")
                }
            }
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"))
}

#[test]
fn watch_prints_one_json_object_per_line() {
    let daemon = start(NEIGHBOR);
    daemon.ok(&["route", "add", "198.51.100.0/24"]);
    let mut watcher = Watcher::start(&daemon, &["-o", "json", "watch"]);

    // The snapshot: the neighbour and the route, then its end.
    let peer = watcher.until("the neighbour in the snapshot", |line| line.contains("peerAdded"));
    let peer = json(&peer);
    assert_eq!(peer["snapshot"], true);
    assert_eq!(peer["peerAdded"]["config"]["address"], "127.0.0.2");
    let done =
        json(&watcher.until("the end of the snapshot", |line| line.contains("snapshotDone")));
    let snapshot_sequence: u64 =
        done["sequence"].as_str().and_then(|s| s.parse().ok()).expect("sequence as a string");

    // A live change after it, with a higher sequence number.
    daemon.ok(&["route", "add", "203.0.113.0/24"]);
    let added = json(&watcher.until("the new route", |line| line.contains("203.0.113.0/24")));
    assert_eq!(added["snapshot"], false);
    assert_eq!(added["bestPathAdded"]["path"]["prefix"], "203.0.113.0/24");
    assert_eq!(added["bestPathAdded"]["source"]["owner"], "bgpctl");
    let sequence: u64 =
        added["sequence"].as_str().and_then(|s| s.parse().ok()).expect("sequence as a string");
    assert!(sequence > snapshot_sequence, "{sequence} after {snapshot_sequence}");

    daemon.ok(&["route", "del", "203.0.113.0/24"]);
    let withdrawn = json(&watcher.until("the withdraw", |line| line.contains("bestPathWithdrawn")));
    assert_eq!(withdrawn["bestPathWithdrawn"], "203.0.113.0/24");
}

#[test]
fn watch_routes_only_in_a_table() {
    let daemon = start(NEIGHBOR);
    let mut watcher = Watcher::start(&daemon, &["watch", "--routes", "--family", "ipv4"]);
    let mut lines =
        watcher.through("the end of the snapshot", |line| line.ends_with(" snapshot done"));
    daemon.ok(&["route", "add", "2001:db8::/48", "198.51.100.0/24"]);
    daemon.ok(&["route", "add", "198.51.100.1/32"]);
    lines.extend(watcher.through("the IPv4 routes", |line| line.contains("198.51.100.1/32")));
    assert!(lines.iter().any(|line| line.contains(" + route 198.51.100.0/24 added")), "{lines:#?}");
    // Neither the neighbour nor the IPv6 route reached this watcher.
    for line in lines.iter().chain(watcher.lines.try_iter().collect::<Vec<_>>().iter()) {
        assert!(!line.contains("neighbor") && !line.contains("2001:db8"), "{line}");
    }
}

#[test]
fn watch_peers_sees_a_neighbor_come_and_go() {
    let daemon = start("");
    let mut watcher = Watcher::start(&daemon, &["watch", "--peers"]);
    watcher.until("the end of the snapshot", |line| line.ends_with("snapshot done"));
    daemon.ok(&["neighbor", "add", "127.0.0.3", "--remote-as", "65003"]);
    watcher.until("the new neighbour", |line| line.contains("neighbor 127.0.0.3 added, AS 65003"));
    daemon.ok(&["neighbor", "del", "127.0.0.3"]);
    watcher.until("the removal", |line| line.contains("neighbor 127.0.0.3 removed"));
}
