//! The receiving speaker (RFC 4724 §4.2, RFC 8538 §4): one machine per peer.
//!
//! ```text
//!            session lost, graceful (TCP closed; with N: hold expiry,
//!            a NOTIFICATION other than Hard Reset)
//!   Normal ───────────────────────────────► Restarting ──restart timer──► Normal
//!     ▲  │ lost otherwise: flush                │ re-established        (flush)
//!     │  ▼                                      ▼
//!     └──── End-of-RIB of every stale ──── Recovering ──stale-routes timer──► Normal
//!           family (sweep each)                                             (sweep)
//! ```
//!
//! Routes of the families the peer listed in its capability are kept, marked
//! stale, when the session is lost gracefully; the others are flushed. When the
//! session comes back, a family the peer no longer lists or lists without the F
//! bit loses its stale routes at once; the others wait for the family's
//! End-of-RIB, then what is still stale goes. A Cease/Hard Reset (subcode 9),
//! sent or received, always flushes.

use std::time::Duration;

use crate::fsm::DownReason;
use crate::wire::{Family, NotificationKind};

use super::negotiate::Negotiated;

/// The helper's timers.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HelperTimer {
    /// The peer's restart time: it must be back before this fires.
    Restart,
    /// Our stale-routes time: its End-of-RIB must arrive before this fires.
    StaleRoutes,
}

/// What happened to the peer's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperEvent {
    /// Established with these families and, when both ends advertised it, this
    /// graceful restart agreement.
    Established { families: Vec<Family>, graceful_restart: Option<Negotiated> },
    /// An established session went down.
    SessionDown(Loss),
    /// The peer sent End-of-RIB for a family.
    EndOfRib(Family),
    /// A timer started with this token fired (older tokens are ignored).
    TimerExpired { timer: HelperTimer, token: u64 },
}

/// What the instance must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperAction {
    /// Keep the peer's routes of this family, marked stale.
    KeepStale(Family),
    /// Remove every route of the peer in this family.
    Flush(Family),
    /// Remove the peer's routes of this family that are still stale.
    SweepStale(Family),
    /// Start (or restart) a timer; feed its expiry back with `token`.
    StartTimer { timer: HelperTimer, after: Duration, token: u64 },
}

/// How a session was lost, as graceful restart sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// TCP closed or failed, no NOTIFICATION: a restart (RFC 4724 §4.2).
    TcpClosed,
    /// A NOTIFICATION other than Cease/Hard Reset, either way, or hold timer
    /// expiry: a restart when N was negotiated (RFC 8538 §4), otherwise not.
    Notification,
    /// Cease/Hard Reset (RFC 8538 §3), or a stop we asked for: never a restart.
    HardReset,
}

impl Loss {
    /// Classifies the FSM's reason.
    pub fn of(reason: &DownReason) -> Self {
        match reason {
            DownReason::TcpConnectionFailed => Self::TcpClosed,
            DownReason::NotificationSent(n) | DownReason::NotificationReceived(n) => {
                if n.kind() == Some(NotificationKind::HardReset) {
                    Self::HardReset
                } else {
                    Self::Notification
                }
            }
            DownReason::Stopped | DownReason::UnexpectedEvent { .. } => Self::HardReset,
        }
    }

    /// A session our BFD took down (RFC 5882 §4.3). With the peer's C bit
    /// set its BFD runs independently of its control plane, so the Down means
    /// its forwarding plane failed: its routes must not be kept stale
    /// ([`Loss::HardReset`]). With the C bit clear BFD shares fate with the
    /// peer's control plane and the Down may be a restart: the FSM's reason
    /// decides as for any loss.
    pub fn of_bfd_down(reason: &DownReason, remote_control_plane_independent: bool) -> Self {
        if remote_control_plane_independent { Self::HardReset } else { Self::of(reason) }
    }

    fn is_restart(self, n_negotiated: bool) -> bool {
        match self {
            Self::TcpClosed => true,
            Self::Notification => n_negotiated,
            Self::HardReset => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing stale.
    Normal,
    /// Session lost gracefully: these families are stale, the restart timer runs.
    Restarting { stale: Vec<Family> },
    /// Session back: these families wait for End-of-RIB, the stale timer runs.
    Recovering { stale: Vec<Family> },
}

/// The helper role for one peer.
#[derive(Clone, Debug)]
pub struct Helper {
    /// Graceful restart enabled towards this peer.
    enabled: bool,
    stale_routes_time: Duration,
    /// Families of the current (or last) session, and its agreement.
    families: Vec<Family>,
    negotiated: Option<Negotiated>,
    phase: Phase,
    /// Token of the running timer; bumped on every start and stop.
    token: u64,
}

impl Helper {
    pub fn new(enabled: bool, stale_routes_time: Duration) -> Self {
        Self {
            enabled,
            stale_routes_time,
            families: Vec::new(),
            negotiated: None,
            phase: Phase::Normal,
            token: 0,
        }
    }

    /// Families whose routes are stale now.
    pub fn stale_families(&self) -> &[Family] {
        match &self.phase {
            Phase::Normal => &[],
            Phase::Restarting { stale } | Phase::Recovering { stale } => stale,
        }
    }

    /// The peer went away gracefully and has not come back yet.
    pub fn is_restarting(&self) -> bool {
        matches!(self.phase, Phase::Restarting { .. })
    }

    /// The agreement of the current (or last) session.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    pub fn handle(&mut self, event: HelperEvent) -> Vec<HelperAction> {
        let mut out = Vec::new();
        match event {
            HelperEvent::Established { families, graceful_restart } => {
                self.on_established(families, graceful_restart, &mut out)
            }
            HelperEvent::SessionDown(loss) => self.on_down(loss, &mut out),
            HelperEvent::EndOfRib(family) => self.on_end_of_rib(family, &mut out),
            HelperEvent::TimerExpired { timer, token } => {
                if token == self.token {
                    self.on_timer(timer, &mut out);
                }
            }
        }
        out
    }

    fn start_timer(&mut self, timer: HelperTimer, after: Duration, out: &mut Vec<HelperAction>) {
        self.token += 1;
        out.push(HelperAction::StartTimer { timer, after, token: self.token });
    }

    /// Cancels the running timer: its expiry will carry an old token.
    fn stop_timer(&mut self) {
        self.token += 1;
    }

    fn on_down(&mut self, loss: Loss, out: &mut Vec<HelperAction>) {
        self.stop_timer();
        let families = std::mem::take(&mut self.families);
        let graceful = match &self.negotiated {
            Some(n) if self.enabled && n.peer_restart_time > 0 => {
                loss.is_restart(n.notification).then_some(n)
            }
            _ => None,
        };
        let mut stale = Vec::new();
        for family in families {
            if graceful.is_some_and(|n| n.peer_lists(family)) {
                out.push(HelperAction::KeepStale(family));
                stale.push(family);
            } else {
                out.push(HelperAction::Flush(family));
            }
        }
        match graceful {
            Some(n) if !stale.is_empty() => {
                let after = n.restart_duration();
                self.phase = Phase::Restarting { stale };
                self.start_timer(HelperTimer::Restart, after, out);
            }
            _ => self.phase = Phase::Normal,
        }
    }

    fn on_established(
        &mut self,
        families: Vec<Family>,
        negotiated: Option<Negotiated>,
        out: &mut Vec<HelperAction>,
    ) {
        let phase = std::mem::replace(&mut self.phase, Phase::Normal);
        if let Phase::Restarting { stale } | Phase::Recovering { stale } = phase {
            self.stop_timer();
            let mut waiting = Vec::new();
            for family in stale {
                // RFC 4724 §4.2: no capability, the family missing from it, or
                // its F bit clear: the stale routes go at once.
                let kept = families.contains(&family)
                    && negotiated.as_ref().is_some_and(|n| n.forwarding_preserved(family));
                if kept {
                    waiting.push(family);
                } else {
                    out.push(HelperAction::SweepStale(family));
                }
            }
            if !waiting.is_empty() {
                self.phase = Phase::Recovering { stale: waiting };
                self.start_timer(HelperTimer::StaleRoutes, self.stale_routes_time, out);
            }
        }
        self.families = families;
        self.negotiated = negotiated;
    }

    fn on_end_of_rib(&mut self, family: Family, out: &mut Vec<HelperAction>) {
        let Phase::Recovering { stale } = &mut self.phase else { return };
        let Some(index) = stale.iter().position(|f| *f == family) else { return };
        stale.remove(index);
        out.push(HelperAction::SweepStale(family));
        if stale.is_empty() {
            self.phase = Phase::Normal;
            self.stop_timer();
        }
    }

    fn on_timer(&mut self, timer: HelperTimer, out: &mut Vec<HelperAction>) {
        let stale = match (&self.phase, timer) {
            (Phase::Restarting { stale }, HelperTimer::Restart)
            | (Phase::Recovering { stale }, HelperTimer::StaleRoutes) => stale.clone(),
            _ => return,
        };
        out.extend(stale.into_iter().map(HelperAction::SweepStale));
        self.phase = Phase::Normal;
        self.stop_timer();
    }
}

#[cfg(test)]
mod tests;
