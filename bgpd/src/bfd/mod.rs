//! Bidirectional Forwarding Detection (RFC 5880, single hop RFC 5881,
//! multihop RFC 5883) for sub-second failure detection of BGP neighbors
//! (RFC 5882).

pub mod packet;

pub use packet::{
    Authentication, AuthenticationType, ControlPacket, DecodeError, Diagnostic, EncodeError, State,
};
