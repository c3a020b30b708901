//! `/version` and the discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`)
//! for clients that look resources up before using them (kube's `Discovery`, `kubectl`).

use serde_json::{Value, json};

use crate::resources::ResourceType;

pub(crate) fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-ironlb-test", "gitCommit": "",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "none",
        "compiler": "rustc", "platform": "linux/amd64"
    })
}

pub(crate) fn core_versions() -> Value {
    json!({ "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1" }] })
}

pub(crate) fn groups(types: &[ResourceType]) -> Value {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) if !versions.contains(&t.version) => {
                versions.push(t.version.clone())
            }
            Some(_) => {}
            None => groups.push((t.group.clone(), vec![t.version.clone()])),
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, versions)| {
            let vs: Vec<Value> =
                versions.iter().map(|v| json!({ "groupVersion": format!("{g}/{v}"), "version": v })).collect();
            json!({ "name": g, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null) })
        })
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

pub(crate) fn resources(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let mut out = Vec::new();
    for t in types.iter().filter(|t| t.group == group && t.version == version) {
        out.push(json!({ "name": t.plural, "singularName": t.kind.to_lowercase(), "namespaced": t.namespaced,
            "kind": t.kind, "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"] }));
        if t.status_subresource {
            out.push(json!({ "name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced,
                "kind": t.kind, "verbs": ["get", "patch", "update"] }));
        }
    }
    if out.is_empty() {
        return None;
    }
    let gv = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
    Some(
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out }),
    )
}
