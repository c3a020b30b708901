//! What is wrong with a request, and the gRPC status that says so.
//!
//! Every error names the field by its path in the request message
//! (`paths[3].prefix`, `peer.families[1]`) and the value the client sent, so
//! that the status message alone tells a human what to fix:
//! `paths[3].prefix "198.51.100.10/24" has host bits set`. Secrets (the TCP MD5
//! password) are described by length only, never echoed.

use tonic::{Code, Status};

use crate::instance::peer_ops::PeerOpError;

/// One rejected value of a request.
///
/// `field` is the path of the offending field in the request message as
/// written in the `.proto` (`paths[3].next_hop`); `value` is what the client
/// sent, in text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("{field} is required")]
    Missing { field: String },
    #[error(
        "{field} {value:?} is not a prefix (expected ADDRESS/LENGTH such as \"198.51.100.10/32\")"
    )]
    InvalidPrefix { field: String, value: String },
    #[error("{field} {value:?} has host bits set")]
    HostBitsSet { field: String, value: String },
    #[error("{field} {value:?} is not an IP address")]
    InvalidAddress { field: String, value: String },
    #[error("{field} {value:?} is not an {expected} address")]
    WrongFamily { field: String, value: String, expected: AddressKind },
    #[error("{field} {value:?} cannot be used: {reason}")]
    UnusableAddress { field: String, value: String, reason: &'static str },
    #[error("{field} {value} is out of range (valid: {valid})")]
    OutOfRange { field: String, value: u64, valid: &'static str },
    #[error("{field} {value} is not a known value (valid: {valid})")]
    UnknownEnumValue { field: String, value: i32, valid: &'static str },
    #[error("{field} {value:?} is not a valid {kind} (expected {expected})")]
    InvalidCommunity { field: String, value: String, kind: &'static str, expected: &'static str },
    #[error("{field} {value:?} appears more than once")]
    Duplicate { field: String, value: String },
    #[error("{field} {value:?} is not a configured peer")]
    UnknownPeer { field: String, value: String },
    #[error("{field} {value:?} is already a configured peer")]
    PeerExists { field: String, value: String },
    #[error("{field} is output only and must not be set in a request")]
    OutputOnly { field: String },
    #[error("{field} is {len} bytes long, at most {max} are allowed")]
    TooLong { field: String, len: usize, max: usize },
    #[error("{field} has {count} entries, at most {max} are allowed")]
    TooMany { field: String, count: usize, max: usize },
    #[error("{field} is empty")]
    Empty { field: String },
    #[error(
        "{field} {value:?} is not a valid owner name (1 to 128 printable ASCII characters, no spaces)"
    )]
    InvalidOwner { field: String, value: String },
    /// Only the first characters of the name are shown: it may be huge.
    #[error("{field} is {len} bytes long, at most {max} are allowed (it starts {start:?})")]
    OwnerTooLong { field: String, start: String, len: usize, max: usize },
    #[error("{field} {value:?} is reserved for the daemon's own use; choose another owner name")]
    ReservedOwner { field: String, value: String },
    #[error("{field} {value:?} is not written canonically (write {canonical:?})")]
    NotCanonical { field: String, value: String, canonical: String },
    #[error("{field} {value} is reserved: {reason}")]
    Reserved { field: String, value: u64, reason: &'static str },
    #[error("{field} {value} must be below {other} {other_value}")]
    NotBelow { field: String, value: u64, other: String, other_value: u64 },
    #[error("{field} {value} cannot be combined with {other} {other_value}")]
    Conflict { field: String, value: String, other: String, other_value: String },
    #[error("{field} {value:?} needs {other} to be set")]
    Requires { field: String, value: String, other: String },
    #[error(
        "{field} {value:?} is not an interface name (1 to 15 bytes, no '/', ':' or whitespace)"
    )]
    InvalidInterface { field: String, value: String },
}

/// Which kind of address a field expected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AddressKind {
    Ipv4,
    Ipv6,
    Ipv6LinkLocal,
}

impl std::fmt::Display for AddressKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressKind::Ipv4 => "IPv4",
            AddressKind::Ipv6 => "IPv6",
            AddressKind::Ipv6LinkLocal => "IPv6 link-local",
        })
    }
}

impl ValidationError {
    /// The gRPC status code for this error: NOT_FOUND for a peer that does not
    /// exist, ALREADY_EXISTS for a duplicate peer, INVALID_ARGUMENT otherwise.
    pub fn code(&self) -> Code {
        match self {
            ValidationError::UnknownPeer { .. } => Code::NotFound,
            ValidationError::PeerExists { .. } => Code::AlreadyExists,
            _ => Code::InvalidArgument,
        }
    }

    /// The path of the field that was rejected.
    pub fn field(&self) -> &str {
        match self {
            ValidationError::Missing { field }
            | ValidationError::InvalidPrefix { field, .. }
            | ValidationError::HostBitsSet { field, .. }
            | ValidationError::InvalidAddress { field, .. }
            | ValidationError::WrongFamily { field, .. }
            | ValidationError::UnusableAddress { field, .. }
            | ValidationError::OutOfRange { field, .. }
            | ValidationError::UnknownEnumValue { field, .. }
            | ValidationError::InvalidCommunity { field, .. }
            | ValidationError::Duplicate { field, .. }
            | ValidationError::UnknownPeer { field, .. }
            | ValidationError::PeerExists { field, .. }
            | ValidationError::OutputOnly { field }
            | ValidationError::TooLong { field, .. }
            | ValidationError::TooMany { field, .. }
            | ValidationError::Empty { field }
            | ValidationError::InvalidOwner { field, .. }
            | ValidationError::OwnerTooLong { field, .. }
            | ValidationError::ReservedOwner { field, .. }
            | ValidationError::Reserved { field, .. }
            | ValidationError::NotCanonical { field, .. }
            | ValidationError::NotBelow { field, .. }
            | ValidationError::Conflict { field, .. }
            | ValidationError::Requires { field, .. }
            | ValidationError::InvalidInterface { field, .. } => field,
        }
    }
}

impl From<ValidationError> for Status {
    fn from(error: ValidationError) -> Self {
        Status::new(error.code(), error.to_string())
    }
}

impl From<PeerOpError> for Status {
    fn from(error: PeerOpError) -> Self {
        let message = error.to_string();
        match error {
            PeerOpError::Exists(_) | PeerOpError::InterfaceExists(_) => {
                Status::already_exists(message)
            }
            PeerOpError::NotFound { .. } | PeerOpError::InterfaceNotFound { .. } => {
                Status::not_found(message)
            }
            PeerOpError::ByInterface { .. } => Status::invalid_argument(message),
            PeerOpError::TooManyInterfacePeers { .. } => Status::resource_exhausted(message),
            PeerOpError::InterfaceNotRunning(_)
            | PeerOpError::NotEstablished(_)
            | PeerOpError::NoRouteRefresh(_)
            | PeerOpError::FamilyNotNegotiated { .. } => Status::failed_precondition(message),
            PeerOpError::Unsupported { .. } => Status::unimplemented(message),
            PeerOpError::NothingToKeep | PeerOpError::UnknownPolicy { .. } => {
                Status::invalid_argument(message)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field() -> String {
        "paths[3].prefix".to_string()
    }

    #[test]
    fn status_codes_and_messages() {
        let cases: Vec<(ValidationError, Code, &str)> = vec![
            (
                ValidationError::HostBitsSet { field: field(), value: "198.51.100.10/24".into() },
                Code::InvalidArgument,
                r#"paths[3].prefix "198.51.100.10/24" has host bits set"#,
            ),
            (
                ValidationError::UnknownPeer {
                    field: "paths[0].peers[1]".into(),
                    value: "192.0.2.9".into(),
                },
                Code::NotFound,
                r#"paths[0].peers[1] "192.0.2.9" is not a configured peer"#,
            ),
            (
                ValidationError::PeerExists {
                    field: "peer.address".into(),
                    value: "192.0.2.2".into(),
                },
                Code::AlreadyExists,
                r#"peer.address "192.0.2.2" is already a configured peer"#,
            ),
            (
                ValidationError::OutOfRange {
                    field: "peer.remote_asn".into(),
                    value: 0,
                    valid: "1..=4294967295",
                },
                Code::InvalidArgument,
                "peer.remote_asn 0 is out of range (valid: 1..=4294967295)",
            ),
            (
                ValidationError::WrongFamily {
                    field: "paths[0].next_hop".into(),
                    value: "2001:db8::1".into(),
                    expected: AddressKind::Ipv4,
                },
                Code::InvalidArgument,
                r#"paths[0].next_hop "2001:db8::1" is not an IPv4 address"#,
            ),
            (
                ValidationError::TooLong { field: "peer.password".into(), len: 81, max: 80 },
                Code::InvalidArgument,
                "peer.password is 81 bytes long, at most 80 are allowed",
            ),
        ];
        for (error, code, message) in cases {
            let status = Status::from(error.clone());
            assert_eq!(status.code(), code, "{error:?}");
            assert_eq!(status.message(), message);
            assert!(message.starts_with(error.field()));
        }
    }
}
