use proptest::prelude::*;

use super::*;

const CLIENT_MAC: MacAddress = MacAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x0c]);
const NODE_MAC: MacAddress = MacAddress([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 50);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 12);

/// "Who has 198.51.100.50? Tell 198.51.100.12", broadcast, as on the wire.
#[rustfmt::skip]
const REQUEST: [u8; 42] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,   // Ethernet destination: broadcast
    0x02, 0x00, 0x00, 0x00, 0x00, 0x0c,   // Ethernet source
    0x08, 0x06,                           // EtherType ARP
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04,   // HTYPE 1, PTYPE IPv4, HLEN 6, PLEN 4
    0x00, 0x01,                           // request
    0x02, 0x00, 0x00, 0x00, 0x00, 0x0c,   // SHA
    198, 51, 100, 12,                     // SPA
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   // THA
    198, 51, 100, 50,                     // TPA
];

#[rustfmt::skip]
const REPLY: [u8; 42] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x0c,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
    0x00, 0x02,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    198, 51, 100, 50,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x0c,
    198, 51, 100, 12,
];

#[rustfmt::skip]
const GRATUITOUS_REPLY: [u8; 42] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
    0x00, 0x02,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    198, 51, 100, 50,
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    198, 51, 100, 50,
];

fn encoded(packet: &ArpPacket) -> [u8; 42] {
    let mut out = [0; 42];
    packet.encode(&mut out);
    out
}

#[test]
fn golden_request_parses() {
    let packet = ArpPacket::parse(&REQUEST).unwrap();
    assert_eq!(
        packet,
        ArpPacket {
            ethernet_destination: MacAddress::BROADCAST,
            ethernet_source: CLIENT_MAC,
            operation: ArpOperation::Request,
            sender_mac: CLIENT_MAC,
            sender_ip: CLIENT_IP,
            target_mac: MacAddress::ZERO,
            target_ip: VIP,
        }
    );
    assert_eq!(encoded(&packet), REQUEST);
}

#[test]
fn golden_reply_is_built_from_the_request() {
    let request = ArpPacket::parse(&REQUEST).unwrap();
    let reply = ArpPacket::reply_to(&request, NODE_MAC);
    assert_eq!(encoded(&reply), REPLY);
    assert_eq!(ArpPacket::parse(&REPLY).unwrap(), reply);
}

#[test]
fn golden_gratuitous_frames() {
    assert_eq!(encoded(&ArpPacket::gratuitous_reply(VIP, NODE_MAC)), GRATUITOUS_REPLY);
    let request = encoded(&ArpPacket::gratuitous_request(VIP, NODE_MAC));
    assert_eq!(&request[0..6], &[0xff; 6]);
    assert_eq!(&request[20..22], &[0, 1]);
    assert_eq!(&request[28..32], &request[38..42]);
    assert_eq!(&request[32..38], &[0; 6]);
}

#[test]
fn padding_is_ignored() {
    let mut padded = REQUEST.to_vec();
    padded.resize(60, 0);
    assert_eq!(ArpPacket::parse(&padded), ArpPacket::parse(&REQUEST));
}

#[test]
fn bad_frames_are_named() {
    assert_eq!(
        ArpPacket::parse(&REQUEST[..41]),
        Err(ArpError::Truncated { length: 41, needed: 42 })
    );
    let with = |offset: usize, byte: u8| {
        let mut frame = REQUEST;
        frame[offset] = byte;
        ArpPacket::parse(&frame)
    };
    assert_eq!(with(12, 0x86), Err(ArpError::NotArp { ethertype: 0x8606 }));
    assert_eq!(with(15, 6), Err(ArpError::HardwareType { htype: 6 }));
    assert_eq!(with(16, 0x86), Err(ArpError::ProtocolType { ptype: 0x8600 }));
    assert_eq!(with(18, 8), Err(ArpError::AddressLengths { hlen: 8, plen: 4 }));
    assert_eq!(with(21, 3), Err(ArpError::Operation { operation: 3 }));
}

#[test]
fn mac_displays_like_ip_link() {
    assert_eq!(NODE_MAC.to_string(), "02:00:00:00:00:01");
    assert!(MacAddress::BROADCAST.is_multicast());
    assert!(!NODE_MAC.is_multicast());
}

fn any_packet() -> impl Strategy<Value = ArpPacket> {
    (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        any::<bool>(),
        any::<[u8; 6]>(),
        any::<[u8; 4]>(),
        any::<[u8; 6]>(),
        any::<[u8; 4]>(),
    )
        .prop_map(|(d, s, request, sha, spa, tha, tpa)| ArpPacket {
            ethernet_destination: MacAddress(d),
            ethernet_source: MacAddress(s),
            operation: if request { ArpOperation::Request } else { ArpOperation::Reply },
            sender_mac: MacAddress(sha),
            sender_ip: Ipv4Addr::from(spa),
            target_mac: MacAddress(tha),
            target_ip: Ipv4Addr::from(tpa),
        })
}

proptest! {
    #[test]
    fn round_trip(packet in any_packet()) {
        prop_assert_eq!(ArpPacket::parse(&encoded(&packet)), Ok(packet));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = ArpPacket::parse(&bytes);
    }
}
