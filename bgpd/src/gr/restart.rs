//! The restarting speaker (RFC 4724 §4.1): one machine per daemon.
//!
//! After a restart, route selection is deferred until every peer we expect
//! has sent End-of-RIB for each family of its session, or until the selection
//! deferral timer fires. Expected are the neighbours with graceful restart
//! enabled; one that comes up without the capability, or with its own R bit
//! set (it restarted too and waits for us), is not waited for (§4.1). While
//! deferring, the RIB exports no prefix that has a learned path (see
//! `rib::deferral`): the peers keep our previous routes, stale. A prefix whose
//! only paths are local (config routes, paths of API owners that re-synced)
//! goes out at once: peers' routes cannot change its selection, and a peer
//! that restarted with us (R bit set, so it flushed our routes) gets them back
//! without waiting for the slowest peer's End-of-RIB.
//!
//! Our End-of-RIB additionally waits for the API owners of the previous run to
//! re-sync (their first `SetPaths`), bounded by the same timer: an End-of-RIB
//! sent before would make the peers sweep routes about to be announced again.
//!
//! ```text
//!   Deferring ──every expected End-of-RIB, or timer──► Selected ──owners re-synced──► Done
//!       │                                                                    ▲
//!       └──────────────────────── timer ─────────────────────────────────────┘
//! ```
//! A daemon that did not restart starts in Done.

use std::collections::HashMap;
use std::time::Duration;

use crate::rib::PeerId;
use crate::wire::Family;

/// Whether the restarting role waits for this neighbour's End-of-RIB: it has
/// graceful restart enabled (helper-only too: it still re-sends its routes)
/// and is not administratively disabled (it would never come up).
pub fn awaits(settings: Option<super::Settings>, neighbor_enabled: bool) -> bool {
    neighbor_enabled && settings.is_some_and(|s| s.enabled)
}

/// Inputs of the restarting role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestartEvent {
    /// A session reached Established. `graceful_restart`: both ends advertised
    /// the capability; `peer_restarting`: the peer's R bit.
    PeerEstablished {
        peer: PeerId,
        families: Vec<Family>,
        graceful_restart: bool,
        peer_restarting: bool,
    },
    /// The peer sent End-of-RIB for a family.
    PeerEndOfRib { peer: PeerId, family: Family },
    /// A neighbour with graceful restart was added (reload, `AddPeer`) while
    /// we defer: its End-of-RIB is waited for too.
    PeerAdded { peer: PeerId },
    /// The neighbour was removed from the configuration.
    PeerRemoved { peer: PeerId },
    /// No API owner waits for re-sync any more.
    OwnersResynced,
    /// The deferral timer started with this token fired.
    TimerExpired { token: u64 },
}

/// What the instance must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestartAction {
    /// Arm the deferral timer; feed its expiry back with `token`.
    StartTimer { after: Duration, token: u64 },
    /// Route selection may be exported: release the learned routes, pump
    /// every peer.
    ReleaseExports,
    /// End-of-RIB may be sent (once each peer's table is out); our OPENs stop
    /// setting the R bit.
    ReleaseEndOfRib,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Deferring,
    /// Selection done, owners still re-syncing.
    Selected,
    Done,
}

/// What we wait for from one expected peer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    /// Not established yet.
    Down,
    /// Established: these families have not sent End-of-RIB yet.
    Waiting(Vec<Family>),
}

/// The restarting role.
#[derive(Clone, Debug)]
pub struct Restart {
    phase: Phase,
    expected: HashMap<PeerId, Expected>,
    owners_pending: bool,
    token: u64,
}

impl Restart {
    /// The role of a daemon that did not restart: nothing is held.
    pub fn not_restarted() -> Self {
        Self { phase: Phase::Done, expected: HashMap::new(), owners_pending: false, token: 0 }
    }

    /// After a restart: wait for `expected` peers (graceful restart enabled)
    /// and, when `owners_pending`, for the API owners, at most `deferral`.
    pub fn restarted(
        expected: impl IntoIterator<Item = PeerId>,
        owners_pending: bool,
        deferral: Duration,
    ) -> (Self, Vec<RestartAction>) {
        let mut restart = Self {
            phase: Phase::Deferring,
            expected: expected.into_iter().map(|peer| (peer, Expected::Down)).collect(),
            owners_pending,
            token: 1,
        };
        let mut out = vec![RestartAction::StartTimer { after: deferral, token: 1 }];
        restart.advance(&mut out);
        (restart, out)
    }

    /// Route selection is deferred: export no learned route.
    pub fn exports_held(&self) -> bool {
        self.phase == Phase::Deferring
    }

    /// End-of-RIB is held back (and our OPENs set the R bit).
    pub fn end_of_rib_held(&self) -> bool {
        self.phase != Phase::Done
    }

    pub fn handle(&mut self, event: RestartEvent) -> Vec<RestartAction> {
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        match event {
            RestartEvent::PeerEstablished { peer, families, graceful_restart, peer_restarting } => {
                if let Some(expected) = self.expected.get_mut(&peer) {
                    if graceful_restart && !peer_restarting && *expected == Expected::Down {
                        *expected = Expected::Waiting(families);
                    } else if !graceful_restart || peer_restarting {
                        self.expected.remove(&peer);
                    }
                }
            }
            RestartEvent::PeerEndOfRib { peer, family } => {
                if let Some(Expected::Waiting(families)) = self.expected.get_mut(&peer) {
                    families.retain(|f| *f != family);
                    if families.is_empty() {
                        self.expected.remove(&peer);
                    }
                }
            }
            RestartEvent::PeerAdded { peer } => {
                if self.phase == Phase::Deferring {
                    self.expected.entry(peer).or_insert(Expected::Down);
                }
            }
            RestartEvent::PeerRemoved { peer } => {
                self.expected.remove(&peer);
            }
            RestartEvent::OwnersResynced => self.owners_pending = false,
            RestartEvent::TimerExpired { token } => {
                if token == self.token {
                    self.expected.clear();
                    self.owners_pending = false;
                }
            }
        }
        self.advance(&mut out);
        out
    }

    fn advance(&mut self, out: &mut Vec<RestartAction>) {
        if self.phase == Phase::Deferring && self.expected.is_empty() {
            self.phase = Phase::Selected;
            out.push(RestartAction::ReleaseExports);
        }
        if self.phase == Phase::Selected && !self.owners_pending {
            self.phase = Phase::Done;
            // The timer is moot now.
            self.token += 1;
            out.push(RestartAction::ReleaseEndOfRib);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Family::{Ipv4Unicast as V4, Ipv6Unicast as V6};
    use RestartAction::*;

    const A: PeerId = PeerId(1);
    const B: PeerId = PeerId(2);
    const DEFERRAL: Duration = Duration::from_secs(360);

    fn up(peer: PeerId, graceful_restart: bool, peer_restarting: bool) -> RestartEvent {
        RestartEvent::PeerEstablished {
            peer,
            families: vec![V4, V6],
            graceful_restart,
            peer_restarting,
        }
    }

    fn eor(peer: PeerId, family: Family) -> RestartEvent {
        RestartEvent::PeerEndOfRib { peer, family }
    }

    #[test]
    fn only_enabled_neighbors_with_graceful_restart_are_awaited() {
        let on = crate::gr::Settings::default();
        let helper = crate::gr::Settings { helper_only: true, ..on };
        let off = crate::gr::Settings { enabled: false, ..on };
        assert!(awaits(Some(on), true));
        assert!(awaits(Some(helper), true));
        assert!(!awaits(Some(off), true));
        assert!(!awaits(None, true));
        assert!(!awaits(Some(on), false), "disabled: never comes up");
    }

    #[test]
    fn a_fresh_daemon_holds_nothing() {
        let mut restart = Restart::not_restarted();
        assert!(!restart.exports_held());
        assert!(!restart.end_of_rib_held());
        assert!(restart.handle(up(A, true, false)).is_empty());
    }

    #[test]
    fn selection_waits_for_every_end_of_rib_of_every_expected_peer() {
        let (mut restart, actions) = Restart::restarted([A, B], false, DEFERRAL);
        assert_eq!(actions, vec![StartTimer { after: DEFERRAL, token: 1 }]);
        assert!(restart.exports_held() && restart.end_of_rib_held());
        assert!(restart.handle(up(A, true, false)).is_empty());
        assert!(restart.handle(eor(A, V4)).is_empty());
        assert!(restart.handle(eor(A, V6)).is_empty(), "B is still expected");
        assert!(restart.handle(eor(B, V4)).is_empty(), "B is not up: ignored");
        assert!(restart.handle(up(B, true, false)).is_empty());
        assert!(restart.handle(eor(B, V4)).is_empty());
        assert_eq!(restart.handle(eor(B, V6)), vec![ReleaseExports, ReleaseEndOfRib]);
        assert!(!restart.exports_held() && !restart.end_of_rib_held());
        assert!(restart.handle(RestartEvent::TimerExpired { token: 1 }).is_empty());
    }

    #[test]
    fn peers_without_capability_or_with_r_set_are_not_waited_for() {
        let (mut restart, _) = Restart::restarted([A, B], false, DEFERRAL);
        assert!(restart.handle(up(A, false, false)).is_empty());
        assert_eq!(restart.handle(up(B, true, true)), vec![ReleaseExports, ReleaseEndOfRib]);
    }

    #[test]
    fn the_timer_ends_the_deferral() {
        let (mut restart, _) = Restart::restarted([A], true, DEFERRAL);
        restart.handle(up(A, true, false));
        assert!(restart.handle(RestartEvent::TimerExpired { token: 0 }).is_empty(), "old token");
        let actions = restart.handle(RestartEvent::TimerExpired { token: 1 });
        assert_eq!(actions, vec![ReleaseExports, ReleaseEndOfRib]);
    }

    #[test]
    fn end_of_rib_waits_for_the_owners_after_selection() {
        let (mut restart, _) = Restart::restarted([A], true, DEFERRAL);
        restart.handle(up(A, true, false));
        restart.handle(eor(A, V4));
        assert_eq!(restart.handle(eor(A, V6)), vec![ReleaseExports]);
        assert!(!restart.exports_held());
        assert!(restart.end_of_rib_held());
        assert_eq!(restart.handle(RestartEvent::OwnersResynced), vec![ReleaseEndOfRib]);
    }

    #[test]
    fn owners_alone_or_the_timer_release_end_of_rib() {
        let (mut restart, actions) = Restart::restarted([], true, DEFERRAL);
        assert_eq!(actions, vec![StartTimer { after: DEFERRAL, token: 1 }, ReleaseExports]);
        assert_eq!(restart.handle(RestartEvent::TimerExpired { token: 1 }), vec![ReleaseEndOfRib]);
    }

    #[test]
    fn a_peer_added_while_deferring_is_waited_for_too() {
        let (mut restart, _) = Restart::restarted([A], false, DEFERRAL);
        assert!(restart.handle(RestartEvent::PeerAdded { peer: B }).is_empty());
        restart.handle(up(A, true, false));
        restart.handle(eor(A, V4));
        assert!(restart.handle(eor(A, V6)).is_empty(), "B is expected now");
        restart.handle(up(B, true, false));
        restart.handle(eor(B, V4));
        assert_eq!(restart.handle(eor(B, V6)), vec![ReleaseExports, ReleaseEndOfRib]);
    }

    #[test]
    fn a_peer_added_after_the_selection_is_not_waited_for() {
        let (mut restart, actions) = Restart::restarted([], true, DEFERRAL);
        assert!(actions.contains(&ReleaseExports));
        assert!(restart.handle(RestartEvent::PeerAdded { peer: B }).is_empty());
        assert!(!restart.exports_held());
        assert_eq!(restart.handle(RestartEvent::OwnersResynced), vec![ReleaseEndOfRib]);
    }

    #[test]
    fn removing_the_last_expected_peer_ends_the_deferral() {
        let (mut restart, _) = Restart::restarted([A], false, DEFERRAL);
        let actions = restart.handle(RestartEvent::PeerRemoved { peer: A });
        assert_eq!(actions, vec![ReleaseExports, ReleaseEndOfRib]);
    }
}
