//! `bgpd`'s TOML configuration: parse, validate into typed structs, and diff two
//! configurations for a reload.
//!
//! Every key is documented, with its default and why, in `conf/bgpd.toml`, which
//! the tests load so it never rots. The values follow RFC 4271 §4.2 and §10 (hold
//! time, timers), RFC 6286 (router id), RFC 6793 (4-octet ASNs), RFC 2385 (TCP
//! MD5), RFC 5082 (GTSM), RFC 4760 (families), RFC 1997, 4360 and 8092
//! (communities).
//!
//! # Loading
//!
//! - [`Config::load`]`(path) -> Result<Config, ConfigErrors>` reads a file (blocking
//!   `std::fs`: call it where blocking is fine, e.g. `spawn_blocking`).
//! - [`Config::from_str_named`]`(text, source_name)` parses text; `source_name`
//!   prefixes every error.
//! - [`check_file`]`(path) -> CheckReport` is `bgpd --check-config FILE`: print it,
//!   exit with [`CheckReport::is_ok`].
//!
//! # Errors
//!
//! Each [`ConfigError`] prints like a compiler's diagnostic:
//! `conf/bgpd.toml:12:14: neighbors[1].hold_time = 2: must be 0 or at least 3`
//! (1-based line and column; list indices are 0-based as in the file's order).
//! A TOML syntax error stops the parser, so only the first is reported; values
//! of the wrong type and unknown keys are all reported (each section and each
//! array entry is deserialized on its own, see `structure`), and so are
//! semantic problems (once the structure is sound).
//! Unknown keys are errors everywhere: a misspelt key must not silently fall back
//! to a default.
//! Graceful restart has `[neighbors.graceful_restart]` and `global.state_dir`,
//! `global.selection_deferral_time` (see `gr`).
//!
//! `[[layer2]]` entries (`address`, `interfaces`) and `[layer2_gratuitous]`
//! (`repeats`, `interval_ms`) configure the ARP/NDP responder (`crate::layer2`).
//!
//! # The typed result
//!
//! [`Config`] holds [`Global`], [`Api`] ([`ApiListen::Tcp`] or [`ApiListen::Unix`]),
//! [`Neighbor`]s and [`StaticRoute`]s with every default already filled in: a
//! neighbour's `hold_time` is the global one unless set, its `keepalive_time` a
//! third of its hold time unless set, and so on. A neighbour is iBGP iff
//! `remote_asn == global.asn` ([`Config::is_ibgp`]).
//!
//! # Reload
//!
//! [`ConfigDiff::between`]`(&old, &new)` says what changed: neighbours (keyed by
//! address) added, removed or changed, each change with whether the session must
//! be reset; routes (keyed by prefix) added, removed or changed; global changes and
//! whether they need a restart of the daemon.

mod diff;
mod error;
mod max_prefix;
mod model;
mod raw;
pub mod rules;
mod structure;
mod validate;
mod values;

#[cfg(test)]
mod first_as_tests;
#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod interface_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use diff::{ConfigDiff, GlobalChange, NeighborChange, NeighborField};
pub use error::{ConfigError, ConfigErrors, Location, Problem};
pub use max_prefix::{
    DEFAULT_MAX_PREFIX_WARNING_PERCENT, MAX_PREFIX_LIMIT_RANGE, MAX_PREFIX_WARNING_PERCENT_RANGE,
    MaxPrefixes,
};
pub use model::{
    AS_TRANS, Api, ApiLimits, ApiListen, BfdSettings, Config, DEFAULT_API_LISTEN,
    DEFAULT_BFD_INTERVAL_MS, DEFAULT_BFD_MULTIPLIER, DEFAULT_CONNECT_RETRY_TIME,
    DEFAULT_EBGP_MULTIHOP, DEFAULT_EBGP_REQUIRES_POLICY, DEFAULT_ENFORCE_FIRST_AS,
    DEFAULT_HOLD_TIME, DEFAULT_LOCAL_PREF, DEFAULT_METRICS_LISTEN, DEFAULT_PORT, DynamicAsn,
    Global, Interface, LogFormat, LogLevel, MAX_AS_PATH_PREPEND, MAX_DELAY_OPEN_TIME,
    MAX_PASSWORD_LEN, Metrics, Neighbor, Password, Policies, StaticRoute, TtlPolicy,
};

use error::Locator;

/// Largest config file accepted, 16 MiB: parsing and validating costs
/// about 40 times the file's size in memory at its peak (a 42 MB file took
/// 1.86 GB), so the bound keeps that under 1 GB. A real config (thousands of
/// neighbors and routes) is well under 1 MiB.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

impl Config {
    /// Parses and validates `text`; `source_name` (usually the file's path) starts
    /// every error message.
    pub fn from_str_named(text: &str, source_name: &str) -> Result<Config, ConfigErrors> {
        let locator = Locator::new(text, source_name);
        let raw = structure::parse(text, &locator)?;
        validate::validate(&raw, locator)
    }

    /// Reads, parses and validates the file at `path` (blocking I/O). A file
    /// larger than [`MAX_CONFIG_BYTES`] is refused before it is read.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        use std::io::Read;
        let source_name = path.display().to_string();
        let read_error =
            |error| ConfigError::Read { source_name: source_name.as_str().into(), error };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let size = file.metadata().map_err(read_error)?.len();
        let too_large = |size| ConfigError::TooLarge {
            source_name: source_name.as_str().into(),
            size,
            max: MAX_CONFIG_BYTES,
        };
        if size > MAX_CONFIG_BYTES {
            return Err(too_large(size).into());
        }
        // Bounded even if the file grows between the check and the read.
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text).map_err(read_error)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(too_large(text.len() as u64).into());
        }
        Self::from_str_named(&text, &source_name)
    }
}

/// Parses text with the source name `<string>`.
impl FromStr for Config {
    type Err = ConfigErrors;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_str_named(text, "<string>")
    }
}

/// The outcome of `bgpd --check-config FILE`, ready to print.
#[derive(Debug)]
pub enum CheckReport {
    Valid { neighbors: usize, routes: usize },
    Invalid(ConfigErrors),
}

impl CheckReport {
    /// Whether the configuration is valid (the process exit status follows it).
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// `ok: 2 neighbours, 3 routes`, or one error per line and their count.
impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        match self {
            Self::Valid { neighbors, routes } => write!(
                f,
                "ok: {neighbors} {}, {routes} {}",
                plural(*neighbors, "neighbour", "neighbours"),
                plural(*routes, "route", "routes"),
            ),
            Self::Invalid(errors) => {
                let n = errors.len();
                write!(f, "{errors}\n{n} {}", plural(n, "error", "errors"))
            }
        }
    }
}

/// Loads and validates `path` for `bgpd --check-config`.
pub fn check_file(path: &Path) -> CheckReport {
    match Config::load(path) {
        Ok(config) => {
            CheckReport::Valid { neighbors: config.neighbors.len(), routes: config.routes.len() }
        }
        Err(errors) => CheckReport::Invalid(errors),
    }
}
