//! RFC 8950: the extended next hop encoding capability (§4) and IPv4 unicast
//! NLRI with an IPv6 next hop in MP_REACH_NLRI (§3), golden vectors written
//! from the RFC diagrams and checked both ways.

use std::net::Ipv4Addr;

use super::*;
use crate::wire::message_type as t;
use crate::wire::open::ExtendedNextHopEntry;

const ORIGIN: &str = "40010100";
const AS_PATH: &str = "4002060201 0000fde9";

fn open_with(capabilities: Vec<Capability>) -> OpenMessage {
    OpenMessage {
        version: 4,
        my_as: 65001,
        hold_time: 90,
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        capabilities,
    }
}

fn open_frame(capabilities: &str) -> Vec<u8> {
    let capabilities = bytes(capabilities);
    let mut body = bytes("04 fde9 005a c0000201");
    body.push(u8::try_from(capabilities.len() + 2).unwrap());
    body.push(2);
    body.push(u8::try_from(capabilities.len()).unwrap());
    body.extend(&capabilities);
    frame(t::OPEN, &body)
}

fn extended() -> CodecOptions {
    CodecOptions {
        four_octet_as: true,
        extended_next_hop: FamilySet::EMPTY.with(Family::Ipv4Unicast),
        ..CodecOptions::default()
    }
}

/// An UPDATE whose only routes are in MP_REACH_NLRI: IPv4 unicast,
/// `next_hop` (hex, its length first), 198.51.100.0/24.
fn ipv4_over(next_hop: &str) -> Vec<u8> {
    let next_hop = bytes(next_hop);
    let mut reach = bytes("0001 01");
    reach.extend(&next_hop);
    reach.extend(bytes("00 18c63364"));
    // MP_REACH_NLRI first, in its extended-length form, as the encoder puts it.
    let mut attributes = bytes("900e");
    attributes.extend(u16::try_from(reach.len()).unwrap().to_be_bytes());
    attributes.extend(reach);
    attributes.extend(bytes(ORIGIN));
    attributes.extend(bytes(AS_PATH));
    let mut body = vec![0, 0];
    body.extend(u16::try_from(attributes.len()).unwrap().to_be_bytes());
    body.extend(attributes);
    frame(t::UPDATE, &body)
}

fn ipv4_update(next_hop: NextHop) -> Message {
    Message::Update(Box::new(UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: AsPath::from_sequence([65001]),
            ..PathAttributes::default()
        },
        mp_reach: Some(MpReach {
            family: Family::Ipv4Unicast,
            next_hop,
            nlri: vec![nlri("198.51.100.0/24")],
        }),
        ..UpdateMessage::default()
    }))
}

const LINK_LOCAL: &str = "fe80000000000000 0000000000000001";
const GLOBAL: &str = "20010db800000000 0000000000000001";

#[test]
fn capability_both_ways() {
    // Code 5, length 12: IPv4/unicast over IPv6, IPv4/VPN (SAFI 128) over IPv6.
    let wire = open_frame("05 0c 0001 0001 0002 0001 0080 0002");
    let open = open_with(vec![Capability::ExtendedNextHop(vec![
        ExtendedNextHopEntry::IPV4_UNICAST_OVER_IPV6,
        ExtendedNextHopEntry { nlri_afi: 1, nlri_safi: 128, next_hop_afi: 2 },
    ])]);
    both_ways(&wire, &Message::Open(open), &CodecOptions::default());
}

#[test]
fn capability_entry_names_the_family() {
    assert_eq!(
        ExtendedNextHopEntry::IPV4_UNICAST_OVER_IPV6.nlri_family(),
        Some(Family::Ipv4Unicast)
    );
    let vpn = ExtendedNextHopEntry { nlri_afi: 1, nlri_safi: 128, next_hop_afi: 2 };
    assert_eq!(vpn.nlri_family(), None);
    let wide = ExtendedNextHopEntry { nlri_afi: 1, nlri_safi: 257, next_hop_afi: 2 };
    assert_eq!(wide.nlri_family(), None);
}

#[test]
fn capability_of_a_partial_tuple_is_malformed() {
    for value in ["05 05 0001 0001 00", "05 00"] {
        let error = decode_message(&open_frame(value), &CodecOptions::default()).unwrap_err();
        assert!(
            matches!(error, DecodeError::MalformedCapability { code: 5, .. }),
            "{value}: {error:?}"
        );
    }
}

#[test]
fn ipv4_nlri_with_a_link_local_next_hop_both_ways() {
    let wire = ipv4_over(&format!("10 {LINK_LOCAL}"));
    let next_hop = NextHop::V6 { global: "fe80::1".parse().unwrap(), link_local: None };
    both_ways(&wire, &ipv4_update(next_hop), &extended());
}

#[test]
fn ipv4_nlri_with_global_and_link_local_next_hops_both_ways() {
    let wire = ipv4_over(&format!("20 {GLOBAL} {LINK_LOCAL}"));
    let next_hop = NextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    both_ways(&wire, &ipv4_update(next_hop), &extended());
}

#[test]
fn ipv4_nlri_with_an_ipv6_next_hop_without_the_capability_resets() {
    // RFC 8950 §3 and RFC 4760 §3: the next hop length does not fit the AFI;
    // RFC 7606 §7.11: a malformed MP_REACH_NLRI resets the session.
    let options = CodecOptions { four_octet_as: true, ..CodecOptions::default() };
    for next_hop in [format!("10 {LINK_LOCAL}"), format!("20 {GLOBAL} {LINK_LOCAL}")] {
        let error = decode_message(&ipv4_over(&next_hop), &options).unwrap_err();
        assert_eq!(error.notification().code, 3, "{next_hop}: {error:?}");
    }
}

#[test]
fn an_ipv4_next_hop_still_decodes_with_the_capability() {
    let wire = ipv4_over("04 c6336401");
    let next_hop = NextHop::V4(Ipv4Addr::new(198, 51, 100, 1));
    both_ways(&wire, &ipv4_update(next_hop), &extended());
}
