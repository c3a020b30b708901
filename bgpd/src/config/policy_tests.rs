//! The policy tables and the neighbors' chains in the configuration: a valid
//! book reaches `Config`, and every definition error or unknown policy name
//! is reported at its value's line and column.

use super::*;

const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";

fn errors(text: &str) -> Vec<String> {
    match Config::from_str_named(text, "p.toml") {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn policies_and_chains_reach_the_config() {
    let text = format!(
        r#"{GLOBAL}ebgp_requires_policy = false
[[neighbors]]
address = "192.0.2.2"
remote_asn = 65002
import_policy = ["services-in", "accept-all"]
export_policy = ["reject-all"]
soft_reconfiguration_inbound = true
[[prefix_sets]]
name = "services"
prefixes = ["198.51.100.0/24 le 32"]
[[policies]]
name = "services-in"
default = "next"
[[policies.statements]]
match.prefix_set = "services"
set.local_pref = 200
action = "accept"
"#
    );
    let config: Config = text.parse().unwrap();
    assert!(!config.global.ebgp_requires_policy);
    let neighbor = &config.neighbors[0];
    assert_eq!(neighbor.import_policy, ["services-in", "accept-all"]);
    assert_eq!(neighbor.export_policy, ["reject-all"]);
    assert!(neighbor.soft_reconfiguration_inbound);
    assert!(config.policies.has_policy("services-in"));
    assert!(config.policies.chain(&neighbor.import_policy).is_ok());
    // Absent keys: no chain, no soft reconfiguration, RFC 8212's default.
    let bare: Config =
        format!("{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n")
            .parse()
            .unwrap();
    assert!(bare.neighbors[0].import_policy.is_empty());
    assert!(!bare.neighbors[0].soft_reconfiguration_inbound);
    assert_eq!(bare.global.ebgp_requires_policy, model::DEFAULT_EBGP_REQUIRES_POLICY);
    assert!(bare.policies.has_policy("accept-all"));
}

#[test]
fn unknown_set_is_located_at_its_reference() {
    let text = format!(
        "{GLOBAL}[[policies]]\nname = \"p\"\n[[policies.statements]]\nmatch.prefix_set = \"nope\"\n"
    );
    assert_eq!(
        errors(&text),
        [
            "p.toml:7:20: policies[0].statements[0].match.prefix_set = \"nope\": unknown prefix set \"nope\""
        ]
    );
}

#[test]
fn bad_range_and_bad_pattern_are_located_at_the_list_item() {
    let text = format!(
        r#"{GLOBAL}[[prefix_sets]]
name = "s"
prefixes = ["198.51.100.0/24", "198.51.100.0/24 ge 8"]
[[as_path_sets]]
name = "a"
patterns = ["^65010_", "(65020"]
"#
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0]
            .starts_with("p.toml:6:32: prefix_sets[0].prefixes[1] = \"198.51.100.0/24 ge 8\": "),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with("p.toml:9:24: as_path_sets[0].patterns[1] = \"(65020\": "),
        "{}",
        errors[1]
    );
}

#[test]
fn unknown_policy_on_a_neighbor_is_located_at_the_name() {
    let text = format!(
        r#"{GLOBAL}[[neighbors]]
address = "192.0.2.2"
remote_asn = 65002
import_policy = ["accept-all", "typo"]
export_policy = ["nothing"]
"#
    );
    assert_eq!(
        errors(&text),
        [
            "p.toml:7:32: neighbors[0].import_policy[1] = \"typo\": unknown policy: define it in [[policies]] or use accept-all / reject-all",
            "p.toml:8:18: neighbors[0].export_policy[0] = \"nothing\": unknown policy: define it in [[policies]] or use accept-all / reject-all",
        ]
    );
}

#[test]
fn definition_and_name_errors_are_all_reported_together() {
    let text = format!(
        r#"{GLOBAL}[[neighbors]]
address = "192.0.2.2"
remote_asn = 65002
import_policy = ["missing"]
[[community_sets]]
name = "c"
communities = ["65001:x"]
[[policies]]
name = "accept-all"
"#
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("p.toml:7:18: neighbors[0].import_policy[0]"), "{}", errors[0]);
    assert!(
        errors[1].starts_with("p.toml:10:16: community_sets[0].communities[0]"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("p.toml:12:8: policies[0].name = \"accept-all\""),
        "{}",
        errors[2]
    );
}
