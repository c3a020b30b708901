//! The TOML config parser and checker (`bgpd --check-config`) on arbitrary
//! text and on mutations of `conf/bgpd.toml`: no panic, every error located.
//! The body is `bgpd::fuzzing::config::check`, which `cargo test` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bgpd::fuzzing::config::check(data));
