//! Domain values → `ironlb.bgpd.v1` response messages: paths and their
//! attributes (RFC 4271 §5.1, RFC 1997, RFC 4360, RFC 8092, RFC 4456),
//! NOTIFICATIONs with their decoded reason (RFC 4271 §4.5, RFC 9003),
//! capabilities (RFC 5492 and the RFCs named in `wire::open`), batch results,
//! owners and the daemon's info; [`peer`] for peers and their status,
//! [`watch`] for listings and watch events.
//!
//! This module (with `validate`, `peer` and `requests`, which read requests)
//! is the only place where `.proto` types and the instance's domain types
//! meet: the instance answers in domain types and never names a message.
//!
//! The text forms written here are the ones [`super::validate`] reads, so a
//! path read with ListPaths can be sent back with SetPaths unchanged.

pub mod bulk;
pub mod peer;
pub mod policy;
pub mod watch;

pub use bulk::set_paths_response;

use ipnet::IpNet;
use ironlb_proto::bgpd::v1;

use crate::api::error::ValidationError;
use crate::instance::owners::{
    AddOutcome, Attached, DeleteOutcome, Lease, OwnerSummary, ValidatedPath,
};
use crate::instance::requests::Info;
use crate::wire::{
    AddPathMode, AsPath, Capability, Family, NextHop, Notification, Origin, PathAttributes,
    SegmentType,
};

/// [`Family`] → its `.proto` enum value.
pub fn family(family: Family) -> v1::Family {
    match family {
        Family::Ipv4Unicast => v1::Family::Ipv4Unicast,
        Family::Ipv6Unicast => v1::Family::Ipv6Unicast,
    }
}

fn origin(origin: Option<Origin>) -> v1::Origin {
    match origin {
        None => v1::Origin::Unspecified,
        Some(Origin::Igp) => v1::Origin::Igp,
        Some(Origin::Egp) => v1::Origin::Egp,
        Some(Origin::Incomplete) => v1::Origin::Incomplete,
    }
}

fn as_path(path: &AsPath) -> Vec<v1::AsPathSegment> {
    path.segments
        .iter()
        .map(|segment| v1::AsPathSegment {
            r#type: match segment.kind {
                SegmentType::Set => v1::AsPathSegmentType::Set,
                SegmentType::Sequence => v1::AsPathSegmentType::Sequence,
                SegmentType::ConfedSequence => v1::AsPathSegmentType::ConfedSequence,
                SegmentType::ConfedSet => v1::AsPathSegmentType::ConfedSet,
            } as i32,
            asns: segment.asns.clone(),
        })
        .collect()
}

/// A route → `Path`. `next_hop` wins over the IPv4 NEXT_HOP attribute; with
/// neither the next hop is empty ("self").
pub fn path(
    prefix: IpNet,
    next_hop: Option<NextHop>,
    attributes: &PathAttributes,
    peers: &[crate::rib::PeerKey],
) -> v1::Path {
    let (global, link_local) = match next_hop {
        Some(NextHop::V4(v4)) => (v4.to_string(), String::new()),
        Some(NextHop::V6 { global, link_local }) => {
            (global.to_string(), link_local.map(|l| l.to_string()).unwrap_or_default())
        }
        None => (attributes.next_hop.map(|v4| v4.to_string()).unwrap_or_default(), String::new()),
    };
    v1::Path {
        prefix: prefix.to_string(),
        next_hop: global,
        next_hop_link_local: link_local,
        origin: origin(attributes.origin) as i32,
        as_path: as_path(&attributes.as_path),
        med: attributes.med,
        local_pref: attributes.local_pref,
        communities: attributes.communities.iter().map(ToString::to_string).collect(),
        large_communities: attributes.large_communities.iter().map(ToString::to_string).collect(),
        extended_communities: attributes
            .extended_communities
            .iter()
            .map(ToString::to_string)
            .collect(),
        peers: peers.iter().map(ToString::to_string).collect(),
        atomic_aggregate: attributes.atomic_aggregate,
        aggregator: attributes
            .aggregator
            .map(|a| format!("{}:{}", a.asn, a.address))
            .unwrap_or_default(),
        originator_id: attributes.originator_id.map(|id| id.to_string()).unwrap_or_default(),
        cluster_list: attributes.cluster_list.iter().map(ToString::to_string).collect(),
        unknown_attribute_codes: attributes
            .unknown
            .iter()
            .map(|a| u32::from(a.type_code))
            .collect(),
        stale: false,
    }
}

impl From<&ValidatedPath> for v1::Path {
    fn from(validated: &ValidatedPath) -> Self {
        path(validated.prefix, validated.next_hop, &validated.attributes, &validated.peers)
    }
}

/// A NOTIFICATION → `NotificationInfo`, decoded reason and RFC 9003 message
/// included. `unix_time` is when it was sent or received.
pub fn notification(notification: &Notification, unix_time: u64) -> v1::NotificationInfo {
    v1::NotificationInfo {
        code: u32::from(notification.code),
        subcode: u32::from(notification.subcode),
        reason: match notification.kind() {
            Some(kind) => kind.text().to_string(),
            None => format!("unknown error {}/{}", notification.code, notification.subcode),
        },
        shutdown_message: notification.shutdown_message().unwrap_or_default().to_string(),
        data: notification.data.to_vec(),
        unix_time,
    }
}

fn add_path_mode(mode: AddPathMode) -> v1::AddPathMode {
    match mode {
        AddPathMode::Receive => v1::AddPathMode::Receive,
        AddPathMode::Send => v1::AddPathMode::Send,
        AddPathMode::Both => v1::AddPathMode::Both,
    }
}

/// The capabilities of one OPEN → `Capabilities`.
pub fn capabilities(list: &[Capability]) -> v1::Capabilities {
    let mut out = v1::Capabilities::default();
    for capability in list {
        match capability {
            Capability::Multiprotocol(pair) => match pair.family() {
                Some(known) => out.families.push(family(known) as i32),
                None => out.other_families.push(format!("{}/{}", pair.afi, pair.safi)),
            },
            Capability::RouteRefresh { cisco: false } => out.route_refresh = true,
            Capability::RouteRefresh { cisco: true } => out.route_refresh_cisco = true,
            Capability::EnhancedRouteRefresh => out.enhanced_route_refresh = true,
            Capability::FourOctetAs(asn) => out.four_octet_asn = *asn,
            Capability::ExtendedMessage => out.extended_message = true,
            Capability::ExtendedNextHop(entries) => out.extended_next_hop.extend(
                entries
                    .iter()
                    .filter(|e| e.next_hop_afi == crate::wire::family::AFI_IPV6)
                    .filter_map(|e| e.nlri_family())
                    .map(|f| family(f) as i32),
            ),
            Capability::GracefulRestart(gr) => {
                out.graceful_restart = true;
                out.graceful_restart_restarting = gr.restart_state;
                out.graceful_restart_notification = gr.notification;
                out.graceful_restart_time_seconds = u32::from(gr.restart_time);
                out.graceful_restart_families = gr
                    .families
                    .iter()
                    .map(|f| v1::GracefulRestartCapabilityFamily {
                        afi: u32::from(f.afi_safi.afi),
                        safi: u32::from(f.afi_safi.safi),
                        forwarding_preserved: f.forwarding_preserved,
                    })
                    .collect();
            }
            Capability::AddPath(entries) => {
                out.add_path.extend(entries.iter().map(|entry| v1::AddPathFamily {
                    family: entry.afi_safi.family().map_or(v1::Family::Unspecified, family) as i32,
                    afi: u32::from(entry.afi_safi.afi),
                    safi: u32::from(entry.afi_safi.safi),
                    mode: add_path_mode(entry.mode) as i32,
                }))
            }
            Capability::Fqdn { hostname, domain } => {
                out.hostname.clone_from(hostname);
                out.domain_name.clone_from(domain);
            }
            Capability::Unknown { code, .. } => out.unknown_codes.push(u32::from(*code)),
        }
    }
    out
}

fn rejected(prefix: &str, error: &ValidationError) -> v1::PathResult {
    v1::PathResult {
        prefix: prefix.to_string(),
        outcome: v1::PathOutcome::Rejected as i32,
        code: error.code() as i32,
        message: error.to_string(),
        index: 0,
    }
}

fn applied(prefix: &str, outcome: v1::PathOutcome) -> v1::PathResult {
    v1::PathResult {
        prefix: prefix.to_string(),
        outcome: outcome as i32,
        code: 0,
        message: String::new(),
        index: 0,
    }
}

/// Per-path results of a batch, in request order: `checked` is what
/// validation said about each item (`prefixes` are the request's texts), and
/// `outcomes` what the owner bookkeeping did with the valid ones, in order.
/// A valid item without an outcome (the caller passed too few) is reported
/// as rejected with INTERNAL rather than silently dropped.
fn batch_results<T, O: Copy>(
    prefixes: &[&str],
    checked: &[Result<T, ValidationError>],
    outcomes: &[O],
    outcome: impl Fn(O) -> v1::PathOutcome,
) -> Vec<v1::PathResult> {
    let mut outcomes = outcomes.iter();
    prefixes
        .iter()
        .zip(checked)
        .map(|(prefix, check)| match check {
            Err(error) => rejected(prefix, error),
            Ok(_) => match outcomes.next() {
                Some(&done) => applied(prefix, outcome(done)),
                None => v1::PathResult {
                    prefix: prefix.to_string(),
                    outcome: v1::PathOutcome::Rejected as i32,
                    code: tonic::Code::Internal as i32,
                    message: "no outcome recorded for this path".to_string(),
                    index: 0,
                },
            },
        })
        .collect()
}

/// `AddPathsResponse.results` from the request, its validation and the
/// outcomes of `Owners::add_paths` for the valid paths.
pub fn add_results<T>(
    request: &v1::AddPathsRequest,
    checked: &[Result<T, ValidationError>],
    outcomes: &[AddOutcome],
) -> Vec<v1::PathResult> {
    let prefixes: Vec<&str> = request.paths.iter().map(|p| p.prefix.as_str()).collect();
    batch_results(&prefixes, checked, outcomes, |outcome| match outcome {
        AddOutcome::Added => v1::PathOutcome::Added,
        AddOutcome::Changed => v1::PathOutcome::Changed,
        AddOutcome::Unchanged => v1::PathOutcome::Unchanged,
    })
}

/// `DeletePathsResponse.results`, likewise.
pub fn delete_results<T>(
    request: &v1::DeletePathsRequest,
    checked: &[Result<T, ValidationError>],
    outcomes: &[DeleteOutcome],
) -> Vec<v1::PathResult> {
    let prefixes: Vec<&str> = request.prefixes.iter().map(String::as_str).collect();
    batch_results(&prefixes, checked, outcomes, |outcome| match outcome {
        DeleteOutcome::Withdrawn => v1::PathOutcome::Withdrawn,
        DeleteOutcome::NotFound => v1::PathOutcome::NotFound,
    })
}

/// One owner → `Owner`, with the grace left at `now`.
pub fn owner(view: &OwnerSummary, now: std::time::Instant) -> v1::Owner {
    let (state, remaining) = match view.lease {
        Lease::Unleased => (v1::OwnerState::Unleased, 0),
        Lease::Attached(_) => (v1::OwnerState::Attached, 0),
        Lease::Detached { deadline } => {
            let left = deadline.saturating_duration_since(now).as_secs();
            (v1::OwnerState::Detached, u32::try_from(left).unwrap_or(u32::MAX))
        }
    };
    v1::Owner {
        name: view.name.clone(),
        state: state as i32,
        path_count: view.path_count as u64,
        grace_time_seconds: u32::try_from(view.grace_time.as_secs()).unwrap_or(u32::MAX),
        grace_remaining_seconds: remaining,
        resync_required: view.resync_required,
    }
}

/// The model's dynamic AS → the API's enum.
pub fn dynamic_asn(dynamic: Option<crate::config::DynamicAsn>) -> v1::DynamicAsn {
    match dynamic {
        None => v1::DynamicAsn::Unspecified,
        Some(crate::config::DynamicAsn::Internal) => v1::DynamicAsn::Internal,
        Some(crate::config::DynamicAsn::External) => v1::DynamicAsn::External,
    }
}

/// The daemon's identity and counts → `GetInfoResponse`; `version` and
/// `listen` are the service's.
pub fn info_response(info: Info, version: &str, listen: &[String]) -> v1::GetInfoResponse {
    v1::GetInfoResponse {
        asn: info.asn,
        router_id: info.router_id.to_string(),
        version: version.to_string(),
        uptime_seconds: info.uptime.as_secs(),
        peer_count: u32::try_from(info.peers.configured).unwrap_or(u32::MAX),
        established_peer_count: u32::try_from(info.peers.established).unwrap_or(u32::MAX),
        path_count: info.prefixes as u64,
        owner_count: u32::try_from(info.owners).unwrap_or(u32::MAX),
        listen: listen.to_vec(),
    }
}

/// The `opened` answer of a `Session` stream.
pub fn session_opened(attached: &Attached, hold_time: std::time::Duration) -> v1::SessionResponse {
    let opened = v1::SessionOpened {
        reclaimed: attached.reclaimed,
        path_count: attached.path_count as u64,
        resync_required: attached.resync_required,
        grace_time_seconds: u32::try_from(attached.grace_time.as_secs()).unwrap_or(u32::MAX),
        hold_time_seconds: u32::try_from(hold_time.as_secs()).unwrap_or(u32::MAX),
        layer2_grace_time_seconds: u32::try_from(
            attached.layer2_grace_time.unwrap_or(attached.grace_time).as_secs(),
        )
        .unwrap_or(u32::MAX),
    };
    v1::SessionResponse { response: Some(v1::session_response::Response::Opened(opened)) }
}

#[cfg(test)]
mod tests;
