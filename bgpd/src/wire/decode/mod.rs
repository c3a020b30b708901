//! Decoding: frame first ([`frame_length`]), parse the complete frame second
//! ([`decode_message`]). RFC 4271 §4 and §6, RFC 7606 for UPDATE errors.
//!
//! nom 8 parses over plain `&[u8]` with [`Short`] as its error type: nom only
//! ever tells us *where* input ran out, and the caller, which knows the field,
//! turns that into a [`DecodeError`]. No nom type leaves this module.

mod as4;
mod attributes;
mod header;
mod nlri;
mod open;
mod update;

use bytes::Bytes;
use nom::error::{ErrorKind, ParseError};

use super::error::{AttributeError, DecodeError, ErrorAction};
use super::message_type;
use super::notification::Notification;
use super::open::OpenMessage;
use super::options::CodecOptions;
use super::refresh::{RefreshSubtype, RouteRefresh};
use super::update::UpdateMessage;
use super::{AfiSafi, HEADER_LEN};

pub use header::frame_length;

/// A decoded message. UPDATEs come with their RFC 7606 outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    Open(OpenMessage),
    /// Boxed: an UPDATE is much larger than the other messages.
    Update(Box<DecodedUpdate>),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// An UPDATE as the RIB should apply it, and what was wrong with it.
///
/// When [`UpdateOutcome::treat_as_withdraw`] holds, `update` has already been
/// rewritten: attributes cleared, no MP_REACH_NLRI, and every prefix the
/// message announced (IPv4 NLRI and MP_REACH_NLRI) moved to the withdrawn
/// routes (`withdrawn` for IPv4 unicast, `mp_unreach` for IPv6 unicast).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedUpdate {
    pub update: UpdateMessage,
    pub outcome: UpdateOutcome,
}

/// The RFC 7606 errors found in one UPDATE that did not reset the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// Every attribute error, in the order met, each with its action.
    pub errors: Vec<AttributeError>,
}

impl UpdateOutcome {
    /// Whether the message must be handled as a withdrawal of all its routes.
    pub fn treat_as_withdraw(&self) -> bool {
        self.errors.iter().any(|e| e.action == ErrorAction::TreatAsWithdraw)
    }

    /// The attributes that were dropped while the routes were kept.
    pub fn discarded(&self) -> impl Iterator<Item = &AttributeError> {
        self.errors.iter().filter(|e| e.action == ErrorAction::AttributeDiscard)
    }

    /// No error at all.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Decode one complete frame (marker, length, type and body).
///
/// Validates the header again so that the function is safe on any input; the
/// frame must be exactly as long as its length field says.
pub fn decode_message(frame: &[u8], options: &CodecOptions) -> Result<Decoded, DecodeError> {
    let base = Base::of(frame);
    let (length, message_type) = header::check_frame(frame, options.max_message_len())?;
    let body = frame.get(HEADER_LEN..length).unwrap_or_default();
    match message_type {
        message_type::OPEN => open::decode_open(body, base).map(Decoded::Open),
        message_type::UPDATE => {
            update::decode_update(body, base, options).map(|u| Decoded::Update(Box::new(u)))
        }
        message_type::NOTIFICATION => Ok(Decoded::Notification(decode_notification(body))),
        message_type::KEEPALIVE => Ok(Decoded::Keepalive),
        message_type::ROUTE_REFRESH => decode_route_refresh(frame, body, options),
        other => Err(DecodeError::BadMessageType { message_type: other }),
    }
}

/// NOTIFICATION (RFC 4271 §4.5): code, subcode, data kept byte for byte. The
/// header check guarantees the two fixed octets.
fn decode_notification(body: &[u8]) -> Notification {
    let code = body.first().copied().unwrap_or_default();
    let subcode = body.get(1).copied().unwrap_or_default();
    let data = body.get(2..).map(Bytes::copy_from_slice).unwrap_or_default();
    Notification { code, subcode, data }
}

/// ROUTE-REFRESH (RFC 2918 §3, RFC 7313 §3.2 and §5).
fn decode_route_refresh(
    frame: &[u8],
    body: &[u8],
    options: &CodecOptions,
) -> Result<Decoded, DecodeError> {
    match body {
        &[afi_high, afi_low, subtype, safi] => Ok(Decoded::RouteRefresh(RouteRefresh {
            afi_safi: AfiSafi::new(u16::from_be_bytes([afi_high, afi_low]), safi),
            subtype: RefreshSubtype::from_u8(subtype),
        })),
        _ if options.enhanced_route_refresh => Err(DecodeError::InvalidRouteRefreshLength {
            length: frame.len(),
            message: Bytes::copy_from_slice(frame),
        }),
        _ => Err(DecodeError::BadMessageLength {
            length: u16::try_from(frame.len()).unwrap_or(u16::MAX),
            message_type: message_type::ROUTE_REFRESH,
            min: HEADER_LEN + 4,
            max: HEADER_LEN + 4,
        }),
    }
}

/// nom's error type inside `wire::decode`: only the address where input ran
/// short or did not match. Converted to an offset with [`Base`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Short {
    at: usize,
}

impl ParseError<&[u8]> for Short {
    fn from_error_kind(input: &[u8], _kind: ErrorKind) -> Self {
        Short { at: input.as_ptr() as usize }
    }

    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type ParseResult<'a, O> = nom::IResult<&'a [u8], O, Short>;

/// The start of the frame being decoded: turns sub-slices and nom failures into
/// offsets from the first marker octet.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Base(usize);

impl Base {
    fn of(frame: &[u8]) -> Self {
        Base(frame.as_ptr() as usize)
    }

    /// Offset of `slice` (a sub-slice of the frame) from the frame start.
    pub(crate) fn offset(self, slice: &[u8]) -> usize {
        (slice.as_ptr() as usize).saturating_sub(self.0)
    }

    /// Offset where a nom parser stopped.
    pub(crate) fn failure(self, error: nom::Err<Short>) -> usize {
        match error {
            nom::Err::Error(short) | nom::Err::Failure(short) => short.at.saturating_sub(self.0),
            nom::Err::Incomplete(_) => 0,
        }
    }
}
