//! Election order tables: MetalLB's hash, agreement between views, minimal movement.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const NODES: [&str; 4] = ["node-a", "node-b", "node-c", "node-d"];

#[test]
fn hashed_text_is_gos_ip_string() {
    let cases = [
        ("192.0.2.10", "192.0.2.10"),
        ("::ffff:192.0.2.10", "192.0.2.10"),
        ("2001:db8::10", "2001:db8::10"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0db8:0000:0000:0000:0000:0000:00ff", "2001:db8::ff"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
    ];
    for (input, want) in cases {
        let mut buf = [0; 39];
        assert_eq!(go_ip_text(ip(input), &mut buf), want.as_bytes(), "{input}");
    }
}

/// Digests and orders computed independently (Python's hashlib over the same text), so the
/// order agrees with MetalLB's `sort.Slice` on `sha256.Sum256(node + "#" + ip)`.
#[test]
fn order_is_metallbs() {
    let cases = [
        (
            "192.0.2.10",
            ["node-d", "node-c", "node-b", "node-a"],
            "1e377524e6a504eb800c63f4de322b58b66f804f8da7b72f8fe52e9d89594adc",
        ),
        (
            "2001:db8::10",
            ["node-b", "node-a", "node-c", "node-d"],
            "21d5668f18c03bbe00f394da685dde376e0293fd36d5320ac575f592bd70c06b",
        ),
        (
            "203.0.113.7",
            ["node-d", "node-c", "node-a", "node-b"],
            "537c92884d181e5eb8a40f4c3cdafdada54477cced46ac57c3f193a429282026",
        ),
    ];
    for (key, want, digest) in cases {
        assert_eq!(ordered(ip(key), NODES), want, "{key}");
        assert_eq!(elect(ip(key), NODES), Some(want[0]), "{key}");
        assert_eq!(hex(&rank(want[0], key.as_bytes())), digest, "{key}");
    }
    assert_eq!(elect(ip("192.0.2.10"), []), None);
}

/// Every speaker sees the candidates in its own order (informer caches are unordered); the
/// winner must not depend on it.
#[test]
fn every_view_elects_the_same_winner() {
    let views: [[&str; 4]; 4] = [
        ["node-a", "node-b", "node-c", "node-d"],
        ["node-d", "node-c", "node-b", "node-a"],
        ["node-b", "node-d", "node-a", "node-c"],
        ["node-c", "node-a", "node-d", "node-b"],
    ];
    for n in 0..=255u8 {
        let key = IpAddr::from([198, 51, 100, n]);
        let winners: BTreeSet<_> = views.iter().map(|v| elect(key, v.iter().copied())).collect();
        assert_eq!(winners.len(), 1, "{key}: {winners:?}");
    }
}

fn table(count: u8, nodes: &[&str]) -> BTreeMap<IpAddr, AddressCandidates> {
    (0..count)
        .map(|n| {
            let address = IpAddr::from([203, 0, 113, n]);
            let candidates = nodes.iter().map(|s| (*s).to_owned()).collect();
            (address, AddressCandidates { key: address, candidates })
        })
        .collect()
}

/// A node leaving moves exactly the addresses it won; a node joining takes some addresses
/// and nothing else moves (rendezvous hashing). With 256 addresses over 4 nodes each node
/// wins roughly a quarter: the movement is that quarter, never a reshuffle.
#[test]
fn a_node_leaving_or_joining_moves_only_its_addresses() {
    let addresses = table(255, &NODES);
    let all = assignments(&addresses, |_| true);
    assert_eq!(all.len(), 255);
    for leaving in NODES {
        let after = assignments(&addresses, |n| n != leaving);
        let moved: Vec<_> = all.keys().filter(|a| all[*a] != after[*a]).collect();
        let won = all.values().filter(|w| *w == leaving).count();
        assert_eq!(moved.len(), won, "{leaving} leaving moves exactly what it won");
        assert!(moved.iter().all(|a| all[*a] == leaving));
        assert!((30..=100).contains(&won), "{leaving} won {won} of 255: spread over nodes");
        // Joining is the reverse: from `after` back to `all`.
    }
    let mut with_e = table(255, &NODES);
    for c in with_e.values_mut() {
        c.candidates.insert("node-e".into());
    }
    let after = assignments(&with_e, |_| true);
    let moved: Vec<_> = all.keys().filter(|a| all[*a] != after[*a]).collect();
    assert!(!moved.is_empty());
    assert!(moved.iter().all(|a| after[*a] == "node-e"), "only moves to the joining node");
}

#[test]
fn ineligible_and_empty_candidate_sets_have_no_winner() {
    let mut addresses = table(2, &["node-a"]);
    let (first, second) = (IpAddr::from([203, 0, 113, 0]), IpAddr::from([203, 0, 113, 1]));
    if let Some(c) = addresses.get_mut(&second) {
        c.candidates.clear();
    }
    assert_eq!(assignments(&addresses, |_| true).len(), 1);
    assert!(assignments(&addresses, |n| n != "node-a").is_empty());
    assert_eq!(assignments(&addresses, |_| true).get(&first).map(String::as_str), Some("node-a"));
}

/// `externalTrafficPolicy: Local` restricts candidates to nodes with a ready endpoint: the
/// winner is the first of those in the hash order, whatever the other nodes' ranks.
#[test]
fn local_policy_elects_among_endpoint_nodes_only() {
    let key = ip("192.0.2.10");
    // Full order: node-d, node-c, node-b, node-a.
    assert_eq!(elect(key, ["node-b", "node-a"]), Some("node-b"));
    assert_eq!(elect(key, ["node-a"]), Some("node-a"));
}
