//! Community patterns and sets: standard communities (RFC 1997) as `ASN:VALUE`
//! with `*` for either half or a well-known name, large communities (RFC 8092)
//! as `GLOBAL:LOCAL1:LOCAL2` with `*` for any part.
//!
//! A pattern compiles to a value and a mask (`community & mask == value`), so
//! an exact community and a wildcard cost the same; exact patterns are also
//! kept sorted for a binary search when a set is large.
//!
//! Well-known names follow the IANA "BGP Well-known Communities" registry
//! (RFC 1997, RFC 8642 and each value's RFC), written as there with `_`
//! (`NO_EXPORT`), case-insensitively and with `-` accepted for `_`.

use std::fmt;
use std::str::FromStr;

use crate::wire::{Community, LargeCommunity};

/// The IANA well-known communities this module names, with their RFCs.
pub const WELL_KNOWN: [(&str, u32); 15] = [
    ("GRACEFUL_SHUTDOWN", 0xFFFF_0000),          // RFC 8326
    ("ACCEPT_OWN", 0xFFFF_0001),                 // RFC 7611
    ("ROUTE_FILTER_TRANSLATED_V4", 0xFFFF_0002), // draft-l3vpn-legacy-rtc
    ("ROUTE_FILTER_V4", 0xFFFF_0003),            // draft-l3vpn-legacy-rtc
    ("ROUTE_FILTER_TRANSLATED_V6", 0xFFFF_0004), // draft-l3vpn-legacy-rtc
    ("ROUTE_FILTER_V6", 0xFFFF_0005),            // draft-l3vpn-legacy-rtc
    ("LLGR_STALE", 0xFFFF_0006),                 // RFC 9494
    ("NO_LLGR", 0xFFFF_0007),                    // RFC 9494
    ("ACCEPT_OWN_NEXTHOP", 0xFFFF_0008),         // draft-agrewal-idr-accept-own-nexthop
    ("STANDBY_PE", 0xFFFF_0009),                 // RFC 9026
    ("BLACKHOLE", 0xFFFF_029A),                  // RFC 7999
    ("NO_EXPORT", 0xFFFF_FF01),                  // RFC 1997
    ("NO_ADVERTISE", 0xFFFF_FF02),               // RFC 1997
    ("NO_EXPORT_SUBCONFED", 0xFFFF_FF03),        // RFC 1997
    ("NO_PEER", 0xFFFF_FF04),                    // RFC 3765 (NOPEER)
];

/// The value of a well-known community name (`NO_EXPORT`, `no-export`, `NOPEER`).
pub fn well_known(name: &str) -> Option<Community> {
    if name.eq_ignore_ascii_case("NOPEER") {
        return Some(Community::NO_PEER);
    }
    WELL_KNOWN
        .iter()
        .find(|(known, _)| {
            known.len() == name.len()
                && known
                    .bytes()
                    .zip(name.bytes())
                    .all(|(k, n)| k == n.to_ascii_uppercase() || (k == b'_' && n == b'-'))
        })
        .map(|(_, value)| Community(*value))
}

/// A community pattern that does not parse, with the byte offset of the bad part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommunityPatternError {
    #[error(
        "community {text:?}, at byte {position}: expected ASN:VALUE (each 0..=65535 or `*`) or a \
         well-known name such as NO_EXPORT"
    )]
    Standard { text: String, position: usize },
    #[error(
        "large community {text:?}, at byte {position}: expected GLOBAL:LOCAL1:LOCAL2 (each \
         0..=4294967295 or `*`)"
    )]
    Large { text: String, position: usize },
}

/// A standard community pattern: matches `community & mask == value`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct CommunityPattern {
    pub value: u32,
    pub mask: u32,
}

impl CommunityPattern {
    pub fn exact(community: Community) -> Self {
        Self { value: community.0, mask: u32::MAX }
    }

    pub fn is_exact(&self) -> bool {
        self.mask == u32::MAX
    }

    #[inline]
    pub fn matches(&self, community: Community) -> bool {
        community.0 & self.mask == self.value
    }
}

/// Splits `text` at `:` and yields each part with its byte offset.
fn parts(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(':').map(move |part| (part.as_ptr() as usize - text.as_ptr() as usize, part))
}

impl FromStr for CommunityPattern {
    type Err = CommunityPatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(community) = well_known(text) {
            return Ok(Self::exact(community));
        }
        let fail = |position| CommunityPatternError::Standard { text: text.to_string(), position };
        let mut value = 0u32;
        let mut mask = 0u32;
        let mut count = 0;
        for (position, part) in parts(text) {
            if count == 2 {
                return Err(fail(position.saturating_sub(1)));
            }
            value <<= 16;
            mask <<= 16;
            if part != "*" {
                let half: u16 = part.parse().map_err(|_| fail(position))?;
                value |= u32::from(half);
                mask |= 0xFFFF;
            }
            count += 1;
        }
        if count != 2 {
            return Err(fail(text.len()));
        }
        Ok(Self { value, mask })
    }
}

impl fmt::Display for CommunityPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_exact()
            && let Some((name, _)) = WELL_KNOWN.iter().find(|(_, v)| *v == self.value)
        {
            return f.write_str(name);
        }
        let half = |shift: u32| {
            if (self.mask >> shift) & 0xFFFF == 0 {
                "*".to_string()
            } else {
                ((self.value >> shift) & 0xFFFF).to_string()
            }
        };
        write!(f, "{}:{}", half(16), half(0))
    }
}

/// A large community pattern: each part a value or `None` for `*`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LargeCommunityPattern {
    pub parts: [Option<u32>; 3],
}

impl LargeCommunityPattern {
    pub fn exact(community: LargeCommunity) -> Self {
        Self {
            parts: [
                Some(community.global_admin),
                Some(community.local_data_1),
                Some(community.local_data_2),
            ],
        }
    }

    /// The community itself when no part is a wildcard.
    pub fn as_exact(&self) -> Option<LargeCommunity> {
        match self.parts {
            [Some(global_admin), Some(local_data_1), Some(local_data_2)] => {
                Some(LargeCommunity { global_admin, local_data_1, local_data_2 })
            }
            _ => None,
        }
    }

    #[inline]
    pub fn matches(&self, community: &LargeCommunity) -> bool {
        let values = [community.global_admin, community.local_data_1, community.local_data_2];
        self.parts.iter().zip(values).all(|(part, value)| part.is_none_or(|p| p == value))
    }
}

impl FromStr for LargeCommunityPattern {
    type Err = CommunityPatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |position| CommunityPatternError::Large { text: text.to_string(), position };
        let mut out = [None; 3];
        let mut count = 0;
        for (position, part) in parts(text) {
            let Some(slot) = out.get_mut(count) else {
                return Err(fail(position.saturating_sub(1)));
            };
            if part != "*" {
                *slot = Some(part.parse::<u32>().map_err(|_| fail(position))?);
            }
            count += 1;
        }
        if count != 3 {
            return Err(fail(text.len()));
        }
        Ok(Self { parts: out })
    }
}

impl fmt::Display for LargeCommunityPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            match part {
                Some(value) => write!(f, "{value}")?,
                None => f.write_str("*")?,
            }
        }
        Ok(())
    }
}

/// Parses an exact standard community (no wildcard), as `set.communities_add` needs.
pub fn parse_exact_community(text: &str) -> Result<Community, CommunityPatternError> {
    let pattern: CommunityPattern = text.parse()?;
    if !pattern.is_exact() {
        let position = text.find('*').unwrap_or(0);
        return Err(CommunityPatternError::Standard { text: text.to_string(), position });
    }
    Ok(Community(pattern.value))
}

/// Parses an exact large community (no wildcard).
pub fn parse_exact_large_community(text: &str) -> Result<LargeCommunity, CommunityPatternError> {
    let pattern: LargeCommunityPattern = text.parse()?;
    pattern.as_exact().ok_or_else(|| CommunityPatternError::Large {
        text: text.to_string(),
        position: text.find('*').unwrap_or(0),
    })
}

/// A compiled standard community set: matches a route carrying at least one
/// community that at least one pattern matches.
#[derive(Clone, Debug, Default)]
pub struct CommunitySet {
    patterns: Vec<CommunityPattern>,
    /// Exact values, sorted, for a binary search.
    exact: Vec<u32>,
    wildcards: Vec<CommunityPattern>,
}

impl CommunitySet {
    pub fn new(patterns: impl IntoIterator<Item = CommunityPattern>) -> Self {
        let patterns: Vec<CommunityPattern> = patterns.into_iter().collect();
        let mut exact: Vec<u32> =
            patterns.iter().filter(|p| p.is_exact()).map(|p| p.value).collect();
        exact.sort_unstable();
        exact.dedup();
        let wildcards = patterns.iter().filter(|p| !p.is_exact()).copied().collect();
        Self { patterns, exact, wildcards }
    }

    /// Whether `community` is matched by a pattern of the set.
    #[inline]
    pub fn contains(&self, community: Community) -> bool {
        let exact = if self.exact.len() <= 8 {
            self.exact.contains(&community.0)
        } else {
            self.exact.binary_search(&community.0).is_ok()
        };
        exact || self.wildcards.iter().any(|p| p.matches(community))
    }

    /// Whether any of `communities` is in the set.
    #[inline]
    pub fn matches_any(&self, communities: &[Community]) -> bool {
        communities.iter().any(|c| self.contains(*c))
    }

    pub fn patterns(&self) -> &[CommunityPattern] {
        &self.patterns
    }
}

/// A compiled large community set.
#[derive(Clone, Debug, Default)]
pub struct LargeCommunitySet {
    patterns: Vec<LargeCommunityPattern>,
}

impl LargeCommunitySet {
    pub fn new(patterns: impl IntoIterator<Item = LargeCommunityPattern>) -> Self {
        Self { patterns: patterns.into_iter().collect() }
    }

    #[inline]
    pub fn contains(&self, community: &LargeCommunity) -> bool {
        self.patterns.iter().any(|p| p.matches(community))
    }

    #[inline]
    pub fn matches_any(&self, communities: &[LargeCommunity]) -> bool {
        communities.iter().any(|c| self.contains(c))
    }

    pub fn patterns(&self) -> &[LargeCommunityPattern] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(asn: u16, value: u16) -> Community {
        Community((u32::from(asn) << 16) | u32::from(value))
    }

    fn large(text: &str) -> LargeCommunity {
        text.parse().unwrap()
    }

    #[test]
    fn well_known_names_have_the_registry_values() {
        assert_eq!(well_known("NO_EXPORT"), Some(Community::NO_EXPORT));
        assert_eq!(well_known("no-export"), Some(Community::NO_EXPORT));
        assert_eq!(well_known("NO_ADVERTISE"), Some(Community::NO_ADVERTISE));
        assert_eq!(well_known("NO_EXPORT_SUBCONFED"), Some(Community::NO_EXPORT_SUBCONFED));
        assert_eq!(well_known("NO_PEER"), Some(Community::NO_PEER));
        assert_eq!(well_known("NOPEER"), Some(Community::NO_PEER));
        assert_eq!(well_known("BLACKHOLE"), Some(Community::BLACKHOLE));
        assert_eq!(well_known("GRACEFUL_SHUTDOWN"), Some(Community::GRACEFUL_SHUTDOWN));
        assert_eq!(well_known("ACCEPT_OWN"), Some(c(65535, 1)));
        assert_eq!(well_known("LLGR_STALE"), Some(c(65535, 6)));
        assert_eq!(well_known("NO_LLGR"), Some(c(65535, 7)));
        assert_eq!(well_known("NO_EXPORTS"), None);
        assert_eq!(well_known("NO EXPORT"), None);
        assert_eq!("NO_EXPORT".parse::<CommunityPattern>().unwrap().to_string(), "NO_EXPORT");
    }

    #[test]
    fn standard_patterns_and_wildcards() {
        let exact: CommunityPattern = "65535:666".parse().unwrap();
        assert!(exact.matches(Community::BLACKHOLE));
        assert!(!exact.matches(c(65535, 667)));
        let any_value: CommunityPattern = "65001:*".parse().unwrap();
        assert!(any_value.matches(c(65001, 0)) && any_value.matches(c(65001, 65535)));
        assert!(!any_value.matches(c(65002, 1)));
        let any_asn: CommunityPattern = "*:100".parse().unwrap();
        assert!(any_asn.matches(c(1, 100)) && !any_asn.matches(c(1, 101)));
        let everything: CommunityPattern = "*:*".parse().unwrap();
        assert!(everything.matches(c(7, 7)));
        for text in ["65001:*", "*:100", "*:*", "65001:100"] {
            assert_eq!(text.parse::<CommunityPattern>().unwrap().to_string(), text);
        }
    }

    #[test]
    fn bad_standard_patterns_name_the_position() {
        for (text, position) in
            [("65536:1", 0), ("1:65536", 2), ("1", 1), ("1:2:3", 3), ("x:1", 0), ("", 0), ("1:", 2)]
        {
            assert_eq!(
                text.parse::<CommunityPattern>(),
                Err(CommunityPatternError::Standard { text: text.to_string(), position }),
                "{text}"
            );
        }
        assert!(parse_exact_community("65001:*").is_err());
        assert_eq!(parse_exact_community("NO_EXPORT"), Ok(Community::NO_EXPORT));
    }

    #[test]
    fn large_patterns_and_wildcards() {
        let p: LargeCommunityPattern = "65001:1:*".parse().unwrap();
        assert!(p.matches(&large("65001:1:0")) && p.matches(&large("65001:1:4294967295")));
        assert!(!p.matches(&large("65001:2:0")));
        let p: LargeCommunityPattern = "*:*:7".parse().unwrap();
        assert!(p.matches(&large("1:2:7")) && !p.matches(&large("1:2:8")));
        assert_eq!(p.to_string(), "*:*:7");
        assert_eq!(
            "1:2".parse::<LargeCommunityPattern>(),
            Err(CommunityPatternError::Large { text: "1:2".into(), position: 3 })
        );
        assert_eq!(
            "1:2:3:4".parse::<LargeCommunityPattern>(),
            Err(CommunityPatternError::Large { text: "1:2:3:4".into(), position: 5 })
        );
        assert_eq!(
            "1:x:3".parse::<LargeCommunityPattern>(),
            Err(CommunityPatternError::Large { text: "1:x:3".into(), position: 2 })
        );
        assert!(parse_exact_large_community("1:*:3").is_err());
        assert_eq!(parse_exact_large_community("1:2:3"), Ok(large("1:2:3")));
    }

    #[test]
    fn sets_match_any_community_of_the_route() {
        let set = CommunitySet::new(
            ["65535:666", "65001:*", "NO_EXPORT"].iter().map(|t| t.parse().unwrap()),
        );
        assert!(set.matches_any(&[c(1, 1), Community::BLACKHOLE]));
        assert!(set.matches_any(&[c(65001, 42)]));
        assert!(set.matches_any(&[Community::NO_EXPORT]));
        assert!(!set.matches_any(&[c(65002, 42), Community::NO_ADVERTISE]));
        assert!(!set.matches_any(&[]));
        // Many exact values go through the binary search.
        let big = CommunitySet::new((0..100u16).map(|v| CommunityPattern::exact(c(65000, v))));
        assert!(big.contains(c(65000, 99)) && !big.contains(c(65000, 100)));
        let large_set = LargeCommunitySet::new(["65001:1:*".parse().unwrap()]);
        assert!(large_set.matches_any(&[large("1:1:1"), large("65001:1:9")]));
        assert!(!large_set.matches_any(&[large("65001:2:9")]));
    }
}
