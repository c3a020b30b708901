//! Test hooks: request counters per resource and verb, and injected failures.
//!
//! Resources are named as `kubectl` and RBAC name them: the plural for the core group
//! (`services`), `plural.group` otherwise (`leases.coordination.k8s.io`).

use std::collections::HashMap;

use crate::errors::ApiError;

/// The verb of a request, as RBAC names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

/// A failure to inject: the next `times` requests matching `resource` and `verb` (any when
/// `None`) are answered with `code` and the reason the real server gives for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub resource: Option<String>,
    pub verb: Option<Verb>,
    pub code: u16,
    pub times: usize,
}

impl Failure {
    /// One failure with `code` on any request.
    pub fn code(code: u16) -> Self {
        Failure { resource: None, verb: None, code, times: 1 }
    }

    /// Only requests on `resource` (`services`, `leases.coordination.k8s.io`).
    pub fn on(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    /// Only requests with `verb`.
    pub fn verb(mut self, verb: Verb) -> Self {
        self.verb = Some(verb);
        self
    }

    /// The next `times` matching requests fail.
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }
}

#[derive(Debug, Default)]
pub(crate) struct Hooks {
    failures: Vec<Failure>,
    counts: HashMap<(String, Verb), u64>,
    /// Enforced on requests that carry a bearer token ([`crate::TestApiServer::enforce_rbac`]).
    pub(crate) rbac: Option<crate::rbac::Rbac>,
    /// Validating webhooks are called ([`crate::Options::admission`]), service references
    /// reached at these addresses.
    pub(crate) admission: Option<crate::admission::Routes>,
}

impl Verb {
    /// The verb as RBAC rules spell it.
    pub fn rbac_name(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

impl Hooks {
    pub(crate) fn inject(&mut self, f: Failure) {
        if f.times > 0 {
            self.failures.push(f);
        }
    }

    /// Counts a request and returns the failure to answer it with, if one is armed.
    pub(crate) fn on_request(&mut self, resource: &str, verb: Verb) -> Option<ApiError> {
        *self.counts.entry((resource.to_owned(), verb)).or_insert(0) += 1;
        let pos = self.failures.iter().position(|f| {
            f.resource.as_deref().is_none_or(|r| r == resource) && f.verb.is_none_or(|v| v == verb)
        })?;
        let f = &mut self.failures[pos];
        let err = ApiError::Injected { plural: resource.to_owned(), code: f.code };
        f.times -= 1;
        if f.times == 0 {
            self.failures.remove(pos);
        }
        Some(err)
    }

    pub(crate) fn count(&self, resource: &str, verb: Verb) -> u64 {
        self.counts.get(&(resource.to_owned(), verb)).copied().unwrap_or(0)
    }

    pub(crate) fn reset_counts(&mut self) {
        self.counts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_fire_then_disarm() {
        let mut h = Hooks::default();
        h.inject(Failure::code(500).on("services").verb(Verb::Update).times(2));
        assert_eq!(h.on_request("services", Verb::Get), None);
        assert_eq!(h.on_request("leases.coordination.k8s.io", Verb::Update), None);
        assert_eq!(h.on_request("services", Verb::Update).map(|e| e.code()), Some(500));
        assert_eq!(h.on_request("services", Verb::Update).map(|e| e.code()), Some(500));
        assert_eq!(h.on_request("services", Verb::Update), None);
        assert_eq!(h.count("services", Verb::Update), 3);
        h.reset_counts();
        assert_eq!(h.count("services", Verb::Update), 0);
    }
}
