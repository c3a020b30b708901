//! The administrative peer RPCs (`AddPeer`, `UpdatePeer`, `DeletePeer`,
//! `EnablePeer`, `DisablePeer`, `ResetPeer`): the requests as the instance
//! executes them, their typed failures, and the conversion of validated
//! [`PeerSettings`] into the instance's [`Neighbor`] (the same type a
//! `[[neighbors]]` table of the config file becomes).
//!
//! RFCs: RFC 4486 (Cease subcodes: 2 Administrative Shutdown, 3 Peer
//! De-configured, 4 Administrative Reset, 6 Other Configuration Change),
//! RFC 9003 (shutdown communication), RFC 2918 and RFC 7313 (route refresh).
//!
//! # API peers and SIGHUP reload
//!
//! A peer added through the API is *not* part of the config file, and reload
//! only adds, changes and removes the peers the file names: API peers survive
//! every reload. A reloaded file that names the address of an API peer has
//! that entry skipped and an error logged (the API peer stays as it is). A
//! config-file peer may be changed through the API too. UpdatePeer and
//! DeletePeer change what runs, so the next reload finds the file different
//! and makes the peer match the file again (a deleted config peer comes
//! back). EnablePeer and DisablePeer are operational state: they hold across
//! reloads until the file's entry for that peer itself changes.

use std::net::IpAddr;

use tonic::Status;

use super::peer::{PasswordSetting, PeerSettings, ResetCommand, TtlMode};
use super::peers::PeerView;
use crate::config::{DEFAULT_EBGP_MULTIHOP, DynamicAsn, Neighbor, Password, TtlPolicy};
use crate::wire::Family;

/// One administrative peer request, validated.
#[derive(Debug)]
pub enum PeerOp {
    /// Converted by the instance with [`neighbor_from`] (it knows the
    /// daemon's ASN).
    Add(PeerSettings),
    Update(PeerSettings),
    Delete(IpAddr),
    Enable(IpAddr),
    /// With the RFC 9003 shutdown communication (may be empty).
    Disable(IpAddr, String),
    Reset(IpAddr, ResetCommand),
}

/// A neighbour built from API settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNeighbor {
    pub neighbor: Neighbor,
    /// The request said "keep the configured password" (`password_set` with
    /// an empty `password`): UpdatePeer copies it from the running neighbour.
    pub keep_password: bool,
}

/// What a successful request answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerOpAnswer {
    /// The peer after the change (none for DeletePeer).
    pub view: Option<PeerView>,
    /// UpdatePeer: the change needed a new session.
    pub session_reset: bool,
}

/// Why an administrative peer request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerOpError {
    #[error("peer.address \"{0}\" is already a configured peer")]
    Exists(IpAddr),
    #[error("{field} \"{address}\" is not a configured peer")]
    NotFound { field: &'static str, address: IpAddr },
    #[error("peer {0} is not Established, so a soft reset has no session to act on")]
    NotEstablished(IpAddr),
    #[error("peer {0} did not advertise the route refresh capability (RFC 2918)")]
    NoRouteRefresh(IpAddr),
    #[error("families: {family} is not negotiated with peer {peer}")]
    FamilyNotNegotiated { peer: IpAddr, family: Family },
    #[error("{field} {value} is not supported by bgpd yet")]
    Unsupported { field: &'static str, value: String },
    #[error("peer.password_set without peer.password: there is no password to keep for a new peer")]
    NothingToKeep,
}

impl From<PeerOpError> for Status {
    fn from(error: PeerOpError) -> Self {
        let message = error.to_string();
        match error {
            PeerOpError::Exists(_) => Status::already_exists(message),
            PeerOpError::NotFound { .. } => Status::not_found(message),
            PeerOpError::NotEstablished(_)
            | PeerOpError::NoRouteRefresh(_)
            | PeerOpError::FamilyNotNegotiated { .. } => Status::failed_precondition(message),
            PeerOpError::Unsupported { .. } => Status::unimplemented(message),
            PeerOpError::NothingToKeep => Status::invalid_argument(message),
        }
    }
}

/// Converts validated settings into a [`Neighbor`].
///
/// `daemon_asn` is the daemon's ASN: a `local_asn` other than it needs
/// per-peer local AS support, which bgpd lacks, as is a prefix limit; those
/// are refused (UNIMPLEMENTED) rather than ignored.
/// Keys the API does not carry (`next_hop_self`, `delay_open_time`) take
/// their config-file defaults; UpdatePeer keeps the running values.
pub fn neighbor_from(settings: &PeerSettings, daemon_asn: u32) -> Result<NewNeighbor, PeerOpError> {
    if let Some(asn) = settings.local_asn.filter(|asn| *asn != daemon_asn) {
        return Err(PeerOpError::Unsupported { field: "peer.local_asn", value: asn.to_string() });
    }
    if let Some(limit) = settings.max_prefixes {
        return Err(PeerOpError::Unsupported {
            field: "peer.max_prefixes",
            value: limit.to_string(),
        });
    }
    let remote_asn = match settings.dynamic_asn {
        Some(DynamicAsn::Internal) => daemon_asn,
        Some(DynamicAsn::External) => 0,
        None => settings.remote_asn,
    };
    let mut neighbor = Neighbor::with_defaults(settings.address, remote_asn);
    neighbor.dynamic_asn = settings.dynamic_asn;
    neighbor.port = settings.port;
    neighbor.local_address = settings.local_address;
    neighbor.passive = settings.passive;
    let keep_password = settings.password == PasswordSetting::Keep;
    neighbor.password = match &settings.password {
        PasswordSetting::Key(key) => Some(Password::new(key.0.clone())),
        PasswordSetting::None | PasswordSetting::Keep => None,
    };
    neighbor.hold_time = settings.hold_time;
    neighbor.keepalive_time = settings.keepalive.unwrap_or(settings.hold_time / 3);
    neighbor.connect_retry_time = settings.connect_retry;
    neighbor.ttl = match settings.ttl {
        TtlMode::Default => TtlPolicy::Multihop { hops: DEFAULT_EBGP_MULTIHOP },
        TtlMode::Multihop(hops) => TtlPolicy::Multihop { hops },
        TtlMode::Security { hops } => TtlPolicy::Security { hops },
    };
    neighbor.families = settings.families.clone();
    neighbor.description = (!settings.description.is_empty()).then(|| settings.description.clone());
    neighbor.enabled = !settings.disabled;
    neighbor.graceful_restart = settings.graceful_restart.map(|gr| crate::gr::Settings {
        enabled: true,
        restart_time: gr.restart_time,
        stale_routes_time: gr.stale_routes_time,
        notification: gr.notification,
        helper_only: gr.helper_only,
    });
    Ok(NewNeighbor { neighbor, keep_password })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::peer::peer_settings;
    use ironlb_proto::bgpd::v1;

    fn settings(config: v1::PeerConfig) -> PeerSettings {
        peer_settings(Some(&config)).expect("valid settings")
    }

    fn minimal() -> v1::PeerConfig {
        v1::PeerConfig {
            address: "192.0.2.2".to_string(),
            remote_asn: 65002,
            ..v1::PeerConfig::default()
        }
    }

    #[test]
    fn dynamic_asn_becomes_the_neighbour_as() {
        let dynamic = |d: v1::DynamicAsn| v1::PeerConfig {
            remote_asn: 0,
            dynamic_asn: d as i32,
            ..minimal()
        };
        let n = neighbor_from(&settings(dynamic(v1::DynamicAsn::Internal)), 65001)
            .expect("converts")
            .neighbor;
        assert_eq!((n.remote_asn, n.dynamic_asn), (65001, Some(DynamicAsn::Internal)));
        let n = neighbor_from(&settings(dynamic(v1::DynamicAsn::External)), 65001)
            .expect("converts")
            .neighbor;
        assert_eq!((n.remote_asn, n.dynamic_asn), (0, Some(DynamicAsn::External)));
        assert!(n.any_external_as());
    }

    #[test]
    fn defaults_follow_the_proto() {
        let new = neighbor_from(&settings(minimal()), 65001).expect("converts");
        let n = new.neighbor;
        assert_eq!(n.port, 179);
        assert_eq!(n.hold_time, 90);
        assert_eq!(n.keepalive_time, 30);
        assert_eq!(n.connect_retry_time, 120);
        assert_eq!(n.families, vec![Family::Ipv4Unicast]);
        assert_eq!(n.ttl, TtlPolicy::Multihop { hops: 1 });
        assert!(n.enabled);
        assert!(n.description.is_none());
        assert!(!new.keep_password);
    }

    #[test]
    fn every_field_is_carried_over() {
        let config = v1::PeerConfig {
            port: 1179,
            local_address: "192.0.2.1".to_string(),
            password: "secret".to_string(),
            hold_time_seconds: Some(9),
            keepalive_seconds: Some(2),
            connect_retry_seconds: Some(5),
            passive: true,
            ttl_security_hops: 2,
            families: vec![v1::Family::Ipv4Unicast as i32, v1::Family::Ipv6Unicast as i32],
            description: "edge".to_string(),
            disabled: true,
            local_asn: 65001,
            ..minimal()
        };
        let n = neighbor_from(&settings(config), 65001).expect("converts").neighbor;
        assert_eq!(n.port, 1179);
        assert_eq!(n.local_address, Some("192.0.2.1".parse().expect("literal")));
        assert_eq!(n.password.as_ref().map(|p| p.as_bytes().to_vec()), Some(b"secret".to_vec()));
        assert_eq!((n.hold_time, n.keepalive_time, n.connect_retry_time), (9, 2, 5));
        assert!(n.passive);
        assert_eq!(n.ttl, TtlPolicy::Security { hops: 2 });
        assert_eq!(n.families.len(), 2);
        assert_eq!(n.description.as_deref(), Some("edge"));
        assert!(!n.enabled);
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() {
        let error = neighbor_from(&settings(v1::PeerConfig { local_asn: 65009, ..minimal() }), 1)
            .expect_err("local_asn");
        assert_eq!(
            error,
            PeerOpError::Unsupported { field: "peer.local_asn", value: "65009".into() }
        );
        let error = neighbor_from(&settings(v1::PeerConfig { max_prefixes: 10, ..minimal() }), 1)
            .expect_err("max_prefixes");
        assert!(error.to_string().contains("peer.max_prefixes 10"));
        assert_eq!(Status::from(error).code(), tonic::Code::Unimplemented);
    }

    #[test]
    fn password_set_without_a_password_keeps_it() {
        let config = v1::PeerConfig { password_set: true, ..minimal() };
        let new = neighbor_from(&settings(config), 65001).expect("converts");
        assert!(new.keep_password);
        assert!(new.neighbor.password.is_none());
    }

    #[test]
    fn errors_map_to_the_documented_codes() {
        let address: IpAddr = "192.0.2.2".parse().expect("literal");
        assert_eq!(Status::from(PeerOpError::Exists(address)).code(), tonic::Code::AlreadyExists);
        let missing = PeerOpError::NotFound { field: "address", address };
        assert_eq!(missing.to_string(), "address \"192.0.2.2\" is not a configured peer");
        assert_eq!(Status::from(missing).code(), tonic::Code::NotFound);
        assert_eq!(
            Status::from(PeerOpError::NoRouteRefresh(address)).code(),
            tonic::Code::FailedPrecondition
        );
    }

    #[test]
    fn graceful_restart_settings_reach_the_neighbour() {
        let mut config = minimal();
        config.graceful_restart = Some(v1::GracefulRestartConfig {
            enabled: true,
            restart_time_seconds: Some(30),
            notification: true,
            ..v1::GracefulRestartConfig::default()
        });
        let n = neighbor_from(&settings(config), 65001).expect("converts").neighbor;
        let gr = n.graceful_restart.expect("graceful restart on");
        assert!(gr.enabled && gr.notification && !gr.helper_only);
        assert_eq!(gr.restart_time, 30);
        assert_eq!(
            neighbor_from(&settings(minimal()), 65001).expect("converts").neighbor.graceful_restart,
            None
        );
    }
}
