//! `bgpctl watch`: follow a Watch stream, one line per event (one JSON
//! object per line with `-o json`), flushed as it arrives, until bgpd ends
//! the stream or the user interrupts. Only the opening call has a deadline:
//! a quiet stream is not a dead one.

use ironlb_proto::bgpd::v1::{BestPath, WatchEvent, WatchRequest, watch_event};

use crate::cli::WatchArgs;
use crate::connect::Api;
use crate::error::CtlError;
use crate::human;

pub async fn run(
    api: &mut Api,
    out: &mut crate::output::Output,
    args: WatchArgs,
) -> Result<(), CtlError> {
    // Neither flag: both kinds of events.
    let both = !args.peers && !args.routes;
    let request = WatchRequest {
        peers: args.peers || both,
        best_paths: args.routes || both,
        family: args.family.map_or(0, |f| human::family_arg(f) as i32),
    };
    let mut stream = api.target.call(api.client.watch(request)).await?;
    loop {
        let event = stream.message().await.map_err(|status| api.target.status(status))?;
        let Some(event) = event else {
            return Ok(());
        };
        if out.is_json() {
            out.json_line("WatchEvent", &event)?;
        } else {
            out.text(&line(&event))?;
            out.flush()?;
        }
    }
}

/// One event for people: sequence number, `=` for snapshot entries and `+`
/// for live changes, then what happened.
pub fn line(event: &WatchEvent) -> String {
    let mark = if event.snapshot { '=' } else { '+' };
    let what = match &event.event {
        Some(watch_event::Event::SnapshotDone(_)) => "snapshot done".to_string(),
        Some(watch_event::Event::PeerAdded(peer)) => {
            let config = peer.config.clone().unwrap_or_default();
            let state = peer.status.as_ref().map_or(0, |status| status.state);
            format!(
                "neighbor {} added, AS {}, {}",
                config.address,
                config.remote_asn,
                human::state(state)
            )
        }
        Some(watch_event::Event::PeerRemoved(address)) => format!("neighbor {address} removed"),
        Some(watch_event::Event::PeerState(change)) => {
            let mut text = format!(
                "neighbor {} {} -> {}",
                change.address,
                human::state(change.old_state),
                human::state(change.new_state)
            );
            if !change.reason.is_empty() {
                text.push_str(&format!(" ({})", change.reason));
            }
            text
        }
        Some(watch_event::Event::BestPathAdded(best)) => best_path("added", best),
        Some(watch_event::Event::BestPathChanged(best)) => best_path("changed", best),
        Some(watch_event::Event::BestPathWithdrawn(prefix)) => format!("route {prefix} withdrawn"),
        None => "unknown event".to_string(),
    };
    format!("{:>8} {mark} {what}\n", event.sequence)
}

fn best_path(verb: &str, best: &BestPath) -> String {
    let path = best.path.clone().unwrap_or_default();
    format!(
        "route {} {verb}, next hop {}, {}",
        path.prefix,
        human::or_dash(&path.next_hop),
        human::source(best.source.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use ironlb_proto::bgpd::v1::{Path, PathSource, PeerStateChange, SessionState, path_source};

    use super::*;

    #[test]
    fn events_read_as_one_line_each() {
        let change = WatchEvent {
            sequence: 7,
            snapshot: false,
            event: Some(watch_event::Event::PeerState(PeerStateChange {
                address: "192.0.2.2".into(),
                old_state: SessionState::OpenConfirm as i32,
                new_state: SessionState::Established as i32,
                reason: String::new(),
                notification: None,
            })),
        };
        assert_eq!(line(&change), "       7 + neighbor 192.0.2.2 OpenConfirm -> Established\n");
        let added = WatchEvent {
            sequence: 3,
            snapshot: true,
            event: Some(watch_event::Event::BestPathAdded(BestPath {
                path: Some(Path { prefix: "198.51.100.0/24".into(), ..Default::default() }),
                source: Some(PathSource { source: Some(path_source::Source::Owner("k8s".into())) }),
            })),
        };
        assert_eq!(line(&added), "       3 = route 198.51.100.0/24 added, next hop -, owner k8s\n");
        assert_eq!(line(&WatchEvent::default()), "       0 + unknown event\n");
    }
}
