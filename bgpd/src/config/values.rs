//! Parsers for single configuration values: pure functions from text to a typed
//! value or the [`Problem`] with it. Where each value sits is the validator's job.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;

use super::error::Problem;
use super::model::ApiListen;
use crate::wire::{ExtendedCommunity, Origin};

/// `value` if it lies in `min..=max`, as the type of the field it goes into.
pub(super) fn in_range<T>(value: i64, min: T, max: T) -> Result<T, Problem>
where
    T: TryFrom<i64> + Into<u64> + PartialOrd + Copy,
{
    match T::try_from(value) {
        Ok(v) if min <= v && v <= max => Ok(v),
        _ => Err(Problem::OutOfRange { min: min.into(), max: max.into() }),
    }
}

pub(super) fn parse_address(text: &str) -> Result<IpAddr, Problem> {
    text.parse().map_err(Problem::NotAnAddress)
}

/// An address that can be one end of a TCP session or a next hop.
pub(super) fn parse_unicast_address(text: &str) -> Result<IpAddr, Problem> {
    let address = parse_address(text)?;
    if address.is_unspecified() {
        return Err(Problem::UnspecifiedAddress);
    }
    let broadcast = address == IpAddr::V4(Ipv4Addr::BROADCAST);
    if address.is_multicast() || broadcast {
        return Err(Problem::MulticastAddress);
    }
    if let IpAddr::V6(v6) = address
        && v6.is_unicast_link_local()
    {
        return Err(Problem::LinkLocalUnsupported);
    }
    Ok(address)
}

/// A prefix without host bits: `198.51.100.10/24` is refused with a suggestion.
pub(super) fn parse_prefix(text: &str) -> Result<IpNet, Problem> {
    let prefix: IpNet = text.parse().map_err(Problem::NotAPrefix)?;
    let network = prefix.trunc();
    if network != prefix {
        return Err(Problem::HostBitsSet { prefix, suggestion: network });
    }
    Ok(prefix)
}

/// `IP:PORT` (port not 0: clients must know where to go) or `unix:/absolute/path`.
pub(super) fn parse_api_listen(text: &str) -> Result<ApiListen, Problem> {
    if let Some(path) = text.strip_prefix("unix:") {
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(Problem::ApiListen);
        }
        return Ok(ApiListen::Unix(path));
    }
    match text.parse::<SocketAddr>() {
        Ok(socket) if socket.port() != 0 => Ok(ApiListen::Tcp(socket)),
        _ => Err(Problem::ApiListen),
    }
}

pub(super) fn parse_origin(text: &str) -> Result<Origin, Problem> {
    match text {
        "igp" => Ok(Origin::Igp),
        "egp" => Ok(Origin::Egp),
        "incomplete" => Ok(Origin::Incomplete),
        _ => Err(Problem::Origin),
    }
}

/// Extended communities (RFC 4360) in the forms operators write:
/// - `rt:ASN:VALUE` / `soo:ASN:VALUE`: 2-octet AS specific (§3.1) when ASN fits 16
///   bits (VALUE 32 bits), else 4-octet AS specific (RFC 5668, VALUE 16 bits);
/// - `rt:A.B.C.D:VALUE` / `soo:...`: IPv4 address specific (§3.2, VALUE 16 bits);
/// - `0x` and 16 hex digits: any community, octet by octet.
pub(super) fn parse_extended_community(text: &str) -> Result<ExtendedCommunity, Problem> {
    text.parse().map_err(|_| Problem::ExtendedCommunity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(in_range(3, 0u8, 5), Ok(3u8));
        assert_eq!(in_range(-1, 0u8, 5), Err(Problem::OutOfRange { min: 0, max: 5 }));
        assert_eq!(in_range(6, 0u8, 5), Err(Problem::OutOfRange { min: 0, max: 5 }));
        assert_eq!(in_range(256, 0u8, 255), Err(Problem::OutOfRange { min: 0, max: 255 }));
        assert_eq!(
            in_range(i64::MAX, 1u32, u32::MAX),
            Err(Problem::OutOfRange { min: 1, max: 4294967295 })
        );
    }

    #[test]
    fn unicast_addresses() {
        assert!(parse_unicast_address("192.0.2.1").is_ok());
        assert!(parse_unicast_address("2001:db8::1").is_ok());
        assert!(matches!(parse_unicast_address("192.0.2"), Err(Problem::NotAnAddress(_))));
        assert_eq!(parse_unicast_address("0.0.0.0"), Err(Problem::UnspecifiedAddress));
        assert_eq!(parse_unicast_address("::"), Err(Problem::UnspecifiedAddress));
        assert_eq!(parse_unicast_address("224.0.0.5"), Err(Problem::MulticastAddress));
        assert_eq!(parse_unicast_address("255.255.255.255"), Err(Problem::MulticastAddress));
        assert_eq!(parse_unicast_address("fe80::1"), Err(Problem::LinkLocalUnsupported));
    }

    #[test]
    fn prefixes_refuse_host_bits_with_a_suggestion() {
        assert_eq!(
            parse_prefix("198.51.100.10/32").map(|p| p.to_string()),
            Ok("198.51.100.10/32".into())
        );
        let error = parse_prefix("198.51.100.10/24").unwrap_err();
        assert_eq!(
            error.to_string(),
            "198.51.100.10/24 has host bits set; did you mean 198.51.100.0/24?"
        );
        assert!(matches!(parse_prefix("198.51.100.10"), Err(Problem::NotAPrefix(_))));
        assert!(matches!(parse_prefix("2001:db8::1/33"), Err(Problem::HostBitsSet { .. })));
    }

    #[test]
    fn api_listen_forms() {
        assert_eq!(
            parse_api_listen("127.0.0.1:50051"),
            Ok(ApiListen::Tcp("127.0.0.1:50051".parse().unwrap()))
        );
        assert_eq!(
            parse_api_listen("[::1]:50051"),
            Ok(ApiListen::Tcp("[::1]:50051".parse().unwrap()))
        );
        assert_eq!(
            parse_api_listen("unix:/run/ironlb/bgpd.sock"),
            Ok(ApiListen::Unix(PathBuf::from("/run/ironlb/bgpd.sock")))
        );
        for bad in ["unix:relative.sock", "unix:", "localhost:50051", "127.0.0.1", "127.0.0.1:0"] {
            assert_eq!(parse_api_listen(bad), Err(Problem::ApiListen), "{bad}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(parse_origin("igp"), Ok(Origin::Igp));
        assert_eq!(parse_origin("egp"), Ok(Origin::Egp));
        assert_eq!(parse_origin("incomplete"), Ok(Origin::Incomplete));
        assert_eq!(parse_origin("IGP"), Err(Problem::Origin));
    }

    #[test]
    fn extended_communities() {
        let rt = parse_extended_community("rt:65001:100").unwrap();
        assert_eq!(rt.0, [0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 100]);
        // Display (in wire/) reads it back the same way.
        assert_eq!(rt.to_string(), "rt:65001:100");
        let soo = parse_extended_community("soo:65001:7").unwrap();
        assert_eq!(soo.to_string(), "soo:65001:7");
        let four_octet = parse_extended_community("rt:4200000000:100").unwrap();
        assert_eq!(four_octet.0, [0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0, 100]);
        let ipv4 = parse_extended_community("rt:192.0.2.1:5").unwrap();
        assert_eq!(ipv4.0, [0x01, 0x02, 192, 0, 2, 1, 0, 5]);
        let hex = parse_extended_community("0x0002fde900000064").unwrap();
        assert_eq!(hex, rt);
        for bad in [
            "rt:65001",
            "rt:65001:1:2",
            "xx:65001:1",
            "rt:4200000000:70000",
            "rt:192.0.2.1:70000",
            "0x0002",
            "0x0002fde90000006g",
            "0xé002fde90000006",
        ] {
            assert_eq!(parse_extended_community(bad), Err(Problem::ExtendedCommunity), "{bad}");
        }
    }
}
