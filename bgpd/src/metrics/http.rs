//! The HTTP/1.1 listener of `[metrics]`: `GET /metrics` (OpenMetrics text),
//! `GET /healthz` (200 while the process runs) and `GET /readyz` (200 once the
//! config is applied and the API serves, 503 before).
//!
//! Bounded: at most [`MAX_CONNECTIONS`] connections at once (the next waits
//! in the kernel's backlog), request headers must arrive within
//! [`HEADER_READ_TIMEOUT`], headers are at most [`MAX_HEADER_BYTES`], and a
//! connection lives at most [`CONNECTION_LIFETIME`]. Request bodies are never
//! read. Served by hyper, already in the tree through tonic.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::api::ApiMetrics;
use super::collector::ScrapeCollector;
use super::process;
use crate::instance::InstanceEvent;
use crate::instance::metrics::Snapshot;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Time allowed for a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection (keep-alive included).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Largest request head accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// How long a scrape or a readiness probe waits for the instance.
pub const INSTANCE_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of OpenMetrics text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The listener could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for metrics on {address}: {source}")]
pub struct MetricsError {
    pub address: SocketAddr,
    pub source: std::io::Error,
}

/// What the handlers need: the instance to ask, the API's metrics, and
/// whether the API serves.
#[derive(Clone, Debug)]
pub struct Endpoint {
    events: mpsc::Sender<InstanceEvent>,
    api: ApiMetrics,
    api_serving: Arc<AtomicBool>,
    /// The layer2 task, asked for its per-address counters on scrape.
    layer2: Option<crate::layer2::task::Handle>,
}

impl Endpoint {
    pub fn new(events: mpsc::Sender<InstanceEvent>, api: ApiMetrics) -> Self {
        Self { events, api, api_serving: Arc::new(AtomicBool::new(false)), layer2: None }
    }

    pub fn with_layer2(mut self, layer2: crate::layer2::task::Handle) -> Self {
        self.layer2 = Some(layer2);
        self
    }

    /// The daemon calls this once the API listener is bound and served.
    pub fn api_serving(&self) {
        self.api_serving.store(true, Ordering::Relaxed);
    }

    /// The instance's snapshot; `None` while it does not answer (not yet
    /// running its loop, i.e. the config not applied, or stopping).
    async fn snapshot(&self) -> Option<Snapshot> {
        let (reply, answer) = oneshot::channel();
        let ask = async {
            self.events.send(InstanceEvent::Metrics(reply)).await.ok()?;
            answer.await.ok()
        };
        tokio::time::timeout(INSTANCE_TIMEOUT, ask).await.ok().flatten()
    }

    /// The whole exposition of one scrape, or `None` when the instance does
    /// not answer.
    pub async fn scrape(&self) -> Option<String> {
        let snapshot = self.snapshot().await?;
        let process = tokio::task::spawn_blocking(|| process::read(Path::new("/proc/self")))
            .await
            .unwrap_or_default();
        let layer2 = match &self.layer2 {
            Some(layer2) => tokio::time::timeout(INSTANCE_TIMEOUT, layer2.list())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ScrapeCollector { snapshot, process, layer2 }));
        let mut text = String::with_capacity(64 * 1024);
        let encoded = encode_registry(&mut text, &registry)
            .and_then(|()| encode_registry(&mut text, self.api.registry()))
            .and_then(|()| encode_eof(&mut text));
        match encoded {
            Ok(()) => Some(text),
            Err(_) => None,
        }
    }

    /// Ready: the API serves and the instance answers (it does so only after
    /// applying the config).
    pub async fn ready(&self) -> bool {
        self.api_serving.load(Ordering::Relaxed) && self.snapshot().await.is_some()
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let text = |status: StatusCode, body: &'static str| {
            let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
            *response.status_mut() = status;
            response
        };
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        }
        match request.uri().path() {
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" if self.ready().await => text(StatusCode::OK, "ready\n"),
            "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
            "/metrics" => match self.scrape().await {
                Some(body) => {
                    let mut response = Response::new(Full::new(Bytes::from(body)));
                    response.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static(OPENMETRICS),
                    );
                    response
                }
                None => text(StatusCode::SERVICE_UNAVAILABLE, "the instance does not answer\n"),
            },
            _ => text(StatusCode::NOT_FOUND, "try /metrics, /healthz or /readyz\n"),
        }
    }
}

/// Binds `address` (port 0: a free port; see the returned listener).
pub async fn bind(address: SocketAddr) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(address).await.map_err(|source| MetricsError { address, source })
}

/// Serves until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, endpoint: Endpoint) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { return };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let endpoint = endpoint.clone();
                async move { Ok::<_, Infallible>(endpoint.handle(request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::metrics::Snapshot;
    use crate::rib::MemoryUsage;

    fn empty_snapshot() -> Snapshot {
        Snapshot {
            uptime: Duration::from_secs(1),
            peers: Vec::new(),
            families: Vec::new(),
            attribute_sets: 0,
            memory: MemoryUsage::default(),
            owners: 0,
            owner_sessions: 0,
            watchers: 0,
            watch_lags: Vec::new(),
        }
    }

    /// A stand-in for the instance: answers every metrics request.
    fn answering_instance() -> mpsc::Sender<InstanceEvent> {
        let (events, mut receiver) = mpsc::channel(4);
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                if let InstanceEvent::Metrics(reply) = event {
                    let _ = reply.send(empty_snapshot());
                }
            }
        });
        events
    }

    #[tokio::test]
    async fn not_ready_until_the_api_serves() {
        let endpoint = Endpoint::new(answering_instance(), ApiMetrics::default());
        assert!(!endpoint.ready().await, "the API is not serving yet");
        endpoint.api_serving();
        assert!(endpoint.ready().await);
    }

    #[tokio::test]
    async fn not_ready_while_the_instance_does_not_answer() {
        let (events, receiver) = mpsc::channel(4);
        drop(receiver);
        let endpoint = Endpoint::new(events, ApiMetrics::default());
        endpoint.api_serving();
        assert!(!endpoint.ready().await, "a stopped instance is not ready");
        assert!(endpoint.scrape().await.is_none());
    }

    #[tokio::test]
    async fn a_scrape_ends_with_eof_and_holds_the_api_families() {
        let api = ApiMetrics::default();
        api.record("/ironlb.bgpd.v1.BgpService/GetInfo", None, 0.001);
        let endpoint = Endpoint::new(answering_instance(), api);
        let text = endpoint.scrape().await.expect("a scrape");
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
        assert!(text.contains("# TYPE ironlb_api_rpcs counter"));
        assert!(text.contains("ironlb_process_uptime_seconds 1"));
    }
}
