//! Fast failover: moves a crashed node's layer2 addresses within a dead interval, long
//! before its Lease expires, without more API writes.
//!
//! Leases alone cannot give sub-second crash failover within one write per second per
//! node (a Lease that expires in under a second must be renewed several times a second).
//! So, as VRRP does (RFC 9568, VRRPv3: a Backup router takes over when it has heard no
//! advertisement from the Active router for about three advertisement intervals), every
//! speaker that is a layer2 candidate sends a small heartbeat on the
//! segment every `heartbeat_interval` ([`Heartbeat`]: its name, whether it yields, whom it
//! suspects), and every candidate hears the others'. One heartbeat per node, not per
//! address: a crash takes all of a node's addresses at once, and the segment's load grows
//! with nodes, not with addresses. The runtime sends and hears heartbeats; this module is
//! the pure state machine: events in ([`Failover::set_candidates`],
//! [`Failover::set_members`], [`Failover::heard`], [`Failover::timer`]), actions out.
//!
//! The rules, all evaluated by every speaker on what it hears:
//! - **Membership** is the Lease set ([`super::membership`]); a node outside it is out,
//!   whatever is heard. A clean stop deletes the Lease: every speaker re-elects at once.
//! - **Watched peers** are the live nodes that share a candidacy with this node (they are
//!   the only ones whose state changes this node's decisions, and they are on the
//!   segment of the shared address).
//! - **Suspicion**: a watched peer silent for `dead_interval` (counted from its last
//!   heartbeat, or from when it became watched) is suspected: it is not eligible, so the
//!   next candidate in [`super::order`] takes its addresses. A suspicion ends when the
//!   peer is heard again (within the last heartbeat interval) *and* `hold_down` has
//!   passed since it began, so a node with lossy heartbeats moves at most once per
//!   `dead_interval + hold_down` and back.
//! - **Yielding**: heartbeats name the sender's suspects. A node that hears itself named
//!   (it hung, or its heartbeats get lost one way) yields: it stops announcing and says so
//!   in its heartbeats, until every accuser's latest heartbeat stops naming it (or the
//!   accuser falls silent for `dead_interval`). Nodes that hear it yield treat it as not
//!   eligible too, so everyone agrees on the next winner. This is what prevents a node
//!   that resumes after a pause from announcing beside its successor.
//! - **Own pauses**: when this process itself did not run (its timer fires more than a
//!   heartbeat interval late), the silence it sees is its own: silence clocks restart
//!   instead of suspecting everyone; the same while the runtime reports this node's links
//!   down ([`Failover::set_link`]), when it also withdraws and listens again on return. Accusations from a peer this node suspects are not
//!   heeded (it could not hear us because it was gone). A starting node listens before
//!   announcing (until it heard every watched peer, at most a dead interval), so that it
//!   hears any suspicion of it first (a restart within its Lease); meanwhile it says it
//!   yields. A peer is eligible only once heard, so a joining node's addresses stay with
//!   their current owner until it is known to be on the segment.
//! - **Eligible** = live, not suspected, not yielding. The winner of each address is its
//!   first eligible candidate; this node announces what it wins.
//!
//! Split brain: nodes disagree only while what they hear differs. A crash is seen by every
//! watcher within about one heartbeat interval of each other; during that skew an address
//! can have no announcer, never two (the crashed node is silent). One-way loss (A hears B,
//! B does not hear A) ends with A yielding for as long as it lasts: stable, one announcer.
//! A full partition of the segment leaves each side with its own announcer, which is what
//! each side's clients need. A node whose own link fails without the runtime noticing
//! suspects everyone and claims every address into a link nobody hears; when the link
//! comes back it drops each claim on hearing the owner (within one heartbeat interval),
//! and yields its own addresses to whoever took them until the hold-down ends. A partial
//! mesh where X and Y cannot hear each other but both can reach Z can leave X and Y both
//! announcing an address they both stand for: the only case without one announcer.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::order::{AddressCandidates, ordered};
pub use super::wire::Heartbeat;
use super::wire::HeartbeatRef;

/// Failover timing knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailoverTiming {
    /// How often a candidate sends its heartbeat.
    pub heartbeat_interval: Duration,
    /// Silence after which a peer is suspected. Crash detection takes between
    /// `dead_interval - heartbeat_interval` and `dead_interval` after the crash.
    pub dead_interval: Duration,
    /// Minimum time a suspected node stays out after it is heard again.
    pub hold_down: Duration,
}

impl Default for FailoverTiming {
    /// 200 ms / 600 ms / 2 s: three heartbeats may be lost before a takeover; a crash is
    /// detected 400-600 ms after it, leaving room under the 1 s goal for the takeover's
    /// gratuitous ARP and the client's update. Five frames of about 70 octets per second
    /// per node.
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_millis(200),
            dead_interval: Duration::from_millis(600),
            hold_down: Duration::from_secs(2),
        }
    }
}

/// Failover knobs that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FailoverTimingError {
    #[error("heartbeat interval {0:?} is under 10 ms")]
    IntervalTooShort(Duration),
    #[error("dead interval {dead:?} is under twice the heartbeat interval {interval:?}")]
    DeadTooShort { dead: Duration, interval: Duration },
}

impl FailoverTiming {
    pub fn validate(&self) -> Result<(), FailoverTimingError> {
        if self.heartbeat_interval < Duration::from_millis(10) {
            return Err(FailoverTimingError::IntervalTooShort(self.heartbeat_interval));
        }
        if self.dead_interval < self.heartbeat_interval * 2 {
            return Err(FailoverTimingError::DeadTooShort {
                dead: self.dead_interval,
                interval: self.heartbeat_interval,
            });
        }
        Ok(())
    }
}

/// What the runtime does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start answering for the address (gratuitous ARP / unsolicited NA at once).
    Announce(IpAddr),
    /// Stop answering for the address.
    Withdraw(IpAddr),
    /// Send a heartbeat now (yielding or suspects changed), besides the periodic ones.
    SendHeartbeat,
    /// Call [`Failover::timer`] at this instant (replaces any earlier one).
    ArmTimer(Instant),
}

/// What this node knows of another live node.
#[derive(Debug, Clone, Copy)]
struct Peer {
    /// When it became watched (silence counts from here if never heard).
    watched_since: Option<Instant>,
    heard: Option<Instant>,
    yielding: bool,
    suspected_since: Option<Instant>,
}

/// One speaker's failover state machine.
#[derive(Debug, Clone)]
pub struct Failover {
    me: String,
    timing: FailoverTiming,
    /// Candidates of each address in election order.
    order: BTreeMap<IpAddr, Vec<String>>,
    live: BTreeSet<String>,
    /// Nodes sharing a candidacy with this one (live or not).
    watched: BTreeSet<String>,
    /// Live nodes other than this one.
    peers: BTreeMap<String, Peer>,
    /// Peers whose latest heartbeat named this node, with when it was heard.
    accusers: BTreeMap<String, Instant>,
    announcing: BTreeSet<IpAddr>,
    armed: Option<Instant>,
    /// (yielding or listening, suspects) as last said, to send a heartbeat when they
    /// change.
    said: (bool, BTreeSet<String>),
    /// When this node (last) became a member with its links up: it listens for up to a
    /// dead interval before announcing.
    started: Option<Instant>,
    /// The runtime says this node's layer2 links are up ([`Failover::set_link`]).
    link_up: bool,
    stopped: bool,
}

impl Failover {
    pub fn new(me: &str, timing: FailoverTiming) -> Result<Self, FailoverTimingError> {
        timing.validate()?;
        Ok(Self {
            me: me.to_owned(),
            timing,
            order: BTreeMap::new(),
            watched: BTreeSet::new(),
            live: BTreeSet::new(),
            peers: BTreeMap::new(),
            accusers: BTreeMap::new(),
            announcing: BTreeSet::new(),
            armed: None,
            said: (false, BTreeSet::new()),
            started: None,
            link_up: true,
            stopped: false,
        })
    }

    /// The layer2 addresses and their candidates changed ([`super::candidates()`]).
    pub fn set_candidates(
        &mut self,
        addresses: &BTreeMap<IpAddr, AddressCandidates>,
        now: Instant,
    ) -> Vec<Action> {
        self.order = addresses
            .iter()
            .map(|(address, c)| {
                let order = ordered(c.key, c.candidates.iter().map(String::as_str));
                (*address, order.into_iter().map(str::to_owned).collect())
            })
            .collect();
        self.watched = addresses
            .values()
            .filter(|c| c.candidates.contains(&self.me))
            .flat_map(|c| c.candidates.iter().filter(|n| **n != self.me).cloned())
            .collect();
        self.step(now)
    }

    /// The live Lease set changed ([`super::membership::Membership::live`]).
    pub fn set_members<'a>(
        &mut self,
        live: impl IntoIterator<Item = &'a str>,
        now: Instant,
    ) -> Vec<Action> {
        self.live = live.into_iter().map(str::to_owned).collect();
        self.peers.retain(|name, _| self.live.contains(name));
        self.accusers.retain(|name, _| self.live.contains(name));
        for name in self.live.iter().filter(|n| **n != self.me) {
            self.peers.entry(name.clone()).or_insert(Peer {
                watched_since: None,
                heard: None,
                yielding: false,
                suspected_since: None,
            });
        }
        self.step(now)
    }

    /// A heartbeat heard on the segment. Heartbeats of nodes outside the Lease set, and
    /// this node's own, are ignored.
    pub fn heard<'a>(
        &mut self,
        heartbeat: impl Into<HeartbeatRef<'a>>,
        now: Instant,
    ) -> Vec<Action> {
        let heartbeat: HeartbeatRef<'a> = heartbeat.into();
        if heartbeat.node == self.me {
            return Vec::new();
        }
        if self.stopped {
            return Vec::new();
        }
        let overdue = self.overdue(now) || !self.link_up;
        let Some(peer) = self.peers.get_mut(heartbeat.node) else { return Vec::new() };
        // Heard before, and since this node (re)started listening.
        let known = peer.heard.is_some_and(|h| self.started.is_some_and(|s| h >= s));
        let routine =
            known && peer.yielding == heartbeat.yielding && peer.suspected_since.is_none();
        // A node we suspect was not heard by us: its view (that it cannot hear us) is no
        // reason to yield, e.g. when its own link was down and comes back.
        let credible = peer.suspected_since.is_none();
        peer.heard = Some(now);
        peer.yielding = heartbeat.yielding;
        let accusation_changed = if credible && heartbeat.suspects_node(&self.me) {
            match self.accusers.get_mut(heartbeat.node) {
                Some(at) => {
                    *at = now;
                    false
                }
                None => {
                    self.accusers.insert(heartbeat.node.to_owned(), now);
                    true
                }
            }
        } else {
            self.accusers.remove(heartbeat.node).is_some()
        };
        if routine && !accusation_changed && !overdue {
            // The usual heartbeat: only deadlines moved, later. The armed timer (never
            // later than the earliest of them) recomputes when it fires; nothing to do
            // now, in O(log n) for the thousands of heartbeats a second a large segment
            // carries.
            return Vec::new();
        }
        self.step(now)
    }

    /// The runtime's view of this node's layer2 links (carrier, operational state): while
    /// they are down, every peer is silent for reasons of ours, so nobody is suspected
    /// (silence clocks restart), and this node announces nothing (it cannot be heard);
    /// when they come back it listens as at a start, so it hears any suspicion of it
    /// before announcing again.
    pub fn set_link(&mut self, up: bool, now: Instant) -> Vec<Action> {
        self.link_up = up;
        self.step(now)
    }

    /// The armed timer fired.
    pub fn timer(&mut self, now: Instant) -> Vec<Action> {
        let paused = self.overdue(now) || !self.link_up;
        // The runtime's timer is spent: arm again even for the same instant.
        self.armed = None;
        self.step_with(now, paused)
    }

    /// Clean stop, after the Lease is deleted: withdraw everything; later events do
    /// nothing.
    pub fn stop(&mut self) -> Vec<Action> {
        self.stopped = true;
        self.armed = None;
        std::mem::take(&mut self.announcing).into_iter().map(Action::Withdraw).collect()
    }

    /// The heartbeat to send, or `None` when this node should not send (not live,
    /// stopped). A live node sends even while it stands for no address: a new address
    /// (a Service just created) then finds its candidates already heard by each other, so
    /// exactly one announces it from the start instead of each announcing until it hears
    /// the others.
    pub fn heartbeat(&self) -> Option<Heartbeat> {
        (!self.stopped && self.live.contains(&self.me)).then(|| Heartbeat {
            node: self.me.clone(),
            yielding: self.said.0,
            suspects: self.suspects(),
        })
    }

    /// The addresses this node announces.
    pub fn announcing(&self) -> &BTreeSet<IpAddr> {
        &self.announcing
    }

    /// Every address's owner as this node sees it (for the Service's status and Events).
    pub fn owners(&self) -> BTreeMap<IpAddr, &str> {
        self.order
            .iter()
            .filter_map(|(a, o)| Some((*a, o.iter().find(|n| self.eligible(n))?.as_str())))
            .collect()
    }

    /// This node heard itself suspected and gives its addresses away.
    pub fn yielding(&self) -> bool {
        !self.accusers.is_empty()
    }

    fn suspects(&self) -> BTreeSet<String> {
        self.peers
            .iter()
            .filter(|(_, p)| p.suspected_since.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn eligible(&self, node: &str) -> bool {
        if node == self.me {
            return self.live.contains(node) && !self.yielding();
        }
        // A peer counts once heard: a node that just joined takes its addresses when it
        // is known to be on the segment, so they never go unannounced meanwhile.
        self.peers
            .get(node)
            .is_some_and(|p| p.heard.is_some() && p.suspected_since.is_none() && !p.yielding)
    }

    /// Whether the armed timer is overdue by more than a heartbeat interval: this process
    /// did not run (paused, starved), so the silence it sees is its own.
    fn overdue(&self, now: Instant) -> bool {
        self.armed.is_some_and(|a| now > a + self.timing.heartbeat_interval)
    }

    fn step(&mut self, now: Instant) -> Vec<Action> {
        let paused = self.overdue(now) || !self.link_up;
        self.step_with(now, paused)
    }

    /// Re-evaluates everything at `now` and returns what changed. When `paused`, silence
    /// clocks restart at `now` instead of suspecting peers.
    fn step_with(&mut self, now: Instant, paused: bool) -> Vec<Action> {
        if self.stopped {
            return Vec::new();
        }
        let dead = self.timing.dead_interval;
        // Listening starts when this node becomes a member (again).
        if !self.live.contains(&self.me) || !self.link_up {
            self.started = None;
        }
        let started = *self.started.get_or_insert(now);
        self.accusers.retain(|_, at| now.saturating_duration_since(*at) < dead);
        for (name, peer) in &mut self.peers {
            if !self.watched.contains(name) {
                // Not our business: forget silence, keep what was heard.
                peer.watched_since = None;
                peer.suspected_since = None;
                continue;
            }
            if paused {
                peer.watched_since = Some(now);
            }
            let since = *peer.watched_since.get_or_insert(now);
            let last = peer.heard.map_or(since, |h| h.max(since));
            match peer.suspected_since {
                None if now.saturating_duration_since(last) >= dead => {
                    peer.suspected_since = Some(now);
                }
                // Cleared only while heard within the last interval: a peer whose link
                // is failing again would miss our all-clear and take its addresses back
                // while we still count it as yielding.
                Some(at)
                    if peer.heard.is_some_and(|h| h > at)
                        && now.saturating_duration_since(last)
                            <= self.timing.heartbeat_interval
                        && now.saturating_duration_since(at) >= self.timing.hold_down =>
                {
                    peer.suspected_since = None;
                }
                _ => {}
            }
        }
        let mut actions = Vec::new();
        // A starting node first listens, until it heard every watched peer or for a dead
        // interval: a peer that suspects it (it restarted before its Lease expired) says
        // so in its first heartbeat.
        let listening = now.saturating_duration_since(started) < dead
            && self
                .peers
                .values()
                .any(|p| p.watched_since.is_some() && p.heard.is_none_or(|h| h < started));
        let mine: BTreeSet<IpAddr> = if listening || !self.link_up {
            BTreeSet::new()
        } else {
            self.order
                .iter()
                .filter(|(_, o)| o.iter().find(|n| self.eligible(n)) == Some(&self.me))
                .map(|(a, _)| *a)
                .collect()
        };
        actions.extend(self.announcing.difference(&mine).copied().map(Action::Withdraw));
        actions.extend(mine.difference(&self.announcing).copied().map(Action::Announce));
        self.announcing = mine;
        let said = (self.yielding() || listening, self.suspects());
        if said != self.said {
            self.said = said;
            actions.push(Action::SendHeartbeat);
        }
        let next = self.next_deadline(now, (listening).then_some(started + dead));
        if next != self.armed {
            self.armed = next;
            actions.extend(next.map(Action::ArmTimer));
        }
        actions
    }

    /// The earliest instant after `now` at which [`Self::step`] could change something
    /// without any event: a watched peer's silence reaching the dead interval, a hold-down
    /// ending for a peer heard again, an accusation expiring, the start's listening ending.
    fn next_deadline(&self, now: Instant, listening_ends: Option<Instant>) -> Option<Instant> {
        let dead = self.timing.dead_interval;
        let peers = self.peers.values().filter_map(|p| {
            let since = p.watched_since?;
            let last = p.heard.map_or(since, |h| h.max(since));
            match p.suspected_since {
                None => Some(last + dead),
                Some(at) if p.heard.is_some_and(|h| h > at) => Some(at + self.timing.hold_down),
                Some(_) => None,
            }
        });
        let accusations = self.accusers.values().map(|at| *at + dead);
        peers.chain(accusations).chain(listening_ends).filter(|t| *t > now).min()
    }
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
