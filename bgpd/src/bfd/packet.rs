//! The BFD Control packet (RFC 5880 §4.1) and the reception checks of
//! RFC 5880 §6.8.6 that a packet can fail on its own, before any session is
//! looked at.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       My Discriminator                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Your Discriminator                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Desired Min TX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Required Min RX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Required Min Echo RX Interval                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! An optional Authentication Section MAY be present (A bit set):
//!
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Auth Len    |    Authentication Data...     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Intervals are microseconds on the wire and stay so here ([`ControlPacket`]
//! is the wire image); the session converts them to `Duration`s.
//!
//! [`ControlPacket::decode`] runs the checks of §6.8.6 that need nothing but
//! the bytes: version 1, Length at least 24 (26 with the A bit), Length no
//! more than the UDP payload, Detect Mult not zero, M bit clear, My
//! Discriminator not zero. The Your Discriminator and authentication checks
//! depend on the session and live in [`Session`](super::Session). The
//! authentication section is parsed into a typed [`Authentication`] so that a
//! packet carrying one can be discarded with a precise reason; no
//! authentication type is implemented (§6.7 is optional).

use std::fmt;

/// The only protocol version (RFC 5880 §4.1).
pub const VERSION: u8 = 1;
/// Length of a Control packet without authentication.
pub const HEADER_LEN: usize = 24;
/// Smallest Length with the A bit set: the header plus Auth Type and Auth Len.
pub const MIN_AUTH_LEN: usize = 26;
/// Largest Control packet: Length is one octet.
pub const MAX_PACKET_LEN: usize = 255;
/// Most authentication data that fits: Length minus the header, Auth Type and Auth Len.
pub const MAX_AUTH_DATA_LEN: usize = MAX_PACKET_LEN - MIN_AUTH_LEN;

const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CONTROL_PLANE_INDEPENDENT: u8 = 0x08;
const FLAG_AUTHENTICATION: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

/// Generates a code-point enum, its `From<u8>` and `code()` from one table, with
/// an `Unassigned(u8)` variant for the values the registry leaves open.
macro_rules! code_points {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value the IANA registry has not assigned (kept to round-trip).
            Unassigned(u8),
        }

        impl From<u8> for $name {
            fn from(code: u8) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Unassigned(other),
                }
            }
        }

        impl $name {
            /// The code point on the wire.
            pub fn code(self) -> u8 {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Unassigned(code) => code,
                }
            }
        }
    };
}

code_points! {
    /// The Diag field (RFC 5880 §4.1): why the sender last left Up, or
    /// another local reason. Five bits on the wire; `Unassigned` holds 9-31
    /// (9 is RFC 6428's mis-connectivity defect, irrelevant to IP BFD).
    Diagnostic {
        /// 0: No Diagnostic.
        NoDiagnostic = 0,
        /// 1: Control Detection Time Expired (§6.8.4).
        ControlDetectionTimeExpired = 1,
        /// 2: Echo Function Failed.
        EchoFunctionFailed = 2,
        /// 3: Neighbor Signaled Session Down (§6.8.6).
        NeighborSignaledSessionDown = 3,
        /// 4: Forwarding Plane Reset.
        ForwardingPlaneReset = 4,
        /// 5: Path Down.
        PathDown = 5,
        /// 6: Concatenated Path Down.
        ConcatenatedPathDown = 6,
        /// 7: Administratively Down (§6.8.16).
        AdministrativelyDown = 7,
        /// 8: Reverse Concatenated Path Down.
        ReverseConcatenatedPathDown = 8,
    }
}

code_points! {
    /// Auth Type of the authentication section (RFC 5880 §4.1). None is
    /// implemented; the type is kept so a discard can say what arrived.
    AuthenticationType {
        /// 0: Reserved.
        Reserved = 0,
        /// 1: Simple Password (§4.2).
        SimplePassword = 1,
        /// 2: Keyed MD5 (§4.3).
        KeyedMd5 = 2,
        /// 3: Meticulous Keyed MD5 (§4.3).
        MeticulousKeyedMd5 = 3,
        /// 4: Keyed SHA1 (§4.4).
        KeyedSha1 = 4,
        /// 5: Meticulous Keyed SHA1 (§4.4).
        MeticulousKeyedSha1 = 5,
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::NoDiagnostic => "No Diagnostic",
            Self::ControlDetectionTimeExpired => "Control Detection Time Expired",
            Self::EchoFunctionFailed => "Echo Function Failed",
            Self::NeighborSignaledSessionDown => "Neighbor Signaled Session Down",
            Self::ForwardingPlaneReset => "Forwarding Plane Reset",
            Self::PathDown => "Path Down",
            Self::ConcatenatedPathDown => "Concatenated Path Down",
            Self::AdministrativelyDown => "Administratively Down",
            Self::ReverseConcatenatedPathDown => "Reverse Concatenated Path Down",
            Self::Unassigned(code) => return write!(f, "unassigned diagnostic {code}"),
        };
        f.write_str(text)
    }
}

/// The Sta field (RFC 5880 §4.1): the sender's session state. Two bits, all
/// four values defined.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// 0: AdminDown.
    AdminDown,
    /// 1: Down.
    Down,
    /// 2: Init.
    Init,
    /// 3: Up.
    Up,
}

impl State {
    /// The two-bit code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::AdminDown => 0,
            Self::Down => 1,
            Self::Init => 2,
            Self::Up => 3,
        }
    }

    fn from_bits(bits: u8) -> Self {
        match bits & 0x03 {
            0 => Self::AdminDown,
            1 => Self::Down,
            2 => Self::Init,
            _ => Self::Up,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AdminDown => "AdminDown",
            Self::Down => "Down",
            Self::Init => "Init",
            Self::Up => "Up",
        })
    }
}

/// The authentication section, parsed but not verified: no type is
/// supported, so a session discards every packet that has one
/// ([`Discard::AuthenticationNotConfigured`](super::Discard)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Authentication {
    /// Auth Type.
    pub kind: AuthenticationType,
    /// The bytes after Auth Type and Auth Len (Auth Len − 2 of them).
    pub data: Vec<u8>,
}

/// One BFD Control packet as on the wire (version 1, M bit clear; both are
/// checked by [`ControlPacket::decode`] and written by
/// [`ControlPacket::encode`]). The Length field is derived.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ControlPacket {
    /// Diag.
    pub diagnostic: Diagnostic,
    /// Sta.
    pub state: State,
    /// P: the sender asks for verification of connectivity or of a parameter
    /// change (§6.5).
    pub poll: bool,
    /// F: the sender answers a Poll.
    pub final_: bool,
    /// C: the sender's BFD does not share fate with its control plane.
    pub control_plane_independent: bool,
    /// D: the sender wishes to run in Demand mode (§6.6). We never set it.
    pub demand: bool,
    /// Detect Mult, never zero after decode.
    pub detect_multiplier: u8,
    /// My Discriminator, never zero after decode.
    pub my_discriminator: u32,
    /// Your Discriminator: zero until the sender has heard from us.
    pub your_discriminator: u32,
    /// Desired Min TX Interval, microseconds.
    pub desired_min_tx: u32,
    /// Required Min RX Interval, microseconds (zero: send no periodic packets).
    pub required_min_rx: u32,
    /// Required Min Echo RX Interval, microseconds (zero: no Echo packets).
    pub required_min_echo_rx: u32,
    /// The authentication section; its presence is the A bit.
    pub authentication: Option<Authentication>,
}

/// Why a datagram is not a valid Control packet (RFC 5880 §6.8.6, "the packet
/// MUST be discarded"). Each error names the field, its offset and its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("datagram of {payload} bytes is shorter than the 24-byte BFD Control header")]
    Truncated { payload: usize },
    #[error("version {version} at offset 0 is not BFD version 1")]
    Version { version: u8 },
    #[error("Length {length} at offset 3 is below the minimum {minimum}")]
    LengthTooSmall { length: u8, minimum: usize },
    #[error("Length {length} at offset 3 exceeds the {payload}-byte UDP payload")]
    LengthExceedsPayload { length: u8, payload: usize },
    #[error("Detect Mult at offset 2 is zero")]
    ZeroDetectMultiplier,
    #[error("Multipoint (M) bit at offset 1 is set")]
    Multipoint,
    #[error("My Discriminator at offset 4 is zero")]
    ZeroMyDiscriminator,
    #[error(
        "Auth Len {auth_length} at offset 25 does not fill the {available} bytes after the header"
    )]
    AuthenticationLength { auth_length: u8, available: usize },
}

impl DecodeError {
    /// Offset of the offending field in the datagram.
    pub fn offset(&self) -> usize {
        match self {
            Self::Truncated { .. } | Self::Version { .. } => 0,
            Self::Multipoint => 1,
            Self::ZeroDetectMultiplier => 2,
            Self::LengthTooSmall { .. } | Self::LengthExceedsPayload { .. } => 3,
            Self::ZeroMyDiscriminator => 4,
            Self::AuthenticationLength { .. } => 25,
        }
    }
}

/// Why [`ControlPacket::encode`] cannot write a packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("authentication data of {length} bytes does not fit a 255-byte packet (at most 229)")]
    AuthenticationTooLong { length: usize },
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes([bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]])
}

impl ControlPacket {
    /// Decodes one UDP payload, running the packet-only checks of §6.8.6.
    /// Bytes after Length are ignored (the RFC only forbids Length exceeding
    /// the payload).
    pub fn decode(payload: &[u8]) -> Result<ControlPacket, DecodeError> {
        if payload.len() < HEADER_LEN {
            return Err(DecodeError::Truncated { payload: payload.len() });
        }
        let version = payload[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::Version { version });
        }
        let flags = payload[1];
        let authenticated = flags & FLAG_AUTHENTICATION != 0;
        let length = payload[3];
        let minimum = if authenticated { MIN_AUTH_LEN } else { HEADER_LEN };
        if usize::from(length) < minimum {
            return Err(DecodeError::LengthTooSmall { length, minimum });
        }
        if usize::from(length) > payload.len() {
            return Err(DecodeError::LengthExceedsPayload { length, payload: payload.len() });
        }
        let detect_multiplier = payload[2];
        if detect_multiplier == 0 {
            return Err(DecodeError::ZeroDetectMultiplier);
        }
        if flags & FLAG_MULTIPOINT != 0 {
            return Err(DecodeError::Multipoint);
        }
        let my_discriminator = u32_at(payload, 4);
        if my_discriminator == 0 {
            return Err(DecodeError::ZeroMyDiscriminator);
        }
        let authentication = if authenticated {
            let section = &payload[HEADER_LEN..usize::from(length)];
            let auth_length = section[1];
            if usize::from(auth_length) != section.len() {
                return Err(DecodeError::AuthenticationLength {
                    auth_length,
                    available: section.len(),
                });
            }
            Some(Authentication {
                kind: AuthenticationType::from(section[0]),
                data: section[2..].to_vec(),
            })
        } else {
            None
        };
        Ok(ControlPacket {
            diagnostic: Diagnostic::from(payload[0] & 0x1F),
            state: State::from_bits(flags >> 6),
            poll: flags & FLAG_POLL != 0,
            final_: flags & FLAG_FINAL != 0,
            control_plane_independent: flags & FLAG_CONTROL_PLANE_INDEPENDENT != 0,
            demand: flags & FLAG_DEMAND != 0,
            detect_multiplier,
            my_discriminator,
            your_discriminator: u32_at(payload, 8),
            desired_min_tx: u32_at(payload, 12),
            required_min_rx: u32_at(payload, 16),
            required_min_echo_rx: u32_at(payload, 20),
            authentication,
        })
    }

    /// The Length field this packet encodes to.
    pub fn length(&self) -> usize {
        HEADER_LEN + self.authentication.as_ref().map_or(0, |auth| 2 + auth.data.len())
    }

    /// Appends the packet to `out` (cleared first, so a send buffer can be
    /// reused without allocating). The Diag code is masked to its five bits.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.clear();
        let auth_length = match &self.authentication {
            Some(auth) if auth.data.len() > MAX_AUTH_DATA_LEN => {
                return Err(EncodeError::AuthenticationTooLong { length: auth.data.len() });
            }
            Some(auth) => Some(auth.data.len() as u8 + 2),
            None => None,
        };
        let length = HEADER_LEN + auth_length.map_or(0, usize::from);
        let mut flags = self.state.code() << 6;
        for (set, bit) in [
            (self.poll, FLAG_POLL),
            (self.final_, FLAG_FINAL),
            (self.control_plane_independent, FLAG_CONTROL_PLANE_INDEPENDENT),
            (self.authentication.is_some(), FLAG_AUTHENTICATION),
            (self.demand, FLAG_DEMAND),
        ] {
            if set {
                flags |= bit;
            }
        }
        out.push((VERSION << 5) | (self.diagnostic.code() & 0x1F));
        out.push(flags);
        out.push(self.detect_multiplier);
        out.push(length as u8);
        for field in [
            self.my_discriminator,
            self.your_discriminator,
            self.desired_min_tx,
            self.required_min_rx,
            self.required_min_echo_rx,
        ] {
            out.extend_from_slice(&field.to_be_bytes());
        }
        if let (Some(auth), Some(auth_length)) = (&self.authentication, auth_length) {
            out.push(auth.kind.code());
            out.push(auth_length);
            out.extend_from_slice(&auth.data);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
