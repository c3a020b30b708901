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

    /// Takes in one batch's slice changes (after a relist, `resync`: everything in
    /// `store`); returns the Services whose slices changed. Called for every batch,
    /// whatever else it holds: a full recompute reads the index too.
    pub fn apply(
        &mut self,
        slices: &BTreeSet<ServiceKey>,
        resync: bool,
        store: &Store<EndpointSlice>,
    ) -> BTreeSet<ServiceKey> {
        if resync {
            self.rebuild(store);
            return self.by_service.keys().cloned().collect();
        }
        let mut services = BTreeSet::new();
        for slice in slices {
            let (before, now) = self.update(slice, store);
            services.extend(before);
            services.extend(now);
        }
        services
    }

    fn link(&mut self, slice: ServiceKey, service: ServiceKey) {
        self.by_service.entry(service.clone()).or_default().insert(slice.name.clone());
        self.owner.insert(slice, service);
    }
}

fn object_ref(key: &ServiceKey) -> ObjectRef<EndpointSlice> {
    ObjectRef::new(&key.name).within(&key.namespace)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    use super::*;
    use crate::speaker::view::SERVICE_NAME_LABEL;

    fn slice(name: &str, service: &str) -> EndpointSlice {
        EndpointSlice {
            metadata: ObjectMeta {
                namespace: Some("default".into()),
                name: Some(name.into()),
                labels: Some([(SERVICE_NAME_LABEL.to_owned(), service.to_owned())].into()),
                ..ObjectMeta::default()
            },
            address_type: "IPv4".into(),
            endpoints: Vec::new(),
            ports: None,
        }
    }

    fn key(name: &str) -> ServiceKey {
        ServiceKey::new("default", name)
    }

    #[test]
    fn a_batch_moves_its_slices_and_names_their_services_before_and_after() {
        let (store, mut writer) = reflector::store();
        let mut index = SliceIndex::default();
        index.rebuild(&store);
        writer.apply_watcher_event(&Event::Apply(slice("web-1", "web")));
        let changed = index.apply(&[key("web-1")].into(), false, &store);
        assert_eq!(changed, [key("web")].into());
        assert_eq!(index.slices_of(&key("web"), &store).len(), 1);
        // Relabelled to another Service: both are named, the slice moved.
        writer.apply_watcher_event(&Event::Apply(slice("web-1", "api")));
        let changed = index.apply(&[key("web-1")].into(), false, &store);
        assert_eq!(changed, [key("api"), key("web")].into());
        assert!(index.slices_of(&key("web"), &store).is_empty());
        assert_eq!(index.slices_of(&key("api"), &store).len(), 1);
        // Deleted.
        writer.apply_watcher_event(&Event::Delete(slice("web-1", "api")));
        let changed = index.apply(&[key("web-1")].into(), false, &store);
        assert_eq!(changed, [key("api")].into());
        assert!(index.slices_of(&key("api"), &store).is_empty());
    }

    #[test]
    fn a_resync_rebuilds_from_the_cache() {
        let (store, mut writer) = reflector::store();
        let mut index = SliceIndex::default();
        writer.apply_watcher_event(&Event::Apply(slice("web-1", "web")));
        writer.apply_watcher_event(&Event::Apply(slice("db-1", "db")));
        let changed = index.apply(&BTreeSet::new(), true, &store);
        assert_eq!(changed, [key("db"), key("web")].into());
        assert_eq!(index.slices_of(&key("db"), &store).len(), 1);
    }
}
