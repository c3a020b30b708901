//! The tonic `BgpService`: validate the request, hand it to the instance as an
//! [`ApiRequest`] with a oneshot for the answer, await, convert. Holds no state
//! of its own besides the instance's queue, so any number of calls may run
//! concurrently while the instance stays the single owner of the RIB.

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_server::BgpService;

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tonic::{Request, Response, Status, Streaming};

use crate::api::convert::bulk::BulkAnswer;
use crate::api::{ValidationError, convert, peer, requests, streams, validate};
use crate::config::ApiLimits;
use crate::instance::InstanceEvent;
use crate::instance::listing::{self, ListCursor, ListError};
use crate::instance::peer_ops::{PeerOp, PeerOpAnswer};
use crate::instance::requests::ApiRequest;
use crate::instance::status::PeerView;
use crate::instance::watch::WatchRequest;

/// bgpd's version, as `GetInfo` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Longest wait for the BFD thread's status snapshot: it answers between
/// two packets, so a late answer means it is stuck; the peers are then
/// reported with what the instance last heard.
const BFD_STATUS_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The service the daemon serves.
#[derive(Clone, Debug)]
pub struct Service {
    events: mpsc::Sender<InstanceEvent>,
    /// Where the API listens, for `GetInfo.listen`.
    listen: Vec<String>,
    limits: ApiLimits,
    /// One permit per open `Watch` stream (`[api] max_watchers`).
    watchers: Arc<Semaphore>,
}

impl Service {
    /// A service with the default `[api]` limits.
    pub fn new(events: mpsc::Sender<InstanceEvent>, listen: Vec<String>) -> Self {
        Self::with_limits(events, listen, ApiLimits::default())
    }

    pub fn with_limits(
        events: mpsc::Sender<InstanceEvent>,
        listen: Vec<String>,
        limits: ApiLimits,
    ) -> Self {
        let watchers = Arc::new(Semaphore::new(limits.max_watchers as usize));
        Self { events, listen, limits, watchers }
    }

    /// One batch of AddPaths, one result per path in request order.
    async fn add_batch(&self, request: v1::AddPathsRequest) -> Result<Vec<v1::PathResult>, Status> {
        let batch = validate::add_paths_deferred(&request)?;
        let (owner, paths) = (batch.owner, batch.paths);
        let answer = self.ask(|reply| ApiRequest::AddPaths { owner, paths, reply }).await?;
        let checked = validate::add_paths_results(&request, batch.errors, &answer.checks);
        Ok(convert::add_results(&request, &checked, &answer.batch.outcomes))
    }

    /// One batch of DeletePaths, likewise.
    async fn delete_batch(
        &self,
        request: v1::DeletePathsRequest,
    ) -> Result<Vec<v1::PathResult>, Status> {
        let command = validate::delete_paths(&request)?;
        let keys = command.prefixes.iter().filter_map(|key| key.as_ref().ok()).copied().collect();
        let owner = command.owner.clone();
        let batch = self.ask(|reply| ApiRequest::DeletePaths { owner, keys, reply }).await?;
        Ok(convert::delete_results(&request, &command.prefixes, &batch.outcomes))
    }

    /// Sends a request built around a fresh oneshot and waits for the answer.
    async fn ask<T>(
        &self,
        build: impl FnOnce(oneshot::Sender<T>) -> ApiRequest,
    ) -> Result<T, Status> {
        let (reply, answer) = oneshot::channel();
        self.events
            .send(InstanceEvent::Api(build(reply)))
            .await
            .map_err(|_| Status::unavailable("bgpd is shutting down"))?;
        answer.await.map_err(|_| Status::unavailable("bgpd is shutting down"))
    }

    /// Fills in the BFD thread's snapshot of the BFD-enabled peers of
    /// `views` (asked only if one has BFD; at most [`BFD_STATUS_WAIT`]).
    async fn with_bfd_status(&self, views: &mut [PeerView]) {
        if views.iter().all(|view| view.status.bfd.key().is_none()) {
            return;
        }
        let Ok(Some(answer)) = self.ask(|reply| ApiRequest::BfdStatus { reply }).await else {
            return;
        };
        let Ok(Ok(sessions)) = tokio::time::timeout(BFD_STATUS_WAIT, answer).await else {
            return;
        };
        for view in views {
            let key = view.status.bfd.key();
            view.status.bfd.session =
                sessions.iter().find(|(k, _)| Some(*k) == key).map(|(_, status)| status.clone());
        }
    }

    /// Runs an administrative peer request in the instance.
    async fn manage(&self, op: PeerOp) -> Result<PeerOpAnswer, Status> {
        Ok(self.ask(|reply| ApiRequest::ManagePeer { op: Box::new(op), reply }).await??)
    }

    /// The answer's peer as a message.
    fn reported(answer: &PeerOpAnswer) -> Option<v1::Peer> {
        answer.view.as_ref().map(|view| convert::peer::peer(view, std::time::Instant::now()))
    }
}

/// ListPaths checks its peer in the instance (NOT_FOUND from there).
fn any_peer(_: std::net::IpAddr) -> bool {
    true
}

fn list_error(error: ListError) -> Status {
    match error {
        ListError::UnknownPeer(address) => Status::from(ValidationError::UnknownPeer {
            field: "peer".to_string(),
            value: address.to_string(),
        }),
        ListError::AdjRibOutUnsupported => Status::unimplemented(error.to_string()),
        ListError::NotKept(_) => Status::failed_precondition(error.to_string()),
    }
}

/// What the generated trait expects of a server-streaming answer.
type ResponseStream<T> =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl BgpService for Service {
    async fn list_paths(
        &self,
        request: Request<v1::ListPathsRequest>,
    ) -> Result<Response<ResponseStream<v1::ListPathsResponse>>, Status> {
        let query = requests::list_paths(request.get_ref(), &any_peer)?;
        // The first page answers errors (unknown peer) as the call's status.
        let first = self
            .ask(|reply| ApiRequest::ListPathsPage {
                query: query.clone(),
                from: ListCursor::default(),
                reply,
            })
            .await?
            .map_err(list_error)?;
        let (sender, receiver) = mpsc::channel(listing::PAGE_PATHS);
        let service = self.clone();
        tokio::spawn(async move {
            let mut page = first;
            loop {
                for path in &page.paths {
                    if sender.send(Ok(convert::watch::listed_path(path))).await.is_err() {
                        return;
                    }
                }
                let Some(from) = page.next else { return };
                let query = query.clone();
                let asked = service
                    .ask(|reply| ApiRequest::ListPathsPage { query, from, reply })
                    .await
                    .and_then(|answer| answer.map_err(list_error));
                match asked {
                    Ok(next) => page = next,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }

    async fn get_info(
        &self,
        _request: Request<v1::GetInfoRequest>,
    ) -> Result<Response<v1::GetInfoResponse>, Status> {
        let info = self.ask(|reply| ApiRequest::GetInfo { reply }).await?;
        Ok(Response::new(convert::info_response(info, VERSION, &self.listen)))
    }

    async fn list_peers(
        &self,
        _request: Request<v1::ListPeersRequest>,
    ) -> Result<Response<v1::ListPeersResponse>, Status> {
        let mut views = self.ask(|reply| ApiRequest::ListPeers { reply }).await?;
        self.with_bfd_status(&mut views).await;
        let now = std::time::Instant::now();
        let peers = views.iter().map(|view| convert::peer::peer(view, now)).collect();
        Ok(Response::new(v1::ListPeersResponse { peers }))
    }

    async fn list_policies(
        &self,
        _request: Request<v1::ListPoliciesRequest>,
    ) -> Result<Response<v1::ListPoliciesResponse>, Status> {
        let listing = self.ask(|reply| ApiRequest::ListPolicies { reply }).await?;
        Ok(Response::new(convert::policy::list_policies(listing)))
    }

    async fn get_peer(
        &self,
        request: Request<v1::GetPeerRequest>,
    ) -> Result<Response<v1::GetPeerResponse>, Status> {
        let text = &request.get_ref().address;
        let name = peer::peer_name("address", text)?;
        let view = self.ask(|reply| ApiRequest::GetPeer { name, reply }).await?;
        let mut view = view.ok_or_else(|| {
            Status::from(ValidationError::UnknownPeer {
                field: "address".to_string(),
                value: text.clone(),
            })
        })?;
        self.with_bfd_status(std::slice::from_mut(&mut view)).await;
        let peer = convert::peer::peer(&view, std::time::Instant::now());
        Ok(Response::new(v1::GetPeerResponse { peer: Some(peer) }))
    }

    async fn add_peer(
        &self,
        request: Request<v1::AddPeerRequest>,
    ) -> Result<Response<v1::AddPeerResponse>, Status> {
        let neighbor = peer::neighbor(request.get_ref().peer.as_ref())?;
        let answer = self.manage(PeerOp::Add(neighbor)).await?;
        Ok(Response::new(v1::AddPeerResponse { peer: Self::reported(&answer) }))
    }

    async fn update_peer(
        &self,
        request: Request<v1::UpdatePeerRequest>,
    ) -> Result<Response<v1::UpdatePeerResponse>, Status> {
        let neighbor = peer::neighbor(request.get_ref().peer.as_ref())?;
        let answer = self.manage(PeerOp::Update(neighbor)).await?;
        Ok(Response::new(v1::UpdatePeerResponse {
            peer: Self::reported(&answer),
            session_reset: answer.session_reset,
        }))
    }

    async fn delete_peer(
        &self,
        request: Request<v1::DeletePeerRequest>,
    ) -> Result<Response<v1::DeletePeerResponse>, Status> {
        let name = peer::peer_name("address", &request.get_ref().address)?;
        self.manage(PeerOp::Delete(name)).await?;
        Ok(Response::new(v1::DeletePeerResponse {}))
    }

    async fn enable_peer(
        &self,
        request: Request<v1::EnablePeerRequest>,
    ) -> Result<Response<v1::EnablePeerResponse>, Status> {
        let name = peer::peer_name("address", &request.get_ref().address)?;
        self.manage(PeerOp::Enable(name)).await?;
        Ok(Response::new(v1::EnablePeerResponse {}))
    }

    async fn disable_peer(
        &self,
        request: Request<v1::DisablePeerRequest>,
    ) -> Result<Response<v1::DisablePeerResponse>, Status> {
        let request = request.get_ref();
        let name = peer::peer_name("address", &request.address)?;
        let message = peer::shutdown_message("message", &request.message)?;
        self.manage(PeerOp::Disable(name, message)).await?;
        Ok(Response::new(v1::DisablePeerResponse {}))
    }

    async fn reset_peer(
        &self,
        request: Request<v1::ResetPeerRequest>,
    ) -> Result<Response<v1::ResetPeerResponse>, Status> {
        // Existence is the instance's question (NOT_FOUND from there).
        let (address, command) = peer::reset(request.get_ref(), |_| true)?;
        self.manage(PeerOp::Reset(address, command)).await?;
        Ok(Response::new(v1::ResetPeerResponse {}))
    }

    async fn list_owners(
        &self,
        _request: Request<v1::ListOwnersRequest>,
    ) -> Result<Response<v1::ListOwnersResponse>, Status> {
        let owners = self.ask(|reply| ApiRequest::ListOwners { reply }).await?;
        let now = std::time::Instant::now();
        let owners = owners.iter().map(|owner| convert::owner(owner, now)).collect();
        Ok(Response::new(v1::ListOwnersResponse { owners }))
    }

    async fn set_paths(
        &self,
        request: Request<v1::SetPathsRequest>,
    ) -> Result<Response<v1::SetPathsResponse>, Status> {
        let (checked, named) = validate::set_paths_deferred(request.get_ref());
        // The decoded request is several times the size of the validated
        // paths: free it before the instance works on a bulk set.
        drop(request);
        let command = match checked {
            Ok(command) => command,
            // A peer named before the bad value is checked first, as the
            // instance would; without one, no round trip.
            Err(error) if named.refs.is_empty() => return Err(error.into()),
            Err(error) => {
                let peers = named.refs.clone();
                let unknown =
                    self.ask(|reply| ApiRequest::FirstUnknownPeer { peers, reply }).await?;
                return Err(unknown.map_or(error, |unknown| named.unknown_peer(unknown)).into());
            }
        };
        let peers = named.refs.clone();
        let diff = self
            .ask(|reply| ApiRequest::SetPaths { command, peers, reply })
            .await?
            .map_err(|unknown| named.unknown_peer(unknown))?;
        Ok(Response::new(convert::set_paths_response(&diff)))
    }

    async fn add_paths(
        &self,
        request: Request<v1::AddPathsRequest>,
    ) -> Result<Response<v1::AddPathsResponse>, Status> {
        let mut answer = BulkAnswer::default();
        answer.extend(self.add_batch(request.into_inner()).await?);
        Ok(Response::new(answer.add_response()))
    }

    async fn delete_paths(
        &self,
        request: Request<v1::DeletePathsRequest>,
    ) -> Result<Response<v1::DeletePathsResponse>, Status> {
        let mut answer = BulkAnswer::default();
        answer.extend(self.delete_batch(request.into_inner()).await?);
        Ok(Response::new(answer.delete_response()))
    }

    async fn session(
        &self,
        request: Request<Streaming<v1::SessionRequest>>,
    ) -> Result<Response<ResponseStream<v1::SessionResponse>>, Status> {
        let mut inbound = request.into_inner();
        // A stream that never opens must not be held for ever.
        let wait = self.limits.session_open_timeout;
        let first = tokio::time::timeout(wait, inbound.message())
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!(
                    "session: no `open` within {} s ([api] session_open_timeout)",
                    wait.as_secs()
                ))
            })??
            .ok_or_else(|| Status::from(ValidationError::Missing { field: "open".to_string() }))?;
        let command = requests::session_open(&first)?;
        let hold_time = command.hold_time;
        let owner = command.owner.clone();
        let opened = self.ask(|reply| ApiRequest::SessionOpen { command, reply }).await?;
        let (responses, receiver) = mpsc::channel(streams::SESSION_BUFFER);
        // Room for one message: the channel is new.
        let _ = responses.try_send(Ok(convert::session_opened(&opened.attached, hold_time)));
        let lease = streams::Lease {
            owner,
            session: opened.attached.session,
            hold_time,
            takeover: opened.takeover,
        };
        tokio::spawn(streams::run_lease(lease, inbound, responses, self.events.clone()));
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))))
    }

    async fn watch(
        &self,
        request: Request<v1::WatchRequest>,
    ) -> Result<Response<ResponseStream<v1::WatchEvent>>, Status> {
        let filter = requests::watch(request.get_ref())?;
        let permit = Arc::clone(&self.watchers).try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "watch: {} Watch streams are open, the most [api] max_watchers allows; \
                 close one or raise the limit",
                self.limits.max_watchers
            ))
        })?;
        // The channel's capacity is the watcher's budget: the instance cuts
        // it off when it is full (instance::watch).
        let budget = self.limits.watch_buffer_events as usize;
        let (sender, items) = mpsc::channel(budget);
        let (end, ended) = oneshot::channel();
        let request = WatchRequest { filter, sender, end, peers: Vec::new() };
        self.events
            .send(InstanceEvent::Api(ApiRequest::Watch(request)))
            .await
            .map_err(|_| Status::unavailable("bgpd is shutting down"))?;
        Ok(Response::new(Box::pin(streams::watch_stream(
            items,
            ended,
            self.events.clone(),
            permit,
        ))))
    }

    /// Each batch is applied as it arrives (a bulk load need not sit in
    /// memory); a batch rejected as a whole ends the stream with its error,
    /// and the batches before it stay applied.
    async fn add_paths_stream(
        &self,
        request: Request<Streaming<v1::AddPathsRequest>>,
    ) -> Result<Response<v1::AddPathsResponse>, Status> {
        let mut inbound = request.into_inner();
        let mut answer = BulkAnswer::default();
        while let Some(batch) = inbound.message().await? {
            answer.extend(self.add_batch(batch).await?);
        }
        Ok(Response::new(answer.add_response()))
    }

    /// As `add_paths_stream`, for withdrawals.
    async fn delete_paths_stream(
        &self,
        request: Request<Streaming<v1::DeletePathsRequest>>,
    ) -> Result<Response<v1::DeletePathsResponse>, Status> {
        let mut inbound = request.into_inner();
        let mut answer = BulkAnswer::default();
        while let Some(batch) = inbound.message().await? {
            answer.extend(self.delete_batch(batch).await?);
        }
        Ok(Response::new(answer.delete_response()))
    }
}
