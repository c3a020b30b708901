//! `interface` instead of `address` (BGP unnumbered): exactly one of the two,
//! typed errors carrying the value, both families by default, and reloads
//! that touch such a neighbor refused.

use super::{Config, ConfigDiff, ConfigError, Problem};
use crate::wire::Family;

const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";

fn parse(neighbors: &str) -> Result<Config, Vec<ConfigError>> {
    format!("{GLOBAL}{neighbors}").parse::<Config>().map_err(|e| e.errors)
}

fn single(neighbors: &str) -> (String, Problem) {
    let errors = parse(neighbors).expect_err("invalid");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    match &errors[0] {
        ConfigError::Invalid { key, problem, .. } => (key.clone(), problem.clone()),
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn an_interface_neighbor_is_kept_apart_with_both_families() {
    let config = parse(
        "[[neighbors]]\ninterface = \"eth1\"\ndynamic_asn = \"external\"\n\
         [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n",
    )
    .unwrap();
    assert_eq!(config.neighbors.len(), 1);
    assert_eq!(config.interface_neighbors.len(), 1);
    let neighbor = &config.interface_neighbors[0];
    let interface = neighbor.interface.as_ref().unwrap();
    assert_eq!((interface.name.as_str(), interface.index), ("eth1", 0));
    assert!(neighbor.address.is_unspecified());
    assert_eq!(neighbor.families, Family::ALL.to_vec());
}

#[test]
fn address_and_interface_together_are_refused() {
    let (key, problem) = single(
        "[[neighbors]]\naddress = \"192.0.2.2\"\ninterface = \"eth1\"\nremote_asn = 65002\n",
    );
    assert_eq!((key.as_str(), problem), ("neighbors[0].interface", Problem::AddressAndInterface));
}

#[test]
fn neither_address_nor_interface_is_a_missing_address() {
    let errors = parse("[[neighbors]]\nremote_asn = 65002\n").unwrap_err();
    assert!(
        matches!(&errors[..], [ConfigError::Missing { key, .. }] if key == "neighbors[0].address"),
        "{errors:#?}"
    );
}

#[test]
fn a_bad_or_repeated_interface_name_is_refused() {
    let (key, problem) = single("[[neighbors]]\ninterface = \"eth1/x\"\nremote_asn = 65002\n");
    assert_eq!((key.as_str(), problem), ("neighbors[0].interface", Problem::InterfaceName));
    let one = "[[neighbors]]\ninterface = \"eth1\"\nremote_asn = 65002\n";
    let (key, problem) = single(&format!("{one}{one}"));
    assert_eq!(key, "neighbors[1].interface");
    assert!(matches!(problem, Problem::Duplicate { .. }), "{problem:?}");
}

#[test]
fn local_address_and_password_need_an_address() {
    let errors = parse(
        "[[neighbors]]\ninterface = \"eth1\"\nremote_asn = 65002\n\
         local_address = \"2001:db8::1\"\npassword = \"secret\"\n",
    )
    .unwrap_err();
    let keys: Vec<_> = errors.iter().filter_map(ConfigError::key).collect();
    assert_eq!(keys, ["neighbors[0].local_address", "neighbors[0].password"]);
    let expected = Problem::NotWithInterface { interface: "eth1".into() };
    assert!(errors.iter().all(|e| e.problem() == Some(&expected)), "{errors:#?}");
}

#[test]
fn a_link_local_address_points_to_interface() {
    let (_, problem) = single("[[neighbors]]\naddress = \"fe80::1\"\nremote_asn = 65002\n");
    assert_eq!(problem, Problem::LinkLocalUnsupported);
    assert!(problem.to_string().contains("set interface instead of address"));
}

#[test]
fn a_reload_that_changes_an_interface_neighbor_needs_no_restart() {
    // The instance applies it (`instance::unnumbered`, tested in
    // tests/api_interface_peers.rs); it once needed a restart.
    let old = parse("[[neighbors]]\ninterface = \"eth1\"\nremote_asn = 65002\n").unwrap();
    let new = parse("[[neighbors]]\ninterface = \"eth2\"\nremote_asn = 65002\n").unwrap();
    let diff = ConfigDiff::between(&old, &new);
    assert!(diff.restart_changes(&old, &new).is_empty());
    assert!(ConfigDiff::between(&old, &old).restart_changes(&old, &old).is_empty());
}
