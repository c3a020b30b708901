//! `bgpd`: ironlb's BGP-4 speaker (RFC 4271) as a library, so that the daemon,
//! `bgpctl`, benchmarks and tests share one implementation.
//!
//! Dependencies point down only:
//!
//! - `daemon` → `api`, `instance`, `layer2`, `peer::socket`, `config`;
//! - `api` (tonic services, request validation, `api::convert`: the only
//!   place `.proto` types meet domain types) → `instance` (its request and
//!   answer types), `layer2::task`, `config`, `wire`;
//! - `instance` → `peer`, `rib`, `gr`, `fsm`, `config`, `layer2::task`,
//!   `unnumbered`, `wire`; it never names `api` or a `.proto` type;
//! - `unnumbered` (BGP unnumbered: the discovery thread of a neighbor named
//!   by an interface) → nothing of ours; it reports through a callback the
//!   instance gives it;
//! - `peer` → `fsm` → `wire`; sessions report to the instance with
//!   `peer::SessionReport` on their own channel, never naming `instance`;
//! - `rib` → `wire` types; `gr` → `wire` types, `fsm`'s down reasons and
//!   `rib`'s peer ids; `config` → `wire`, `gr` settings.
//!
//! `grep -rn "crate::api" src/{instance,rib,peer,fsm,gr,wire,config}` is
//! empty, and so is the same grep for `ironlb_proto`.

// No `unwrap` or `expect` outside tests (clippy runs with `-D warnings`; `unwrap_used` is set
// for the workspace, `expect_used` here; clippy.toml lets tests use both).
#![warn(clippy::expect_used)]

pub mod api;
pub mod bfd;
pub mod config;
pub mod daemon;
pub mod fsm;
#[doc(hidden)]
pub mod fuzzing;
pub mod gr;
pub mod instance;
pub mod layer2;
pub mod logging;
pub mod metrics;
pub mod peer;
pub mod policy;
pub mod rib;
mod sockopt;
pub mod time;
pub mod unnumbered;
pub mod wire;
