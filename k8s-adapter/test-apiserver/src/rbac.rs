//! RBAC as the API server applies it, so that tests run each component with exactly the
//! permissions its manifests grant: a request the component's roles do not allow is
//! answered 403 Forbidden, as a real cluster would, and a test that needs a permission the
//! manifests lack fails.
//!
//! Roles and bindings come from manifests (`Role`, `ClusterRole`, `RoleBinding`,
//! `ClusterRoleBinding`, rbac.authorization.k8s.io/v1). Authentication is a bearer token that
//! is the user name itself (`system:serviceaccount:NS:NAME` for a ServiceAccount subject);
//! a request without a token is the test itself and may do anything. Rules match on API
//! group, resource (`plural` or `plural/subresource`), verb and, when a rule lists
//! `resourceNames`, the object's name (so such a rule never allows list, watch or create,
//! which name no object), with `*` as a wildcard, as upstream.
//!
//! Every request a rule allows marks that rule's (group, resource, verb) as used, so a test
//! can ask which granted permissions nothing used ([`Rbac::unused`]): least privilege checked
//! from both sides, a missing permission by a 403, an excess one by never being used.

use std::collections::BTreeSet;

use serde_json::Value;

/// One rule of a role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
    resource_names: Vec<String>,
}

impl Rule {
    fn from(value: &Value) -> Self {
        let list = |key: &str| -> Vec<String> {
            value[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        Rule {
            api_groups: list("apiGroups"),
            resources: list("resources"),
            verbs: list("verbs"),
            resource_names: list("resourceNames"),
        }
    }

    fn allows(&self, request: &Access<'_>) -> bool {
        has(&self.api_groups, request.group)
            && has(&self.resources, request.resource)
            && has(&self.verbs, request.verb)
            && (self.resource_names.is_empty()
                || request.name.is_some_and(|n| self.resource_names.iter().any(|r| r == n)))
    }
}

fn has(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

/// What one user may do, cluster-wide or in one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Grant {
    user: String,
    /// `None`: every namespace and cluster-scoped objects (a ClusterRoleBinding).
    namespace: Option<String>,
    rules: Vec<Rule>,
}

/// One request as RBAC sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access<'a> {
    pub user: &'a str,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: &'a str,
    /// Empty for the core group.
    pub group: &'a str,
    /// `services`, or `services/status` for the subresource.
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// The grants of a set of manifests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rbac {
    grants: Vec<Grant>,
    /// (grant, rule, group, resource, verb) that allowed some request.
    used: BTreeSet<(usize, usize, String, String, String)>,
}

/// A granted permission that no request used: one (group, resource, verb) of a rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unused {
    pub user: String,
    /// `None`: cluster-wide (a ClusterRoleBinding).
    pub namespace: Option<String>,
    pub group: String,
    pub resource: String,
    pub verb: String,
    /// The rule's `resourceNames`, if it has any.
    pub resource_names: Vec<String>,
}

impl std::fmt::Display for Unused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() { "core" } else { &self.group };
        write!(f, "{} may {} {}/{}", self.user, self.verb, group, self.resource)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in {ns}")?;
        }
        if !self.resource_names.is_empty() {
            write!(f, " named {:?}", self.resource_names)?;
        }
        Ok(())
    }
}

impl Rbac {
    /// The grants of the RBAC objects among `documents` (other kinds are skipped).
    pub fn from_manifests(documents: &[Value]) -> Self {
        let role = |kind: &str, namespace: Option<&str>, name: &str| -> Vec<Rule> {
            documents
                .iter()
                .find(|d| {
                    d["kind"] == kind
                        && d["metadata"]["name"] == name
                        && (kind == "ClusterRole"
                            || d["metadata"]["namespace"].as_str() == namespace)
                })
                .and_then(|d| d["rules"].as_array())
                .map(|rules| rules.iter().map(Rule::from).collect())
                .unwrap_or_default()
        };
        let mut grants = Vec::new();
        for binding in documents {
            let cluster = match binding["kind"].as_str() {
                Some("ClusterRoleBinding") => true,
                Some("RoleBinding") => false,
                _ => continue,
            };
            let namespace = binding["metadata"]["namespace"].as_str();
            let role_kind = binding["roleRef"]["kind"].as_str().unwrap_or_default();
            let role_name = binding["roleRef"]["name"].as_str().unwrap_or_default();
            let rules = role(role_kind, namespace, role_name);
            for subject in binding["subjects"].as_array().into_iter().flatten() {
                let name = subject["name"].as_str().unwrap_or_default();
                let user = match subject["kind"].as_str() {
                    Some("ServiceAccount") => format!(
                        "system:serviceaccount:{}:{name}",
                        subject["namespace"].as_str().or(namespace).unwrap_or_default()
                    ),
                    Some("User") => name.to_owned(),
                    _ => continue,
                };
                grants.push(Grant {
                    user,
                    namespace: if cluster { None } else { namespace.map(str::to_owned) },
                    rules: rules.clone(),
                });
            }
        }
        Rbac { grants, used: BTreeSet::new() }
    }

    /// Whether some grant of the user allows the request.
    pub fn allows(&self, access: &Access<'_>) -> bool {
        self.allowing(access).next().is_some()
    }

    /// [`Self::allows`], marking every rule that allows the request as used.
    pub fn authorize(&mut self, access: &Access<'_>) -> bool {
        let allowing: Vec<(usize, usize)> = self.allowing(access).collect();
        for &(grant, rule) in &allowing {
            self.used.insert((
                grant,
                rule,
                access.group.to_owned(),
                access.resource.to_owned(),
                access.verb.to_owned(),
            ));
        }
        !allowing.is_empty()
    }

    /// (grant, rule) of every rule that allows the request.
    fn allowing<'a>(&'a self, access: &'a Access<'_>) -> impl Iterator<Item = (usize, usize)> + 'a {
        self.grants.iter().enumerate().flat_map(move |(g, grant)| {
            let applies = grant.user == access.user
                && (grant.namespace.is_none() || grant.namespace.as_deref() == access.namespace);
            grant
                .rules
                .iter()
                .enumerate()
                .filter(move |(_, rule)| applies && rule.allows(access))
                .map(move |(r, _)| (g, r))
        })
    }

    /// Every (group, resource, verb) a rule grants that no request used since the rules
    /// were enforced. Wildcards are listed as written (`*`), used when anything matched.
    pub fn unused(&self) -> Vec<Unused> {
        let mut out = Vec::new();
        for (g, grant) in self.grants.iter().enumerate() {
            for (r, rule) in grant.rules.iter().enumerate() {
                for group in &rule.api_groups {
                    for resource in &rule.resources {
                        for verb in &rule.verbs {
                            let used = self.used.iter().any(|(ug, ur, ugroup, ures, uverb)| {
                                *ug == g
                                    && *ur == r
                                    && (group == "*" || group == ugroup)
                                    && (resource == "*" || resource == ures)
                                    && (verb == "*" || verb == uverb)
                            });
                            if !used {
                                out.push(Unused {
                                    user: grant.user.clone(),
                                    namespace: grant.namespace.clone(),
                                    group: group.clone(),
                                    resource: resource.clone(),
                                    verb: verb.clone(),
                                    resource_names: rule.resource_names.clone(),
                                });
                            }
                        }
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn manifests() -> Vec<Value> {
        vec![
            json!({"kind": "ClusterRole", "metadata": {"name": "reader"},
                   "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]}]}),
            json!({"kind": "ClusterRoleBinding", "metadata": {"name": "reader"},
                   "roleRef": {"kind": "ClusterRole", "name": "reader"},
                   "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]}),
            json!({"kind": "Role", "metadata": {"name": "lease", "namespace": "ns"},
                   "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "verbs": ["update"], "resourceNames": ["mine"]},
                             {"apiGroups": ["ironlb.io"], "resources": ["ipaddresspools/status"], "verbs": ["patch"]}]}),
            json!({"kind": "RoleBinding", "metadata": {"name": "lease", "namespace": "ns"},
                   "roleRef": {"kind": "Role", "name": "lease"},
                   "subjects": [{"kind": "ServiceAccount", "name": "sa"}]}),
        ]
    }

    fn access<'a>(
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        namespace: Option<&'a str>,
        name: Option<&'a str>,
    ) -> Access<'a> {
        Access { user: "system:serviceaccount:ns:sa", verb, group, resource, namespace, name }
    }

    #[test]
    fn cluster_and_namespaced_grants_names_and_subresources() {
        let rbac = Rbac::from_manifests(&manifests());
        assert!(rbac.allows(&access("list", "", "services", None, None)));
        assert!(rbac.allows(&access("get", "", "services", Some("other"), Some("web"))));
        assert!(!rbac.allows(&access("patch", "", "services", Some("ns"), Some("web"))));
        assert!(!rbac.allows(&access("patch", "", "services/status", Some("ns"), Some("web"))));
        assert!(rbac.allows(&access(
            "update",
            "coordination.k8s.io",
            "leases",
            Some("ns"),
            Some("mine")
        )));
        assert!(!rbac.allows(&access(
            "update",
            "coordination.k8s.io",
            "leases",
            Some("ns"),
            Some("theirs")
        )));
        assert!(!rbac.allows(&access(
            "update",
            "coordination.k8s.io",
            "leases",
            Some("x"),
            Some("mine")
        )));
        let status = access("patch", "ironlb.io", "ipaddresspools/status", Some("ns"), Some("p"));
        assert!(rbac.allows(&status));
        assert!(!rbac.allows(&access(
            "patch",
            "ironlb.io",
            "ipaddresspools",
            Some("ns"),
            Some("p")
        )));
        let stranger = Access { user: "someone", ..status };
        assert!(!rbac.allows(&stranger));
    }

    #[test]
    fn permissions_no_request_used_are_listed() {
        let mut rbac = Rbac::from_manifests(&manifests());
        assert_eq!(rbac.unused().len(), 5, "{:?}", rbac.unused());
        assert!(rbac.authorize(&access("list", "", "services", None, None)));
        assert!(rbac.authorize(&access("watch", "", "services", Some("x"), None)));
        assert!(!rbac.authorize(&access("patch", "", "services", Some("ns"), Some("web"))));
        let status = access("patch", "ironlb.io", "ipaddresspools/status", Some("ns"), Some("p"));
        assert!(rbac.authorize(&status));
        let unused: Vec<String> = rbac.unused().iter().map(ToString::to_string).collect();
        assert_eq!(
            unused,
            [
                "system:serviceaccount:ns:sa may get core/services",
                "system:serviceaccount:ns:sa may update coordination.k8s.io/leases in ns named [\"mine\"]",
            ]
        );
    }
}
