//! `frame_length` on arbitrary bytes, both size limits: never panics, and a
//! reported frame length is within the buffer and the limit.
//! The body is `bgpd::fuzzing::frame_length`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::frame_length(data));
