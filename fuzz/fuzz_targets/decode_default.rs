//! `decode_message` under the options before negotiation (2-octet AS, 4096 octets).
//! Input is a message body; the first octet picks the type, the header is
//! built here so the fuzzer spends its time inside the decoders. Whatever
//! decodes must re-encode into a message that decodes again.
//! The body is `bgpd::fuzzing::decode_default`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::decode_default(data));
