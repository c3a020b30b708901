//! Golden frames were computed independently of this code (a few lines of
//! Python over the RFC 4443 §2.3 checksum), then checked both ways here.

use proptest::prelude::*;

use super::*;

const CLIENT_MAC: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x0c]);
const NODE_MAC: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x01]);
const VIP: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50);
const CLIENT_IP: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x0c);

#[rustfmt::skip]
const SOLICITATION: [u8; 86] = [
    0x33, 0x33, 0xff, 0x00, 0x00, 0x50, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x86, 0xdd,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x50,
    0x87, 0x00, 0x1b, 0x75, 0x00, 0x00, 0x00, 0x00,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50,
    0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0c,
];

#[rustfmt::skip]
const ADVERTISEMENT: [u8; 86] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,
    0x88, 0x00, 0x89, 0xcb, 0x60, 0x00, 0x00, 0x00,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50,
    0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
];

#[rustfmt::skip]
const UNSOLICITED: [u8; 86] = [
    0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50,
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x88, 0x00, 0xf8, 0x8c, 0x20, 0x00, 0x00, 0x00,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50,
    0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
];

fn encoded(packet: &NdpPacket) -> Vec<u8> {
    let mut out = [0; NDP_FRAME_MAX];
    let length = packet.encode(&mut out);
    out[..length].to_vec()
}

#[test]
fn solicited_node_group_and_its_mac() {
    assert_eq!(solicited_node(VIP), "ff02::1:ff00:50".parse::<Ipv6Addr>().unwrap());
    assert_eq!(multicast_mac(solicited_node(VIP)), MacAddress([0x33, 0x33, 0xff, 0, 0, 0x50]));
    assert_eq!(multicast_mac(ALL_NODES), MacAddress([0x33, 0x33, 0, 0, 0, 1]));
}

#[test]
fn golden_solicitation_both_ways() {
    let packet = NdpPacket::parse(&SOLICITATION).unwrap();
    assert_eq!(
        packet,
        NdpPacket {
            ethernet_destination: MacAddress([0x33, 0x33, 0xff, 0, 0, 0x50]),
            ethernet_source: CLIENT_MAC,
            source: CLIENT_IP,
            destination: solicited_node(VIP),
            message: NdpMessage::Solicitation {
                target: VIP,
                source_link_address: Some(CLIENT_MAC)
            },
        }
    );
    assert_eq!(encoded(&packet), SOLICITATION);
}

#[test]
fn golden_advertisement_answers_the_solicitation() {
    let solicitation = NdpPacket::parse(&SOLICITATION).unwrap();
    let answer = NdpPacket::advertisement_for(&solicitation, NODE_MAC).unwrap();
    assert_eq!(encoded(&answer), ADVERTISEMENT);
    assert_eq!(NdpPacket::parse(&ADVERTISEMENT).unwrap(), answer);
    assert_eq!(NdpPacket::advertisement_for(&answer, NODE_MAC), None);
}

#[test]
fn golden_unsolicited_advertisement_has_override_only() {
    let packet = NdpPacket::unsolicited_advertisement(VIP, NODE_MAC);
    assert_eq!(encoded(&packet), UNSOLICITED);
    let NdpMessage::Advertisement { flags, .. } = NdpPacket::parse(&UNSOLICITED).unwrap().message
    else {
        panic!("an advertisement");
    };
    assert_eq!(flags, AdvertisementFlags { router: false, solicited: false, override_entry: true });
}

#[test]
fn duplicate_address_detection_is_answered_to_all_nodes() {
    let probe = NdpPacket {
        ethernet_destination: multicast_mac(solicited_node(VIP)),
        ethernet_source: CLIENT_MAC,
        source: Ipv6Addr::UNSPECIFIED,
        destination: solicited_node(VIP),
        message: NdpMessage::Solicitation { target: VIP, source_link_address: None },
    };
    let parsed = NdpPacket::parse(&encoded(&probe)).unwrap();
    let answer = NdpPacket::advertisement_for(&parsed, NODE_MAC).unwrap();
    assert_eq!(answer.destination, ALL_NODES);
    assert_eq!(answer.ethernet_destination, multicast_mac(ALL_NODES));
    assert!(NdpPacket::parse(&encoded(&answer)).is_ok());
}

#[test]
fn invalid_frames_are_named() {
    let with = |offset: usize, byte: u8| {
        let mut frame = SOLICITATION;
        frame[offset] = byte;
        NdpPacket::parse(&frame)
    };
    assert_eq!(
        NdpPacket::parse(&SOLICITATION[..70]),
        Err(NdpError::Truncated { length: 70, needed: 78 })
    );
    assert_eq!(with(12, 0x08), Err(NdpError::NotIpv6 { ethertype: 0x08dd }));
    assert_eq!(with(14, 0x40), Err(NdpError::Version { version: 4 }));
    assert_eq!(with(20, 6), Err(NdpError::NotIcmpv6 { next_header: 6 }));
    assert_eq!(with(21, 64), Err(NdpError::HopLimit { hop_limit: 64 }));
    assert_eq!(with(19, 0x40), Err(NdpError::PayloadLength { payload_length: 64, available: 32 }));
    assert_eq!(with(54, 128), Err(NdpError::NotNeighborDiscovery { icmp_type: 128 }));
    assert_eq!(with(55, 1), Err(NdpError::Code { code: 1 }));
    assert_eq!(with(57, 0x76), Err(NdpError::Checksum { found: 0x1b76, expected: 0x1b75 }));
    // A zero-length option, behind a correct checksum.
    let mut frame = SOLICITATION;
    frame[79] = 0;
    frame[56..58].copy_from_slice(&[0, 0]);
    let sum = checksum(CLIENT_IP, solicited_node(VIP), &frame[54..]);
    frame[56..58].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(NdpPacket::parse(&frame), Err(NdpError::OptionLength { offset: 78 }));
}

#[test]
fn flag_rules_of_section_7_1() {
    let mut to_all = NdpPacket::unsolicited_advertisement(VIP, NODE_MAC);
    to_all.message = NdpMessage::Advertisement {
        flags: AdvertisementFlags { router: false, solicited: true, override_entry: true },
        target: VIP,
        target_link_address: None,
    };
    assert_eq!(
        NdpPacket::parse(&encoded(&to_all)),
        Err(NdpError::SolicitedToMulticast { destination: ALL_NODES })
    );
    let dad_with_option = NdpPacket {
        ethernet_destination: multicast_mac(solicited_node(VIP)),
        ethernet_source: CLIENT_MAC,
        source: Ipv6Addr::UNSPECIFIED,
        destination: solicited_node(VIP),
        message: NdpMessage::Solicitation { target: VIP, source_link_address: Some(CLIENT_MAC) },
    };
    assert_eq!(
        NdpPacket::parse(&encoded(&dad_with_option)),
        Err(NdpError::UnspecifiedWithLinkAddress)
    );
}

fn any_packet() -> impl Strategy<Value = NdpPacket> {
    let mac = any::<[u8; 6]>().prop_map(MacAddress);
    let unicast = any::<u128>()
        .prop_map(Ipv6Addr::from)
        .prop_filter("unicast", |a| !a.is_multicast() && !a.is_unspecified());
    (
        mac.clone(),
        mac.clone(),
        unicast.clone(),
        unicast.clone(),
        unicast,
        proptest::option::of(mac),
        any::<(bool, bool, bool, bool)>(),
    )
        .prop_map(|(d, s, source, destination, target, link, (solicit, r, so, o))| NdpPacket {
            ethernet_destination: d,
            ethernet_source: s,
            source,
            destination,
            message: if solicit {
                NdpMessage::Solicitation { target, source_link_address: link }
            } else {
                NdpMessage::Advertisement {
                    flags: AdvertisementFlags { router: r, solicited: so, override_entry: o },
                    target,
                    target_link_address: link,
                }
            },
        })
}

proptest! {
    #[test]
    fn round_trip(packet in any_packet()) {
        prop_assert_eq!(NdpPacket::parse(&encoded(&packet)), Ok(packet));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = NdpPacket::parse(&bytes);
    }

    #[test]
    fn mutated_golden_frames_never_panic(index in 0usize..86, byte in any::<u8>(), cut in 0usize..87) {
        let mut frame = SOLICITATION;
        frame[index] = byte;
        let _ = NdpPacket::parse(&frame[..cut]);
    }
}
