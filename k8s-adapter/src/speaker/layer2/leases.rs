//! This speaker's Lease writes and the watches the layer2 task reads: the speaker Leases
//! (label-selected) for membership, and every Node for the candidates (the BGP side
//! watches only its own Node). The Lease's content and its write schedule are
//! [`crate::election::membership`]'s; here is only the API call.

use std::fmt::Debug;
use std::hash::Hash;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::election::membership::{LEASE_LABEL, LEASE_LABEL_VALUE, LeaseAction};

/// The field manager of our Lease writes.
pub const FIELD_MANAGER: &str = "ironlb-speaker";

/// Carries out a [`LeaseAction`]. A Lease already gone counts as deleted.
pub async fn execute(client: &Client, action: LeaseAction) -> Result<(), kube::Error> {
    match action {
        LeaseAction::Apply(lease) => {
            let namespace = lease.metadata.namespace.clone().unwrap_or_default();
            let name = lease.metadata.name.clone().unwrap_or_default();
            let api: Api<Lease> = Api::namespaced(client.clone(), &namespace);
            let params = PatchParams::apply(FIELD_MANAGER).force();
            api.patch(&name, &params, &Patch::Apply(&*lease)).await.map(|_| ())
        }
        LeaseAction::Delete { namespace, name } => {
            let api: Api<Lease> = Api::namespaced(client.clone(), &namespace);
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

/// The label selector of speaker Leases.
pub fn lease_selector() -> String {
    format!("{LEASE_LABEL}={LEASE_LABEL_VALUE}")
}

/// Starts a reflector for `api` and sends `notice()` on every change or relist; returns
/// its cache. Watch errors are retried with kube's backoff.
pub fn watch<K, N>(
    api: Api<K>,
    config: watcher::Config,
    tx: mpsc::UnboundedSender<N>,
    notice: fn() -> N,
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
    N: Send + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(
                    watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone,
                ) => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(kind = %K::kind(&K::DynamicType::default()), error = %e, "watch failed; retrying");
                    continue;
                }
            }
            if tx.send(notice()).is_err() {
                break;
            }
        }
    });
    reader
}
