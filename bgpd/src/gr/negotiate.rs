//! The graceful restart capability we advertise (RFC 4724 §3, N bit of RFC
//! 8538 §2) and what both OPENs agreed on; the Hard Reset wrapping of RFC
//! 8538 §3.

use std::time::Duration;

use crate::wire::{
    Capability, Family, GracefulRestartCapability, GracefulRestartFamily, Notification,
    NotificationKind, OpenMessage,
};

use super::{MAX_RESTART_TIME, Settings};

/// Our capability for a session offering `families`, or `None` when graceful
/// restart is off. `restarted`: we restarted and still defer (R bit).
pub fn build_capability(
    settings: &Settings,
    families: &[Family],
    restarted: bool,
) -> Option<GracefulRestartCapability> {
    if !settings.enabled {
        return None;
    }
    let families = if settings.helper_only {
        // RFC 4724 §3: no family listed, the peer keeps none of our routes.
        Vec::new()
    } else {
        families
            .iter()
            .map(|family| GracefulRestartFamily {
                afi_safi: family.afi_safi(),
                // We program no forwarding: the host keeps forwarding (module doc).
                forwarding_preserved: true,
            })
            .collect()
    };
    Some(GracefulRestartCapability {
        restart_state: restarted && !settings.helper_only,
        notification: settings.notification,
        restart_time: settings.restart_time.min(MAX_RESTART_TIME),
        families,
    })
}

/// What both ends agreed on. Present only when both advertised the capability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// How long to keep the peer's routes when it goes away (its restart time).
    pub peer_restart_time: u16,
    /// R in the peer's OPEN: it restarted and will not wait for our End-of-RIB.
    pub peer_restarting: bool,
    /// Both set N (RFC 8538 §2): NOTIFICATIONs other than Hard Reset are restarts.
    pub notification: bool,
    /// Families the peer keeps forwarding for, with its F bit, among the
    /// session's families: we keep these routes when it restarts.
    pub peer_families: Vec<(Family, bool)>,
    /// We listed families: the peer keeps those routes of ours when we restart.
    pub local_families: Vec<Family>,
}

impl Negotiated {
    /// Whether a planned stop closes this session without a NOTIFICATION
    /// (the peer keeps our routes): only when we listed families in our
    /// capability, i.e. the peer agreed to keep some of our routes.
    pub fn keeps_our_routes(agreement: Option<&Self>) -> bool {
        agreement.is_some_and(|n| !n.local_families.is_empty())
    }

    /// From both OPENs; `families` are the session's negotiated families.
    pub fn from_opens(
        local: &OpenMessage,
        remote: &OpenMessage,
        families: &[Family],
    ) -> Option<Self> {
        let ours = capability(local)?;
        let theirs = capability(remote)?;
        let listed = |cap: &GracefulRestartCapability| {
            cap.families
                .iter()
                .filter_map(|entry| {
                    let family = entry.afi_safi.family()?;
                    families.contains(&family).then_some((family, entry.forwarding_preserved))
                })
                .collect::<Vec<_>>()
        };
        Some(Self {
            peer_restart_time: theirs.restart_time,
            peer_restarting: theirs.restart_state,
            notification: ours.notification && theirs.notification,
            peer_families: listed(theirs),
            local_families: listed(ours).into_iter().map(|(family, _)| family).collect(),
        })
    }

    /// The restart timer of the helper role.
    pub fn restart_duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.peer_restart_time))
    }

    /// Whether the peer listed `family` with its F bit set.
    pub fn forwarding_preserved(&self, family: Family) -> bool {
        self.peer_families.iter().any(|(f, preserved)| *f == family && *preserved)
    }

    /// Whether the peer listed `family` at all.
    pub fn peer_lists(&self, family: Family) -> bool {
        self.peer_families.iter().any(|(f, _)| *f == family)
    }
}

fn capability(open: &OpenMessage) -> Option<&GracefulRestartCapability> {
    open.capabilities.iter().find_map(|c| match c {
        Capability::GracefulRestart(cap) => Some(cap),
        _ => None,
    })
}

/// The NOTIFICATION to close a session with. With N negotiated, a Cease the
/// peer must not treat as a restart (RFC 8538 §5: maximum prefixes,
/// administrative shutdown or reset, peer de-configured) is wrapped in a Hard
/// Reset whose data is the original code, subcode and data (RFC 8538 §3).
pub fn hard_reset_for(notification: Notification, n_negotiated: bool) -> Notification {
    use NotificationKind::*;
    let wrap = n_negotiated
        && matches!(
            notification.kind(),
            Some(
                MaximumPrefixesReached
                    | AdministrativeShutdown
                    | PeerDeconfigured
                    | AdministrativeReset
            )
        );
    if !wrap {
        return notification;
    }
    let mut data = Vec::with_capacity(2 + notification.data.len());
    data.push(notification.code);
    data.push(notification.subcode);
    data.extend_from_slice(&notification.data);
    Notification::new(HardReset, data)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::AfiSafi;

    fn open(cap: Option<GracefulRestartCapability>) -> OpenMessage {
        OpenMessage {
            version: 4,
            my_as: 65001,
            hold_time: 90,
            router_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities: cap.into_iter().map(Capability::GracefulRestart).collect(),
        }
    }

    const BOTH: [Family; 2] = [Family::Ipv4Unicast, Family::Ipv6Unicast];

    #[test]
    fn a_planned_stop_is_graceful_only_where_the_peer_keeps_our_routes() {
        let agreed = |local_families: Vec<Family>| Negotiated {
            peer_restart_time: 120,
            peer_restarting: false,
            notification: true,
            peer_families: vec![(Family::Ipv4Unicast, true)],
            local_families,
        };
        assert!(Negotiated::keeps_our_routes(Some(&agreed(vec![Family::Ipv4Unicast]))));
        assert!(!Negotiated::keeps_our_routes(Some(&agreed(vec![]))), "we are helper only");
        assert!(!Negotiated::keeps_our_routes(None), "no capability on one side");
    }

    #[test]
    fn capability_sets_f_for_every_family_and_r_only_after_a_restart() {
        let settings = Settings::default();
        let fresh = build_capability(&settings, &BOTH, false).unwrap();
        assert!(!fresh.restart_state);
        assert!(fresh.notification);
        assert_eq!(fresh.restart_time, 120);
        assert_eq!(fresh.families.len(), 2);
        assert!(fresh.families.iter().all(|f| f.forwarding_preserved));
        assert!(build_capability(&settings, &BOTH, true).unwrap().restart_state);
    }

    #[test]
    fn helper_only_lists_no_family_and_never_sets_r() {
        let settings = Settings { helper_only: true, ..Settings::default() };
        let cap = build_capability(&settings, &BOTH, true).unwrap();
        assert!(cap.families.is_empty());
        assert!(!cap.restart_state);
    }

    #[test]
    fn disabled_advertises_nothing() {
        let settings = Settings { enabled: false, ..Settings::default() };
        assert_eq!(build_capability(&settings, &BOTH, false), None);
    }

    #[test]
    fn negotiated_needs_both_capabilities() {
        let ours = build_capability(&Settings::default(), &BOTH, false);
        assert_eq!(Negotiated::from_opens(&open(ours.clone()), &open(None), &BOTH), None);
        assert_eq!(Negotiated::from_opens(&open(None), &open(ours), &BOTH), None);
    }

    #[test]
    fn negotiated_keeps_session_families_and_f_bits() {
        let ours = build_capability(&Settings::default(), &BOTH, false);
        let theirs = GracefulRestartCapability {
            restart_state: true,
            notification: false,
            restart_time: 30,
            families: vec![
                GracefulRestartFamily {
                    afi_safi: AfiSafi { afi: 1, safi: 1 },
                    forwarding_preserved: false,
                },
                GracefulRestartFamily {
                    afi_safi: AfiSafi { afi: 2, safi: 1 },
                    forwarding_preserved: true,
                },
                GracefulRestartFamily {
                    afi_safi: AfiSafi { afi: 1, safi: 128 },
                    forwarding_preserved: true,
                },
            ],
        };
        let n = Negotiated::from_opens(&open(ours), &open(Some(theirs)), &[Family::Ipv4Unicast])
            .unwrap();
        assert_eq!(n.peer_restart_time, 30);
        assert!(n.peer_restarting);
        assert!(!n.notification, "N needs both ends");
        assert_eq!(n.peer_families, vec![(Family::Ipv4Unicast, false)]);
        assert_eq!(n.local_families, vec![Family::Ipv4Unicast]);
        assert!(n.peer_lists(Family::Ipv4Unicast));
        assert!(!n.forwarding_preserved(Family::Ipv4Unicast));
    }

    #[test]
    fn administrative_cease_is_wrapped_in_hard_reset_only_with_n() {
        let cease = Notification::shutdown(NotificationKind::AdministrativeShutdown, "bye");
        assert_eq!(hard_reset_for(cease.clone(), false), cease);
        let wrapped = hard_reset_for(cease.clone(), true);
        assert_eq!(wrapped.kind(), Some(NotificationKind::HardReset));
        assert_eq!(&wrapped.data[..2], &[6, 2]);
        assert_eq!(&wrapped.data[2..], &cease.data[..]);
        let collision =
            Notification::new(NotificationKind::ConnectionCollisionResolution, Vec::new());
        assert_eq!(hard_reset_for(collision.clone(), true), collision);
    }
}
