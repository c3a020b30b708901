//! What the controller writes on a Service: `status.loadBalancer.ingress` and one condition
//! of type [`CONDITION_TYPE`] saying whether an address was given and, if not, why.
//!
//! Pure: [`status_patch`] compares the Service as the cache shows it with the outcome of
//! allocation and gives the JSON merge patch (RFC 7386) for the status subresource, or
//! `None` when the status already says it. That is what makes reconciling idempotent: our
//! own write comes back as a watch event, and the second pass finds nothing to write.
//!
//! A merge patch replaces lists whole, so the patch carries every condition of the
//! Service, ours replaced and the others kept as they were.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use crate::allocator::{Assignment, status_addresses};

/// Our condition on a Service.
pub const CONDITION_TYPE: &str = "ironlb.io/AddressAssigned";

/// The outcome of allocating for a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Assigned(Assignment),
    /// No address: `reason` is a CamelCase reason from the allocator or request reader.
    Failed {
        reason: &'static str,
        message: String,
    },
    /// Not ours (any more): no ingress, no condition.
    Cleared,
}

impl Outcome {
    fn addresses(&self) -> &[IpAddr] {
        match self {
            Self::Assigned(a) => &a.addresses,
            Self::Failed { .. } | Self::Cleared => &[],
        }
    }

    fn condition_fields(&self) -> Option<(&'static str, &str, String)> {
        match self {
            Self::Assigned(a) => Some((
                "True",
                "AddressAssigned",
                format!("{} from pool {}", join(&a.addresses), a.pool),
            )),
            Self::Failed { reason, message } => Some(("False", reason, message.clone())),
            Self::Cleared => None,
        }
    }
}

/// Addresses as "a, b".
pub fn join(addresses: &[IpAddr]) -> String {
    addresses.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}

/// Our condition on `service`, if any.
pub fn our_condition(service: &Service) -> Option<&Condition> {
    service.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == CONDITION_TYPE)
}

/// The merge patch for `service`'s status subresource that records `outcome`, or `None`
/// when nothing needs writing. `now` stamps a condition whose status changes.
pub fn status_patch(service: &Service, outcome: &Outcome, now: Timestamp) -> Option<Value> {
    let current_ips = status_addresses(service);
    let wanted_ips = outcome.addresses();
    let ingress_ok = current_ips.as_slice() == wanted_ips;
    let current = our_condition(service);
    let generation = service.metadata.generation;
    let wanted = outcome.condition_fields();
    let condition_ok = match (current, &wanted) {
        (None, None) => true,
        (Some(c), Some((status, reason, message))) => {
            c.status == *status
                && c.reason == *reason
                && c.message == *message
                && c.observed_generation == generation
        }
        _ => false,
    };
    if ingress_ok && condition_ok {
        return None;
    }
    let mut conditions: Vec<Condition> = service
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != CONDITION_TYPE)
        .collect();
    if let Some((status, reason, message)) = wanted {
        let since = current
            .filter(|c| c.status == status)
            .map_or_else(|| Time(now), |c| c.last_transition_time.clone());
        conditions.push(Condition {
            type_: CONDITION_TYPE.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time: since,
        });
    }
    let ingress: Vec<Value> = wanted_ips.iter().map(|ip| json!({ "ip": ip.to_string() })).collect();
    let ingress = if ingress.is_empty() { Value::Null } else { Value::Array(ingress) };
    Some(json!({
        "status": {
            "loadBalancer": { "ingress": ingress },
            "conditions": conditions,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(ips: &[&str], condition: Option<(&str, &str, &str)>) -> Service {
        let conditions: Vec<Value> = condition
            .into_iter()
            .map(|(s, r, m)| {
                json!({"type": CONDITION_TYPE, "status": s, "reason": r, "message": m,
                       "lastTransitionTime": "2026-01-01T00:00:00Z"})
            })
            .chain([json!({"type": "Other", "status": "True", "reason": "X", "message": "",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"})])
            .collect();
        let ingress: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
        serde_json::from_value(json!({
            "metadata": {"name": "s", "namespace": "default"},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": ingress}, "conditions": conditions}
        }))
        .unwrap()
    }

    fn assigned(ip: &str) -> Outcome {
        Outcome::Assigned(Assignment { addresses: vec![ip.parse().unwrap()], pool: "p".into() })
    }

    #[test]
    fn writes_ingress_and_condition_keeping_other_conditions() {
        let patch =
            status_patch(&service(&[], None), &assigned("198.51.100.1"), Timestamp::now()).unwrap();
        assert_eq!(patch["status"]["loadBalancer"]["ingress"], json!([{"ip": "198.51.100.1"}]));
        let conditions = patch["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0]["type"], "Other");
        assert_eq!(conditions[1]["status"], "True");
    }

    #[test]
    fn nothing_to_write_when_status_matches() {
        let svc = service(
            &["198.51.100.1"],
            Some(("True", "AddressAssigned", "198.51.100.1 from pool p")),
        );
        assert_eq!(status_patch(&svc, &assigned("198.51.100.1"), Timestamp::now()), None);
    }

    #[test]
    fn failure_clears_ingress_and_says_why() {
        let svc = service(&["198.51.100.1"], None);
        let outcome = Outcome::Failed { reason: "PoolExhausted", message: "full".into() };
        let patch = status_patch(&svc, &outcome, Timestamp::now()).unwrap();
        assert_eq!(patch["status"]["loadBalancer"]["ingress"], Value::Null);
        assert_eq!(patch["status"]["conditions"][1]["reason"], "PoolExhausted");
        assert_eq!(patch["status"]["conditions"][1]["status"], "False");
    }

    #[test]
    fn cleared_removes_only_our_condition() {
        let svc = service(&["198.51.100.1"], Some(("True", "AddressAssigned", "m")));
        let patch = status_patch(&svc, &Outcome::Cleared, Timestamp::now()).unwrap();
        assert_eq!(patch["status"]["conditions"].as_array().unwrap().len(), 1);
        assert_eq!(status_patch(&service(&[], None), &Outcome::Cleared, Timestamp::now()), None);
    }
}
