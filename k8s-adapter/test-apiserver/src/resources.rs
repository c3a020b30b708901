//! The resource types the server serves: built-in ones and custom resources registered by tests
//! (directly, or by creating a `CustomResourceDefinition`, as on a real cluster).
//!
//! A resource is addressed on the wire by group, version and plural
//! (`/apis/{group}/{version}/namespaces/{ns}/{plural}`) and inside bodies by `apiVersion` and
//! `kind`; both lookups are here.

use serde_json::Value;

/// One resource type (a GroupVersionResource with its kind and scope).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for the core (`/api/v1`) group.
    pub group: String,
    pub version: String,
    /// `Kind` of the objects (`Service`).
    pub kind: String,
    /// Plural resource name used in URLs (`services`).
    pub plural: String,
    pub namespaced: bool,
    /// Whether `/status` is a subresource: then a main-resource write keeps the stored status and
    /// a `/status` write changes only the status.
    pub status_subresource: bool,
    /// Built-in types accept strategic-merge patches; custom resources answer 415, as the real
    /// server does.
    pub builtin: bool,
    /// A custom type's `openAPIV3Schema`, for its CEL `x-kubernetes-validations`
    /// (`crate::cel`); `None` for built-in types and types registered directly.
    pub schema: Option<serde_json::Value>,
}

impl ResourceType {
    /// A custom resource type, with a status subresource (what `kube::CustomResource` generates
    /// when the type has a status); see [`ResourceType::without_status`].
    pub fn custom(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        ResourceType {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced,
            status_subresource: true,
            builtin: false,
            schema: None,
        }
    }

    /// The same type with no status subresource.
    pub fn without_status(mut self) -> Self {
        self.status_subresource = false;
        self
    }

    /// `apiVersion` as written in objects (`v1`, `coordination.k8s.io/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The types found in a `CustomResourceDefinition` object: one per served version.
    pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
        let spec = &crd["spec"];
        let (Some(group), Some(kind), Some(plural)) = (
            spec["group"].as_str(),
            spec["names"]["kind"].as_str(),
            spec["names"]["plural"].as_str(),
        ) else {
            return Vec::new();
        };
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        let Some(versions) = spec["versions"].as_array() else { return Vec::new() };
        versions
            .iter()
            .filter(|v| v["served"].as_bool().unwrap_or(true))
            .filter_map(|v| {
                let version = v["name"].as_str()?;
                let mut rt = ResourceType::custom(group, version, kind, plural, namespaced);
                rt.status_subresource = v["subresources"]["status"].is_object();
                let schema = &v["schema"]["openAPIV3Schema"];
                rt.schema = schema.is_object().then(|| schema.clone());
                Some(rt)
            })
            .collect()
    }

    fn core(kind: &str, plural: &str, namespaced: bool, status: bool) -> Self {
        Self::builtin("", "v1", kind, plural, namespaced, status)
    }

    fn builtin(
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        namespaced: bool,
        status: bool,
    ) -> Self {
        ResourceType {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced,
            status_subresource: status,
            builtin: true,
            schema: None,
        }
    }
}

/// The built-in types every server starts with.
pub fn builtin_resources() -> Vec<ResourceType> {
    vec![
        ResourceType::core("Namespace", "namespaces", false, true),
        ResourceType::core("Node", "nodes", false, true),
        ResourceType::core("Service", "services", true, true),
        ResourceType::core("Endpoints", "endpoints", true, false),
        ResourceType::core("Pod", "pods", true, true),
        ResourceType::core("ConfigMap", "configmaps", true, false),
        ResourceType::core("Secret", "secrets", true, false),
        ResourceType::core("ServiceAccount", "serviceaccounts", true, false),
        ResourceType::core("Event", "events", true, false),
        ResourceType::builtin(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            true,
            false,
        ),
        ResourceType::builtin("events.k8s.io", "v1", "Event", "events", true, false),
        ResourceType::builtin("coordination.k8s.io", "v1", "Lease", "leases", true, false),
        ResourceType::builtin(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            false,
            false,
        ),
        ResourceType::builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            true,
        ),
    ]
}

/// Index of a type in the [`Registry`].
pub(crate) type ResId = usize;

/// The registered types, looked up by URL coordinates or by `apiVersion`/`kind`.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    types: Vec<ResourceType>,
}

impl Registry {
    /// Adds `rt` unless a type with the same group, version and plural exists; returns its index
    /// and whether it is new.
    pub(crate) fn register(&mut self, rt: ResourceType) -> (ResId, bool) {
        match self.by_path(&rt.group, &rt.version, &rt.plural) {
            Some(id) => (id, false),
            None => {
                self.types.push(rt);
                (self.types.len() - 1, true)
            }
        }
    }

    pub(crate) fn get(&self, id: ResId) -> &ResourceType {
        &self.types[id]
    }

    pub(crate) fn all(&self) -> &[ResourceType] {
        &self.types
    }

    pub(crate) fn by_path(&self, group: &str, version: &str, plural: &str) -> Option<ResId> {
        self.types
            .iter()
            .position(|t| t.group == group && t.version == version && t.plural == plural)
    }

    pub(crate) fn by_kind(&self, api_version: &str, kind: &str) -> Option<ResId> {
        self.types.iter().position(|t| t.kind == kind && t.api_version() == api_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registry_finds_by_path_and_kind() {
        let mut r = Registry::default();
        for t in builtin_resources() {
            r.register(t);
        }
        let core = r.by_path("", "v1", "events");
        let new = r.by_path("events.k8s.io", "v1", "events");
        assert!(core.is_some() && new.is_some() && core != new);
        assert_eq!(
            r.by_kind("coordination.k8s.io/v1", "Lease"),
            r.by_path("coordination.k8s.io", "v1", "leases")
        );
        let (_, fresh) = r.register(ResourceType::core("Service", "services", true, true));
        assert!(!fresh);
    }

    #[test]
    fn crd_yields_served_versions() {
        let crd = json!({"spec": {"group": "ironlb.io", "scope": "Namespaced",
            "names": {"kind": "IPAddressPool", "plural": "ipaddresspools"},
            "versions": [{"name": "v1beta1", "served": true, "subresources": {"status": {}}},
                         {"name": "v1alpha1", "served": false}]}});
        let types = ResourceType::from_crd(&crd);
        assert_eq!(
            types,
            vec![ResourceType::custom(
                "ironlb.io",
                "v1beta1",
                "IPAddressPool",
                "ipaddresspools",
                true
            )]
        );
    }
}
