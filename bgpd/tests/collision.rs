//! Connection collisions (RFC 4271 §6.8) against a scripted peer that puts the
//! two connections' messages in exactly the order each case needs.
//!
//! `bgpd` runs on 127.0.0.1 (AS 65001, identifier 192.0.2.1) with the peer
//! 127.0.0.2 (AS 65002, identifier 192.0.2.200: the higher one, so by
//! identifiers the connection the peer opened survives). `D` is bgpd's
//! outbound connection, `P` the peer's.
//!
//! What is checked is the order of bgpd's messages on each connection: a
//! connection bgpd closes with the collision Cease (6/7) never carried its
//! KEEPALIVE first, because a peer that got that KEEPALIVE may be Established
//! there, and a graceful restart helper flushes the routes it was keeping
//! stale when an Established session drops.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bgpd::wire::{
    Capability, CodecOptions, Decoded, Message, Notification, NotificationKind, OpenMessage,
    decode_message, encode_message, frame_length,
};
use bytes::BytesMut;
use support::{Daemon, free_port, scratch_directory, spawn_config, with_api};

const BGPD: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const DEADLINE: Duration = Duration::from_secs(20);

/// bgpd towards the scripted peer listening on `peer_port`; its own BGP
/// listener on `listen_port`.
fn start_bgpd(listen_port: u16, peer_port: u16) -> Daemon {
    let api = SocketAddr::from((BGPD, free_port(BGPD)));
    let config = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {listen_port}\n\
         listen_addresses = [\"{BGPD}\"]\n\n[[neighbors]]\naddress = \"{PEER}\"\n\
         remote_asn = 65002\nport = {peer_port}\nhold_time = 9\nconnect_retry_time = 30\n\n"
    );
    let directory = scratch_directory();
    let (child, config) = spawn_config(&directory, &with_api(&config, api), Stdio::null());
    Daemon { child, directory, config, api }
}

/// One end of a connection, as the scripted peer sees it.
struct Wire {
    stream: TcpStream,
    buffer: BytesMut,
}

impl Wire {
    fn new(stream: TcpStream) -> Self {
        stream.set_read_timeout(Some(Duration::from_millis(100))).expect("read timeout");
        Self { stream, buffer: BytesMut::new() }
    }

    fn send(&mut self, message: &Message) {
        let mut out = BytesMut::new();
        encode_message(message, &CodecOptions::default(), &mut out).expect("encode");
        self.stream.write_all(&out).expect("send");
    }

    /// The next message bgpd sends here, or `None` when it closed the connection.
    fn next(&mut self, what: &str) -> Option<Decoded> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(length) = frame_length(&self.buffer, 4096).expect("framing") {
                let frame = self.buffer.split_to(length);
                return Some(decode_message(&frame, &CodecOptions::default()).expect("decode"));
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return None,
            }
            assert!(Instant::now() < deadline, "no message from bgpd: {what}");
        }
    }

    fn expect_open(&mut self) {
        assert!(matches!(self.next("OPEN"), Some(Decoded::Open(_))), "bgpd's OPEN");
    }

    fn expect_keepalive(&mut self, what: &str) {
        let got = self.next(what);
        assert!(matches!(got, Some(Decoded::Keepalive)), "{what}: got {got:?}");
    }

    /// bgpd runs the session here: its next message is a KEEPALIVE or an
    /// UPDATE (the End-of-RIB it sends once Established), not a NOTIFICATION.
    fn expect_session(&mut self, what: &str) {
        let got = self.next(what);
        assert!(
            matches!(got, Some(Decoded::Keepalive | Decoded::Update(_))),
            "{what}: got {got:?}"
        );
    }

    fn expect_collision_cease(&mut self, what: &str) {
        let got = self.next(what);
        let cease = Notification::new(NotificationKind::ConnectionCollisionResolution, Vec::new());
        match got {
            Some(Decoded::Notification(n)) => {
                assert_eq!((n.code, n.subcode), (cease.code, cease.subcode), "{what}");
            }
            other => panic!("{what}: expected the collision Cease, got {other:?}"),
        }
    }
}

fn peer_open() -> Message {
    Message::Open(OpenMessage {
        version: 4,
        my_as: 65002,
        hold_time: 9,
        router_id: Ipv4Addr::new(192, 0, 2, 200),
        capabilities: vec![Capability::FourOctetAs(65002)],
    })
}

/// The scripted peer: its listener (for `D`) and its way to open `P`.
struct Peer {
    listener: TcpListener,
    bgpd_port: u16,
    _bgpd: Daemon,
}

impl Peer {
    fn start() -> Self {
        let listener = TcpListener::bind((PEER, 0)).expect("peer listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let peer_port = listener.local_addr().expect("address").port();
        let bgpd_port = free_port(BGPD);
        let bgpd = start_bgpd(bgpd_port, peer_port);
        Self { listener, bgpd_port, _bgpd: bgpd }
    }

    /// Accepts bgpd's outbound connection `D`.
    fn accept_d(&self) -> Wire {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking");
                    return Wire::new(stream);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "bgpd never connected");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    /// Opens `P` from the neighbour's address, retrying until bgpd listens.
    fn connect_p(&self) -> Wire {
        let target = SocketAddr::from((BGPD, self.bgpd_port));
        let deadline = Instant::now() + DEADLINE;
        loop {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            socket.bind(&SocketAddr::from((PEER, 0)).into()).expect("bind");
            match socket.connect(&target.into()) {
                Ok(()) => return Wire::new(socket.into()),
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot connect to bgpd: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// bgpd gets the peer's OPEN on `D` while `P` waits for one: `D` loses by
/// identifiers and is answered with the Cease alone; `P` becomes the session.
#[test]
fn a_losing_connection_gets_the_cease_without_a_keepalive() {
    let peer = Peer::start();
    let mut d = peer.accept_d();
    d.expect_open();
    let mut p = peer.connect_p();
    p.expect_open();
    d.send(&peer_open());
    d.expect_collision_cease("D loses by identifiers, before any KEEPALIVE");
    p.send(&peer_open());
    p.send(&Message::Keepalive);
    p.expect_keepalive("P answers the OPEN");
    p.expect_session("P is the session");
}

/// The deferred case: bgpd already sent its KEEPALIVE on `D` (the peer may be
/// Established there) when the peer's OPEN arrives on `P`, which wins by
/// identifiers. Returns `D` and `P` with bgpd holding `P`'s KEEPALIVE.
fn deferred(peer: &Peer) -> (Wire, Wire) {
    let mut d = peer.accept_d();
    d.expect_open();
    d.send(&peer_open());
    d.expect_keepalive("D answers the OPEN");
    let mut p = peer.connect_p();
    p.expect_open();
    p.send(&peer_open());
    (d, p)
}

/// The peer's KEEPALIVE on `D` (it is Established there) makes bgpd close `P`,
/// which never carried a KEEPALIVE.
#[test]
fn a_deferred_collision_keeps_the_connection_the_peer_established() {
    let peer = Peer::start();
    let (mut d, mut p) = deferred(&peer);
    d.send(&Message::Keepalive);
    p.expect_collision_cease("P goes, its KEEPALIVE never sent");
    // D is the session: bgpd answers keepalives on it and does not close it.
    d.expect_session("D is the session");
}

/// The peer closes `D` instead (as FRR does when it resolves by identifiers):
/// bgpd releases `P`'s KEEPALIVE and `P` becomes the session.
#[test]
fn a_deferred_collision_follows_the_peer_closing_the_other_connection() {
    let peer = Peer::start();
    let (mut d, mut p) = deferred(&peer);
    d.send(&Message::Notification(Notification::new(
        NotificationKind::ConnectionCollisionResolution,
        Vec::new(),
    )));
    drop(d);
    p.expect_keepalive("P's held KEEPALIVE is released");
    p.send(&Message::Keepalive);
    p.expect_session("P is the session");
}
