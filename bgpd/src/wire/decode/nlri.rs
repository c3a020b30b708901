//! Prefix lists: withdrawn routes and NLRI (RFC 4271 §4.3), the prefix lists
//! inside MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §5), ADD-PATH path
//! identifiers (RFC 7911 §3).
//!
//! ```text
//! | Path Identifier (4, ADD-PATH only) | Length (1, bits) | Prefix (ceil(Length/8)) |
//! ```
//!
//! This is the hot loop of the decoder (one iteration per route), so it reads
//! the slice by hand rather than through nom combinators, and never allocates
//! beyond the output vector. A prefix length above 32/128 or a prefix
//! overrunning its field resets the session (RFC 7606 §5.3).

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::Base;
use crate::wire::error::{DecodeError, Field};
use crate::wire::family::Family;
use crate::wire::update::Nlri;

/// Append every prefix of `input` to `out`.
pub(super) fn decode_prefixes(
    input: &[u8],
    family: Family,
    add_path: bool,
    field: Field,
    base: Base,
    out: &mut Vec<Nlri>,
) -> Result<(), DecodeError> {
    let max_bits: u8 = match family {
        Family::Ipv4Unicast => 32,
        Family::Ipv6Unicast => 128,
    };
    // A /32 takes 5 octets; reserving for that avoids regrowth on full messages.
    out.reserve(input.len() / if add_path { 9 } else { 5 });
    let mut position = 0;
    while position < input.len() {
        let start = position;
        let invalid = |prefix_length| DecodeError::InvalidNetworkField {
            field,
            offset: base.offset(input) + start,
            prefix_length,
        };
        let path_id = if add_path {
            let id = input.get(position..position + 4).ok_or_else(|| invalid(0))?;
            position += 4;
            Some(u32::from_be_bytes([id[0], id[1], id[2], id[3]]))
        } else {
            None
        };
        let bits = *input.get(position).ok_or_else(|| invalid(0))?;
        position += 1;
        if bits > max_bits {
            return Err(invalid(bits));
        }
        let octets = usize::from(bits).div_ceil(8);
        let bytes = input.get(position..position + octets).ok_or_else(|| invalid(bits))?;
        position += octets;
        let prefix = match family {
            Family::Ipv4Unicast => {
                let mut address = [0u8; 4];
                address[..octets].copy_from_slice(bytes);
                mask_tail(&mut address[..octets], bits);
                Ipv4Net::new(Ipv4Addr::from(address), bits).map(IpNet::V4)
            }
            Family::Ipv6Unicast => {
                let mut address = [0u8; 16];
                address[..octets].copy_from_slice(bytes);
                mask_tail(&mut address[..octets], bits);
                Ipv6Net::new(Ipv6Addr::from(address), bits).map(IpNet::V6)
            }
        }
        .map_err(|_| invalid(bits))?;
        out.push(Nlri { prefix, path_id });
    }
    Ok(())
}

/// Clear the bits past the prefix length in the last octet, so equal prefixes
/// compare equal whatever trailing bits a peer sent.
fn mask_tail(bytes: &mut [u8], bits: u8) {
    let spare = (8 - bits % 8) % 8;
    if let Some(last) = bytes.last_mut() {
        *last &= 0xFFu8 << spare;
    }
}
