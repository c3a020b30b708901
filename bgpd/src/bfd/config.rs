//! Per-session configuration: the timer parameters an operator sets (RFC 5880
//! §6.8.1 bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval,
//! bfd.DetectMult), the passive role (§6.1) and single hop versus multihop
//! (RFC 5881 / RFC 5883).

use std::time::Duration;

/// The floor for bfd.DesiredMinTxInterval while the session is not Up
/// (RFC 5880 §6.8.3).
pub const SLOW_TX_INTERVAL: Duration = Duration::from_secs(1);

/// Default intervals: MetalLB's default BFD profile (300 ms × 3).
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(300);
/// Default Detect Mult (MetalLB, FRR).
pub const DEFAULT_DETECT_MULTIPLIER: u8 = 3;

/// The largest interval the 32-bit microsecond fields can carry.
pub const MAX_INTERVAL: Duration = Duration::from_micros(u32::MAX as u64);

/// The negotiable timer parameters. A change while Up starts a Poll Sequence
/// (RFC 5880 §6.8.3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Timers {
    /// bfd.DesiredMinTxInterval once Up (floored to one second otherwise).
    pub desired_min_tx: Duration,
    /// bfd.RequiredMinRxInterval.
    pub required_min_rx: Duration,
    /// bfd.DetectMult: how many of our packets the peer may miss.
    pub detect_multiplier: u8,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            desired_min_tx: DEFAULT_INTERVAL,
            required_min_rx: DEFAULT_INTERVAL,
            detect_multiplier: DEFAULT_DETECT_MULTIPLIER,
        }
    }
}

/// Single hop (RFC 5881: UDP 3784, TTL 255 sent and required) or multihop
/// (RFC 5883: UDP 4784, TTL 255 sent, at least `min_ttl` required). Fixed for
/// the life of a session: the I/O driver re-creates a session whose hop mode
/// changes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Hop {
    /// Directly connected neighbor.
    Single,
    /// A neighbor several hops away (`ebgp_multihop`).
    Multi {
        /// Lowest received TTL accepted (MetalLB's `minimumTtl`).
        min_ttl: u8,
    },
}

impl Hop {
    /// Whether a packet received with this TTL (or IPv6 hop limit) is
    /// accepted: 255 for single hop (RFC 5881 §5), at least `min_ttl` for
    /// multihop (RFC 5883 §5 leaves the check to configuration).
    pub fn accepts_ttl(self, ttl: u8) -> bool {
        match self {
            Hop::Single => ttl == 255,
            Hop::Multi { min_ttl } => ttl >= min_ttl,
        }
    }
}

/// Everything a session needs to know about itself.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionConfig {
    pub timers: Timers,
    /// Passive role (RFC 5880 §6.1): send nothing until the peer has been
    /// heard from (bfd.RemoteDiscr non-zero).
    pub passive: bool,
    pub hop: Hop,
    /// The C bit (RFC 5880 §4.1, RFC 5882 §4.3). Our BFD runs inside bgpd
    /// and shares its fate, so this is false; it exists so a future
    /// forwarding-plane implementation can say otherwise.
    pub control_plane_independent: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            timers: Timers::default(),
            passive: false,
            hop: Hop::Single,
            control_plane_independent: false,
        }
    }
}

/// Why a configuration cannot run.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the local discriminator must not be zero (RFC 5880 §6.8.1)")]
    ZeroDiscriminator,
    #[error("detect multiplier must be 1 to 255, not 0")]
    ZeroDetectMultiplier,
    #[error("{field} must be at least 1 µs (zero is reserved or disables reception)")]
    ZeroInterval { field: &'static str },
    #[error("{field} of {value:?} exceeds the 32-bit microsecond field ({MAX_INTERVAL:?})")]
    IntervalTooLarge { field: &'static str, value: Duration },
}

impl Timers {
    /// Checks what the wire can carry and what the session needs: a non-zero
    /// multiplier, and non-zero intervals (RFC 5880 §4.1 reserves a zero
    /// Desired Min TX; a zero Required Min RX would ask the peer to stop
    /// sending, which only makes sense with Echo or Demand mode).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.detect_multiplier == 0 {
            return Err(ConfigError::ZeroDetectMultiplier);
        }
        for (field, value) in
            [("desired_min_tx", self.desired_min_tx), ("required_min_rx", self.required_min_rx)]
        {
            if value.as_micros() == 0 {
                return Err(ConfigError::ZeroInterval { field });
            }
            if value > MAX_INTERVAL {
                return Err(ConfigError::IntervalTooLarge { field, value });
            }
        }
        Ok(())
    }
}
