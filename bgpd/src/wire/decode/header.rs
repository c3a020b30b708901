//! Message header checks (RFC 4271 §4.1, §6.1; RFC 8654 §4 for the limits).
//!
//! ```text
//! | Marker (16 octets, all ones) | Length (2) | Type (1) |
//! ```

use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16};

use super::ParseResult;
use crate::wire::error::DecodeError;
use crate::wire::{HEADER_LEN, MAX_MESSAGE_LEN, message_type};

const MARKER_LEN: usize = 16;

/// Find the end of the next message in `buf`.
///
/// Returns `Ok(Some(total_len))` once a complete frame is buffered,
/// `Ok(None)` while more bytes are needed, and an error as soon as the bytes
/// already present break the header rules: marker not all ones, length outside
/// `19..=max_message_len` or below the type's minimum, unknown type.
pub fn frame_length(buf: &[u8], max_message_len: usize) -> Result<Option<usize>, DecodeError> {
    check_marker(&buf[..buf.len().min(MARKER_LEN)])?;
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let (length, message_type) = parse_length_type(buf);
    check_length(length, message_type, max_message_len)?;
    Ok((buf.len() >= usize::from(length)).then_some(usize::from(length)))
}

/// Header checks on a complete frame; returns its length and type.
pub(super) fn check_frame(
    frame: &[u8],
    max_message_len: usize,
) -> Result<(usize, u8), DecodeError> {
    if frame.len() < HEADER_LEN {
        return Err(DecodeError::FrameMismatch { length: HEADER_LEN, actual: frame.len() });
    }
    check_marker(&frame[..MARKER_LEN])?;
    let (length, message_type) = parse_length_type(frame);
    check_length(length, message_type, max_message_len)?;
    if usize::from(length) != frame.len() {
        return Err(DecodeError::FrameMismatch {
            length: usize::from(length),
            actual: frame.len(),
        });
    }
    Ok((usize::from(length), message_type))
}

fn check_marker(marker: &[u8]) -> Result<(), DecodeError> {
    match marker.iter().position(|&b| b != 0xFF) {
        Some(offset) => {
            Err(DecodeError::ConnectionNotSynchronized { offset, value: marker[offset] })
        }
        None => Ok(()),
    }
}

/// Length and type of a buffer holding at least a header.
fn parse_length_type(buf: &[u8]) -> (u16, u8) {
    fn fields(input: &[u8]) -> ParseResult<'_, (u16, u8)> {
        let (input, _marker) = take(MARKER_LEN)(input)?;
        (be_u16, be_u8).parse(input)
    }
    // The callers checked that a whole header is present.
    fields(buf).map(|(_, fields)| fields).unwrap_or((0, 0))
}

/// The smallest and largest length of each message type (RFC 4271 §6.1; OPEN
/// stays within 4096 even with extended messages, RFC 8654 §4).
fn length_bounds(message_type: u8, max_message_len: usize) -> Option<(usize, usize)> {
    let max = max_message_len.max(HEADER_LEN);
    match message_type {
        message_type::OPEN => Some((29, MAX_MESSAGE_LEN.min(max))),
        message_type::UPDATE => Some((23, max)),
        message_type::NOTIFICATION => Some((21, max)),
        message_type::KEEPALIVE => Some((HEADER_LEN, HEADER_LEN)),
        // RFC 2918 §3: AFI, reserved, SAFI. Longer ones are judged by the
        // decoder, which knows whether enhanced route refresh is in use.
        message_type::ROUTE_REFRESH => Some((23, max)),
        _ => None,
    }
}

fn check_length(length: u16, message_type: u8, max_message_len: usize) -> Result<(), DecodeError> {
    let bad = |min, max| DecodeError::BadMessageLength { length, message_type, min, max };
    let total = usize::from(length);
    if total < HEADER_LEN || total > max_message_len.max(HEADER_LEN) {
        return Err(bad(HEADER_LEN, max_message_len));
    }
    let Some((min, max)) = length_bounds(message_type, max_message_len) else {
        return Err(DecodeError::BadMessageType { message_type });
    };
    if total < min || total > max {
        return Err(bad(min, max));
    }
    Ok(())
}
