use std::net::IpAddr;
use std::net::Ipv4Addr;

use bytes::Bytes;

use super::*;
use crate::api::peer::neighbor;
use crate::api::validate;
use crate::wire::{
    AddPathFamily, AfiSafi, Aggregator, GracefulRestartCapability, GracefulRestartFamily,
    NotificationKind, UnknownAttribute,
};

fn known(_: IpAddr) -> bool {
    true
}

#[test]
fn a_validated_path_round_trips() {
    let proto = v1::Path {
        prefix: "2001:db8:1::/48".into(),
        next_hop: "2001:db8::1".into(),
        next_hop_link_local: "fe80::1".into(),
        origin: v1::Origin::Egp as i32,
        as_path: vec![v1::AsPathSegment {
            r#type: v1::AsPathSegmentType::Sequence as i32,
            asns: vec![65001, 4_200_000_000],
        }],
        med: Some(0),
        local_pref: Some(50),
        communities: vec!["65000:1".into(), "no-export".into()],
        large_communities: vec!["65000:1:2".into()],
        extended_communities: vec!["rt:65000:100".into(), "0x0302030405060708".into()],
        peers: vec!["192.0.2.2".into(), "2001:db8::2".into()],
        ..v1::Path::default()
    };
    let validated = validate::path(0, &proto, &known).expect("valid");
    let back = v1::Path::from(&validated);
    assert_eq!(back, proto);
    // And once more: the text forms are stable.
    assert_eq!(validate::path(0, &back, &known).expect("valid"), validated);
}

#[test]
fn unspecified_fields_come_back_canonical() {
    let proto = v1::Path { prefix: "198.51.100.0/24".into(), ..v1::Path::default() };
    let back = v1::Path::from(&validate::path(0, &proto, &known).expect("valid"));
    assert_eq!(back.origin, v1::Origin::Igp as i32, "the default is made explicit");
    assert_eq!(back.next_hop, "");
}

#[test]
fn learned_attributes_are_reported() {
    let attributes = PathAttributes {
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 7)),
        atomic_aggregate: true,
        aggregator: Some(Aggregator { asn: 65010, address: Ipv4Addr::new(192, 0, 2, 10) }),
        originator_id: Some(Ipv4Addr::new(192, 0, 2, 11)),
        cluster_list: vec![Ipv4Addr::new(192, 0, 2, 12)],
        unknown: vec![UnknownAttribute { flags: 0xc0, type_code: 99, value: Bytes::new() }],
        ..PathAttributes::default()
    };
    let proto = path("198.51.100.0/24".parse().expect("prefix"), None, &attributes, &[]);
    assert_eq!(proto.next_hop, "192.0.2.7", "the IPv4 NEXT_HOP attribute is used");
    assert_eq!(proto.origin, v1::Origin::Unspecified as i32);
    assert!(proto.atomic_aggregate);
    assert_eq!(proto.aggregator, "65010:192.0.2.10");
    assert_eq!(proto.originator_id, "192.0.2.11");
    assert_eq!(proto.cluster_list, ["192.0.2.12"]);
    assert_eq!(proto.unknown_attribute_codes, [99]);
}

#[test]
fn notifications_are_decoded() {
    let sent = Notification::shutdown(NotificationKind::AdministrativeShutdown, "maintenance");
    let info = notification(&sent, 1_700_000_000);
    assert_eq!((info.code, info.subcode), (6, 2));
    assert_eq!(info.reason, "Administrative Shutdown");
    assert_eq!(info.shutdown_message, "maintenance");
    assert_eq!(info.data.len(), 12);
    assert_eq!(info.unix_time, 1_700_000_000);

    let odd = Notification { code: 6, subcode: 99, data: Bytes::from_static(&[1, 2]) };
    let info = notification(&odd, 0);
    assert_eq!(info.reason, "unknown error 6/99");
    assert_eq!(info.shutdown_message, "");
    assert_eq!(info.data, [1, 2]);
}

#[test]
fn capabilities_are_reported() {
    let list = vec![
        Capability::Multiprotocol(Family::Ipv4Unicast.afi_safi()),
        Capability::Multiprotocol(AfiSafi::new(25, 70)),
        Capability::RouteRefresh { cisco: false },
        Capability::RouteRefresh { cisco: true },
        Capability::EnhancedRouteRefresh,
        Capability::FourOctetAs(4_200_000_000),
        Capability::ExtendedMessage,
        Capability::GracefulRestart(GracefulRestartCapability {
            restart_state: true,
            notification: true,
            restart_time: 120,
            families: vec![GracefulRestartFamily {
                afi_safi: Family::Ipv6Unicast.afi_safi(),
                forwarding_preserved: true,
            }],
        }),
        Capability::AddPath(vec![AddPathFamily {
            afi_safi: Family::Ipv4Unicast.afi_safi(),
            mode: AddPathMode::Both,
        }]),
        Capability::Fqdn { hostname: "node-a".into(), domain: "example".into() },
        Capability::Unknown { code: 200, value: Bytes::new() },
    ];
    let out = capabilities(&list);
    assert_eq!(out.families, [v1::Family::Ipv4Unicast as i32]);
    assert_eq!(out.other_families, ["25/70"]);
    assert!(out.route_refresh && out.route_refresh_cisco && out.enhanced_route_refresh);
    assert_eq!(out.four_octet_asn, 4_200_000_000);
    assert!(out.extended_message);
    assert!(out.graceful_restart && out.graceful_restart_restarting);
    assert!(out.graceful_restart_notification);
    assert_eq!(out.graceful_restart_time_seconds, 120);
    assert_eq!(out.graceful_restart_families.len(), 1);
    assert!(out.graceful_restart_families[0].forwarding_preserved);
    assert_eq!(out.add_path[0].mode, v1::AddPathMode::Both as i32);
    assert_eq!(out.add_path[0].family, v1::Family::Ipv4Unicast as i32);
    assert_eq!((out.hostname.as_str(), out.domain_name.as_str()), ("node-a", "example"));
    assert_eq!(out.unknown_codes, [200]);
}

#[test]
fn peer_config_round_trips_without_the_password() {
    let proto = v1::PeerConfig {
        address: "2001:db8::2".into(),
        remote_asn: 65002,
        local_asn: 65001,
        port: 179,
        local_address: "2001:db8::1".into(),
        password: "secret".into(),
        hold_time_seconds: Some(30),
        keepalive_seconds: Some(10),
        connect_retry_seconds: Some(120),
        multihop_ttl: 3,
        families: vec![v1::Family::Ipv6Unicast as i32],
        description: "upstream".into(),
        max_prefixes: 10,
        enforce_first_as: Some(false),
        vrf: "blue".into(),
        graceful_restart: Some(v1::GracefulRestartConfig {
            enabled: true,
            restart_time_seconds: Some(90),
            stale_routes_time_seconds: Some(300),
            notification: true,
            helper_only: true,
        }),
        soft_reconfiguration_inbound: Some(true),
        ..v1::PeerConfig::default()
    };
    let settings = neighbor(Some(&proto)).expect("valid");
    let back = peer::peer_config(&settings.neighbor);
    assert_eq!(back.password, "", "the key is never sent back");
    assert!(back.password_set);
    // The prefix limit reads back as the detailed message the shorthand
    // stands for.
    let limits = v1::MaxPrefixConfig {
        ipv6_unicast: 10,
        warning_percent: Some(75),
        ..v1::MaxPrefixConfig::default()
    };
    let unset = v1::PeerConfig { max_prefixes: 0, max_prefix: Some(limits), ..proto };
    assert_eq!(back, v1::PeerConfig { password: String::new(), password_set: true, ..unset });
    // Read, modify, write: sending the read config back keeps the password.
    let again = neighbor(Some(&back)).expect("valid");
    assert!(again.keep_password && again.neighbor.password.is_none());
}

#[test]
fn batch_results_merge_validation_and_outcomes() {
    use crate::instance::owners::Owners;

    let request = v1::AddPathsRequest {
        owner: "a".into(),
        paths: vec![
            v1::Path { prefix: "198.51.100.1/32".into(), ..v1::Path::default() },
            v1::Path { prefix: "198.51.100.1/24".into(), ..v1::Path::default() },
            v1::Path { prefix: "198.51.100.2/32".into(), ..v1::Path::default() },
        ],
    };
    let command = validate::add_paths(&request, &known).expect("owner is valid");
    let mut owners = Owners::new();
    owners.add_paths("a", vec![validate::path(2, &request.paths[2], &known).expect("valid")]);
    let valid: Vec<ValidatedPath> = command.paths.iter().filter_map(|p| p.clone().ok()).collect();
    let batch = owners.add_paths(&command.owner, valid);
    let results = add_results(&request, &command.paths, &batch.outcomes);
    let summary: Vec<(i32, i32)> = results.iter().map(|r| (r.outcome, r.code)).collect();
    assert_eq!(
        summary,
        [
            (v1::PathOutcome::Added as i32, 0),
            (v1::PathOutcome::Rejected as i32, tonic::Code::InvalidArgument as i32),
            (v1::PathOutcome::Unchanged as i32, 0),
        ]
    );
    assert_eq!(results[1].message, r#"paths[1].prefix "198.51.100.1/24" has host bits set"#);
    assert_eq!(results[1].prefix, "198.51.100.1/24");

    let delete = v1::DeletePathsRequest {
        owner: "a".into(),
        prefixes: vec!["198.51.100.1/32".into(), "bad".into(), "203.0.113.0/24".into()],
    };
    let command = validate::delete_paths(&delete).expect("owner is valid");
    let keys: Vec<_> = command.prefixes.iter().filter_map(|p| p.clone().ok()).collect();
    let batch = owners.delete_paths("a", &keys);
    let outcomes: Vec<i32> = delete_results(&delete, &command.prefixes, &batch.outcomes)
        .iter()
        .map(|r| r.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            v1::PathOutcome::Withdrawn as i32,
            v1::PathOutcome::Rejected as i32,
            v1::PathOutcome::NotFound as i32
        ]
    );
    // Too few outcomes never loses an item silently.
    let short = delete_results(&delete, &command.prefixes, &[]);
    assert_eq!(short[0].code, tonic::Code::Internal as i32);
}

#[test]
fn set_paths_response_and_owner_view() {
    use std::time::{Duration, Instant};

    use crate::instance::owners::{OwnerSummary, Owners};

    let mut owners = Owners::new();
    let first = v1::Path { prefix: "198.51.100.1/32".into(), ..v1::Path::default() };
    let second = v1::Path { prefix: "2001:db8::/48".into(), ..v1::Path::default() };
    let path_a = validate::path(0, &first, &known).expect("valid");
    let path_b = validate::path(1, &second, &known).expect("valid");
    owners.set_paths("a", vec![path_a], None);
    let diff = owners.set_paths("a", vec![path_b], None);
    let response = set_paths_response(&diff);
    assert_eq!(response.added, ["2001:db8::/48"]);
    assert!(response.changed.is_empty());
    assert_eq!(response.withdrawn, ["198.51.100.1/32"]);

    let start = Instant::now();
    let session = owners.attach("a", Some(Duration::from_secs(60))).session;
    owners.detach("a", session, start);
    let view = owners.owner("a").expect("a");
    let proto = owner(&OwnerSummary::from(&view), start + Duration::from_secs(15));
    assert_eq!(proto.state, v1::OwnerState::Detached as i32);
    assert_eq!((proto.grace_time_seconds, proto.grace_remaining_seconds), (60, 45));
    assert_eq!(proto.path_count, 1);
}

#[test]
fn an_interface_neighbor_reads_back_with_its_interface_and_address() {
    let mut neighbor = crate::config::Neighbor::with_defaults("fe80::2".parse().unwrap(), 65002);
    neighbor.interface = Some(crate::config::Interface { name: "eth1".into(), index: 7 });
    let proto = peer::peer_config(&neighbor);
    assert_eq!((proto.address.as_str(), proto.interface.as_str()), ("fe80::2", "eth1"));
    assert_eq!(
        peer::peer_config(&crate::config::Neighbor::with_defaults(
            "192.0.2.2".parse().unwrap(),
            65002
        ))
        .interface,
        ""
    );
}
