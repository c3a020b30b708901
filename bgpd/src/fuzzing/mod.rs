//! The bodies of the fuzz targets, kept in the library so that the very same
//! code runs under libFuzzer (`fuzz/`, `cargo +nightly fuzz run TARGET`) and
//! under a plain stable `cargo test` (`tests/fuzz_smoke.rs` replays the
//! committed corpus `fuzz/corpus/TARGET/` and a fixed number of seeded
//! pseudo-random inputs through every body).
//!
//! A module rather than a cargo feature: the bodies use nothing but the
//! library's public API, cost nothing in a build that does not call them, and
//! a feature would let them rot in every build that does not turn it on. Only
//! the `arbitrary` derives of the structure-aware UPDATE model
//! ([`update_model`]) sit behind the `arbitrary` feature, so that the
//! dependency reaches only the fuzz workspace and the tests (bgpd's
//! dev-dependency on itself turns the feature on for `cargo test`).
//!
//! Each body takes the raw input and panics (an `assert!`) only when it finds
//! a bug: a panic in the code under test, or a broken round-trip property.
//! [`TARGETS`] names every body; the fuzz targets are one line each.

pub mod api;
pub mod config;
pub mod update_model;

use bytes::BytesMut;

use crate::bfd::ControlPacket;
use crate::layer2::arp::{ARP_FRAME_LEN, ArpPacket};
use crate::layer2::ndp::{NDP_FRAME_MAX, NdpPacket};
use crate::wire::{
    CodecOptions, Decoded, Family, FamilySet, Message, decode_message, encode_message,
};

/// A fuzz target: its name (the directory of its corpus) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every fuzz target, by the name of its `fuzz/fuzz_targets/NAME.rs` file.
pub const TARGETS: &[Target] = &[
    ("frame_length", frame_length),
    ("decode_default", decode_default),
    ("decode_four_octet", decode_four_octet),
    ("decode_extended_add_path", decode_extended_add_path),
    ("layer2_frames", layer2_frames),
    ("bfd_control", bfd_control),
    ("config", config::check),
    ("api", api::check),
    ("update_model", update_model::check),
];

/// Both ADD-PATH families (RFC 7911).
pub fn all_families() -> FamilySet {
    FamilySet::EMPTY.with(Family::Ipv4Unicast).with(Family::Ipv6Unicast)
}

/// The options of an eBGP session with 4-octet ASes, extended messages,
/// enhanced route refresh, ADD-PATH both ways for both families and IPv4
/// over IPv6 next hops (RFC 8950).
pub fn extended_add_path_options() -> CodecOptions {
    CodecOptions {
        four_octet_as: true,
        extended_message: true,
        enhanced_route_refresh: true,
        add_path_receive: all_families(),
        add_path_send: all_families(),
        extended_next_hop: FamilySet::EMPTY.with(Family::Ipv4Unicast),
        external_peer_as: Some(64_512),
        skip_first_as_check: false,
    }
}

/// `frame_length` on arbitrary bytes, both size limits: never panics, and a
/// reported frame length is within the buffer and the limit.
pub fn frame_length(data: &[u8]) {
    for max in [crate::wire::MAX_MESSAGE_LEN, crate::wire::MAX_EXTENDED_MESSAGE_LEN] {
        if let Ok(Some(length)) = crate::wire::frame_length(data, max) {
            assert!((19..=max).contains(&length) && length <= data.len());
        }
    }
}

/// [`decode`] under the options before negotiation (2-octet AS, 4096 octets,
/// an internal neighbor).
pub fn decode_default(data: &[u8]) {
    decode(data, &CodecOptions::default());
}

/// [`decode`] under the options of an internal 4-octet AS session.
pub fn decode_four_octet(data: &[u8]) {
    decode(data, &CodecOptions { four_octet_as: true, ..CodecOptions::default() });
}

/// [`decode`] under [`extended_add_path_options`] (an external neighbor, so
/// the eBGP rules of RFC 7606 §7.2, §7.5, §7.9 and §7.10 run too).
pub fn decode_extended_add_path(data: &[u8]) {
    decode(data, &extended_add_path_options());
}

/// `decode_message` on `data` as it comes off the socket, then on `data` as a
/// message body: the first octet picks the type, the header is built here so
/// the fuzzer spends its time inside the decoders. Whatever decodes must
/// re-encode into a message that decodes again.
pub fn decode(data: &[u8], options: &CodecOptions) {
    let _ = decode_message(data, options);
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let Ok(length) = u16::try_from(crate::wire::HEADER_LEN + body.len()) else {
        return;
    };
    let mut frame = vec![0xFF; 16];
    frame.extend_from_slice(&length.to_be_bytes());
    frame.push(kind % 6);
    frame.extend_from_slice(body);
    reencode(&frame, options);
}

/// Decodes `frame`; whatever decodes must re-encode into a message that
/// decodes again.
pub fn reencode(frame: &[u8], options: &CodecOptions) {
    let Ok(decoded) = decode_message(frame, options) else {
        return;
    };
    let message = match decoded {
        Decoded::Open(open) => Message::Open(open),
        Decoded::Update(update) => Message::Update(Box::new(update.update)),
        Decoded::Notification(notification) => Message::Notification(notification),
        Decoded::Keepalive => Message::Keepalive,
        Decoded::RouteRefresh(refresh) => Message::RouteRefresh(refresh),
    };
    let mut out = BytesMut::new();
    if encode_message(&message, options, &mut out).is_ok() {
        let again = decode_message(&out, options);
        assert!(again.is_ok(), "re-encoded message does not decode: {again:?}");
    }
}

/// The layer2 frame parsers (`ArpPacket::parse`, `NdpPacket::parse`) on
/// arbitrary bytes: never panic, and whatever parses re-encodes to a frame
/// that parses to the same packet (ARP: byte for byte up to its 42 bytes).
pub fn layer2_frames(data: &[u8]) {
    if let Ok(packet) = ArpPacket::parse(data) {
        let mut out = [0; ARP_FRAME_LEN];
        packet.encode(&mut out);
        assert_eq!(&out[..], &data[..ARP_FRAME_LEN]);
    }
    if let Ok(packet) = NdpPacket::parse(data) {
        let mut out = [0; NDP_FRAME_MAX];
        let length = packet.encode(&mut out);
        assert_eq!(NdpPacket::parse(&out[..length]), Ok(packet));
    }
}

/// `ControlPacket::decode` (RFC 5880 §4.1, §6.8.6) on arbitrary datagrams:
/// never panics, and whatever decodes re-encodes to a packet that decodes to
/// the same value.
pub fn bfd_control(data: &[u8]) {
    if let Ok(packet) = ControlPacket::decode(data) {
        let mut out = Vec::new();
        assert!(packet.encode(&mut out).is_ok(), "a decoded packet always encodes");
        assert_eq!(out.len(), packet.length());
        assert_eq!(ControlPacket::decode(&out), Ok(packet));
    }
}
