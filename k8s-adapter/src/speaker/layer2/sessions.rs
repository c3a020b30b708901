//! The local bgpd's BGP session states, for layer2 as a BGP fallback
//! ([`crate::election::fallback`]): a `Watch` stream of peer events (snapshot, then
//! changes; no polling) kept as peer address → Established since when. While bgpd cannot
//! be reached every session counts as down.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use ironlb_proto::bgpd::v1::{Peer, SessionState, WatchEvent, WatchRequest, watch_event};
use thiserror::Error;
use tonic::Status;

use crate::speaker::channel::{ConnectError, connect};

/// Why a Watch stream ended.
#[derive(Debug, Error)]
pub enum WatchError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("bgpd: {0}")]
    Rpc(#[from] Status),
}

/// Peer address (text, as bgpd names peers) → `Some(since)` when Established.
pub type Sessions = BTreeMap<String, Option<Instant>>;

const MIN_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Reports the sessions after the snapshot and on every change, until `report` returns
/// `false` (its receiver is gone).
pub async fn run(endpoint: String, report: impl Fn(Sessions) -> bool) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let mut sessions = Sessions::new();
        let result = watch(&endpoint, &mut sessions, &report, &mut backoff).await;
        if !report(Sessions::new()) {
            return;
        }
        match result {
            Ok(false) => return,
            Ok(true) => {}
            Err(e) => tracing::debug!(error = %e, "bgpd peer watch ended; sessions count as down"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One Watch stream; `Ok(false)` when the receiver is gone, `Ok(true)` when the stream
/// ended.
async fn watch(
    endpoint: &str,
    sessions: &mut Sessions,
    report: &impl Fn(Sessions) -> bool,
    backoff: &mut Duration,
) -> Result<bool, WatchError> {
    let mut client = BgpServiceClient::new(connect(endpoint).await?);
    let request = WatchRequest { peers: true, ..WatchRequest::default() };
    let mut stream = client.watch(request).await?.into_inner();
    let mut live = false;
    while let Some(event) = stream.message().await? {
        let changed = apply(sessions, &event, Instant::now());
        if matches!(event.event, Some(watch_event::Event::SnapshotDone(_))) {
            live = true;
            *backoff = MIN_BACKOFF;
        }
        if live && (changed || !event.snapshot) && !report(sessions.clone()) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn established_since(peer: &Peer, now: Instant) -> Option<(String, Option<Instant>)> {
    let address = peer.config.as_ref()?.address.clone();
    let since = peer.status.as_ref().and_then(|s| {
        (s.state == SessionState::Established as i32)
            .then(|| now.checked_sub(Duration::from_secs(s.uptime_seconds)).unwrap_or(now))
    });
    Some((address, since))
}

/// Applies one event; whether the sessions changed (or the snapshot ended).
pub fn apply(sessions: &mut Sessions, event: &WatchEvent, now: Instant) -> bool {
    match &event.event {
        Some(watch_event::Event::PeerAdded(peer)) => match established_since(peer, now) {
            Some((address, since)) => sessions.insert(address, since) != Some(since),
            None => false,
        },
        Some(watch_event::Event::PeerRemoved(address)) => sessions.remove(address).is_some(),
        Some(watch_event::Event::PeerState(change)) => {
            let up = change.new_state == SessionState::Established as i32;
            let entry = sessions.entry(change.address.clone()).or_default();
            let was = entry.is_some();
            if up && !was {
                *entry = Some(now);
            } else if !up {
                *entry = None;
            }
            was != up
        }
        Some(watch_event::Event::SnapshotDone(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use ironlb_proto::bgpd::v1::{PeerConfig, PeerStateChange, PeerStatus, SnapshotDone};

    use super::*;

    fn event(e: watch_event::Event) -> WatchEvent {
        WatchEvent { event: Some(e), ..WatchEvent::default() }
    }

    #[test]
    fn snapshot_and_changes_track_established_since() {
        let t0 = Instant::now() + Duration::from_secs(100);
        let mut s = Sessions::new();
        let peer = |address: &str, state: SessionState, uptime| Peer {
            config: Some(PeerConfig { address: address.into(), ..PeerConfig::default() }),
            status: Some(PeerStatus {
                state: state as i32,
                uptime_seconds: uptime,
                ..PeerStatus::default()
            }),
        };
        apply(
            &mut s,
            &event(watch_event::Event::PeerAdded(peer("192.0.2.1", SessionState::Established, 30))),
            t0,
        );
        apply(
            &mut s,
            &event(watch_event::Event::PeerAdded(peer("192.0.2.2", SessionState::Active, 0))),
            t0,
        );
        assert!(apply(&mut s, &event(watch_event::Event::SnapshotDone(SnapshotDone {})), t0));
        assert_eq!(s["192.0.2.1"], Some(t0 - Duration::from_secs(30)));
        assert_eq!(s["192.0.2.2"], None);
        let change = |address: &str, new: SessionState| {
            event(watch_event::Event::PeerState(PeerStateChange {
                address: address.into(),
                new_state: new as i32,
                ..PeerStateChange::default()
            }))
        };
        let t1 = t0 + Duration::from_secs(1);
        assert!(apply(&mut s, &change("192.0.2.1", SessionState::Idle), t1));
        assert_eq!(s["192.0.2.1"], None);
        assert!(apply(&mut s, &change("192.0.2.2", SessionState::Established), t1));
        assert_eq!(s["192.0.2.2"], Some(t1));
        assert!(!apply(&mut s, &change("192.0.2.1", SessionState::Connect), t1), "still down");
        assert!(apply(&mut s, &event(watch_event::Event::PeerRemoved("192.0.2.2".into())), t1));
        assert_eq!(s.len(), 1);
    }
}
