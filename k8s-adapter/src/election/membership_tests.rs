//! Lease membership tables: reading Leases, liveness at the boundary, deadlines, the
//! keeper's write budget.

use super::*;

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or_else(|e| panic!("{e}"))
}

fn ms(millis: i64) -> Timestamp {
    Timestamp::from_millisecond(millis).unwrap_or_else(|e| panic!("{e}"))
}

fn node_lease(node: &str, renewed: i64, seconds: i32, fallback: &[&str]) -> Lease {
    let timing = LeaseTiming {
        duration: Duration::from_secs(u64::try_from(seconds).unwrap_or(1)),
        renew_every: Duration::from_secs(1),
    };
    let mut spec = lease_spec(node, &timing, ts(0), ts(renewed));
    spec.lease_duration_seconds = Some(seconds);
    lease(node, "ironlb", spec, &fallback.iter().map(|p| (*p).to_owned()).collect())
}

#[test]
fn builder_fills_holder_durations_label_and_annotation() {
    let spec = lease_spec("n1", &LeaseTiming::default(), ts(100), ts(105));
    assert_eq!(spec.holder_identity.as_deref(), Some("n1"));
    assert_eq!(spec.lease_duration_seconds, Some(15));
    assert_eq!(spec.acquire_time, Some(MicroTime(ts(100))));
    assert_eq!(spec.renew_time, Some(MicroTime(ts(105))));
    let l = lease("n1", "ironlb", spec, &["b".to_owned(), "a".to_owned()].into());
    assert_eq!(l.metadata.name.as_deref(), Some("ironlb-speaker-n1"));
    assert_eq!(l.metadata.namespace.as_deref(), Some("ironlb"));
    let labels = l.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(LEASE_LABEL).map(String::as_str), Some(LEASE_LABEL_VALUE));
    let annotations = l.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get(FALLBACK_ANNOTATION).map(String::as_str), Some("a,b"));
    let view = LeaseView::from_lease(&l).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(view.fallback_pools, ["a".to_owned(), "b".to_owned()].into());
}

#[test]
fn long_node_names_give_valid_lease_names() {
    let node = "n".repeat(253);
    let name = lease_name(&node);
    assert_eq!(name.len(), 253);
    assert!(name.starts_with(LEASE_PREFIX));
    let dashed = format!("{}-{}", "a".repeat(237), "b".repeat(15));
    assert!(!lease_name(&dashed).ends_with('-'));
}

#[test]
fn unreadable_leases_are_refused_with_the_reason() {
    let good = node_lease("n1", 10, 15, &[]);
    let mut no_holder = good.clone();
    if let Some(s) = no_holder.spec.as_mut() {
        s.holder_identity = None;
    }
    let mut no_time = good.clone();
    if let Some(s) = no_time.spec.as_mut() {
        s.renew_time = None;
        s.acquire_time = None;
    }
    let mut acquire_only = good.clone();
    if let Some(s) = acquire_only.spec.as_mut() {
        s.renew_time = None;
    }
    let mut zero = good.clone();
    if let Some(s) = zero.spec.as_mut() {
        s.lease_duration_seconds = Some(0);
    }
    let name = || "ironlb-speaker-n1".to_owned();
    assert_eq!(LeaseView::from_lease(&no_holder), Err(LeaseError::NoHolder { lease: name() }));
    assert_eq!(LeaseView::from_lease(&no_time), Err(LeaseError::NoRenewTime { lease: name() }));
    assert_eq!(
        LeaseView::from_lease(&zero),
        Err(LeaseError::BadDuration { lease: name(), seconds: Some(0) })
    );
    let view = LeaseView::from_lease(&acquire_only).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(view.renewed, LeaseStamp(0), "acquireTime stands in for renewTime");
}

#[test]
fn live_until_renew_plus_duration_exclusive() {
    let views: Vec<LeaseView> = [node_lease("n1", 10, 15, &[]), node_lease("n2", 20, 15, &[])]
        .iter()
        .map(|l| LeaseView::from_lease(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let names = |now| live_nodes(&views, now).into_iter().collect::<Vec<_>>();
    assert_eq!(names(ts(24)), ["n1", "n2"]);
    assert_eq!(names(ms(24_999)), ["n1", "n2"]);
    assert_eq!(names(ts(25)), ["n2"], "expires at renew + duration");
    assert_eq!(names(ts(35)), Vec::<String>::new());
}

#[test]
fn tracker_reports_the_next_expiry_and_removal_is_immediate() {
    let mut tracker = MembershipTracker::new();
    for l in [node_lease("n1", 10, 15, &[]), node_lease("n2", 12, 15, &["fb"])] {
        tracker.apply(&l).unwrap_or_else(|e| panic!("{e}"));
    }
    let m = tracker.evaluate(ts(20));
    assert_eq!(m.live.keys().collect::<Vec<_>>(), ["n1", "n2"]);
    assert_eq!(m.live["n1"], LeaseStamp(10_000_000));
    assert_eq!(m.next_deadline, Some(ts(25)));
    assert_eq!(m.fallback.get("n2"), Some(&["fb".to_owned()].into()));
    // At the deadline n1 drops out and the next deadline is n2's.
    let m = tracker.evaluate(ts(25));
    assert_eq!(m.live.keys().collect::<Vec<_>>(), ["n2"]);
    assert_eq!(m.next_deadline, Some(ts(27)));
    // A renewal moves the deadline; a deletion removes at once.
    tracker.apply(&node_lease("n1", 24, 15, &[])).unwrap_or_else(|e| panic!("{e}"));
    assert!(tracker.evaluate(ts(25)).live.contains_key("n1"));
    tracker.remove("ironlb-speaker-n2");
    let m = tracker.evaluate(ts(25));
    assert_eq!(m.live.keys().collect::<Vec<_>>(), ["n1"]);
    assert_eq!(m.next_deadline, Some(ts(39)));
    assert_eq!(tracker.evaluate(ts(40)).next_deadline, None);
}

#[test]
fn tracker_keeps_the_accepted_view_when_an_update_is_unreadable() {
    let mut tracker = MembershipTracker::new();
    tracker.apply(&node_lease("n1", 10, 15, &[])).unwrap_or_else(|e| panic!("{e}"));
    let mut bad = node_lease("n1", 12, 15, &[]);
    if let Some(s) = bad.spec.as_mut() {
        s.lease_duration_seconds = None;
    }
    assert!(tracker.apply(&bad).is_err());
    assert_eq!(tracker.evaluate(ts(20)).live["n1"], LeaseStamp(10_000_000));
}

#[test]
fn timing_knobs_are_checked() {
    let s = Duration::from_secs;
    let t = |duration, renew_every| LeaseTiming { duration, renew_every };
    assert_eq!(LeaseTiming::default().validate(), Ok(()));
    assert_eq!(
        t(s(15), Duration::from_millis(500)).validate(),
        Err(TimingError::RenewTooFrequent(Duration::from_millis(500)))
    );
    assert_eq!(
        t(Duration::from_millis(15_500), s(5)).validate(),
        Err(TimingError::DurationNotSeconds(Duration::from_millis(15_500)))
    );
    assert_eq!(
        t(s(9), s(5)).validate(),
        Err(TimingError::DurationTooShort { duration: s(9), renew_every: s(5) })
    );
    assert!(LeaseKeeper::new("n1", "ironlb", t(s(9), s(5))).is_err());
}

fn renew_time(action: &LeaseAction) -> Timestamp {
    match action {
        LeaseAction::Apply(l) => {
            l.spec.as_ref().and_then(|s| s.renew_time.as_ref()).map(|t| t.0).unwrap_or_default()
        }
        LeaseAction::Delete { .. } => panic!("unexpected delete"),
    }
}

/// The keeper renews every 5 s, writes a change within a second, and never writes twice
/// within one second however often it is asked.
#[test]
fn keeper_respects_the_write_budget() {
    let mut keeper =
        LeaseKeeper::new("n1", "ironlb", LeaseTiming::default()).unwrap_or_else(|e| panic!("{e}"));
    let (first, next) = keeper.poll(ms(0));
    assert_eq!(first.as_ref().map(renew_time), Some(ms(0)), "creates at once");
    assert_eq!(next, Some(ms(5_000)));
    assert_eq!(keeper.poll(ms(4_999)).0, None);
    let (renewal, _) = keeper.poll(ms(5_000));
    assert_eq!(renewal.as_ref().map(renew_time), Some(ms(5_000)));
    // A fallback change 100 ms after a write waits for the gap.
    keeper.set_fallback(["fb".to_owned()].into());
    let (none, next) = keeper.poll(ms(5_100));
    assert_eq!((none, next), (None, Some(ms(6_000))));
    let (change, _) = keeper.poll(ms(6_000));
    let Some(LeaseAction::Apply(l)) = change else { panic!("expected a write") };
    let pools = l.metadata.annotations.unwrap_or_default();
    assert_eq!(pools.get(FALLBACK_ANNOTATION).map(String::as_str), Some("fb"));
    // Spam renew_soon every 10 ms for 10 s: at most one write per second.
    let mut writes = Vec::new();
    for step in 0..1_000 {
        let now = 6_000 + step * 10;
        keeper.renew_soon();
        if let (Some(a), _) = keeper.poll(ms(now)) {
            writes.push(renew_time(&a).as_millisecond());
        }
    }
    assert!(writes.windows(2).all(|w| w[1] - w[0] >= 1_000), "{writes:?}");
    assert_eq!(writes.len(), 9);
    // Clean stop: delete, then silence.
    assert_eq!(
        keeper.stop(),
        LeaseAction::Delete { namespace: "ironlb".into(), name: "ironlb-speaker-n1".into() }
    );
    assert_eq!(keeper.poll(ms(100_000)), (None, None));
}
