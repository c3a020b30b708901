//! API metrics: a tower layer on the tonic server counts each RPC by method
//! and gRPC status code and observes its latency (to the response headers:
//! a unary call's whole handling, a stream's setup).
//!
//! The code is the `grpc-status` of the response headers, which tonic sets
//! for every error answered before the body ("trailers-only"); a call that
//! answers headers without it counts as `OK` (a stream that fails later
//! still counted as OK when it opened). Label values are bounded: a method
//! is named only when the server knows it (an UNIMPLEMENTED answer counts
//! under `method="unknown"`), so a client cannot grow the label set.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tonic::codegen::http;

/// `(method, code)` of one RPC.
type RpcLabels = Vec<(&'static str, String)>;
/// `(method)`.
type MethodLabels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 100 µs .. ~13 s.
    Histogram::new(exponential_buckets(0.0001, 4.0, 9))
}

/// The API's counters; cheap to clone (shared `Arc`s).
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    rpcs: Family<RpcLabels, Counter>,
    latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
    /// The registry the scrape encodes, holding the two families above.
    registry: Arc<Registry>,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        let rpcs = Family::<RpcLabels, Counter>::default();
        let latency = Family::<MethodLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let mut registry = Registry::default();
        registry.register(
            "ironlb_api_rpcs",
            "gRPC calls answered, by method and status code",
            rpcs.clone(),
        );
        registry.register(
            "ironlb_api_rpc_duration_seconds",
            "gRPC call latency to the response headers, by method",
            latency.clone(),
        );
        Self { rpcs, latency, registry: Arc::new(registry) }
    }
}

impl ApiMetrics {
    /// Counts one call of `path` (`/package.Service/Method`).
    pub fn record(&self, path: &str, status: Option<i32>, seconds: f64) {
        let code = status.unwrap_or(0);
        let method = if code == tonic::Code::Unimplemented as i32 { "unknown" } else { path };
        let method = method.trim_start_matches('/').to_string();
        let code_name = format!("{:?}", tonic::Code::from(code));
        self.rpcs.get_or_create(&vec![("method", method.clone()), ("code", code_name)]).inc();
        self.latency.get_or_create(&vec![("method", method)]).observe(seconds);
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// The tower layer tonic's server is built with.
#[derive(Clone, Debug, Default)]
pub struct ApiMetricsLayer {
    metrics: ApiMetrics,
}

impl ApiMetricsLayer {
    pub fn new(metrics: ApiMetrics) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for ApiMetricsLayer {
    type Service = ApiMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiMetricsService { inner, metrics: self.metrics.clone() }
    }
}

/// One RPC measured around the inner service.
#[derive(Clone, Debug)]
pub struct ApiMetricsService<S> {
    inner: S,
    metrics: ApiMetrics,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for ApiMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_string();
        let started = Instant::now();
        let metrics = self.metrics.clone();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let result = answer.await;
            let status = match &result {
                Ok(response) => grpc_status(response.headers()),
                Err(_) => Some(tonic::Code::Internal as i32),
            };
            metrics.record(&path, status, started.elapsed().as_secs_f64());
            result
        })
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn counts_by_method_and_code_and_bounds_unknown_methods() {
        let metrics = ApiMetrics::default();
        metrics.record("/ironlb.bgpd.v1.BgpService/GetInfo", None, 0.001);
        metrics.record("/ironlb.bgpd.v1.BgpService/GetInfo", Some(5), 0.002);
        metrics.record("/ironlb.bgpd.v1.BgpService/Nope1", Some(12), 0.0);
        metrics.record("/ironlb.bgpd.v1.BgpService/Nope2", Some(12), 0.0);
        let mut text = String::new();
        encode(&mut text, metrics.registry()).expect("encode");
        assert!(text.contains(
            "ironlb_api_rpcs_total{method=\"ironlb.bgpd.v1.BgpService/GetInfo\",code=\"Ok\"} 1"
        ));
        assert!(text.contains(
            "ironlb_api_rpcs_total{method=\"ironlb.bgpd.v1.BgpService/GetInfo\",code=\"NotFound\"} 1"
        ));
        assert!(
            text.contains("ironlb_api_rpcs_total{method=\"unknown\",code=\"Unimplemented\"} 2")
        );
        assert!(!text.contains("Nope"));
        assert!(text.contains(
            "ironlb_api_rpc_duration_seconds_count{method=\"ironlb.bgpd.v1.BgpService/GetInfo\"} 2"
        ));
    }
}
