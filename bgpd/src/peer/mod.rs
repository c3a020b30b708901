//! One I/O task per BGP neighbour: TCP connect and accept (with MD5, TTL and
//! GTSM, [`socket`]), framing, timers; it feeds the RFC 4271 FSM ([`crate::fsm`])
//! and executes its actions. Decoded UPDATEs and session changes go to the
//! instance, which owns the RIB; routes to send come back as export batches,
//! which each connection's `outbox` packs into UPDATEs for the socket.

mod connection;
pub mod counters;
mod outbox;
mod self_connect;
mod session;
pub mod socket;

pub use session::updates::MAX_UPDATES_PER_REPORT;
pub use session::{
    Recycling, SessionCommand, SessionEvent, SessionHandle, SessionParams, SessionReport, describe,
    spawn,
};
