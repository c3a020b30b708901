//! Configuration: our CRDs ([`crd`]) and MetalLB's legacy ConfigMap ([`legacy`]) both converge
//! into one validated model, [`Config`], through [`validate::build`].
//!
//! Validation is per object: a bad object is reported with its kind, name and the field at
//! fault ([`ConfigError`]) and left out, and every valid object around it is kept, so one typo
//! in a new pool never takes addresses away from the Services already using the others.

pub mod address;
pub mod admission;
pub mod community;
pub mod crd;
pub mod crd_cel;
pub mod duration;
pub mod legacy;
pub mod selector;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use thiserror::Error;

pub use address::{AddressError, AddressRange, Family};
pub use community::{BgpCommunity, CommunityError};
pub use selector::{Labels, Selector, SelectorError};
pub use validate::{Built, Resources, build};

/// The object a configuration problem belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// A configuration error: which object, which field, what is wrong with which value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{object}: {field}: {problem}")]
pub struct ConfigError {
    pub object: ObjectRef,
    /// Path of the field at fault, e.g. `spec.addresses[1]`.
    pub field: String,
    /// Boxed: the error travels through every validation step's `Result`.
    pub problem: Box<Problem>,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Problem {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("{range} overlaps {other_range} of pool {other_pool}")]
    Overlap { range: AddressRange, other_pool: String, other_range: AddressRange },
    #[error("{range} overlaps {other_range} in the same pool")]
    OverlapWithinPool { range: AddressRange, other_range: AddressRange },
    #[error("no addresses")]
    NoAddresses,
    #[error(transparent)]
    Selector(#[from] SelectorError),
    #[error(transparent)]
    Community(#[from] CommunityError),
    #[error("unknown community alias {0:?} (no Community defines it)")]
    UnknownCommunityAlias(String),
    #[error("alias {name:?} is defined twice, as {first} and {second}")]
    DuplicateCommunityAlias { name: String, first: String, second: String },
    #[error(transparent)]
    Duration(#[from] duration::DurationError),
    #[error("{0:?} is not an IP address")]
    InvalidIp(String),
    #[error("{0:?} is not an IPv4 address")]
    InvalidRouterId(String),
    #[error("AS number 0 is reserved")]
    ZeroAsn,
    #[error("set exactly one of peerASN and dynamicASN")]
    PeerAsnChoice,
    #[error("{0:?} is not internal or external")]
    InvalidDynamicAsn(String),
    #[error("hold time {0:?} must be 0 or at least 3 seconds (RFC 4271 §4.2)")]
    HoldTimeTooShort(Duration),
    #[error("keepalive time {keepalive:?} exceeds hold time {hold:?}")]
    KeepaliveAboveHold { keepalive: Duration, hold: Duration },
    #[error("set at most one of password and passwordSecret")]
    TwoPasswords,
    #[error("port 0 is not a BGP port")]
    ZeroPort,
    #[error("aggregation length {value} is outside 0..={max} for {family}")]
    AggregationLength { value: i32, max: u8, family: Family },
    #[error(
        "aggregation length {length} is shorter than {cidr} of pool {pool}: the aggregate would cover addresses outside the pool"
    )]
    AggregationTooShort { length: u8, cidr: ipnet::IpNet, pool: String },
    #[error("another {kind} is already named {name:?}")]
    DuplicateName { kind: &'static str, name: String },
    #[error("unknown protocol {0:?} (expected bgp or layer2)")]
    UnknownProtocol(String),
    #[error(
        "vrf {0:?} is not a network device name (1 to 15 bytes, no '/', ':' or whitespace), so bgpd could not bind the session to it"
    )]
    InvalidVrf(String),
    #[error(
        "interface {0:?} is not a network interface name (1 to 15 bytes, no '/', ':' or whitespace)"
    )]
    InvalidInterface(String),
    #[error("set exactly one of peerAddress and interface (BGP unnumbered), as MetalLB")]
    AddressOrInterface,
    #[error(
        "{field} cannot be combined with interface {interface:?}: bgpd's session over an interface uses the link-local addresses found there, and a TCP MD5 key is bound to a peer address"
    )]
    NotWithInterface { field: &'static str, interface: String },
    #[error(
        "disableMP and dualStackAddressFamily contradict each other (one family per session, or both on it)"
    )]
    DisableMpWithDualStack,
    #[error("no BFDProfile named {0:?} (or it is invalid, see its own error)")]
    UnknownBfdProfile(String),
    #[error("echo mode is not supported: bgpd's BFD has no echo function (RFC 5880 §6.4)")]
    BfdEchoUnsupported,
    #[error(
        "minimumTtl {0} cannot be set: bgpd derives a multihop BFD session's minimum TTL from the BGP session's hop count"
    )]
    BfdMinimumTtlUnsupported(u32),
    #[error("{value} is outside {min}..={max}")]
    BfdOutOfRange { value: u32, min: u32, max: u32 },
    #[error(
        "{0} is not implemented by ironlb yet; remove it (the object is left out rather than applied without it)"
    )]
    NotImplemented(&'static str),
}

impl Problem {
    fn at(self, object: &ObjectRef, field: impl Into<String>) -> ConfigError {
        ConfigError { object: object.clone(), field: field.into(), problem: Box::new(self) }
    }
}

/// Something accepted but not acted on, worth telling the user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{object}: {field}: {warning}")]
pub struct ConfigWarning {
    pub object: ObjectRef,
    pub field: String,
    pub warning: Warning,
}

/// The warnings the validator gives.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Warning {
    #[error("no IPAddressPool named {0:?}")]
    UnknownPool(String),
    #[error("no BGPPeer named {0:?}")]
    UnknownPeer(String),
    #[error(
        "disableMP is deprecated (as in MetalLB) and changes nothing: a session carries only its own address's family unless dualStackAddressFamily is set"
    )]
    DisableMpIsTheDefault,
    #[error("echoInterval has no effect without echoMode, which is not supported")]
    EchoIntervalWithoutEcho,
}

/// A validated address pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub labels: Labels,
    /// Sorted, non-overlapping.
    pub ranges: Vec<AddressRange>,
    pub auto_assign: bool,
    pub avoid_buggy_ips: bool,
    pub allocation: Option<ServiceAllocation>,
}

impl Pool {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    pub fn has_family(&self, family: Family) -> bool {
        self.ranges.iter().any(|r| r.family() == family)
    }
}

/// A validated `serviceAllocation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAllocation {
    /// Lower is preferred; `None` sorts after every priority.
    pub priority: Option<i32>,
    pub namespaces: Vec<String>,
    pub namespace_selectors: Vec<Selector>,
    pub service_selectors: Vec<Selector>,
}

impl ServiceAllocation {
    /// MetalLB's rule: the namespace must be listed or match a namespace selector (when either
    /// is given), and the Service must match a service selector (when any is given).
    pub fn admits(
        &self,
        namespace: &str,
        namespace_labels: &Labels,
        service_labels: &Labels,
    ) -> bool {
        let namespace_ok = (self.namespaces.is_empty() && self.namespace_selectors.is_empty())
            || self.namespaces.iter().any(|n| n == namespace)
            || self.namespace_selectors.iter().any(|s| s.matches(namespace_labels));
        namespace_ok && selector::any_matches(&self.service_selectors, service_labels)
    }
}

/// The TCP MD5 password of a peer.
#[derive(Clone, PartialEq, Eq)]
pub enum Password {
    Plain(String),
    /// A `kubernetes.io/basic-auth` Secret; the speaker reads its `password` key.
    Secret {
        namespace: Option<String>,
        name: String,
    },
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(_) => f.write_str("Plain(<redacted>)"),
            Self::Secret { namespace, name } => write!(f, "Secret({namespace:?}, {name:?})"),
        }
    }
}

/// The remote AS of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAs {
    Fixed(u32),
    /// Any AS equal to ours.
    Internal,
    /// Any AS other than ours.
    External,
}

/// How bgpd names a peer: by address, or a peer over an interface (BGP unnumbered) by
/// the interface (written `%IFNAME` in bgpd's API). Addresses order first, by address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerKey {
    Address(IpAddr),
    Interface(String),
}

impl fmt::Display for PeerKey {
    /// As bgpd's API names the peer (`AddPeer` aside): `192.0.2.1`, `%eth1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(address) => write!(f, "{address}"),
            Self::Interface(name) => write!(f, "%{name}"),
        }
    }
}

/// A validated BGP peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub my_asn: u32,
    pub peer_as: PeerAs,
    /// `peerAddress`; `::` for a peer over an interface.
    pub address: IpAddr,
    /// `interface` (MetalLB v1beta2): BGP unnumbered over this interface of the node,
    /// bgpd finding the peer's IPv6 link-local address there; both families, IPv4
    /// with IPv6 next hops (RFC 8950). `None`: a peer by `address`.
    pub interface: Option<String>,
    pub port: u16,
    pub source_address: Option<IpAddr>,
    pub hold_time: Option<Duration>,
    pub keepalive_time: Option<Duration>,
    pub connect_time: Option<Duration>,
    pub router_id: Option<Ipv4Addr>,
    pub node_selectors: Vec<Selector>,
    pub password: Option<Password>,
    pub ebgp_multihop: bool,
    pub graceful_restart: bool,
    /// `dualStackAddressFamily`: both IPv4 and IPv6 unicast on the session; otherwise only
    /// the family of `address`.
    pub dual_stack: bool,
    /// From the `BFDProfile` named in `bfdProfile`.
    pub bfd: Option<BfdSettings>,
    /// `vrf`: the device (a VRF device, or any interface) bgpd binds the session's sockets
    /// to (its neighbor `vrf`, `SO_BINDTODEVICE`); `None`: the default VRF.
    pub vrf: Option<String>,
}

impl Peer {
    /// Whether the session carries `family`'s routes: over an interface both (bgpd's
    /// default there, IPv4 with IPv6 next hops).
    pub fn carries(&self, family: Family) -> bool {
        self.dual_stack || self.interface.is_some() || Family::of(self.address) == family
    }

    /// How bgpd names this peer.
    pub fn key(&self) -> PeerKey {
        match &self.interface {
            Some(interface) => PeerKey::Interface(interface.clone()),
            None => PeerKey::Address(self.address),
        }
    }
}

/// A validated `BFDProfile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdSettings {
    /// Required minimum receive interval, milliseconds.
    pub receive_interval_ms: u32,
    /// Desired minimum transmit interval, milliseconds.
    pub transmit_interval_ms: u32,
    pub multiplier: u8,
    pub passive: bool,
}

impl BfdSettings {
    /// MetalLB's (and bgpd's) default intervals, milliseconds.
    pub const DEFAULT_INTERVAL_MS: u32 = 300;
    /// MetalLB's (and bgpd's) default detection multiplier.
    pub const DEFAULT_MULTIPLIER: u8 = 3;
}

/// Pools an advertisement applies to: named, or selected by label; neither means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolChoice {
    pub names: Vec<String>,
    pub selectors: Vec<Selector>,
}

impl PoolChoice {
    pub fn selects(&self, pool: &Pool) -> bool {
        (self.names.is_empty() && self.selectors.is_empty())
            || self.names.contains(&pool.name)
            || self.selectors.iter().any(|s| s.matches(&pool.labels))
    }
}

/// A validated BGP advertisement, communities resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpAdvertisement {
    pub name: String,
    pub aggregation_length: u8,
    pub aggregation_length_v6: u8,
    pub local_pref: Option<u32>,
    /// Sorted and without duplicates.
    pub communities: Vec<BgpCommunity>,
    pub pools: PoolChoice,
    pub node_selectors: Vec<Selector>,
    /// Peer names; empty means every peer.
    pub peers: Vec<String>,
}

impl BgpAdvertisement {
    pub fn aggregation_for(&self, family: Family) -> u8 {
        match family {
            Family::V4 => self.aggregation_length,
            Family::V6 => self.aggregation_length_v6,
        }
    }
}

/// A validated layer2 advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2Advertisement {
    pub name: String,
    pub pools: PoolChoice,
    pub node_selectors: Vec<Selector>,
    /// Empty means every interface.
    pub interfaces: Vec<String>,
    /// Layer2 only as a fallback for BGP (`spec.bgpFallback`, see
    /// [`crate::election::fallback::fallback_pools`]).
    pub bgp_fallback: bool,
}

/// The validated configuration both sources converge into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// By name.
    pub pools: BTreeMap<String, Pool>,
    pub peers: Vec<Peer>,
    pub bgp_advertisements: Vec<BgpAdvertisement>,
    pub l2_advertisements: Vec<L2Advertisement>,
    /// Every pool range with its pool's name, sorted by (family, first address), for lookups.
    index: Vec<(AddressRange, String)>,
}

impl Config {
    /// Builds the model from already validated parts (used by [`validate::build`] and tests).
    pub fn new(
        pools: Vec<Pool>,
        peers: Vec<Peer>,
        bgp_advertisements: Vec<BgpAdvertisement>,
        l2_advertisements: Vec<L2Advertisement>,
    ) -> Self {
        let mut index: Vec<(AddressRange, String)> =
            pools.iter().flat_map(|p| p.ranges.iter().map(|r| (*r, p.name.clone()))).collect();
        index.sort_by_key(|(r, _)| (r.family(), r.bounds().0));
        Self {
            pools: pools.into_iter().map(|p| (p.name.clone(), p)).collect(),
            peers,
            bgp_advertisements,
            l2_advertisements,
            index,
        }
    }

    /// The pool `ip` belongs to, by binary search (pools never overlap).
    pub fn pool_of(&self, ip: IpAddr) -> Option<&Pool> {
        let family = Family::of(ip);
        let k = address::key(ip);
        let after = self.index.partition_point(|(r, _)| (r.family(), r.bounds().0) <= (family, k));
        let (range, name) = self.index.get(after.checked_sub(1)?)?;
        if range.contains(ip) { self.pools.get(name) } else { None }
    }
}
