//! The state file that tells `bgpd` it restarted (see the module doc of `gr`
//! for the design and why).
//!
//! ```toml
//! # <state_dir>/bgpd.state, rewritten whole each time
//! status = "running"          # "running" | "graceful-stop" | "stopped"
//! established = true          # some session reached Established in that run
//! graceful_restart = true     # some neighbour has graceful restart enabled
//! owners = ["k8s-speaker"]    # API owners known when it was last written
//! ```
//!
//! Writes go through one dedicated thread, so they never block the async
//! workers and always land in the order they were asked for.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "bgpd.state";

/// How the previous run ended (as far as it could tell).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Still running: if read at startup, the run crashed or was killed.
    Running,
    /// Stopped with sessions closed for graceful restart.
    GracefulStop,
    /// Stopped with a Cease to every peer: they flushed our routes.
    Stopped,
}

/// One record of the state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateRecord {
    pub status: Status,
    #[serde(default)]
    pub established: bool,
    #[serde(default)]
    pub graceful_restart: bool,
    #[serde(default)]
    pub owners: Vec<String>,
}

impl StateRecord {
    /// Whether a daemon starting after this record restarted gracefully: the
    /// run had graceful restart and an established session, and did not end
    /// with a Cease.
    pub fn is_restart(&self) -> bool {
        self.graceful_restart && self.established && self.status != Status::Stopped
    }
}

/// Problems with the state file. Reading problems mean "not a restart".
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot parse {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot encode the state record: {0}")]
    Encode(#[from] toml::ser::Error),
}

/// Reads the record in `dir`; `Ok(None)` when there is none (a first start).
/// Blocking.
pub fn read(dir: &Path) -> Result<Option<StateRecord>, StateFileError> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateFileError::Read { path, source }),
    };
    toml::from_str(&text).map(Some).map_err(|source| StateFileError::Parse { path, source })
}

/// Writes `record` into `dir` atomically: a temporary file, fsync, rename,
/// then fsync of the directory. A crash leaves the old or the new record,
/// never half of one. Blocking.
pub fn write(dir: &Path, record: &StateRecord) -> Result<(), StateFileError> {
    let text = toml::to_string(record)?;
    let path = dir.join(FILE_NAME);
    let temporary = dir.join(format!("{FILE_NAME}.tmp"));
    let failed = |source| StateFileError::Write { path: path.clone(), source };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let mut file = std::fs::File::create(&temporary).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    std::fs::rename(&temporary, &path).map_err(failed)?;
    if let Ok(directory) = std::fs::File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// The writer thread's handle.
#[derive(Debug)]
pub struct StateWriter {
    sender: Option<mpsc::Sender<StateRecord>>,
    thread: Option<JoinHandle<()>>,
}

impl StateWriter {
    /// Starts the writer thread for `dir`. Failures are logged, not fatal:
    /// without the file, the next start is merely not seen as a restart.
    pub fn spawn(dir: PathBuf) -> Self {
        let (sender, receiver) = mpsc::channel::<StateRecord>();
        let thread = std::thread::Builder::new().name("bgpd-state".into()).spawn(move || {
            while let Ok(mut record) = receiver.recv() {
                // Only the newest of a burst matters.
                while let Ok(newer) = receiver.try_recv() {
                    record = newer;
                }
                if let Err(error) = write(&dir, &record) {
                    tracing::error!(%error, "cannot write the graceful restart state file");
                }
            }
        });
        match thread {
            Ok(thread) => Self { sender: Some(sender), thread: Some(thread) },
            Err(error) => {
                tracing::error!(%error, "cannot start the state file writer");
                Self { sender: None, thread: None }
            }
        }
    }

    /// Queues `record` for writing.
    pub fn write(&self, record: StateRecord) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(record);
        }
    }

    /// Writes what is queued and stops the thread. Blocking.
    pub fn close(mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bgpd-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn record(status: Status) -> StateRecord {
        StateRecord {
            status,
            established: true,
            graceful_restart: true,
            owners: vec!["a \"b\"".into()],
        }
    }

    #[test]
    fn missing_file_is_a_first_start() {
        let dir = temp_dir("missing");
        assert!(read(&dir).unwrap().is_none());
    }

    #[test]
    fn round_trip_through_the_writer_thread() {
        let dir = temp_dir("roundtrip");
        let writer = StateWriter::spawn(dir.clone());
        writer.write(record(Status::Running));
        writer.write(record(Status::GracefulStop));
        writer.close();
        assert_eq!(read(&dir).unwrap(), Some(record(Status::GracefulStop)));
        assert!(!dir.join(format!("{FILE_NAME}.tmp")).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let dir = temp_dir("garbage");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), "status = 12\n\u{0}").unwrap();
        assert!(matches!(read(&dir), Err(StateFileError::Parse { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_counts_as_a_restart() {
        assert!(record(Status::Running).is_restart(), "a crash or SIGKILL");
        assert!(record(Status::GracefulStop).is_restart());
        assert!(!record(Status::Stopped).is_restart());
        let never_up = StateRecord { established: false, ..record(Status::Running) };
        assert!(!never_up.is_restart());
        let no_gr = StateRecord { graceful_restart: false, ..record(Status::Running) };
        assert!(!no_gr.is_restart());
    }
}
