//! Bidirectional Forwarding Detection (RFC 5880, single hop RFC 5881,
//! multihop RFC 5883) for sub-second failure detection of BGP neighbors
//! (RFC 5882, RFC 9384).
//!
//! A neighbor that dies silently keeps attracting traffic until its hold
//! timer expires (3 s at best, 90 s by default). BFD notices in
//! Detect Mult × interval (150 ms at 50 ms × 3).
//!
//! # Layers
//!
//! - [`packet`]: the Control packet (RFC 5880 §4.1) and the checks of §6.8.6
//!   that need only the bytes. No I/O, no time.
//! - [`Session`] (`session.rs`): one session's state machine, sans-IO like
//!   `fsm`: [`Event`] + `now` + [`Jitter`] in, [`Action`]s out. Timer
//!   negotiation, Poll/Final, detection, jitter, passive role, AdminDown.
//! - [`io`]: the driver. One OS thread (not a tokio task: a busy RIB must
//!   never delay a packet) owns the UDP sockets and every session's timers,
//!   takes commands through [`BfdHandle`] and reports [`Report`]s on a tokio
//!   channel.
//!
//! What we implement of RFC 5880: Asynchronous mode. Demand mode is not ours
//! to start (we never set D) but a peer's D is honoured as §6.8.7 asks. No
//! Echo function (Required Min Echo RX is 0; MetalLB's `echoMode` must be
//! refused or warned about by the config layer). No authentication: packets
//! with the A bit are discarded with [`Discard::AuthenticationNotConfigured`].
//!
//! # Wiring it to BGP (the next step)
//!
//! Nothing outside this module refers to it yet. The wiring needs, in
//! order (a few hundred lines):
//!
//! 1. **Config** (`config::Neighbor`): a `bfd: Option<BfdNeighbor>` with
//!    `enabled`, `min_rx_ms`, `min_tx_ms`, `multiplier`, `passive`, `echo`
//!    (must be false) and, for `ebgp_multihop` neighbors, `min_ttl`
//!    (MetalLB's `minimumTtl`, default 254 as FRR). It converts to a
//!    [`SessionConfig`]: `timers` from the three numbers (check with
//!    [`Timers::validate`], which gives typed errors), `passive`,
//!    `hop = Hop::Multi { min_ttl }` when the neighbor is multihop, else
//!    [`Hop::Single`]; `control_plane_independent` stays false (our BFD lives
//!    in bgpd and shares its fate). MetalLB's `BFDProfile` maps
//!    `receiveInterval`→`min_rx_ms`, `transmitInterval`→`min_tx_ms`,
//!    `detectMultiplier`→`multiplier`, `passiveMode`→`passive`,
//!    `minimumTtl`→`min_ttl`. The same struct comes from `AddPeer` /
//!    `UpdatePeer` through the same validation.
//! 2. **Instance**: holds one `BfdHandle` (spawned at startup with
//!    [`DriverConfig::default`]: 0.0.0.0 and :: on 3784 and 4784; fall back
//!    to IPv4 only if :: cannot be bound) and the receiving end of its
//!    report channel, polled in the instance's `select!` loop. On neighbor
//!    add / config change / removal: [`BfdHandle::add`] /
//!    [`BfdHandle::update`] / [`BfdHandle::remove`] with
//!    `SessionKey { peer: neighbor address, local: update-source if set }`
//!    and `peer_port: None`. Neighbor shutdown (admin down in BGP):
//!    [`BfdHandle::set_admin_down`], so the peer's BGP does not see a failure.
//!    At a planned stop: [`BfdHandle::shutdown`] (AdminDown to every peer)
//!    after the BGP sessions are closed.
//! 3. **Coupling** (RFC 5882 §3.2, §4.3; RFC 9384), on
//!    `Report::StateChanged { key, change }` → `change.signal()`:
//!    - `Some(Signal::Down(diag))`: stop the BGP session at once with
//!      `AutomaticStop(Cease/BFD Down)` (`NotificationKind::BfdDown`, Cease
//!      subcode 10, RFC 9384), the reason text naming `diag`. Graceful
//!      restart (`gr::helper`): if `change.remote_control_plane_independent`
//!      the peer's forwarding plane failed, so its routes must go
//!      (`Loss::HardReset`: flush, no helper); if the C bit is clear, BFD
//!      shares fate with the peer's control plane and the loss may be a
//!      restart: feed the helper the loss the FSM reports (`Loss::of`), so
//!      with N negotiated the routes are kept stale as for any restart.
//!    - `Some(Signal::NeighborAdminDown)` and `Some(Signal::AdminDown)`: not
//!      a failure; leave the BGP session alone (RFC 5882 §3.2).
//!    - `Some(Signal::Up)`: allow the BGP session to start if it was held.
//!    - A session configured with BFD but not Up: with
//!      `hold_bgp_until_bfd_up` (FRR's `check-control-plane-failure`-like
//!      knob the issue asks for), do not feed the BGP FSM a start event until
//!      the first `Signal::Up`; otherwise start it as today.
//!    - `Report::AddFailed`: log, and show it in `GetPeer`.
//! 4. **API / bgpctl / metrics**: [`BfdHandle::status`] answers every
//!    session's [`Status`] (local and remote state, both diagnostics,
//!    discriminators, negotiated transmit interval, detection time, remote
//!    multiplier and C bit, Poll running); [`BfdHandle::counters`] holds
//!    lock-free packet counters for the metrics collector.
//!
//! Tests for the wiring can use two instances on loopback: the driver takes
//! port 0 ([`DriverConfig`]) and [`SessionSpec::peer_port`] names the other
//! side's port.

mod config;
mod event;
pub mod io;
pub mod packet;
mod session;

pub use config::{
    ConfigError, DEFAULT_DETECT_MULTIPLIER, DEFAULT_INTERVAL, Hop, MAX_INTERVAL, SLOW_TX_INTERVAL,
    SessionConfig, Timers,
};
pub use event::{Action, Discard, Event, Jitter, Signal, StateChange, XorShift};
pub use io::{
    BfdHandle, Counters, DriverConfig, DriverError, MULTIHOP_PORT, Report, SINGLE_HOP_PORT,
    SOURCE_PORTS, SessionCounters, SessionKey, SessionSpec,
};
pub use packet::{
    Authentication, AuthenticationType, ControlPacket, DecodeError, Diagnostic, EncodeError, State,
};
pub use session::{Session, Status};
