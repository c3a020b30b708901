//! Prefixes and next hops an API client may announce: refused when they can
//! never be a route or a global next hop on the Internet or in a data centre,
//! so a typo does not leak loopback, multicast or link-local space into BGP.
//!
//! Prefixes inside 127.0.0.0/8 (loopback, RFC 1122 §3.2.1.3), 224.0.0.0/4
//! (multicast, RFC 5771), 240.0.0.0/4 (reserved, RFC 1112 §4, broadcast
//! included), fe80::/10 (link-local, RFC 4291 §2.5.6), ff00::/8 (multicast,
//! RFC 4291 §2.7) and ::1/128 are refused; covering prefixes (0.0.0.0/0) are
//! not. An IPv4 prefix must be written canonically: `010.0.0.0/8` is refused
//! (leading zeros read as octal by some tools, RFC 6943 §3.1.1).
//!
//! A global next hop (RFC 4271 §5.1.3, RFC 2545 §3) is refused when loopback
//! (127/8, ::1), IPv4 link-local (169.254/16, RFC 3927) or IPv6 link-local
//! (fe80::/10: it belongs in `next_hop_link_local`); unspecified and multicast
//! are refused by `unicast_address` already.

use std::net::IpAddr;

use ipnet::IpNet;

use super::ValidationError;

/// Why `net` cannot be announced, if it cannot (bit tests: no allocation
/// per path of a bulk load).
fn prefix_problem(net: &IpNet) -> Option<&'static str> {
    let length = net.prefix_len();
    match net {
        IpNet::V4(v4) => {
            let first = v4.network().octets()[0];
            if length >= 8 && first == 127 {
                Some("it is inside 127.0.0.0/8 (loopback)")
            } else if length >= 4 && (224..240).contains(&first) {
                Some("it is inside 224.0.0.0/4 (multicast)")
            } else if length >= 4 && first >= 240 {
                Some("it is inside 240.0.0.0/4 (reserved)")
            } else {
                None
            }
        }
        IpNet::V6(v6) => {
            let first = v6.network().segments()[0];
            if length >= 10 && first & 0xffc0 == 0xfe80 {
                Some("it is inside fe80::/10 (link-local)")
            } else if length >= 8 && first & 0xff00 == 0xff00 {
                Some("it is inside ff00::/8 (multicast)")
            } else if length == 128 && v6.network().is_loopback() {
                Some("it is the loopback address")
            } else {
                None
            }
        }
    }
}

/// Whether IPv4 text has a part with a leading zero (`010`, `/08`).
fn has_leading_zero(text: &str) -> bool {
    text.split(['.', '/']).any(|part| part.len() > 1 && part.starts_with('0'))
}

/// Checks the prefix `net` of `paths[index]`, parsed from `text` (the field
/// name is only formatted for an error: bulk loads allocate nothing here).
pub(super) fn prefix(index: usize, text: &str, net: &IpNet) -> Result<(), ValidationError> {
    let field = || format!("paths[{index}].prefix");
    if matches!(net, IpNet::V4(_)) && has_leading_zero(text) {
        return Err(ValidationError::NotCanonical {
            field: field(),
            value: text.to_string(),
            canonical: net.to_string(),
        });
    }
    match prefix_problem(net) {
        Some(reason) => Err(ValidationError::UnusableAddress {
            field: field(),
            value: text.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks a global next hop (already known unicast and specified).
pub(super) fn global_next_hop(field: &str, address: IpAddr) -> Result<(), ValidationError> {
    let reason = match address {
        IpAddr::V4(v4) if v4.is_loopback() => Some("it is a loopback address"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("it is a link-local address (169.254.0.0/16)"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("it is the loopback address"),
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => {
            Some("it is link-local; give it as next_hop_link_local beside a global one")
        }
        _ => None,
    };
    match reason {
        Some(reason) => Err(ValidationError::UnusableAddress {
            field: field.to_string(),
            value: address.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros() {
        assert!(has_leading_zero("010.0.0.0/8"));
        assert!(has_leading_zero("10.0.0.0/08"));
        assert!(!has_leading_zero("10.0.0.0/8"));
        assert!(!has_leading_zero("0.0.0.0/0"));
    }
}
