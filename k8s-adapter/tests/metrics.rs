//! The adapter's metrics and readiness over HTTP against the in-process API server: the
//! seed-like scenario (one Service, `lbpool` of 51 addresses) shows 1 in use of 51, parsed
//! with a real exposition parser; `/readyz` answers 503 before the caches synced and 200
//! after.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use k8s_adapter::controller::{self, Options};
use k8s_adapter::metrics::http;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One GET: the status code and the body.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// A gauge's value for `pool`, from the parsed exposition.
fn pool_value(text: &str, name: &str, pool: &str) -> Option<f64> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition");
    scrape.samples.iter().find_map(|s| {
        let value = match s.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => return None,
        };
        (s.metric == name && s.labels.get("pool") == Some(pool)).then_some(value)
    })
}

#[tokio::test]
async fn pool_usage_and_readiness_of_the_controller() {
    let server = server().await;
    server.insert(pool("lbpool", &["11.11.11.150-11.11.11.200"])).await.unwrap();
    server.insert(lb_service("default", "nginx-service", json!({}))).await.unwrap();

    let mut options = Options::new(NS, "metrics");
    options.lease_duration = Duration::from_secs(2);
    let metrics = Arc::clone(&options.metrics);
    let listener = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let served = tokio::spawn(http::serve(listener, metrics));

    assert_eq!(get(address, "/healthz").await.0, 200);
    assert_eq!(get(address, "/readyz").await.0, 503, "no Lease, no caches yet");
    assert_eq!(get(address, "/nowhere").await.0, 404);

    let client = server.client_as(CONTROLLER).unwrap();
    let controller = tokio::spawn(async move {
        if let Err(e) = controller::run(client, options).await {
            eprintln!("controller stopped: {e}");
        }
    });
    let svc = wait_ingress(&server, "default", "nginx-service", &["11.11.11.150"]).await;
    assert_eq!(ingress(&svc), ["11.11.11.150"]);

    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (status, text) = get(address, "/metrics").await;
        assert_eq!(status, 200);
        assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF");
        let in_use = pool_value(&text, "ironlb_allocator_addresses_in_use_total", "lbpool");
        let total = pool_value(&text, "ironlb_allocator_addresses_total", "lbpool");
        let ready = get(address, "/readyz").await.0 == 200;
        if in_use == Some(1.0) && total == Some(51.0) && ready {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "want 1 in use of 51 and ready; got {in_use:?} of {total:?}, ready {ready}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    controller.abort();
    served.abort();
}
