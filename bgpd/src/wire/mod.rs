//! BGP messages and their wire format.
//!
//! RFC 4271 §4 (message formats), §6 (error handling) and the extensions named in
//! each submodule. Types (`open`, `update`, `attributes`, `notification`,
//! `refresh`, `family`) are kept apart from the code that reads and writes them;
//! nom stays inside the decoder and no nom type leaves this module.

pub mod attributes;
pub mod family;
pub mod notification;
pub mod open;
pub mod refresh;
pub mod update;

pub use attributes::{
    Aggregator, AsPath, AsSegment, Community, ExtendedCommunity, LargeCommunity, Origin,
    PathAttributes, SegmentType, UnknownAttribute,
};
pub use family::{AfiSafi, Family};
pub use notification::{Notification, NotificationKind};
pub use open::{
    AddPathFamily, AddPathMode, Capability, GracefulRestartCapability, GracefulRestartFamily,
    OpenMessage,
};
pub use refresh::{RefreshSubtype, RouteRefresh};
pub use update::{MpReach, MpUnreach, NextHop, Nlri, UpdateMessage};

/// Length of the message header (RFC 4271 §4.1): marker (16), length (2), type (1).
pub const HEADER_LEN: usize = 19;
/// Largest message without the extended message capability (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest message with the extended message capability (RFC 8654 §4).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// Message type codes (RFC 4271 §4.1, RFC 2918 §3).
pub mod message_type {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// Any BGP message (RFC 4271 §4.1).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                                                               +
/// |                           Marker                              |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Length               |      Type     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Open(OpenMessage),
    /// Boxed: an UPDATE is much larger than the other messages.
    Update(Box<UpdateMessage>),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}
