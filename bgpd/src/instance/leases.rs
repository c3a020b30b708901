//! Owner leases inside the instance: a `Session` stream's open and close
//! (the protocol of the `.proto` at `SessionRequest`) and the grace timer's
//! expiry. Runs inside the instance task like [`super::requests`]; the stream
//! tasks in `api::streams` only carry messages.
//!
//! A lease is held by the stream task; the instance learns of its end through
//! [`ApiRequest::SessionClosed`](super::requests::ApiRequest) and of a takeover
//! tells the older stream through the oneshot it registered, so that stream
//! ends with ABORTED.
//!
//! No RFC defines the lease: it is ironlb's own protocol. The re-sync it
//! releases on expiry is graceful restart's deferral (RFC 4724 §4.1).

use std::time::Instant;

use std::time::Duration;

use tokio::sync::oneshot;

use super::owners::{Attached, SessionId};
use super::requests::{ApiState, originate, withdraw};
use crate::rib::Rib;

/// A checked `SessionOpen`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOpenCommand {
    pub owner: String,
    /// `None`: keep the owner's grace time (120 s for a new owner).
    pub grace_time: Option<Duration>,
    /// The lease lapses when no keepalive arrives for this long.
    pub hold_time: Duration,
    /// How long the owner's layer2 announcements outlive a lapse (default 0).
    pub layer2_grace_time: Duration,
}

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
    let mut attached = state.owners.attach(&command.owner, command.grace_time);
    state.owners.set_layer2_grace(&command.owner, command.layer2_grace_time);
    attached.layer2_grace_time = Some(command.layer2_grace_time);
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

/// What an owner expiry did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// The Loc-RIB changed: exports are due.
    pub rib_changed: bool,
    /// Owners whose grace ran out and who are forgotten. An owner name is one
    /// owner across BgpService and Layer2Service, so the instance tells the
    /// layer2 task to withdraw their announcements too (`Handle::forget_owners`).
    pub owners: Vec<String>,
    /// Owners within their grace time whose layer2 grace ran out: their
    /// layer2 announcements go, their paths stay.
    pub layer2_dropped: Vec<String>,
}

/// The owner timer fired: withdraw the paths of owners whose grace ran out
/// and announce paths released from re-sync.
pub fn expire(rib: &mut Rib, state: &mut ApiState, now: Instant) -> Expired {
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
    for name in &expiry.layer2_dropped {
        tracing::info!(owner = %name, "owner's layer2 grace time ran out; its paths stay");
    }
    Expired { rib_changed: changed, owners: expiry.expired, layer2_dropped: expiry.layer2_dropped }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::instance::owners::{SetPathsCommand, ValidatedPath};
    use crate::instance::requests as handler;
    use crate::rib::LocalInfo;
    use crate::wire::Family;

    fn rib() -> Rib {
        Rib::new(LocalInfo { asn: 65001, router_id: Ipv4Addr::new(192, 0, 2, 1) })
    }

    fn open(owner: &str, grace: u64) -> SessionOpenCommand {
        SessionOpenCommand {
            owner: owner.to_string(),
            grace_time: Some(Duration::from_secs(grace)),
            hold_time: Duration::from_secs(30),
            layer2_grace_time: Duration::from_secs(grace),
        }
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

    #[test]
    fn a_second_session_signals_the_first_and_a_late_close_is_ignored() {
        let mut state = ApiState::default();
        let mut first = open_session(&mut state, &open("lb", 60));
        let second = open_session(&mut state, &open("lb", 60));
        assert_eq!(first.takeover.try_recv(), Ok(()));
        close_session(&mut state, "lb", first.attached.session, Instant::now());
        assert_eq!(state.owners.next_deadline(), None, "the old stream's end changes nothing");
        close_session(&mut state, "lb", second.attached.session, Instant::now());
        assert!(state.owners.next_deadline().is_some());
    }

    #[test]
    fn expiry_withdraws_the_owners_paths_from_the_rib() {
        let mut rib = rib();
        let mut state = ApiState::default();
        let opened = open_session(&mut state, &open("lb", 5));
        let command = SetPathsCommand {
            owner: "lb".to_string(),
            paths: vec![path("198.51.100.0/24"), path("203.0.113.0/24")],
            grace_time: None,
        };
        handler::set_paths(&mut rib, &mut state, command);
        let now = Instant::now();
        close_session(&mut state, "lb", opened.attached.session, now);
        assert_eq!(expire(&mut rib, &mut state, now + Duration::from_secs(4)), Expired::default());
        assert_eq!(rib.counts(Family::Ipv4Unicast).prefixes, 2, "kept during the grace time");
        let expired = expire(&mut rib, &mut state, now + Duration::from_secs(5));
        let owners = vec!["lb".to_string()];
        assert_eq!(expired, Expired { rib_changed: true, owners, layer2_dropped: Vec::new() });
        assert_eq!(rib.counts(Family::Ipv4Unicast).prefixes, 0);
        assert!(state.owners.is_empty());
    }

    #[test]
    fn an_owner_without_paths_is_reported_when_its_grace_runs_out() {
        // A layer2-only owner holds no paths here, yet its lease must still
        // end so that its announcements are withdrawn; grace 0 ends it at once.
        let mut rib = rib();
        let mut state = ApiState::default();
        let opened = open_session(&mut state, &open("speaker", 0));
        let now = Instant::now();
        close_session(&mut state, "speaker", opened.attached.session, now);
        let expired = expire(&mut rib, &mut state, now);
        let owners = vec!["speaker".to_string()];
        assert_eq!(expired, Expired { rib_changed: false, owners, layer2_dropped: Vec::new() });
    }

    #[test]
    fn layer2_goes_at_its_own_grace_while_paths_stay() {
        let mut rib = rib();
        let mut state = ApiState::default();
        let mut command = open("speaker", 120);
        command.layer2_grace_time = Duration::ZERO;
        let opened = open_session(&mut state, &command);
        assert_eq!(opened.attached.layer2_grace_time, Some(Duration::ZERO));
        let set = SetPathsCommand {
            owner: "speaker".to_string(),
            paths: vec![path("198.51.100.0/24")],
            grace_time: None,
        };
        handler::set_paths(&mut rib, &mut state, set);
        let now = Instant::now();
        close_session(&mut state, "speaker", opened.attached.session, now);
        assert_eq!(state.owners.next_deadline(), Some(now), "the layer2 deadline is now");
        let expired = expire(&mut rib, &mut state, now);
        let want = Expired {
            rib_changed: false,
            owners: Vec::new(),
            layer2_dropped: vec!["speaker".to_string()],
        };
        assert_eq!(expired, want);
        assert_eq!(rib.counts(Family::Ipv4Unicast).prefixes, 1, "paths keep their grace");
        assert_eq!(state.owners.next_deadline(), Some(now + Duration::from_secs(120)));
        assert_eq!(expire(&mut rib, &mut state, now), Expired::default(), "dropped once");
    }
}
