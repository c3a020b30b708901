//! `ControlPacket::decode` (RFC 5880 §4.1, §6.8.6) on arbitrary datagrams:
//! never panics, and whatever decodes re-encodes to a packet that decodes to
//! the same value.
#![no_main]

use bgpd::bfd::ControlPacket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = ControlPacket::decode(data) {
        let mut out = Vec::new();
        assert!(packet.encode(&mut out).is_ok(), "a decoded packet always encodes");
        assert_eq!(out.len(), packet.length());
        assert_eq!(ControlPacket::decode(&out), Ok(packet));
    }
});
