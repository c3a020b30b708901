//! The parts of `PeerStatus` beyond the FSM state: message and withdrawal
//! counters (kept by the session task, see `peer::counters`), the last
//! NOTIFICATION each way with its decoded name (RFC 4271 §4.5, RFC 4486
//! Cease subcodes) and RFC 9003 shutdown communication, and the capabilities
//! (RFC 5492) both sides put in their last OPENs.

use std::time::SystemTime;

use ironlb_proto::bgpd::v1;

use crate::api::convert;
use crate::fsm::DownReason;
use crate::peer::counters::MessageSnapshot;
use crate::wire::{Notification, OpenMessage};

/// A NOTIFICATION and when it was sent or received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampedNotification {
    pub notification: Notification,
    pub at: SystemTime,
}

/// What the last session ends left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastErrors {
    pub sent: Option<StampedNotification>,
    pub received: Option<StampedNotification>,
    /// Why the last session ended, for humans.
    pub reason: Option<String>,
}

impl LastErrors {
    /// Records why a session went down.
    pub fn on_down(&mut self, reason: &DownReason) {
        let at = SystemTime::now();
        match reason {
            DownReason::NotificationSent(n) => {
                self.sent = Some(StampedNotification { notification: n.clone(), at });
            }
            DownReason::NotificationReceived(n) => {
                self.received = Some(StampedNotification { notification: n.clone(), at });
            }
            _ => {}
        }
        self.reason = Some(crate::peer::describe(reason));
    }
}

/// A NOTIFICATION for the API.
pub fn notification(stamped: &StampedNotification) -> v1::NotificationInfo {
    let n = &stamped.notification;
    let reason = match n.kind() {
        Some(kind) => kind.to_string(),
        None => format!("unknown error {}/{}", n.code, n.subcode),
    };
    v1::NotificationInfo {
        code: u32::from(n.code),
        subcode: u32::from(n.subcode),
        reason,
        shutdown_message: n.shutdown_message().unwrap_or_default().to_string(),
        data: n.data.to_vec(),
        unix_time: stamped
            .at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
    }
}

/// Message counts for the API.
pub fn messages(snapshot: &MessageSnapshot) -> v1::MessageCounters {
    v1::MessageCounters {
        open: snapshot.open,
        update: snapshot.update,
        notification: snapshot.notification,
        keepalive: snapshot.keepalive,
        route_refresh: snapshot.route_refresh,
        total: snapshot.total,
    }
}

/// The capabilities of one OPEN for the API.
pub fn capabilities(open: &OpenMessage) -> v1::Capabilities {
    convert::capabilities(&open.capabilities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AfiSafi, Capability, NotificationKind};

    #[test]
    fn a_shutdown_notification_is_decoded_with_its_message() {
        let n = Notification::shutdown(NotificationKind::AdministrativeShutdown, "maintenance");
        let mut last = LastErrors::default();
        last.on_down(&DownReason::NotificationSent(n));
        let info = notification(last.sent.as_ref().expect("recorded"));
        assert_eq!((info.code, info.subcode), (6, 2));
        assert_eq!(info.reason, "Administrative Shutdown");
        assert_eq!(info.shutdown_message, "maintenance");
        assert!(info.unix_time > 0);
        assert!(last.received.is_none());
        assert!(last.reason.is_some());
    }

    #[test]
    fn unknown_codes_are_named_as_such() {
        let stamped = StampedNotification {
            notification: Notification { code: 6, subcode: 99, data: Default::default() },
            at: SystemTime::now(),
        };
        assert_eq!(notification(&stamped).reason, "unknown error 6/99");
    }

    #[test]
    fn capabilities_are_reported() {
        let open = OpenMessage {
            version: 4,
            my_as: 65002,
            hold_time: 90,
            router_id: "192.0.2.2".parse().expect("literal"),
            capabilities: vec![
                Capability::Multiprotocol(AfiSafi { afi: 1, safi: 1 }),
                Capability::Multiprotocol(AfiSafi { afi: 25, safi: 70 }),
                Capability::RouteRefresh { cisco: false },
                Capability::FourOctetAs(65002),
                Capability::Unknown { code: 99, value: Default::default() },
            ],
        };
        let caps = capabilities(&open);
        assert_eq!(caps.families, vec![v1::Family::Ipv4Unicast as i32]);
        assert_eq!(caps.other_families, vec!["25/70"]);
        assert!(caps.route_refresh && !caps.enhanced_route_refresh);
        assert_eq!(caps.four_octet_asn, 65002);
        assert_eq!(caps.unknown_codes, vec![99]);
    }
}
