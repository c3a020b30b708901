//! `decode_message` under the options of a 4-octet AS session.
//! Input is a message body; the first octet picks the type, the header is
//! built here so the fuzzer spends its time inside the decoders. Whatever
//! decodes must re-encode into a message that decodes again.
//! The body is `bgpd::fuzzing::decode_four_octet`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::decode_four_octet(data));
