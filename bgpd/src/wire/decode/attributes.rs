//! Path attribute decoding: RFC 4271 §4.3, §5 and §6.3, with the revised error
//! handling of RFC 7606 §3 (flags, duplicates), §4 (attribute overrun) and §7
//! (one action per attribute type); MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760
//! §3, §4, §7), AS4_PATH / AS4_AGGREGATOR (RFC 6793 §6), COMMUNITIES (RFC
//! 1997), ORIGINATOR_ID / CLUSTER_LIST (RFC 4456), EXTENDED_COMMUNITIES (RFC
//! 4360), LARGE_COMMUNITY (RFC 8092 §6).
//!
//! Which attributes are known, their flags category and the action for each
//! kind of error come from the attribute table (`wire/attributes/table.rs`);
//! this file holds the value codecs.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16};

use super::nlri::decode_prefixes;
use super::{Base, ParseResult};
use crate::wire::attributes::table::{self, flags, type_code};
use crate::wire::attributes::{
    Aggregator, AsPath, AsSegment, Community, ExtendedCommunity, LargeCommunity, Origin,
    PathAttributes, SegmentType, UnknownAttribute,
};
use crate::wire::error::{AttributeError, AttributeErrorKind, DecodeError, ErrorAction, Field};
use crate::wire::family::AfiSafi;
use crate::wire::options::CodecOptions;
use crate::wire::update::{MpReach, MpUnreach, NextHop};

/// Attribute type codes met so far (RFC 7606 §3 g): one bit per code.
#[derive(Default)]
pub(super) struct Seen([u64; 4]);

impl Seen {
    /// Marks `code`; returns whether it was already there.
    fn insert(&mut self, code: u8) -> bool {
        let (word, bit) = (usize::from(code / 64), 1u64 << (code % 64));
        let present = self.0[word] & bit != 0;
        self.0[word] |= bit;
        present
    }

    pub(super) fn contains(&self, code: u8) -> bool {
        self.0[usize::from(code / 64)] & (1u64 << (code % 64)) != 0
    }
}

/// Everything the path attribute field held.
#[derive(Default)]
pub(super) struct DecodedAttributes {
    pub attributes: PathAttributes,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub as4_path: Option<AsPath>,
    pub as4_aggregator: Option<Aggregator>,
    pub errors: Vec<AttributeError>,
    pub seen: Seen,
    /// An attribute ran past the end of the field (RFC 7606 §4).
    pub overrun: bool,
}

/// One attribute header and value: flags (1), type (1), length (1 or 2), value.
fn attribute(input: &[u8]) -> ParseResult<'_, (u8, u8, &[u8])> {
    let (input, (attribute_flags, code)) = (be_u8, be_u8).parse(input)?;
    let (input, length) = if attribute_flags & flags::EXTENDED_LENGTH != 0 {
        be_u16(input)?
    } else {
        be_u8.map(u16::from).parse(input)?
    };
    let (input, value) = take(length)(input)?;
    Ok((input, (attribute_flags, code, value)))
}

pub(super) fn decode_attributes(
    field: &[u8],
    base: Base,
    options: &CodecOptions,
) -> Result<DecodedAttributes, DecodeError> {
    let mut decoded = DecodedAttributes::default();
    let mut input = field;
    while !input.is_empty() {
        match attribute(input) {
            Ok((rest, (attribute_flags, code, value))) => {
                let raw = &input[..input.len() - rest.len()];
                let at = Raw { flags: attribute_flags, code, raw, offset: base.offset(input) };
                decoded.one(at, value, base, options)?;
                input = rest;
            }
            Err(_) => {
                let at = Raw {
                    flags: input[0],
                    code: input.get(1).copied().unwrap_or_default(),
                    raw: input,
                    offset: base.offset(input),
                };
                decoded
                    .errors
                    .push(at.error(AttributeErrorKind::Overrun, ErrorAction::TreatAsWithdraw));
                decoded.overrun = true;
                break;
            }
        }
    }
    Ok(decoded)
}

/// The attribute being decoded, as received.
#[derive(Copy, Clone)]
struct Raw<'a> {
    flags: u8,
    code: u8,
    raw: &'a [u8],
    offset: usize,
}

impl Raw<'_> {
    fn error(&self, kind: AttributeErrorKind, action: ErrorAction) -> AttributeError {
        AttributeError {
            kind,
            type_code: self.code,
            flags: self.flags,
            offset: self.offset,
            action,
            attribute: Bytes::copy_from_slice(self.raw),
        }
    }
}

/// Why a value was refused.
enum Refusal {
    /// Malformed: the action is the row's `malformed` one (RFC 7606 §7).
    Malformed(AttributeErrorKind),
    /// Refused for another reason, with its own action.
    Other(AttributeErrorKind, ErrorAction),
}

/// Outcome of one attribute value.
type Verdict = Result<(), Refusal>;

impl DecodedAttributes {
    /// One attribute: duplicates and flags checked and the error action
    /// chosen from its row of the attribute table, the value decoded.
    fn one(
        &mut self,
        at: Raw<'_>,
        value: &[u8],
        base: Base,
        options: &CodecOptions,
    ) -> Result<(), DecodeError> {
        let code = at.code;
        let spec = table::spec(code);
        if self.seen.insert(code) {
            // RFC 7606 §3 g.
            return match spec.map_or(ErrorAction::AttributeDiscard, |s| s.duplicate) {
                ErrorAction::SessionReset => Err(DecodeError::MalformedAttributeList {
                    field: Field::PathAttribute,
                    offset: at.offset,
                    value: usize::from(code),
                }),
                action => {
                    self.errors.push(at.error(AttributeErrorKind::Duplicate, action));
                    Ok(())
                }
            };
        }
        let Some(spec) = spec else {
            return self.unknown(at, value);
        };
        let verdict = if spec.category.accepts(at.flags) {
            self.value(code, value, base, options)?
        } else {
            Err(Refusal::Other(AttributeErrorKind::Flags, spec.bad_flags))
        };
        if options.external_peer_as.is_some() && is_internal_only(code) {
            // RFC 7606 §7.5, §7.9, §7.10: discarded whatever its form; a
            // well-formed copy is dropped quietly (RFC 4271 §5.1.5 says ignore).
            self.attributes.forget_internal_only(code);
            if verdict.is_err() {
                let discard = ErrorAction::AttributeDiscard;
                self.errors.push(at.error(AttributeErrorKind::InternalOnly, discard));
            }
            return Ok(());
        }
        let (kind, action) = match verdict {
            Ok(()) => return Ok(()),
            Err(Refusal::Malformed(kind)) => (kind, spec.malformed),
            Err(Refusal::Other(kind, action)) => (kind, action),
        };
        if action == ErrorAction::SessionReset {
            return Err(DecodeError::Attribute(at.error(kind, action)));
        }
        self.errors.push(at.error(kind, action));
        Ok(())
    }

    /// An attribute without a row in the table (RFC 4271 §5, §6.3).
    fn unknown(&mut self, at: Raw<'_>, value: &[u8]) -> Result<(), DecodeError> {
        if at.flags & flags::OPTIONAL == 0 {
            let error =
                at.error(AttributeErrorKind::UnrecognizedWellKnown, ErrorAction::SessionReset);
            return Err(DecodeError::Attribute(error));
        }
        // Unrecognised optional transitive attributes are kept; unrecognised
        // non-transitive ones are quietly ignored.
        if at.flags & flags::TRANSITIVE != 0 {
            self.attributes.unknown.push(UnknownAttribute {
                flags: at.flags & !flags::EXTENDED_LENGTH,
                type_code: at.code,
                value: Bytes::copy_from_slice(value),
            });
        }
        Ok(())
    }

    /// Interpret the value of a known attribute whose flags are right.
    fn value(
        &mut self,
        code: u8,
        value: &[u8],
        base: Base,
        options: &CodecOptions,
    ) -> Result<Verdict, DecodeError> {
        use AttributeErrorKind as K;
        let a = &mut self.attributes;
        let result = match code {
            type_code::ORIGIN => match value {
                &[origin] => {
                    Origin::from_u8(origin).map(|o| a.origin = Some(o)).ok_or(K::InvalidOrigin)
                }
                _ => Err(K::Length),
            },
            type_code::NEXT_HOP => match ipv4(value) {
                Some(address) if is_host_address(address) => {
                    a.next_hop = Some(address);
                    Ok(())
                }
                Some(_) => Err(K::InvalidNextHop),
                None => Err(K::Length),
            },
            type_code::MULTI_EXIT_DISC => {
                u32_value(value).map(|med| a.med = Some(med)).ok_or(K::Length)
            }
            type_code::LOCAL_PREF => {
                u32_value(value).map(|pref| a.local_pref = Some(pref)).ok_or(K::Length)
            }
            type_code::ATOMIC_AGGREGATE if value.is_empty() => {
                a.atomic_aggregate = true;
                Ok(())
            }
            type_code::ATOMIC_AGGREGATE => Err(K::Length),
            type_code::COMMUNITIES => non_empty_chunks::<4>(value)
                .map(|c| a.communities = c.map(|c| Community(u32::from_be_bytes(c))).collect())
                .ok_or(K::Length),
            type_code::ORIGINATOR_ID => {
                ipv4(value).map(|id| a.originator_id = Some(id)).ok_or(K::Length)
            }
            type_code::CLUSTER_LIST => non_empty_chunks::<4>(value)
                .map(|c| a.cluster_list = c.map(Ipv4Addr::from).collect())
                .ok_or(K::Length),
            type_code::EXTENDED_COMMUNITIES => non_empty_chunks::<8>(value)
                .map(|c| a.extended_communities = c.map(ExtendedCommunity).collect())
                .ok_or(K::Length),
            type_code::LARGE_COMMUNITY => non_empty_chunks::<12>(value)
                .map(|c| a.large_communities = c.map(large_community).collect())
                .ok_or(K::Length),
            type_code::AS_PATH
            | type_code::AGGREGATOR
            | type_code::AS4_PATH
            | type_code::AS4_AGGREGATOR => self.as_value(code, value, options.four_octet_as),
            type_code::MP_REACH_NLRI | type_code::MP_UNREACH_NLRI => {
                return self.mp_value(code, value, base, options);
            }
            _ => Ok(()),
        };
        Ok(result.map_err(Refusal::Malformed))
    }

    /// The attributes that carry ASNs, 2 or 4 octets wide by what the session
    /// negotiated (RFC 6793 §4, §6).
    fn as_value(
        &mut self,
        code: u8,
        value: &[u8],
        four_octet: bool,
    ) -> Result<(), AttributeErrorKind> {
        use AttributeErrorKind as K;
        match code {
            type_code::AS_PATH => match decode_as_path(value, four_octet) {
                Some(path) if path.contains(0) => Err(K::AsZero),
                Some(path) => {
                    self.attributes.as_path = path;
                    Ok(())
                }
                None => Err(K::MalformedAsPath),
            },
            type_code::AGGREGATOR => match decode_aggregator(value, four_octet) {
                Some(aggregator) if aggregator.asn == 0 => Err(K::AsZero),
                Some(aggregator) => {
                    self.attributes.aggregator = Some(aggregator);
                    Ok(())
                }
                None => Err(K::Length),
            },
            // RFC 6793 §4.1: a NEW speaker discards these from another NEW speaker.
            type_code::AS4_PATH | type_code::AS4_AGGREGATOR if four_octet => Err(K::UnexpectedAs4),
            type_code::AS4_PATH => match decode_as_path(value, true) {
                // RFC 6793 §6: confederation segments make AS4_PATH malformed.
                Some(path) if path.contains(0) => Err(K::AsZero),
                Some(path)
                    if path
                        .segments
                        .iter()
                        .all(|s| matches!(s.kind, SegmentType::Sequence | SegmentType::Set)) =>
                {
                    self.as4_path = Some(path);
                    Ok(())
                }
                _ => Err(K::MalformedAsPath),
            },
            type_code::AS4_AGGREGATOR => match decode_aggregator(value, true) {
                Some(aggregator) if aggregator.asn == 0 => Err(K::AsZero),
                Some(aggregator) => {
                    self.as4_aggregator = Some(aggregator);
                    Ok(())
                }
                None => Err(K::Length),
            },
            _ => Ok(()),
        }
    }

    /// MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3, §4). A family we do not
    /// route is discarded, whatever the row says about malformed values.
    fn mp_value(
        &mut self,
        code: u8,
        value: &[u8],
        base: Base,
        options: &CodecOptions,
    ) -> Result<Verdict, DecodeError> {
        let decoded = match code {
            type_code::MP_REACH_NLRI => decode_mp_reach(value, base, options)?
                .map(|reach| reach.map(|reach| self.mp_reach = Some(reach))),
            type_code::MP_UNREACH_NLRI => decode_mp_unreach(value, base, options)?
                .map(|unreach| unreach.map(|unreach| self.mp_unreach = Some(unreach))),
            _ => Some(Some(())),
        };
        Ok(match decoded {
            Some(Some(())) => Ok(()),
            Some(None) => Err(Refusal::Other(
                AttributeErrorKind::UnsupportedFamily,
                ErrorAction::AttributeDiscard,
            )),
            None => Err(Refusal::Malformed(AttributeErrorKind::OptionalAttribute)),
        })
    }
}

/// Attributes that only internal neighbors may send (RFC 4271 §5.1.5, RFC
/// 4456 §8).
fn is_internal_only(code: u8) -> bool {
    matches!(code, type_code::LOCAL_PREF | type_code::ORIGINATOR_ID | type_code::CLUSTER_LIST)
}

fn large_community(c: [u8; 12]) -> LargeCommunity {
    LargeCommunity {
        global_admin: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
        local_data_1: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
        local_data_2: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
    }
}

fn ipv4(value: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from)
}

fn u32_value(value: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(value).ok().map(u32::from_be_bytes)
}

/// A NEXT_HOP must name a host (RFC 4271 §6.3, RFC 7606 §7.3): not 0.0.0.0,
/// not multicast or class E or broadcast.
fn is_host_address(address: Ipv4Addr) -> bool {
    !(address.is_unspecified() || address.is_multicast() || address.octets()[0] >= 240)
}

/// The value split into `N`-octet chunks, if it is a non-zero multiple of `N`.
fn non_empty_chunks<const N: usize>(value: &[u8]) -> Option<impl Iterator<Item = [u8; N]> + '_> {
    if value.is_empty() || !value.len().is_multiple_of(N) {
        return None;
    }
    Some(value.chunks_exact(N).filter_map(|c| <[u8; N]>::try_from(c).ok()))
}

/// AS_PATH or AS4_PATH segments with 2- or 4-octet ASNs; `None` if malformed
/// (unknown segment type, zero-length segment, overrun: RFC 7606 §7.2).
pub(super) fn decode_as_path(value: &[u8], four_octet: bool) -> Option<AsPath> {
    let width = if four_octet { 4 } else { 2 };
    let mut segments = Vec::new();
    let mut rest = value;
    while let [kind, count, tail @ ..] = rest {
        let kind = SegmentType::from_u8(*kind)?;
        if *count == 0 {
            return None;
        }
        let (asns, tail) = tail.split_at_checked(usize::from(*count) * width)?;
        let asns = asns
            .chunks_exact(width)
            .map(|c| match *c {
                [a, b, c, d] => u32::from_be_bytes([a, b, c, d]),
                [a, b] => u32::from(u16::from_be_bytes([a, b])),
                _ => 0,
            })
            .collect();
        segments.push(AsSegment { kind, asns });
        rest = tail;
    }
    rest.is_empty().then_some(AsPath { segments })
}

/// AGGREGATOR: ASN (2 or 4 octets) and IPv4 address (RFC 4271 §5.1.7, RFC 6793 §3).
fn decode_aggregator(value: &[u8], four_octet: bool) -> Option<Aggregator> {
    match (four_octet, value) {
        (true, &[a, b, c, d, w, x, y, z]) => Some(Aggregator {
            asn: u32::from_be_bytes([a, b, c, d]),
            address: Ipv4Addr::new(w, x, y, z),
        }),
        (false, &[a, b, w, x, y, z]) => Some(Aggregator {
            asn: u32::from(u16::from_be_bytes([a, b])),
            address: Ipv4Addr::new(w, x, y, z),
        }),
        _ => None,
    }
}

/// MP_REACH_NLRI (RFC 4760 §3, RFC 8950 §3 for IPv4 over an IPv6 next
/// hop). `None`: malformed; `Some(None)`: a family we
/// do not route. NLRI errors inside reset the session (RFC 7606 §5.3).
fn decode_mp_reach(
    value: &[u8],
    base: Base,
    options: &CodecOptions,
) -> Result<Option<Option<MpReach>>, DecodeError> {
    fn fixed(input: &[u8]) -> ParseResult<'_, (u16, u8, &[u8])> {
        let (input, (afi, safi, length)) = (be_u16, be_u8, be_u8).parse(input)?;
        let (input, next_hop) = take(length)(input)?;
        let (input, _reserved) = be_u8(input)?;
        Ok((input, (afi, safi, next_hop)))
    }
    let Ok((nlri, (afi, safi, next_hop))) = fixed(value) else {
        return Ok(None);
    };
    let Some(family) = AfiSafi::new(afi, safi).family() else {
        return Ok(Some(None));
    };
    // RFC 8950 §3: an IPv4 NLRI with a 16- or 32-octet IPv6 next hop only
    // where the extended next hop capability was negotiated; otherwise the
    // length is inconsistent with the AFI, a malformed attribute.
    let ipv6_allowed =
        family == crate::wire::Family::Ipv6Unicast || options.extended_next_hop.contains(family);
    let next_hop = match (family, next_hop.len()) {
        (crate::wire::Family::Ipv4Unicast, 4) => ipv4(next_hop).map(NextHop::V4),
        (_, 16 | 32) if !ipv6_allowed => None,
        (_, 16) => ipv6(next_hop).map(|global| NextHop::V6 { global, link_local: None }),
        (_, 32) => match (ipv6(&next_hop[..16]), ipv6(&next_hop[16..])) {
            (Some(global), Some(link_local)) => {
                Some(NextHop::V6 { global, link_local: Some(link_local) })
            }
            _ => None,
        },
        _ => None,
    };
    let Some(next_hop) = next_hop else {
        return Ok(None);
    };
    let mut prefixes = Vec::new();
    let add_path = options.add_path_receive.contains(family);
    decode_prefixes(nlri, family, add_path, Field::MpReachNlri, base, &mut prefixes)?;
    Ok(Some(Some(MpReach { family, next_hop, nlri: prefixes })))
}

/// MP_UNREACH_NLRI (RFC 4760 §4), same conventions as [`decode_mp_reach`].
fn decode_mp_unreach(
    value: &[u8],
    base: Base,
    options: &CodecOptions,
) -> Result<Option<Option<MpUnreach>>, DecodeError> {
    let [afi_high, afi_low, safi, withdrawn @ ..] = value else {
        return Ok(None);
    };
    let Some(family) = AfiSafi::new(u16::from_be_bytes([*afi_high, *afi_low]), *safi).family()
    else {
        return Ok(Some(None));
    };
    let mut prefixes = Vec::new();
    let add_path = options.add_path_receive.contains(family);
    decode_prefixes(withdrawn, family, add_path, Field::MpUnreachNlri, base, &mut prefixes)?;
    Ok(Some(Some(MpUnreach { family, withdrawn: prefixes })))
}

fn ipv6(value: &[u8]) -> Option<Ipv6Addr> {
    <[u8; 16]>::try_from(value).ok().map(Ipv6Addr::from)
}
