//! Which node answers for a Service's layer2 addresses, shown on the Service: the winner
//! writes the annotation [`NODE_ANNOTATION`] with its name and publishes an Event
//! `AnnouncingFromNode`; a node that stops publishes `WithdrawnFromNode` and removes the
//! annotation if it still names it.
//!
//! Why an annotation here when the BGP side uses Events only: for BGP every node announces,
//! so N writers would fight over one field; in layer2 one node wins each address, so the
//! annotation has one writer at a time. Every write is conditional on the Service's
//! `resourceVersion` as this node last saw it, so it never erases a fresher write of
//! another node (a conflict means someone else wrote: leave it, the watch brings it).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, Resource};
use tokio::sync::watch;

use crate::allocator::ServiceKey;
use crate::events::{ANNOUNCING, Events, WITHDRAWN};

/// The annotation naming the node that answers ARP/NDP for the Service's addresses.
pub const NODE_ANNOTATION: &str = "ironlb.io/layer2-node";

/// Services this node answers for, with their addresses.
pub type Answering = BTreeMap<ServiceKey, BTreeSet<IpAddr>>;

/// Publishes changes of `answering` until its sender is dropped; intermediate states are
/// skipped. The sender also wakes it, unchanged, when Services changed ([`nudge`]), so an
/// annotation someone else removed is written again.
pub async fn run(
    mut answering: watch::Receiver<Answering>,
    client: Client,
    services: Store<Service>,
    events: Events,
    node: String,
) {
    let mut published = Answering::new();
    // Services whose annotation was written again since we started answering them: once
    // each, so two nodes briefly answering together do not rewrite it back and forth.
    let mut reasserted = BTreeSet::new();
    loop {
        let now = answering.borrow_and_update().clone();
        for (key, addresses) in &now {
            let Some(svc) = lookup(&services, key) else { continue };
            let named = svc.metadata.annotations.as_ref().and_then(|a| a.get(NODE_ANNOTATION));
            let unchanged = published.get(key) == Some(addresses);
            if unchanged && (named == Some(&node) || reasserted.contains(key)) {
                continue;
            }
            // Written when we start answering, and once more when the Service no longer
            // names us while we still answer: during a brief two-node overlap the yielding
            // node's write can land after ours (and its conditional removal erase it).
            // Conditional on the version we saw: a conflict means a fresher write we have
            // not seen yet, and its watch event wakes us again.
            let version = svc.metadata.resource_version.clone();
            let written = annotate(&client, key, Some(&node), version).await;
            if unchanged {
                if written {
                    reasserted.insert(key.clone());
                }
                continue;
            }
            reasserted.remove(key);
            let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            let note =
                format!("answering ARP/NDP for {} from node {node} (layer2)", list.join(", "));
            events.normal(&svc.object_ref(&()), ANNOUNCING, "Announce", note).await;
        }
        for key in published.keys().filter(|k| !now.contains_key(*k)) {
            let Some(svc) = lookup(&services, key) else { continue };
            let annotations = svc.metadata.annotations.as_ref();
            if annotations.and_then(|a| a.get(NODE_ANNOTATION)) == Some(&node) {
                annotate(&client, key, None, svc.metadata.resource_version.clone()).await;
            }
            let note = format!("no longer answering from node {node} (layer2)");
            events.normal(&svc.object_ref(&()), WITHDRAWN, "Withdraw", note).await;
        }
        reasserted.retain(|k| now.contains_key(k));
        published = now;
        if answering.changed().await.is_err() {
            return;
        }
    }
}

/// Wakes [`run`] to recheck the annotations against the Service cache.
pub fn nudge(answering: &watch::Sender<Answering>) {
    answering.send_modify(|_| {});
}

fn lookup(services: &Store<Service>, key: &ServiceKey) -> Option<std::sync::Arc<Service>> {
    services.get(&ObjectRef::new(&key.name).within(&key.namespace))
}

/// Sets (`Some`) or removes (`None`) the annotation, only if the Service is still at
/// `resource_version`; `true` when the write landed. Failures are logged: the annotation is
/// for humans, the election does not read it.
async fn annotate(
    client: &Client,
    key: &ServiceKey,
    node: Option<&str>,
    resource_version: Option<String>,
) -> bool {
    let mut metadata = serde_json::json!({ "annotations": { NODE_ANNOTATION: node } });
    if let Some(version) = resource_version {
        metadata["resourceVersion"] = serde_json::Value::String(version);
    }
    let patch = serde_json::json!({ "metadata": metadata });
    let api: Api<Service> = Api::namespaced(client.clone(), &key.namespace);
    match api.patch(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => true,
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => false,
        Err(e) => {
            tracing::warn!(service = %key.name, error = %e, "annotating the Service failed");
            false
        }
    }
}
