//! Encoding: one complete framed message appended to a `BytesMut`
//! ([`encode_message`]), and many routes packed into few UPDATEs
//! ([`UpdatePacker`]). RFC 4271 §4, RFC 8654 (size limits).

mod attributes;
mod open;
mod pack;

use bytes::{BufMut, BytesMut};
use ipnet::IpNet;

use super::error::{EncodeError, Field};
use super::family::Family;
use super::options::CodecOptions;
use super::update::{MpReach, MpUnreach, NextHop, Nlri, UpdateMessage};
use super::{HEADER_LEN, MAX_MESSAGE_LEN, Message, message_type};

pub use pack::{Packed, UpdatePacker};

use super::attributes::table::{self, flags, type_code};

/// The flags of MP_REACH_NLRI and MP_UNREACH_NLRI, from the attribute table.
const MP_REACH_FLAGS: u8 = table::category_flags(type_code::MP_REACH_NLRI);
const MP_UNREACH_FLAGS: u8 = table::category_flags(type_code::MP_UNREACH_NLRI);

/// Append `message`, framed, to `out`. On error `out` is left as it was.
pub fn encode_message(
    message: &Message,
    options: &CodecOptions,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = out.len();
    let result = encode_into(message, options, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_into(
    message: &Message,
    options: &CodecOptions,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    match message {
        Message::Open(open) => {
            let start = begin(out, message_type::OPEN);
            open::encode_open(open, out)?;
            // RFC 8654 §4: OPEN stays within 4096 octets.
            finish(out, start, MAX_MESSAGE_LEN)
        }
        Message::Update(update) => {
            let start = begin(out, message_type::UPDATE);
            encode_update(update, options, out)?;
            finish(out, start, options.max_message_len())
        }
        Message::Notification(notification) => {
            let start = begin(out, message_type::NOTIFICATION);
            out.put_u8(notification.code);
            out.put_u8(notification.subcode);
            out.put_slice(&notification.data);
            finish(out, start, options.max_message_len())
        }
        Message::Keepalive => {
            let start = begin(out, message_type::KEEPALIVE);
            finish(out, start, HEADER_LEN)
        }
        Message::RouteRefresh(refresh) => {
            let start = begin(out, message_type::ROUTE_REFRESH);
            out.put_u16(refresh.afi_safi.afi);
            out.put_u8(refresh.subtype.to_u8());
            out.put_u8(refresh.afi_safi.safi);
            finish(out, start, options.max_message_len())
        }
    }
}

/// Write a header with a zero length; returns where the message starts.
pub(super) fn begin(out: &mut BytesMut, kind: u8) -> usize {
    let start = out.len();
    out.put_bytes(0xFF, 16);
    out.put_u16(0);
    out.put_u8(kind);
    start
}

/// Patch the length of the message that starts at `start`, checking `max`.
pub(super) fn finish(out: &mut BytesMut, start: usize, max: usize) -> Result<(), EncodeError> {
    let length = out.len() - start;
    let message_type = out[start + 18];
    let Ok(wire_length) = u16::try_from(length) else {
        return Err(EncodeError::MessageTooLong { message_type, length, max });
    };
    if length > max {
        return Err(EncodeError::MessageTooLong { message_type, length, max });
    }
    out[start + 16..start + 18].copy_from_slice(&wire_length.to_be_bytes());
    Ok(())
}

/// Overwrite a 2-octet length at `at` with the number of octets written since `at + 2`.
fn patch_length(out: &mut BytesMut, at: usize, type_code: u8) -> Result<(), EncodeError> {
    let length = out.len() - at - 2;
    let wire =
        u16::try_from(length).map_err(|_| EncodeError::AttributeTooLong { type_code, length })?;
    out[at..at + 2].copy_from_slice(&wire.to_be_bytes());
    Ok(())
}

/// UPDATE body (RFC 4271 §4.3): withdrawn routes, path attributes, NLRI.
fn encode_update(
    update: &UpdateMessage,
    options: &CodecOptions,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let ipv4_add_path = options.add_path_send.contains(Family::Ipv4Unicast);
    let withdrawn_at = out.len();
    out.put_u16(0);
    for nlri in &update.withdrawn {
        put_prefix(out, nlri, ipv4_add_path, Family::Ipv4Unicast, Field::WithdrawnRoutes)?;
    }
    patch_length(out, withdrawn_at, 0)?;
    let attributes_at = out.len();
    out.put_u16(0);
    if let Some(reach) = &update.mp_reach {
        put_mp_reach(out, reach, options)?;
    }
    if let Some(unreach) = &update.mp_unreach {
        put_mp_unreach(out, unreach, options)?;
    }
    attributes::put_attributes(
        &update.attributes,
        options,
        attributes::NextHopField::AsGiven,
        out,
    )?;
    patch_length(out, attributes_at, 0)?;
    for nlri in &update.nlri {
        put_prefix(out, nlri, ipv4_add_path, Family::Ipv4Unicast, Field::Nlri)?;
    }
    Ok(())
}

/// The octets one prefix takes on the wire.
pub(super) fn prefix_wire_len(nlri: &Nlri, add_path: bool) -> usize {
    let path_id = if add_path { 4 } else { 0 };
    path_id + 1 + usize::from(nlri.prefix.prefix_len()).div_ceil(8)
}

/// Write one prefix (RFC 4271 §4.3, RFC 7911 §3): path identifier when ADD-PATH
/// is on for sending (0 if the route has none), length in bits, the
/// significant octets with host bits cleared.
pub(super) fn put_prefix(
    out: &mut BytesMut,
    nlri: &Nlri,
    add_path: bool,
    family: Family,
    field: Field,
) -> Result<(), EncodeError> {
    if add_path {
        out.put_u32(nlri.path_id.unwrap_or(0));
    }
    let bits = nlri.prefix.prefix_len();
    let octets = usize::from(bits).div_ceil(8);
    out.put_u8(bits);
    match (family, nlri.prefix) {
        (Family::Ipv4Unicast, IpNet::V4(net)) => {
            put_masked(out, &net.addr().octets()[..octets], bits)
        }
        (Family::Ipv6Unicast, IpNet::V6(net)) => {
            put_masked(out, &net.addr().octets()[..octets], bits)
        }
        _ => return Err(EncodeError::PrefixFamilyMismatch { field, prefix: nlri.prefix }),
    }
    Ok(())
}

fn put_masked(out: &mut BytesMut, octets: &[u8], bits: u8) {
    if let Some((last, head)) = octets.split_last() {
        out.put_slice(head);
        out.put_u8(last & (0xFFu8 << ((8 - bits % 8) % 8)));
    }
}

/// MP_REACH_NLRI header up to and including the reserved octet; returns the
/// offset of its 2-octet length, to patch once the NLRI are written. Always
/// in the extended-length form, as FRR and BIRD send it.
pub(super) fn begin_mp_reach(
    out: &mut BytesMut,
    family: Family,
    next_hop: &NextHop,
) -> Result<usize, EncodeError> {
    let afi_safi = family.afi_safi();
    out.put_u8(MP_REACH_FLAGS | flags::EXTENDED_LENGTH);
    out.put_u8(type_code::MP_REACH_NLRI);
    let length_at = out.len();
    out.put_u16(0);
    out.put_u16(afi_safi.afi);
    out.put_u8(afi_safi.safi);
    match (family, next_hop) {
        (Family::Ipv4Unicast, NextHop::V4(address)) => {
            out.put_u8(4);
            out.put_slice(&address.octets());
        }
        (_, NextHop::V6 { global, link_local }) => {
            out.put_u8(if link_local.is_some() { 32 } else { 16 });
            out.put_slice(&global.octets());
            if let Some(link_local) = link_local {
                out.put_slice(&link_local.octets());
            }
        }
        _ => return Err(EncodeError::NextHopMismatch { family, next_hop: Some(*next_hop) }),
    }
    out.put_u8(0);
    Ok(length_at)
}

fn put_mp_reach(
    out: &mut BytesMut,
    reach: &MpReach,
    options: &CodecOptions,
) -> Result<(), EncodeError> {
    let length_at = begin_mp_reach(out, reach.family, &reach.next_hop)?;
    let add_path = options.add_path_send.contains(reach.family);
    for nlri in &reach.nlri {
        put_prefix(out, nlri, add_path, reach.family, Field::MpReachNlri)?;
    }
    patch_length(out, length_at, type_code::MP_REACH_NLRI)
}

/// MP_UNREACH_NLRI; the short form when the value fits in 255 octets (as FRR
/// and BIRD send End-of-RIB).
fn put_mp_unreach(
    out: &mut BytesMut,
    unreach: &MpUnreach,
    options: &CodecOptions,
) -> Result<(), EncodeError> {
    let add_path = options.add_path_send.contains(unreach.family);
    let length = 3 + unreach.withdrawn.iter().map(|n| prefix_wire_len(n, add_path)).sum::<usize>();
    let afi_safi = unreach.family.afi_safi();
    if length <= 255 {
        out.put_u8(MP_UNREACH_FLAGS);
        out.put_u8(type_code::MP_UNREACH_NLRI);
        out.put_u8(length as u8); // checked above
    } else {
        let wire = u16::try_from(length).map_err(|_| EncodeError::AttributeTooLong {
            type_code: type_code::MP_UNREACH_NLRI,
            length,
        })?;
        out.put_u8(MP_UNREACH_FLAGS | flags::EXTENDED_LENGTH);
        out.put_u8(type_code::MP_UNREACH_NLRI);
        out.put_u16(wire);
    }
    out.put_u16(afi_safi.afi);
    out.put_u8(afi_safi.safi);
    for nlri in &unreach.withdrawn {
        put_prefix(out, nlri, add_path, unreach.family, Field::MpUnreachNlri)?;
    }
    Ok(())
}
