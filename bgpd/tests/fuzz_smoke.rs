//! Fuzz smoke for CI, on stable and without cargo-fuzz: every fuzz target's
//! body (`bgpd::fuzzing::TARGETS`, the same functions libFuzzer runs from
//! `fuzz/fuzz_targets/`) gets every file of its committed corpus
//! `fuzz/corpus/TARGET/`, then a fixed number of deterministic
//! pseudo-random inputs (2,000; 250 for `config`): half fresh bytes, half
//! corpus files with a few octets changed (seeded xorshift, the same inputs
//! on every run).
//!
//! A panic is a bug found; the failing input is printed as hex so it can be
//! added to the corpus and turned into a unit test next to the code.

use std::path::{Path, PathBuf};

use bgpd::fuzzing::{TARGETS, update_model};

/// Pseudo-random inputs per target.
const RANDOM_RUNS: usize = 2_000;
/// Pseudo-random inputs for `config`: most of its inputs parse and validate
/// the whole 500-line `conf/bgpd.toml`, about 8 ms each in debug.
const CONFIG_RANDOM_RUNS: usize = 250;
/// Longest pseudo-random input.
const MAX_RANDOM_LEN: usize = 600;

/// xorshift64 (Marsaglia 2003): deterministic, no dependency.
struct XorShift(u64);

impl XorShift {
    fn seeded(name: &str) -> Self {
        // FNV-1a of the name: each target its own stream.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Self(hash | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(name)
}

/// The committed corpus of `name`, sorted by file name.
fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(corpus_dir(name)) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("a corpus file reads"),
            )
        })
        .collect();
    files.sort();
    files
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `body` on `input`; on a panic, names the input and fails.
fn run(name: &str, what: &str, body: fn(&[u8]), input: &[u8]) {
    if std::panic::catch_unwind(|| body(input)).is_err() {
        panic!("fuzz target {name} panicked on {what}: {}", hex(input));
    }
}

fn smoke(name: &str) {
    let body = TARGETS.iter().find(|(n, _)| *n == name).expect("a known target").1;
    let corpus = corpus(name);
    for (file, data) in &corpus {
        run(name, &format!("corpus file {file}"), body, data);
    }
    let mut rng = XorShift::seeded(name);
    let runs = if name == "config" { CONFIG_RANDOM_RUNS } else { RANDOM_RUNS };
    for i in 0..runs {
        let input = if i % 2 == 0 || corpus.is_empty() {
            let len = rng.below(MAX_RANDOM_LEN + 1);
            rng.bytes(len)
        } else {
            let mut input = corpus[rng.below(corpus.len())].1.clone();
            if input.is_empty() {
                input.push(0);
            }
            for _ in 0..=rng.below(4) {
                let at = rng.below(input.len());
                input[at] ^= rng.next() as u8 | 1;
            }
            input
        };
        run(name, &format!("pseudo-random input {i}"), body, &input);
    }
}

#[test]
fn every_target_has_a_smoke_test_and_a_committed_corpus() {
    let tested = [
        "frame_length",
        "decode_default",
        "decode_four_octet",
        "decode_extended_add_path",
        "layer2_frames",
        "bfd_control",
        "config",
        "api",
        "update_model",
    ];
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, tested);
    for name in names {
        assert!(!corpus(name).is_empty(), "fuzz/corpus/{name}/ is empty or missing");
        let target = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/fuzz_targets")
            .join(format!("{name}.rs"));
        assert!(target.is_file(), "{} is missing", target.display());
    }
    const { assert!(update_model::ENABLED, "bgpd's tests run without the `arbitrary` feature") };
}

#[test]
fn frame_length() {
    smoke("frame_length");
}

#[test]
fn decode_default() {
    smoke("decode_default");
}

#[test]
fn decode_four_octet() {
    smoke("decode_four_octet");
}

#[test]
fn decode_extended_add_path() {
    smoke("decode_extended_add_path");
}

#[test]
fn layer2_frames() {
    smoke("layer2_frames");
}

#[test]
fn bfd_control() {
    smoke("bfd_control");
}

#[test]
fn config() {
    smoke("config");
}

#[test]
fn api() {
    smoke("api");
}

#[test]
fn update_model() {
    smoke("update_model");
}
