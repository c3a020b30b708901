//! The HTTPS listener of `--webhook-address`: `POST /validate` takes an `AdmissionReview`
//! (`admission.k8s.io/v1`) and answers [`crate::config::admission::respond`] for it,
//! given the config objects the webhook's caches hold now.
//!
//! Bounded by [`crate::http_serve`] as the metrics listener ([`LIMITS`]): at most [`MAX_CONNECTIONS`] connections at once, the
//! TLS handshake within [`HANDSHAKE_TIMEOUT`], request headers within
//! [`HEADER_READ_TIMEOUT`] and at most [`MAX_HEADER_BYTES`], a connection at most
//! [`CONNECTION_LIFETIME`], and a body at most [`MAX_BODY_BYTES`] (the API server's own
//! request limit, 3 MiB): longer is 413, not JSON or not a review is 400. Nothing panics on
//! input. A new certificate (renewal) applies to the connections accepted after it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Resources;
use crate::config::admission::respond;
use crate::http_serve::{self, Limits};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 32;
/// Time allowed for the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection (keep-alive included).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Largest request head accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest request body accepted (the API server's limit on a request).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
/// The path the `ValidatingWebhookConfiguration` names.
pub const PATH: &str = "/validate";

/// Where the handler reads the stored config objects from.
pub trait Current: Send + Sync + 'static {
    /// The config objects of the namespace the webhook guards.
    fn current(&self) -> Resources;
    /// That namespace: reviews of objects elsewhere are allowed (nothing reads them).
    fn namespace(&self) -> &str;
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

/// Answers one request.
pub async fn handle(current: &dyn Current, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != PATH {
        return text(StatusCode::NOT_FOUND, "the webhook serves POST /validate\n");
    }
    if request.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only POST\n");
    }
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "an AdmissionReview is at most 3 MiB\n");
        }
        Err(_) => return text(StatusCode::BAD_REQUEST, "the request body could not be read\n"),
    };
    match answer(current, &body) {
        Some(review) => {
            let bytes = serde_json::to_vec(&review).unwrap_or_default();
            let mut response = Response::new(Full::new(Bytes::from(bytes)));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            response
        }
        None => text(StatusCode::BAD_REQUEST, "expected an admission.k8s.io/v1 AdmissionReview\n"),
    }
}

/// The response review for a request body; `None` when it is not a review with a request.
pub fn answer(current: &dyn Current, body: &[u8]) -> Option<Value> {
    let review: Value = serde_json::from_slice(body).ok()?;
    let request = review.get("request").filter(|r| r.is_object())?;
    let namespace = request["namespace"].as_str().unwrap_or_default();
    if !namespace.is_empty() && namespace != current.namespace() {
        // Not ours: nothing reads config objects from other namespaces.
        return Some(respond(&review, &Resources::default()));
    }
    Some(respond(&review, &current.current()))
}

/// How much the listener lets clients hold besides the handshake and body bounds.
pub const LIMITS: Limits = Limits {
    max_connections: MAX_CONNECTIONS,
    header_read_timeout: HEADER_READ_TIMEOUT,
    connection_lifetime: CONNECTION_LIFETIME,
    max_header_bytes: MAX_HEADER_BYTES,
};

/// Serves until the task is dropped or aborted; each connection uses the TLS configuration
/// `tls` holds when it is accepted.
pub async fn serve(
    listener: TcpListener,
    tls: watch::Receiver<Arc<rustls::ServerConfig>>,
    current: Arc<dyn Current>,
) {
    http_serve::serve(listener, LIMITS, "webhook", move |stream| {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.borrow()));
        let current = Arc::clone(&current);
        async move {
            let stream =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "webhook: TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            http_serve::http1(stream, LIMITS, move |request| {
                let current = Arc::clone(&current);
                async move { handle(current.as_ref(), request).await }
            })
            .await
        }
    })
    .await
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
