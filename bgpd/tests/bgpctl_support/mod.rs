//! Shared by the bgpctl tests: start a real `bgpd` with a config in a
//! temporary directory, run the real `bgpctl` binary against it, and read
//! its stdout, stderr and exit code.

#![allow(dead_code)] // each test file uses its own part

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = 0\n";
/// A neighbour that is configured but never comes up: nothing listens on
/// 127.0.0.2:179, so bgpd's attempts are refused.
pub const NEIGHBOR: &str =
    "[[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\ndescription = \"test peer\"\n";
const READY_DEADLINE: Duration = Duration::from_secs(20);

/// A running `bgpd`, killed and cleaned up when dropped.
pub struct Daemon {
    child: Child,
    pub directory: PathBuf,
    /// What to pass to `--api`.
    pub api: String,
}

impl Daemon {
    /// The daemon's process id (to stop and continue it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

pub fn scratch_directory() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let directory = std::env::temp_dir().join(format!(
        "bgpctl-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&directory).expect("temp dir");
    directory
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// Starts `bgpd` (AS 65001, no BGP listener) with `body` after `[global]`,
/// its API on a free loopback port, and waits until `bgpctl status` works.
pub fn start(body: &str) -> Daemon {
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port())).to_string();
    start_on(body, &api)
}

/// Same, with the API on `api` (`127.0.0.1:PORT` or `unix:/path`).
pub fn start_on(body: &str, api: &str) -> Daemon {
    start_in(scratch_directory(), body, api)
}

pub fn start_in(directory: PathBuf, body: &str, api: &str) -> Daemon {
    start_config(directory, &format!("{GLOBAL}{body}"), api)
}

/// Same, with the whole config but `[api]` given (its own `[global]`).
pub fn start_config(directory: PathBuf, config: &str, api: &str) -> Daemon {
    let path = directory.join("bgpd.toml");
    std::fs::write(&path, format!("{config}[api]\nlisten = \"{api}\"\n")).expect("config");
    let child = Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bgpd");
    let mut daemon = Daemon { child, directory, api: api.to_string() };
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if let Some(status) = daemon.child.try_wait().expect("try_wait") {
            panic!("bgpd exited before its API was ready: {status}");
        }
        if daemon.run(&["status"]).status.success() {
            return daemon;
        }
        assert!(Instant::now() < deadline, "bgpd's API not ready within {READY_DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Daemon {
    /// Runs `bgpctl --api <this daemon> ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        bgpctl(&[&["--api", &self.api], args].concat())
    }

    /// Runs bgpctl, asserts exit 0 and an empty stderr, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert_success(&output, args);
        String::from_utf8(output.stdout).expect("utf-8 stdout")
    }

    /// Runs bgpctl with `-o json`, asserts success, parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let stdout = self.ok(&[&["-o", "json"], args].concat());
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    /// Polls `bgpctl -o json ARGS` until `done` holds for its answer.
    pub fn json_until(
        &self,
        what: &str,
        args: &[&str],
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let value = self.json(args);
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{what} not seen within {READY_DEADLINE:?}: {value}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs the bgpctl binary with `args`, with `BGPCTL_API` cleared so that the
/// environment of the test run cannot redirect it.
pub fn bgpctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bgpctl"))
        .args(args)
        .env_remove("BGPCTL_API")
        .stdin(Stdio::null())
        .output()
        .expect("run bgpctl")
}

pub fn assert_success(output: &Output, args: &[&str]) {
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "bgpctl {args:?} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts a failure with `code` and a single stderr line that starts with
/// `bgpctl: ` and contains `needle`; returns the line.
pub fn assert_failure(output: &Output, code: i32, needle: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr:?}");
    assert!(stderr.starts_with("bgpctl: "), "{stderr:?}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    stderr
}

/// How long the two-daemon tests wait for a state to show.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A free TCP port on `address` (a second loopback address for a second bgpd).
pub fn free_port_on(address: Ipv4Addr) -> u16 {
    let listener = TcpListener::bind((address, 0)).expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

/// A free API address on 127.0.0.1.
pub fn api() -> String {
    SocketAddr::from((Ipv4Addr::LOCALHOST, free_port())).to_string()
}

/// `bgpctl ARGS` on `daemon` until its text output satisfies `done`.
pub fn text_until(
    daemon: &Daemon,
    what: &str,
    args: &[&str],
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let text = daemon.ok(args);
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} not seen within {DEADLINE:?}:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value after `label:` in a "Label: value" block.
pub fn field<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim_start)
        .find_map(|line| line.strip_prefix(label)?.strip_prefix(':'))
        .map(str::trim)
}
