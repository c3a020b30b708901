//! The speaker: what this node announces. [`view`] reads Services, EndpointSlices and Nodes
//! into plain views; [`announce`] is the pure function from those views and the config to
//! this node's desired BGP paths per peer and layer2 addresses; [`bgpd`] turns those into
//! bgpd's API terms (peers, one path set). [`runtime`] is the loop (watches, coalescing,
//! Events) and [`client`] the task that keeps the local bgpd in sync.

pub mod announce;
pub mod bgpd;
pub mod client;
pub mod incremental;
pub mod layer2;
pub mod push;
pub mod runtime;
pub mod secrets;
pub mod slices;
pub mod view;

pub use announce::{
    Announcements, Layer2Address, PathAttributes, desired, desired_from_k8s, node_peers,
};
pub use view::{NodeView, ServiceView};
