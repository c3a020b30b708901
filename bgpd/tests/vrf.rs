//! A neighbor's `vrf` on loopback: sessions bound to `lo` (a device every
//! namespace has) connect out and are accepted through bgpd's listener of
//! that device; a neighbor bound to a device that does not exist reports it
//! in GetPeer and gets no connection, in either direction. The binding to
//! a separate path (two links, FRR) is `interop-tests/tests/vrf.rs`.

mod support;

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use support::{bgp_ready, free_port, start_daemon, with_api};

const DEADLINE: Duration = Duration::from_secs(20);
const OUTBOUND: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const INBOUND: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const MISSING: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
const NO_DEVICE: &str = "ironlb-none0";

/// The type of the first BGP message on `stream`; `None` when bgpd closed
/// it without one.
fn first_message(stream: &mut TcpStream) -> Option<u8> {
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut header = [0u8; 19];
    let mut read = 0;
    while read < header.len() {
        match stream.read(&mut header[read..]) {
            Ok(0) => return None,
            Ok(n) => read += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read: {e}"),
        }
    }
    Some(header[18])
}

/// Connects to bgpd's BGP port from `source`.
fn connect_from(source: Ipv4Addr, port: u16) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.bind(&SocketAddr::from((source, 0)).into()).expect("bind source");
    socket.connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into()).expect("connect");
    socket.into()
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_bound_to_a_device_connect_and_accept_through_it_only() {
    let peer = TcpListener::bind((OUTBOUND, 0)).expect("peer listener");
    let peer_port = peer.local_addr().expect("address").port();
    let port = free_port(Ipv4Addr::LOCALHOST);
    let config = format!(
        "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = {port}\n\
         listen_addresses = [\"127.0.0.1\"]\n\n\
         [[neighbors]]\naddress = \"{OUTBOUND}\"\nremote_asn = 65002\nport = {peer_port}\n\
         connect_retry_time = 1\nvrf = \"lo\"\n\n\
         [[neighbors]]\naddress = \"{INBOUND}\"\nremote_asn = 65003\npassive = true\nvrf = \"lo\"\n\n\
         [[neighbors]]\naddress = \"{MISSING}\"\nremote_asn = 65004\npassive = true\n\
         vrf = \"{NO_DEVICE}\"\n"
    );
    let (_daemon, mut client) = start_daemon(|_, api| with_api(&config, api), bgp_ready).await;

    // Out: bgpd's connection, bound to lo, reaches the peer and opens.
    let opened = tokio::task::spawn_blocking(move || {
        let (mut stream, _) = peer.accept().expect("bgpd connects out");
        first_message(&mut stream)
    });
    assert_eq!(opened.await.expect("peer"), Some(1), "bgpd's OPEN over its lo-bound socket");

    // In: a connection arriving on lo goes to lo's listener, and to the
    // neighbor bound to lo.
    let mut inbound = connect_from(INBOUND, port);
    assert_eq!(first_message(&mut inbound), Some(1), "accepted through the lo listener");

    // The neighbor bound to a missing device says why and gets nothing: its
    // connection arrived on lo, not on its device.
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        let request = v1::GetPeerRequest { address: MISSING.to_string() };
        let peer = client.get_peer(request).await.expect("GetPeer").into_inner().peer;
        let peer = peer.expect("peer");
        assert_eq!(peer.config.as_ref().expect("config").vrf, NO_DEVICE);
        let status = peer.status.expect("status");
        if !status.device_error.is_empty() {
            break status;
        }
        assert!(Instant::now() < deadline, "no device_error: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.device_error.contains(NO_DEVICE), "{}", status.device_error);
    assert!(status.device_error.contains("No such device"), "{}", status.device_error);
    let mut refused = connect_from(MISSING, port);
    assert_eq!(first_message(&mut refused), None, "refused: it did not arrive on its device");

    // The lo neighbors report no device problem.
    for address in [OUTBOUND, INBOUND] {
        let request = v1::GetPeerRequest { address: address.to_string() };
        let peer = client.get_peer(request).await.expect("GetPeer").into_inner().peer;
        let peer = peer.expect("peer");
        assert_eq!(peer.config.as_ref().expect("config").vrf, "lo");
        assert_eq!(peer.status.expect("status").device_error, "", "{address}");
    }
}
