//! Path attribute encoding (RFC 4271 §4.3, §5), with the 2-octet-session
//! rules of RFC 6793 §4.2.2: AS_TRANS in AS_PATH and AGGREGATOR for ASNs above
//! 65535, and AS4_PATH / AS4_AGGREGATOR only when such an ASN is present.
//!
//! Attributes go out in the order of the attribute table
//! (`wire/attributes/table.rs`), ascending type code as RFC 4271 §5 asks,
//! with the flags of their row; unknown transitive ones are slotted in by
//! their code with the Partial bit set ([`table::passed_on_flags`]).

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use crate::wire::attributes::SegmentType;
use crate::wire::attributes::source::{AttributeSource, Segment};
use crate::wire::attributes::table::{self, AttributeSpec, flags, type_code};
use crate::wire::error::EncodeError;
use crate::wire::open::AS_TRANS;
use crate::wire::options::CodecOptions;

/// What to do with the NEXT_HOP attribute.
#[derive(Copy, Clone, Debug)]
pub(super) enum NextHopField {
    /// Write `attributes.next_hop` if present.
    AsGiven,
    /// Write this address instead.
    Override(Ipv4Addr),
    /// Leave it out (routes whose next hop travels in MP_REACH_NLRI).
    Omit,
}

/// Append every attribute of `attributes` except the MP ones, in the order of
/// the attribute table.
pub(super) fn put_attributes<A: AttributeSource + ?Sized>(
    attributes: &A,
    options: &CodecOptions,
    next_hop: NextHopField,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let mut previous = 0u16;
    for spec in &table::ENCODED_IN_ORDER {
        put_unknown_between(attributes, previous, u16::from(spec.code), out)?;
        previous = u16::from(spec.code);
        put_known(attributes, options, next_hop, spec, out)?;
    }
    put_unknown_between(attributes, previous, 256, out)
}

/// Unknown attributes with `low <= type code < high`: transitive ones only,
/// with the flags of [`table::passed_on_flags`] (Partial set).
fn put_unknown_between<A: AttributeSource + ?Sized>(
    attributes: &A,
    low: u16,
    high: u16,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    for unknown in attributes.unknown() {
        let code = u16::from(unknown.type_code);
        if code < low || code >= high || !unknown.is_transitive() {
            continue;
        }
        header(out, table::passed_on_flags(unknown.flags), unknown.type_code, unknown.value.len())?;
        out.put_slice(unknown.value);
    }
    Ok(())
}

/// Flags, type and length (extended when the value exceeds 255 octets).
fn header(
    out: &mut BytesMut,
    attribute_flags: u8,
    code: u8,
    length: usize,
) -> Result<(), EncodeError> {
    if length <= 255 {
        out.put_u8(attribute_flags & !flags::EXTENDED_LENGTH);
        out.put_u8(code);
        out.put_u8(length as u8); // checked above
    } else {
        let wire = u16::try_from(length)
            .map_err(|_| EncodeError::AttributeTooLong { type_code: code, length })?;
        out.put_u8(attribute_flags | flags::EXTENDED_LENGTH);
        out.put_u8(code);
        out.put_u16(wire);
    }
    Ok(())
}

fn as2(asn: u32) -> u16 {
    u16::try_from(asn).unwrap_or(AS_TRANS)
}

/// The value codec of each known attribute; flags and code from its row.
// One arm per type code reads better than guards on the codes.
#[allow(clippy::collapsible_match)]
fn put_known<A: AttributeSource + ?Sized>(
    a: &A,
    options: &CodecOptions,
    next_hop: NextHopField,
    spec: &AttributeSpec,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let (code, f) = (spec.code, spec.category.flags());
    match code {
        type_code::ORIGIN => {
            if let Some(origin) = a.scalars().origin {
                header(out, f, code, 1)?;
                out.put_u8(origin as u8);
            }
        }
        type_code::NEXT_HOP => {
            let address = match next_hop {
                NextHopField::AsGiven => a.scalars().next_hop,
                NextHopField::Override(address) => Some(address),
                NextHopField::Omit => None,
            };
            if let Some(address) = address {
                header(out, f, code, 4)?;
                out.put_slice(&address.octets());
            }
        }
        type_code::MULTI_EXIT_DISC => {
            if let Some(med) = a.scalars().med {
                header(out, f, code, 4)?;
                out.put_u32(med);
            }
        }
        type_code::LOCAL_PREF => {
            if let Some(pref) = a.scalars().local_pref {
                header(out, f, code, 4)?;
                out.put_u32(pref);
            }
        }
        type_code::ATOMIC_AGGREGATE => {
            if a.scalars().atomic_aggregate {
                header(out, f, code, 0)?;
            }
        }
        type_code::COMMUNITIES => {
            let communities = a.communities();
            if communities.len() > 0 {
                header(out, f, code, 4 * communities.len())?;
                for community in communities {
                    out.put_u32(community);
                }
            }
        }
        type_code::ORIGINATOR_ID => {
            if let Some(id) = a.scalars().originator_id {
                header(out, f, code, 4)?;
                out.put_slice(&id.octets());
            }
        }
        type_code::CLUSTER_LIST => {
            let cluster_list = a.cluster_list();
            if cluster_list.len() > 0 {
                header(out, f, code, 4 * cluster_list.len())?;
                for id in cluster_list {
                    out.put_slice(&id.octets());
                }
            }
        }
        type_code::EXTENDED_COMMUNITIES => {
            let extended = a.extended_communities();
            if extended.len() > 0 {
                header(out, f, code, 8 * extended.len())?;
                for community in extended {
                    out.put_slice(&community);
                }
            }
        }
        type_code::LARGE_COMMUNITY => {
            let large = a.large_communities();
            if large.len() > 0 {
                header(out, f, code, 12 * large.len())?;
                for community in large {
                    out.put_u32(community.global_admin);
                    out.put_u32(community.local_data_1);
                    out.put_u32(community.local_data_2);
                }
            }
        }
        type_code::AS_PATH
        | type_code::AGGREGATOR
        | type_code::AS4_PATH
        | type_code::AS4_AGGREGATOR => put_as_attribute(a, options.four_octet_as, code, f, out)?,
        _ => {}
    }
    Ok(())
}

/// The attributes that carry ASNs: 4-octet ASNs to a peer that speaks them,
/// else 2-octet ones with AS_TRANS and the AS4_* attributes (RFC 6793 §4.2.2).
// One arm per type code, as in `put_known`.
#[allow(clippy::collapsible_match)]
fn put_as_attribute<A: AttributeSource + ?Sized>(
    a: &A,
    four: bool,
    code: u8,
    f: u8,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    match code {
        type_code::AS_PATH => {
            // Mandatory with any route: written (possibly empty) whenever the
            // set carries anything at all.
            if a.scalars().origin.is_some() || a.segments().next().is_some() {
                put_as_path(out, code, f, a.segments(), four, false)?;
            }
        }
        type_code::AGGREGATOR => {
            if let Some(aggregator) = a.scalars().aggregator {
                if four {
                    header(out, f, code, 8)?;
                    out.put_u32(aggregator.asn);
                } else {
                    header(out, f, code, 6)?;
                    out.put_u16(as2(aggregator.asn));
                }
                out.put_slice(&aggregator.address.octets());
            }
        }
        type_code::AS4_PATH => {
            if !four && needs_as4(a.segments()) {
                put_as_path(out, code, f, a.segments(), true, true)?;
            }
        }
        type_code::AS4_AGGREGATOR => {
            if let Some(aggregator) =
                a.scalars().aggregator.filter(|g| !four && g.asn > u32::from(u16::MAX))
            {
                header(out, f, code, 8)?;
                out.put_u32(aggregator.asn);
                out.put_slice(&aggregator.address.octets());
            }
        }
        _ => {}
    }
    Ok(())
}

/// RFC 6793 §4.2.2: AS4_PATH is sent only when the path holds an ASN that
/// does not fit in two octets (outside confederation segments, which AS4_PATH
/// never carries).
fn needs_as4<'a>(mut segments: impl Iterator<Item = Segment<'a>>) -> bool {
    segments.any(|s| !is_confed(&s) && s.asns.iter().any(|asn| asn > u32::from(u16::MAX)))
}

fn is_confed(segment: &Segment<'_>) -> bool {
    matches!(segment.kind, SegmentType::ConfedSequence | SegmentType::ConfedSet)
}

/// AS_PATH or AS4_PATH: segments of at most 255 ASNs (longer ones are split),
/// 2- or 4-octet ASNs; `skip_confed` for AS4_PATH.
fn put_as_path<'a>(
    out: &mut BytesMut,
    code: u8,
    attribute_flags: u8,
    path: impl Iterator<Item = Segment<'a>> + Clone,
    four_octet: bool,
    skip_confed: bool,
) -> Result<(), EncodeError> {
    let width = if four_octet { 4 } else { 2 };
    let segments = || path.clone().filter(move |s| !(skip_confed && is_confed(s)));
    let length: usize =
        segments().flat_map(|s| s.asns.chunks(255)).map(|chunk| 2 + width * chunk.len()).sum();
    header(out, attribute_flags, code, length)?;
    for segment in segments() {
        for chunk in segment.asns.chunks(255) {
            out.put_u8(segment.kind as u8);
            out.put_u8(chunk.len() as u8); // chunks of at most 255
            for asn in chunk.iter() {
                if four_octet {
                    out.put_u32(asn);
                } else {
                    out.put_u16(as2(asn));
                }
            }
        }
    }
    Ok(())
}
