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
use crate::config::{Neighbor, TtlPolicy};
use crate::fsm::{NegotiatedSession, State};
use crate::rib::Rib;
use crate::wire::Family;

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
}

/// A session's state as the instance knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionStatus {
    pub state: State,
    pub state_since: Instant,
    /// Times the session left Established.
    pub flaps: u64,
    pub established: Option<EstablishedFacts>,
}

impl Default for SessionStatus {
    fn default() -> Self {
        Self { state: State::Idle, state_since: Instant::now(), flaps: 0, established: None }
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
        });
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
        Self { neighbor: neighbor.clone(), status: status.clone(), learned }
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
        remote_asn: neighbor.remote_asn,
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
        ..v1::PeerConfig::default()
    }
}

/// A [`PeerView`] → `Peer`, times measured at `now`.
pub fn peer(view: &PeerView, now: Instant) -> v1::Peer {
    let status = &view.status;
    let mut out = v1::PeerStatus {
        state: session_state(status.state) as i32,
        admin_down: !view.neighbor.enabled,
        state_age_seconds: now.saturating_duration_since(status.state_since).as_secs(),
        flaps: status.flaps,
        prefixes: view
            .learned
            .iter()
            .map(|&(family, accepted)| v1::PrefixCounters {
                family: convert::family(family) as i32,
                accepted,
                ..v1::PrefixCounters::default()
            })
            .collect(),
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
    }
    v1::Peer { config: Some(peer_config(&view.neighbor)), status: Some(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        });
        status.on_state_changed(State::Established);
        status.on_down();
        assert_eq!(status.flaps, 1);
        assert_eq!(status.state, State::Idle);
        assert!(status.established.is_none());
    }

    #[test]
    fn a_configured_neighbour_reports_its_config_and_idle_state() {
        let neighbor = Neighbor::with_defaults("192.0.2.2".parse().expect("literal"), 65002);
        let view = PeerView { neighbor, status: SessionStatus::default(), learned: Vec::new() };
        let peer = peer(&view, Instant::now());
        let config = peer.config.expect("config");
        assert_eq!(config.address, "192.0.2.2");
        assert_eq!(config.remote_asn, 65002);
        let status = peer.status.expect("status");
        assert_eq!(status.state, v1::SessionState::Idle as i32);
        assert_eq!(status.hold_time_seconds, 0);
    }
}
