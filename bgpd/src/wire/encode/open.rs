//! OPEN encoding (RFC 4271 §4.2) and capabilities (RFC 5492 §4 and the RFCs
//! named in [`crate::wire::open`]).
//!
//! All capabilities travel in one optional parameter of type 2, as BIRD sends
//! them (RFC 5492 §4 allows one or several); a parameter is split when it
//! would exceed 255 octets, and the RFC 9072 extended length form is used only
//! when the parameters together exceed 255 octets.

use bytes::{BufMut, BytesMut};

use crate::wire::error::EncodeError;
use crate::wire::open::{Capability, OpenMessage, capability_code};

const PARAMETER_CAPABILITIES: u8 = 2;

pub(super) fn encode_open(open: &OpenMessage, out: &mut BytesMut) -> Result<(), EncodeError> {
    out.put_u8(open.version);
    out.put_u16(open.my_as);
    out.put_u16(open.hold_time);
    out.put_slice(&open.router_id.octets());

    // Capabilities first into a scratch buffer (OPEN is rare), remembering
    // where each ends so parameters split between capabilities.
    let mut capabilities = BytesMut::new();
    let mut ends = Vec::with_capacity(open.capabilities.len());
    for capability in &open.capabilities {
        put_capability(capability, &mut capabilities)?;
        ends.push(capabilities.len());
    }
    let mut groups = Vec::new();
    let mut group_start = 0;
    let mut previous_end = 0;
    for &end in &ends {
        if end - group_start > 255 {
            groups.push(group_start..previous_end);
            group_start = previous_end;
        }
        previous_end = end;
    }
    if previous_end > group_start {
        groups.push(group_start..previous_end);
    }

    let short_total: usize = groups.iter().map(|g| 2 + g.len()).sum();
    if short_total <= 255 {
        out.put_u8(short_total as u8); // checked above
        for group in groups {
            out.put_u8(PARAMETER_CAPABILITIES);
            out.put_u8(group.len() as u8); // groups are at most 255
            out.put_slice(&capabilities[group]);
        }
    } else {
        // RFC 9072 §2: Non-Ext OP Len 255, Non-Ext OP Type 255, 2-octet length,
        // and 2-octet parameter lengths.
        let total: usize = groups.iter().map(|g| 3 + g.len()).sum();
        let wire = u16::try_from(total)
            .map_err(|_| EncodeError::OptionalParametersTooLong { length: total })?;
        out.put_u8(255);
        out.put_u8(255);
        out.put_u16(wire);
        for group in groups {
            out.put_u8(PARAMETER_CAPABILITIES);
            out.put_u16(group.len() as u16); // groups are at most 255
            out.put_slice(&capabilities[group]);
        }
    }
    Ok(())
}

fn put_capability(capability: &Capability, out: &mut BytesMut) -> Result<(), EncodeError> {
    use capability_code as c;
    let start = out.len();
    let code = match capability {
        Capability::Multiprotocol(_) => c::MULTIPROTOCOL,
        Capability::RouteRefresh { cisco: false } => c::ROUTE_REFRESH,
        Capability::RouteRefresh { cisco: true } => c::ROUTE_REFRESH_CISCO,
        Capability::EnhancedRouteRefresh => c::ENHANCED_ROUTE_REFRESH,
        Capability::FourOctetAs(_) => c::FOUR_OCTET_AS,
        Capability::GracefulRestart(_) => c::GRACEFUL_RESTART,
        Capability::AddPath(_) => c::ADD_PATH,
        Capability::ExtendedMessage => c::EXTENDED_MESSAGE,
        Capability::ExtendedNextHop(_) => c::EXTENDED_NEXT_HOP,
        Capability::Fqdn { .. } => c::FQDN,
        Capability::Unknown { code, .. } => *code,
    };
    out.put_u8(code);
    out.put_u8(0);
    match capability {
        Capability::Multiprotocol(afi_safi) => {
            out.put_u16(afi_safi.afi);
            out.put_u8(0);
            out.put_u8(afi_safi.safi);
        }
        Capability::RouteRefresh { .. }
        | Capability::EnhancedRouteRefresh
        | Capability::ExtendedMessage => {}
        Capability::FourOctetAs(asn) => out.put_u32(*asn),
        Capability::GracefulRestart(gr) => {
            let restart_flags =
                (u16::from(gr.restart_state) << 15) | (u16::from(gr.notification) << 14);
            out.put_u16(restart_flags | (gr.restart_time & 0x0FFF));
            for family in &gr.families {
                out.put_u16(family.afi_safi.afi);
                out.put_u8(family.afi_safi.safi);
                out.put_u8(if family.forwarding_preserved { 0x80 } else { 0 });
            }
        }
        Capability::AddPath(families) => {
            for family in families {
                out.put_u16(family.afi_safi.afi);
                out.put_u8(family.afi_safi.safi);
                out.put_u8(family.mode as u8);
            }
        }
        Capability::ExtendedNextHop(entries) => {
            for entry in entries {
                out.put_u16(entry.nlri_afi);
                out.put_u16(entry.nlri_safi);
                out.put_u16(entry.next_hop_afi);
            }
        }
        Capability::Fqdn { hostname, domain } => {
            for name in [hostname, domain] {
                let length = u8::try_from(name.len())
                    .map_err(|_| EncodeError::CapabilityTooLong { code, length: name.len() })?;
                out.put_u8(length);
                out.put_slice(name.as_bytes());
            }
        }
        Capability::Unknown { value, .. } => out.put_slice(value),
    }
    let length = out.len() - start - 2;
    out[start + 1] =
        u8::try_from(length).map_err(|_| EncodeError::CapabilityTooLong { code, length })?;
    Ok(())
}
