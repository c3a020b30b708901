//! Event-by-event tests of the helper role.

use std::time::Duration;

use super::*;
use crate::wire::Notification;

use Family::{Ipv4Unicast as V4, Ipv6Unicast as V6};
use HelperAction::*;

const STALE: Duration = Duration::from_secs(360);

fn agreement(notification: bool, families: &[(Family, bool)]) -> Negotiated {
    Negotiated {
        peer_restart_time: 120,
        peer_restarting: false,
        notification,
        peer_families: families.to_vec(),
        local_families: vec![V4, V6],
    }
}

fn up(helper: &mut Helper, n: Option<Negotiated>) -> Vec<HelperAction> {
    helper.handle(HelperEvent::Established { families: vec![V4, V6], graceful_restart: n })
}

fn restart_timer(token: u64) -> HelperAction {
    StartTimer { timer: HelperTimer::Restart, after: Duration::from_secs(120), token }
}

fn stale_timer(token: u64) -> HelperAction {
    StartTimer { timer: HelperTimer::StaleRoutes, after: STALE, token }
}

/// A helper with an established GR session over both families.
fn established(notification: bool) -> Helper {
    let mut helper = Helper::new(true, STALE);
    assert!(up(&mut helper, Some(agreement(notification, &[(V4, true), (V6, true)]))).is_empty());
    helper
}

#[test]
fn loss_classification() {
    let hold = Notification::new(NotificationKind::HoldTimerExpired, Vec::new());
    let hard = Notification::new(NotificationKind::HardReset, vec![6, 4]);
    let admin = Notification::new(NotificationKind::AdministrativeReset, Vec::new());
    assert_eq!(Loss::of(&DownReason::TcpConnectionFailed), Loss::TcpClosed);
    assert_eq!(Loss::of(&DownReason::NotificationSent(hold)), Loss::Notification);
    assert_eq!(Loss::of(&DownReason::NotificationReceived(admin)), Loss::Notification);
    assert_eq!(Loss::of(&DownReason::NotificationReceived(hard.clone())), Loss::HardReset);
    assert_eq!(Loss::of(&DownReason::NotificationSent(hard)), Loss::HardReset);
    assert_eq!(Loss::of(&DownReason::Stopped), Loss::HardReset);
}

#[test]
fn tcp_close_keeps_routes_stale_and_starts_the_restart_timer() {
    let mut helper = established(false);
    let actions = helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    assert_eq!(actions, vec![KeepStale(V4), KeepStale(V6), restart_timer(2)]);
    assert!(helper.is_restarting());
    assert_eq!(helper.stale_families(), &[V4, V6]);
}

#[test]
fn notification_without_n_flushes() {
    let mut helper = established(false);
    let actions = helper.handle(HelperEvent::SessionDown(Loss::Notification));
    assert_eq!(actions, vec![Flush(V4), Flush(V6)]);
    assert!(helper.stale_families().is_empty());
}

#[test]
fn notification_or_hold_expiry_with_n_keeps_routes() {
    let mut helper = established(true);
    let actions = helper.handle(HelperEvent::SessionDown(Loss::Notification));
    assert_eq!(actions, vec![KeepStale(V4), KeepStale(V6), restart_timer(2)]);
}

#[test]
fn hard_reset_flushes_even_with_n() {
    let mut helper = established(true);
    assert_eq!(
        helper.handle(HelperEvent::SessionDown(Loss::HardReset)),
        vec![Flush(V4), Flush(V6)]
    );
}

#[test]
fn without_agreement_or_when_disabled_everything_is_flushed() {
    let mut helper = Helper::new(true, STALE);
    up(&mut helper, None);
    assert_eq!(
        helper.handle(HelperEvent::SessionDown(Loss::TcpClosed)),
        vec![Flush(V4), Flush(V6)]
    );

    let mut disabled = Helper::new(false, STALE);
    up(&mut disabled, Some(agreement(true, &[(V4, true)])));
    assert_eq!(
        disabled.handle(HelperEvent::SessionDown(Loss::TcpClosed)),
        vec![Flush(V4), Flush(V6)]
    );
}

#[test]
fn zero_restart_time_flushes() {
    let mut helper = Helper::new(true, STALE);
    let mut n = agreement(false, &[(V4, true)]);
    n.peer_restart_time = 0;
    up(&mut helper, Some(n));
    assert_eq!(
        helper.handle(HelperEvent::SessionDown(Loss::TcpClosed)),
        vec![Flush(V4), Flush(V6)]
    );
}

#[test]
fn only_families_the_peer_listed_are_kept() {
    let mut helper = Helper::new(true, STALE);
    up(&mut helper, Some(agreement(false, &[(V6, true)])));
    let actions = helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    assert_eq!(actions, vec![Flush(V4), KeepStale(V6), restart_timer(2)]);
}

#[test]
fn restart_timer_expiry_flushes_the_stale_routes() {
    let mut helper = established(false);
    helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    let fired = HelperEvent::TimerExpired { timer: HelperTimer::Restart, token: 2 };
    assert_eq!(helper.handle(fired.clone()), vec![SweepStale(V4), SweepStale(V6)]);
    assert!(helper.stale_families().is_empty());
    assert!(helper.handle(fired).is_empty(), "a second expiry does nothing");
}

#[test]
fn peer_back_starts_the_stale_timer_then_end_of_rib_sweeps_per_family() {
    let mut helper = established(false);
    helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    let actions = up(&mut helper, Some(agreement(false, &[(V4, true), (V6, true)])));
    assert_eq!(actions, vec![stale_timer(4)]);
    assert!(!helper.is_restarting());
    // The old restart timer's expiry is ignored.
    let old = HelperEvent::TimerExpired { timer: HelperTimer::Restart, token: 2 };
    assert!(helper.handle(old).is_empty());
    assert_eq!(helper.handle(HelperEvent::EndOfRib(V4)), vec![SweepStale(V4)]);
    assert_eq!(helper.stale_families(), &[V6]);
    assert!(helper.handle(HelperEvent::EndOfRib(V4)).is_empty(), "already swept");
    assert_eq!(helper.handle(HelperEvent::EndOfRib(V6)), vec![SweepStale(V6)]);
    assert!(helper.stale_families().is_empty());
    let late = HelperEvent::TimerExpired { timer: HelperTimer::StaleRoutes, token: 4 };
    assert!(helper.handle(late).is_empty(), "the stale timer was stopped");
}

#[test]
fn stale_timer_expiry_sweeps_what_is_left() {
    let mut helper = established(false);
    helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    up(&mut helper, Some(agreement(false, &[(V4, true), (V6, true)])));
    helper.handle(HelperEvent::EndOfRib(V4));
    let fired = HelperEvent::TimerExpired { timer: HelperTimer::StaleRoutes, token: 4 };
    assert_eq!(helper.handle(fired), vec![SweepStale(V6)]);
}

#[test]
fn peer_back_without_f_bit_or_capability_sweeps_at_once() {
    let mut helper = established(false);
    helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    let actions = up(&mut helper, Some(agreement(false, &[(V4, false), (V6, true)])));
    assert_eq!(actions, vec![SweepStale(V4), stale_timer(4)]);

    let mut helper = established(false);
    helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    assert_eq!(up(&mut helper, None), vec![SweepStale(V4), SweepStale(V6)]);
    assert!(helper.stale_families().is_empty());
}

#[test]
fn losing_the_session_again_while_recovering_restarts_the_wait() {
    let mut helper = established(false);
    helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    up(&mut helper, Some(agreement(false, &[(V4, true), (V6, true)])));
    let actions = helper.handle(HelperEvent::SessionDown(Loss::TcpClosed));
    assert_eq!(actions, vec![KeepStale(V4), KeepStale(V6), restart_timer(6)]);
    assert!(helper.is_restarting());
}

#[test]
fn end_of_rib_in_normal_operation_does_nothing() {
    let mut helper = established(false);
    assert!(helper.handle(HelperEvent::EndOfRib(V4)).is_empty());
}

/// RFC 5882 §4.3: a BFD Down from a peer whose BFD is control-plane
/// independent (C bit set) means its forwarding failed: flush, never stale.
#[test]
fn bfd_down_with_the_c_bit_flushes_even_with_n() {
    let cease = Notification::new(crate::wire::NotificationKind::BfdDown, Vec::new());
    let reason = DownReason::NotificationSent(cease);
    let mut helper = established(true);
    let loss = Loss::of_bfd_down(&reason, true);
    assert_eq!(loss, Loss::HardReset);
    assert_eq!(helper.handle(HelperEvent::SessionDown(loss)), vec![Flush(V4), Flush(V6)]);
}

/// With the C bit clear BFD shares fate with the peer's control plane: the
/// loss is classified as any other, so with N negotiated the routes stay.
#[test]
fn bfd_down_without_the_c_bit_may_be_a_restart() {
    let cease = Notification::new(crate::wire::NotificationKind::BfdDown, Vec::new());
    let reason = DownReason::NotificationSent(cease);
    assert_eq!(Loss::of_bfd_down(&reason, false), Loss::Notification);
    let mut helper = established(true);
    let actions = helper.handle(HelperEvent::SessionDown(Loss::of_bfd_down(&reason, false)));
    assert!(actions.contains(&KeepStale(V4)) && actions.contains(&KeepStale(V6)), "{actions:?}");
}
