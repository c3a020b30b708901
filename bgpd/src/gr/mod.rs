//! Graceful restart in both roles: RFC 4724 (the capability, End-of-RIB, the
//! receiving and restarting speakers of §4) and RFC 8538 (the N bit: a
//! NOTIFICATION other than Cease/Hard Reset is a restart too).
//!
//! Everything here is sans-IO: state machines take events and return actions,
//! and the instance executes the actions (RIB stale marks, timers, exports).
//!
//! - [`negotiate`]: the capability we advertise and what both OPENs agreed on.
//! - [`helper`]: the receiving speaker, one machine per peer (§4.2): keep a
//!   restarting peer's routes stale, sweep them after its End-of-RIB.
//! - [`restart`]: the restarting speaker, one machine per daemon (§4.1):
//!   selection deferral and holding our End-of-RIB back until the peers and the
//!   API owners re-synced.
//! - [`state_file`]: how `bgpd` knows it restarted; [`recorder`]: what it
//!   records and when.
//!
//! # How `bgpd` knows it restarted
//!
//! A small TOML file, `<state_dir>/bgpd.state` (`[global] state_dir`, default
//! `/var/lib/ironlb`), records whether the previous run ended cleanly. It is
//! written atomically (temporary file, fsync, rename) by a dedicated thread:
//! - at startup: `status = "running"` (when a neighbour has graceful restart,
//!   or we are restarting; else as soon as one gets it by reload or `AddPeer`);
//! - when a session first reaches Established: `established = true` and the API
//!   owners known then (the owners whose paths peers may still hold);
//! - at a planned stop: `status = "graceful-stop"` when sessions were closed
//!   for graceful restart, `"stopped"` when they were ended with a Cease.
//!
//! At startup the previous record is read before it is overwritten. `bgpd`
//! restarted (R bit, selection deferral, owner re-sync) when that run had an
//! established session and its status is `running` (it crashed or was killed:
//! SIGKILL is a restart too) or `graceful-stop`. A missing or unreadable file
//! means a first start: the cost of that mistake is only that peers flush and
//! relearn our routes, never a stuck deferral. The opposite mistake (a stale
//! file after days down) costs at most one selection deferral time.
//!
//! Why a file and not a flag on the command line: a crash leaves no chance to
//! pass one, and whoever restarts `bgpd` (systemd, a kubelet) would have to
//! know about BGP. Why not the kernel or the peers: nothing we program
//! survives in the kernel (we install no forwarding), and the peers tell us
//! only after the OPEN we must already have sent with the R bit.
//!
//! # Forwarding state (F bits)
//!
//! `bgpd` programs no forwarding: the host keeps forwarding traffic to the
//! load-balanced addresses while `bgpd` is down. So forwarding state is always
//! preserved, and every family we advertise carries the F bit.
//!
//! # Planned stop
//!
//! With graceful restart negotiated, SIGTERM closes each session's TCP
//! connection without a NOTIFICATION (RFC 4724 §4: a TCP failure is what the
//! helper waits for). Sending a Cease would also work with the N bit (RFC 8538
//! §4), but closing works with every helper, N or not. An administrative Cease
//! (peer removed, disabled) on a session with N negotiated travels inside a
//! Hard Reset (RFC 8538 §3), so the peer flushes our routes at once.

pub mod helper;
pub mod negotiate;
pub mod recorder;
pub mod restart;
pub mod state_file;

use std::time::Duration;

pub use helper::{Helper, HelperAction, HelperEvent, HelperTimer, Loss};
pub use negotiate::{Negotiated, build_capability, hard_reset_for};
pub use recorder::{Recorder, Startup};
pub use restart::{Restart, RestartAction, RestartEvent};
pub use state_file::{StateFileError, StateRecord, StateWriter, Status};

/// Default restart time we advertise: two minutes, as FRR and BIRD do; long
/// enough for `bgpd` to restart, short enough that a dead speaker's routes go.
pub const DEFAULT_RESTART_TIME: u16 = 120;
/// Default time we keep a restarted peer's stale routes waiting for its
/// End-of-RIB (FRR's default, 360 s).
pub const DEFAULT_STALE_ROUTES_TIME: u16 = 360;
/// Default selection deferral (RFC 4724 §4.1 leaves it to the implementation;
/// FRR uses 360 s). Our peers' End-of-RIB usually ends it much sooner.
pub const DEFAULT_SELECTION_DEFERRAL_TIME: u16 = 360;
/// Largest restart time the 12-bit field carries.
pub const MAX_RESTART_TIME: u16 = 4095;
/// Default directory of the state file.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/ironlb";

/// Graceful restart settings of one neighbour (`[neighbors.graceful_restart]`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Settings {
    /// Advertise the capability at all (both roles).
    pub enabled: bool,
    /// Restart time we advertise, seconds, 0..=4095.
    pub restart_time: u16,
    /// How long a restarted peer's stale routes wait for its End-of-RIB.
    pub stale_routes_time: u16,
    /// Advertise the N bit (RFC 8538).
    pub notification: bool,
    /// Help the peer restart, but list no families: the peer does not keep
    /// our routes when we restart.
    pub helper_only: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            enabled: true,
            restart_time: DEFAULT_RESTART_TIME,
            stale_routes_time: DEFAULT_STALE_ROUTES_TIME,
            notification: true,
            helper_only: false,
        }
    }
}

impl Settings {
    /// The stale-routes timer.
    pub fn stale_routes_duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.stale_routes_time))
    }

    /// Whether peers keep our routes while we restart.
    pub fn restarting_role(&self) -> bool {
        self.enabled && !self.helper_only
    }
}

#[cfg(test)]
mod config_tests;
