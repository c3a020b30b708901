//! The status objects a speaker keeps for what its node announces, in MetalLB's shape
//! (`ServiceBGPStatus`, `ServiceL2Status`, group `ironlb.io`): one object per node and
//! Service, in the speaker's namespace, written when the node starts announcing the Service
//! or what it announces changes, deleted when it stops. They replace writing to the
//! Services themselves, so a speaker needs only read access to Services.
//!
//! Names are derived from the node and the Service ([`object_name`]), so each object has one
//! writer (its node's speaker) and a restarted speaker finds its own again; the labels
//! [`NODE_LABEL`], [`SERVICE_NAME_LABEL`] and [`SERVICE_NAMESPACE_LABEL`] let `kubectl get
//! -l` find them, and let a speaker list its node's objects at start to delete those for
//! Services it no longer announces ([`StatusWriter::prune`]).
//!
//! Writes are server-side apply of the object (its labels) then a merge patch of its status
//! subresource. A failed write is logged and retried with the next change or the periodic
//! retry of the task that owns the writer: the objects are for people and tools, the
//! announcements never depend on them.

use std::collections::BTreeSet;
use std::fmt::Debug;

use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::allocator::ServiceKey;

/// The node whose speaker wrote the object.
pub const NODE_LABEL: &str = "ironlb.io/node";
/// The Service's name.
pub const SERVICE_NAME_LABEL: &str = "ironlb.io/service-name";
/// The Service's namespace.
pub const SERVICE_NAMESPACE_LABEL: &str = "ironlb.io/service-namespace";
/// The server-side apply field manager of the speakers' writes.
pub const FIELD_MANAGER: &str = "ironlb-speaker";

/// The object name for `node`'s status of `service`: `prefix`, a dash, and 16 hex digits of
/// FNV-1a over the three names (a Service's namespace and name together can be longer than
/// an object name may be).
pub fn object_name(prefix: &str, node: &str, service: &ServiceKey) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [node, "/", &service.namespace, "/", &service.name] {
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{prefix}-{hash:016x}")
}

/// Writes one kind of status object for one node.
#[derive(Clone)]
pub struct StatusWriter<K> {
    api: Api<K>,
    node: String,
    prefix: &'static str,
}

impl<K> StatusWriter<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
{
    /// Objects named `prefix-...` in `namespace` for `node`.
    pub fn new(client: Client, namespace: &str, node: &str, prefix: &'static str) -> Self {
        Self { api: Api::namespaced(client, namespace), node: node.to_owned(), prefix }
    }

    /// Creates or updates the object of `service` with `status` (the status subresource's
    /// whole content).
    pub async fn write(&self, service: &ServiceKey, status: Value) -> Result<(), kube::Error> {
        let name = object_name(self.prefix, &self.node, service);
        let object = json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "metadata": {
                "name": name,
                "labels": {
                    NODE_LABEL: self.node,
                    SERVICE_NAME_LABEL: service.name,
                    SERVICE_NAMESPACE_LABEL: service.namespace,
                },
            },
            "spec": {},
        });
        self.api
            .patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(object))
            .await?;
        let patch = json!({ "status": status });
        self.api.patch_status(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
        Ok(())
    }

    /// Deletes the object of `service` (gone already is fine).
    pub async fn remove(&self, service: &ServiceKey) -> Result<(), kube::Error> {
        let name = object_name(self.prefix, &self.node, service);
        match self.api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes this node's objects of this kind whose Service is not in `keep` (left by an
    /// earlier run).
    pub async fn prune(&self, keep: &BTreeSet<ServiceKey>) -> Result<(), kube::Error> {
        let selector = format!("{NODE_LABEL}={}", self.node);
        let list = self.api.list(&ListParams::default().labels(&selector)).await?;
        for object in list.items {
            let labels = object.labels();
            let key = ServiceKey::new(
                labels.get(SERVICE_NAMESPACE_LABEL).cloned().unwrap_or_default(),
                labels.get(SERVICE_NAME_LABEL).cloned().unwrap_or_default(),
            );
            if keep.contains(&key)
                && object.name_any() == object_name(self.prefix, &self.node, &key)
            {
                continue;
            }
            match self.api.delete(&object.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The node this writer writes for.
    pub fn node(&self) -> &str {
        &self.node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_short_and_distinct() {
        let a = object_name("bgp", "n1", &ServiceKey::new("default", "web"));
        assert_eq!(a, object_name("bgp", "n1", &ServiceKey::new("default", "web")));
        assert!(a.starts_with("bgp-") && a.len() == 20, "{a}");
        assert_ne!(a, object_name("bgp", "n2", &ServiceKey::new("default", "web")));
        assert_ne!(a, object_name("bgp", "n1", &ServiceKey::new("defaul", "tweb")));
        let long = "x".repeat(253);
        assert_eq!(object_name("l2", &long, &ServiceKey::new(&long, &long)).len(), 19);
    }
}
