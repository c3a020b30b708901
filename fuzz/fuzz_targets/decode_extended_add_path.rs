//! `decode_message` under the options of a 4-octet AS session with extended
//! messages, enhanced route refresh and ADD-PATH both ways.
//! Input is a message body; the first octet picks the type, the header is
//! built here so the fuzzer spends its time inside the decoders. Whatever
//! decodes must re-encode into a message that decodes again.
#![no_main]

use bgpd::wire::{CodecOptions, Family, FamilySet};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let all = FamilySet::EMPTY.with(Family::Ipv4Unicast).with(Family::Ipv6Unicast);
    let options = CodecOptions {
        four_octet_as: true,
        extended_message: true,
        enhanced_route_refresh: true,
        add_path_receive: all,
        add_path_send: all,
    };
    common::check(data, &options);
});
