//! The instance side of the long-lived API streams: owner leases (`Session`,
//! the protocol of the `.proto` at `SessionRequest`), the grace timer's expiry
//! and `Watch`. Runs inside the instance task like [`super::handler`]; the
//! stream tasks in [`super::streams`] only carry messages.
//!
//! A lease is held by the stream task; the instance learns of its end through
//! [`ApiRequest::SessionClosed`](super::handler::ApiRequest) and of a takeover
//! tells the older stream through the oneshot it registered, so that stream
//! ends with ABORTED.

use std::time::Instant;

use ironlb_proto::bgpd::v1;
use tokio::sync::{mpsc, oneshot};

use crate::api::handler::{ApiState, originate, withdraw};
use crate::api::listing::SourceNames;
use crate::api::owners::{Attached, SessionId};
use crate::api::requests::{SessionOpenCommand, WatchFilter};
use crate::api::watch::{WatchEnd, WatchId, WatchItem};
use crate::rib::{PeerId, Rib};

/// What a `Session` stream learns when its open is accepted.
#[derive(Debug)]
pub struct Opened {
    pub attached: Attached,
    /// Fires when a newer session of the same owner takes over.
    pub takeover: oneshot::Receiver<()>,
}

/// `Session` opened: attach the owner and, if it replaced an older session,
/// end that one.
pub fn open_session(state: &mut ApiState, command: &SessionOpenCommand) -> Opened {
    let attached = state.owners.attach(&command.owner, command.grace_time);
    if let Some(old) = attached.replaced
        && let Some(signal) = state.sessions.remove(&old)
    {
        let _ = signal.send(());
    }
    let (signal, takeover) = oneshot::channel();
    state.sessions.insert(attached.session, signal);
    Opened { attached, takeover }
}

/// A `Session` stream ended (closed, dropped, or no keepalive): the owner is
/// detached and its grace timer runs, unless a newer session took over.
pub fn close_session(state: &mut ApiState, owner: &str, session: SessionId, now: Instant) {
    state.sessions.remove(&session);
    if let Some(deadline) = state.owners.detach(owner, session, now) {
        tracing::info!(
            owner,
            grace = ?deadline.saturating_duration_since(now),
            "owner's session lapsed; its paths stay for the grace time"
        );
    }
}

/// The owner timer fired: withdraw the paths of owners whose grace ran out
/// and announce paths released from re-sync. Returns whether the RIB changed.
pub fn expire(rib: &mut Rib, state: &mut ApiState, now: Instant) -> bool {
    let expiry = state.owners.expire(now);
    let mut changed = false;
    for name in &expiry.expired {
        tracing::info!(owner = %name, "owner's grace time ran out; withdrawing its paths");
    }
    for withdrawal in &expiry.withdrawn {
        let source = state.source(&withdrawal.owner);
        changed |= withdraw(rib, source, &withdrawal.key);
    }
    for (owner, path) in &expiry.released {
        let source = state.source(owner);
        changed |= originate(rib, source, path);
    }
    changed
}

/// Publishes the RIB's best-path changes to the watchers (no-op without).
pub fn publish(
    rib: &mut Rib,
    state: &mut ApiState,
    peers: &std::collections::HashMap<std::net::IpAddr, PeerId>,
) {
    if state.watchers.is_empty() {
        return;
    }
    let changes = rib.drain_changes();
    if !changes.is_empty() {
        let names = SourceNames { owners: &state.sources, peers };
        let resolve = names.resolver();
        state.watchers.best_changes(changes, &resolve);
    }
    if state.watchers.is_empty() {
        rib.track_changes(false);
    }
}

/// A new `Watch`. Every change so far has been published (the instance
/// publishes after each event), so the snapshot starts at the current
/// sequence with nothing in between.
pub fn watch(
    rib: &mut Rib,
    state: &mut ApiState,
    peers: &std::collections::HashMap<std::net::IpAddr, PeerId>,
    request: WatchRequest,
) {
    publish(rib, state, peers);
    rib.track_changes(true);
    let names = SourceNames { owners: &state.sources, peers };
    let resolve = names.resolver();
    state.watchers.add(
        request.filter,
        request.sender,
        request.end,
        request.peers.into_iter(),
        rib,
        &resolve,
    );
    if state.watchers.is_empty() {
        rib.track_changes(false);
    }
}

/// The watcher consumed a snapshot chunk.
pub fn watch_more(
    rib: &Rib,
    state: &mut ApiState,
    peers: &std::collections::HashMap<std::net::IpAddr, PeerId>,
    id: WatchId,
) {
    let names = SourceNames { owners: &state.sources, peers };
    let resolve = names.resolver();
    state.watchers.more(id, rib, &resolve);
}

/// A `Watch` as the instance receives it; `peers` are filled in by the
/// instance (the configured peers, for the snapshot).
#[derive(Debug)]
pub struct WatchRequest {
    pub filter: WatchFilter,
    pub sender: mpsc::Sender<WatchItem>,
    pub end: oneshot::Sender<WatchEnd>,
    pub peers: Vec<v1::Peer>,
}
