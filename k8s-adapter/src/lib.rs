//! ironlb's Kubernetes adapter: gives Services of type LoadBalancer an address from
//! configured pools (the controller) and has each node announce them through its local
//! `bgpd` (the speaker).
//!
//! This crate's pure core, free of I/O so that it is table-tested:
//! - [`config`]: our CRDs and MetalLB's legacy ConfigMap, validated into one [`config::Config`];
//! - [`allocator`]: address allocation, rebuilt from Service statuses at start;
//! - [`speaker::announce`]: what this node announces, from Services, EndpointSlices and Nodes.

pub mod allocator;
pub mod config;
pub mod speaker;
