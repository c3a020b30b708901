//! Path attributes (RFC 4271 §4.3 and §5) and the optional ones `bgpd` speaks:
//! COMMUNITIES (RFC 1997), ORIGINATOR_ID and CLUSTER_LIST (RFC 4456), AS4_PATH and
//! AS4_AGGREGATOR (RFC 6793), EXTENDED_COMMUNITIES (RFC 4360), LARGE_COMMUNITY
//! (RFC 8092). MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760) live in
//! [`super::update`] because they carry routes, not route properties.
//!
//! These are the *semantic* attributes: AS_PATH is always held with 4-octet ASNs,
//! AS4_PATH and AS4_AGGREGATOR are merged into it on decode (RFC 6793 §4.2.3) and
//! generated again on encode for a peer that speaks only 2-octet ASNs.
//!
//! Type codes, flags categories, RFC 7606 error actions and encode order of
//! every attribute are in one table, [`table`].

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use bytes::Bytes;

pub mod packed;
pub mod source;
pub mod table;

pub use packed::{PackedAttributes, PackedView};
pub use source::AttributeSource;

pub use table::{flags, type_code};

/// The attribute set of one route, as carried in an UPDATE (without the MP
/// attributes). Interned by the RIB: many prefixes share one copy.
///
/// ```text
/// Each attribute on the wire (RFC 4271 §4.3):
///  0                   1
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Attr. Flags  |Attr. Type Code|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Length (1, or 2 when Extended Length is set) | Value ...
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: AsPath,
    /// The NEXT_HOP attribute (IPv4 NLRI only; other families carry theirs in
    /// MP_REACH_NLRI).
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub extended_communities: Vec<ExtendedCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    /// Optional attributes we do not interpret. Transitive ones are passed on
    /// with the Partial bit set (RFC 4271 §5); non-transitive ones are dropped
    /// on export.
    pub unknown: Vec<UnknownAttribute>,
}

impl PathAttributes {
    /// Drops LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST (by type code), as an
    /// external neighbor's copy is (RFC 7606 §7.5, §7.9, §7.10).
    pub fn forget_internal_only(&mut self, code: u8) {
        match code {
            table::type_code::LOCAL_PREF => self.local_pref = None,
            table::type_code::ORIGINATOR_ID => self.originator_id = None,
            table::type_code::CLUSTER_LIST => self.cluster_list.clear(),
            _ => {}
        }
    }
}

/// ORIGIN (RFC 4271 §5.1.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

impl Origin {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Igp),
            1 => Some(Self::Egp),
            2 => Some(Self::Incomplete),
            _ => None,
        }
    }
}

/// AS_PATH (RFC 4271 §4.3, §5.1.2), confederation segments (RFC 5065 §3), always
/// with 4-octet ASNs.
///
/// ```text
/// segment: | type (1) | count of ASNs (1) | ASNs (2 or 4 octets each) ... |
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn from_sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let asns: Vec<u32> = asns.into_iter().collect();
        if asns.is_empty() {
            return Self::default();
        }
        Self { segments: vec![AsSegment { kind: SegmentType::Sequence, asns }] }
    }

    /// Path length for best-path selection (RFC 4271 §9.1.2.2 a): an AS_SET
    /// counts as 1, confederation segments count as 0 (RFC 5065 §5.3).
    pub fn path_length(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentType::Sequence => s.asns.len(),
                SegmentType::Set => 1,
                SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
            })
            .sum()
    }

    /// Whether `asn` appears anywhere in the path (loop detection, RFC 4271 §9.1.2).
    pub fn contains(&self, asn: u32) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    /// Whether the path holds confederation segments (RFC 5065 §3).
    pub fn has_confederation_segments(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s.kind, SegmentType::ConfedSequence | SegmentType::ConfedSet))
    }

    /// The neighbouring AS: the first ASN of a leading AS_SEQUENCE (used to
    /// compare MEDs, RFC 4271 §9.1.2.2 c).
    pub fn first_asn(&self) -> Option<u32> {
        match self.segments.first() {
            Some(AsSegment { kind: SegmentType::Sequence, asns }) => asns.first().copied(),
            _ => None,
        }
    }

    /// Prepend `asn` as an eBGP speaker does on export (RFC 4271 §5.1.2).
    pub fn prepend(&mut self, asn: u32) {
        match self.segments.first_mut() {
            Some(segment) if segment.kind == SegmentType::Sequence && segment.asns.len() < 255 => {
                segment.asns.insert(0, asn)
            }
            _ => {
                self.segments.insert(0, AsSegment { kind: SegmentType::Sequence, asns: vec![asn] })
            }
        }
    }
}

impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match segment.kind {
                SegmentType::Sequence => ("", ""),
                SegmentType::Set => ("{", "}"),
                SegmentType::ConfedSequence => ("(", ")"),
                SegmentType::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, asn) in segment.asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{asn}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// One AS_PATH segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: SegmentType,
    pub asns: Vec<u32>,
}

/// AS_PATH segment types (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SegmentType {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

impl SegmentType {
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(Self::Set),
            2 => Some(Self::Sequence),
            3 => Some(Self::ConfedSequence),
            4 => Some(Self::ConfedSet),
            _ => None,
        }
    }
}

/// AGGREGATOR (RFC 4271 §5.1.7), held with a 4-octet ASN.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// A standard community (RFC 1997): high 16 bits ASN, low 16 bits value.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// RFC 8326.
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// RFC 7999.
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);
    /// RFC 1997.
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// RFC 1997.
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// RFC 1997.
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// RFC 3765.
    pub const NO_PEER: Community = Community(0xFFFF_FF04);

    const WELL_KNOWN: [(Community, &'static str); 6] = [
        (Self::GRACEFUL_SHUTDOWN, "graceful-shutdown"),
        (Self::BLACKHOLE, "blackhole"),
        (Self::NO_EXPORT, "no-export"),
        (Self::NO_ADVERTISE, "no-advertise"),
        (Self::NO_EXPORT_SUBCONFED, "no-export-subconfed"),
        (Self::NO_PEER, "no-peer"),
    ];

    /// The well-known name of this community, if it has one.
    pub fn well_known_name(self) -> Option<&'static str> {
        Self::WELL_KNOWN.iter().find(|(c, _)| *c == self).map(|(_, name)| *name)
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.well_known_name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}:{}", self.0 >> 16, self.0 & 0xFFFF),
        }
    }
}

/// A community string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommunityParseError {
    #[error("community {0:?} is not ASN:VALUE with both parts 0..=65535, nor a well-known name")]
    Standard(String),
    #[error("large community {0:?} is not GLOBAL:LOCAL1:LOCAL2 with each part 0..=4294967295")]
    Large(String),
    #[error(
        "extended community {0:?} is not rt:ADMIN:VALUE, soo:ADMIN:VALUE (ADMIN an ASN or IPv4 \
         address) or 0x followed by 16 hex digits"
    )]
    Extended(String),
}

impl FromStr for Community {
    type Err = CommunityParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((c, _)) = Self::WELL_KNOWN.iter().find(|(_, name)| *name == s) {
            return Ok(*c);
        }
        let bad = || CommunityParseError::Standard(s.to_string());
        let (high, low) = s.split_once(':').ok_or_else(bad)?;
        let high: u16 = high.parse().map_err(|_| bad())?;
        let low: u16 = low.parse().map_err(|_| bad())?;
        Ok(Community((u32::from(high) << 16) | u32::from(low)))
    }
}

/// An extended community (RFC 4360 §2): eight octets, type first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendedCommunity(pub [u8; 8]);

impl ExtendedCommunity {
    /// Whether the Transitive bit (0x40 of the type, inverted sense) allows
    /// passing it to another AS (RFC 4360 §2).
    pub fn is_transitive(self) -> bool {
        self.0[0] & 0x40 == 0
    }
}

impl fmt::Display for ExtendedCommunity {
    /// Route targets and route origins of the three transitive forms print as
    /// `rt:`/`soo:` text that [`FromStr`] reads back to the same octets;
    /// anything else prints as `0x` and 16 hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        let kind = match b[1] {
            0x02 => "rt",
            0x03 => "soo",
            _ => "",
        };
        match b[0] {
            0x00 if !kind.is_empty() && u16::from_be_bytes([b[2], b[3]]) != 0 => {
                let asn = u16::from_be_bytes([b[2], b[3]]);
                let value = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                write!(f, "{kind}:{asn}:{value}")
            }
            0x01 if !kind.is_empty() => {
                let address = Ipv4Addr::new(b[2], b[3], b[4], b[5]);
                write!(f, "{kind}:{address}:{}", u16::from_be_bytes([b[6], b[7]]))
            }
            0x02 if !kind.is_empty() && u32::from_be_bytes([b[2], b[3], b[4], b[5]]) > 0xFFFF => {
                let asn = u32::from_be_bytes([b[2], b[3], b[4], b[5]]);
                write!(f, "{kind}:{asn}:{}", u16::from_be_bytes([b[6], b[7]]))
            }
            _ => {
                f.write_str("0x")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// Text forms, the same the API and the config accept:
/// - `0x` and 16 hex digits: the eight octets as they are;
/// - `rt:ADMIN:VALUE` or `soo:ADMIN:VALUE` (route target, route origin): a
///   2-octet ASN with a 4-octet value (RFC 4360 §3.1), an IPv4 address with a
///   2-octet value (§3.2), or a 4-octet ASN with a 2-octet value (RFC 5668).
impl FromStr for ExtendedCommunity {
    type Err = CommunityParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CommunityParseError::Extended(text.to_string());
        if let Some(hex) = text.strip_prefix("0x") {
            if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            let value = u64::from_str_radix(hex, 16).map_err(|_| bad())?;
            return Ok(ExtendedCommunity(value.to_be_bytes()));
        }
        let mut parts = text.split(':');
        let subtype = match parts.next() {
            Some("rt") => 0x02,
            Some("soo") => 0x03,
            _ => return Err(bad()),
        };
        let (Some(admin), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let mut octets = [0u8; 8];
        octets[1] = subtype;
        if let Ok(address) = admin.parse::<Ipv4Addr>() {
            let value: u16 = value.parse().map_err(|_| bad())?;
            octets[0] = 0x01;
            octets[2..6].copy_from_slice(&address.octets());
            octets[6..8].copy_from_slice(&value.to_be_bytes());
        } else {
            let asn: u32 = admin.parse().map_err(|_| bad())?;
            match u16::try_from(asn) {
                Ok(asn) => {
                    let value: u32 = value.parse().map_err(|_| bad())?;
                    octets[2..4].copy_from_slice(&asn.to_be_bytes());
                    octets[4..8].copy_from_slice(&value.to_be_bytes());
                }
                Err(_) => {
                    let value: u16 = value.parse().map_err(|_| bad())?;
                    octets[0] = 0x02;
                    octets[2..6].copy_from_slice(&asn.to_be_bytes());
                    octets[6..8].copy_from_slice(&value.to_be_bytes());
                }
            }
        }
        Ok(ExtendedCommunity(octets))
    }
}

/// A large community (RFC 8092 §3): three 4-octet fields.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global_admin, self.local_data_1, self.local_data_2)
    }
}

impl FromStr for LargeCommunity {
    type Err = CommunityParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CommunityParseError::Large(s.to_string());
        let mut parts = s.split(':');
        let mut next = || -> Result<u32, CommunityParseError> {
            parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())
        };
        let value =
            LargeCommunity { global_admin: next()?, local_data_1: next()?, local_data_2: next()? };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(value)
    }
}

/// An optional attribute `bgpd` does not interpret, kept byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnknownAttribute {
    /// Flags as received (Extended Length is recomputed on encode).
    pub flags: u8,
    pub type_code: u8,
    pub value: Bytes,
}

impl UnknownAttribute {
    pub fn is_transitive(&self) -> bool {
        self.flags & flags::TRANSITIVE != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_community_text_round_trips() {
        for text in [
            "rt:65001:100",
            "soo:65001:7",
            "rt:4200000000:100",
            "rt:192.0.2.1:5",
            "0x4002fde900000064",
            "0x0002000000000064",
        ] {
            let community: ExtendedCommunity = text.parse().unwrap();
            assert_eq!(community.to_string(), text);
            assert_eq!(community.to_string().parse::<ExtendedCommunity>().unwrap(), community);
        }
        assert_eq!(
            "rt:65001:100".parse::<ExtendedCommunity>().unwrap().0,
            [0x00, 0x02, 0xFD, 0xE9, 0, 0, 0, 100]
        );
        for bad in ["rt:65001", "xx:1:2", "0x12", "rt:4200000000:70000", "rt:1:2:3"] {
            assert!(bad.parse::<ExtendedCommunity>().is_err(), "{bad}");
        }
    }
}
