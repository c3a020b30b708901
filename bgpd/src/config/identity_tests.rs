//! A neighbor's own AS and BGP identifier (`local_asn`, `router_id`), and its `vrf`.

use std::net::Ipv4Addr;

use super::{Config, ConfigDiff, ConfigError, NeighborField, Problem};

const HEAD: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n\
    [[neighbors]]\naddress = \"192.0.2.2\"\n";

fn parse(extra: &str) -> Result<Config, Vec<ConfigError>> {
    Config::from_str_named(&format!("{HEAD}{extra}"), "test.toml").map_err(|e| e.errors)
}

fn problems(extra: &str) -> Vec<(String, Problem)> {
    parse(extra)
        .unwrap_err()
        .into_iter()
        .map(|e| match e {
            ConfigError::Invalid { key, problem, .. } => (key, problem),
            other => panic!("expected Invalid, got {other}"),
        })
        .collect()
}

#[test]
fn unset_means_the_global_values() {
    let config = parse("remote_asn = 65002\n").unwrap();
    let n = &config.neighbors[0];
    assert_eq!((n.local_asn, n.router_id), (None, None));
    assert_eq!(n.own_asn(65001), 65001);
    assert_eq!(n.own_router_id(Ipv4Addr::new(192, 0, 2, 1)), Ipv4Addr::new(192, 0, 2, 1));
}

#[test]
fn both_keys_are_read_and_decide_ibgp() {
    let config =
        parse("remote_asn = 64512\nlocal_asn = 64512\nrouter_id = \"198.51.100.7\"\n").unwrap();
    let n = &config.neighbors[0];
    assert_eq!((n.local_asn, n.router_id), (Some(64512), Some(Ipv4Addr::new(198, 51, 100, 7))));
    assert!(config.is_ibgp(n), "the neighbor is in the AS we meet it with");
    // dynamic_asn = "internal" is that AS too.
    let config = parse("dynamic_asn = \"internal\"\nlocal_asn = 64512\n").unwrap();
    assert_eq!(config.neighbors[0].remote_asn, 64512);
}

#[test]
fn bad_values_are_refused_with_their_key() {
    let found = problems("remote_asn = 65002\nlocal_asn = 23456\nrouter_id = \"0.0.0.0\"\n");
    assert_eq!(
        found,
        vec![
            ("neighbors[0].local_asn".into(), Problem::AsTrans),
            ("neighbors[0].router_id".into(), Problem::RouterIdZero),
        ]
    );
    let found = problems("remote_asn = 65002\nrouter_id = \"2001:db8::1\"\n");
    assert_eq!(found, vec![("neighbors[0].router_id".into(), Problem::RouterIdNotIpv4)]);
}

#[test]
fn a_change_resets_the_session() {
    let old = parse("remote_asn = 65002\n").unwrap();
    let new = parse("remote_asn = 65002\nlocal_asn = 64512\nrouter_id = \"192.0.2.9\"\n").unwrap();
    let diff = ConfigDiff::between(&old, &new);
    let change = &diff.neighbors_changed[0];
    assert_eq!(change.fields, [NeighborField::LocalAsn, NeighborField::RouterId]);
    assert!(change.reset);
}

#[test]
fn vrf_names_a_device_and_a_change_resets_the_session() {
    let plain = parse("remote_asn = 65002\n").unwrap();
    assert_eq!(plain.neighbors[0].vrf, None);
    let blue = parse("remote_asn = 65002\nvrf = \"blue\"\n").unwrap();
    assert_eq!(blue.neighbors[0].vrf.as_deref(), Some("blue"));
    let diff = ConfigDiff::between(&plain, &blue);
    assert_eq!(diff.neighbors_changed[0].fields, [NeighborField::Vrf]);
    assert!(diff.neighbors_changed[0].reset);
    for bad in ["", "a/b", "eth0:1", "has space", "sixteen-bytes-xx"] {
        let found = problems(&format!("remote_asn = 65002\nvrf = \"{bad}\"\n"));
        assert_eq!(found, [("neighbors[0].vrf".to_string(), Problem::InterfaceName)], "{bad:?}");
    }
}
