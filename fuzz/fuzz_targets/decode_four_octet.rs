//! `decode_message` under the options of a 4-octet AS session.
//! Input is a message body; the first octet picks the type, the header is
//! built here so the fuzzer spends its time inside the decoders. Whatever
//! decodes must re-encode into a message that decodes again.
#![no_main]

use bgpd::wire::CodecOptions;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let options = CodecOptions { four_octet_as: true, ..CodecOptions::default() };
    common::check(data, &options);
});
