//! From [`RawConfig`] (what TOML said, with spans) to [`Config`] (typed, defaults
//! filled in). Every problem is recorded with its location and validation goes on,
//! so the user sees all of them at once; a [`Config`] comes out only when none was
//! found.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::net::IpAddr;
use std::ops::Range;
use std::str::FromStr;

use toml::Spanned;

use super::error::{ConfigError, ConfigErrors, Locator, Problem};
use super::model::{
    AS_TRANS, Api, Config, DEFAULT_CONNECT_RETRY_TIME, DEFAULT_EBGP_MULTIHOP, DEFAULT_HOLD_TIME,
    DEFAULT_LOCAL_PREF, DEFAULT_PORT, Global, LogLevel, MAX_AS_PATH_PREPEND, MAX_DELAY_OPEN_TIME,
    MAX_PASSWORD_LEN, Neighbor, Password, StaticRoute, TtlPolicy,
};
use super::raw::{
    Key, RawApi, RawConfig, RawGlobal, RawNeighbor, RawRoute, RawTtlSecurity, StringList,
};
use super::values::{
    in_range, parse_address, parse_api_listen, parse_extended_community, parse_origin,
    parse_prefix, parse_unicast_address,
};
use crate::wire::{Community, Family, LargeCommunity, NextHop};

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
        },
        |g| NeighborDefaults {
            hold_time: g.hold_time,
            connect_retry_time: g.connect_retry_time,
            listen_port: Some(g.listen_port),
        },
    );
    let neighbors = validator.neighbors(&raw.neighbors, &defaults);
    let routes = validator.routes(&raw.routes);

    let mut errors = validator.errors;
    match (global, api, neighbors, routes) {
        (Some(global), Some(api), Some(neighbors), Some(routes)) if errors.is_empty() => {
            Ok(Config { global, api, neighbors, routes })
        }
        _ => {
            errors.sort_by_key(|e| e.location().map(|l| l.offset));
            Err(ConfigErrors { errors })
        }
    }
}

/// What a neighbour inherits from `[global]`.
struct NeighborDefaults {
    hold_time: u16,
    connect_retry_time: u16,
    /// `None` when `[global]` itself is invalid: checks that need it are skipped.
    listen_port: Option<u16>,
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
    fn integer(
        &mut self,
        scope: &Scope,
        field: &str,
        raw: &Key<i64>,
        (min, max): (u64, u64),
        default: u64,
    ) -> Option<u64> {
        match raw {
            Some(value) => self.check(scope, field, value, |v| in_range(*v, min, max)),
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
        let router_id = self.required(&scope, "router_id", &g.router_id).and_then(|v| {
            self.check(&scope, "router_id", v, |text| match parse_address(text)? {
                IpAddr::V4(id) if id.is_unspecified() => Err(Problem::RouterIdZero),
                IpAddr::V4(id) => Ok(id),
                IpAddr::V6(_) => Err(Problem::RouterIdNotIpv4),
            })
        });
        let listen_port = self.integer(
            &scope,
            "listen_port",
            &g.listen_port,
            (0, 65535),
            u64::from(DEFAULT_PORT),
        );
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
        let hold_time = match &g.hold_time {
            Some(v) => self.check(&scope, "hold_time", v, hold_time),
            None => Some(DEFAULT_HOLD_TIME),
        };
        let connect_retry_time = self.integer(
            &scope,
            "connect_retry_time",
            &g.connect_retry_time,
            (1, 65535),
            u64::from(DEFAULT_CONNECT_RETRY_TIME),
        );
        let log_level = match &g.log_level {
            Some(v) => self
                .check(&scope, "log_level", v, |s| LogLevel::from_name(s).ok_or(Problem::LogLevel)),
            None => Some(LogLevel::default()),
        };
        Some(Global {
            asn: asn?,
            router_id: router_id?,
            listen_port: u16::try_from(listen_port?).ok()?,
            listen_addresses: listen_addresses?,
            hold_time: hold_time?,
            connect_retry_time: u16::try_from(connect_retry_time?).ok()?,
            log_level: log_level?,
        })
    }

    fn api(&mut self, raw: &Spanned<RawApi>) -> Option<Api> {
        let scope = Scope { name: "api", index: None, span: raw.span() };
        match &raw.get_ref().listen {
            Some(v) => {
                let listen = self.check(&scope, "listen", v, |s| parse_api_listen(s))?;
                Some(Api { listen })
            }
            None => Some(Api::default()),
        }
    }

    fn neighbors(
        &mut self,
        raw: &[Spanned<RawNeighbor>],
        defaults: &NeighborDefaults,
    ) -> Option<Vec<Neighbor>> {
        let mut seen = HashMap::new();
        let mut neighbors = Some(Vec::with_capacity(raw.len()));
        for (index, item) in raw.iter().enumerate() {
            let scope = Scope { name: "neighbors", index: Some(index), span: item.span() };
            let neighbor = self.neighbor(&scope, item.get_ref(), defaults, &mut seen);
            match (neighbor, neighbors.as_mut()) {
                (Some(neighbor), Some(list)) => list.push(neighbor),
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
        seen: &mut HashMap<IpAddr, Range<usize>>,
    ) -> Option<Neighbor> {
        let address = self.required(scope, "address", &n.address).and_then(|v| {
            let address = self.check(scope, "address", v, |s| parse_unicast_address(s))?;
            self.unique(seen, address, v.span(), scope, "address", v.get_ref()).then_some(address)
        });
        let remote_asn = self
            .required(scope, "remote_asn", &n.remote_asn)
            .and_then(|v| self.check(scope, "remote_asn", v, asn));
        let port = self.integer(scope, "port", &n.port, (1, 65535), u64::from(DEFAULT_PORT));
        let local_address = match &n.local_address {
            Some(v) => self
                .check(scope, "local_address", v, |s| {
                    let local = parse_unicast_address(s)?;
                    match address {
                        Some(neighbor) if neighbor.is_ipv4() != local.is_ipv4() => {
                            Err(Problem::LocalAddressFamily { neighbor })
                        }
                        _ => Ok(local),
                    }
                })
                .map(Some),
            None => Some(None),
        };
        let passive = n.passive.as_ref().is_some_and(|p| *p.get_ref());
        if let (Some(p), true, Some(0)) = (&n.passive, passive, defaults.listen_port) {
            self.invalid(
                p.span(),
                scope.key("passive"),
                "true".into(),
                Problem::PassiveWithoutListener,
            );
        }
        let password = match &n.password {
            Some(v) => {
                let length = v.get_ref().len();
                let problem = match length {
                    0 => Some(Problem::PasswordEmpty),
                    1..=MAX_PASSWORD_LEN => None,
                    _ => Some(Problem::PasswordTooLong { length }),
                };
                match problem {
                    Some(problem) => {
                        // Never echo a secret, not even a wrong one.
                        let value = format!("<{length} bytes>");
                        self.invalid(v.span(), scope.key("password"), value, problem);
                        None
                    }
                    None => Some(Some(Password::new(v.get_ref().clone()))),
                }
            }
            None => Some(None),
        };
        let hold = match &n.hold_time {
            Some(v) => self.check(scope, "hold_time", v, hold_time),
            None => Some(defaults.hold_time),
        };
        let keepalive_time = match (&n.keepalive_time, hold) {
            (Some(v), Some(hold)) => self.check(scope, "keepalive_time", v, |k| {
                let k = u16::try_from(in_range(*k, 0, 65535)?).unwrap_or(u16::MAX);
                match hold {
                    0 if k != 0 => Err(Problem::KeepaliveWithoutHold),
                    0 => Ok(0),
                    _ if k == 0 || k >= hold => {
                        Err(Problem::KeepaliveNotBelowHold { hold_time: hold })
                    }
                    _ => Ok(k),
                }
            }),
            (Some(v), None) => {
                self.check(scope, "keepalive_time", v, |k| in_range(*k, 0, 65535)).map(|_| 0)
            }
            (None, hold) => hold.map(|h| h / 3),
        };
        let connect_retry_time = self.integer(
            scope,
            "connect_retry_time",
            &n.connect_retry_time,
            (1, 65535),
            u64::from(defaults.connect_retry_time),
        );
        let delay_open_time = self.integer(
            scope,
            "delay_open_time",
            &n.delay_open_time,
            (0, u64::from(MAX_DELAY_OPEN_TIME)),
            0,
        );
        let multihop = self.integer(
            scope,
            "ebgp_multihop",
            &n.ebgp_multihop,
            (1, 255),
            u64::from(DEFAULT_EBGP_MULTIHOP),
        );
        let multihop = multihop.and_then(|m| u8::try_from(m).ok());
        let gtsm_hops = match &n.ttl_security {
            Some(v) => self.check(scope, "ttl_security", v, |t| match t {
                RawTtlSecurity::Enabled(false) => Ok(None),
                RawTtlSecurity::Enabled(true) => Ok(Some(1)),
                RawTtlSecurity::Hops(h) => {
                    Ok(Some(u8::try_from(in_range(*h, 1, 254)?).unwrap_or(u8::MAX)))
                }
            }),
            None => Some(None),
        };
        if let (Some(v), Some(Some(_)), Some(m)) = (&n.ttl_security, gtsm_hops, multihop)
            && m > 1
        {
            let problem = Problem::TtlSecurityWithMultihop { ebgp_multihop: m };
            self.invalid(v.span(), scope.key("ttl_security"), v.get_ref().render(), problem);
        }
        let ttl = match (gtsm_hops, multihop) {
            (Some(Some(hops)), Some(1)) => Some(TtlPolicy::Security { hops }),
            (Some(None), Some(hops)) => Some(TtlPolicy::Multihop { hops }),
            _ => None,
        };
        let families = match &n.families {
            Some(list) => {
                let families = self.list(scope, "families", list.get_ref(), |s| {
                    Family::from_str(s).map_err(Problem::UnknownFamily)
                });
                if list.get_ref().is_empty() {
                    self.invalid(
                        list.span(),
                        scope.key("families"),
                        "[]".into(),
                        Problem::NoFamilies,
                    );
                    None
                } else {
                    families
                }
            }
            None => Some(vec![match address {
                Some(IpAddr::V6(_)) => Family::Ipv6Unicast,
                _ => Family::Ipv4Unicast,
            }]),
        };
        let description =
            n.description.as_ref().map(|d| d.get_ref().clone()).filter(|d| !d.is_empty());
        let enabled = n.enabled.as_ref().is_none_or(|e| *e.get_ref());

        Some(Neighbor {
            address: address?,
            remote_asn: remote_asn?,
            port: u16::try_from(port?).ok()?,
            local_address: local_address?,
            passive,
            password: password?,
            hold_time: hold?,
            keepalive_time: keepalive_time?,
            connect_retry_time: u16::try_from(connect_retry_time?).ok()?,
            delay_open_time: u16::try_from(delay_open_time?).ok()?,
            ttl: ttl?,
            families: families?,
            description,
            enabled,
        })
    }

    fn routes(&mut self, raw: &[Spanned<RawRoute>]) -> Option<Vec<StaticRoute>> {
        let mut seen = HashMap::new();
        let mut routes = Some(Vec::with_capacity(raw.len()));
        for (index, item) in raw.iter().enumerate() {
            let scope = Scope { name: "routes", index: Some(index), span: item.span() };
            let route = self.route(&scope, item.get_ref(), &mut seen);
            match (route, routes.as_mut()) {
                (Some(route), Some(list)) => list.push(route),
                _ => routes = None,
            }
        }
        routes
    }

    fn route(
        &mut self,
        scope: &Scope,
        r: &RawRoute,
        seen: &mut HashMap<ipnet::IpNet, Range<usize>>,
    ) -> Option<StaticRoute> {
        let prefix = self.required(scope, "prefix", &r.prefix).and_then(|v| {
            let prefix = self.check(scope, "prefix", v, |s| parse_prefix(s))?;
            self.unique(seen, prefix, v.span(), scope, "prefix", v.get_ref()).then_some(prefix)
        });
        let next_hop = match &r.next_hop {
            Some(v) => self
                .check(scope, "next_hop", v, |s| {
                    let address = parse_unicast_address(s)?;
                    if let Some(prefix) = prefix
                        && prefix.addr().is_ipv4() != address.is_ipv4()
                    {
                        return Err(Problem::NextHopFamily { prefix });
                    }
                    Ok(match address {
                        IpAddr::V4(v4) => NextHop::V4(v4),
                        IpAddr::V6(global) => NextHop::V6 { global, link_local: None },
                    })
                })
                .map(Some),
            None => Some(None),
        };
        let origin = match &r.origin {
            Some(v) => self.check(scope, "origin", v, |s| parse_origin(s)),
            None => Some(crate::wire::Origin::Igp),
        };
        let communities = self.optional_list(scope, "communities", &r.communities, |s| {
            Community::from_str(s).map_err(Problem::Community)
        });
        let large_communities =
            self.optional_list(scope, "large_communities", &r.large_communities, |s| {
                LargeCommunity::from_str(s).map_err(Problem::Community)
            });
        let extended_communities = self.optional_list(
            scope,
            "extended_communities",
            &r.extended_communities,
            parse_extended_community,
        );
        let u32_range = (0, u64::from(u32::MAX));
        let local_pref = self.integer(
            scope,
            "local_pref",
            &r.local_pref,
            u32_range,
            u64::from(DEFAULT_LOCAL_PREF),
        );
        let med = match &r.med {
            Some(v) => {
                self.check(scope, "med", v, |m| in_range(*m, 0, u64::from(u32::MAX))).map(Some)
            }
            None => Some(None),
        };
        let as_path_prepend = self.integer(
            scope,
            "as_path_prepend",
            &r.as_path_prepend,
            (0, u64::from(MAX_AS_PATH_PREPEND)),
            0,
        );
        Some(StaticRoute {
            prefix: prefix?,
            next_hop: next_hop?,
            origin: origin?,
            communities: communities?,
            large_communities: large_communities?,
            extended_communities: extended_communities?,
            local_pref: u32::try_from(local_pref?).ok()?,
            med: match med? {
                Some(m) => Some(u32::try_from(m).ok()?),
                None => None,
            },
            as_path_prepend: u8::try_from(as_path_prepend?).ok()?,
        })
    }

    /// A list key that defaults to empty. Repeated values are errors too: they
    /// are a typo more often than not.
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
fn asn(value: &i64) -> Result<u32, Problem> {
    let asn = u32::try_from(in_range(*value, 1, u64::from(u32::MAX))?)
        .map_err(|_| Problem::OutOfRange { min: 1, max: u64::from(u32::MAX) })?;
    if asn == AS_TRANS {
        return Err(Problem::AsTrans);
    }
    Ok(asn)
}

/// A hold time: 0 (no keepalives) or 3..=65535 seconds (RFC 4271 §4.2).
fn hold_time(value: &i64) -> Result<u16, Problem> {
    let hold = u16::try_from(in_range(*value, 0, 65535)?)
        .map_err(|_| Problem::OutOfRange { min: 0, max: 65535 })?;
    if hold == 1 || hold == 2 {
        return Err(Problem::HoldTime);
    }
    Ok(hold)
}
