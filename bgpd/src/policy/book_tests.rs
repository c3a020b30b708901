//! Building a book: every definition error is reported, each with its place.

use super::*;

fn build(text: &str) -> Result<PolicyBook, Vec<DefinitionError>> {
    let definitions: PolicyDefinitions = toml::from_str(text).unwrap();
    PolicyBook::build(&definitions)
}

fn error(
    table: Table,
    position: usize,
    name: &str,
    statement: Option<usize>,
    field: &'static str,
    index: Option<usize>,
    kind: DefinitionErrorKind,
) -> DefinitionError {
    DefinitionError { table, position, name: name.to_string(), statement, field, index, kind }
}

fn bad(value: &str, expected: &'static str) -> DefinitionErrorKind {
    DefinitionErrorKind::BadValue { value: value.to_string(), expected }
}

#[test]
fn every_error_is_reported_with_its_place() {
    let errors = build(
        r#"
[[prefix_sets]]
name = "p"
prefixes = ["10.0.0.0/8", "10.0.0.1/8", "10.0.0.0/8 le 7"]
[[prefix_sets]]
name = "p"
prefixes = []
[[community_sets]]
name = "c"
communities = ["65001:*", "70000:1"]
[[large_community_sets]]
name = ""
communities = ["1:2"]
[[as_path_sets]]
name = "a"
patterns = ["^65010_", "(unclosed"]
[[policies]]
name = "accept-all"
[[policies]]
name = "pol"
default = "maybe"
[[policies.statements]]
match.prefix_set = "missing"
match.community_set = "!c"
match.as_path_set = "nope"
match.as_path_length = "lt 3"
match.origin = "IGP"
match.family = "l2vpn"
set.med = "*2"
set.as_path_prepend = 300
set.communities_add = ["65001:*"]
set.communities_remove = ["no-such-set"]
set.large_communities_remove = ["1:2:x"]
set.next_hop = "here"
action = "permit"
[[policies.statements]]
match.next_hop_set = "!c"
match.med = "eq"
"#,
    )
    .unwrap_err();
    let policy =
        |statement, field, kind| error(Table::Policies, 1, "pol", statement, field, None, kind);
    let unknown =
        |kind, name: &str| DefinitionErrorKind::UnknownSet { kind, name: name.to_string() };
    let expected = vec![
        error(
            Table::PrefixSets,
            0,
            "p",
            None,
            "prefixes",
            Some(1),
            "10.0.0.1/8".parse::<PrefixEntry>().unwrap_err().into(),
        ),
        error(
            Table::PrefixSets,
            0,
            "p",
            None,
            "prefixes",
            Some(2),
            "10.0.0.0/8 le 7".parse::<PrefixEntry>().unwrap_err().into(),
        ),
        error(
            Table::PrefixSets,
            1,
            "p",
            None,
            "name",
            None,
            DefinitionErrorKind::DuplicateName {
                name: "p".into(),
                table: Table::PrefixSets,
                first: 0,
            },
        ),
        error(
            Table::CommunitySets,
            0,
            "c",
            None,
            "communities",
            Some(1),
            "70000:1".parse::<CommunityPattern>().unwrap_err().into(),
        ),
        error(Table::LargeCommunitySets, 0, "", None, "name", None, DefinitionErrorKind::EmptyName),
        error(
            Table::LargeCommunitySets,
            0,
            "",
            None,
            "communities",
            Some(0),
            "1:2".parse::<LargeCommunityPattern>().unwrap_err().into(),
        ),
        error(
            Table::AsPathSets,
            0,
            "a",
            None,
            "patterns",
            Some(1),
            compile_pattern("(unclosed").unwrap_err().into(),
        ),
        error(
            Table::Policies,
            0,
            "accept-all",
            None,
            "name",
            None,
            DefinitionErrorKind::ReservedName { name: "accept-all".into() },
        ),
        policy(None, "default", bad("maybe", "accept, reject or next")),
        policy(Some(0), "match.prefix_set", unknown(SetKind::Prefix, "missing")),
        policy(Some(0), "match.family", bad("l2vpn", "ipv4-unicast or ipv6-unicast")),
        policy(Some(0), "match.as_path_set", unknown(SetKind::AsPath, "nope")),
        policy(Some(0), "match.as_path_length", bad("lt 3", "`eq N`, `le N` or `ge N`")),
        policy(Some(0), "match.origin", bad("IGP", "igp, egp or incomplete")),
        policy(Some(0), "set.med", bad("*2", "a number 0..=4294967295, \"+N\" or \"-N\"")),
        policy(Some(0), "set.as_path_prepend", bad("300", "a count 0..=32")),
        error(
            Table::Policies,
            1,
            "pol",
            Some(0),
            "set.communities_add",
            Some(0),
            CommunityPatternError::Standard { text: "65001:*".into(), position: 6 }.into(),
        ),
        error(
            Table::Policies,
            1,
            "pol",
            Some(0),
            "set.communities_remove",
            Some(0),
            "no-such-set".parse::<CommunityPattern>().unwrap_err().into(),
        ),
        error(
            Table::Policies,
            1,
            "pol",
            Some(0),
            "set.large_communities_remove",
            Some(0),
            "1:2:x".parse::<LargeCommunityPattern>().unwrap_err().into(),
        ),
        policy(Some(0), "set.next_hop", bad("here", "self, unchanged or an IP address")),
        policy(Some(0), "action", bad("permit", "accept, reject or next")),
        policy(Some(1), "match.next_hop_set", unknown(SetKind::Prefix, "c")),
        policy(Some(1), "match.med", bad("eq", "`eq N`, `le N` or `ge N`")),
    ];
    for (i, (got, want)) in errors.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "error {i}");
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn errors_read_well() {
    let errors = build(
        "[[policies]]\nname = \"pol\"\n[[policies.statements]]\nmatch.prefix_set = \"missing\"\n",
    )
    .unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "policies[0] \"pol\" statements[0] match.prefix_set: unknown prefix set \"missing\""
    );
    let errors =
        build("[[prefix_sets]]\nname = \"p\"\nprefixes = [\"10.0.0.0/8 le 40\"]\n").unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "prefix_sets[0] \"p\" prefixes[0]: prefix entry \"10.0.0.0/8 le 40\", at byte 14: not a \
         length 0..=32"
    );
}

#[test]
fn a_set_with_bad_entries_does_not_also_count_as_unknown() {
    let errors = build(
        r#"
[[prefix_sets]]
name = "p"
prefixes = ["bad"]
[[policies]]
name = "x"
[[policies.statements]]
match.prefix_set = "p"
"#,
    )
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].table, Table::PrefixSets);
}

#[test]
fn the_book_lists_and_resolves_names() {
    let book = build(
        r#"
[[prefix_sets]]
name = "p"
prefixes = ["10.0.0.0/8"]
[[policies]]
name = "x"
default = "accept"
"#,
    )
    .unwrap();
    assert_eq!(book.policy_names(), vec!["accept-all", "reject-all", "x"]);
    assert!(book.has_policy("x") && book.prefix_set("p").is_some());
    assert!(book.chain(&["x", "accept-all"]).is_ok());
    assert_eq!(
        book.chain(&["x", "nope"]).unwrap_err(),
        UnknownPolicy { name: "nope".into(), index: 1 }
    );
    assert_eq!(book.unknown_policies(&["a", "x", "b"]).len(), 2);
    assert_eq!(book.definitions().policies[0].name, "x");
    let chain = book.chain(&["accept-all"]).unwrap();
    assert!(chain.accepts_all() && !chain.rejects_all());
    assert_eq!(chain.policies().collect::<Vec<_>>(), vec!["accept-all"]);
    // The defaults alone: built-ins only.
    assert_eq!(PolicyBook::default().policy_names(), vec!["accept-all", "reject-all"]);
}
