//! Layer2 as a fallback for BGP (issue 6, item 3): a pool announced with both BGP and
//! layer2, in fallback mode, is answered for on layer2 only by nodes whose BGP sessions for
//! the pool are all down. Such a node joins the pool's layer2 election; it leaves when a
//! session comes back.
//!
//! Joining is immediate (the address is unreachable through this node's BGP already);
//! leaving waits until a session has stayed Established for `up_hold`, so that a flapping
//! session does not move addresses (and rewrite the node's Lease) at every flap.
//! The decision is published in the node's Lease ([`super::membership`]) so every speaker
//! computes the same candidates ([`super::candidates::FallbackView`]).
//!
//! A node with no BGP peer for the pool counts as "all down": it cannot reach any router
//! for the pool, which is what fallback is for.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::config::selector::any_matches;
use crate::config::{Config, Pool};
use crate::speaker::{NodeView, node_peers};

/// The `BGPPeer`s this node announces `pool`'s addresses to: those of every
/// `BGPAdvertisement` that selects the pool and the node (all the node's peers when the
/// advertisement names none).
pub fn pool_peers<'a>(config: &'a Config, node: &'a NodeView, pool: &Pool) -> BTreeSet<&'a str> {
    let mine: Vec<&str> = node_peers(config, node).map(|p| p.name.as_str()).collect();
    let mut out = BTreeSet::new();
    for adv in config
        .bgp_advertisements
        .iter()
        .filter(|a| a.pools.selects(pool) && any_matches(&a.node_selectors, &node.labels))
    {
        out.extend(
            mine.iter().filter(|p| adv.peers.is_empty() || adv.peers.iter().any(|n| n == *p)),
        );
    }
    out
}

/// The pools in fallback mode: selected by an `L2Advertisement` with `bgpFallback: true`
/// and by some `BGPAdvertisement` (a pool no BGP advertisement selects has nothing to fall
/// back from: its layer2 election is the ordinary one).
pub fn fallback_pools(config: &Config) -> BTreeSet<String> {
    config
        .pools
        .values()
        .filter(|pool| {
            config.l2_advertisements.iter().any(|a| a.bgp_fallback && a.pools.selects(pool))
                && config.bgp_advertisements.iter().any(|a| a.pools.selects(pool))
        })
        .map(|pool| pool.name.clone())
        .collect()
}

/// Whether to be in a fallback pool's layer2 election, and when to ask again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub join: bool,
    /// When a session's hold ends and the answer may change (arm a timer).
    pub recheck_at: Option<Instant>,
}

/// Decides for one pool from its peers' sessions: `None` for a session that is not
/// Established, `Some(since)` for one Established since `since`.
///
/// All down (or no peers) → join. Any session up for at least `up_hold` → leave. A
/// session up for less: stay as we were (`joined`), and recheck when its hold ends.
pub fn decide(
    sessions: impl IntoIterator<Item = Option<Instant>>,
    joined: bool,
    now: Instant,
    up_hold: Duration,
) -> Decision {
    let mut any_up = false;
    let mut earliest_hold_end: Option<Instant> = None;
    for since in sessions.into_iter().flatten() {
        any_up = true;
        let hold_end = since + up_hold;
        if hold_end <= now {
            return Decision { join: false, recheck_at: None };
        }
        earliest_hold_end = Some(earliest_hold_end.map_or(hold_end, |e| e.min(hold_end)));
    }
    if !any_up {
        return Decision { join: true, recheck_at: None };
    }
    Decision { join: joined, recheck_at: earliest_hold_end }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Resources, build, crd};

    fn selector(key: &str, value: &str) -> crd::LabelSelector {
        crd::LabelSelector {
            match_labels: [(key.to_owned(), value.to_owned())].into(),
            ..Default::default()
        }
    }

    /// Pool `fb`; peers `tor-a` (every node), `tor-b` (rack=b); advertisement `to-a` of
    /// fb to tor-a only, `from-edge` of fb from zone=edge nodes to all their peers.
    fn config() -> Config {
        let peer = crd::test_peer;
        let adv = |name: &str, peers: Vec<String>, selectors| {
            crd::BgpAdvertisement::new(
                name,
                crd::BgpAdvertisementSpec {
                    ip_address_pools: vec!["fb".into()],
                    node_selectors: selectors,
                    peers,
                    ..Default::default()
                },
            )
        };
        let built = build(&Resources {
            pools: vec![crd::IpAddressPool::new(
                "fb",
                crd::IpAddressPoolSpec {
                    addresses: vec!["198.51.100.0/24".into()],
                    ..Default::default()
                },
            )],
            peers: vec![
                peer("tor-a", "192.0.2.1", vec![]),
                peer("tor-b", "192.0.2.2", vec![selector("rack", "b")]),
            ],
            bgp_advertisements: vec![
                adv("to-a", vec!["tor-a".into()], vec![]),
                adv("from-edge", vec![], vec![selector("zone", "edge")]),
            ],
            ..Default::default()
        });
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        built.config
    }

    #[test]
    fn fallback_pools_need_the_switch_and_a_bgp_advertisement() {
        let pool = |name: &str, addresses: &str| {
            crd::IpAddressPool::new(
                name,
                crd::IpAddressPoolSpec { addresses: vec![addresses.into()], ..Default::default() },
            )
        };
        let l2 = |name: &str, pool: &str, fallback: bool| {
            crd::L2Advertisement::new(
                name,
                crd::L2AdvertisementSpec {
                    ip_address_pools: vec![pool.into()],
                    bgp_fallback: fallback,
                    ..Default::default()
                },
            )
        };
        let bgp = |name: &str, pool: &str| {
            crd::BgpAdvertisement::new(
                name,
                crd::BgpAdvertisementSpec {
                    ip_address_pools: vec![pool.into()],
                    ..Default::default()
                },
            )
        };
        let built = build(&Resources {
            pools: vec![
                pool("both", "198.51.100.0/28"),
                pool("plain", "198.51.100.16/28"),
                pool("l2only", "198.51.100.32/28"),
            ],
            l2_advertisements: vec![
                l2("fb", "both", true),
                l2("plain", "plain", false),
                l2("lonely", "l2only", true),
            ],
            bgp_advertisements: vec![bgp("both", "both"), bgp("plain", "plain")],
            ..Default::default()
        });
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        let got: Vec<String> = fallback_pools(&built.config).into_iter().collect();
        assert_eq!(got, ["both"], "switch set and announced with BGP too");
    }

    #[test]
    fn pool_peers_follow_advertisements_and_node_selectors() {
        let config = config();
        let Some(pool) = config.pools.get("fb") else { panic!("no pool") };
        let node = |labels: &[(&str, &str)]| NodeView {
            name: "n".into(),
            labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            network_unavailable: false,
            addresses: Vec::new(),
            ..NodeView::default()
        };
        type Labels<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Labels, &[&str]); 4] = [
            (&[], &["tor-a"]),
            (&[("rack", "b")], &["tor-a"]),
            (&[("zone", "edge")], &["tor-a"]),
            (&[("zone", "edge"), ("rack", "b")], &["tor-a", "tor-b"]),
        ];
        for (labels, want) in cases {
            let n = node(labels);
            let got: Vec<&str> = pool_peers(&config, &n, pool).into_iter().collect();
            assert_eq!(got, want, "{labels:?}");
        }
    }

    const HOLD: Duration = Duration::from_secs(5);

    /// Sessions' up-since (None: down), joined before, now, want join, want recheck.
    type Case = (&'static [Option<u64>], bool, u64, bool, Option<u64>);

    #[test]
    fn join_when_all_down_leave_when_one_is_up_for_the_hold() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let cases: [Case; 8] = [
            (&[None, None], false, 10, true, None),
            (&[], false, 10, true, None),
            (&[None, Some(0)], true, 10, false, None),
            (&[Some(0), Some(8)], true, 10, false, None),
            // Up for 2 s only: stay joined until the hold ends at 13.
            (&[None, Some(8)], true, 10, true, Some(13)),
            // Not joined and a session is coming up: stay out.
            (&[Some(8)], false, 10, false, Some(13)),
            // Two young sessions: recheck at the earlier hold end.
            (&[Some(9), Some(7)], true, 10, true, Some(12)),
            // Exactly at the hold end counts as up.
            (&[Some(5)], true, 10, false, None),
        ];
        for (i, (sessions, joined, now, join, recheck)) in cases.into_iter().enumerate() {
            let got =
                decide(sessions.iter().map(|o| o.map(|at| t0 + s(at))), joined, t0 + s(now), HOLD);
            assert_eq!(got.join, join, "case {i}");
            assert_eq!(got.recheck_at, recheck.map(|at| t0 + s(at)), "case {i}");
        }
    }
}
