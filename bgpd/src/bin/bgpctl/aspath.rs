//! `--as-path` text, as routers print AS paths: ASNs separated by spaces (or
//! commas), nearest first, an AS_SET in braces (RFC 4271 section 4.3):
//! `"65010 65020 {65030,65040}"`. Parsed here because the API takes segments,
//! not text; and printed back the same way in route tables.

use std::str::FromStr;

use ironlb_proto::bgpd::v1::{AsPathSegment, AsPathSegmentType};

/// A parsed `--as-path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsPathArg(pub Vec<AsPathSegment>);

/// Why an `--as-path` does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsPathError {
    #[error("{0:?} is not an AS number (1..4294967295)")]
    BadAsn(String),
    #[error("unbalanced braces in AS path {0:?}")]
    Unbalanced(String),
    #[error("empty AS_SET in AS path {0:?}")]
    EmptySet(String),
}

impl FromStr for AsPathArg {
    type Err = AsPathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut segments: Vec<AsPathSegment> = Vec::new();
        let mut in_set: Option<Vec<u32>> = None;
        let spaced = text.replace('{', " { ").replace('}', " } ");
        for token in spaced.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty())
        {
            match (token, in_set.as_mut()) {
                ("{", None) => in_set = Some(Vec::new()),
                ("}", Some(set)) => {
                    if set.is_empty() {
                        return Err(AsPathError::EmptySet(text.to_string()));
                    }
                    segments.push(AsPathSegment {
                        r#type: AsPathSegmentType::Set as i32,
                        asns: std::mem::take(set),
                    });
                    in_set = None;
                }
                ("{" | "}", _) => return Err(AsPathError::Unbalanced(text.to_string())),
                (asn, set) => {
                    let asn = asn
                        .parse::<u32>()
                        .ok()
                        .filter(|asn| *asn != 0)
                        .ok_or_else(|| AsPathError::BadAsn(asn.to_string()))?;
                    match set {
                        Some(set) => set.push(asn),
                        None => match segments.last_mut() {
                            Some(last) if last.r#type == AsPathSegmentType::Sequence as i32 => {
                                last.asns.push(asn)
                            }
                            _ => segments.push(AsPathSegment {
                                r#type: AsPathSegmentType::Sequence as i32,
                                asns: vec![asn],
                            }),
                        },
                    }
                }
            }
        }
        if in_set.is_some() {
            return Err(AsPathError::Unbalanced(text.to_string()));
        }
        Ok(AsPathArg(segments))
    }
}

/// Prints segments the way `--as-path` takes them; confederation segments
/// in parentheses (sequence) and brackets (set), as BIRD and FRR show them.
pub fn format(segments: &[AsPathSegment]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(segments.len());
    for segment in segments {
        let asns = |separator: &str| {
            segment.asns.iter().map(u32::to_string).collect::<Vec<_>>().join(separator)
        };
        parts.push(match AsPathSegmentType::try_from(segment.r#type) {
            Ok(AsPathSegmentType::Set) => format!("{{{}}}", asns(",")),
            Ok(AsPathSegmentType::ConfedSequence) => format!("({})", asns(" ")),
            Ok(AsPathSegmentType::ConfedSet) => format!("[{}]", asns(",")),
            _ => asns(" "),
        });
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(asns: &[u32]) -> AsPathSegment {
        AsPathSegment { r#type: AsPathSegmentType::Sequence as i32, asns: asns.to_vec() }
    }

    #[test]
    fn sequences_and_sets_parse_and_print_back() {
        let parsed: AsPathArg = "65010 65020,65021 {65030, 65040} 65050".parse().expect("parses");
        assert_eq!(
            parsed.0,
            vec![
                sequence(&[65010, 65020, 65021]),
                AsPathSegment { r#type: AsPathSegmentType::Set as i32, asns: vec![65030, 65040] },
                sequence(&[65050]),
            ]
        );
        assert_eq!(format(&parsed.0), "65010 65020 65021 {65030,65040} 65050");
        assert_eq!("".parse::<AsPathArg>(), Ok(AsPathArg(Vec::new())));
    }

    #[test]
    fn bad_paths_are_refused_with_the_culprit() {
        assert_eq!("65010 x".parse::<AsPathArg>(), Err(AsPathError::BadAsn("x".into())));
        assert_eq!("0".parse::<AsPathArg>(), Err(AsPathError::BadAsn("0".into())));
        assert_eq!(
            "4294967296".parse::<AsPathArg>(),
            Err(AsPathError::BadAsn("4294967296".into()))
        );
        assert!(matches!("{1".parse::<AsPathArg>(), Err(AsPathError::Unbalanced(_))));
        assert!(matches!("1}".parse::<AsPathArg>(), Err(AsPathError::Unbalanced(_))));
        assert!(matches!("{{1}}".parse::<AsPathArg>(), Err(AsPathError::Unbalanced(_))));
        assert!(matches!("{}".parse::<AsPathArg>(), Err(AsPathError::EmptySet(_))));
    }
}
