//! The speaker: what this node announces. [`view`] reads Services, EndpointSlices and Nodes
//! into plain views; [`announce`] is the pure function from those views and the config to
//! this node's desired BGP paths per peer and layer2 addresses. The runtime loop (watches,
//! the bgpd client, `SetPaths`) builds on these.

pub mod announce;
pub mod view;

pub use announce::{
    Announcements, Layer2Address, PathAttributes, desired, desired_from_k8s, node_peers,
};
pub use view::{NodeView, ServiceView};
