//! The validated, typed configuration. Every default is filled in here, so the
//! consumers (instance, peers, API) never re-derive one. `conf/bgpd.toml` documents
//! each key; the constants below are the defaults it quotes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV6};
use std::path::PathBuf;
use std::sync::Arc;

use ipnet::IpNet;

pub use crate::layer2::announcer::{Announcement, GratuitousSettings};
use crate::policy::PolicyBook;
use crate::wire::{Community, ExtendedCommunity, Family, LargeCommunity, NextHop, Origin};

/// BGP's registered port (RFC 4271 §8.2.1).
pub const DEFAULT_PORT: u16 = 179;
/// Hold time suggested by RFC 4271 §10.
pub const DEFAULT_HOLD_TIME: u16 = 90;
/// Seconds between connection attempts. RFC 4271 §10 suggests 120; a load
/// balancer's routes are down while its session is, and one SYN every 30 seconds
/// costs nothing, so we retry sooner.
pub const DEFAULT_CONNECT_RETRY_TIME: u16 = 30;
/// TTL of eBGP packets: the peer is one hop away (RFC 4271 §5.1.3).
pub const DEFAULT_EBGP_MULTIHOP: u8 = 1;
/// LOCAL_PREF of our own routes towards iBGP neighbours (RFC 4271 §5.1.5).
pub const DEFAULT_LOCAL_PREF: u32 = 100;
/// Where the gRPC API listens: loopback only, nothing remote can reach it.
pub const DEFAULT_API_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50051);
/// Largest TCP MD5 key Linux accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const MAX_PASSWORD_LEN: usize = 80;
/// Longest DelayOpenTime we accept (RFC 4271 §8.1.1 leaves it open; FRR caps at 240).
pub const MAX_DELAY_OPEN_TIME: u16 = 240;
/// Largest `as_path_prepend`: more only makes paths absurd.
pub const MAX_AS_PATH_PREPEND: u8 = 10;
/// RFC 8212's safe default for `global.ebgp_requires_policy`.
pub const DEFAULT_EBGP_REQUIRES_POLICY: bool = true;
/// Default of `enforce_first_as` (global and per neighbor): an external
/// neighbor's AS_PATH must start with its AS (RFC 4271 §6.3), FRR's default.
pub const DEFAULT_ENFORCE_FIRST_AS: bool = true;

/// `[global] bfd_realtime_priority`: SCHED_FIFO 1, the lowest real-time
/// priority, ahead of every ordinary thread and behind every other real-time one.
pub const DEFAULT_BFD_REALTIME_PRIORITY: u8 = 1;
/// AS_TRANS (RFC 6793 §9): stands in for a 4-octet ASN towards old speakers.
pub const AS_TRANS: u32 = 23456;

/// A whole `bgpd` configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub global: Global,
    pub api: Api,
    pub neighbors: Vec<Neighbor>,
    /// `[[neighbors]]` with `interface` instead of `address` (BGP unnumbered),
    /// in file order. Their `address` is `::` here: the instance finds the
    /// peer's link-local address on the interface and starts the session
    /// with a copy that holds it (see `crate::unnumbered`).
    pub interface_neighbors: Vec<Neighbor>,
    pub routes: Vec<StaticRoute>,
    /// `[[layer2]]`: addresses answered for by ARP/NDP, in file order.
    pub layer2: Vec<Announcement>,
    /// `[layer2_gratuitous]`, defaults filled in.
    pub layer2_gratuitous: GratuitousSettings,
    /// `[metrics]`: `None` (no listener) when the section is absent.
    pub metrics: Option<Metrics>,
    /// The compiled `[[prefix_sets]]` ... `[[policies]]`, shared with the RIB
    /// and kept across reloads that do not change them.
    pub policies: Policies,
}

/// The compiled policy book of a configuration (always holds the built-ins
/// `accept-all` and `reject-all`). Two are equal when their definitions are.
#[derive(Clone, Debug, Default)]
pub struct Policies(pub Arc<PolicyBook>);

impl PartialEq for Policies {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.definitions() == other.0.definitions()
    }
}

impl Eq for Policies {}

impl std::ops::Deref for Policies {
    type Target = PolicyBook;

    fn deref(&self) -> &PolicyBook {
        &self.0
    }
}

/// `[metrics]`: where `/metrics`, `/healthz` and `/readyz` are served.
/// Read at start only: a reload does not move the listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metrics {
    /// `listen = "IP:PORT"`; port 0 takes a free port (logged).
    pub listen: SocketAddr,
}

/// The default `[metrics] listen`, the port FRR's and GoBGP's exporters leave free.
pub const DEFAULT_METRICS_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9179);

impl Config {
    /// The neighbour configured at `address`, if any (addresses are unique).
    pub fn neighbor(&self, address: IpAddr) -> Option<&Neighbor> {
        self.neighbors.iter().find(|n| n.address == address)
    }

    /// Whether `neighbor` is in our own AS (RFC 4271 §1.1 "internal peer").
    pub fn is_ibgp(&self, neighbor: &Neighbor) -> bool {
        neighbor.is_ibgp(self.global.asn)
    }
}

/// `[global]`: what the whole speaker is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    /// Our AS number, 4-octet (RFC 6793).
    pub asn: u32,
    /// BGP Identifier (RFC 6286): non-zero.
    pub router_id: Ipv4Addr,
    /// TCP port we accept sessions on; 0 means we never listen, only connect out.
    pub listen_port: u16,
    /// Addresses we listen on (unique; non-empty when `listen_port` is not 0).
    /// The default holds both `0.0.0.0` and `::`, so IPv6 listeners must set
    /// `IPV6_V6ONLY` for the two to coexist on one port.
    pub listen_addresses: Vec<IpAddr>,
    /// Default hold time of neighbours, seconds.
    pub hold_time: u16,
    /// Default connect retry time of neighbours, seconds.
    pub connect_retry_time: u16,
    pub log_level: LogLevel,
    /// How log lines are written (`log_format`; `--log-format` overrides).
    pub log_format: LogFormat,
    /// Where the graceful restart state file lives (see `gr`).
    pub state_dir: PathBuf,
    /// Longest wait for the peers' End-of-RIB after a restart, seconds (RFC
    /// 4724 §4.1 Selection_Deferral_Timer).
    pub selection_deferral_time: u16,
    /// RFC 8212: an eBGP neighbor without `import_policy` imports nothing and
    /// one without `export_policy` exports nothing. iBGP is not affected.
    pub ebgp_requires_policy: bool,
    /// Default of the neighbors' `enforce_first_as`.
    pub enforce_first_as: bool,
    /// The BFD thread's SCHED_FIFO priority, 1..=99; 0 leaves it an ordinary
    /// thread (see `bfd::io::raise_priority`).
    pub bfd_realtime_priority: u8,
}

impl Global {
    /// The sockets to listen on: empty when `listen_port` is 0.
    pub fn listen_sockets(&self) -> Vec<SocketAddr> {
        if self.listen_port == 0 {
            return Vec::new();
        }
        self.listen_addresses.iter().map(|a| SocketAddr::new(*a, self.listen_port)).collect()
    }
}

/// Verbosity of the daemon's log.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The name in config files, which is also a `tracing` filter directive.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Self> {
        [Self::Error, Self::Warn, Self::Info, Self::Debug, Self::Trace]
            .into_iter()
            .find(|level| level.name() == name)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the daemon writes its log: human text or one JSON object per line
/// (for log pipelines), with the same fields either way.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }

    /// `"text"` or `"json"`.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Text, Self::Json].into_iter().find(|format| format.name() == name)
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `[api]`: where the gRPC API listens, and what a client may hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Api {
    pub listen: ApiListen,
    pub limits: ApiLimits,
}

impl Default for ApiListen {
    fn default() -> Self {
        ApiListen::Tcp(DEFAULT_API_LISTEN)
    }
}

/// The bounds on what API clients can hold (README "Limits"). Each is an
/// `[api]` key; the defaults keep an idle or stalled client set from
/// costing more than a few hundred MB or a quarter of a 1,024-fd budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiLimits {
    /// `max_connections`: open API connections (TCP or Unix); one more is
    /// accepted and closed at once.
    pub max_connections: u32,
    /// `idle_timeout` (seconds): a connection from which nothing arrives for
    /// this long is closed. HTTP/2 PINGs (every third of it) keep a live
    /// client's quiet connection, such as a `Watch` with nothing to say, open.
    pub idle_timeout: std::time::Duration,
    /// `session_open_timeout` (seconds): a `Session` stream must send `open`
    /// within this time, or it ends with DEADLINE_EXCEEDED.
    pub session_open_timeout: std::time::Duration,
    /// `max_watchers`: concurrent `Watch` streams; one more is refused with
    /// RESOURCE_EXHAUSTED.
    pub max_watchers: u32,
    /// `watch_buffer_events`: events queued for one watcher that its client
    /// has not taken; one more and its stream ends with RESOURCE_EXHAUSTED.
    pub watch_buffer_events: u32,
    /// `max_message_bytes`: largest request message (a `SetPaths` of one
    /// million IPv4 /32s is 17 to 35 MB, depending on its attributes).
    pub max_message_bytes: u32,
}

/// Default `[api] max_connections`.
pub const DEFAULT_API_MAX_CONNECTIONS: u32 = 256;
/// Default `[api] idle_timeout`, seconds.
pub const DEFAULT_API_IDLE_TIMEOUT: u32 = 120;
/// Default `[api] session_open_timeout`, seconds.
pub const DEFAULT_API_SESSION_OPEN_TIMEOUT: u32 = 10;
/// Default `[api] max_watchers`.
pub const DEFAULT_API_MAX_WATCHERS: u32 = 16;
/// Default `[api] watch_buffer_events`: one bulk `SetPaths` of 100,000
/// paths fits.
pub const DEFAULT_API_WATCH_BUFFER_EVENTS: u32 = 131_072;
/// Default `[api] max_message_bytes`: 64 MiB.
pub const DEFAULT_API_MAX_MESSAGE_BYTES: u32 = 64 << 20;

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_API_MAX_CONNECTIONS,
            idle_timeout: std::time::Duration::from_secs(DEFAULT_API_IDLE_TIMEOUT.into()),
            session_open_timeout: std::time::Duration::from_secs(
                DEFAULT_API_SESSION_OPEN_TIMEOUT.into(),
            ),
            max_watchers: DEFAULT_API_MAX_WATCHERS,
            watch_buffer_events: DEFAULT_API_WATCH_BUFFER_EVENTS,
            max_message_bytes: DEFAULT_API_MAX_MESSAGE_BYTES,
        }
    }
}

/// A TCP socket or a Unix socket path (`unix:/run/ironlb/bgpd.sock`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiListen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl fmt::Display for ApiListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(socket) => socket.fmt(f),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A TCP MD5 key (RFC 2385), 1..=80 bytes. Its `Debug` hides it, so it never
/// reaches a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub(crate) fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The key as handed to `TCP_MD5SIG`.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password(<{} bytes>)", self.0.len())
    }
}

/// How a session uses the IP TTL.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum TtlPolicy {
    /// Plain BGP: eBGP packets leave with TTL `hops` (`ebgp_multihop`), iBGP ones
    /// with 255; any received TTL is accepted.
    Multihop { hops: u8 },
    /// GTSM (RFC 5082): send TTL 255 and drop packets that arrive with a TTL
    /// below `256 - hops`, so nothing farther than `hops` away can reach the session.
    Security { hops: u8 },
}

impl TtlPolicy {
    /// The TTL to set on the session's socket.
    pub fn outgoing_ttl(self, ibgp: bool) -> u8 {
        match self {
            Self::Multihop { hops } if !ibgp => hops,
            _ => 255,
        }
    }

    /// How many hops away the peer may be: `ebgp_multihop` or the GTSM hop
    /// count (1: directly connected).
    pub fn hops(self) -> u8 {
        match self {
            Self::Multihop { hops } | Self::Security { hops } => hops.max(1),
        }
    }

    /// The smallest TTL to accept (`IP_MINTTL`), under GTSM only.
    pub fn minimum_incoming_ttl(self) -> Option<u8> {
        match self {
            Self::Security { hops } => Some(255 - hops.saturating_sub(1).min(254)),
            Self::Multihop { .. } => None,
        }
    }
}

/// A peer AS given by its relation to ours (`dynamic_asn`), as MetalLB's `dynamicASN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynamicAsn {
    /// Our AS: `remote_asn` is set to it.
    Internal,
    /// Any AS but ours, learned from the peer's OPEN: `remote_asn` is 0.
    External,
}

/// `[[neighbors]]`: one configured session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    /// The peer's address; unique among neighbours. For an interface
    /// neighbor, `::` until its link-local address is discovered.
    pub address: IpAddr,
    /// `interface`: BGP unnumbered over this interface (FRR's `neighbor IFNAME
    /// interface`), the peer found by its IPv6 link-local address there.
    pub interface: Option<Interface>,
    /// The AS the peer must announce; 0 with [`DynamicAsn::External`].
    pub remote_asn: u32,
    /// The AS was given as internal or external instead of by number.
    pub dynamic_asn: Option<DynamicAsn>,
    /// The peer's TCP port, for connections we open.
    pub port: u16,
    /// Source address of connections we open; same family as `address`.
    pub local_address: Option<IpAddr>,
    /// Never connect out; wait for the peer to connect.
    pub passive: bool,
    pub password: Option<Password>,
    /// Hold time we offer in OPEN, seconds: 0 or at least 3 (RFC 4271 §4.2).
    pub hold_time: u16,
    /// Seconds between KEEPALIVEs: `hold_time / 3` unless set; 0 iff `hold_time` is 0.
    /// The session uses the smaller of this and a third of the negotiated hold time.
    pub keepalive_time: u16,
    pub connect_retry_time: u16,
    /// DelayOpenTime (RFC 4271 §8.1.1), seconds; 0 disables DelayOpen.
    pub delay_open_time: u16,
    pub ttl: TtlPolicy,
    /// Families offered in the Multiprotocol capability (RFC 4760 §8); unique, non-empty.
    pub families: Vec<Family>,
    pub description: Option<String>,
    /// `false` is administrative shutdown: no session is started or accepted.
    pub enabled: bool,
    /// Announce our own address as next hop to this iBGP peer too (eBGP
    /// peers always get it), for iBGP peers that cannot resolve the next hops
    /// we learned from eBGP peers (no IGP between them).
    pub next_hop_self: bool,
    /// `[neighbors.graceful_restart]`; `None` when the table is absent: no
    /// capability, routes flushed whenever the session drops.
    pub graceful_restart: Option<crate::gr::Settings>,
    /// Names of the policies applied to routes received from the neighbor, in
    /// order (a chain, see `crate::policy`); empty: none configured.
    pub import_policy: Vec<String>,
    /// Names of the policies applied to routes sent to the neighbor.
    pub export_policy: Vec<String>,
    /// Keep the routes as received (before import policy) so that a changed
    /// import policy is applied without asking the peer for them again.
    pub soft_reconfiguration_inbound: bool,
    /// `[neighbors.bfd]` (RFC 5880, 5882); `None` when the table is absent.
    pub bfd: Option<BfdSettings>,
    /// `[neighbors.max_prefixes]` (RFC 4486 §4); `None`: no limit.
    pub max_prefixes: Option<super::MaxPrefixes>,
    /// Our AS towards this neighbor (FRR's `local-as`, MetalLB's `myASN`):
    /// the OPEN, iBGP/eBGP and AS_PATH prepending use it. `None`: `global.asn`.
    pub local_asn: Option<u32>,
    /// Our BGP identifier towards this neighbor (MetalLB's `routerID`): the
    /// OPEN and collision resolution use it. `None`: `global.router_id`.
    pub router_id: Option<Ipv4Addr>,
    /// An UPDATE from this external neighbor whose AS_PATH does not start
    /// with its AS is treated as withdraw (RFC 4271 §6.3, RFC 7606 §7.2).
    /// `false` for a route server that does not prepend its AS (RFC 7947
    /// §2.2.2.1). No effect on iBGP neighbors.
    pub enforce_first_as: bool,
    /// The network device (a VRF device, or any interface) the session's
    /// sockets are bound to with `SO_BINDTODEVICE`: the connection we open
    /// and a listener of its own on that device (`instance::devices`), so
    /// routing uses that device's table and only connections arriving on it
    /// are accepted for this neighbor. `None`: the default VRF, any device.
    pub vrf: Option<String>,
}

impl Neighbor {
    /// A neighbour with every optional key at its default, as a config that names
    /// only `address` and `remote_asn` gives (global defaults assumed).
    pub fn with_defaults(address: IpAddr, remote_asn: u32) -> Self {
        let family = match address {
            IpAddr::V4(_) => Family::Ipv4Unicast,
            IpAddr::V6(_) => Family::Ipv6Unicast,
        };
        Self {
            address,
            interface: None,
            remote_asn,
            dynamic_asn: None,
            port: DEFAULT_PORT,
            local_address: None,
            passive: false,
            password: None,
            hold_time: DEFAULT_HOLD_TIME,
            keepalive_time: DEFAULT_HOLD_TIME / 3,
            connect_retry_time: DEFAULT_CONNECT_RETRY_TIME,
            delay_open_time: 0,
            ttl: TtlPolicy::Multihop { hops: DEFAULT_EBGP_MULTIHOP },
            families: vec![family],
            description: None,
            enabled: true,
            next_hop_self: false,
            graceful_restart: None,
            import_policy: Vec::new(),
            export_policy: Vec::new(),
            soft_reconfiguration_inbound: false,
            bfd: None,
            max_prefixes: None,
            local_asn: None,
            router_id: None,
            enforce_first_as: DEFAULT_ENFORCE_FIRST_AS,
            vrf: None,
        }
    }

    /// Whether the peer is in our AS towards it (`remote_asn` equals its
    /// `local_asn`, else `global_asn`).
    pub fn is_ibgp(&self, global_asn: u32) -> bool {
        self.remote_asn == self.own_asn(global_asn)
    }

    /// Our AS towards this neighbor: its `local_asn`, else `global_asn`.
    pub fn own_asn(&self, global_asn: u32) -> u32 {
        self.local_asn.unwrap_or(global_asn)
    }

    /// Our BGP identifier towards this neighbor: its `router_id`, else `global`.
    pub fn own_router_id(&self, global: Ipv4Addr) -> Ipv4Addr {
        self.router_id.unwrap_or(global)
    }

    /// Whether the peer may announce any AS but ours ([`DynamicAsn::External`]).
    pub fn any_external_as(&self) -> bool {
        self.dynamic_asn == Some(DynamicAsn::External)
    }

    /// Where we connect to: a link-local address scoped to the interface
    /// of an interface neighbor (`fe80::x%ifindex`).
    pub fn remote_socket(&self) -> SocketAddr {
        match (self.address, &self.interface) {
            (IpAddr::V6(address), Some(interface)) => {
                SocketAddr::V6(SocketAddrV6::new(address, self.port, 0, interface.index))
            }
            (address, _) => SocketAddr::new(address, self.port),
        }
    }

    /// How logs name the neighbor: its address, or for an interface
    /// neighbor the interface and the address found on it (`eth1 fe80::1`).
    pub fn display_name(&self) -> String {
        match &self.interface {
            Some(interface) => format!("{} {}", interface.name, self.address),
            None => self.address.to_string(),
        }
    }

    /// The BFD session this neighbor needs, if BFD is enabled: single hop
    /// (RFC 5881) unless the neighbor is more than one hop away
    /// ([`TtlPolicy::hops`] > 1: multihop, RFC 5883).
    pub fn bfd_session(&self) -> Option<crate::bfd::SessionConfig> {
        self.bfd.filter(|b| b.enabled).map(|b| b.session_config(self.ttl))
    }
}

/// The interface of an interface neighbor (BGP unnumbered).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Interface {
    /// The name as configured: 1 to 15 bytes (Linux `IFNAMSIZ` - 1).
    pub name: String,
    /// The kernel's index of it, the scope of the peer's link-local address;
    /// 0 in the config, set when the interface is found.
    pub index: u32,
}

/// Default BFD intervals, ms: MetalLB's default profile (300 ms × 3).
pub const DEFAULT_BFD_INTERVAL_MS: u32 = 300;
/// Default BFD Detect Mult.
pub const DEFAULT_BFD_MULTIPLIER: u8 = 3;

/// `[neighbors.bfd]`: a BFD session beside the BGP session (RFC 5880,
/// coupling per RFC 5882). Echo mode is not implemented, so it has no field:
/// `echo = true` is refused by validation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct BfdSettings {
    pub enabled: bool,
    /// bfd.RequiredMinRxInterval, ms.
    pub min_rx_ms: u32,
    /// bfd.DesiredMinTxInterval, ms.
    pub min_tx_ms: u32,
    /// bfd.DetectMult.
    pub multiplier: u8,
    /// Wait for the peer's first packet before sending (RFC 5880 §6.1).
    pub passive: bool,
    /// FRR's `check-control-plane-failure`: a BFD Down is ignored (BGP
    /// session kept, its hold timer and graceful restart decide) when the
    /// peer advertised graceful restart and its BFD says it shares fate with
    /// its control plane (C bit clear): the failure may be a control-plane
    /// restart the GR helper is there to ride out (RFC 5882 §4.3). Off: every
    /// BFD Down tears the session down.
    pub check_control_plane_failure: bool,
}

impl Default for BfdSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            min_rx_ms: DEFAULT_BFD_INTERVAL_MS,
            min_tx_ms: DEFAULT_BFD_INTERVAL_MS,
            multiplier: DEFAULT_BFD_MULTIPLIER,
            passive: false,
            check_control_plane_failure: false,
        }
    }
}

impl BfdSettings {
    /// The driver's session config for a neighbor with this TTL policy.
    /// Multihop accepts packets that crossed up to `hops - 1` routers (TTL
    /// 255 sent: at least `256 - hops` received; 254 for 2 hops, FRR's and
    /// MetalLB's default `minimumTtl`).
    pub fn session_config(&self, ttl: TtlPolicy) -> crate::bfd::SessionConfig {
        use std::time::Duration;
        let hops = ttl.hops();
        crate::bfd::SessionConfig {
            timers: crate::bfd::Timers {
                desired_min_tx: Duration::from_millis(u64::from(self.min_tx_ms)),
                required_min_rx: Duration::from_millis(u64::from(self.min_rx_ms)),
                detect_multiplier: self.multiplier,
            },
            passive: self.passive,
            hop: if hops > 1 {
                crate::bfd::Hop::Multi { min_ttl: 255 - (hops - 1) }
            } else {
                crate::bfd::Hop::Single
            },
            control_plane_independent: false,
        }
    }
}

/// `[[routes]]`: a route we originate from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticRoute {
    /// Without host bits; unique among routes.
    pub prefix: IpNet,
    /// `None`: our own address on each session (RFC 4271 §5.1.3), which is what
    /// a load balancer wants.
    pub next_hop: Option<NextHop>,
    pub origin: Origin,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub extended_communities: Vec<ExtendedCommunity>,
    /// Sent to iBGP neighbours only (RFC 4271 §5.1.5).
    pub local_pref: u32,
    /// `None`: no MULTI_EXIT_DISC attribute.
    pub med: Option<u32>,
    /// Extra copies of our ASN prepended towards eBGP neighbours, to make this
    /// path less preferred (e.g. on a backup node).
    pub as_path_prepend: u8,
}

impl StaticRoute {
    /// A route with every optional key at its default.
    pub fn with_defaults(prefix: IpNet) -> Self {
        Self {
            prefix,
            next_hop: None,
            origin: Origin::Igp,
            communities: Vec::new(),
            large_communities: Vec::new(),
            extended_communities: Vec::new(),
            local_pref: DEFAULT_LOCAL_PREF,
            med: None,
            as_path_prepend: 0,
        }
    }

    pub fn family(&self) -> Family {
        match self.prefix {
            IpNet::V4(_) => Family::Ipv4Unicast,
            IpNet::V6(_) => Family::Ipv6Unicast,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_policy_outgoing_and_minimum() {
        let ebgp = TtlPolicy::Multihop { hops: 1 };
        assert_eq!(ebgp.outgoing_ttl(false), 1);
        assert_eq!(ebgp.outgoing_ttl(true), 255);
        assert_eq!(ebgp.minimum_incoming_ttl(), None);
        let gtsm = TtlPolicy::Security { hops: 1 };
        assert_eq!(gtsm.outgoing_ttl(false), 255);
        assert_eq!(gtsm.minimum_incoming_ttl(), Some(255));
        assert_eq!(TtlPolicy::Security { hops: 3 }.minimum_incoming_ttl(), Some(253));
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let debug = format!("{:?}", Password::new("hunter2".to_string()));
        assert_eq!(debug, "Password(<7 bytes>)");
    }

    #[test]
    fn listen_port_zero_means_no_sockets() {
        let mut global = Global {
            asn: 65001,
            router_id: Ipv4Addr::new(192, 0, 2, 1),
            listen_port: 179,
            listen_addresses: vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
            hold_time: DEFAULT_HOLD_TIME,
            connect_retry_time: DEFAULT_CONNECT_RETRY_TIME,
            log_level: LogLevel::Info,
            log_format: LogFormat::Text,
            state_dir: PathBuf::from(crate::gr::DEFAULT_STATE_DIR),
            selection_deferral_time: crate::gr::DEFAULT_SELECTION_DEFERRAL_TIME,
            ebgp_requires_policy: DEFAULT_EBGP_REQUIRES_POLICY,
            enforce_first_as: DEFAULT_ENFORCE_FIRST_AS,
            bfd_realtime_priority: DEFAULT_BFD_REALTIME_PRIORITY,
        };
        assert_eq!(global.listen_sockets().len(), 1);
        global.listen_port = 0;
        assert!(global.listen_sockets().is_empty());
    }
}
