//! OPEN checks and capability negotiation: RFC 4271 §4.2 and §6.2, RFC 5492,
//! RFC 4760 §8 (families), RFC 6793 (4-octet AS), RFC 6286 (BGP Identifier),
//! RFC 2918 and 7313 (route refresh), RFC 7911 (ADD-PATH), RFC 8654 (extended
//! message), RFC 4724 (graceful restart: carried through, decided by `gr`).

use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;

use crate::wire::open::AS_TRANS;
use crate::wire::{
    AddPathFamily, AfiSafi, Capability, ExtendedNextHopEntry, Family, GracefulRestartCapability,
    Notification, NotificationKind, OpenMessage,
};

use super::config::SessionConfig;

#[cfg(test)]
mod tests;

/// The only BGP version we speak (RFC 4271 §4.2).
pub const BGP_VERSION: u8 = 4;

/// ADD-PATH outcome for one family (RFC 7911 §5): we send several paths when we
/// offered Send and the peer Receive; we receive them when the reverse holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AddPathNegotiated {
    pub family: Family,
    pub send: bool,
    pub receive: bool,
}

/// What both OPENs agreed on; handed to the rest of the daemon when the
/// session reaches Established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiatedSession {
    /// The peer's real ASN (from the 4-octet AS capability when present).
    pub peer_asn: u32,
    pub peer_router_id: Ipv4Addr,
    /// Seconds; 0 means no HoldTimer and no KEEPALIVEs (RFC 4271 §4.2).
    pub hold_time: u16,
    /// Seconds between our KEEPALIVEs; 0 when `hold_time` is 0.
    pub keepalive_interval: u16,
    /// Both ends speak 4-octet AS numbers (we always offer it), so AS_PATH
    /// carries 4-octet ASNs (RFC 6793 §4).
    pub four_octet_as: bool,
    /// Families both ends offered, in our configured order.
    pub families: Vec<Family>,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    /// Messages up to 65,535 octets in both directions (RFC 8654 §3).
    pub extended_message: bool,
    /// Families where ADD-PATH is on in at least one direction.
    pub add_path: Vec<AddPathNegotiated>,
    /// The peer's graceful restart capability, for `gr` to act on.
    pub peer_graceful_restart: Option<GracefulRestartCapability>,
    pub local_open: OpenMessage,
    pub remote_open: OpenMessage,
}

impl NegotiatedSession {
    /// The HoldTimer duration, or `None` when hold time is 0.
    pub fn hold_duration(&self) -> Option<Duration> {
        (self.hold_time != 0).then(|| Duration::from_secs(u64::from(self.hold_time)))
    }

    /// The KeepaliveTimer duration, or `None` when hold time is 0.
    pub fn keepalive_duration(&self) -> Option<Duration> {
        (self.keepalive_interval != 0)
            .then(|| Duration::from_secs(u64::from(self.keepalive_interval)))
    }

    /// Whether UPDATEs of this family may be exchanged.
    pub fn has_family(&self, family: Family) -> bool {
        self.families.contains(&family)
    }

    /// ADD-PATH directions for a family: (send, receive).
    pub fn add_path(&self, family: Family) -> (bool, bool) {
        self.add_path
            .iter()
            .find(|entry| entry.family == family)
            .map_or((false, false), |entry| (entry.send, entry.receive))
    }
}

/// Why a peer's OPEN is refused. Each maps to the NOTIFICATION of RFC 4271 §6.2
/// through [`OpenError::notification`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported BGP version {version} (we speak 4)")]
    UnsupportedVersion { version: u8 },
    #[error("peer AS {received} is not the configured {expected}")]
    BadPeerAs { expected: u32, received: u32 },
    #[error("My Autonomous System {my_as} contradicts the 4-octet AS capability {asn}")]
    InconsistentAs { my_as: u16, asn: u32 },
    #[error("BGP identifier is 0.0.0.0")]
    ZeroRouterId,
    #[error("internal peer uses our own BGP identifier {router_id}")]
    DuplicateRouterId { router_id: Ipv4Addr },
    #[error("hold time {hold_time} s is unacceptable (must be 0 or at least 3)")]
    UnacceptableHoldTime { hold_time: u16 },
    #[error("no address family in common: we offer {ours:?}, the peer {theirs:?}")]
    NoCommonFamily { ours: Vec<Family>, theirs: Vec<AfiSafi> },
}

impl OpenError {
    /// The NOTIFICATION that answers this error (RFC 4271 §6.2, RFC 5492 §5).
    pub fn notification(&self) -> Notification {
        match self {
            // The largest version we support below the one offered, or our
            // smallest: we have only 4. Two octets.
            OpenError::UnsupportedVersion { .. } => Notification::new(
                NotificationKind::UnsupportedVersionNumber,
                u16::from(BGP_VERSION).to_be_bytes().to_vec(),
            ),
            OpenError::BadPeerAs { .. } | OpenError::InconsistentAs { .. } => {
                Notification::new(NotificationKind::BadPeerAs, Bytes::new())
            }
            OpenError::ZeroRouterId | OpenError::DuplicateRouterId { .. } => {
                Notification::new(NotificationKind::BadBgpIdentifier, Bytes::new())
            }
            OpenError::UnacceptableHoldTime { .. } => {
                Notification::new(NotificationKind::UnacceptableHoldTime, Bytes::new())
            }
            // RFC 5492 §5: list the capabilities we needed, encoded as in the OPEN.
            OpenError::NoCommonFamily { ours, .. } => {
                let mut data = Vec::with_capacity(ours.len() * 6);
                for family in ours {
                    let AfiSafi { afi, safi } = family.afi_safi();
                    let [afi_high, afi_low] = afi.to_be_bytes();
                    data.extend_from_slice(&[1, 4, afi_high, afi_low, 0, safi]);
                }
                Notification::new(NotificationKind::UnsupportedCapability, data)
            }
        }
    }
}

/// The families we offer: those configured, or IPv4 unicast when none are
/// (an OPEN without multiprotocol capabilities implies it, RFC 4760 §8).
fn local_families(config: &SessionConfig) -> Vec<Family> {
    let mut families = Vec::with_capacity(config.families.len());
    for family in &config.families {
        if !families.contains(family) {
            families.push(*family);
        }
    }
    if families.is_empty() {
        families.push(Family::Ipv4Unicast);
    }
    families
}

/// Our OPEN, built from the session configuration.
pub fn build_open(config: &SessionConfig) -> OpenMessage {
    let families = local_families(config);
    let mut capabilities = Vec::with_capacity(families.len() + 8);
    for family in &families {
        capabilities.push(Capability::Multiprotocol(family.afi_safi()));
    }
    if config.route_refresh {
        capabilities.push(Capability::RouteRefresh { cisco: false });
        capabilities.push(Capability::EnhancedRouteRefresh);
    }
    capabilities.push(Capability::FourOctetAs(config.local_asn));
    if config.extended_message {
        capabilities.push(Capability::ExtendedMessage);
    }
    let add_path: Vec<AddPathFamily> = families
        .iter()
        .filter_map(|family| {
            let (_, mode) = config.add_path.iter().find(|(f, _)| f == family)?;
            Some(AddPathFamily { afi_safi: family.afi_safi(), mode: *mode })
        })
        .collect();
    if !add_path.is_empty() {
        capabilities.push(Capability::AddPath(add_path));
    }
    if config.extended_next_hop && families.contains(&Family::Ipv4Unicast) {
        capabilities
            .push(Capability::ExtendedNextHop(vec![ExtendedNextHopEntry::IPV4_UNICAST_OVER_IPV6]));
    }
    if let Some(graceful_restart) = &config.graceful_restart {
        capabilities.push(Capability::GracefulRestart(graceful_restart.clone()));
    }
    if let Some(name) = &config.fqdn {
        capabilities.push(Capability::Fqdn {
            hostname: name.hostname.clone(),
            domain: name.domain.clone(),
        });
    }
    OpenMessage {
        version: BGP_VERSION,
        my_as: u16::try_from(config.local_asn).unwrap_or(AS_TRANS),
        hold_time: config.hold_time,
        router_id: config.router_id,
        capabilities,
    }
}

/// Checks the peer's OPEN against our configuration (RFC 4271 §6.2) and
/// negotiates the session parameters. Unknown capabilities are accepted; the
/// caller logs them from `remote_open`.
pub fn negotiate(
    config: &SessionConfig,
    local_open: &OpenMessage,
    remote_open: &OpenMessage,
) -> Result<NegotiatedSession, OpenError> {
    if remote_open.version != BGP_VERSION {
        return Err(OpenError::UnsupportedVersion { version: remote_open.version });
    }
    let peer_asn = check_peer_as(config, remote_open)?;
    check_router_id(config, remote_open.router_id)?;
    let (hold_time, keepalive_interval) = negotiate_hold_time(config, remote_open.hold_time)?;

    let ours = local_families(config);
    let theirs: Vec<AfiSafi> = remote_open
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::Multiprotocol(afi_safi) => Some(*afi_safi),
            _ => None,
        })
        .collect();
    let families: Vec<Family> = if theirs.is_empty() {
        ours.iter().copied().filter(|f| *f == Family::Ipv4Unicast).collect()
    } else {
        ours.iter().copied().filter(|f| theirs.contains(&f.afi_safi())).collect()
    };
    if families.is_empty() {
        return Err(OpenError::NoCommonFamily { ours, theirs });
    }

    let has = |wanted: fn(&Capability) -> bool| remote_open.capabilities.iter().any(wanted);
    let route_refresh =
        config.route_refresh && has(|c| matches!(c, Capability::RouteRefresh { .. }));
    let enhanced_route_refresh =
        route_refresh && has(|c| matches!(c, Capability::EnhancedRouteRefresh));
    let extended_message =
        config.extended_message && has(|c| matches!(c, Capability::ExtendedMessage));
    let four_octet_as = has(|c| matches!(c, Capability::FourOctetAs(_)));
    let peer_graceful_restart = remote_open.capabilities.iter().find_map(|c| match c {
        Capability::GracefulRestart(capability) => Some(capability.clone()),
        _ => None,
    });
    let add_path = negotiate_add_path(local_open, remote_open, &families);

    Ok(NegotiatedSession {
        peer_asn,
        peer_router_id: remote_open.router_id,
        hold_time,
        keepalive_interval,
        four_octet_as,
        families,
        route_refresh,
        enhanced_route_refresh,
        extended_message,
        add_path,
        peer_graceful_restart,
        local_open: local_open.clone(),
        remote_open: remote_open.clone(),
    })
}

/// The peer's real ASN (RFC 6793 §4.1) must be the configured one. A 4-octet AS
/// capability must agree with My Autonomous System: equal when it fits in two
/// octets, AS_TRANS otherwise.
fn check_peer_as(config: &SessionConfig, open: &OpenMessage) -> Result<u32, OpenError> {
    let asn = open.asn();
    let has_four_octet = open.capabilities.iter().any(|c| matches!(c, Capability::FourOctetAs(_)));
    if has_four_octet {
        let expected_my_as = u16::try_from(asn).unwrap_or(AS_TRANS);
        if open.my_as != expected_my_as {
            return Err(OpenError::InconsistentAs { my_as: open.my_as, asn });
        }
    }
    let acceptable =
        if config.any_external_as { asn != config.local_asn } else { asn == config.remote_asn };
    if !acceptable || asn == 0 {
        return Err(OpenError::BadPeerAs { expected: config.remote_asn, received: asn });
    }
    Ok(asn)
}

/// RFC 6286 §2.2: non-zero; unique inside an AS, so an internal peer may not
/// use ours. External peers may (RFC 6286 §2.1 then breaks collision ties by AS).
fn check_router_id(config: &SessionConfig, router_id: Ipv4Addr) -> Result<(), OpenError> {
    if router_id.is_unspecified() {
        return Err(OpenError::ZeroRouterId);
    }
    if config.is_internal() && router_id == config.router_id {
        return Err(OpenError::DuplicateRouterId { router_id });
    }
    Ok(())
}

/// RFC 4271 §4.2: the smaller of the two hold times; 1 and 2 are refused; 0
/// turns keepalives and the HoldTimer off. Keepalive is a third of the hold
/// time, or the configured interval when that is smaller.
pub fn negotiate_hold_time(config: &SessionConfig, remote: u16) -> Result<(u16, u16), OpenError> {
    if remote == 1 || remote == 2 {
        return Err(OpenError::UnacceptableHoldTime { hold_time: remote });
    }
    let hold_time = config.hold_time.min(remote);
    if hold_time == 0 {
        return Ok((0, 0));
    }
    let third = (hold_time / 3).max(1);
    let keepalive = match config.keepalive_time {
        Some(configured) if configured > 0 => configured.min(third),
        _ => third,
    };
    Ok((hold_time, keepalive))
}

fn add_path_entries(open: &OpenMessage) -> impl Iterator<Item = &AddPathFamily> {
    open.capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::AddPath(entries) => Some(entries.iter()),
            _ => None,
        })
        .flatten()
}

fn negotiate_add_path(
    local: &OpenMessage,
    remote: &OpenMessage,
    families: &[Family],
) -> Vec<AddPathNegotiated> {
    let mut result = Vec::new();
    for family in families {
        let find = |open| add_path_entries(open).find(|e| e.afi_safi == family.afi_safi());
        let (Some(ours), Some(theirs)) = (find(local), find(remote)) else {
            continue;
        };
        let send = ours.mode.sends() && theirs.mode.receives();
        let receive = ours.mode.receives() && theirs.mode.sends();
        if send || receive {
            result.push(AddPathNegotiated { family: *family, send, receive });
        }
    }
    result
}
