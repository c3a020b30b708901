//! A BIRD 2 instance inside a namespace: config builder, start, and `birdc` queries parsed from
//! its text output (`show protocols all NAME`, `show route ... all`, `show route count`).
//!
//! BIRD serves both as a peer in scenarios and as the feeder and sink of the propagation
//! benchmark (a generated `protocol static` with a million routes parses in seconds).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::netns::{Namespace, Process};
use crate::{Family, HarnessError, Result, TempDir, require_program, wait_until};

/// One `protocol bgp NAME { ... }`.
#[derive(Debug, Clone)]
pub struct BirdBgp {
    /// Must not be a BIRD reserved word (`static`, `routes`, ...): prefer `peer1`, `feed`.
    pub name: String,
    pub local_address: Option<IpAddr>,
    pub local_as: u32,
    pub neighbor: IpAddr,
    pub remote_as: u32,
    pub password: Option<String>,
    pub passive: bool,
    pub hold_time: u16,
    pub families: Vec<Family>,
    /// Starts disabled; `Bird::enable` brings it up (benchmark: measure from that moment).
    pub disabled: bool,
    /// `false` gives `enable as4 off`: a 2-octet-only speaker.
    pub as4: bool,
    pub multihop: Option<u8>,
    /// `next hop self` in every channel (a transit iBGP speaker).
    pub next_hop_self: bool,
    /// `graceful restart on; graceful restart time N;` (RFC 4724).
    pub graceful_restart: Option<u16>,
    /// `next hop address X` in the IPv6 channel: the next hop BIRD announces for IPv6 routes
    /// carried over an IPv4 session.
    pub ipv6_next_hop: Option<IpAddr>,
    /// `bfd on`: the session follows a BFD session to the neighbor (RFC 5882);
    /// needs a `protocol bfd` ([`BirdConfig::bfd`]).
    pub bfd: bool,
    /// Named filters (defined in [`BirdConfig::extra`]) instead of `import all`
    /// and the default export filter.
    pub filters: Option<(String, String)>,
}

impl BirdBgp {
    /// A session with short test timers (hold 9 s, connect delay and retry 1 s).
    pub fn new(name: &str, local_as: u32, neighbor: IpAddr, remote_as: u32) -> Self {
        Self {
            name: name.to_owned(),
            local_address: None,
            local_as,
            neighbor,
            remote_as,
            password: None,
            passive: false,
            hold_time: 9,
            families: vec![if neighbor.is_ipv4() {
                Family::Ipv4Unicast
            } else {
                Family::Ipv6Unicast
            }],
            disabled: false,
            as4: true,
            multihop: None,
            next_hop_self: false,
            graceful_restart: None,
            ipv6_next_hop: None,
            bfd: false,
            filters: None,
        }
    }

    /// `bfd on` (see [`BirdConfig::bfd`]).
    pub fn bfd(mut self) -> Self {
        self.bfd = true;
        self
    }

    /// Graceful restart on, with this restart time.
    pub fn graceful_restart(mut self, restart_time: u16) -> Self {
        self.graceful_restart = Some(restart_time);
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

    /// `enable as4 off`: BIRD speaks only 2-octet AS numbers (AS_TRANS + AS4_PATH tests).
    pub fn without_as4(mut self) -> Self {
        self.as4 = false;
        self
    }

    pub fn hold_time(mut self, seconds: u16) -> Self {
        self.hold_time = seconds;
        self
    }

    fn render(&self, c: &mut String) {
        let _ = writeln!(c, "protocol bgp {} {{", self.name);
        match self.local_address {
            Some(address) => {
                let _ = writeln!(c, "  local {address} as {};", self.local_as);
            }
            None => {
                let _ = writeln!(c, "  local as {};", self.local_as);
            }
        }
        let _ = writeln!(c, "  neighbor {} as {};", self.neighbor, self.remote_as);
        let _ = writeln!(c, "  hold time {};", self.hold_time);
        let _ = writeln!(c, "  keepalive time {};", (self.hold_time / 3).max(1));
        let _ = writeln!(c, "  connect delay time 1;");
        let _ = writeln!(c, "  connect retry time 1;");
        let _ = writeln!(c, "  error wait time 1, 2;");
        if let Some(password) = &self.password {
            let _ = writeln!(c, "  password \"{password}\";");
        }
        if self.passive {
            let _ = writeln!(c, "  passive on;");
        }
        if self.disabled {
            let _ = writeln!(c, "  disabled;");
        }
        if let Some(seconds) = self.graceful_restart {
            let _ = writeln!(c, "  graceful restart on;");
            let _ = writeln!(c, "  graceful restart time {seconds};");
        }
        if !self.as4 {
            let _ = writeln!(c, "  enable as4 off;");
        }
        if self.bfd {
            let _ = writeln!(c, "  bfd on;");
        }
        let internal = self.local_as == self.remote_as;
        match self.multihop {
            Some(hops) => {
                let _ = writeln!(c, "  multihop {hops};");
            }
            // BIRD treats iBGP as multihop unless told the peer is on the link.
            None if internal => {
                let _ = writeln!(c, "  direct;");
            }
            None => {}
        }
        for family in &self.families {
            let _ = writeln!(c, "  {} {{", bird_channel(*family));
            if let Some((import, export)) = &self.filters {
                let _ = writeln!(c, "    import filter {import};\n    export filter {export};");
            } else {
                let _ = writeln!(c, "    import all;");
                // BIRD drops a MED that was not set by the export filter on eBGP sessions;
                // re-setting it here lets static routes carry their MED to the peer.
                let _ = writeln!(
                    c,
                    "    export filter {{ if defined(bgp_med) then bgp_med = bgp_med; accept; }};"
                );
            }
            if internal {
                let _ = writeln!(c, "    gateway direct;");
            }
            if self.next_hop_self {
                let _ = writeln!(c, "    next hop self;");
            }
            if let (Family::Ipv6Unicast, Some(next_hop)) = (family, self.ipv6_next_hop) {
                let _ = writeln!(c, "    next hop address {next_hop};");
            }
            let _ = writeln!(c, "  }};");
        }
        let _ = writeln!(c, "}}");
    }
}

fn bird_channel(family: Family) -> &'static str {
    match family {
        Family::Ipv4Unicast => "ipv4",
        Family::Ipv6Unicast => "ipv6",
    }
}

/// A static route with BGP attributes (blackhole: the next hop becomes BIRD's own address).
#[derive(Debug, Clone)]
pub struct BirdStaticRoute {
    pub prefix: IpNet,
    pub med: Option<u32>,
    /// `"65002:7"` form.
    pub communities: Vec<String>,
    /// `"65002:1:2"` form.
    pub large_communities: Vec<String>,
    pub local_pref: Option<u32>,
}

impl BirdStaticRoute {
    pub fn new(prefix: IpNet) -> Self {
        Self {
            prefix,
            med: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
            local_pref: None,
        }
    }

    fn render(&self, c: &mut String) {
        let tuple = |s: &String| format!("({})", s.replace(':', ","));
        let mut attributes = String::new();
        if let Some(med) = self.med {
            let _ = write!(attributes, " bgp_med = {med};");
        }
        if let Some(local_pref) = self.local_pref {
            let _ = write!(attributes, " bgp_local_pref = {local_pref};");
        }
        for community in &self.communities {
            let _ = write!(attributes, " bgp_community.add({});", tuple(community));
        }
        for large in &self.large_communities {
            let _ = write!(attributes, " bgp_large_community.add({});", tuple(large));
        }
        if attributes.is_empty() {
            let _ = writeln!(c, "  route {} blackhole;", self.prefix);
        } else {
            let _ = writeln!(c, "  route {} blackhole {{{attributes} }};", self.prefix);
        }
    }
}

/// `protocol static NAME { ipv4|ipv6; route ...; }`.
#[derive(Debug, Clone)]
pub struct BirdStatic {
    pub name: String,
    pub family: Family,
    pub routes: Vec<BirdStaticRoute>,
    /// Appended as `count` consecutive `/len` prefixes from `start` (benchmark feeder).
    pub generated: Option<(Ipv4Addr, u8, u32)>,
}

impl BirdStatic {
    pub fn new(name: &str, family: Family) -> Self {
        Self { name: name.to_owned(), family, routes: Vec::new(), generated: None }
    }

    pub fn route(mut self, route: BirdStaticRoute) -> Self {
        self.routes.push(route);
        self
    }

    /// `count` consecutive IPv4 prefixes of length `len` from `start`, all sharing one set of
    /// attributes (blackhole, no extra attribute).
    pub fn generated(mut self, start: Ipv4Addr, len: u8, count: u32) -> Self {
        self.generated = Some((start, len, count));
        self
    }

    fn render(&self, c: &mut String) {
        let _ = writeln!(c, "protocol static {} {{", self.name);
        let _ = writeln!(c, "  {};", bird_channel(self.family));
        for route in &self.routes {
            route.render(c);
        }
        if let Some((start, len, count)) = self.generated {
            let step = 1u64 << (32 - u32::from(len.min(32)));
            let base = u64::from(u32::from(start));
            for i in 0..u64::from(count) {
                let address = (base + i * step) & 0xffff_ffff;
                // The mask keeps the value inside 32 bits, so the conversion cannot fail.
                let address = Ipv4Addr::from(u32::try_from(address).unwrap_or(0));
                let _ = writeln!(c, "  route {address}/{len} blackhole;");
            }
        }
        let _ = writeln!(c, "}}");
    }
}

/// Builder for `bird.conf`.
#[derive(Debug, Clone)]
pub struct BirdConfig {
    pub router_id: Ipv4Addr,
    pub bgp: Vec<BirdBgp>,
    pub statics: Vec<BirdStatic>,
    /// Raw text appended at the end.
    pub extra: String,
    /// Raw text before the protocols: the filters and sets they name.
    pub definitions: String,
}

impl BirdConfig {
    pub fn new(router_id: Ipv4Addr) -> Self {
        Self {
            router_id,
            bgp: Vec::new(),
            statics: Vec::new(),
            extra: String::new(),
            definitions: String::new(),
        }
    }

    pub fn bgp(mut self, bgp: BirdBgp) -> Self {
        self.bgp.push(bgp);
        self
    }

    /// `protocol bfd` on every interface with these timers (milliseconds; RFC
    /// 5880 §6.8.1 desired min TX, required min RX, detect multiplier).
    pub fn bfd(mut self, min_rx_ms: u32, min_tx_ms: u32, multiplier: u8) -> Self {
        let _ = writeln!(
            self.extra,
            "protocol bfd {{\n  interface \"*\" {{\n    min rx interval {min_rx_ms} ms;\n    \
             min tx interval {min_tx_ms} ms;\n    multiplier {multiplier};\n  }};\n}}"
        );
        self
    }

    pub fn static_protocol(mut self, protocol: BirdStatic) -> Self {
        self.statics.push(protocol);
        self
    }

    pub fn render(&self) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "router id {};", self.router_id);
        // Without `protocol device` eBGP next hops never resolve.
        let _ = writeln!(c, "protocol device {{ scan time 1; }}");
        c.push_str(&self.definitions);
        for protocol in &self.statics {
            protocol.render(&mut c);
        }
        for bgp in &self.bgp {
            bgp.render(&mut c);
        }
        c.push_str(&self.extra);
        c
    }
}

/// What `show protocols all NAME` says about a BGP protocol.
#[derive(Debug, Clone, Default)]
pub struct BirdProtocol {
    /// `up`, `start`, `down`.
    pub state: String,
    /// `BGP state:` (`Established`, `Active`, `Idle`, ...).
    pub bgp_state: String,
    pub last_error: Option<String>,
    pub imported: u64,
    pub exported: u64,
    pub raw: String,
}

/// One route of `show route ... all`.
#[derive(Debug, Clone, Default)]
pub struct BirdRoute {
    pub prefix: String,
    pub protocol: String,
    pub primary: bool,
    pub gateway: Option<String>,
    pub as_path: String,
    pub next_hop: Option<String>,
    pub med: Option<u64>,
    pub local_pref: Option<u64>,
    pub communities: Vec<String>,
    pub large_communities: Vec<String>,
}

/// A running BIRD; killed on drop.
#[derive(Debug)]
pub struct Bird {
    process: Process,
    dir: TempDir,
    namespace: Namespace,
    config: BirdConfig,
}

impl Bird {
    /// Writes the config and starts `bird -f`; returns once its control socket answers
    /// (BIRD opens it only after the whole config is parsed).
    pub fn start(namespace: &Namespace, config: &BirdConfig) -> Result<Self> {
        Self::start_with_deadline(namespace, config, Duration::from_secs(20))
    }

    /// As [`Bird::start`] after a crash: `bird -R`, graceful restart recovery (RFC 4724
    /// restarting speaker: the R bit in its OPENs, End-of-RIB once its routes are out).
    pub fn start_recovering(namespace: &Namespace, config: &BirdConfig) -> Result<Self> {
        Self::spawn(namespace, config, Duration::from_secs(20), true)
    }

    /// As [`Bird::start`] with a longer parse deadline for generated configs.
    pub fn start_with_deadline(
        namespace: &Namespace,
        config: &BirdConfig,
        deadline: Duration,
    ) -> Result<Self> {
        Self::spawn(namespace, config, deadline, false)
    }

    fn spawn(
        namespace: &Namespace,
        config: &BirdConfig,
        deadline: Duration,
        recovering: bool,
    ) -> Result<Self> {
        let program = require_program("bird", "bird2")?;
        require_program("birdc", "bird2")?;
        let dir = TempDir::new("bird")?;
        let conf = dir.write("bird.conf", &config.render())?;
        let path = |p: PathBuf| p.display().to_string();
        let mut args = vec![
            "-f".to_owned(),
            "-c".to_owned(),
            path(conf),
            "-s".to_owned(),
            path(dir.join("bird.ctl")),
            "-P".to_owned(),
            path(dir.join("bird.pid")),
        ];
        if recovering {
            args.push("-R".to_owned());
        }
        let process = namespace.spawn("bird", &program, &args, &dir.join("bird.log"))?;
        let mut bird = Self { process, dir, namespace: namespace.clone(), config: config.clone() };
        let log = bird.dir.join("bird.log");
        wait_until(
            "BIRD's control socket",
            deadline,
            Duration::from_millis(100),
            || {
                if let Err(error) = bird.process.check_running() {
                    return Some(Err(error));
                }
                bird.birdc(&["show", "status"]).ok().map(|_| Ok(()))
            },
            move || crate::tail(&log, 20),
        )??;
        Ok(bird)
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

    /// `birdc -s SOCKET args...`; stdout.
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        let mut all = vec!["-s".to_owned(), self.dir.join("bird.ctl").display().to_string()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        // birdc exits 1 for answers such as "Network not found": only a missing greeting
        // (no connection to the daemon) is a failure.
        let command = format!("birdc {}", all.join(" "));
        let out = std::process::Command::new("birdc")
            .args(&all)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| HarnessError::Io { command: command.clone(), source })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if stdout.contains(" ready.") {
            Ok(stdout)
        } else {
            Err(HarnessError::CommandFailed {
                command,
                status: out.status.to_string(),
                stderr: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
            })
        }
    }

    /// Rewrites the config and asks BIRD to reload it (`configure`).
    pub fn reconfigure(&mut self, config: &BirdConfig) -> Result<()> {
        self.dir.write("bird.conf", &config.render())?;
        self.config = config.clone();
        let out = self.birdc(&["configure"])?;
        if out.contains("Reconfigured") || out.contains("Reconfiguration in progress") {
            Ok(())
        } else {
            Err(HarnessError::CommandFailed {
                command: "birdc configure".to_owned(),
                status: "rejected".to_owned(),
                stderr: out,
            })
        }
    }

    pub fn config(&self) -> &BirdConfig {
        &self.config
    }

    pub fn enable(&self, protocol: &str) -> Result<()> {
        self.birdc(&["enable", protocol]).map(drop)
    }

    pub fn disable(&self, protocol: &str) -> Result<()> {
        self.birdc(&["disable", protocol]).map(drop)
    }

    /// Parsed `show protocols all NAME`.
    pub fn protocol(&self, name: &str) -> Result<BirdProtocol> {
        let text = self.birdc(&["show", "protocols", "all", name])?;
        Ok(parse_protocol(name, &text))
    }

    /// One line describing a protocol, for failed waits.
    pub fn describe(&self, name: &str) -> String {
        match self.protocol(name) {
            Ok(p) => format!(
                "BIRD protocol {name}: {} / BGP state {:?}, last error {:?}, {} imported, {} exported",
                p.state, p.bgp_state, p.last_error, p.imported, p.exported
            ),
            Err(e) => format!("BIRD protocol {name}: query failed: {e}"),
        }
    }

    pub fn is_established(&self, name: &str) -> bool {
        matches!(self.protocol(name), Ok(p) if p.bgp_state == "Established")
    }

    /// Waits for protocol `name` to reach Established (BIRD connects out after `connect delay
    /// time`, so allow 15 s or more).
    pub fn wait_established(&self, name: &str, deadline: Duration) -> Result<()> {
        wait_until(
            &format!("BIRD protocol {name} to be Established"),
            deadline,
            Duration::from_millis(200),
            || self.is_established(name).then_some(()),
            || self.describe(name),
        )
    }

    /// Routes from `show route <filter> all`, e.g. `filter = "for 198.51.100.0/24"` or `""`.
    pub fn routes(&self, filter: &str) -> Result<Vec<BirdRoute>> {
        let mut args = vec!["show", "route"];
        args.extend(filter.split_whitespace());
        args.push("all");
        Ok(parse_routes(&self.birdc(&args)?))
    }

    /// The primary route for exactly `prefix`, if any.
    pub fn route(&self, prefix: IpNet) -> Result<Option<BirdRoute>> {
        let exact = prefix.to_string();
        Ok(self.routes(&exact)?.into_iter().find(|r| r.prefix == exact && r.primary))
    }

    /// Waits until `check` accepts BIRD's primary route for `prefix`.
    pub fn wait_route(
        &self,
        prefix: IpNet,
        deadline: Duration,
        check: impl Fn(&BirdRoute) -> bool,
        protocol: &str,
    ) -> Result<BirdRoute> {
        wait_until(
            &format!("BIRD to hold a matching route for {prefix}"),
            deadline,
            Duration::from_millis(200),
            || self.route(prefix).ok().flatten().filter(|r| check(r)),
            || format!("{:?}\n{}", self.route(prefix), self.describe(protocol)),
        )
    }

    /// Waits until BIRD holds no route for `prefix`.
    pub fn wait_no_route(&self, prefix: IpNet, deadline: Duration, protocol: &str) -> Result<()> {
        wait_until(
            &format!("BIRD to drop {prefix}"),
            deadline,
            Duration::from_millis(200),
            || matches!(self.route(prefix), Ok(None)).then_some(()),
            || format!("{:?}\n{}", self.route(prefix), self.describe(protocol)),
        )
    }

    /// Number of networks over all tables (`show route count`).
    pub fn route_count(&self) -> Result<u64> {
        let text = self.birdc(&["show", "route", "count"])?;
        parse_route_count(&text).ok_or_else(|| HarnessError::Parse {
            command: "birdc show route count".to_owned(),
            reason: "no `N of M routes for K networks` line".to_owned(),
            output: text,
        })
    }

    pub fn freeze(&self) {
        self.process.freeze();
    }

    /// `show bfd sessions`: (neighbor address, state) per session.
    pub fn bfd_sessions(&self) -> Result<Vec<(IpAddr, String)>> {
        let text = self.birdc(&["show", "bfd", "sessions"])?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let address = words.next()?.parse().ok()?;
                let _interface = words.next()?;
                Some((address, words.next()?.to_owned()))
            })
            .collect())
    }

    pub fn thaw(&self) {
        self.process.thaw();
    }

    pub fn kill(&mut self) {
        self.process.kill();
    }

    pub fn log_tail(&self, lines: usize) -> String {
        crate::tail(&self.dir.join("bird.log"), lines)
    }
}

fn parse_protocol(name: &str, text: &str) -> BirdProtocol {
    let mut protocol = BirdProtocol { raw: text.to_owned(), ..BirdProtocol::default() };
    for line in text.lines() {
        let trimmed = line.trim();
        if line.starts_with(name) && line[name.len()..].starts_with(char::is_whitespace) {
            protocol.state = line.split_whitespace().nth(3).unwrap_or_default().to_owned();
        } else if let Some(state) = trimmed.strip_prefix("BGP state:") {
            protocol.bgp_state = state.trim().to_owned();
        } else if let Some(error) = trimmed.strip_prefix("Last error:") {
            protocol.last_error = Some(error.trim().to_owned());
        } else if let Some(routes) = trimmed.strip_prefix("Routes:") {
            for part in routes.split(',') {
                let mut words = part.split_whitespace();
                let count: u64 = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                match words.next() {
                    Some("imported") => protocol.imported += count,
                    Some("exported") => protocol.exported += count,
                    _ => {}
                }
            }
        }
    }
    protocol
}

fn tuples(value: &str) -> Vec<String> {
    value
        .split('(')
        .filter_map(|part| part.split(')').next())
        .map(|t| t.split(',').map(str::trim).collect::<Vec<_>>().join(":"))
        .filter(|t| !t.is_empty())
        .collect()
}

fn parse_routes(text: &str) -> Vec<BirdRoute> {
    const KINDS: [&str; 4] = ["unicast", "blackhole", "unreachable", "prohibited"];
    let mut routes: Vec<BirdRoute> = Vec::new();
    let mut last_prefix = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        let mut words = trimmed.split_whitespace();
        let first = words.next().unwrap_or_default();
        let starts_route = |w: &str| KINDS.contains(&w);
        let header =
            if !line.starts_with(char::is_whitespace) && words.next().is_some_and(starts_route) {
                last_prefix = first.to_owned();
                true
            } else {
                line.starts_with(' ') && starts_route(first)
            };
        if header {
            let protocol = trimmed
                .split_once('[')
                .and_then(|(_, r)| r.split_whitespace().next())
                .unwrap_or_default()
                .to_owned();
            routes.push(BirdRoute {
                prefix: last_prefix.clone(),
                protocol,
                primary: trimmed.contains("] *"),
                ..BirdRoute::default()
            });
            continue;
        }
        let Some(route) = routes.last_mut() else {
            continue;
        };
        if let Some(via) = trimmed.strip_prefix("via ") {
            route.gateway = via.split_whitespace().next().map(str::to_owned);
        } else if let Some((key, value)) = trimmed.split_once(": ") {
            let value = value.trim();
            match key {
                "BGP.as_path" => route.as_path = value.to_owned(),
                "BGP.next_hop" => route.next_hop = Some(value.to_owned()),
                "BGP.med" => route.med = value.parse().ok(),
                "BGP.local_pref" => route.local_pref = value.parse().ok(),
                "BGP.community" => route.communities = tuples(value),
                "BGP.large_community" => route.large_communities = tuples(value),
                _ => {}
            }
        }
    }
    routes
}

fn parse_route_count(text: &str) -> Option<u64> {
    let mut total = None;
    for line in text.lines().filter(|l| l.contains(" networks in table ")) {
        let networks = line
            .split_once(" routes for ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())?;
        total = Some(total.unwrap_or(0) + networks);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = "BIRD 2.0.12 ready.
Table master4:
198.18.1.0/24        unicast [s4 23:33:27.891] * (200)
\tvia 192.0.2.2 on vb
\tType: static univ
\tBGP.med: 50
\tBGP.community: (65002,7) (65002,8)
\tBGP.large_community: (65002, 1, 2)
198.18.0.1/32        unicast [p1 23:33:29.967] * (100) [AS65001i]
\tvia 192.0.2.1 on vb
\tBGP.as_path: 65001
\tBGP.next_hop: 192.0.2.1
\tBGP.local_pref: 100
                     unicast [p2 23:33:29.967] (100) [AS65003i]
\tvia 192.0.2.3 on vb
\tBGP.as_path: 65003
";

    #[test]
    fn parses_routes_with_attributes_and_alternatives() {
        let routes = parse_routes(ROUTES);
        assert_eq!(routes.len(), 3);
        assert_eq!(routes[0].prefix, "198.18.1.0/24");
        assert_eq!(routes[0].med, Some(50));
        assert_eq!(routes[0].communities, ["65002:7", "65002:8"]);
        assert_eq!(routes[0].large_communities, ["65002:1:2"]);
        assert_eq!(routes[1].as_path, "65001");
        assert_eq!(routes[1].next_hop.as_deref(), Some("192.0.2.1"));
        assert!(routes[1].primary);
        assert_eq!(routes[2].prefix, "198.18.0.1/32");
        assert_eq!(routes[2].protocol, "p2");
        assert!(!routes[2].primary);
    }

    #[test]
    fn parses_protocol_state_and_error() {
        let text = "BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
p1         BGP        ---        start  23:34:00.844  Idle          Received: Bad peer AS
  BGP state:          Idle
    Last error:       Received: Bad peer AS
    Routes:         1 imported, 2 exported, 1 preferred
";
        let p = parse_protocol("p1", text);
        assert_eq!(p.state, "start");
        assert_eq!(p.bgp_state, "Idle");
        assert_eq!(p.last_error.as_deref(), Some("Received: Bad peer AS"));
        assert_eq!((p.imported, p.exported), (1, 2));
    }

    #[test]
    fn counts_networks_over_tables() {
        let text = "BIRD 2.0.12 ready.
2 of 2 routes for 2 networks in table master4
1 of 1 routes for 1 networks in table master6
Total: 3 of 3 routes for 3 networks in 2 tables
";
        assert_eq!(parse_route_count(text), Some(3));
    }

    #[test]
    fn generates_consecutive_prefixes() {
        let mut c = String::new();
        BirdStatic::new("feed", Family::Ipv4Unicast)
            .generated(Ipv4Addr::new(10, 0, 0, 254), 32, 3)
            .render(&mut c);
        assert!(c.contains("route 10.0.1.0/32 blackhole;"), "{c}");
    }
}
