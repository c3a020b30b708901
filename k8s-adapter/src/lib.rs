//! ironlb's Kubernetes adapter: gives Services of type LoadBalancer an address from
//! configured pools (the controller) and has each node announce them through its local
//! `bgpd` (the speaker).
//!
//! This crate's pure core, free of I/O so that it is table-tested:
//! - [`config`]: our CRDs and MetalLB's legacy ConfigMap, validated into one [`config::Config`];
//! - [`allocator`]: address allocation, rebuilt from Service statuses at start;
//! - [`speaker::announce`]: what this node announces, from Services, EndpointSlices and Nodes;
//! - [`election`]: which node answers for each layer2 address, and fast failover.
//!
//! How the runtime loops use it:
//!
//! Controller: list the CRDs into a [`config::Resources`] (and, when configured, add a
//! legacy ConfigMap's objects: [`config::legacy::LegacyConfig::from_config_map`], then
//! `to_resources` and [`config::Resources::extend`]); [`config::build`] gives the
//! `Config` plus per-object errors and warnings to publish as Events. At start,
//! [`allocator::Allocator::new`], then for every Service that [`allocator::ClassPolicy`]
//! manages and whose status shows addresses, [`allocator::request::request`] and
//! [`allocator::Allocator::restore`]; after that [`allocator::Allocator::assign`] for each
//! Service on every change (idempotent), [`allocator::Allocator::release`] when one is
//! deleted or stops being ours, and on a config change
//! [`allocator::Allocator::set_pools`], re-assigning the Services it returns.
//! Errors carry `reason()` strings for Events and the Service condition.
//!
//! Speaker: on every change, [`speaker::desired_from_k8s`] (or [`speaker::desired`] on
//! cached views) gives the paths per `BGPPeer` and the layer2 addresses;
//! [`speaker::bgpd::bgpd_state`] turns them into bgpd's peers and the path sets for
//! `SetPaths` (one per owner: each peer gets its own attributes); [`speaker::incremental`] keeps both up to date change by change. Layer2
//! addresses go through [`election`]: the candidates of every address, the node's own
//! Lease, the failover state machine fed with Lease changes and segment heartbeats, whose
//! announce set goes to `bgpd` with `SetAnnouncements`. [`speaker::layer2`] wires it
//! (`k8s-adapter/ELECTION.md` lists the steps and knobs).
//!
//! The runtime around the core:
//! - [`watch`]: reflectors whose changes arrive as triggers on one channel, drained in
//!   batches (coalescing without delays), and the config caches;
//! - [`controller`]: leader election, then [`controller::reconcile`] (allocate, status,
//!   condition, Events) with [`controller::status`] as the pure status diff;
//! - [`speaker::runtime`] (the loop), [`speaker::client`] (the bgpd link: Session lease,
//!   peers, `SetPaths`, reconnect and full re-sync) and [`speaker::layer2`] (the layer2
//!   election's task: Leases, heartbeats, links, annotations);
//! - [`events`]: Kubernetes Events for both;
//! - [`metrics`]: Prometheus metrics, `/healthz` and `/readyz` for both.

// No `unwrap` or `expect` outside tests (clippy runs with `-D warnings`; `unwrap_used` is set
// for the workspace, `expect_used` here; clippy.toml lets tests use both).
#![warn(clippy::expect_used)]

pub mod allocator;
pub mod config;
pub mod controller;
pub mod election;
pub mod events;
pub mod http_serve;
pub mod logging;
pub mod metrics;
pub mod speaker;
pub mod watch;
