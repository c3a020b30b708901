//! The `[metrics]` listener of a running `bgpd`: /healthz, /readyz, and
//! /metrics parsed with a Prometheus text parser (prometheus-parse), whose
//! values move with what the API does; gRPC reflection v1alpha beside v1.
//!
//! The 1M-prefix scrape measurement is `#[ignore]`d (a release build):
//! `cargo test --release -p bgpd --test metrics -- --ignored --nocapture`.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::Channel;

/// Starts `bgpd` with `body` after `[global]` and `[metrics]` on a free port.
async fn start(body: &str) -> (Daemon, BgpServiceClient<Channel>, SocketAddr) {
    let metrics = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let config = format!("{GLOBAL}{body}[metrics]\nlisten = \"{metrics}\"\n");
    let (daemon, client) = start_daemon(|_, api| with_api(&config, api), bgp_ready).await;
    (daemon, client, metrics)
}

/// One HTTP/1.1 GET: the status code and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.expect("connect to /metrics");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answered in time")
        .expect("read");
    let text = String::from_utf8(response).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
    (status, body.to_string())
}

async fn scrape(address: SocketAddr) -> prometheus_parse::Scrape {
    let (status, body) = get(address, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("parses")
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

fn set(owner: &str, prefixes: &[String]) -> v1::SetPathsRequest {
    v1::SetPathsRequest {
        owner: owner.to_string(),
        paths: prefixes
            .iter()
            .map(|p| v1::Path { prefix: p.clone(), ..v1::Path::default() })
            .collect(),
        grace_time_seconds: None,
    }
}

#[tokio::test]
async fn health_readiness_and_metrics_that_move_with_the_api() {
    // The loopback has NOARP: the layer2 entry is listed (with zero counts)
    // but never answered for.
    let body = "[[neighbors]]\naddress = \"127.0.0.2\"\nremote_asn = 65002\n\
                [[layer2]]\naddress = \"192.0.2.100\"\ninterfaces = [\"lo\"]\n";
    let (_daemon, mut client, metrics) = start(body).await;
    assert_eq!(get(metrics, "/healthz").await.0, 200);
    assert_eq!(get(metrics, "/readyz").await.0, 200, "ready once the API answers");
    assert_eq!(get(metrics, "/nope").await.0, 404);

    let before = scrape(metrics).await;
    let v4 = [("family", "ipv4-unicast")];
    assert_eq!(value(&before, "ironlb_rib_prefixes", &v4), Some(0.0));
    assert_eq!(value(&before, "ironlb_api_owners", &[]), Some(0.0));
    let peer = [("peer", "127.0.0.2")];
    assert_eq!(value(&before, "ironlb_bgp_session_up", &peer), Some(0.0));
    assert!(value(&before, "ironlb_bgp_fsm_state", &peer).is_some_and(|s| s < 6.0));
    assert!(value(&before, "ironlb_process_resident_memory_bytes", &[]).is_some_and(|b| b > 0.0));
    assert!(value(&before, "ironlb_process_open_fds", &[]).is_some_and(|n| n > 0.0));
    let ip = [("ip", "192.0.2.100")];
    assert_eq!(value(&before, "ironlb_layer2_gratuitous_sent", &ip), Some(0.0));
    assert_eq!(value(&before, "ironlb_layer2_requests_received", &ip), Some(0.0));

    let prefixes: Vec<String> = (0..10).map(|i| format!("198.51.100.{i}/32")).collect();
    client.set_paths(set("svc-a", &prefixes)).await.expect("SetPaths");
    client.set_paths(set("svc-b", &prefixes[..3])).await.expect("SetPaths");
    let after = scrape(metrics).await;
    assert_eq!(value(&after, "ironlb_rib_prefixes", &v4), Some(10.0));
    assert_eq!(value(&after, "ironlb_rib_paths", &v4), Some(13.0));
    assert_eq!(value(&after, "ironlb_api_owners", &[]), Some(2.0));
    assert!(value(&after, "ironlb_rib_attribute_sets", &[]).is_some_and(|n| n >= 1.0));
    let set_paths = [("method", "ironlb.bgpd.v1.BgpService/SetPaths"), ("code", "Ok")];
    assert_eq!(value(&after, "ironlb_api_rpcs_total", &set_paths), Some(2.0));
    let timed = [("method", "ironlb.bgpd.v1.BgpService/SetPaths")];
    assert_eq!(value(&after, "ironlb_api_rpc_duration_seconds_count", &timed), Some(2.0));
    assert!(
        value(&after, "ironlb_process_uptime_seconds", &[])
            >= value(&before, "ironlb_process_uptime_seconds", &[])
    );
}

#[tokio::test]
async fn a_client_that_sends_no_request_is_cut_off() {
    let (_daemon, _client, metrics) = start("").await;
    let mut idle = TcpStream::connect(metrics).await.expect("connect");
    let mut buffer = [0u8; 64];
    // The header read timeout is 5 s: the server closes well before 15 s.
    let read = tokio::time::timeout(Duration::from_secs(15), idle.read(&mut buffer)).await;
    assert!(read.is_ok(), "an idle connection is closed by the server");
    assert_eq!(get(metrics, "/healthz").await.0, 200, "and others are still served");
}

#[tokio::test]
async fn reflection_v1alpha_lists_the_services() {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let (daemon, _client, _metrics) = start("").await;
    let channel = Channel::from_shared(format!("http://{}", daemon.api))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .expect("grpc.reflection.v1alpha is served")
        .into_inner();
    let answer = answers.message().await.expect("an answer").expect("a message");
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&ironlb_proto::BGP_SERVICE_NAME), "{names:?}");
    assert!(names.contains(&ironlb_proto::LAYER2_SERVICE_NAME), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

/// Measurement, not a check of speed: 1M /32s through the API (1,000
/// owners, so attribute sets stay few) and 100 configured neighbors, then
/// the time of a few scrapes.
#[tokio::test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
async fn scrape_time_with_a_million_prefixes() {
    let neighbors: String = (0..100)
        .map(|i| {
            format!(
                "[[neighbors]]\naddress = \"127.1.{}.{}\"\nremote_asn = 65002\nenabled = false\n",
                i / 256,
                i % 256
            )
        })
        .collect();
    let (_daemon, mut client, metrics) = start(&neighbors).await;
    let started = Instant::now();
    for owner in 0..1000u32 {
        let prefixes: Vec<String> = (0..1000u32)
            .map(|i| {
                let n = owner * 1000 + i;
                format!("100.{}.{}.{}/32", n >> 16, (n >> 8) & 255, n & 255)
            })
            .collect();
        client.set_paths(set(&format!("owner-{owner}"), &prefixes)).await.expect("SetPaths");
    }
    eprintln!("1M paths set in {:?}", started.elapsed());
    let first = scrape(metrics).await;
    assert_eq!(value(&first, "ironlb_rib_prefixes", &[("family", "ipv4-unicast")]), Some(1e6));
    let mut times = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let (status, body) = get(metrics, "/metrics").await;
        times.push(started.elapsed());
        assert_eq!(status, 200);
        assert!(body.len() > 1000);
    }
    times.sort();
    eprintln!(
        "scrape of 1M prefixes x 100 neighbors: min {:?} median {:?} max {:?}",
        times[0], times[5], times[9]
    );
}

/// A log that cannot be written (standard output and error both on a full disk, here
/// `/dev/full`) neither stops nor panics bgpd: the API serves, the lost lines are counted in
/// `ironlb_log_lines_lost_total`, and SIGTERM still ends it with status 0. Before, the first
/// failed log write made tracing's fallback `eprintln!` panic (exit 101).
#[tokio::test]
async fn a_full_disk_under_the_log_is_counted_not_fatal() {
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let metrics = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port(Ipv4Addr::LOCALHOST)));
    let config = with_api(
        &format!("{GLOBAL}log_level = \"debug\"\n[metrics]\nlisten = \"{metrics}\"\n"),
        api,
    );
    let directory = scratch_directory();
    let path = directory.join("bgpd.toml");
    std::fs::write(&path, config).expect("write config");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_bgpd"))
        .arg("--config")
        .arg(&path)
        .stdout(full())
        .stderr(full())
        .spawn()
        .expect("start bgpd");
    let mut daemon = Daemon { child, directory, config: path, api };
    let _client = wait_ready(&mut daemon, bgp_ready).await;
    let lost = value(&scrape(metrics).await, "ironlb_log_lines_lost_total", &[]);
    assert!(lost.is_some_and(|n| n > 0.0), "lost log lines counted: {lost:?}");
    let status = terminate(&mut daemon).await;
    assert!(status.success(), "bgpd exited with {status} while its log could not be written");
}
