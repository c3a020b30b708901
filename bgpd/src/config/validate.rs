//! From [`RawConfig`] (what TOML said, with spans) to [`Config`] (typed, defaults
//! filled in). Every problem is recorded with its location and validation goes on,
//! so the user sees all of them at once; a [`Config`] comes out only when none was
//! found.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;

use toml::Spanned;

use crate::gr::Settings;

use super::error::{ConfigError, ConfigErrors, Locator, Problem};
use super::model::{
    Api, ApiListen, Config, DEFAULT_CONNECT_RETRY_TIME, DEFAULT_EBGP_MULTIHOP, DEFAULT_HOLD_TIME,
    DEFAULT_LOCAL_PREF, DEFAULT_PORT, DynamicAsn, Global, LogFormat, LogLevel, MAX_AS_PATH_PREPEND,
    MAX_DELAY_OPEN_TIME, Neighbor, Password, StaticRoute, TtlPolicy,
};
use super::raw::{
    Key, RawApi, RawConfig, RawGlobal, RawGracefulRestart, RawNeighbor, RawRoute, RawTtlSecurity,
    StringList,
};
use super::rules;
use super::values::{
    in_range, parse_address, parse_api_listen, parse_extended_community, parse_origin,
    parse_prefix, parse_unicast_address,
};
use crate::wire::{Community, Family, LargeCommunity, NextHop, Origin};

/// Validates `raw`, returning the typed config or every error found, in source order.
pub(super) fn validate(raw: &RawConfig, locator: Locator<'_>) -> Result<Config, ConfigErrors> {
    let mut validator = Validator { locator, errors: Vec::new() };
    let global = validator.global(raw.global.as_ref());
    let api = match &raw.api {
        Some(api) => validator.api(api),
        None => Some(Api::default()),
    };
    let defaults = global.as_ref().map_or(
        NeighborDefaults {
            hold_time: DEFAULT_HOLD_TIME,
            connect_retry_time: DEFAULT_CONNECT_RETRY_TIME,
            listen_port: None,
            asn: None,
            enforce_first_as: super::model::DEFAULT_ENFORCE_FIRST_AS,
        },
        |g| NeighborDefaults {
            hold_time: g.hold_time,
            connect_retry_time: g.connect_retry_time,
            listen_port: Some(g.listen_port),
            asn: Some(g.asn),
            enforce_first_as: g.enforce_first_as,
        },
    );
    let neighbors = validator.neighbors(&raw.neighbors, &defaults);
    let routes = validator.routes(&raw.routes);
    let layer2 = validator.layer2(&raw.layer2);
    let layer2_gratuitous = validator.layer2_gratuitous(raw.layer2_gratuitous.as_ref());
    let metrics = validator.metrics(raw.metrics.as_ref());
    let policies = validator.policies(raw);

    let mut errors = validator.errors;
    match (global, api, neighbors, routes, layer2, layer2_gratuitous, metrics, policies) {
        (
            Some(global),
            Some(api),
            Some((neighbors, interface_neighbors)),
            Some(routes),
            Some(layer2),
            Some(layer2_gratuitous),
            Some(metrics),
            Some(policies),
        ) if errors.is_empty() => Ok(Config {
            global,
            api,
            neighbors,
            interface_neighbors,
            routes,
            layer2,
            layer2_gratuitous,
            metrics,
            policies,
        }),
        _ => {
            errors.sort_by_key(|e| e.location().map(|l| l.offset));
            Err(ConfigErrors { errors })
        }
    }
}

mod api;
mod bfd;
mod interface;
mod layer2;
mod max_prefix;
mod metrics;
mod policy;
mod routes;

use interface::{Identity, Seen};

/// What a neighbour inherits from `[global]`.
struct NeighborDefaults {
    hold_time: u16,
    connect_retry_time: u16,
    /// `None` when `[global]` itself is invalid: checks that need it are skipped.
    listen_port: Option<u16>,
    /// `None` when `[global]` is invalid (`dynamic_asn = "internal"` needs it).
    asn: Option<u32>,
    /// `global.enforce_first_as`.
    enforce_first_as: bool,
}

/// The table a key belongs to: `global`, `neighbors[2]`, ...
struct Scope {
    name: &'static str,
    index: Option<usize>,
    /// The table's header, where a missing key is reported.
    span: Range<usize>,
}

impl Scope {
    fn key(&self, field: &str) -> String {
        match self.index {
            Some(i) => format!("{}[{i}].{field}", self.name),
            None => format!("{}.{field}", self.name),
        }
    }
}

/// How a raw value is shown in an error, TOML-like.
trait Render {
    fn render(&self) -> String;
}

impl Render for i64 {
    fn render(&self) -> String {
        self.to_string()
    }
}

impl Render for bool {
    fn render(&self) -> String {
        self.to_string()
    }
}

impl Render for String {
    fn render(&self) -> String {
        format!("{self:?}")
    }
}

impl Render for StringList {
    fn render(&self) -> String {
        let items: Vec<String> = self.iter().map(|s| s.get_ref().render()).collect();
        format!("[{}]", items.join(", "))
    }
}

impl Render for RawTtlSecurity {
    fn render(&self) -> String {
        match self {
            Self::Enabled(enabled) => enabled.to_string(),
            Self::Hops(hops) => hops.to_string(),
        }
    }
}

struct Validator<'a> {
    locator: Locator<'a>,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn invalid(&mut self, span: Range<usize>, key: String, value: String, problem: Problem) {
        let location = self.locator.locate(span.start);
        self.errors.push(ConfigError::Invalid { location, key, value, problem });
    }

    /// Parses one present value, recording its problem if any.
    fn check<T: Render, U>(
        &mut self,
        scope: &Scope,
        field: &str,
        raw: &Spanned<T>,
        parse: impl FnOnce(&T) -> Result<U, Problem>,
    ) -> Option<U> {
        match parse(raw.get_ref()) {
            Ok(value) => Some(value),
            Err(problem) => {
                self.invalid(raw.span(), scope.key(field), raw.get_ref().render(), problem);
                None
            }
        }
    }

    /// A required key, or a `Missing` error at the table's header.
    fn required<'r, T>(
        &mut self,
        scope: &Scope,
        field: &str,
        raw: &'r Key<T>,
    ) -> Option<&'r Spanned<T>> {
        if raw.is_none() {
            let location = self.locator.locate(scope.span.start);
            self.errors.push(ConfigError::Missing { location, key: scope.key(field) });
        }
        raw.as_ref()
    }

    /// An integer key in `min..=max`, or `default` when absent.
    fn integer<T>(
        &mut self,
        scope: &Scope,
        field: &str,
        raw: &Key<i64>,
        (min, max): (T, T),
        default: T,
    ) -> Option<T>
    where
        T: TryFrom<i64> + Into<u64> + PartialOrd + Copy,
    {
        self.optional(scope, field, raw, default, |v| in_range(*v, min, max))
    }

    /// An optional key parsed by `parse`, or `default` when absent.
    fn optional<T: Render, U>(
        &mut self,
        scope: &Scope,
        field: &str,
        raw: &Key<T>,
        default: U,
        parse: impl FnOnce(&T) -> Result<U, Problem>,
    ) -> Option<U> {
        match raw {
            Some(value) => self.check(scope, field, value, parse),
            None => Some(default),
        }
    }

    /// Each element of a string list, parsed; duplicates (after parsing) are errors.
    fn list<T: Eq + Hash + Copy>(
        &mut self,
        scope: &Scope,
        field: &str,
        raw: &StringList,
        parse: impl Fn(&str) -> Result<T, Problem>,
    ) -> Option<Vec<T>> {
        let mut seen = HashMap::new();
        let mut values = Some(Vec::with_capacity(raw.len()));
        for (i, item) in raw.iter().enumerate() {
            let item_field = format!("{field}[{i}]");
            let parsed = self.check(scope, &item_field, item, |s| parse(s));
            let parsed = parsed.and_then(|value| {
                self.unique(&mut seen, value, item.span(), scope, &item_field, item.get_ref())
                    .then_some(value)
            });
            match (parsed, values.as_mut()) {
                (Some(value), Some(values)) => values.push(value),
                _ => values = None,
            }
        }
        values
    }

    /// Records `value` as seen at `span`; a second sighting is a `Duplicate` error.
    fn unique<T: Eq + Hash, R: Render>(
        &mut self,
        seen: &mut HashMap<T, Range<usize>>,
        value: T,
        span: Range<usize>,
        scope: &Scope,
        field: &str,
        raw: &R,
    ) -> bool {
        match seen.entry(value) {
            Entry::Vacant(entry) => {
                entry.insert(span);
                true
            }
            Entry::Occupied(entry) => {
                let first = self.locator.locate(entry.get().start);
                let problem =
                    Problem::Duplicate { first_line: first.line, first_column: first.column };
                self.invalid(span, scope.key(field), raw.render(), problem);
                false
            }
        }
    }

    fn global(&mut self, raw: Option<&Spanned<RawGlobal>>) -> Option<Global> {
        let Some(raw) = raw else {
            let location = self.locator.locate(0);
            self.errors.push(ConfigError::Missing { location, key: "[global]".to_string() });
            return None;
        };
        let scope = Scope { name: "global", index: None, span: raw.span() };
        let g: &RawGlobal = raw.get_ref();

        let asn =
            self.required(&scope, "asn", &g.asn).and_then(|v| self.check(&scope, "asn", v, asn));
        let router_id = self
            .required(&scope, "router_id", &g.router_id)
            .and_then(|v| self.check(&scope, "router_id", v, |text| rules::router_id(text)));
        let listen_port =
            self.integer(&scope, "listen_port", &g.listen_port, (0, u16::MAX), DEFAULT_PORT);
        let listen_addresses = match &g.listen_addresses {
            Some(list) => {
                let addresses = self.list(&scope, "listen_addresses", list.get_ref(), |text| {
                    let address = parse_address(text)?;
                    if address.is_multicast() {
                        return Err(Problem::MulticastAddress);
                    }
                    Ok(address)
                });
                if list.get_ref().is_empty() && listen_port != Some(0) {
                    let value = list.get_ref().render();
                    let key = scope.key("listen_addresses");
                    self.invalid(list.span(), key, value, Problem::NoListenAddresses);
                }
                addresses
            }
            None => Some(vec![
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            ]),
        };
        let hold_time =
            self.optional(&scope, "hold_time", &g.hold_time, DEFAULT_HOLD_TIME, hold_time);
        let connect_retry_time = self.integer(
            &scope,
            "connect_retry_time",
            &g.connect_retry_time,
            (1, u16::MAX),
            DEFAULT_CONNECT_RETRY_TIME,
        );
        let log_level =
            self.optional(&scope, "log_level", &g.log_level, LogLevel::default(), |s| {
                LogLevel::from_name(s).ok_or(Problem::LogLevel)
            });
        let log_format = self.optional(&scope, "log_format", &g.log_format, LogFormat::Text, |s| {
            LogFormat::from_name(s).ok_or(Problem::LogFormat)
        });
        let state_dir = self.optional(
            &scope,
            "state_dir",
            &g.state_dir,
            PathBuf::from(crate::gr::DEFAULT_STATE_DIR),
            |s| {
                let path = PathBuf::from(s);
                if path.is_absolute() { Ok(path) } else { Err(Problem::RelativePath) }
            },
        );
        let selection_deferral_time = self.integer(
            &scope,
            "selection_deferral_time",
            &g.selection_deferral_time,
            (1, u16::MAX),
            crate::gr::DEFAULT_SELECTION_DEFERRAL_TIME,
        );
        let bfd_realtime_priority = self.integer(
            &scope,
            "bfd_realtime_priority",
            &g.bfd_realtime_priority,
            (0, 99),
            super::model::DEFAULT_BFD_REALTIME_PRIORITY,
        );
        Some(Global {
            asn: asn?,
            router_id: router_id?,
            listen_port: listen_port?,
            listen_addresses: listen_addresses?,
            hold_time: hold_time?,
            connect_retry_time: connect_retry_time?,
            log_level: log_level?,
            log_format: log_format?,
            state_dir: state_dir?,
            selection_deferral_time: selection_deferral_time?,
            ebgp_requires_policy: g
                .ebgp_requires_policy
                .as_ref()
                .map_or(super::model::DEFAULT_EBGP_REQUIRES_POLICY, |v| *v.get_ref()),
            enforce_first_as: g
                .enforce_first_as
                .as_ref()
                .map_or(super::model::DEFAULT_ENFORCE_FIRST_AS, |v| *v.get_ref()),
            bfd_realtime_priority: bfd_realtime_priority?,
        })
    }

    fn api(&mut self, raw: &Spanned<RawApi>) -> Option<Api> {
        let scope = Scope { name: "api", index: None, span: raw.span() };
        let listen = match &raw.get_ref().listen {
            Some(v) => self.check(&scope, "listen", v, |s| parse_api_listen(s)),
            None => Some(ApiListen::default()),
        };
        let limits = self.api_limits(&scope, raw.get_ref());
        Some(Api { listen: listen?, limits: limits? })
    }

    /// The neighbors by address, then those by interface (BGP unnumbered).
    fn neighbors(
        &mut self,
        raw: &[Spanned<RawNeighbor>],
        defaults: &NeighborDefaults,
    ) -> Option<(Vec<Neighbor>, Vec<Neighbor>)> {
        let mut seen = Seen::default();
        let mut neighbors = Some((Vec::with_capacity(raw.len()), Vec::new()));
        for (index, item) in raw.iter().enumerate() {
            let scope = Scope { name: "neighbors", index: Some(index), span: item.span() };
            let neighbor = self.neighbor(&scope, item.get_ref(), defaults, &mut seen);
            match (neighbor, neighbors.as_mut()) {
                (Some(neighbor), Some((_, by_interface))) if neighbor.interface.is_some() => {
                    by_interface.push(neighbor)
                }
                (Some(neighbor), Some((by_address, _))) => by_address.push(neighbor),
                _ => neighbors = None,
            }
        }
        neighbors
    }

    fn neighbor(
        &mut self,
        scope: &Scope,
        n: &RawNeighbor,
        defaults: &NeighborDefaults,
        seen: &mut Seen,
    ) -> Option<Neighbor> {
        let (address, interface) = match self.neighbor_identity(scope, n, seen)? {
            Identity::Address(address) => (address, None),
            Identity::Interface(interface) => (None, Some(interface)),
        };
        let local_asn = self.optional(scope, "local_asn", &n.local_asn, None, |v| asn(v).map(Some));
        let router_id = self
            .optional(scope, "router_id", &n.router_id, None, |v| rules::router_id(v).map(Some));
        let vrf = self.optional(scope, "vrf", &n.vrf, None, |v| rules::vrf(v).map(Some));
        // `dynamic_asn = "internal"` is the neighbor's local AS.
        let own_asn = local_asn.flatten().or(defaults.asn);
        let (remote_asn, dynamic_asn) = self.remote_asn(scope, n, own_asn);
        let port = self.integer(scope, "port", &n.port, (1, u16::MAX), DEFAULT_PORT);
        self.refuse_with_interface(scope, interface.as_ref(), n);
        let local_address = self.optional(scope, "local_address", &n.local_address, None, |s| {
            let local = parse_unicast_address(s)?;
            match address {
                Some(neighbor) => rules::local_address(neighbor, local).map(Some),
                None => Ok(Some(local)),
            }
        });
        let passive = n.passive.as_ref().is_some_and(|p| *p.get_ref());
        if let (Some(p), true, Some(0)) = (&n.passive, passive, defaults.listen_port) {
            let problem = Problem::PassiveWithoutListener;
            self.invalid(p.span(), scope.key("passive"), "true".into(), problem);
        }
        let password = self.password(scope, &n.password);
        let hold = self.optional(scope, "hold_time", &n.hold_time, defaults.hold_time, hold_time);
        let keepalive_time = self.keepalive_time(scope, &n.keepalive_time, hold);
        let connect_retry_time = self.integer(
            scope,
            "connect_retry_time",
            &n.connect_retry_time,
            (1, u16::MAX),
            defaults.connect_retry_time,
        );
        let delay_open_time =
            self.integer(scope, "delay_open_time", &n.delay_open_time, (0, MAX_DELAY_OPEN_TIME), 0);
        let ttl = self.ttl_policy(scope, n);
        let families = self.families(scope, &n.families, address, interface.is_some());
        let description =
            n.description.as_ref().map(|d| d.get_ref().clone()).filter(|d| !d.is_empty());
        let enabled = n.enabled.as_ref().is_none_or(|e| *e.get_ref());
        let next_hop_self = n.next_hop_self.as_ref().is_some_and(|v| *v.get_ref());
        let graceful_restart = match &n.graceful_restart {
            Some(raw) => self.graceful_restart(scope, raw.get_ref()).map(Some),
            None => Some(None),
        };
        let bfd = match &n.bfd {
            Some(raw) => self.bfd(scope, raw.get_ref()).map(Some),
            None => Some(None),
        };
        let max_prefixes = match &n.max_prefixes {
            Some(raw) => self.max_prefixes(scope, raw, families.as_deref()).map(Some),
            None => Some(None),
        };

        Some(Neighbor {
            address: match interface {
                Some(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                None => address?,
            },
            interface,
            remote_asn: remote_asn?,
            dynamic_asn,
            port: port?,
            local_address: local_address?,
            passive,
            password: password?,
            hold_time: hold?,
            keepalive_time: keepalive_time?,
            connect_retry_time: connect_retry_time?,
            delay_open_time: delay_open_time?,
            ttl: ttl?,
            families: families?,
            description,
            enabled,
            next_hop_self,
            graceful_restart: graceful_restart?,
            import_policy: policy::names(&n.import_policy),
            export_policy: policy::names(&n.export_policy),
            soft_reconfiguration_inbound: n
                .soft_reconfiguration_inbound
                .as_ref()
                .is_some_and(|v| *v.get_ref()),
            bfd: bfd?,
            max_prefixes: max_prefixes?,
            local_asn: local_asn?,
            router_id: router_id?,
            enforce_first_as: n
                .enforce_first_as
                .as_ref()
                .map_or(defaults.enforce_first_as, |v| *v.get_ref()),
            vrf: vrf?,
        })
    }

    /// `[neighbors.graceful_restart]`: every key optional, defaults in `gr`.
    fn graceful_restart(&mut self, scope: &Scope, g: &RawGracefulRestart) -> Option<Settings> {
        let defaults = Settings::default();
        let flag = |key: &Key<bool>, default: bool| key.as_ref().map_or(default, |v| *v.get_ref());
        let key = |field: &str| format!("graceful_restart.{field}");
        let restart_time = self.integer(
            scope,
            &key("restart_time"),
            &g.restart_time,
            rules::RESTART_TIME_RANGE,
            defaults.restart_time,
        );
        let stale_routes_time = self.integer(
            scope,
            &key("stale_routes_time"),
            &g.stale_routes_time,
            (1, u16::MAX),
            defaults.stale_routes_time,
        );
        Some(Settings {
            enabled: flag(&g.enabled, defaults.enabled),
            restart_time: restart_time?,
            stale_routes_time: stale_routes_time?,
            notification: flag(&g.notification, defaults.notification),
            helper_only: flag(&g.helper_only, defaults.helper_only),
        })
    }

    /// `password`: 1..=80 bytes. The value is never echoed, not even a wrong one.
    fn password(&mut self, scope: &Scope, raw: &Key<String>) -> Option<Option<Password>> {
        let Some(v) = raw else { return Some(None) };
        let length = v.get_ref().len();
        match rules::password_length(length) {
            Ok(()) => Some(Some(Password::new(v.get_ref().clone()))),
            Err(problem) => {
                self.invalid(v.span(), scope.key("password"), format!("<{length} bytes>"), problem);
                None
            }
        }
    }

    /// `keepalive_time`: below a non-zero hold time, 0 with a zero one; a third of
    /// the hold time by default (RFC 4271 §10). Unchecked against an invalid hold time.
    fn keepalive_time(&mut self, scope: &Scope, raw: &Key<i64>, hold: Option<u16>) -> Option<u16> {
        let Some(hold) = hold else {
            return self.integer(scope, "keepalive_time", raw, (0, u16::MAX), 0);
        };
        let default = rules::default_keepalive_time(hold);
        self.optional(scope, "keepalive_time", raw, default, |k| rules::keepalive_time(*k, hold))
    }

    /// `ebgp_multihop` and `ttl_security` together: GTSM sends TTL 255, so it
    /// cannot be combined with a smaller multihop TTL (RFC 5082 §3).
    fn ttl_policy(&mut self, scope: &Scope, n: &RawNeighbor) -> Option<TtlPolicy> {
        let multihop = self.integer(
            scope,
            "ebgp_multihop",
            &n.ebgp_multihop,
            rules::EBGP_MULTIHOP_RANGE,
            DEFAULT_EBGP_MULTIHOP,
        );
        let gtsm_hops = self.optional(scope, "ttl_security", &n.ttl_security, None, |t| match t {
            RawTtlSecurity::Enabled(false) => Ok(None),
            RawTtlSecurity::Enabled(true) => Ok(Some(1)),
            RawTtlSecurity::Hops(h) => {
                rules::in_range(*h, rules::TTL_SECURITY_HOPS_RANGE).map(Some)
            }
        });
        match rules::ttl_policy(multihop?, gtsm_hops?) {
            Ok(policy) => Some(policy),
            Err(problem) => {
                let v = n.ttl_security.as_ref()?;
                self.invalid(v.span(), scope.key("ttl_security"), v.get_ref().render(), problem);
                None
            }
        }
    }

    /// `families`: known, unique, non-empty; by default the family of the
    /// neighbour's own address.
    fn families(
        &mut self,
        scope: &Scope,
        raw: &Key<StringList>,
        address: Option<IpAddr>,
        unnumbered: bool,
    ) -> Option<Vec<Family>> {
        let Some(list) = raw else {
            // Over an interface: both, IPv4 with IPv6 next hops (RFC 8950),
            // as FRR's `neighbor IFNAME interface` does.
            return Some(if unnumbered {
                Family::ALL.to_vec()
            } else {
                rules::default_families(address)
            });
        };
        if list.get_ref().is_empty() {
            let problem = Problem::NoFamilies;
            self.invalid(list.span(), scope.key("families"), "[]".into(), problem);
            return None;
        }
        self.list(scope, "families", list.get_ref(), |s| {
            Family::from_str(s).map_err(Problem::UnknownFamily)
        })
    }

    /// A list key that defaults to empty. Repeated values are errors too: they
    /// are a typo more often than not.
    /// `remote_asn`, or instead `dynamic_asn = "internal" | "external"` (our AS, or any
    /// other learned from the OPEN: `remote_asn` 0).
    fn remote_asn(
        &mut self,
        scope: &Scope,
        n: &RawNeighbor,
        global_asn: Option<u32>,
    ) -> (Option<u32>, Option<DynamicAsn>) {
        let Some(raw) = &n.dynamic_asn else {
            let remote_asn = self
                .required(scope, "remote_asn", &n.remote_asn)
                .and_then(|v| self.check(scope, "remote_asn", v, asn));
            return (remote_asn, None);
        };
        if let Err(problem) = rules::dynamic_asn_alone(n.remote_asn.is_some()) {
            self.invalid(raw.span(), scope.key("dynamic_asn"), raw.get_ref().render(), problem);
            return (None, None);
        }
        match self.check(scope, "dynamic_asn", raw, |s| dynamic_asn(s)) {
            // Without a valid [global] its own error is reported; 0 stands in.
            Some(dynamic) => {
                (Some(rules::dynamic_remote_asn(dynamic, global_asn.unwrap_or(0))), Some(dynamic))
            }
            None => (None, None),
        }
    }

    fn optional_list<T: Eq + Hash + Copy>(
        &mut self,
        scope: &Scope,
        field: &str,
        raw: &Key<StringList>,
        parse: impl Fn(&str) -> Result<T, Problem>,
    ) -> Option<Vec<T>> {
        match raw {
            Some(list) => self.list(scope, field, list.get_ref(), parse),
            None => Some(Vec::new()),
        }
    }
}

/// An AS number: 1..=4294967295 (RFC 6793), not AS_TRANS.
fn dynamic_asn(value: &str) -> Result<DynamicAsn, Problem> {
    match value {
        "internal" => Ok(DynamicAsn::Internal),
        "external" => Ok(DynamicAsn::External),
        _ => Err(Problem::DynamicAsn),
    }
}

fn asn(value: &i64) -> Result<u32, Problem> {
    rules::remote_asn(*value)
}

/// A hold time: 0 (no keepalives) or 3..=65535 seconds (RFC 4271 §4.2).
fn hold_time(value: &i64) -> Result<u16, Problem> {
    rules::hold_time(*value)
}
