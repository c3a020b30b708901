//! Bidirectional Forwarding Detection (RFC 5880, single hop RFC 5881,
//! multihop RFC 5883) for sub-second failure detection of BGP neighbors
//! (RFC 5882).

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
    SOURCE_PORTS, SessionKey, SessionSpec,
};
pub use packet::{
    Authentication, AuthenticationType, ControlPacket, DecodeError, Diagnostic, EncodeError, State,
};
pub use session::{Session, Status};
