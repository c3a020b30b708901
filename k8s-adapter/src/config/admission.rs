//! Admission review of ironlb's config objects (the decision of a validating webhook,
//! `admission.k8s.io/v1` `AdmissionReview`): an object is refused when, put beside the
//! objects already stored, [`super::build`] would leave it out, with the same messages the
//! Warning Events carry (every per-object check of [`super::validate`] and the cross-object
//! ones: a pool overlapping an older pool, a BGPAdvertisement naming a missing Community
//! alias, a BGPPeer naming a missing BFDProfile, duplicate names). The object under review
//! counts as the newest, so of two overlapping pools it is the one refused, as it would be
//! once stored. Warnings of the object (an unknown pool name, `disableMP`) are returned as
//! admission warnings. Deletions and kinds that are not config are allowed.
//!
//! This is the decision only: [`crate::controller::webhook`] serves it over HTTPS with a
//! bootstrapped certificate for the `ValidatingWebhookConfiguration` of `deploy/`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::validate::{Resources, build};

/// The `AdmissionReview` answering `review` (an `AdmissionReview` with a `request`), given
/// the config objects stored now (`current`, the namespace's objects).
pub fn respond(review: &Value, current: &Resources) -> Value {
    let request = &review["request"];
    let uid = request["uid"].clone();
    let (allowed, message, warnings) = decide(request, current);
    let mut response = json!({ "uid": uid, "allowed": allowed });
    if let Some(message) = message {
        response["status"] = json!({ "code": 422, "reason": "Invalid", "message": message });
    }
    if !warnings.is_empty() {
        response["warnings"] = json!(warnings);
    }
    json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response })
}

/// Allowed, the refusal's message, and the warnings.
fn decide(request: &Value, current: &Resources) -> (bool, Option<String>, Vec<String>) {
    if request["operation"] == "DELETE" {
        return (true, None, Vec::new());
    }
    let object = &request["object"];
    let kind = request["kind"]["kind"].as_str().or_else(|| object["kind"].as_str());
    let mut resources = current.clone();
    let added = match kind {
        Some("IPAddressPool") => put(&mut resources.pools, object),
        Some("BGPPeer") => put(&mut resources.peers, object),
        Some("BGPAdvertisement") => put(&mut resources.bgp_advertisements, object),
        Some("L2Advertisement") => put(&mut resources.l2_advertisements, object),
        Some("Community") => put(&mut resources.communities, object),
        Some("BFDProfile") => put(&mut resources.bfd_profiles, object),
        _ => return (true, None, Vec::new()),
    };
    let name = match added {
        Ok(name) => name,
        Err(message) => return (false, Some(message), Vec::new()),
    };
    let kind = kind.unwrap_or_default();
    let built = build(&resources);
    let mine = |object: &super::ObjectRef| object.kind == kind && object.name == name;
    let errors: Vec<String> =
        built.errors.iter().filter(|e| mine(&e.object)).map(ToString::to_string).collect();
    let warnings: Vec<String> =
        built.warnings.iter().filter(|w| mine(&w.object)).map(ToString::to_string).collect();
    if errors.is_empty() {
        (true, None, warnings)
    } else {
        (false, Some(errors.join("; ")), warnings)
    }
}

/// Puts `object` into `list` in place of the stored object of that name, as the newest
/// object; its name, or why it is not such an object at all.
fn put<K>(list: &mut Vec<K>, object: &Value) -> Result<String, String>
where
    K: kube::Resource + DeserializeOwned,
{
    let mut parsed: K = serde_json::from_value(object.clone())
        .map_err(|e| format!("not a valid {}: {e}", object["kind"].as_str().unwrap_or("object")))?;
    let name = parsed.name_any();
    list.retain(|o| o.name_any() != name);
    parsed.meta_mut().creation_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::MAX));
    list.push(parsed);
    Ok(name)
}

/// The kinds [`respond`] reviews (for the webhook configuration's rules).
pub const REVIEWED: [&str; 6] = [
    "ipaddresspools",
    "bgppeers",
    "bgpadvertisements",
    "l2advertisements",
    "communities",
    "bfdprofiles",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::crd;

    fn review(kind: &str, object: Value) -> Value {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "request": {"uid": "u-1", "kind": {"group": "ironlb.io", "version": "v1beta1", "kind": kind},
                           "operation": "CREATE", "object": object}})
    }

    fn pool(name: &str, cidr: &str) -> crd::IpAddressPool {
        let mut p = crd::IpAddressPool::new(
            name,
            crd::IpAddressPoolSpec { addresses: vec![cidr.into()], ..Default::default() },
        );
        p.metadata.creation_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        p
    }

    #[test]
    fn an_overlapping_pool_is_refused_and_the_older_one_kept() {
        let current =
            Resources { pools: vec![pool("old", "198.51.100.0/24")], ..Default::default() };
        let new = json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
                         "metadata": {"name": "new"}, "spec": {"addresses": ["198.51.100.128/25"]}});
        let answer = respond(&review("IPAddressPool", new), &current);
        assert_eq!(answer["response"]["uid"], "u-1");
        assert_eq!(answer["response"]["allowed"], false, "{answer}");
        let message = answer["response"]["status"]["message"].as_str().unwrap();
        assert!(message.contains("overlaps") && message.contains("old"), "{message}");
        // Elsewhere: allowed.
        let fine = json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
                          "metadata": {"name": "new"}, "spec": {"addresses": ["203.0.113.0/24"]}});
        assert_eq!(respond(&review("IPAddressPool", fine), &current)["response"]["allowed"], true);
    }

    #[test]
    fn names_of_missing_objects_and_bad_fields_are_refused_warnings_passed_on() {
        let current = Resources::default();
        let adv = json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
                         "metadata": {"name": "a"}, "spec": {"communities": ["no-such-alias"]}});
        let answer = respond(&review("BGPAdvertisement", adv), &current);
        assert_eq!(answer["response"]["allowed"], false, "{answer}");
        let peer = json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "p"},
                          "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1",
                                   "bfdProfile": "missing"}});
        let answer = respond(&review("BGPPeer", peer), &current);
        assert!(answer["response"]["status"]["message"].as_str().unwrap().contains("BFDProfile"));
        let vrf = json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "p"},
                         "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1", "vrf": "red"}});
        assert_eq!(respond(&review("BGPPeer", vrf), &current)["response"]["allowed"], true);
        let bad_vrf = json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "p"},
                             "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1", "vrf": "a/b"}});
        let answer = respond(&review("BGPPeer", bad_vrf), &current);
        assert_eq!(answer["response"]["allowed"], false, "{answer}");
        assert!(answer["response"]["status"]["message"].as_str().unwrap().contains("spec.vrf"));
        let mp = json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "p"},
                        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1", "disableMP": true}});
        let answer = respond(&review("BGPPeer", mp), &current);
        assert_eq!(answer["response"]["allowed"], true);
        assert!(answer["response"]["warnings"][0].as_str().unwrap().contains("disableMP"));
        let garbage = json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "p"},
                             "spec": {"myASN": "many"}});
        assert_eq!(respond(&review("BGPPeer", garbage), &current)["response"]["allowed"], false);
    }

    #[test]
    fn deletions_and_other_kinds_are_allowed() {
        let mut delete = review("IPAddressPool", Value::Null);
        delete["request"]["operation"] = json!("DELETE");
        assert_eq!(respond(&delete, &Resources::default())["response"]["allowed"], true);
        let other = review("ConfigMap", json!({"metadata": {"name": "x"}}));
        assert_eq!(respond(&other, &Resources::default())["response"]["allowed"], true);
    }
}
