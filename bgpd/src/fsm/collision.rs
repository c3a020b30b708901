//! Connection collision detection: RFC 4271 §6.8, with the tie-break of
//! RFC 6286 §2.1 for external peers that share a BGP Identifier.
//!
//! When two speakers connect to each other at once, each holds two TCP
//! connections for one peering. Both ends must close the same one: the
//! connection initiated by the speaker with the higher BGP Identifier
//! survives (both compare the same two numbers, so they agree).
//!
//! # Decided on the OPEN, before our KEEPALIVE
//!
//! RFC 4271 §8.2.2 (OpenSent, event 19) runs collision detection on receipt
//! of the OPEN and, when this connection loses, answers with the Cease only:
//! a KEEPALIVE sent first would let the peer reach Established on a connection
//! we then close. For a graceful restart helper that is a real loss, not a
//! retry: a session torn down right after Established can make it flush routes
//! it was keeping stale (FRR 8.4 deletes already-stale paths on a second
//! drop). So [`on_open`] is asked before the FSM sees the OPEN.
//!
//! # A KEEPALIVE already sent
//!
//! One case the identifiers cannot settle alone: the other connection is in
//! OpenConfirm, so we already sent our KEEPALIVE on it and the peer may be
//! Established there, and the identifiers say that other connection loses.
//! A peer Established on it closes the new one (RFC 4271 §6.8, collision with
//! an Established connection; FRR does exactly this), so closing the other by
//! identifiers could leave neither. Instead the new connection goes on with its
//! KEEPALIVE held back ([`OpenVerdict::Defer`]) until the peer shows which one
//! it kept ([`settle_deferred`]): its KEEPALIVE on the other (keep that one),
//! its closing the other (keep this one), or its KEEPALIVE on this one (it
//! chose this one: close the other, release ours). Two ironlb speakers reach
//! the same answer: whichever connection first carries both KEEPALIVEs wins.
//!
//! # How the I/O layer drives it
//!
//! 1. Keep at most two connections per peer, each with its own [`Fsm`]. While
//!    the peer's FSM has exchanged no BGP message (Idle, Connect, Active), hand
//!    an accepted inbound connection to it ([`Event::TcpConnectionConfirmed`])
//!    and abandon the outbound attempt. Once it is in OpenSent, OpenConfirm or
//!    Established, give the inbound connection a second FSM built from the
//!    same [`SessionConfig`](super::SessionConfig) and fed
//!    [`Event::ManualStartWithPassiveTcpEstablishment`] then
//!    [`Event::TcpConnectionConfirmed`].
//! 2. When an OPEN arrives on one connection while the other exists, ask
//!    [`on_open`] before feeding [`Event::BgpOpen`]:
//!    - [`OpenVerdict::DumpThis`]: feed [`Event::OpenCollisionDump`] to this
//!      connection instead (it sends a Cease, subcode 7, Connection Collision
//!      Resolution, disconnects and stops in Idle without scheduling a
//!      restart) and discard it;
//!    - [`OpenVerdict::DumpOther`]: feed the OPEN, then dump the other;
//!    - [`OpenVerdict::Defer`]: feed the OPEN but keep this connection's
//!      output unwritten; after every event on either connection ask
//!      [`settle_deferred`] until it says something other than
//!      [`Deferred::Wait`].
//!
//! [`Fsm`]: super::Fsm
//! [`Event::TcpConnectionConfirmed`]: super::Event::TcpConnectionConfirmed
//! [`Event::ManualStartWithPassiveTcpEstablishment`]: super::Event::ManualStartWithPassiveTcpEstablishment
//! [`Event::BgpOpen`]: super::Event::BgpOpen
//! [`Event::OpenCollisionDump`]: super::Event::OpenCollisionDump

use std::cmp::Ordering;
use std::net::Ipv4Addr;

use crate::wire::OpenMessage;

use super::state::State;

/// Which end initiated a TCP connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected to the peer.
    Outbound,
    /// The peer connected to us.
    Inbound,
}

impl Direction {
    pub fn other(self) -> Self {
        match self {
            Direction::Outbound => Direction::Inbound,
            Direction::Inbound => Direction::Outbound,
        }
    }
}

/// The direction of the connection that survives a collision: the one
/// initiated by the higher BGP Identifier, compared as 32-bit unsigned
/// integers (RFC 4271 §6.8); on equal identifiers, by the higher ASN
/// (RFC 6286 §2.1). Equal in both cannot pass the OPEN checks; we keep our own
/// connection then.
pub fn resolve_collision(
    local_router_id: Ipv4Addr,
    local_asn: u32,
    remote_router_id: Ipv4Addr,
    remote_asn: u32,
) -> Direction {
    let order = u32::from(local_router_id)
        .cmp(&u32::from(remote_router_id))
        .then(local_asn.cmp(&remote_asn));
    match order {
        Ordering::Greater | Ordering::Equal => Direction::Outbound,
        Ordering::Less => Direction::Inbound,
    }
}

/// Called when the FSM of the `opened` connection has accepted `open` while
/// another connection to the same peer has an FSM in `other`. Returns the
/// connection to close, or `None` when there is no collision yet.
///
/// - `other` in Idle, Connect or Active: no BGP conversation on it, nothing to
///   resolve (it will be checked again when an OPEN arrives there).
/// - `other` in OpenSent or OpenConfirm: resolved by identifiers. RFC 4271
///   §6.8 requires this for OpenConfirm and allows it for OpenSent when the
///   peer's identifier is known, which `open` just told us.
/// - `other` Established: the new connection goes (RFC 4271 §6.8 with
///   CollisionDetectEstablishedState off, its default).
pub fn connection_to_dump(
    local_router_id: Ipv4Addr,
    local_asn: u32,
    open: &OpenMessage,
    opened: Direction,
    other: State,
) -> Option<Direction> {
    match other {
        State::Idle | State::Connect | State::Active => None,
        State::Established => Some(opened),
        State::OpenSent | State::OpenConfirm => {
            let keep = resolve_collision(local_router_id, local_asn, open.router_id, open.asn());
            Some(keep.other())
        }
    }
}

/// What to do with an OPEN that arrives on one connection while another
/// connection to the same peer exists (see the module documentation).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpenVerdict {
    /// No collision: feed the OPEN.
    Accept,
    /// This connection loses: answer the OPEN with the Cease only.
    DumpThis,
    /// The other connection loses: feed the OPEN, close the other.
    DumpOther,
    /// The identifiers say the other loses, but the peer may already be
    /// Established on it: feed the OPEN, hold our output, wait for the peer.
    Defer,
}

/// Decides on an OPEN that arrived on the connection `this` (its direction)
/// while the other connection's FSM is in `other`; called before the FSM sees
/// the OPEN, so that a losing connection never carries our KEEPALIVE.
pub fn on_open(
    local_router_id: Ipv4Addr,
    local_asn: u32,
    open: &OpenMessage,
    this: Direction,
    other: State,
) -> OpenVerdict {
    match connection_to_dump(local_router_id, local_asn, open, this, other) {
        None => OpenVerdict::Accept,
        Some(dump) if dump == this => OpenVerdict::DumpThis,
        Some(_) if other == State::OpenConfirm => OpenVerdict::Defer,
        Some(_) => OpenVerdict::DumpOther,
    }
}

/// Where a deferred collision stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Deferred {
    /// The peer has not shown its choice yet.
    Wait,
    /// The peer kept the other connection (its KEEPALIVE arrived there):
    /// close this one, discarding its held output.
    DumpThis,
    /// The peer chose this connection (its KEEPALIVE arrived here): close the
    /// other and release this one's output.
    DumpOtherAndRelease,
    /// The other connection is gone (the peer closed it, or it failed):
    /// release this one's output.
    Release,
    /// This connection itself is gone: nothing is held any more.
    Gone,
}

/// Called after every event on either connection while `this` (the deferred
/// one) holds its output, with both FSMs' states.
pub fn settle_deferred(this: State, other: State) -> Deferred {
    match (this, other) {
        (State::Idle, _) => Deferred::Gone,
        (_, State::Idle | State::Connect | State::Active) => Deferred::Release,
        // Both carry the peer's KEEPALIVE: the identifiers, which chose this one.
        (State::Established, _) => Deferred::DumpOtherAndRelease,
        (_, State::Established) => Deferred::DumpThis,
        _ => Deferred::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const HIGH: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);

    fn open_from(router_id: Ipv4Addr, asn: u16) -> OpenMessage {
        OpenMessage { version: 4, my_as: asn, hold_time: 90, router_id, capabilities: Vec::new() }
    }

    #[test]
    fn higher_local_identifier_keeps_our_connection() {
        assert_eq!(resolve_collision(HIGH, 65001, LOW, 65002), Direction::Outbound);
    }

    #[test]
    fn lower_local_identifier_keeps_the_peers_connection() {
        assert_eq!(resolve_collision(LOW, 65001, HIGH, 65002), Direction::Inbound);
    }

    #[test]
    fn identifiers_compare_as_unsigned_integers_not_text() {
        // 10.0.0.1 > 9.255.255.255 numerically although "1" < "9" as text.
        let ten = Ipv4Addr::new(10, 0, 0, 1);
        let nine = Ipv4Addr::new(9, 255, 255, 255);
        assert_eq!(resolve_collision(ten, 1, nine, 1), Direction::Outbound);
        // High bit set must not compare as negative.
        let high_bit = Ipv4Addr::new(200, 0, 0, 1);
        assert_eq!(resolve_collision(nine, 1, high_bit, 1), Direction::Inbound);
    }

    #[test]
    fn equal_identifiers_fall_back_to_the_asn() {
        assert_eq!(resolve_collision(LOW, 65002, LOW, 65001), Direction::Outbound);
        assert_eq!(resolve_collision(LOW, 65001, LOW, 65002), Direction::Inbound);
    }

    #[test]
    fn both_ends_agree_on_the_survivor() {
        // What we call outbound the peer calls inbound.
        let ours = resolve_collision(LOW, 65001, HIGH, 65002);
        let theirs = resolve_collision(HIGH, 65002, LOW, 65001);
        assert_eq!(ours, theirs.other());
    }

    #[test]
    fn open_on_inbound_with_outbound_in_open_confirm_lower_local_id() {
        let open = open_from(HIGH, 65002);
        let dump = connection_to_dump(LOW, 65001, &open, Direction::Inbound, State::OpenConfirm);
        assert_eq!(dump, Some(Direction::Outbound));
    }

    #[test]
    fn open_on_inbound_with_outbound_in_open_confirm_higher_local_id() {
        let open = open_from(LOW, 65002);
        let dump = connection_to_dump(HIGH, 65001, &open, Direction::Inbound, State::OpenConfirm);
        assert_eq!(dump, Some(Direction::Inbound));
    }

    #[test]
    fn open_on_outbound_with_inbound_in_open_sent() {
        let open = open_from(HIGH, 65002);
        let dump = connection_to_dump(LOW, 65001, &open, Direction::Outbound, State::OpenSent);
        assert_eq!(dump, Some(Direction::Outbound));
        let open = open_from(LOW, 65002);
        let dump = connection_to_dump(HIGH, 65001, &open, Direction::Outbound, State::OpenSent);
        assert_eq!(dump, Some(Direction::Inbound));
    }

    #[test]
    fn established_session_survives_a_new_connection() {
        let open = open_from(HIGH, 65002);
        for opened in [Direction::Inbound, Direction::Outbound] {
            let dump = connection_to_dump(LOW, 65001, &open, opened, State::Established);
            assert_eq!(dump, Some(opened));
        }
    }

    #[test]
    fn no_collision_before_the_other_connection_speaks_bgp() {
        let open = open_from(HIGH, 65002);
        for other in [State::Idle, State::Connect, State::Active] {
            assert_eq!(connection_to_dump(LOW, 65001, &open, Direction::Inbound, other), None);
        }
    }

    #[test]
    fn four_octet_asn_breaks_ties() {
        use crate::wire::Capability;
        let mut open = open_from(LOW, crate::wire::open::AS_TRANS);
        open.capabilities.push(Capability::FourOctetAs(4_200_000_000));
        let dump = connection_to_dump(LOW, 65001, &open, Direction::Outbound, State::OpenConfirm);
        // The peer's ASN is higher: its connection (inbound) survives.
        assert_eq!(dump, Some(Direction::Outbound));
    }

    #[test]
    fn the_verdict_comes_before_our_keepalive() {
        // We are the lower identifier: the peer's connection (inbound) wins.
        let open = open_from(HIGH, 65002);
        let verdict = |this, other| on_open(LOW, 65001, &open, this, other);
        // An OPEN on our outbound connection while the inbound one waits for its
        // OPEN: ours loses, answered with the Cease alone.
        assert_eq!(verdict(Direction::Outbound, State::OpenSent), OpenVerdict::DumpThis);
        // An OPEN on the inbound one while the outbound waits: the outbound goes.
        assert_eq!(verdict(Direction::Inbound, State::OpenSent), OpenVerdict::DumpOther);
        // The outbound already carries our KEEPALIVE: the peer may be Established
        // there; wait for it to show its choice.
        assert_eq!(verdict(Direction::Inbound, State::OpenConfirm), OpenVerdict::Defer);
        // The loser by identifiers is this one: no waiting needed.
        assert_eq!(verdict(Direction::Outbound, State::OpenConfirm), OpenVerdict::DumpThis);
        assert_eq!(verdict(Direction::Inbound, State::Established), OpenVerdict::DumpThis);
        assert_eq!(verdict(Direction::Inbound, State::Active), OpenVerdict::Accept);
    }

    #[test]
    fn a_deferred_collision_follows_the_peers_choice() {
        use State::*;
        assert_eq!(settle_deferred(OpenConfirm, OpenConfirm), Deferred::Wait);
        assert_eq!(settle_deferred(OpenConfirm, Established), Deferred::DumpThis);
        assert_eq!(settle_deferred(Established, OpenConfirm), Deferred::DumpOtherAndRelease);
        assert_eq!(settle_deferred(Established, Established), Deferred::DumpOtherAndRelease);
        assert_eq!(settle_deferred(OpenConfirm, Idle), Deferred::Release);
        assert_eq!(settle_deferred(Established, Connect), Deferred::Release);
        assert_eq!(settle_deferred(Idle, Established), Deferred::Gone);
    }

    /// Two speakers, with the OPENs, KEEPALIVEs and Ceases of two crossing
    /// connections delivered in every possible order, and each end learning of
    /// each connection at any point: they never end on different
    /// connections, and never close a connection the other end holds
    /// Established (a graceful restart helper could flush on that).
    #[test]
    fn two_ironlb_speakers_agree_in_every_delivery_order() {
        for staggered in [false, true] {
            let mut outcomes = Outcomes::default();
            explore(World::new([Rules::Ironlb, Rules::Ironlb], staggered), &mut outcomes);
            // With both connections open from the start, the identifiers decide.
            if !staggered {
                assert_eq!(outcomes.kept[1], 0, "{outcomes:?}");
            }
            assert_eq!(outcomes.none, 0, "two ironlb speakers always keep one: {outcomes:?}");
        }
    }

    /// The same against a peer that, like FRR 8.4, decides on the OPEN by
    /// identifiers and always keeps an Established connection, with the peer
    /// on either side of the identifier order. Such a peer may itself close
    /// a connection after sending its KEEPALIVE there; ironlb never does.
    #[test]
    fn ironlb_and_an_rfc_peer_never_tear_an_established_connection() {
        for rules in [[Rules::Ironlb, Rules::Rfc], [Rules::Rfc, Rules::Ironlb]] {
            for staggered in [false, true] {
                let mut outcomes = Outcomes::default();
                explore(World::new(rules, staggered), &mut outcomes);
                assert!(outcomes.kept[0] + outcomes.kept[1] > 0, "{outcomes:?}");
            }
        }
    }

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Msg {
        Open,
        Keepalive,
        Cease,
    }

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Rules {
        /// [`on_open`] and [`settle_deferred`].
        Ironlb,
        /// Decide on the OPEN by identifiers, an Established connection wins.
        Rfc,
    }

    /// One speaker: per connection (0 is A's outbound, 1 is B's) the FSM
    /// state, and which connection holds its output, if any.
    #[derive(Clone)]
    struct Side {
        rules: Rules,
        id: Ipv4Addr,
        asn: u16,
        states: [State; 2],
        deferred: Option<usize>,
    }

    #[derive(Clone)]
    struct World {
        sides: [Side; 2],
        /// In flight towards `side`, on `connection`, in order.
        queues: [[Vec<Msg>; 2]; 2],
        /// Per side and connection: not open there yet (each end learns of a
        /// connection at its own time: connect done, accept).
        closed: [[bool; 2]; 2],
        /// What happened so far, for failure messages.
        history: Vec<String>,
    }

    #[derive(Default, Debug)]
    struct Outcomes {
        kept: [usize; 2],
        none: usize,
    }

    impl World {
        /// With `staggered`, each end learns of each connection at any time;
        /// otherwise both connections are open at both ends from the start.
        fn new(rules: [Rules; 2], staggered: bool) -> Self {
            let start = if staggered { State::Active } else { State::OpenSent };
            let side = |rules, id, asn| Side { rules, id, asn, states: [start; 2], deferred: None };
            let open = || if staggered { Vec::new() } else { vec![Msg::Open] };
            World {
                sides: [side(rules[0], HIGH, 65001), side(rules[1], LOW, 65002)],
                queues: [[open(), open()], [open(), open()]],
                closed: [[staggered; 2]; 2],
                history: Vec::new(),
            }
        }

        /// Connection `c` opens at side `s`, which sends its OPEN on it.
        fn open(&mut self, s: usize, c: usize) {
            self.history.push(format!("{s} opens {c}"));
            self.closed[s][c] = false;
            self.sides[s].states[c] = State::OpenSent;
            self.queues[1 - s][c].push(Msg::Open);
        }

        /// Delivers the next message to `s` on connection `c`.
        fn deliver(&mut self, s: usize, c: usize) {
            let msg = self.queues[s][c].remove(0);
            self.history.push(format!("{s} gets {msg:?} on {c}"));
            let history = self.history.join(", ");
            let peer = 1 - s;
            let o = 1 - c;
            let this_direction = if s == c { Direction::Outbound } else { Direction::Inbound };
            let peer_open = OpenMessage {
                version: 4,
                my_as: self.sides[peer].asn,
                hold_time: 90,
                router_id: self.sides[peer].id,
                capabilities: Vec::new(),
            };
            let sender = self.sides[peer].rules;
            let side = &mut self.sides[s];
            let mut send = Vec::new();
            if side.states[c] == State::Idle {
                return;
            }
            match msg {
                Msg::Cease => {
                    // What an RFC peer does is its business; we must not do it.
                    if sender == Rules::Ironlb {
                        assert_ne!(side.states[c], State::Established, "torn: {history}");
                    }
                    side.states[c] = State::Idle;
                }
                Msg::Keepalive => {
                    if side.states[c] == State::OpenConfirm {
                        side.states[c] = State::Established;
                    }
                }
                Msg::Open => {
                    let (id, asn) = (side.id, u32::from(side.asn));
                    let mut verdict = on_open(id, asn, &peer_open, this_direction, side.states[o]);
                    if side.rules == Rules::Rfc && verdict == OpenVerdict::Defer {
                        verdict = OpenVerdict::DumpOther;
                    }
                    if verdict == OpenVerdict::DumpThis {
                        side.states[c] = State::Idle;
                        send.push((c, Msg::Cease));
                    } else {
                        side.states[c] = State::OpenConfirm;
                        if verdict == OpenVerdict::Defer {
                            side.deferred = Some(c);
                        } else {
                            send.push((c, Msg::Keepalive));
                        }
                        if verdict == OpenVerdict::DumpOther {
                            side.states[o] = State::Idle;
                            send.push((o, Msg::Cease));
                        }
                    }
                }
            }
            if let Some(d) = side.deferred {
                let od = 1 - d;
                match settle_deferred(side.states[d], side.states[od]) {
                    Deferred::Wait => {}
                    Deferred::DumpThis => {
                        side.states[d] = State::Idle;
                        side.deferred = None;
                        send.push((d, Msg::Cease));
                    }
                    Deferred::DumpOtherAndRelease => {
                        side.states[od] = State::Idle;
                        side.deferred = None;
                        send.push((od, Msg::Cease));
                        send.push((d, Msg::Keepalive));
                    }
                    Deferred::Release => {
                        side.deferred = None;
                        send.push((d, Msg::Keepalive));
                    }
                    Deferred::Gone => side.deferred = None,
                }
            }
            for (conn, m) in send {
                self.queues[peer][conn].push(m);
            }
        }

        fn established(&self, s: usize) -> Option<usize> {
            let up: Vec<usize> =
                (0..2).filter(|&c| self.sides[s].states[c] == State::Established).collect();
            assert!(up.len() <= 1, "two Established connections on one side");
            up.first().copied()
        }
    }

    fn explore(world: World, outcomes: &mut Outcomes) {
        let mut moved = false;
        for s in 0..2 {
            for c in 0..2 {
                if world.closed[s][c] {
                    moved = true;
                    let mut next = world.clone();
                    next.open(s, c);
                    explore(next, outcomes);
                }
            }
        }
        for s in 0..2 {
            for c in 0..2 {
                // Nothing is read on a connection before its end knows of it.
                if !world.queues[s][c].is_empty() && !world.closed[s][c] {
                    moved = true;
                    let mut next = world.clone();
                    next.deliver(s, c);
                    explore(next, outcomes);
                }
            }
        }
        if !moved {
            let (a, b) = (world.established(0), world.established(1));
            assert_eq!(a, b, "different connections: {}", world.history.join(", "));
            match a {
                Some(kept) => outcomes.kept[kept] += 1,
                None => outcomes.none += 1,
            }
        }
    }
}
