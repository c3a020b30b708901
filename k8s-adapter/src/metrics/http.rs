//! The HTTP/1.1 listener of `--metrics-address`: `GET /metrics` (OpenMetrics text),
//! `GET /healthz` (200 while the process runs) and `GET /readyz` (200 when
//! [`Exposition::ready`], 503 before). bgpd's `metrics/http.rs` approach, by hyper.
//!
//! Bounded by [`crate::http_serve`] with [`LIMITS`]: at most [`MAX_CONNECTIONS`]
//! connections at once (the next waits in the kernel's backlog), request headers within
//! [`HEADER_READ_TIMEOUT`] and at most [`MAX_HEADER_BYTES`], a connection at most
//! [`CONNECTION_LIFETIME`]. Request bodies are never read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::encoding::text::encode;
use tokio::net::TcpListener;

use super::Exposition;
use crate::http_serve::{self, Limits};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Time allowed for a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection (keep-alive included).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Largest request head accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The content type of OpenMetrics text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The listener could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for metrics on {address}: {source}")]
pub struct MetricsError {
    pub address: SocketAddr,
    pub source: std::io::Error,
}

/// Binds `address` (port 0: a free port; see the returned listener).
pub async fn bind(address: SocketAddr) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(address).await.map_err(|source| MetricsError { address, source })
}

/// The whole exposition of one scrape (ends with `# EOF`).
pub fn scrape(exposition: &dyn Exposition) -> Option<String> {
    let mut text = String::with_capacity(4096);
    encode(&mut text, exposition.registry()).ok()?;
    Some(text)
}

fn handle(exposition: &dyn Exposition, request: &Request<Incoming>) -> Response<Full<Bytes>> {
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
        "/readyz" if exposition.ready() => text(StatusCode::OK, "ready\n"),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        "/metrics" => match scrape(exposition) {
            Some(body) => {
                let mut response = Response::new(Full::new(Bytes::from(body)));
                response.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static(OPENMETRICS),
                );
                response
            }
            None => text(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n"),
        },
        _ => text(StatusCode::NOT_FOUND, "try /metrics, /healthz or /readyz\n"),
    }
}

/// How much the listener lets scrapers hold (see [`crate::http_serve`]).
pub const LIMITS: Limits = Limits {
    max_connections: MAX_CONNECTIONS,
    header_read_timeout: HEADER_READ_TIMEOUT,
    connection_lifetime: CONNECTION_LIFETIME,
    max_header_bytes: MAX_HEADER_BYTES,
};

/// Serves until the task is dropped or aborted.
pub async fn serve(listener: TcpListener, exposition: Arc<dyn Exposition>) {
    http_serve::serve(listener, LIMITS, "metrics", move |stream| {
        let exposition = Arc::clone(&exposition);
        http_serve::http1(stream, LIMITS, move |request| {
            let response = handle(exposition.as_ref(), &request);
            async move { response }
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ControllerMetrics, SpeakerMetrics};

    #[test]
    fn speaker_ready_needs_synced_caches_and_the_bgpd_session() {
        let metrics = SpeakerMetrics::default();
        assert!(!metrics.ready());
        metrics.readiness.set_caches_synced(true);
        assert!(!metrics.ready(), "bgpd's session is not open yet");
        metrics.readiness.set_link(true);
        assert!(metrics.ready());
        metrics.readiness.set_link(false);
        assert!(!metrics.ready(), "the session to bgpd dropped");
    }

    #[test]
    fn controller_ready_when_following_or_leading_with_synced_caches() {
        let metrics = ControllerMetrics::default();
        assert!(!metrics.ready(), "the Lease is not known yet");
        metrics.set_leading(false);
        assert!(metrics.ready(), "a follower is ready");
        metrics.set_leading(true);
        assert!(!metrics.ready(), "a leader without synced caches");
        metrics.readiness.set_caches_synced(true);
        assert!(metrics.ready());
    }

    #[test]
    fn speaker_names_are_metallbs() {
        let metrics = SpeakerMetrics::default();
        metrics.updates(3);
        metrics.config_loaded(true);
        let text = scrape(&metrics).unwrap();
        assert!(text.ends_with("# EOF\n"));
        for name in [
            "ironlb_k8s_client_updates_total 3",
            "ironlb_k8s_client_update_errors_total 0",
            "ironlb_k8s_client_config_loaded_bool 1",
            "ironlb_k8s_client_config_stale_bool 1",
            "ironlb_layer2_addresses_won 0",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }

    #[test]
    fn pools_gone_from_the_config_disappear() {
        use crate::allocator::PoolUsage;
        let metrics = ControllerMetrics::default();
        let mut gauges = metrics.pool_gauges();
        let usage = PoolUsage { assigned: [1, 0], total: [51, 0] };
        let (a, b) = ("a".to_owned(), "b".to_owned());
        gauges.set([(&a, &usage), (&b, &usage)]);
        let text = scrape(&metrics).unwrap();
        assert!(text.contains("ironlb_allocator_addresses_in_use_total{pool=\"b\"} 1"), "{text}");
        gauges.set([(&a, &usage)]);
        let text = scrape(&metrics).unwrap();
        assert!(text.contains("ironlb_allocator_addresses_total{pool=\"a\"} 51"), "{text}");
        assert!(!text.contains("pool=\"b\""), "{text}");
    }

    #[test]
    fn layer2_counts_sessions_and_reconcile_time_are_exposed() {
        use std::collections::BTreeMap;
        use std::time::Duration;

        use crate::metrics::Layer2Counters;
        let speaker = SpeakerMetrics::default();
        speaker.layer2_counters(&Layer2Counters {
            takeovers: 2,
            heartbeats_sent: 50,
            heartbeats_received: BTreeMap::from([("n2".to_owned(), 40)]),
            silences: BTreeMap::from([("n2".to_owned(), 1)]),
        });
        let mut sessions = speaker.session_gauges();
        let (a, b) = ("192.0.2.1".to_owned(), "192.0.2.2".to_owned());
        sessions.set([(&a, true), (&b, false)]);
        let text = scrape(&speaker).unwrap();
        for line in [
            "ironlb_layer2_takeovers_total 2",
            "ironlb_layer2_heartbeats_sent_total 50",
            "ironlb_layer2_heartbeats_received_total{node=\"n2\"} 40",
            "ironlb_layer2_heartbeats_missed_total{node=\"n2\"} 1",
            "ironlb_speaker_bgp_session_up{peer=\"192.0.2.1\"} 1",
            "ironlb_speaker_bgp_session_up{peer=\"192.0.2.2\"} 0",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        // A peer bgpd no longer reports loses its series.
        sessions.set([(&a, true)]);
        let text = scrape(&speaker).unwrap();
        assert!(!text.contains("192.0.2.2"), "{text}");

        let controller = ControllerMetrics::default();
        controller.reconciled(Duration::from_millis(3));
        let text = scrape(&controller).unwrap();
        assert!(text.contains("ironlb_controller_reconciles_total 1"), "{text}");
        assert!(text.contains("ironlb_controller_reconcile_duration_seconds_count 1"), "{text}");
        // Both processes say how many log lines they could not write.
        for text in [text, scrape(&speaker).unwrap()] {
            assert!(text.contains("ironlb_log_lines_lost_total "), "{text}");
        }
    }
}
