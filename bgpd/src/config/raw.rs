//! The configuration as TOML gives it: every value with its span, numbers as
//! `i64` and addresses as strings, so that range and format problems become
//! semantic errors (all reported, located) instead of the parser's first-error-only
//! type errors. Unknown keys are rejected everywhere (`deny_unknown_fields`): a
//! typo must not silently fall back to a default, and later features add keys.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use crate::policy::{
    AsPathSetDefinition, CommunitySetDefinition, LargeCommunitySetDefinition, PolicyDefinition,
    PrefixSetDefinition,
};

/// A key that may be absent, with its span when present.
pub(super) type Key<T> = Option<Spanned<T>>;

/// A list of strings, each with its own span.
pub(super) type StringList = Vec<Spanned<String>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub global: Key<RawGlobal>,
    pub api: Key<RawApi>,
    #[serde(default)]
    pub neighbors: Vec<Spanned<RawNeighbor>>,
    #[serde(default)]
    pub routes: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    pub layer2: Vec<Spanned<RawLayer2>>,
    pub layer2_gratuitous: Key<RawLayer2Gratuitous>,
    /// The policy tables (`crate::policy`), as the policy module reads them;
    /// `validate::policy` finds their positions again for errors.
    #[serde(default)]
    pub prefix_sets: Vec<PrefixSetDefinition>,
    #[serde(default)]
    pub community_sets: Vec<CommunitySetDefinition>,
    #[serde(default)]
    pub large_community_sets: Vec<LargeCommunitySetDefinition>,
    #[serde(default)]
    pub as_path_sets: Vec<AsPathSetDefinition>,
    #[serde(default)]
    pub policies: Vec<PolicyDefinition>,
    pub metrics: Key<RawMetrics>,
}

/// `[metrics]`: the Prometheus, health and readiness listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub listen: Key<String>,
}

/// `[[layer2]]`: one address announced by ARP/NDP on some interfaces.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayer2 {
    pub address: Key<String>,
    pub interfaces: Key<StringList>,
}

/// `[layer2_gratuitous]`: how takeovers are announced.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayer2Gratuitous {
    pub repeats: Key<i64>,
    pub interval_ms: Key<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobal {
    pub asn: Key<i64>,
    pub router_id: Key<String>,
    pub listen_port: Key<i64>,
    pub listen_addresses: Key<StringList>,
    pub hold_time: Key<i64>,
    pub connect_retry_time: Key<i64>,
    pub log_level: Key<String>,
    pub log_format: Key<String>,
    pub state_dir: Key<String>,
    pub selection_deferral_time: Key<i64>,
    pub ebgp_requires_policy: Key<bool>,
    pub enforce_first_as: Key<bool>,
    pub bfd_realtime_priority: Key<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    pub listen: Key<String>,
    pub max_connections: Key<i64>,
    pub idle_timeout: Key<i64>,
    pub session_open_timeout: Key<i64>,
    pub max_watchers: Key<i64>,
    pub watch_buffer_events: Key<i64>,
    pub max_message_bytes: Key<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNeighbor {
    pub address: Key<String>,
    pub interface: Key<String>,
    pub remote_asn: Key<i64>,
    pub dynamic_asn: Key<String>,
    pub port: Key<i64>,
    pub local_address: Key<String>,
    pub passive: Key<bool>,
    pub next_hop_self: Key<bool>,
    pub password: Key<String>,
    pub hold_time: Key<i64>,
    pub keepalive_time: Key<i64>,
    pub connect_retry_time: Key<i64>,
    pub delay_open_time: Key<i64>,
    pub ebgp_multihop: Key<i64>,
    pub ttl_security: Key<RawTtlSecurity>,
    pub families: Key<StringList>,
    pub description: Key<String>,
    pub enabled: Key<bool>,
    pub graceful_restart: Key<RawGracefulRestart>,
    pub import_policy: Key<StringList>,
    pub export_policy: Key<StringList>,
    pub soft_reconfiguration_inbound: Key<bool>,
    pub bfd: Key<RawBfd>,
    pub max_prefixes: Key<RawMaxPrefixes>,
    pub local_asn: Key<i64>,
    pub router_id: Key<String>,
    pub enforce_first_as: Key<bool>,
    pub vrf: Key<String>,
}

/// `[neighbors.max_prefixes]` (RFC 4486 §4); the families by their names in
/// `families`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaxPrefixes {
    #[serde(rename = "ipv4-unicast")]
    pub ipv4_unicast: Key<i64>,
    #[serde(rename = "ipv6-unicast")]
    pub ipv6_unicast: Key<i64>,
    pub warning_percent: Key<i64>,
    pub warning_only: Key<bool>,
    pub restart_time: Key<i64>,
}

/// `[neighbors.bfd]` (RFC 5880, RFC 5882).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBfd {
    pub enabled: Key<bool>,
    pub min_rx_ms: Key<i64>,
    pub min_tx_ms: Key<i64>,
    pub multiplier: Key<i64>,
    pub passive: Key<bool>,
    pub echo: Key<bool>,
    pub check_control_plane_failure: Key<bool>,
}

/// `[neighbors.graceful_restart]` (RFC 4724, RFC 8538).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGracefulRestart {
    pub enabled: Key<bool>,
    pub restart_time: Key<i64>,
    pub stale_routes_time: Key<i64>,
    pub notification: Key<bool>,
    pub helper_only: Key<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    pub prefix: Key<String>,
    pub next_hop: Key<String>,
    pub origin: Key<String>,
    pub communities: Key<StringList>,
    pub large_communities: Key<StringList>,
    pub extended_communities: Key<StringList>,
    pub local_pref: Key<i64>,
    pub med: Key<i64>,
    pub as_path_prepend: Key<i64>,
}

/// `ttl_security = true | false | HOPS`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum RawTtlSecurity {
    Enabled(bool),
    Hops(i64),
}

impl<'de> Deserialize<'de> for RawTtlSecurity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TtlVisitor;

        impl Visitor<'_> for TtlVisitor {
            type Value = RawTtlSecurity;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or a hop count 1..=254")
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(RawTtlSecurity::Enabled(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
                Ok(RawTtlSecurity::Hops(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
                Ok(RawTtlSecurity::Hops(i64::try_from(value).unwrap_or(i64::MAX)))
            }
        }

        deserializer.deserialize_any(TtlVisitor)
    }
}
