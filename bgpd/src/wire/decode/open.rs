//! OPEN decoding: RFC 4271 §4.2 and §6.2, capabilities (RFC 5492 §4) and the
//! extended optional parameters length of RFC 9072 §2.

use std::net::Ipv4Addr;

use bytes::Bytes;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u32};

use super::{Base, ParseResult};
use crate::wire::error::{BGP_VERSION, DecodeError, Field};
use crate::wire::family::AfiSafi;
use crate::wire::open::{
    AddPathFamily, AddPathMode, Capability, ExtendedNextHopEntry, GracefulRestartCapability,
    GracefulRestartFamily, OpenMessage, capability_code,
};

/// Optional parameter type carrying capabilities (RFC 5492 §4).
const PARAMETER_CAPABILITIES: u8 = 2;
/// Non-Ext OP Type of RFC 9072 §2: marks the extended length form.
const EXTENDED_PARAMETERS: u8 = 255;

pub(super) fn decode_open(body: &[u8], base: Base) -> Result<OpenMessage, DecodeError> {
    type Fixed = (u8, u16, u16, u32, u8);
    fn fixed(input: &[u8]) -> ParseResult<'_, Fixed> {
        (be_u8, be_u16, be_u16, be_u32, be_u8).parse(input)
    }
    let malformed = |field, offset, value| DecodeError::MalformedOpen { field, offset, value };
    let (rest, (version, my_as, hold_time, identifier, parameters_length)) = fixed(body)
        .map_err(|e| malformed(Field::OptionalParametersLength, base.failure(e), body.len()))?;
    let offset = base.offset(body);
    if version != BGP_VERSION {
        return Err(DecodeError::UnsupportedVersion { version, offset });
    }
    if hold_time == 1 || hold_time == 2 {
        return Err(DecodeError::UnacceptableHoldTime { hold_time, offset: offset + 3 });
    }
    let router_id = Ipv4Addr::from(identifier);
    if identifier == 0 {
        return Err(DecodeError::BadBgpIdentifier { identifier: router_id, offset: offset + 5 });
    }

    let extended =
        parameters_length == EXTENDED_PARAMETERS && rest.first() == Some(&EXTENDED_PARAMETERS);
    let (parameters, trailing, length_width) = if extended {
        fn extended_length(input: &[u8]) -> ParseResult<'_, u16> {
            let (input, _) = be_u8(input)?;
            be_u16(input)
        }
        let (rest, length) = extended_length(rest).map_err(|e| {
            malformed(
                Field::OptionalParametersLength,
                base.failure(e),
                usize::from(parameters_length),
            )
        })?;
        let (trailing, parameters) = take(length)(rest).map_err(|e: nom::Err<super::Short>| {
            malformed(Field::OptionalParametersLength, base.failure(e), usize::from(length))
        })?;
        (parameters, trailing, 2)
    } else {
        let (trailing, parameters) =
            take(parameters_length)(rest).map_err(|e: nom::Err<super::Short>| {
                malformed(
                    Field::OptionalParametersLength,
                    base.failure(e),
                    usize::from(parameters_length),
                )
            })?;
        (parameters, trailing, 1)
    };
    if !trailing.is_empty() {
        return Err(malformed(
            Field::OptionalParametersLength,
            base.offset(trailing),
            trailing.len(),
        ));
    }

    let mut capabilities = Vec::new();
    let mut input = parameters;
    while !input.is_empty() {
        let (rest, (parameter_type, value)) = parameter(input, length_width)
            .map_err(|e| malformed(Field::OptionalParameter, base.failure(e), input.len()))?;
        if parameter_type != PARAMETER_CAPABILITIES {
            return Err(DecodeError::UnsupportedOptionalParameter {
                parameter_type,
                offset: base.offset(input),
            });
        }
        decode_capabilities(value, base, &mut capabilities)?;
        input = rest;
    }
    Ok(OpenMessage { version, my_as, hold_time, router_id, capabilities })
}

/// One optional parameter: type (1), length (1, or 2 in the RFC 9072 form), value.
fn parameter(input: &[u8], length_width: u8) -> ParseResult<'_, (u8, &[u8])> {
    let (input, parameter_type) = be_u8(input)?;
    let (input, length) =
        if length_width == 2 { be_u16(input)? } else { be_u8.map(u16::from).parse(input)? };
    let (input, value) = take(length)(input)?;
    Ok((input, (parameter_type, value)))
}

fn decode_capabilities(
    mut input: &[u8],
    base: Base,
    out: &mut Vec<Capability>,
) -> Result<(), DecodeError> {
    fn one(input: &[u8]) -> ParseResult<'_, (u8, &[u8])> {
        let (input, (code, length)) = (be_u8, be_u8).parse(input)?;
        let (input, value) = take(length)(input)?;
        Ok((input, (code, value)))
    }
    while !input.is_empty() {
        let (rest, (code, value)) = one(input).map_err(|e| DecodeError::MalformedOpen {
            field: Field::Capability,
            offset: base.failure(e),
            value: input.len(),
        })?;
        let raw = &input[..input.len() - rest.len()];
        out.push(decode_capability(code, value, raw, base)?);
        input = rest;
    }
    Ok(())
}

fn decode_capability(
    code: u8,
    value: &[u8],
    raw: &[u8],
    base: Base,
) -> Result<Capability, DecodeError> {
    use capability_code as c;
    let malformed = || DecodeError::MalformedCapability {
        code,
        offset: base.offset(raw),
        length: value.len(),
        capability: Bytes::copy_from_slice(raw),
    };
    let capability = match (code, value) {
        (c::MULTIPROTOCOL, &[afi_high, afi_low, _reserved, safi]) => {
            Capability::Multiprotocol(AfiSafi::new(u16::from_be_bytes([afi_high, afi_low]), safi))
        }
        (c::ROUTE_REFRESH, []) => Capability::RouteRefresh { cisco: false },
        (c::ROUTE_REFRESH_CISCO, []) => Capability::RouteRefresh { cisco: true },
        (c::ENHANCED_ROUTE_REFRESH, []) => Capability::EnhancedRouteRefresh,
        (c::EXTENDED_MESSAGE, []) => Capability::ExtendedMessage,
        (c::FOUR_OCTET_AS, &[a, b, c2, d]) => {
            Capability::FourOctetAs(u32::from_be_bytes([a, b, c2, d]))
        }
        (c::GRACEFUL_RESTART, [flags_time_high, time_low, families @ ..])
            if families.len() % 4 == 0 =>
        {
            let families = families
                .chunks_exact(4)
                .map(|f| GracefulRestartFamily {
                    afi_safi: AfiSafi::new(u16::from_be_bytes([f[0], f[1]]), f[2]),
                    forwarding_preserved: f[3] & 0x80 != 0,
                })
                .collect();
            Capability::GracefulRestart(GracefulRestartCapability {
                restart_state: flags_time_high & 0x80 != 0,
                notification: flags_time_high & 0x40 != 0,
                restart_time: u16::from_be_bytes([flags_time_high & 0x0F, *time_low]),
                families,
            })
        }
        (c::ADD_PATH, entries) if entries.len() % 4 == 0 => {
            let mut families = Vec::with_capacity(entries.len() / 4);
            for entry in entries.chunks_exact(4) {
                let Some(mode) = AddPathMode::from_u8(entry[3]) else {
                    // A Send/Receive value we cannot honour (RFC 7911 §4).
                    return Err(DecodeError::UnsupportedCapability {
                        code,
                        offset: base.offset(raw),
                        capability: Bytes::copy_from_slice(raw),
                    });
                };
                families.push(AddPathFamily {
                    afi_safi: AfiSafi::new(u16::from_be_bytes([entry[0], entry[1]]), entry[2]),
                    mode,
                });
            }
            Capability::AddPath(families)
        }
        // RFC 8950 §4: one or more 6-octet tuples.
        (c::EXTENDED_NEXT_HOP, entries) if !entries.is_empty() && entries.len() % 6 == 0 => {
            Capability::ExtendedNextHop(
                entries
                    .chunks_exact(6)
                    .map(|e| ExtendedNextHopEntry {
                        nlri_afi: u16::from_be_bytes([e[0], e[1]]),
                        nlri_safi: u16::from_be_bytes([e[2], e[3]]),
                        next_hop_afi: u16::from_be_bytes([e[4], e[5]]),
                    })
                    .collect(),
            )
        }
        // Informational only: a malformed one is kept raw rather than fatal.
        (c::FQDN, value) => decode_fqdn(value)
            .unwrap_or_else(|| Capability::Unknown { code, value: Bytes::copy_from_slice(value) }),
        (
            c::MULTIPROTOCOL
            | c::ROUTE_REFRESH
            | c::ROUTE_REFRESH_CISCO
            | c::ENHANCED_ROUTE_REFRESH
            | c::EXTENDED_MESSAGE
            | c::FOUR_OCTET_AS
            | c::GRACEFUL_RESTART
            | c::ADD_PATH
            | c::EXTENDED_NEXT_HOP,
            _,
        ) => return Err(malformed()),
        (code, value) => Capability::Unknown { code, value: Bytes::copy_from_slice(value) },
    };
    Ok(capability)
}

/// FQDN capability: hostname length (1), hostname, domain length (1), domain.
fn decode_fqdn(value: &[u8]) -> Option<Capability> {
    let (&host_length, rest) = value.split_first()?;
    let (hostname, rest) = rest.split_at_checked(usize::from(host_length))?;
    let (&domain_length, rest) = rest.split_first()?;
    let (domain, rest) = rest.split_at_checked(usize::from(domain_length))?;
    if !rest.is_empty() {
        return None;
    }
    Some(Capability::Fqdn {
        hostname: String::from_utf8(hostname.to_vec()).ok()?,
        domain: String::from_utf8(domain.to_vec()).ok()?,
    })
}
