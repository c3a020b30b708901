//! The speaker: what this node announces. [`view`] reads Services, EndpointSlices and Nodes
//! into plain views; [`announce`] is the pure function from those views and the config to
//! this node's desired BGP paths per peer and layer2 addresses; [`bgpd`] turns those into
//! what bgpd should hold (typed neighbors, one path set keyed by prefix), and
//! [`incremental`] keeps both up to date per change. [`runtime`] is the loop (watches,
//! coalescing, Events); it hands each batch's views to the [`layer2`] task (the election)
//! and the new state to [`client`], the task that keeps the local bgpd in sync. The API's
//! messages are built only there ([`client`], [`push`], [`layer2::push`]).

pub mod announce;
pub mod bgpd;
pub mod channel;
pub mod client;
pub mod incremental;
pub mod layer2;
pub mod push;
pub mod runtime;
pub mod secrets;
pub mod slices;
pub mod status;
pub mod view;

pub use announce::{
    Announcements, Layer2Address, PathAttributes, desired, desired_from_k8s, node_peers,
};
pub use view::{NodeView, ServiceView};
