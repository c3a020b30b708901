//! Prometheus metrics (OpenMetrics text), health and readiness over HTTP on
//! `[metrics] listen` (off when the section is absent).
//!
//! Nothing here is on the UPDATE path. The numbers are read on scrape from
//! where their owners already keep them:
//! - per peer: the session task's relaxed atomics
//!   ([`crate::peer::counters`]), read by the scraping task; session state and
//!   RIB counts from the instance, asked once per scrape with a oneshot
//!   ([`crate::instance::metrics`] says why a message and not atomics);
//! - the API: a tower layer on the tonic server counts RPCs by method and
//!   code and times them ([`api`]);
//! - layer2: the counters the layer2 task already keeps per announced
//!   address, asked with its `list` (one message per scrape);
//! - the process: `/proc/self` read on scrape, off the async workers ([`process`]).
//!
//! [`collector`] turns one scrape's numbers into metric families; [`http`]
//! serves them with a bounded listener. Names are `ironlb_...`; where MetalLB
//! (or frr-k8s, which MetalLB's FRR mode uses) has a metric, ours has its
//! name with the prefix changed and the same labels (`peer`), so dashboards
//! and alerts carry over (README, "Metrics").

pub mod api;
pub mod collector;
pub mod http;
pub mod process;

pub use api::{ApiMetrics, ApiMetricsLayer};
pub use http::{Endpoint, MetricsError};
