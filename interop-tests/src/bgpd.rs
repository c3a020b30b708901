//! ironlb's own `bgpd` inside a namespace: writes its TOML config (keys fixed by the spec) and
//! runs the binary with `--config FILE --log-level trace`, its output in a log file whose tail
//! every failed wait prints.
//!
//! `bgpd` has no query interface yet, so scenarios check what it learned by what it
//! re-advertises to an FRR or BIRD on the other side.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use ipnet::IpNet;

use crate::netns::{Namespace, Process};
use crate::{Family, HarnessError, Result, TempDir};

/// `[[neighbors]]` of the TOML config.
#[derive(Debug, Clone)]
pub struct BgpdNeighbor {
    pub address: IpAddr,
    /// `interface = NAME` instead of `address` (BGP unnumbered); `address`
    /// is then not written.
    pub interface: Option<String>,
    pub remote_asn: u32,
    pub port: u16,
    pub local_address: Option<IpAddr>,
    pub passive: bool,
    pub password: Option<String>,
    pub hold_time: u16,
    pub ebgp_multihop: u8,
    pub families: Vec<Family>,
    pub next_hop_self: bool,
    /// GTSM hop count (`ttl_security = N`).
    pub ttl_security: Option<u8>,
    /// `[neighbors.graceful_restart]`.
    pub graceful_restart: Option<BgpdGracefulRestart>,
    /// `connect_retry_time`, when not bgpd's default.
    pub connect_retry_time: Option<u16>,
    /// `import_policy` / `export_policy`: `["accept-all"]` unless set, so
    /// that routes flow over eBGP as the tests expect (bgpd follows RFC 8212:
    /// no policy on an eBGP neighbor means nothing crosses). Empty: the key
    /// is left out.
    pub import_policy: Vec<String>,
    pub export_policy: Vec<String>,
    /// TOML written as given into this neighbour's entry, after the keys
    /// above and before `[neighbors.graceful_restart]`: keys first, then
    /// sub-tables with their headers (`[neighbors.max_prefixes]\n...`).
    pub extra: String,
}

/// `[neighbors.graceful_restart]` of the TOML config.
#[derive(Debug, Clone, Copy)]
pub struct BgpdGracefulRestart {
    pub restart_time: u16,
    pub stale_routes_time: u16,
    /// RFC 8538 N bit.
    pub notification: bool,
}

impl Default for BgpdGracefulRestart {
    fn default() -> Self {
        Self { restart_time: 120, stale_routes_time: 360, notification: true }
    }
}

impl BgpdNeighbor {
    /// Active, port 179, hold time 9 s (short, for tests), the address's own family.
    pub fn new(address: IpAddr, remote_asn: u32) -> Self {
        Self {
            address,
            interface: None,
            remote_asn,
            port: 179,
            local_address: None,
            passive: false,
            password: None,
            hold_time: 9,
            ebgp_multihop: 1,
            families: vec![if address.is_ipv4() {
                Family::Ipv4Unicast
            } else {
                Family::Ipv6Unicast
            }],
            next_hop_self: false,
            ttl_security: None,
            graceful_restart: None,
            connect_retry_time: None,
            import_policy: vec!["accept-all".to_owned()],
            export_policy: vec!["accept-all".to_owned()],
            extra: String::new(),
        }
    }

    /// A neighbour over `interface` (BGP unnumbered): its link-local
    /// address is discovered; IPv4 and IPv6 unicast.
    pub fn on_interface(interface: &str, remote_asn: u32) -> Self {
        Self {
            interface: Some(interface.to_owned()),
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            ..Self::new(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 0]), remote_asn)
        }
    }

    /// More of this neighbour as TOML text (see [`BgpdNeighbor::extra`]).
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra = toml.to_owned();
        self
    }

    /// The import chain (policy names); empty leaves the key out.
    pub fn import_policy(mut self, names: &[&str]) -> Self {
        self.import_policy = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// The export chain (policy names); empty leaves the key out.
    pub fn export_policy(mut self, names: &[&str]) -> Self {
        self.export_policy = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// Seconds between connection attempts.
    pub fn connect_retry_time(mut self, seconds: u16) -> Self {
        self.connect_retry_time = Some(seconds);
        self
    }

    /// Graceful restart with these settings.
    pub fn graceful_restart(mut self, settings: BgpdGracefulRestart) -> Self {
        self.graceful_restart = Some(settings);
        self
    }

    /// GTSM (RFC 5082) accepting peers at most `hops` away.
    pub fn ttl_security(mut self, hops: u8) -> Self {
        self.ttl_security = Some(hops);
        self
    }

    /// Our address as next hop towards this iBGP peer.
    pub fn next_hop_self(mut self) -> Self {
        self.next_hop_self = true;
        self
    }

    pub fn local_address(mut self, address: IpAddr) -> Self {
        self.local_address = Some(address);
        self
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

    pub fn hold_time(mut self, seconds: u16) -> Self {
        self.hold_time = seconds;
        self
    }
}

/// `[[routes]]` of the TOML config.
#[derive(Debug, Clone)]
pub struct BgpdRoute {
    pub prefix: IpNet,
    pub next_hop: Option<IpAddr>,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
    pub local_pref: u32,
    pub med: u32,
    /// `as_path_prepend`; rendered only when not 0.
    pub as_path_prepend: u8,
}

impl BgpdRoute {
    pub fn new(prefix: IpNet) -> Self {
        Self {
            prefix,
            next_hop: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
            local_pref: 100,
            med: 0,
            as_path_prepend: 0,
        }
    }
}

/// The whole TOML config.
#[derive(Debug, Clone)]
pub struct BgpdConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub listen_port: u16,
    pub listen_addresses: Vec<IpAddr>,
    pub api_listen: String,
    pub neighbors: Vec<BgpdNeighbor>,
    pub routes: Vec<BgpdRoute>,
    /// `global.state_dir` (graceful restart state file).
    pub state_dir: Option<PathBuf>,
    /// `global.selection_deferral_time`.
    pub selection_deferral_time: Option<u16>,
    /// `[[layer2]]` entries: an address and the interfaces to answer ARP/NDP on.
    pub layer2: Vec<(IpAddr, Vec<String>)>,
    /// `[metrics] listen`; no section when `None`.
    pub metrics_listen: Option<String>,
    /// Policy tables (`[[prefix_sets]]`, `[[policies]]`, ...) appended as written.
    pub policies: String,
}

impl BgpdConfig {
    pub fn new(asn: u32, router_id: Ipv4Addr) -> Self {
        Self {
            asn,
            router_id,
            listen_port: 179,
            listen_addresses: vec![
                IpAddr::from([0u8, 0, 0, 0]),
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 0]),
            ],
            api_listen: "127.0.0.1:50051".to_owned(),
            neighbors: Vec::new(),
            routes: Vec::new(),
            state_dir: None,
            selection_deferral_time: None,
            layer2: Vec::new(),
            metrics_listen: None,
            policies: String::new(),
        }
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` on `listen` (`[metrics]`).
    pub fn metrics(mut self, listen: &str) -> Self {
        self.metrics_listen = Some(listen.to_owned());
        self
    }

    /// Adds a `[[layer2]]` entry.
    pub fn layer2(mut self, address: IpAddr, interfaces: &[&str]) -> Self {
        self.layer2.push((address, interfaces.iter().map(|s| (*s).to_owned()).collect()));
        self
    }

    pub fn state_dir(mut self, dir: &std::path::Path) -> Self {
        self.state_dir = Some(dir.to_path_buf());
        self
    }

    pub fn neighbor(mut self, neighbor: BgpdNeighbor) -> Self {
        self.neighbors.push(neighbor);
        self
    }

    pub fn route(mut self, route: BgpdRoute) -> Self {
        self.routes.push(route);
        self
    }

    /// Renders the TOML exactly in the documented key layout.
    pub fn render(&self) -> String {
        let quoted = |items: &mut dyn Iterator<Item = String>| {
            items.map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
        };
        let mut c = String::new();
        let _ = writeln!(c, "[global]");
        let _ = writeln!(c, "asn = {}", self.asn);
        let _ = writeln!(c, "router_id = \"{}\"", self.router_id);
        let _ = writeln!(c, "listen_port = {}", self.listen_port);
        let _ = writeln!(
            c,
            "listen_addresses = [{}]",
            quoted(&mut self.listen_addresses.iter().map(ToString::to_string))
        );
        if let Some(dir) = &self.state_dir {
            let _ = writeln!(c, "state_dir = \"{}\"", dir.display());
        }
        if let Some(seconds) = self.selection_deferral_time {
            let _ = writeln!(c, "selection_deferral_time = {seconds}");
        }
        let _ = writeln!(c, "\n[api]\nlisten = \"{}\"", self.api_listen);
        if let Some(listen) = &self.metrics_listen {
            let _ = writeln!(c, "\n[metrics]\nlisten = \"{listen}\"");
        }
        for n in &self.neighbors {
            let _ = writeln!(c, "\n[[neighbors]]");
            match &n.interface {
                Some(interface) => {
                    let _ = writeln!(c, "interface = \"{interface}\"");
                }
                None => {
                    let _ = writeln!(c, "address = \"{}\"", n.address);
                }
            }
            let _ = writeln!(c, "remote_asn = {}", n.remote_asn);
            let _ = writeln!(c, "port = {}", n.port);
            if let Some(local) = n.local_address {
                let _ = writeln!(c, "local_address = \"{local}\"");
            }
            let _ = writeln!(c, "passive = {}", n.passive);
            if n.next_hop_self {
                let _ = writeln!(c, "next_hop_self = true");
            }
            if let Some(password) = &n.password {
                let _ = writeln!(c, "password = \"{password}\"");
            }
            let _ = writeln!(c, "hold_time = {}", n.hold_time);
            if let Some(seconds) = n.connect_retry_time {
                let _ = writeln!(c, "connect_retry_time = {seconds}");
            }
            match n.ttl_security {
                Some(hops) => {
                    let _ = writeln!(c, "ttl_security = {hops}");
                }
                None => {
                    let _ = writeln!(c, "ebgp_multihop = {}", n.ebgp_multihop);
                }
            }
            let _ = writeln!(
                c,
                "families = [{}]",
                quoted(&mut n.families.iter().map(|f| f.config_name().to_owned()))
            );
            if !n.import_policy.is_empty() {
                let _ = writeln!(
                    c,
                    "import_policy = [{}]",
                    quoted(&mut n.import_policy.iter().cloned())
                );
            }
            if !n.export_policy.is_empty() {
                let _ = writeln!(
                    c,
                    "export_policy = [{}]",
                    quoted(&mut n.export_policy.iter().cloned())
                );
            }
            if !n.extra.is_empty() {
                c.push_str(&n.extra);
                if !n.extra.ends_with('\n') {
                    c.push('\n');
                }
            }
            if let Some(gr) = n.graceful_restart {
                let _ = writeln!(c, "[neighbors.graceful_restart]");
                let _ = writeln!(c, "restart_time = {}", gr.restart_time);
                let _ = writeln!(c, "stale_routes_time = {}", gr.stale_routes_time);
                let _ = writeln!(c, "notification = {}", gr.notification);
            }
        }
        for r in &self.routes {
            let _ = writeln!(c, "\n[[routes]]");
            let _ = writeln!(c, "prefix = \"{}\"", r.prefix);
            if let Some(next_hop) = r.next_hop {
                let _ = writeln!(c, "next_hop = \"{next_hop}\"");
            }
            let _ = writeln!(c, "communities = [{}]", quoted(&mut r.communities.iter().cloned()));
            let _ = writeln!(
                c,
                "large_communities = [{}]",
                quoted(&mut r.large_communities.iter().cloned())
            );
            let _ = writeln!(c, "local_pref = {}", r.local_pref);
            let _ = writeln!(c, "med = {}", r.med);
            if r.as_path_prepend != 0 {
                let _ = writeln!(c, "as_path_prepend = {}", r.as_path_prepend);
            }
        }
        for (address, interfaces) in &self.layer2 {
            let _ = writeln!(c, "\n[[layer2]]");
            let _ = writeln!(c, "address = \"{address}\"");
            let _ = writeln!(c, "interfaces = [{}]", quoted(&mut interfaces.iter().cloned()));
        }
        if !self.policies.is_empty() {
            let _ = writeln!(c);
            c.push_str(&self.policies);
        }
        c
    }
}

/// Where the `bgpd` binary is: `$IRONLB_BGPD`, else `target/debug/bgpd`, else
/// `target/release/bgpd` of this workspace (or of `$CARGO_TARGET_DIR`).
pub fn binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("IRONLB_BGPD") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HarnessError::MissingBgpd { searched: vec![path] })
        };
    }
    let workspace =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let searched = vec![target.join("debug").join("bgpd"), target.join("release").join("bgpd")];
    searched.iter().find(|p| p.is_file()).cloned().ok_or(HarnessError::MissingBgpd { searched })
}

/// A running ironlb `bgpd`; killed on drop.
#[derive(Debug)]
pub struct Bgpd {
    process: Process,
    dir: TempDir,
    namespace: Namespace,
}

impl Bgpd {
    /// Starts `bgpd --config FILE --log-level trace` inside `namespace`.
    ///
    /// Returns once the process has stayed up for a moment; sessions are checked by the peer.
    pub fn start(namespace: &Namespace, config: &BgpdConfig) -> Result<Self> {
        Self::start_with_binary(namespace, config, &binary()?)
    }

    pub fn start_with_binary(
        namespace: &Namespace,
        config: &BgpdConfig,
        program: &std::path::Path,
    ) -> Result<Self> {
        let level = std::env::var("IRONLB_LOG").unwrap_or_else(|_| "debug".to_owned());
        Self::start_rendered(namespace, &config.render(), program, &level)
    }

    /// As [`Bgpd::start_with_binary`] with the config file's text given whole (keys the
    /// builder does not render, such as the soak's `[api]` limits) and the log level (the
    /// soak's churn logs gigabytes a minute at `debug`).
    pub fn start_rendered(
        namespace: &Namespace,
        config: &str,
        program: &std::path::Path,
        log_level: &str,
    ) -> Result<Self> {
        let dir = TempDir::new("bgpd")?;
        let conf = dir.write("bgpd.toml", config)?;
        let args = [
            "--config".to_owned(),
            conf.display().to_string(),
            "--log-level".to_owned(),
            log_level.to_owned(),
        ];
        let process = namespace.spawn("ironlb-bgpd", program, &args, &dir.join("bgpd.log"))?;
        let mut bgpd = Self { process, dir, namespace: namespace.clone() };
        // A config error ends the process at once: report it with its log rather than let
        // the peer time out. 300 ms of polling is enough to see an immediate exit.
        let mut early = None;
        let _ = crate::wait_until(
            "bgpd to exit early",
            Duration::from_millis(300),
            Duration::from_millis(50),
            || {
                early = bgpd.process.check_running().err();
                early.as_ref().map(|_| ())
            },
            String::new,
        );
        match early {
            Some(error) => Err(error),
            None => Ok(bgpd),
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// `Ok` while running, else the exit status and log tail.
    pub fn check_running(&mut self) -> Result<()> {
        self.process.check_running()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("bgpd.log")
    }

    /// The last `lines` lines of its log, for failed waits.
    pub fn log_tail(&self, lines: usize) -> String {
        format!(
            "--- ironlb bgpd log ({}) ---\n{}",
            self.log_path().display(),
            crate::tail(&self.log_path(), lines)
        )
    }

    /// Adds this bgpd's liveness and log tail to a failed wait, so the failure explains itself.
    pub fn annotate<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|error| {
            let alive = if crate::netns::process_alive(self.pid()) {
                "ironlb bgpd is running".to_owned()
            } else {
                format!("ironlb bgpd (pid {}) is NOT running", self.pid())
            };
            let context = format!("{alive}\n{}", self.log_tail(40));
            match error {
                HarnessError::Timeout { what, waited, last } => {
                    HarnessError::Timeout { what, waited, last: format!("{last}\n{context}") }
                }
                HarnessError::Violated { what, after, last } => {
                    HarnessError::Violated { what, after, last: format!("{last}\n{context}") }
                }
                other => other,
            }
        })
    }

    /// SIGTERM and wait for the exit status (the daemon must send Cease and exit 0).
    pub fn terminate(&mut self, deadline: Duration) -> Result<ExitStatus> {
        self.process.stop_with(libc::SIGTERM, deadline)
    }

    /// SIGKILL: no Cease, the peer sees the TCP connection drop.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    pub fn freeze(&self) {
        self.process.freeze();
    }

    pub fn thaw(&self) {
        self.process.thaw();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_toml() {
        let config = BgpdConfig::new(65001, Ipv4Addr::new(192, 0, 2, 1))
            .neighbor(
                BgpdNeighbor::new(IpAddr::from([192, 0, 2, 2]), 65002)
                    .local_address(IpAddr::from([192, 0, 2, 1]))
                    .password("secret")
                    .hold_time(90)
                    .families(&[Family::Ipv4Unicast, Family::Ipv6Unicast]),
            )
            .route(BgpdRoute {
                communities: vec!["65001:100".to_owned()],
                large_communities: vec!["65001:1:2".to_owned()],
                next_hop: Some(IpAddr::from([192, 0, 2, 1])),
                ..BgpdRoute::new("198.51.100.10/32".parse().unwrap_or_else(|_| IpNet::default()))
            });
        let expected = r#"[global]
asn = 65001
router_id = "192.0.2.1"
listen_port = 179
listen_addresses = ["0.0.0.0", "::"]

[api]
listen = "127.0.0.1:50051"

[[neighbors]]
address = "192.0.2.2"
remote_asn = 65002
port = 179
local_address = "192.0.2.1"
passive = false
password = "secret"
hold_time = 90
ebgp_multihop = 1
families = ["ipv4-unicast", "ipv6-unicast"]
import_policy = ["accept-all"]
export_policy = ["accept-all"]

[[routes]]
prefix = "198.51.100.10/32"
next_hop = "192.0.2.1"
communities = ["65001:100"]
large_communities = ["65001:1:2"]
local_pref = 100
med = 0
"#;
        assert_eq!(config.render(), expected);
    }

    #[test]
    fn missing_binary_is_named() {
        let error = HarnessError::MissingBgpd { searched: vec![PathBuf::from("/nowhere/bgpd")] };
        assert!(error.to_string().contains("bgpd binary not found"));
    }
}
