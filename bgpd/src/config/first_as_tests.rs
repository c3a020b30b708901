//! `enforce_first_as` ([global] default, per neighbor): RFC 4271 §6.3 and
//! RFC 7606 §7.2 checks on an external neighbor's first AS, off for route
//! servers (RFC 7947).

use super::{Config, ConfigDiff, NeighborField};

const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";
const NEIGHBORS: &str = "[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
    [[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65003\nenforce_first_as = true\n\
    [[neighbors]]\naddress = \"192.0.2.4\"\nremote_asn = 65004\nenforce_first_as = false\n";

fn parse(global_extra: &str) -> Config {
    format!("{GLOBAL}{global_extra}{NEIGHBORS}").parse().unwrap()
}

fn flags(config: &Config) -> Vec<bool> {
    config.neighbors.iter().map(|n| n.enforce_first_as).collect()
}

#[test]
fn on_by_default_and_set_per_neighbor() {
    let config = parse("");
    assert!(config.global.enforce_first_as);
    assert_eq!(flags(&config), [true, true, false]);
}

#[test]
fn the_global_key_is_the_neighbors_default() {
    let config = parse("enforce_first_as = false\n");
    assert!(!config.global.enforce_first_as);
    assert_eq!(flags(&config), [false, true, false]);
}

#[test]
fn a_wrong_type_is_an_error_with_its_position() {
    let text = format!("{GLOBAL}enforce_first_as = \"no\"\n");
    let errors = Config::from_str_named(&text, "t.toml").unwrap_err();
    let first = errors.iter().next().unwrap();
    assert_eq!(first.location().unwrap().line, 4, "{first}");
}

#[test]
fn a_change_resets_only_the_neighbors_whose_value_changes() {
    let old = parse("");
    let new = parse("enforce_first_as = false\n");
    let diff = ConfigDiff::between(&old, &new);
    assert!(diff.global.is_empty(), "a default alone needs no restart");
    assert_eq!(diff.neighbors_changed.len(), 1);
    let change = &diff.neighbors_changed[0];
    assert_eq!(change.neighbor.address.to_string(), "192.0.2.2");
    assert_eq!(change.fields, [NeighborField::EnforceFirstAs]);
    assert!(change.reset);
}
