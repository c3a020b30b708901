//! Decode and encode errors, and the NOTIFICATION each decode error calls for.
//!
//! RFC 4271 §6.1 (header), §6.2 (OPEN), §6.3 (UPDATE) give the code, subcode and
//! data of the NOTIFICATION; RFC 7606 §2 and §7 say which UPDATE errors reset the
//! session and which are handled by treat-as-withdraw or attribute-discard;
//! RFC 5492 §5 (capabilities), RFC 7313 §5 (ROUTE-REFRESH length).
//!
//! Every error names the field, the byte offset from the start of the frame
//! (marker included) and the offending value, so that a log line explains
//! itself without a packet capture.

use std::fmt;
use std::net::Ipv4Addr;

use bytes::Bytes;

use super::notification::{Notification, NotificationKind};

/// The supported BGP version, sent in Unsupported Version Number (RFC 4271 §6.2).
pub const BGP_VERSION: u8 = 4;

/// A field of a BGP message, named in errors.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Marker,
    Length,
    Type,
    Version,
    MyAs,
    HoldTime,
    BgpIdentifier,
    OptionalParametersLength,
    OptionalParameter,
    Capability,
    WithdrawnRoutesLength,
    WithdrawnRoutes,
    TotalPathAttributeLength,
    PathAttribute,
    Nlri,
    MpReachNlri,
    MpUnreachNlri,
    NotificationCode,
    RouteRefresh,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// An error that ends the session: the caller sends [`DecodeError::notification`]
/// and closes the connection (RFC 4271 §6, RFC 7606 "session reset").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The marker is not all ones (RFC 4271 §6.1).
    #[error("connection not synchronized: marker octet at offset {offset} is {value:#04x}")]
    ConnectionNotSynchronized { offset: usize, value: u8 },
    /// The length field is out of bounds for the message type (RFC 4271 §6.1).
    #[error("bad message length {length} for message type {message_type} (allowed {min}..={max})")]
    BadMessageLength { length: u16, message_type: u8, min: usize, max: usize },
    /// Unknown message type (RFC 4271 §6.1).
    #[error("bad message type {message_type} at offset 18")]
    BadMessageType { message_type: u8 },
    /// A frame shorter than its header or its length field says.
    #[error("frame of {actual} octets does not match its length field {length}")]
    FrameMismatch { length: usize, actual: usize },
    /// OPEN version other than 4 (RFC 4271 §6.2).
    #[error("unsupported BGP version {version} at offset {offset}")]
    UnsupportedVersion { version: u8, offset: usize },
    /// OPEN hold time of 1 or 2 seconds (RFC 4271 §6.2).
    #[error("unacceptable hold time {hold_time} at offset {offset}")]
    UnacceptableHoldTime { hold_time: u16, offset: usize },
    /// BGP Identifier 0.0.0.0 (RFC 6286 §2.2).
    #[error("bad BGP identifier {identifier} at offset {offset}")]
    BadBgpIdentifier { identifier: Ipv4Addr, offset: usize },
    /// An optional parameter other than capabilities (RFC 4271 §6.2, RFC 5492).
    #[error("unsupported optional parameter type {parameter_type} at offset {offset}")]
    UnsupportedOptionalParameter { parameter_type: u8, offset: usize },
    /// An OPEN whose structure is inconsistent (lengths overrunning their field).
    #[error("malformed OPEN: {field} at offset {offset} (value {value})")]
    MalformedOpen { field: Field, offset: usize, value: usize },
    /// A known capability whose value does not parse (RFC 5492 §4).
    #[error("malformed capability {code} at offset {offset}, value length {length}")]
    MalformedCapability { code: u8, offset: usize, length: usize, capability: Bytes },
    /// A capability we know but whose content we cannot honour (RFC 5492 §5).
    #[error("unsupported capability {code} at offset {offset}")]
    UnsupportedCapability { code: u8, offset: usize, capability: Bytes },
    /// UPDATE structure broken beyond treat-as-withdraw (RFC 7606 §4, §3 g).
    #[error("malformed attribute list: {field} at offset {offset} (value {value})")]
    MalformedAttributeList { field: Field, offset: usize, value: usize },
    /// A prefix length over 32/128, or a prefix overrunning its field
    /// (RFC 4271 §6.3, RFC 7606 §5.3).
    #[error("invalid network field: {field} prefix length {prefix_length} at offset {offset}")]
    InvalidNetworkField { field: Field, offset: usize, prefix_length: u8 },
    /// An attribute error whose RFC 7606 action is session reset.
    #[error(transparent)]
    Attribute(AttributeError),
    /// ROUTE-REFRESH other than 23 octets with enhanced route refresh (RFC 7313 §5).
    #[error("invalid ROUTE-REFRESH length {length}")]
    InvalidRouteRefreshLength { length: usize, message: Bytes },
}

impl DecodeError {
    /// The NOTIFICATION to send for this error: code, subcode and the data
    /// field RFC 4271 §6 (or the extension's RFC) prescribes.
    pub fn notification(&self) -> Notification {
        use NotificationKind as K;
        match self {
            Self::ConnectionNotSynchronized { .. } => {
                Notification::new(K::ConnectionNotSynchronized, Bytes::new())
            }
            Self::BadMessageLength { length, .. } => {
                Notification::new(K::BadMessageLength, length.to_be_bytes().to_vec())
            }
            Self::FrameMismatch { length, .. } => {
                let length = u16::try_from(*length).unwrap_or(u16::MAX);
                Notification::new(K::BadMessageLength, length.to_be_bytes().to_vec())
            }
            Self::BadMessageType { message_type } => {
                Notification::new(K::BadMessageType, vec![*message_type])
            }
            // "the largest, locally-supported version number less than the
            // version the remote BGP peer bid" (RFC 4271 §6.2): we only have 4.
            Self::UnsupportedVersion { .. } => Notification::new(
                K::UnsupportedVersionNumber,
                u16::from(BGP_VERSION).to_be_bytes().to_vec(),
            ),
            Self::UnacceptableHoldTime { .. } => {
                Notification::new(K::UnacceptableHoldTime, Bytes::new())
            }
            Self::BadBgpIdentifier { .. } => Notification::new(K::BadBgpIdentifier, Bytes::new()),
            Self::UnsupportedOptionalParameter { .. } => {
                Notification::new(K::UnsupportedOptionalParameter, Bytes::new())
            }
            Self::MalformedOpen { .. } | Self::MalformedCapability { .. } => {
                Notification::new(K::OpenUnspecific, Bytes::new())
            }
            Self::UnsupportedCapability { capability, .. } => {
                Notification::new(K::UnsupportedCapability, capability.clone())
            }
            Self::MalformedAttributeList { .. } => {
                Notification::new(K::MalformedAttributeList, Bytes::new())
            }
            Self::InvalidNetworkField { .. } => {
                Notification::new(K::InvalidNetworkField, Bytes::new())
            }
            Self::Attribute(error) => error.notification(),
            Self::InvalidRouteRefreshLength { message, .. } => {
                Notification::new(K::InvalidRouteRefreshLength, message.clone())
            }
        }
    }
}

/// What RFC 7606 §2 says to do about a malformed attribute.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ErrorAction {
    /// Drop the attribute, keep the route (RFC 7606 §2 "attribute discard").
    AttributeDiscard,
    /// Withdraw every route of the message (RFC 7606 §2 "treat-as-withdraw").
    TreatAsWithdraw,
    /// NOTIFICATION and close (RFC 7606 §2 "session reset").
    SessionReset,
}

/// What was wrong with one path attribute.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AttributeErrorKind {
    /// Optional/Transitive/Partial bits in conflict with the type (RFC 4271 §6.3).
    Flags,
    /// Length wrong for the type (RFC 4271 §6.3, RFC 7606 §7).
    Length,
    /// The attribute's length runs past the path attribute field (RFC 7606 §4).
    Overrun,
    /// ORIGIN value other than 0, 1, 2.
    InvalidOrigin,
    /// AS_PATH (or AS4_PATH) segments that do not parse.
    MalformedAsPath,
    /// NEXT_HOP syntactically invalid.
    InvalidNextHop,
    /// An optional attribute whose value does not parse (including MP_REACH and
    /// MP_UNREACH, RFC 4760 §7).
    OptionalAttribute,
    /// Well-known attribute type we do not know (RFC 4271 §6.3).
    UnrecognizedWellKnown,
    /// Mandatory well-known attribute missing while NLRI are present
    /// (RFC 4271 §6.3, RFC 7606 §3 d).
    MissingWellKnown,
    /// Second occurrence of an attribute (RFC 7606 §3 g).
    Duplicate,
    /// MP attribute for an AFI/SAFI `bgpd` does not route.
    UnsupportedFamily,
    /// AS4_PATH or AS4_AGGREGATOR from a 4-octet-AS peer (RFC 6793 §4.1).
    UnexpectedAs4,
    /// AS number 0 in AS_PATH, AS4_PATH, AGGREGATOR or AS4_AGGREGATOR (RFC
    /// 7607 §2: malformed, handled as RFC 7606 says for that attribute).
    AsZero,
    /// An external neighbor's AS_PATH does not start with an AS_SEQUENCE
    /// holding its own AS first (RFC 4271 §6.3, RFC 7606 §7.2).
    FirstAsMismatch,
    /// Confederation segments from an external neighbor, while `bgpd` is in
    /// no confederation (RFC 5065 §5: they never leave a confederation).
    ConfederationFromExternal,
    /// LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST from an external neighbor
    /// whose value or flags are wrong (RFC 7606 §7.5, §7.9, §7.10: discarded
    /// whatever their form).
    InternalOnly,
}

/// One malformed path attribute, with the RFC 7606 action applied and the raw
/// attribute (flags, type, length, value) for logging and the NOTIFICATION.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "attribute type {type_code} (flags {flags:#04x}) at offset {offset}: {kind:?}, action {action:?}"
)]
pub struct AttributeError {
    pub kind: AttributeErrorKind,
    pub type_code: u8,
    pub flags: u8,
    /// Offset of the attribute's flags octet from the start of the frame.
    pub offset: usize,
    pub action: ErrorAction,
    /// The whole attribute as received: flags, type, length, value.
    pub attribute: Bytes,
}

impl AttributeError {
    /// The NOTIFICATION RFC 4271 §6.3 would send for this error. Under RFC 7606
    /// only [`ErrorAction::SessionReset`] errors are sent; the others are logged.
    pub fn notification(&self) -> Notification {
        use AttributeErrorKind as A;
        use NotificationKind as K;
        let with_attribute = |kind| Notification::new(kind, self.attribute.clone());
        match self.kind {
            A::Flags => with_attribute(K::AttributeFlagsError),
            A::Length | A::Overrun => with_attribute(K::AttributeLengthError),
            A::InvalidOrigin => with_attribute(K::InvalidOriginAttribute),
            A::MalformedAsPath | A::AsZero | A::FirstAsMismatch | A::ConfederationFromExternal => {
                Notification::new(K::MalformedAsPath, Bytes::new())
            }
            A::InvalidNextHop => with_attribute(K::InvalidNextHopAttribute),
            A::OptionalAttribute | A::UnsupportedFamily | A::UnexpectedAs4 | A::InternalOnly => {
                with_attribute(K::OptionalAttributeError)
            }
            A::UnrecognizedWellKnown => with_attribute(K::UnrecognizedWellKnownAttribute),
            A::MissingWellKnown => {
                Notification::new(K::MissingWellKnownAttribute, vec![self.type_code])
            }
            A::Duplicate => Notification::new(K::MalformedAttributeList, Bytes::new()),
        }
    }
}

/// An error while encoding: the message cannot be represented on the wire.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message type {message_type} would be {length} octets, above the limit {max}")]
    MessageTooLong { message_type: u8, length: usize, max: usize },
    #[error("attribute type {type_code} value of {length} octets exceeds 65535")]
    AttributeTooLong { type_code: u8, length: usize },
    #[error("capability {code} value of {length} octets exceeds 255")]
    CapabilityTooLong { code: u8, length: usize },
    #[error("optional parameters of {length} octets exceed 65535")]
    OptionalParametersTooLong { length: usize },
    #[error("prefix {prefix} does not belong to {field}")]
    PrefixFamilyMismatch { field: Field, prefix: ipnet::IpNet },
    #[error("next hop {next_hop:?} cannot be used for {family}")]
    NextHopMismatch { family: super::Family, next_hop: Option<super::NextHop> },
    #[error("one prefix with the attributes does not fit in a {max}-octet UPDATE")]
    AttributesTooLong { max: usize },
}
