//! The speaker's link to its local `bgpd`: one task owns the gRPC connection and brings bgpd
//! to the latest desired state it is given.
//!
//! The desired state arrives on a `tokio::sync::watch` channel, which keeps only the
//! newest value: while a sync runs, any number of newer states collapse into one, so bgpd
//! is never fed stale intermediate sets (coalescing without delays).
//!
//! Per connection: open the owner's `Session` lease (its grace time keeps our paths in
//! bgpd across a speaker restart), then a full sync (list bgpd's peers; add, update or
//! delete ours, recognized by the description marker; `SetPaths` with the whole set),
//! then incremental syncs on every change (paths as their difference, [`super::push`]),
//! sending `SessionKeepAlive`s meanwhile. Prefixes whose peers get different attributes
//! put their other variants under variant owners ([`super::bgpd::variant_owner`]), each
//! with its own session on the same connection, opened when first needed; variant owners
//! bgpd still holds from an earlier run are found by listing the owners and emptied when
//! no longer needed (also so that a restarted bgpd does not wait for them to re-sync). A
//! transport error, or the session stream ending (bgpd restarted), drops the connection;
//! the task reconnects with a growing backoff and does a full sync again, which also
//! re-creates the peers a restarted bgpd has forgotten.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use ironlb_proto::bgpd::v1::layer2_service_client::Layer2ServiceClient;
use ironlb_proto::bgpd::v1::{
    AddPeerRequest, BfdConfig, DeletePeerRequest, DynamicAsn, Family, GracefulRestartConfig,
    ListOwnersRequest, ListPeersRequest, PeerConfig, SessionKeepAlive, SessionOpen, SessionRequest,
    SessionResponse, UpdatePeerRequest, session_request,
};
use k8s_openapi::api::core::v1::ObjectReference;
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::bgpd::{BgpdState, Neighbor, Path, variant_index, variant_owner};
use super::channel::{ConnectError, connect};
use super::layer2::push::{self as layer2_push, Layer2Desired};
use super::push::Phase;
use crate::config::PeerAs;
use crate::events::Events;

/// Event reason for a path set bgpd refused.
pub const ANNOUNCE_FAILED: &str = "AnnounceFailed";

/// The default keepalive interval; the session deadline we ask for is three times it
/// (bgpd's minimum, 3 s). Short because bgpd drops our layer2 announcements when the
/// session lapses: a hung speaker (its heartbeats stopped, so another node took its
/// addresses after a dead interval) must not leave its bgpd answering ARP for long. One
/// local gRPC message a second costs nothing.
pub const KEEPALIVE: Duration = Duration::from_secs(1);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The state to push, and the Services it announces (for Events when bgpd refuses it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desired {
    pub state: BgpdState,
    pub services: Vec<Arc<ObjectReference>>,
}

/// How to reach bgpd and who we are there.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `host:port`, `http://host:port`, or `unix:/path`.
    pub endpoint: String,
    /// Owner name (`k8s-speaker/<node>`).
    pub owner: String,
    /// Description prefix of our peers.
    pub marker: String,
    /// How long bgpd keeps our paths after our session lapses.
    pub grace: Duration,
    /// Session keepalive interval (or, without sessions, the drift check's).
    pub keepalive: Duration,
    /// Readiness: set while the session is open and synced.
    pub metrics: Arc<crate::metrics::SpeakerMetrics>,
}

/// Why a connection ended.
#[derive(Debug, Error)]
pub enum LinkError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("bgpd: {0}")]
    Rpc(#[from] Status),
    #[error("the bgpd session ended")]
    SessionEnded,
    #[error("bgpd restarted")]
    Restarted,
}

/// Runs until `desired`'s sender is dropped. `layer2` is the layer2 set to answer for
/// ([`layer2_push`]), pushed beside the paths under the same owner and session.
pub async fn run(
    options: ClientOptions,
    mut desired: watch::Receiver<Arc<Desired>>,
    mut layer2: watch::Receiver<Arc<Layer2Desired>>,
    events: Events,
) {
    let mut backoff = MIN_BACKOFF;
    let mut reported: Option<String> = None;
    loop {
        let link = (&mut desired, &mut layer2);
        let outcome = connection(&options, link, &events, &mut reported, &mut backoff).await;
        options.metrics.readiness.set_link(false);
        match outcome {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "bgpd link down");
                if desired.has_changed().is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// What this connection has configured in bgpd.
#[derive(Default)]
struct Applied {
    /// Our peers in bgpd; `None` when their configuration is not known (found by listing).
    peers: BTreeMap<String, Option<PeerConfig>>,
    /// Peers in bgpd that are not ours: never touched.
    foreign: BTreeSet<String>,
    /// Per owner (0: the main owner, `i`: variant owner `i`), the paths it holds; `None`
    /// when not known (a `SetPaths` sends the whole set).
    paths: Vec<Option<Vec<Arc<Path>>>>,
}

impl Applied {
    /// What the main owner holds, when known.
    fn main(&self) -> Option<&[Arc<Path>]> {
        self.paths.first().and_then(Option::as_deref)
    }
}

/// One connection's clients and what it has applied.
struct Link {
    client: BgpServiceClient<Channel>,
    layer2: Layer2ServiceClient<Channel>,
    applied: Applied,
    layer2_applied: Option<Layer2Desired>,
    /// Our requests on the owner session, and its responses (`None`: bgpd has no
    /// sessions).
    session: mpsc::Sender<SessionRequest>,
    responses: Option<tonic::Streaming<SessionResponse>>,
    /// The variant owners' sessions, by variant index; their response streams are read by
    /// tasks in `readers`, which report a stream's end on `ended`.
    variants: BTreeMap<usize, mpsc::Sender<SessionRequest>>,
    readers: tokio::task::JoinSet<()>,
    ended_tx: mpsc::Sender<usize>,
    ended: mpsc::Receiver<usize>,
}

/// One connection: session, full sync, then incremental syncs. `Ok` when the desired
/// channel closed (shutdown).
async fn connection(
    options: &ClientOptions,
    (desired, layer2): (
        &mut watch::Receiver<Arc<Desired>>,
        &mut watch::Receiver<Arc<Layer2Desired>>,
    ),
    events: &Events,
    reported: &mut Option<String>,
    backoff: &mut Duration,
) -> Result<(), LinkError> {
    let mut link = Link::open(options).await?;
    let current = desired.borrow_and_update().clone();
    link.sync(options, &current, events, reported).await?;
    let current = layer2.borrow_and_update().clone();
    link.sync_layer2(options, &current).await?;
    // A connection that got as far as a full sync starts the backoff afresh.
    *backoff = MIN_BACKOFF;
    options.metrics.readiness.set_link(true);

    let mut keepalive = tokio::time::interval(options.keepalive);
    keepalive.tick().await;
    let mut nonce = 0u64;
    loop {
        tokio::select! {
            changed = desired.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let current = desired.borrow_and_update().clone();
                link.sync(options, &current, events, reported).await?;
            }
            changed = layer2.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let current = layer2.borrow_and_update().clone();
                link.sync_layer2(options, &current).await?;
            }
            _ = keepalive.tick() => {
                nonce = nonce.wrapping_add(1);
                link.keepalive(options, nonce).await?;
            }
            message = next_response(&mut link.responses) => {
                if message?.is_none() {
                    return Err(LinkError::SessionEnded);
                }
            }
            Some(index) = link.ended.recv() => {
                tracing::warn!(owner = %variant_owner(&options.owner, index), "variant owner session ended");
                return Err(LinkError::SessionEnded);
            }
        }
    }
}

impl Link {
    /// Connects, opens the owner session and lists bgpd's peers (ours and others').
    async fn open(options: &ClientOptions) -> Result<Self, LinkError> {
        let channel = connect(&options.endpoint).await?;
        let layer2 = Layer2ServiceClient::new(channel.clone());
        let mut client = BgpServiceClient::new(channel);
        let (session, responses) = open_session(&mut client, options, &options.owner).await?;
        let mut applied = list_peers(&mut client, options).await?;
        applied.paths = vec![None; 1 + variants_held(&mut client, &options.owner).await?];
        let (ended_tx, ended) = mpsc::channel(1);
        Ok(Self {
            client,
            layer2,
            applied,
            layer2_applied: None,
            session,
            responses,
            variants: BTreeMap::new(),
            readers: tokio::task::JoinSet::new(),
            ended_tx,
            ended,
        })
    }

    /// Opens variant owner `index`'s session unless it is open.
    async fn variant_session(
        &mut self,
        options: &ClientOptions,
        index: usize,
    ) -> Result<(), LinkError> {
        if index == 0 || self.variants.contains_key(&index) {
            return Ok(());
        }
        let owner = variant_owner(&options.owner, index);
        let (sender, responses) = open_session(&mut self.client, options, &owner).await?;
        if let Some(mut responses) = responses {
            let ended = self.ended_tx.clone();
            self.readers.spawn(async move {
                while let Ok(Some(_)) = responses.message().await {}
                // The receiver lives as long as the link; a send error means it is gone.
                let _ = ended.send(index).await;
            });
        }
        self.variants.insert(index, sender);
        Ok(())
    }

    async fn sync_layer2(
        &mut self,
        options: &ClientOptions,
        desired: &Layer2Desired,
    ) -> Result<(), LinkError> {
        layer2_push::sync(&mut self.layer2, &options.owner, desired, &mut self.layer2_applied)
            .await?;
        Ok(())
    }

    /// A keepalive on the session, or without one, the check for a restarted bgpd.
    async fn keepalive(&mut self, options: &ClientOptions, nonce: u64) -> Result<(), LinkError> {
        if self.responses.is_some() {
            let ka = SessionRequest {
                request: Some(session_request::Request::Keepalive(SessionKeepAlive { nonce })),
            };
            if self.session.send(ka.clone()).await.is_err() {
                return Err(LinkError::SessionEnded);
            }
            for sender in self.variants.values() {
                if sender.send(ka.clone()).await.is_err() {
                    return Err(LinkError::SessionEnded);
                }
            }
        } else if drifted(&mut self.client, options, &self.applied).await? {
            return Err(LinkError::Restarted);
        }
        Ok(())
    }
}

/// Opens `owner`'s session: the sender for keepalives and the response stream, `None`
/// when bgpd has no owner sessions.
async fn open_session(
    client: &mut BgpServiceClient<Channel>,
    options: &ClientOptions,
    owner: &str,
) -> Result<(mpsc::Sender<SessionRequest>, Option<tonic::Streaming<SessionResponse>>), LinkError> {
    let (session_tx, session_rx) = mpsc::channel(4);
    let open = SessionRequest {
        request: Some(session_request::Request::Open(SessionOpen {
            owner: owner.to_owned(),
            grace_time_seconds: Some(u32::try_from(options.grace.as_secs()).unwrap_or(86_400)),
            hold_time_seconds: Some(
                u32::try_from((options.keepalive * 3).as_secs().max(3)).unwrap_or(30),
            ),
            // Layer2 announcements go the moment this session ends (bgpd's default,
            // said explicitly): a crashed speaker's bgpd must not answer beside the
            // node that took its addresses over.
            layer2_grace_time_seconds: Some(0),
        })),
    };
    if session_tx.send(open).await.is_err() {
        return Err(LinkError::SessionEnded);
    }
    // A bgpd without owner sessions (UNIMPLEMENTED) still takes our paths: then its
    // restarts are noticed by polling for drift ([`drifted`]) instead of by the session
    // stream ending, and our paths have no lease.
    let responses = match client.session(ReceiverStream::new(session_rx)).await {
        Ok(r) => {
            let mut responses = r.into_inner();
            let opened = responses.message().await?.ok_or(LinkError::SessionEnded)?;
            tracing::info!(owner, ?opened, "bgpd session open");
            Some(responses)
        }
        Err(e) if e.code() == Code::Unimplemented => {
            tracing::warn!("bgpd has no owner sessions; our paths have no lease");
            None
        }
        Err(e) => return Err(e.into()),
    };
    Ok((session_tx, responses))
}

/// bgpd's peers: ours (by the description marker) with their configuration unknown, and
/// the others, which are never touched.
async fn list_peers(
    client: &mut BgpServiceClient<Channel>,
    options: &ClientOptions,
) -> Result<Applied, LinkError> {
    let mut applied = Applied::default();
    match client.list_peers(ListPeersRequest {}).await {
        Ok(list) => {
            for peer in list.into_inner().peers.into_iter().filter_map(|p| p.config) {
                if peer.description.starts_with(&options.marker) {
                    applied.peers.insert(peer_name(&peer), None);
                } else {
                    applied.foreign.insert(peer_name(&peer));
                }
            }
        }
        Err(e) if is_link_error(&e) => return Err(e.into()),
        Err(e) => tracing::warn!(error = %e, "ListPeers failed; assuming bgpd has none of ours"),
    }
    Ok(applied)
}

/// Without a session, whether bgpd lost what we gave it (it restarted, or someone removed
/// it): one of our peers is missing, or our owner holds a different number of paths.
async fn drifted(
    client: &mut BgpServiceClient<Channel>,
    options: &ClientOptions,
    applied: &Applied,
) -> Result<bool, LinkError> {
    match client.list_peers(ListPeersRequest {}).await {
        Ok(list) => {
            let present: BTreeSet<String> = list
                .into_inner()
                .peers
                .into_iter()
                .filter_map(|p| p.config.as_ref().map(peer_name))
                .collect();
            if applied.peers.keys().any(|a| !present.contains(a)) {
                return Ok(true);
            }
        }
        Err(e) if is_link_error(&e) => return Err(e.into()),
        Err(_) => {}
    }
    let Some(paths) = applied.main() else { return Ok(false) };
    match client.list_owners(ListOwnersRequest {}).await {
        Ok(list) => {
            let held = list
                .into_inner()
                .owners
                .into_iter()
                .find(|o| o.name == options.owner)
                .map_or(0, |o| o.path_count);
            Ok(usize::try_from(held).ok() != Some(paths.len()))
        }
        Err(e) if is_link_error(&e) => Err(e.into()),
        Err(_) => Ok(false),
    }
}

/// The next message of the session stream; never, without a session.
async fn next_response(
    responses: &mut Option<tonic::Streaming<SessionResponse>>,
) -> Result<Option<SessionResponse>, Status> {
    match responses {
        Some(r) => r.message().await,
        None => std::future::pending().await,
    }
}

/// Codes that mean the connection (or bgpd) is gone rather than the request being wrong.
fn is_link_error(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::Cancelled | Code::Unknown | Code::Aborted)
}

/// How many variant owners of `main` bgpd holds (the highest index), so that those no
/// longer needed are emptied; 0 when it cannot tell.
async fn variants_held(
    client: &mut BgpServiceClient<Channel>,
    main: &str,
) -> Result<usize, LinkError> {
    match client.list_owners(ListOwnersRequest {}).await {
        Ok(list) => Ok(list
            .into_inner()
            .owners
            .iter()
            .filter_map(|o| variant_index(main, &o.name))
            .max()
            .unwrap_or(0)),
        Err(e) if is_link_error(&e) => Err(e.into()),
        Err(_) => Ok(0),
    }
}

impl Link {
    /// Brings bgpd to `desired`: peers first (paths name them), then the path sets.
    async fn sync(
        &mut self,
        options: &ClientOptions,
        desired: &Desired,
        events: &Events,
        reported: &mut Option<String>,
    ) -> Result<(), LinkError> {
        sync_peers(&mut self.client, desired, &mut self.applied).await?;
        let state = &desired.state;
        let owners = self.applied.paths.len().max(1 + state.variants.len());
        let want = |i: usize| -> &[Arc<Path>] {
            match i.checked_sub(1) {
                None => &state.paths,
                Some(v) => state.variants.get(v).map_or(&[], Vec::as_slice),
            }
        };
        let held = |applied: &Applied, i: usize| applied.paths.get(i).cloned().flatten();
        let changed: Vec<usize> = (0..owners)
            .filter(|&i| {
                !held(&self.applied, i).is_some_and(|a| super::push::same_set(&a, want(i)))
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        for &i in &changed {
            self.variant_session(options, i).await?;
        }
        let grace = u32::try_from(options.grace.as_secs()).unwrap_or(86_400);
        // Variants before the main owner, and every owner's additions before any
        // withdrawal ([`Phase`]).
        let mut failed: Option<Status> = None;
        let mut done = BTreeSet::new();
        for phase in [Phase::Upserts, Phase::Withdrawals] {
            for &i in changed.iter().rev() {
                if failed.is_some() && phase == Phase::Withdrawals && !done.contains(&i) {
                    continue;
                }
                let owner = variant_owner(&options.owner, i);
                let applied = held(&self.applied, i);
                let pushed = super::push::push(
                    &mut self.client,
                    &owner,
                    grace,
                    applied.as_deref(),
                    want(i),
                    phase,
                )
                .await;
                match pushed {
                    Ok(()) => {
                        done.insert(i);
                    }
                    Err(e) if is_link_error(&e) => return Err(e.into()),
                    Err(e) => {
                        done.remove(&i);
                        failed.get_or_insert(e);
                    }
                }
            }
        }
        for i in done {
            if self.applied.paths.len() <= i {
                self.applied.paths.resize(i + 1, None);
            }
            self.applied.paths[i] = Some(want(i).to_vec());
        }
        match failed {
            None => {
                *reported = None;
            }
            Some(e) => {
                let message = format!("bgpd refused the path set: {}", e.message());
                tracing::warn!(%message);
                if reported.as_deref() != Some(message.as_str()) {
                    for service in &desired.services {
                        events.warning(service, ANNOUNCE_FAILED, "Announce", message.clone()).await;
                    }
                    *reported = Some(message);
                }
            }
        }
        Ok(())
    }
}

/// Brings bgpd's peers (ours) to `desired`'s.
async fn sync_peers(
    client: &mut BgpServiceClient<Channel>,
    desired: &Desired,
    applied: &mut Applied,
) -> Result<(), LinkError> {
    for skip in &desired.state.skipped {
        tracing::warn!(reason = %skip, "peer not configured");
    }
    for (address, neighbor) in &desired.state.peers {
        let config = &peer_config(neighbor);
        if applied.foreign.contains(address) {
            tracing::warn!(%address, "a peer with this address is configured in bgpd by someone else; leaving it");
            continue;
        }
        let result = match applied.peers.get(address) {
            Some(Some(current)) if current == config => continue,
            Some(_) => update_peer(client, config).await,
            None => match client.add_peer(AddPeerRequest { peer: Some(config.clone()) }).await {
                Err(e) if e.code() == Code::AlreadyExists => update_peer(client, config).await,
                other => other.map(|_| ()),
            },
        };
        match result {
            Ok(()) => {
                applied.peers.insert(address.clone(), Some(config.clone()));
            }
            Err(e) if is_link_error(&e) => return Err(e.into()),
            Err(e) => tracing::warn!(%address, error = %e, "configuring the peer failed"),
        }
    }
    let gone: Vec<String> =
        applied.peers.keys().filter(|a| !desired.state.peers.contains_key(*a)).cloned().collect();
    for address in gone {
        match client.delete_peer(DeletePeerRequest { address: address.clone() }).await {
            Ok(_) => {}
            Err(e) if e.code() == Code::NotFound => {}
            Err(e) if is_link_error(&e) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(%address, error = %e, "deleting the peer failed");
                continue;
            }
        }
        applied.peers.remove(&address);
    }
    Ok(())
}

async fn update_peer(
    client: &mut BgpServiceClient<Channel>,
    config: &PeerConfig,
) -> Result<(), Status> {
    client.update_peer(UpdatePeerRequest { peer: Some(config.clone()) }).await.map(|_| ())
}

/// How bgpd's API names a listed peer: its address, or `%IFNAME` for a peer over an
/// interface (whose address is the link-local one found there, or `::`).
pub fn peer_name(config: &PeerConfig) -> String {
    match config.interface.as_str() {
        "" => config.address.clone(),
        interface => format!("%{interface}"),
    }
}

/// The API's `PeerConfig` for a neighbor: `dynamicASN: internal` is our own AS, given as a
/// number; `external` leaves the AS to bgpd, which accepts any other AS the peer's OPEN
/// announces.
pub fn peer_config(neighbor: &Neighbor) -> PeerConfig {
    let peer = &neighbor.peer;
    let (remote_asn, dynamic_asn) = match peer.peer_as {
        PeerAs::Fixed(asn) => (asn, DynamicAsn::Unspecified),
        PeerAs::Internal => (peer.my_asn, DynamicAsn::Unspecified),
        PeerAs::External => (0, DynamicAsn::External),
    };
    let secs = |d: Option<Duration>| d.map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    PeerConfig {
        // A peer over an interface (MetalLB's `interface`, BGP unnumbered): no address,
        // bgpd finds the peer's link-local address on the interface.
        address: if peer.interface.is_some() { String::new() } else { peer.address.to_string() },
        interface: peer.interface.clone().unwrap_or_default(),
        remote_asn,
        dynamic_asn: dynamic_asn as i32,
        local_asn: peer.my_asn,
        // MetalLB's routerID: the BGP identifier in this session's OPEN.
        router_id: peer.router_id.map(|id| id.to_string()).unwrap_or_default(),
        // MetalLB's vrf: bgpd binds the session's sockets to that device.
        vrf: peer.vrf.clone().unwrap_or_default(),
        port: u32::from(peer.port),
        local_address: peer.source_address.map(|a| a.to_string()).unwrap_or_default(),
        password: neighbor.password.clone(),
        hold_time_seconds: secs(peer.hold_time),
        keepalive_seconds: secs(peer.keepalive_time),
        connect_retry_seconds: secs(peer.connect_time),
        multihop_ttl: if peer.ebgp_multihop { 255 } else { 0 },
        description: neighbor.description.clone(),
        graceful_restart: peer
            .graceful_restart
            .then(|| GracefulRestartConfig { enabled: true, ..GracefulRestartConfig::default() }),
        // As MetalLB: learn nothing from the routers (the node must not become
        // a transit path between them), send them our own paths. With nothing
        // imported, the Loc-RIB holds only what this speaker and bgpd's own
        // configuration announce, so "accept-all" exports exactly those.
        // Explicit, because bgpd refuses both directions of an eBGP session
        // without a policy (RFC 8212).
        import_policy: vec![IMPORT_POLICY.to_owned()],
        export_policy: vec![EXPORT_POLICY.to_owned()],
        // Empty: bgpd negotiates the family of the address only, MetalLB's default; over
        // an interface, both (IPv4 with IPv6 next hops).
        families: if peer.dual_stack {
            vec![Family::Ipv4Unicast as i32, Family::Ipv6Unicast as i32]
        } else {
            Vec::new()
        },
        bfd: peer.bfd.map(|b| BfdConfig {
            enabled: true,
            min_rx_ms: Some(b.receive_interval_ms),
            min_tx_ms: Some(b.transmit_interval_ms),
            multiplier: Some(u32::from(b.multiplier)),
            passive: b.passive,
            ..BfdConfig::default()
        }),
        ..PeerConfig::default()
    }
}

/// bgpd's built-in policy the speaker's neighbors import with: nothing.
pub const IMPORT_POLICY: &str = "reject-all";
/// bgpd's built-in policy the speaker's neighbors export with.
pub const EXPORT_POLICY: &str = "accept-all";
