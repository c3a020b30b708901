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
/// `[api] max_watchers`) is held until the stream ends or the watcher is cut
/// off, whichever comes first. The items channel's capacity is the watcher's
/// budget (`[api] watch_buffer_events`); at most [`watch::SNAPSHOT_CHUNK`]
/// more are converted, waiting for the transport.
///
/// A cut-off watcher whose client reads nothing gives back its slot and its
/// queue at once: the final status waits behind the converted messages for a
/// client that may never read again, and holding the permit (and the
/// instance's queue) until then would let `max_watchers` stalled clients
/// lock every other out of `Watch` for as long as their connections live.
pub fn watch_stream(
    items: mpsc::Receiver<WatchItem>,
    end: oneshot::Receiver<WatchEnd>,
    events: mpsc::Sender<InstanceEvent>,
    permit: OwnedSemaphorePermit,
) -> impl tokio_stream::Stream<Item = Result<v1::WatchEvent, Status>> + Send + 'static {
    let (sender, receiver) = mpsc::channel(watch::SNAPSHOT_CHUNK);
    tokio::spawn(async move {
        let mut items = items;
        let last = forward_watch(&mut items, end, events, &sender).await;
        drop(items);
        drop(permit);
        if let Some(status) = last {
            let _ = sender.send(Err(status)).await;
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

fn overflow_status(behind: usize) -> Status {
    Status::resource_exhausted(format!(
        "watch: this client fell {behind} events behind, the budget of \
         [api] watch_buffer_events; watch again for a fresh snapshot"
    ))
}

/// Moves items from the instance to the client stream until either side
/// ends; returns the status that ends the stream, if any. A send waiting for
/// a slow client gives way to the instance's cut-off.
async fn forward_watch(
    items: &mut mpsc::Receiver<WatchItem>,
    mut end: oneshot::Receiver<WatchEnd>,
    events: mpsc::Sender<InstanceEvent>,
    out: &mpsc::Sender<Result<v1::WatchEvent, Status>>,
) -> Option<Status> {
    let mut end_pending = true;
    loop {
        tokio::select! {
            biased;
            ended = &mut end, if end_pending => {
                end_pending = false;
                if let Ok(WatchEnd::Overflow { behind }) = ended {
                    return Some(overflow_status(behind));
                }
            }
            item = items.recv() => match item {
                Some(WatchItem::ChunkEnd(id)) => {
                    let request = ApiRequest::WatchMore { id };
                    if events.send(InstanceEvent::Api(request)).await.is_err() {
                        return None;
                    }
                }
                Some(item) => {
                    let Some(message) = convert::watch::event_message(item, std::time::Instant::now()) else {
                        continue;
                    };
                    let slot = tokio::select! {
                        biased;
                        ended = &mut end, if end_pending => {
                            end_pending = false;
                            if let Ok(WatchEnd::Overflow { behind }) = ended {
                                return Some(overflow_status(behind));
                            }
                            out.reserve().await
                        }
                        slot = out.reserve() => slot,
                    };
                    match slot {
                        Ok(slot) => slot.send(Ok(message)),
                        Err(_) => return None,
                    }
                }
                None => return Some(Status::unavailable("bgpd is shutting down")),
            },
            () = out.closed() => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::Semaphore;
    use tokio_stream::StreamExt as _;

    use super::*;
    use crate::instance::watch::WatchKind;

    fn withdrawn(sequence: u64) -> WatchItem {
        let prefix = "198.51.100.0/24".parse().unwrap();
        WatchItem::Event { sequence, snapshot: false, kind: WatchKind::Withdrawn(prefix) }
    }

    /// Found by the soak (issue #17): a cut-off watcher whose client never
    /// read kept its `max_watchers` slot and its queue until the client read.
    #[tokio::test]
    async fn a_cut_off_watcher_frees_its_slot_and_queue_though_its_client_reads_nothing() {
        let slots = Arc::new(Semaphore::new(1));
        let permit = Arc::clone(&slots).try_acquire_owned().unwrap();
        let (items, receiver) = mpsc::channel(4 * watch::SNAPSHOT_CHUNK);
        let (end, end_receiver) = oneshot::channel();
        let (events, _events) = mpsc::channel(1);
        let stream = watch_stream(receiver, end_receiver, events, permit);
        // More than the converted buffer holds: the forwarder waits on the
        // transport, which nobody reads.
        for sequence in 0..2 * watch::SNAPSHOT_CHUNK as u64 {
            items.send(withdrawn(sequence)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(slots.available_permits(), 0, "held while the watcher lives");

        end.send(WatchEnd::Overflow { behind: 42 }).unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            while slots.available_permits() == 0 || !items.is_closed() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the slot and the queue are given back while nothing is read");

        // A client that reads at last gets what was converted, then the cause.
        let all: Vec<_> = stream.collect().await;
        let last = all.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.code(), tonic::Code::ResourceExhausted, "{last:?}");
        assert_eq!(all.len(), watch::SNAPSHOT_CHUNK + 1);
    }

    #[tokio::test]
    async fn a_watcher_that_reads_gets_every_event_and_keeps_its_slot() {
        let slots = Arc::new(Semaphore::new(1));
        let permit = Arc::clone(&slots).try_acquire_owned().unwrap();
        let (items, receiver) = mpsc::channel(16);
        let (_end, end_receiver) = oneshot::channel::<WatchEnd>();
        let (events, _events) = mpsc::channel(1);
        let mut stream = Box::pin(watch_stream(receiver, end_receiver, events, permit));
        for sequence in 0..10 {
            items.send(withdrawn(sequence)).await.unwrap();
            let event = stream.next().await.unwrap().unwrap();
            assert_eq!(event.sequence, sequence);
        }
        assert_eq!(slots.available_permits(), 0);
        drop(stream);
        tokio::time::timeout(Duration::from_secs(5), async {
            while slots.available_permits() == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the slot is given back when the client goes");
    }
}
