//! End-to-end tests: TOML text in, a `Config` or located errors out.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::*;
use crate::wire::{Community, ExtendedCommunity, Family, LargeCommunity, NextHop, Origin};

const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_str_named(text, "test.toml")
}

fn valid(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

fn errors(text: &str) -> Vec<ConfigError> {
    match parse(text) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(errors) => errors.errors,
    }
}

/// The one error `text` has, as (key, problem).
fn single_problem(text: &str) -> (String, Problem) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    match &errors[0] {
        ConfigError::Invalid { key, problem, .. } => (key.clone(), problem.clone()),
        other => panic!("expected an Invalid error, got {other}"),
    }
}

fn line_column(error: &ConfigError) -> (usize, usize) {
    let location = error.location().expect("located");
    (location.line, location.column)
}

#[test]
fn shipped_example_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/bgpd.toml");
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(errors) => panic!("conf/bgpd.toml is invalid:\n{errors}"),
    };
    assert_eq!(config.global.asn, 65001);
    assert_eq!(config.neighbors.len(), 4);
    assert_eq!(config.routes.len(), 3);
    // Safe to run anywhere: it listens on loopback, and every neighbour we would
    // connect to is on loopback.
    assert!(config.global.listen_addresses.iter().all(|a| a.is_loopback()));
    for neighbor in &config.neighbors {
        assert!(
            neighbor.passive || !neighbor.enabled || neighbor.address.is_loopback(),
            "{} would be contacted",
            neighbor.address
        );
    }
    let loopback = config.neighbor("127.0.0.2".parse().unwrap()).unwrap();
    assert!(config.is_ibgp(loopback));
    assert_eq!(loopback.ttl.outgoing_ttl(true), 255);
    let report = check_file(&path);
    assert!(report.is_ok());
    assert_eq!(report.to_string(), "ok: 4 neighbours, 3 routes");
}

#[test]
fn minimal_config_gets_every_default() {
    let config = valid(GLOBAL);
    let global = &config.global;
    assert_eq!(global.router_id, Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(global.listen_port, 179);
    let any: Vec<IpAddr> = vec!["0.0.0.0".parse().unwrap(), "::".parse().unwrap()];
    assert_eq!(global.listen_addresses, any);
    assert_eq!(global.hold_time, 90);
    assert_eq!(global.connect_retry_time, 30);
    assert_eq!(global.log_level, LogLevel::Info);
    assert_eq!(global.bfd_realtime_priority, 1);
    assert_eq!(config.api.listen, ApiListen::Tcp("127.0.0.1:50051".parse().unwrap()));
    assert!(config.neighbors.is_empty());
    assert!(config.routes.is_empty());
}

#[test]
fn neighbor_defaults_follow_global_and_address() {
    let text = format!(
        "{GLOBAL}hold_time = 30\nconnect_retry_time = 5\n\
         [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
         [[neighbors]]\naddress = \"2001:db8::2\"\nremote_asn = 65001\nhold_time = 0\n"
    );
    let config = valid(&text);
    let v4 = &config.neighbors[0];
    let mut expected = Neighbor::with_defaults("192.0.2.2".parse().unwrap(), 65002);
    expected.hold_time = 30;
    expected.keepalive_time = 10;
    expected.connect_retry_time = 5;
    assert_eq!(*v4, expected);
    assert!(!config.is_ibgp(v4));

    let v6 = &config.neighbors[1];
    assert_eq!(v6.families, vec![Family::Ipv6Unicast]);
    assert_eq!((v6.hold_time, v6.keepalive_time), (0, 0));
    assert!(config.is_ibgp(v6));
}

#[test]
fn route_defaults_and_values() {
    let text = format!(
        "{GLOBAL}[[routes]]\nprefix = \"198.51.100.10/32\"\n\
         [[routes]]\nprefix = \"2001:db8:1::/48\"\nnext_hop = \"2001:db8::1\"\norigin = \"incomplete\"\n\
         communities = [\"65001:100\", \"no-export\"]\nlarge_communities = [\"65001:1:2\"]\n\
         extended_communities = [\"rt:65001:100\"]\nlocal_pref = 200\nmed = 5\nas_path_prepend = 3\n"
    );
    let config = valid(&text);
    assert_eq!(config.routes[0], StaticRoute::with_defaults("198.51.100.10/32".parse().unwrap()));
    let route = &config.routes[1];
    assert_eq!(
        route.next_hop,
        Some(NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None })
    );
    assert_eq!(route.origin, Origin::Incomplete);
    assert_eq!(route.communities, vec![Community(65001 << 16 | 100), Community::NO_EXPORT]);
    assert_eq!(
        route.large_communities,
        vec![LargeCommunity { global_admin: 65001, local_data_1: 1, local_data_2: 2 }]
    );
    assert_eq!(
        route.extended_communities,
        vec![ExtendedCommunity([0, 2, 0xfd, 0xe9, 0, 0, 0, 100])]
    );
    assert_eq!((route.local_pref, route.med, route.as_path_prepend), (200, Some(5), 3));
    assert_eq!(route.family(), Family::Ipv6Unicast);
}

#[test]
fn ttl_security_forms() {
    let neighbor = |extra: &str| {
        let text =
            format!("{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n{extra}");
        valid(&text).neighbors[0].ttl
    };
    assert_eq!(neighbor(""), TtlPolicy::Multihop { hops: 1 });
    assert_eq!(neighbor("ttl_security = false\n"), TtlPolicy::Multihop { hops: 1 });
    assert_eq!(neighbor("ttl_security = true\n"), TtlPolicy::Security { hops: 1 });
    assert_eq!(neighbor("ttl_security = 3\n"), TtlPolicy::Security { hops: 3 });
    assert_eq!(neighbor("ttl_security = 2\nebgp_multihop = 1\n"), TtlPolicy::Security { hops: 2 });
    assert_eq!(neighbor("ebgp_multihop = 4\n"), TtlPolicy::Multihop { hops: 4 });
}

#[test]
fn api_unix_socket() {
    let config = valid(&format!("{GLOBAL}[api]\nlisten = \"unix:/run/ironlb/bgpd.sock\"\n"));
    assert_eq!(config.api.listen, ApiListen::Unix("/run/ironlb/bgpd.sock".into()));
    assert_eq!(config.api.listen.to_string(), "unix:/run/ironlb/bgpd.sock");
}

/// Every semantic check, each on its own: (text after GLOBAL's first two lines,
/// key, problem).
#[test]
fn every_validation_error() {
    type Check = fn(&Problem) -> bool;
    let g = "[global]\n";
    let asn = "asn = 65001\n";
    let id = "router_id = \"192.0.2.1\"\n";
    let n = "[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n";
    let r = "[[routes]]\n";
    let cases: Vec<(String, &str, Check)> = vec![
        (format!("{g}asn = 0\n{id}"), "global.asn", |p| {
            *p == Problem::OutOfRange { min: 1, max: 4294967295 }
        }),
        (format!("{g}asn = 4294967296\n{id}"), "global.asn", |p| {
            matches!(p, Problem::OutOfRange { .. })
        }),
        (format!("{g}asn = -5\n{id}"), "global.asn", |p| matches!(p, Problem::OutOfRange { .. })),
        (format!("{g}asn = 23456\n{id}"), "global.asn", |p| *p == Problem::AsTrans),
        (format!("{g}{asn}router_id = \"0.0.0.0\"\n"), "global.router_id", |p| {
            *p == Problem::RouterIdZero
        }),
        (format!("{g}{asn}router_id = \"2001:db8::1\"\n"), "global.router_id", |p| {
            *p == Problem::RouterIdNotIpv4
        }),
        (format!("{g}{asn}router_id = \"router1\"\n"), "global.router_id", |p| {
            matches!(p, Problem::NotAnAddress(_))
        }),
        (format!("{g}{asn}{id}listen_port = 65536\n"), "global.listen_port", |p| {
            matches!(p, Problem::OutOfRange { .. })
        }),
        (
            format!("{g}{asn}{id}bfd_realtime_priority = 100\n"),
            "global.bfd_realtime_priority",
            |p| matches!(p, Problem::OutOfRange { .. }),
        ),
        (
            format!("{g}{asn}{id}listen_addresses = [\"0.0.0.0\", \"x\"]\n"),
            "global.listen_addresses[1]",
            |p| matches!(p, Problem::NotAnAddress(_)),
        ),
        (
            format!("{g}{asn}{id}listen_addresses = [\"::\", \"::\"]\n"),
            "global.listen_addresses[1]",
            |p| matches!(p, Problem::Duplicate { first_line: 4, first_column: 21 }),
        ),
        (format!("{g}{asn}{id}listen_addresses = []\n"), "global.listen_addresses", |p| {
            *p == Problem::NoListenAddresses
        }),
        (
            format!("{g}{asn}{id}listen_addresses = [\"224.0.0.1\"]\n"),
            "global.listen_addresses[0]",
            |p| *p == Problem::MulticastAddress,
        ),
        (format!("{g}{asn}{id}hold_time = 1\n"), "global.hold_time", |p| *p == Problem::HoldTime),
        (format!("{g}{asn}{id}hold_time = 65536\n"), "global.hold_time", |p| {
            matches!(p, Problem::OutOfRange { .. })
        }),
        (format!("{g}{asn}{id}connect_retry_time = 0\n"), "global.connect_retry_time", |p| {
            matches!(p, Problem::OutOfRange { min: 1, .. })
        }),
        (format!("{g}{asn}{id}log_level = \"verbose\"\n"), "global.log_level", |p| {
            *p == Problem::LogLevel
        }),
        (
            format!("{g}{asn}{id}listen_port = 0\n{n}passive = true\n"),
            "neighbors[0].passive",
            |p| *p == Problem::PassiveWithoutListener,
        ),
        (format!("{GLOBAL}[api]\nlisten = \"localhost:50051\"\n"), "api.listen", |p| {
            *p == Problem::ApiListen
        }),
        (
            format!("{GLOBAL}[[neighbors]]\naddress = \"192.0.2.300\"\nremote_asn = 65002\n"),
            "neighbors[0].address",
            |p| matches!(p, Problem::NotAnAddress(_)),
        ),
        (
            format!("{GLOBAL}[[neighbors]]\naddress = \"0.0.0.0\"\nremote_asn = 65002\n"),
            "neighbors[0].address",
            |p| *p == Problem::UnspecifiedAddress,
        ),
        (
            format!("{GLOBAL}[[neighbors]]\naddress = \"fe80::1\"\nremote_asn = 65002\n"),
            "neighbors[0].address",
            |p| *p == Problem::LinkLocalUnsupported,
        ),
        (format!("{GLOBAL}{n}{n}"), "neighbors[1].address", |p| {
            matches!(p, Problem::Duplicate { first_line: 5, first_column: 11 })
        }),
        (
            format!("{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 0\n"),
            "neighbors[0].remote_asn",
            |p| matches!(p, Problem::OutOfRange { .. }),
        ),
        (format!("{GLOBAL}{n}port = 0\n"), "neighbors[0].port", |p| {
            *p == Problem::OutOfRange { min: 1, max: 65535 }
        }),
        (
            format!("{GLOBAL}{n}local_address = \"2001:db8::1\"\n"),
            "neighbors[0].local_address",
            |p| matches!(p, Problem::LocalAddressFamily { .. }),
        ),
        (format!("{GLOBAL}{n}password = \"\"\n"), "neighbors[0].password", |p| {
            *p == Problem::PasswordEmpty
        }),
        (format!("{GLOBAL}{n}password = \"{}\"\n", "x".repeat(81)), "neighbors[0].password", |p| {
            *p == Problem::PasswordTooLong { length: 81 }
        }),
        (format!("{GLOBAL}{n}hold_time = 2\n"), "neighbors[0].hold_time", |p| {
            *p == Problem::HoldTime
        }),
        (
            format!("{GLOBAL}{n}hold_time = 9\nkeepalive_time = 9\n"),
            "neighbors[0].keepalive_time",
            |p| *p == Problem::KeepaliveNotBelowHold { hold_time: 9 },
        ),
        (format!("{GLOBAL}{n}keepalive_time = 0\n"), "neighbors[0].keepalive_time", |p| {
            *p == Problem::KeepaliveNotBelowHold { hold_time: 90 }
        }),
        (
            format!("{GLOBAL}{n}hold_time = 0\nkeepalive_time = 10\n"),
            "neighbors[0].keepalive_time",
            |p| *p == Problem::KeepaliveWithoutHold,
        ),
        (format!("{GLOBAL}{n}connect_retry_time = 0\n"), "neighbors[0].connect_retry_time", |p| {
            matches!(p, Problem::OutOfRange { .. })
        }),
        (format!("{GLOBAL}{n}delay_open_time = 241\n"), "neighbors[0].delay_open_time", |p| {
            *p == Problem::OutOfRange { min: 0, max: 240 }
        }),
        (format!("{GLOBAL}{n}ebgp_multihop = 0\n"), "neighbors[0].ebgp_multihop", |p| {
            *p == Problem::OutOfRange { min: 1, max: 255 }
        }),
        (format!("{GLOBAL}{n}ebgp_multihop = 256\n"), "neighbors[0].ebgp_multihop", |p| {
            matches!(p, Problem::OutOfRange { .. })
        }),
        (format!("{GLOBAL}{n}ttl_security = 255\n"), "neighbors[0].ttl_security", |p| {
            *p == Problem::OutOfRange { min: 1, max: 254 }
        }),
        (
            format!("{GLOBAL}{n}ttl_security = true\nebgp_multihop = 2\n"),
            "neighbors[0].ttl_security",
            |p| *p == Problem::TtlSecurityWithMultihop { ebgp_multihop: 2 },
        ),
        (format!("{GLOBAL}{n}families = []\n"), "neighbors[0].families", |p| {
            *p == Problem::NoFamilies
        }),
        (
            format!("{GLOBAL}{n}families = [\"ipv4-multicast\"]\n"),
            "neighbors[0].families[0]",
            |p| matches!(p, Problem::UnknownFamily(_)),
        ),
        (
            format!("{GLOBAL}{n}families = [\"ipv4-unicast\", \"ipv4-unicast\"]\n"),
            "neighbors[0].families[1]",
            |p| matches!(p, Problem::Duplicate { .. }),
        ),
        (format!("{GLOBAL}{r}prefix = \"198.51.100.10/24\"\n"), "routes[0].prefix", |p| {
            matches!(p, Problem::HostBitsSet { .. })
        }),
        (format!("{GLOBAL}{r}prefix = \"198.51.100.10\"\n"), "routes[0].prefix", |p| {
            matches!(p, Problem::NotAPrefix(_))
        }),
        (
            format!("{GLOBAL}{r}prefix = \"2001:db8::/64\"\nnext_hop = \"192.0.2.1\"\n"),
            "routes[0].next_hop",
            |p| matches!(p, Problem::NextHopFamily { .. }),
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\nnext_hop = \"2001:db8::1\"\n"),
            "routes[0].next_hop",
            |p| matches!(p, Problem::NextHopFamily { .. }),
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\nnext_hop = \"0.0.0.0\"\n"),
            "routes[0].next_hop",
            |p| *p == Problem::UnspecifiedAddress,
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\norigin = \"bgp\"\n"),
            "routes[0].origin",
            |p| *p == Problem::Origin,
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\ncommunities = [\"65536:1\"]\n"),
            "routes[0].communities[0]",
            |p| matches!(p, Problem::Community(_)),
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\ncommunities = [\"1:1\", \"1:1\"]\n"),
            "routes[0].communities[1]",
            |p| matches!(p, Problem::Duplicate { .. }),
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\nlarge_communities = [\"1:2\"]\n"),
            "routes[0].large_communities[0]",
            |p| matches!(p, Problem::Community(_)),
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\nextended_communities = [\"rt:1\"]\n"),
            "routes[0].extended_communities[0]",
            |p| *p == Problem::ExtendedCommunity,
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\nlocal_pref = -1\n"),
            "routes[0].local_pref",
            |p| matches!(p, Problem::OutOfRange { .. }),
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\nmed = 4294967296\n"),
            "routes[0].med",
            |p| matches!(p, Problem::OutOfRange { .. }),
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\nas_path_prepend = 11\n"),
            "routes[0].as_path_prepend",
            |p| *p == Problem::OutOfRange { min: 0, max: 10 },
        ),
        (
            format!("{GLOBAL}{r}prefix = \"192.0.2.0/24\"\n{r}prefix = \"192.0.2.0/24\"\n"),
            "routes[1].prefix",
            |p| matches!(p, Problem::Duplicate { first_line: 5, .. }),
        ),
    ];
    for (text, expected_key, check) in cases {
        let (key, problem) = single_problem(&text);
        assert_eq!(key, expected_key, "in:\n{text}");
        assert!(check(&problem), "{key}: unexpected {problem:?} in:\n{text}");
    }
}

#[test]
fn errors_carry_line_column_and_print_like_a_compiler() {
    let text = format!(
        "{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
         [[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65002\nhold_time   = 2\n"
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 1);
    assert_eq!(line_column(&errors[0]), (10, 15));
    assert_eq!(
        errors[0].to_string(),
        "test.toml:10:15: neighbors[1].hold_time = 2: must be 0 or at least 3"
    );
}

#[test]
fn all_semantic_errors_are_reported_in_source_order() {
    let text = "[[routes]]\nprefix = \"198.51.100.10/24\"\ncommunities = [\"x\"]\n\
                [global]\nasn = 0\nrouter_id = \"0.0.0.0\"\n\
                [[neighbors]]\nremote_asn = 65002\nhold_time = 1\n";
    let errors = errors(text);
    let summary: Vec<(usize, usize, Option<&str>)> =
        errors.iter().map(|e| (line_column(e).0, line_column(e).1, e.key())).collect();
    assert_eq!(
        summary,
        vec![
            (2, 10, Some("routes[0].prefix")),
            (3, 16, Some("routes[0].communities[0]")),
            (5, 7, Some("global.asn")),
            (6, 13, Some("global.router_id")),
            (7, 1, Some("neighbors[0].address")),
            (9, 13, Some("neighbors[0].hold_time")),
        ]
    );
    assert!(matches!(errors[4], ConfigError::Missing { .. }));
    assert_eq!(
        errors[0].to_string(),
        "test.toml:2:10: routes[0].prefix = \"198.51.100.10/24\": \
         198.51.100.10/24 has host bits set; did you mean 198.51.100.0/24?"
    );
}

#[test]
fn missing_required_keys() {
    let found = errors("[api]\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].to_string(), "test.toml:1:1: missing required key [global]");

    let found = errors("[global]\n[[neighbors]]\n[[routes]]\n");
    let keys: Vec<_> = found.iter().filter_map(|e| e.key()).collect();
    assert_eq!(
        keys,
        [
            "global.asn",
            "global.router_id",
            "neighbors[0].address",
            "neighbors[0].remote_asn",
            "routes[0].prefix"
        ]
    );
    assert_eq!(line_column(&found[2]), (2, 1));
}

#[test]
fn unknown_keys_are_rejected_with_their_position() {
    let cases = [
        (format!("{GLOBAL}bogus = 1\n"), (4, 1), "unknown field `bogus`"),
        (
            format!(
                "{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n  hold = 90\n"
            ),
            (7, 3),
            "unknown field `hold`",
        ),
        (
            format!("{GLOBAL}[[layer2]]\ninterface = \"eth0\"\n"),
            (5, 1),
            "unknown field `interface`",
        ),
        (
            format!(
                "{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n[neighbors.graceful_restart]\nlong_lived = true\n"
            ),
            (8, 1),
            "unknown field `long_lived`",
        ),
    ];
    for (text, position, message) in cases {
        let errors = errors(&text);
        assert_eq!(errors.len(), 1);
        assert!(matches!(errors[0], ConfigError::Syntax { .. }));
        assert_eq!(line_column(&errors[0]), position, "{}", errors[0]);
        assert!(errors[0].to_string().contains(message), "{}", errors[0]);
    }
}

#[test]
fn syntax_and_type_errors_are_located() {
    // An unquoted address: the parser reads `192.0` as a float and stops at `.2.1`.
    let found = errors("[global]\nasn = 65001\nrouter_id = 192.0.2.1\n");
    assert_eq!(line_column(&found[0]), (3, 18));
    assert!(found[0].to_string().starts_with("test.toml:3:18: "), "{}", found[0]);

    let found = errors("[global]\nasn = \"65001\"\nrouter_id = \"192.0.2.1\"\n");
    assert_eq!(line_column(&found[0]), (2, 7));
    assert!(found[0].to_string().contains("invalid type"), "{}", found[0]);

    let found = errors(&format!(
        "{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\nttl_security = \"yes\"\n"
    ));
    assert_eq!(line_column(&found[0]), (7, 16));
    assert!(found[0].to_string().contains("true, false or a hop count"), "{}", found[0]);
}

#[test]
fn passwords_never_appear_in_errors() {
    let secret = "s".repeat(81);
    let text = format!(
        "{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\npassword = \"{secret}\"\n"
    );
    let errors = errors(&text);
    let shown = errors[0].to_string();
    assert!(!shown.contains(&secret));
    assert!(shown.contains("neighbors[0].password = <81 bytes>: is 81 bytes"), "{shown}");
    let config = valid(&format!(
        "{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\npassword = \"hunter2\"\n"
    ));
    assert!(!format!("{config:?}").contains("hunter2"));
    assert_eq!(
        config.neighbors[0].password.as_ref().map(Password::as_bytes),
        Some(&b"hunter2"[..])
    );
}

#[test]
fn check_report_lists_errors_or_counts() {
    let dir = std::env::temp_dir().join(format!("bgpd-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(&good, format!("{GLOBAL}[[routes]]\nprefix = \"192.0.2.0/24\"\n")).unwrap();
    assert_eq!(check_file(&good).to_string(), "ok: 0 neighbours, 1 route");

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[global]\nasn = 0\nrouter_id = \"0.0.0.0\"\n").unwrap();
    let report = check_file(&bad);
    assert!(!report.is_ok());
    let name = bad.display();
    assert_eq!(
        report.to_string(),
        format!(
            "{name}:2:7: global.asn = 0: must be 1..=4294967295\n\
             {name}:3:13: global.router_id = \"0.0.0.0\": must not be 0.0.0.0 (RFC 6286)\n2 errors"
        )
    );

    let missing = dir.join("missing.toml");
    let report = check_file(&missing);
    assert!(!report.is_ok());
    assert!(report.to_string().starts_with(&format!("{}: cannot read: ", missing.display())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn from_str_uses_a_placeholder_name() {
    let errors = "[global]\nasn = 0\nrouter_id = \"192.0.2.1\"\n".parse::<Config>().unwrap_err();
    assert!(errors.to_string().starts_with("<string>:2:7: "));
}

#[test]
fn inline_tables_work_like_headers() {
    let text = format!(
        "neighbors = [{{ address = \"192.0.2.2\", remote_asn = 65002, hold_time = 2 }}]\n{GLOBAL}"
    );
    let found = errors(&text);
    assert_eq!(found.len(), 1, "{}", found[0]);
    assert_eq!(found[0].key(), Some("neighbors[0].hold_time"), "{}", found[0]);
    assert_eq!(line_column(&found[0]), (1, 71));

    let text =
        format!("{GLOBAL}[[routes]]\nprefix = \"192.0.2.0/24\"\ncommunities = \"65001:1\"\n");
    let found = errors(&text);
    assert!(matches!(found[0], ConfigError::Syntax { .. }));
    assert_eq!(line_column(&found[0]), (6, 15));
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const SHIPPED: &str = include_str!("../../../conf/bgpd.toml");

    proptest! {
        #[test]
        fn on_arbitrary_text(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        /// Damage the shipped config: cut a piece out and put arbitrary text in.
        #[test]
        fn on_damaged_config(at in 0..SHIPPED.len(), cut in 0usize..40, insert in "\\PC{0,12}") {
            let mut start = at;
            while !SHIPPED.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + cut).min(SHIPPED.len());
            while !SHIPPED.is_char_boundary(end) {
                end -= 1;
            }
            let text = format!("{}{insert}{}", &SHIPPED[..start], &SHIPPED[end..]);
            if let Err(errors) = parse(&text) {
                prop_assert!(!errors.is_empty());
                for error in &errors {
                    let location = error.location().expect("text errors are located");
                    prop_assert!(location.line >= 1 && location.column >= 1);
                    prop_assert!(location.offset <= text.len());
                }
            }
        }
    }
}

#[test]
fn dynamic_asn_replaces_remote_asn() {
    let peer = |key: &str| format!("{GLOBAL}[[neighbors]]\naddress = \"192.0.2.2\"\n{key}\n");
    let external = valid(&peer("dynamic_asn = \"external\""));
    let n = &external.neighbors[0];
    assert_eq!((n.remote_asn, n.dynamic_asn), (0, Some(DynamicAsn::External)));
    assert!(n.any_external_as() && !n.is_ibgp(65001));
    let internal = valid(&peer("dynamic_asn = \"internal\""));
    let n = &internal.neighbors[0];
    assert_eq!((n.remote_asn, n.dynamic_asn), (65001, Some(DynamicAsn::Internal)));
    assert!(!n.any_external_as() && n.is_ibgp(65001));

    let (key, problem) = single_problem(&peer("dynamic_asn = \"ebgp\""));
    assert_eq!((key.as_str(), problem), ("neighbors[0].dynamic_asn", Problem::DynamicAsn));
    let (key, problem) = single_problem(&peer("remote_asn = 65002\ndynamic_asn = \"external\""));
    assert_eq!(
        (key.as_str(), problem),
        ("neighbors[0].dynamic_asn", Problem::RemoteAsnAndDynamicAsn)
    );
}

#[test]
fn a_config_file_over_the_size_bound_is_refused_before_parsing() {
    let path = std::env::temp_dir().join(format!("bgpd-large-{}.toml", std::process::id()));
    let file = std::fs::File::create(&path).expect("create");
    // Sparse: costs no disk, and no memory unless somebody reads it.
    file.set_len(MAX_CONFIG_BYTES + 1).expect("set_len");
    drop(file);
    let errors = Config::load(&path).expect_err("too large");
    std::fs::remove_file(&path).expect("clean up");
    let text = errors.to_string();
    assert!(text.contains("16777217 bytes") && text.contains("16777216"), "{text}");
    assert!(matches!(errors.iter().next(), Some(ConfigError::TooLarge { .. })), "{text}");
}

#[test]
fn every_structural_error_is_reported_with_its_place() {
    let text = format!(
        "{GLOBAL}hold_tme = 90\n\
         [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = \"65002\"\n\
         [[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65003\npasive = true\n\
         [[routes]]\nprefix = 5\n\
         [bogus]\nx = 1\n"
    );
    let found = errors(&text);
    let places: Vec<(usize, usize)> = found.iter().map(line_column).collect();
    assert_eq!(found.len(), 5, "{places:?}: {found:#?}");
    let lines: Vec<usize> = places.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [4, 7, 11, 13, 14], "{found:#?}");
}
