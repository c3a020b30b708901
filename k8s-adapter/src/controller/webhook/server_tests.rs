//! The handler over a real TLS connection on 127.0.0.1, the client trusting only the
//! bootstrapped CA (as the API server trusts `caBundle`) and checking the service name.

use std::time::SystemTime;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::config::crd;
use crate::controller::webhook::cert;

struct Fixed(Resources);

impl Current for Fixed {
    fn current(&self) -> Resources {
        self.0.clone()
    }
    fn namespace(&self) -> &str {
        "ironlb-system"
    }
}

fn stored_pool() -> Resources {
    let mut pool = crd::IpAddressPool::new(
        "old",
        crd::IpAddressPoolSpec { addresses: vec!["198.51.100.0/24".into()], ..Default::default() },
    );
    pool.metadata.creation_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    Resources { pools: vec![pool], ..Default::default() }
}

/// Serves on 127.0.0.1 with a fresh bundle; its address and CA list.
async fn start() -> (std::net::SocketAddr, String) {
    let bundle =
        cert::generate("ironlb-webhook-service", "ironlb-system", SystemTime::now(), None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (_tx, rx) = watch::channel(cert::server_config(&bundle).unwrap());
    tokio::spawn(async move {
        let _tx = _tx;
        serve(listener, rx, Arc::new(Fixed(stored_pool()))).await;
    });
    (address, bundle.ca)
}

/// One request over TLS (server name `name`); the status code and body.
async fn call(
    address: std::net::SocketAddr,
    ca: &str,
    name: &str,
    method: &str,
    body: &[u8],
) -> Result<(u16, String), std::io::Error> {
    let connector = tokio_rustls::TlsConnector::from(cert::client_config(ca).unwrap());
    let tcp = tokio::net::TcpStream::connect(address).await?;
    let server = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut tls = connector.connect(server, tcp).await?;
    let head = format!(
        "{method} /validate HTTP/1.1\r\nHost: {name}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await?;
    tls.write_all(body).await?;
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((code, body))
}

const NAME: &str = "ironlb-webhook-service.ironlb-system.svc";

fn review(object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "7f0b", "namespace": "ironlb-system",
                    "kind": {"group": "ironlb.io", "version": "v1beta1", "kind": "IPAddressPool"},
                    "operation": "CREATE", "object": object}}))
    .unwrap()
}

fn pool(name: &str, cidr: &str) -> Value {
    json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
           "metadata": {"name": name, "namespace": "ironlb-system"},
           "spec": {"addresses": [cidr]}})
}

#[tokio::test]
async fn an_overlapping_pool_is_refused_over_tls_and_a_good_one_allowed() {
    let (address, ca) = start().await;
    let (code, body) =
        call(address, &ca, NAME, "POST", &review(pool("new", "198.51.100.128/25"))).await.unwrap();
    assert_eq!(code, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["uid"], "7f0b");
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("overlaps") && message.contains("old"), "{message}");

    let (code, body) =
        call(address, &ca, NAME, "POST", &review(pool("new", "203.0.113.0/24"))).await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["response"]["allowed"], true);
}

#[tokio::test]
async fn a_pool_in_another_namespace_is_not_compared_with_ours() {
    let (address, ca) = start().await;
    let mut body: Value = serde_json::from_slice(&review(pool("new", "198.51.100.0/24"))).unwrap();
    body["request"]["namespace"] = json!("elsewhere");
    let (code, body) =
        call(address, &ca, NAME, "POST", &serde_json::to_vec(&body).unwrap()).await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["response"]["allowed"], true);
}

#[tokio::test]
async fn malformed_oversized_and_wrong_method_requests_are_http_errors() {
    let (address, ca) = start().await;
    let (code, _) = call(address, &ca, NAME, "POST", b"{not json").await.unwrap();
    assert_eq!(code, 400);
    let (code, _) =
        call(address, &ca, NAME, "POST", b"{\"kind\": \"AdmissionReview\"}").await.unwrap();
    assert_eq!(code, 400, "no request");
    let (code, _) = call(address, &ca, NAME, "GET", b"").await.unwrap();
    assert_eq!(code, 405);
    let huge = vec![b' '; MAX_BODY_BYTES + 1];
    let (code, _) = call(address, &ca, NAME, "POST", &huge).await.unwrap();
    assert_eq!(code, 413);
    // Still serving after all that.
    let (code, _) =
        call(address, &ca, NAME, "POST", &review(pool("n", "203.0.113.0/24"))).await.unwrap();
    assert_eq!(code, 200);
}

#[tokio::test]
async fn a_client_checking_another_name_or_trusting_another_ca_is_refused() {
    let (address, ca) = start().await;
    assert!(call(address, &ca, "other.ironlb-system.svc", "POST", b"{}").await.is_err());
    let foreign =
        cert::generate("ironlb-webhook-service", "ironlb-system", SystemTime::now(), None).unwrap();
    assert!(call(address, &foreign.ca, NAME, "POST", b"{}").await.is_err());
}

#[tokio::test]
#[ignore = "a measurement: cargo test -p k8s-adapter --lib measure_review -- --ignored --nocapture"]
async fn measure_review_cost_with_1000_pools() {
    let mut resources = Resources::default();
    for i in 0..1000u32 {
        let mut p = crd::IpAddressPool::new(
            &format!("p{i}"),
            crd::IpAddressPoolSpec {
                addresses: vec![format!("10.{}.{}.0/24", i / 256, i % 256)],
                ..Default::default()
            },
        );
        p.metadata.creation_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        resources.pools.push(p);
    }
    let t = std::time::Instant::now();
    for _ in 0..10 {
        cert::generate("s", "ns", SystemTime::now(), None).unwrap();
    }
    println!("generate: {:?} each", t.elapsed() / 10);
    let bundle =
        cert::generate("ironlb-webhook-service", "ironlb-system", SystemTime::now(), None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (_tx, rx) = watch::channel(cert::server_config(&bundle).unwrap());
    let fixed = Arc::new(Fixed(resources));
    tokio::spawn(serve(listener, rx, fixed.clone()));
    for (label, stored) in [("empty", Resources::default()), ("1000 pools", fixed.0.clone())] {
        let t = std::time::Instant::now();
        for _ in 0..20 {
            let r = respond(
                &serde_json::from_slice(&review(pool("new", "198.51.100.0/24"))).unwrap(),
                &stored,
            );
            assert_eq!(r["response"]["allowed"], true);
        }
        println!("respond, {label}: {:?} each", t.elapsed() / 20);
    }
    let t = std::time::Instant::now();
    for _ in 0..20 {
        let (code, _) =
            call(address, &bundle.ca, NAME, "POST", &review(pool("new", "198.51.100.0/24")))
                .await
                .unwrap();
        assert_eq!(code, 200);
    }
    println!("TLS connection + review with 1000 pools: {:?} each", t.elapsed() / 20);
}
