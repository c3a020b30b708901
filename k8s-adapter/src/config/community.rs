//! BGP community values as advertisements write them: standard communities (RFC 1997) as
//! `asn:value` with two 16-bit halves, and large communities (RFC 8092) as
//! `large:global:local1:local2` with three 32-bit parts, MetalLB's spelling.

use std::fmt;

use thiserror::Error;

/// One community attached to an announced path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BgpCommunity {
    /// RFC 1997: high 16 bits an AS number, low 16 bits a value.
    Standard(u32),
    /// RFC 8092: global administrator, local data 1, local data 2.
    Large(u32, u32, u32),
}

/// Why a community value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a community (expected \"65000:100\" or \"large:65000:1:2\")")]
pub struct CommunityError(pub String);

impl BgpCommunity {
    /// Parses `asn:value` or `large:a:b:c`.
    pub fn parse(text: &str) -> Result<Self, CommunityError> {
        let bad = || CommunityError(text.to_owned());
        let text_trim = text.trim();
        if let Some(rest) = text_trim.strip_prefix("large:") {
            let mut parts = rest.split(':').map(|p| p.parse::<u32>());
            return match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(Ok(a)), Some(Ok(b)), Some(Ok(c)), None) => Ok(Self::Large(a, b, c)),
                _ => Err(bad()),
            };
        }
        let (high, low) = text_trim.split_once(':').ok_or_else(bad)?;
        let high = high.parse::<u16>().map_err(|_| bad())?;
        let low = low.parse::<u16>().map_err(|_| bad())?;
        Ok(Self::Standard((u32::from(high) << 16) | u32::from(low)))
    }

    /// Whether `text` looks like a value rather than an alias name: aliases are names, values
    /// start with a digit or `large:`.
    pub fn looks_like_value(text: &str) -> bool {
        let t = text.trim();
        t.starts_with("large:") || t.starts_with(|c: char| c.is_ascii_digit())
    }
}

impl fmt::Display for BgpCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Standard(v) => write!(f, "{}:{}", v >> 16, v & 0xffff),
            Self::Large(a, b, c) => write!(f, "large:{a}:{b}:{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        assert_eq!(BgpCommunity::parse("65000:100"), Ok(BgpCommunity::Standard(65000 << 16 | 100)));
        assert_eq!(
            BgpCommunity::parse("large:4200000000:1:2"),
            Ok(BgpCommunity::Large(4200000000, 1, 2))
        );
        assert_eq!(BgpCommunity::parse("65000:100").unwrap().to_string(), "65000:100");
        for bad in ["65536:1", "1:2:3", "x:1", "large:1:2", "large:1:2:3:4", "no-export"] {
            assert_eq!(BgpCommunity::parse(bad), Err(CommunityError(bad.into())), "{bad}");
        }
        assert!(BgpCommunity::looks_like_value("65000:1"));
        assert!(!BgpCommunity::looks_like_value("no-advertise"));
    }
}
