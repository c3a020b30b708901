//! The controller against the in-process API server with the real kube client: the seed
//! scenario, restart, and bad input that must disturb nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ironlb_test_apiserver::TestApiServer;
use k8s_adapter::controller::{self, Options};
use k8s_adapter::watch::LegacySource;
use serde_json::json;
use tokio::task::JoinHandle;

fn start(server: &TestApiServer, identity: &str, legacy: bool) -> JoinHandle<()> {
    let client = server.client_as(CONTROLLER).unwrap();
    let mut options = Options::new(NS, identity);
    options.lease_duration = Duration::from_secs(2);
    if legacy {
        options.legacy = Some(LegacySource {
            namespace: "metallb-system".into(),
            name: "config".into(),
            key: "config".into(),
        });
    }
    tokio::spawn(async move {
        if let Err(e) = controller::run(client, options).await {
            eprintln!("controller stopped: {e}");
        }
    })
}

/// The seed: MetalLB's legacy ConfigMap and `lb.yaml`'s Service give `nginx-service`
/// 11.11.11.150; a second Service gets .151; deleting the first frees .150 for the next.
#[tokio::test]
async fn seed_scenario() {
    let server = server().await;
    namespace(&server, "metallb-system").await;
    // deploy/README.md: a legacy ConfigMap elsewhere needs a Role to read it there.
    grant(
        &server,
        vec![
            json!({"kind": "Role", "metadata": {"name": "legacy", "namespace": "metallb-system"},
                   "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                              "verbs": ["get", "list", "watch"]}]}),
            json!({"kind": "RoleBinding", "metadata": {"name": "legacy", "namespace": "metallb-system"},
                   "roleRef": {"kind": "Role", "name": "legacy"},
                   "subjects": [{"kind": "ServiceAccount", "name": "ironlb-controller",
                                 "namespace": "ironlb-system"}]}),
        ],
    )
    .await;
    let cm = yaml_doc(include_str!("../testdata/seed-lbconfig.yaml"), "ConfigMap");
    server.insert(cm).await.unwrap();
    let mut svc = yaml_doc(include_str!("../testdata/seed-lb.yaml"), "Service");
    svc["apiVersion"] = json!("v1");
    svc["metadata"]["namespace"] = json!("default");
    server.insert(svc).await.unwrap();
    let controller = start(&server, "seed", true);

    let svc = wait_ingress(&server, "default", "nginx-service", &["11.11.11.150"]).await;
    assert_eq!(condition(&svc).unwrap()["status"], "True");
    wait_event(&server, "Service", "nginx-service", "IPAllocated", "11.11.11.150").await;

    server.insert(lb_service("default", "second", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "second", &["11.11.11.151"]).await;

    server.remove("v1", "Service", Some("default"), "nginx-service").await.unwrap();
    server.insert(lb_service("default", "third", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "third", &["11.11.11.150"]).await;
    wait_ingress(&server, "default", "second", &["11.11.11.151"]).await;

    // A typo that breaks the ConfigMap's YAML is reported on it, and its last good pools
    // stay in force: nobody loses an address, and new Services still get one.
    server
        .modify("v1", "ConfigMap", Some("metallb-system"), "config", |o| {
            o["data"]["config"] = json!("address-pools: [\n  - name: lbpool\n");
        })
        .await
        .unwrap();
    wait_event(&server, "ConfigMap", "config", "InvalidConfig", "not valid YAML").await;
    server.insert(lb_service("default", "fourth", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "fourth", &["11.11.11.152"]).await;
    wait_ingress(&server, "default", "third", &["11.11.11.150"]).await;
    controller.abort();
}

/// A new controller rebuilds its state from the statuses: nothing moves, and the next
/// Service gets the next free address; a Service that stops being a LoadBalancer is
/// cleared and its address freed.
#[tokio::test]
async fn restart_rebuilds_from_status_and_type_change_releases() {
    let server = server().await;
    server.insert(pool("p", &["198.51.100.10-198.51.100.20"])).await.unwrap();
    for name in ["a", "b"] {
        server.insert(lb_service("default", name, json!({}))).await.unwrap();
    }
    let first = start(&server, "one", false);
    wait_ingress(&server, "default", "a", &["198.51.100.10"]).await;
    wait_ingress(&server, "default", "b", &["198.51.100.11"]).await;
    first.abort();

    // A new leader restores a and b from their statuses before allocating c.
    let second = start(&server, "two", false);
    server.insert(lb_service("default", "c", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "c", &["198.51.100.12"]).await;
    wait_ingress(&server, "default", "a", &["198.51.100.10"]).await;
    wait_ingress(&server, "default", "b", &["198.51.100.11"]).await;

    server
        .modify("v1", "Service", Some("default"), "a", |o| o["spec"]["type"] = json!("ClusterIP"))
        .await
        .unwrap();
    let a = wait_ingress(&server, "default", "a", &[]).await;
    assert!(condition(&a).is_none());
    wait_event(&server, "Service", "a", "ClearAssignment", "198.51.100.10").await;
    server.insert(lb_service("default", "d", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "d", &["198.51.100.10"]).await;
    second.abort();
}

/// Overlapping pools, a backwards range, an invalid CIDR, a malformed annotation and a
/// pool deleted under a Service each give an Event or condition, and the Service that was
/// fine stays fine.
#[tokio::test]
async fn bad_input_is_reported_and_disturbs_nothing_else() {
    let server = server().await;
    server.insert(pool("good", &["198.51.100.10-198.51.100.20"])).await.unwrap();
    server.insert(pool("other", &["203.0.113.100-203.0.113.110"])).await.unwrap();
    server.insert(lb_service("default", "fine", json!({}))).await.unwrap();
    server
        .insert(lb_service("default", "pinned", json!({"ironlb.io/address-pool": "other"})))
        .await
        .unwrap();
    let controller = start(&server, "bad", false);
    wait_ingress(&server, "default", "fine", &["198.51.100.10"]).await;
    wait_ingress(&server, "default", "pinned", &["203.0.113.100"]).await;

    server.insert(pool("zoverlap", &["198.51.100.15/32"])).await.unwrap();
    wait_event(&server, "IPAddressPool", "zoverlap", "InvalidConfig", "overlaps").await;
    server.insert(pool("backwards", &["203.0.113.20-203.0.113.10"])).await.unwrap();
    wait_event(&server, "IPAddressPool", "backwards", "InvalidConfig", "203.0.113.20").await;
    server.insert(pool("badcidr", &["203.0.113.0/33"])).await.unwrap();
    wait_event(&server, "IPAddressPool", "badcidr", "InvalidConfig", "203.0.113.0/33").await;

    server
        .insert(lb_service("default", "typo", json!({"ironlb.io/loadBalancerIPs": "not-an-ip"})))
        .await
        .unwrap();
    let typo = wait_condition(&server, "default", "typo", "InvalidAnnotation").await;
    assert!(ingress(&typo).is_empty());
    wait_event(&server, "Service", "typo", "AllocationFailed", "not-an-ip").await;

    server.remove("ironlb.io/v1beta1", "IPAddressPool", Some(NS), "other").await.unwrap();
    let pinned = wait_condition(&server, "default", "pinned", "UnknownPool").await;
    assert!(ingress(&pinned).is_empty());
    wait_event(&server, "Service", "pinned", "ClearAssignment", "203.0.113.100").await;

    // Through all of it, the good Service kept its address.
    let fine = wait_ingress(&server, "default", "fine", &["198.51.100.10"]).await;
    assert_eq!(condition(&fine).unwrap()["status"], "True");
    // Another controller's Service (its own loadBalancerClass) is never touched.
    let mut foreign = lb_service("default", "foreign", json!({}));
    foreign["spec"]["loadBalancerClass"] = json!("example.com/other");
    server.insert(foreign).await.unwrap();
    // And a new Service still gets one. Triggers are handled in order, so once "late" has
    // its address, "foreign" has been looked at.
    server.insert(lb_service("default", "late", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "late", &["198.51.100.11"]).await;
    let foreign = server.get("v1", "Service", Some("default"), "foreign").await.unwrap().unwrap();
    assert!(ingress(&foreign).is_empty() && condition(&foreign).is_none());
    controller.abort();
}

/// A pool that shrinks under a Service moves it to an address still in the pool; a status
/// write that fails is retried until it lands.
#[tokio::test]
async fn shrinking_pool_moves_the_service_and_failed_writes_are_retried() {
    let server = server().await;
    server.insert(pool("p", &["198.51.100.10-198.51.100.20"])).await.unwrap();
    server.insert(lb_service("default", "a", json!({}))).await.unwrap();
    let controller = start(&server, "shrink", false);
    wait_ingress(&server, "default", "a", &["198.51.100.10"]).await;

    server
        .inject_failure(
            ironlb_test_apiserver::Failure::code(500)
                .on("services")
                .verb(ironlb_test_apiserver::Verb::Patch)
                .times(2),
        )
        .await
        .unwrap();
    server
        .modify("ironlb.io/v1beta1", "IPAddressPool", Some(NS), "p", |o| {
            o["spec"]["addresses"] = json!(["198.51.100.12-198.51.100.20"]);
        })
        .await
        .unwrap();
    wait_ingress(&server, "default", "a", &["198.51.100.12"]).await;
    wait_event(&server, "Service", "a", "IPAllocated", "198.51.100.12").await;
    controller.abort();
}

/// Two replicas: only the Lease holder acts (every Event comes from it); when it stops,
/// the other takes over and serves new Services.
#[tokio::test]
async fn only_the_leader_acts_and_a_standby_takes_over() {
    let server = server().await;
    server.insert(pool("p", &["198.51.100.10-198.51.100.20"])).await.unwrap();
    server.insert(lb_service("default", "a", json!({}))).await.unwrap();
    let one = start(&server, "one", false);
    wait_ingress(&server, "default", "a", &["198.51.100.10"]).await;
    let two = start(&server, "two", false);
    server.insert(lb_service("default", "b", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "b", &["198.51.100.11"]).await;
    let events = server.list("events.k8s.io/v1", "Event", Some("default")).await.unwrap();
    assert!(events.iter().all(|e| e["reportingInstance"] == "one"), "{events:?}");

    one.abort();
    server.insert(lb_service("default", "c", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "c", &["198.51.100.12"]).await;
    wait_event(&server, "Service", "c", "IPAllocated", "198.51.100.12").await;
    let events = server.list("events.k8s.io/v1", "Event", Some("default")).await.unwrap();
    let c = events.iter().find(|e| e["regarding"]["name"] == "c").unwrap();
    assert_eq!(c["reportingInstance"], "two");
    two.abort();
}

/// A leader that is shut down (SIGTERM in the binary) clears the Lease's holder before it
/// returns, so a standby takes over at once: with a Lease of 300 s, the standby serving a
/// new Service within the test's deadline proves the Lease was released, not expired.
#[tokio::test]
async fn shutdown_releases_the_lease_and_a_standby_takes_over_at_once() {
    let server = server().await;
    server.insert(pool("p", &["198.51.100.10-198.51.100.20"])).await.unwrap();
    server.insert(lb_service("default", "a", json!({}))).await.unwrap();
    let options = |identity: &str| {
        let mut options = Options::new(NS, identity);
        options.lease_duration = Duration::from_secs(300);
        options
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let client = server.client_as(CONTROLLER).unwrap();
    let one = tokio::spawn(controller::run_until(client, options("one"), async {
        let _ = stopped.await;
    }));
    wait_ingress(&server, "default", "a", &["198.51.100.10"]).await;
    let lease = server
        .get("coordination.k8s.io/v1", "Lease", Some(NS), "ironlb-controller")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "one");
    let client = server.client_as(CONTROLLER).unwrap();
    let two = tokio::spawn(controller::run(client, options("two")));

    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, one).await.unwrap().unwrap().unwrap();
    server.insert(lb_service("default", "b", json!({}))).await.unwrap();
    wait_ingress(&server, "default", "b", &["198.51.100.11"]).await;
    let lease = server
        .get("coordination.k8s.io/v1", "Lease", Some(NS), "ironlb-controller")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "two");
    two.abort();
}

/// The pool's status shows its addresses in use and free per family (MetalLB's fields),
/// following allocations and releases; the write of that status triggers no config reload.
#[tokio::test]
async fn pool_status_counts_assigned_and_available_addresses() {
    let server = server().await;
    server.insert(pool("p", &["198.51.100.10-198.51.100.20", "2001:db8::/126"])).await.unwrap();
    for name in ["a", "b"] {
        server.insert(lb_service("default", name, json!({}))).await.unwrap();
    }
    let controller = start(&server, "one", false);
    wait_ingress(&server, "default", "a", &["198.51.100.10"]).await;
    wait_ingress(&server, "default", "b", &["198.51.100.11"]).await;
    let status = |want: [i64; 4]| {
        move |o: Option<&serde_json::Value>| {
            o.is_some_and(|o| {
                let s = &o["status"];
                [&s["assignedIPv4"], &s["availableIPv4"], &s["assignedIPv6"], &s["availableIPv6"]]
                    .iter()
                    .map(|v| v.as_i64())
                    .eq(want.iter().map(|w| Some(*w)))
            })
        }
    };
    let got = server
        .wait_for_object(
            "ironlb.io/v1beta1",
            "IPAddressPool",
            Some(NS),
            "p",
            DEADLINE,
            status([2, 9, 0, 4]),
        )
        .await;
    assert!(matches!(got, Ok(Some(_))), "{got:?}");
    server.remove("v1", "Service", Some("default"), "a").await.unwrap();
    let got = server
        .wait_for_object(
            "ironlb.io/v1beta1",
            "IPAddressPool",
            Some(NS),
            "p",
            DEADLINE,
            status([1, 10, 0, 4]),
        )
        .await;
    assert!(matches!(got, Ok(Some(_))), "{got:?}");
    controller.abort();
}
