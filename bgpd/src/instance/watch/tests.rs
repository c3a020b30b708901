use std::net::Ipv4Addr;

use super::*;
use crate::rib::{LocalInfo, OwnerId};
use crate::wire::PathAttributes;

fn rib() -> Rib {
    Rib::new(LocalInfo { asn: 65001, router_id: Ipv4Addr::new(192, 0, 2, 1) })
}

fn unknown(_: Source) -> PathSource {
    PathSource::Unknown
}

const OWNER: Source = Source::Api(OwnerId(1));

fn add(rib: &mut Rib, index: u32) {
    let prefix = IpNet::V4(
        ipnet::Ipv4Net::new(Ipv4Addr::from(0xC612_0000 + index), 32).expect("valid length"),
    );
    rib.originate(OWNER, prefix, PathAttributes::default(), None).expect("originate");
}

fn filter() -> WatchFilter {
    WatchFilter { peers: false, best_paths: true, family: None }
}

/// Receives everything queued, answering chunk ends like the stream does.
fn drain(
    watchers: &mut Watchers,
    rib: &Rib,
    receiver: &mut mpsc::Receiver<WatchItem>,
) -> Vec<(u64, bool, WatchKind)> {
    let mut seen = Vec::new();
    while let Ok(item) = receiver.try_recv() {
        match item {
            WatchItem::ChunkEnd(id) => watchers.more(id, rib, &unknown),
            WatchItem::Event { sequence, snapshot, kind } => seen.push((sequence, snapshot, kind)),
        }
    }
    seen
}

fn prefix_of(kind: &WatchKind) -> Option<IpNet> {
    match kind {
        WatchKind::Best { route, .. } => Some(route.prefix),
        WatchKind::Withdrawn(prefix) => Some(*prefix),
        _ => None,
    }
}

#[test]
fn snapshot_comes_in_chunks_then_done() {
    let mut rib = rib();
    for index in 0..(SNAPSHOT_CHUNK as u32 * 2 + 5) {
        add(&mut rib, index);
    }
    let mut watchers = Watchers::default();
    let (sender, mut receiver) = mpsc::channel(4 * SNAPSHOT_CHUNK);
    let (end, _ended) = oneshot::channel();
    rib.track_changes(true);
    watchers.add(filter(), sender, end, std::iter::empty(), &rib, &unknown);
    let seen = drain(&mut watchers, &rib, &mut receiver);
    assert_eq!(seen.len(), SNAPSHOT_CHUNK * 2 + 5 + 1);
    assert!(seen.iter().all(|(sequence, snapshot, _)| *sequence == 0 && *snapshot));
    assert_eq!(seen.last().map(|s| &s.2), Some(&WatchKind::SnapshotDone));
}

#[test]
fn changes_during_the_walk_report_each_prefix_once_as_of_the_snapshot() {
    let mut rib = rib();
    let total = SNAPSHOT_CHUNK as u32 * 3;
    for index in 0..total {
        add(&mut rib, index);
    }
    let mut watchers = Watchers::default();
    let (sender, mut receiver) = mpsc::channel(8 * SNAPSHOT_CHUNK);
    let (end, _ended) = oneshot::channel();
    rib.track_changes(true);
    watchers.add(filter(), sender, end, std::iter::empty(), &rib, &unknown);
    // First chunk sent; now change prefixes behind and ahead of the cursor,
    // and add new ones.
    let last =
        IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0xC612_0000 + total - 1), 32).expect("valid"));
    rib.withdraw_local(OWNER, last).expect("withdraw");
    add(&mut rib, total);
    let first = IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0xC612_0000), 32).expect("valid"));
    rib.withdraw_local(OWNER, first).expect("withdraw");
    watchers.best_changes(rib.drain_changes(), &unknown);
    let seen = drain(&mut watchers, &rib, &mut receiver);

    let snapshot: Vec<IpNet> =
        seen.iter().filter(|s| s.1).filter_map(|s| prefix_of(&s.2)).collect();
    let unique: HashSet<IpNet> = snapshot.iter().copied().collect();
    assert_eq!(snapshot.len(), unique.len(), "no prefix twice in the snapshot");
    assert_eq!(snapshot.len(), total as usize, "the snapshot is the state at S");
    assert!(unique.contains(&last) && unique.contains(&first));
    let done = seen.iter().position(|s| s.2 == WatchKind::SnapshotDone).expect("done");
    let live = &seen[done + 1..];
    assert_eq!(live.len(), 3);
    assert_eq!(live.iter().map(|s| s.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(live[0].2, WatchKind::Withdrawn(last));
    assert_eq!(live[2].2, WatchKind::Withdrawn(first));
}

#[test]
fn a_full_watcher_is_dropped_with_overflow() {
    let mut rib = rib();
    let mut watchers = Watchers::default();
    let (sender, _receiver) = mpsc::channel(2);
    let (end, mut ended) = oneshot::channel();
    rib.track_changes(true);
    watchers.add(filter(), sender, end, std::iter::empty(), &rib, &unknown);
    for index in 0..4 {
        add(&mut rib, index);
    }
    watchers.best_changes(rib.drain_changes(), &unknown);
    assert!(watchers.is_empty());
    assert_eq!(ended.try_recv(), Ok(WatchEnd::Overflow { behind: 2 }));
}

#[test]
fn the_family_filter_leaves_holes_in_the_sequence() {
    let mut rib = rib();
    let mut watchers = Watchers::default();
    let (sender, mut receiver) = mpsc::channel(64);
    let (end, _ended) = oneshot::channel();
    rib.track_changes(true);
    let v6_only = WatchFilter { family: Some(Family::Ipv6Unicast), ..filter() };
    watchers.add(v6_only, sender, end, std::iter::empty(), &rib, &unknown);
    add(&mut rib, 1);
    let v6: IpNet = "2001:db8::/48".parse().expect("literal");
    rib.originate(OWNER, v6, PathAttributes::default(), None).expect("originate");
    watchers.best_changes(rib.drain_changes(), &unknown);
    let seen = drain(&mut watchers, &rib, &mut receiver);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].0, 2);
    assert_eq!(prefix_of(&seen[1].2), Some(v6));
}

#[test]
fn a_watcher_that_left_mid_snapshot_is_dropped_on_the_next_change() {
    let mut rib = rib();
    for index in 0..(SNAPSHOT_CHUNK as u32 * 2) {
        add(&mut rib, index);
    }
    let mut watchers = Watchers::default();
    let (sender, receiver) = mpsc::channel(4 * SNAPSHOT_CHUNK);
    let (end, _ended) = oneshot::channel();
    rib.track_changes(true);
    watchers.add(filter(), sender, end, std::iter::empty(), &rib, &unknown);
    drop(receiver);
    add(&mut rib, 99_999);
    watchers.best_changes(rib.drain_changes(), &unknown);
    assert!(watchers.is_empty());
}

#[test]
fn lag_counts_what_waits_for_each_watcher() {
    let mut rib = rib();
    let mut watchers = Watchers::default();
    let (sender, mut receiver) = mpsc::channel(16);
    let (end, _ended) = oneshot::channel();
    rib.track_changes(true);
    watchers.add(filter(), sender, end, std::iter::empty(), &rib, &unknown);
    drain(&mut watchers, &rib, &mut receiver);
    assert_eq!(watchers.lags().iter().map(|&(_, lag)| lag).collect::<Vec<_>>(), [0]);
    for index in 0..3 {
        add(&mut rib, index);
    }
    watchers.best_changes(rib.drain_changes(), &unknown);
    assert_eq!(watchers.lags().iter().map(|&(_, lag)| lag).collect::<Vec<_>>(), [3]);
    drain(&mut watchers, &rib, &mut receiver);
    assert_eq!(watchers.lags().iter().map(|&(_, lag)| lag).collect::<Vec<_>>(), [0]);
}
