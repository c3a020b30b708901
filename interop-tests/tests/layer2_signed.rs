//! Signed layer2 heartbeats end to end (issue #14 item 6), on the world of
//! `interop_tests::layer2_k8s`: both speakers given the same key directory
//! (`--layer2-heartbeat-key-dir`, the Secret's mount in `deploy/`) still hear each other
//! (one winner answers) and detect a crash. In its own file so that its two nodes do not
//! run beside `layer2_e2e.rs`'s scenarios on a small machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use interop_tests::Check;
use interop_tests::layer2_k8s::*;

/// Signed heartbeats (`--layer2-heartbeat-key-dir`, the Secret's mount in `deploy/`): both
/// speakers share a key, still hear each other (one winner) and detect a crash.
#[test]
fn signed_heartbeats_elect_one_node_and_detect_a_crash() {
    requires();
    let keys = interop_tests::TempDir::new("l2e2e-keys").check("key directory");
    keys.write("current", "0123456789abcdef0123456789abcdef").check("key written");
    let dir = format!("--layer2-heartbeat-key-dir={}", keys.path().display());
    let args: &[&str] = &[&dir];
    let Cluster { bridge: _bridge, client, mut nodes, api, kubeconfig: _, _dir } =
        cluster_with(config_objects(), false, [args, args]);
    api.insert(service("web"));
    api.insert(slice("web", "n1"));
    let address = wait_address(&api, "web");
    let winner_name = wait_winner(&api, &client, &nodes, "web", &address);
    let winner = nodes.iter().position(|n| n.name == winner_name).unwrap();
    let other_mac = nodes[1 - winner].mac.clone();
    let _ = try_exec(&client, "ping", &["-c", "1", "-W", "1", &address]);
    nodes[winner].crash();
    wait_neighbor(&client, &address, &other_mac, "the entry to move after a crash", &nodes);
    wait_answered_by(&client, &address, &other_mac, "only the successor answers", &nodes);
}
