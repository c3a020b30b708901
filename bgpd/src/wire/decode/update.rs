//! UPDATE decoding (RFC 4271 §4.3, §6.3) with RFC 7606 error handling: §4
//! (lengths), §3 d (missing well-known attributes), §5.1 (treat-as-withdraw
//! applies to MP_REACH_NLRI as well), §5.3 (NLRI syntax).

use std::mem;

use nom::bytes::complete::take;
use nom::number::complete::be_u16;

use super::attributes::{DecodedAttributes, decode_attributes};
use super::nlri::decode_prefixes;
use super::{Base, DecodedUpdate, Short, UpdateOutcome, as4};
use crate::wire::attributes::table::{self, type_code};
use crate::wire::attributes::{AsPath, PathAttributes};
use crate::wire::error::{AttributeError, AttributeErrorKind, DecodeError, ErrorAction, Field};
use crate::wire::family::Family;
use crate::wire::options::CodecOptions;
use crate::wire::update::{MpUnreach, UpdateMessage};

pub(super) fn decode_update(
    body: &[u8],
    base: Base,
    options: &CodecOptions,
) -> Result<DecodedUpdate, DecodeError> {
    let malformed = |field, error: nom::Err<Short>, value| DecodeError::MalformedAttributeList {
        field,
        offset: base.failure(error),
        value,
    };
    let (rest, withdrawn_length) =
        be_u16(body).map_err(|e| malformed(Field::WithdrawnRoutesLength, e, body.len()))?;
    let (rest, withdrawn_field) = take(withdrawn_length)(rest)
        .map_err(|e| malformed(Field::WithdrawnRoutesLength, e, usize::from(withdrawn_length)))?;
    let (rest, attributes_length) =
        be_u16(rest).map_err(|e| malformed(Field::TotalPathAttributeLength, e, rest.len()))?;
    let (nlri_field, attributes_field) = take(attributes_length)(rest).map_err(|e| {
        malformed(Field::TotalPathAttributeLength, e, usize::from(attributes_length))
    })?;

    let ipv4_add_path = options.add_path_receive.contains(Family::Ipv4Unicast);
    let mut withdrawn = Vec::new();
    decode_prefixes(
        withdrawn_field,
        Family::Ipv4Unicast,
        ipv4_add_path,
        Field::WithdrawnRoutes,
        base,
        &mut withdrawn,
    )?;
    let mut nlri = Vec::new();
    decode_prefixes(nlri_field, Family::Ipv4Unicast, ipv4_add_path, Field::Nlri, base, &mut nlri)?;

    let DecodedAttributes {
        mut attributes,
        mp_reach,
        mp_unreach,
        as4_path,
        as4_aggregator,
        mut errors,
        seen,
        overrun,
    } = decode_attributes(attributes_field, base, options)?;

    // RFC 7606 §4 and §5.2: treat-as-withdraw needs the NLRI; an overrun that
    // may hide an MP_REACH_NLRI, with nothing else to withdraw, cannot be
    // handled that way.
    if overrun && nlri.is_empty() && mp_reach.is_none() && mp_unreach.is_none() {
        return Err(DecodeError::MalformedAttributeList {
            field: Field::PathAttribute,
            offset: errors.last().map_or(0, |e| e.offset),
            value: usize::from(attributes_length),
        });
    }

    let announces = !nlri.is_empty() || mp_reach.as_ref().is_some_and(|r| !r.nlri.is_empty());
    if announces {
        // RFC 4271 §6.3 / RFC 7606 §3 d. A LOCAL_PREF missing on iBGP is
        // taken as 100 by the RIB (as FRR and BIRD do), not an error.
        for code in table::WELL_KNOWN_MANDATORY {
            // NEXT_HOP only travels with IPv4 NLRI in the classic field.
            let needed = code != type_code::NEXT_HOP || !nlri.is_empty();
            if needed && !seen.contains(code) {
                errors.push(AttributeError {
                    kind: AttributeErrorKind::MissingWellKnown,
                    type_code: code,
                    flags: 0,
                    offset: base.offset(attributes_field),
                    action: ErrorAction::TreatAsWithdraw,
                    attribute: bytes::Bytes::new(),
                });
            }
        }
    }

    if !options.four_octet_as {
        as4::merge(&mut attributes, as4_path, as4_aggregator);
    }
    if let Some(peer_as) = options.external_peer_as
        && announces
        && seen.contains(type_code::AS_PATH)
        && !errors.iter().any(|e| e.type_code == type_code::AS_PATH)
        && let Some(kind) =
            external_as_path_error(&attributes.as_path, peer_as, !options.skip_first_as_check)
    {
        errors.push(AttributeError {
            kind,
            type_code: type_code::AS_PATH,
            flags: 0,
            offset: base.offset(attributes_field),
            action: ErrorAction::TreatAsWithdraw,
            attribute: bytes::Bytes::new(),
        });
    }

    let mut update = UpdateMessage { withdrawn, attributes, nlri, mp_reach, mp_unreach };
    let outcome = UpdateOutcome { errors };
    if outcome.treat_as_withdraw() {
        withdraw_all(&mut update);
    }
    Ok(DecodedUpdate { update, outcome })
}

/// What is wrong with an external neighbor's (well-formed) AS_PATH, if
/// anything: confederation segments (RFC 5065 §5: they never leave a
/// confederation, and `bgpd` is in none), or a first AS that is not the
/// neighbor's own (RFC 4271 §6.3; RFC 7606 §7.2 asks for treat-as-withdraw)
/// unless `check_first_as` is off (`enforce_first_as = false`, a route
/// server). Checked after AS4_PATH is merged, so a 2-octet neighbor's
/// AS_TRANS is compared as the AS it stands for.
fn external_as_path_error(
    path: &AsPath,
    peer_as: u32,
    check_first_as: bool,
) -> Option<AttributeErrorKind> {
    if path.has_confederation_segments() {
        Some(AttributeErrorKind::ConfederationFromExternal)
    } else if check_first_as && path.first_asn() != Some(peer_as) {
        Some(AttributeErrorKind::FirstAsMismatch)
    } else {
        None
    }
}

/// Rewrite `update` as the withdrawal of every route it announced (RFC 7606 §2
/// treat-as-withdraw, §5.1 for MP_REACH_NLRI).
fn withdraw_all(update: &mut UpdateMessage) {
    update.attributes = PathAttributes::default();
    let announced = mem::take(&mut update.nlri);
    update.withdrawn.extend(announced);
    let Some(reach) = update.mp_reach.take() else {
        return;
    };
    if reach.nlri.is_empty() {
        return;
    }
    match reach.family {
        Family::Ipv4Unicast => update.withdrawn.extend(reach.nlri),
        family => match &mut update.mp_unreach {
            Some(unreach) if unreach.family == family => unreach.withdrawn.extend(reach.nlri),
            Some(unreach) => {
                // Only two families: the other one is IPv4 unicast, whose
                // withdrawals fit the classic field.
                let other = mem::replace(unreach, MpUnreach { family, withdrawn: reach.nlri });
                update.withdrawn.extend(other.withdrawn);
            }
            None => update.mp_unreach = Some(MpUnreach { family, withdrawn: reach.nlri }),
        },
    }
}
