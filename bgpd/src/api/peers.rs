//! What the API reports about peers (`ListPeers`, `GetPeer`): the configured
//! neighbour plus the session state the instance learns from its session
//! tasks' events (RFC 4271 §8.2.2 states; hold time and families as
//! negotiated in the OPEN exchange, §4.2 and RFC 4760).
//!
//! [`SessionStatus`] is updated by the instance from the session events it
//! already handles, so keeping it costs a few stores per state change.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use ironlb_proto::bgpd::v1;

use crate::api::convert;
use crate::api::peer_status::{self, LastErrors};
use crate::config::{Neighbor, TtlPolicy};
use crate::fsm::{NegotiatedSession, State};
use crate::peer::counters::SharedCounters;
use crate::rib::Rib;
use crate::wire::Family;
use crate::wire::OpenMessage;

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
        Self { neighbor: neighbor.clone(), status: status.clone(), learned, advertised }
    }
}

pub fn session_state(state: State) -> v1::SessionState {
    match state {
        State::Idle => v1::SessionState::Idle,
        State::Connect => v1::SessionState::Connect,
        State::Active => v1::SessionState::Active,
        State::OpenSent => v1::SessionState::OpenSent,
        State::OpenConfirm => v1::SessionState::OpenConfirm,
        State::Established => v1::SessionState::Established,
    }
}

/// A configured neighbour → `PeerConfig` (the password is never sent back).
pub fn peer_config(neighbor: &Neighbor) -> v1::PeerConfig {
    let (multihop_ttl, ttl_security_hops) = match neighbor.ttl {
        TtlPolicy::Multihop { hops } => (u32::from(hops), 0),
        TtlPolicy::Security { hops } => (0, u32::from(hops)),
    };
    v1::PeerConfig {
        address: neighbor.address.to_string(),
        // 0 with a dynamic AS, so a read config can be sent back as is.
        remote_asn: if neighbor.dynamic_asn.is_some() { 0 } else { neighbor.remote_asn },
        dynamic_asn: convert::dynamic_asn(neighbor.dynamic_asn) as i32,
        port: u32::from(neighbor.port),
        local_address: neighbor.local_address.map(|a| a.to_string()).unwrap_or_default(),
        password_set: neighbor.password.is_some(),
        hold_time_seconds: Some(u32::from(neighbor.hold_time)),
        keepalive_seconds: Some(u32::from(neighbor.keepalive_time)),
        connect_retry_seconds: Some(u32::from(neighbor.connect_retry_time)),
        passive: neighbor.passive,
        multihop_ttl,
        ttl_security_hops,
        families: neighbor.families.iter().map(|&f| convert::family(f) as i32).collect(),
        description: neighbor.description.clone().unwrap_or_default(),
        disabled: !neighbor.enabled,
        graceful_restart: neighbor.graceful_restart.map(|gr| v1::GracefulRestartConfig {
            enabled: gr.enabled,
            restart_time_seconds: Some(u32::from(gr.restart_time)),
            stale_routes_time_seconds: Some(u32::from(gr.stale_routes_time)),
            notification: gr.notification,
            helper_only: gr.helper_only,
        }),
        ..v1::PeerConfig::default()
    }
}

fn graceful_restart_status(facts: &GracefulRestartFacts) -> v1::GracefulRestartStatus {
    let families = |list: &[Family]| list.iter().map(|&f| convert::family(f) as i32).collect();
    let negotiated = facts.negotiated.as_ref();
    v1::GracefulRestartStatus {
        negotiated: negotiated.is_some(),
        remote_restart_time_seconds: negotiated.map_or(0, |n| u32::from(n.peer_restart_time)),
        notification: negotiated.is_some_and(|n| n.notification),
        peer_restarting: facts.peer_restarting,
        forwarding_preserved: negotiated.map_or_else(Vec::new, |n| {
            n.peer_families
                .iter()
                .filter(|(_, preserved)| *preserved)
                .map(|&(f, _)| convert::family(f) as i32)
                .collect()
        }),
        end_of_rib_received: families(&facts.end_of_rib_received),
        end_of_rib_sent: families(&facts.end_of_rib_sent),
    }
}

/// A [`PeerView`] → `Peer`, times measured at `now`.
pub fn peer(view: &PeerView, now: Instant) -> v1::Peer {
    let status = &view.status;
    let mut out = v1::PeerStatus {
        state: session_state(status.state) as i32,
        admin_down: !view.neighbor.enabled,
        admin_down_message: status.admin_message.clone().unwrap_or_default(),
        state_age_seconds: now.saturating_duration_since(status.state_since).as_secs(),
        flaps: status.flaps,
        prefixes: view
            .learned
            .iter()
            .map(|&(family, accepted)| {
                let (withdrawals_sent, withdrawals_received) =
                    status.counters.0.withdrawals(family);
                v1::PrefixCounters {
                    family: convert::family(family) as i32,
                    // No import policy beyond the loop checks: what is
                    // received is what is accepted.
                    received: accepted,
                    accepted,
                    advertised: view
                        .advertised
                        .iter()
                        .find(|(f, _)| *f == family)
                        .map_or(0, |(_, count)| *count),
                    withdrawals_received,
                    withdrawals_sent,
                }
            })
            .collect(),
        graceful_restart: Some(graceful_restart_status(&status.graceful_restart)),
        messages_sent: Some(peer_status::messages(&status.counters.0.sent.snapshot())),
        messages_received: Some(peer_status::messages(&status.counters.0.received.snapshot())),
        last_notification_sent: status.last.sent.as_ref().map(peer_status::notification),
        last_notification_received: status.last.received.as_ref().map(peer_status::notification),
        last_error: status.last.reason.clone().unwrap_or_default(),
        ..v1::PeerStatus::default()
    };
    if let Some(facts) = &status.established {
        out.uptime_seconds = now.saturating_duration_since(facts.since).as_secs();
        out.hold_time_seconds = u32::from(facts.hold_time);
        out.keepalive_seconds = u32::from(facts.keepalive);
        out.local_endpoint = facts.local.to_string();
        out.remote_endpoint = facts.remote.to_string();
        out.remote_router_id = facts.router_id.to_string();
        out.remote_asn = facts.asn;
        out.families = facts.families.iter().map(|&f| convert::family(f) as i32).collect();
        out.local_capabilities = Some(peer_status::capabilities(&facts.local_open));
        out.remote_capabilities = Some(peer_status::capabilities(&facts.remote_open));
    }
    v1::Peer { config: Some(peer_config(&view.neighbor)), status: Some(out) }
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

    #[test]
    fn graceful_restart_status_reports_the_agreement_and_markers() {
        let facts = GracefulRestartFacts {
            negotiated: Some(crate::gr::Negotiated {
                peer_restart_time: 120,
                peer_restarting: false,
                notification: true,
                peer_families: vec![(Family::Ipv4Unicast, true), (Family::Ipv6Unicast, false)],
                local_families: vec![Family::Ipv4Unicast],
            }),
            peer_restarting: true,
            end_of_rib_received: vec![Family::Ipv4Unicast],
            end_of_rib_sent: vec![Family::Ipv6Unicast],
        };
        let status = graceful_restart_status(&facts);
        assert!(status.negotiated && status.notification && status.peer_restarting);
        assert_eq!(status.remote_restart_time_seconds, 120);
        assert_eq!(status.forwarding_preserved, vec![v1::Family::Ipv4Unicast as i32]);
        assert_eq!(status.end_of_rib_received, vec![v1::Family::Ipv4Unicast as i32]);
        assert_eq!(status.end_of_rib_sent, vec![v1::Family::Ipv6Unicast as i32]);
        assert!(!graceful_restart_status(&GracefulRestartFacts::default()).negotiated);
    }

    #[test]
    fn a_configured_neighbour_reports_its_config_and_idle_state() {
        let neighbor = Neighbor::with_defaults("192.0.2.2".parse().expect("literal"), 65002);
        let view = PeerView {
            neighbor,
            status: SessionStatus::default(),
            learned: Vec::new(),
            advertised: Vec::new(),
        };
        let peer = peer(&view, Instant::now());
        let config = peer.config.expect("config");
        assert_eq!(config.address, "192.0.2.2");
        assert_eq!(config.remote_asn, 65002);
        let status = peer.status.expect("status");
        assert_eq!(status.state, v1::SessionState::Idle as i32);
        assert_eq!(status.hold_time_seconds, 0);
    }
}
