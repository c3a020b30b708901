//! `ListPolicies` in domain types: the policies of the running config (the
//! built-ins `accept-all` and `reject-all` first), the sets they match on,
//! which policies name each set, and which neighbors use each policy in
//! their import or export chain. Built from the config's definitions on
//! request; `api::convert` makes the message of it. Read only: policies
//! change through the config file and SIGHUP (issue #12).

use std::net::IpAddr;

use crate::config::{Config, Neighbor};
pub use crate::policy::SetKind;
use crate::policy::{ACCEPT_ALL, MatchDefinition, PolicyDefinitions, REJECT_ALL};

/// One `[[*_sets]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetEntry {
    pub kind: SetKind,
    pub name: String,
    /// As written in the config (`"198.51.100.0/24 le 32"`, `"65001:*"`, ...).
    pub entries: Vec<String>,
    /// Policies with a statement that names the set, in config order.
    pub policies: Vec<String>,
}

/// One policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyEntry {
    pub name: String,
    pub builtin: bool,
    /// `accept`, `reject` or `next` (no `default` key: go on to the next policy).
    pub default_action: String,
    pub statements: usize,
    /// Sets its statements name, in order, without repeats.
    pub sets: Vec<String>,
    /// Neighbors whose import chain holds it.
    pub import_neighbors: Vec<IpAddr>,
    /// Neighbors whose export chain holds it.
    pub export_neighbors: Vec<IpAddr>,
}

/// The answer of `ListPolicies`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyListing {
    pub policies: Vec<PolicyEntry>,
    pub sets: Vec<SetEntry>,
}

/// The set names one statement's conditions use (a leading `!` negates and
/// is not part of the name; `next_hop_set` names a prefix set).
fn named_sets(conditions: &MatchDefinition) -> impl Iterator<Item = &str> {
    [
        &conditions.prefix_set,
        &conditions.community_set,
        &conditions.large_community_set,
        &conditions.as_path_set,
        &conditions.next_hop_set,
    ]
    .into_iter()
    .flatten()
    .map(|name| name.trim_start_matches('!'))
}

/// The listing of `config`'s policies, with the chains of `neighbors` (the
/// running ones: config-file and API peers alike).
pub fn list<'a>(config: &Config, neighbors: impl Iterator<Item = &'a Neighbor>) -> PolicyListing {
    let definitions: &PolicyDefinitions = config.policies.definitions();
    let mut policies: Vec<PolicyEntry> = [(ACCEPT_ALL, "accept"), (REJECT_ALL, "reject")]
        .into_iter()
        .map(|(name, default)| PolicyEntry {
            name: name.to_string(),
            builtin: true,
            default_action: default.to_string(),
            statements: 0,
            sets: Vec::new(),
            import_neighbors: Vec::new(),
            export_neighbors: Vec::new(),
        })
        .collect();
    for policy in &definitions.policies {
        let mut sets: Vec<String> = Vec::new();
        for name in policy.statements.iter().flat_map(|s| named_sets(&s.conditions)) {
            if !sets.iter().any(|known| known == name) {
                sets.push(name.to_string());
            }
        }
        policies.push(PolicyEntry {
            name: policy.name.clone(),
            builtin: false,
            default_action: policy.default.clone().unwrap_or_else(|| "next".to_string()),
            statements: policy.statements.len(),
            sets,
            import_neighbors: Vec::new(),
            export_neighbors: Vec::new(),
        });
    }
    let mut neighbors: Vec<&Neighbor> = neighbors.collect();
    neighbors.sort_by_key(|n| n.address);
    for neighbor in neighbors {
        for entry in &mut policies {
            if neighbor.import_policy.contains(&entry.name) {
                entry.import_neighbors.push(neighbor.address);
            }
            if neighbor.export_policy.contains(&entry.name) {
                entry.export_neighbors.push(neighbor.address);
            }
        }
    }
    let users = |name: &str| -> Vec<String> {
        policies
            .iter()
            .filter(|p| p.sets.iter().any(|s| s == name))
            .map(|p| p.name.clone())
            .collect()
    };
    let mut sets = Vec::new();
    for set in &definitions.prefix_sets {
        sets.push((SetKind::Prefix, &set.name, &set.prefixes));
    }
    for set in &definitions.community_sets {
        sets.push((SetKind::Community, &set.name, &set.communities));
    }
    for set in &definitions.large_community_sets {
        sets.push((SetKind::LargeCommunity, &set.name, &set.communities));
    }
    for set in &definitions.as_path_sets {
        sets.push((SetKind::AsPath, &set.name, &set.patterns));
    }
    let sets = sets
        .into_iter()
        .map(|(kind, name, entries)| SetEntry {
            kind,
            name: name.clone(),
            entries: entries.clone(),
            policies: users(name),
        })
        .collect();
    PolicyListing { policies, sets }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[global]
asn = 65001
router_id = "192.0.2.1"
[[neighbors]]
address = "192.0.2.2"
remote_asn = 65002
import_policy = ["import-upstream", "accept-all"]
export_policy = ["export-services"]
[[neighbors]]
address = "192.0.2.3"
remote_asn = 65003
import_policy = ["import-upstream"]
[[prefix_sets]]
name = "services"
prefixes = ["198.51.100.0/24 le 32"]
[[community_sets]]
name = "blackhole"
communities = ["65535:666"]
[[as_path_sets]]
name = "unused"
patterns = ["^65010_"]
[[policies]]
name = "import-upstream"
default = "reject"
[[policies.statements]]
match.prefix_set = "!services"
match.community_set = "blackhole"
action = "accept"
[[policies.statements]]
match.prefix_set = "services"
action = "reject"
[[policies]]
name = "export-services"
[[policies.statements]]
match.prefix_set = "services"
action = "accept"
"#;

    #[test]
    fn policies_sets_and_their_users() {
        let config: Config = CONFIG.parse().unwrap();
        let listing = list(&config, config.neighbors.iter());
        let names: Vec<&str> = listing.policies.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["accept-all", "reject-all", "import-upstream", "export-services"]);
        let accept_all = &listing.policies[0];
        assert!(accept_all.builtin);
        assert_eq!(accept_all.import_neighbors, ["192.0.2.2".parse::<IpAddr>().unwrap()]);
        let import = &listing.policies[2];
        assert_eq!((import.default_action.as_str(), import.statements), ("reject", 2));
        assert_eq!(import.sets, ["services", "blackhole"], "negation stripped, no repeats");
        assert_eq!(import.import_neighbors.len(), 2);
        assert!(import.export_neighbors.is_empty());
        let export = &listing.policies[3];
        assert_eq!(export.default_action, "next");
        assert_eq!(export.export_neighbors, ["192.0.2.2".parse::<IpAddr>().unwrap()]);

        let sets: Vec<(SetKind, &str, Vec<String>)> =
            listing.sets.iter().map(|s| (s.kind, s.name.as_str(), s.policies.clone())).collect();
        assert_eq!(
            sets,
            [
                (
                    SetKind::Prefix,
                    "services",
                    vec!["import-upstream".to_string(), "export-services".to_string()]
                ),
                (SetKind::Community, "blackhole", vec!["import-upstream".to_string()]),
                (SetKind::AsPath, "unused", vec![]),
            ]
        );
        assert_eq!(listing.sets[0].entries, ["198.51.100.0/24 le 32"]);
    }
}
