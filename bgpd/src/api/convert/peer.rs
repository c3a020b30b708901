//! Peers → messages: the configured neighbor as `PeerConfig`, the session
//! status the instance keeps ([`PeerView`]) as `PeerStatus` (RFC 4271 §8.2.2
//! states; hold time and families as negotiated, §4.2 and RFC 4760), message
//! and withdrawal counters, the last NOTIFICATION each way with its decoded
//! name (RFC 4271 §4.5, RFC 4486 Cease subcodes) and RFC 9003 shutdown
//! communication, and the capabilities (RFC 5492) of both OPENs.

use std::time::{Instant, SystemTime};

use ironlb_proto::bgpd::v1;

use crate::config::{Neighbor, TtlPolicy};
use crate::fsm::State;
use crate::instance::bfd::BfdPeer;
use crate::instance::max_prefix::{MaxPrefixState, Said};
use crate::instance::status::{GracefulRestartFacts, PeerView, StampedNotification};
use crate::peer::counters::MessageSnapshot;
use crate::wire::{Family, OpenMessage};

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
        interface: neighbor.interface.as_ref().map(|i| i.name.clone()).unwrap_or_default(),
        // 0 with a dynamic AS, so a read config can be sent back as is.
        remote_asn: if neighbor.dynamic_asn.is_some() { 0 } else { neighbor.remote_asn },
        dynamic_asn: super::dynamic_asn(neighbor.dynamic_asn) as i32,
        port: u32::from(neighbor.port),
        local_address: neighbor.local_address.map(|a| a.to_string()).unwrap_or_default(),
        password_set: neighbor.password.is_some(),
        hold_time_seconds: Some(u32::from(neighbor.hold_time)),
        keepalive_seconds: Some(u32::from(neighbor.keepalive_time)),
        connect_retry_seconds: Some(u32::from(neighbor.connect_retry_time)),
        passive: neighbor.passive,
        multihop_ttl,
        ttl_security_hops,
        families: neighbor.families.iter().map(|&f| super::family(f) as i32).collect(),
        description: neighbor.description.clone().unwrap_or_default(),
        disabled: !neighbor.enabled,
        graceful_restart: neighbor.graceful_restart.map(|gr| v1::GracefulRestartConfig {
            enabled: gr.enabled,
            restart_time_seconds: Some(u32::from(gr.restart_time)),
            stale_routes_time_seconds: Some(u32::from(gr.stale_routes_time)),
            notification: gr.notification,
            helper_only: gr.helper_only,
        }),
        local_asn: neighbor.local_asn.unwrap_or(0),
        router_id: neighbor.router_id.map(|id| id.to_string()).unwrap_or_default(),
        soft_reconfiguration_inbound: Some(neighbor.soft_reconfiguration_inbound),
        enforce_first_as: Some(neighbor.enforce_first_as),
        vrf: neighbor.vrf.clone().unwrap_or_default(),
        import_policy: neighbor.import_policy.clone(),
        export_policy: neighbor.export_policy.clone(),
        bfd: neighbor.bfd.map(|bfd| v1::BfdConfig {
            enabled: bfd.enabled,
            min_rx_ms: Some(bfd.min_rx_ms),
            min_tx_ms: Some(bfd.min_tx_ms),
            multiplier: Some(u32::from(bfd.multiplier)),
            passive: bfd.passive,
            echo: false,
            check_control_plane_failure: bfd.check_control_plane_failure,
        }),
        max_prefix: neighbor.max_prefixes.map(|m| v1::MaxPrefixConfig {
            ipv4_unicast: m.limit(Family::Ipv4Unicast).unwrap_or(0),
            ipv6_unicast: m.limit(Family::Ipv6Unicast).unwrap_or(0),
            warning_percent: Some(u32::from(m.warning_percent)),
            warning_only: m.warning_only,
            restart_time_seconds: u32::from(m.restart_time),
        }),
        ..v1::PeerConfig::default()
    }
}

/// A neighbor's max-prefix state, when it has limits.
pub fn max_prefix_status(
    neighbor: &Neighbor,
    state: &MaxPrefixState,
    now: Instant,
) -> Option<v1::MaxPrefixStatus> {
    neighbor.max_prefixes?;
    let mut out = v1::MaxPrefixStatus {
        teardowns: state.teardowns,
        exceeded: [Family::Ipv4Unicast, Family::Ipv6Unicast]
            .into_iter()
            .filter(|&f| state.said(f) == Said::Excess)
            .map(|f| super::family(f) as i32)
            .collect(),
        ..v1::MaxPrefixStatus::default()
    };
    if let Some(held) = &state.held {
        out.held = true;
        out.family = super::family(held.family) as i32;
        out.count = held.count;
        out.limit = held.limit;
        // Rounded up: "0" means "only EnablePeer or ResetPeer".
        out.restart_in_seconds = held.until.map_or(0, |until| {
            let left = until.saturating_duration_since(now);
            left.as_secs() + u64::from(left.subsec_nanos() > 0)
        });
    }
    Some(out)
}

fn bfd_state(state: crate::bfd::State) -> v1::BfdState {
    use crate::bfd::State;
    match state {
        State::AdminDown => v1::BfdState::AdminDown,
        State::Down => v1::BfdState::Down,
        State::Init => v1::BfdState::Init,
        State::Up => v1::BfdState::Up,
    }
}

/// A BFD-enabled neighbor's BFD → `BfdStatus`: the driver's snapshot when
/// the API got one, else what the instance last heard (RFC 5880 §6.8.1
/// variables; timers in microseconds).
pub fn bfd_status(neighbor: &Neighbor, bfd: &BfdPeer) -> Option<v1::BfdStatus> {
    let session = neighbor.bfd_session()?;
    let mut out = v1::BfdStatus {
        multihop: matches!(session.hop, crate::bfd::Hop::Multi { .. }),
        bgp_held: bfd.held,
        error: bfd.error.clone().unwrap_or_default(),
        local_state: v1::BfdState::Down as i32,
        local_diagnostic: crate::bfd::Diagnostic::NoDiagnostic.to_string(),
        remote_diagnostic: crate::bfd::Diagnostic::NoDiagnostic.to_string(),
        ..v1::BfdStatus::default()
    };
    if let Some(change) = &bfd.last {
        out.local_state = bfd_state(change.to) as i32;
        out.remote_state = bfd_state(change.remote_state) as i32;
        out.local_diagnostic = change.diagnostic.to_string();
        out.remote_control_plane_independent = change.remote_control_plane_independent;
    }
    if let Some(status) = &bfd.session {
        out.local_state = bfd_state(status.state) as i32;
        out.remote_state = bfd_state(status.remote_state) as i32;
        out.local_diagnostic = status.local_diagnostic.to_string();
        out.remote_diagnostic = status.remote_diagnostic.to_string();
        out.local_discriminator = status.local_discriminator;
        out.remote_discriminator = status.remote_discriminator;
        out.transmit_interval_us = status.transmit_interval.as_micros() as u64;
        out.detection_time_us = status.detection_time.as_micros() as u64;
        out.remote_multiplier = u32::from(status.remote_detect_multiplier);
        out.remote_control_plane_independent = status.remote_control_plane_independent;
    }
    Some(out)
}

fn graceful_restart_status(facts: &GracefulRestartFacts) -> v1::GracefulRestartStatus {
    let families = |list: &[Family]| list.iter().map(|&f| super::family(f) as i32).collect();
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
                .map(|&(f, _)| super::family(f) as i32)
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
                    family: super::family(family) as i32,
                    // Known when the routes are kept as received (soft
                    // reconfiguration); otherwise only what was accepted is.
                    received: view
                        .received
                        .iter()
                        .find(|(f, _)| *f == family)
                        .map_or(accepted, |(_, count)| *count),
                    accepted,
                    advertised: view
                        .advertised
                        .iter()
                        .find(|(f, _)| *f == family)
                        .map_or(0, |(_, count)| *count),
                    withdrawals_received,
                    withdrawals_sent,
                    unsendable: view
                        .unsendable
                        .iter()
                        .find(|(f, _)| *f == family)
                        .map_or(0, |(_, count)| *count),
                }
            })
            .collect(),
        graceful_restart: Some(graceful_restart_status(&status.graceful_restart)),
        messages_sent: Some(messages(&status.counters.0.sent.snapshot())),
        messages_received: Some(messages(&status.counters.0.received.snapshot())),
        last_notification_sent: status.last.sent.as_ref().map(notification),
        last_notification_received: status.last.received.as_ref().map(notification),
        last_error: status.last.reason.clone().unwrap_or_default(),
        device_error: status.device_problem.clone().unwrap_or_default(),
        bfd: bfd_status(&view.neighbor, &status.bfd),
        max_prefix: max_prefix_status(&view.neighbor, &status.max_prefix, now),
        policy: Some(v1::PeerPolicyStatus {
            import_blocked: status.rfc8212.import,
            export_blocked: status.rfc8212.export,
            import_accepted: view.import_counters.accepted,
            import_rejected: view.import_counters.rejected,
            import_modified: view.import_counters.modified,
            export_accepted: view.export_counters.accepted,
            export_rejected: view.export_counters.rejected,
            export_modified: view.export_counters.modified,
        }),
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
        out.families = facts.families.iter().map(|&f| super::family(f) as i32).collect();
        out.local_capabilities = Some(capabilities(&facts.local_open));
        out.remote_capabilities = Some(capabilities(&facts.remote_open));
    }
    v1::Peer { config: Some(peer_config(&view.neighbor)), status: Some(out) }
}

/// A NOTIFICATION for the API.
pub fn notification(stamped: &StampedNotification) -> v1::NotificationInfo {
    let n = &stamped.notification;
    let reason = match n.kind() {
        Some(kind) => kind.to_string(),
        None => format!("unknown error {}/{}", n.code, n.subcode),
    };
    v1::NotificationInfo {
        code: u32::from(n.code),
        subcode: u32::from(n.subcode),
        reason,
        shutdown_message: n.shutdown_message().unwrap_or_default().to_string(),
        data: n.data.to_vec(),
        unix_time: stamped
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
    }
}

/// Message counts for the API.
pub fn messages(snapshot: &MessageSnapshot) -> v1::MessageCounters {
    v1::MessageCounters {
        open: snapshot.open,
        update: snapshot.update,
        notification: snapshot.notification,
        keepalive: snapshot.keepalive,
        route_refresh: snapshot.route_refresh,
        total: snapshot.total,
    }
}

/// The capabilities of one OPEN for the API.
pub fn capabilities(open: &OpenMessage) -> v1::Capabilities {
    super::capabilities(&open.capabilities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::DownReason;
    use crate::instance::status::{LastErrors, SessionStatus};
    use crate::wire::{AfiSafi, Capability, Notification, NotificationKind};

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
    fn bfd_config_and_status_are_reported() {
        let mut neighbor = Neighbor::with_defaults("192.0.2.2".parse().expect("literal"), 65002);
        assert_eq!(bfd_status(&neighbor, &BfdPeer::default()), None);
        neighbor.bfd = Some(crate::config::BfdSettings { enabled: true, ..Default::default() });
        let config = peer_config(&neighbor).bfd.expect("bfd config");
        assert_eq!((config.min_rx_ms, config.multiplier), (Some(300), Some(3)));
        // Before the driver answered: Down, no timers.
        let down = bfd_status(&neighbor, &BfdPeer::default()).expect("bfd status");
        assert_eq!(down.local_state, v1::BfdState::Down as i32);
        assert_eq!((down.detection_time_us, down.multihop), (0, false));
        let status = crate::bfd::Status {
            state: crate::bfd::State::Up,
            remote_state: crate::bfd::State::Up,
            local_diagnostic: crate::bfd::Diagnostic::NoDiagnostic,
            remote_diagnostic: crate::bfd::Diagnostic::NoDiagnostic,
            local_discriminator: 1,
            remote_discriminator: 2,
            transmit_interval: std::time::Duration::from_millis(300),
            detection_time: std::time::Duration::from_millis(900),
            remote_detect_multiplier: 3,
            remote_control_plane_independent: true,
            polling: false,
        };
        let mut peer = BfdPeer::default();
        peer.session = Some(status);
        peer.held = true;
        let up = bfd_status(&neighbor, &peer).expect("bfd status");
        assert_eq!(up.local_state, v1::BfdState::Up as i32);
        assert_eq!((up.transmit_interval_us, up.detection_time_us), (300_000, 900_000));
        assert_eq!((up.remote_multiplier, up.remote_discriminator), (3, 2));
        assert!(up.remote_control_plane_independent && up.bgp_held);
    }

    #[test]
    fn a_configured_neighbor_reports_its_config_and_idle_state() {
        let neighbor = Neighbor::with_defaults("192.0.2.2".parse().expect("literal"), 65002);
        let mut view = PeerView {
            neighbor,
            status: SessionStatus::default(),
            learned: Vec::new(),
            advertised: Vec::new(),
            unsendable: Vec::new(),
            import_counters: crate::rib::PolicyCounters::default(),
            export_counters: crate::rib::PolicyCounters::default(),
            received: Vec::new(),
        };
        let peer_message = peer(&view, Instant::now());
        let config = peer_message.config.expect("config");
        assert_eq!(config.address, "192.0.2.2");
        assert_eq!(config.remote_asn, 65002);
        let status = peer_message.status.expect("status");
        assert_eq!(status.state, v1::SessionState::Idle as i32);
        assert_eq!(status.hold_time_seconds, 0);
        assert_eq!(status.policy, Some(v1::PeerPolicyStatus::default()));

        view.learned = vec![(Family::Ipv4Unicast, 1)];
        view.received = vec![(Family::Ipv4Unicast, 3)];
        let counters = peer(&view, Instant::now()).status.expect("status").prefixes;
        assert_eq!((counters[0].received, counters[0].accepted), (3, 1), "kept vs accepted");
        view.received.clear();
        let counters = peer(&view, Instant::now()).status.expect("status").prefixes;
        assert_eq!((counters[0].received, counters[0].accepted), (1, 1), "nothing kept");

        view.status.rfc8212.import = true;
        view.import_counters = crate::rib::PolicyCounters { accepted: 7, rejected: 3, modified: 2 };
        view.export_counters = crate::rib::PolicyCounters { accepted: 5, rejected: 1, modified: 4 };
        let policy = peer(&view, Instant::now()).status.and_then(|s| s.policy).expect("policy");
        assert!(policy.import_blocked && !policy.export_blocked);
        assert_eq!(
            (policy.import_accepted, policy.import_rejected, policy.import_modified),
            (7, 3, 2)
        );
        assert_eq!(
            (policy.export_accepted, policy.export_rejected, policy.export_modified),
            (5, 1, 4)
        );
    }

    #[test]
    fn a_shutdown_notification_is_decoded_with_its_message() {
        let n = Notification::shutdown(NotificationKind::AdministrativeShutdown, "maintenance");
        let mut last = LastErrors::default();
        last.on_down(&DownReason::NotificationSent(n));
        let info = notification(last.sent.as_ref().expect("recorded"));
        assert_eq!((info.code, info.subcode), (6, 2));
        assert_eq!(info.reason, "Administrative Shutdown");
        assert_eq!(info.shutdown_message, "maintenance");
        assert!(info.unix_time > 0);
        assert!(last.received.is_none());
        assert!(last.reason.is_some());
    }

    #[test]
    fn unknown_codes_are_named_as_such() {
        let stamped = StampedNotification {
            notification: Notification { code: 6, subcode: 99, data: Default::default() },
            at: SystemTime::now(),
        };
        assert_eq!(notification(&stamped).reason, "unknown error 6/99");
    }

    #[test]
    fn capabilities_are_reported() {
        let open = OpenMessage {
            version: 4,
            my_as: 65002,
            hold_time: 90,
            router_id: "192.0.2.2".parse().expect("literal"),
            capabilities: vec![
                Capability::Multiprotocol(AfiSafi { afi: 1, safi: 1 }),
                Capability::Multiprotocol(AfiSafi { afi: 25, safi: 70 }),
                Capability::RouteRefresh { cisco: false },
                Capability::FourOctetAs(65002),
                Capability::Unknown { code: 99, value: Default::default() },
            ],
        };
        let caps = capabilities(&open);
        assert_eq!(caps.families, vec![v1::Family::Ipv4Unicast as i32]);
        assert_eq!(caps.other_families, vec!["25/70"]);
        assert!(caps.route_refresh && !caps.enhanced_route_refresh);
        assert_eq!(caps.four_octet_asn, 65002);
        assert_eq!(caps.unknown_codes, vec![99]);
    }
}
