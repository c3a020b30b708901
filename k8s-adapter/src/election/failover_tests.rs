//! Failover event tests: single-machine event → action tables, then a simulated segment
//! of speakers (heartbeats delivered in 10 ms steps, Leases as a shared set) that crashes,
//! stops, pauses, restarts and partitions nodes, checking after convergence that every
//! address has exactly one announcer, and that only the addresses that had to move did.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::election::order::{AddressCandidates, elect};
use crate::election::wire::{decode, encode};

const STEP: Duration = Duration::from_millis(10);

fn timing() -> FailoverTiming {
    FailoverTiming::default()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn addresses(count: u8, nodes: &[&str]) -> BTreeMap<IpAddr, AddressCandidates> {
    (0..count)
        .map(|n| {
            let address = IpAddr::from([203, 0, 113, n]);
            let candidates = nodes.iter().map(|s| (*s).to_owned()).collect();
            (address, AddressCandidates { key: address, candidates })
        })
        .collect()
}

fn new_failover(name: &str) -> Failover {
    Failover::new(name, timing()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn timing_knobs_are_checked() {
    assert_eq!(timing().validate(), Ok(()));
    let t = |interval, dead| FailoverTiming {
        heartbeat_interval: interval,
        dead_interval: dead,
        hold_down: Duration::ZERO,
    };
    assert_eq!(t(ms(5), ms(600)).validate(), Err(FailoverTimingError::IntervalTooShort(ms(5))));
    assert_eq!(
        t(ms(200), ms(300)).validate(),
        Err(FailoverTimingError::DeadTooShort { dead: ms(300), interval: ms(200) })
    );
    assert!(Failover::new("n1", t(ms(200), ms(300))).is_err());
}

/// The machine alone: a peer that wins our address goes silent; we take over exactly at
/// the dead interval, say so in a heartbeat, and give it back when it is heard again
/// after the hold-down.
#[test]
fn events_to_actions_for_a_silent_winner() {
    let t0 = Instant::now();
    let table = addresses(1, &["node-a", "node-b"]);
    let address = IpAddr::from([203, 0, 113, 0]);
    let winner = elect(address, ["node-a", "node-b"]).unwrap_or_default();
    let (me, peer) = if winner == "node-a" { ("node-b", "node-a") } else { ("node-a", "node-b") };
    let mut fo = new_failover(me);
    // Not live yet: nothing to watch.
    assert_eq!(fo.set_candidates(&table, t0), vec![]);
    // Live: listening (says it yields) until the peer is heard, at most 600 ms.
    assert_eq!(
        fo.set_members(["node-a", "node-b"], t0),
        vec![Action::SendHeartbeat, Action::ArmTimer(t0 + ms(600))]
    );
    assert_eq!(fo.heartbeat().map(|h| h.node), Some(me.to_owned()));
    let beat = |yielding, suspects: &[&str]| Heartbeat {
        node: peer.into(),
        yielding,
        suspects: suspects.iter().map(|s| (*s).to_owned()).collect(),
    };
    // Heard at 100 ms: listening ends, the deadline moves.
    assert_eq!(
        fo.heard(&beat(false, &[]), t0 + ms(100)),
        vec![Action::SendHeartbeat, Action::ArmTimer(t0 + ms(700))]
    );
    assert_eq!(fo.owners().get(&address).copied(), Some(peer));
    // Silent until 700 ms: suspected, we take over and say so.
    assert_eq!(fo.timer(t0 + ms(700)), vec![Action::Announce(address), Action::SendHeartbeat]);
    assert_eq!(fo.heartbeat().map(|h| h.suspects), Some([peer.to_owned()].into()));
    // Heard again at 1 s: still held down until 2.7 s.
    assert_eq!(fo.heard(&beat(false, &[]), t0 + ms(1_000)), vec![Action::ArmTimer(t0 + ms(2_700))]);
    assert_eq!(fo.heard(&beat(false, &[]), t0 + ms(2_600)), vec![]);
    assert_eq!(
        fo.timer(t0 + ms(2_700)),
        vec![Action::Withdraw(address), Action::SendHeartbeat, Action::ArmTimer(t0 + ms(3_200))]
    );
}

/// A new address whose candidates already hear each other (every live node sends
/// heartbeats, candidate or not) is announced by its winner alone from the start.
#[test]
fn a_new_address_has_one_announcer_from_the_start() {
    let t0 = Instant::now();
    let mut a = new_failover("node-a");
    let mut b = new_failover("node-b");
    for fo in [&mut a, &mut b] {
        fo.set_members(["node-a", "node-b"], t0);
    }
    // Before any address: both still send, and hear each other.
    let beat_a = a.heartbeat().unwrap_or_else(|| panic!("a live node sends"));
    let beat_b = b.heartbeat().unwrap_or_else(|| panic!("a live node sends"));
    a.heard(&beat_b, t0 + ms(100));
    b.heard(&beat_a, t0 + ms(100));
    let table = addresses(8, &["node-a", "node-b"]);
    let now = t0 + ms(1_000);
    let announced = |actions: Vec<Action>| -> BTreeSet<IpAddr> {
        actions
            .into_iter()
            .filter_map(|x| if let Action::Announce(ip) = x { Some(ip) } else { None })
            .collect()
    };
    let by_a = announced(a.set_candidates(&table, now));
    let by_b = announced(b.set_candidates(&table, now));
    assert!(by_a.is_disjoint(&by_b), "{by_a:?} and {by_b:?}");
    assert_eq!(by_a.len() + by_b.len(), table.len(), "every address has its announcer");
}

/// The machine alone: hearing itself suspected makes a node yield (withdraw, say so), and
/// the accusation lapsing or being dropped gives the address back.
#[test]
fn events_to_actions_for_an_accused_node() {
    let t0 = Instant::now();
    let table = addresses(1, &["node-a", "node-b"]);
    let address = IpAddr::from([203, 0, 113, 0]);
    let winner = elect(address, ["node-a", "node-b"]).unwrap_or_default().to_owned();
    let other = if winner == "node-a" { "node-b" } else { "node-a" };
    let mut fo = new_failover(&winner);
    fo.set_candidates(&table, t0);
    fo.set_members(["node-a", "node-b"], t0);
    let beat = |suspects: &[&str]| Heartbeat {
        node: other.into(),
        yielding: false,
        suspects: suspects.iter().map(|s| (*s).to_owned()).collect(),
    };
    // Listening ends when the only peer is heard: we announce.
    assert_eq!(
        fo.heard(&beat(&[]), t0 + ms(200)),
        vec![Action::Announce(address), Action::SendHeartbeat, Action::ArmTimer(t0 + ms(800))]
    );
    let accused = fo.heard(&beat(&[winner.as_str()]), t0 + ms(700));
    assert_eq!(
        accused,
        vec![Action::Withdraw(address), Action::SendHeartbeat, Action::ArmTimer(t0 + ms(1_300))]
    );
    assert!(fo.yielding());
    assert_eq!(fo.heartbeat().map(|h| h.yielding), Some(true));
    // The accuser stops naming us: back at once.
    assert_eq!(
        fo.heard(&beat(&[]), t0 + ms(900)),
        vec![Action::Announce(address), Action::SendHeartbeat, Action::ArmTimer(t0 + ms(1_500))]
    );
    // Clean stop withdraws everything and then ignores events.
    assert_eq!(fo.stop(), vec![Action::Withdraw(address)]);
    assert_eq!(fo.heard(&beat(&[winner.as_str()]), t0 + ms(1_000)), vec![]);
    assert_eq!(fo.heartbeat(), None);
}

struct SimNode {
    name: String,
    fo: Failover,
    up: bool,
    hung: bool,
    timer: Option<Instant>,
    next_beat: Instant,
    beat_now: bool,
    announced: BTreeSet<IpAddr>,
}

/// Speakers on one segment. Heartbeats reach every running node in the same step unless
/// the (from, to) pair is dropped; a crashed node is gone, a hung one neither sends,
/// hears nor answers until it resumes with its state.
struct Sim {
    t0: Instant,
    now: Instant,
    nodes: Vec<SimNode>,
    live: BTreeSet<String>,
    table: BTreeMap<IpAddr, AddressCandidates>,
    drops: BTreeSet<(String, String)>,
    /// (time since t0, node, Announce/Withdraw).
    log: Vec<(Duration, String, Action)>,
    /// Steps in which some address had two running announcers.
    doubled: Vec<Duration>,
}

impl Sim {
    fn new(names: &[&str], count: u8) -> Self {
        let t0 = Instant::now();
        let mut sim = Sim {
            t0,
            now: t0,
            nodes: Vec::new(),
            live: names.iter().map(|n| (*n).to_owned()).collect(),
            table: addresses(count, names),
            drops: BTreeSet::new(),
            log: Vec::new(),
            doubled: Vec::new(),
        };
        for name in names {
            sim.start(name);
        }
        sim
    }

    fn index(&self, name: &str) -> usize {
        self.nodes.iter().position(|n| n.name == name).unwrap_or_else(|| panic!("{name}"))
    }

    /// Starts (or restarts, with fresh state) a node's speaker.
    fn start(&mut self, name: &str) {
        let node = SimNode {
            name: name.to_owned(),
            fo: new_failover(name),
            up: true,
            hung: false,
            timer: None,
            // Spread the nodes' heartbeat phases.
            next_beat: self.now + ms(37 * u64::try_from(self.nodes.len()).unwrap_or(0) % 200),
            beat_now: false,
            announced: BTreeSet::new(),
        };
        let i = match self.nodes.iter().position(|n| n.name == name) {
            Some(i) => {
                self.nodes[i] = node;
                i
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        let actions = self.nodes[i].fo.set_candidates(&self.table, self.now);
        self.apply(i, actions);
        let live = self.live.clone();
        let actions = self.nodes[i].fo.set_members(live.iter().map(String::as_str), self.now);
        self.apply(i, actions);
    }

    fn running(&self, i: usize) -> bool {
        self.nodes[i].up && !self.nodes[i].hung
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        let at = self.now - self.t0;
        let node = &mut self.nodes[i];
        for action in actions {
            match action {
                Action::Announce(a) => {
                    assert!(node.announced.insert(a), "{} announced {a} twice", node.name);
                    self.log.push((at, node.name.clone(), action));
                }
                Action::Withdraw(a) => {
                    assert!(node.announced.remove(&a), "{} withdrew {a} unannounced", node.name);
                    self.log.push((at, node.name.clone(), action));
                }
                Action::SendHeartbeat => node.beat_now = true,
                Action::ArmTimer(t) => node.timer = Some(t),
            }
        }
        assert_eq!(&node.announced, node.fo.announcing(), "{}", node.name);
    }

    fn set_live(&mut self, live: &[&str]) {
        self.live = live.iter().map(|n| (*n).to_owned()).collect();
        let names = self.live.clone();
        for i in 0..self.nodes.len() {
            if self.running(i) {
                let actions =
                    self.nodes[i].fo.set_members(names.iter().map(String::as_str), self.now);
                self.apply(i, actions);
            }
        }
    }

    fn tick(&mut self) {
        self.now += STEP;
        for i in 0..self.nodes.len() {
            if self.running(i) && self.nodes[i].timer.is_some_and(|t| t <= self.now) {
                self.nodes[i].timer = None;
                let actions = self.nodes[i].fo.timer(self.now);
                self.apply(i, actions);
            }
        }
        loop {
            let senders: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| {
                    self.running(i)
                        && (self.nodes[i].beat_now || self.nodes[i].next_beat <= self.now)
                })
                .collect();
            if senders.is_empty() {
                break;
            }
            for i in senders {
                let node = &mut self.nodes[i];
                node.beat_now = false;
                while node.next_beat <= self.now {
                    node.next_beat += timing().heartbeat_interval;
                }
                let Some(beat) = node.fo.heartbeat() else { continue };
                // Through the wire format, as the runtime does.
                let mut datagram = Vec::new();
                encode(&beat, &mut datagram).unwrap_or_else(|e| panic!("{e}"));
                for j in 0..self.nodes.len() {
                    let lost =
                        self.drops.contains(&(beat.node.clone(), self.nodes[j].name.clone()));
                    if j != i && self.running(j) && !lost {
                        let heard = decode(&datagram).unwrap_or_else(|e| panic!("{e}"));
                        let actions = self.nodes[j].fo.heard(heard, self.now);
                        self.apply(j, actions);
                    }
                }
            }
        }
        if self.table.keys().any(|a| self.announcers(*a).len() > 1) {
            self.doubled.push(self.now - self.t0);
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.tick();
        }
    }

    fn announcers(&self, address: IpAddr) -> Vec<&str> {
        (0..self.nodes.len())
            .filter(|&i| self.running(i) && self.nodes[i].announced.contains(&address))
            .map(|i| self.nodes[i].name.as_str())
            .collect()
    }

    /// Every address has exactly one announcer: its owner map.
    fn owners(&self) -> BTreeMap<IpAddr, String> {
        self.table
            .keys()
            .map(|a| {
                let who = self.announcers(*a);
                assert_eq!(who.len(), 1, "{a} announced by {who:?}");
                (*a, who[0].to_owned())
            })
            .collect()
    }

    fn crash(&mut self, name: &str) {
        let i = self.index(name);
        self.nodes[i].up = false;
        self.nodes[i].announced.clear();
    }

    fn stop(&mut self, name: &str) {
        let i = self.index(name);
        // Delete the Lease first, then withdraw.
        let live: Vec<String> = self.live.iter().filter(|n| *n != name).cloned().collect();
        self.set_live(&live.iter().map(String::as_str).collect::<Vec<_>>());
        let actions = self.nodes[i].fo.stop();
        self.apply(i, actions);
        self.nodes[i].up = false;
    }

    fn moves_since(&self, at: Duration) -> Vec<&(Duration, String, Action)> {
        self.log.iter().filter(|(t, _, _)| *t >= at).collect()
    }
}

const FOUR: [&str; 4] = ["node-a", "node-b", "node-c", "node-d"];

fn expected(sim: &Sim, nodes: &[&str]) -> BTreeMap<IpAddr, String> {
    sim.table
        .iter()
        .map(|(a, c)| (*a, elect(c.key, nodes.iter().copied()).unwrap_or_default().to_owned()))
        .filter(|(a, _)| sim.table[a].candidates.iter().any(|n| nodes.contains(&n.as_str())))
        .collect()
}

/// Steady state: every speaker agrees, one announcer per address, the hash order's.
#[test]
fn steady_state_has_one_announcer_per_address() {
    let mut sim = Sim::new(&FOUR, 32);
    sim.run_for(ms(2_000));
    assert_eq!(sim.owners(), expected(&sim, &FOUR));
    assert!(sim.doubled.is_empty(), "{:?}", sim.doubled);
    let settled = sim.now - sim.t0;
    sim.run_for(ms(5_000));
    assert!(sim.moves_since(settled).is_empty(), "no flapping");
}

/// A crash: after the dead interval (and not before dead - interval) the next candidate
/// of each of the crashed node's addresses takes it; nothing else moves, not at the
/// takeover and not when the Lease later expires.
#[test]
fn crash_moves_only_its_addresses_after_the_dead_interval() {
    let mut sim = Sim::new(&FOUR, 32);
    sim.run_for(ms(2_000));
    let before = sim.owners();
    let crashed = before.values().next().cloned().unwrap_or_default();
    let crashed_at = sim.now - sim.t0;
    sim.crash(&crashed);
    sim.run_for(ms(1_000));
    let rest: Vec<&str> = FOUR.iter().copied().filter(|n| *n != crashed).collect();
    let after = sim.owners();
    assert_eq!(after, expected(&sim, &rest));
    let moved: Vec<_> = before.keys().filter(|a| before[*a] != after[*a]).collect();
    assert!(moved.iter().all(|a| before[*a] == crashed), "only the crashed node's addresses");
    assert_eq!(moved.len(), before.values().filter(|w| **w == crashed).count());
    let moves = sim.moves_since(crashed_at);
    assert_eq!(moves.len(), moved.len(), "one Announce per moved address, nothing else");
    let dead = timing().dead_interval;
    for (at, _, _) in &moves {
        let took = *at - crashed_at;
        assert!(took > dead - timing().heartbeat_interval && took <= dead + STEP, "{took:?}");
    }
    assert!(sim.doubled.is_empty(), "{:?}", sim.doubled);
    // The Lease expires later: membership drops the node, nothing moves.
    let settled = sim.now - sim.t0;
    sim.run_for(ms(14_000));
    sim.set_live(&rest);
    sim.run_for(ms(1_000));
    assert!(sim.moves_since(settled).is_empty());
    assert_eq!(sim.owners(), after);
}

/// A clean stop deletes the Lease: the successors announce in the same step.
#[test]
fn clean_stop_moves_at_once() {
    let mut sim = Sim::new(&FOUR, 32);
    sim.run_for(ms(2_000));
    let before = sim.owners();
    let stopping = before.values().nth(5).cloned().unwrap_or_default();
    let at = sim.now - sim.t0;
    sim.stop(&stopping);
    let rest: Vec<&str> = FOUR.iter().copied().filter(|n| *n != stopping).collect();
    assert_eq!(sim.owners(), expected(&sim, &rest), "moved without any tick");
    assert!(sim.log.iter().filter(|(t, _, _)| *t == at).count() >= 2);
    sim.run_for(ms(3_000));
    assert_eq!(sim.owners(), expected(&sim, &rest));
    assert!(sim.doubled.is_empty(), "{:?}", sim.doubled);
}

/// A crashed node restarting after its Lease expired rejoins like a new node and gets
/// exactly its addresses back; restarting before expiry (others still suspect it) it
/// listens first, hears the suspicion, and gets them back once cleared. Never two
/// announcers at once.
#[test]
fn restart_takes_back_exactly_its_addresses() {
    for restart_after_ms in [20_000, 5_000] {
        let mut sim = Sim::new(&FOUR, 32);
        sim.run_for(ms(2_000));
        let before = sim.owners();
        let crashed = before.values().next().cloned().unwrap_or_default();
        let crashed_at = sim.now - sim.t0;
        sim.crash(&crashed);
        let rest: Vec<&str> = FOUR.iter().copied().filter(|n| *n != crashed).collect();
        if restart_after_ms > 15_000 {
            sim.run_for(ms(15_000));
            sim.set_live(&rest);
            sim.run_for(ms(restart_after_ms - 15_000));
            sim.set_live(&FOUR);
        } else {
            sim.run_for(ms(restart_after_ms));
        }
        sim.start(&crashed);
        sim.run_for(ms(4_000));
        assert_eq!(sim.owners(), before, "restart after {restart_after_ms} ms");
        let won = before.values().filter(|w| **w == crashed).count();
        assert_eq!(
            sim.moves_since(crashed_at).len(),
            won * 3,
            "per address: taken over, withdrawn, announced by the restarted node"
        );
        assert!(sim.doubled.is_empty(), "{:?}", sim.doubled);
    }
}

/// A pause longer than the dead interval (a stalled node): the others take over; on
/// resuming, the node does not suspect them for its own silence, hears that it is
/// suspected within a heartbeat interval and yields, and gets its addresses back after
/// the hold-down. Two announcers only in that first interval after resuming.
#[test]
fn paused_node_yields_then_returns_after_the_hold_down() {
    let mut sim = Sim::new(&FOUR, 32);
    sim.run_for(ms(2_000));
    let before = sim.owners();
    let paused = before.values().next().cloned().unwrap_or_default();
    let i = sim.index(&paused);
    sim.nodes[i].hung = true;
    sim.run_for(ms(1_500));
    let rest: Vec<&str> = FOUR.iter().copied().filter(|n| *n != paused).collect();
    let during: BTreeMap<_, _> = sim.owners();
    assert_eq!(during, expected(&sim, &rest));
    sim.nodes[i].hung = false;
    let resumed = sim.now - sim.t0;
    sim.run_for(ms(3_000));
    assert_eq!(sim.owners(), before);
    let overlap = sim.doubled.clone();
    assert!(!overlap.is_empty(), "it still announced when it resumed");
    assert!(
        overlap.iter().all(|t| *t >= resumed && *t <= resumed + timing().heartbeat_interval + STEP),
        "{overlap:?} after resuming at {resumed:?}"
    );
    // The others never yielded for the paused node's silence.
    for name in rest {
        let j = sim.index(name);
        assert!(!sim.nodes[j].fo.yielding(), "{name}");
    }
    let settled = sim.now - sim.t0;
    sim.run_for(ms(5_000));
    assert!(sim.moves_since(settled).is_empty(), "no flapping after");
}

/// One-way loss: node X's heartbeats do not reach node Y (Y's still reach X). Y suspects
/// X, X hears it and yields, the others hear X yield: everyone agrees, X's addresses move
/// once and stay, one announcer each, for as long as the loss lasts.
#[test]
fn one_way_loss_ends_with_the_unheard_node_yielding() {
    let mut sim = Sim::new(&FOUR, 32);
    sim.run_for(ms(2_000));
    let before = sim.owners();
    let unheard = before.values().next().cloned().unwrap_or_default();
    let deaf = FOUR.iter().find(|n| **n != unheard).map(|n| (*n).to_owned()).unwrap_or_default();
    sim.drops.insert((unheard.clone(), deaf.clone()));
    sim.run_for(ms(2_000));
    let rest: Vec<&str> = FOUR.iter().copied().filter(|n| *n != unheard).collect();
    assert_eq!(sim.owners(), expected(&sim, &rest));
    let settled = sim.now - sim.t0;
    sim.run_for(ms(10_000));
    assert!(sim.moves_since(settled).is_empty(), "stable while the loss lasts");
    assert!(sim.doubled.is_empty(), "{:?}", sim.doubled);
    // The loss ends: after the hold-down the addresses come back.
    sim.drops.clear();
    sim.run_for(ms(3_000));
    assert_eq!(sim.owners(), before);
    assert!(sim.doubled.is_empty(), "{:?}", sim.doubled);
}

/// A node that joins takes only the addresses it now wins (after listening), and a
/// candidate set change (ETP Local: an endpoint moves) moves only that address.
#[test]
fn join_and_candidate_change_move_only_what_they_must() {
    let three = ["node-a", "node-b", "node-c"];
    let mut sim = Sim::new(&three, 32);
    sim.table = addresses(32, &FOUR);
    for i in 0..sim.nodes.len() {
        let table = sim.table.clone();
        let actions = sim.nodes[i].fo.set_candidates(&table, sim.now);
        sim.apply(i, actions);
    }
    sim.run_for(ms(2_000));
    let before = sim.owners();
    let joined_at = sim.now - sim.t0;
    sim.set_live(&FOUR);
    sim.start("node-d");
    sim.run_for(ms(2_000));
    let after = sim.owners();
    assert_eq!(after, expected(&sim, &FOUR));
    for (a, owner) in &after {
        assert!(*owner == before[a] || owner == "node-d", "{a} moved to {owner}");
    }
    let moved = before.keys().filter(|a| before[*a] != after[*a]).count();
    assert_eq!(sim.moves_since(joined_at).len(), moved * 2, "withdraw + announce each");
    assert!(sim.doubled.is_empty(), "{:?}", sim.doubled);
    // ETP Local: one address's only endpoint moves to node-b.
    let local = IpAddr::from([203, 0, 113, 7]);
    if let Some(c) = sim.table.get_mut(&local) {
        c.candidates = ["node-b".to_owned()].into();
    }
    let at = sim.now - sim.t0;
    let table = sim.table.clone();
    for i in 0..sim.nodes.len() {
        let actions = sim.nodes[i].fo.set_candidates(&table, sim.now);
        sim.apply(i, actions);
    }
    sim.run_for(ms(1_000));
    let last = sim.owners();
    assert_eq!(last[&local], "node-b");
    let changed: Vec<_> = after.keys().filter(|a| after[*a] != last[*a]).collect();
    assert!(changed.iter().all(|a| **a == local), "{changed:?}");
    assert!(sim.moves_since(at).len() <= 2);
}

/// Lossy heartbeats: a node's heartbeats are lost 700 ms out of every second (longer than
/// the dead interval) for 20 s. The hold-down bounds the flapping to one move away and
/// back per `dead_interval + hold_down`, and there are never two announcers.
#[test]
fn lossy_heartbeats_flap_at_most_once_per_hold_down() {
    let mut sim = Sim::new(&FOUR, 32);
    sim.run_for(ms(2_000));
    let before = sim.owners();
    let lossy = before.values().next().cloned().unwrap_or_default();
    let won = before.values().filter(|w| **w == lossy).count();
    let start = sim.now - sim.t0;
    for _ in 0..20 {
        for other in FOUR.iter().filter(|n| **n != lossy) {
            sim.drops.insert((lossy.clone(), (*other).to_owned()));
        }
        sim.run_for(ms(700));
        sim.drops.clear();
        sim.run_for(ms(300));
    }
    sim.run_for(ms(3_000));
    assert_eq!(sim.owners(), before);
    let t = timing();
    let cycles = 23_000 / (t.dead_interval + t.hold_down).as_millis() + 1;
    let moves = sim.moves_since(start).len();
    // A move of one address is a Withdraw and an Announce; away and back is four.
    let bound = won * 4 * usize::try_from(cycles).unwrap_or(usize::MAX);
    assert!(moves <= bound, "{moves} moves for {won} addresses, bound {bound}");
    assert!(moves > 0, "the loss was seen");
    assert!(sim.doubled.is_empty(), "{:?}", sim.doubled);
}

/// A node's link fails for 3 s and comes back. Unnoticed (no carrier loss), it claims
/// every address into the dead link, then drops the claims within a heartbeat interval of
/// the link's return and gets its own addresses back after the hold-down. Noticed
/// (`set_link(false)`), it suspects nobody, withdraws, and listens on return: never two
/// announcers.
#[test]
fn own_link_failure_noticed_or_not() {
    for noticed in [false, true] {
        let mut sim = Sim::new(&FOUR, 32);
        sim.run_for(ms(2_000));
        let before = sim.owners();
        let cut = before.values().next().cloned().unwrap_or_default();
        let i = sim.index(&cut);
        for other in FOUR.iter().filter(|n| **n != cut) {
            sim.drops.insert((cut.clone(), (*other).to_owned()));
            sim.drops.insert(((*other).to_owned(), cut.clone()));
        }
        if noticed {
            let actions = sim.nodes[i].fo.set_link(false, sim.now);
            sim.apply(i, actions);
        }
        sim.run_for(ms(3_000));
        let claimed = sim.nodes[i].announced.len();
        let own = before.values().filter(|w| **w == cut).count();
        if noticed {
            assert_eq!(claimed, 0, "claims nothing, withdraws its own");
            assert!(own > 0);
        } else {
            assert_eq!(claimed, before.len(), "claims everything into the dead link");
        }
        // Claims into the dead link reach nobody: doubles count from the link's return.
        sim.doubled.clear();
        sim.drops.clear();
        if noticed {
            let actions = sim.nodes[i].fo.set_link(true, sim.now);
            sim.apply(i, actions);
        }
        let back = sim.now - sim.t0;
        sim.run_for(ms(4_000));
        assert_eq!(sim.owners(), before, "noticed: {noticed}");
        let interval = timing().heartbeat_interval;
        assert!(!noticed || sim.doubled.is_empty(), "{:?}", sim.doubled);
        assert!(
            sim.doubled.iter().all(|t| *t >= back && *t <= back + interval + STEP),
            "noticed {noticed}: {:?} after {back:?}",
            sim.doubled
        );
        for name in FOUR.iter().filter(|n| **n != cut) {
            assert!(!sim.nodes[sim.index(name)].fo.yielding(), "{name} never yields to it");
        }
    }
}
