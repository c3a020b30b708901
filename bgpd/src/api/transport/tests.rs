use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicU32, Ordering};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tokio::sync::oneshot;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as HealthStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use super::*;

/// Answers every RPC with UNIMPLEMENTED (the generated default stubs).
struct Stub;

impl BgpService for Stub {}

/// A socket path of its own for each test, under the temp directory.
fn socket_path(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("ironlb-api-{}-{n}-{name}.sock", std::process::id()))
}

#[test]
fn listen_addresses_parse() {
    assert_eq!(
        DEFAULT_LISTEN.parse(),
        Ok(ListenAddress::Tcp(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50051).into()))
    );
    assert_eq!(
        "[::1]:50051".parse(),
        Ok(ListenAddress::Tcp(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 50051, 0, 0).into()))
    );
    assert_eq!(
        "unix:/run/ironlb/bgpd.sock".parse(),
        Ok(ListenAddress::Unix(PathBuf::from("/run/ironlb/bgpd.sock")))
    );
    for bad in ["", "unix:", "127.0.0.1", "localhost:50051", "127.0.0.1:70000"] {
        let error = bad.parse::<ListenAddress>().expect_err(bad);
        assert_eq!(error, ListenAddressError(bad.to_string()));
    }
    for text in ["127.0.0.1:50051", "[2001:db8::1]:50051", "unix:/run/ironlb/bgpd.sock"] {
        assert_eq!(text.parse::<ListenAddress>().map(|a| a.to_string()).as_deref(), Ok(text));
    }
}

#[tokio::test]
async fn a_regular_file_is_never_replaced() {
    let path = socket_path("file");
    std::fs::write(&path, b"keep me").expect("write");
    let error = bind(&ListenAddress::Unix(path.clone())).await.expect_err("not a socket");
    assert!(matches!(error, ServeError::NotASocket { .. }), "{error}");
    assert_eq!(std::fs::read(&path).expect("still there"), b"keep me");
    std::fs::remove_file(&path).expect("clean up");
}

async fn check_services(channel: Channel) {
    let mut health = HealthClient::new(channel.clone());
    for service in ["", ironlb_proto::BGP_SERVICE_NAME] {
        let answer = health
            .check(HealthCheckRequest { service: service.to_string() })
            .await
            .expect("health answers");
        assert_eq!(answer.into_inner().status, HealthStatus::Serving as i32, "{service:?}");
    }

    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let answer = answers.message().await.expect("a message").expect("not the end");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected reflection answer {answer:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&ironlb_proto::BGP_SERVICE_NAME), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");

    let mut client = BgpServiceClient::new(channel);
    let status = client.get_info(v1::GetInfoRequest {}).await.expect_err("stub");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
}

#[tokio::test]
async fn serves_on_a_unix_socket_with_mode_0660() {
    let path = socket_path("serve");
    let listener = bind(&ListenAddress::Unix(path.clone())).await.expect("bind");
    let mode = std::fs::metadata(&path).expect("socket exists").permissions().mode();
    assert_eq!(mode & 0o777, UNIX_SOCKET_MODE);

    let (routes, _health) = routes(Stub).await.expect("routes");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, routes, async {
        let _ = stopped.await;
    }));

    let endpoint = Endpoint::from_shared(format!("unix:{}", path.display())).expect("endpoint");
    let channel = endpoint.connect().await.expect("connect");
    check_services(channel).await;

    stop.send(()).expect("server still running");
    server.await.expect("no panic").expect("clean shutdown");
    assert!(!path.exists(), "the socket file is removed on shutdown");

    // A socket left behind by a crash is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&path).expect("stale socket");
    drop(stale);
    let listener = bind(&ListenAddress::Unix(path.clone())).await.expect("rebind over stale");
    drop(listener);
    std::fs::remove_file(&path).expect("clean up");
}

#[tokio::test]
async fn serves_on_tcp() {
    let any_port = ListenAddress::Tcp(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0).into());
    let listener = bind(&any_port).await.expect("bind");
    let Ok(ListenAddress::Tcp(address)) = listener.local_address() else {
        panic!("a TCP listener has a TCP address");
    };
    let (routes, _health) = routes(Stub).await.expect("routes");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, routes, async {
        let _ = stopped.await;
    }));
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    check_services(channel).await;
    stop.send(()).expect("server still running");
    server.await.expect("no panic").expect("clean shutdown");
}

#[tokio::test]
async fn binding_a_taken_port_names_the_address() {
    let first = bind(&ListenAddress::Tcp(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0).into()))
        .await
        .expect("bind");
    let taken = first.local_address().expect("address");
    let error = bind(&taken).await.expect_err("port taken");
    assert!(error.to_string().starts_with(&format!("cannot listen on {taken}: ")), "{error}");
}

#[tokio::test]
async fn a_live_unix_socket_is_not_taken_over() {
    let path = socket_path("live");
    let first = bind(&ListenAddress::Unix(path.clone())).await.expect("bind");
    let before = std::fs::metadata(&path).expect("socket exists");
    let error = bind(&ListenAddress::Unix(path.clone())).await.expect_err("socket in use");
    assert!(matches!(error, ServeError::InUse { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("address in use") && text.contains(&path.display().to_string()),
        "{text}"
    );
    use std::os::unix::fs::MetadataExt;
    let after = std::fs::metadata(&path).expect("the first socket is still there");
    assert_eq!((before.dev(), before.ino()), (after.dev(), after.ino()), "not replaced");
    // The first listener still answers.
    std::os::unix::net::UnixStream::connect(&path).expect("first still reachable");
    drop(first);
    std::fs::remove_file(&path).expect("clean up");
}

#[tokio::test]
async fn a_server_only_removes_its_own_socket_file() {
    let path = socket_path("own");
    let listener = bind(&ListenAddress::Unix(path.clone())).await.expect("bind");
    let (routes, _health) = routes(Stub).await.expect("routes");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, routes, async {
        let _ = stopped.await;
    }));
    // Someone else's socket now lives at the path.
    std::fs::remove_file(&path).expect("unlink");
    let other = std::os::unix::net::UnixListener::bind(&path).expect("other socket");
    stop.send(()).expect("server still running");
    server.await.expect("no panic").expect("clean shutdown");
    assert!(path.exists(), "the other socket file is left alone");
    drop(other);
    std::fs::remove_file(&path).expect("clean up");
}
