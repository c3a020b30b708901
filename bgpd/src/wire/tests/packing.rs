//! UPDATE packing: as few messages as the size limit forces, each within it,
//! every prefix back on decode. Prefixes come from 198.18.0.0/15 (RFC 2544
//! benchmarking space) and 2001:db8::/32; they never leave memory.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::*;

fn host_routes_v4(count: u32) -> Vec<Nlri> {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
    (0..count)
        .map(|i| Nlri::new(IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base + i), 32).unwrap())))
        .collect()
}

fn host_routes_v6(count: u32) -> Vec<Nlri> {
    let base = u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap());
    (0..count)
        .map(|i| {
            Nlri::new(IpNet::V6(Ipv6Net::new(Ipv6Addr::from(base + u128::from(i)), 128).unwrap()))
        })
        .collect()
}

fn attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: AsPath::from_sequence([65001]),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        communities: vec![Community((65001 << 16) | 100)],
        ..PathAttributes::default()
    }
}

/// Split `out` into frames and decode each.
fn decode_all(out: &[u8], options: &CodecOptions) -> Vec<DecodedUpdate> {
    let mut rest = out;
    let mut updates = Vec::new();
    while !rest.is_empty() {
        let length = frame_length(rest, options.max_message_len()).unwrap().unwrap();
        assert!(length <= options.max_message_len());
        updates.push(decode_update(&rest[..length], options));
        rest = &rest[length..];
    }
    updates
}

#[test]
fn ten_thousand_host_routes_fill_every_message() {
    let options = four_octet();
    let routes = host_routes_v4(10_000);
    let mut packer = UpdatePacker::new(options);
    let mut out = BytesMut::new();
    let messages = packer
        .announce(&attributes(), Family::Ipv4Unicast, None, routes.iter().copied(), &mut out)
        .unwrap();
    let updates = decode_all(&out, &options);
    assert_eq!(updates.len(), messages);

    // The bound the byte limit forces: header, two length fields and the
    // attribute bytes in every message, 5 octets per /32.
    let attribute_len = 4 + 9 + 7 + 7;
    let room = 4096 - 19 - 4 - attribute_len;
    let per_message = room / 5;
    assert_eq!(messages, 10_000usize.div_ceil(per_message), "{messages} messages");
    assert_eq!(messages, 13);

    let mut back = Vec::new();
    for update in &updates {
        assert!(update.outcome.is_clean());
        assert_eq!(update.update.attributes, attributes());
        back.extend(update.update.nlri.iter().copied());
    }
    assert_eq!(back, routes);
}

#[test]
fn extended_message_packs_more() {
    let options = CodecOptions { extended_message: true, ..four_octet() };
    let routes = host_routes_v4(10_000);
    let mut out = BytesMut::new();
    let messages = UpdatePacker::new(options)
        .announce(&attributes(), Family::Ipv4Unicast, None, routes.iter().copied(), &mut out)
        .unwrap();
    assert_eq!(messages, 1);
    let back: Vec<Nlri> =
        decode_all(&out, &options).iter().flat_map(|u| u.update.nlri.clone()).collect();
    assert_eq!(back, routes);
}

#[test]
fn ipv6_host_routes_in_mp_reach() {
    let options = four_octet();
    let routes = host_routes_v6(2_000);
    let next_hop = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    let mut v6_attributes = attributes();
    v6_attributes.next_hop = None;
    let mut out = BytesMut::new();
    let messages = UpdatePacker::new(options)
        .announce(
            &v6_attributes,
            Family::Ipv6Unicast,
            Some(next_hop),
            routes.iter().copied(),
            &mut out,
        )
        .unwrap();
    let updates = decode_all(&out, &options);
    assert_eq!(messages, updates.len());
    // 17 octets per /128; MP_REACH header 4 + 5 + 32 + the other attributes.
    let room = 4096 - 19 - 4 - (4 + 5 + 32) - (4 + 9 + 7);
    assert_eq!(messages, 2_000usize.div_ceil(room / 17));
    let mut back = Vec::new();
    for update in updates {
        assert!(update.outcome.is_clean());
        assert_eq!(update.update.attributes, v6_attributes);
        let reach = update.update.mp_reach.unwrap();
        assert_eq!(reach.next_hop, next_hop);
        back.extend(reach.nlri);
    }
    assert_eq!(back, routes);
}

#[test]
fn withdrawals_both_families() {
    let options = four_octet();
    let mut packer = UpdatePacker::new(options);
    let mut out = BytesMut::new();
    let v4 = host_routes_v4(3_000);
    let v6 = host_routes_v6(1_000);
    let messages_v4 = packer.withdraw(Family::Ipv4Unicast, v4.iter().copied(), &mut out).unwrap();
    let messages_v6 = packer.withdraw(Family::Ipv6Unicast, v6.iter().copied(), &mut out).unwrap();
    assert_eq!(messages_v4, 3_000usize.div_ceil((4096 - 23) / 5));
    assert_eq!(messages_v6, 1_000usize.div_ceil((4096 - 23 - 4 - 3) / 17));
    let updates = decode_all(&out, &options);
    let back_v4: Vec<Nlri> = updates.iter().flat_map(|u| u.update.withdrawn.clone()).collect();
    let back_v6: Vec<Nlri> = updates
        .iter()
        .filter_map(|u| u.update.mp_unreach.clone())
        .flat_map(|u| u.withdrawn)
        .collect();
    assert_eq!((back_v4, back_v6), (v4, v6));
    assert_eq!(packer.withdraw(Family::Ipv4Unicast, std::iter::empty(), &mut out).unwrap(), 0);
}

#[test]
fn add_path_identifiers_are_sent() {
    let options =
        CodecOptions { add_path_send: FamilySet::EMPTY.with(Family::Ipv4Unicast), ..four_octet() };
    let receive = CodecOptions {
        add_path_receive: FamilySet::EMPTY.with(Family::Ipv4Unicast),
        ..four_octet()
    };
    let routes: Vec<Nlri> = host_routes_v4(1_000)
        .into_iter()
        .enumerate()
        .map(|(i, n)| Nlri { path_id: Some(i as u32), ..n })
        .collect();
    let mut out = BytesMut::new();
    UpdatePacker::new(options)
        .announce(&attributes(), Family::Ipv4Unicast, None, routes.iter().copied(), &mut out)
        .unwrap();
    let back: Vec<Nlri> =
        decode_all(&out, &receive).iter().flat_map(|u| u.update.nlri.clone()).collect();
    assert_eq!(back, routes);
}

#[test]
fn next_hop_rules() {
    let mut packer = UpdatePacker::new(four_octet());
    let mut out = BytesMut::new();
    let mut no_next_hop = attributes();
    no_next_hop.next_hop = None;
    let routes = host_routes_v4(1);
    let error =
        packer.announce(&no_next_hop, Family::Ipv4Unicast, None, routes.iter().copied(), &mut out);
    assert!(matches!(error, Err(EncodeError::NextHopMismatch { .. })));
    let error =
        packer.announce(&no_next_hop, Family::Ipv6Unicast, None, host_routes_v6(1), &mut out);
    assert!(matches!(error, Err(EncodeError::NextHopMismatch { .. })));
    // An explicit IPv4 next hop replaces the attribute's.
    let override_hop = Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 99)));
    packer
        .announce(
            &attributes(),
            Family::Ipv4Unicast,
            override_hop,
            routes.iter().copied(),
            &mut out,
        )
        .unwrap();
    let update = decode_all(&out, &four_octet()).remove(0);
    assert_eq!(update.update.attributes.next_hop, Some(Ipv4Addr::new(192, 0, 2, 99)));
}

#[test]
fn holding_the_tail_leaves_out_the_last_partial_message() {
    let options = four_octet();
    let routes = host_routes_v4(2_000);
    let mut all = BytesMut::new();
    let messages = UpdatePacker::new(options)
        .announce(&attributes(), Family::Ipv4Unicast, None, routes.iter().copied(), &mut all)
        .unwrap();
    let mut out = BytesMut::new();
    let packed = UpdatePacker::new(options)
        .announce_holding_tail(
            &attributes(),
            Family::Ipv4Unicast,
            None,
            routes.iter().copied(),
            &mut out,
        )
        .unwrap();
    assert_eq!(packed.messages, messages - 1);
    // The full messages are byte for byte the same; the held prefixes are
    // exactly those of the last one.
    let updates = decode_all(&all, &options);
    assert_eq!(&all[..out.len()], &out[..]);
    assert_eq!(packed.held, updates.last().unwrap().update.nlri.len());
    // IPv6 (MP_REACH_NLRI) likewise.
    let routes = host_routes_v6(1_000);
    let next_hop = Some(NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None });
    let mut all = BytesMut::new();
    let messages = UpdatePacker::new(options)
        .announce(&attributes(), Family::Ipv6Unicast, next_hop, routes.iter().copied(), &mut all)
        .unwrap();
    let mut out = BytesMut::new();
    let packed = UpdatePacker::new(options)
        .announce_holding_tail(
            &attributes(),
            Family::Ipv6Unicast,
            next_hop,
            routes.iter().copied(),
            &mut out,
        )
        .unwrap();
    assert_eq!(packed.messages, messages - 1);
    assert_eq!(&all[..out.len()], &out[..]);
    let last = decode_all(&all, &options).pop().unwrap();
    assert_eq!(packed.held, last.update.mp_reach.unwrap().nlri.len());
    // Fewer prefixes than one message: nothing written, all held.
    let mut out = BytesMut::new();
    let packed = UpdatePacker::new(options)
        .announce_holding_tail(
            &attributes(),
            Family::Ipv4Unicast,
            None,
            host_routes_v4(3).iter().copied(),
            &mut out,
        )
        .unwrap();
    assert_eq!(packed, Packed { messages: 0, held: 3 });
    assert!(out.is_empty());
}
