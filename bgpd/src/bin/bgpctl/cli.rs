//! The command line: every command, flag and argument of `bgpctl`, as clap
//! derive types. Values are checked here only as far as the command line
//! itself needs (numbers, choices, AS path syntax, the shape of `ADDR=IF`
//! entries); addresses and prefixes go to bgpd as typed, so that its error
//! names the field and the value. This module uses no command module: they
//! use it.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::aspath::AsPathArg;

/// Exit codes, also printed by `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  bgpd refused the request (its gRPC status is printed)
  2  bad usage (unknown command, bad flag or value)
  3  bgpd cannot be reached (connection refused, no socket, timeout)
  4  bgpctl's own output failed (stdout closed or unwritable)";

/// Control and inspect a running bgpd through its gRPC API.
#[derive(Parser, Debug)]
#[command(name = "bgpctl", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// bgpd's API: HOST:PORT, http://HOST:PORT or unix:/PATH.
    #[arg(long, global = true, env = "BGPCTL_API", default_value = "127.0.0.1:50051")]
    pub api: String,

    /// Output format: aligned tables for people, or JSON (proto3 JSON
    /// mapping, as grpcurl prints it with -emit-defaults) for scripts.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,

    /// Seconds to wait for the connection and for each answer.
    #[arg(long, global = true, value_name = "SECONDS", default_value = "10",
          value_parser = parse_timeout)]
    pub timeout: Duration,

    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The daemon's identity and counts (GetInfo).
    Status,
    /// Configured neighbours (BGP peers).
    #[command(subcommand, visible_alias = "neighbour", visible_alias = "peer")]
    Neighbor(NeighborCommand),
    /// Routes: list the tables, announce and withdraw paths.
    #[command(subcommand)]
    Route(RouteCommand),
    /// Owners of API paths.
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// Layer2 (ARP/NDP) announcements (Layer2Service).
    #[command(subcommand)]
    Layer2(Layer2Command),
    /// BFD sessions of the neighbours (RFC 5880).
    #[command(subcommand)]
    Bfd(BfdCommand),
    /// Routing policies and sets of the configuration (read only).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Stream peer and best-path changes: a snapshot first, then every change.
    Watch(WatchArgs),
}

#[derive(Subcommand, Debug)]
pub enum NeighborCommand {
    /// One line per neighbour: address, AS, state, up/down time, prefixes.
    List,
    /// Everything about one neighbour.
    Show {
        /// The neighbour's address, or %IFNAME for the neighbour over an
        /// interface (%eth1).
        address: String,
    },
    /// Configure a new neighbour.
    Add(Box<NeighborAddArgs>),
    /// Remove a neighbour (Cease / Peer De-configured).
    #[command(visible_alias = "delete")]
    Del {
        /// The neighbour's address, or %IFNAME for the neighbour over an
        /// interface (%eth1).
        address: String,
    },
    /// Lift an administrative shutdown.
    Enable {
        /// The neighbour's address, or %IFNAME for the neighbour over an
        /// interface (%eth1).
        address: String,
    },
    /// Administrative shutdown (RFC 9003 shutdown communication).
    Disable {
        /// The neighbour's address, or %IFNAME for the neighbour over an
        /// interface (%eth1).
        address: String,
        /// Shutdown communication sent to the neighbour, at most 255 bytes.
        #[arg(long, default_value = "")]
        message: String,
    },
    /// Reset the session (hard), or refresh routes (soft in, soft out).
    Reset(ResetArgs),
}

/// The fields of `PeerConfig`, one flag each.
#[derive(Args, Debug)]
pub struct NeighborAddArgs {
    /// The neighbour's address (IPv4 or IPv6); or --interface.
    #[arg(required_unless_present = "interface")]
    pub address: Option<String>,
    /// BGP unnumbered: the neighbour over this interface, found by its IPv6
    /// link-local address there (instead of ADDRESS); later commands name it
    /// %IFNAME (`bgpctl neighbor show %eth1`).
    #[arg(long, value_name = "IFNAME", conflicts_with_all = ["address", "local_address", "password", "password_file"])]
    pub interface: Option<String>,
    /// The neighbour's AS number (or --dynamic-asn).
    #[arg(long, value_name = "ASN", required_unless_present = "dynamic_asn")]
    pub remote_as: Option<u32>,
    /// Accept the neighbour's AS from its OPEN: `internal` (ours) or `external` (any other).
    #[arg(long, value_enum, conflicts_with = "remote_as")]
    pub dynamic_asn: Option<DynamicAsnArg>,
    /// Our AS number towards it (default: the daemon's): in the OPEN, for
    /// iBGP/eBGP, and the AS prepended on export.
    #[arg(long, value_name = "ASN")]
    pub local_as: Option<u32>,
    /// Our BGP identifier towards it, an IPv4 address (default: the daemon's).
    #[arg(long, value_name = "ID")]
    pub router_id: Option<String>,
    /// The neighbour's TCP port (default 179).
    #[arg(long)]
    pub port: Option<u32>,
    /// Our source address for the session.
    #[arg(long, value_name = "ADDRESS")]
    pub local_address: Option<String>,
    /// Bind the session's sockets to this device (a VRF device or any
    /// interface, SO_BINDTODEVICE); default: the default VRF.
    #[arg(long, value_name = "DEVICE")]
    pub vrf: Option<String>,
    /// TCP MD5 signature key (RFC 2385). Visible in `ps`: prefer
    /// --password-file on shared machines.
    #[arg(long, conflicts_with = "password_file")]
    pub password: Option<String>,
    /// Read the TCP MD5 key from FILE (trailing newline removed).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<std::path::PathBuf>,
    /// Hold time we offer, seconds (0 or 3..65535; default 90).
    #[arg(long, value_name = "SECONDS")]
    pub hold_time: Option<u32>,
    /// Keepalive interval, seconds (default: a third of the hold time).
    #[arg(long, value_name = "SECONDS")]
    pub keepalive: Option<u32>,
    /// Seconds between connection attempts (default 120).
    #[arg(long, value_name = "SECONDS")]
    pub connect_retry: Option<u32>,
    /// Only accept connections, never connect out.
    #[arg(long)]
    pub passive: bool,
    /// eBGP multihop TTL, 1..255.
    #[arg(long, value_name = "TTL")]
    pub multihop: Option<u32>,
    /// GTSM (RFC 5082): accepted hop count, 1..254.
    #[arg(long, value_name = "HOPS")]
    pub ttl_security: Option<u32>,
    /// A family to negotiate; repeat for several (default: the address's).
    #[arg(long, value_enum)]
    pub family: Vec<FamilyArg>,
    /// Free text for humans.
    #[arg(long)]
    pub description: Option<String>,
    /// Configure it administratively down.
    #[arg(long)]
    pub disabled: bool,
    /// Accept its routes whose AS_PATH does not start with its AS (a route
    /// server that does not prepend its AS, RFC 7947); default: treat them
    /// as withdrawn (RFC 4271 §6.3).
    #[arg(long)]
    pub no_enforce_first_as: bool,
    /// Limit of accepted prefixes in each of its families (Cease/Maximum
    /// Number of Prefixes Reached when exceeded, RFC 4486).
    #[arg(long, value_name = "N", conflicts_with_all = ["max_prefixes_ipv4", "max_prefixes_ipv6"])]
    pub max_prefixes: Option<u32>,
    /// Limit of accepted IPv4 unicast prefixes.
    #[arg(long, value_name = "N")]
    pub max_prefixes_ipv4: Option<u32>,
    /// Limit of accepted IPv6 unicast prefixes.
    #[arg(long, value_name = "N")]
    pub max_prefixes_ipv6: Option<u32>,
    /// Warn when a family reaches this percentage of its limit (default 75).
    #[arg(long, value_name = "PERCENT")]
    pub max_prefix_warning: Option<u32>,
    /// Only warn when a limit is exceeded; never stop the session.
    #[arg(long)]
    pub max_prefix_warning_only: bool,
    /// Seconds before a session stopped by its limit starts again (default 0:
    /// until `neighbor enable` or `neighbor reset`).
    #[arg(long, value_name = "SECONDS")]
    pub max_prefix_restart: Option<u32>,
    /// A policy of the import chain (repeat, in order), e.g. accept-all.
    #[arg(long = "import-policy", value_name = "NAME")]
    pub import_policy: Vec<String>,
    /// A policy of the export chain (repeat, in order).
    #[arg(long = "export-policy", value_name = "NAME")]
    pub export_policy: Vec<String>,
    /// Keep the neighbor's routes as received, before the import policy
    /// (re-applied from them when a policy changes; listed by `route list
    /// --pre-policy`).
    #[arg(long)]
    pub soft_reconfiguration_inbound: bool,
    /// Advertise graceful restart (RFC 4724).
    #[arg(long)]
    pub graceful_restart: bool,
    /// Graceful restart: the restart time we advertise, seconds.
    #[arg(long, value_name = "SECONDS", requires = "graceful_restart")]
    pub restart_time: Option<u32>,
    /// Graceful restart: how long stale routes are kept, seconds.
    #[arg(long, value_name = "SECONDS", requires = "graceful_restart")]
    pub stale_routes_time: Option<u32>,
    /// Graceful restart: advertise the N bit (RFC 8538).
    #[arg(long, requires = "graceful_restart")]
    pub gr_notification: bool,
    /// Graceful restart: helper only.
    #[arg(long, requires = "graceful_restart")]
    pub gr_helper_only: bool,
}

#[derive(Args, Debug)]
pub struct ResetArgs {
    /// The neighbour's address, or %IFNAME (%eth1).
    pub address: String,
    /// Ask the neighbour to send its routes again (route refresh).
    #[arg(long)]
    pub soft_in: bool,
    /// Send the neighbour our routes again.
    #[arg(long)]
    pub soft_out: bool,
    /// Hard reset: shutdown communication (RFC 9003).
    #[arg(long, conflicts_with_all = ["soft_in", "soft_out"])]
    pub message: Option<String>,
    /// Soft reset: only this family; repeat for several.
    #[arg(long, value_enum)]
    pub family: Vec<FamilyArg>,
}

#[derive(Subcommand, Debug)]
pub enum RouteCommand {
    /// Walk a table: the Loc-RIB, or a neighbour's Adj-RIB-In or -Out.
    #[command(visible_alias = "show")]
    List(RouteListArgs),
    /// Announce paths as an owner (AddPaths).
    Add(Box<RouteAddArgs>),
    /// Withdraw an owner's paths (DeletePaths).
    #[command(visible_alias = "delete")]
    Del(RouteDelArgs),
}

#[derive(Args, Debug)]
pub struct RouteListArgs {
    /// Which table.
    #[arg(long, value_enum, default_value_t = TableArg::Loc)]
    pub table: TableArg,
    /// The neighbour whose Adj-RIB-In or -Out to walk.
    #[arg(long, value_name = "ADDRESS", required_if_eq_any = [("table", "in"), ("table", "out")])]
    pub neighbor: Option<String>,
    /// Only this family.
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,
    /// Only this prefix.
    #[arg(long)]
    pub prefix: Option<String>,
    /// With --prefix: also every more specific prefix.
    #[arg(long, requires = "prefix")]
    pub longer: bool,
    /// Only this owner's paths (Loc-RIB).
    #[arg(long)]
    pub owner: Option<String>,
    /// Only the best path of each prefix (Loc-RIB).
    #[arg(long)]
    pub best: bool,
    /// With --table in: the routes as the neighbour sent them, before its
    /// import policy ("R": rejected). Needs soft_reconfiguration_inbound.
    #[arg(long)]
    pub pre_policy: bool,
}

#[derive(Args, Debug)]
pub struct RouteAddArgs {
    /// Prefixes to announce, all with the attributes below.
    #[arg(required = true, value_name = "PREFIX")]
    pub prefixes: Vec<String>,
    /// Next hop (default: our address on each session).
    #[arg(long, value_name = "ADDRESS")]
    pub next_hop: Option<String>,
    /// The owner the paths belong to.
    #[arg(long, default_value = "bgpctl")]
    pub owner: String,
    /// ORIGIN attribute (default igp).
    #[arg(long, value_enum)]
    pub origin: Option<OriginArg>,
    /// AS_PATH without our own AS: "65010 65020", "{65030,65040}" for an AS_SET.
    #[arg(long, value_name = "PATH")]
    pub as_path: Option<AsPathArg>,
    /// MULTI_EXIT_DISC.
    #[arg(long)]
    pub med: Option<u32>,
    /// LOCAL_PREF (iBGP).
    #[arg(long)]
    pub local_pref: Option<u32>,
    /// Standard community, "65000:100" or a well-known name; repeatable.
    #[arg(long)]
    pub community: Vec<String>,
    /// Large community "GLOBAL:LOCAL1:LOCAL2"; repeatable.
    #[arg(long)]
    pub large_community: Vec<String>,
    /// Extended community "rt:ASN:VALUE", "soo:ASN:VALUE" or "0x" and 16 hex digits; repeatable.
    #[arg(long)]
    pub extended_community: Vec<String>,
    /// Announce only to this neighbour; repeatable (default: every neighbour).
    #[arg(long, value_name = "ADDRESS")]
    pub neighbor: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RouteDelArgs {
    /// Prefixes to withdraw.
    #[arg(required = true, value_name = "PREFIX")]
    pub prefixes: Vec<String>,
    /// The owner whose paths to withdraw.
    #[arg(long, default_value = "bgpctl")]
    pub owner: String,
}

#[derive(Subcommand, Debug)]
pub enum BfdCommand {
    /// One line per BFD session: peer, state, remote state, diagnostic,
    /// negotiated TX and RX intervals, detection time.
    List,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// One line per policy (default action, statements, sets, the
    /// neighbours that import or export with it), then one per set.
    List,
}

#[derive(Subcommand, Debug)]
pub enum OwnerCommand {
    /// Every owner: lease state, paths held, grace time.
    List,
}

#[derive(Subcommand, Debug)]
pub enum Layer2Command {
    /// Every announced address: owner, interfaces with their state, counters.
    #[command(visible_alias = "show")]
    List,
    /// Make ADDR=IF[,IF...] entries the owner's whole set (SetAnnouncements):
    /// addresses the owner held and does not list are withdrawn.
    Set(Layer2SetArgs),
    /// Withdraw every announcement of the owner (an empty SetAnnouncements).
    Clear(Layer2ClearArgs),
}

#[derive(Args, Debug)]
pub struct Layer2SetArgs {
    /// The owner whose set this becomes.
    #[arg(long)]
    pub owner: String,
    /// ADDRESS=INTERFACE[,INTERFACE...], e.g. 198.51.100.50=eth0,eth1.
    #[arg(value_name = "ADDR=IF[,IF...]", required = true, value_parser = parse_entry)]
    pub entries: Vec<Entry>,
}

#[derive(Args, Debug)]
pub struct Layer2ClearArgs {
    /// The owner whose announcements are withdrawn.
    #[arg(long)]
    pub owner: String,
}

/// One `ADDR=IF[,IF...]` argument, split but not judged: bgpd validates the
/// address and the names and says which one is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub address: String,
    pub interfaces: Vec<String>,
}

/// An `ADDR=IF[,IF...]` argument without its parts.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("{0:?} is not ADDRESS=INTERFACE[,INTERFACE...]")]
    NoEquals(String),
    #[error("{0:?} has no address before '='")]
    NoAddress(String),
    #[error("{0:?} has an empty interface name")]
    EmptyInterface(String),
}

/// Clap's parser for one entry.
pub fn parse_entry(text: &str) -> Result<Entry, EntryError> {
    let (address, interfaces) =
        text.split_once('=').ok_or_else(|| EntryError::NoEquals(text.to_string()))?;
    if address.is_empty() {
        return Err(EntryError::NoAddress(text.to_string()));
    }
    let interfaces: Vec<String> = interfaces.split(',').map(str::to_string).collect();
    if interfaces.iter().any(String::is_empty) {
        return Err(EntryError::EmptyInterface(text.to_string()));
    }
    Ok(Entry { address: address.to_string(), interfaces })
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Report neighbours (added, removed, state changes).
    #[arg(long)]
    pub peers: bool,
    /// Report best paths (added, changed, withdrawn).
    #[arg(long)]
    pub routes: bool,
    /// With --routes: only this family.
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,
}

/// `--dynamic-asn` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynamicAsnArg {
    /// iBGP: the neighbour is in our AS.
    Internal,
    /// eBGP: the neighbour is in any AS but ours.
    External,
}

/// `--family` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyArg {
    Ipv4,
    Ipv6,
}

/// `--table` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableArg {
    /// The Loc-RIB.
    Loc,
    /// A neighbour's Adj-RIB-In (needs --neighbor).
    In,
    /// A neighbour's Adj-RIB-Out (needs --neighbor).
    Out,
}

/// `--origin` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginArg {
    Igp,
    Egp,
    Incomplete,
}

/// Longest accepted `--timeout`: a day, far past any useful wait, and small
/// enough that a deadline computed from it cannot overflow.
const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;

/// A `--timeout` that is not a usable number of seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS}")]
pub struct TimeoutError(String);

fn parse_timeout(text: &str) -> Result<Duration, TimeoutError> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= MAX_TIMEOUT_SECONDS => {
            Ok(Duration::from_secs_f64(seconds))
        }
        _ => Err(TimeoutError(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn entries_split_at_the_equals_and_the_commas() {
        assert_eq!(
            parse_entry("198.51.100.50=eth0,eth1"),
            Ok(Entry {
                address: "198.51.100.50".into(),
                interfaces: vec!["eth0".into(), "eth1".into()]
            })
        );
        assert_eq!(parse_entry("198.51.100.50"), Err(EntryError::NoEquals("198.51.100.50".into())));
        assert_eq!(parse_entry("=eth0"), Err(EntryError::NoAddress("=eth0".into())));
        assert_eq!(
            parse_entry("2001:db8::1=eth0,"),
            Err(EntryError::EmptyInterface("2001:db8::1=eth0,".into()))
        );
    }

    #[test]
    fn timeouts_parse_within_bounds() {
        assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
        for bad in ["0", "-1", "NaN", "inf", "1e9", "x"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
