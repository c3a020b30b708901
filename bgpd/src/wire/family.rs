//! Address families: AFI (RFC 4760 §3, IANA "Address Family Numbers") and SAFI
//! (IANA "Subsequent Address Family Identifiers").
//!
//! On the wire an AFI/SAFI pair may name anything (EVPN, flowspec, ...); a peer may
//! offer families we do not speak and we must still parse and log its capability.
//! [`AfiSafi`] holds the raw pair; [`Family`] is the closed set `bgpd` routes.

use std::fmt;
use std::str::FromStr;

/// AFI code points we name. Others stay raw `u16` inside [`AfiSafi`].
pub const AFI_IPV4: u16 = 1;
/// AFI for IPv6.
pub const AFI_IPV6: u16 = 2;
/// SAFI for unicast forwarding (RFC 4760).
pub const SAFI_UNICAST: u8 = 1;

/// A raw AFI/SAFI pair exactly as a peer sent it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AfiSafi {
    pub afi: u16,
    pub safi: u8,
}

impl AfiSafi {
    pub const fn new(afi: u16, safi: u8) -> Self {
        Self { afi, safi }
    }

    /// The family this pair names, if `bgpd` routes it.
    pub fn family(self) -> Option<Family> {
        match (self.afi, self.safi) {
            (AFI_IPV4, SAFI_UNICAST) => Some(Family::Ipv4Unicast),
            (AFI_IPV6, SAFI_UNICAST) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family() {
            Some(family) => family.fmt(f),
            None => write!(f, "afi {} safi {}", self.afi, self.safi),
        }
    }
}

/// The address families `bgpd` carries routes for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl Family {
    /// Every family, in a stable order (used for End-of-RIB and capability lists).
    pub const ALL: [Family; 2] = [Family::Ipv4Unicast, Family::Ipv6Unicast];

    pub const fn afi_safi(self) -> AfiSafi {
        match self {
            Family::Ipv4Unicast => AfiSafi::new(AFI_IPV4, SAFI_UNICAST),
            Family::Ipv6Unicast => AfiSafi::new(AFI_IPV6, SAFI_UNICAST),
        }
    }

    /// The family a prefix belongs to.
    pub const fn of(prefix: &ipnet::IpNet) -> Family {
        match prefix {
            ipnet::IpNet::V4(_) => Family::Ipv4Unicast,
            ipnet::IpNet::V6(_) => Family::Ipv6Unicast,
        }
    }

    /// The family's position in [`Family::ALL`], for per-family arrays.
    pub const fn index(self) -> usize {
        match self {
            Family::Ipv4Unicast => 0,
            Family::Ipv6Unicast => 1,
        }
    }

    /// The name used in config files, the API and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A family name that `bgpd` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown address family {0:?} (expected \"ipv4-unicast\" or \"ipv6-unicast\")")]
pub struct UnknownFamily(pub String);

impl FromStr for Family {
    type Err = UnknownFamily;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ipv4-unicast" => Ok(Family::Ipv4Unicast),
            "ipv6-unicast" => Ok(Family::Ipv6Unicast),
            other => Err(UnknownFamily(other.to_string())),
        }
    }
}
