//! `frame_length` on arbitrary bytes, both size limits: never panics, and a
//! reported frame length is within the buffer and the limit.
#![no_main]

use bgpd::wire::frame_length;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for max in [4096, 65535] {
        if let Ok(Some(length)) = frame_length(data, max) {
            assert!((19..=max).contains(&length) && length <= data.len());
        }
    }
});
