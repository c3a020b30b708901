//! `bgpctl policy list`: the routing policies of the running configuration
//! (ListPolicies), with the neighbours that use each, then the sets.

use ironlb_proto::bgpd::v1::{ListPoliciesRequest, ListPoliciesResponse, PolicySetKind};

use crate::connect::Api;
use crate::error::CtlError;
use crate::output::{Align, Output, Table};

pub async fn list(api: &mut Api, out: &mut Output) -> Result<(), CtlError> {
    let answer = api.target.call(api.client.list_policies(ListPoliciesRequest {})).await?;
    if out.is_json() {
        return out.json("ListPoliciesResponse", &answer);
    }
    out.text(&render(&answer))
}

fn dash(list: &[String]) -> String {
    if list.is_empty() { "-".into() } else { list.join(", ") }
}

fn kind(value: i32) -> &'static str {
    match PolicySetKind::try_from(value) {
        Ok(PolicySetKind::Prefix) => "prefix",
        Ok(PolicySetKind::Community) => "community",
        Ok(PolicySetKind::LargeCommunity) => "large-community",
        Ok(PolicySetKind::AsPath) => "as-path",
        _ => "?",
    }
}

/// The policies table, a blank line, the sets table.
fn render(answer: &ListPoliciesResponse) -> String {
    let mut policies = Table::new(&[
        ("Policy", Align::Left),
        ("Default", Align::Left),
        ("Statements", Align::Right),
        ("Sets", Align::Left),
        ("Import from", Align::Left),
        ("Export to", Align::Left),
    ]);
    for p in &answer.policies {
        let name = if p.builtin { format!("{} (built-in)", p.name) } else { p.name.clone() };
        policies.row(vec![
            name,
            p.default_action.clone(),
            p.statement_count.to_string(),
            dash(&p.sets),
            dash(&p.import_peers),
            dash(&p.export_peers),
        ]);
    }
    let mut text = policies.render();
    if !answer.sets.is_empty() {
        let mut sets = Table::new(&[
            ("Set", Align::Left),
            ("Kind", Align::Left),
            ("Entries", Align::Right),
            ("Used by", Align::Left),
            ("First entries", Align::Left),
        ]);
        for s in &answer.sets {
            let first: Vec<String> = s.entries.iter().take(3).cloned().collect();
            let more = if s.entries.len() > 3 { ", ..." } else { "" };
            sets.row(vec![
                s.name.clone(),
                kind(s.kind).into(),
                s.entries.len().to_string(),
                dash(&s.policies),
                format!("{}{more}", dash(&first)),
            ]);
        }
        text.push('\n');
        text.push_str(&sets.render());
    }
    text
}

#[cfg(test)]
mod tests {
    use ironlb_proto::bgpd::v1::{PolicyInfo, PolicySet};

    use super::*;

    #[test]
    fn policies_then_sets() {
        let answer = ListPoliciesResponse {
            policies: vec![
                PolicyInfo {
                    name: "accept-all".into(),
                    builtin: true,
                    default_action: "accept".into(),
                    ..Default::default()
                },
                PolicyInfo {
                    name: "import-upstream".into(),
                    default_action: "reject".into(),
                    statement_count: 2,
                    sets: vec!["services".into()],
                    import_peers: vec!["192.0.2.2".into(), "192.0.2.3".into()],
                    ..Default::default()
                },
            ],
            sets: vec![PolicySet {
                kind: PolicySetKind::Prefix as i32,
                name: "services".into(),
                entries: (1..=5).map(|i| format!("198.51.100.{i}/32")).collect(),
                policies: vec!["import-upstream".into()],
            }],
        };
        let text = render(&answer);
        assert!(text.contains("accept-all (built-in)"), "{text}");
        assert!(text.contains("192.0.2.2, 192.0.2.3"), "{text}");
        assert!(text.contains("198.51.100.3/32, ..."), "{text}");
        assert!(text.lines().any(|l| l.starts_with("services") && l.contains("prefix")), "{text}");
    }
}
