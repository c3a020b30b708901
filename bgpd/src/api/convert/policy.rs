//! `ListPolicies`: the instance's [`PolicyListing`] as a message.

use ironlb_proto::bgpd::v1;

use crate::instance::policy_listing::{PolicyListing, SetKind};

fn kind(kind: SetKind) -> v1::PolicySetKind {
    match kind {
        SetKind::Prefix => v1::PolicySetKind::Prefix,
        SetKind::Community => v1::PolicySetKind::Community,
        SetKind::LargeCommunity => v1::PolicySetKind::LargeCommunity,
        SetKind::AsPath => v1::PolicySetKind::AsPath,
    }
}

pub fn list_policies(listing: PolicyListing) -> v1::ListPoliciesResponse {
    let addresses = |list: Vec<std::net::IpAddr>| list.into_iter().map(|a| a.to_string()).collect();
    v1::ListPoliciesResponse {
        policies: listing
            .policies
            .into_iter()
            .map(|p| v1::PolicyInfo {
                name: p.name,
                builtin: p.builtin,
                default_action: p.default_action,
                statement_count: u32::try_from(p.statements).unwrap_or(u32::MAX),
                sets: p.sets,
                import_peers: addresses(p.import_neighbors),
                export_peers: addresses(p.export_neighbors),
            })
            .collect(),
        sets: listing
            .sets
            .into_iter()
            .map(|s| v1::PolicySet {
                kind: kind(s.kind) as i32,
                name: s.name,
                entries: s.entries,
                policies: s.policies,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::policy_listing::{PolicyEntry, SetEntry};

    #[test]
    fn every_field_is_carried() {
        let listing = PolicyListing {
            policies: vec![PolicyEntry {
                name: "import-upstream".into(),
                builtin: false,
                default_action: "reject".into(),
                statements: 2,
                sets: vec!["services".into()],
                import_neighbors: vec!["192.0.2.2".parse().unwrap()],
                export_neighbors: vec![],
            }],
            sets: vec![SetEntry {
                kind: SetKind::AsPath,
                name: "services".into(),
                entries: vec!["^65010_".into()],
                policies: vec!["import-upstream".into()],
            }],
        };
        let out = list_policies(listing);
        let policy = &out.policies[0];
        assert_eq!(
            (policy.statement_count, policy.import_peers.as_slice()),
            (2, &["192.0.2.2".to_string()][..])
        );
        assert_eq!(out.sets[0].kind, v1::PolicySetKind::AsPath as i32);
        assert_eq!(out.sets[0].policies, ["import-upstream"]);
    }
}
