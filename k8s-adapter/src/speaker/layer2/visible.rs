//! Which node answers for a Service's layer2 addresses, shown as a `ServiceL2Status` (MetalLB's
//! shape, [`crate::speaker::status`]) per answering node and Service, with the interfaces it
//! answers on, and by Events on the Service: `AnnouncingFromNode` when this node starts
//! answering, `WithdrawnFromNode` when it stops (and its object is deleted).
//!
//! Each node writes only its own objects, so two nodes briefly answering together during a
//! failover each show theirs, and nobody's write erases another's; the speaker writes
//! nothing on the Service itself (read access to Services is all it needs).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource};
use tokio::sync::watch;

use crate::allocator::ServiceKey;
use crate::config::crd::{InterfaceInfo, ServiceL2Status, ServiceL2StatusFields};
use crate::events::{ANNOUNCING, Events, WITHDRAWN};
use crate::speaker::status::StatusWriter;

/// What this node answers for one Service: its addresses, and the interfaces they are
/// answered on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub addresses: BTreeSet<IpAddr>,
    pub interfaces: BTreeSet<String>,
}

/// Services this node answers for.
pub type Answering = BTreeMap<ServiceKey, Answer>;

/// How often status writes that failed are tried again.
const RETRY: Duration = Duration::from_secs(5);

/// Publishes changes of `answering` until its sender is dropped; intermediate states are
/// skipped. The first value received holds everything answered, so this node's objects for
/// other Services (left by an earlier run) are deleted then.
pub async fn run(
    mut answering: watch::Receiver<Answering>,
    client: Client,
    namespace: String,
    services: Store<Service>,
    events: Events,
    node: String,
) {
    let writer: StatusWriter<ServiceL2Status> = StatusWriter::new(client, &namespace, &node, "l2");
    let mut published = Answering::new();
    // Objects whose write failed: written again with the next change or retry.
    let mut failed: BTreeSet<ServiceKey> = BTreeSet::new();
    let mut pruned = false;
    let mut retry = tokio::time::interval(RETRY);
    loop {
        let now = answering.borrow_and_update().clone();
        if !pruned {
            let keep: BTreeSet<ServiceKey> = now.keys().chain(published.keys()).cloned().collect();
            match writer.prune(&keep).await {
                Ok(()) => pruned = true,
                Err(e) => tracing::warn!(error = %e, "listing this node's ServiceL2Status failed"),
            }
        }
        for (key, answer) in &now {
            if published.get(key) == Some(answer) && !failed.contains(key) {
                continue;
            }
            let status = ServiceL2StatusFields {
                node: node.clone(),
                service_name: key.name.clone(),
                service_namespace: key.namespace.clone(),
                interfaces: answer
                    .interfaces
                    .iter()
                    .map(|name| InterfaceInfo { name: name.clone() })
                    .collect(),
            };
            match writer.write(key, serde_json::to_value(status).unwrap_or_default()).await {
                Ok(()) => {
                    failed.remove(key);
                }
                Err(e) => {
                    tracing::warn!(service = %key, error = %e, "writing its ServiceL2Status failed; retrying");
                    failed.insert(key.clone());
                }
            }
            if published.get(key).is_some_and(|p| p.addresses == answer.addresses) {
                continue;
            }
            let Some(svc) = lookup(&services, key) else { continue };
            let list: Vec<String> = answer.addresses.iter().map(ToString::to_string).collect();
            let note =
                format!("answering ARP/NDP for {} from node {node} (layer2)", list.join(", "));
            events.normal(&svc.object_ref(&()), ANNOUNCING, "Announce", note).await;
        }
        let gone: Vec<ServiceKey> = published
            .keys()
            .chain(failed.iter())
            .filter(|k| !now.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            match writer.remove(&key).await {
                Ok(()) => {
                    failed.remove(&key);
                }
                Err(e) => {
                    tracing::warn!(service = %key, error = %e, "deleting its ServiceL2Status failed; retrying");
                    failed.insert(key.clone());
                }
            }
            if !published.contains_key(&key) {
                continue;
            }
            let Some(svc) = lookup(&services, &key) else { continue };
            let note = format!("no longer answering from node {node} (layer2)");
            events.normal(&svc.object_ref(&()), WITHDRAWN, "Withdraw", note).await;
        }
        published = now;
        tokio::select! {
            changed = answering.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = retry.tick(), if !failed.is_empty() || !pruned => {}
        }
    }
}

/// Wakes [`run`] (unchanged): the Services changed, so Events held back for lack of a
/// Service in the cache can go out.
pub fn nudge(answering: &watch::Sender<Answering>) {
    answering.send_modify(|_| {});
}

fn lookup(services: &Store<Service>, key: &ServiceKey) -> Option<std::sync::Arc<Service>> {
    services.get(&ObjectRef::new(&key.name).within(&key.namespace))
}
