//! What the instance knows about its peers' sessions, for `ListPeers`,
//! `GetPeer` and `Watch`: the configured neighbour plus the session state the instance learns from its session
//! tasks' events (RFC 4271 §8.2.2 states; hold time and families as
//! negotiated in the OPEN exchange, §4.2 and RFC 4760).
//!
//! [`SessionStatus`] is updated by the instance from the session events it
//! already handles, so keeping it costs a few stores per state change. The
//! last NOTIFICATION each way (RFC 4271 §4.5, RFC 9003) is kept with its time.
//! `api::convert` turns these into `PeerStatus` messages.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Instant, SystemTime};

use crate::config::Neighbor;
use crate::fsm::{DownReason, NegotiatedSession, State};
use crate::peer::counters::SharedCounters;
use crate::rib::Rib;
use crate::wire::{Family, Notification, OpenMessage};

/// What an Established session agreed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstablishedFacts {
    pub since: Instant,
    pub hold_time: u16,
    pub keepalive: u16,
    pub families: Vec<Family>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub router_id: Ipv4Addr,
    pub asn: u32,
    /// The peer advertised route refresh (RFC 2918): soft in is possible.
    pub route_refresh: bool,
    /// The OPENs exchanged, for the capabilities both ways.
    pub local_open: OpenMessage,
    pub remote_open: OpenMessage,
}

/// A session's state as the instance knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionStatus {
    pub state: State,
    pub state_since: Instant,
    /// Times the session left Established.
    pub flaps: u64,
    pub established: Option<EstablishedFacts>,
    /// Graceful restart of the current (or last) session.
    pub graceful_restart: GracefulRestartFacts,
    /// The shutdown communication of the DisablePeer that stopped the peer.
    pub admin_message: Option<String>,
    /// Message and withdrawal counters, written by the session task.
    pub counters: SharedCounters,
    /// The last NOTIFICATIONs and why the last session ended.
    pub last: LastErrors,
    /// The neighbor's BFD session and its coupling state (`instance::bfd`).
    pub bfd: super::bfd::BfdPeer,
    /// Max-prefix warnings and hold (`instance::max_prefix`).
    pub max_prefix: super::max_prefix::MaxPrefixState,
    /// Directions RFC 8212 blocks for lack of a policy (eBGP, no chain,
    /// `ebgp_requires_policy`), as of the last time the chains were set
    /// (session start, reload, UpdatePeer; before the first session: as
    /// configured, with the configured remote AS).
    pub rfc8212: Rfc8212Blocks,
    /// Why the device of the neighbor's `vrf` has no listener (it does not
    /// exist, usually); retried until it has (`instance::devices`).
    pub device_problem: Option<String>,
}

/// What RFC 8212 blocks for one neighbor.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Rfc8212Blocks {
    pub import: bool,
    pub export: bool,
}

/// Graceful restart as the instance tracks it (`GracefulRestartStatus`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GracefulRestartFacts {
    /// What both OPENs agreed on; `None` when not both advertised it.
    pub negotiated: Option<crate::gr::Negotiated>,
    /// The peer went away gracefully or came back: its routes are stale now.
    pub peer_restarting: bool,
    pub end_of_rib_received: Vec<Family>,
    pub end_of_rib_sent: Vec<Family>,
}

impl Default for SessionStatus {
    fn default() -> Self {
        Self {
            state: State::Idle,
            state_since: Instant::now(),
            flaps: 0,
            established: None,
            graceful_restart: GracefulRestartFacts::default(),
            admin_message: None,
            counters: SharedCounters::default(),
            last: LastErrors::default(),
            bfd: super::bfd::BfdPeer::default(),
            max_prefix: super::max_prefix::MaxPrefixState::default(),
            rfc8212: Rfc8212Blocks::default(),
            device_problem: None,
        }
    }
}

impl SessionStatus {
    pub fn on_state_changed(&mut self, to: State) {
        if self.state != to {
            self.state = to;
            self.state_since = Instant::now();
        }
    }

    pub fn on_established(
        &mut self,
        negotiated: &NegotiatedSession,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        self.on_state_changed(State::Established);
        self.established = Some(EstablishedFacts {
            since: Instant::now(),
            hold_time: negotiated.hold_time,
            keepalive: negotiated.keepalive_interval,
            families: negotiated.families.clone(),
            local,
            remote,
            router_id: negotiated.peer_router_id,
            asn: negotiated.peer_asn,
            route_refresh: negotiated.route_refresh,
            local_open: negotiated.local_open.clone(),
            remote_open: negotiated.remote_open.clone(),
        });
    }

    /// A session task's status around the counters it writes.
    pub fn with_counters(counters: SharedCounters) -> Self {
        Self { counters, ..Self::default() }
    }

    pub fn on_down(&mut self) {
        if self.established.take().is_some() {
            self.flaps += 1;
        }
        if self.state == State::Established {
            self.on_state_changed(State::Idle);
        }
    }
}

/// One peer's answer, taken from the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerView {
    pub neighbor: Neighbor,
    pub status: SessionStatus,
    /// Per family: prefixes learned (Adj-RIB-In after import).
    pub learned: Vec<(Family, u64)>,
    /// Per family: prefixes in the peer's Adj-RIB-Out.
    pub advertised: Vec<(Family, u64)>,
    /// Per family: prefixes held back because they cannot be encoded for it.
    pub unsendable: Vec<(Family, u64)>,
    /// What the import chain did (see `rib::PolicyCounters` for when it restarts).
    pub import_counters: crate::rib::PolicyCounters,
    /// What the export chain did, likewise.
    pub export_counters: crate::rib::PolicyCounters,
    /// Per family: prefixes kept as received (before import policy), when
    /// the neighbor keeps them (soft reconfiguration inbound); else empty.
    pub received: Vec<(Family, u64)>,
}

impl PeerView {
    /// Takes the counts that only the RIB knows; `id` is the peer's RIB id.
    pub fn new(
        neighbor: &Neighbor,
        status: &SessionStatus,
        rib: &Rib,
        id: crate::rib::PeerId,
    ) -> Self {
        let learned = neighbor
            .families
            .iter()
            .map(|&family| (family, rib.source_routes(crate::rib::Source::Peer(id), family) as u64))
            .collect();
        let advertised = neighbor
            .families
            .iter()
            .map(|&family| (family, rib.advertised_count(id, family) as u64))
            .collect();
        let unsendable = neighbor
            .families
            .iter()
            .map(|&family| (family, rib.unsendable_count(id, family) as u64))
            .collect();
        let import_counters = rib.policy_counters(id).unwrap_or_default();
        let export_counters = rib.export_policy_counters(id).unwrap_or_default();
        let received = if rib.keeps_pre_policy(id) {
            neighbor
                .families
                .iter()
                .map(|&family| (family, rib.pre_policy_count(id, family) as u64))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            neighbor: neighbor.clone(),
            status: status.clone(),
            learned,
            advertised,
            unsendable,
            import_counters,
            export_counters,
            received,
        }
    }
}

impl PeerView {
    /// A neighbor without a session yet (an interface neighbor whose peer
    /// is not found): every count zero.
    pub fn unconnected(neighbor: &Neighbor, status: &SessionStatus) -> Self {
        let zero: Vec<(Family, u64)> = neighbor.families.iter().map(|&f| (f, 0)).collect();
        Self {
            neighbor: neighbor.clone(),
            status: status.clone(),
            learned: zero.clone(),
            advertised: zero.clone(),
            unsendable: zero,
            import_counters: crate::rib::PolicyCounters::default(),
            export_counters: crate::rib::PolicyCounters::default(),
            received: Vec::new(),
        }
    }
}

/// A NOTIFICATION and when it was sent or received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampedNotification {
    pub notification: Notification,
    pub at: SystemTime,
}

/// What the last session ends left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastErrors {
    pub sent: Option<StampedNotification>,
    pub received: Option<StampedNotification>,
    /// Why the last session ended, for humans.
    pub reason: Option<String>,
}

impl LastErrors {
    /// Records why a session went down.
    pub fn on_down(&mut self, reason: &DownReason) {
        let at = SystemTime::now();
        match reason {
            DownReason::NotificationSent(n) => {
                self.sent = Some(StampedNotification { notification: n.clone(), at });
            }
            DownReason::NotificationReceived(n) => {
                self.received = Some(StampedNotification { notification: n.clone(), at });
            }
            _ => {}
        }
        self.reason = Some(crate::peer::describe(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> OpenMessage {
        OpenMessage {
            version: 4,
            my_as: 65002,
            hold_time: 90,
            router_id: Ipv4Addr::new(192, 0, 2, 2),
            capabilities: Vec::new(),
        }
    }

    #[test]
    fn flaps_count_only_established_sessions_that_went_down() {
        let mut status = SessionStatus::default();
        status.on_state_changed(State::Connect);
        status.on_down();
        assert_eq!(status.flaps, 0);
        assert_eq!(status.state, State::Connect);
        status.established = Some(EstablishedFacts {
            since: Instant::now(),
            hold_time: 90,
            keepalive: 30,
            families: vec![Family::Ipv4Unicast],
            local: "127.0.0.1:179".parse().expect("literal"),
            remote: "127.0.0.2:40000".parse().expect("literal"),
            router_id: Ipv4Addr::new(192, 0, 2, 2),
            asn: 65002,
            route_refresh: true,
            local_open: open(),
            remote_open: open(),
        });
        status.on_state_changed(State::Established);
        status.on_down();
        assert_eq!(status.flaps, 1);
        assert_eq!(status.state, State::Idle);
        assert!(status.established.is_none());
    }
}
