//! Harness for running `bgpd`, FRR, BIRD and GoBGP inside network namespaces.
//!
//! Every test builds its own little world: namespaces named after the test process id and a
//! counter ([`unique_name`]), veth links between them carrying documentation addresses
//! (RFC 5737, RFC 3849), and daemons started inside them. Everything is owned by guards whose
//! `Drop` kills processes by PID and deletes namespaces, so a failing or panicking test leaves
//! nothing behind. Waiting is always polling with a deadline ([`wait_until`]); a failed wait
//! carries what the peer last reported so the failure explains itself.

pub mod api;
pub mod bench_peers;
pub mod bench_table;
pub mod bgpd;
pub mod bird;
pub mod churn;
pub mod fib_watch;
pub mod frr;
pub mod gobgp;
pub mod impair;
pub mod k8s;
pub mod layer2_k8s;
pub mod netns;
pub mod rig;
pub mod scrape;
pub mod soak;
pub mod table;
pub mod takeover;
pub mod tcpdump;
pub mod topology;
mod wait;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use wait::{hold_for, wait_until};

/// Address families the harness configures on every daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl Family {
    /// The name used in ironlb's TOML config.
    pub fn config_name(self) -> &'static str {
        match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        }
    }
}

/// Everything that can go wrong while driving the harness.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "{program} is not installed: run `apt-get install {package}` (the harness uses frr, bird2, tcpdump and gobgpd)"
    )]
    MissingProgram { program: String, package: &'static str },
    #[error(
        "bgpd binary not found (looked at {searched:?}); build it with `cargo build -p bgpd` or set IRONLB_BGPD"
    )]
    MissingBgpd { searched: Vec<PathBuf> },
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed { command: String, status: String, stderr: String },
    #[error("cannot run `{command}`: {source}")]
    Io {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out after {waited:?} waiting for {what}\n--- last seen ---\n{last}")]
    Timeout { what: String, waited: Duration, last: String },
    #[error("{what} stopped holding after {after:?}\n--- last seen ---\n{last}")]
    Violated { what: String, after: Duration, last: String },
    #[error("cannot parse the output of `{command}`: {reason}\n{output}")]
    Parse { command: String, reason: String, output: String },
    #[error("rig session with {peer}: {reason}")]
    Rig { peer: std::net::SocketAddr, reason: String },
    #[error("cannot encode the rig's table: {reason}")]
    Encode { reason: String },
    #[error("{name} (pid {pid}) exited with {status}\n--- log tail ---\n{log}")]
    Exited { name: String, pid: u32, status: String, log: String },
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: `il<pid>x<counter><tag>`.
///
/// Parallel tests in one process differ by the counter, parallel runs by the PID.
pub fn unique_name(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("il{}x{}{}", std::process::id(), n, tag)
}

/// Fails with the package to install when `program` is not on this machine.
pub fn require_program(program: &str, package: &'static str) -> Result<PathBuf> {
    let candidate = PathBuf::from(program);
    if candidate.is_absolute() {
        return if candidate.exists() {
            Ok(candidate)
        } else {
            Err(HarnessError::MissingProgram { program: program.to_owned(), package })
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(program))
        .find(|p| p.exists())
        .ok_or_else(|| HarnessError::MissingProgram { program: program.to_owned(), package })
}

/// A scratch directory for one daemon's config, sockets and logs.
///
/// Removed on drop, except while panicking: then the logs stay for the post-mortem and the
/// path is printed.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> Result<Self> {
        let path = std::env::temp_dir().join("ironlb-interop").join(unique_name(tag));
        std::fs::create_dir_all(&path).map_err(|source| HarnessError::Io {
            command: format!("mkdir {}", path.display()),
            source,
        })?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `contents` to `name` inside the directory.
    pub fn write(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let file = self.join(name);
        std::fs::write(&file, contents).map_err(|source| HarnessError::Io {
            command: format!("write {}", file.display()),
            source,
        })?;
        Ok(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The last `lines` lines of a text file, or a note saying why there are none.
pub fn tail(file: &std::path::Path, lines: usize) -> String {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(error) => format!("(no log at {}: {error})", file.display()),
    }
}

/// Test-side unwrapping that prints the error's `Display` (with its "last seen" block) rather
/// than its `Debug` form, so a failed wait reads as prose.
pub trait Check<T> {
    fn check(self, what: &str) -> T;
}

impl<T> Check<T> for Result<T> {
    #[track_caller]
    fn check(self, what: &str) -> T {
        match self {
            Ok(value) => value,
            Err(error) => panic!("{what}: {error}"),
        }
    }
}
