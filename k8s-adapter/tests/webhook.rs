//! The admission webhook's certificate bootstrap against the test API server, as the
//! controller's ServiceAccount under `deploy/base/rbac.yaml`: the Secret is created, reused
//! by a restarted controller, renewed near its end (the old CA still trusted), and the CA
//! is patched into every webhook of the configuration from `deploy/base/webhook.yaml`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::SystemTime;

use common::{CONTROLLER, NS};
use k8s_adapter::controller::webhook::{self, bootstrap, cert};
use serde_json::Value;

fn manifest(kind: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/base/webhook.yaml");
    common::yaml_doc(&std::fs::read_to_string(path).unwrap(), kind)
}

fn ca_bundles(vwc: &Value) -> Vec<String> {
    vwc["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let bytes: k8s_openapi::ByteString =
                serde_json::from_value(w["clientConfig"]["caBundle"].clone()).unwrap();
            String::from_utf8(bytes.0).unwrap()
        })
        .collect()
}

async fn stored_vwc(server: &ironlb_test_apiserver::TestApiServer) -> Value {
    server
        .get(
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            None,
            webhook::DEFAULT_CONFIGURATION,
        )
        .await
        .unwrap()
        .expect("the configuration")
}

#[tokio::test]
async fn the_certificate_is_created_reused_on_restart_renewed_near_its_end_and_published() {
    let server = common::server().await;
    let mut vwc = manifest("ValidatingWebhookConfiguration");
    // Two webhooks: every one gets the caBundle.
    let mut second = vwc["webhooks"][0].clone();
    second["name"] = "second.ironlb.io".into();
    vwc["webhooks"].as_array_mut().unwrap().push(second);
    server.insert(vwc).await.unwrap();
    let client = server.client_as(CONTROLLER).unwrap();
    let target = webhook::Options::new(NS).target;
    let now = SystemTime::now();

    let first = bootstrap::ensure_secret(&client, &target, now).await.unwrap();
    let secret =
        server.get("v1", "Secret", Some(NS), webhook::DEFAULT_SECRET).await.unwrap().unwrap();
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(
        bootstrap::from_secret(&serde_json::from_value(secret.clone()).unwrap()),
        Some(first.clone())
    );
    assert!(bootstrap::publish_ca(&client, &target, &first).await.unwrap());
    assert_eq!(ca_bundles(&stored_vwc(&server).await), [first.ca.clone(), first.ca.clone()]);
    assert!(!bootstrap::publish_ca(&client, &target, &first).await.unwrap(), "nothing to change");
    assert_eq!(stored_vwc(&server).await["webhooks"][0]["failurePolicy"], "Fail", "the manifest's");

    // A restarted controller reuses it: no write.
    let again = bootstrap::ensure_secret(&client, &target, now).await.unwrap();
    assert_eq!(again, first);
    let unchanged =
        server.get("v1", "Secret", Some(NS), webhook::DEFAULT_SECRET).await.unwrap().unwrap();
    assert_eq!(unchanged["metadata"]["resourceVersion"], secret["metadata"]["resourceVersion"]);

    // Within RENEW_BEFORE of its end: renewed, the old CA kept after the new one.
    let late = now + cert::VALIDITY - cert::RENEW_BEFORE / 2;
    let renewed = bootstrap::ensure_secret(&client, &target, late).await.unwrap();
    assert_ne!(renewed.cert, first.cert);
    assert!(renewed.ca.ends_with(&first.ca), "the replaced CA stays trusted");
    let mut with_policy = target.clone();
    with_policy.failure_policy = Some("Ignore".into());
    assert!(bootstrap::publish_ca(&client, &with_policy, &renewed).await.unwrap());
    let vwc = stored_vwc(&server).await;
    assert_eq!(ca_bundles(&vwc), [renewed.ca.clone(), renewed.ca.clone()]);
    for w in vwc["webhooks"].as_array().unwrap() {
        assert_eq!(w["failurePolicy"], "Ignore", "--webhook-failure-policy patches every webhook");
    }
}

#[tokio::test]
async fn a_secret_that_is_garbage_is_replaced_and_a_missing_configuration_is_an_error() {
    let server = common::server().await;
    server
        .insert(
            serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": webhook::DEFAULT_SECRET, "namespace": NS},
            "data": {"tls.crt": "bm9wZQ==", "tls.key": "bm9wZQ==", "ca.crt": "bm9wZQ=="}}),
        )
        .await
        .unwrap();
    let client = server.client_as(CONTROLLER).unwrap();
    let target = webhook::Options::new(NS).target;
    let bundle = bootstrap::ensure_secret(&client, &target, SystemTime::now()).await.unwrap();
    cert::check(&bundle, &cert::service_name(&target.service, NS), SystemTime::now()).unwrap();
    let err = bootstrap::publish_ca(&client, &target, &bundle).await.unwrap_err();
    assert!(matches!(err, bootstrap::BootstrapError::NoConfiguration(_)), "{err}");
}

/// TLS handshake with the webhook at `address`, trusting only `ca`; whether it succeeded.
async fn trusted(address: std::net::SocketAddr, ca: &str) -> bool {
    let connector = tokio_rustls::TlsConnector::from(cert::client_config(ca).unwrap());
    let name = cert::service_name(webhook::DEFAULT_SERVICE, NS);
    let server = rustls_pki_types::ServerName::try_from(name).unwrap();
    let Ok(tcp) = tokio::net::TcpStream::connect(address).await else { return false };
    connector.connect(server, tcp).await.is_ok()
}

/// A running webhook reuses the stored Secret, and serves a certificate another replica
/// renewed in it from its next check on.
#[tokio::test]
async fn a_running_webhook_reuses_the_secret_and_picks_up_a_renewal() {
    let server = common::server().await;
    server.insert(manifest("ValidatingWebhookConfiguration")).await.unwrap();
    let client = server.client_as(CONTROLLER).unwrap();
    let mut options = webhook::Options::new(NS);
    options.check_every = std::time::Duration::from_millis(100);
    let stored =
        bootstrap::ensure_secret(&client, &options.target, SystemTime::now()).await.unwrap();

    let listener = webhook::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(webhook::run(client.clone(), listener, options.clone()));
    let deadline = std::time::Instant::now() + common::DEADLINE;
    while !trusted(address, &stored.ca).await {
        assert!(std::time::Instant::now() < deadline, "never served the stored certificate");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ca_bundles(&stored_vwc(&server).await), vec![stored.ca.clone()]);

    // Another replica renews: a new CA the old one does not sign for.
    let renewed = cert::generate(webhook::DEFAULT_SERVICE, NS, SystemTime::now(), None).unwrap();
    let mut secret =
        server.get("v1", "Secret", Some(NS), webhook::DEFAULT_SECRET).await.unwrap().unwrap();
    let fresh: k8s_openapi::api::core::v1::Secret =
        serde_json::from_value(json_secret(&renewed)).unwrap();
    secret["data"] = serde_json::to_value(fresh.data).unwrap();
    server.replace(secret).await.unwrap();
    while !trusted(address, &renewed.ca).await {
        assert!(std::time::Instant::now() < deadline, "never served the renewed certificate");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!trusted(address, &stored.ca).await, "the old certificate is no longer served");
    server
        .wait_until(common::DEADLINE, move |v| {
            let vwc = v.get(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                None,
                webhook::DEFAULT_CONFIGURATION,
            )?;
            (ca_bundles(&vwc) == [renewed.ca.clone()]).then_some(())
        })
        .await
        .expect("the renewed CA is published");
    task.abort();
}

fn json_secret(bundle: &cert::Bundle) -> Value {
    use k8s_openapi::ByteString;
    let data: std::collections::BTreeMap<&str, ByteString> = [
        ("ca.crt", ByteString(bundle.ca.clone().into_bytes())),
        ("tls.crt", ByteString(bundle.cert.clone().into_bytes())),
        ("tls.key", ByteString(bundle.key.clone().into_bytes())),
    ]
    .into();
    serde_json::json!({"apiVersion": "v1", "kind": "Secret", "data": data})
}
