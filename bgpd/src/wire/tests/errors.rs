//! Error paths: every decode error maps to the right NOTIFICATION (code,
//! subcode, data; RFC 4271 §6), every RFC 7606 case to the right action.

use super::*;
use crate::wire::message_type as t;

const ORIGIN: &str = "40010100";
const AS_PATH: &str = "4002060201 0000fde9";
const NEXT_HOP: &str = "400304c0000201";

/// An UPDATE frame from hex parts.
fn update(withdrawn: &str, attributes: &str, nlri: &str) -> Vec<u8> {
    let (withdrawn, attributes, nlri) = (bytes(withdrawn), bytes(attributes), bytes(nlri));
    let mut body = Vec::new();
    body.extend(u16::try_from(withdrawn.len()).unwrap().to_be_bytes());
    body.extend(withdrawn);
    body.extend(u16::try_from(attributes.len()).unwrap().to_be_bytes());
    body.extend(attributes);
    body.extend(nlri);
    frame(t::UPDATE, &body)
}

fn with(extra: &str) -> String {
    format!("{ORIGIN} {AS_PATH} {NEXT_HOP} {extra}")
}

fn error(frame: &[u8], options: &CodecOptions) -> DecodeError {
    decode_message(frame, options).unwrap_err()
}

fn notification(frame: &[u8], options: &CodecOptions) -> (u8, u8, Vec<u8>) {
    let n = error(frame, options).notification();
    (n.code, n.subcode, n.data.to_vec())
}

#[test]
fn header_errors() {
    let mut bad_marker = frame(t::KEEPALIVE, &[]);
    bad_marker[3] = 0;
    assert_eq!(
        frame_length(&bad_marker[..5], 4096).unwrap_err(),
        DecodeError::ConnectionNotSynchronized { offset: 3, value: 0 }
    );
    assert_eq!(notification(&bad_marker, &four_octet()), (1, 1, vec![]));

    let mut short = frame(t::KEEPALIVE, &[]);
    short[17] = 18;
    assert_eq!(frame_length(&short, 4096).unwrap_err().notification().data.to_vec(), vec![0, 18]);

    let long = frame(t::UPDATE, &vec![0; 5000]);
    assert_eq!(
        frame_length(&long[..19], 4096).unwrap_err().notification().data.to_vec(),
        vec![0x13, 0x9b]
    );
    assert_eq!(frame_length(&long[..19], 65535).unwrap(), None);

    let keepalive_with_body = frame(t::KEEPALIVE, &[0]);
    assert_eq!(notification(&keepalive_with_body, &four_octet()), (1, 2, vec![0, 20]));
    let short_open = frame(t::OPEN, &[4; 9]);
    assert_eq!(notification(&short_open, &four_octet()), (1, 2, vec![0, 28]));
    let short_notification = frame(t::NOTIFICATION, &[6]);
    assert_eq!(notification(&short_notification, &four_octet()), (1, 2, vec![0, 20]));

    let bad_type = frame(9, &[]);
    assert_eq!(
        frame_length(&bad_type, 4096).unwrap_err(),
        DecodeError::BadMessageType { message_type: 9 }
    );
    assert_eq!(notification(&bad_type, &four_octet()), (1, 3, vec![9]));

    // Frame complete only when every octet is there.
    let keepalive = frame(t::KEEPALIVE, &[]);
    assert_eq!(frame_length(&keepalive[..18], 4096).unwrap(), None);
    assert_eq!(frame_length(&keepalive, 4096).unwrap(), Some(19));
}

fn open_frame(fixed: &str, parameters: &str) -> Vec<u8> {
    let parameters = bytes(parameters);
    let mut body = bytes(fixed);
    body.push(u8::try_from(parameters.len()).unwrap());
    body.extend(parameters);
    frame(t::OPEN, &body)
}

#[test]
fn open_errors() {
    let options = CodecOptions::default();
    let fixed = "04 fde9 00b4 c0000201";
    assert!(decode_message(&open_frame(fixed, ""), &options).is_ok());
    assert_eq!(
        notification(&open_frame("03 fde9 00b4 c0000201", ""), &options),
        (2, 1, vec![0, 4])
    );
    assert_eq!(notification(&open_frame("04 fde9 0002 c0000201", ""), &options), (2, 6, vec![]));
    assert_eq!(notification(&open_frame("04 fde9 00b4 00000000", ""), &options), (2, 3, vec![]));
    assert_eq!(notification(&open_frame(fixed, "01 02 0000"), &options), (2, 4, vec![]));
    // Parameter length overrunning the optional parameters.
    assert_eq!(notification(&open_frame(fixed, "02 09 0000"), &options), (2, 0, vec![]));
    // Multiprotocol capability of 3 octets.
    assert!(matches!(
        error(&open_frame(fixed, "02 05 01 03 000100"), &options),
        DecodeError::MalformedCapability { code: 1, offset: 31, .. }
    ));
    // ADD-PATH with Send/Receive 0: Unsupported Capability carrying it.
    assert_eq!(
        notification(&open_frame(fixed, "02 06 45 04 00010100"), &options),
        (2, 7, bytes("45 04 00010100"))
    );
    // Optional parameters length shorter than the body.
    let mut trailing = open_frame(fixed, "");
    trailing.push(0);
    trailing[17] += 1;
    assert_eq!(notification(&trailing, &options), (2, 0, vec![]));
}

#[test]
fn update_structure_errors_reset() {
    let options = four_octet();
    // Withdrawn Routes Length past the end.
    let mut frame = update("", "", "");
    frame[20] = 9;
    assert!(matches!(
        error(&frame, &options),
        DecodeError::MalformedAttributeList { offset: 21, value: 9, .. }
    ));
    assert_eq!(notification(&frame, &options), (3, 1, vec![]));
    // Total Path Attribute Length past the end.
    let mut frame = update("", "", "");
    frame[22] = 1;
    assert_eq!(notification(&frame, &options), (3, 1, vec![]));
}

#[test]
fn nlri_syntax_errors_reset() {
    let options = four_octet();
    for (withdrawn, nlri) in
        [("21 c0000201", ""), ("18 cb00", ""), ("", "21c0000201"), ("", "20 c00002")]
    {
        let frame = update(withdrawn, &with(""), nlri);
        assert_eq!(notification(&frame, &options), (3, 10, vec![]), "{withdrawn} {nlri}");
    }
    let mp_reach = "900e 0016 0002 01 10 20010db8000000000000000000000001 00 81";
    let frame = update("", &format!("{ORIGIN} {AS_PATH} {mp_reach}"), "");
    assert!(matches!(
        error(&frame, &options),
        DecodeError::InvalidNetworkField { field: Field::MpReachNlri, prefix_length: 129, .. }
    ));
    // ADD-PATH on but a path identifier cut short.
    let add_path =
        CodecOptions { add_path_receive: FamilySet::EMPTY.with(Family::Ipv4Unicast), ..options };
    assert_eq!(notification(&update("000001", "", ""), &add_path), (3, 10, vec![]));
}

#[test]
fn attribute_errors_that_reset() {
    let options = four_octet();
    let unknown_well_known = update("", &with("40 63 01 07"), "18cb0071");
    assert_eq!(notification(&unknown_well_known, &options), (3, 2, bytes("40 63 01 07")));
    let duplicate_mp = update("", "800f03000201 800f03000201", "");
    assert_eq!(notification(&duplicate_mp, &options), (3, 1, vec![]));
    let bad_next_hop_length = "900e 000a 0002 01 05 0102030405 00";
    let frame = update("", &format!("{ORIGIN} {AS_PATH} {bad_next_hop_length}"), "");
    assert_eq!(notification(&frame, &options), (3, 9, bytes(bad_next_hop_length)));
    let truncated_unreach = update("", "800f02 0002", "");
    assert_eq!(notification(&truncated_unreach, &options), (3, 9, bytes("800f02 0002")));
    let mp_flags = update("", "c00f03000201", "");
    assert_eq!(notification(&mp_flags, &options), (3, 4, bytes("c00f03000201")));
    // An attribute overrunning the field with no NLRI to withdraw.
    let overrun = update("", "40 01 05 00", "");
    assert_eq!(notification(&overrun, &options), (3, 1, vec![]));
}

/// Decode an IPv4 announcement of 203.0.113.0/24 with `attributes` and check
/// the outcome: one error of `kind` with `action`, and the NOTIFICATION RFC
/// 4271 would have sent.
fn check(attributes: &str, kind: AttributeErrorKind, action: ErrorAction, sent: (u8, u8, Vec<u8>)) {
    let decoded = decode_update(&update("", attributes, "18cb0071"), &four_octet());
    let errors = &decoded.outcome.errors;
    assert_eq!(errors.len(), 1, "{attributes}: {errors:?}");
    assert_eq!((errors[0].kind, errors[0].action), (kind, action), "{attributes}");
    let n = errors[0].notification();
    assert_eq!((n.code, n.subcode, n.data.to_vec()), sent, "{attributes}");
    match action {
        ErrorAction::TreatAsWithdraw => {
            assert!(decoded.outcome.treat_as_withdraw());
            assert_eq!(decoded.update.withdrawn, vec![nlri("203.0.113.0/24")]);
            assert!(decoded.update.nlri.is_empty());
            assert_eq!(decoded.update.attributes, PathAttributes::default());
        }
        _ => {
            assert!(!decoded.outcome.treat_as_withdraw());
            assert_eq!(decoded.outcome.discarded().count(), 1);
            assert_eq!(decoded.update.nlri, vec![nlri("203.0.113.0/24")]);
        }
    }
}

#[test]
fn rfc7606_per_attribute_actions() {
    use AttributeErrorKind as K;
    use ErrorAction::{AttributeDiscard as Discard, TreatAsWithdraw as Withdraw};
    let base = |a: &str| format!("{AS_PATH} {NEXT_HOP} {a}");
    check(&base("40010103"), K::InvalidOrigin, Withdraw, (3, 6, bytes("40010103")));
    check(&base("4001020000"), K::Length, Withdraw, (3, 5, bytes("4001020000")));
    check(&base("c0010100"), K::Flags, Withdraw, (3, 4, bytes("c0010100")));
    check(
        &format!("{ORIGIN} 40020402050000 {NEXT_HOP}"),
        K::MalformedAsPath,
        Withdraw,
        (3, 11, vec![]),
    );
    check(
        &format!("{ORIGIN} 400206 02000000fde9 {NEXT_HOP}"),
        K::MalformedAsPath,
        Withdraw,
        (3, 11, vec![]),
    );
    check(
        &format!("{ORIGIN} {AS_PATH} 40030500000000ff"),
        K::Length,
        Withdraw,
        (3, 5, bytes("40030500000000ff")),
    );
    check(
        &format!("{ORIGIN} {AS_PATH} 40030400000000"),
        K::InvalidNextHop,
        Withdraw,
        (3, 8, bytes("40030400000000")),
    );
    check(
        &format!("{ORIGIN} {AS_PATH} 400304e0000001"),
        K::InvalidNextHop,
        Withdraw,
        (3, 8, bytes("400304e0000001")),
    );
    check(&with("800403000001"), K::Length, Withdraw, (3, 5, bytes("800403000001")));
    check(&with("400503000001"), K::Length, Withdraw, (3, 5, bytes("400503000001")));
    check(&with("40060101"), K::Length, Discard, (3, 5, bytes("40060101")));
    check(
        &with("c00707 00000001c00002"),
        K::Length,
        Discard,
        (3, 5, bytes("c00707 00000001c00002")),
    );
    check(&with("c00803 000001"), K::Length, Withdraw, (3, 5, bytes("c00803 000001")));
    check(&with("c00800"), K::Length, Withdraw, (3, 5, bytes("c00800")));
    check(&with("800903 000001"), K::Length, Withdraw, (3, 5, bytes("800903 000001")));
    check(&with("800a00"), K::Length, Withdraw, (3, 5, bytes("800a00")));
    check(
        &with("c01007 00000000000000"),
        K::Length,
        Withdraw,
        (3, 5, bytes("c01007 00000000000000")),
    );
    check(
        &with("c0200b 0000000000000000000000"),
        K::Length,
        Withdraw,
        (3, 5, bytes("c0200b 0000000000000000000000")),
    );
    // A well-known attribute flagged optional: flags error.
    check(&with("8005 04 00000064"), K::Flags, Withdraw, (3, 4, bytes("8005 04 00000064")));
    // Second ORIGIN: discarded, the first one stays.
    check(&with("40010102"), K::Duplicate, Discard, (3, 1, vec![]));
    // AS4_PATH from a 4-octet speaker: discarded (RFC 6793 §4.1).
    check(
        &with("c011 06 0201 fa56ea00"),
        K::UnexpectedAs4,
        Discard,
        (3, 9, bytes("c011 06 0201 fa56ea00")),
    );
    // MP_REACH_NLRI for a family we do not route: discarded.
    check(
        &with("800e 09 4001 46 04 c0000201 00"),
        K::UnsupportedFamily,
        Discard,
        (3, 9, bytes("800e 09 4001 46 04 c0000201 00")),
    );
}

#[test]
fn missing_well_known_attributes_treat_as_withdraw() {
    check(
        &format!("{AS_PATH} {NEXT_HOP}"),
        AttributeErrorKind::MissingWellKnown,
        ErrorAction::TreatAsWithdraw,
        (3, 3, vec![1]),
    );
    check(
        &format!("{ORIGIN} {NEXT_HOP}"),
        AttributeErrorKind::MissingWellKnown,
        ErrorAction::TreatAsWithdraw,
        (3, 3, vec![2]),
    );
    check(
        &format!("{ORIGIN} {AS_PATH}"),
        AttributeErrorKind::MissingWellKnown,
        ErrorAction::TreatAsWithdraw,
        (3, 3, vec![3]),
    );
    // No NLRI: nothing is missing.
    let decoded = decode_update(&update("18cb0071", "", ""), &four_octet());
    assert!(decoded.outcome.is_clean());
    assert_eq!(decoded.update.withdrawn, vec![nlri("203.0.113.0/24")]);
}

#[test]
fn overrun_with_nlri_is_treat_as_withdraw() {
    check(
        &with("c0 08 09 00000001"),
        AttributeErrorKind::Overrun,
        ErrorAction::TreatAsWithdraw,
        (3, 5, bytes("c0 08 09 00000001")),
    );
}

#[test]
fn treat_as_withdraw_covers_mp_reach() {
    let mp_reach = "900e 001c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80001";
    let frame =
        update("", &format!("40010105 {AS_PATH} {mp_reach} 800f 0a 0002 01 30 20010db80002"), "");
    let decoded = decode_update(&frame, &four_octet());
    assert!(decoded.outcome.treat_as_withdraw());
    assert_eq!(decoded.update.mp_reach, None);
    let unreach = decoded.update.mp_unreach.clone().unwrap();
    assert_eq!(unreach.family, Family::Ipv6Unicast);
    assert_eq!(unreach.withdrawn, vec![nlri("2001:db8:2::/48"), nlri("2001:db8:1::/48")]);
    assert_eq!(decoded.update.end_of_rib_family(), None);
}

#[test]
fn route_refresh_length() {
    let long = frame(t::ROUTE_REFRESH, &[0, 1, 0, 1, 0]);
    let enhanced = CodecOptions { enhanced_route_refresh: true, ..CodecOptions::default() };
    assert_eq!(notification(&long, &enhanced), (7, 1, long.clone()));
    assert_eq!(notification(&long, &CodecOptions::default()), (1, 2, vec![0, 24]));
    let short = frame(t::ROUTE_REFRESH, &[0, 1, 0]);
    assert_eq!(notification(&short, &enhanced), (1, 2, vec![0, 22]));
}

#[test]
fn as4_merge_on_two_octet_session() {
    // AS_PATH 65001 AS_TRANS AS_TRANS, AS4_PATH 4200000001 4200000002.
    let attributes =
        format!("{ORIGIN} 400208 0203 fde9 5ba0 5ba0 {NEXT_HOP} c0110a 0202 fa56ea01 fa56ea02");
    let decoded = decode_update(&update("", &attributes, "18cb0071"), &CodecOptions::default());
    assert!(decoded.outcome.is_clean());
    assert_eq!(
        decoded.update.attributes.as_path,
        AsPath::from_sequence([65001, 4_200_000_001, 4_200_000_002])
    );
    // Malformed AS4_PATH (confederation segment): discarded, AS_PATH used.
    let attributes = format!("{ORIGIN} 400204 0201 5ba0 {NEXT_HOP} c01106 0301 fa56ea01");
    let decoded = decode_update(&update("", &attributes, "18cb0071"), &CodecOptions::default());
    assert_eq!(decoded.outcome.discarded().count(), 1);
    assert_eq!(decoded.update.attributes.as_path, AsPath::from_sequence([23456]));
}

#[test]
fn encode_errors() {
    let mut out = BytesMut::new();
    let wrong_family =
        UpdateMessage { nlri: vec![nlri("2001:db8::/32")], ..UpdateMessage::default() };
    let error = encode_message(&Message::Update(Box::new(wrong_family)), &four_octet(), &mut out)
        .unwrap_err();
    assert!(matches!(error, EncodeError::PrefixFamilyMismatch { field: Field::Nlri, .. }));
    assert!(out.is_empty());
    let long_name = OpenMessage {
        version: 4,
        my_as: 1,
        hold_time: 90,
        router_id: std::net::Ipv4Addr::new(192, 0, 2, 1),
        capabilities: vec![Capability::Fqdn { hostname: "x".repeat(300), domain: String::new() }],
    };
    let error = encode_message(&Message::Open(long_name), &four_octet(), &mut out).unwrap_err();
    assert!(matches!(error, EncodeError::CapabilityTooLong { code: 73, .. }));
}

#[test]
fn treat_as_withdraw_with_mp_unreach_of_the_other_family() {
    // IPv6 routes announced, IPv4 ones withdrawn through MP_UNREACH_NLRI, bad
    // ORIGIN: IPv4 withdrawals move to the classic field, IPv6 to MP_UNREACH.
    let mp_reach = "900e 001c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80001";
    let mp_unreach_v4 = "800f 07 0001 01 18 cb0071";
    let frame = update("", &format!("40010105 {AS_PATH} {mp_reach} {mp_unreach_v4}"), "20c0000201");
    let decoded = decode_update(&frame, &four_octet());
    assert!(decoded.outcome.treat_as_withdraw());
    assert_eq!(decoded.update.withdrawn, vec![nlri("192.0.2.1/32"), nlri("203.0.113.0/24")]);
    let unreach = decoded.update.mp_unreach.clone().unwrap();
    assert_eq!(
        (unreach.family, unreach.withdrawn),
        (Family::Ipv6Unicast, vec![nlri("2001:db8:1::/48")])
    );
    assert!(decoded.update.nlri.is_empty() && decoded.update.mp_reach.is_none());
}
