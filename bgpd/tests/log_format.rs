//! `log_format = "json"` and `--log-format json`: every line is one JSON
//! object with the text form's fields at the top level; a neighbor's lines
//! carry `peer`, a refused reload is one line with its `reason`.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// Reads the log (stdout) lines on a thread; `until` waits (with a deadline) for a line
/// that matches and returns every line read so far.
struct Lines {
    receiver: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn new(stdout: std::process::ChildStdout) -> Self {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Self { receiver, seen: Vec::new() }
    }

    fn until(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(found) =
                self.seen.iter().filter_map(|l| serde_json::from_str(l).ok()).find(&matches)
            {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no log line {what} within {READY_DEADLINE:?}: {:#?}",
                self.seen
            );
            if let Ok(line) = self.receiver.recv_timeout(left.min(Duration::from_millis(200))) {
                self.seen.push(line);
            }
        }
    }

    fn assert_all_json(&self) {
        for line in &self.seen {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not one JSON object ({error}): {line}"));
            for key in ["timestamp", "level", "message"] {
                assert!(value.get(key).is_some(), "no {key:?} in {line}");
            }
        }
    }
}

fn message(value: &Value) -> &str {
    value.get("message").and_then(Value::as_str).unwrap_or_default()
}

fn spawn(config: &str, flag: Option<&str>) -> (std::process::Child, std::path::PathBuf, Lines) {
    let directory = scratch_directory();
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let path = directory.join("bgpd.toml");
    std::fs::write(&path, with_api(config, api)).expect("write config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_bgpd"));
    command.arg("--config").arg(&path).stdout(Stdio::piped()).stderr(Stdio::null());
    if let Some(format) = flag {
        command.arg("--log-format").arg(format);
    }
    let mut child = command.spawn().expect("start bgpd");
    let lines = Lines::new(child.stdout.take().expect("stdout"));
    (child, directory, lines)
}

const NEIGHBOR: &str = "[[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\n";

#[test]
fn json_lines_carry_the_peer_and_a_refused_reload_is_one_line_with_its_reason() {
    let config = format!("{GLOBAL}log_format = \"json\"\n{NEIGHBOR}");
    let (mut child, directory, mut lines) = spawn(&config, None);
    let configured =
        lines.until("\"neighbour configured\"", |v| message(v) == "neighbour configured");
    assert_eq!(configured.get("peer").and_then(Value::as_str), Some("127.0.0.2"), "{configured}");
    assert_eq!(configured.get("level").and_then(Value::as_str), Some("INFO"));

    // Two errors in the new file: still one line, both in `reason`.
    let broken = format!("{GLOBAL}hold_time = 1\n{NEIGHBOR}hold_time = 2\n");
    std::fs::write(directory.join("bgpd.toml"), broken).expect("rewrite config");
    let pid = i32::try_from(child.id()).expect("pid fits");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    let refused = lines.until("\"reload refused\"", |v| message(v).starts_with("reload refused"));
    let reason = refused.get("reason").and_then(Value::as_str).expect("a reason field");
    assert!(reason.contains("hold_time") && !reason.contains('\n'), "{reason}");
    lines.assert_all_json();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn the_flag_overrides_the_config() {
    let config = format!("{GLOBAL}log_format = \"text\"\n{NEIGHBOR}");
    let (mut child, directory, mut lines) = spawn(&config, Some("json"));
    lines.until("\"neighbour configured\"", |v| message(v) == "neighbour configured");
    lines.assert_all_json();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&directory);

    let bad = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .args(["--log-format", "logfmt", "--check-config", "/dev/null"])
        .output()
        .expect("run bgpd");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither \"text\" nor \"json\""));
}
