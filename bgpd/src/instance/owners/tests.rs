use std::net::Ipv4Addr;

use super::*;
use crate::wire::{NextHop, PathAttributes};

/// A fixed origin for time: only differences from it matter.
fn t0() -> Instant {
    Instant::now()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn path(prefix: &str, med: u32) -> ValidatedPath {
    let prefix: IpNet = prefix.parse().expect("prefix");
    ValidatedPath {
        family: crate::wire::Family::of(&prefix),
        prefix,
        next_hop: Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))),
        attributes: PathAttributes { med: Some(med), ..PathAttributes::default() }.into(),
        peers: Vec::new(),
    }
}

fn key(prefix: &str) -> PathKey {
    let prefix: IpNet = prefix.parse().expect("prefix");
    (crate::wire::Family::of(&prefix), prefix)
}

fn prefixes(paths: &[ValidatedPath]) -> Vec<String> {
    paths.iter().map(|p| p.prefix.to_string()).collect()
}

#[test]
fn set_paths_reports_only_the_difference() {
    let mut owners = Owners::new();
    let diff =
        owners.set_paths("a", vec![path("198.51.100.1/32", 0), path("198.51.100.2/32", 0)], None);
    assert_eq!(prefixes(&diff.added), ["198.51.100.1/32", "198.51.100.2/32"]);
    assert!(diff.changed.is_empty() && diff.withdrawn.is_empty());

    let diff =
        owners.set_paths("a", vec![path("198.51.100.2/32", 5), path("198.51.100.3/32", 0)], None);
    assert_eq!(prefixes(&diff.added), ["198.51.100.3/32"]);
    assert_eq!(prefixes(&diff.changed), ["198.51.100.2/32"]);
    assert_eq!(diff.changed[0].attributes.med, Some(5));
    assert_eq!(diff.withdrawn, vec![key("198.51.100.1/32")]);
    assert_eq!(owners.paths("a").count(), 2);
}

#[test]
fn set_paths_is_idempotent() {
    let mut owners = Owners::new();
    let set = vec![path("198.51.100.1/32", 0), path("2001:db8::/48", 1)];
    assert!(!owners.set_paths("a", set.clone(), None).is_empty());
    let again = owners.set_paths("a", set.clone(), None);
    assert!(again.is_empty(), "{again:?}");
    // Order in the request does not matter.
    let reversed: Vec<ValidatedPath> = set.into_iter().rev().collect();
    assert!(owners.set_paths("a", reversed, None).is_empty());
}

#[test]
fn owners_are_independent() {
    let mut owners = Owners::new();
    owners.set_paths("a", vec![path("198.51.100.1/32", 0)], None);
    let diff = owners.set_paths("b", vec![path("198.51.100.1/32", 9)], None);
    assert_eq!(prefixes(&diff.added), ["198.51.100.1/32"]);
    let diff = owners.set_paths("b", Vec::new(), None);
    assert_eq!(diff.withdrawn, vec![key("198.51.100.1/32")]);
    assert_eq!(owners.paths("a").count(), 1, "b's withdraw leaves a alone");
    assert!(owners.owner("b").is_none(), "an empty unleased owner is forgotten");
}

#[test]
fn add_and_delete_paths_have_per_path_outcomes() {
    let mut owners = Owners::new();
    let batch = owners.add_paths("a", vec![path("198.51.100.1/32", 0), path("198.51.100.2/32", 0)]);
    assert_eq!(batch.outcomes, [AddOutcome::Added, AddOutcome::Added]);
    assert!(!batch.held);
    let batch = owners.add_paths("a", vec![path("198.51.100.1/32", 0), path("198.51.100.2/32", 7)]);
    assert_eq!(batch.outcomes, [AddOutcome::Unchanged, AddOutcome::Changed]);

    let batch = owners.delete_paths("a", &[key("198.51.100.1/32"), key("203.0.113.0/24")]);
    assert_eq!(batch.outcomes, [DeleteOutcome::Withdrawn, DeleteOutcome::NotFound]);
    let batch = owners.delete_paths("nobody", &[key("198.51.100.2/32")]);
    assert_eq!(batch.outcomes, [DeleteOutcome::NotFound]);
    assert_eq!(owners.paths("a").map(|p| p.attributes.med).collect::<Vec<_>>(), [Some(7)]);
}

#[test]
fn paths_outlive_a_lapsed_session_for_the_grace_time() {
    let start = t0();
    let mut owners = Owners::new();
    let attached = owners.attach("a", Some(secs(30)));
    assert!(!attached.reclaimed);
    assert_eq!(attached.grace_time, secs(30));
    owners.set_paths("a", vec![path("198.51.100.1/32", 0)], None);
    assert_eq!(owners.next_deadline(), None, "attached owners need no timer");

    let deadline = owners.detach("a", attached.session, start).expect("current session");
    assert_eq!(deadline, start + secs(30));
    assert_eq!(owners.next_deadline(), Some(deadline));
    assert_eq!(owners.owner("a").map(|o| o.lease), Some(Lease::Detached { deadline }));

    assert_eq!(owners.expire(start + secs(29)), Expiry::default(), "still within grace");
    assert_eq!(owners.paths("a").count(), 1);

    let expiry = owners.expire(start + secs(30));
    assert_eq!(
        expiry.withdrawn,
        vec![Withdrawal { owner: "a".into(), key: key("198.51.100.1/32") }]
    );
    assert_eq!(expiry.expired, ["a"]);
    assert!(owners.owner("a").is_none());
    assert_eq!(owners.next_deadline(), None);
}

#[test]
fn default_grace_time_is_120_seconds() {
    let start = t0();
    let mut owners = Owners::new();
    let attached = owners.attach("a", None);
    assert_eq!(attached.grace_time, secs(120));
    assert_eq!(owners.detach("a", attached.session, start), Some(start + secs(120)));
}

#[test]
fn reclaim_within_grace_withdraws_nothing() {
    let start = t0();
    let mut owners = Owners::new();
    let first = owners.attach("a", None);
    let set = vec![path("198.51.100.1/32", 0), path("198.51.100.2/32", 0)];
    owners.set_paths("a", set.clone(), None);
    owners.detach("a", first.session, start);

    let second = owners.attach("a", None);
    assert!(second.reclaimed);
    assert_eq!(second.path_count, 2);
    assert_ne!(second.session, first.session);
    assert_eq!(owners.next_deadline(), None, "the grace timer is cancelled");

    // The owner re-syncs with the same set: no UPDATE at all.
    assert!(owners.set_paths("a", set, None).is_empty());
    // Long after the old deadline nothing expires.
    assert_eq!(owners.expire(start + secs(1000)), Expiry::default());
    assert_eq!(owners.paths("a").count(), 2);
}

#[test]
fn a_new_session_takes_over_and_the_old_one_cannot_detach() {
    let start = t0();
    let mut owners = Owners::new();
    let old = owners.attach("a", None);
    let new = owners.attach("a", None);
    assert_eq!(new.replaced, Some(old.session));
    assert!(!new.reclaimed);
    assert_eq!(owners.detach("a", old.session, start), None, "a stale session is ignored");
    assert_eq!(owners.owner("a").map(|o| o.lease), Some(Lease::Attached(new.session)));
    assert_eq!(owners.detach("unknown", new.session, start), None);
}

#[test]
fn zero_grace_expires_at_once() {
    let start = t0();
    let mut owners = Owners::new();
    let attached = owners.attach("a", Some(Duration::ZERO));
    owners.add_paths("a", vec![path("198.51.100.1/32", 0)]);
    owners.detach("a", attached.session, start);
    assert_eq!(owners.next_deadline(), Some(start));
    assert_eq!(owners.expire(start).withdrawn.len(), 1);
}

#[test]
fn set_paths_can_change_the_grace_time() {
    let start = t0();
    let mut owners = Owners::new();
    let attached = owners.attach("a", None);
    owners.set_paths("a", vec![path("198.51.100.1/32", 0)], Some(secs(5)));
    assert_eq!(owners.owner("a").map(|o| o.grace_time), Some(secs(5)));
    assert_eq!(owners.detach("a", attached.session, start), Some(start + secs(5)));
}

#[test]
fn next_deadline_is_the_earliest() {
    let start = t0();
    let mut owners = Owners::new();
    let a = owners.attach("a", Some(secs(50)));
    let b = owners.attach("b", Some(secs(10)));
    owners.add_paths("a", vec![path("198.51.100.1/32", 0)]);
    owners.add_paths("b", vec![path("198.51.100.2/32", 0)]);
    owners.detach("a", a.session, start);
    owners.detach("b", b.session, start + secs(1));
    assert_eq!(owners.next_deadline(), Some(start + secs(11)));
    let expiry = owners.expire(start + secs(11));
    assert_eq!(expiry.expired, ["b"]);
    assert_eq!(owners.next_deadline(), Some(start + secs(50)));
}

#[test]
fn unleased_owners_never_expire() {
    let start = t0();
    let mut owners = Owners::new();
    owners.set_paths("bgpctl", vec![path("198.51.100.1/32", 0)], None);
    assert_eq!(owners.owner("bgpctl").map(|o| o.lease), Some(Lease::Unleased));
    assert_eq!(owners.next_deadline(), None);
    assert_eq!(owners.expire(start + secs(1_000_000)), Expiry::default());
    assert_eq!(owners.paths("bgpctl").count(), 1);
}

#[test]
fn resync_holds_paths_until_the_owner_sets_them() {
    let start = t0();
    let mut owners = Owners::new();
    owners.require_resync(["a", "b"], start + secs(60));
    assert!(owners.resync_pending());
    assert_eq!(owners.next_deadline(), Some(start + secs(60)));

    let attached = owners.attach("a", None);
    assert!(attached.resync_required);
    // A batch before the re-sync is stored but held back.
    let batch = owners.add_paths("a", vec![path("198.51.100.9/32", 0)]);
    assert!(batch.held);

    // The re-sync: everything in the set is announced, nothing withdrawn
    // (the held path was never announced).
    let diff = owners.set_paths("a", vec![path("198.51.100.1/32", 0)], None);
    assert_eq!(prefixes(&diff.added), ["198.51.100.1/32"]);
    assert!(diff.withdrawn.is_empty() && diff.changed.is_empty());
    assert!(owners.resync_pending(), "b has not re-synced yet");
    assert!(!owners.add_paths("a", vec![path("198.51.100.2/32", 0)]).held);

    owners.set_paths("b", Vec::new(), None);
    assert!(!owners.resync_pending(), "End-of-RIB may go now");
    assert_eq!(owners.next_deadline(), None);
    assert!(owners.owner("b").is_none(), "b set nothing and holds no lease");
}

#[test]
fn resync_deadline_releases_held_paths() {
    let start = t0();
    let mut owners = Owners::new();
    owners.require_resync(["a", "quiet"], start + secs(60));
    owners.add_paths("a", vec![path("198.51.100.1/32", 0)]);
    assert_eq!(owners.expire(start + secs(59)), Expiry::default());

    let expiry = owners.expire(start + secs(60));
    assert_eq!(expiry.released.len(), 1);
    assert_eq!(expiry.released[0].0, "a");
    assert!(expiry.withdrawn.is_empty());
    assert!(!owners.resync_pending());
    assert!(owners.owner("quiet").is_none(), "an owner that never came back is dropped");
    assert_eq!(owners.owner("a").map(|o| o.resync_required), Some(false));
}

#[test]
fn a_held_owner_that_expires_withdraws_nothing() {
    let start = t0();
    let mut owners = Owners::new();
    owners.require_resync(["a"], start + secs(600));
    let attached = owners.attach("a", Some(secs(5)));
    owners.add_paths("a", vec![path("198.51.100.1/32", 0)]);
    owners.detach("a", attached.session, start);
    let expiry = owners.expire(start + secs(5));
    assert_eq!(expiry.expired, ["a"]);
    assert!(expiry.withdrawn.is_empty(), "held paths were never announced");
    assert!(!owners.resync_pending());
}

#[test]
fn listing_owners() {
    let mut owners = Owners::new();
    owners.set_paths("b", vec![path("198.51.100.1/32", 0)], None);
    owners.attach("a", Some(secs(7)));
    let names: Vec<&str> = owners.owners().map(|o| o.name).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(owners.len(), 2);
    let a = owners.owner("a").expect("a");
    assert_eq!((a.path_count, a.grace_time), (0, secs(7)));
}

#[test]
fn set_paths_while_detached_keeps_the_grace_timer() {
    let start = t0();
    let mut owners = Owners::new();
    let attached = owners.attach("a", Some(secs(10)));
    owners.set_paths("a", vec![path("198.51.100.1/32", 0)], None);
    let deadline = owners.detach("a", attached.session, start).expect("current session");
    // Without a Session the owner has not come back: the paths change but the
    // lease stays lapsed.
    let diff = owners.set_paths("a", vec![path("198.51.100.2/32", 0)], None);
    assert_eq!(prefixes(&diff.added), ["198.51.100.2/32"]);
    assert_eq!(owners.owner("a").map(|o| o.lease), Some(Lease::Detached { deadline }));
    let expiry = owners.expire(deadline);
    assert_eq!(
        expiry.withdrawn,
        vec![Withdrawal { owner: "a".into(), key: key("198.51.100.2/32") }]
    );
}

mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// Sets of up to 40 paths over 64 possible /32s with a few attribute values.
    fn path_set() -> impl Strategy<Value = Vec<ValidatedPath>> {
        proptest::collection::btree_map(0u8..64, 0u32..3, 0..40).prop_map(|entries| {
            entries
                .into_iter()
                .map(|(host, med)| path(&format!("198.51.100.{host}/32"), med))
                .collect()
        })
    }

    proptest! {
        /// Applying the diff of `old → new` to `old` gives `new`, and setting
        /// `new` again changes nothing.
        #[test]
        fn diff_transforms_old_into_new(old in path_set(), new in path_set()) {
            let mut owners = Owners::new();
            owners.set_paths("a", old.clone(), None);
            let diff = owners.set_paths("a", new.clone(), None);

            let mut state: BTreeMap<PathKey, ValidatedPath> =
                old.into_iter().map(|p| (p.key(), p)).collect();
            for key in &diff.withdrawn {
                prop_assert!(state.remove(key).is_some(), "withdrew a path not held");
            }
            for added in &diff.added {
                prop_assert!(state.insert(added.key(), added.clone()).is_none(), "added a held path");
            }
            for changed in &diff.changed {
                let before = state.insert(changed.key(), changed.clone());
                prop_assert!(before.is_some_and(|b| b != *changed), "changed nothing");
            }
            let expected: BTreeMap<PathKey, ValidatedPath> =
                new.iter().cloned().map(|p| (p.key(), p)).collect();
            prop_assert_eq!(&state, &expected);
            prop_assert!(owners.set_paths("a", new, None).is_empty());
        }
    }
}

#[test]
fn layer2_grace_runs_apart_from_the_paths_grace() {
    let start = t0();
    let mut owners = Owners::new();
    let first = owners.attach("a", Some(secs(60)));
    owners.set_layer2_grace("a", secs(2));
    owners.add_paths("a", vec![path("198.51.100.1/32", 0)]);
    owners.detach("a", first.session, start);
    assert_eq!(owners.next_deadline(), Some(start + secs(2)), "layer2 first");
    let expiry = owners.expire(start + secs(2));
    assert_eq!(expiry.layer2_dropped, ["a"]);
    assert!(expiry.withdrawn.is_empty() && expiry.expired.is_empty(), "paths stay");
    assert_eq!(owners.next_deadline(), Some(start + secs(60)));

    // Back within the grace: attached again, no layer2 deadline left; a later lapse arms
    // a fresh one.
    let again = owners.attach("a", None);
    assert!(again.reclaimed);
    assert_eq!(again.layer2_grace_time, Some(secs(2)));
    assert_eq!(owners.next_deadline(), None);
    owners.detach("a", again.session, start + secs(10));
    assert_eq!(owners.next_deadline(), Some(start + secs(12)));
}

#[test]
fn a_layer2_grace_past_the_paths_grace_ends_with_the_owner() {
    let start = t0();
    let mut owners = Owners::new();
    let attached = owners.attach("a", Some(secs(5)));
    owners.set_layer2_grace("a", secs(50));
    owners.detach("a", attached.session, start);
    assert_eq!(owners.next_deadline(), Some(start + secs(5)));
    let expiry = owners.expire(start + secs(5));
    assert_eq!(expiry.expired, ["a"], "everything goes with the owner");
    assert!(expiry.layer2_dropped.is_empty());
}

#[test]
fn owners_attached_without_a_layer2_grace_keep_the_old_rule() {
    // Direct users of `attach` (no Session open) keep layer2 for the paths' grace.
    let start = t0();
    let mut owners = Owners::new();
    let attached = owners.attach("a", Some(secs(5)));
    assert_eq!(attached.layer2_grace_time, None);
    owners.detach("a", attached.session, start);
    assert_eq!(owners.next_deadline(), Some(start + secs(5)));
    assert!(owners.expire(start + secs(4)).layer2_dropped.is_empty());
}
