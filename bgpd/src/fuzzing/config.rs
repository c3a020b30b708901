//! The TOML configuration parser and checker, as `bgpd --check-config` runs
//! them ([`Config::from_str_named`]), on arbitrary text and on mutations of
//! the documented example `conf/bgpd.toml`.
//!
//! Properties: no input panics; a rejected text has at least one error and
//! every error carries a position (1-based line and column, an offset inside
//! the text) and prints; an accepted config is at no distance from itself
//! ([`ConfigDiff::between`] is empty), and reading it twice gives the same
//! result.

use crate::config::{Config, ConfigDiff, ConfigError};

/// The documented example, the seed of the mutations.
pub const EXAMPLE: &str = include_str!("../../../conf/bgpd.toml");

/// Source name of the fuzzed text in error messages.
const SOURCE: &str = "fuzz.toml";

/// The input's first octet picks the mode: below 0x80 the rest is the whole
/// text (lossy UTF-8); otherwise the rest replaces a span of [`EXAMPLE`]
/// (two octets of offset, one of span length), so that most inputs are
/// valid configs with one local change.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode < 0x80 {
        check_text(&String::from_utf8_lossy(rest));
        return;
    }
    let [high, low, span, insert @ ..] = rest else {
        return;
    };
    let mut start = usize::from(u16::from_be_bytes([*high, *low])) * 8 % EXAMPLE.len();
    while !EXAMPLE.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + usize::from(*span)).min(EXAMPLE.len());
    while !EXAMPLE.is_char_boundary(end) {
        end -= 1;
    }
    let mut text = String::with_capacity(EXAMPLE.len() + insert.len());
    text.push_str(&EXAMPLE[..start]);
    text.push_str(&String::from_utf8_lossy(insert));
    text.push_str(&EXAMPLE[end..]);
    check_text(&text);
}

/// Parses and validates `text`, then checks the properties above.
pub fn check_text(text: &str) {
    match Config::from_str_named(text, SOURCE) {
        Ok(config) => {
            assert!(
                ConfigDiff::between(&config, &config).is_empty(),
                "a config differs from itself"
            );
            let again = Config::from_str_named(text, SOURCE);
            assert!(again.is_ok(), "a valid config is refused on a second read: {again:?}");
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused config has no error");
            for error in &errors {
                check_error(error, text);
            }
        }
    }
}

fn check_error(error: &ConfigError, text: &str) {
    let shown = error.to_string();
    assert!(!shown.is_empty());
    let Some(location) = error.location() else {
        panic!("a parse or validation error has no position: {shown}");
    };
    assert!(location.line >= 1 && location.column >= 1, "{shown}");
    assert!(location.offset <= text.len(), "{shown}: offset past the end");
    assert!(text.is_char_boundary(location.offset), "{shown}: offset inside a character");
    assert!(shown.starts_with(SOURCE), "{shown}: no source name");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_is_valid() {
        assert!(Config::from_str_named(EXAMPLE, SOURCE).is_ok());
        // Mode 0x80 with an empty replacement at offset 0: the example itself.
        check(&[0x80, 0, 0, 0]);
    }

    #[test]
    fn errors_carry_positions() {
        check_text("[global]\nasn = \"x\"\n");
        check_text("[global\n");
        check_text("");
    }
}
