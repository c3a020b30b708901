//! EndpointSlices by Service, for the speaker's per-change work: finding one Service's
//! slices must not scan every slice in the cluster.
//!
//! The kube cache ([`Store`]) is keyed by slice; this index maps each Service to the
//! names of its slices (label `kubernetes.io/service-name`) and each slice to its
//! Service, so a slice whose label changes (or that is deleted) is moved away from the
//! Service it belonged to. Updated from the slice watch's triggers; rebuilt from the
//! cache after a relist, when deletions may have been missed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{ObjectRef, Store};

use super::view::slice_service;
use crate::allocator::ServiceKey;
use crate::watch::service_key;

/// Slices by Service and Service by slice.
#[derive(Debug, Default)]
pub struct SliceIndex {
    owner: HashMap<ServiceKey, ServiceKey>,
    by_service: HashMap<ServiceKey, BTreeSet<String>>,
}

impl SliceIndex {
    /// The index of everything in `store`.
    pub fn rebuild(&mut self, store: &Store<EndpointSlice>) {
        self.owner.clear();
        self.by_service.clear();
        for slice in store.state() {
            if let Some(service) = slice_service(&slice) {
                self.link(service_key(slice.as_ref()), service);
            }
        }
    }

    /// Takes in the slice's state in `store` (present, moved or gone); returns the
    /// Services it belonged to before and belongs to now.
    pub fn update(
        &mut self,
        slice: &ServiceKey,
        store: &Store<EndpointSlice>,
    ) -> (Option<ServiceKey>, Option<ServiceKey>) {
        let now = store.get(&object_ref(slice)).and_then(|s| slice_service(&s));
        let before = self.owner.remove(slice);
        if let Some(old) = &before
            && let Some(names) = self.by_service.get_mut(old)
        {
            names.remove(&slice.name);
            if names.is_empty() {
                self.by_service.remove(old);
            }
        }
        if let Some(service) = &now {
            self.link(slice.clone(), service.clone());
        }
        (before, now)
    }

    /// The slices of `service` held in `store`.
    pub fn slices_of(
        &self,
        service: &ServiceKey,
        store: &Store<EndpointSlice>,
    ) -> Vec<Arc<EndpointSlice>> {
        self.by_service
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|name| store.get(&ObjectRef::new(name).within(&service.namespace)))
            .collect()
    }

    fn link(&mut self, slice: ServiceKey, service: ServiceKey) {
        self.by_service.entry(service.clone()).or_default().insert(slice.name.clone());
        self.owner.insert(slice, service);
    }
}

fn object_ref(key: &ServiceKey) -> ObjectRef<EndpointSlice> {
    ObjectRef::new(&key.name).within(&key.namespace)
}
