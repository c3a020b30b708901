//! What changed between two configurations, so a reload touches only that:
//! untouched sessions stay up, untouched routes are not re-announced.
//!
//! Neighbours are matched by address and routes by prefix (both unique in a valid
//! config). A changed neighbour carries the fields that changed and whether the
//! session must be reset: anything negotiated in OPEN (RFC 4271 §4.2: ASN, hold
//! time, capabilities such as families) or fixed when the TCP connection was made
//! (address, port, local address, TCP MD5 key, TTL) needs a new session; timers
//! that only pace our own side and the description do not. A reset for a
//! configuration change is sent as Cease / Other Configuration Change (RFC 4486
//! §4 subcode 6); turning `enabled` off is Cease / Administrative Shutdown
//! (subcode 2).

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{Config, Global, Neighbor, StaticRoute};
use crate::wire::Family;

/// A `[global]` or `[api]` key that changed.
///
/// What a reload (SIGHUP) applies, key by key: `[[neighbors]]` (every key:
/// added, removed, changed, a session reset where the key is in the OPEN or
/// the socket), `[[routes]]`, `[[layer2]]`, `[layer2_gratuitous]`, and
/// `global.hold_time` / `global.connect_retry_time` (through the neighbors
/// that inherit them). Every key listed here is read once at start and is
/// NOT applied by a reload: a reload that changes one is refused as a whole
/// (nothing half-applied) with an error naming each such key, its old and
/// new value and "needs a restart".
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum GlobalChange {
    /// In every OPEN, and decides iBGP or eBGP for every neighbor.
    Asn,
    /// The BGP Identifier in every OPEN.
    RouterId,
    /// The BGP listeners are bound at start.
    ListenPort,
    ListenAddresses,
    /// The API server is bound at start.
    ApiListen,
    /// The API's limits are set on its listener and service at start.
    ApiLimits,
    /// The metrics listener is bound at start.
    Metrics,
    /// The log filter is installed at start.
    LogLevel,
    /// The log formatter is installed at start.
    LogFormat,
    /// The graceful restart state file's directory, opened at start.
    StateDir,
    /// Used only while starting (RFC 4724 §4.1 Selection_Deferral_Timer).
    SelectionDeferralTime,
    /// The policy tables or `ebgp_requires_policy`: every session's chains are
    /// evaluated again, no reset.
    Policies,
    /// The BFD thread's scheduling is set when it starts.
    BfdRealtimePriority,
}

impl GlobalChange {
    /// Whether the daemon must restart to apply this change: every global
    /// change does (see the type's doc); the reload refuses them.
    pub fn needs_restart(self) -> bool {
        !matches!(self, Self::Policies)
    }

    /// The key's name as in the file.
    pub fn key(self) -> &'static str {
        match self {
            Self::Asn => "global.asn",
            Self::RouterId => "global.router_id",
            Self::ListenPort => "global.listen_port",
            Self::ListenAddresses => "global.listen_addresses",
            Self::ApiListen => "api.listen",
            Self::ApiLimits => "api (limits)",
            Self::Metrics => "metrics.listen",
            Self::LogLevel => "global.log_level",
            Self::LogFormat => "global.log_format",
            Self::StateDir => "global.state_dir",
            Self::SelectionDeferralTime => "global.selection_deferral_time",
            Self::Policies => "policies",
            Self::BfdRealtimePriority => "global.bfd_realtime_priority",
        }
    }

    /// `key old -> new`, for the reload's refusal.
    pub fn describe(self, old: &Config, new: &Config) -> String {
        let addresses = |c: &Config| {
            let list: Vec<String> =
                c.global.listen_addresses.iter().map(ToString::to_string).collect();
            format!("[{}]", list.join(", "))
        };
        let (before, after) = match self {
            Self::Asn => (old.global.asn.to_string(), new.global.asn.to_string()),
            Self::RouterId => (old.global.router_id.to_string(), new.global.router_id.to_string()),
            Self::ListenPort => {
                (old.global.listen_port.to_string(), new.global.listen_port.to_string())
            }
            Self::ListenAddresses => (addresses(old), addresses(new)),
            Self::ApiListen => (old.api.listen.to_string(), new.api.listen.to_string()),
            Self::ApiLimits => (format!("{:?}", old.api.limits), format!("{:?}", new.api.limits)),
            Self::Metrics => {
                let listen = |c: &Config| {
                    c.metrics.as_ref().map_or_else(|| "off".to_owned(), |m| m.listen.to_string())
                };
                (listen(old), listen(new))
            }
            Self::LogLevel => (old.global.log_level.to_string(), new.global.log_level.to_string()),
            Self::LogFormat => {
                (old.global.log_format.to_string(), new.global.log_format.to_string())
            }
            Self::StateDir => (
                format!("{:?}", old.global.state_dir.display().to_string()),
                format!("{:?}", new.global.state_dir.display().to_string()),
            ),
            Self::SelectionDeferralTime => (
                old.global.selection_deferral_time.to_string(),
                new.global.selection_deferral_time.to_string(),
            ),
            Self::BfdRealtimePriority => (
                old.global.bfd_realtime_priority.to_string(),
                new.global.bfd_realtime_priority.to_string(),
            ),
            Self::Policies => (
                format!("(ebgp_requires_policy {})", old.global.ebgp_requires_policy),
                format!("(ebgp_requires_policy {})", new.global.ebgp_requires_policy),
            ),
        };
        format!("{} {before} -> {after}", self.key())
    }
}

/// A neighbour key that changed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum NeighborField {
    RemoteAsn,
    Port,
    LocalAddress,
    Passive,
    NextHopSelf,
    Password,
    HoldTime,
    KeepaliveTime,
    ConnectRetryTime,
    DelayOpenTime,
    Ttl,
    Families,
    Description,
    /// Shut the session down or start it; the instance does that, not a reset.
    Enabled,
    /// The graceful restart capability is in the OPEN.
    GracefulRestart,
    /// `[neighbors.bfd]`: the instance adds, updates or removes the BFD
    /// session; the BGP session is left alone.
    Bfd,
    /// Applied to the running session: routes are evaluated again (see
    /// `instance::policies`), no reset.
    ImportPolicy,
    ExportPolicy,
    SoftReconfigurationInbound,
    /// Our AS and BGP identifier in the OPEN: a new session.
    LocalAsn,
    RouterId,
    /// `enforce_first_as`: the session starts again, so that routes treated
    /// as withdrawn under the old setting are sent again.
    EnforceFirstAs,
    /// `vrf`: the sockets are bound to another device, so the session is
    /// opened again over it.
    Vrf,
    /// `[neighbors.max_prefixes]`: applied to the running session (a limit
    /// now exceeded takes it down at once, see `instance::max_prefix`).
    MaxPrefixes,
    /// A key this diff does not list one by one (added to [`Neighbor`]
    /// later): applied by resetting the session, never ignored.
    Other,
}

impl NeighborField {
    /// Whether the field is one of the neighbor's policy settings.
    pub fn changes_policy(self) -> bool {
        matches!(self, Self::ImportPolicy | Self::ExportPolicy | Self::SoftReconfigurationInbound)
    }

    /// Whether a change of this field needs the session torn down and rebuilt.
    pub fn resets_session(self) -> bool {
        match self {
            Self::RemoteAsn
            | Self::Port
            | Self::LocalAddress
            | Self::Password
            | Self::HoldTime
            | Self::Ttl
            | Self::Families
            | Self::NextHopSelf
            | Self::GracefulRestart
            | Self::LocalAsn
            | Self::RouterId
            | Self::EnforceFirstAs
            | Self::Vrf
            | Self::Other => true,
            Self::Passive
            | Self::KeepaliveTime
            | Self::ConnectRetryTime
            | Self::DelayOpenTime
            | Self::Description
            | Self::Enabled
            | Self::ImportPolicy
            | Self::ExportPolicy
            | Self::SoftReconfigurationInbound
            | Self::MaxPrefixes
            | Self::Bfd => false,
        }
    }
}

/// One neighbour present in both configs whose settings differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighborChange {
    /// The neighbour as the new config has it.
    pub neighbor: Neighbor,
    pub fields: Vec<NeighborField>,
    /// Whether any changed field resets the session. When `enabled` turned
    /// false the session is shut down instead, whatever else changed.
    pub reset: bool,
}

/// Everything that differs between two configs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    pub global: Vec<GlobalChange>,
    /// In the new config's order.
    pub neighbors_added: Vec<Neighbor>,
    /// In the old config's order.
    pub neighbors_removed: Vec<IpAddr>,
    pub neighbors_changed: Vec<NeighborChange>,
    pub routes_added: Vec<StaticRoute>,
    pub routes_removed: Vec<IpNet>,
    /// The new version of each route whose attributes changed: announce it again
    /// (an UPDATE implicitly replaces the previous path, RFC 4271 §3.1).
    pub routes_changed: Vec<StaticRoute>,
}

impl ConfigDiff {
    pub fn between(old: &Config, new: &Config) -> Self {
        let mut diff = Self { global: global_changes(old, new), ..Self::default() };

        let old_neighbors: HashMap<IpAddr, &Neighbor> =
            old.neighbors.iter().map(|n| (n.address, n)).collect();
        for neighbor in &new.neighbors {
            match old_neighbors.get(&neighbor.address) {
                None => diff.neighbors_added.push(neighbor.clone()),
                Some(before) => {
                    let fields = neighbor_changes(before, neighbor);
                    if !fields.is_empty() {
                        let reset = fields.iter().any(|f| f.resets_session());
                        diff.neighbors_changed.push(NeighborChange {
                            neighbor: neighbor.clone(),
                            fields,
                            reset,
                        });
                    }
                }
            }
        }
        diff.neighbors_removed = old
            .neighbors
            .iter()
            .filter(|n| new.neighbor(n.address).is_none())
            .map(|n| n.address)
            .collect();

        let old_routes: HashMap<IpNet, &StaticRoute> =
            old.routes.iter().map(|r| (r.prefix, r)).collect();
        let new_prefixes: HashMap<IpNet, ()> = new.routes.iter().map(|r| (r.prefix, ())).collect();
        for route in &new.routes {
            match old_routes.get(&route.prefix) {
                None => diff.routes_added.push(route.clone()),
                Some(before) if *before != route => diff.routes_changed.push(route.clone()),
                Some(_) => {}
            }
        }
        diff.routes_removed = old
            .routes
            .iter()
            .filter(|r| !new_prefixes.contains_key(&r.prefix))
            .map(|r| r.prefix)
            .collect();
        diff
    }

    /// Whether nothing changed at all.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the daemon must restart to apply this diff (see
    /// [`GlobalChange::needs_restart`]).
    pub fn needs_restart(&self) -> bool {
        self.global.iter().any(|c| c.needs_restart())
    }

    /// `key old -> new` of each change that needs a restart, for the
    /// reload's refusal; empty when the reload can be applied.
    pub fn restart_changes(&self, old: &Config, new: &Config) -> Vec<String> {
        // Interface neighbors (BGP unnumbered) are not in this diff: the
        // instance compares them by interface name on reload
        // (`instance::unnumbered`), without a restart.
        self.global.iter().filter(|c| c.needs_restart()).map(|c| c.describe(old, new)).collect()
    }
}

fn global_changes(old: &Config, new: &Config) -> Vec<GlobalChange> {
    let o: &Global = &old.global;
    // Every key, by name: a key added to `Global` must be placed here (the
    // destructuring stops compiling until it is), so none is ignored.
    let Global {
        asn,
        router_id,
        listen_port,
        listen_addresses,
        // Only defaults: their effect shows up in the neighbors that inherit them.
        hold_time: _,
        connect_retry_time: _,
        log_level,
        log_format,
        state_dir,
        selection_deferral_time,
        ebgp_requires_policy,
        // Only a default: its effect shows up in the neighbors that inherit it.
        enforce_first_as: _,
        bfd_realtime_priority,
    } = &new.global;
    let mut changes = Vec::new();
    let mut note = |changed: bool, change| {
        if changed {
            changes.push(change);
        }
    };
    note(o.asn != *asn, GlobalChange::Asn);
    note(o.router_id != *router_id, GlobalChange::RouterId);
    note(o.listen_port != *listen_port, GlobalChange::ListenPort);
    note(o.listen_addresses != *listen_addresses, GlobalChange::ListenAddresses);
    note(old.api.listen != new.api.listen, GlobalChange::ApiListen);
    note(old.api.limits != new.api.limits, GlobalChange::ApiLimits);
    note(old.metrics != new.metrics, GlobalChange::Metrics);
    note(o.log_level != *log_level, GlobalChange::LogLevel);
    note(o.log_format != *log_format, GlobalChange::LogFormat);
    note(o.state_dir != *state_dir, GlobalChange::StateDir);
    note(
        o.selection_deferral_time != *selection_deferral_time,
        GlobalChange::SelectionDeferralTime,
    );
    note(
        old.policies != new.policies || o.ebgp_requires_policy != *ebgp_requires_policy,
        GlobalChange::Policies,
    );
    note(o.bfd_realtime_priority != *bfd_realtime_priority, GlobalChange::BfdRealtimePriority);
    changes
}

fn neighbor_changes(o: &Neighbor, n: &Neighbor) -> Vec<NeighborField> {
    let mut fields = Vec::new();
    let mut note = |changed: bool, field| {
        if changed {
            fields.push(field);
        }
    };
    note(o.remote_asn != n.remote_asn, NeighborField::RemoteAsn);
    note(o.dynamic_asn != n.dynamic_asn, NeighborField::RemoteAsn);
    note(o.port != n.port, NeighborField::Port);
    note(o.local_address != n.local_address, NeighborField::LocalAddress);
    note(o.passive != n.passive, NeighborField::Passive);
    note(o.next_hop_self != n.next_hop_self, NeighborField::NextHopSelf);
    note(o.password != n.password, NeighborField::Password);
    note(o.hold_time != n.hold_time, NeighborField::HoldTime);
    note(o.keepalive_time != n.keepalive_time, NeighborField::KeepaliveTime);
    note(o.connect_retry_time != n.connect_retry_time, NeighborField::ConnectRetryTime);
    note(o.delay_open_time != n.delay_open_time, NeighborField::DelayOpenTime);
    note(o.ttl != n.ttl, NeighborField::Ttl);
    note(!same_families(&o.families, &n.families), NeighborField::Families);
    note(o.description != n.description, NeighborField::Description);
    note(o.enabled != n.enabled, NeighborField::Enabled);
    note(o.graceful_restart != n.graceful_restart, NeighborField::GracefulRestart);
    note(o.bfd != n.bfd, NeighborField::Bfd);
    note(o.max_prefixes != n.max_prefixes, NeighborField::MaxPrefixes);
    note(o.local_asn != n.local_asn, NeighborField::LocalAsn);
    note(o.router_id != n.router_id, NeighborField::RouterId);
    note(o.enforce_first_as != n.enforce_first_as, NeighborField::EnforceFirstAs);
    note(o.vrf != n.vrf, NeighborField::Vrf);
    note(o.import_policy != n.import_policy, NeighborField::ImportPolicy);
    note(o.export_policy != n.export_policy, NeighborField::ExportPolicy);
    note(
        o.soft_reconfiguration_inbound != n.soft_reconfiguration_inbound,
        NeighborField::SoftReconfigurationInbound,
    );
    // A key not compared above still differs: reset rather than ignore it.
    // (Families are equal as sets here; their order is no change.)
    if fields.is_empty() && o != n {
        let mut reordered = o.clone();
        reordered.families.clone_from(&n.families);
        if reordered != *n {
            fields.push(NeighborField::Other);
        }
    }
    fields
}

/// Families are a set: their order in the file does not matter.
fn same_families(a: &[Family], b: &[Family]) -> bool {
    a.len() == b.len() && a.iter().all(|f| b.contains(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";
    const PEER: &str = "[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n";
    const ROUTE: &str = "[[routes]]\nprefix = \"198.51.100.10/32\"\n";

    fn config(text: &str) -> Config {
        match Config::from_str_named(text, "diff.toml") {
            Ok(config) => config,
            Err(errors) => panic!("{errors}\nin:\n{text}"),
        }
    }

    /// The base config with `extra` lines appended to its one neighbour.
    fn with_peer(extra: &str) -> Config {
        let (address, _) = PEER.split_at(PEER.find("remote_asn").unwrap_or(PEER.len()));
        if extra.contains("remote_asn") {
            return config(&format!("{GLOBAL}{address}{extra}{ROUTE}"));
        }
        config(&format!("{GLOBAL}{PEER}{extra}{ROUTE}"))
    }

    #[test]
    fn identical_configs_have_an_empty_diff() {
        let a = with_peer("");
        assert!(ConfigDiff::between(&a, &a).is_empty());
        // The same values spelt out explicitly are no change either.
        let explicit =
            with_peer("port = 179\nhold_time = 90\nkeepalive_time = 30\nenabled = true\n");
        assert!(ConfigDiff::between(&a, &explicit).is_empty());
        let reordered = with_peer("families = [\"ipv6-unicast\", \"ipv4-unicast\"]\n");
        let ordered = with_peer("families = [\"ipv4-unicast\", \"ipv6-unicast\"]\n");
        assert!(ConfigDiff::between(&ordered, &reordered).is_empty());
    }

    #[test]
    fn neighbor_field_changes_and_resets() {
        use NeighborField::*;
        let cases: [(&str, &str, &[NeighborField], bool); 17] = [
            ("", "remote_asn = 65009\n", &[RemoteAsn], true),
            ("", "port = 1179\n", &[Port], true),
            ("", "local_address = \"192.0.2.1\"\n", &[LocalAddress], true),
            ("", "passive = true\n", &[Passive], false),
            ("", "password = \"secret\"\n", &[Password], true),
            ("password = \"a\"\n", "password = \"b\"\n", &[Password], true),
            // The keepalive follows the hold time by default.
            ("", "hold_time = 30\n", &[HoldTime, KeepaliveTime], true),
            ("", "keepalive_time = 20\n", &[KeepaliveTime], false),
            ("", "connect_retry_time = 5\n", &[ConnectRetryTime], false),
            ("", "delay_open_time = 5\n", &[DelayOpenTime], false),
            ("", "ebgp_multihop = 2\n", &[Ttl], true),
            ("", "ttl_security = true\n", &[Ttl], true),
            ("", "families = [\"ipv4-unicast\", \"ipv6-unicast\"]\n", &[Families], true),
            ("description = \"a\"\n", "description = \"b\"\n", &[Description], false),
            ("", "enabled = false\n", &[Enabled], false),
            ("", "vrf = \"blue\"\n", &[Vrf], true),
            ("vrf = \"blue\"\n", "vrf = \"red\"\n", &[Vrf], true),
        ];
        for (before, after, fields, reset) in cases {
            let diff = ConfigDiff::between(&with_peer(before), &with_peer(after));
            assert_eq!(diff.neighbors_changed.len(), 1, "{before:?} -> {after:?}");
            let change = &diff.neighbors_changed[0];
            assert_eq!(change.fields, fields, "{before:?} -> {after:?}");
            assert_eq!(change.reset, reset, "{before:?} -> {after:?}");
            assert_eq!(change.neighbor, with_peer(after).neighbors[0]);
            assert!(diff.neighbors_added.is_empty() && diff.neighbors_removed.is_empty());
            assert!(diff.global.is_empty() && !diff.needs_restart());
        }
    }

    #[test]
    fn global_defaults_reach_inheriting_neighbors() {
        let old = config(&format!("{GLOBAL}{PEER}"));
        let new = config(&format!("{GLOBAL}hold_time = 180\n{PEER}"));
        let diff = ConfigDiff::between(&old, &new);
        assert!(diff.global.is_empty());
        assert_eq!(
            diff.neighbors_changed[0].fields,
            [NeighborField::HoldTime, NeighborField::KeepaliveTime]
        );
        assert!(diff.neighbors_changed[0].reset);
    }

    #[test]
    fn neighbors_added_and_removed_by_address() {
        let other = "[[neighbors]]\naddress = \"2001:db8::2\"\nremote_asn = 65003\n";
        let third = "[[neighbors]]\naddress = \"203.0.113.2\"\nremote_asn = 65004\n";
        let old = config(&format!("{GLOBAL}{PEER}{other}"));
        let new = config(&format!("{GLOBAL}{third}{PEER}"));
        let diff = ConfigDiff::between(&old, &new);
        let added: Vec<IpAddr> = diff.neighbors_added.iter().map(|n| n.address).collect();
        assert_eq!(added, ["203.0.113.2".parse::<IpAddr>().unwrap()]);
        assert_eq!(diff.neighbors_removed, ["2001:db8::2".parse::<IpAddr>().unwrap()]);
        // Moving a neighbour within the file is no change.
        assert!(diff.neighbors_changed.is_empty());
    }

    #[test]
    fn routes_added_removed_and_changed_by_prefix() {
        let route =
            |prefix: &str, extra: &str| format!("[[routes]]\nprefix = \"{prefix}\"\n{extra}");
        let old = config(&format!(
            "{GLOBAL}{}{}{}",
            route("198.51.100.1/32", ""),
            route("198.51.100.2/32", "med = 1\n"),
            route("2001:db8:1::1/128", ""),
        ));
        let new = config(&format!(
            "{GLOBAL}{}{}{}",
            route("2001:db8:1::1/128", ""),
            route("198.51.100.2/32", "med = 2\n"),
            route("203.0.113.0/24", ""),
        ));
        let diff = ConfigDiff::between(&old, &new);
        let prefixes = |routes: &[StaticRoute]| -> Vec<String> {
            routes.iter().map(|r| r.prefix.to_string()).collect()
        };
        assert_eq!(prefixes(&diff.routes_added), ["203.0.113.0/24"]);
        assert_eq!(prefixes(&diff.routes_changed), ["198.51.100.2/32"]);
        assert_eq!(diff.routes_changed[0].med, Some(2));
        let removed: Vec<String> = diff.routes_removed.iter().map(|p| p.to_string()).collect();
        assert_eq!(removed, ["198.51.100.1/32"]);
        assert!(diff.neighbors_changed.is_empty() && diff.global.is_empty());
    }

    #[test]
    fn global_changes_and_restart() {
        use GlobalChange::*;
        let g = |lines: &str| config(&format!("[global]\n{lines}"));
        let base = "asn = 65001\nrouter_id = \"192.0.2.1\"\n";
        // Every global key needs a restart (the reload refuses it).
        let cases: [(&str, &[GlobalChange], bool); 10] = [
            ("asn = 65009\nrouter_id = \"192.0.2.1\"\n", &[Asn], true),
            ("asn = 65001\nrouter_id = \"192.0.2.9\"\n", &[RouterId], true),
            ("asn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = 1179\n", &[ListenPort], true),
            (
                "asn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_addresses = [\"127.0.0.1\"]\n",
                &[ListenAddresses],
                true,
            ),
            (
                "asn = 65001\nrouter_id = \"192.0.2.1\"\n[api]\nlisten = \"unix:/run/bgpd.sock\"\n",
                &[ApiListen],
                true,
            ),
            ("asn = 65001\nrouter_id = \"192.0.2.1\"\nlog_level = \"debug\"\n", &[LogLevel], true),
            ("asn = 65009\nrouter_id = \"192.0.2.9\"\n", &[Asn, RouterId], true),
            ("asn = 65001\nrouter_id = \"192.0.2.1\"\nstate_dir = \"/tmp/x\"\n", &[StateDir], true),
            (
                "asn = 65001\nrouter_id = \"192.0.2.1\"\nselection_deferral_time = 9\n",
                &[SelectionDeferralTime],
                true,
            ),
            (
                "asn = 65001\nrouter_id = \"192.0.2.1\"\nbfd_realtime_priority = 0\n",
                &[BfdRealtimePriority],
                true,
            ),
        ];
        for (after, changes, restart) in cases {
            let diff = ConfigDiff::between(&g(base), &g(after));
            assert_eq!(diff.global, changes, "{after}");
            assert_eq!(diff.needs_restart(), restart, "{after}");
        }
        let new = g("asn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = 1179\n");
        let diff = ConfigDiff::between(&g(base), &new);
        assert_eq!(diff.restart_changes(&g(base), &new), ["global.listen_port 179 -> 1179"]);
    }
}
