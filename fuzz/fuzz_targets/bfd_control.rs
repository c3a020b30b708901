//! `ControlPacket::decode` (RFC 5880 §4.1, §6.8.6) on arbitrary datagrams:
//! never panics, and whatever decodes re-encodes to a packet that decodes to
//! the same value.
//! The body is `bgpd::fuzzing::bfd_control`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::bfd_control(data));
