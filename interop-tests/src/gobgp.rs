//! A GoBGP (`gobgpd` 3.x) instance inside a namespace: TOML config writer, start, and the
//! `gobgp` CLI's view of its neighbors (`gobgp -j neighbor`, parsed as JSON).
//!
//! GoBGP is the fourth DUT of the table benchmark (`bench_table`, `bench_peers`, `churn`),
//! beside ironlb bgpd, BIRD and FRR. Configured as the others are there: eBGP, one neighbor per
//! rig peer, passive, the rig's hold time, every route accepted and exported.
//!
//! Things that differ from the other daemons and matter for a fair comparison:
//! - **Policy defaults.** GoBGP's global `default-import-policy` and `default-export-policy`
//!   are `accept-route` when unset: it does not implement RFC 8212's "no policy, no routes"
//!   for eBGP (ironlb, BIRD 2 and FRR 8 do, and the rig configures them to accept all). The
//!   config written here spells `accept-route` out so the intent is visible.
//! - **No FIB.** gobgpd installs nothing in the kernel unless its `[zebra]` section is
//!   enabled; it is not, so like the others in the rig it only keeps its RIB.
//! - **gRPC API.** The `gobgp` CLI talks to gobgpd's gRPC API, bound here to 127.0.0.1 inside
//!   the DUT's namespace only (`--api-hosts`), never on the host; pprof is disabled.
//! - **Route server.** The rig's route-server scenario uses ordinary eBGP neighbors (as for
//!   BIRD and FRR), not GoBGP's `route-server-client` option: every peer receives the best
//!   path of every prefix from the global RIB, with GoBGP's AS prepended and next hop set to
//!   itself.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::netns::{Namespace, Process};
use crate::{Family, HarnessError, Result, TempDir, require_program, wait_until};

/// Where gobgpd's gRPC API listens inside its namespace (the namespace has its own loopback).
pub const API: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50051);

/// `session_state` of an Established neighbor in the API (`apipb.PeerState.SessionState`).
const ESTABLISHED: u64 = 6;

/// One `[[neighbors]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobgpNeighbor {
    pub address: IpAddr,
    pub peer_as: u32,
    /// `passive-mode = true`: wait for the peer to connect.
    pub passive: bool,
    /// Hold time in seconds; the keepalive interval is a third of it (at least 1).
    pub hold_time: u16,
    pub families: Vec<Family>,
}

impl GobgpNeighbor {
    /// An active session with a 9 s hold time carrying the family of `address`.
    pub fn new(address: IpAddr, peer_as: u32) -> Self {
        let family = if address.is_ipv4() { Family::Ipv4Unicast } else { Family::Ipv6Unicast };
        Self { address, peer_as, passive: false, hold_time: 9, families: vec![family] }
    }

    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }

    pub fn hold_time(mut self, seconds: u16) -> Self {
        self.hold_time = seconds;
        self
    }

    fn render(&self, c: &mut String) {
        let _ = writeln!(c, "\n[[neighbors]]");
        let _ = writeln!(c, "  [neighbors.config]");
        let _ = writeln!(c, "    neighbor-address = \"{}\"", self.address);
        let _ = writeln!(c, "    peer-as = {}", self.peer_as);
        let _ = writeln!(c, "  [neighbors.timers.config]");
        let _ = writeln!(c, "    hold-time = {}", self.hold_time);
        let _ = writeln!(c, "    keepalive-interval = {}", (self.hold_time / 3).max(1));
        let _ = writeln!(c, "    connect-retry = 1");
        let _ = writeln!(c, "  [neighbors.transport.config]");
        let _ = writeln!(c, "    passive-mode = {}", self.passive);
        for family in &self.families {
            let _ = writeln!(c, "  [[neighbors.afi-safis]]");
            let _ = writeln!(c, "    [neighbors.afi-safis.config]");
            let _ = writeln!(c, "      afi-safi-name = \"{}\"", family.config_name());
        }
    }
}

/// Builder for gobgpd's TOML config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobgpConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// BGP listen port (179 inside a namespace of its own).
    pub port: u16,
    /// Addresses gobgpd listens on for BGP, inside its namespace.
    pub listen: Vec<IpAddr>,
    pub neighbors: Vec<GobgpNeighbor>,
}

impl GobgpConfig {
    /// Listens on port 179 of every address of its namespace (IPv4 and IPv6).
    pub fn new(asn: u32, router_id: Ipv4Addr) -> Self {
        Self {
            asn,
            router_id,
            port: 179,
            listen: vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::from([0u16; 8])],
            neighbors: Vec::new(),
        }
    }

    pub fn neighbor(mut self, neighbor: GobgpNeighbor) -> Self {
        self.neighbors.push(neighbor);
        self
    }

    pub fn render(&self) -> String {
        let mut c = String::new();
        let listen: Vec<String> = self.listen.iter().map(|a| format!("\"{a}\"")).collect();
        let _ = writeln!(c, "[global.config]");
        let _ = writeln!(c, "  as = {}", self.asn);
        let _ = writeln!(c, "  router-id = \"{}\"", self.router_id);
        let _ = writeln!(c, "  port = {}", self.port);
        let _ = writeln!(c, "  local-address-list = [{}]", listen.join(", "));
        // GoBGP's defaults already accept everything (no RFC 8212): said here on purpose.
        let _ = writeln!(c, "  [global.apply-policy.config]");
        let _ = writeln!(c, "    default-import-policy = \"accept-route\"");
        let _ = writeln!(c, "    default-export-policy = \"accept-route\"");
        for neighbor in &self.neighbors {
            neighbor.render(&mut c);
        }
        c
    }
}

/// A running gobgpd; killed (by PID) on drop, its directory removed.
#[derive(Debug)]
pub struct Gobgp {
    process: Process,
    dir: TempDir,
    namespace: Namespace,
    config: GobgpConfig,
}

/// `gobgpd`, installing the Debian package `gobgpd` with apt-get when it is missing (benches
/// only: tests call [`Gobgp::start`], which fails naming the package instead).
pub fn ensure_installed() -> Result<PathBuf> {
    if let Ok(path) = require_program("gobgpd", "gobgpd") {
        return Ok(path);
    }
    eprintln!("gobgpd is missing: apt-get install -y gobgpd");
    crate::netns::run("apt-get", ["install", "-y", "gobgpd"])?;
    require_program("gobgp", "gobgpd")?;
    require_program("gobgpd", "gobgpd")
}

impl Gobgp {
    /// Writes the config, starts gobgpd (plain-text log to a file, gRPC on [`API`] inside the
    /// namespace) and returns once the CLI lists every configured neighbor.
    pub fn start(namespace: &Namespace, config: &GobgpConfig) -> Result<Self> {
        let program = require_program("gobgpd", "gobgpd")?;
        require_program("gobgp", "gobgpd")?;
        let dir = TempDir::new("gobgp")?;
        let conf = dir.write("gobgpd.toml", &config.render())?;
        let args = [
            "-f".to_owned(),
            conf.display().to_string(),
            "-t".to_owned(),
            "toml".to_owned(),
            "-p".to_owned(),
            "-l".to_owned(),
            "info".to_owned(),
            "--api-hosts".to_owned(),
            API.to_string(),
            "--pprof-disable".to_owned(),
        ];
        let log = dir.join("gobgpd.log");
        let process = namespace.spawn("gobgpd", &program, &args, &log)?;
        let mut gobgp = Self { process, dir, namespace: namespace.clone(), config: config.clone() };
        let expected = config.neighbors.len();
        wait_until(
            "gobgpd's API to list every neighbor",
            Duration::from_secs(20),
            Duration::from_millis(100),
            || {
                if let Err(error) = gobgp.process.check_running() {
                    return Some(Err(error));
                }
                gobgp.neighbors().ok().filter(|n| n.len() == expected).map(|_| Ok(()))
            },
            move || crate::tail(&log, 20),
        )??;
        Ok(gobgp)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    pub fn config(&self) -> &GobgpConfig {
        &self.config
    }

    /// `gobgp -u 127.0.0.1 -p 50051 args...` inside the namespace; stdout.
    pub fn cli(&self, args: &[&str]) -> Result<String> {
        let port = API.port().to_string();
        let host = API.ip().to_string();
        let mut all = vec!["-u", host.as_str(), "-p", port.as_str()];
        all.extend_from_slice(args);
        let out = self.namespace.exec("gobgp", &all)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every neighbor with its session state (`gobgp -j neighbor`).
    pub fn neighbors(&self) -> Result<Vec<NeighborState>> {
        let text = self.cli(&["-j", "neighbor"])?;
        parse_neighbors(&text).ok_or_else(|| HarnessError::Parse {
            command: "gobgp -j neighbor".to_owned(),
            reason: "not a JSON list of neighbors".to_owned(),
            output: text,
        })
    }

    /// Waits until every configured neighbor is Established, polling the CLI.
    pub fn wait_all_established(&self, deadline: Duration) -> Result<()> {
        wait_until(
            "every GoBGP neighbor to be Established",
            deadline,
            Duration::from_millis(200),
            || {
                let neighbors = self.neighbors().ok()?;
                (neighbors.len() == self.config.neighbors.len()
                    && neighbors.iter().all(NeighborState::established))
                .then_some(())
            },
            || format!("{:?}\n{}", self.neighbors(), self.log_tail(20)),
        )
    }

    /// Waits until the neighbor `address` is Established.
    pub fn wait_established(&self, address: IpAddr, deadline: Duration) -> Result<()> {
        wait_until(
            &format!("GoBGP neighbor {address} to be Established"),
            deadline,
            Duration::from_millis(200),
            || {
                let neighbors = self.neighbors().ok()?;
                neighbors.iter().any(|n| n.address == address && n.established()).then_some(())
            },
            || format!("{:?}\n{}", self.neighbors(), self.log_tail(20)),
        )
    }

    pub fn log_tail(&self, lines: usize) -> String {
        crate::tail(&self.dir.join("gobgpd.log"), lines)
    }

    pub fn kill(&mut self) {
        self.process.kill();
    }
}

/// One neighbor as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborState {
    pub address: IpAddr,
    /// `apipb.PeerState.SessionState`: 1 idle … 6 established.
    pub session_state: u64,
}

impl NeighborState {
    pub fn established(&self) -> bool {
        self.session_state == ESTABLISHED
    }
}

/// `gobgp -j neighbor`: a JSON list of peers, each with `state.neighbor_address` and
/// `state.session_state` (absent while 0). `None` when the text is not such a list.
fn parse_neighbors(text: &str) -> Option<Vec<NeighborState>> {
    let value: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    value
        .as_array()?
        .iter()
        .map(|peer| {
            let state = peer.get("state")?;
            let address = state.get("neighbor_address")?.as_str()?.parse().ok()?;
            let session_state =
                state.get("session_state").and_then(serde_json::Value::as_u64).unwrap_or(0);
            Some(NeighborState { address, session_state })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_rig_config() {
        let config = GobgpConfig::new(65002, Ipv4Addr::new(192, 0, 2, 2))
            .neighbor(GobgpNeighbor::new("192.0.2.1".parse().unwrap(), 65001).passive())
            .neighbor(
                GobgpNeighbor::new("2001:db8:2::2".parse().unwrap(), 65003)
                    .passive()
                    .hold_time(240),
            );
        let golden = r#"[global.config]
  as = 65002
  router-id = "192.0.2.2"
  port = 179
  local-address-list = ["0.0.0.0", "::"]
  [global.apply-policy.config]
    default-import-policy = "accept-route"
    default-export-policy = "accept-route"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.1"
    peer-as = 65001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "2001:db8:2::2"
    peer-as = 65003
  [neighbors.timers.config]
    hold-time = 240
    keepalive-interval = 80
    connect-retry = 1
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#;
        assert_eq!(config.render(), golden);
    }

    #[test]
    fn an_active_neighbor_says_so() {
        let mut c = String::new();
        GobgpNeighbor::new("198.51.100.2".parse().unwrap(), 65003).render(&mut c);
        assert!(c.contains("passive-mode = false"), "{c}");
    }

    #[test]
    fn parses_neighbor_states() {
        // Trimmed from `gobgp -j neighbor` (gobgpd 3.10): an Active and an Established peer.
        let text = r#"[{"conf":{"local_asn":65002,"neighbor_address":"192.0.2.1","peer_asn":65001},
            "state":{"neighbor_address":"192.0.2.1","peer_asn":65001,"session_state":3}},
            {"conf":{"neighbor_address":"2001:db8:2::2"},
            "state":{"neighbor_address":"2001:db8:2::2","peer_asn":65003,"session_state":6}}]"#;
        let neighbors = parse_neighbors(text).unwrap();
        assert_eq!(neighbors.len(), 2);
        assert_eq!(neighbors[0].address, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert!(!neighbors[0].established());
        assert!(neighbors[1].established());
    }

    #[test]
    fn rejects_what_is_not_a_neighbor_list() {
        assert_eq!(parse_neighbors("rpc error: code = Unavailable"), None);
        assert_eq!(parse_neighbors(r#"[{"conf":{}}]"#), None);
        assert_eq!(parse_neighbors("[]"), Some(Vec::new()));
    }
}
