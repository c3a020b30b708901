//! `enforce_first_as` end to end: a scripted eBGP peer (AS 65002) sends one
//! UPDATE whose AS_PATH starts with another AS (as an IXP route server that
//! does not prepend its own, RFC 7947) and one that starts with 65002. By
//! default bgpd treats the first as withdraw (RFC 4271 §6.3, RFC 7606 §7.2);
//! with `enforce_first_as = false` on the neighbor it keeps both.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bgpd::wire::{
    AsPath, Capability, CodecOptions, Decoded, Message, Nlri, OpenMessage, Origin, PathAttributes,
    UpdateMessage, decode_message, encode_message, frame_length,
};
use bytes::BytesMut;
use ironlb_proto::bgpd::v1;
use support::{bgp_ready, start_daemon, with_api};

const PEER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const DEADLINE: Duration = Duration::from_secs(20);
/// Sent with AS_PATH 65099 65002: not the neighbor's AS first.
const FOREIGN_FIRST: &str = "198.51.100.0/24";
/// Sent with AS_PATH 65002: fine either way; sent last.
const OWN_FIRST: &str = "203.0.113.0/24";

fn options() -> CodecOptions {
    CodecOptions { four_octet_as: true, ..CodecOptions::default() }
}

fn send(stream: &mut TcpStream, message: &Message) {
    let mut out = BytesMut::new();
    encode_message(message, &options(), &mut out).expect("encode");
    stream.write_all(&out).expect("send");
}

/// The next message bgpd sends, within the deadline.
fn next(stream: &mut TcpStream, buffer: &mut BytesMut) -> Decoded {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(length) = frame_length(buffer, 4096).expect("framing") {
            let frame = buffer.split_to(length);
            return decode_message(&frame, &options()).expect("decode");
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => panic!("bgpd closed the connection"),
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("read: {e}"),
        }
        assert!(Instant::now() < deadline, "no message from bgpd");
    }
}

fn update(prefix: &str, as_path: &[u32]) -> Message {
    Message::Update(Box::new(UpdateMessage {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: AsPath::from_sequence(as_path.iter().copied()),
            next_hop: Some(PEER),
            ..PathAttributes::default()
        },
        nlri: vec![Nlri::new(prefix.parse().expect("prefix"))],
        ..UpdateMessage::default()
    }))
}

/// Accepts bgpd's connection, brings the session up and sends both UPDATEs.
/// Returns the connection, which must stay open while the RIB is read.
fn run_peer(listener: &TcpListener) -> TcpStream {
    let deadline = Instant::now() + DEADLINE;
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "bgpd never connected");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).expect("blocking");
    stream.set_read_timeout(Some(Duration::from_millis(100))).expect("read timeout");
    let mut buffer = BytesMut::new();
    assert!(matches!(next(&mut stream, &mut buffer), Decoded::Open(_)), "bgpd's OPEN");
    send(
        &mut stream,
        &Message::Open(OpenMessage {
            version: 4,
            my_as: 65002,
            hold_time: 90,
            router_id: Ipv4Addr::new(192, 0, 2, 200),
            capabilities: vec![Capability::FourOctetAs(65002)],
        }),
    );
    send(&mut stream, &Message::Keepalive);
    assert!(matches!(next(&mut stream, &mut buffer), Decoded::Keepalive), "bgpd's KEEPALIVE");
    send(&mut stream, &update(FOREIGN_FIRST, &[65099, 65002]));
    send(&mut stream, &update(OWN_FIRST, &[65002]));
    stream
}

/// The prefixes bgpd accepted from the peer, once the last UPDATE is in.
async fn accepted(neighbor_extra: &str) -> Vec<String> {
    let listener = TcpListener::bind((PEER, 0)).expect("peer listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    let config = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = 0\n\n\
         [[neighbors]]\naddress = \"{PEER}\"\nremote_asn = 65002\nport = {port}\n\
         connect_retry_time = 1\nimport_policy = [\"accept-all\"]\n{neighbor_extra}\n"
    );
    let (_daemon, mut client) = start_daemon(|_, api| with_api(&config, api), bgp_ready).await;
    let _stream = tokio::task::spawn_blocking(move || run_peer(&listener)).await.expect("peer");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let request = v1::ListPathsRequest {
            table: v1::Table::AdjRibIn as i32,
            peer: PEER.to_string(),
            ..v1::ListPathsRequest::default()
        };
        let mut prefixes = Vec::new();
        if let Ok(stream) = client.list_paths(request).await {
            let mut stream = stream.into_inner();
            while let Ok(Some(answer)) = stream.message().await {
                prefixes.push(answer.path.expect("path").prefix);
            }
        }
        prefixes.sort();
        if prefixes.iter().any(|p| p == OWN_FIRST) {
            return prefixes;
        }
        assert!(Instant::now() < deadline, "{OWN_FIRST} never arrived: {prefixes:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn by_default_a_foreign_first_as_is_withdrawn() {
    assert_eq!(accepted("").await, [OWN_FIRST]);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_enforce_first_as_a_route_server_path_is_kept() {
    assert_eq!(accepted("enforce_first_as = false").await, [FOREIGN_FIRST, OWN_FIRST]);
}
