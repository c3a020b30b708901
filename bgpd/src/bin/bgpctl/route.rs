//! `bgpctl route ...`: walk a table (ListPaths), announce paths (AddPaths)
//! and withdraw them (DeletePaths) as an owner ("bgpctl" unless `--owner`).
//!
//! A batch that bgpd answers path by path is a success only when every path
//! succeeded: the first rejection becomes the error line (exit 1), after the
//! per-path results are printed.

use ironlb_proto::bgpd::v1::{
    AddPathsRequest, DeletePathsRequest, ListPathsRequest, ListPathsResponse, Path, PathOutcome,
    PathResult, PrefixMatch, Table as RibTable,
};
use tonic::Code;

use crate::aspath;
use crate::cli::{RouteAddArgs, RouteCommand, RouteDelArgs, RouteListArgs, TableArg};
use crate::connect::Api;
use crate::error::CtlError;
use crate::human;
use crate::output::{Align, Output, Table};

pub async fn run(command: RouteCommand, api: &mut Api, out: &mut Output) -> Result<(), CtlError> {
    match command {
        RouteCommand::List(args) => list(api, out, args).await,
        RouteCommand::Add(args) => add(api, out, *args).await,
        RouteCommand::Del(args) => delete(api, out, args).await,
    }
}

/// The ListPaths request for `route list`'s flags.
fn list_request(args: RouteListArgs) -> ListPathsRequest {
    let table = match args.table {
        TableArg::Loc => RibTable::LocRib,
        TableArg::In => RibTable::AdjRibIn,
        TableArg::Out => RibTable::AdjRibOut,
    };
    let matching = match (&args.prefix, args.longer) {
        (None, _) => PrefixMatch::Unspecified,
        (Some(_), false) => PrefixMatch::Exact,
        (Some(_), true) => PrefixMatch::Longer,
    };
    ListPathsRequest {
        table: table as i32,
        peer: args.neighbor.unwrap_or_default(),
        family: args.family.map_or(0, |f| human::family_arg(f) as i32),
        prefix: args.prefix.unwrap_or_default(),
        r#match: matching as i32,
        owner: args.owner.unwrap_or_default(),
        best_only: args.best,
        pre_policy: args.pre_policy,
    }
}

async fn list(api: &mut Api, out: &mut Output, args: RouteListArgs) -> Result<(), CtlError> {
    let mut stream = api.target.call(api.client.list_paths(list_request(args))).await?;
    let mut paths: Vec<ListPathsResponse> = Vec::new();
    while let Some(path) = api.target.within(stream.message()).await? {
        paths.push(path);
    }
    if out.is_json() {
        return out.json_list("paths", "ListPathsResponse", &paths);
    }
    out.text(&paths_table(&paths))
}

/// Routes as `birdc`/`vtysh` list them: flags (`*` valid, `>` best, `S`
/// stale), prefix, next hop, LOCAL_PREF, MED, source, AS path and origin;
/// communities when any path has some.
pub fn paths_table(paths: &[ListPathsResponse]) -> String {
    let mut table = Table::new(&[
        ("", Align::Left),
        ("Prefix", Align::Left),
        ("Next hop", Align::Left),
        ("LocPrf", Align::Right),
        ("MED", Align::Right),
        ("Source", Align::Left),
        ("Path", Align::Left),
        ("Communities", Align::Left),
    ]);
    for listed in paths {
        let path = listed.path.clone().unwrap_or_default();
        // Valid, or refused by the import policy (pre-policy Adj-RIB-In).
        let mut flags = String::from(if listed.rejected { "R" } else { "*" });
        if listed.best {
            flags.push('>');
        }
        if path.stale {
            flags.push('S');
        }
        let as_path = aspath::format(&path.as_path);
        let origin = human::origin_code(path.origin);
        let communities: Vec<&str> = path
            .communities
            .iter()
            .chain(&path.large_communities)
            .chain(&path.extended_communities)
            .map(String::as_str)
            .collect();
        table.row(vec![
            flags,
            path.prefix.clone(),
            human::or_dash(&path.next_hop),
            path.local_pref.map_or(String::new(), |v| v.to_string()),
            path.med.map_or(String::new(), |v| v.to_string()),
            human::source(listed.source.as_ref()),
            if as_path.is_empty() { origin.to_string() } else { format!("{as_path} {origin}") },
            communities.join(" "),
        ]);
    }
    if table.is_empty() {
        return "no routes\n".into();
    }
    table.drop_empty_column(7);
    let mut text = table.render();
    if paths.iter().any(|listed| listed.path.as_ref().is_some_and(|p| p.stale)) {
        text.push_str("S: stale, kept while its peer restarts (RFC 4724)\n");
    }
    if paths.iter().any(|listed| listed.rejected) {
        text.push_str("R: rejected by the neighbour's import policy (kept as received)\n");
    }
    text
}

/// The path `route add`'s flags describe, for one prefix.
fn path(prefix: &str, args: &RouteAddArgs) -> Path {
    Path {
        prefix: prefix.to_string(),
        next_hop: args.next_hop.clone().unwrap_or_default(),
        origin: args.origin.map_or(0, |o| human::origin_arg(o) as i32),
        as_path: args.as_path.clone().map(|p| p.0).unwrap_or_default(),
        med: args.med,
        local_pref: args.local_pref,
        communities: args.community.clone(),
        large_communities: args.large_community.clone(),
        extended_communities: args.extended_community.clone(),
        peers: args.neighbor.clone(),
        ..Path::default()
    }
}

async fn add(api: &mut Api, out: &mut Output, args: RouteAddArgs) -> Result<(), CtlError> {
    let paths = args.prefixes.iter().map(|prefix| path(prefix, &args)).collect();
    let request = AddPathsRequest { owner: args.owner.clone(), paths };
    let answer = api.target.call(api.client.add_paths(request)).await?;
    if out.is_json() {
        out.json("AddPathsResponse", &answer)?;
    } else {
        out.text(&results_table(&answer.results))?;
    }
    first_failure(&answer.results, &args.owner)
}

async fn delete(api: &mut Api, out: &mut Output, args: RouteDelArgs) -> Result<(), CtlError> {
    let request = DeletePathsRequest { owner: args.owner.clone(), prefixes: args.prefixes };
    let answer = api.target.call(api.client.delete_paths(request)).await?;
    if out.is_json() {
        out.json("DeletePathsResponse", &answer)?;
    } else {
        out.text(&results_table(&answer.results))?;
    }
    first_failure(&answer.results, &args.owner)
}

fn results_table(results: &[PathResult]) -> String {
    let mut table =
        Table::new(&[("Prefix", Align::Left), ("Result", Align::Left), ("Reason", Align::Left)]);
    for result in results {
        table.row(vec![
            result.prefix.clone(),
            human::outcome(result.outcome),
            result.message.clone(),
        ]);
    }
    table.drop_empty_column(2);
    table.render()
}

/// The error of the first path that did not succeed (rejected, or not held
/// by the owner), with a count of the others.
fn first_failure(results: &[PathResult], owner: &str) -> Result<(), CtlError> {
    let failed = |result: &&PathResult| {
        matches!(
            PathOutcome::try_from(result.outcome),
            Ok(PathOutcome::Rejected | PathOutcome::NotFound) | Err(_)
        )
    };
    let Some(first) = results.iter().find(failed) else {
        return Ok(());
    };
    let (code, mut message) = match PathOutcome::try_from(first.outcome) {
        Ok(PathOutcome::NotFound) => {
            (Code::NotFound, format!("owner {owner:?} holds no path for {}", first.prefix))
        }
        _ => (Code::from_i32(first.code), first.message.clone()),
    };
    let others = results.iter().filter(failed).count() - 1;
    if others > 0 {
        message.push_str(&format!(" (and {others} more)"));
    }
    Err(CtlError::Refused { code, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(prefix: &str, outcome: PathOutcome, code: i32, message: &str) -> PathResult {
        PathResult {
            prefix: prefix.into(),
            outcome: outcome as i32,
            code,
            message: message.into(),
            index: 0,
        }
    }

    #[test]
    fn rejected_routes_are_flagged_and_explained() {
        let listed = |prefix: &str, rejected: bool| ListPathsResponse {
            path: Some(Path { prefix: prefix.into(), ..Path::default() }),
            rejected,
            ..ListPathsResponse::default()
        };
        let text =
            paths_table(&[listed("198.51.100.1/32", true), listed("198.51.100.2/32", false)]);
        assert!(
            text.lines().any(|l| l.starts_with("R ") && l.contains("198.51.100.1/32")),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with("* ") && l.contains("198.51.100.2/32")),
            "{text}"
        );
        assert!(text.contains("R: rejected by the neighbour's import policy"), "{text}");
    }

    #[test]
    fn the_first_failure_of_a_batch_is_the_error() {
        let ok =
            [result("a", PathOutcome::Added, 0, ""), result("b", PathOutcome::Unchanged, 0, "")];
        assert!(first_failure(&ok, "o").is_ok());
        let bad = [
            result("a", PathOutcome::Added, 0, ""),
            result("b", PathOutcome::Rejected, 3, "paths[1].prefix \"b\" is bad"),
            result("c", PathOutcome::NotFound, 0, ""),
        ];
        let error = first_failure(&bad, "o").expect_err("fails");
        assert_eq!(
            error.to_string(),
            "bgpd refused: INVALID_ARGUMENT: paths[1].prefix \"b\" is bad (and 1 more)"
        );
        let missing = [result("c", PathOutcome::NotFound, 0, "")];
        assert_eq!(
            first_failure(&missing, "o").expect_err("fails").to_string(),
            "bgpd refused: NOT_FOUND: owner \"o\" holds no path for c"
        );
    }

    #[test]
    fn route_add_flags_become_a_path() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "bgpctl",
            "route",
            "add",
            "198.51.100.0/24",
            "--as-path",
            "65010 {65020,65030}",
            "--med",
            "5",
            "--origin",
            "incomplete",
            "--neighbor",
            "192.0.2.2",
        ])
        .expect("parses");
        let crate::cli::Command::Route(RouteCommand::Add(args)) = cli.command else {
            panic!("not route add");
        };
        let path = path("198.51.100.0/24", &args);
        assert_eq!(crate::aspath::format(&path.as_path), "65010 {65020,65030}");
        assert_eq!(path.med, Some(5));
        assert_eq!(path.origin, ironlb_proto::bgpd::v1::Origin::Incomplete as i32);
        assert_eq!(path.peers, vec!["192.0.2.2".to_string()]);
        assert_eq!(args.owner, "bgpctl");
    }

    #[test]
    fn an_empty_table_says_so() {
        assert_eq!(paths_table(&[]), "no routes\n");
    }

    #[test]
    fn stale_paths_are_flagged_and_explained() {
        let listed = |prefix: &str, stale: bool| ListPathsResponse {
            path: Some(Path { prefix: prefix.into(), stale, ..Path::default() }),
            best: true,
            ..ListPathsResponse::default()
        };
        let text = paths_table(&[listed("198.51.100.0/24", true), listed("203.0.113.0/24", false)]);
        let row = |prefix: &str| {
            text.lines().find(|l| l.contains(prefix)).map(|l| l.split_whitespace().next())
        };
        assert_eq!(row("198.51.100.0/24"), Some(Some("*>S")), "{text}");
        assert_eq!(row("203.0.113.0/24"), Some(Some("*>")), "{text}");
        assert!(text.ends_with("S: stale, kept while its peer restarts (RFC 4724)\n"), "{text}");
        assert!(!paths_table(&[listed("203.0.113.0/24", false)]).contains("stale"));
    }
}
