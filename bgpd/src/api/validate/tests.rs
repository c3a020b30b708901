use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tonic::Code;

use super::*;
use crate::rib::PeerKey;

const PEER_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const PEER_B: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));

fn known_peers(address: IpAddr) -> bool {
    address == PEER_A || address == PEER_B
}

fn v4_path(prefix: &str) -> v1::Path {
    v1::Path { prefix: prefix.to_string(), ..v1::Path::default() }
}

/// Runs `path` on a modified copy of a valid path and returns the status.
fn reject(modify: impl FnOnce(&mut v1::Path)) -> tonic::Status {
    let mut proto = v4_path("198.51.100.10/32");
    modify(&mut proto);
    let error = path(3, &proto, &known_peers).expect_err("must be rejected");
    tonic::Status::from(error)
}

#[test]
fn a_full_ipv4_path_converts() {
    let proto = v1::Path {
        prefix: "198.51.100.0/24".into(),
        next_hop: "192.0.2.1".into(),
        origin: v1::Origin::Incomplete as i32,
        as_path: vec![
            v1::AsPathSegment { r#type: 0, asns: vec![65001, 65002] },
            v1::AsPathSegment { r#type: v1::AsPathSegmentType::Set as i32, asns: vec![65003] },
        ],
        med: Some(10),
        local_pref: Some(200),
        communities: vec!["65000:2".into(), "no-export".into(), "65000:1".into()],
        large_communities: vec!["65000:1:2".into()],
        extended_communities: vec!["rt:65000:100".into(), "0x0003fde800000001".into()],
        peers: vec!["2001:db8::2".into(), "192.0.2.2".into()],
        ..v1::Path::default()
    };
    let checked = path(0, &proto, &known_peers).expect("valid");
    assert_eq!(checked.family, Family::Ipv4Unicast);
    assert_eq!(checked.prefix, "198.51.100.0/24".parse::<IpNet>().expect("prefix"));
    assert_eq!(checked.next_hop, Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))));
    let attributes = &checked.attributes;
    assert_eq!(attributes.origin, Some(Origin::Incomplete));
    assert_eq!(attributes.as_path.segments.len(), 2);
    assert_eq!(attributes.as_path.segments[0].kind, SegmentType::Sequence);
    assert_eq!(attributes.as_path.segments[1].kind, SegmentType::Set);
    assert_eq!(attributes.med, Some(10));
    assert_eq!(attributes.local_pref, Some(200));
    // Sorted, so that order in the request does not matter.
    assert_eq!(
        attributes.communities,
        vec![Community(65000 << 16 | 1), Community(65000 << 16 | 2), Community::NO_EXPORT]
    );
    assert_eq!(attributes.large_communities.len(), 1);
    assert_eq!(
        attributes.extended_communities,
        vec![
            ExtendedCommunity([0, 2, 0xfd, 0xe8, 0, 0, 0, 100]),
            ExtendedCommunity([0, 3, 0xfd, 0xe8, 0, 0, 0, 1]),
        ]
    );
    assert_eq!(attributes.next_hop, None, "the next hop lives in ValidatedPath::next_hop");
    assert_eq!(checked.peers, vec![PeerKey::from(PEER_A), PeerKey::from(PEER_B)]);
}

#[test]
fn defaults_of_a_minimal_path() {
    let checked = path(0, &v4_path("203.0.113.7/32"), &known_peers).expect("valid");
    assert_eq!(checked.next_hop, None, "empty next hop means next hop self");
    assert_eq!(checked.attributes.origin, Some(Origin::Igp));
    assert!(checked.attributes.as_path.segments.is_empty());
    assert!(checked.peers.is_empty(), "empty peers means every peer");
}

#[test]
fn ipv6_path_with_link_local_next_hop() {
    let proto = v1::Path {
        prefix: "2001:db8:1::/48".into(),
        next_hop: "2001:db8::1".into(),
        next_hop_link_local: "fe80::1".into(),
        ..v1::Path::default()
    };
    let checked = path(0, &proto, &known_peers).expect("valid");
    assert_eq!(checked.family, Family::Ipv6Unicast);
    assert_eq!(
        checked.next_hop,
        Some(NextHop::V6 {
            global: "2001:db8::1".parse().expect("address"),
            link_local: Some("fe80::1".parse().expect("address")),
        })
    );
}

#[test]
fn path_rules_table() {
    type Modify = fn(&mut v1::Path);
    let cases: &[(Modify, Code, &str)] = &[
        (|p| p.prefix = String::new(), Code::InvalidArgument, "paths[3].prefix is required"),
        (
            |p| p.prefix = "198.51.100.10/24".into(),
            Code::InvalidArgument,
            r#"paths[3].prefix "198.51.100.10/24" has host bits set"#,
        ),
        (
            |p| p.prefix = "2001:db8::1/32".into(),
            Code::InvalidArgument,
            r#"paths[3].prefix "2001:db8::1/32" has host bits set"#,
        ),
        (
            |p| p.prefix = "198.51.100.10".into(),
            Code::InvalidArgument,
            r#"paths[3].prefix "198.51.100.10" is not a prefix"#,
        ),
        (
            |p| p.prefix = "198.51.100.0/33".into(),
            Code::InvalidArgument,
            r#"paths[3].prefix "198.51.100.0/33" is not a prefix"#,
        ),
        (
            |p| p.next_hop = "2001:db8::1".into(),
            Code::InvalidArgument,
            r#"paths[3].next_hop "2001:db8::1" is not an IPv4 address"#,
        ),
        (
            |p| {
                p.prefix = "2001:db8::/32".into();
                p.next_hop = "192.0.2.1".into();
            },
            Code::InvalidArgument,
            r#"paths[3].next_hop "192.0.2.1" is not an IPv6 address"#,
        ),
        (
            |p| p.next_hop = "192.0.2.300".into(),
            Code::InvalidArgument,
            r#"paths[3].next_hop "192.0.2.300" is not an IP address"#,
        ),
        (
            |p| p.next_hop = "0.0.0.0".into(),
            Code::InvalidArgument,
            r#"paths[3].next_hop "0.0.0.0" cannot be used: it is the unspecified address"#,
        ),
        (
            |p| p.next_hop = "224.0.0.5".into(),
            Code::InvalidArgument,
            r#"paths[3].next_hop "224.0.0.5" cannot be used: it is a multicast address"#,
        ),
        (
            |p| p.next_hop_link_local = "fe80::1".into(),
            Code::InvalidArgument,
            r#"paths[3].next_hop_link_local "fe80::1" cannot be combined with paths[3].prefix"#,
        ),
        (
            |p| {
                p.prefix = "2001:db8::/32".into();
                p.next_hop_link_local = "fe80::1".into();
            },
            Code::InvalidArgument,
            r#"paths[3].next_hop_link_local "fe80::1" needs paths[3].next_hop to be set"#,
        ),
        (
            |p| {
                p.prefix = "2001:db8::/32".into();
                p.next_hop = "2001:db8::1".into();
                p.next_hop_link_local = "2001:db8::2".into();
            },
            Code::InvalidArgument,
            r#"paths[3].next_hop_link_local "2001:db8::2" is not an IPv6 link-local address"#,
        ),
        (|p| p.origin = 9, Code::InvalidArgument, "paths[3].origin 9 is not a known value"),
        (
            |p| p.as_path = vec![v1::AsPathSegment { r#type: 0, asns: vec![65001, 0] }],
            Code::InvalidArgument,
            "paths[3].as_path[0].asns[1] 0 is out of range (valid: 1..=4294967295)",
        ),
        (
            |p| p.as_path = vec![v1::AsPathSegment { r#type: 0, asns: vec![] }],
            Code::InvalidArgument,
            "paths[3].as_path[0].asns is empty",
        ),
        (
            |p| p.as_path = vec![v1::AsPathSegment { r#type: 0, asns: vec![1; 256] }],
            Code::InvalidArgument,
            "paths[3].as_path[0].asns has 256 entries, at most 255 are allowed",
        ),
        (
            |p| p.as_path = vec![v1::AsPathSegment { r#type: 7, asns: vec![1] }],
            Code::InvalidArgument,
            "paths[3].as_path[0].type 7 is not a known value",
        ),
        (
            |p| p.communities = vec!["65000:1".into(), "65536:1".into()],
            Code::InvalidArgument,
            r#"paths[3].communities[1] "65536:1" is not a valid community"#,
        ),
        (
            |p| p.communities = vec!["65000:1".into(), "no-export".into(), "65000:1".into()],
            Code::InvalidArgument,
            r#"paths[3].communities[2] "65000:1" appears more than once"#,
        ),
        (
            |p| p.large_communities = vec!["1:2".into()],
            Code::InvalidArgument,
            r#"paths[3].large_communities[0] "1:2" is not a valid large community"#,
        ),
        (
            |p| p.extended_communities = vec!["rt:70000:70000".into()],
            Code::InvalidArgument,
            r#"paths[3].extended_communities[0] "rt:70000:70000" is not a valid extended community"#,
        ),
        (
            |p| p.extended_communities = vec!["0x0102".into()],
            Code::InvalidArgument,
            r#"paths[3].extended_communities[0] "0x0102" is not a valid extended community"#,
        ),
        (
            |p| p.peers = vec!["192.0.2.99".into()],
            Code::NotFound,
            r#"paths[3].peers[0] "192.0.2.99" is not a configured peer"#,
        ),
        (
            |p| p.peers = vec!["peer-a".into()],
            Code::InvalidArgument,
            r#"paths[3].peers[0] "peer-a" is not an IP address"#,
        ),
        (
            |p| p.peers = vec!["192.0.2.2".into(), "2001:db8::2".into(), "192.0.2.2".into()],
            Code::InvalidArgument,
            r#"paths[3].peers[2] "192.0.2.2" appears more than once"#,
        ),
        (
            |p| p.stale = true,
            Code::InvalidArgument,
            "paths[3].stale is output only and must not be set in a request",
        ),
        (
            |p| p.originator_id = "192.0.2.1".into(),
            Code::InvalidArgument,
            "paths[3].originator_id is output only",
        ),
        (
            |p| p.atomic_aggregate = true,
            Code::InvalidArgument,
            "paths[3].atomic_aggregate is output only",
        ),
    ];
    for (i, (modify, code, message)) in cases.iter().enumerate() {
        let status = reject(*modify);
        assert_eq!(status.code(), *code, "case {i}: {}", status.message());
        assert!(
            status.message().starts_with(message),
            "case {i}: {:?} does not start with {message:?}",
            status.message()
        );
    }
}

#[test]
fn extended_community_text_forms() {
    assert_eq!(
        parse_extended_community("soo:1:4294967295"),
        Some(ExtendedCommunity([0, 3, 0, 1, 0xff, 0xff, 0xff, 0xff]))
    );
    assert_eq!(
        parse_extended_community("0x4002000100000002"),
        Some(ExtendedCommunity([0x40, 2, 0, 1, 0, 0, 0, 2]))
    );
    for bad in ["", "rt:1", "rt:1:2:3", "xx:1:2", "0x+002000100000002", "0x00020001000000020"] {
        assert_eq!(parse_extended_community(bad), None, "{bad:?}");
    }
    // Display and parse agree for the forms bgpd writes.
    for text in ["rt:65000:100", "soo:1:2", "0x0302030405060708"] {
        let parsed = parse_extended_community(text).expect("parses");
        assert_eq!(parsed.to_string(), text);
    }
}

#[test]
fn owner_names() {
    assert_eq!(owner("owner", "k8s-speaker/node-a").as_deref(), Ok("k8s-speaker/node-a"));
    for bad in ["", "two words", "tab\t", "ünicode", &"x".repeat(129)] {
        let error = owner("owner", bad).expect_err(bad);
        assert_eq!(error.code(), Code::InvalidArgument);
        assert!(error.to_string().starts_with("owner "), "{error}");
    }
    assert!(owner("owner", &"x".repeat(128)).is_ok());
}

#[test]
fn grace_times() {
    assert_eq!(grace_time("g", None), Ok(None));
    assert_eq!(grace_time("g", Some(0)), Ok(Some(Duration::ZERO)));
    assert_eq!(grace_time("g", Some(86_400)), Ok(Some(Duration::from_secs(86_400))));
    let error = grace_time("grace_time_seconds", Some(86_401)).expect_err("too long");
    assert_eq!(error.to_string(), "grace_time_seconds 86401 is out of range (valid: 0..=86400)");
}

#[test]
fn families() {
    assert_eq!(family("f", 0), Ok(None));
    assert_eq!(family("f", 1), Ok(Some(Family::Ipv4Unicast)));
    assert_eq!(family("f", 2), Ok(Some(Family::Ipv6Unicast)));
    let error = family("family", 3).expect_err("unknown");
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.to_string().starts_with("family 3 is not a known value"));
}

#[test]
fn set_paths_is_all_or_nothing() {
    let request = v1::SetPathsRequest {
        owner: "speaker".into(),
        paths: vec![v4_path("198.51.100.1/32"), v4_path("198.51.100.3/31")],
        grace_time_seconds: Some(30),
    };
    let error = set_paths(&request, &known_peers).expect_err("second path is bad");
    assert_eq!(error.to_string(), r#"paths[1].prefix "198.51.100.3/31" has host bits set"#);

    let good = v1::SetPathsRequest {
        paths: vec![v4_path("198.51.100.1/32"), v4_path("2001:db8::/32")],
        ..request.clone()
    };
    let command = set_paths(&good, &known_peers).expect("valid");
    assert_eq!(command.owner, "speaker");
    assert_eq!(command.paths.len(), 2);
    assert_eq!(command.grace_time, Some(Duration::from_secs(30)));
}

#[test]
fn set_paths_rejects_a_prefix_given_twice() {
    let request = v1::SetPathsRequest {
        owner: "speaker".into(),
        paths: vec![
            v4_path("198.51.100.1/32"),
            v4_path("198.51.100.9/32"),
            v4_path("198.51.100.1/32"),
        ],
        grace_time_seconds: None,
    };
    let error = set_paths(&request, &known_peers).expect_err("duplicate");
    assert_eq!(error.to_string(), r#"paths[2].prefix "198.51.100.1/32" appears more than once"#);
}

#[test]
fn set_paths_checks_owner_and_grace() {
    let request = v1::SetPathsRequest { owner: String::new(), ..v1::SetPathsRequest::default() };
    assert!(matches!(set_paths(&request, &known_peers), Err(ValidationError::InvalidOwner { .. })));
    let request = v1::SetPathsRequest {
        owner: "a".into(),
        grace_time_seconds: Some(100_000),
        ..v1::SetPathsRequest::default()
    };
    assert!(matches!(set_paths(&request, &known_peers), Err(ValidationError::OutOfRange { .. })));
}

#[test]
fn add_paths_has_a_result_per_path() {
    let request = v1::AddPathsRequest {
        owner: "speaker".into(),
        paths: vec![
            v4_path("198.51.100.1/32"),
            v4_path("198.51.100.1/24"),
            v4_path("198.51.100.1/32"),
            v4_path("203.0.113.0/24"),
        ],
    };
    let command = add_paths(&request, &known_peers).expect("owner is valid");
    assert!(command.paths[0].is_ok());
    assert!(matches!(command.paths[1], Err(ValidationError::HostBitsSet { .. })));
    assert!(matches!(command.paths[2], Err(ValidationError::Duplicate { .. })));
    assert!(command.paths[3].is_ok());

    let bad_owner = v1::AddPathsRequest { owner: "a b".into(), ..request };
    assert!(add_paths(&bad_owner, &known_peers).is_err());
}

#[test]
fn delete_paths_has_a_result_per_prefix() {
    let request = v1::DeletePathsRequest {
        owner: "speaker".into(),
        prefixes: vec!["198.51.100.1/32".into(), "nonsense".into(), "2001:db8::/32".into()],
    };
    let command = delete_paths(&request).expect("owner is valid");
    assert_eq!(
        command.prefixes[0],
        Ok((Family::Ipv4Unicast, "198.51.100.1/32".parse().expect("prefix")))
    );
    assert_eq!(
        command.prefixes[1].as_ref().map_err(ToString::to_string),
        Err(r#"prefixes[1] "nonsense" is not a prefix (expected ADDRESS/LENGTH such as "198.51.100.10/32")"#.to_string())
    );
    assert_eq!(command.prefixes[2].as_ref().map(|(f, _)| *f), Ok(Family::Ipv6Unicast));
}

#[test]
fn paths_of_a_batch_share_equal_attributes() {
    let mut other = v4_path("198.51.100.3/32");
    other.med = Some(7);
    let request = v1::SetPathsRequest {
        owner: "speaker".into(),
        paths: vec![v4_path("198.51.100.1/32"), v4_path("198.51.100.2/32"), other],
        grace_time_seconds: None,
    };
    let command = set_paths(&request, &known_peers).expect("valid");
    let [a, b, c] = &command.paths[..] else { panic!("three paths") };
    assert!(Arc::ptr_eq(&a.attributes, &b.attributes));
    assert!(!Arc::ptr_eq(&b.attributes, &c.attributes));
    assert_eq!(c.attributes.med, Some(7));
}

#[test]
fn peers_are_checked_in_request_order_before_later_errors() {
    // An unknown peer named before a bad value is the error, as when peers
    // were looked up inline; the instance does the lookup now.
    let mut unknown_then_bad = v4_path("198.51.100.1/32");
    unknown_then_bad.peers = vec!["192.0.2.99".into(), "peer-a".into()];
    let request = v1::SetPathsRequest {
        owner: "lb".into(),
        paths: vec![unknown_then_bad.clone()],
        ..v1::SetPathsRequest::default()
    };
    let (checked, named) = set_paths_deferred(&request);
    assert!(matches!(checked, Err(ValidationError::InvalidAddress { .. })));
    let error = named.check(&known_peers).expect("the unknown peer comes first");
    assert_eq!(error.to_string(), r#"paths[0].peers[0] "192.0.2.99" is not a configured peer"#);

    // A path refused for its peer does not make a later path for the same
    // prefix a duplicate.
    let mut unknown = v4_path("198.51.100.1/32");
    unknown.peers = vec!["192.0.2.99".into()];
    let request = v1::AddPathsRequest {
        owner: "lb".into(),
        paths: vec![unknown, v4_path("198.51.100.1/32"), v4_path("198.51.100.1/32")],
    };
    let command = add_paths(&request, &known_peers).expect("owner is valid");
    assert!(matches!(command.paths[0], Err(ValidationError::UnknownPeer { .. })));
    assert!(command.paths[1].is_ok());
    assert!(matches!(command.paths[2], Err(ValidationError::Duplicate { .. })));
}

#[test]
fn reserved_owner_names_are_refused() {
    for reserved in RESERVED_OWNERS {
        let error = owner("owner", reserved).expect_err(reserved);
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(error.field(), "owner");
        assert!(error.to_string().contains("reserved"), "{error}");
    }
    assert!(RESERVED_OWNERS.contains(&crate::layer2::task::CONFIG_OWNER));
    // Only the exact name: an owner that merely starts with it is a client's.
    assert!(owner("owner", "config-2").is_ok());
}

#[test]
fn a_long_owner_name_is_never_echoed_whole() {
    let long = "x".repeat(16 * 1024);
    let error = owner("owner", &long).expect_err("too long");
    let text = error.to_string();
    assert!(text.len() < 400, "{} bytes: {text}", text.len());
    assert!(text.contains("16384 bytes"), "{text}");
}

#[test]
fn unusable_prefixes_and_next_hops_are_refused() {
    let v6 = |p: &mut v1::Path, prefix: &str| p.prefix = prefix.into();
    type Modify<'a> = &'a dyn Fn(&mut v1::Path);
    let cases: &[(Modify, &str)] = &[
        (&|p| p.next_hop = "127.0.0.1".into(), r#"paths[3].next_hop "127.0.0.1" cannot be used"#),
        (
            &|p| p.next_hop = "169.254.1.1".into(),
            r#"paths[3].next_hop "169.254.1.1" cannot be used"#,
        ),
        (
            &|p| {
                v6(p, "2001:db8::/32");
                p.next_hop = "fe80::1".into();
            },
            r#"paths[3].next_hop "fe80::1" cannot be used"#,
        ),
        (
            &|p| {
                v6(p, "2001:db8::/32");
                p.next_hop = "::1".into();
            },
            r#"paths[3].next_hop "::1" cannot be used"#,
        ),
        (&|p| p.prefix = "127.0.0.1/32".into(), r#"paths[3].prefix "127.0.0.1/32" cannot be used"#),
        (&|p| p.prefix = "224.0.0.0/4".into(), r#"paths[3].prefix "224.0.0.0/4" cannot be used"#),
        (&|p| p.prefix = "240.0.0.0/4".into(), r#"paths[3].prefix "240.0.0.0/4" cannot be used"#),
        (&|p| p.prefix = "fe80::/64".into(), r#"paths[3].prefix "fe80::/64" cannot be used"#),
        (&|p| p.prefix = "ff02::/16".into(), r#"paths[3].prefix "ff02::/16" cannot be used"#),
        (&|p| p.prefix = "::1/128".into(), r#"paths[3].prefix "::1/128" cannot be used"#),
        (&|p| p.prefix = "010.0.0.0/8".into(), r#"paths[3].prefix "010.0.0.0/8""#),
    ];
    for (i, (modify, message)) in cases.iter().enumerate() {
        let status = reject(|p| modify(p));
        assert_eq!(status.code(), Code::InvalidArgument, "case {i}: {}", status.message());
        assert!(status.message().starts_with(message), "case {i}: {:?}", status.message());
    }
    // A default route and ordinary prefixes stay valid.
    for good in ["0.0.0.0/0", "10.0.0.0/8", "198.51.100.0/24"] {
        assert!(path(3, &v4_path(good), &known_peers).is_ok(), "{good}");
    }
}

/// A path at every size limit: the AS_PATH in two segments, every community
/// kind full, an IPv6 prefix with a global and link-local next hop.
fn largest_path() -> v1::Path {
    let half = u32::try_from(MAX_AS_PATH_ASNS / 2).expect("small");
    let asns = |from: u32, count: u32| (from..from + count).collect::<Vec<u32>>();
    let numbered = |count: usize, format: &dyn Fn(usize) -> String| -> Vec<String> {
        (0..count).map(format).collect()
    };
    v1::Path {
        prefix: "2001:db8::1/128".into(),
        next_hop: "2001:db8::2".into(),
        next_hop_link_local: "fe80::2".into(),
        as_path: vec![
            v1::AsPathSegment { r#type: 0, asns: asns(4_200_000_000, half) },
            v1::AsPathSegment {
                r#type: v1::AsPathSegmentType::Set as i32,
                asns: asns(4_210_000_000, u32::try_from(MAX_AS_PATH_ASNS).expect("small") - half),
            },
        ],
        med: Some(u32::MAX),
        local_pref: Some(u32::MAX),
        communities: numbered(MAX_COMMUNITIES, &|i| format!("65000:{i}")),
        large_communities: numbered(MAX_LARGE_COMMUNITIES, &|i| format!("4200000000:1:{i}")),
        extended_communities: numbered(MAX_EXTENDED_COMMUNITIES, &|i| format!("rt:65000:{i}")),
        ..v1::Path::default()
    }
}

#[test]
fn a_path_at_every_limit_fits_one_plain_update() {
    let checked = path(0, &largest_path(), &known_peers).expect("at the limits is valid");
    let options = crate::wire::CodecOptions { four_octet_as: true, ..Default::default() };
    let mut packer = crate::wire::UpdatePacker::new(options);
    packer
        .fits(&*checked.attributes, checked.family, checked.next_hop)
        .expect("fits a 4,096-octet UPDATE");
}

#[test]
fn as_path_and_community_counts_are_bounded() {
    let mut too_long = largest_path();
    too_long.as_path[0].asns.push(65001);
    let status = tonic::Status::from(path(4, &too_long, &known_peers).expect_err("too long"));
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("paths[4].as_path"), "{}", status.message());
    assert!(status.message().contains(&MAX_AS_PATH_ASNS.to_string()), "{}", status.message());

    type Grow = fn(&mut v1::Path);
    let cases: [(&str, Grow); 3] = [
        ("paths[4].communities", |p| p.communities.push("65001:1".into())),
        ("paths[4].large_communities", |p| p.large_communities.push("65001:1:1".into())),
        ("paths[4].extended_communities", |p| p.extended_communities.push("rt:65001:1".into())),
    ];
    for (field, grow) in cases {
        let mut proto = largest_path();
        grow(&mut proto);
        let status = tonic::Status::from(path(4, &proto, &known_peers).expect_err(field));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(field), "{field}: {}", status.message());
    }
}

/// Knows PEER_A and the peer over eth1.
struct WithInterface;

impl PeerLookup for WithInterface {
    fn is_peer(&self, address: IpAddr) -> bool {
        address == PEER_A
    }

    fn is_interface_peer(&self, interface: &str) -> bool {
        interface == "eth1"
    }
}

#[test]
fn a_path_names_a_peer_over_an_interface_as_percent_ifname() {
    let proto =
        v1::Path { peers: vec!["%eth1".into(), "192.0.2.2".into()], ..v4_path("198.51.100.0/24") };
    let checked = path(0, &proto, &WithInterface).expect("valid");
    assert_eq!(checked.peers, vec![PeerKey::from(PEER_A), PeerKey::Interface("eth1".into())]);

    let unknown = v1::Path { peers: vec!["%eth2".into()], ..v4_path("198.51.100.0/24") };
    let status = tonic::Status::from(path(0, &unknown, &WithInterface).expect_err("unknown"));
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), r#"paths[0].peers[0] "%eth2" is not a configured peer"#);

    let twice =
        v1::Path { peers: vec!["%eth1".into(), "%eth1".into()], ..v4_path("198.51.100.0/24") };
    let status = tonic::Status::from(path(0, &twice, &WithInterface).expect_err("twice"));
    assert!(status.message().starts_with("paths[0].peers[1]"), "{}", status.message());

    let bad = v1::Path { peers: vec!["%a/b".into()], ..v4_path("198.51.100.0/24") };
    let status = tonic::Status::from(path(0, &bad, &WithInterface).expect_err("bad name"));
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("not an interface name"), "{}", status.message());
}
