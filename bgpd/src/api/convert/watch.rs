//! The instance's listings and watch events → messages: `ListPaths` answers,
//! `Watch` events (best paths of the Loc-RIB, RFC 4271 §9.1, and peer
//! changes) and where a path came from.

use std::time::Instant;

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::watch_event::Event;

use super::peer::{peer, session_state};
use crate::instance::listing::{ListedPath, PathSource};
use crate::instance::watch::{BestEvent, PeerEvent, WatchItem, WatchKind};

/// A [`WatchItem`] event → its message. `None` for [`WatchItem::ChunkEnd`].
/// Peer events are converted at `now` (the age of their state).
pub fn event_message(item: WatchItem, now: Instant) -> Option<v1::WatchEvent> {
    let WatchItem::Event { sequence, snapshot, kind } = item else { return None };
    let event = match kind {
        WatchKind::SnapshotDone => Event::SnapshotDone(v1::SnapshotDone {}),
        WatchKind::Peer(event) => peer_event(*event, now),
        WatchKind::Withdrawn(prefix) => Event::BestPathWithdrawn(prefix.to_string()),
        WatchKind::Best { event, route, source } => {
            let mut path = super::path(route.prefix, route.next_hop, &route.attributes, &[]);
            path.stale = route.stale;
            let best = v1::BestPath { path: Some(path), source: Some(path_source(&source)) };
            match event {
                BestEvent::Added => Event::BestPathAdded(best),
                BestEvent::Changed => Event::BestPathChanged(best),
            }
        }
    };
    Some(v1::WatchEvent { sequence, snapshot, event: Some(event) })
}

/// [`PathSource`] → its message.
pub fn path_source(source: &PathSource) -> v1::PathSource {
    use v1::path_source::Source as S;
    let source = match source {
        PathSource::Owner(name) => Some(S::Owner(name.clone())),
        PathSource::Peer(address) => Some(S::Peer(address.to_string())),
        PathSource::Config => Some(S::Config(true)),
        PathSource::Unknown => None,
    };
    v1::PathSource { source }
}

/// A peer change → its `Watch` event.
pub fn peer_event(event: PeerEvent, now: Instant) -> Event {
    match event {
        PeerEvent::Added(view) => Event::PeerAdded(peer(&view, now)),
        PeerEvent::Removed(address) => Event::PeerRemoved(address.to_string()),
        PeerEvent::State { address, from, to } => Event::PeerState(v1::PeerStateChange {
            address: address.to_string(),
            old_state: session_state(from) as i32,
            new_state: session_state(to) as i32,
            reason: String::new(),
            notification: None,
        }),
    }
}

/// One listed path → its `ListPathsResponse`.
pub fn listed_path(listed: &ListedPath) -> v1::ListPathsResponse {
    let route = &listed.route;
    let mut path = super::path(route.prefix, route.next_hop, &route.attributes, &listed.peers);
    path.stale = route.stale;
    v1::ListPathsResponse {
        path: Some(path),
        source: Some(path_source(&listed.source)),
        best: listed.best,
        age_seconds: 0,
        path_id: 0,
        rejected: listed.rejected,
    }
}
