//! AS-path sets: regular expressions over the AS path's text, as in FRR's
//! `bgp as-path access-list` and GoBGP's `as-path-set`.
//!
//! # The text an AS path is matched as
//!
//! Segments in order, separated by one space; the ASNs of an AS_SEQUENCE
//! separated by spaces; an AS_SET in braces, an AS_CONFED_SEQUENCE in
//! parentheses, an AS_CONFED_SET in brackets, their ASNs separated by spaces
//! (the same text as [`crate::wire::AsPath`]'s `Display`):
//!
//! ```text
//! 65001 65002 {65003 65004}      sequence 65001 65002, then set {65003, 65004}
//! (65100 65101) 65001            confederation sequence, then sequence
//! ```
//!
//! An empty path (a route of our own AS) is the empty string, matched by `^$`.
//!
//! # Pattern syntax
//!
//! The `regex` crate's syntax (linear-time matching, so a hostile pattern
//! cannot blow up evaluation), with FRR's `_`: outside a bracket class it
//! stands for a delimiter, that is the start or end of the text, a space, or
//! one of `{}()[]`. `^65010_` is "learned from AS 65010", `_65020$` is
//! "originated by AS 65020", `_65030_` is "passes through AS 65030". A pattern
//! is searched anywhere in the text unless anchored. All patterns of a set
//! compile into one alternation, matched in one pass.
//!
//! # Cost
//!
//! Rendering writes the digits into a buffer kept per thread and reused, so it
//! allocates nothing once the buffer has grown to the longest path seen; it is
//! about 5 bytes per ASN written. The path is rendered at most once per
//! evaluation, however many AS-path conditions the chain has, and not at all
//! when no AS-path condition is reached.

use std::cell::RefCell;

use regex::Regex;

use crate::wire::{AsPath, SegmentType};

/// What `_` becomes: a delimiter of the rendered path.
const DELIMITER: &str = "(?:^|$|[ {}()\\[\\]])";

/// A pattern the `regex` crate refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("AS-path pattern {pattern:?} is not a valid regular expression: {reason}")]
pub struct AsPathPatternError {
    pub pattern: String,
    /// The `regex` crate's explanation, which points at the offending part.
    pub reason: String,
}

/// Rewrites FRR's `_` into [`DELIMITER`], leaving escaped `\_` and `_`
/// inside a bracket class alone.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut class_depth = 0usize;
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                out.push(ch);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' => {
                class_depth += 1;
                out.push(ch);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(ch);
            }
            '_' if class_depth == 0 => out.push_str(DELIMITER),
            _ => out.push(ch),
        }
    }
    out
}

/// Compiles one pattern (translated), to check it alone.
pub fn compile_pattern(pattern: &str) -> Result<Regex, AsPathPatternError> {
    Regex::new(&translate(pattern)).map_err(|error| AsPathPatternError {
        pattern: pattern.to_string(),
        reason: error.to_string(),
    })
}

/// A compiled AS-path set: matches when any of its patterns does.
#[derive(Clone, Debug)]
pub struct AsPathSet {
    patterns: Vec<String>,
    regex: Regex,
}

impl AsPathSet {
    /// Compiles the patterns; the first bad one is the error. (The policy book
    /// checks each pattern with [`compile_pattern`] first, to report all.)
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, AsPathPatternError> {
        let mut alternation = String::new();
        for (i, pattern) in patterns.iter().enumerate() {
            compile_pattern(pattern.as_ref())?;
            if i > 0 {
                alternation.push('|');
            }
            alternation.push_str("(?:");
            alternation.push_str(&translate(pattern.as_ref()));
            alternation.push(')');
        }
        // An empty set matches nothing.
        let source = if patterns.is_empty() { "[^\\s\\S]" } else { alternation.as_str() };
        let regex = Regex::new(source).map_err(|error| AsPathPatternError {
            pattern: source.to_string(),
            reason: error.to_string(),
        })?;
        Ok(Self { patterns: patterns.iter().map(|p| p.as_ref().to_string()).collect(), regex })
    }

    /// Whether the rendered path `text` (see [`render`]) matches.
    #[inline]
    pub fn matches_text(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// Whether `path` matches, rendering it into the thread's buffer.
    pub fn matches(&self, path: &AsPath) -> bool {
        with_rendered(path, |text| self.matches_text(text))
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// Appends the decimal digits of `value` without the formatting machinery.
fn push_decimal(out: &mut String, mut value: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

/// Writes the matching text of `path` (module docs) into `out`, replacing it.
pub fn render(path: &AsPath, out: &mut String) {
    out.clear();
    for (i, segment) in path.segments.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let (open, close) = match segment.kind {
            SegmentType::Sequence => (None, None),
            SegmentType::Set => (Some('{'), Some('}')),
            SegmentType::ConfedSequence => (Some('('), Some(')')),
            SegmentType::ConfedSet => (Some('['), Some(']')),
        };
        if let Some(open) = open {
            out.push(open);
        }
        for (j, asn) in segment.asns.iter().enumerate() {
            if j > 0 {
                out.push(' ');
            }
            push_decimal(out, *asn);
        }
        if let Some(close) = close {
            out.push(close);
        }
    }
}

thread_local! {
    static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `f` with the thread's reusable rendering buffer (or a fresh one if the
/// buffer is in use further up the stack).
pub(super) fn with_buffer<T>(f: impl FnOnce(&mut String) -> T) -> T {
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => f(&mut buffer),
        Err(_) => f(&mut String::new()),
    })
}

/// Runs `f` on the rendered `path`, in the thread's reusable buffer.
pub fn with_rendered<T>(path: &AsPath, f: impl FnOnce(&str) -> T) -> T {
    with_buffer(|buffer| {
        render(path, buffer);
        f(buffer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::AsSegment;

    fn path(segments: &[(SegmentType, &[u32])]) -> AsPath {
        AsPath {
            segments: segments
                .iter()
                .map(|(kind, asns)| AsSegment { kind: *kind, asns: asns.to_vec() })
                .collect(),
        }
    }

    fn set(patterns: &[&str]) -> AsPathSet {
        AsPathSet::new(patterns).unwrap()
    }

    #[test]
    fn renders_segments_as_documented() {
        let p = path(&[
            (SegmentType::ConfedSequence, &[65100, 65101]),
            (SegmentType::Sequence, &[65001, 0, 4_294_967_295]),
            (SegmentType::Set, &[65003, 65004]),
            (SegmentType::ConfedSet, &[7]),
        ]);
        let mut out = String::from("stale");
        render(&p, &mut out);
        assert_eq!(out, "(65100 65101) 65001 0 4294967295 {65003 65004} [7]");
        assert_eq!(out, p.to_string());
        render(&AsPath::default(), &mut out);
        assert_eq!(out, "");
    }

    #[test]
    fn underscore_is_a_delimiter_and_anchors_work() {
        let from_customer = set(&["^65010_", "_65020$"]);
        assert!(from_customer.matches(&AsPath::from_sequence([65010, 1, 2])));
        assert!(from_customer.matches(&AsPath::from_sequence([65010])));
        assert!(from_customer.matches(&AsPath::from_sequence([1, 65020])));
        assert!(!from_customer.matches(&AsPath::from_sequence([650100, 1])));
        assert!(!from_customer.matches(&AsPath::from_sequence([1, 165020])));
        assert!(!from_customer.matches(&AsPath::from_sequence([1, 65010, 2])));

        let through = set(&["_65030_"]);
        assert!(through.matches(&AsPath::from_sequence([1, 65030, 2])));
        assert!(through.matches(&AsPath::from_sequence([65030])));
        assert!(!through.matches(&AsPath::from_sequence([1, 650301])));

        let adjacent = set(&["_65001_65002_"]);
        assert!(adjacent.matches(&AsPath::from_sequence([9, 65001, 65002, 9])));
        assert!(!adjacent.matches(&AsPath::from_sequence([65001, 9, 65002])));

        let empty = set(&["^$"]);
        assert!(empty.matches(&AsPath::default()));
        assert!(!empty.matches(&AsPath::from_sequence([1])));
        assert!(!AsPathSet::new::<&str>(&[]).unwrap().matches(&AsPath::default()));
    }

    #[test]
    fn as_set_members_are_delimited_by_braces() {
        let p = path(&[(SegmentType::Sequence, &[65001]), (SegmentType::Set, &[65003, 65004])]);
        assert!(set(&["_65003_"]).matches(&p));
        assert!(!set(&["_65004$"]).matches(&p), "the closing brace ends the text");
        assert!(set(&["_65004_"]).matches(&p));
        assert!(set(&["_\\{65003 65004\\}$"]).matches(&p));
        assert!(set(&["^65001 \\{"]).matches(&p));
        assert!(!set(&["^65003_"]).matches(&p));
    }

    #[test]
    fn classes_and_escapes_keep_their_underscore() {
        assert_eq!(translate("[_]"), "[_]");
        assert_eq!(translate("\\_"), "\\_");
        assert_eq!(translate("^6500[0-9]_"), format!("^6500[0-9]{DELIMITER}"));
        assert!(set(&["^6500[0-9]_"]).matches(&AsPath::from_sequence([65007, 1])));
        assert!(set(&["^(65001|65002)_"]).matches(&AsPath::from_sequence([65002])));
        assert!(set(&[".*"]).matches(&AsPath::default()));
    }

    #[test]
    fn bad_patterns_are_reported_with_the_pattern() {
        let error = AsPathSet::new(&["^65010_", "(65020"]).unwrap_err();
        assert_eq!(error.pattern, "(65020");
        assert!(compile_pattern("[65").is_err());
        assert!(compile_pattern("_65001_").is_ok());
    }

    #[test]
    fn nested_rendering_falls_back_to_a_fresh_buffer() {
        let outer = AsPath::from_sequence([1]);
        let inner = AsPath::from_sequence([2]);
        let both = with_rendered(&outer, |a| with_rendered(&inner, |b| format!("{a}/{b}")));
        assert_eq!(both, "1/2");
    }
}
