//! Shared test support: the in-process API server with our CRDs installed, and waits.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ironlb_test_apiserver::TestApiServer;
use k8s_adapter::config::crd;
use serde_json::{Value, json};

/// How long a test waits for the loops to converge.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Namespace of our CRDs in the tests.
pub const NS: &str = "ironlb-system";

/// A server with our CRDs and the `ironlb-system` namespace.
/// The users the components run as in `deploy/`, whose roles the server enforces.
pub const CONTROLLER: &str = "system:serviceaccount:ironlb-system:ironlb-controller";
pub const SPEAKER: &str = "system:serviceaccount:ironlb-system:ironlb-speaker";

/// A server with the CRDs and `NS`, enforcing `deploy/base/rbac.yaml`: the components' clients
/// ([`TestApiServer::client_as`] with [`CONTROLLER`] or [`SPEAKER`]) may do what their
/// manifests grant and nothing more, so a permission missing from them fails the tests.
pub async fn server() -> TestApiServer {
    let server = TestApiServer::start().await.expect("server starts");
    grant(&server, Vec::new()).await;
    for definition in crd::definitions() {
        server.insert(serde_json::to_value(definition).unwrap()).await.expect("CRD created");
    }
    namespace(&server, NS).await;
    server
}

/// Enforces `deploy/base/rbac.yaml` and the RBAC objects in `extra` (what `deploy/README.md`
/// tells an operator to add, e.g. reading a legacy ConfigMap in another namespace).
pub async fn grant(server: &TestApiServer, extra: Vec<Value>) {
    let rbac = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/base/rbac.yaml");
    let text = std::fs::read_to_string(rbac).expect("deploy/base/rbac.yaml");
    let mut documents: Vec<Value> = serde_saphyr::from_multiple(&text).expect("YAML stream");
    documents.extend(extra);
    server
        .enforce_rbac(ironlb_test_apiserver::Rbac::from_manifests(&documents))
        .await
        .expect("RBAC enforced");
}

pub async fn namespace(server: &TestApiServer, name: &str) {
    server
        .insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        .await
        .expect("namespace created");
}

/// One document of a multi-document YAML file, by kind.
pub fn yaml_doc(text: &str, kind: &str) -> Value {
    text.split("\n---")
        .map(|d| serde_saphyr::from_str::<Value>(d).expect("valid YAML"))
        .find(|v| v["kind"] == kind)
        .expect("document of that kind")
}

/// An IPAddressPool object.
pub fn pool(name: &str, addresses: &[&str]) -> Value {
    json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
           "metadata": {"name": name, "namespace": NS}, "spec": {"addresses": addresses}})
}

/// A LoadBalancer Service with one TCP port.
pub fn lb_service(namespace: &str, name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
           "spec": {"type": "LoadBalancer", "selector": {"app": name},
                    "ports": [{"port": 80, "protocol": "TCP"}]}})
}

/// The ingress IPs of a Service object.
pub fn ingress(svc: &Value) -> Vec<String> {
    svc["status"]["loadBalancer"]["ingress"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["ip"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Waits until the Service's ingress is exactly `ips`.
pub async fn wait_ingress(
    server: &TestApiServer,
    namespace: &str,
    name: &str,
    ips: &[&str],
) -> Value {
    let want: Vec<String> = ips.iter().map(|s| (*s).to_owned()).collect();
    let got = server
        .wait_for_object("v1", "Service", Some(namespace), name, DEADLINE, move |o| {
            o.is_some_and(|o| ingress(o) == want)
        })
        .await;
    match got {
        Ok(Some(v)) => v,
        other => {
            let now = server.get("v1", "Service", Some(namespace), name).await;
            panic!("{namespace}/{name} never got ingress {ips:?}: {other:?}; now {now:?}")
        }
    }
}

/// Our condition on a Service object.
pub fn condition(svc: &Value) -> Option<Value> {
    svc["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "ironlb.io/AddressAssigned")
        .cloned()
}

/// Waits until our condition on the Service has `reason`.
pub async fn wait_condition(
    server: &TestApiServer,
    namespace: &str,
    name: &str,
    reason: &str,
) -> Value {
    let r = reason.to_owned();
    match server
        .wait_for_object("v1", "Service", Some(namespace), name, DEADLINE, move |o| {
            o.and_then(condition).is_some_and(|c| c["reason"] == r.as_str())
        })
        .await
    {
        Ok(Some(v)) => v,
        other => {
            let now = server.get("v1", "Service", Some(namespace), name).await;
            panic!("{namespace}/{name} never got condition {reason}: {other:?}; now {now:?}")
        }
    }
}

/// Waits for an Event (events.k8s.io/v1) about `kind`/`name` with `reason` whose note
/// contains `text`; returns its note.
pub async fn wait_event(
    server: &TestApiServer,
    kind: &str,
    name: &str,
    reason: &str,
    text: &str,
) -> String {
    let (k, n, r, t) = (kind.to_owned(), name.to_owned(), reason.to_owned(), text.to_owned());
    let found = server
        .wait_until(DEADLINE, move |v| {
            v.list("events.k8s.io/v1", "Event", None).into_iter().find_map(|e| {
                let note = e["note"].as_str().unwrap_or_default().to_owned();
                (e["regarding"]["kind"] == k.as_str()
                    && e["regarding"]["name"] == n.as_str()
                    && e["reason"] == r.as_str()
                    && note.contains(t.as_str()))
                .then_some(note)
            })
        })
        .await;
    match found {
        Ok(note) => note,
        Err(e) => {
            let events = server.list("events.k8s.io/v1", "Event", None).await;
            panic!(
                "no {reason} Event on {kind} {name} containing {text:?}: {e}; events: {events:?}"
            )
        }
    }
}
