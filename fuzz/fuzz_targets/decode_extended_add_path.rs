//! `decode_message` under the options of a 4-octet AS session with extended
//! messages, enhanced route refresh and ADD-PATH both ways.
//! Input is a message body; the first octet picks the type, the header is
//! built here so the fuzzer spends its time inside the decoders. Whatever
//! decodes must re-encode into a message that decodes again.
//! The body is `bgpd::fuzzing::decode_extended_add_path`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::decode_extended_add_path(data));
