//! Peer configuration from the API, checked and typed: `AddPeer` and
//! `UpdatePeer` into the same [`Neighbor`] a `[[neighbors]]` table of the
//! config file becomes, with the same rules (`config::rules`), and the
//! address and message fields of the administrative RPCs.
//!
//! Rules: RFC 4271 §4.2 and §10 (hold time 0 or at least 3 seconds, connect
//! retry), RFC 7607 (ASN 0 is invalid), RFC 2385 (TCP MD5 key, at most 80
//! bytes as Linux's `TCP_MD5SIG_MAXKEYLEN`), RFC 5082 (GTSM), RFC 9003 (shutdown
//! communication, at most 255 bytes), RFC 4724 §3 (restart time, 12 bits).
//!
//! What is the API's own: how an unset field reads (proto3 zeros: port 0,
//! keepalive 0, multihop 0 mean the default), the defaults that differ from
//! the config file's ([`DEFAULT_CONNECT_RETRY`]), the messages (naming the
//! request field).

use std::net::IpAddr;

use ironlb_proto::bgpd::v1;

use super::error::{AddressKind, ValidationError};
use super::validate::{family, optional_address, unicast_address};
use crate::config::rules;
use crate::config::{
    BfdSettings, DEFAULT_EBGP_MULTIHOP, DEFAULT_ENFORCE_FIRST_AS, DEFAULT_HOLD_TIME,
    DEFAULT_MAX_PREFIX_WARNING_PERCENT, DEFAULT_PORT, DynamicAsn, MAX_PASSWORD_LEN, MaxPrefixes,
    Neighbor, Password, Problem,
};
use crate::instance::peer_ops::{NewNeighbor, PeerName, ResetCommand};
use crate::wire::Family;

/// ConnectRetryTime when none is set: the config file's default
/// (`config::DEFAULT_CONNECT_RETRY_TIME`, 30 s; RFC 4271 §10 suggests 120, a
/// load balancer's routes are down while its session is, so we retry sooner).
pub const DEFAULT_CONNECT_RETRY: u16 = crate::config::DEFAULT_CONNECT_RETRY_TIME;
/// Longest shutdown communication (RFC 9003 §2).
pub const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;
/// Longest peer description.
pub const MAX_DESCRIPTION_LEN: usize = 255;

fn field(name: &str) -> String {
    format!("peer.{name}")
}

fn out_of_range(name: &str, value: u32, valid: &'static str) -> ValidationError {
    ValidationError::OutOfRange { field: field(name), value: u64::from(value), valid }
}

/// A `u16` field in `range`, by the shared rule, worded for the API.
fn in_range_u16(
    name: &str,
    value: u32,
    range: (u16, u16),
    valid: &'static str,
) -> Result<u16, ValidationError> {
    rules::in_range(i64::from(value), range).map_err(|_| out_of_range(name, value, valid))
}

fn max_len(name: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.len() > max {
        return Err(ValidationError::TooLong { field: field(name), len: value.len(), max });
    }
    Ok(())
}

/// Most policy names in one chain (`import_policy`, `export_policy`).
pub const MAX_POLICY_CHAIN: usize = 32;
/// Longest policy name accepted in a chain.
pub const MAX_POLICY_NAME_LEN: usize = 255;

/// A chain of policy names: bounded here; whether each exists is the
/// instance's question (the names live in its configuration).
fn policy_names(name: &str, names: &[String]) -> Result<Vec<String>, ValidationError> {
    if names.len() > MAX_POLICY_CHAIN {
        return Err(ValidationError::TooMany {
            field: field(name),
            count: names.len(),
            max: MAX_POLICY_CHAIN,
        });
    }
    for (i, policy) in names.iter().enumerate() {
        if policy.is_empty() {
            return Err(ValidationError::Empty { field: field(&format!("{name}[{i}]")) });
        }
        max_len(&format!("{name}[{i}]"), policy, MAX_POLICY_NAME_LEN)?;
    }
    Ok(names.to_vec())
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
    if rules::dynamic_asn_alone(config.remote_asn != 0).is_err() {
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
        families = rules::default_families(Some(address));
    }
    Ok(families)
}

/// The password: `None` without one; `keep` when `password_set` comes
/// without a `password` (the client read the peer and sends it back:
/// UpdatePeer keeps the key configured now).
fn password(config: &v1::PeerConfig) -> Result<(Option<Password>, bool), ValidationError> {
    if config.password.is_empty() {
        return Ok((None, config.password_set));
    }
    let len = config.password.len();
    rules::password_length(len).map_err(|_| ValidationError::TooLong {
        field: field("password"),
        len,
        max: MAX_PASSWORD_LEN,
    })?;
    Ok((Some(Password::new(config.password.clone())), false))
}

/// `multihop_ttl` and `ttl_security_hops` (0: unset): at most one of them.
fn ttl(config: &v1::PeerConfig) -> Result<crate::config::TtlPolicy, ValidationError> {
    let multihop = in_range_u16("multihop_ttl", config.multihop_ttl, (0, 255), "0..=255")?;
    let hops = in_range_u16("ttl_security_hops", config.ttl_security_hops, (0, 254), "0..=254")?;
    let conflict = || ValidationError::Conflict {
        field: field("ttl_security_hops"),
        value: hops.to_string(),
        other: field("multihop_ttl"),
        other_value: multihop.to_string(),
    };
    let multihop = match u8::try_from(multihop) {
        Ok(0) | Err(_) => DEFAULT_EBGP_MULTIHOP,
        Ok(ttl) => ttl,
    };
    let hops = u8::try_from(hops).ok().filter(|hops| *hops != 0);
    rules::ttl_policy(multihop, hops).map_err(|_| conflict())
}

fn graceful_restart(
    config: Option<&v1::GracefulRestartConfig>,
) -> Result<Option<crate::gr::Settings>, ValidationError> {
    let Some(config) = config.filter(|c| c.enabled) else {
        return Ok(None);
    };
    let restart_time = match config.restart_time_seconds {
        None => crate::gr::DEFAULT_RESTART_TIME,
        Some(v) => rules::restart_time(i64::from(v))
            .map_err(|_| out_of_range("graceful_restart.restart_time_seconds", v, "0..=4095"))?,
    };
    let stale_routes_time = match config.stale_routes_time_seconds {
        None => crate::gr::DEFAULT_STALE_ROUTES_TIME,
        Some(v) => in_range_u16(
            "graceful_restart.stale_routes_time_seconds",
            v,
            rules::STALE_ROUTES_TIME_RANGE,
            "1..=65535",
        )?,
    };
    Ok(Some(crate::gr::Settings {
        enabled: true,
        restart_time,
        stale_routes_time,
        notification: config.notification,
        helper_only: config.helper_only,
    }))
}

/// `bfd` (RFC 5880 timers), by the rules of `[neighbors.bfd]`. Unset: `None`
/// (UpdatePeer then keeps the running BFD settings).
fn bfd(config: Option<&v1::BfdConfig>) -> Result<Option<BfdSettings>, ValidationError> {
    let Some(config) = config else { return Ok(None) };
    let defaults = BfdSettings::default();
    rules::bfd_echo(config.echo)
        .map_err(|_| out_of_range("bfd.echo", 1, "false: BFD echo mode is not implemented"))?;
    let interval = |name: &str, value: Option<u32>| match value {
        None => Ok(crate::config::DEFAULT_BFD_INTERVAL_MS),
        Some(v) => {
            rules::bfd_interval_ms(i64::from(v)).map_err(|_| out_of_range(name, v, "10..=60000"))
        }
    };
    let multiplier = match config.multiplier {
        None => defaults.multiplier,
        Some(v) => rules::bfd_multiplier(i64::from(v))
            .map_err(|_| out_of_range("bfd.multiplier", v, "2..=255"))?,
    };
    Ok(Some(BfdSettings {
        enabled: config.enabled,
        min_rx_ms: interval("bfd.min_rx_ms", config.min_rx_ms)?,
        min_tx_ms: interval("bfd.min_tx_ms", config.min_tx_ms)?,
        multiplier,
        passive: config.passive,
        check_control_plane_failure: config.check_control_plane_failure,
    }))
}

/// `max_prefix` (or its shorthand `max_prefixes`) by the config file's
/// rules (`[neighbors.max_prefixes]`).
fn max_prefixes(
    config: &v1::PeerConfig,
    families: &[Family],
) -> Result<Option<MaxPrefixes>, ValidationError> {
    let limits = match (&config.max_prefix, config.max_prefixes) {
        (None, 0) => return Ok(None),
        (None, limit) => {
            let mut limits = MaxPrefixes::default();
            for family in families {
                limits.limits[family.index()] = Some(limit);
            }
            limits
        }
        (Some(_), limit @ 1..) => {
            return Err(ValidationError::Conflict {
                field: field("max_prefixes"),
                value: limit.to_string(),
                other: field("max_prefix"),
                other_value: "(set)".to_string(),
            });
        }
        (Some(m), 0) => {
            if m.ipv4_unicast == 0 && m.ipv6_unicast == 0 {
                return Err(ValidationError::Missing { field: field("max_prefix.ipv4_unicast") });
            }
            let warning_percent = match m.warning_percent {
                None => DEFAULT_MAX_PREFIX_WARNING_PERCENT,
                Some(v) => rules::max_prefix_warning_percent(i64::from(v))
                    .map_err(|_| out_of_range("max_prefix.warning_percent", v, "1..=100"))?,
            };
            let restart_time = in_range_u16(
                "max_prefix.restart_time_seconds",
                m.restart_time_seconds,
                (0, u16::MAX),
                "0..=65535",
            )?;
            let limit = |v: u32| (v != 0).then_some(v);
            MaxPrefixes {
                limits: [limit(m.ipv4_unicast), limit(m.ipv6_unicast)],
                warning_percent,
                warning_only: m.warning_only,
                restart_time,
            }
        }
    };
    if let Err((family, _)) = rules::max_prefix_families(&limits, families) {
        let name = match family {
            Family::Ipv4Unicast => "max_prefix.ipv4_unicast",
            Family::Ipv6Unicast => "max_prefix.ipv6_unicast",
        };
        return Err(ValidationError::Requires {
            field: field(name),
            value: limits.limit(family).unwrap_or_default().to_string(),
            other: format!("{} to hold {}", field("families"), family.name()),
        });
    }
    Ok(Some(limits))
}

/// `keepalive_seconds` against the hold time (0 or unset: a third of it).
fn keepalive(value: Option<u32>, hold_time: u16) -> Result<u16, ValidationError> {
    let v = match value {
        None | Some(0) => return Ok(rules::default_keepalive_time(hold_time)),
        Some(v) => v,
    };
    rules::keepalive_time(i64::from(v), hold_time).map_err(|problem| match problem {
        Problem::KeepaliveWithoutHold | Problem::OutOfRange { .. } if hold_time == 0 => {
            ValidationError::Conflict {
                field: field("keepalive_seconds"),
                value: v.to_string(),
                other: field("hold_time_seconds"),
                other_value: "0".to_string(),
            }
        }
        _ => ValidationError::NotBelow {
            field: field("keepalive_seconds"),
            value: u64::from(v),
            other: field("hold_time_seconds"),
            other_value: u64::from(hold_time),
        },
    })
}

/// Checks a peer's configuration (`AddPeerRequest.peer`,
/// `UpdatePeerRequest.peer`) into the neighbor it asks for. Whether the peer
/// already exists (ALREADY_EXISTS, NOT_FOUND) is the instance's question,
/// as is a dynamic AS ([`NewNeighbor::resolve`]). Keys the
/// API does not carry (`next_hop_self`, `delay_open_time`) take their
/// config-file defaults; UpdatePeer keeps the running values, and those of
/// `soft_reconfiguration_inbound` when it is unset.
pub fn neighbor(config: Option<&v1::PeerConfig>) -> Result<NewNeighbor, ValidationError> {
    let Some(config) = config else {
        return Err(ValidationError::Missing { field: "peer".to_string() });
    };
    if config.password_set && !config.password.is_empty() {
        return Err(ValidationError::OutputOnly { field: field("password_set") });
    }
    let interface = interface(config)?;
    let address = match &interface {
        // Found on the interface later; `::` until then.
        Some(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        None => unicast_address(&field("address"), &config.address)?,
    };
    let dynamic_asn = dynamic_asn(config)?;
    let remote_asn = match dynamic_asn {
        None => {
            rules::remote_asn(i64::from(config.remote_asn)).map_err(|problem| match problem {
                Problem::AsTrans => ValidationError::Reserved {
                    field: field("remote_asn"),
                    value: u64::from(config.remote_asn),
                    reason: "AS_TRANS (RFC 6793 §9) stands in for a 4-octet AS and is no real AS",
                },
                _ => out_of_range("remote_asn", config.remote_asn, "1..=4294967295"),
            })?
        }
        // The instance sets it with the daemon's AS.
        Some(_) => 0,
    };
    let local_asn = match config.local_asn {
        0 => None,
        asn => Some(rules::remote_asn(i64::from(asn)).map_err(|_| ValidationError::Reserved {
            field: field("local_asn"),
            value: u64::from(asn),
            reason: "AS_TRANS (RFC 6793 §9) stands in for a 4-octet AS and is no real AS",
        })?),
    };
    let router_id = match config.router_id.as_str() {
        "" => None,
        text => {
            Some(rules::router_id(text).map_err(|problem| ValidationError::UnusableAddress {
                field: field("router_id"),
                value: text.to_string(),
                reason: match problem {
                    Problem::RouterIdZero => "0.0.0.0 is no BGP identifier (RFC 6286)",
                    _ => "a BGP identifier is an IPv4 address (RFC 6286)",
                },
            })?)
        }
    };
    let port = match config.port {
        0 => DEFAULT_PORT,
        p => in_range_u16("port", p, rules::NON_ZERO_U16_RANGE, "1..=65535")?,
    };
    let local_address = optional_address(&field("local_address"), &config.local_address)?;
    if let Some(local) = local_address
        && interface.is_none()
        && rules::local_address(address, local).is_err()
    {
        return Err(ValidationError::WrongFamily {
            field: field("local_address"),
            value: config.local_address.clone(),
            expected: if address.is_ipv4() { AddressKind::Ipv4 } else { AddressKind::Ipv6 },
        });
    }
    let hold_time = match config.hold_time_seconds {
        None => DEFAULT_HOLD_TIME,
        Some(v) => rules::hold_time(i64::from(v))
            .map_err(|_| out_of_range("hold_time_seconds", v, "0 or 3..=65535"))?,
    };
    let keepalive_time = keepalive(config.keepalive_seconds, hold_time)?;
    let connect_retry_time = match config.connect_retry_seconds {
        None => DEFAULT_CONNECT_RETRY,
        Some(v) => {
            in_range_u16("connect_retry_seconds", v, rules::NON_ZERO_U16_RANGE, "1..=65535")?
        }
    };
    max_len("description", &config.description, MAX_DESCRIPTION_LEN)?;
    let vrf = match config.vrf.as_str() {
        "" => None,
        name => Some(rules::vrf(name).map_err(|_| ValidationError::InvalidInterface {
            field: field("vrf"),
            value: name.to_string(),
        })?),
    };
    let (password, keep_password) = password(config)?;
    let mut neighbor = Neighbor::with_defaults(address, remote_asn);
    neighbor.dynamic_asn = dynamic_asn;
    neighbor.port = port;
    neighbor.local_address = local_address;
    neighbor.passive = config.passive;
    neighbor.password = password;
    neighbor.hold_time = hold_time;
    neighbor.keepalive_time = keepalive_time;
    neighbor.connect_retry_time = connect_retry_time;
    neighbor.ttl = ttl(config)?;
    neighbor.families = match (&interface, config.families.is_empty()) {
        // Over an interface: both, IPv4 with IPv6 next hops (RFC 8950), as
        // the config file's interface neighbors.
        (Some(_), true) => Family::ALL.to_vec(),
        _ => families(config, address)?,
    };
    neighbor.interface = interface;
    neighbor.description = (!config.description.is_empty()).then(|| config.description.clone());
    neighbor.enabled = !config.disabled;
    neighbor.graceful_restart = graceful_restart(config.graceful_restart.as_ref())?;
    neighbor.import_policy = policy_names("import_policy", &config.import_policy)?;
    neighbor.export_policy = policy_names("export_policy", &config.export_policy)?;
    neighbor.bfd = bfd(config.bfd.as_ref())?;
    neighbor.max_prefixes = max_prefixes(config, &neighbor.families)?;
    neighbor.local_asn = local_asn;
    neighbor.router_id = router_id;
    neighbor.soft_reconfiguration_inbound = config.soft_reconfiguration_inbound.unwrap_or(false);
    let keep_soft_reconfiguration = config.soft_reconfiguration_inbound.is_none();
    neighbor.enforce_first_as = config.enforce_first_as.unwrap_or(DEFAULT_ENFORCE_FIRST_AS);
    neighbor.vrf = vrf;
    Ok(NewNeighbor { neighbor, keep_password, keep_soft_reconfiguration })
}

/// `interface` (BGP unnumbered): exactly one of it and `address`; none of
/// the keys that name addresses the interface's are discovered in place of
/// (`local_address`, `password`: the config file's rule).
fn interface(config: &v1::PeerConfig) -> Result<Option<crate::config::Interface>, ValidationError> {
    if config.interface.is_empty() {
        return Ok(None);
    }
    let conflict = |other: &str, other_value: String| ValidationError::Conflict {
        field: field("interface"),
        value: format!("{:?}", config.interface),
        other: field(other),
        other_value,
    };
    if !config.address.is_empty() {
        return Err(conflict("address", format!("{:?}", config.address)));
    }
    let name = rules::vrf(&config.interface).map_err(|_| ValidationError::InvalidInterface {
        field: field("interface"),
        value: config.interface.clone(),
    })?;
    if !config.local_address.is_empty() {
        return Err(conflict("local_address", format!("{:?}", config.local_address)));
    }
    if !config.password.is_empty() {
        return Err(conflict("password", format!("<{} bytes>", config.password.len())));
    }
    Ok(Some(crate::config::Interface { name, index: 0 }))
}

/// How GetPeer, DeletePeer, EnablePeer, DisablePeer and ResetPeer name a
/// peer in their `address`: an address, or `%IFNAME` for the peer over
/// interface IFNAME (BGP unnumbered), whose address is not known up front.
pub fn peer_name(name: &str, value: &str) -> Result<PeerName, ValidationError> {
    match value.strip_prefix('%') {
        Some(interface) => rules::vrf(interface).map(PeerName::Interface).map_err(|_| {
            ValidationError::InvalidInterface { field: name.to_string(), value: value.to_string() }
        }),
        None => super::validate::address(name, value).map(PeerName::Address),
    }
}

/// ALREADY_EXISTS when `address` is a configured peer's (AddPeer).
pub fn peer_must_be_new(
    address: IpAddr,
    exists: impl Fn(IpAddr) -> bool,
) -> Result<(), ValidationError> {
    if exists(address) {
        return Err(ValidationError::PeerExists {
            field: field("address"),
            value: address.to_string(),
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
) -> Result<(PeerName, ResetCommand), ValidationError> {
    let name = match peer_name("address", &request.address)? {
        PeerName::Address(_) => {
            PeerName::Address(existing_peer("address", &request.address, exists)?)
        }
        interface => interface,
    };
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
    Ok((name, command))
}

#[cfg(test)]
mod tests;
