//! Chains end to end: each action, dispositions and defaults, chain order,
//! the split evaluation agreeing with the one-pass one, graceful shutdown.

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;

use super::*;
use crate::wire::{AsPath, Community, LargeCommunity, Origin, PathAttributes};

const CTX: Context = Context { local_asn: 64500, neighbor_asn: 65010 };

fn book(text: &str) -> PolicyBook {
    let definitions: PolicyDefinitions = toml::from_str(text).unwrap();
    PolicyBook::build(&definitions).unwrap()
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn c(text: &str) -> Community {
    community::parse_exact_community(text).unwrap()
}

fn large(text: &str) -> LargeCommunity {
    text.parse().unwrap()
}

fn attrs(path: &[u32], communities: &[&str]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: AsPath::from_sequence(path.iter().copied()),
        next_hop: Some("192.0.2.1".parse().unwrap()),
        communities: communities.iter().map(|t| c(t)).collect(),
        ..PathAttributes::default()
    }
}

/// One-pass and split evaluation must agree; returns the one-pass verdict.
fn run<'a>(chain: &CompiledChain, prefix: &str, path: &'a PathAttributes) -> Verdict<'a> {
    let prefix = net(prefix);
    let one_pass = chain.evaluate(&prefix, path, &CTX);
    let prepared = chain.prepare(path, &CTX);
    let selection = chain.select(&prepared, &prefix);
    assert_eq!(chain.outcome(&selection, path, &CTX), one_pass, "split disagrees for {prefix}");
    one_pass
}

fn accepted<'a>(verdict: Verdict<'a>) -> Accepted<'a> {
    verdict.accepted().expect("accepted")
}

const SETS: &str = r#"
[[prefix_sets]]
name = "services"
prefixes = ["198.51.100.0/24 le 32", "2001:db8::/32 ge 48 le 128"]
[[prefix_sets]]
name = "nexthops"
prefixes = ["192.0.2.0/24 le 32"]
[[community_sets]]
name = "blackhole"
communities = ["65535:666", "65001:*"]
[[large_community_sets]]
name = "tagged"
communities = ["65001:1:*"]
[[as_path_sets]]
name = "from-customer"
patterns = ["^65010_", "_65020$"]
"#;

fn chain_of(policies: &str, names: &[&str]) -> CompiledChain {
    book(&format!("{SETS}{policies}")).chain(names).unwrap()
}

#[test]
fn the_issue_statement_matches_and_applies_every_action() {
    let chain = chain_of(
        r#"
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
"#,
        &["import-upstream"],
    );
    let path = attrs(&[65010, 65020], &["65001:7", "65535:666"]);
    let result = accepted(run(&chain, "198.51.100.0/25", &path));
    let out = &result.attributes;
    assert_eq!(out.local_pref, Some(200));
    assert_eq!(out.med, Some(10));
    assert_eq!(out.as_path, AsPath::from_sequence([64500, 64500, 65010, 65020]));
    assert_eq!(out.communities, vec![c("65535:666"), c("65001:100")]);
    assert_eq!(out.large_communities, vec![large("65001:1:2")]);
    assert_eq!(result.next_hop, Some(NextHopAction::SelfAddress));
    assert!(result.local_pref_set && result.is_modified());

    // Each condition failing alone falls to the default, reject.
    assert_eq!(run(&chain, "198.51.101.0/24", &path), Verdict::Reject);
    assert_eq!(run(&chain, "198.51.100.0/24", &attrs(&[65010], &["1:1"])), Verdict::Reject);
    assert_eq!(run(&chain, "198.51.100.0/24", &attrs(&[1, 2], &["65001:1"])), Verdict::Reject);
    let long: Vec<u32> = std::iter::once(65010).chain(1..=10).collect();
    assert_eq!(run(&chain, "198.51.100.0/24", &attrs(&long, &["65001:1"])), Verdict::Reject);
    let mut egp = attrs(&[65010], &["65001:1"]);
    egp.origin = Some(Origin::Egp);
    assert_eq!(run(&chain, "198.51.100.0/24", &egp), Verdict::Reject);
    // IPv6 in the same set.
    assert!(run(&chain, "2001:db8:1::/48", &path).is_accept());
    assert!(!run(&chain, "2001:db8::/40", &path).is_accept());
}

#[test]
fn unchanged_routes_come_back_borrowed() {
    let chain = chain_of(
        r#"
[[policies]]
name = "p"
default = "accept"
[[policies.statements]]
match.prefix_set = "services"
set.local_pref = 100
set.communities_add = ["65001:1"]
set.communities_remove = ["65002:*"]
"#,
        &["p"],
    );
    let mut path = attrs(&[1], &["65001:1"]);
    path.local_pref = Some(100);
    let result = accepted(run(&chain, "198.51.100.0/24", &path));
    assert!(matches!(result.attributes, Cow::Borrowed(_)), "idempotent actions do not copy");
    assert!(result.local_pref_set && !result.is_modified());
    let result = accepted(run(&chain, "10.0.0.0/8", &path));
    assert!(matches!(result.attributes, Cow::Borrowed(_)) && !result.local_pref_set);
    assert!(chain_of("", &["accept-all"]).accepts_all());
    let all = accepted(run(&chain_of("", &["accept-all"]), "10.0.0.0/8", &path));
    assert!(!all.is_modified());
}

#[test]
fn med_actions_saturate_and_treat_absent_as_zero() {
    let chain_with = |med: &str| {
        chain_of(
            &format!(
                "[[policies]]\nname = \"p\"\ndefault = \"accept\"\n[[policies.statements]]\nset.med = {med}\n"
            ),
            &["p"],
        )
    };
    let mut path = attrs(&[1], &[]);
    let med = |chain: &CompiledChain, path: &PathAttributes| {
        accepted(run(chain, "10.0.0.0/8", path)).attributes.med
    };
    assert_eq!(med(&chain_with("10"), &path), Some(10));
    assert_eq!(med(&chain_with("\"+10\""), &path), Some(10));
    assert_eq!(med(&chain_with("\"-10\""), &path), Some(0));
    path.med = Some(u32::MAX - 5);
    assert_eq!(med(&chain_with("\"+10\""), &path), Some(u32::MAX));
    path.med = Some(25);
    assert_eq!(med(&chain_with("\"-10\""), &path), Some(15));
    assert_eq!(med(&chain_with("\"7\""), &path), Some(7));
}

#[test]
fn removal_takes_wildcards_names_and_sets() {
    let chain = chain_of(
        r#"
[[policies]]
name = "scrub"
default = "accept"
[[policies.statements]]
set.communities_remove = ["blackhole", "NO_EXPORT", "*:7"]
set.large_communities_remove = ["tagged", "9:*:9"]
set.large_communities_add = ["65001:2:2"]
"#,
        &["scrub"],
    );
    let mut path = attrs(&[1], &["65001:5", "65535:666", "65535:65281", "3:7", "3:8"]);
    path.large_communities = vec![large("65001:1:5"), large("9:1:9"), large("9:1:8")];
    let out = accepted(run(&chain, "10.0.0.0/8", &path)).attributes.into_owned();
    assert_eq!(out.communities, vec![c("3:8")]);
    assert_eq!(out.large_communities, vec![large("9:1:8"), large("65001:2:2")]);
}

#[test]
fn prepend_uses_the_context_asn_and_next_hop_outcomes() {
    let chain = chain_of(
        r#"
[[policies]]
name = "p"
default = "accept"
[[policies.statements]]
match.neighbor_asn = 65010
set.as_path_prepend = 3
set.next_hop = "2001:db8::1"
[[policies.statements]]
match.neighbor_asn = 65099
set.next_hop = "unchanged"
"#,
        &["p"],
    );
    let path = attrs(&[65010], &[]);
    let result = accepted(run(&chain, "10.0.0.0/8", &path));
    assert_eq!(result.attributes.as_path, AsPath::from_sequence([64500, 64500, 64500, 65010]));
    let address: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(result.next_hop, Some(NextHopAction::Address(address)));
    let other = Context { local_asn: 64501, neighbor_asn: 65099 };
    let result = chain.evaluate(&net("10.0.0.0/8"), &path, &other).accepted().unwrap();
    assert_eq!(result.next_hop, Some(NextHopAction::Unchanged));
    assert!(matches!(result.attributes, Cow::Borrowed(_)));
}

#[test]
fn conditions_on_next_hop_med_local_pref_family_and_negation() {
    let chain = chain_of(
        r#"
[[policies]]
name = "p"
default = "reject"
[[policies.statements]]
match.next_hop_set = "nexthops"
match.med = "le 50"
match.local_pref = "ge 100"
match.family = "ipv4-unicast"
match.prefix_set = "!services"
match.large_community_set = "!tagged"
action = "accept"
"#,
        &["p"],
    );
    let path = attrs(&[1], &[]);
    assert!(run(&chain, "10.0.0.0/8", &path).is_accept());
    assert!(!run(&chain, "198.51.100.0/24", &path).is_accept(), "negated prefix set");
    assert!(!run(&chain, "2001:db9::/32", &path).is_accept(), "family");
    let mut far = path.clone();
    far.next_hop = Some("203.0.113.1".parse().unwrap());
    assert!(!run(&chain, "10.0.0.0/8", &far).is_accept());
    let v6_next_hop = PathView::new(&path, Some("2001:db8::1".parse().unwrap()));
    assert!(!chain.evaluate(&net("10.0.0.0/8"), v6_next_hop, &CTX).is_accept());
    let no_next_hop = PathView::new(&path, None);
    assert!(!chain.evaluate(&net("10.0.0.0/8"), no_next_hop, &CTX).is_accept());
    let mut high_med = path.clone();
    high_med.med = Some(51);
    assert!(!run(&chain, "10.0.0.0/8", &high_med).is_accept());
    let mut low_pref = path.clone();
    low_pref.local_pref = Some(99);
    assert!(!run(&chain, "10.0.0.0/8", &low_pref).is_accept());
    let mut tagged = path.clone();
    tagged.large_communities = vec![large("65001:1:1")];
    assert!(!run(&chain, "10.0.0.0/8", &tagged).is_accept());
}

const CHAIN_POLICIES: &str = r#"
[[policies]]
name = "tag"
[[policies.statements]]
match.prefix_set = "services"
set.communities_add = ["65000:1"]
action = "next"
[[policies.statements]]
match.community_set = "blackhole"
set.local_pref = 50
[[policies]]
name = "filter"
[[policies.statements]]
match.prefix_set = "services"
action = "accept"
[[policies.statements]]
match.as_path_set = "from-customer"
action = "reject"
[[policies]]
name = "fallback"
default = "accept"
[[policies.statements]]
set.med = 99
"#;

#[test]
fn chains_run_in_order_and_the_first_decision_wins() {
    let chain = chain_of(CHAIN_POLICIES, &["tag", "filter"]);
    // Accepted by `filter`, with the changes of `tag`.
    let path = attrs(&[1], &["65001:1"]);
    let out = accepted(run(&chain, "198.51.100.0/24", &path)).attributes.into_owned();
    assert_eq!(out.communities, vec![c("65001:1"), c("65000:1")]);
    assert_eq!(out.local_pref, Some(50));
    // Rejected by `filter`'s second statement.
    assert_eq!(run(&chain, "10.0.0.0/8", &attrs(&[65010], &[])), Verdict::Reject);
    // Nobody decides: past the end of the chain, rejected.
    assert_eq!(run(&chain, "10.0.0.0/8", &attrs(&[1], &[])), Verdict::Reject);
    // With a final policy whose default accepts, its statement applies too.
    let chain = chain_of(CHAIN_POLICIES, &["tag", "filter", "fallback"]);
    let path = attrs(&[1], &["65001:1"]);
    let out = accepted(run(&chain, "10.0.0.0/8", &path));
    assert_eq!(out.attributes.med, Some(99));
    assert_eq!(out.attributes.local_pref, Some(50));
    // `filter` rejects routes from the customer before `fallback` is reached.
    assert_eq!(run(&chain, "10.0.0.0/8", &attrs(&[65010], &["65001:1"])), Verdict::Reject);
    // accept-all in front decides before anything else runs; reject-all likewise.
    let chain = chain_of(CHAIN_POLICIES, &["accept-all", "filter"]);
    assert!(run(&chain, "10.0.0.0/8", &attrs(&[65010], &[])).is_accept());
    let chain = chain_of(CHAIN_POLICIES, &["reject-all", "fallback"]);
    assert!(chain.rejects_all());
    assert_eq!(run(&chain, "198.51.100.0/24", &attrs(&[1], &[])), Verdict::Reject);
    // A policy default decides even when later policies would accept.
    let chain = chain_of(
        "[[policies]]\nname = \"deny\"\ndefault = \"reject\"\n[[policies]]\nname = \"ok\"\ndefault = \"accept\"\n",
        &["deny", "ok"],
    );
    assert_eq!(run(&chain, "10.0.0.0/8", &attrs(&[1], &[])), Verdict::Reject);
    // The empty chain rejects.
    assert_eq!(
        run(&PolicyBook::default().chain::<&str>(&[]).unwrap(), "10.0.0.0/8", &attrs(&[], &[])),
        Verdict::Reject
    );
}

#[test]
fn reject_statements_skip_their_actions_and_accept_statements_apply_them() {
    let chain = chain_of(
        r#"
[[policies]]
name = "p"
default = "accept"
[[policies.statements]]
match.prefix_set = "services"
set.local_pref = 5
action = "reject"
[[policies.statements]]
set.local_pref = 7
action = "accept"
[[policies.statements]]
set.local_pref = 9
"#,
        &["p"],
    );
    let path = attrs(&[1], &[]);
    assert_eq!(run(&chain, "198.51.100.1/32", &path), Verdict::Reject);
    assert_eq!(accepted(run(&chain, "10.0.0.0/8", &path)).attributes.local_pref, Some(7));
}

#[test]
fn the_split_knows_when_a_verdict_is_prefix_independent() {
    let chain = chain_of(CHAIN_POLICIES, &["tag", "filter"]);
    assert!(chain.reads_prefix());
    // From AS 65010: `filter`'s reject does not read the prefix, but the
    // statements before it do.
    let from_customer = attrs(&[65010], &[]);
    let prepared = chain.prepare(&from_customer, &CTX);
    assert!(!prepared.is_prefix_independent());
    // A chain without prefix conditions is prefix-independent for every set.
    let chain = chain_of(CHAIN_POLICIES, &["fallback"]);
    assert!(!chain.reads_prefix());
    let prepared = chain.prepare(&from_customer, &CTX);
    assert!(prepared.is_prefix_independent());
    let a = chain.select(&prepared, &net("10.0.0.0/8"));
    let b = chain.select(&prepared, &net("2001:db8::/32"));
    assert_eq!(a, b);
    // Equal selections are equal cache keys for different prefixes.
    let chain = chain_of(CHAIN_POLICIES, &["tag", "filter"]);
    let path = attrs(&[1], &[]);
    let prepared = chain.prepare(&path, &CTX);
    let inside = chain.select(&prepared, &net("198.51.100.0/24"));
    assert_eq!(inside, chain.select(&prepared, &net("198.51.100.128/25")));
    assert_ne!(inside, chain.select(&prepared, &net("10.0.0.0/8")));
}

#[test]
fn chains_of_more_than_64_statements_use_the_large_sets() {
    let mut text = String::from("[[policies]]\nname = \"big\"\ndefault = \"reject\"\n");
    for i in 0..100 {
        text.push_str(&format!(
            "[[policies.statements]]\nmatch.med = \"eq {i}\"\naction = \"accept\"\n"
        ));
    }
    let chain = book(&text).chain(&["big"]).unwrap();
    for med in [0, 63, 64, 99, 100] {
        let mut path = attrs(&[1], &[]);
        path.med = Some(med);
        assert_eq!(run(&chain, "10.0.0.0/8", &path).is_accept(), med < 100, "med {med}");
    }
}

#[test]
fn graceful_shutdown_lowers_local_pref_unless_policy_set_it() {
    let mut path = attrs(&[1], &["GRACEFUL_SHUTDOWN"]);
    path.local_pref = Some(100);
    let mut cow = Cow::Borrowed(&path);
    assert!(graceful_shutdown(&mut cow, false));
    assert_eq!(cow.local_pref, Some(GRACEFUL_SHUTDOWN_LOCAL_PREF));
    let mut cow = Cow::Borrowed(&path);
    assert!(!graceful_shutdown(&mut cow, true));
    assert!(matches!(cow, Cow::Borrowed(_)));
    let plain = attrs(&[1], &["65001:1"]);
    let mut cow = Cow::Borrowed(&plain);
    assert!(!graceful_shutdown(&mut cow, false));
    assert!(matches!(cow, Cow::Borrowed(_)));

    // Through a chain: a policy that sets LOCAL_PREF wins over RFC 8326.
    let chain = chain_of(
        r#"
[[policies]]
name = "p"
default = "accept"
[[policies.statements]]
match.prefix_set = "services"
set.local_pref = 300
"#,
        &["p"],
    );
    let mut result = accepted(run(&chain, "198.51.100.0/24", &path));
    result.apply_graceful_shutdown();
    assert_eq!(result.attributes.local_pref, Some(300));
    let mut result = accepted(run(&chain, "10.0.0.0/8", &path));
    result.apply_graceful_shutdown();
    assert_eq!(result.attributes.local_pref, Some(0));
}

mod split {
    use super::*;
    use proptest::prelude::*;

    fn arb_prefix() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (prop_oneof![Just(0xC633_6400u32), any::<u32>()], 8u8..=32).prop_map(|(a, len)| {
                IpNet::V4(ipnet::Ipv4Net::new(a.into(), len).unwrap().trunc())
            }),
            (prop_oneof![Just(0x2001_0db8u128 << 96), any::<u128>()], 16u8..=128).prop_map(
                |(a, len)| IpNet::V6(ipnet::Ipv6Net::new(a.into(), len).unwrap().trunc())
            ),
        ]
    }

    fn arb_attributes() -> impl Strategy<Value = PathAttributes> {
        let asn = prop_oneof![Just(65010u32), Just(65020), 1u32..5];
        let community =
            prop_oneof![Just("65001:1"), Just("65535:666"), Just("1:1"), Just("65000:1")];
        (
            proptest::collection::vec(asn, 0..4),
            proptest::collection::vec(community, 0..3),
            proptest::option::of(0u32..3),
        )
            .prop_map(|(path, communities, med)| {
                let mut attributes = attrs(&path, &communities);
                attributes.med = med;
                attributes
            })
    }

    proptest! {
        /// `prepare` + `select` + `outcome` gives what `evaluate` gives, and
        /// equal selections give equal verdicts.
        #[test]
        fn split_evaluation_agrees_with_one_pass(
            attributes in arb_attributes(),
            prefixes in proptest::collection::vec(arb_prefix(), 1..8),
        ) {
            let chain = chain_of(CHAIN_POLICIES, &["tag", "filter", "fallback"]);
            let prepared = chain.prepare(&attributes, &CTX);
            let mut seen: Vec<(Selection, Verdict<'_>)> = Vec::new();
            for prefix in &prefixes {
                let selection = chain.select(&prepared, prefix);
                let verdict = chain.outcome(&selection, &attributes, &CTX);
                prop_assert_eq!(&verdict, &chain.evaluate(prefix, &attributes, &CTX));
                if prepared.is_prefix_independent()
                    && let Some((first, _)) = seen.first()
                {
                    prop_assert_eq!(first, &selection);
                }
                if let Some((_, earlier)) = seen.iter().find(|(s, _)| *s == selection) {
                    prop_assert_eq!(earlier, &verdict);
                }
                seen.push((selection, verdict));
            }
        }

        /// The fast path (`select_near` with one cursor over a run of routes:
        /// candidate bits only, remembered regions and selections) answers as
        /// the slow one (`select` with a fresh cursor, and `evaluate`), for
        /// routes in address order or not, of one length or many, with
        /// attribute sets alternating, in chains of fewer and more than 64
        /// statements.
        #[test]
        fn a_cursor_over_a_run_selects_as_a_fresh_walk(
            sets in proptest::collection::vec(arb_attributes(), 1..4),
            routes in proptest::collection::vec(
                (arb_run_prefix(), 0usize..4),
                1..80,
            ),
            sorted in proptest::bool::ANY,
            one_length in proptest::option::of(prop_oneof![Just(24u8), Just(32u8)]),
            pad in prop_oneof![Just(0usize), Just(70)],
            ending in 0usize..3,
        ) {
            let names: &[&str] = match ending {
                0 => &["first", "second"],
                1 => &["first", "second", "last"],
                _ => &["second", "first", "last"],
            };
            let chain = run_chain(pad, names);
            let prepared: Vec<Prepared> = sets.iter().map(|a| chain.prepare(a, &CTX)).collect();
            let mut routes: Vec<(IpNet, usize)> = routes
                .into_iter()
                .map(|(prefix, set)| {
                    let prefix = match (one_length, prefix) {
                        (Some(len), IpNet::V4(p)) => {
                            IpNet::V4(ipnet::Ipv4Net::new(p.addr(), len).unwrap().trunc())
                        }
                        _ => prefix,
                    };
                    (prefix, set % sets.len())
                })
                .collect();
            if sorted {
                routes.sort();
            }
            let mut cursor = PrefixCursor::default();
            for (prefix, set) in &routes {
                let near = chain.select_near(&prepared[*set], prefix, &mut cursor);
                prop_assert_eq!(&near, &chain.select(&prepared[*set], prefix), "{}", prefix);
                prop_assert_eq!(
                    chain.outcome(&near, &sets[*set], &CTX),
                    chain.evaluate(prefix, &sets[*set], &CTX),
                    "{}", prefix
                );
            }
        }
    }

    /// Routes where RUN_POLICIES's sets change their answers: dense in 10.0.0.0/8
    /// (10.1.x.y and 10.200.0.x mostly), in 198.51.100.0/24 and 2001:db8::/32.
    fn arb_run_prefix() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (0u32..0x0800, 20u8..=32).prop_map(|(low, len)| {
                let address = 0x0A01_0000 | (low << 2);
                IpNet::V4(ipnet::Ipv4Net::new(address.into(), len).unwrap().trunc())
            }),
            (0u32..0x200, 22u8..=32).prop_map(|(low, len)| {
                IpNet::V4(ipnet::Ipv4Net::new((0x0AC8_0000 | low).into(), len).unwrap().trunc())
            }),
            (0u32..0x100, 24u8..=32).prop_map(|(low, len)| {
                IpNet::V4(ipnet::Ipv4Net::new((0xC633_6400 | low).into(), len).unwrap().trunc())
            }),
            (any::<u32>(), 8u8..=32).prop_map(|(a, len)| {
                IpNet::V4(ipnet::Ipv4Net::new(a.into(), len).unwrap().trunc())
            }),
            (0u128..4, any::<u16>(), 32u8..=128).prop_map(|(net, low, len)| {
                let address = (0x2001_0db8u128 << 96) | (net << 80) | (u128::from(low) << 56);
                IpNet::V6(ipnet::Ipv6Net::new(address.into(), len).unwrap().trunc())
            }),
        ]
    }
}

/// Sets and policies for the cursor's property: negated sets, two prefix
/// conditions in one statement, family conditions, sets whose answers change
/// inside 10.0.0.0/8, and chains whose statements pass the 64 of a small set.
const RUN_POLICIES: &str = r#"
[[prefix_sets]]
name = "wide"
prefixes = ["10.0.0.0/8 le 32", "2001:db8::/32 le 128"]
[[prefix_sets]]
name = "narrow"
prefixes = ["10.1.0.0/16 ge 24 le 28", "10.1.4.0/22 le 32", "10.200.0.0/24", "2001:db8:1::/48 ge 64"]
[[policies]]
name = "first"
[[policies.statements]]
match.prefix_set = "!wide"
match.community_set = "blackhole"
action = "reject"
[[policies.statements]]
match.prefix_set = "narrow"
match.family = "ipv4-unicast"
set.local_pref = 300
action = "next"
[[policies.statements]]
match.prefix_set = "services"
match.as_path_set = "from-customer"
set.med = 5
action = "accept"
[[policies]]
name = "second"
[[policies.statements]]
match.prefix_set = "!narrow"
match.family = "ipv6-unicast"
set.communities_add = ["65000:2"]
[[policies.statements]]
match.prefix_set = "services"
action = "accept"
[[policies.statements]]
match.prefix_set = "wide"
match.community_set = "blackhole"
action = "reject"
[[policies.statements]]
match.prefix_set = "!narrow"
set.med = 7
action = "next"
[[policies]]
name = "last"
default = "accept"
[[policies.statements]]
match.family = "ipv4-unicast"
set.local_pref = 90
"#;

/// `chain` of RUN_POLICIES, with `pad` never-matching statements first.
fn run_chain(pad: usize, names: &[&str]) -> CompiledChain {
    let mut text = format!("{SETS}{RUN_POLICIES}");
    text.push_str("[[policies]]\nname = \"pad\"\n");
    for i in 0..pad {
        text.push_str(&format!("[[policies.statements]]\nmatch.med = \"eq {}\"\n", 1000 + i));
    }
    let mut all = vec!["pad"];
    all.extend_from_slice(names);
    book(&text).chain(&all).unwrap()
}

/// A cursor kept by one chain answers for that chain only: two chains whose
/// candidates are the same bits but whose prefix sets differ (after a reload,
/// or two receivers) never share a remembered selection.
#[test]
fn a_cursor_remembers_a_selection_for_its_chain_only() {
    let inside = chain_of(
        "[[policies]]\nname = \"in\"\n[[policies.statements]]\nmatch.prefix_set = \"services\"\naction = \"accept\"\n",
        &["in"],
    );
    let outside = chain_of(
        "[[policies]]\nname = \"out\"\n[[policies.statements]]\nmatch.prefix_set = \"!services\"\naction = \"accept\"\n",
        &["out"],
    );
    let path = attrs(&[1], &[]);
    let (a, b) = (inside.prepare(&path, &CTX), outside.prepare(&path, &CTX));
    let mut cursor = PrefixCursor::default();
    for prefix in ["198.51.100.0/24", "198.51.100.1/24", "10.0.0.0/24"] {
        let prefix = net(prefix);
        for (chain, prepared) in [(&inside, &a), (&outside, &b), (&inside, &a)] {
            assert_eq!(
                chain.select_near(prepared, &prefix, &mut cursor),
                chain.select(prepared, &prefix),
                "{prefix}"
            );
        }
    }
}

#[test]
fn books_and_chains_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<PolicyBook>();
    shared::<CompiledChain>();
    shared::<Prepared>();
    shared::<Selection>();
    shared::<Verdict<'static>>();
}
