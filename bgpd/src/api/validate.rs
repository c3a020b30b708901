//! Requests in, typed domain values out: the checks every path-carrying request
//! of `ironlb.bgpd.v1` goes through before it reaches the instance.
//!
//! Attribute rules follow RFC 4271 §5.1 (ORIGIN, AS_PATH, NEXT_HOP, MED,
//! LOCAL_PREF), RFC 1997 (communities), RFC 4360 (extended communities),
//! RFC 8092 (large communities), RFC 2545 §3 (IPv6 link-local next hop) and
//! RFC 7607 (ASN 0 is invalid).
//!
//! Everything here is pure. The only outside knowledge needed, which peers
//! exist, is the instance's: the `*_deferred` checks record the peers a
//! request names ([`NamedPeers`]) and the instance looks them up in the same
//! request that applies the paths (one round trip per request); [`path`],
//! [`set_paths`] and [`add_paths`] do the same with a [`PeerLookup`] passed
//! in, giving the answer the instance's check gives. Values are brought to a canonical
//! form (communities sorted, peers sorted) so that the same intent written in a
//! different order compares equal, which keeps `SetPaths` idempotent.

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::error::{AddressKind, ValidationError};
use crate::instance::owners::{SetPathsCommand, ValidatedPath};
use crate::instance::requests::{BatchCheck, BatchPath, check_batch};
use crate::wire::{
    AsPath, AsSegment, Community, ExtendedCommunity, Family, LargeCommunity, NextHop, Origin,
    PathAttributes, SegmentType,
};
use ironlb_proto::bgpd::v1;

/// Longest grace time an owner may ask for: one day.
pub const MAX_GRACE_TIME_SECONDS: u32 = 86_400;
/// Longest owner name, bytes.
pub const MAX_OWNER_LEN: usize = 128;
/// Most ASNs in one AS_PATH segment (its count is one octet).
const MAX_SEGMENT_ASNS: usize = 255;
/// Most ASNs in a path's AS_PATH, all segments together.
pub const MAX_AS_PATH_ASNS: usize = 255;
/// Most communities (RFC 1997) on one path.
pub const MAX_COMMUNITIES: usize = 200;
/// Most large communities (RFC 8092) on one path.
pub const MAX_LARGE_COMMUNITIES: usize = 100;
/// Most extended communities (RFC 4360) on one path.
pub const MAX_EXTENDED_COMMUNITIES: usize = 100;
// Together these keep every API path, at every limit, within one 4,096-octet
// UPDATE (RFC 4271 §4.3): a test encodes the worst case. A path that grows
// past a peer's limit on export (prepends, policy) is not sent to that peer
// and is counted as unsendable instead (`rib::adj_out`).

/// A checked `AddPathsRequest`: the owner is valid; each path has its own
/// result, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddPathsCommand {
    pub owner: String,
    pub paths: Vec<Result<ValidatedPath, ValidationError>>,
}

/// A checked `DeletePathsRequest`, one result per prefix in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletePathsCommand {
    pub owner: String,
    pub prefixes: Vec<Result<(Family, IpNet), ValidationError>>,
}

/// `FAMILY_*` of the `.proto` → [`Family`]; `FAMILY_UNSPECIFIED` is `None`.
pub fn family(field: &str, value: i32) -> Result<Option<Family>, ValidationError> {
    match v1::Family::try_from(value) {
        Ok(v1::Family::Unspecified) => Ok(None),
        Ok(v1::Family::Ipv4Unicast) => Ok(Some(Family::Ipv4Unicast)),
        Ok(v1::Family::Ipv6Unicast) => Ok(Some(Family::Ipv6Unicast)),
        Err(_) => Err(ValidationError::UnknownEnumValue {
            field: field.to_string(),
            value,
            valid: "FAMILY_IPV4_UNICAST (1), FAMILY_IPV6_UNICAST (2)",
        }),
    }
}

/// Owner names the daemon uses itself, refused to API clients: `config` owns
/// the config file's `[[layer2]]` entries (`layer2::task::CONFIG_OWNER`), and
/// bgpctl shows config routes as "config". A client using it would replace or
/// delete what the config file set.
pub const RESERVED_OWNERS: &[&str] = &[crate::layer2::task::CONFIG_OWNER];

/// How much of a refused owner name an error shows: a long name is cut, so
/// the status message stays small (gRPC carries it in a header).
const OWNER_ECHO_LEN: usize = 64;

/// An owner name: 1..=128 printable ASCII characters, no spaces, not one of
/// the [`RESERVED_OWNERS`].
pub fn owner(field: &str, value: &str) -> Result<String, ValidationError> {
    let printable = value.bytes().all(|b| b.is_ascii_graphic());
    if value.len() > MAX_OWNER_LEN {
        return Err(ValidationError::OwnerTooLong {
            field: field.to_string(),
            start: value.chars().take(OWNER_ECHO_LEN).collect(),
            len: value.len(),
            max: MAX_OWNER_LEN,
        });
    }
    if value.is_empty() || !printable {
        return Err(ValidationError::InvalidOwner {
            field: field.to_string(),
            value: value.to_string(),
        });
    }
    if RESERVED_OWNERS.contains(&value) {
        return Err(ValidationError::ReservedOwner {
            field: field.to_string(),
            value: value.to_string(),
        });
    }
    Ok(value.to_string())
}

/// A grace time in seconds, 0..=86400; `None` stays `None`.
pub fn grace_time(field: &str, value: Option<u32>) -> Result<Option<Duration>, ValidationError> {
    match value {
        None => Ok(None),
        Some(seconds) if seconds <= MAX_GRACE_TIME_SECONDS => {
            Ok(Some(Duration::from_secs(u64::from(seconds))))
        }
        Some(seconds) => Err(ValidationError::OutOfRange {
            field: field.to_string(),
            value: u64::from(seconds),
            valid: "0..=86400",
        }),
    }
}

/// A prefix in text form with its host bits clear.
pub fn prefix(field: &str, value: &str) -> Result<IpNet, ValidationError> {
    let net = IpNet::from_str(value).map_err(|_| ValidationError::InvalidPrefix {
        field: field.to_string(),
        value: value.to_string(),
    })?;
    if net.trunc() != net {
        return Err(ValidationError::HostBitsSet {
            field: field.to_string(),
            value: value.to_string(),
        });
    }
    Ok(net)
}

/// An address in text form.
pub fn address(field: &str, value: &str) -> Result<IpAddr, ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::Missing { field: field.to_string() });
    }
    IpAddr::from_str(value).map_err(|_| ValidationError::InvalidAddress {
        field: field.to_string(),
        value: value.to_string(),
    })
}

/// An address that may be empty (`None`).
pub fn optional_address(field: &str, value: &str) -> Result<Option<IpAddr>, ValidationError> {
    if value.is_empty() { Ok(None) } else { address(field, value).map(Some) }
}

/// Rejects addresses that can never name a host: unspecified and multicast.
pub fn unicast_address(field: &str, value: &str) -> Result<IpAddr, ValidationError> {
    let parsed = address(field, value)?;
    let reason = if parsed.is_unspecified() {
        Some("it is the unspecified address")
    } else if parsed.is_multicast() {
        Some("it is a multicast address")
    } else if matches!(parsed, IpAddr::V4(v4) if v4.is_broadcast()) {
        Some("it is the broadcast address")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ValidationError::UnusableAddress {
            field: field.to_string(),
            value: value.to_string(),
            reason,
        }),
        None => Ok(parsed),
    }
}

fn is_ipv6_link_local(address: Ipv6Addr) -> bool {
    address.segments()[0] & 0xffc0 == 0xfe80
}

/// The next hop of a path for `prefix`: of the prefix's family, unicast, with
/// an optional IPv6 link-local companion (RFC 2545 §3).
fn next_hop(
    index: usize,
    prefix: &IpNet,
    global: &str,
    link_local: &str,
) -> Result<Option<NextHop>, ValidationError> {
    if global.is_empty() && link_local.is_empty() {
        // The common case of bulk loads: next hop self, nothing to name.
        return Ok(None);
    }
    let field = format!("paths[{index}].next_hop");
    let link_local_field = format!("paths[{index}].next_hop_link_local");
    let global = if global.is_empty() { None } else { Some(unicast_address(&field, global)?) };
    if let Some(global) = global {
        usable::global_next_hop(&field, global)?;
    }
    match prefix {
        IpNet::V4(_) => {
            if !link_local.is_empty() {
                return Err(ValidationError::Conflict {
                    field: link_local_field,
                    value: format!("{link_local:?}"),
                    other: format!("paths[{index}].prefix"),
                    other_value: format!("{:?}", prefix.to_string()),
                });
            }
            match global {
                None => Ok(None),
                Some(IpAddr::V4(v4)) => Ok(Some(NextHop::V4(v4))),
                Some(IpAddr::V6(v6)) => Err(ValidationError::WrongFamily {
                    field,
                    value: v6.to_string(),
                    expected: AddressKind::Ipv4,
                }),
            }
        }
        IpNet::V6(_) => {
            let global = match global {
                None if link_local.is_empty() => return Ok(None),
                None => {
                    return Err(ValidationError::Requires {
                        field: link_local_field,
                        value: link_local.to_string(),
                        other: field,
                    });
                }
                Some(IpAddr::V6(v6)) => v6,
                Some(IpAddr::V4(v4)) => {
                    return Err(ValidationError::WrongFamily {
                        field,
                        value: v4.to_string(),
                        expected: AddressKind::Ipv6,
                    });
                }
            };
            let link_local = match optional_address(&link_local_field, link_local)? {
                None => None,
                Some(IpAddr::V6(v6)) if is_ipv6_link_local(v6) => Some(v6),
                Some(other) => {
                    return Err(ValidationError::WrongFamily {
                        field: link_local_field,
                        value: other.to_string(),
                        expected: AddressKind::Ipv6LinkLocal,
                    });
                }
            };
            Ok(Some(NextHop::V6 { global, link_local }))
        }
    }
}

fn origin(index: usize, value: i32) -> Result<Origin, ValidationError> {
    match v1::Origin::try_from(value) {
        Ok(v1::Origin::Unspecified | v1::Origin::Igp) => Ok(Origin::Igp),
        Ok(v1::Origin::Egp) => Ok(Origin::Egp),
        Ok(v1::Origin::Incomplete) => Ok(Origin::Incomplete),
        Err(_) => Err(ValidationError::UnknownEnumValue {
            field: format!("paths[{index}].origin"),
            value,
            valid: "ORIGIN_IGP (1), ORIGIN_EGP (2), ORIGIN_INCOMPLETE (3)",
        }),
    }
}

fn as_path(index: usize, segments: &[v1::AsPathSegment]) -> Result<AsPath, ValidationError> {
    let mut path = AsPath::default();
    for (s, segment) in segments.iter().enumerate() {
        let field = format!("paths[{index}].as_path[{s}]");
        let kind = match v1::AsPathSegmentType::try_from(segment.r#type) {
            Ok(v1::AsPathSegmentType::Unspecified | v1::AsPathSegmentType::Sequence) => {
                SegmentType::Sequence
            }
            Ok(v1::AsPathSegmentType::Set) => SegmentType::Set,
            Ok(v1::AsPathSegmentType::ConfedSequence) => SegmentType::ConfedSequence,
            Ok(v1::AsPathSegmentType::ConfedSet) => SegmentType::ConfedSet,
            Err(_) => {
                return Err(ValidationError::UnknownEnumValue {
                    field: format!("{field}.type"),
                    value: segment.r#type,
                    valid: "AS_PATH_SEGMENT_TYPE_SET (1) .. AS_PATH_SEGMENT_TYPE_CONFED_SET (4)",
                });
            }
        };
        if segment.asns.is_empty() {
            return Err(ValidationError::Empty { field: format!("{field}.asns") });
        }
        if segment.asns.len() > MAX_SEGMENT_ASNS {
            return Err(ValidationError::TooMany {
                field: format!("{field}.asns"),
                count: segment.asns.len(),
                max: MAX_SEGMENT_ASNS,
            });
        }
        if let Some(a) = segment.asns.iter().position(|&asn| asn == 0) {
            return Err(ValidationError::OutOfRange {
                field: format!("{field}.asns[{a}]"),
                value: 0,
                valid: "1..=4294967295",
            });
        }
        path.segments.push(AsSegment { kind, asns: segment.asns.clone() });
    }
    let total: usize = segments.iter().map(|s| s.asns.len()).sum();
    if total > MAX_AS_PATH_ASNS {
        return Err(ValidationError::TooMany {
            field: format!("paths[{index}].as_path"),
            count: total,
            max: MAX_AS_PATH_ASNS,
        });
    }
    Ok(path)
}

/// Parses each string of a repeated community field, rejects duplicates and
/// returns the values sorted.
fn community_list<T: Ord + Copy>(
    field: &str,
    values: &[String],
    parse: impl Fn(&str) -> Option<T>,
    (kind, max): (&'static str, usize),
    expected: &'static str,
) -> Result<Vec<T>, ValidationError> {
    if values.len() > max {
        return Err(ValidationError::TooMany {
            field: field.to_string(),
            count: values.len(),
            max,
        });
    }
    let mut parsed: Vec<(T, usize)> = Vec::with_capacity(values.len());
    for (i, text) in values.iter().enumerate() {
        let value = parse(text).ok_or_else(|| ValidationError::InvalidCommunity {
            field: format!("{field}[{i}]"),
            value: text.clone(),
            kind,
            expected,
        })?;
        parsed.push((value, i));
    }
    parsed.sort();
    if let Some(pair) = parsed.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        let i = pair[1].1;
        return Err(ValidationError::Duplicate {
            field: format!("{field}[{i}]"),
            value: values[i].clone(),
        });
    }
    Ok(parsed.into_iter().map(|(value, _)| value).collect())
}

/// Extended community text forms, as `ExtendedCommunity`'s `FromStr` reads
/// them (the same the config file accepts).
pub fn parse_extended_community(text: &str) -> Option<ExtendedCommunity> {
    text.parse().ok()
}

fn no_output_only(index: usize, path: &v1::Path) -> Result<(), ValidationError> {
    let set = [
        ("atomic_aggregate", path.atomic_aggregate),
        ("aggregator", !path.aggregator.is_empty()),
        ("originator_id", !path.originator_id.is_empty()),
        ("cluster_list", !path.cluster_list.is_empty()),
        ("unknown_attribute_codes", !path.unknown_attribute_codes.is_empty()),
        ("stale", path.stale),
    ];
    match set.iter().find(|(_, is_set)| *is_set) {
        Some((name, _)) => {
            Err(ValidationError::OutputOnly { field: format!("paths[{index}].{name}") })
        }
        None => Ok(()),
    }
}

/// Checks one path of a request; `index` is its position in `paths`, used in
/// field names.
pub fn path(
    index: usize,
    path: &v1::Path,
    lookup: &impl PeerLookup,
) -> Result<ValidatedPath, ValidationError> {
    let mut named = NamedPeers::default();
    let checked = path_sharing(index, path, &mut named, None);
    match named.check(lookup) {
        Some(error) => Err(error),
        None => checked,
    }
}

/// [`path`], sharing `previous` when the attributes equal it (the paths of a
/// batch usually carry one attribute set: one allocation for all of them).
fn path_sharing(
    index: usize,
    path: &v1::Path,
    named: &mut NamedPeers,
    previous: Option<&Arc<PathAttributes>>,
) -> Result<ValidatedPath, ValidationError> {
    // Field names are only formatted for an error: a bulk load of valid
    // paths allocates nothing for them.
    let prefix = match IpNet::from_str(&path.prefix) {
        Ok(net) if net.trunc() == net => net,
        _ if path.prefix.is_empty() => {
            return Err(ValidationError::Missing { field: format!("paths[{index}].prefix") });
        }
        _ => prefix(&format!("paths[{index}].prefix"), &path.prefix)?,
    };
    usable::prefix(index, &path.prefix, &prefix)?;
    no_output_only(index, path)?;
    let next_hop = next_hop(index, &prefix, &path.next_hop, &path.next_hop_link_local)?;
    let attributes = PathAttributes {
        origin: Some(origin(index, path.origin)?),
        as_path: as_path(index, &path.as_path)?,
        med: path.med,
        local_pref: path.local_pref,
        communities: if path.communities.is_empty() {
            Vec::new()
        } else {
            community_list(
                &format!("paths[{index}].communities"),
                &path.communities,
                |text| Community::from_str(text).ok(),
                ("community", MAX_COMMUNITIES),
                "ASN:VALUE with both parts 0..=65535, or a well-known name such as \"no-export\"",
            )?
        },
        large_communities: if path.large_communities.is_empty() {
            Vec::new()
        } else {
            community_list(
                &format!("paths[{index}].large_communities"),
                &path.large_communities,
                |text| LargeCommunity::from_str(text).ok(),
                ("large community", MAX_LARGE_COMMUNITIES),
                "GLOBAL:LOCAL1:LOCAL2 with each part 0..=4294967295",
            )?
        },
        extended_communities: if path.extended_communities.is_empty() {
            Vec::new()
        } else {
            community_list(
                &format!("paths[{index}].extended_communities"),
                &path.extended_communities,
                parse_extended_community,
                ("extended community", MAX_EXTENDED_COMMUNITIES),
                "rt:ASN:VALUE, soo:ASN:VALUE or 0x and 16 hex digits",
            )?
        },
        ..PathAttributes::default()
    };
    Ok(ValidatedPath {
        family: Family::of(&prefix),
        prefix,
        next_hop,
        attributes: match previous {
            Some(previous) if **previous == attributes => Arc::clone(previous),
            _ => Arc::new(attributes),
        },
        peers: peers(index, &path.peers, named)?,
    })
}

/// Checks a `SetPathsRequest` as a whole: the first bad value rejects it.
/// The peers named are recorded, not looked up: the instance rejects the
/// request if one of them, up to the first bad value, is not configured.
pub fn set_paths_deferred(
    request: &v1::SetPathsRequest,
) -> (Result<SetPathsCommand, ValidationError>, NamedPeers) {
    let mut named = NamedPeers::default();
    let checked = set_paths_named(request, &mut named);
    (checked, named)
}

fn set_paths_named(
    request: &v1::SetPathsRequest,
    named: &mut NamedPeers,
) -> Result<SetPathsCommand, ValidationError> {
    let owner = owner("owner", &request.owner)?;
    let grace_time = grace_time("grace_time_seconds", request.grace_time_seconds)?;
    let mut paths = Vec::with_capacity(request.paths.len());
    for (index, proto) in request.paths.iter().enumerate() {
        let previous = paths.last().map(|p: &ValidatedPath| &p.attributes);
        let checked = path_sharing(index, proto, named, previous)?;
        paths.push(checked);
    }
    let mut keys: Vec<(IpNet, usize)> =
        paths.iter().enumerate().map(|(i, path)| (path.prefix, i)).collect();
    keys.sort();
    if let Some(pair) = keys.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        let i = pair[1].1;
        return Err(ValidationError::Duplicate {
            field: format!("paths[{i}].prefix"),
            value: request.paths[i].prefix.clone(),
        });
    }
    Ok(SetPathsCommand { owner, paths, grace_time })
}

/// [`set_paths_deferred`] with the peers looked up in `lookup`.
pub fn set_paths(
    request: &v1::SetPathsRequest,
    lookup: &impl PeerLookup,
) -> Result<SetPathsCommand, ValidationError> {
    let (checked, named) = set_paths_deferred(request);
    match named.check(lookup) {
        Some(error) => Err(error),
        None => checked,
    }
}

/// A checked `AddPathsRequest` before the instance looked up its peers: one
/// [`BatchPath`] per path, in request order, with the API's own error for
/// the paths it refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddPathsBatch {
    pub owner: String,
    pub paths: Vec<BatchPath>,
    pub errors: Vec<Option<ValidationError>>,
}

/// Checks an `AddPathsRequest`: a bad owner rejects the request; a bad path
/// rejects only itself. The peers and the prefixes given twice are checked
/// by the instance ([`check_batch`]), in the same request that applies the
/// valid paths.
pub fn add_paths_deferred(request: &v1::AddPathsRequest) -> Result<AddPathsBatch, ValidationError> {
    let owner = owner("owner", &request.owner)?;
    let mut last: Option<Arc<PathAttributes>> = None;
    let mut paths = Vec::with_capacity(request.paths.len());
    let mut errors = Vec::with_capacity(request.paths.len());
    for (index, proto) in request.paths.iter().enumerate() {
        let mut named = NamedPeers::default();
        let checked = path_sharing(index, proto, &mut named, last.as_ref());
        let (path, error) = match checked {
            Ok(path) => {
                last = Some(Arc::clone(&path.attributes));
                (Some(path), None)
            }
            Err(error) => (None, Some(error)),
        };
        paths.push(BatchPath { path, peers: named.refs });
        errors.push(error);
    }
    Ok(AddPathsBatch { owner, paths, errors })
}

/// The result of each path of an `AddPathsRequest` once the instance checked
/// the batch (`checks`, one per path): its error, or `Ok` for a valid path.
pub fn add_paths_results(
    request: &v1::AddPathsRequest,
    errors: Vec<Option<ValidationError>>,
    checks: &[BatchCheck],
) -> Vec<Result<(), ValidationError>> {
    errors
        .into_iter()
        .zip(checks)
        .enumerate()
        .map(|(index, (error, check))| match (check, error) {
            (BatchCheck::UnknownPeer(unknown), _) => {
                let text = request
                    .paths
                    .get(unknown.path)
                    .and_then(|path| path.peers.get(unknown.peer))
                    .cloned()
                    .unwrap_or_else(|| unknown.key.to_string());
                Err(unknown_peer(unknown.clone(), text))
            }
            (BatchCheck::Duplicate, _) => Err(ValidationError::Duplicate {
                field: format!("paths[{index}].prefix"),
                value: request.paths.get(index).map(|p| p.prefix.clone()).unwrap_or_default(),
            }),
            (_, Some(error)) => Err(error),
            (_, None) => Ok(()),
        })
        .collect()
}

/// [`add_paths_deferred`] and the instance's batch check with the peers
/// looked up in `lookup`.
pub fn add_paths(
    request: &v1::AddPathsRequest,
    lookup: &impl PeerLookup,
) -> Result<AddPathsCommand, ValidationError> {
    let batch = add_paths_deferred(request)?;
    let checks = check_batch(&batch.paths, |key| lookup.knows(key));
    let results = add_paths_results(request, batch.errors, &checks);
    let paths = batch
        .paths
        .into_iter()
        .zip(results)
        .enumerate()
        .map(|(index, (entry, result))| {
            result.and_then(|()| {
                entry
                    .path
                    .ok_or_else(|| ValidationError::Missing { field: format!("paths[{index}]") })
            })
        })
        .collect();
    Ok(AddPathsCommand { owner: batch.owner, paths })
}

/// Checks a `DeletePathsRequest`: a bad owner rejects the request; a bad
/// prefix rejects only itself.
pub fn delete_paths(
    request: &v1::DeletePathsRequest,
) -> Result<DeletePathsCommand, ValidationError> {
    let owner = owner("owner", &request.owner)?;
    let prefixes = request
        .prefixes
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let net = prefix(&format!("prefixes[{index}]"), text)?;
            Ok((Family::of(&net), net))
        })
        .collect();
    Ok(DeletePathsCommand { owner, prefixes })
}

mod named;
mod usable;

pub use named::{NamedPeers, PeerLookup};
use named::{peers, unknown_peer};

#[cfg(test)]
mod tests;
