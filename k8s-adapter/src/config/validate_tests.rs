//! Validation: each bad object is reported with its name and field and left out; the valid
//! rest is kept.

use super::*;
use crate::config::Problem;
use crate::config::crd;

fn pool(name: &str, addresses: &[&str]) -> crd::IpAddressPool {
    crd::IpAddressPool::new(
        name,
        crd::IpAddressPoolSpec {
            addresses: addresses.iter().map(|a| (*a).into()).collect(),
            ..Default::default()
        },
    )
}

fn peer(name: &str, f: impl FnOnce(&mut crd::BgpPeerSpec)) -> crd::BgpPeer {
    let mut spec = crd::BgpPeerSpec {
        my_asn: 64500,
        peer_asn: Some(64501),
        peer_address: "192.0.2.1".into(),
        ..Default::default()
    };
    f(&mut spec);
    crd::BgpPeer::new(name, spec)
}

fn adv(name: &str, f: impl FnOnce(&mut crd::BgpAdvertisementSpec)) -> crd::BgpAdvertisement {
    let mut spec = crd::BgpAdvertisementSpec::default();
    f(&mut spec);
    crd::BgpAdvertisement::new(name, spec)
}

/// (object name, field, piece of the message) of every error.
fn errors(built: &Built) -> Vec<(String, String, String)> {
    built
        .errors
        .iter()
        .map(|e| (e.object.name.clone(), e.field.clone(), e.problem.to_string()))
        .collect()
}

#[test]
fn bad_pools_are_skipped_and_named() {
    let built = build(&Resources {
        pools: vec![
            pool("good", &["198.51.100.0/25", "2001:db8::/120"]),
            pool("backwards", &["203.0.113.20-203.0.113.10"]),
            pool("bad-cidr", &["203.0.113.0/33"]),
            pool("overlapping", &["192.0.2.0/24", "198.51.100.100-198.51.100.200"]),
            pool("self-overlap", &["192.0.2.0/28", "192.0.2.8/29"]),
            pool("empty", &[]),
            pool("fine-too", &["203.0.113.0/24"]),
        ],
        ..Default::default()
    });
    let got = errors(&built);
    let want = [
        ("backwards", "spec.addresses[0]", "written backwards"),
        ("bad-cidr", "spec.addresses[0]", "not a valid CIDR"),
        ("empty", "spec.addresses", "no addresses"),
        ("overlapping", "spec.addresses[1]", "overlaps 198.51.100.0-198.51.100.127 of pool good"),
        ("self-overlap", "spec.addresses[1]", "in the same pool"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((name, field, msg), (wname, wfield, wmsg)) in got.iter().zip(want) {
        assert_eq!((name.as_str(), field.as_str()), (wname, wfield));
        assert!(msg.contains(wmsg), "{msg}");
    }
    let names: Vec<&String> = built.config.pools.keys().collect();
    assert_eq!(names, ["fine-too", "good"]);
    // The error's Display names the kind, the object and the field.
    let text = built.errors[0].to_string();
    assert!(
        text.starts_with(
            "IPAddressPool backwards: spec.addresses[0]: range 203.0.113.20-203.0.113.10"
        ),
        "{text}"
    );
}

#[test]
fn the_newer_of_two_overlapping_pools_is_refused() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    let mut older = pool("z-older", &["198.51.100.0/24"]);
    let mut newer = pool("a-newer", &["198.51.100.128/25"]);
    older.metadata.creation_timestamp = Some(Time("2026-01-01T00:00:00Z".parse().unwrap()));
    newer.metadata.creation_timestamp = Some(Time("2026-02-01T00:00:00Z".parse().unwrap()));
    let built = build(&Resources { pools: vec![newer, older], ..Default::default() });
    assert_eq!(built.errors.len(), 1);
    assert_eq!(built.errors[0].object.name, "a-newer");
    assert!(built.config.pools.contains_key("z-older"));
}

#[test]
fn bad_peers_are_skipped_and_named() {
    let built = build(&Resources {
        peers: vec![
            peer("ok", |s| {
                s.hold_time = Some("90s".into());
                s.keepalive_time = Some("30s".into());
                s.bfd_profile = Some("fast".into());
                s.password_secret =
                    Some(crd::SecretReference { name: Some("md5".into()), namespace: None });
            }),
            peer("bad-address", |s| s.peer_address = "192.0.2.300".into()),
            peer("zero-asn", |s| s.my_asn = 0),
            peer("short-hold", |s| s.hold_time = Some("2s".into())),
            peer("bad-duration", |s| s.hold_time = Some("ninety".into())),
            peer("keepalive", |s| {
                s.hold_time = Some("9s".into());
                s.keepalive_time = Some("10s".into());
            }),
            peer("two-passwords", |s| {
                s.password = Some("x".into());
                s.password_secret =
                    Some(crd::SecretReference { name: Some("md5".into()), namespace: None });
            }),
            peer("bad-selector", |s| {
                s.node_selectors = vec![crd::LabelSelector {
                    match_expressions: vec![crd::LabelSelectorRequirement {
                        key: "k".into(),
                        operator: "Near".into(),
                        values: vec![],
                    }],
                    ..Default::default()
                }]
            }),
            peer("dynamic", |s| {
                s.peer_asn = None;
                s.dynamic_asn = Some("external".into());
            }),
            peer("bad-router-id", |s| s.router_id = Some("2001:db8::1".into())),
        ],
        bfd_profiles: vec![crd::BfdProfile::new("fast", crd::BfdProfileSpec::default())],
        ..Default::default()
    });
    let got: Vec<(String, String)> = errors(&built).into_iter().map(|(n, f, _)| (n, f)).collect();
    let want = [
        ("bad-address", "spec.peerAddress"),
        ("bad-duration", "spec.holdTime"),
        ("bad-router-id", "spec.routerID"),
        ("bad-selector", "spec.nodeSelectors[0]"),
        ("keepalive", "spec.keepaliveTime"),
        ("short-hold", "spec.holdTime"),
        ("two-passwords", "spec.passwordSecret"),
        ("zero-asn", "spec.myASN"),
    ];
    let want: Vec<(String, String)> =
        want.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
    assert_eq!(got, want);
    let names: Vec<&str> = built.config.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["dynamic", "ok"]);
    let ok = &built.config.peers[1];
    assert_eq!(ok.port, 179);
    assert_eq!(ok.hold_time, Some(std::time::Duration::from_secs(90)));
    assert!(matches!(ok.password, Some(Password::Secret { .. })));
    assert_eq!(built.config.peers[0].peer_as, PeerAs::External);
    // bfdProfile names an existing profile: BFD with its (default) timers.
    assert_eq!(
        ok.bfd,
        Some(BfdSettings {
            receive_interval_ms: 300,
            transmit_interval_ms: 300,
            multiplier: 3,
            passive: false
        })
    );
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
}

#[test]
fn peer_fields_bgpd_cannot_act_on_are_refused_with_a_reason() {
    let built = build(&Resources {
        peers: vec![
            peer("vrf", |s| s.vrf = Some("red".into())),
            peer("bad-vrf", |s| s.vrf = Some("a/b".into())),
            // With peerAddress too: MetalLB wants exactly one of them.
            peer("unnumbered", |s| s.interface = Some("eth1".into())),
            peer("both-mp", |s| {
                s.disable_mp = Some(true);
                s.dual_stack_address_family = Some(true);
            }),
            peer("no-profile", |s| s.bfd_profile = Some("missing".into())),
            peer("echo-profile", |s| s.bfd_profile = Some("echo".into())),
            peer("dual", |s| s.dual_stack_address_family = Some(true)),
            peer("single", |s| s.disable_mp = Some(true)),
            peer("bfd", |s| s.bfd_profile = Some("slow".into())),
        ],
        bfd_profiles: vec![
            crd::BfdProfile::new(
                "echo",
                crd::BfdProfileSpec { echo_mode: Some(true), ..Default::default() },
            ),
            crd::BfdProfile::new(
                "ttl",
                crd::BfdProfileSpec { minimum_ttl: Some(254), ..Default::default() },
            ),
            crd::BfdProfile::new(
                "fast-rx",
                crd::BfdProfileSpec { receive_interval: Some(5), ..Default::default() },
            ),
            crd::BfdProfile::new(
                "mult",
                crd::BfdProfileSpec { detect_multiplier: Some(1), ..Default::default() },
            ),
            crd::BfdProfile::new(
                "slow",
                crd::BfdProfileSpec {
                    receive_interval: Some(1000),
                    transmit_interval: Some(2000),
                    detect_multiplier: Some(5),
                    passive_mode: Some(true),
                    echo_interval: Some(50),
                    ..Default::default()
                },
            ),
        ],
        ..Default::default()
    });
    let got: Vec<(String, String)> = errors(&built).into_iter().map(|(n, f, _)| (n, f)).collect();
    // Profiles first (peers refer to them), then peers.
    let want = [
        ("echo", "spec.echoMode"),
        ("fast-rx", "spec.receiveInterval"),
        ("mult", "spec.detectMultiplier"),
        ("ttl", "spec.minimumTtl"),
        ("bad-vrf", "spec.vrf"),
        ("both-mp", "spec.disableMP"),
        ("echo-profile", "spec.bfdProfile"),
        ("no-profile", "spec.bfdProfile"),
        ("unnumbered", "spec.interface"),
    ];
    let want: Vec<(String, String)> =
        want.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
    assert_eq!(got, want);
    let text = built.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(text.contains("not a network device name"), "{text}");
    assert!(text.contains("echo function"), "{text}");
    let names: Vec<&str> = built.config.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["bfd", "dual", "single", "vrf"]);
    let vrf = built.config.peers.iter().find(|p| p.name == "vrf").map(|p| p.vrf.as_deref());
    assert_eq!(vrf, Some(Some("red")), "a valid vrf is kept for bgpd");
    let by = |n: &str| built.config.peers.iter().find(|p| p.name == n).unwrap();
    assert!(by("dual").dual_stack && !by("single").dual_stack);
    assert_eq!(
        by("bfd").bfd,
        Some(BfdSettings {
            receive_interval_ms: 1000,
            transmit_interval_ms: 2000,
            multiplier: 5,
            passive: true
        })
    );
    // disableMP is what ironlb does anyway, and echoInterval alone does nothing: both said.
    let warned: Vec<&str> = built.warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(warned, ["spec.echoInterval", "spec.disableMP"]);
}

#[test]
fn advertisements_resolve_communities_and_check_aggregation() {
    let built = build(&Resources {
        pools: vec![
            pool("p24", &["198.51.100.0/24"]),
            pool("range", &["203.0.113.10-203.0.113.20"]),
        ],
        communities: vec![crd::Community::new(
            "names",
            crd::CommunitySpec {
                communities: vec![crd::CommunityAlias {
                    name: "edge".into(),
                    value: "65000:7".into(),
                }],
            },
        )],
        bgp_advertisements: vec![
            adv("ok", |s| {
                s.communities = vec!["edge".into(), "65000:7".into(), "large:1:2:3".into()];
                s.aggregation_length = Some(24);
                s.ip_address_pools = vec!["p24".into()];
                s.peers = vec!["nobody".into()];
            }),
            adv("unknown-alias", |s| s.communities = vec!["gold".into()]),
            adv("bad-community", |s| s.communities = vec!["65000:70000".into()]),
            adv("too-short", |s| {
                s.aggregation_length = Some(16);
                s.ip_address_pools = vec!["p24".into()];
            }),
            adv("range-aggregate", |s| {
                s.aggregation_length = Some(28);
                s.ip_address_pools = vec!["range".into()];
            }),
            adv("out-of-range", |s| s.aggregation_length_v6 = Some(129)),
            // MetalLB accepts a range when its widest CIDR (here a /30) fits.
            adv("range-ok", |s| {
                s.aggregation_length = Some(30);
                s.ip_address_pools = vec!["range".into()];
            }),
        ],
        ..Default::default()
    });
    let got: Vec<(String, String)> = errors(&built).into_iter().map(|(n, f, _)| (n, f)).collect();
    let want = [
        ("bad-community", "spec.communities[0]"),
        ("out-of-range", "spec.aggregationLengthV6"),
        ("range-aggregate", "spec.aggregationLength"),
        ("too-short", "spec.aggregationLength"),
        ("unknown-alias", "spec.communities[0]"),
    ];
    let want: Vec<(String, String)> =
        want.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
    assert_eq!(got, want);
    assert!(
        matches!(*built.errors[4].problem, Problem::UnknownCommunityAlias(ref a) if a == "gold")
    );
    assert_eq!(built.config.bgp_advertisements.len(), 2);
    let ok = &built.config.bgp_advertisements[0];
    assert_eq!(
        ok.communities,
        vec![BgpCommunity::Standard(65000 << 16 | 7), BgpCommunity::Large(1, 2, 3)]
    );
    assert_eq!((ok.aggregation_length, ok.aggregation_length_v6), (24, 128));
    assert!(matches!(built.warnings[0].warning, Warning::UnknownPeer(ref p) if p == "nobody"));
}

#[test]
fn pool_lookup_by_address() {
    let built = build(&Resources {
        pools: vec![
            pool("a", &["198.51.100.0/25", "2001:db8::/64"]),
            pool("b", &["198.51.100.128/25"]),
        ],
        ..Default::default()
    });
    let config = &built.config;
    let name = |ip: &str| config.pool_of(ip.parse().unwrap()).map(|p| p.name.clone());
    assert_eq!(name("198.51.100.0"), Some("a".into()));
    assert_eq!(name("198.51.100.127"), Some("a".into()));
    assert_eq!(name("198.51.100.128"), Some("b".into()));
    assert_eq!(name("2001:db8::ffff"), Some("a".into()));
    assert_eq!(name("192.0.2.1"), None);
    assert_eq!(name("::1"), None);
}

#[test]
fn metallb_fields_not_implemented_yet_are_refused() {
    let selector = crd::LabelSelector {
        match_labels: [("app".to_owned(), "web".to_owned())].into(),
        ..Default::default()
    };
    let built = build(&Resources {
        bgp_advertisements: vec![adv("by-service", |s| {
            s.service_selectors = vec![selector.clone()]
        })],
        l2_advertisements: vec![
            crd::L2Advertisement::new(
                "l2-by-service",
                crd::L2AdvertisementSpec {
                    service_selectors: vec![selector.clone()],
                    ..Default::default()
                },
            ),
            crd::L2Advertisement::new(
                "l2-preferred",
                crd::L2AdvertisementSpec {
                    preferred_node_selectors: vec![crd::PreferredNodeSelector {
                        weight: 50,
                        preference: selector,
                    }],
                    ..Default::default()
                },
            ),
        ],
        ..Default::default()
    });
    let got: Vec<(String, String)> = errors(&built).into_iter().map(|(n, f, _)| (n, f)).collect();
    assert_eq!(
        got,
        [
            ("by-service".to_owned(), "spec.serviceSelectors".to_owned()),
            ("l2-by-service".to_owned(), "spec.serviceSelectors".to_owned()),
            ("l2-preferred".to_owned(), "spec.preferredNodeSelectors".to_owned()),
        ]
    );
    assert!(
        built.config.bgp_advertisements.is_empty() && built.config.l2_advertisements.is_empty()
    );
}

#[test]
fn an_interface_peer_has_no_address_and_nothing_bound_to_one() {
    let unnumbered = |name: &str, f: fn(&mut crd::BgpPeerSpec)| {
        peer(name, |s| {
            s.peer_address = String::new();
            s.interface = Some("eth1".into());
            f(s);
        })
    };
    let built = build(&Resources {
        peers: vec![
            unnumbered("ok", |_| {}),
            unnumbered("bad-name", |s| s.interface = Some("a/b".into())),
            unnumbered("source", |s| s.source_address = Some("192.0.2.9".into())),
            unnumbered("password", |s| s.password = Some("secret".into())),
            peer("neither", |s| s.peer_address = String::new()),
        ],
        ..Default::default()
    });
    let got: Vec<(String, String)> = errors(&built).into_iter().map(|(n, f, _)| (n, f)).collect();
    let want = [
        ("bad-name", "spec.interface"),
        ("neither", "spec.peerAddress"),
        ("password", "spec.password"),
        ("source", "spec.sourceAddress"),
    ];
    let want: Vec<(String, String)> =
        want.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
    assert_eq!(got, want);
    let text = built.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(text.contains("exactly one of peerAddress and interface"), "{text}");
    assert!(!text.contains("secret"), "{text}");
    let [ok] = &built.config.peers[..] else { panic!("{:?}", built.config.peers) };
    assert_eq!(ok.interface.as_deref(), Some("eth1"));
    assert!(ok.carries(Family::V4) && ok.carries(Family::V6), "both families over an interface");
}
