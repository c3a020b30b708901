//! The layer2 frame parsers (`ArpPacket::parse`, `NdpPacket::parse`) on
//! arbitrary bytes: never panic, and whatever parses re-encodes to a frame
//! that parses to the same packet (ARP: byte for byte up to its 42 bytes).
#![no_main]

use bgpd::layer2::arp::{ARP_FRAME_LEN, ArpPacket};
use bgpd::layer2::ndp::{NDP_FRAME_MAX, NdpPacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = ArpPacket::parse(data) {
        let mut out = [0; ARP_FRAME_LEN];
        packet.encode(&mut out);
        assert_eq!(&out[..], &data[..ARP_FRAME_LEN]);
    }
    if let Ok(packet) = NdpPacket::parse(data) {
        let mut out = [0; NDP_FRAME_MAX];
        let length = packet.encode(&mut out);
        assert_eq!(NdpPacket::parse(&out[..length]), Ok(packet));
    }
});
