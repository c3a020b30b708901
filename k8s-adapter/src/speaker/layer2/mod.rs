//! The layer2 election at run time: one task owns this node's
//! [`Failover`](crate::election::failover::Failover), its
//! [`LeaseKeeper`](crate::election::membership::LeaseKeeper) and the Services' layer2
//! results; everything else sends it messages. As the election is, the task is split in
//! two: [`state`] is its sans-IO core (events in, actions out, unit-tested) and [`runtime`]
//! the thin I/O around it. The design and its trade-offs are in `k8s-adapter/ELECTION.md`
//! and `election/`'s docs; this is the wiring ("What the runtime must do" there):
//!
//! - membership: our Lease (`ironlb-speaker-<node>`) written when
//!   [`LeaseKeeper::poll`](crate::election::membership::LeaseKeeper::poll) says, the
//!   Leases watched by label; `Failover::set_members` on each change and at the next Lease
//!   expiry (a timer, no polling);
//! - candidates: [`crate::election::candidates()`] from the Services' views, every Node
//!   and the config, kept per change ([`views`]): the speaker loop hands over the views it
//!   computed for each batch ([`Handle::recompute`]), so a batch costs work for the
//!   Services it names;
//! - heartbeats: every interval and on `SendHeartbeat`, on each layer2 interface
//!   ([`heartbeat`]); received ones go to `Failover::heard` without allocating;
//! - announcements: on `Announce`/`Withdraw` the whole `announcing()` set goes to the
//!   client task ([`push`]), which sends it to bgpd with `SetAnnouncements`;
//! - links: [`link`] reports carrier changes into `Failover::set_link`;
//! - clean stop ([`Handle::stop`]): delete the Lease first, then withdraw;
//! - visibility: [`visible`] (annotation and Events by the winner);
//! - BGP fallback: pools in fallback mode ([`crate::election::fallback::fallback_pools`]) are joined or left
//!   from the local bgpd's session states ([`sessions`],
//!   [`crate::election::fallback::decide`]); the joined pools go into our Lease
//!   ([`LeaseKeeper::set_fallback`](crate::election::membership::LeaseKeeper::set_fallback)),
//!   and every speaker reads them back from the Leases into the candidates.

pub mod heartbeat;
pub mod interfaces;
pub mod leases;
pub mod link;
pub mod push;
pub mod runtime;
pub mod sessions;
pub mod state;
pub mod views;
pub mod visible;

pub use self::runtime::{Handle, Layer2Options, Setup, spawn};
pub use self::views::ServiceChanges;
