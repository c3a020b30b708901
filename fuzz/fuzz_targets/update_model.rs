//! Structure-aware UPDATE fuzzing: the input is an `arbitrary` UpdateModel,
//! encoded under each CodecOptions variant, checked decode(encode(x)) == x,
//! then mutated and decoded again.
//! The body is `bgpd::fuzzing::update_model::check`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::update_model::check(data));
