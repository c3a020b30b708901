//! The per-neighbor rules, written once: the config file's validator
//! (`[[neighbors]]`, `config::validate`) and the API's AddPeer/UpdatePeer
//! validation (`api::peer`) both check a neighbor's values with these
//! functions and both produce the same [`Neighbor`](super::Neighbor). Each
//! front end reports a broken rule in its own words (a config diagnostic with
//! line and column, or a gRPC status naming the request field), so a rule
//! answers with a [`Problem`] and the caller words it.
//!
//! RFCs: RFC 4271 §4.2 (hold time 0 or at least 3 seconds) and §10
//! (keepalive a third of the hold time), RFC 6793 (4-octet ASNs, AS_TRANS),
//! RFC 2385 (TCP MD5 key; at most 80 bytes as Linux's `TCP_MD5SIG_MAXKEYLEN`),
//! RFC 5082 (GTSM), RFC 4724 §3 (restart time, 12 bits), RFC 4760 (families).
//!
//! The two front ends differ only in how an unset value reads (the API's 0
//! for "unset" in a few fields); every rule below is the same for both.

use std::net::IpAddr;

use super::error::Problem;
use super::max_prefix::{MAX_PREFIX_LIMIT_RANGE, MAX_PREFIX_WARNING_PERCENT_RANGE, MaxPrefixes};
use super::model::{AS_TRANS, DynamicAsn, MAX_PASSWORD_LEN, TtlPolicy};
use crate::wire::Family;

/// Valid remote AS numbers: 1..=4294967295 (RFC 6793; 0 is reserved, RFC 7607).
pub const ASN_RANGE: (u32, u32) = (1, u32::MAX);
/// Valid `ebgp_multihop` TTLs.
pub const EBGP_MULTIHOP_RANGE: (u8, u8) = (1, u8::MAX);
/// Valid GTSM hop counts (RFC 5082): TTL 255 - (hops - 1) at least.
pub const TTL_SECURITY_HOPS_RANGE: (u8, u8) = (1, 254);
/// Valid ports and connect retry times: 1..=65535.
pub const NON_ZERO_U16_RANGE: (u16, u16) = (1, u16::MAX);
/// Valid BFD intervals, ms (FRR's and MetalLB's range).
pub const BFD_INTERVAL_MS_RANGE: (u32, u32) = (10, 60_000);
/// Valid BFD detect multipliers (FRR's and MetalLB's range; RFC 5880
/// allows 1, which declares the peer dead after one lost packet).
pub const BFD_MULTIPLIER_RANGE: (u8, u8) = (2, u8::MAX);
/// Valid stale routes times (seconds).
pub const STALE_ROUTES_TIME_RANGE: (u16, u16) = (1, u16::MAX);

/// `value` in `min..=max` (values are `i64`: a TOML integer may be negative).
pub fn in_range<T>(value: i64, (min, max): (T, T)) -> Result<T, Problem>
where
    T: TryFrom<i64> + Into<u64> + PartialOrd + Copy,
{
    super::values::in_range(value, min, max)
}

/// A remote AS: in [`ASN_RANGE`] and not AS_TRANS ([`not_as_trans`]).
pub fn remote_asn(value: i64) -> Result<u32, Problem> {
    in_range(value, ASN_RANGE).and_then(not_as_trans)
}

/// AS_TRANS (RFC 6793 §9) stands in for a 4-octet AS and is no real AS.
pub fn not_as_trans(asn: u32) -> Result<u32, Problem> {
    if asn == AS_TRANS { Err(Problem::AsTrans) } else { Ok(asn) }
}

/// `remote_asn` and `dynamic_asn` are alternatives: `remote_asn_set` says
/// whether the former was given too.
pub fn dynamic_asn_alone(remote_asn_set: bool) -> Result<(), Problem> {
    if remote_asn_set { Err(Problem::RemoteAsnAndDynamicAsn) } else { Ok(()) }
}

/// The `remote_asn` of a neighbor with a dynamic AS: ours for internal, 0
/// (any, learned from the OPEN) for external.
pub fn dynamic_remote_asn(dynamic: DynamicAsn, local_asn: u32) -> u32 {
    match dynamic {
        DynamicAsn::Internal => local_asn,
        DynamicAsn::External => 0,
    }
}

/// A hold time: 0 (no keepalives) or 3..=65535 seconds (RFC 4271 §4.2).
pub fn hold_time(value: i64) -> Result<u16, Problem> {
    match in_range(value, (0, u16::MAX))? {
        1 | 2 => Err(Problem::HoldTime),
        hold => Ok(hold),
    }
}

/// The keepalive time when none is set: a third of the hold time (RFC 4271 §10).
pub fn default_keepalive_time(hold_time: u16) -> u16 {
    hold_time / 3
}

/// A keepalive time against the hold time: below a non-zero one, 0 with a
/// zero one (no keepalives).
pub fn keepalive_time(value: i64, hold_time: u16) -> Result<u16, Problem> {
    let keepalive = in_range(value, (0, u16::MAX))?;
    match hold_time {
        0 if keepalive != 0 => Err(Problem::KeepaliveWithoutHold),
        0 => Ok(0),
        _ if keepalive == 0 || keepalive >= hold_time => {
            Err(Problem::KeepaliveNotBelowHold { hold_time })
        }
        _ => Ok(keepalive),
    }
}

/// A TCP MD5 key's length (RFC 2385): 1..=80 bytes.
pub fn password_length(length: usize) -> Result<(), Problem> {
    match length {
        0 => Err(Problem::PasswordEmpty),
        1..=MAX_PASSWORD_LEN => Ok(()),
        _ => Err(Problem::PasswordTooLong { length }),
    }
}

/// The TTL policy from the eBGP multihop TTL and the GTSM hop count (if
/// GTSM is on): GTSM sends TTL 255, so it cannot be combined with a multihop
/// TTL other than the default 1 (RFC 5082 §3); a TTL of 1 is no multihop, so
/// GTSM with it is fine (both front ends: the API's unset 0 reads as 1).
pub fn ttl_policy(ebgp_multihop: u8, ttl_security_hops: Option<u8>) -> Result<TtlPolicy, Problem> {
    match (ttl_security_hops, ebgp_multihop) {
        (None, hops) => Ok(TtlPolicy::Multihop { hops }),
        (Some(hops), 1) => Ok(TtlPolicy::Security { hops }),
        (Some(_), ebgp_multihop) => Err(Problem::TtlSecurityWithMultihop { ebgp_multihop }),
    }
}

/// The source address of a neighbor's connections: of its address's family.
pub fn local_address(neighbor: IpAddr, local: IpAddr) -> Result<IpAddr, Problem> {
    if neighbor.is_ipv4() == local.is_ipv4() {
        Ok(local)
    } else {
        Err(Problem::LocalAddressFamily { neighbor })
    }
}

/// The families of a neighbor that names none: its address's family.
pub fn default_families(address: Option<IpAddr>) -> Vec<Family> {
    vec![match address {
        Some(IpAddr::V6(_)) => Family::Ipv6Unicast,
        _ => Family::Ipv4Unicast,
    }]
}

/// A neighbor's families, once each known: at least one (RFC 4760 §8).
pub fn families_not_empty(families: &[Family]) -> Result<(), Problem> {
    if families.is_empty() { Err(Problem::NoFamilies) } else { Ok(()) }
}

/// Valid restart times (RFC 4724 §3, 12 bits). 0 is allowed: the peer
/// keeps no routes for us across a restart, which an operator may want.
pub const RESTART_TIME_RANGE: (u16, u16) = (0, crate::gr::MAX_RESTART_TIME);

/// The restart time advertised: in [`RESTART_TIME_RANGE`].
pub fn restart_time(value: i64) -> Result<u16, Problem> {
    in_range(value, RESTART_TIME_RANGE)
}

/// A BFD interval (`min_rx_ms`, `min_tx_ms`): in [`BFD_INTERVAL_MS_RANGE`].
pub fn bfd_interval_ms(value: i64) -> Result<u32, Problem> {
    in_range(value, BFD_INTERVAL_MS_RANGE)
}

/// A BFD detect multiplier: in [`BFD_MULTIPLIER_RANGE`].
pub fn bfd_multiplier(value: i64) -> Result<u8, Problem> {
    in_range(value, BFD_MULTIPLIER_RANGE)
}

/// BFD echo mode (RFC 5880 §6.4) is not implemented: only `false` passes.
pub fn bfd_echo(echo: bool) -> Result<(), Problem> {
    if echo { Err(Problem::BfdEchoNotImplemented) } else { Ok(()) }
}

/// A BGP identifier (`global.router_id`, a neighbor's `router_id`): an IPv4
/// address other than 0.0.0.0 (RFC 6286).
pub fn router_id(text: &str) -> Result<std::net::Ipv4Addr, Problem> {
    match super::values::parse_address(text)? {
        IpAddr::V4(id) if id.is_unspecified() => Err(Problem::RouterIdZero),
        IpAddr::V4(id) => Ok(id),
        IpAddr::V6(_) => Err(Problem::RouterIdNotIpv4),
    }
}

/// A neighbor's `vrf`: the name of the device its sockets are bound to
/// (`SO_BINDTODEVICE`), a Linux interface name. Whether the device exists is
/// a run-time matter (it may appear later), not the config's.
pub fn vrf(name: &str) -> Result<String, Problem> {
    if crate::layer2::announcer::valid_interface_name(name) {
        Ok(name.to_string())
    } else {
        Err(Problem::InterfaceName)
    }
}

/// A prefix limit (`[neighbors.max_prefixes]` `ipv4-unicast`, ...):
/// [`MAX_PREFIX_LIMIT_RANGE`].
pub fn max_prefix_limit(value: i64) -> Result<u32, Problem> {
    in_range(value, MAX_PREFIX_LIMIT_RANGE)
}

/// A warning threshold, percent of the limit: [`MAX_PREFIX_WARNING_PERCENT_RANGE`].
pub fn max_prefix_warning_percent(value: i64) -> Result<u8, Problem> {
    in_range(value, MAX_PREFIX_WARNING_PERCENT_RANGE)
}

/// Every limited family is one the neighbor negotiates (a limit on another
/// would never apply: refused rather than ignored). Answers the first
/// family that is not.
pub fn max_prefix_families(
    limits: &MaxPrefixes,
    families: &[Family],
) -> Result<(), (Family, Problem)> {
    for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
        if limits.limit(family).is_some() && !families.contains(&family) {
            return Err((family, Problem::MaxPrefixFamilyNotNegotiated));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_time_is_zero_or_at_least_three() {
        assert_eq!(hold_time(0), Ok(0));
        assert_eq!(hold_time(1), Err(Problem::HoldTime));
        assert_eq!(hold_time(3), Ok(3));
        assert_eq!(hold_time(65536), Err(Problem::OutOfRange { min: 0, max: 65535 }));
    }

    #[test]
    fn keepalive_is_below_the_hold_time() {
        assert_eq!(keepalive_time(0, 0), Ok(0));
        assert_eq!(keepalive_time(10, 0), Err(Problem::KeepaliveWithoutHold));
        assert_eq!(keepalive_time(90, 90), Err(Problem::KeepaliveNotBelowHold { hold_time: 90 }));
        assert_eq!(keepalive_time(30, 90), Ok(30));
        assert_eq!(default_keepalive_time(90), 30);
    }

    #[test]
    fn gtsm_needs_the_default_multihop() {
        assert_eq!(ttl_policy(1, Some(2)), Ok(TtlPolicy::Security { hops: 2 }));
        assert_eq!(ttl_policy(3, None), Ok(TtlPolicy::Multihop { hops: 3 }));
        assert_eq!(
            ttl_policy(3, Some(2)),
            Err(Problem::TtlSecurityWithMultihop { ebgp_multihop: 3 })
        );
    }

    #[test]
    fn bfd_values() {
        assert_eq!(bfd_interval_ms(300), Ok(300));
        assert_eq!(bfd_interval_ms(9), Err(Problem::OutOfRange { min: 10, max: 60_000 }));
        assert_eq!(bfd_interval_ms(60_001), Err(Problem::OutOfRange { min: 10, max: 60_000 }));
        assert_eq!(bfd_multiplier(3), Ok(3));
        assert_eq!(bfd_multiplier(1), Err(Problem::OutOfRange { min: 2, max: 255 }));
        assert_eq!(bfd_echo(false), Ok(()));
        assert_eq!(bfd_echo(true), Err(Problem::BfdEchoNotImplemented));
    }

    #[test]
    fn passwords_and_asns() {
        assert_eq!(password_length(0), Err(Problem::PasswordEmpty));
        assert_eq!(password_length(80), Ok(()));
        assert_eq!(password_length(81), Err(Problem::PasswordTooLong { length: 81 }));
        assert_eq!(remote_asn(0), Err(Problem::OutOfRange { min: 1, max: u64::from(u32::MAX) }));
        assert_eq!(remote_asn(AS_TRANS.into()), Err(Problem::AsTrans));
        assert_eq!(restart_time(0), Ok(0));
        assert_eq!(not_as_trans(AS_TRANS), Err(Problem::AsTrans));
        assert_eq!(dynamic_remote_asn(DynamicAsn::Internal, 65001), 65001);
        assert_eq!(dynamic_remote_asn(DynamicAsn::External, 65001), 0);
    }
}
