//! NOTIFICATION message (RFC 4271 §4.5, §6), its error codes and subcodes (IANA
//! "BGP Error (Notification) Codes" and "...Subcodes", including RFC 4486, 6608,
//! 7313, 8538 and 9234), and the shutdown communication of RFC 9003.

use std::fmt;

use bytes::Bytes;

/// A NOTIFICATION message (RFC 4271 §4.5).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Error code    | Error subcode |   Data (variable)             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Code and subcode stay raw so that a peer's unknown code survives logging;
/// [`Notification::kind`] names the known ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Bytes,
}

impl Notification {
    pub fn new(kind: NotificationKind, data: impl Into<Bytes>) -> Self {
        let (code, subcode) = kind.code_subcode();
        Self { code, subcode, data: data.into() }
    }

    /// The named error, or `None` for a code/subcode pair outside the registry.
    pub fn kind(&self) -> Option<NotificationKind> {
        NotificationKind::from_code_subcode(self.code, self.subcode)
    }

    /// A Cease with a shutdown communication (RFC 9003 §2): subcode
    /// Administrative Shutdown or Administrative Reset, data = length octet +
    /// UTF-8 text of at most 255 octets (cut at a character boundary).
    pub fn shutdown(kind: NotificationKind, message: &str) -> Self {
        let mut end = message.len().min(255);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = &message.as_bytes()[..end];
        let mut data = Vec::with_capacity(1 + text.len());
        data.push(text.len() as u8); // end <= 255
        data.extend_from_slice(text);
        Self::new(kind, data)
    }

    /// The RFC 9003 shutdown communication carried by an Administrative
    /// Shutdown or Reset Cease, if it is well formed UTF-8.
    pub fn shutdown_message(&self) -> Option<&str> {
        match self.kind()? {
            NotificationKind::AdministrativeShutdown | NotificationKind::AdministrativeReset => {}
            _ => return None,
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        std::str::from_utf8(text).ok()
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            Some(kind) => write!(f, "{kind} ({}/{})", self.code, self.subcode)?,
            None => write!(f, "unknown error {}/{}", self.code, self.subcode)?,
        }
        if let Some(message) = self.shutdown_message() {
            write!(f, ": {message:?}")?;
        } else if !self.data.is_empty() {
            write!(f, ", data")?;
            for byte in self.data.iter().take(32) {
                write!(f, " {byte:02x}")?;
            }
            if self.data.len() > 32 {
                write!(f, " ...")?;
            }
        }
        Ok(())
    }
}

/// Error codes (RFC 4271 §4.5 and IANA).
pub mod error_code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN_MESSAGE: u8 = 2;
    pub const UPDATE_MESSAGE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH: u8 = 7;
}

/// Declares [`NotificationKind`] from one table: variant, code, subcode, text.
macro_rules! notification_kinds {
    ($($variant:ident = ($code:expr, $subcode:expr, $text:literal);)*) => {
        /// Every error code/subcode pair of the IANA registry.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum NotificationKind {
            $($variant,)*
        }

        impl NotificationKind {
            pub const fn code_subcode(self) -> (u8, u8) {
                match self {
                    $(Self::$variant => ($code, $subcode),)*
                }
            }

            /// Every kind, in registry order.
            pub const ALL: &'static [NotificationKind] = &[$(Self::$variant,)*];

            pub fn from_code_subcode(code: u8, subcode: u8) -> Option<Self> {
                Self::ALL.iter().copied().find(|kind| kind.code_subcode() == (code, subcode))
            }

            /// The registry's name for this error.
            pub const fn text(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

use error_code::*;

notification_kinds! {
    MessageHeaderUnspecific = (MESSAGE_HEADER, 0, "Message Header Error");
    ConnectionNotSynchronized = (MESSAGE_HEADER, 1, "Connection Not Synchronized");
    BadMessageLength = (MESSAGE_HEADER, 2, "Bad Message Length");
    BadMessageType = (MESSAGE_HEADER, 3, "Bad Message Type");
    OpenUnspecific = (OPEN_MESSAGE, 0, "OPEN Message Error");
    UnsupportedVersionNumber = (OPEN_MESSAGE, 1, "Unsupported Version Number");
    BadPeerAs = (OPEN_MESSAGE, 2, "Bad Peer AS");
    BadBgpIdentifier = (OPEN_MESSAGE, 3, "Bad BGP Identifier");
    UnsupportedOptionalParameter = (OPEN_MESSAGE, 4, "Unsupported Optional Parameter");
    AuthenticationFailure = (OPEN_MESSAGE, 5, "Authentication Failure (deprecated)");
    UnacceptableHoldTime = (OPEN_MESSAGE, 6, "Unacceptable Hold Time");
    UnsupportedCapability = (OPEN_MESSAGE, 7, "Unsupported Capability");
    RoleMismatch = (OPEN_MESSAGE, 11, "Role Mismatch");
    UpdateUnspecific = (UPDATE_MESSAGE, 0, "UPDATE Message Error");
    MalformedAttributeList = (UPDATE_MESSAGE, 1, "Malformed Attribute List");
    UnrecognizedWellKnownAttribute = (UPDATE_MESSAGE, 2, "Unrecognized Well-known Attribute");
    MissingWellKnownAttribute = (UPDATE_MESSAGE, 3, "Missing Well-known Attribute");
    AttributeFlagsError = (UPDATE_MESSAGE, 4, "Attribute Flags Error");
    AttributeLengthError = (UPDATE_MESSAGE, 5, "Attribute Length Error");
    InvalidOriginAttribute = (UPDATE_MESSAGE, 6, "Invalid ORIGIN Attribute");
    AsRoutingLoop = (UPDATE_MESSAGE, 7, "AS Routing Loop (deprecated)");
    InvalidNextHopAttribute = (UPDATE_MESSAGE, 8, "Invalid NEXT_HOP Attribute");
    OptionalAttributeError = (UPDATE_MESSAGE, 9, "Optional Attribute Error");
    InvalidNetworkField = (UPDATE_MESSAGE, 10, "Invalid Network Field");
    MalformedAsPath = (UPDATE_MESSAGE, 11, "Malformed AS_PATH");
    HoldTimerExpired = (HOLD_TIMER_EXPIRED, 0, "Hold Timer Expired");
    FsmUnspecified = (FSM, 0, "Finite State Machine Error");
    FsmUnexpectedInOpenSent = (FSM, 1, "Receive Unexpected Message in OpenSent State");
    FsmUnexpectedInOpenConfirm = (FSM, 2, "Receive Unexpected Message in OpenConfirm State");
    FsmUnexpectedInEstablished = (FSM, 3, "Receive Unexpected Message in Established State");
    CeaseUnspecific = (CEASE, 0, "Cease");
    MaximumPrefixesReached = (CEASE, 1, "Maximum Number of Prefixes Reached");
    AdministrativeShutdown = (CEASE, 2, "Administrative Shutdown");
    PeerDeconfigured = (CEASE, 3, "Peer De-configured");
    AdministrativeReset = (CEASE, 4, "Administrative Reset");
    ConnectionRejected = (CEASE, 5, "Connection Rejected");
    OtherConfigurationChange = (CEASE, 6, "Other Configuration Change");
    ConnectionCollisionResolution = (CEASE, 7, "Connection Collision Resolution");
    OutOfResources = (CEASE, 8, "Out of Resources");
    HardReset = (CEASE, 9, "Hard Reset");
    BfdDown = (CEASE, 10, "BFD Down");
    RouteRefreshUnspecific = (ROUTE_REFRESH, 0, "ROUTE-REFRESH Message Error");
    InvalidRouteRefreshLength = (ROUTE_REFRESH, 1, "Invalid Message Length");
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}
