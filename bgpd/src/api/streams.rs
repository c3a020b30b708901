//! The tasks and stream adapters behind the streaming RPCs: the owner lease
//! (`Session`, protocol in the `.proto` at `SessionRequest`), `Watch`'s
//! flow control, and the bulk client streams. They hold no daemon state: the
//! instance decides (see `instance::leases` and `instance::watch`), these only carry messages and
//! keep time. No RFC applies: the lease is ironlb's own protocol (gRPC
//! streams, not BGP messages).

use std::time::Duration;

use ironlb_proto::bgpd::v1;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::Instant;
use tonic::{Status, Streaming};

use crate::api::convert;
use crate::instance::InstanceEvent;
use crate::instance::owners::SessionId;
use crate::instance::requests::ApiRequest;
use crate::instance::watch::{self, WatchEnd, WatchItem};

/// Responses buffered towards a `Session` client: acks are tiny and few.
pub const SESSION_BUFFER: usize = 16;

/// One lease, from `opened` to its end.
pub struct Lease {
    pub owner: String,
    pub session: SessionId,
    pub hold_time: Duration,
    pub takeover: oneshot::Receiver<()>,
}

/// How a lease ended.
#[derive(Debug, PartialEq, Eq)]
enum LeaseEnd {
    /// The stream ended or broke, or keepalives stopped: the owner detaches.
    Lapsed,
    /// A newer session of the owner took over: nothing to tell the instance.
    TakenOver,
}

/// Runs a lease: answers keepalives, watches the hold time and a takeover,
/// and tells the instance when the lease lapses. Ends the response stream
/// with ABORTED on a takeover and DEADLINE_EXCEEDED when keepalives stop.
pub async fn run_lease(
    mut lease: Lease,
    mut inbound: Streaming<v1::SessionRequest>,
    responses: mpsc::Sender<Result<v1::SessionResponse, Status>>,
    events: mpsc::Sender<InstanceEvent>,
) {
    let mut deadline = Instant::now() + lease.hold_time;
    let end = loop {
        tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(v1::SessionRequest {
                    request: Some(v1::session_request::Request::Keepalive(keepalive)),
                })) => {
                    deadline = Instant::now() + lease.hold_time;
                    let ack = v1::SessionKeepAliveAck { nonce: keepalive.nonce };
                    let response = v1::SessionResponse {
                        response: Some(v1::session_response::Response::KeepaliveAck(ack)),
                    };
                    if responses.send(Ok(response)).await.is_err() {
                        break LeaseEnd::Lapsed;
                    }
                }
                Ok(Some(_)) => {
                    let status = Status::invalid_argument(
                        "request: after `open` only `keepalive` is allowed",
                    );
                    let _ = responses.send(Err(status)).await;
                    break LeaseEnd::Lapsed;
                }
                Ok(None) | Err(_) => break LeaseEnd::Lapsed,
            },
            signal = &mut lease.takeover => {
                let status = match signal {
                    Ok(()) => Status::aborted(format!(
                        "owner {:?}: a newer Session took over", lease.owner
                    )),
                    Err(_) => Status::unavailable("bgpd is shutting down"),
                };
                let _ = responses.send(Err(status)).await;
                break LeaseEnd::TakenOver;
            }
            () = tokio::time::sleep_until(deadline) => {
                let status = Status::deadline_exceeded(format!(
                    "owner {:?}: no keepalive within the hold time of {} s",
                    lease.owner,
                    lease.hold_time.as_secs()
                ));
                let _ = responses.send(Err(status)).await;
                break LeaseEnd::Lapsed;
            }
            () = responses.closed() => break LeaseEnd::Lapsed,
        }
    };
    if end == LeaseEnd::Lapsed {
        let request = ApiRequest::SessionClosed { owner: lease.owner, session: lease.session };
        let _ = events.send(InstanceEvent::Api(request)).await;
    }
}

/// The `Watch` response stream: a task converts the instance's items to
/// messages (off the instance), asks for the next snapshot chunk when one is
/// consumed, and ends the stream with RESOURCE_EXHAUSTED as soon as the
/// instance dropped the watcher for being slow. `permit` (one of
/// `[api] max_watchers`) is held until the stream ends. The items channel's
/// capacity is the watcher's budget (`[api] watch_buffer_events`); at most
/// [`watch::SNAPSHOT_CHUNK`] more are converted, waiting for the transport.
pub fn watch_stream(
    items: mpsc::Receiver<WatchItem>,
    end: oneshot::Receiver<WatchEnd>,
    events: mpsc::Sender<InstanceEvent>,
    permit: OwnedSemaphorePermit,
) -> impl tokio_stream::Stream<Item = Result<v1::WatchEvent, Status>> + Send + 'static {
    let (sender, receiver) = mpsc::channel(watch::SNAPSHOT_CHUNK);
    tokio::spawn(async move {
        forward_watch(items, end, events, sender).await;
        drop(permit);
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

/// Moves items from the instance to the client stream; ends when either side
/// does.
async fn forward_watch(
    mut items: mpsc::Receiver<WatchItem>,
    mut end: oneshot::Receiver<WatchEnd>,
    events: mpsc::Sender<InstanceEvent>,
    out: mpsc::Sender<Result<v1::WatchEvent, Status>>,
) {
    let mut end_pending = true;
    loop {
        tokio::select! {
            biased;
            ended = &mut end, if end_pending => {
                end_pending = false;
                if let Ok(WatchEnd::Overflow { behind }) = ended {
                    let status = Status::resource_exhausted(format!(
                        "watch: this client fell {behind} events behind, the budget of \
                         [api] watch_buffer_events; watch again for a fresh snapshot"
                    ));
                    let _ = out.send(Err(status)).await;
                    return;
                }
            }
            item = items.recv() => match item {
                Some(WatchItem::ChunkEnd(id)) => {
                    let request = ApiRequest::WatchMore { id };
                    if events.send(InstanceEvent::Api(request)).await.is_err() {
                        return;
                    }
                }
                Some(item) => {
                    let Some(message) = convert::watch::event_message(item, std::time::Instant::now()) else {
                        continue;
                    };
                    if out.send(Ok(message)).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = out.send(Err(Status::unavailable("bgpd is shutting down"))).await;
                    return;
                }
            },
            () = out.closed() => return,
        }
    }
}
