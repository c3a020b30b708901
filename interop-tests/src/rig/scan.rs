//! The sink's UPDATE reader: walks the prefixes of an UPDATE body (RFC 4271 §4.3: withdrawn
//! routes and NLRI) and of MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760 §3, §4) without building
//! a message, so the rig spends a few nanoseconds per prefix instead of allocating per UPDATE.
//! The rig never negotiates ADD-PATH, so NLRI carry no path identifiers. Everything is
//! bounds-checked: a malformed body is an error, never a panic.

use bgpd::wire::attributes::type_code;

/// A prefix as the sink keys it: its address octets as a right-aligned number (the varying
/// bits low, where FxHash and hashbrown's bucket index look: left-aligned IPv4 addresses in a
/// `u128` made the set collide so much that inserting 1.23 M prefixes took a second) and
/// `AFI << 8 | length`.
pub(crate) type Key = (u128, u32);

/// Calls `on(announced, key)` for every prefix of the UPDATE `body` (the message after its
/// 19-octet header). Returns whether the message is an End-of-RIB marker (RFC 4724 §2): no
/// prefix and no attribute but an empty MP_UNREACH_NLRI.
pub(crate) fn scan(body: &[u8], mut on: impl FnMut(bool, Key)) -> Result<bool, String> {
    let withdrawn_len = u16_at(body, 0)?;
    let withdrawn = slice(body, 2, withdrawn_len)?;
    let attributes_len = u16_at(body, 2 + withdrawn_len)?;
    let mut attributes = slice(body, 4 + withdrawn_len, attributes_len)?;
    let nlri = &body[4 + withdrawn_len + attributes_len..];
    let mut prefixes = walk(withdrawn, 1, false, &mut on)? + walk(nlri, 1, true, &mut on)?;
    let mut other_attributes = false;
    while !attributes.is_empty() {
        let flags = attributes[0];
        let code = *attributes.get(1).ok_or("attribute header cut short")?;
        let (len, header) = if flags & 0x10 != 0 {
            (u16_at(attributes, 2)?, 4)
        } else {
            (usize::from(*attributes.get(2).ok_or("attribute length missing")?), 3)
        };
        let value = slice(attributes, header, len)?;
        match code {
            type_code::MP_REACH_NLRI => {
                let afi = u16_at(value, 0)?;
                let next_hop_len = usize::from(*value.get(3).ok_or("MP_REACH_NLRI cut short")?);
                let nlri = value.get(5 + next_hop_len..).ok_or("MP_REACH_NLRI cut short")?;
                prefixes += walk(nlri, afi, true, &mut on)?;
                other_attributes = true;
            }
            type_code::MP_UNREACH_NLRI => {
                let afi = u16_at(value, 0)?;
                let withdrawn = value.get(3..).ok_or("MP_UNREACH_NLRI cut short")?;
                prefixes += walk(withdrawn, afi, false, &mut on)?;
            }
            _ => other_attributes = true,
        }
        attributes = &attributes[header + len..];
    }
    Ok(prefixes == 0 && !other_attributes)
}

/// Reports each prefix of one NLRI field; returns how many there were.
fn walk(
    mut field: &[u8],
    afi: usize,
    announced: bool,
    on: &mut impl FnMut(bool, Key),
) -> Result<usize, String> {
    let mut count = 0;
    while let Some((&len, rest)) = field.split_first() {
        let octets = usize::from(len).div_ceil(8);
        if octets > 16 {
            return Err(format!("prefix length {len}"));
        }
        let address = rest.get(..octets).ok_or("prefix cut short")?;
        let bits = address.iter().fold(0u128, |bits, octet| bits << 8 | u128::from(*octet));
        on(announced, (bits, (afi as u32) << 8 | u32::from(len)));
        field = &rest[octets..];
        count += 1;
    }
    Ok(count)
}

fn u16_at(bytes: &[u8], at: usize) -> Result<usize, String> {
    match bytes.get(at..at + 2) {
        Some(&[high, low]) => Ok(usize::from(u16::from_be_bytes([high, low]))),
        _ => Err(format!("length field at {at} cut short")),
    }
}

fn slice(bytes: &[u8], at: usize, len: usize) -> Result<&[u8], String> {
    bytes.get(at..at + len).ok_or_else(|| format!("{len} octets at {at} run past the message"))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use bgpd::wire::{
        CodecOptions, Decoded, Family, NextHop, decode_message, encode_message, frame_length,
    };

    use super::*;
    use crate::rig::encode_table;
    use crate::table::{Table, TableSpec};

    fn options() -> CodecOptions {
        CodecOptions { four_octet_as: true, ..CodecOptions::default() }
    }

    /// Every frame of `bytes`: (scanned announced, scanned withdrawn, End-of-RIB) against the
    /// decoder's view.
    fn agree(bytes: &[u8]) -> usize {
        let mut rest = bytes;
        let mut total = 0;
        while let Some(len) = frame_length(rest, 4096).unwrap() {
            let (mut announced, mut withdrawn) = (0, 0);
            let eor = scan(&rest[19..len], |a, _| if a { announced += 1 } else { withdrawn += 1 })
                .unwrap();
            let Decoded::Update(d) = decode_message(&rest[..len], &options()).unwrap() else {
                panic!("not an UPDATE")
            };
            let u = &d.update;
            assert_eq!(announced, u.nlri.len() + u.mp_reach.as_ref().map_or(0, |r| r.nlri.len()));
            let unreach = u.mp_unreach.as_ref().map_or(0, |r| r.withdrawn.len());
            assert_eq!(withdrawn, u.withdrawn.len() + unreach);
            assert_eq!(eor, u.end_of_rib_family().is_some());
            total += announced;
            rest = &rest[len..];
        }
        total
    }

    #[test]
    fn scanning_counts_what_the_decoder_decodes() {
        let table = Table::generate(&TableSpec::internet(5, 3_000, 700, 65001));
        let v4 = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        let bytes = encode_table(&table, Family::Ipv4Unicast, v4, &options()).unwrap();
        assert_eq!(agree(&bytes), 3_000);
        let v6 = NextHop::V6 { global: "2001:db8:1::1".parse().unwrap(), link_local: None };
        let bytes = encode_table(&table, Family::Ipv6Unicast, v6, &options()).unwrap();
        assert_eq!(agree(&bytes), 700);
        // Withdrawals of both families.
        let mut out = bytes::BytesMut::new();
        let mut packer = bgpd::wire::UpdatePacker::new(options());
        let v4_prefixes = table.v4.iter().take(50).map(|(p, _)| ipnet::IpNet::V4(*p).into());
        packer.withdraw(Family::Ipv4Unicast, v4_prefixes, &mut out).unwrap();
        let v6_prefixes = table.v6.iter().take(50).map(|(p, _)| ipnet::IpNet::V6(*p).into());
        packer.withdraw(Family::Ipv6Unicast, v6_prefixes, &mut out).unwrap();
        let keepalive_free = out.clone();
        assert_eq!(agree(&keepalive_free), 0);
    }

    #[test]
    fn distinct_prefixes_get_distinct_keys() {
        let table = Table::generate(&TableSpec::internet(5, 3_000, 700, 65001));
        let mut keys = std::collections::HashSet::new();
        for (family, next_hop) in [
            (Family::Ipv4Unicast, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))),
            (
                Family::Ipv6Unicast,
                NextHop::V6 { global: "2001:db8:1::1".parse().unwrap(), link_local: None },
            ),
        ] {
            let bytes = encode_table(&table, family, next_hop, &options()).unwrap();
            let mut rest = &bytes[..];
            while let Some(len) = frame_length(rest, 4096).unwrap() {
                scan(&rest[19..len], |_, key| assert!(keys.insert(key), "{key:?} twice")).unwrap();
                rest = &rest[len..];
            }
        }
        assert_eq!(keys.len(), 3_700);
    }

    #[test]
    fn truncated_bodies_are_errors_not_panics() {
        let mut out = bytes::BytesMut::new();
        let marker = bgpd::wire::Message::Update(Box::new(bgpd::wire::UpdateMessage::end_of_rib(
            Family::Ipv6Unicast,
        )));
        encode_message(&marker, &options(), &mut out).unwrap();
        assert_eq!(scan(&out[19..], |_, _| {}), Ok(true));
        for cut in 0..out.len() - 19 {
            let _ = scan(&out[19..19 + cut], |_, _| {});
        }
        assert!(scan(&[0, 0, 0, 0, 33, 1], |_, _| {}).is_err(), "a /33 needs 5 octets");
        assert!(scan(&[0, 5, 0], |_, _| {}).is_err());
    }
}
