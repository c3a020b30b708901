//! An FRR 8.4 `bgpd` inside a namespace: config builder, start with `-Z`, and `vtysh` queries
//! parsed from JSON.
//!
//! Only FRR's `bgpd` runs (no zebra): with `-Z` nothing goes to a kernel FIB and every next hop
//! counts as valid, which is what a route-exchange test wants. With [`FrrConfig::bfd`] set,
//! `zebra` and `bfdd` run beside `bgpd` (bgpd reaches bfdd only through zebra), every
//! neighbour gets `neighbor X bfd profile ironlb`, and `zebra` programs the namespace's FIB. Each instance has its own
//! directory for config, pid file, vty socket and log, so several FRRs never meet.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde_json::Value;

use crate::netns::{Namespace, Process};
use crate::{Family, HarnessError, Result, TempDir, require_program, wait_until};

mod bfd;
pub use bfd::FrrBfd;

const FRR_BGPD: &str = "/usr/lib/frr/bgpd";

/// One `neighbor` of FRR's `router bgp`.
#[derive(Debug, Clone)]
pub struct FrrNeighbor {
    pub address: IpAddr,
    pub remote_as: u32,
    pub password: Option<String>,
    pub passive: bool,
    /// (keepalive, hold) in seconds.
    pub timers: (u16, u16),
    pub connect_retry: u16,
    pub ebgp_multihop: Option<u8>,
    /// GTSM (`neighbor X ttl-security hops N`).
    pub ttl_security: Option<u8>,
    pub update_source: Option<String>,
    pub families: Vec<Family>,
    /// Sends an OPEN without capabilities: a 2-octet-only speaker for AS_TRANS tests.
    pub dont_capability_negotiate: bool,
    /// Global IPv6 next hop for IPv6 routes sent over an IPv4 session. Without zebra (`-Z`)
    /// FRR knows no interface address and would announce `::`.
    pub ipv6_next_hop: Option<IpAddr>,
}

impl FrrNeighbor {
    /// A neighbour with short test timers (3/9 s, connect retry 1 s), IPv4 unicast.
    pub fn new(address: IpAddr, remote_as: u32) -> Self {
        Self {
            address,
            remote_as,
            password: None,
            passive: false,
            timers: (3, 9),
            connect_retry: 1,
            ebgp_multihop: None,
            ttl_security: None,
            update_source: None,
            families: vec![if address.is_ipv4() {
                Family::Ipv4Unicast
            } else {
                Family::Ipv6Unicast
            }],
            dont_capability_negotiate: false,
            ipv6_next_hop: None,
        }
    }

    pub fn families(mut self, families: &[Family]) -> Self {
        self.families = families.to_vec();
        self
    }

    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }

    /// (keepalive, hold) in seconds.
    pub fn timers(mut self, keepalive: u16, hold: u16) -> Self {
        self.timers = (keepalive, hold);
        self
    }

    /// An OPEN without capabilities: FRR acts as a 2-octet-ASN, IPv4-only speaker.
    pub fn dont_capability_negotiate(mut self) -> Self {
        self.dont_capability_negotiate = true;
        self
    }
}

/// A route FRR originates with `network P route-map ...`, attributes set by that route-map.
#[derive(Debug, Clone, Default)]
pub struct FrrNetwork {
    pub prefix: Option<IpNet>,
    pub med: Option<u32>,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
    pub local_pref: Option<u32>,
}

impl FrrNetwork {
    pub fn new(prefix: IpNet) -> Self {
        Self { prefix: Some(prefix), ..Self::default() }
    }

    fn family(&self) -> Family {
        match self.prefix {
            Some(IpNet::V6(_)) => Family::Ipv6Unicast,
            _ => Family::Ipv4Unicast,
        }
    }
}

/// Graceful restart knobs (RFC 4724).
#[derive(Debug, Clone, Copy)]
pub struct FrrGracefulRestart {
    pub restart_time: u16,
    pub stalepath_time: u16,
}

/// Builder for `frr.conf`.
#[derive(Debug, Clone)]
pub struct FrrConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub neighbors: Vec<FrrNeighbor>,
    pub networks: Vec<FrrNetwork>,
    pub graceful_restart: Option<FrrGracefulRestart>,
    /// `log file ... LEVEL`; benchmarks lower it to `warnings` (one log line per prefix
    /// otherwise costs a fifth of FRR's time with `-Z`).
    pub log_level: &'static str,
    /// Raw lines appended inside `router bgp`.
    pub extra: Vec<String>,
    /// BFD with every neighbour (runs zebra and bfdd too).
    pub bfd: Option<FrrBfd>,
    /// Runs zebra beside bgpd with this text as `zebra.conf` (after its log
    /// line): what `neighbor IFNAME interface` (BGP unnumbered) needs, since
    /// zebra sends and hears the Router Advertisements that find the peer.
    pub zebra: Option<String>,
}

impl FrrConfig {
    pub fn new(asn: u32, router_id: Ipv4Addr) -> Self {
        Self {
            asn,
            router_id,
            neighbors: Vec::new(),
            networks: Vec::new(),
            graceful_restart: None,
            log_level: "debugging",
            extra: Vec::new(),
            bfd: None,
            zebra: None,
        }
    }

    pub fn neighbor(mut self, neighbor: FrrNeighbor) -> Self {
        self.neighbors.push(neighbor);
        self
    }

    pub fn network(mut self, network: FrrNetwork) -> Self {
        self.networks.push(network);
        self
    }

    /// Renders `frr.conf`; `log` is the log file path.
    pub fn render(&self, log: &std::path::Path) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "frr defaults traditional");
        let _ = writeln!(c, "hostname frr{}", self.asn);
        let _ = writeln!(c, "log file {} {}", log.display(), self.log_level);
        for (index, network) in self.networks.iter().enumerate() {
            let _ = writeln!(c, "route-map NET{index} permit 10");
            for line in route_map_sets(network) {
                let _ = writeln!(c, "{line}");
            }
            let _ = writeln!(c, "exit");
        }
        for (index, n) in self.neighbors.iter().enumerate() {
            if let Some(next_hop) = n.ipv6_next_hop {
                let _ = writeln!(c, "route-map V6NH{index} permit 10");
                let _ = writeln!(c, " set ipv6 next-hop global {next_hop}");
                let _ = writeln!(c, "exit");
            }
        }
        let _ = writeln!(c, "router bgp {}", self.asn);
        let _ = writeln!(c, " bgp router-id {}", self.router_id);
        let _ = writeln!(c, " no bgp ebgp-requires-policy");
        let _ = writeln!(c, " no bgp network import-check");
        let _ = writeln!(c, " no bgp default ipv4-unicast");
        if let Some(gr) = self.graceful_restart {
            let _ = writeln!(c, " bgp graceful-restart");
            let _ = writeln!(c, " bgp graceful-restart restart-time {}", gr.restart_time);
            let _ = writeln!(c, " bgp graceful-restart stalepath-time {}", gr.stalepath_time);
        }
        for n in &self.neighbors {
            let a = n.address;
            let _ = writeln!(c, " neighbor {a} remote-as {}", n.remote_as);
            let _ = writeln!(c, " neighbor {a} timers {} {}", n.timers.0, n.timers.1);
            let _ = writeln!(c, " neighbor {a} timers connect {}", n.connect_retry);
            if let Some(password) = &n.password {
                let _ = writeln!(c, " neighbor {a} password {password}");
            }
            if n.passive {
                let _ = writeln!(c, " neighbor {a} passive");
            }
            if let Some(hops) = n.ebgp_multihop {
                let _ = writeln!(c, " neighbor {a} ebgp-multihop {hops}");
            }
            if let Some(hops) = n.ttl_security {
                let _ = writeln!(c, " neighbor {a} ttl-security hops {hops}");
            }
            if let Some(source) = &n.update_source {
                let _ = writeln!(c, " neighbor {a} update-source {source}");
            }
            if n.dont_capability_negotiate {
                let _ = writeln!(c, " neighbor {a} dont-capability-negotiate");
            }
            if self.bfd.is_some() {
                let _ = writeln!(c, " neighbor {a} bfd");
                let _ = writeln!(c, " neighbor {a} bfd profile ironlb");
            }
        }
        let _ = writeln!(c, "{}", self.extra.join("\n"));
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            let _ = writeln!(c, " address-family {}", frr_family(family));
            for (index, network) in self.networks.iter().enumerate() {
                if network.family() == family
                    && let Some(prefix) = network.prefix
                {
                    let _ = writeln!(c, "  network {prefix} route-map NET{index}");
                }
            }
            for (index, n) in self.neighbors.iter().enumerate() {
                if !n.families.contains(&family) {
                    continue;
                }
                let _ = writeln!(c, "  neighbor {} activate", n.address);
                if family == Family::Ipv6Unicast && n.ipv6_next_hop.is_some() {
                    let _ = writeln!(c, "  neighbor {} route-map V6NH{index} out", n.address);
                }
            }
            let _ = writeln!(c, " exit-address-family");
        }
        c
    }
}

/// The `set ...` lines giving a network its attributes.
fn route_map_sets(network: &FrrNetwork) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(med) = network.med {
        lines.push(format!(" set metric {med}"));
    }
    if !network.communities.is_empty() {
        lines.push(format!(" set community {}", network.communities.join(" ")));
    }
    if !network.large_communities.is_empty() {
        lines.push(format!(" set large-community {}", network.large_communities.join(" ")));
    }
    if let Some(local_pref) = network.local_pref {
        lines.push(format!(" set local-preference {local_pref}"));
    }
    lines
}

fn frr_family(family: Family) -> &'static str {
    match family {
        Family::Ipv4Unicast => "ipv4 unicast",
        Family::Ipv6Unicast => "ipv6 unicast",
    }
}

/// A session as FRR reports it in `show bgp neighbors X json`.
#[derive(Debug, Clone, Default)]
pub struct FrrNeighborStatus {
    pub state: String,
    pub last_reset: Option<String>,
    pub last_notification: Option<String>,
    /// `lastErrorCodeSubcode`, e.g. `"0202"` for OPEN / Bad Peer AS.
    pub last_error_code_subcode: Option<String>,
    pub notifications_sent: u64,
    pub notifications_received: u64,
    pub established_count: u64,
}

/// The best path for one prefix with the attributes tests check.
#[derive(Debug, Clone, Default)]
pub struct FrrRoute {
    pub prefix: String,
    pub next_hops: Vec<String>,
    pub as_path: String,
    pub med: Option<u64>,
    pub local_pref: Option<u64>,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
    /// Kept from a restarting peer, not yet refreshed (RFC 4724).
    pub stale: bool,
    /// When FRR installed this path (`lastUpdate.epoch`, seconds): a path withdrawn and
    /// learned again gets a new one, a refreshed stale path keeps it.
    pub last_update: Option<u64>,
}

/// One of FRR's paths for a prefix ([`Frr::paths`]).
#[derive(Debug, Clone)]
pub struct FrrPath {
    /// The address of the peer it was learned from.
    pub from: String,
    /// FRR's best path for the prefix.
    pub best: bool,
    pub route: FrrRoute,
}

/// A running FRR `bgpd`; killed on drop.
#[derive(Debug)]
pub struct Frr {
    process: Process,
    /// zebra and bfdd when BFD is on (killed on drop).
    helpers: Vec<Process>,
    dir: TempDir,
    namespace: Namespace,
    asn: u32,
}

impl Frr {
    /// Writes the config and starts `bgpd -Z` inside `namespace`; returns once its vty answers.
    pub fn start(namespace: &Namespace, config: &FrrConfig) -> Result<Self> {
        let program = require_program(FRR_BGPD, "frr")?;
        require_program("vtysh", "frr")?;
        let dir = TempDir::new("frr")?;
        let log = dir.join("bgpd.log");
        let conf = dir.write("frr.conf", &config.render(&log))?;
        let path = |p: PathBuf| p.display().to_string();
        let mut helpers = Vec::new();
        let zserv = dir.join("zserv.api");
        let first = match (config.bfd, &config.zebra) {
            (None, None) => "-Z".to_owned(),
            (Some(bfd), _) => {
                helpers = bfd::start_helpers(namespace, &dir, &zserv, &bfd)?;
                "-z".to_owned()
            }
            (None, Some(zebra_conf)) => {
                helpers.push(bfd::start_zebra(namespace, &dir, &zserv, zebra_conf)?);
                "-z".to_owned()
            }
        };
        let mut args = vec![
            first,
            "-S".to_owned(),
            "-u".to_owned(),
            "root".to_owned(),
            "-g".to_owned(),
            "root".to_owned(),
            "-f".to_owned(),
            path(conf),
            "-i".to_owned(),
            path(dir.join("bgpd.pid")),
            "--vty_socket".to_owned(),
            dir.path().display().to_string(),
            "-P".to_owned(),
            "0".to_owned(),
        ];
        if config.bfd.is_some() || config.zebra.is_some() {
            args.insert(1, path(zserv));
        }
        let process = namespace.spawn("frr-bgpd", &program, &args, &dir.join("stdout.log"))?;
        let mut frr = Self { process, helpers, dir, namespace: namespace.clone(), asn: config.asn };
        let stdout_log = frr.dir.join("stdout.log");
        wait_until(
            "FRR's vty socket",
            Duration::from_secs(10),
            Duration::from_millis(50),
            || {
                if let Err(error) = frr.process.check_running() {
                    return Some(Err(error));
                }
                frr.vtysh(&["show bgp summary json"]).ok().map(|_| Ok(()))
            },
            move || crate::tail(&stdout_log, 20),
        )??;
        frr.process.check_running()?;
        Ok(frr)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }

    /// bgpd's vty socket (what `vtysh` talks to), for clients that keep one connection
    /// open and query it many times (the benchmarks).
    pub fn vty_socket(&self) -> PathBuf {
        self.dir.join("bgpd.vty")
    }

    /// Runs `vtysh -c C1 -c C2 ...` against this instance and returns stdout.
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        self.vtysh_at(self.dir.path().display().to_string(), commands)
    }

    fn vtysh_at(&self, socket_dir: String, commands: &[&str]) -> Result<String> {
        let mut args = vec!["--vty_socket".to_owned(), socket_dir];
        for command in commands {
            args.push("-c".to_owned());
            args.push((*command).to_owned());
        }
        let out = crate::netns::run("vtysh", &args)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn json(&self, command: &str) -> Result<Value> {
        let text = self.vtysh(&[command])?;
        serde_json::from_str(&text).map_err(|e| HarnessError::Parse {
            command: command.to_owned(),
            reason: e.to_string(),
            output: text.chars().take(2000).collect(),
        })
    }

    /// Runs configuration commands under `configure terminal` (e.g. to add a network).
    pub fn configure(&self, lines: &[&str]) -> Result<String> {
        let mut all = vec!["configure terminal"];
        all.extend_from_slice(lines);
        self.vtysh(&all)
    }

    /// Starts originating `prefix` at run time.
    pub fn add_network(&self, prefix: IpNet) -> Result<()> {
        let family = frr_family(family_of(prefix));
        let router = format!("router bgp {}", self.asn);
        let af = format!("address-family {family}");
        let network = format!("network {prefix}");
        self.configure(&[&router, &af, &network]).map(drop)
    }

    /// Originates `network` at run time with its attributes, or changes the attributes of a
    /// network already originated (FRR sends the new path as an implicit withdraw-replace).
    pub fn announce(&self, network: &FrrNetwork) -> Result<()> {
        let Some(prefix) = network.prefix else {
            return Ok(());
        };
        let route_map = format!("RUN{}", crate::unique_name(""));
        let mut lines = vec![format!("route-map {route_map} permit 10")];
        lines.extend(route_map_sets(network));
        lines.push("exit".to_owned());
        lines.push(format!("router bgp {}", self.asn));
        lines.push(format!("address-family {}", frr_family(family_of(prefix))));
        lines.push(format!("network {prefix} route-map {route_map}"));
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        self.configure(&lines).map(drop)
    }

    /// Stops originating `prefix` (a withdrawal towards every peer).
    pub fn remove_network(&self, prefix: IpNet) -> Result<()> {
        let family = frr_family(family_of(prefix));
        let router = format!("router bgp {}", self.asn);
        let af = format!("address-family {family}");
        let network = format!("no network {prefix}");
        self.configure(&[&router, &af, &network]).map(drop)
    }

    /// `clear bgp X soft in`: asks the peer for a ROUTE-REFRESH.
    pub fn clear_soft_in(&self, neighbor: IpAddr) -> Result<()> {
        self.vtysh(&[&format!("clear bgp {neighbor} soft in")]).map(drop)
    }

    /// The session state and last reset reasons, `None` when FRR has no such neighbour.
    pub fn neighbor(&self, address: IpAddr) -> Result<Option<FrrNeighborStatus>> {
        let json = self.json(&format!("show bgp neighbors {address} json"))?;
        let Some(n) = json.get(address.to_string()) else {
            return Ok(None);
        };
        let text = |key: &str| n.get(key).and_then(Value::as_str).map(str::to_owned);
        let stat = |key: &str| {
            n.get("messageStats").and_then(|m| m.get(key)).and_then(Value::as_u64).unwrap_or(0)
        };
        Ok(Some(FrrNeighborStatus {
            state: text("bgpState").unwrap_or_default(),
            last_reset: text("lastResetDueTo"),
            last_notification: text("lastNotificationReason"),
            last_error_code_subcode: text("lastErrorCodeSubcode"),
            notifications_sent: stat("notificationsSent"),
            notifications_received: stat("notificationsRecv"),
            established_count: n.get("connectionsEstablished").and_then(Value::as_u64).unwrap_or(0),
        }))
    }

    /// One line describing a neighbour, for failed waits.
    pub fn describe(&self, address: IpAddr) -> String {
        match self.neighbor(address) {
            Ok(Some(s)) => format!(
                "FRR neighbour {address}: state {}, last reset {:?}, last notification {:?} ({:?}), \
                 notifications sent {} received {}",
                s.state,
                s.last_reset,
                s.last_notification,
                s.last_error_code_subcode,
                s.notifications_sent,
                s.notifications_received
            ),
            Ok(None) => format!("FRR has no neighbour {address}"),
            Err(e) => format!("FRR neighbour {address}: query failed: {e}"),
        }
    }

    pub fn is_established(&self, address: IpAddr) -> bool {
        matches!(self.neighbor(address), Ok(Some(s)) if s.state == "Established")
    }

    /// Waits for the session with `address` to be Established.
    pub fn wait_established(&self, address: IpAddr, deadline: Duration) -> Result<()> {
        wait_until(
            &format!("FRR session with {address} to be Established"),
            deadline,
            Duration::from_millis(200),
            || self.is_established(address).then_some(()),
            || self.describe(address),
        )
    }

    /// (prefixes received, prefixes sent) for `address` in `family` from `show bgp summary`.
    pub fn prefix_counts(&self, address: IpAddr, family: Family) -> Result<(u64, u64)> {
        let json = self.json("show bgp summary json")?;
        let key = match family {
            Family::Ipv4Unicast => "ipv4Unicast",
            Family::Ipv6Unicast => "ipv6Unicast",
        };
        let peer =
            json.get(key).and_then(|f| f.get("peers")).and_then(|p| p.get(address.to_string()));
        let count = |k: &str| peer.and_then(|p| p.get(k)).and_then(Value::as_u64).unwrap_or(0);
        Ok((count("pfxRcd"), count("pfxSnt")))
    }

    /// Prefixes in FRR's table for `family`.
    pub fn prefixes(&self, family: Family) -> Result<Vec<String>> {
        let json = self.json(&format!("show bgp {} json", frr_family(family)))?;
        Ok(json
            .get("routes")
            .and_then(Value::as_object)
            .map(|routes| routes.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// The best path for `prefix` with its attributes, `None` when FRR has none.
    pub fn route(&self, prefix: IpNet) -> Result<Option<FrrRoute>> {
        let family = frr_family(family_of(prefix));
        let json = self.json(&format!("show bgp {family} {prefix} json"))?;
        let Some(paths) = json.get("paths").and_then(Value::as_array) else {
            return Ok(None);
        };
        let best = paths.iter().find(|p| is_best(p)).or_else(|| paths.first());
        Ok(best.map(|path| frr_route(prefix, path)))
    }

    /// Every path FRR holds for `prefix`: the peer it came from, whether it is the best,
    /// and its attributes.
    pub fn paths(&self, prefix: IpNet) -> Result<Vec<FrrPath>> {
        let family = frr_family(family_of(prefix));
        let json = self.json(&format!("show bgp {family} {prefix} json"))?;
        let paths = json.get("paths").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(paths
            .iter()
            .map(|p| FrrPath {
                from: p
                    .get("peer")
                    .and_then(|peer| peer.get("peerId"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                best: is_best(p),
                route: frr_route(prefix, p),
            })
            .collect())
    }

    /// Waits until `check` accepts FRR's best path for `prefix`; prints what FRR has on failure.
    pub fn wait_route(
        &self,
        prefix: IpNet,
        deadline: Duration,
        check: impl Fn(&FrrRoute) -> bool,
        peer: IpAddr,
    ) -> Result<FrrRoute> {
        wait_until(
            &format!("FRR to hold a matching route for {prefix}"),
            deadline,
            Duration::from_millis(200),
            || self.route(prefix).ok().flatten().filter(|r| check(r)),
            || format!("{:?}\n{}", self.route(prefix), self.describe(peer)),
        )
    }

    /// Waits until FRR has no route for `prefix`.
    pub fn wait_no_route(&self, prefix: IpNet, deadline: Duration, peer: IpAddr) -> Result<()> {
        wait_until(
            &format!("FRR to drop {prefix}"),
            deadline,
            Duration::from_millis(200),
            || matches!(self.route(prefix), Ok(None)).then_some(()),
            || format!("{:?}\n{}", self.route(prefix), self.describe(peer)),
        )
    }

    /// SIGSTOP: FRR goes silent (no keepalives) while its sockets stay open.
    pub fn freeze(&self) {
        self.process.freeze();
    }

    pub fn thaw(&self) {
        self.process.thaw();
    }

    pub fn kill(&mut self) {
        self.process.kill();
    }

    pub fn log_tail(&self, lines: usize) -> String {
        crate::tail(&self.dir.join("bgpd.log"), lines)
    }
}

fn family_of(prefix: IpNet) -> Family {
    match prefix {
        IpNet::V4(_) => Family::Ipv4Unicast,
        IpNet::V6(_) => Family::Ipv6Unicast,
    }
}

/// Whether FRR marks `path` (one of `show bgp PREFIX json`'s paths) as the best.
fn is_best(path: &Value) -> bool {
    path.get("bestpath").and_then(|b| b.get("overall")).and_then(Value::as_bool).unwrap_or(false)
}

/// One path of `show bgp PREFIX json` as a [`FrrRoute`].
fn frr_route(prefix: IpNet, path: &Value) -> FrrRoute {
    let list = |key: &str| -> Vec<String> {
        path.get(key)
            .and_then(|c| c.get("list"))
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_else(|| {
                path.get(key)
                    .and_then(|c| c.get("string"))
                    .and_then(Value::as_str)
                    .map(|s| s.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default()
            })
    };
    FrrRoute {
        prefix: prefix.to_string(),
        next_hops: path
            .get("nexthops")
            .and_then(Value::as_array)
            .map(|hops| {
                hops.iter()
                    .filter_map(|h| h.get("ip").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        // FRR prints an empty AS_PATH as "Local"; the harness uses "" like BIRD.
        as_path: path
            .get("aspath")
            .and_then(|a| a.get("string"))
            .and_then(Value::as_str)
            .filter(|s| *s != "Local")
            .unwrap_or_default()
            .to_owned(),
        med: path.get("metric").and_then(Value::as_u64),
        local_pref: path.get("locPrf").and_then(Value::as_u64),
        communities: list("community"),
        large_communities: list("largeCommunity"),
        stale: path.get("stale").and_then(Value::as_bool).unwrap_or(false),
        last_update: path.get("lastUpdate").and_then(|u| u.get("epoch")).and_then(Value::as_u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_neighbors_networks_and_policy_switches() {
        let config = FrrConfig::new(65002, Ipv4Addr::new(192, 0, 2, 2))
            .neighbor(
                FrrNeighbor::new(IpAddr::from([192, 0, 2, 1]), 65001)
                    .password("s3cret")
                    .passive()
                    .families(&[Family::Ipv4Unicast, Family::Ipv6Unicast]),
            )
            .network(FrrNetwork {
                med: Some(10),
                ..FrrNetwork::new("198.18.1.0/24".parse().unwrap())
            });
        let text = config.render(std::path::Path::new("/tmp/x.log"));
        for line in [
            "frr defaults traditional",
            " no bgp ebgp-requires-policy",
            " no bgp network import-check",
            " neighbor 192.0.2.1 remote-as 65001",
            " neighbor 192.0.2.1 timers 3 9",
            " neighbor 192.0.2.1 timers connect 1",
            " neighbor 192.0.2.1 password s3cret",
            " neighbor 192.0.2.1 passive",
            "  network 198.18.1.0/24 route-map NET0",
            " set metric 10",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(text.matches("  neighbor 192.0.2.1 activate").count(), 2);
    }
}
