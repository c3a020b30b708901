//! Path attribute decoding: RFC 4271 §4.3, §5 and §6.3, with the revised error
//! handling of RFC 7606 §3 (flags, duplicates), §4 (attribute overrun) and §7
//! (one action per attribute type); MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760
//! §3, §4, §7), AS4_PATH / AS4_AGGREGATOR (RFC 6793 §6), COMMUNITIES (RFC
//! 1997), ORIGINATOR_ID / CLUSTER_LIST (RFC 4456), EXTENDED_COMMUNITIES (RFC
//! 4360), LARGE_COMMUNITY (RFC 8092 §6).

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16};

use super::nlri::decode_prefixes;
use super::{Base, ParseResult};
use crate::wire::attributes::{
    Aggregator, AsPath, AsSegment, Community, ExtendedCommunity, LargeCommunity, Origin,
    PathAttributes, SegmentType, UnknownAttribute, flags, type_code,
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

/// What the flags of a known attribute must be (RFC 4271 §5).
#[derive(Copy, Clone)]
enum Category {
    WellKnown,
    OptionalTransitive,
    OptionalNonTransitive,
}

fn category(code: u8) -> Option<Category> {
    use type_code as t;
    match code {
        t::ORIGIN | t::AS_PATH | t::NEXT_HOP | t::LOCAL_PREF | t::ATOMIC_AGGREGATE => {
            Some(Category::WellKnown)
        }
        t::AGGREGATOR
        | t::COMMUNITIES
        | t::EXTENDED_COMMUNITIES
        | t::AS4_PATH
        | t::AS4_AGGREGATOR
        | t::LARGE_COMMUNITY => Some(Category::OptionalTransitive),
        t::MULTI_EXIT_DISC
        | t::ORIGINATOR_ID
        | t::CLUSTER_LIST
        | t::MP_REACH_NLRI
        | t::MP_UNREACH_NLRI => Some(Category::OptionalNonTransitive),
        _ => None,
    }
}

fn flags_valid(category: Category, attribute_flags: u8) -> bool {
    let bits = attribute_flags & (flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL);
    match category {
        Category::WellKnown => bits == flags::TRANSITIVE,
        Category::OptionalTransitive => {
            bits & !flags::PARTIAL == flags::OPTIONAL | flags::TRANSITIVE
        }
        Category::OptionalNonTransitive => bits == flags::OPTIONAL,
    }
}

/// RFC 7606 §3 c: conflicting flags are treat-as-withdraw, except where the
/// attribute's own rules say otherwise (MP attributes: session reset, RFC
/// 7606 §7.11; AS4_*: discard, RFC 6793 §6).
fn flags_action(code: u8) -> ErrorAction {
    match code {
        type_code::MP_REACH_NLRI | type_code::MP_UNREACH_NLRI => ErrorAction::SessionReset,
        type_code::AS4_PATH | type_code::AS4_AGGREGATOR => ErrorAction::AttributeDiscard,
        _ => ErrorAction::TreatAsWithdraw,
    }
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

/// Outcome of one attribute value: the error kind and its RFC 7606 action.
type Verdict = Result<(), (AttributeErrorKind, ErrorAction)>;

impl DecodedAttributes {
    fn one(
        &mut self,
        at: Raw<'_>,
        value: &[u8],
        base: Base,
        options: &CodecOptions,
    ) -> Result<(), DecodeError> {
        let code = at.code;
        if self.seen.insert(code) {
            if matches!(code, type_code::MP_REACH_NLRI | type_code::MP_UNREACH_NLRI) {
                return Err(DecodeError::MalformedAttributeList {
                    field: Field::PathAttribute,
                    offset: at.offset,
                    value: usize::from(code),
                });
            }
            self.errors
                .push(at.error(AttributeErrorKind::Duplicate, ErrorAction::AttributeDiscard));
            return Ok(());
        }
        let Some(category) = category(code) else {
            if at.flags & flags::OPTIONAL == 0 {
                let error =
                    at.error(AttributeErrorKind::UnrecognizedWellKnown, ErrorAction::SessionReset);
                return Err(DecodeError::Attribute(error));
            }
            // RFC 4271 §5: unrecognised optional transitive attributes are kept;
            // unrecognised non-transitive ones are quietly ignored.
            if at.flags & flags::TRANSITIVE != 0 {
                self.attributes.unknown.push(UnknownAttribute {
                    flags: at.flags & !flags::EXTENDED_LENGTH,
                    type_code: code,
                    value: Bytes::copy_from_slice(value),
                });
            }
            return Ok(());
        };
        let verdict = if flags_valid(category, at.flags) {
            self.value(code, value, base, options)?
        } else {
            Err((AttributeErrorKind::Flags, flags_action(code)))
        };
        match verdict {
            Ok(()) => Ok(()),
            Err((kind, ErrorAction::SessionReset)) => {
                Err(DecodeError::Attribute(at.error(kind, ErrorAction::SessionReset)))
            }
            Err((kind, action)) => {
                self.errors.push(at.error(kind, action));
                Ok(())
            }
        }
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
        use ErrorAction::{
            AttributeDiscard as Discard, SessionReset as Reset, TreatAsWithdraw as Withdraw,
        };
        let a = &mut self.attributes;
        let verdict = match code {
            type_code::ORIGIN => match value {
                &[origin] => match Origin::from_u8(origin) {
                    Some(origin) => {
                        a.origin = Some(origin);
                        Ok(())
                    }
                    None => Err((K::InvalidOrigin, Withdraw)),
                },
                _ => Err((K::Length, Withdraw)),
            },
            type_code::AS_PATH => match decode_as_path(value, options.four_octet_as) {
                Some(path) => {
                    a.as_path = path;
                    Ok(())
                }
                None => Err((K::MalformedAsPath, Withdraw)),
            },
            type_code::NEXT_HOP => match ipv4(value) {
                Some(address) if is_host_address(address) => {
                    a.next_hop = Some(address);
                    Ok(())
                }
                Some(_) => Err((K::InvalidNextHop, Withdraw)),
                None => Err((K::Length, Withdraw)),
            },
            type_code::MULTI_EXIT_DISC => {
                u32_value(value).map(|med| a.med = Some(med)).ok_or((K::Length, Withdraw))
            }
            type_code::LOCAL_PREF => {
                u32_value(value).map(|pref| a.local_pref = Some(pref)).ok_or((K::Length, Withdraw))
            }
            type_code::ATOMIC_AGGREGATE => {
                if value.is_empty() {
                    a.atomic_aggregate = true;
                    Ok(())
                } else {
                    Err((K::Length, Discard))
                }
            }
            type_code::AGGREGATOR => match decode_aggregator(value, options.four_octet_as) {
                Some(aggregator) => {
                    a.aggregator = Some(aggregator);
                    Ok(())
                }
                None => Err((K::Length, Discard)),
            },
            type_code::COMMUNITIES => match non_empty_chunks::<4>(value) {
                Some(chunks) => {
                    a.communities = chunks.map(|c| Community(u32::from_be_bytes(c))).collect();
                    Ok(())
                }
                None => Err((K::Length, Withdraw)),
            },
            type_code::ORIGINATOR_ID => match ipv4(value) {
                Some(id) => {
                    a.originator_id = Some(id);
                    Ok(())
                }
                None => Err((K::Length, Withdraw)),
            },
            type_code::CLUSTER_LIST => match non_empty_chunks::<4>(value) {
                Some(chunks) => {
                    a.cluster_list = chunks.map(Ipv4Addr::from).collect();
                    Ok(())
                }
                None => Err((K::Length, Withdraw)),
            },
            type_code::EXTENDED_COMMUNITIES => match non_empty_chunks::<8>(value) {
                Some(chunks) => {
                    a.extended_communities = chunks.map(ExtendedCommunity).collect();
                    Ok(())
                }
                None => Err((K::Length, Withdraw)),
            },
            type_code::LARGE_COMMUNITY => match non_empty_chunks::<12>(value) {
                Some(chunks) => {
                    a.large_communities = chunks
                        .map(|c| LargeCommunity {
                            global_admin: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                            local_data_1: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                            local_data_2: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
                        })
                        .collect();
                    Ok(())
                }
                None => Err((K::Length, Withdraw)),
            },
            // RFC 6793 §4.1: a NEW speaker discards these from another NEW speaker.
            type_code::AS4_PATH | type_code::AS4_AGGREGATOR if options.four_octet_as => {
                Err((K::UnexpectedAs4, Discard))
            }
            type_code::AS4_PATH => match decode_as_path(value, true) {
                // RFC 6793 §6: confederation segments make AS4_PATH malformed.
                Some(path)
                    if path
                        .segments
                        .iter()
                        .all(|s| matches!(s.kind, SegmentType::Sequence | SegmentType::Set)) =>
                {
                    self.as4_path = Some(path);
                    Ok(())
                }
                _ => Err((K::MalformedAsPath, Discard)),
            },
            type_code::AS4_AGGREGATOR => match decode_aggregator(value, true) {
                Some(aggregator) => {
                    self.as4_aggregator = Some(aggregator);
                    Ok(())
                }
                None => Err((K::Length, Discard)),
            },
            type_code::MP_REACH_NLRI => match decode_mp_reach(value, base, options)? {
                Some(Some(reach)) => {
                    self.mp_reach = Some(reach);
                    Ok(())
                }
                Some(None) => Err((K::UnsupportedFamily, Discard)),
                None => Err((K::OptionalAttribute, Reset)),
            },
            type_code::MP_UNREACH_NLRI => match decode_mp_unreach(value, base, options)? {
                Some(Some(unreach)) => {
                    self.mp_unreach = Some(unreach);
                    Ok(())
                }
                Some(None) => Err((K::UnsupportedFamily, Discard)),
                None => Err((K::OptionalAttribute, Reset)),
            },
            _ => Ok(()),
        };
        Ok(verdict)
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

/// MP_REACH_NLRI (RFC 4760 §3). `None`: malformed; `Some(None)`: a family we
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
    let next_hop = match (family, next_hop.len()) {
        (crate::wire::Family::Ipv4Unicast, 4) => ipv4(next_hop).map(NextHop::V4),
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
