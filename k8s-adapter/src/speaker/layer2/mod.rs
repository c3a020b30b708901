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

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::runtime::reflector::Store;
use tokio::sync::{mpsc, oneshot, watch};

use self::heartbeat::Groups;
use self::push::Layer2Desired;
use self::runtime::Input;
pub use self::views::ServiceChanges;
use crate::config::Config;
use crate::election::failover::FailoverTiming;
use crate::election::membership::LeaseTiming;
use crate::events::Events;

/// The layer2 knobs (speaker flags).
#[derive(Debug, Clone, Default)]
pub struct Layer2Options {
    /// Interfaces to answer and send heartbeats on; empty: the one holding this node's
    /// InternalIP ([`interfaces::holding`]).
    pub interfaces: Vec<String>,
    /// Heartbeat multicast groups and port (every speaker of a cluster uses the same).
    pub groups: Groups,
    pub failover: FailoverTiming,
    pub lease: LeaseTiming,
}

/// How the speaker loop talks to the layer2 task.
#[derive(Clone)]
pub struct Handle {
    inputs: mpsc::UnboundedSender<Input>,
}

impl Handle {
    /// One batch of the speaker loop: the config (the same `Arc` while unchanged) and the
    /// views of the Services that changed (all of them after a relist, a config or a Node
    /// change).
    pub fn recompute(&self, config: Arc<Config>, changes: ServiceChanges) {
        let _ = self.inputs.send(Input::Services(config, changes));
    }

    /// Clean stop: deletes our Lease, then withdraws every layer2 announcement from bgpd.
    /// Returns when both are done (or gave up).
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inputs.send(Input::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// What the task needs from the speaker.
pub struct Setup {
    pub client: Client,
    pub node: String,
    pub namespace: String,
    pub options: Layer2Options,
    /// bgpd's API endpoint and our owner there (for the withdrawal on stop).
    pub bgpd: String,
    pub owner: String,
    /// For the annotations and Events ([`visible`]).
    pub services: Store<Service>,
    pub events: Events,
    /// The set for the client task to push.
    pub desired: watch::Sender<Arc<Layer2Desired>>,
}

/// Starts the layer2 task.
pub fn spawn(setup: Setup) -> Handle {
    let (inputs, rx) = mpsc::unbounded_channel();
    let handle = Handle { inputs: inputs.clone() };
    tokio::spawn(runtime::run(setup, inputs, rx));
    handle
}
