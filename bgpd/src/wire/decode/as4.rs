//! Rebuilding the 4-octet AS path and aggregator from a 2-octet session's
//! AS_PATH/AGGREGATOR and AS4_PATH/AS4_AGGREGATOR, exactly as RFC 6793 §4.2.3
//! says.

use crate::wire::attributes::{Aggregator, AsPath, AsSegment, PathAttributes, SegmentType};
use crate::wire::open::AS_TRANS;

/// Apply RFC 6793 §4.2.3 to `attributes` (decoded from a 2-octet session).
pub(super) fn merge(
    attributes: &mut PathAttributes,
    as4_path: Option<AsPath>,
    as4_aggregator: Option<Aggregator>,
) {
    // "If the AGGREGATOR attribute contains an AS number other than AS_TRANS,
    // then the AS4_AGGREGATOR attribute and the AS4_PATH attribute SHALL be
    // ignored."
    if let Some(aggregator) = &mut attributes.aggregator {
        if aggregator.asn != u32::from(AS_TRANS) {
            return;
        }
        if let Some(as4) = as4_aggregator {
            *aggregator = as4;
        }
    }
    if let Some(as4_path) = as4_path {
        attributes.as_path = merge_paths(&attributes.as_path, as4_path);
    }
}

/// AS path counting of RFC 6793 §4.2.3 (as for RFC 4271 §9.1.2.2: an AS_SET
/// counts 1, confederation segments count 0).
fn count(path: &AsPath) -> usize {
    path.path_length()
}

/// "If the number of AS numbers in the AS_PATH attribute is less than the
/// number of AS numbers in the AS4_PATH attribute, then the AS4_PATH attribute
/// SHALL be ignored ... Otherwise, ... construct the AS path information by
/// taking as many AS numbers and path segments as necessary from the leading
/// part of the AS_PATH attribute, and then prepending them to the AS4_PATH
/// attribute so that the AS path information has an identical number of AS
/// numbers as the AS_PATH attribute."
fn merge_paths(as_path: &AsPath, as4_path: AsPath) -> AsPath {
    let (total, total4) = (count(as_path), count(&as4_path));
    if total < total4 {
        return as_path.clone();
    }
    let mut needed = total - total4;
    let mut segments: Vec<AsSegment> =
        Vec::with_capacity(as_path.segments.len() + as4_path.segments.len());
    for segment in &as_path.segments {
        match segment.kind {
            // Confederation segments count 0 and never appear in AS4_PATH:
            // they stay at the front.
            SegmentType::ConfedSequence | SegmentType::ConfedSet => segments.push(segment.clone()),
            _ if needed == 0 => break,
            SegmentType::Set => {
                segments.push(segment.clone());
                needed -= 1;
            }
            SegmentType::Sequence => {
                let take = needed.min(segment.asns.len());
                segments.push(AsSegment {
                    kind: SegmentType::Sequence,
                    asns: segment.asns[..take].to_vec(),
                });
                needed -= take;
            }
        }
    }
    let mut rest = as4_path.segments.into_iter();
    if let (Some(last), Some(first)) = (segments.last_mut(), rest.as_slice().first())
        && last.kind == SegmentType::Sequence
        && first.kind == SegmentType::Sequence
        && last.asns.len() + first.asns.len() <= 255
    {
        last.asns.extend_from_slice(&first.asns);
        rest.next();
    }
    segments.extend(rest);
    AsPath { segments }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn sequence(asns: &[u32]) -> AsSegment {
        AsSegment { kind: SegmentType::Sequence, asns: asns.to_vec() }
    }

    #[test]
    fn as4_path_replaces_trailing_as_trans() {
        let as_path = AsPath { segments: vec![sequence(&[65001, 23456, 23456])] };
        let as4 = AsPath { segments: vec![sequence(&[4200000001, 4200000002])] };
        let merged = merge_paths(&as_path, as4);
        assert_eq!(merged.segments, vec![sequence(&[65001, 4200000001, 4200000002])]);
    }

    #[test]
    fn longer_as4_path_is_ignored() {
        let as_path = AsPath { segments: vec![sequence(&[23456])] };
        let as4 = AsPath { segments: vec![sequence(&[1, 2])] };
        assert_eq!(merge_paths(&as_path, as4), as_path);
    }

    #[test]
    fn sets_count_one() {
        let set = AsSegment { kind: SegmentType::Set, asns: vec![1, 2, 3] };
        let as_path = AsPath { segments: vec![sequence(&[10, 23456]), set.clone()] };
        let as4 = AsPath { segments: vec![sequence(&[4200000000]), set.clone()] };
        let merged = merge_paths(&as_path, as4);
        assert_eq!(merged.segments, vec![sequence(&[10, 4200000000]), set]);
    }

    #[test]
    fn aggregator_not_as_trans_ignores_both() {
        let mut attributes = PathAttributes {
            as_path: AsPath { segments: vec![sequence(&[23456])] },
            aggregator: Some(Aggregator { asn: 65001, address: Ipv4Addr::new(192, 0, 2, 1) }),
            ..PathAttributes::default()
        };
        let before = attributes.clone();
        merge(
            &mut attributes,
            Some(AsPath { segments: vec![sequence(&[4200000000])] }),
            Some(Aggregator { asn: 4200000000, address: Ipv4Addr::new(192, 0, 2, 9) }),
        );
        assert_eq!(attributes, before);
    }

    #[test]
    fn as_trans_aggregator_takes_as4_aggregator() {
        let mut attributes = PathAttributes {
            as_path: AsPath { segments: vec![sequence(&[23456])] },
            aggregator: Some(Aggregator { asn: 23456, address: Ipv4Addr::new(192, 0, 2, 1) }),
            ..PathAttributes::default()
        };
        let as4_aggregator = Aggregator { asn: 4200000000, address: Ipv4Addr::new(192, 0, 2, 1) };
        merge(
            &mut attributes,
            Some(AsPath { segments: vec![sequence(&[4200000000])] }),
            Some(as4_aggregator),
        );
        assert_eq!(attributes.aggregator, Some(as4_aggregator));
        assert_eq!(attributes.as_path.segments, vec![sequence(&[4200000000])]);
    }
}
