//! The gRPC API (`ironlb.bgpd.v1`, contract in `proto/ironlb/bgpd/v1/bgpd.proto`).
//!
//! This module stays thin: validate, convert, ask the instance, answer. What
//! lives here now is everything that does not need the live daemon:
//!
//! - [`validate`] and [`peer`]: requests → typed domain values, each rejection a
//!   [`ValidationError`] naming the field and the value, which converts into the
//!   fitting `tonic::Status`;
//! - [`requests`]: ListPaths, Watch and the Session lease request, checked;
//! - [`peer_ops`]: the administrative peer RPCs as the instance runs them,
//!   and how API peers and config reload interact;
//! - [`peer_status`]: counters, last NOTIFICATIONs and capabilities of a
//!   peer's status;
//! - [`peers`]: the session status the instance keeps per neighbour and its
//!   conversion for ListPeers and GetPeer;
//! - [`convert`]: domain values → response messages;
//! - [`handler`]: the instance side, one function per request, run inside
//!   the instance task (the only owner of the RIB), and [`listing`] for
//!   ListPaths;
//! - [`service`]: the tonic service, which validates, asks the instance and
//!   converts the answer;
//! - [`transport`]: TCP and Unix-socket listeners, health and reflection;
//! - [`live`] and [`watch`]: owner leases, the grace timer's expiry and
//!   `Watch` inside the instance; [`streams`]: the tasks that carry the
//!   `Session` and `Watch` streams and the bulk client streams;
//! - [`layer2`]: `Layer2Service` (layer2.proto), which validates and asks the
//!   layer2 task (`crate::layer2::task`) rather than the instance;
//! - [`owners`]: the owner bookkeeping (paths per owner, the diff of
//!   `SetPaths`, leases and grace timers, graceful-restart re-sync) as a sans-IO
//!   state machine that the instance drives with the time passed in.

pub mod convert;
pub mod error;
pub mod handler;
pub mod layer2;
pub mod listing;
pub mod live;
pub mod owners;
pub mod peer;
pub mod peer_ops;
pub mod peer_status;
pub mod peers;
pub mod requests;
pub mod service;
pub mod streams;
pub mod transport;
pub mod validate;
pub mod watch;

pub use error::{AddressKind, ValidationError};
pub use owners::Owners;
pub use peer::PeerSettings;
pub use validate::{PeerLookup, ValidatedPath};
