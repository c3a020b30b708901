//! The requests the API sends the instance: each [`ApiRequest`] carries its
//! validated input, in domain types, and a oneshot sender for the answer
//! (domain types again; `api::convert` makes messages of them). The instance
//! task owns the RIB and the owner state, so these functions run inside it
//! and nothing else ever touches them; the tonic service only validates,
//! asks and converts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::leases::{self, Opened, SessionOpenCommand};
use super::listing::{self, ListCursor, ListError, Page, PathQuery, SourceNames, TableSelector};
use super::owners::{
    AddOutcome, Batch, DeleteOutcome, Diff, OwnerSummary, Owners, PathKey, SessionId,
    SetPathsCommand, ValidatedPath,
};
use super::peer_ops::{PeerName, PeerOp, PeerOpAnswer, PeerOpError};
use super::status::{PeerView, SessionStatus};
use super::watch::{self, WatchId, WatchRequest, Watchers};
use crate::config::Neighbor;
use crate::rib::{OwnerId, PeerId, PeerKey, Rib, Source};
use crate::wire::{Family, PathAttributes};

/// A request from the gRPC service to the instance.
#[derive(Debug)]
pub enum ApiRequest {
    GetInfo {
        reply: oneshot::Sender<Info>,
    },
    /// Applied only if every peer in `peers` (the request's `Path.peers`, in
    /// request order) is configured; else answered with the first that is not.
    SetPaths {
        command: SetPathsCommand,
        peers: Vec<PeerRef>,
        reply: oneshot::Sender<Result<Diff, PeerRef>>,
    },
    /// Every path of the request, in request order; see [`check_batch`].
    AddPaths {
        owner: String,
        paths: Vec<BatchPath>,
        reply: oneshot::Sender<AddAnswer>,
    },
    /// The first of `peers` that is not configured: a request refused by the
    /// API may still owe the client an unknown peer named before its error.
    FirstUnknownPeer {
        peers: Vec<PeerRef>,
        reply: oneshot::Sender<Option<PeerRef>>,
    },
    /// Only the valid keys of the request, in request order.
    ListPeers {
        reply: oneshot::Sender<Vec<PeerView>>,
    },
    ListOwners {
        reply: oneshot::Sender<Vec<OwnerSummary>>,
    },
    GetPeer {
        name: PeerName,
        reply: oneshot::Sender<Option<PeerView>>,
    },
    DeletePaths {
        owner: String,
        keys: Vec<PathKey>,
        reply: oneshot::Sender<Batch<DeleteOutcome>>,
    },
    /// AddPeer, UpdatePeer, DeletePeer, EnablePeer, DisablePeer, ResetPeer:
    /// they change the instance's neighbours, so the instance runs them
    /// itself ([`super::peer_ops`]), never [`handle`].
    ManagePeer {
        /// Boxed: a whole neighbour config, larger than every other request.
        op: Box<PeerOp>,
        reply: oneshot::Sender<Result<PeerOpAnswer, PeerOpError>>,
    },
    /// A `Session` stream sent its `open`.
    SessionOpen {
        command: SessionOpenCommand,
        reply: oneshot::Sender<Opened>,
    },
    /// A `Session` stream ended without being taken over: the lease lapses.
    SessionClosed {
        owner: String,
        session: SessionId,
    },
    /// One page of a `ListPaths` walk (the service streams page by page).
    ListPathsPage {
        query: PathQuery,
        from: ListCursor,
        reply: oneshot::Sender<Result<Page, ListError>>,
    },
    /// A new `Watch`; its `peers` are filled in by the handler.
    Watch(WatchRequest),
    /// A watcher consumed a snapshot chunk.
    WatchMore {
        id: WatchId,
    },
    /// The BFD driver's snapshot of every session, for GetPeer and
    /// ListPeers: the instance hands back the driver's answer channel
    /// (`None`: no driver runs) and the caller awaits it, so the instance
    /// never waits for the BFD thread. Intercepted by the instance.
    BfdStatus {
        reply: oneshot::Sender<Option<crate::bfd::io::StatusAnswer>>,
    },
    /// `ListPolicies`: needs the config, so intercepted by the instance.
    ListPolicies {
        reply: oneshot::Sender<super::policy_listing::PolicyListing>,
    },
}

impl ApiRequest {
    /// Whether answering needs [`Context::neighbors`] (the instance then
    /// lists them; other requests skip that work).
    pub fn needs_neighbors(&self) -> bool {
        matches!(
            self,
            ApiRequest::ListPeers { .. } | ApiRequest::GetPeer { .. } | ApiRequest::Watch(_)
        )
    }
}

/// A peer a path names (`paths[path].peers[peer]` of the request): the API
/// checks its form, the instance whether it is configured, in the same
/// request that applies the path (a peer deleted afterwards leaves the path
/// exported to nobody among the deleted: see `rib::restrict`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRef {
    pub path: usize,
    pub peer: usize,
    pub key: PeerKey,
}

/// The first of `peers` that `is_peer` does not know.
pub fn first_unknown(peers: &[PeerRef], is_peer: impl Fn(&PeerKey) -> bool) -> Option<PeerRef> {
    peers.iter().find(|named| !is_peer(&named.key)).cloned()
}

/// One path of an `AddPaths` batch as the API checked it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchPath {
    /// `None`: the API refused the path (its own error stands unless a peer
    /// named before that error is unknown).
    pub path: Option<ValidatedPath>,
    /// The peers the path names, in request order, as far as the API read
    /// them.
    pub peers: Vec<PeerRef>,
}

/// What [`check_batch`] says about one path of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchCheck {
    Valid,
    /// The API's own error.
    Refused,
    UnknownPeer(PeerRef),
    /// A valid path for a prefix that an earlier valid path of the batch has.
    Duplicate,
}

/// The rules of an `AddPaths` batch that need the instance, in the order the
/// API applied them when it looked peers up itself: a path naming a peer that
/// is not configured is refused; then a second valid path for a prefix
/// earlier in the batch is refused (so a path refused for its peer does not
/// make a later one a duplicate). Each refusal rejects only its path.
pub fn check_batch(paths: &[BatchPath], is_peer: impl Fn(&PeerKey) -> bool) -> Vec<BatchCheck> {
    let mut seen = std::collections::HashSet::with_capacity(paths.len());
    paths
        .iter()
        .map(|entry| {
            if let Some(unknown) = first_unknown(&entry.peers, &is_peer) {
                return BatchCheck::UnknownPeer(unknown);
            }
            match &entry.path {
                None => BatchCheck::Refused,
                Some(path) if !seen.insert(path.prefix) => BatchCheck::Duplicate,
                Some(_) => BatchCheck::Valid,
            }
        })
        .collect()
}

/// The answer to `AddPaths`: a check per path of the request, and what the
/// owner bookkeeping did with the [`BatchCheck::Valid`] ones, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddAnswer {
    pub checks: Vec<BatchCheck>,
    pub batch: Batch<AddOutcome>,
}

/// The API's state inside the instance: the owners' bookkeeping and the RIB
/// source id of each owner.
pub struct ApiState {
    pub owners: Owners,
    pub(crate) sources: HashMap<String, OwnerId>,
    next_source: u32,
    /// The takeover signal of each open `Session` stream.
    pub(crate) sessions: HashMap<SessionId, oneshot::Sender<()>>,
    pub watchers: Watchers,
}

impl Default for ApiState {
    fn default() -> Self {
        Self {
            owners: Owners::new(),
            sources: HashMap::new(),
            next_source: 0,
            sessions: HashMap::new(),
            watchers: Watchers::default(),
        }
    }
}

impl ApiState {
    /// The RIB source of `owner`, assigned on first use and kept for the
    /// daemon's lifetime (owner names are few; ids are never reused, so a
    /// stale id can never alias another owner's paths).
    pub(crate) fn source(&mut self, owner: &str) -> Source {
        if let Some(id) = self.sources.get(owner) {
            return Source::Api(*id);
        }
        self.next_source += 1;
        let id = OwnerId(self.next_source);
        self.sources.insert(owner.to_string(), id);
        Source::Api(id)
    }
}

/// Puts `path` into the RIB as `source`'s. Returns whether the Loc-RIB changed.
pub(crate) fn originate(rib: &mut Rib, source: Source, path: &ValidatedPath) -> bool {
    match rib.originate_for(
        source,
        path.prefix,
        PathAttributes::clone(&path.attributes),
        path.next_hop,
        &path.peers,
    ) {
        Ok(changed) => changed,
        Err(error) => {
            tracing::error!(prefix = %path.prefix, %error, "cannot originate an API path");
            false
        }
    }
}

/// Takes `source`'s path for `prefix` out of the RIB.
pub(crate) fn withdraw(rib: &mut Rib, source: Source, key: &PathKey) -> bool {
    match rib.withdraw_local(source, key.1) {
        Ok(changed) => changed,
        Err(error) => {
            tracing::error!(prefix = %key.1, %error, "cannot withdraw an API path");
            false
        }
    }
}

/// Applies the owners' deadlines due at `now` (graceful restart's re-sync wait
/// included): paths released from the wait are announced, paths of owners
/// whose grace ran out withdrawn (see [`leases::expire`]).
pub fn expire_owners(rib: &mut Rib, state: &mut ApiState, now: Instant) -> leases::Expired {
    leases::expire(rib, state, now)
}

/// `SetPaths`: replace the owner's set and apply the difference to the RIB.
pub fn set_paths(rib: &mut Rib, state: &mut ApiState, command: SetPathsCommand) -> Diff {
    let source = state.source(&command.owner);
    let diff = state.owners.set_paths(&command.owner, command.paths, command.grace_time);
    for key in &diff.withdrawn {
        withdraw(rib, source, key);
    }
    for path in diff.added.iter().chain(&diff.changed) {
        originate(rib, source, path);
    }
    diff
}

/// `AddPaths`: add or replace paths; held paths (owner awaiting re-sync) stay
/// out of the RIB until the re-sync.
pub fn add_paths(
    rib: &mut Rib,
    state: &mut ApiState,
    owner: &str,
    paths: Vec<ValidatedPath>,
) -> Batch<AddOutcome> {
    let source = state.source(owner);
    let batch = state.owners.add_paths(owner, paths.clone());
    if !batch.held {
        for (path, outcome) in paths.iter().zip(&batch.outcomes) {
            if *outcome != AddOutcome::Unchanged {
                originate(rib, source, path);
            }
        }
    }
    batch
}

/// `DeletePaths`: withdraw the owner's paths by key.
pub fn delete_paths(
    rib: &mut Rib,
    state: &mut ApiState,
    owner: &str,
    keys: &[PathKey],
) -> Batch<DeleteOutcome> {
    let source = state.source(owner);
    let batch = state.owners.delete_paths(owner, keys);
    if !batch.held {
        for (key, outcome) in keys.iter().zip(&batch.outcomes) {
            if *outcome == DeleteOutcome::Withdrawn {
                withdraw(rib, source, key);
            }
        }
    }
    batch
}

/// What the instance knows about its peers, for the counts of [`Info`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerCounts {
    pub configured: usize,
    pub established: usize,
}

/// The daemon's identity and counts (`GetInfo`), in domain types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    pub asn: u32,
    pub router_id: std::net::Ipv4Addr,
    pub uptime: Duration,
    pub peers: PeerCounts,
    /// Prefixes with a best path, all families.
    pub prefixes: usize,
    pub owners: usize,
}

/// Answers `GetInfo` from the instance's state.
pub fn get_info(rib: &Rib, owners: &Owners, started: Instant, peers: PeerCounts) -> Info {
    let local = rib.local();
    Info {
        asn: local.asn,
        router_id: local.router_id,
        uptime: started.elapsed(),
        peers,
        prefixes: Family::ALL.iter().map(|family| rib.counts(*family).prefixes).sum(),
        owners: owners.len(),
    }
}

/// Everything of the instance an API request may need, borrowed for one call.
pub struct Context<'a> {
    pub rib: &'a mut Rib,
    pub state: &'a mut ApiState,
    pub started: Instant,
    pub peers: PeerCounts,
    /// The configured neighbours' RIB ids.
    pub by_address: &'a HashMap<IpAddr, PeerId>,
    /// The interfaces of the configured peers over one (BGP unnumbered).
    pub interfaces: Vec<&'a str>,
    /// Every configured neighbour with its session status; empty unless the
    /// request [`needs_neighbors`](ApiRequest::needs_neighbors).
    pub neighbors: Vec<NeighborRef<'a>>,
    /// Interface neighbors (BGP unnumbered) whose peer is not found yet, so
    /// they have no session; empty unless the request needs neighbors.
    pub pending: Vec<PeerView>,
}

/// One configured neighbor as the instance holds it.
pub struct NeighborRef<'a> {
    pub id: PeerId,
    pub neighbor: &'a Neighbor,
    pub status: &'a SessionStatus,
}

impl NeighborRef<'_> {
    fn view(&self, rib: &Rib) -> PeerView {
        PeerView::new(self.neighbor, self.status, rib, self.id)
    }
}

/// Whether the peer `key` names is configured: an address of `by_address`,
/// or one of the `interfaces` of the peers over an interface.
fn configured(by_address: &HashMap<IpAddr, PeerId>, interfaces: &[&str], key: &PeerKey) -> bool {
    match key {
        PeerKey::Address(address) => by_address.contains_key(address),
        PeerKey::Interface(name) => interfaces.contains(&&**name),
    }
}

/// Handles one request. Returns whether the Loc-RIB changed, so the instance
/// pumps exports. A dropped reply (the client went away) is not an error.
pub fn handle(request: ApiRequest, context: Context<'_>) -> bool {
    match request {
        ApiRequest::GetInfo { reply } => {
            let info = get_info(context.rib, &context.state.owners, context.started, context.peers);
            let _ = reply.send(info);
            false
        }
        ApiRequest::SetPaths { command, peers, reply } => {
            let (by_address, interfaces) = (context.by_address, &context.interfaces);
            let known = |key: &PeerKey| configured(by_address, interfaces, key);
            if let Some(unknown) = first_unknown(&peers, known) {
                let _ = reply.send(Err(unknown));
                return false;
            }
            let diff = set_paths(context.rib, context.state, command);
            let changed = !diff.is_empty();
            let _ = reply.send(Ok(diff));
            changed
        }
        ApiRequest::AddPaths { owner, paths, reply } => {
            let (by_address, interfaces) = (context.by_address, &context.interfaces);
            let checks = check_batch(&paths, |key| configured(by_address, interfaces, key));
            let valid = paths
                .into_iter()
                .zip(&checks)
                .filter(|(_, check)| **check == BatchCheck::Valid)
                .filter_map(|(entry, _)| entry.path)
                .collect();
            let batch = add_paths(context.rib, context.state, &owner, valid);
            let _ = reply.send(AddAnswer { checks, batch });
            true
        }
        ApiRequest::FirstUnknownPeer { peers, reply } => {
            let (by_address, interfaces) = (context.by_address, &context.interfaces);
            let known = |key: &PeerKey| configured(by_address, interfaces, key);
            let _ = reply.send(first_unknown(&peers, known));
            false
        }
        ApiRequest::ListPeers { reply } => {
            let mut views: Vec<PeerView> =
                context.neighbors.iter().map(|n| n.view(context.rib)).collect();
            views.extend(context.pending);
            views.sort_by(|a, b| {
                let key = |v: &PeerView| {
                    (v.neighbor.address, v.neighbor.interface.as_ref().map(|i| i.name.clone()))
                };
                key(a).cmp(&key(b))
            });
            let _ = reply.send(views);
            false
        }
        ApiRequest::ListOwners { reply } => {
            let owners =
                context.state.owners.owners().map(|view| OwnerSummary::from(&view)).collect();
            let _ = reply.send(owners);
            false
        }
        ApiRequest::GetPeer { name, reply } => {
            let on = |neighbor: &Neighbor, interface: &str| {
                neighbor.interface.as_ref().is_some_and(|i| i.name == interface)
            };
            let view = match &name {
                PeerName::Address(address) => context
                    .neighbors
                    .iter()
                    .find(|n| n.neighbor.address == *address)
                    .map(|n| n.view(context.rib)),
                PeerName::Interface(interface) => context
                    .neighbors
                    .iter()
                    .find(|n| on(n.neighbor, interface))
                    .map(|n| n.view(context.rib))
                    .or_else(|| context.pending.into_iter().find(|v| on(&v.neighbor, interface))),
            };
            let _ = reply.send(view);
            false
        }
        ApiRequest::DeletePaths { owner, keys, reply } => {
            let batch = delete_paths(context.rib, context.state, &owner, &keys);
            let _ = reply.send(batch);
            true
        }
        ApiRequest::ManagePeer { op, .. } => {
            // The instance intercepts these; reaching here is a wiring bug.
            tracing::error!(?op, "a peer request reached the RIB handler");
            false
        }
        ApiRequest::BfdStatus { reply } => {
            // Intercepted by the instance too.
            let _ = reply.send(None);
            false
        }
        ApiRequest::ListPolicies { reply } => {
            // Intercepted by the instance too.
            let _ = reply.send(super::policy_listing::PolicyListing::default());
            false
        }
        ApiRequest::SessionOpen { command, reply } => {
            let _ = reply.send(leases::open_session(context.state, &command));
            false
        }
        ApiRequest::SessionClosed { owner, session } => {
            leases::close_session(context.state, &owner, session, Instant::now());
            false
        }
        ApiRequest::ListPathsPage { query, from, reply } => {
            if let TableSelector::AdjRibOut(address) = query.table {
                // The Adj-RIB-Out is a bit per prefix: one page, built from
                // the export rewrite (`listing::list_adj_rib_out`).
                let listed =
                    listing::list_adj_rib_out(context.rib, context.by_address, address, &query);
                let _ = reply.send(listed.map(|paths| Page { paths, next: None }));
                return false;
            }
            let names = SourceNames { owners: &context.state.sources, peers: context.by_address };
            let _ = reply.send(listing::list_page(context.rib, &names, &query, from));
            false
        }
        ApiRequest::Watch(mut request) => {
            let mut views: Vec<PeerView> =
                context.neighbors.iter().map(|n| n.view(context.rib)).collect();
            views.extend(context.pending);
            views.sort_by(|a, b| {
                let key = |v: &PeerView| {
                    (v.neighbor.address, v.neighbor.interface.as_ref().map(|i| i.name.clone()))
                };
                key(a).cmp(&key(b))
            });
            request.peers = views;
            watch::watch(context.rib, context.state, context.by_address, request);
            false
        }
        ApiRequest::WatchMore { id } => {
            watch::watch_more(context.rib, context.state, context.by_address, id);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::rib::LocalInfo;

    #[test]
    fn get_info_reports_identity_and_counts() {
        let rib = Rib::new(LocalInfo { asn: 65001, router_id: Ipv4Addr::new(192, 0, 2, 1) });
        let owners = Owners::new();
        let peers = PeerCounts { configured: 3, established: 1 };
        let info = get_info(&rib, &owners, Instant::now(), peers);
        assert_eq!(info.asn, 65001);
        assert_eq!(info.router_id, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(info.peers, peers);
        assert_eq!(info.prefixes, 0);
        assert_eq!(info.owners, 0);
    }

    fn rib() -> Rib {
        Rib::new(LocalInfo { asn: 65001, router_id: Ipv4Addr::new(192, 0, 2, 1) })
    }

    fn path(prefix: &str) -> ValidatedPath {
        let prefix: ipnet::IpNet = prefix.parse().expect("literal");
        ValidatedPath {
            family: crate::wire::Family::of(&prefix),
            prefix,
            next_hop: None,
            attributes: Default::default(),
            peers: Vec::new(),
        }
    }

    fn command(owner: &str, prefixes: &[&str]) -> SetPathsCommand {
        SetPathsCommand {
            owner: owner.to_string(),
            paths: prefixes.iter().map(|p| path(p)).collect(),
            grace_time: None,
        }
    }

    #[test]
    fn set_paths_originates_as_the_owner_and_withdraws_what_is_left_out() {
        let mut rib = rib();
        let mut state = ApiState::default();
        let diff =
            set_paths(&mut rib, &mut state, command("lb", &["198.51.100.0/24", "2001:db8::/48"]));
        assert_eq!(diff.added.len(), 2);
        let source = state.source("lb");
        assert_eq!(rib.source_routes(source, Family::Ipv4Unicast), 1);
        assert_eq!(rib.source_routes(source, Family::Ipv6Unicast), 1);

        let diff = set_paths(&mut rib, &mut state, command("lb", &["2001:db8::/48"]));
        assert_eq!(diff.withdrawn.len(), 1);
        assert_eq!(rib.source_routes(source, Family::Ipv4Unicast), 0);
        assert_eq!(rib.counts(Family::Ipv6Unicast).prefixes, 1);
    }

    #[test]
    fn owners_get_distinct_sources() {
        let mut state = ApiState::default();
        let a = state.source("a");
        assert_ne!(a, state.source("b"));
        assert_eq!(a, state.source("a"));
    }

    #[test]
    fn delete_of_an_unknown_prefix_leaves_the_rib_alone() {
        let mut rib = rib();
        let mut state = ApiState::default();
        add_paths(&mut rib, &mut state, "lb", vec![path("198.51.100.0/24")]);
        let other = (Family::Ipv4Unicast, "203.0.113.0/24".parse().expect("literal"));
        let batch = delete_paths(&mut rib, &mut state, "lb", &[other]);
        assert_eq!(batch.outcomes, vec![DeleteOutcome::NotFound]);
        assert_eq!(rib.counts(Family::Ipv4Unicast).prefixes, 1);
    }
}
