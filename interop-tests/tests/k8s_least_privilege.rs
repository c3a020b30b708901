//! Least privilege, checked from the excess side (issue 14, item 5): the test API server
//! enforces `deploy/base/rbac.yaml` per ServiceAccount, so a missing permission already
//! fails every Kubernetes test with a 403; here one world exercises what the controller and
//! the speakers do in service (a layer2 election with its status, a BGP announcement with
//! its status once the router is up, a clean stop that deletes the speaker's Lease and its
//! status objects, a Service deleted), and then every permission the manifests grant must
//! have been used by some request, or be listed below with the reason no test can use it.
//! A permission added "just in case" fails this test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use interop_tests::layer2_k8s::*;
use interop_tests::{Check, Family, require_program, tail, wait_until};

/// Granted, and used only on paths this world does not take; each with its reason.
const JUSTIFIED: &[(&str, &str)] = &[
    (
        "system:serviceaccount:ironlb-system:ironlb-controller may list core/configmaps in ironlb-system",
        "the legacy MetalLB ConfigMap, read only with --legacy-configmap",
    ),
    (
        "system:serviceaccount:ironlb-system:ironlb-controller may watch core/configmaps in ironlb-system",
        "the legacy MetalLB ConfigMap, read only with --legacy-configmap",
    ),
    (
        "system:serviceaccount:ironlb-system:ironlb-speaker may list core/configmaps in ironlb-system",
        "the legacy MetalLB ConfigMap, read only with --legacy-configmap",
    ),
    (
        "system:serviceaccount:ironlb-system:ironlb-speaker may watch core/configmaps in ironlb-system",
        "the legacy MetalLB ConfigMap, read only with --legacy-configmap",
    ),
    // The admission webhook is off in this world (no --webhook-address); its certificate
    // bootstrap runs as the controller's ServiceAccount under these same rules in
    // k8s-adapter/tests/webhook.rs (created, reused, renewed, caBundle published).
    (
        "system:serviceaccount:ironlb-system:ironlb-controller may get admissionregistration.k8s.io/validatingwebhookconfigurations named [\"ironlb-validating-webhook\"]",
        "webhook bootstrap: k8s-adapter/tests/webhook.rs",
    ),
    (
        "system:serviceaccount:ironlb-system:ironlb-controller may patch admissionregistration.k8s.io/validatingwebhookconfigurations named [\"ironlb-validating-webhook\"]",
        "webhook bootstrap: k8s-adapter/tests/webhook.rs",
    ),
    (
        "system:serviceaccount:ironlb-system:ironlb-controller may create core/secrets in ironlb-system",
        "webhook bootstrap: k8s-adapter/tests/webhook.rs",
    ),
    (
        "system:serviceaccount:ironlb-system:ironlb-controller may get core/secrets in ironlb-system named [\"ironlb-webhook-cert\"]",
        "webhook bootstrap: k8s-adapter/tests/webhook.rs",
    ),
    (
        "system:serviceaccount:ironlb-system:ironlb-controller may update core/secrets in ironlb-system named [\"ironlb-webhook-cert\"]",
        "webhook renewal: k8s-adapter/tests/webhook.rs",
    ),
];

#[test]
fn every_granted_permission_is_used() {
    requires();
    require_program("vtysh", "frr").check("FRR");
    let Cluster { bridge, client, mut nodes, api, kubeconfig: _, _dir } =
        cluster(fallback_objects(), true);

    // Layer2 while BGP is down: an election, a ServiceL2Status, Events.
    api.insert(service("web"));
    api.insert(slice("web", "n1"));
    let address = wait_address(&api, "web");
    let winner = wait_winner(&api, &client, &nodes, "web", &address);
    eprintln!("{address} answered on layer2 by {winner}");

    // The router comes up: BGP announcements and their ServiceBGPStatus.
    let frr = start_router(&bridge);
    let want = format!("{address}/32");
    wait_until(
        "the address at the router over BGP",
        CONVERGE,
        POLL,
        || frr.prefixes(Family::Ipv4Unicast).ok()?.contains(&want).then_some(()),
        || format!("{:?}{}", frr.prefixes(Family::Ipv4Unicast), logs(&nodes)),
    )
    .check("BGP route");
    let bgp_status = ("ironlb.io/v1beta1", "ServiceBGPStatus");
    wait_until(
        "a ServiceBGPStatus from each node",
        CONVERGE,
        POLL,
        || (api.list(bgp_status, NS).len() == 2).then_some(()),
        || format!("{:?}", api.list(bgp_status, NS)),
    )
    .check("ServiceBGPStatus");

    // A clean stop: the speaker deletes its Lease and its status objects.
    let mut speaker = nodes[0].speaker.take().unwrap();
    let status = speaker.stop_with(libc::SIGTERM, MOVE).check("the speaker stops on SIGTERM");
    assert!(status.success(), "a clean stop exits 0: {status}; {}", tail(speaker.log(), 30));

    // The Service goes: the controller and the remaining speaker clean up.
    api.remove(SERVICE, "default", "web");
    // (The stopped node's own status stays until its speaker is back: its routes stay in
    // its bgpd for the grace time, for a restart.)
    let running = nodes[1].name;
    wait_until(
        "the running node's ServiceBGPStatus removed",
        CONVERGE,
        POLL,
        || {
            let left = api.list(bgp_status, NS);
            (!left.iter().any(|o| o["status"]["node"] == running)).then_some(())
        },
        || format!("{:?}", api.list(bgp_status, NS)),
    )
    .check("ServiceBGPStatus removed");

    let server = api.server.clone();
    let unused = api
        .runtime
        .run(async move { server.rbac_unused().await })
        .unwrap_or_else(|e| panic!("RBAC use: {e}"));
    let unjustified: Vec<String> = unused
        .iter()
        .map(ToString::to_string)
        .filter(|u| !JUSTIFIED.iter().any(|(what, _)| what == u))
        .collect();
    assert!(
        unjustified.is_empty(),
        "deploy/base/rbac.yaml grants permissions nothing used (remove them, or justify them \
         in JUSTIFIED):\n{}",
        unjustified.join("\n")
    );
}
