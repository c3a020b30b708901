//! What the state file records, and when (see the module doc of `gr` for the
//! design). Sans-IO: each method returns the record to write, if any; the
//! instance hands it to the [`StateWriter`](super::StateWriter) thread.
//!
//! Recording starts at startup when a neighbour has the restarting role of
//! graceful restart, or when we restarted (the peers hold routes of the
//! previous run until our End-of-RIB); otherwise as soon as a neighbour with
//! that role is added later (SIGHUP reload, `AddPeer`, `UpdatePeer`), since
//! from then on a crash must be seen as a restart by the next start.

use super::{StateRecord, Status};

/// What startup decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Startup {
    /// We restarted: R bit, selection deferral, owner re-sync.
    pub restarted: bool,
    /// The API owners of the previous run, to re-sync.
    pub owners: Vec<String>,
}

/// The record and whether it is written.
#[derive(Clone, Debug)]
pub struct Recorder {
    record: StateRecord,
    recording: bool,
}

impl Recorder {
    /// At startup: `previous` is the record of the last run, `enabled` whether
    /// a configured neighbour has the restarting role. Returns the recorder,
    /// what startup decided, and the first record to write.
    pub fn start(
        previous: Option<StateRecord>,
        enabled: bool,
    ) -> (Self, Startup, Option<StateRecord>) {
        let restarted = previous.as_ref().is_some_and(StateRecord::is_restart);
        let owners =
            if restarted { previous.map(|p| p.owners).unwrap_or_default() } else { vec![] };
        let recorder = Self {
            record: StateRecord {
                status: Status::Running,
                // Until a session is up again, the peers still hold our old routes.
                established: restarted,
                // Still in a restart: a crash now is a restart too.
                graceful_restart: enabled || restarted,
                owners: owners.clone(),
            },
            recording: enabled || restarted,
        };
        let write = recorder.write();
        (recorder, Startup { restarted, owners }, write)
    }

    /// Whether records are being written (the writer thread is needed).
    pub fn recording(&self) -> bool {
        self.recording
    }

    pub fn record(&self) -> &StateRecord {
        &self.record
    }

    fn write(&self) -> Option<StateRecord> {
        self.recording.then(|| self.record.clone())
    }

    /// A neighbour with the restarting role was added: start recording.
    pub fn neighbor_enabled(&mut self) -> Option<StateRecord> {
        if self.recording && self.record.graceful_restart {
            return None;
        }
        self.recording = true;
        self.record.graceful_restart = true;
        self.write()
    }

    /// A session reached Established.
    pub fn established(&mut self) -> Option<StateRecord> {
        if self.record.established {
            return None;
        }
        self.record.established = true;
        self.write()
    }

    /// Whether the record names exactly `owners` (in this order).
    pub fn same_owners<'a>(&self, owners: impl Iterator<Item = &'a str>) -> bool {
        owners.eq(self.record.owners.iter().map(String::as_str))
    }

    /// The API owners now known (in a stable order).
    pub fn set_owners(&mut self, owners: Vec<String>) -> Option<StateRecord> {
        if self.record.owners == owners {
            return None;
        }
        self.record.owners = owners;
        self.write()
    }

    /// Our restart completed (End-of-RIB released): from now on the record
    /// claims graceful restart only if a neighbour still has the role.
    pub fn restart_complete(&mut self, enabled: bool) -> Option<StateRecord> {
        if self.record.graceful_restart == enabled {
            return None;
        }
        self.record.graceful_restart = enabled;
        self.write()
    }

    /// A planned stop: `graceful` when some session was closed for graceful
    /// restart (its peer keeps our routes), else every peer got a Cease.
    pub fn stopped(&mut self, graceful: bool) -> Option<StateRecord> {
        self.record.status = if graceful { Status::GracefulStop } else { Status::Stopped };
        self.write()
    }
}

#[cfg(test)]
mod tests;
