//! API request validation (Path, PeerConfig, Layer2Announcement messages
//! decoded with prost, then checked as the gRPC handlers check them): no
//! panic, refusals name a field, accepted paths read back unchanged.
//! The body is `bgpd::fuzzing::api::check`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::api::check(data));
