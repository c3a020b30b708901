//! The RFC 7606 rules that depend on who sent the UPDATE (§7.2, §7.5, §7.9,
//! §7.10: an external neighbor's LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST
//! are discarded whatever their form; its AS_PATH must start with its own AS
//! and hold no confederation segments) and RFC 7607 (AS 0), one test per
//! rule. The iBGP actions of every §7 subsection are in `errors.rs`
//! (`rfc7606_per_attribute_actions`).

use super::*;
use crate::wire::message_type as t;

const ORIGIN: &str = "40010100";
/// AS_SEQUENCE of one 4-octet ASN: 65001.
const AS_PATH: &str = "4002060201 0000fde9";
const NEXT_HOP: &str = "400304c0000201";
const PEER_AS: u32 = 65001;
/// 203.0.113.0/24.
const NLRI: &str = "18cb0071";

fn update(attributes: &str, nlri: &str) -> Vec<u8> {
    let (attributes, nlri) = (bytes(attributes), bytes(nlri));
    let mut body = vec![0, 0];
    body.extend(u16::try_from(attributes.len()).unwrap().to_be_bytes());
    body.extend(attributes);
    body.extend(nlri);
    frame(t::UPDATE, &body)
}

fn external() -> CodecOptions {
    CodecOptions { external_peer_as: Some(PEER_AS), ..four_octet() }
}

fn internal() -> CodecOptions {
    four_octet()
}

fn with(extra: &str) -> String {
    format!("{ORIGIN} {AS_PATH} {NEXT_HOP} {extra}")
}

/// The route is kept and the errors are `expected` (kind, action) in order.
fn kept(attributes: &str, options: &CodecOptions, expected: &[(AttributeErrorKind, ErrorAction)]) {
    let decoded = decode_update(&update(attributes, NLRI), options);
    let errors: Vec<_> = decoded.outcome.errors.iter().map(|e| (e.kind, e.action)).collect();
    assert_eq!(errors, expected, "{attributes}");
    assert!(!decoded.outcome.treat_as_withdraw(), "{attributes}");
    assert_eq!(decoded.update.nlri, vec![nlri("203.0.113.0/24")], "{attributes}");
}

/// The route is withdrawn with one error of `kind`.
fn withdrawn(attributes: &str, options: &CodecOptions, kind: AttributeErrorKind) {
    let decoded = decode_update(&update(attributes, NLRI), options);
    let errors: Vec<_> = decoded.outcome.errors.iter().map(|e| (e.kind, e.action)).collect();
    assert_eq!(errors, [(kind, ErrorAction::TreatAsWithdraw)], "{attributes}");
    assert!(decoded.update.nlri.is_empty());
    assert_eq!(decoded.update.withdrawn, vec![nlri("203.0.113.0/24")]);
}

#[test]
fn negotiation_marks_a_session_external_when_the_ases_differ() {
    use crate::wire::open::{Capability, OpenMessage};
    let open = |asn: u32| OpenMessage {
        version: 4,
        my_as: u16::try_from(asn).unwrap_or(crate::wire::open::AS_TRANS),
        hold_time: 90,
        router_id: std::net::Ipv4Addr::new(192, 0, 2, 1),
        capabilities: vec![Capability::FourOctetAs(asn)],
    };
    assert_eq!(CodecOptions::negotiated(&open(65000), &open(65000)).external_peer_as, None);
    assert_eq!(
        CodecOptions::negotiated(&open(65000), &open(4_200_000_000)).external_peer_as,
        Some(4_200_000_000)
    );
}

/// §7.5: from an external neighbor, LOCAL_PREF is discarded, well-formed or not.
#[test]
fn local_pref_from_external_is_discarded_whatever_its_form() {
    use AttributeErrorKind::InternalOnly;
    use ErrorAction::AttributeDiscard;
    let decoded = decode_update(&update(&with("400504 00000064"), NLRI), &external());
    assert!(decoded.outcome.is_clean(), "a well-formed copy goes quietly");
    assert_eq!(decoded.update.attributes.local_pref, None);
    // Wrong length and wrong flags: discarded, the route stays.
    kept(&with("400503 000064"), &external(), &[(InternalOnly, AttributeDiscard)]);
    kept(&with("c00504 00000064"), &external(), &[(InternalOnly, AttributeDiscard)]);
    // From an internal neighbor the same malformed copy withdraws the route.
    withdrawn(&with("400503 000064"), &internal(), AttributeErrorKind::Length);
    let decoded = decode_update(&update(&with("400504 00000064"), NLRI), &internal());
    assert_eq!(decoded.update.attributes.local_pref, Some(100));
}

/// §7.9: ORIGINATOR_ID from an external neighbor is discarded.
#[test]
fn originator_id_from_external_is_discarded_whatever_its_form() {
    use AttributeErrorKind::InternalOnly;
    use ErrorAction::AttributeDiscard;
    let decoded = decode_update(&update(&with("800904 c0000209"), NLRI), &external());
    assert!(decoded.outcome.is_clean());
    assert_eq!(decoded.update.attributes.originator_id, None);
    kept(&with("800903 c00002"), &external(), &[(InternalOnly, AttributeDiscard)]);
    withdrawn(&with("800903 c00002"), &internal(), AttributeErrorKind::Length);
}

/// §7.10: CLUSTER_LIST from an external neighbor is discarded.
#[test]
fn cluster_list_from_external_is_discarded_whatever_its_form() {
    use AttributeErrorKind::InternalOnly;
    use ErrorAction::AttributeDiscard;
    let decoded = decode_update(&update(&with("800a04 c0000209"), NLRI), &external());
    assert!(decoded.outcome.is_clean());
    assert!(decoded.update.attributes.cluster_list.is_empty());
    kept(&with("800a00"), &external(), &[(InternalOnly, AttributeDiscard)]);
    kept(&with("800a05 c000020901"), &external(), &[(InternalOnly, AttributeDiscard)]);
    withdrawn(&with("800a00"), &internal(), AttributeErrorKind::Length);
}

/// §7.2 (RFC 4271 §6.3): an external neighbor's AS_PATH starts with its AS.
#[test]
fn external_as_path_must_start_with_the_neighbors_as() {
    use AttributeErrorKind::FirstAsMismatch;
    let other = format!("{ORIGIN} 4002060201 0000fdea {NEXT_HOP}");
    withdrawn(&other, &external(), FirstAsMismatch);
    // An AS_SET first, or an empty AS_PATH, has no leading AS.
    let set_first = format!("{ORIGIN} 4002060101 0000fde9 {NEXT_HOP}");
    withdrawn(&set_first, &external(), FirstAsMismatch);
    withdrawn(&format!("{ORIGIN} 400200 {NEXT_HOP}"), &external(), FirstAsMismatch);
    // The neighbor's AS first, other ASes behind it: fine.
    kept(&format!("{ORIGIN} 40020a0202 0000fde9 0000fdea {NEXT_HOP}"), &external(), &[]);
    // From an internal neighbor none of this applies.
    kept(&other, &internal(), &[]);
    kept(&format!("{ORIGIN} 400200 {NEXT_HOP}"), &internal(), &[]);
}

/// `enforce_first_as = false` (a route server that does not prepend its AS,
/// RFC 7947 §2.2.2.1): the first AS is not checked; confederation segments
/// from an external neighbor still are (RFC 5065 §5).
#[test]
fn without_enforce_first_as_only_the_first_as_check_is_skipped() {
    let route_server = CodecOptions { skip_first_as_check: true, ..external() };
    let other = format!("{ORIGIN} 4002060201 0000fdea {NEXT_HOP}");
    kept(&other, &route_server, &[]);
    let confed = format!("{ORIGIN} 4002060301 0000fde9 {NEXT_HOP}");
    withdrawn(&confed, &route_server, AttributeErrorKind::ConfederationFromExternal);
    // The other eBGP rules stay: a malformed LOCAL_PREF is discarded (§7.5).
    kept(
        &format!("{other} 400503000064"),
        &route_server,
        &[(AttributeErrorKind::InternalOnly, ErrorAction::AttributeDiscard)],
    );
    // The default (what CodecOptions::negotiated gives) checks.
    assert!(!CodecOptions::default().skip_first_as_check);
    withdrawn(&other, &external(), AttributeErrorKind::FirstAsMismatch);
}

/// A withdrawal-only UPDATE carries no AS_PATH to check.
#[test]
fn withdrawals_from_external_need_no_as_path() {
    let body = bytes("0004 18cb0071 0000");
    let decoded = decode_update(&frame(t::UPDATE, &body), &external());
    assert!(decoded.outcome.is_clean());
    assert_eq!(decoded.update.withdrawn, vec![nlri("203.0.113.0/24")]);
}

/// A 2-octet external neighbor with a 4-octet AS path: the first AS is
/// compared after AS4_PATH is merged (RFC 6793 §4.2.3).
#[test]
fn first_as_is_checked_after_the_as4_path_merge() {
    let options = CodecOptions { external_peer_as: Some(65001), ..CodecOptions::default() };
    // AS_PATH (2-octet): 65001 23456; AS4_PATH: 65001 4200000000.
    let attributes =
        format!("{ORIGIN} 400206 0202 fde9 5ba0 c0110a 0202 0000fde9 fa56ea00 {NEXT_HOP}");
    kept(&attributes, &options, &[]);
    let decoded = decode_update(&update(&attributes, NLRI), &options);
    assert_eq!(decoded.update.attributes.as_path.segments[0].asns, vec![65001, 4_200_000_000]);
}

/// RFC 5065 §5: confederation segments never come from outside a confederation.
#[test]
fn confederation_segments_from_external_withdraw() {
    use AttributeErrorKind::ConfederationFromExternal;
    let confed = format!("{ORIGIN} 40020c0301 0000fdea 0201 0000fde9 {NEXT_HOP}");
    withdrawn(&confed, &external(), ConfederationFromExternal);
    kept(&confed, &internal(), &[]);
}

/// RFC 7607 §2: AS 0 makes AS_PATH malformed (treat-as-withdraw, RFC 7606
/// §7.2) and AGGREGATOR / AS4_AGGREGATOR malformed (attribute discard, §7.7,
/// RFC 6793 §6), from any neighbor.
#[test]
fn as_zero_is_malformed() {
    use AttributeErrorKind::AsZero;
    use ErrorAction::AttributeDiscard;
    let zero_path = format!("{ORIGIN} 40020a0202 0000fde9 00000000 {NEXT_HOP}");
    withdrawn(&zero_path, &internal(), AsZero);
    withdrawn(&zero_path, &external(), AsZero);
    kept(&with("c00708 00000000 c0000201"), &internal(), &[(AsZero, AttributeDiscard)]);
    let two_octet = CodecOptions::default();
    let as4_aggregator = format!("{ORIGIN} 4002040201fde9 {NEXT_HOP} c01208 00000000 c0000201");
    kept(&as4_aggregator, &two_octet, &[(AsZero, AttributeDiscard)]);
    let as4_path = format!("{ORIGIN} 4002040201fde9 {NEXT_HOP} c01106 0201 00000000");
    kept(&as4_path, &two_octet, &[(AsZero, AttributeDiscard)]);
}
