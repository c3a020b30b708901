//! The state file's record through a run, event by event.

use super::*;

fn previous(status: Status, graceful_restart: bool) -> StateRecord {
    StateRecord { status, established: true, graceful_restart, owners: vec!["k8s".into()] }
}

#[test]
fn a_first_start_without_graceful_restart_records_nothing() {
    let (mut recorder, startup, write) = Recorder::start(None, false);
    assert_eq!(startup, Startup::default());
    assert!(write.is_none() && !recorder.recording());
    assert!(recorder.established().is_none());
    assert!(recorder.set_owners(vec!["k8s".into()]).is_none());
    assert!(recorder.stopped(false).is_none());
}

#[test]
fn a_first_start_with_graceful_restart_records_running() {
    let (mut recorder, startup, write) = Recorder::start(None, true);
    assert!(!startup.restarted);
    let write = write.expect("first record");
    assert_eq!(write.status, Status::Running);
    assert!(write.graceful_restart && !write.established && write.owners.is_empty());
    assert!(recorder.established().is_some_and(|r| r.established));
    assert!(recorder.established().is_none(), "written once");
    assert!(!recorder.same_owners(["a", "b"].into_iter()));
    assert_eq!(recorder.set_owners(vec!["a".into(), "b".into()]).map(|r| r.owners.len()), Some(2));
    assert!(recorder.same_owners(["a", "b"].into_iter()));
    assert!(recorder.set_owners(vec!["a".into(), "b".into()]).is_none(), "unchanged");
    assert_eq!(recorder.stopped(true).map(|r| r.status), Some(Status::GracefulStop));
    assert_eq!(recorder.stopped(false).map(|r| r.status), Some(Status::Stopped));
}

#[test]
fn a_neighbor_enabled_later_starts_recording() {
    let (mut recorder, _, write) = Recorder::start(None, false);
    assert!(write.is_none());
    assert!(recorder.established().is_none(), "not recording yet, but noted");
    let write = recorder.neighbor_enabled().expect("recording starts");
    assert!(recorder.recording());
    assert!(write.graceful_restart && write.established, "the session already up counts");
    assert_eq!(write.status, Status::Running);
    assert!(recorder.neighbor_enabled().is_none(), "already recording");
    // The next start sees a restart if this run is killed now.
    assert!(write.is_restart());
}

#[test]
fn a_restart_is_recorded_as_still_restarting_until_it_completes() {
    let (mut recorder, startup, write) =
        Recorder::start(Some(previous(Status::Running, true)), false);
    assert!(startup.restarted);
    assert_eq!(startup.owners, vec!["k8s".to_owned()]);
    let write = write.expect("recording through the restart");
    assert!(write.is_restart(), "killed again now: still a restart");
    assert_eq!(write.owners, vec!["k8s".to_owned()]);
    // Completed without any neighbour with the role: no longer claimed.
    assert!(!recorder.restart_complete(false).expect("changed").graceful_restart);
    assert!(recorder.restart_complete(false).is_none());
    assert!(recorder.neighbor_enabled().is_some_and(|r| r.graceful_restart));
}

#[test]
fn only_a_previous_run_with_graceful_restart_established_and_no_cease_is_a_restart() {
    for (previous, restarted) in [
        (previous(Status::Running, true), true),
        (previous(Status::GracefulStop, true), true),
        (previous(Status::Stopped, true), false),
        (previous(Status::Running, false), false),
        (StateRecord { established: false, ..previous(Status::Running, true) }, false),
    ] {
        let (_, startup, _) = Recorder::start(Some(previous.clone()), true);
        assert_eq!(startup.restarted, restarted, "{previous:?}");
        if !restarted {
            assert!(startup.owners.is_empty());
        }
    }
}
