//! Address ranges as pools write them: a CIDR (`198.51.100.0/24`, `2001:db8::/120`) or an
//! inclusive range (`198.51.100.10-198.51.100.20`), the two forms MetalLB accepts.
//!
//! Addresses become `u128` keys inside one family so that the allocator and the overlap
//! checks work on integers; the family always travels beside the key, because an IPv4 key
//! and the IPv6 address `::a.b.c.d` are the same number.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use thiserror::Error;

/// The address family of a pool range, a Service request or an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Host prefix length: 32 or 128.
    pub fn max_prefix_len(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// Index for per-family arrays.
    pub fn index(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// The integer key of an address within its family.
pub fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of `key` in `family`; IPv4 keys above `u32::MAX` cannot occur because keys
/// only come from [`key`] and range bounds of the same family, so they saturate.
pub fn from_key(family: Family, key: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(key).unwrap_or(u32::MAX))),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(key)),
    }
}

/// Why an entry of `addresses` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    #[error("{0:?} is neither a CIDR nor a range \"first-last\"")]
    Unparsable(String),
    #[error("{0:?} is not a valid CIDR")]
    InvalidCidr(String),
    #[error("{0:?} is not an IP address")]
    InvalidAddress(String),
    #[error("range {first}-{last} is written backwards (first is above last)")]
    Backwards { first: IpAddr, last: IpAddr },
    #[error("range {first}-{last} mixes IPv4 and IPv6")]
    MixedFamilies { first: IpAddr, last: IpAddr },
}

/// An inclusive range of addresses of one family, `first <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressRange {
    first: IpAddr,
    last: IpAddr,
}

impl AddressRange {
    /// Parses a CIDR or a `first-last` range. A CIDR with host bits set is taken as its
    /// network (MetalLB, through Go's `net.ParseCIDR`, does the same).
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let text = text.trim();
        if text.contains('/') {
            let net: IpNet =
                text.parse().map_err(|_| AddressError::InvalidCidr(text.to_owned()))?;
            return Ok(Self::from_net(net.trunc()));
        }
        let Some((first, last)) = text.split_once('-') else {
            // A bare address: one address, as a /32 or /128 would be.
            let ip =
                text.parse::<IpAddr>().map_err(|_| AddressError::Unparsable(text.to_owned()))?;
            return Ok(Self { first: ip, last: ip });
        };
        let parse = |s: &str| {
            s.trim()
                .parse::<IpAddr>()
                .map_err(|_| AddressError::InvalidAddress(s.trim().to_owned()))
        };
        let (first, last) = (parse(first)?, parse(last)?);
        Self::new(first, last)
    }

    /// A range from its bounds, checked.
    pub fn new(first: IpAddr, last: IpAddr) -> Result<Self, AddressError> {
        if Family::of(first) != Family::of(last) {
            return Err(AddressError::MixedFamilies { first, last });
        }
        if key(first) > key(last) {
            return Err(AddressError::Backwards { first, last });
        }
        Ok(Self { first, last })
    }

    /// All addresses of `net`, network and broadcast included (as MetalLB hands them out).
    pub fn from_net(net: IpNet) -> Self {
        Self { first: net.network(), last: net.broadcast() }
    }

    pub fn first(&self) -> IpAddr {
        self.first
    }

    pub fn last(&self) -> IpAddr {
        self.last
    }

    pub fn family(&self) -> Family {
        Family::of(self.first)
    }

    /// Integer bounds within the family.
    pub fn bounds(&self) -> (u128, u128) {
        (key(self.first), key(self.last))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (lo, hi) = self.bounds();
        Family::of(ip) == self.family() && (lo..=hi).contains(&key(ip))
    }

    pub fn overlaps(&self, other: &AddressRange) -> bool {
        let (a, b) = self.bounds();
        let (c, d) = other.bounds();
        self.family() == other.family() && a <= d && c <= b
    }

    /// The shortest list of CIDRs that covers exactly this range. Aggregation checks need
    /// it: a range announced as an aggregate must not cover addresses outside the pool.
    pub fn to_cidrs(&self) -> Vec<IpNet> {
        let family = self.family();
        let bits = u32::from(family.max_prefix_len());
        let (mut lo, hi) = self.bounds();
        let mut out = Vec::new();
        loop {
            // The largest aligned block starting at `lo` that stays within `hi`.
            let align = if lo == 0 { bits } else { lo.trailing_zeros().min(bits) };
            let mut size = align;
            while size > 0 && block_end(lo, size) > hi {
                size -= 1;
            }
            let prefix_len = u8::try_from(bits - size).unwrap_or(0);
            out.extend(net_of(family, lo, prefix_len));
            let end = block_end(lo, size);
            if end >= hi {
                break;
            }
            lo = end + 1;
        }
        out
    }
}

/// Last key of the block of `2^size` addresses starting at `lo`.
fn block_end(lo: u128, size: u32) -> u128 {
    if size >= 128 { u128::MAX } else { lo.saturating_add((1u128 << size) - 1) }
}

fn net_of(family: Family, lo: u128, prefix_len: u8) -> Option<IpNet> {
    // `prefix_len` never exceeds the family's width (it is width minus a block size bounded
    // by that width), so this only refuses what cannot happen.
    IpNet::new(from_key(family, lo), prefix_len).ok()
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_ranges_and_single_addresses() {
        let r = AddressRange::parse("11.11.11.150-11.11.11.200").unwrap();
        assert_eq!((r.first(), r.last()), (ip("11.11.11.150"), ip("11.11.11.200")));
        let r = AddressRange::parse("198.51.100.0/30").unwrap();
        assert_eq!((r.first(), r.last()), (ip("198.51.100.0"), ip("198.51.100.3")));
        let r = AddressRange::parse("198.51.100.5/30").unwrap();
        assert_eq!(r.first(), ip("198.51.100.4"));
        let r = AddressRange::parse("2001:db8::/126").unwrap();
        assert_eq!(r.last(), ip("2001:db8::3"));
        let r = AddressRange::parse(" 2001:db8::1 - 2001:db8::9 ").unwrap();
        assert_eq!(r.family(), Family::V6);
        assert_eq!(AddressRange::parse("192.0.2.7").unwrap().bounds().0, key(ip("192.0.2.7")));
    }

    #[test]
    fn rejects_bad_addresses_with_the_value() {
        assert_eq!(
            AddressRange::parse("11.11.11.200-11.11.11.150"),
            Err(AddressError::Backwards { first: ip("11.11.11.200"), last: ip("11.11.11.150") })
        );
        assert_eq!(
            AddressRange::parse("198.51.100.0/33"),
            Err(AddressError::InvalidCidr("198.51.100.0/33".into()))
        );
        assert_eq!(
            AddressRange::parse("198.51.100.1-2001:db8::1"),
            Err(AddressError::MixedFamilies { first: ip("198.51.100.1"), last: ip("2001:db8::1") })
        );
        assert_eq!(
            AddressRange::parse("198.51.100.1-banana"),
            Err(AddressError::InvalidAddress("banana".into()))
        );
        assert_eq!(AddressRange::parse("pool"), Err(AddressError::Unparsable("pool".into())));
    }

    #[test]
    fn ranges_split_into_covering_cidrs() {
        let cidrs = AddressRange::parse("192.0.2.1-192.0.2.6").unwrap().to_cidrs();
        let text: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31", "192.0.2.6/32"]);
        let cidrs = AddressRange::parse("198.51.100.0/24").unwrap().to_cidrs();
        assert_eq!(cidrs, vec!["198.51.100.0/24".parse::<IpNet>().unwrap()]);
        let all = AddressRange::parse("::/0").unwrap().to_cidrs();
        assert_eq!(all, vec!["::/0".parse::<IpNet>().unwrap()]);
        let all4 = AddressRange::parse("0.0.0.0/0").unwrap().to_cidrs();
        assert_eq!(all4, vec!["0.0.0.0/0".parse::<IpNet>().unwrap()]);
    }

    #[test]
    fn overlap_is_per_family() {
        let a = AddressRange::parse("198.51.100.0/24").unwrap();
        let b = AddressRange::parse("198.51.100.200-198.51.101.5").unwrap();
        let c = AddressRange::parse("::c633:6400/120").unwrap();
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
    }
}
