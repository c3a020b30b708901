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

/// How many prefixes `input` holds, reading only their length octets (a
/// truncated last one counts; the decoder reports it). At most
/// `input.len()`, so reserving it is bounded by the message.
fn count_prefixes(input: &[u8], add_path: bool) -> usize {
    let id = if add_path { 4 } else { 0 };
    let mut count = 0;
    let mut position = 0;
    while let Some(&bits) = input.get(position + id) {
        position += id + 1 + usize::from(bits).div_ceil(8);
        count += 1;
    }
    count
}

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
    // Exactly the room the prefixes need, so the list is allocated once (an
    // estimate from the length grew it a second time for /24s and
    // over-reserved for IPv6); counting reads only the length octets.
    out.reserve(count_prefixes(input, add_path));
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

#[cfg(test)]
mod tests {
    use super::count_prefixes;

    #[test]
    fn prefixes_are_counted_by_their_length_octets() {
        // 192.0.2.0/24, 0.0.0.0/0, 198.51.100.7/32.
        let plain = [24, 192, 0, 2, 0, 32, 198, 51, 100, 7];
        assert_eq!(count_prefixes(&plain, false), 3);
        assert_eq!(count_prefixes(&[], false), 0);
        // A truncated last prefix counts (the decoder reports it).
        assert_eq!(count_prefixes(&[24, 192, 0], false), 1);
        // With path identifiers: 4 octets before each length.
        let with_ids = [0, 0, 0, 1, 24, 192, 0, 2, 0, 0, 0, 2, 0];
        assert_eq!(count_prefixes(&with_ids, true), 2);
        // A truncated identifier is not a prefix.
        assert_eq!(count_prefixes(&[0, 0, 0, 1, 8, 10, 0, 0], true), 1);
    }
}
