//! Configuration errors, located like a compiler's: `file:line:column: key = value: problem`.
//!
//! Syntax and type errors come from the TOML parser (the first one it hits); every
//! semantic problem is collected, so one run of `bgpd --check-config` shows them all.

use std::fmt;
use std::net::{AddrParseError, IpAddr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::policy::DefinitionErrorKind;
use crate::wire::attributes::CommunityParseError;
use crate::wire::family::UnknownFamily;

/// A place in a configuration source. `line` and `column` are 1-based; the column
/// counts characters, not bytes, as editors do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub source_name: Arc<str>,
    pub line: usize,
    pub column: usize,
    /// Byte offset into the source, kept for ordering and tooling.
    pub offset: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source_name, self.line, self.column)
    }
}

/// Turns byte offsets into [`Location`]s for one source text.
#[derive(Debug)]
pub(super) struct Locator<'a> {
    source_name: Arc<str>,
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub(super) fn new(text: &'a str, source_name: &str) -> Self {
        Self { source_name: Arc::from(source_name), text }
    }

    /// The source text.
    pub(super) fn text(&self) -> &'a str {
        self.text
    }

    /// The location of byte `offset`; offsets past the end or inside a character
    /// are clamped back to the nearest character start.
    pub(super) fn locate(&self, offset: usize) -> Location {
        let mut clamped = offset.min(self.text.len());
        while !self.text.is_char_boundary(clamped) {
            clamped -= 1;
        }
        let before = &self.text[..clamped];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            source_name: Arc::clone(&self.source_name),
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            offset: clamped,
        }
    }
}

/// One thing wrong with a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{source_name}: cannot read: {error}")]
    Read {
        source_name: Arc<str>,
        #[source]
        error: std::io::Error,
    },
    /// The file is larger than [`super::MAX_CONFIG_BYTES`]: refused before it
    /// is read, since parsing costs many times its size in memory.
    #[error("{source_name}: {size} bytes is larger than the {max} bytes a config file may have")]
    TooLarge { source_name: Arc<str>, size: u64, max: u64 },
    /// TOML syntax (only the first: the parser stops there), a value of the
    /// wrong type or an unknown key (each one: see `structure`), as worded by
    /// the parser.
    #[error("{location}: {}", error.message())]
    Syntax {
        location: Location,
        #[source]
        error: toml::de::Error,
    },
    /// A required key is absent; `location` is the table that lacks it.
    #[error("{location}: missing required key {key}")]
    Missing { location: Location, key: String },
    /// A value that parsed but does not make sense.
    #[error("{location}: {key} = {value}: {problem}")]
    Invalid { location: Location, key: String, value: String, problem: Problem },
}

impl ConfigError {
    /// Where the error is, if it has a place in the text (a read error has none).
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Read { .. } | Self::TooLarge { .. } => None,
            Self::Syntax { location, .. }
            | Self::Missing { location, .. }
            | Self::Invalid { location, .. } => Some(location),
        }
    }

    /// The semantic problem, for [`ConfigError::Invalid`].
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The key path (`neighbors[1].hold_time`), where the error names one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Missing { key, .. } | Self::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Why a value is rejected. Each message completes `key = value: ...`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("must be {min}..={max}")]
    OutOfRange { min: u64, max: u64 },
    #[error("AS_TRANS (RFC 6793) is a placeholder for 2-octet speakers, not a real AS")]
    AsTrans,
    #[error("must be \"internal\" or \"external\"")]
    DynamicAsn,
    #[error("set remote_asn or dynamic_asn, not both")]
    RemoteAsnAndDynamicAsn,
    #[error("must be 0 or at least 3")]
    HoldTime,
    #[error("must be an absolute path")]
    RelativePath,
    #[error("must be 1..{hold_time} (less than hold_time)")]
    KeepaliveNotBelowHold { hold_time: u16 },
    #[error("must be 0 because hold_time is 0 (no keepalives)")]
    KeepaliveWithoutHold,
    #[error("not an IP address: {0}")]
    NotAnAddress(AddrParseError),
    #[error("must be an IPv4 address (RFC 6286 BGP Identifier)")]
    RouterIdNotIpv4,
    #[error("must not be 0.0.0.0 (RFC 6286)")]
    RouterIdZero,
    #[error("the unspecified address cannot be used here")]
    UnspecifiedAddress,
    #[error("a multicast or broadcast address cannot be used here")]
    MulticastAddress,
    #[error("IPv6 link-local addresses need an interface: set interface instead of address")]
    LinkLocalUnsupported,
    #[error("set address or interface, not both")]
    AddressAndInterface,
    #[error("cannot be combined with interface {interface:?}: the peer's address is discovered")]
    NotWithInterface { interface: String },
    #[error("must be IP:PORT (e.g. 127.0.0.1:50051 or [::1]:50051) or unix:/absolute/path")]
    ApiListen,
    #[error("duplicate of the one at line {first_line}, column {first_column}")]
    Duplicate { first_line: usize, first_column: usize },
    #[error("must be of the same address family as the neighbour address {neighbor}")]
    LocalAddressFamily { neighbor: IpAddr },
    #[error("must be of the same address family as the prefix {prefix}")]
    NextHopFamily { prefix: IpNet },
    #[error("is {length} bytes; TCP MD5 keys are at most 80 (RFC 2385)")]
    PasswordTooLong { length: usize },
    #[error("is empty; remove the key for no password")]
    PasswordEmpty,
    #[error(
        "cannot be combined with ebgp_multihop = {ebgp_multihop}: GTSM (RFC 5082) sends TTL 255"
    )]
    TtlSecurityWithMultihop { ebgp_multihop: u8 },
    #[error(transparent)]
    UnknownFamily(UnknownFamily),
    #[error("must name at least one family")]
    NoFamilies,
    #[error("not a prefix: {0}")]
    NotAPrefix(ipnet::AddrParseError),
    #[error("{prefix} has host bits set; did you mean {suggestion}?")]
    HostBitsSet { prefix: IpNet, suggestion: IpNet },
    #[error(transparent)]
    Community(CommunityParseError),
    #[error("must be rt:ASN:VALUE, rt:IPV4:VALUE, soo:... or 0x and 16 hex digits (RFC 4360)")]
    ExtendedCommunity,
    #[error("must be \"igp\", \"egp\" or \"incomplete\"")]
    Origin,
    #[error("must be \"error\", \"warn\", \"info\", \"debug\" or \"trace\"")]
    LogLevel,
    #[error("must be \"text\" or \"json\"")]
    LogFormat,
    #[error("must be IP:PORT (\"127.0.0.1:9179\", \"[::1]:9179\")")]
    MetricsListen,
    #[error("is empty; set listen_port = 0 to not listen")]
    NoListenAddresses,
    #[error("a passive neighbour waits for a connection, but global.listen_port = 0")]
    PassiveWithoutListener,
    #[error("the unspecified, loopback, multicast and broadcast addresses belong to no one host")]
    NotAnnounceable,
    #[error("must name at least one interface")]
    NoInterfaces,
    #[error("is not an interface name (1 to 15 bytes, no '/', ':' or whitespace)")]
    InterfaceName,
    /// A policy definition problem (`crate::policy::PolicyBook::build`).
    #[error(transparent)]
    Policy(DefinitionErrorKind),
    #[error("unknown policy: define it in [[policies]] or use accept-all / reject-all")]
    UnknownPolicy,
    #[error("BFD echo mode is not implemented; remove the key or set it to false")]
    BfdEchoNotImplemented,
    #[error("limits a family the neighbor does not negotiate (add it to families)")]
    MaxPrefixFamilyNotNegotiated,
}

/// Every error found in one configuration, in source order.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self { errors: vec![error] }
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// One error per line, no trailing newline.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_counts_lines_and_characters_from_one() {
        let text = "a = 1\nbé = \"x\"\n";
        let locator = Locator::new(text, "t.toml");
        let at = |offset| {
            let l = locator.locate(offset);
            (l.line, l.column)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(4), (1, 5));
        assert_eq!(at(6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(at(9), (2, 3));
        // Inside 'é' clamps back to its start; past the end clamps to the end.
        assert_eq!(at(8), (2, 2));
        assert_eq!(at(1000), (3, 1));
        assert_eq!(locator.locate(4).to_string(), "t.toml:1:5");
    }

    #[test]
    fn invalid_displays_like_a_compiler() {
        let locator = Locator::new("\n\n\n\n\n\n\n\n\n\n\nhold_time   = 2", "conf/bgpd.toml");
        let error = ConfigError::Invalid {
            location: locator.locate(24),
            key: "neighbors[1].hold_time".to_string(),
            value: "2".to_string(),
            problem: Problem::HoldTime,
        };
        assert_eq!(
            error.to_string(),
            "conf/bgpd.toml:12:14: neighbors[1].hold_time = 2: must be 0 or at least 3"
        );
    }
}
