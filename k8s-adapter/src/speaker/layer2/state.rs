//! The layer2 task's state, free of I/O: events in ([`Event`], with the time they are
//! handled at), actions out ([`Action`]), as [`crate::election::failover`] is. It owns the
//! failover, our Lease's keeper, the Services' layer2 results ([`Layer2Views`]) and the
//! fallback decisions; the runtime ([`super::runtime`]) reads the caches, the sockets and
//! the clocks, feeds the events and carries the actions out. Tested without a cluster or a
//! socket.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;

use super::push::Layer2Desired;
use super::sessions::Sessions;
use super::views::{Layer2Views, ServiceChanges};
use super::visible::Answering;
use crate::config::Config;
use crate::election::auth::HeartbeatKeys;
use crate::election::failover::{self, Failover};
use crate::election::membership::{LeaseAction, LeaseKeeper, MembershipTracker};
use crate::election::{FallbackView, fallback, wire};
use crate::metrics::Layer2Counters;
use crate::speaker::NodeView;

/// How long a BGP session must stay Established before a node leaves a fallback pool's
/// layer2 election: a flapping session moves nothing.
pub const FALLBACK_UP_HOLD: Duration = Duration::from_secs(5);

/// When an event is handled: the monotonic clock for the failover and the fallback hold,
/// the wall clock for the Leases.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub instant: Instant,
    pub wall: Timestamp,
}

impl Now {
    /// The clocks' current readings.
    pub fn read() -> Self {
        Self { instant: Instant::now(), wall: Timestamp::now() }
    }
}

/// What happened.
#[derive(Debug)]
pub enum Event<'a> {
    /// A batch of the speaker loop: the config (the same `Arc` while it is unchanged) and
    /// the Services' views that changed.
    Services { config: Arc<Config>, changes: ServiceChanges },
    /// Every Node, after one changed.
    Nodes(Vec<NodeView>),
    /// The speaker Leases, after one changed.
    Leases(&'a [Arc<Lease>]),
    /// Writing our Lease failed.
    LeaseWriteFailed,
    /// The local bgpd's BGP session states.
    Sessions(Sessions),
    /// The layer2 links went up or down.
    Link(bool),
    /// A datagram on a heartbeat socket.
    Heard(&'a [u8]),
    /// The heartbeat interval passed.
    Tick,
    /// The failover's timer ([`Deadlines::failover`]) fired.
    FailoverTimer,
    /// The wall-clock deadline ([`Deadlines::wall`]) passed; the speaker Leases as now.
    WallClock(&'a [Arc<Lease>]),
    /// The fallback recheck ([`Deadlines::fallback_recheck`]) is due.
    FallbackRecheck,
}

/// What the runtime does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write or delete our Lease; report a failure as [`Event::LeaseWriteFailed`].
    Lease(LeaseAction),
    /// Send this heartbeat datagram on every layer2 interface.
    SendHeartbeat(Vec<u8>),
    /// The layer2 announcements for the client task to push (changed).
    Desired(Arc<Layer2Desired>),
    /// What this node answers for, for the annotations and Events (changed).
    Answering(Answering),
    /// Services changed: have the annotations checked again.
    Nudge,
}

/// When the runtime must come back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadlines {
    pub failover: Option<Instant>,
    pub fallback_recheck: Option<Instant>,
    /// Our Lease's next write or the next Lease expiry, whichever is first.
    pub wall: Option<Timestamp>,
}

/// The layer2 task's state.
#[derive(Debug)]
pub struct State {
    failover: Failover,
    keeper: LeaseKeeper,
    views: Layer2Views,
    /// The layer2 interfaces, for addresses whose L2Advertisements name none.
    interfaces: Vec<String>,
    /// `None` until bgpd's first report: no fallback decision before the sessions are
    /// known (a restarted speaker whose bgpd keeps its sessions up must not join).
    sessions: Option<Sessions>,
    /// Fallback pools this node joined.
    joined: BTreeSet<String>,
    fallback_recheck: Option<Instant>,
    timer: Option<Instant>,
    lease_poll: Option<Timestamp>,
    members_due: Option<Timestamp>,
    /// What was last published.
    desired: Arc<Layer2Desired>,
    answering: Answering,
    datagram: Vec<u8>,
    /// Heartbeat authentication ([`crate::election::auth`]); none by default.
    keys: HeartbeatKeys,
    /// What the metrics show ([`Self::counters`]).
    counters: Layer2Counters,
    /// The peers our last heartbeat named as suspects (silent for a dead interval).
    suspects: BTreeSet<String>,
}

impl State {
    /// A node's state at start: its Lease is written at the first wall-clock deadline
    /// (at once), `nodes` are every Node known so far, `interfaces` the layer2 ones.
    pub fn new(
        node: &str,
        failover: Failover,
        keeper: LeaseKeeper,
        nodes: Vec<NodeView>,
        interfaces: Vec<String>,
        now: Now,
    ) -> Self {
        let mut views = Layer2Views::new(node);
        views.set_nodes(nodes);
        Self {
            failover,
            keeper,
            views,
            interfaces,
            sessions: None,
            joined: BTreeSet::new(),
            fallback_recheck: None,
            timer: None,
            lease_poll: Some(now.wall),
            members_due: None,
            desired: Arc::default(),
            answering: Answering::new(),
            datagram: Vec::new(),
            keys: HeartbeatKeys::default(),
            counters: Layer2Counters::default(),
            suspects: BTreeSet::new(),
        }
    }

    /// The election's counts since start, for the metrics.
    pub fn counters(&self) -> &Layer2Counters {
        &self.counters
    }

    /// Signs sent heartbeats and drops received ones whose tag `keys` do not verify.
    pub fn with_keys(mut self, keys: HeartbeatKeys) -> Self {
        self.keys = keys;
        self
    }

    /// Handles one event.
    pub fn handle(&mut self, event: Event<'_>, now: Now) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Services { config, changes } => {
                if !Arc::ptr_eq(&config, self.views.config()) {
                    // Pools or their peers may have changed.
                    let pools = fallback::fallback_pools(&config);
                    let joined = self.views.fallback().joined.clone();
                    self.views.set_config(config);
                    self.views.set_fallback(FallbackView { pools, joined });
                    if matches!(changes, ServiceChanges::Changed(_)) {
                        self.views.reset();
                    }
                }
                self.views.apply(changes);
                self.recompute(now, &mut out);
                // Services changed: the annotations we own may need writing again.
                if !self.answering.is_empty() {
                    out.push(Action::Nudge);
                }
            }
            Event::Nodes(nodes) => {
                self.views.set_nodes(nodes);
                self.views.reset();
                self.recompute(now, &mut out);
            }
            Event::Leases(leases) => self.members(leases, now, &mut out),
            Event::LeaseWriteFailed => {
                self.keeper.write_failed();
                self.lease_poll = Some(now.wall);
            }
            Event::Sessions(sessions) => {
                self.sessions = Some(sessions);
                self.decide_fallback(now);
            }
            Event::Link(up) => {
                tracing::info!(up, "layer2 link state");
                let actions = self.failover.set_link(up, now.instant);
                self.act(actions, &mut out);
            }
            Event::Heard(datagram) => match self.keys.open(datagram) {
                Err(e) => tracing::debug!(error = %e, "heartbeat not authenticated; dropped"),
                Ok(body) => match wire::decode(body) {
                    Ok(heartbeat) => {
                        let sender = if self.views.knows(heartbeat.node) {
                            heartbeat.node.to_owned()
                        } else {
                            "unknown".to_owned()
                        };
                        *self.counters.heartbeats_received.entry(sender).or_default() += 1;
                        let actions = self.failover.heard(heartbeat, now.instant);
                        self.act(actions, &mut out);
                    }
                    Err(e) => tracing::debug!(error = %e, "not a heartbeat"),
                },
            },
            Event::Tick => self.send_heartbeat(&mut out),
            Event::FailoverTimer => {
                let actions = self.failover.timer(now.instant);
                self.timer = None;
                self.act(actions, &mut out);
            }
            Event::WallClock(leases) => self.wall_clock(leases, now, &mut out),
            Event::FallbackRecheck => {
                self.fallback_recheck = None;
                self.decide_fallback(now);
            }
        }
        out
    }

    /// When to come back.
    pub fn deadlines(&self) -> Deadlines {
        let wall = match (self.lease_poll, self.members_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Deadlines { failover: self.timer, fallback_recheck: self.fallback_recheck, wall }
    }

    /// Clean stop, first step: our Lease's deletion (every speaker's watch re-elects at
    /// once).
    pub fn stop(&mut self) -> LeaseAction {
        self.keeper.stop()
    }

    /// Clean stop, second step (after the deletion): withdraw everything; nothing is
    /// announced or answered any more.
    pub fn withdraw(&mut self) {
        let _ = self.failover.stop();
        self.desired = Arc::default();
        self.answering = Answering::new();
    }

    /// Which fallback pools this node joins, from its sessions to each pool's peers; a
    /// change goes into our Lease as soon as the write budget allows.
    fn decide_fallback(&mut self, now: Now) {
        let Some(known) = &self.sessions else { return };
        let config = self.views.config();
        let mut joined = BTreeSet::new();
        let mut recheck: Option<Instant> = None;
        for name in &self.views.fallback().pools {
            let Some(pool) = config.pools.get(name) else { continue };
            let peers = fallback::pool_peers(config, self.views.me(), pool);
            let sessions = config
                .peers
                .iter()
                .filter(|p| peers.contains(p.name.as_str()))
                .map(|p| known.get(&p.address.to_string()).copied().flatten());
            let was = self.joined.contains(name);
            let decision = fallback::decide(sessions, was, now.instant, FALLBACK_UP_HOLD);
            if decision.join {
                joined.insert(name.clone());
            }
            recheck = match (recheck, decision.recheck_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.fallback_recheck = recheck;
        if joined != self.joined {
            tracing::info!(pools = ?joined, "layer2 fallback: joined pools changed");
            self.joined = joined.clone();
            self.keeper.set_fallback(joined);
            self.lease_poll = Some(now.wall);
        }
    }

    /// After the candidates' inputs changed: the fallback decision, the candidates into
    /// the failover, and what to announce (interfaces may have changed without the
    /// announcing set changing).
    fn recompute(&mut self, now: Now, out: &mut Vec<Action>) {
        self.decide_fallback(now);
        let actions = self.failover.set_candidates(self.views.candidates(), now.instant);
        self.act(actions, out);
        self.publish(out);
    }

    /// The Lease set changed, or a Lease expired: membership into the failover.
    fn members(&mut self, leases: &[Arc<Lease>], now: Now, out: &mut Vec<Action>) {
        let mut tracker = MembershipTracker::new();
        for lease in leases {
            if let Err(e) = tracker.apply(lease) {
                tracing::debug!(error = %e, "speaker Lease ignored");
            }
        }
        let membership = tracker.evaluate(now.wall);
        self.members_due = membership.next_deadline;
        let live = membership.live.keys().map(String::as_str);
        let actions = self.failover.set_members(live, now.instant);
        self.act(actions, out);
        if membership.fallback != self.views.fallback().joined {
            let pools = self.views.fallback().pools.clone();
            self.views.set_fallback(FallbackView { pools, joined: membership.fallback });
            self.views.reset();
            self.recompute(now, out);
        }
    }

    /// A wall-clock deadline passed: our Lease's write, or a Lease's expiry.
    fn wall_clock(&mut self, leases: &[Arc<Lease>], now: Now, out: &mut Vec<Action>) {
        if self.lease_poll.is_some_and(|t| t <= now.wall) {
            let (action, next) = self.keeper.poll(now.wall);
            self.lease_poll = next;
            out.extend(action.map(Action::Lease));
        }
        if self.members_due.is_some_and(|t| t <= now.wall) {
            self.members(leases, now, out);
        }
    }

    fn send_heartbeat(&mut self, out: &mut Vec<Action>) {
        let Some(heartbeat) = self.failover.heartbeat() else { return };
        for suspect in &heartbeat.suspects {
            if !self.suspects.contains(suspect) {
                *self.counters.silences.entry(suspect.clone()).or_default() += 1;
            }
        }
        self.suspects.clone_from(&heartbeat.suspects);
        self.counters.heartbeats_sent += 1;
        match wire::encode(&heartbeat, &mut self.datagram) {
            Ok(()) => {
                self.keys.seal(&mut self.datagram);
                out.push(Action::SendHeartbeat(self.datagram.clone()));
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat not encodable"),
        }
    }

    fn act(&mut self, actions: Vec<failover::Action>, out: &mut Vec<Action>) {
        let mut moved = false;
        for action in actions {
            match action {
                failover::Action::Announce(address) => {
                    // The takeover decision, in wall-clock microseconds: bench-layer2 sets
                    // it against the gratuitous ARP's capture time on the client.
                    tracing::info!(%address, decided_unix_us = unix_micros(), "layer2: announcing");
                    self.counters.takeovers += 1;
                    moved = true;
                }
                failover::Action::Withdraw(address) => {
                    tracing::info!(%address, "layer2: withdrawing");
                    moved = true;
                }
                failover::Action::SendHeartbeat => self.send_heartbeat(out),
                failover::Action::ArmTimer(at) => self.timer = Some(at),
            }
        }
        if moved {
            self.publish(out);
        }
    }

    /// The announcing set for the client task, and what we answer for for
    /// [`super::visible`], each when it changed.
    fn publish(&mut self, out: &mut Vec<Action>) {
        let announcing = self.failover.announcing();
        let interfaces = announcing.iter().map(|a| (*a, self.views.interfaces(*a))).collect();
        let desired = Layer2Desired::new(announcing, &interfaces, &self.interfaces);
        let mut answering = Answering::new();
        for announcement in &desired.announcements {
            for key in self.views.services(announcement.address) {
                let answer = answering.entry(key.clone()).or_default();
                answer.addresses.insert(announcement.address);
                answer.interfaces.extend(announcement.interfaces.iter().cloned());
            }
        }
        if *self.desired != desired {
            self.desired = Arc::new(desired);
            out.push(Action::Desired(Arc::clone(&self.desired)));
        }
        if self.answering != answering {
            self.answering = answering.clone();
            out.push(Action::Answering(answering));
        }
    }

    /// The addresses this node announces.
    pub fn announcing(&self) -> &BTreeSet<IpAddr> {
        self.failover.announcing()
    }
}

/// Now, in microseconds since the Unix epoch (0 if the clock is before it), for the log.
fn unix_micros() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros())
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
