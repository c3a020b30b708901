//! The layer2 frame parsers (`ArpPacket::parse`, `NdpPacket::parse`) on
//! arbitrary bytes: never panic, and whatever parses re-encodes to a frame
//! that parses to the same packet (ARP: byte for byte up to its 42 bytes).
//! The body is `bgpd::fuzzing::layer2_frames`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::layer2_frames(data));
