//! Validating admission webhooks, opt-in ([`crate::Options::admission`]): a create, an
//! update (PUT) or a patch (merge, strategic merge, JSON and apply patches, reviewed as the
//! object the patch would leave: an UPDATE, or a CREATE when an apply creates the object;
//! see `handlers::patch_reviewed`) of an object matched by the rules of a stored
//! `admissionregistration.k8s.io/v1` `ValidatingWebhookConfiguration` is first sent to each
//! matching webhook as an `AdmissionReview` (v1) over HTTPS, trusting only the webhook's
//! `caBundle`, as the real server does. A refusal fails the request with the webhook's
//! status code (403 when it gives none) and `admission webhook "NAME" denied the request:
//! MESSAGE`; a webhook that cannot be called (connection, TLS, `timeoutSeconds`, a reply
//! that is no review) fails it with 500 under `failurePolicy: Fail` (the default) and is
//! skipped under `Ignore`.
//!
//! Faithful: rules (`apiGroups`, `apiVersions`, `resources`, `operations`, `scope`, `*`),
//! `namespaceSelector.matchLabels` (against the namespace's labels), `failurePolicy`,
//! `timeoutSeconds` (default 10), `clientConfig.url`, and `clientConfig.service`, which is
//! reached at the address [`crate::Options::webhook_services`] gives for `NAMESPACE/NAME`
//! while the certificate is checked for `NAME.NAMESPACE.svc`, as in a cluster.
//! Not modelled: deletes, subresources,
//! `matchExpressions`, `objectSelector`, `matchConditions`, mutating webhooks, and
//! `admissionReviewVersions` other than v1.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::actor::StoreHandle;
use crate::errors::ApiError;
use crate::resources::ResId;

/// Largest webhook reply read (the real server's limit on a response is about this).
const MAX_REPLY_BYTES: u64 = 3 * 1024 * 1024;

/// Where `clientConfig.service` references are reached: `NAMESPACE/NAME` → address.
pub(crate) type Routes = BTreeMap<String, SocketAddr>;

/// One write under review.
pub(crate) struct Write<'a> {
    pub res: ResId,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    /// `CREATE` or `UPDATE`.
    pub operation: &'static str,
    pub object: &'a Value,
    pub user: Option<&'a str>,
    pub dry_run: bool,
}

/// What the store tells about a write: the type's coordinates, the old object, the
/// namespace's labels, the stored configurations, and the routes.
struct Context {
    group: String,
    version: String,
    kind: String,
    plural: String,
    namespaced: bool,
    old: Option<Value>,
    namespace_labels: Value,
    configurations: Vec<Value>,
    routes: Routes,
}

static UID: AtomicU64 = AtomicU64::new(1);

/// Ok when every matching webhook allows the write (or is skipped by `Ignore`); nothing
/// is called when admission is off.
pub(crate) async fn admit(store: &StoreHandle, write: Write<'_>) -> Result<(), ApiError> {
    let (res, namespace, name) =
        (write.res, write.namespace.map(str::to_owned), write.name.to_owned());
    let context = store
        .call(move |s| {
            let routes = s.hooks.admission.clone()?;
            let t = s.registry.get(res).clone();
            let vwc = s
                .registry
                .by_kind("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")?;
            let configurations = s.select(vwc, &crate::watch::Filter::default()).cloned().collect();
            let old = s.get(res, namespace.as_deref(), &name).ok();
            let namespace_labels = namespace
                .as_deref()
                .and_then(|n| {
                    let ns = s.registry.by_kind("v1", "Namespace")?;
                    s.get(ns, None, n).ok()
                })
                .map(|n| n["metadata"]["labels"].clone())
                .unwrap_or(Value::Null);
            Some(Context {
                group: t.group,
                version: t.version,
                kind: t.kind,
                plural: t.plural,
                namespaced: t.namespaced,
                old,
                namespace_labels,
                configurations,
                routes,
            })
        })
        .await
        .map_err(|_| ApiError::Injected { plural: String::new(), code: 503 })?;
    let Some(context) = context else { return Ok(()) };
    let old = if write.operation == "UPDATE" { context.old.clone() } else { None };
    let uid = format!("test-apiserver-{}", UID.fetch_add(1, Ordering::Relaxed));
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": context.group, "version": context.version, "kind": context.kind},
            "resource": {"group": context.group, "version": context.version, "resource": context.plural},
            "requestKind": {"group": context.group, "version": context.version, "kind": context.kind},
            "requestResource": {"group": context.group, "version": context.version, "resource": context.plural},
            "name": write.name,
            "namespace": write.namespace,
            "operation": write.operation,
            "userInfo": {"username": write.user.unwrap_or("system:admin")},
            "object": write.object,
            "oldObject": old,
            "dryRun": write.dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1",
                        "kind": if write.operation == "CREATE" { "CreateOptions" } else { "UpdateOptions" }},
        }
    });
    for configuration in &context.configurations {
        for webhook in configuration["webhooks"].as_array().into_iter().flatten() {
            if !matches(webhook, &context, write.operation) {
                continue;
            }
            let name = webhook["name"].as_str().unwrap_or_default().to_owned();
            match call(webhook, &context.routes, &review).await {
                Ok(response) if response["uid"] != review["request"]["uid"] => {
                    fail(webhook, name, "the response's uid is not the request's".to_owned())?;
                }
                Ok(response) if response["allowed"] == true => {}
                Ok(response) => {
                    let status = &response["status"];
                    let code = status["code"].as_u64().and_then(|c| u16::try_from(c).ok());
                    return Err(ApiError::Denied {
                        webhook: name,
                        code: code.filter(|c| *c >= 400).unwrap_or(403),
                        message: status["message"].as_str().unwrap_or_default().to_owned(),
                    });
                }
                Err(detail) => fail(webhook, name, detail)?,
            }
        }
    }
    Ok(())
}

/// A call that failed: an error under `Fail` (the default), logged and skipped under `Ignore`.
fn fail(webhook: &Value, name: String, detail: String) -> Result<(), ApiError> {
    if webhook["failurePolicy"] == "Ignore" {
        tracing::warn!(webhook = %name, %detail, "webhook failed; ignored by its failurePolicy");
        return Ok(());
    }
    Err(ApiError::WebhookFailed { webhook: name, detail })
}

fn listed(list: &Value, wanted: &str) -> bool {
    list.as_array().into_iter().flatten().any(|v| v == "*" || v == wanted)
}

/// Whether a webhook's rules and namespace selector take this write.
fn matches(webhook: &Value, c: &Context, operation: &str) -> bool {
    let rule_matches = webhook["rules"].as_array().into_iter().flatten().any(|rule| {
        let scope = rule["scope"].as_str().unwrap_or("*");
        listed(&rule["apiGroups"], &c.group)
            && listed(&rule["apiVersions"], &c.version)
            && listed(&rule["resources"], &c.plural)
            && listed(&rule["operations"], operation)
            && match scope {
                "Namespaced" => c.namespaced,
                "Cluster" => !c.namespaced,
                _ => true,
            }
    });
    let selector = &webhook["namespaceSelector"]["matchLabels"];
    let selected = !c.namespaced
        || selector.as_object().into_iter().flatten().all(|(k, v)| &c.namespace_labels[k] == v);
    rule_matches && selected
}

/// Where to connect, the name to check the certificate for, and the path.
fn endpoint(client: &Value, routes: &Routes) -> Result<(String, String, String), String> {
    if let Some(url) = client["url"].as_str() {
        let rest = url.strip_prefix("https://").ok_or_else(|| format!("{url:?} is not https"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = match authority.rsplit_once(':') {
            Some((host, _)) if !host.ends_with(']') || authority.starts_with('[') => host,
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let authority =
            if authority.contains(':') { authority.to_owned() } else { format!("{authority}:443") };
        let path = if path.is_empty() { "/".to_owned() } else { path.to_owned() };
        return Ok((authority, host, path));
    }
    let service = &client["service"];
    let (namespace, name) = (
        service["namespace"].as_str().unwrap_or_default(),
        service["name"].as_str().unwrap_or_default(),
    );
    let address = routes.get(&format!("{namespace}/{name}")).ok_or_else(|| {
        format!("service {namespace}/{name} has no address (Options::webhook_services)")
    })?;
    let path = service["path"].as_str().unwrap_or("/").to_owned();
    Ok((address.to_string(), format!("{name}.{namespace}.svc"), path))
}

/// Sends the review; the response's `response`, or why there is none.
async fn call(webhook: &Value, routes: &Routes, review: &Value) -> Result<Value, String> {
    let client = &webhook["clientConfig"];
    let (address, host, path) = endpoint(client, routes)?;
    let ca = base64::engine::general_purpose::STANDARD
        .decode(client["caBundle"].as_str().ok_or("no caBundle")?)
        .map_err(|e| format!("caBundle: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.map_err(|e| format!("caBundle: {e}"))?).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
    let timeout = Duration::from_secs(webhook["timeoutSeconds"].as_u64().unwrap_or(10));
    let body = serde_json::to_vec(review).map_err(|e| e.to_string())?;
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(&address).await.map_err(|e| e.to_string())?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut tls = connector.connect(server_name, tcp).await.map_err(|e| e.to_string())?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        tls.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
        tls.write_all(&body).await.map_err(|e| e.to_string())?;
        let mut reply = Vec::new();
        // A peer closing without close_notify still delivered what it sent.
        let _ = (&mut tls).take(MAX_REPLY_BYTES).read_to_end(&mut reply).await;
        Ok::<_, String>(reply)
    };
    let reply = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("Post \"https://{address}{path}\": context deadline exceeded"))??;
    parse_reply(&reply).map_err(|e| format!("Post \"https://{address}{path}\": {e}"))
}

/// The `response` of an HTTP/1.1 reply carrying an `AdmissionReview`.
fn parse_reply(reply: &[u8]) -> Result<Value, String> {
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no HTTP reply")?;
    let head = String::from_utf8_lossy(&reply[..split]).to_ascii_lowercase();
    let mut body = reply[split + 4..].to_vec();
    let code = head.split(' ').nth(1).unwrap_or_default();
    if code != "200" {
        return Err(format!("expected 200, got {code}"));
    }
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body).ok_or("bad chunked body")?;
    }
    let review: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    let response = review.get("response").filter(|r| r.is_object()).ok_or("no response")?;
    if !response["allowed"].is_boolean() {
        return Err("the response has no allowed".to_owned());
    }
    Ok(response.clone())
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&body[..line]).ok()?.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        body = &body[line + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_service_references_become_addresses_names_and_paths() {
        let routes: Routes =
            [("ns/svc".to_owned(), SocketAddr::from(([127, 0, 0, 1], 9443)))].into();
        let url = json!({"url": "https://127.0.0.1:8443/validate"});
        assert_eq!(
            endpoint(&url, &routes).unwrap(),
            ("127.0.0.1:8443".into(), "127.0.0.1".into(), "/validate".into())
        );
        let bare = json!({"url": "https://hook.example"});
        assert_eq!(
            endpoint(&bare, &routes).unwrap(),
            ("hook.example:443".into(), "hook.example".into(), "/".into())
        );
        let service = json!({"service": {"namespace": "ns", "name": "svc", "path": "/v"}});
        assert_eq!(
            endpoint(&service, &routes).unwrap(),
            ("127.0.0.1:9443".into(), "svc.ns.svc".into(), "/v".into())
        );
        assert!(endpoint(&json!({"service": {"namespace": "ns", "name": "x"}}), &routes).is_err());
        assert!(endpoint(&json!({"url": "http://plain"}), &routes).is_err());
    }

    #[test]
    fn replies_are_read_plain_or_chunked_and_nonsense_is_an_error() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n{\"response\":{\"uid\":\"u\",\"allowed\":true}}";
        assert_eq!(parse_reply(plain).unwrap()["allowed"], true);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"res\r\n23\r\nponse\":{\"uid\":\"u\",\"allowed\":false}}\r\n0\r\n\r\n";
        assert_eq!(parse_reply(chunked).unwrap()["allowed"], false);
        assert!(parse_reply(b"HTTP/1.1 400 Bad\r\n\r\n{}").is_err());
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\n\r\n{\"response\":{}}").is_err());
        assert!(parse_reply(b"garbage").is_err());
    }
}
