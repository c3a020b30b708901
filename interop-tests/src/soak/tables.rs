//! The soak's final check: what bgpd says it advertises to each peer (its Adj-RIB-Out,
//! `ListPaths`) against what the peer holds from it.

use std::collections::BTreeSet;

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

/// bgpd's Adj-RIB-Out towards `peer`, prefixes in text form.
pub async fn adj_rib_out(
    mut client: BgpServiceClient<Channel>,
    peer: String,
) -> Result<BTreeSet<String>, tonic::Status> {
    let request =
        v1::ListPathsRequest { table: v1::Table::AdjRibOut as i32, peer, ..Default::default() };
    let mut stream = client.list_paths(request).await?.into_inner();
    let mut prefixes = BTreeSet::new();
    while let Some(entry) = stream.message().await? {
        if let Some(path) = entry.path {
            prefixes.insert(path.prefix);
        }
    }
    Ok(prefixes)
}

/// Prefixes of `birdc show route protocol NAME`: each route's first line starts with its
/// prefix (further paths of one prefix are indented).
pub fn bird_prefixes(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with(char::is_whitespace))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| word.parse::<ipnet::IpNet>().is_ok())
        .map(str::to_owned)
        .collect()
}

/// Prefixes of FRR's `show bgp ipv4 unicast neighbors X routes json` (the `routes` keys).
pub fn frr_prefixes(json: &serde_json::Value) -> BTreeSet<String> {
    json.get("routes")
        .and_then(serde_json::Value::as_object)
        .map(|routes| routes.keys().cloned().collect())
        .unwrap_or_default()
}

/// How two prefix sets differ, in a line (with up to 5 examples each way).
pub fn difference(ours: &BTreeSet<String>, theirs: &BTreeSet<String>) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let missing: Vec<&String> = ours.difference(theirs).collect();
    let extra: Vec<&String> = theirs.difference(ours).collect();
    Some(format!(
        "{} advertised but not held (e.g. {:?}), {} held but not advertised (e.g. {:?})",
        missing.len(),
        &missing[..missing.len().min(5)],
        extra.len(),
        &extra[..extra.len().min(5)]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bird_lines_give_their_prefixes() {
        let text = "Table master4:\n\
                    198.18.0.1/32        unicast [ironlb 14:20:00.123] * (100) [AS65001i]\n\
                    \tvia 198.51.100.1 on to-bgpd\n\
                    203.0.113.0/26       unicast [ironlb 14:20:00.123] * (100) [AS65002i]\n\
                    \x20                    unicast [other 14:20:00.123] (100) [AS65009i]\n";
        let got: Vec<String> = bird_prefixes(text).into_iter().collect();
        assert_eq!(got, ["198.18.0.1/32", "203.0.113.0/26"]);
    }

    #[test]
    fn frr_routes_keys_are_the_prefixes() {
        let json: serde_json::Value = serde_json::from_str(
            r#"{"routes": {"198.18.0.1/32": [{}], "203.0.113.0/26": [{}]}, "totalRoutes": 2}"#,
        )
        .unwrap();
        assert_eq!(frr_prefixes(&json).len(), 2);
    }

    #[test]
    fn differences_name_both_sides() {
        let a: BTreeSet<String> = ["x".to_owned(), "y".to_owned()].into();
        let b: BTreeSet<String> = ["y".to_owned(), "z".to_owned()].into();
        assert_eq!(difference(&a, &a), None);
        let text = difference(&a, &b).unwrap();
        assert!(text.contains("1 advertised but not held") && text.contains("\"z\""), "{text}");
    }
}
