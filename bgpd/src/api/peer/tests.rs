use std::net::Ipv4Addr;

use tonic::Code;

use super::*;
use crate::config::TtlPolicy;

fn config() -> v1::PeerConfig {
    v1::PeerConfig { address: "192.0.2.2".into(), remote_asn: 65002, ..v1::PeerConfig::default() }
}

fn reject(modify: impl FnOnce(&mut v1::PeerConfig)) -> tonic::Status {
    let mut proto = config();
    modify(&mut proto);
    tonic::Status::from(neighbor(Some(&proto)).expect_err("must be rejected"))
}

#[test]
fn defaults() {
    let new = neighbor(Some(&config())).expect("valid");
    let settings = &new.neighbor;
    assert_eq!(settings.address, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(settings.remote_asn, 65002);
    assert_eq!((settings.local_asn, settings.router_id), (None, None));
    assert_eq!(settings.port, 179);
    assert_eq!(settings.local_address, None);
    assert_eq!((settings.password.is_none(), new.keep_password), (true, false));
    assert_eq!(settings.hold_time, 90);
    // Unset: a third of the hold time.
    assert_eq!(settings.keepalive_time, 30);
    assert_eq!(settings.connect_retry_time, 30);
    assert_eq!(settings.ttl, TtlPolicy::Multihop { hops: 1 });
    assert_eq!(settings.families, [Family::Ipv4Unicast]);
    assert_eq!(settings.max_prefixes, None);
    assert_eq!(settings.graceful_restart, None);

    let v6 = v1::PeerConfig { address: "2001:db8::2".into(), ..config() };
    assert_eq!(neighbor(Some(&v6)).expect("valid").neighbor.families, [Family::Ipv6Unicast]);
}

#[test]
fn every_field_set() {
    let proto = v1::PeerConfig {
        address: "2001:db8::2".into(),
        remote_asn: u32::MAX,
        local_asn: 4_200_000_000,
        port: 1179,
        local_address: "2001:db8::1".into(),
        password: "x".repeat(80),
        hold_time_seconds: Some(3),
        keepalive_seconds: Some(1),
        connect_retry_seconds: Some(5),
        passive: true,
        multihop_ttl: 0,
        ttl_security_hops: 1,
        families: vec![v1::Family::Ipv6Unicast as i32, v1::Family::Ipv4Unicast as i32],
        description: "upstream".into(),
        disabled: true,
        max_prefixes: 1000,
        graceful_restart: Some(v1::GracefulRestartConfig {
            enabled: true,
            restart_time_seconds: Some(4095),
            stale_routes_time_seconds: None,
            notification: true,
            helper_only: false,
        }),
        ..v1::PeerConfig::default()
    };
    let new = neighbor(Some(&proto)).expect("valid");
    let settings = &new.neighbor;
    assert_eq!(settings.local_asn, Some(4_200_000_000));
    assert_eq!(settings.port, 1179);
    let key = settings.password.as_ref().map(|p| p.as_bytes().to_vec());
    assert_eq!(key, Some("x".repeat(80).into_bytes()));
    assert_eq!((settings.hold_time, settings.keepalive_time), (3, 1));
    assert_eq!(settings.ttl, TtlPolicy::Security { hops: 1 });
    assert_eq!(settings.families, [Family::Ipv6Unicast, Family::Ipv4Unicast]);
    let limits = settings.max_prefixes.expect("limits");
    assert_eq!(limits.limits, [Some(1000), Some(1000)], "the shorthand limits every family");
    assert_eq!((limits.warning_percent, limits.restart_time), (75, 0));
    assert_eq!(
        settings.graceful_restart,
        Some(crate::gr::Settings {
            enabled: true,
            restart_time: 4095,
            stale_routes_time: 360,
            notification: true,
            helper_only: false
        })
    );
    // The key never reaches a log.
    assert!(!format!("{new:?}").contains("xxxx"));
}

#[test]
fn hold_time_zero_and_password_keep() {
    let proto = v1::PeerConfig {
        hold_time_seconds: Some(0),
        password_set: true,
        multihop_ttl: 2,
        ..config()
    };
    let new = neighbor(Some(&proto)).expect("valid");
    assert_eq!(new.neighbor.hold_time, 0);
    assert_eq!((new.neighbor.password.is_none(), new.keep_password), (true, true));
    assert_eq!(new.neighbor.ttl, TtlPolicy::Multihop { hops: 2 });
}

#[test]
fn peer_rules_table() {
    type Modify = fn(&mut v1::PeerConfig);
    let cases: &[(Modify, &str)] = &[
        (|c| c.address = String::new(), "peer.address is required"),
        (
            |c| c.address = "192.0.2.0/24".into(),
            r#"peer.address "192.0.2.0/24" is not an IP address"#,
        ),
        (|c| c.address = "0.0.0.0".into(), r#"peer.address "0.0.0.0" cannot be used"#),
        (|c| c.address = "ff02::5".into(), r#"peer.address "ff02::5" cannot be used"#),
        (|c| c.remote_asn = 0, "peer.remote_asn 0 is out of range (valid: 1..=4294967295)"),
        (|c| c.port = 65536, "peer.port 65536 is out of range (valid: 1..=65535)"),
        (
            |c| c.local_address = "2001:db8::1".into(),
            r#"peer.local_address "2001:db8::1" is not an IPv4 address"#,
        ),
        (
            |c| c.local_address = "local".into(),
            r#"peer.local_address "local" is not an IP address"#,
        ),
        (|c| c.password = "x".repeat(81), "peer.password is 81 bytes long, at most 80 are allowed"),
        (|c| c.vrf = "a/b".into(), r#"peer.vrf "a/b" is not an interface name"#),
        (|c| c.vrf = "x".repeat(16), r#"peer.vrf "xxxxxxxxxxxxxxxx" is not an interface"#),
        (
            |c| {
                c.password = "secret".into();
                c.password_set = true;
            },
            "peer.password_set is output only",
        ),
        (
            |c| c.hold_time_seconds = Some(1),
            "peer.hold_time_seconds 1 is out of range (valid: 0 or 3..=65535)",
        ),
        (|c| c.hold_time_seconds = Some(2), "peer.hold_time_seconds 2 is out of range"),
        (|c| c.hold_time_seconds = Some(65536), "peer.hold_time_seconds 65536 is out of range"),
        (
            |c| c.keepalive_seconds = Some(90),
            "peer.keepalive_seconds 90 must be below peer.hold_time_seconds 90",
        ),
        (
            |c| {
                c.hold_time_seconds = Some(0);
                c.keepalive_seconds = Some(10);
            },
            "peer.keepalive_seconds 10 cannot be combined with peer.hold_time_seconds 0",
        ),
        (|c| c.connect_retry_seconds = Some(0), "peer.connect_retry_seconds 0 is out of range"),
        (|c| c.multihop_ttl = 256, "peer.multihop_ttl 256 is out of range (valid: 0..=255)"),
        (
            |c| c.ttl_security_hops = 255,
            "peer.ttl_security_hops 255 is out of range (valid: 0..=254)",
        ),
        (
            |c| {
                c.multihop_ttl = 2;
                c.ttl_security_hops = 1;
            },
            "peer.ttl_security_hops 1 cannot be combined with peer.multihop_ttl 2",
        ),
        (|c| c.families = vec![1, 9], "peer.families[1] 9 is not a known value"),
        (|c| c.families = vec![0], "peer.families[0] 0 is not a known value"),
        (|c| c.families = vec![2, 2], r#"peer.families[1] "ipv6-unicast" appears more than once"#),
        (|c| c.description = "d".repeat(256), "peer.description is 256 bytes long"),
        (
            |c| {
                c.graceful_restart = Some(v1::GracefulRestartConfig {
                    enabled: true,
                    restart_time_seconds: Some(4096),
                    ..v1::GracefulRestartConfig::default()
                })
            },
            "peer.graceful_restart.restart_time_seconds 4096 is out of range (valid: 0..=4095)",
        ),
        (
            |c| {
                c.graceful_restart = Some(v1::GracefulRestartConfig {
                    enabled: true,
                    stale_routes_time_seconds: Some(0),
                    ..v1::GracefulRestartConfig::default()
                })
            },
            "peer.graceful_restart.stale_routes_time_seconds 0 is out of range",
        ),
    ];
    for (i, (modify, message)) in cases.iter().enumerate() {
        let status = reject(*modify);
        assert_eq!(status.code(), Code::InvalidArgument, "case {i}: {}", status.message());
        assert!(
            status.message().starts_with(message),
            "case {i}: {:?} does not start with {message:?}",
            status.message()
        );
    }
}

#[test]
fn missing_peer_message() {
    let status = tonic::Status::from(neighbor(None).expect_err("missing"));
    assert_eq!((status.code(), status.message()), (Code::InvalidArgument, "peer is required"));
}

#[test]
fn duplicate_and_unknown_peers() {
    let settings = neighbor(Some(&config())).expect("valid").neighbor;
    let exists = |address: IpAddr| address == IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    let status =
        tonic::Status::from(peer_must_be_new(settings.address, exists).expect_err("duplicate"));
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(status.message(), r#"peer.address "192.0.2.2" is already a configured peer"#);
    assert!(peer_must_be_new(settings.address, |_| false).is_ok());

    let status =
        tonic::Status::from(existing_peer("address", "192.0.2.3", exists).expect_err("unknown"));
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), r#"address "192.0.2.3" is not a configured peer"#);
    assert_eq!(existing_peer("address", "192.0.2.2", exists), Ok(settings.address));
}

#[test]
fn shutdown_messages() {
    assert_eq!(shutdown_message("message", "maintenance").as_deref(), Ok("maintenance"));
    assert!(shutdown_message("message", &"é".repeat(127)).is_ok(), "254 bytes");
    let error = shutdown_message("message", &"é".repeat(128)).expect_err("256 bytes");
    assert_eq!(error.to_string(), "message is 256 bytes long, at most 255 are allowed");
}

#[test]
fn reset_requests() {
    let exists = |_: IpAddr| true;
    let request = |kind: v1::ResetKind, families: Vec<i32>| v1::ResetPeerRequest {
        address: "192.0.2.2".into(),
        kind: kind as i32,
        message: "bye".into(),
        families,
    };
    let (_, command) = reset(&request(v1::ResetKind::Hard, vec![]), exists).expect("valid");
    assert_eq!(command, ResetCommand::Hard { message: "bye".into() });
    let (_, command) = reset(&request(v1::ResetKind::SoftIn, vec![2]), exists).expect("valid");
    assert_eq!(
        command,
        ResetCommand::Soft { inbound: true, outbound: false, families: vec![Family::Ipv6Unicast] }
    );
    let (_, command) = reset(&request(v1::ResetKind::Soft, vec![]), exists).expect("valid");
    assert_eq!(command, ResetCommand::Soft { inbound: true, outbound: true, families: vec![] });

    let cases = [
        (request(v1::ResetKind::Unspecified, vec![]), Code::InvalidArgument, "kind is required"),
        (
            v1::ResetPeerRequest { kind: 42, ..request(v1::ResetKind::Hard, vec![]) },
            Code::InvalidArgument,
            "kind 42 is not a known value",
        ),
        (request(v1::ResetKind::SoftOut, vec![1, 1]), Code::InvalidArgument, "families[1]"),
        (
            request(v1::ResetKind::SoftOut, vec![0]),
            Code::InvalidArgument,
            "families[0] 0 is not a known value",
        ),
        (request(v1::ResetKind::Hard, vec![1]), Code::InvalidArgument, "families"),
    ];
    for (request, code, message) in cases {
        let status = tonic::Status::from(reset(&request, exists).expect_err(message));
        assert_eq!(status.code(), code);
        assert!(status.message().starts_with(message), "{}", status.message());
    }
    let unknown = reset(&request(v1::ResetKind::Hard, vec![]), |_| false).expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
}

#[test]
fn dynamic_asn_replaces_remote_asn() {
    let external =
        v1::PeerConfig { remote_asn: 0, dynamic_asn: v1::DynamicAsn::External as i32, ..config() };
    let settings = neighbor(Some(&external)).expect("valid").neighbor;
    assert_eq!((settings.remote_asn, settings.dynamic_asn), (0, Some(DynamicAsn::External)));
    let back = crate::api::convert::peer::peer_config(&settings);
    assert_eq!((back.remote_asn, back.dynamic_asn), (0, v1::DynamicAsn::External as i32));

    let both = reject(|c| c.dynamic_asn = v1::DynamicAsn::Internal as i32);
    assert_eq!(both.code(), Code::InvalidArgument);
    assert!(both.message().contains("peer.remote_asn"), "{}", both.message());
    let unknown = reject(|c| {
        c.remote_asn = 0;
        c.dynamic_asn = 7;
    });
    assert!(unknown.message().contains("peer.dynamic_asn"), "{}", unknown.message());
}

// AddPeer and UpdatePeer settings → the instance's neighbor, as
// `PeerOp::Add` runs them (`neighbor`, then `NewNeighbor::resolve`).
mod neighbor_from {
    use std::net::IpAddr;

    use tonic::Status;

    use super::*;
    use crate::config::DynamicAsn;
    use crate::instance::peer_ops::PeerOpError;
    use crate::wire::Family;

    fn neighbor_from(settings: &NewNeighbor, daemon_asn: u32) -> Result<NewNeighbor, PeerOpError> {
        settings.clone().resolve(daemon_asn)
    }

    fn settings(config: v1::PeerConfig) -> NewNeighbor {
        neighbor(Some(&config)).expect("valid settings")
    }

    fn minimal() -> v1::PeerConfig {
        v1::PeerConfig {
            address: "192.0.2.2".to_string(),
            remote_asn: 65002,
            ..v1::PeerConfig::default()
        }
    }

    #[test]
    fn dynamic_asn_becomes_the_neighbor_as() {
        let dynamic = |d: v1::DynamicAsn| v1::PeerConfig {
            remote_asn: 0,
            dynamic_asn: d as i32,
            ..minimal()
        };
        let n = neighbor_from(&settings(dynamic(v1::DynamicAsn::Internal)), 65001)
            .expect("converts")
            .neighbor;
        assert_eq!((n.remote_asn, n.dynamic_asn), (65001, Some(DynamicAsn::Internal)));
        let n = neighbor_from(&settings(dynamic(v1::DynamicAsn::External)), 65001)
            .expect("converts")
            .neighbor;
        assert_eq!((n.remote_asn, n.dynamic_asn), (0, Some(DynamicAsn::External)));
        assert!(n.any_external_as());
    }

    #[test]
    fn defaults_follow_the_proto() {
        let new = neighbor_from(&settings(minimal()), 65001).expect("converts");
        let n = new.neighbor;
        assert_eq!(n.port, 179);
        assert_eq!(n.hold_time, 90);
        assert_eq!(n.keepalive_time, 30);
        assert_eq!(n.connect_retry_time, 30);
        assert_eq!(n.families, vec![Family::Ipv4Unicast]);
        assert_eq!(n.ttl, TtlPolicy::Multihop { hops: 1 });
        assert!(n.enabled);
        assert!(n.description.is_none());
        assert!(!new.keep_password);
    }

    #[test]
    fn every_field_is_carried_over() {
        let config = v1::PeerConfig {
            port: 1179,
            local_address: "192.0.2.1".to_string(),
            password: "secret".to_string(),
            hold_time_seconds: Some(9),
            keepalive_seconds: Some(2),
            connect_retry_seconds: Some(5),
            passive: true,
            ttl_security_hops: 2,
            families: vec![v1::Family::Ipv4Unicast as i32, v1::Family::Ipv6Unicast as i32],
            description: "edge".to_string(),
            disabled: true,
            local_asn: 65001,
            vrf: "blue".to_string(),
            ..minimal()
        };
        let n = neighbor_from(&settings(config), 65001).expect("converts").neighbor;
        assert_eq!(n.vrf.as_deref(), Some("blue"));
        assert_eq!(n.port, 1179);
        assert_eq!(n.local_address, Some("192.0.2.1".parse().expect("literal")));
        assert_eq!(n.password.as_ref().map(|p| p.as_bytes().to_vec()), Some(b"secret".to_vec()));
        assert_eq!((n.hold_time, n.keepalive_time, n.connect_retry_time), (9, 2, 5));
        assert!(n.passive);
        assert_eq!(n.ttl, TtlPolicy::Security { hops: 2 });
        assert_eq!(n.families.len(), 2);
        assert_eq!(n.description.as_deref(), Some("edge"));
        assert!(!n.enabled);
    }

    #[test]
    fn local_as_router_id_and_limits_are_supported() {
        // A local AS other than the daemon's and a prefix limit were refused
        // as UNIMPLEMENTED; both are neighbor settings now.
        let config = v1::PeerConfig {
            local_asn: 65009,
            router_id: "192.0.2.99".into(),
            remote_asn: 0,
            dynamic_asn: v1::DynamicAsn::Internal as i32,
            ..minimal()
        };
        let n = neighbor_from(&settings(config), 1).expect("local_asn is supported").neighbor;
        assert_eq!(n.local_asn, Some(65009));
        assert_eq!(n.router_id, Some("192.0.2.99".parse().expect("literal")));
        assert_eq!(n.remote_asn, 65009, "internal is the AS we meet the neighbor with");
        assert!(n.is_ibgp(1));
        let refused = |config: v1::PeerConfig| {
            Status::from(neighbor(Some(&config)).expect_err("refused")).message().to_string()
        };
        let message = refused(v1::PeerConfig { local_asn: 23456, ..minimal() });
        assert!(message.contains("peer.local_asn"), "{message}");
        for bad in ["0.0.0.0", "2001:db8::1", "router"] {
            let message = refused(v1::PeerConfig { router_id: bad.into(), ..minimal() });
            assert!(message.contains("peer.router_id"), "{message}");
        }
        let n = neighbor_from(&settings(v1::PeerConfig { max_prefixes: 10, ..minimal() }), 1)
            .expect("max_prefixes is supported")
            .neighbor;
        assert_eq!(n.max_prefixes.map(|m| m.limits), Some([Some(10), None]));
    }

    #[test]
    fn password_set_without_a_password_keeps_it() {
        let config = v1::PeerConfig { password_set: true, ..minimal() };
        let new = neighbor_from(&settings(config), 65001).expect("converts");
        assert!(new.keep_password);
        assert!(new.neighbor.password.is_none());
    }

    #[test]
    fn errors_map_to_the_documented_codes() {
        let address: IpAddr = "192.0.2.2".parse().expect("literal");
        assert_eq!(Status::from(PeerOpError::Exists(address)).code(), tonic::Code::AlreadyExists);
        let missing = PeerOpError::NotFound { field: "address", address };
        assert_eq!(missing.to_string(), "address \"192.0.2.2\" is not a configured peer");
        assert_eq!(Status::from(missing).code(), tonic::Code::NotFound);
        assert_eq!(
            Status::from(PeerOpError::NoRouteRefresh(address)).code(),
            tonic::Code::FailedPrecondition
        );
    }

    #[test]
    fn graceful_restart_settings_reach_the_neighbor() {
        let mut config = minimal();
        config.graceful_restart = Some(v1::GracefulRestartConfig {
            enabled: true,
            restart_time_seconds: Some(30),
            notification: true,
            ..v1::GracefulRestartConfig::default()
        });
        let n = neighbor_from(&settings(config), 65001).expect("converts").neighbor;
        let gr = n.graceful_restart.expect("graceful restart on");
        assert!(gr.enabled && gr.notification && !gr.helper_only);
        assert_eq!(gr.restart_time, 30);
        assert_eq!(
            neighbor_from(&settings(minimal()), 65001).expect("converts").neighbor.graceful_restart,
            None
        );
    }
}

/// The rules the API and the config file used to disagree on, now one rule
/// each (config::rules): AS_TRANS refused, restart time 0 allowed, GTSM with
/// the default multihop TTL 1 allowed, connect retry default 30 s.
#[test]
fn the_api_follows_the_config_rules() {
    let status = reject(|c| c.remote_asn = 23456);
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("peer.remote_asn 23456 "), "{}", status.message());
    assert!(status.message().contains("AS_TRANS"), "{}", status.message());

    let gr = v1::PeerConfig {
        graceful_restart: Some(v1::GracefulRestartConfig {
            enabled: true,
            restart_time_seconds: Some(0),
            ..Default::default()
        }),
        ..config()
    };
    let settings = neighbor(Some(&gr)).expect("restart time 0 (RFC 4724 §4.2)").neighbor;
    assert_eq!(settings.graceful_restart.map(|g| g.restart_time), Some(0));

    let gtsm = v1::PeerConfig { multihop_ttl: 1, ttl_security_hops: 2, ..config() };
    let settings = neighbor(Some(&gtsm)).expect("GTSM with TTL 1 is no multihop").neighbor;
    assert_eq!(settings.ttl, TtlPolicy::Security { hops: 2 });

    let settings = neighbor(Some(&config())).expect("valid").neighbor;
    assert_eq!(settings.connect_retry_time, crate::config::DEFAULT_CONNECT_RETRY_TIME);
}

#[test]
fn bfd_follows_the_config_file_rules() {
    assert_eq!(neighbor(Some(&config())).expect("valid").neighbor.bfd, None);
    let with = |bfd: v1::BfdConfig| v1::PeerConfig { bfd: Some(bfd), ..config() };
    let on = v1::BfdConfig { enabled: true, ..v1::BfdConfig::default() };
    let new = neighbor(Some(&with(on))).expect("valid");
    assert_eq!(
        new.neighbor.bfd,
        Some(crate::config::BfdSettings { enabled: true, ..Default::default() })
    );
    let set = v1::BfdConfig {
        min_rx_ms: Some(50),
        min_tx_ms: Some(100),
        multiplier: Some(5),
        passive: true,
        check_control_plane_failure: true,
        ..on
    };
    let bfd = neighbor(Some(&with(set))).expect("valid").neighbor.bfd.expect("bfd");
    assert_eq!((bfd.min_rx_ms, bfd.min_tx_ms, bfd.multiplier), (50, 100, 5));
    assert!(bfd.passive && bfd.check_control_plane_failure);

    let echo = reject(|c| c.bfd = Some(v1::BfdConfig { echo: true, ..on }));
    assert_eq!(echo.code(), Code::InvalidArgument);
    assert!(echo.message().contains("peer.bfd.echo"), "{}", echo.message());
    assert!(echo.message().contains("not implemented"), "{}", echo.message());
    let fast = reject(|c| c.bfd = Some(v1::BfdConfig { min_rx_ms: Some(9), ..on }));
    assert!(fast.message().contains("peer.bfd.min_rx_ms"), "{}", fast.message());
    let one = reject(|c| c.bfd = Some(v1::BfdConfig { multiplier: Some(1), ..on }));
    assert!(one.message().contains("peer.bfd.multiplier"), "{}", one.message());
}

mod max_prefix {
    use super::*;
    use crate::config::MaxPrefixes;

    fn both() -> v1::PeerConfig {
        v1::PeerConfig {
            families: vec![v1::Family::Ipv4Unicast as i32, v1::Family::Ipv6Unicast as i32],
            ..config()
        }
    }

    fn limits(config: v1::PeerConfig) -> Result<Option<MaxPrefixes>, ValidationError> {
        neighbor(Some(&config)).map(|new| new.neighbor.max_prefixes)
    }

    #[test]
    fn every_key_of_the_message() {
        let m = v1::MaxPrefixConfig {
            ipv4_unicast: 1000,
            ipv6_unicast: 200,
            warning_percent: Some(90),
            warning_only: true,
            restart_time_seconds: 60,
        };
        let found = limits(v1::PeerConfig { max_prefix: Some(m), ..both() }).expect("valid");
        assert_eq!(
            found,
            Some(MaxPrefixes {
                limits: [Some(1000), Some(200)],
                warning_percent: 90,
                warning_only: true,
                restart_time: 60,
            })
        );
        let one = v1::MaxPrefixConfig { ipv6_unicast: 5, ..Default::default() };
        let found = limits(v1::PeerConfig { max_prefix: Some(one), ..both() }).expect("valid");
        assert_eq!(found, Some(MaxPrefixes { limits: [None, Some(5)], ..MaxPrefixes::default() }));
    }

    #[test]
    fn the_same_rules_as_the_config_file() {
        let m = |m: v1::MaxPrefixConfig| v1::PeerConfig { max_prefix: Some(m), ..both() };
        let error = limits(m(v1::MaxPrefixConfig::default())).expect_err("no limit");
        assert!(error.to_string().contains("peer.max_prefix.ipv4_unicast"), "{error}");
        let error = limits(m(v1::MaxPrefixConfig {
            ipv4_unicast: 1,
            warning_percent: Some(0),
            ..Default::default()
        }))
        .expect_err("0 %");
        assert!(error.to_string().contains("peer.max_prefix.warning_percent"), "{error}");
        let error = limits(m(v1::MaxPrefixConfig {
            ipv4_unicast: 1,
            restart_time_seconds: 70_000,
            ..Default::default()
        }))
        .expect_err("restart time");
        assert!(error.to_string().contains("restart_time_seconds"), "{error}");
        // IPv4-only peer (the default families of an IPv4 address).
        let v6 = v1::MaxPrefixConfig { ipv6_unicast: 5, ..Default::default() };
        let error =
            limits(v1::PeerConfig { max_prefix: Some(v6), ..config() }).expect_err("family");
        assert!(error.to_string().contains("ipv6-unicast"), "{error}");
    }

    #[test]
    fn the_shorthand_and_the_message_conflict() {
        let m = v1::MaxPrefixConfig { ipv4_unicast: 5, ..Default::default() };
        let error = limits(v1::PeerConfig { max_prefix: Some(m), max_prefixes: 5, ..both() })
            .expect_err("both");
        assert!(matches!(error, ValidationError::Conflict { .. }), "{error}");
    }
}

#[test]
fn an_interface_peer_is_refused_with_the_name() {
    let status = reject(|c| c.interface = "eth1".into());
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("peer.interface \"eth1\""), "{}", status.message());
}

fn interface_config() -> v1::PeerConfig {
    v1::PeerConfig { address: String::new(), interface: "eth1".into(), ..config() }
}

#[test]
fn an_interface_peer_has_no_address_and_both_families() {
    let new = neighbor(Some(&interface_config())).expect("valid");
    let settings = &new.neighbor;
    assert_eq!(settings.address, IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    assert_eq!(
        settings.interface,
        Some(crate::config::Interface { name: "eth1".into(), index: 0 })
    );
    assert_eq!(settings.families, [Family::Ipv4Unicast, Family::Ipv6Unicast]);
    let v6_only = v1::PeerConfig { families: vec![2], ..interface_config() };
    assert_eq!(neighbor(Some(&v6_only)).expect("valid").neighbor.families, [Family::Ipv6Unicast]);
}

#[test]
fn an_interface_peer_needs_exactly_one_of_interface_and_address() {
    let status = reject(|c| c.interface = "eth1".into());
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains(r#"peer.interface "eth1" cannot be combined with peer.address "192.0.2.2""#),
        "{}",
        status.message()
    );
    let neither = reject(|c| c.address = String::new());
    assert_eq!(neither.code(), Code::InvalidArgument);
    assert!(neither.message().starts_with("peer.address is required"), "{}", neither.message());
}

#[test]
fn an_interface_peer_refuses_what_names_addresses() {
    type Case = (fn(&mut v1::PeerConfig), &'static str);
    let cases: [Case; 4] = [
        (|c| c.interface = "a/b".into(), r#"peer.interface "a/b" is not an interface name"#),
        (|c| c.interface = "x".repeat(16), "peer.interface \"xxxxxxxxxxxxxxxx\" is not an"),
        (
            |c| c.local_address = "fe80::1".into(),
            r#"peer.interface "eth1" cannot be combined with peer.local_address "fe80::1""#,
        ),
        (
            |c| c.password = "secret".into(),
            r#"peer.interface "eth1" cannot be combined with peer.password <6 bytes>"#,
        ),
    ];
    for (modify, message) in cases {
        let mut proto = interface_config();
        modify(&mut proto);
        let status = tonic::Status::from(neighbor(Some(&proto)).expect_err(message));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with(message), "{}", status.message());
        assert!(!status.message().contains("secret"));
    }
}

#[test]
fn a_peer_is_named_by_address_or_percent_interface() {
    assert_eq!(
        peer_name("address", "192.0.2.2"),
        Ok(PeerName::Address(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))))
    );
    assert_eq!(peer_name("address", "%eth1"), Ok(PeerName::Interface("eth1".into())));
    for bad in ["%", "%a/b", "%xxxxxxxxxxxxxxxx"] {
        let status = tonic::Status::from(peer_name("address", bad).expect_err(bad));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("is not an interface name"), "{}", status.message());
    }
    let request = v1::ResetPeerRequest {
        address: "%eth1".into(),
        kind: v1::ResetKind::Hard as i32,
        ..Default::default()
    };
    // Whether eth1 has a peer is the instance's question.
    let (name, _) = reset(&request, |_| false).expect("valid");
    assert_eq!(name, PeerName::Interface("eth1".into()));
}
