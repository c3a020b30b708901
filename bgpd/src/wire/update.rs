//! UPDATE message (RFC 4271 §4.3), MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760
//! §3, §4), ADD-PATH NLRI (RFC 7911 §3) and End-of-RIB markers (RFC 4724 §2).

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::attributes::PathAttributes;
use super::family::Family;

/// An UPDATE message (RFC 4271 §4.3).
///
/// ```text
/// +-----------------------------------------------------+
/// |   Withdrawn Routes Length (2 octets)                |
/// +-----------------------------------------------------+
/// |   Withdrawn Routes (variable)                       |
/// +-----------------------------------------------------+
/// |   Total Path Attribute Length (2 octets)            |
/// +-----------------------------------------------------+
/// |   Path Attributes (variable)                        |
/// +-----------------------------------------------------+
/// |   Network Layer Reachability Information (variable) |
/// +-----------------------------------------------------+
/// ```
///
/// `withdrawn` and `nlri` are the IPv4 unicast fields of the message body; routes
/// of other families travel in `mp_reach` / `mp_unreach`, which are path
/// attributes on the wire but routes in meaning, so they stand apart from
/// [`PathAttributes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateMessage {
    pub withdrawn: Vec<Nlri>,
    pub attributes: PathAttributes,
    pub nlri: Vec<Nlri>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
}

impl UpdateMessage {
    /// The End-of-RIB marker for `family` (RFC 4724 §2): an empty UPDATE for
    /// IPv4 unicast, an UPDATE with only an empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(family: Family) -> Self {
        match family {
            Family::Ipv4Unicast => Self::default(),
            other => Self {
                mp_unreach: Some(MpUnreach { family: other, withdrawn: Vec::new() }),
                ..Self::default()
            },
        }
    }

    /// The family this message marks End-of-RIB for, if it is such a marker.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        let no_ipv4 = self.withdrawn.is_empty() && self.nlri.is_empty();
        let attributes_empty = self.attributes == PathAttributes::default();
        match (&self.mp_reach, &self.mp_unreach) {
            (None, None) if no_ipv4 && attributes_empty => Some(Family::Ipv4Unicast),
            (None, Some(unreach))
                if no_ipv4 && attributes_empty && unreach.withdrawn.is_empty() =>
            {
                Some(unreach.family)
            }
            _ => None,
        }
    }
}

/// One prefix as carried in NLRI or withdrawn routes, with its ADD-PATH path
/// identifier when ADD-PATH was negotiated for the family in this direction.
///
/// ```text
/// +---------------------------+
/// | Path Identifier (4 octets)|   (RFC 7911 only)
/// +---------------------------+
/// | Length (1 octet)          |
/// +---------------------------+
/// | Prefix (variable)         |
/// +---------------------------+
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nlri {
    pub prefix: IpNet,
    pub path_id: Option<u32>,
}

impl Nlri {
    pub fn new(prefix: IpNet) -> Self {
        Self { prefix, path_id: None }
    }
}

impl From<IpNet> for Nlri {
    fn from(prefix: IpNet) -> Self {
        Self::new(prefix)
    }
}

/// MP_REACH_NLRI (RFC 4760 §3).
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Length of Next Hop Network Address (1 octet)            |
/// +---------------------------------------------------------+
/// | Network Address of Next Hop (variable)                  |
/// +---------------------------------------------------------+
/// | Reserved (1 octet)                                      |
/// +---------------------------------------------------------+
/// | Network Layer Reachability Information (variable)       |
/// +---------------------------------------------------------+
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpReach {
    pub family: Family,
    pub next_hop: NextHop,
    pub nlri: Vec<Nlri>,
}

/// MP_UNREACH_NLRI (RFC 4760 §4).
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Withdrawn Routes (variable)                             |
/// +---------------------------------------------------------+
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpUnreach {
    pub family: Family,
    pub withdrawn: Vec<Nlri>,
}

/// A route's next hop. IPv6 unicast may carry a link-local address beside the
/// global one (RFC 2545 §3: next hop length 32).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum NextHop {
    V4(Ipv4Addr),
    V6 { global: Ipv6Addr, link_local: Option<Ipv6Addr> },
}
