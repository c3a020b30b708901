//! Shared body of the decode targets.

use bgpd::wire::{CodecOptions, Decoded, Message, decode_message, encode_message};
use bytes::BytesMut;

pub fn check(data: &[u8], options: &CodecOptions) {
    // Raw bytes as they come off the socket.
    let _ = decode_message(data, options);
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let Ok(length) = u16::try_from(19 + body.len()) else {
        return;
    };
    let mut frame = vec![0xFF; 16];
    frame.extend_from_slice(&length.to_be_bytes());
    frame.push(kind % 6);
    frame.extend_from_slice(body);
    let Ok(decoded) = decode_message(&frame, options) else {
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
