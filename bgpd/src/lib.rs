//! `bgpd`: ironlb's BGP-4 speaker (RFC 4271) as a library, so that the daemon,
//! `bgpctl`, benchmarks and tests share one implementation.
//!
//! Dependencies point down only: `instance` → (`peer`, `rib`, `gr`, `config`);
//! `peer` → `fsm` → `wire`; `rib` → `wire` types; `gr` → `wire` types, `fsm`'s
//! down reasons and `rib`'s peer ids.

// No `unwrap` or `expect` outside tests (clippy runs with `-D warnings`; `unwrap_used` is set
// for the workspace, `expect_used` here; clippy.toml lets tests use both).
#![warn(clippy::expect_used)]

pub mod api;
pub mod bfd;
pub mod config;
pub mod daemon;
pub mod fsm;
pub mod gr;
pub mod instance;
pub mod layer2;
pub mod peer;
pub mod rib;
pub mod wire;
