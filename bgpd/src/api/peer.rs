//! Peer configuration from the API, checked and typed: `AddPeer`,
//! `UpdatePeer`, and the address and message fields of the administrative
//! RPCs.
//!
//! Rules: RFC 4271 §4.2 and §10 (hold time 0 or at least 3 seconds, connect
//! retry), RFC 7607 (ASN 0 is invalid), RFC 2385 (TCP MD5 key, at most 80
//! bytes as Linux's `TCP_MD5SIG_MAXKEYLEN`), RFC 5082 (GTSM), RFC 9003 (shutdown
//! communication, at most 255 bytes), RFC 4724 §3 (restart time, 12 bits).
//!
//! [`PeerSettings`] mirrors a `[[peer]]` table of the config file; when the
//! config module's peer type lands, the two should become one.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ironlb_proto::bgpd::v1;

use super::error::{AddressKind, ValidationError};
use super::validate::{family, optional_address, unicast_address};
use crate::config::{DEFAULT_EBGP_MULTIHOP, DynamicAsn, Neighbor, TtlPolicy};
use crate::instance::peer_ops::{NewNeighbor, ResetCommand};
use crate::wire::Family;

/// BGP's well-known TCP port (RFC 4271 §8.2.1).
pub const DEFAULT_PORT: u16 = 179;
/// Hold time offered when none is configured (RFC 4271 §10 suggests 90 s).
pub const DEFAULT_HOLD_TIME: u16 = 90;
/// ConnectRetryTime when none is configured (RFC 4271 §10).
pub const DEFAULT_CONNECT_RETRY: u16 = 120;
/// Graceful restart time advertised when none is configured.
pub const DEFAULT_RESTART_TIME: u16 = 120;
/// How long a restarting peer's stale routes are kept at most.
pub const DEFAULT_STALE_ROUTES_TIME: u16 = 360;
/// Longest TCP MD5 key Linux accepts.
pub const MAX_PASSWORD_LEN: usize = 80;
/// Longest shutdown communication (RFC 9003 §2).
pub const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;
/// Longest peer description.
pub const MAX_DESCRIPTION_LEN: usize = 255;

/// A TCP MD5 key. Its `Debug` does not show it, so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password(<{} bytes>)", self.0.len())
    }
}

/// What a request says about the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSetting {
    /// No password.
    None,
    /// `password` empty but `password_set` true: the client read the peer and
    /// sends it back; keep the key configured now (UpdatePeer).
    Keep,
    /// Use this key.
    Key(Password),
}

/// How the session's IP TTL is handled.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TtlMode {
    /// 1 for eBGP, 255 for iBGP.
    Default,
    /// eBGP multihop: send with this TTL (1..=255).
    Multihop(u8),
    /// GTSM (RFC 5082): send with 255, accept only TTL ≥ 256 - hops.
    Security { hops: u8 },
}

/// Graceful restart settings of a peer (RFC 4724, RFC 8538).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestartSettings {
    pub restart_time: u16,
    pub stale_routes_time: u16,
    pub notification: bool,
    pub helper_only: bool,
}

/// A peer's configuration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSettings {
    pub address: IpAddr,
    /// 0 when `dynamic_asn` is set.
    pub remote_asn: u32,
    /// The peer AS as internal or external instead of a number.
    pub dynamic_asn: Option<DynamicAsn>,
    /// `None`: the daemon's ASN.
    pub local_asn: Option<u32>,
    pub port: u16,
    /// Of the same family as `address`.
    pub local_address: Option<IpAddr>,
    pub password: PasswordSetting,
    /// 0 or 3..=65535 seconds.
    pub hold_time: u16,
    /// `None`: a third of the negotiated hold time. Below `hold_time`.
    pub keepalive: Option<u16>,
    pub connect_retry: u16,
    pub passive: bool,
    pub ttl: TtlMode,
    /// Non-empty, no duplicates, in request order.
    pub families: Vec<Family>,
    pub description: String,
    pub disabled: bool,
    /// `None`: no limit.
    pub max_prefixes: Option<u32>,
    /// `None`: graceful restart off.
    pub graceful_restart: Option<GracefulRestartSettings>,
}

impl PeerSettings {
    /// The time between connection attempts.
    pub fn connect_retry_time(&self) -> Duration {
        Duration::from_secs(u64::from(self.connect_retry))
    }
}

fn field(name: &str) -> String {
    format!("peer.{name}")
}

/// An integer field in `min..=max`.
fn in_range(
    name: &str,
    value: u32,
    min: u32,
    max: u32,
    valid: &'static str,
) -> Result<u32, ValidationError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ValidationError::OutOfRange { field: field(name), value: u64::from(value), valid })
    }
}

/// A `u16` field in `min..=max` (both within `u16`).
fn in_range_u16(
    name: &str,
    value: u32,
    min: u16,
    max: u16,
    valid: &'static str,
) -> Result<u16, ValidationError> {
    let value = in_range(name, value, u32::from(min), u32::from(max), valid)?;
    // In range, so it fits: max is a u16.
    Ok(u16::try_from(value).unwrap_or(max))
}

fn max_len(name: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.len() > max {
        return Err(ValidationError::TooLong { field: field(name), len: value.len(), max });
    }
    Ok(())
}

/// `dynamic_asn`, which replaces `remote_asn` (then 0).
fn dynamic_asn(config: &v1::PeerConfig) -> Result<Option<DynamicAsn>, ValidationError> {
    let dynamic = match v1::DynamicAsn::try_from(config.dynamic_asn) {
        Ok(v1::DynamicAsn::Unspecified) => return Ok(None),
        Ok(v1::DynamicAsn::Internal) => DynamicAsn::Internal,
        Ok(v1::DynamicAsn::External) => DynamicAsn::External,
        Err(_) => {
            return Err(ValidationError::UnknownEnumValue {
                field: field("dynamic_asn"),
                value: config.dynamic_asn,
                valid: "DYNAMIC_ASN_UNSPECIFIED (0), DYNAMIC_ASN_INTERNAL (1), DYNAMIC_ASN_EXTERNAL (2)",
            });
        }
    };
    if config.remote_asn != 0 {
        return Err(ValidationError::Conflict {
            field: field("remote_asn"),
            value: config.remote_asn.to_string(),
            other: field("dynamic_asn"),
            other_value: v1::DynamicAsn::try_from(config.dynamic_asn)
                .map_or_else(|_| config.dynamic_asn.to_string(), |d| d.as_str_name().to_owned()),
        });
    }
    Ok(Some(dynamic))
}

fn families(config: &v1::PeerConfig, address: IpAddr) -> Result<Vec<Family>, ValidationError> {
    let mut families = Vec::with_capacity(config.families.len());
    for (i, &value) in config.families.iter().enumerate() {
        let name = field(&format!("families[{i}]"));
        let Some(parsed) = family(&name, value)? else {
            return Err(ValidationError::UnknownEnumValue {
                field: name,
                value,
                valid: "FAMILY_IPV4_UNICAST (1), FAMILY_IPV6_UNICAST (2)",
            });
        };
        if families.contains(&parsed) {
            return Err(ValidationError::Duplicate {
                field: name,
                value: parsed.name().to_string(),
            });
        }
        families.push(parsed);
    }
    if families.is_empty() {
        families.push(match address {
            IpAddr::V4(_) => Family::Ipv4Unicast,
            IpAddr::V6(_) => Family::Ipv6Unicast,
        });
    }
    Ok(families)
}

fn password(config: &v1::PeerConfig) -> Result<PasswordSetting, ValidationError> {
    if config.password.is_empty() {
        return Ok(if config.password_set { PasswordSetting::Keep } else { PasswordSetting::None });
    }
    max_len("password", &config.password, MAX_PASSWORD_LEN)?;
    Ok(PasswordSetting::Key(Password(config.password.clone())))
}

fn ttl(config: &v1::PeerConfig) -> Result<TtlMode, ValidationError> {
    let multihop = in_range_u16("multihop_ttl", config.multihop_ttl, 0, 255, "0..=255")?;
    let hops = in_range_u16("ttl_security_hops", config.ttl_security_hops, 0, 254, "0..=254")?;
    match (multihop, hops) {
        (0, 0) => Ok(TtlMode::Default),
        (ttl, 0) => Ok(TtlMode::Multihop(u8::try_from(ttl).unwrap_or(u8::MAX))),
        (0, hops) => Ok(TtlMode::Security { hops: u8::try_from(hops).unwrap_or(u8::MAX) }),
        (ttl, hops) => Err(ValidationError::Conflict {
            field: field("ttl_security_hops"),
            value: hops.to_string(),
            other: field("multihop_ttl"),
            other_value: ttl.to_string(),
        }),
    }
}

fn graceful_restart(
    config: Option<&v1::GracefulRestartConfig>,
) -> Result<Option<GracefulRestartSettings>, ValidationError> {
    let Some(config) = config.filter(|c| c.enabled) else {
        return Ok(None);
    };
    let restart_time = match config.restart_time_seconds {
        None => DEFAULT_RESTART_TIME,
        Some(v) => in_range_u16("graceful_restart.restart_time_seconds", v, 1, 4095, "1..=4095")?,
    };
    let stale_routes_time = match config.stale_routes_time_seconds {
        None => DEFAULT_STALE_ROUTES_TIME,
        Some(v) => {
            in_range_u16("graceful_restart.stale_routes_time_seconds", v, 1, u16::MAX, "1..=65535")?
        }
    };
    Ok(Some(GracefulRestartSettings {
        restart_time,
        stale_routes_time,
        notification: config.notification,
        helper_only: config.helper_only,
    }))
}

/// Checks a peer's configuration (`AddPeerRequest.peer`,
/// `UpdatePeerRequest.peer`). Whether the peer already exists (ALREADY_EXISTS,
/// NOT_FOUND) is the caller's question; see [`peer_must_be_new`].
pub fn peer_settings(config: Option<&v1::PeerConfig>) -> Result<PeerSettings, ValidationError> {
    let Some(config) = config else {
        return Err(ValidationError::Missing { field: "peer".to_string() });
    };
    if config.password_set && !config.password.is_empty() {
        return Err(ValidationError::OutputOnly { field: field("password_set") });
    }
    let address = unicast_address(&field("address"), &config.address)?;
    let dynamic_asn = dynamic_asn(config)?;
    let remote_asn = match dynamic_asn {
        None => in_range("remote_asn", config.remote_asn, 1, u32::MAX, "1..=4294967295")?,
        Some(_) => 0,
    };
    let local_asn = (config.local_asn != 0).then_some(config.local_asn);
    let port = match config.port {
        0 => DEFAULT_PORT,
        p => in_range_u16("port", p, 1, u16::MAX, "1..=65535")?,
    };
    let local_address = optional_address(&field("local_address"), &config.local_address)?;
    if let Some(local) = local_address
        && local.is_ipv4() != address.is_ipv4()
    {
        return Err(ValidationError::WrongFamily {
            field: field("local_address"),
            value: config.local_address.clone(),
            expected: if address.is_ipv4() { AddressKind::Ipv4 } else { AddressKind::Ipv6 },
        });
    }
    let hold_time = match config.hold_time_seconds {
        None => DEFAULT_HOLD_TIME,
        Some(0) => 0,
        Some(v) => in_range_u16("hold_time_seconds", v, 3, u16::MAX, "0 or 3..=65535")?,
    };
    let keepalive = match config.keepalive_seconds {
        None | Some(0) => None,
        Some(v) if hold_time == 0 => {
            return Err(ValidationError::Conflict {
                field: field("keepalive_seconds"),
                value: v.to_string(),
                other: field("hold_time_seconds"),
                other_value: "0".to_string(),
            });
        }
        Some(v) if v >= u32::from(hold_time) => {
            return Err(ValidationError::NotBelow {
                field: field("keepalive_seconds"),
                value: u64::from(v),
                other: field("hold_time_seconds"),
                other_value: u64::from(hold_time),
            });
        }
        // Below a u16 hold time, so it fits.
        Some(v) => Some(u16::try_from(v).unwrap_or(u16::MAX)),
    };
    let connect_retry = match config.connect_retry_seconds {
        None => DEFAULT_CONNECT_RETRY,
        Some(v) => in_range_u16("connect_retry_seconds", v, 1, u16::MAX, "1..=65535")?,
    };
    max_len("description", &config.description, MAX_DESCRIPTION_LEN)?;
    Ok(PeerSettings {
        address,
        remote_asn,
        dynamic_asn,
        local_asn,
        port,
        local_address,
        password: password(config)?,
        hold_time,
        keepalive,
        connect_retry,
        passive: config.passive,
        ttl: ttl(config)?,
        families: families(config, address)?,
        description: config.description.clone(),
        disabled: config.disabled,
        max_prefixes: (config.max_prefixes != 0).then_some(config.max_prefixes),
        graceful_restart: graceful_restart(config.graceful_restart.as_ref())?,
    })
}

/// ALREADY_EXISTS when `settings` names a peer that is configured (AddPeer).
pub fn peer_must_be_new(
    settings: &PeerSettings,
    exists: impl Fn(IpAddr) -> bool,
) -> Result<(), ValidationError> {
    if exists(settings.address) {
        return Err(ValidationError::PeerExists {
            field: field("address"),
            value: settings.address.to_string(),
        });
    }
    Ok(())
}

/// The `address` of GetPeer, DeletePeer, EnablePeer, DisablePeer, ResetPeer
/// and UpdatePeer: it must parse and name a configured peer (NOT_FOUND).
pub fn existing_peer(
    name: &str,
    value: &str,
    exists: impl Fn(IpAddr) -> bool,
) -> Result<IpAddr, ValidationError> {
    let address = super::validate::address(name, value)?;
    if !exists(address) {
        return Err(ValidationError::UnknownPeer {
            field: name.to_string(),
            value: value.to_string(),
        });
    }
    Ok(address)
}

/// A shutdown communication (RFC 9003): at most 255 bytes of UTF-8 (a protobuf
/// string is UTF-8 already).
pub fn shutdown_message(name: &str, value: &str) -> Result<String, ValidationError> {
    if value.len() > MAX_SHUTDOWN_MESSAGE_LEN {
        return Err(ValidationError::TooLong {
            field: name.to_string(),
            len: value.len(),
            max: MAX_SHUTDOWN_MESSAGE_LEN,
        });
    }
    Ok(value.to_string())
}

/// Checks a `ResetPeerRequest` (the peer's existence included).
pub fn reset(
    request: &v1::ResetPeerRequest,
    exists: impl Fn(IpAddr) -> bool,
) -> Result<(IpAddr, ResetCommand), ValidationError> {
    let address = existing_peer("address", &request.address, exists)?;
    let mut families = Vec::with_capacity(request.families.len());
    for (i, &value) in request.families.iter().enumerate() {
        let name = format!("families[{i}]");
        match family(&name, value)? {
            Some(parsed) if !families.contains(&parsed) => families.push(parsed),
            Some(parsed) => {
                return Err(ValidationError::Duplicate {
                    field: name,
                    value: parsed.name().to_string(),
                });
            }
            None => {
                return Err(ValidationError::UnknownEnumValue {
                    field: name,
                    value,
                    valid: "FAMILY_IPV4_UNICAST (1), FAMILY_IPV6_UNICAST (2)",
                });
            }
        }
    }
    let soft = |inbound, outbound| {
        Ok(ResetCommand::Soft { inbound, outbound, families: families.clone() })
    };
    let command = match v1::ResetKind::try_from(request.kind) {
        Ok(v1::ResetKind::Hard) => {
            if !request.families.is_empty() {
                return Err(ValidationError::Conflict {
                    field: "families".to_string(),
                    value: format!("{} entries", request.families.len()),
                    other: "kind".to_string(),
                    other_value: "RESET_KIND_HARD".to_string(),
                });
            }
            Ok(ResetCommand::Hard { message: shutdown_message("message", &request.message)? })
        }
        Ok(v1::ResetKind::SoftIn) => soft(true, false),
        Ok(v1::ResetKind::SoftOut) => soft(false, true),
        Ok(v1::ResetKind::Soft) => soft(true, true),
        Ok(v1::ResetKind::Unspecified) => {
            Err(ValidationError::Missing { field: "kind".to_string() })
        }
        Err(_) => Err(ValidationError::UnknownEnumValue {
            field: "kind".to_string(),
            value: request.kind,
            valid: "RESET_KIND_HARD (1) .. RESET_KIND_SOFT (4)",
        }),
    }?;
    Ok((address, command))
}

/// Converts validated settings into a [`NewNeighbor`] (the instance
/// finishes it with the daemon's ASN, [`NewNeighbor::resolve`]).
/// Keys the API does not carry (`next_hop_self`, `delay_open_time`) take
/// their config-file defaults; UpdatePeer keeps the running values.
pub fn neighbor_request(settings: &PeerSettings) -> NewNeighbor {
    let mut neighbor = Neighbor::with_defaults(settings.address, settings.remote_asn);
    neighbor.dynamic_asn = settings.dynamic_asn;
    neighbor.port = settings.port;
    neighbor.local_address = settings.local_address;
    neighbor.passive = settings.passive;
    let keep_password = settings.password == PasswordSetting::Keep;
    neighbor.password = match &settings.password {
        PasswordSetting::Key(key) => Some(crate::config::Password::new(key.0.clone())),
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
    NewNeighbor {
        neighbor,
        keep_password,
        local_asn: settings.local_asn,
        max_prefixes: settings.max_prefixes,
    }
}

#[cfg(test)]
#[path = "peer_tests.rs"]
mod tests;
