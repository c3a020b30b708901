//! Layer2 election: which node answers ARP/NDP for each layer2 address.
//!
//! - [`membership`]: each speaker's own Lease (`coordination.k8s.io/v1`), the source of
//!   truth for which nodes are alive; a clean stop deletes it so addresses move at once.
//! - [`mod@candidates`]: who may answer for each address (selectors, exclusion, ETP `Local`,
//!   fallback), the same from every node's view.
//! - [`order`]: MetalLB's order, `sha256(node + "#" + address)`, and the winners.
//! - [`failover`]: a sans-IO state machine that moves addresses off a crashed node within
//!   a dead interval of heartbeats on the segment, well before its Lease expires.
//! - [`wire`]: the heartbeat datagram.
//! - [`fallback`]: when a node joins the layer2 election of a pool it also announces with
//!   BGP (its sessions for the pool are all down).
//!
//! Everything here is pure; the speaker's runtime watches Leases, Services, EndpointSlices
//! and Nodes, sends and hears heartbeats, and executes the actions. `ELECTION.md` states
//! the trade-offs and the knobs.

pub mod auth;
pub mod candidates;
pub mod failover;
pub mod fallback;
pub mod membership;
pub mod order;
pub mod wire;

pub use candidates::{FallbackView, candidates};
pub use order::{AddressCandidates, assignments, elect, ordered};
