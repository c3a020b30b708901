//! OPEN message and capabilities: RFC 4271 §4.2, RFC 5492 (capabilities
//! advertisement), RFC 4760 (multiprotocol), RFC 2918 and 7313 (route refresh),
//! RFC 6793 (4-octet AS numbers), RFC 4724 and 8538 (graceful restart),
//! RFC 7911 (ADD-PATH), RFC 8654 (extended message), RFC 8950 §4 (extended
//! next hop encoding), draft-walton-bgp-hostname (FQDN).

use std::net::Ipv4Addr;

use bytes::Bytes;

use super::family::AfiSafi;

/// AS number placed in My Autonomous System by a speaker whose own ASN does not
/// fit in two octets (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;

/// Capability codes (IANA "Capability Codes").
pub mod capability_code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    /// RFC 8950 §4.
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
    pub const FQDN: u8 = 73;
    /// Pre-standard Cisco route refresh, still sent by some peers.
    pub const ROUTE_REFRESH_CISCO: u8 = 128;
}

/// An OPEN message (RFC 4271 §4.2).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+
/// |    Version    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     My Autonomous System      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Hold Time           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         BGP Identifier                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Opt Parm Len  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             Optional Parameters (variable)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Capabilities travel in optional parameters of type 2 (RFC 5492).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenMessage {
    /// Always 4 for a message we accept.
    pub version: u8,
    /// The two-octet My Autonomous System field: the real ASN, or [`AS_TRANS`].
    pub my_as: u16,
    pub hold_time: u16,
    pub router_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

impl OpenMessage {
    /// The speaker's real ASN: the 4-octet AS capability when present
    /// (RFC 6793 §3), otherwise My Autonomous System.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }
}

/// One capability (RFC 5492 §4).
///
/// ```text
/// +------------------------------+
/// | Capability Code (1 octet)    |
/// +------------------------------+
/// | Capability Length (1 octet)  |
/// +------------------------------+
/// | Capability Value (variable)  |
/// +------------------------------+
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    /// RFC 4760 §8: AFI (2), reserved (1), SAFI (1).
    Multiprotocol(AfiSafi),
    /// RFC 2918; `cisco` is the pre-standard code 128.
    RouteRefresh { cisco: bool },
    /// RFC 7313.
    EnhancedRouteRefresh,
    /// RFC 6793 §3: the speaker's 4-octet ASN.
    FourOctetAs(u32),
    /// RFC 4724 §3 and RFC 8538 §2.
    GracefulRestart(GracefulRestartCapability),
    /// RFC 7911 §4.
    AddPath(Vec<AddPathFamily>),
    /// RFC 8654 §3: messages up to 65,535 octets.
    ExtendedMessage,
    /// RFC 8950 §4: NLRI of these families may carry a next hop of another
    /// address family (IPv4 unicast over an IPv6 next hop, BGP unnumbered).
    ExtendedNextHop(Vec<ExtendedNextHopEntry>),
    /// draft-walton-bgp-hostname-capability: host and domain name.
    Fqdn { hostname: String, domain: String },
    /// Anything else: kept byte for byte and logged.
    Unknown { code: u8, value: Bytes },
}

/// Graceful restart capability value (RFC 4724 §3, N bit from RFC 8538 §2).
///
/// ```text
/// +--------------------------------------------------+
/// | Restart Flags (4 bits)                           |
/// +--------------------------------------------------+
/// | Restart Time in seconds (12 bits)                |
/// +--------------------------------------------------+
/// | Address Family Identifier (16 bits)              |
/// +--------------------------------------------------+
/// | Subsequent Address Family Identifier (8 bits)    |
/// +--------------------------------------------------+
/// | Flags for Address Family (8 bits)                |
/// +--------------------------------------------------+
/// | ...                                              |
/// +--------------------------------------------------+
/// ```
///
/// Restart flags: bit 0 (0x8 of the nibble) is R (restart state), bit 1 (0x4)
/// is N (notification support). Per-family flags: bit 0 (0x80) is F
/// (forwarding state preserved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestartCapability {
    /// R: the sender has restarted.
    pub restart_state: bool,
    /// N: the sender handles NOTIFICATIONs gracefully (RFC 8538).
    pub notification: bool,
    /// Seconds, 0..=4095.
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// One per-family entry of the graceful restart capability.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    pub afi_safi: AfiSafi,
    /// F: forwarding state for this family was preserved across the restart.
    pub forwarding_preserved: bool,
}

/// One ADD-PATH entry (RFC 7911 §4): AFI (2), SAFI (1), Send/Receive (1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AddPathFamily {
    pub afi_safi: AfiSafi,
    pub mode: AddPathMode,
}

/// Send/Receive field of an ADD-PATH entry.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AddPathMode {
    Receive = 1,
    Send = 2,
    Both = 3,
}

impl AddPathMode {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Receive),
            2 => Some(Self::Send),
            3 => Some(Self::Both),
            _ => None,
        }
    }

    pub fn receives(self) -> bool {
        matches!(self, Self::Receive | Self::Both)
    }

    pub fn sends(self) -> bool {
        matches!(self, Self::Send | Self::Both)
    }
}

/// One tuple of the extended next hop encoding capability (RFC 8950 §4).
///
/// ```text
/// +-----------------------------------------------------+
/// | NLRI AFI - 1 (2 octets)                             |
/// +-----------------------------------------------------+
/// | NLRI SAFI - 1 (2 octets)                            |
/// +-----------------------------------------------------+
/// | Nexthop AFI - 1 (2 octets)                          |
/// +-----------------------------------------------------+
/// | .....                                               |
/// +-----------------------------------------------------+
/// | NLRI AFI - N (2 octets)                             |
/// +-----------------------------------------------------+
/// | NLRI SAFI - N (2 octets)                            |
/// +-----------------------------------------------------+
/// | Nexthop AFI - N (2 octets)                          |
/// +-----------------------------------------------------+
/// ```
///
/// The SAFI takes two octets here (one everywhere else), so it is kept raw
/// for a lossless round trip.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ExtendedNextHopEntry {
    pub nlri_afi: u16,
    pub nlri_safi: u16,
    pub next_hop_afi: u16,
}

impl ExtendedNextHopEntry {
    /// IPv4 unicast NLRI with an IPv6 next hop, the entry BGP unnumbered needs
    /// (RFC 8950 §4 example).
    pub const IPV4_UNICAST_OVER_IPV6: Self = Self {
        nlri_afi: super::family::AFI_IPV4,
        nlri_safi: super::family::SAFI_UNICAST as u16,
        next_hop_afi: super::family::AFI_IPV6,
    };

    /// The family of the NLRI when `bgpd` routes it.
    pub fn nlri_family(self) -> Option<super::family::Family> {
        let safi = u8::try_from(self.nlri_safi).ok()?;
        AfiSafi::new(self.nlri_afi, safi).family()
    }
}
