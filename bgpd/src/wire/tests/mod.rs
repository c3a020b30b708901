//! Cross-module codec tests: golden vectors (captured and constructed), error
//! paths, round trips, packing.

mod errors;
mod extended_next_hop;
mod golden_captured;
mod golden_constructed;
mod packed;
mod packing;
mod rfc7606;
mod roundtrip;

use bytes::BytesMut;

use super::*;

/// Hex text (whitespace ignored) to bytes.
pub(super) fn bytes(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// A frame from its body: marker, length, type prepended.
pub(super) fn frame(message_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF; 16];
    out.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    out.push(message_type);
    out.extend_from_slice(body);
    out
}

pub(super) fn four_octet() -> CodecOptions {
    CodecOptions { four_octet_as: true, ..CodecOptions::default() }
}

pub(super) fn encode(message: &Message, options: &CodecOptions) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_message(message, options, &mut out).unwrap();
    out.to_vec()
}

pub(super) fn decode_update(frame: &[u8], options: &CodecOptions) -> DecodedUpdate {
    match decode_message(frame, options).unwrap() {
        Decoded::Update(update) => *update,
        other => panic!("expected an UPDATE, got {other:?}"),
    }
}

pub(super) fn nlri(prefix: &str) -> Nlri {
    Nlri::new(prefix.parse().unwrap())
}

/// Decoding `frame` gives `expected`, and encoding `expected` gives `frame`.
pub(super) fn both_ways(frame: &[u8], expected: &Message, options: &CodecOptions) {
    let decoded = match decode_message(frame, options).unwrap() {
        Decoded::Open(open) => Message::Open(open),
        Decoded::Update(update) => {
            assert!(update.outcome.is_clean(), "{:?}", update.outcome);
            Message::Update(Box::new(update.update))
        }
        Decoded::Notification(notification) => Message::Notification(notification),
        Decoded::Keepalive => Message::Keepalive,
        Decoded::RouteRefresh(refresh) => Message::RouteRefresh(refresh),
    };
    assert_eq!(&decoded, expected, "decode");
    assert_eq!(encode(expected, options), frame, "encode");
}

/// Decode, re-encode, decode again: the same message.
pub(super) fn stable(frame: &[u8], options: &CodecOptions) -> Message {
    let first = to_message(decode_message(frame, options).unwrap());
    let again = to_message(decode_message(&encode(&first, options), options).unwrap());
    assert_eq!(first, again);
    first
}

pub(super) fn to_message(decoded: Decoded) -> Message {
    match decoded {
        Decoded::Open(open) => Message::Open(open),
        Decoded::Update(update) => Message::Update(Box::new(update.update)),
        Decoded::Notification(notification) => Message::Notification(notification),
        Decoded::Keepalive => Message::Keepalive,
        Decoded::RouteRefresh(refresh) => Message::RouteRefresh(refresh),
    }
}
