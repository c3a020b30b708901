//! The gRPC API (`ironlb.bgpd.v1`, contract in `proto/ironlb/bgpd/v1/bgpd.proto`).
//!
//! This module stays thin: validate, convert, ask the instance, answer. It
//! depends on the instance (its request and answer types in
//! `instance::requests`, `instance::peer_ops` and the rest), never the
//! reverse; the state the requests act on (owners and leases, the watch log,
//! listings, peers' session status) lives in `instance/`. What api keeps:
//!
//! - [`service`]: the tonic `BgpService`, which validates, asks the instance
//!   (one [`ApiRequest`](crate::instance::requests::ApiRequest) per call, or
//!   per page of a listing) and converts the answer;
//! - [`layer2`]: `Layer2Service` (layer2.proto), which validates and asks the
//!   layer2 task (`crate::layer2::task`) rather than the instance;
//! - [`streams`]: the tasks that carry the `Session` and `Watch` streams and
//!   the bulk client streams;
//! - [`transport`]: TCP and Unix-socket listeners (their accept path caps
//!   and times out connections, `transport::accept`), health and reflection;
//! - request validation: [`validate`] (paths), [`peer`] (peer settings and
//!   the administrative peer RPCs), [`requests`] (ListPaths, Watch and the
//!   Session lease request), each rejection a [`ValidationError`] naming the
//!   field and the value ([`error`], which also maps the instance's errors to
//!   `tonic::Status`);
//! - [`convert`]: domain values → response messages, the only place where
//!   `.proto` types and the instance's domain types meet.

pub mod convert;
pub mod error;
pub mod layer2;
pub mod peer;
pub mod requests;
pub mod service;
pub mod streams;
pub mod transport;
pub mod validate;

pub use error::{AddressKind, ValidationError};
pub use validate::PeerLookup;
