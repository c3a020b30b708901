//! CEL `x-kubernetes-validations` on the CRD schemas: the field-local checks of
//! [`super::validate`], restated so that the API server refuses such an object even where
//! the admission webhook is not installed or fails open. Only rules that say exactly what
//! `validate.rs` says about fields of one object are here; everything that needs another
//! object (overlaps, names of Communities or BFDProfiles) or a parser CEL lacks (address
//! ranges, community values) stays with the webhook and the controller's Warning Events.
//!
//! Durations are Go durations (`metav1.Duration`), which CEL's `duration()` parses as
//! `validate.rs`'s parser does; a string neither can parse is refused by both.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, ValidationRule,
};

/// (kind, rule, message) of every rule, on the kind's `spec`.
pub const RULES: &[(&str, &str, &str)] = &[
    (
        "IPAddressPool",
        "size(self.addresses) > 0",
        "spec.addresses: a pool needs at least one CIDR or range",
    ),
    (
        "BGPPeer",
        "self.myASN >= 1 && self.myASN <= 4294967295",
        "spec.myASN: must be 1 to 4294967295",
    ),
    (
        "BGPPeer",
        "!has(self.peerASN) || (self.peerASN >= 1 && self.peerASN <= 4294967295)",
        "spec.peerASN: must be 1 to 4294967295",
    ),
    (
        "BGPPeer",
        "has(self.peerASN) != has(self.dynamicASN)",
        "spec.peerASN: exactly one of peerASN and dynamicASN must be given",
    ),
    (
        "BGPPeer",
        "(has(self.peerAddress) && self.peerAddress != '') != has(self.interface)",
        "spec.peerAddress: exactly one of peerAddress and interface (BGP unnumbered) must be given",
    ),
    (
        "BGPPeer",
        "!has(self.dynamicASN) || self.dynamicASN in ['internal', 'external']",
        "spec.dynamicASN: must be internal or external",
    ),
    (
        "BGPPeer",
        "!has(self.holdTime) || duration(self.holdTime) == duration('0s') || duration(self.holdTime) >= duration('3s')",
        "spec.holdTime: must be 0 (no keepalives) or at least 3s (RFC 4271 4.2)",
    ),
    (
        "BGPPeer",
        "!has(self.holdTime) || !has(self.keepaliveTime) || duration(self.keepaliveTime) <= duration(self.holdTime)",
        "spec.keepaliveTime: must not exceed holdTime",
    ),
];

/// Adds [`RULES`] to the `spec` schema of the CRDs of their kinds.
pub fn add_rules(crds: &mut [CustomResourceDefinition]) {
    for crd in crds {
        let kind = crd.spec.names.kind.clone();
        let rules: Vec<ValidationRule> = RULES
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, rule, message)| ValidationRule {
                rule: (*rule).to_owned(),
                message: Some((*message).to_owned()),
                ..ValidationRule::default()
            })
            .collect();
        if rules.is_empty() {
            continue;
        }
        for version in &mut crd.spec.versions {
            let spec = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
                .and_then(|s| s.properties.as_mut())
                .and_then(|p| p.get_mut("spec"));
            if let Some(spec) = spec {
                spec.x_kubernetes_validations.get_or_insert_with(Vec::new).extend(rules.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(kind: &str) -> Vec<String> {
        let crds = super::super::crd::definitions();
        let crd = crds.iter().find(|c| c.spec.names.kind == kind).unwrap();
        let schema = crd.spec.versions[0].schema.as_ref().unwrap();
        let spec =
            &schema.open_api_v3_schema.as_ref().unwrap().properties.as_ref().unwrap()["spec"];
        spec.x_kubernetes_validations.iter().flatten().map(|r| r.rule.clone()).collect()
    }

    #[test]
    fn every_rule_is_on_its_kinds_spec_schema() {
        let pool = rules_of("IPAddressPool");
        assert_eq!(pool, ["size(self.addresses) > 0"]);
        let peer = rules_of("BGPPeer");
        for wanted in [
            "self.myASN >= 1",
            "self.peerASN >= 1",
            "has(self.peerASN) != has(self.dynamicASN)",
            "(has(self.peerAddress) && self.peerAddress != '') != has(self.interface)",
            "['internal', 'external']",
            "duration(self.holdTime) >= duration('3s')",
            "duration(self.keepaliveTime) <= duration(self.holdTime)",
        ] {
            assert!(peer.iter().any(|r| r.contains(wanted)), "{wanted} missing: {peer:?}");
        }
        assert_eq!(pool.len() + peer.len(), RULES.len());
        assert!(rules_of("BGPAdvertisement").is_empty(), "its checks need other objects");
    }

    /// Every rule names only fields its kind's schema has.
    #[test]
    fn rules_name_only_fields_of_their_schema() {
        for crd in super::super::crd::definitions() {
            let schema = crd.spec.versions[0].schema.as_ref().unwrap();
            let spec =
                &schema.open_api_v3_schema.as_ref().unwrap().properties.as_ref().unwrap()["spec"];
            let Some(rules) = &spec.x_kubernetes_validations else { continue };
            let fields = spec.properties.as_ref().unwrap();
            for rule in rules {
                for part in rule.rule.split("self.").skip(1) {
                    let field: String =
                        part.chars().take_while(char::is_ascii_alphanumeric).collect();
                    assert!(fields.contains_key(&field), "{}: no field {field}", rule.rule);
                }
            }
        }
    }
}
