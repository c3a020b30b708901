//! The policy definitions as written in the configuration file: plain structs
//! mirroring the TOML tables `[[prefix_sets]]`, `[[community_sets]]`,
//! `[[large_community_sets]]`, `[[as_path_sets]]` and `[[policies]]` with
//! `[[policies.statements]]`, so that the config module embeds them as they
//! are (each with `deny_unknown_fields`).
//!
//! Values that need parsing (prefixes, communities, patterns, `"le 10"`,
//! `"+10"`, `"self"`) stay text here: [`super::PolicyBook::build`] parses them
//! all and reports every error at once, each naming the table, its index, the
//! statement, the field and the value, so config can add line and column.
//!
//! ```toml
//! [[policies]]
//! name = "import-upstream"
//! default = "reject"          # accept | reject | next (the default: go on to the next policy)
//! [[policies.statements]]
//! match.prefix_set = "services"
//! set.local_pref = 200
//! action = "accept"           # accept | reject | next (the default)
//! ```

use serde::{Deserialize, Serialize};

/// All policy tables of one configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDefinitions {
    #[serde(default)]
    pub prefix_sets: Vec<PrefixSetDefinition>,
    #[serde(default)]
    pub community_sets: Vec<CommunitySetDefinition>,
    #[serde(default)]
    pub large_community_sets: Vec<LargeCommunitySetDefinition>,
    #[serde(default)]
    pub as_path_sets: Vec<AsPathSetDefinition>,
    #[serde(default)]
    pub policies: Vec<PolicyDefinition>,
}

/// `[[prefix_sets]]`: entries `PREFIX [ge N] [le M]`, both families.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixSetDefinition {
    pub name: String,
    #[serde(default)]
    pub prefixes: Vec<String>,
}

/// `[[community_sets]]`: `ASN:VALUE` with `*` for either half, or well-known names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommunitySetDefinition {
    pub name: String,
    #[serde(default)]
    pub communities: Vec<String>,
}

/// `[[large_community_sets]]`: `GLOBAL:LOCAL1:LOCAL2` with `*` for any part.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LargeCommunitySetDefinition {
    pub name: String,
    #[serde(default)]
    pub communities: Vec<String>,
}

/// `[[as_path_sets]]`: regular expressions over the AS path's text, `_` as in FRR.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AsPathSetDefinition {
    pub name: String,
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// `[[policies]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDefinition {
    pub name: String,
    /// `accept`, `reject` or `next`; absent means `next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub statements: Vec<StatementDefinition>,
}

/// `[[policies.statements]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatementDefinition {
    /// `match.*`: every condition given must hold.
    #[serde(rename = "match", default)]
    pub conditions: MatchDefinition,
    /// `set.*`: applied when the conditions hold (and the action is not `reject`).
    #[serde(rename = "set", default)]
    pub actions: SetDefinition,
    /// `accept`, `reject` or `next`; absent means `next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// `match.*` keys. Set references take a leading `!` to negate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatchDefinition {
    /// The route's prefix is in this prefix set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_set: Option<String>,
    /// The route carries a community of this set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_set: Option<String>,
    /// The route carries a large community of this set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_community_set: Option<String>,
    /// The AS path matches a pattern of this set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_set: Option<String>,
    /// `eq N`, `le N` or `ge N`, on the RFC 4271 §9.1.2.2 a) length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_length: Option<String>,
    /// `igp`, `egp` or `incomplete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The route's next hop is in this prefix set (as a host route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_set: Option<String>,
    /// `eq N`, `le N` or `ge N` on MULTI_EXIT_DISC (0 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<String>,
    /// `eq N`, `le N` or `ge N` on LOCAL_PREF (100 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<String>,
    /// The neighbor the chain runs for has this AS number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbor_asn: Option<u32>,
    /// `ipv4-unicast` or `ipv6-unicast`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// `set.med`: an absolute value, or `"+N"` / `"-N"` (saturating).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum MedDefinition {
    Value(u32),
    Text(String),
}

/// `set.*` keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SetDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<MedDefinition>,
    /// Prepend the local AS (the neighbor's `local_asn`, else ours) this many
    /// times, 0..=32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_prepend: Option<u32>,
    /// Exact communities or well-known names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities_add: Vec<String>,
    /// The name of a community set (checked first), or patterns with `*` and
    /// well-known names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities_remove: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub large_communities_add: Vec<String>,
    /// The name of a large community set (checked first), or patterns with `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub large_communities_remove: Vec<String>,
    /// `self`, `unchanged` or an IPv4/IPv6 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The issue's example, verbatim.
    const ISSUE_EXAMPLE: &str = r#"
[[prefix_sets]]
name = "services"
prefixes = ["198.51.100.0/24 le 32", "2001:db8::/32 ge 48 le 128"]
[[community_sets]]
name = "blackhole"
communities = ["65535:666", "65001:*"]
[[large_community_sets]]
name = "tagged"
communities = ["65001:1:*"]
[[as_path_sets]]
name = "from-customer"
patterns = ["^65010_", "_65020$"]
[[policies]]
name = "import-upstream"
default = "reject"
[[policies.statements]]
match.prefix_set = "services"
match.community_set = "blackhole"
match.as_path_set = "from-customer"
match.as_path_length = "le 10"
match.origin = "igp"
set.local_pref = 200
set.med = 10
set.as_path_prepend = 2
set.communities_add = ["65001:100"]
set.communities_remove = ["65001:*"]
set.large_communities_add = ["65001:1:2"]
set.next_hop = "self"
action = "accept"
"#;

    #[test]
    fn the_issue_example_deserializes() {
        let defs: PolicyDefinitions = toml::from_str(ISSUE_EXAMPLE).unwrap();
        assert_eq!(defs.prefix_sets[0].prefixes.len(), 2);
        let statement = &defs.policies[0].statements[0];
        assert_eq!(statement.conditions.prefix_set.as_deref(), Some("services"));
        assert_eq!(statement.conditions.as_path_length.as_deref(), Some("le 10"));
        assert_eq!(statement.actions.med, Some(MedDefinition::Value(10)));
        assert_eq!(statement.actions.as_path_prepend, Some(2));
        assert_eq!(statement.action.as_deref(), Some("accept"));
        let relative: SetDefinition = toml::from_str("med = \"+10\"").unwrap();
        assert_eq!(relative.med, Some(MedDefinition::Text("+10".into())));
    }

    #[test]
    fn unknown_keys_are_refused() {
        for text in [
            "[[policies]]\nname = \"p\"\n[[policies.statements]]\nmatch.prefix_sets = \"x\"\n",
            "[[policies]]\nname = \"p\"\n[[policies.statements]]\nset.localpref = 1\n",
            "[[policies]]\nname = \"p\"\ndefault_action = \"accept\"\n",
            "[[prefix_sets]]\nname = \"p\"\nprefix = []\n",
        ] {
            assert!(toml::from_str::<PolicyDefinitions>(text).is_err(), "{text}");
        }
    }
}
