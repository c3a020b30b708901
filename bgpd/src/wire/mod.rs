//! BGP messages and their wire format.
//!
//! RFC 4271 §4 (message formats), §6 (error handling) and the extensions named in
//! each submodule. Types (`open`, `update`, `attributes`, `notification`,
//! `refresh`, `family`) are kept apart from the code that reads and writes them;
//! nom stays inside the decoder and no nom type leaves this module.
//!
//! # Codec API
//!
//! - [`CodecOptions`]: what one session negotiated (4-octet AS, extended
//!   message, enhanced route refresh, ADD-PATH per family and direction);
//!   `Default` is the state before OPEN. [`CodecOptions::negotiated`] derives
//!   it from both OPENs.
//! - Framing: [`frame_length`]`(buf, max_message_len) -> Result<Option<usize>, DecodeError>`
//!   checks marker, length bounds and type (RFC 4271 §6.1) and tells when a
//!   complete frame is buffered. Frame first, parse the complete frame second.
//! - [`decode_message`]`(frame, &options) -> Result<Decoded, DecodeError>`. An
//!   UPDATE comes as [`DecodedUpdate`]: the usable [`UpdateMessage`] plus its
//!   RFC 7606 [`UpdateOutcome`] (treat-as-withdraw already applied to the
//!   message; discarded attributes listed with typed [`AttributeError`]s).
//!   `Err(DecodeError)` means session reset; [`DecodeError::notification`]
//!   gives the exact NOTIFICATION (code, subcode, data) to send.
//! - [`encode_message`]`(&Message, &options, &mut BytesMut) -> Result<(), EncodeError>`
//!   appends one framed message, refusing to exceed the size limit.
//! - [`UpdatePacker`]: `announce(&attributes, family, next_hop, nlri, &mut out)`
//!   and `withdraw(family, nlri, &mut out)` pack any number of prefixes into
//!   as few UPDATEs as the size limit allows, attribute bytes encoded once;
//!   `announce_holding_tail` leaves a last, partial message's prefixes to the
//!   caller ([`Packed`]) so that consecutive batches pack as one.
//! - End-of-RIB: [`UpdateMessage::end_of_rib`] to send,
//!   [`UpdateMessage::end_of_rib_family`] to recognise (check
//!   [`UpdateOutcome::treat_as_withdraw`] first: a withdrawn-by-error message
//!   with no routes looks empty too).

pub mod attributes;
mod decode;
mod encode;
pub mod error;
pub mod family;
pub mod notification;
pub mod open;
pub mod options;
pub mod refresh;
pub mod update;

#[cfg(test)]
mod tests;

pub use decode::{Decoded, DecodedUpdate, UpdateOutcome, decode_message, frame_length};
pub use encode::{Packed, UpdatePacker, encode_message};
pub use error::{AttributeError, AttributeErrorKind, DecodeError, EncodeError, ErrorAction, Field};
pub use options::{CodecOptions, FamilySet};

pub use attributes::{
    Aggregator, AsPath, AsSegment, AttributeSource, Community, ExtendedCommunity, LargeCommunity,
    Origin, PackedAttributes, PathAttributes, SegmentType, UnknownAttribute,
};
pub use family::{AfiSafi, Family};
pub use notification::{Notification, NotificationKind};
pub use open::{
    AddPathFamily, AddPathMode, Capability, ExtendedNextHopEntry, GracefulRestartCapability,
    GracefulRestartFamily, OpenMessage,
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
