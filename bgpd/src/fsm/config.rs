//! What one session needs to know: RFC 4271 §8.1.1 session attributes plus the
//! capabilities we advertise.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::wire::{AddPathMode, Family, GracefulRestartCapability};

/// Default hold time we offer (RFC 4271 §10 suggests 90 seconds).
pub const DEFAULT_HOLD_TIME: u16 = 90;
/// Default ConnectRetryTime (RFC 4271 §10 suggests 120 seconds).
pub const DEFAULT_CONNECT_RETRY_TIME: Duration = Duration::from_secs(120);
/// First IdleHold delay after a session falls to Idle.
///
/// One second: the first restart after a fault is nearly immediate (a load
/// balancer wants its routes back), and the doubling below takes a flapping
/// peer to the cap within seven flaps.
pub const DEFAULT_IDLE_HOLD_BASE: Duration = Duration::from_secs(1);
/// Largest IdleHold delay: two minutes, the ConnectRetryTime RFC 4271 suggests,
/// so a persistently failing peer is retried as often as an unreachable one.
pub const DEFAULT_IDLE_HOLD_CAP: Duration = Duration::from_secs(120);
/// Time Established after which the IdleHold delay returns to its base: two
/// minutes, longer than the default 90 s hold time, so a session that comes up
/// and then dies of hold timer expiry is still counted as flapping.
pub const DEFAULT_DAMPING_RESET_TIME: Duration = Duration::from_secs(120);

/// Host name and domain sent in the FQDN capability
/// (draft-walton-bgp-hostname-capability).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostName {
    pub hostname: String,
    pub domain: String,
}

/// Configuration of one session. The `config` module validates user input
/// (hold time 0 or at least 3, non-zero ASNs and router id) before building this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our ASN (4 octets; AS_TRANS goes in the OPEN when it does not fit in 2).
    pub local_asn: u32,
    /// The ASN the peer must announce (RFC 4271 §6.2 Bad Peer AS otherwise); 0 with
    /// `any_external_as`.
    pub remote_asn: u32,
    /// Accept any AS but ours and 0 (a peer configured as "external", whose AS the
    /// OPEN tells); `remote_asn` is then ignored.
    pub any_external_as: bool,
    /// Our BGP Identifier (RFC 6286).
    pub router_id: Ipv4Addr,
    /// Hold time we offer in seconds: 0 (no keepalives) or at least 3.
    pub hold_time: u16,
    /// Seconds between KEEPALIVEs; `None` means a third of the negotiated hold
    /// time. Never more than a third of the negotiated hold time.
    pub keepalive_time: Option<u16>,
    /// RFC 4271 §8.1.1 ConnectRetryTime.
    pub connect_retry_time: Duration,
    /// Never initiate a TCP connection: only accept the peer's.
    pub passive: bool,
    /// RFC 4271 §8.1.1 DelayOpen: after TCP comes up, wait this long for the
    /// peer's OPEN before sending ours.
    pub delay_open_time: Option<Duration>,
    /// Families we offer in multiprotocol capabilities (RFC 4760).
    pub families: Vec<Family>,
    /// ADD-PATH directions we offer per family (RFC 7911); families not in
    /// `families` are ignored.
    pub add_path: Vec<(Family, AddPathMode)>,
    /// First delay in Idle before an automatic restart; doubles on each flap.
    pub idle_hold_base: Duration,
    /// Upper bound of the doubling.
    pub idle_hold_cap: Duration,
    /// Time Established after which the delay goes back to `idle_hold_base`.
    pub damping_reset_time: Duration,
    /// Graceful restart capability to advertise (RFC 4724), built by `gr`.
    pub graceful_restart: Option<GracefulRestartCapability>,
    /// Advertise route refresh (RFC 2918) and enhanced route refresh (RFC 7313).
    pub route_refresh: bool,
    /// Advertise extended messages (RFC 8654).
    pub extended_message: bool,
    /// Advertise the FQDN capability.
    pub fqdn: Option<HostName>,
    /// Advertise the extended next hop encoding capability for IPv4 unicast
    /// over IPv6 next hops (RFC 8950 §4): set for a neighbor over an
    /// interface (BGP unnumbered), whose session has no IPv4 address.
    pub extended_next_hop: bool,
    /// Check that an external neighbor's AS_PATH starts with its AS (RFC
    /// 4271 §6.3, RFC 7606 §7.2); off for route servers (RFC 7947).
    pub enforce_first_as: bool,
}

impl SessionConfig {
    /// A configuration with RFC 4271 §10 defaults, IPv4 and IPv6 unicast,
    /// route refresh and extended message on.
    pub fn new(local_asn: u32, remote_asn: u32, router_id: Ipv4Addr) -> Self {
        Self {
            local_asn,
            remote_asn,
            any_external_as: false,
            router_id,
            hold_time: DEFAULT_HOLD_TIME,
            keepalive_time: None,
            connect_retry_time: DEFAULT_CONNECT_RETRY_TIME,
            passive: false,
            delay_open_time: None,
            families: Family::ALL.to_vec(),
            add_path: Vec::new(),
            idle_hold_base: DEFAULT_IDLE_HOLD_BASE,
            idle_hold_cap: DEFAULT_IDLE_HOLD_CAP,
            damping_reset_time: DEFAULT_DAMPING_RESET_TIME,
            graceful_restart: None,
            route_refresh: true,
            extended_message: true,
            fqdn: None,
            extended_next_hop: false,
            enforce_first_as: true,
        }
    }

    /// Internal BGP: both ends in one AS (RFC 4271 §1.1).
    pub fn is_internal(&self) -> bool {
        self.local_asn == self.remote_asn
    }
}
