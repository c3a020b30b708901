//! The read-side and lease requests, checked: `ListPaths` (which table, which
//! prefixes), `Watch` (what to report) and the first message of `Session` (the
//! owner lease described in the `.proto`).
//!
//! The tables are those of RFC 4271 §3.2 (Adj-RIB-In, Loc-RIB, Adj-RIB-Out).

use std::net::IpAddr;
use std::time::Duration;

use ironlb_proto::bgpd::v1;

use super::error::ValidationError;
use super::validate::{PeerLookup, address, family, grace_time, owner, prefix};
use crate::instance::leases::SessionOpenCommand;
use crate::instance::listing::{PathQuery, PrefixMatch, TableSelector};
use crate::instance::watch::WatchFilter;
use crate::wire::Family;

/// Keepalive deadline of a `Session` that does not ask for one.
pub const DEFAULT_SESSION_HOLD_TIME: Duration = Duration::from_secs(30);

fn conflict(
    field: &str,
    value: impl ToString,
    other: &str,
    other_value: impl ToString,
) -> ValidationError {
    ValidationError::Conflict {
        field: field.to_string(),
        value: value.to_string(),
        other: other.to_string(),
        other_value: other_value.to_string(),
    }
}

fn matching_name(value: i32) -> &'static str {
    v1::PrefixMatch::try_from(value).map_or("PREFIX_MATCH_UNSPECIFIED", |m| m.as_str_name())
}

/// Checks a `ListPathsRequest`.
pub fn list_paths(
    request: &v1::ListPathsRequest,
    lookup: &impl PeerLookup,
) -> Result<PathQuery, ValidationError> {
    let peer = |name: &str| -> Result<IpAddr, ValidationError> {
        if request.peer.is_empty() {
            return Err(ValidationError::Requires {
                field: "table".to_string(),
                value: name.to_string(),
                other: "peer".to_string(),
            });
        }
        let parsed = address("peer", &request.peer)?;
        if !lookup.is_peer(parsed) {
            return Err(ValidationError::UnknownPeer {
                field: "peer".to_string(),
                value: request.peer.clone(),
            });
        }
        Ok(parsed)
    };
    let table = match v1::Table::try_from(request.table) {
        Ok(v1::Table::Unspecified | v1::Table::LocRib) => {
            if !request.peer.is_empty() {
                return Err(conflict(
                    "peer",
                    format!("{:?}", request.peer),
                    "table",
                    "TABLE_LOC_RIB",
                ));
            }
            TableSelector::LocRib
        }
        Ok(v1::Table::AdjRibIn) if request.pre_policy => {
            TableSelector::AdjRibInPrePolicy(peer("TABLE_ADJ_RIB_IN")?)
        }
        Ok(v1::Table::AdjRibIn) => TableSelector::AdjRibIn(peer("TABLE_ADJ_RIB_IN")?),
        Ok(v1::Table::AdjRibOut) => TableSelector::AdjRibOut(peer("TABLE_ADJ_RIB_OUT")?),
        Err(_) => {
            return Err(ValidationError::UnknownEnumValue {
                field: "table".to_string(),
                value: request.table,
                valid: "TABLE_LOC_RIB (1), TABLE_ADJ_RIB_IN (2), TABLE_ADJ_RIB_OUT (3)",
            });
        }
    };
    let family = family("family", request.family)?;
    let matching = match v1::PrefixMatch::try_from(request.r#match) {
        Ok(v1::PrefixMatch::Unspecified | v1::PrefixMatch::Exact) => PrefixMatch::Exact,
        Ok(v1::PrefixMatch::Longer) => PrefixMatch::Longer,
        Err(_) => {
            return Err(ValidationError::UnknownEnumValue {
                field: "match".to_string(),
                value: request.r#match,
                valid: "PREFIX_MATCH_EXACT (1), PREFIX_MATCH_LONGER (2)",
            });
        }
    };
    let prefix = if request.prefix.is_empty() {
        if request.r#match != v1::PrefixMatch::Unspecified as i32 {
            return Err(ValidationError::Requires {
                field: "match".to_string(),
                value: matching_name(request.r#match).to_string(),
                other: "prefix".to_string(),
            });
        }
        None
    } else {
        let net = prefix("prefix", &request.prefix)?;
        if let Some(wanted) = family.filter(|&f| f != Family::of(&net)) {
            return Err(conflict("prefix", format!("{:?}", request.prefix), "family", wanted));
        }
        Some((net, matching))
    };
    let loc_rib = table == TableSelector::LocRib;
    // Known by now: the table parsed above.
    let table_name =
        v1::Table::try_from(request.table).map_or("TABLE_UNSPECIFIED", |t| t.as_str_name());
    let owner = if request.owner.is_empty() {
        None
    } else if !loc_rib {
        return Err(conflict("owner", format!("{:?}", request.owner), "table", table_name));
    } else {
        Some(owner("owner", &request.owner)?)
    };
    if request.best_only && !loc_rib {
        return Err(conflict("best_only", true, "table", table_name));
    }
    if request.pre_policy && !matches!(table, TableSelector::AdjRibInPrePolicy(_)) {
        return Err(conflict("pre_policy", true, "table", table_name));
    }
    Ok(PathQuery { table, family, prefix, owner, best_only: request.best_only })
}

/// Checks a `WatchRequest`: it must ask for something.
pub fn watch(request: &v1::WatchRequest) -> Result<WatchFilter, ValidationError> {
    if !request.peers && !request.best_paths {
        return Err(ValidationError::Missing { field: "peers or best_paths".to_string() });
    }
    let family = family("family", request.family)?;
    if family.is_some() && !request.best_paths {
        return Err(conflict("family", request.family, "best_paths", false));
    }
    Ok(WatchFilter { peers: request.peers, best_paths: request.best_paths, family })
}

/// Checks the first message of a `Session` stream: it must be `open`.
pub fn session_open(request: &v1::SessionRequest) -> Result<SessionOpenCommand, ValidationError> {
    let Some(v1::session_request::Request::Open(open)) = &request.request else {
        return Err(ValidationError::Missing { field: "open".to_string() });
    };
    let hold_time = match open.hold_time_seconds {
        None => DEFAULT_SESSION_HOLD_TIME,
        Some(seconds @ 3..=3600) => Duration::from_secs(u64::from(seconds)),
        Some(seconds) => {
            return Err(ValidationError::OutOfRange {
                field: "open.hold_time_seconds".to_string(),
                value: u64::from(seconds),
                valid: "3..=3600",
            });
        }
    };
    Ok(SessionOpenCommand {
        owner: owner("open.owner", &open.owner)?,
        grace_time: grace_time("open.grace_time_seconds", open.grace_time_seconds)?,
        hold_time,
        layer2_grace_time: grace_time(
            "open.layer2_grace_time_seconds",
            open.layer2_grace_time_seconds,
        )?
        .unwrap_or(Duration::ZERO),
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use tonic::Code;

    use super::*;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    fn known(address: IpAddr) -> bool {
        address == PEER
    }

    #[test]
    fn list_paths_defaults_to_the_whole_loc_rib() {
        let query = list_paths(&v1::ListPathsRequest::default(), &known).expect("valid");
        assert_eq!(
            query,
            PathQuery {
                table: TableSelector::LocRib,
                family: None,
                prefix: None,
                owner: None,
                best_only: false
            }
        );
        assert!(query.matches_prefix(&"2001:db8::/32".parse().expect("prefix")));
    }

    #[test]
    fn list_paths_filters() {
        let request = v1::ListPathsRequest {
            table: v1::Table::AdjRibIn as i32,
            peer: "192.0.2.2".into(),
            family: v1::Family::Ipv4Unicast as i32,
            prefix: "198.51.100.0/24".into(),
            r#match: v1::PrefixMatch::Longer as i32,
            ..v1::ListPathsRequest::default()
        };
        let query = list_paths(&request, &known).expect("valid");
        assert_eq!(query.table, TableSelector::AdjRibIn(PEER));
        for (candidate, expected) in [
            ("198.51.100.0/24", true),
            ("198.51.100.128/25", true),
            ("198.51.100.7/32", true),
            ("198.51.0.0/16", false),
            ("203.0.113.0/24", false),
        ] {
            assert_eq!(
                query.matches_prefix(&candidate.parse().expect("prefix")),
                expected,
                "{candidate}"
            );
        }
        let exact = v1::ListPathsRequest { r#match: 0, ..request };
        let query = list_paths(&exact, &known).expect("valid");
        assert!(query.matches_prefix(&"198.51.100.0/24".parse().expect("prefix")));
        assert!(!query.matches_prefix(&"198.51.100.0/25".parse().expect("prefix")));
    }

    #[test]
    fn list_paths_rules() {
        let base = v1::ListPathsRequest::default;
        let cases: Vec<(v1::ListPathsRequest, Code, &str)> = vec![
            (
                v1::ListPathsRequest { table: 9, ..base() },
                Code::InvalidArgument,
                "table 9 is not a known value",
            ),
            (
                v1::ListPathsRequest { table: 2, ..base() },
                Code::InvalidArgument,
                r#"table "TABLE_ADJ_RIB_IN" needs peer to be set"#,
            ),
            (
                v1::ListPathsRequest { table: 3, peer: "192.0.2.9".into(), ..base() },
                Code::NotFound,
                r#"peer "192.0.2.9" is not a configured peer"#,
            ),
            (
                v1::ListPathsRequest { peer: "192.0.2.2".into(), ..base() },
                Code::InvalidArgument,
                r#"peer "192.0.2.2" cannot be combined with table TABLE_LOC_RIB"#,
            ),
            (
                v1::ListPathsRequest { family: 5, ..base() },
                Code::InvalidArgument,
                "family 5 is not a known value",
            ),
            (
                v1::ListPathsRequest { prefix: "198.51.100.1/24".into(), ..base() },
                Code::InvalidArgument,
                r#"prefix "198.51.100.1/24" has host bits set"#,
            ),
            (
                v1::ListPathsRequest { prefix: "2001:db8::/32".into(), family: 1, ..base() },
                Code::InvalidArgument,
                r#"prefix "2001:db8::/32" cannot be combined with family ipv4-unicast"#,
            ),
            (
                v1::ListPathsRequest { r#match: 2, ..base() },
                Code::InvalidArgument,
                r#"match "PREFIX_MATCH_LONGER" needs prefix to be set"#,
            ),
            (
                v1::ListPathsRequest { r#match: 7, ..base() },
                Code::InvalidArgument,
                "match 7 is not a known value",
            ),
            (
                v1::ListPathsRequest {
                    table: 2,
                    peer: "192.0.2.2".into(),
                    owner: "a".into(),
                    ..base()
                },
                Code::InvalidArgument,
                r#"owner "a" cannot be combined with table TABLE_ADJ_RIB_IN"#,
            ),
            (
                v1::ListPathsRequest {
                    table: 3,
                    peer: "192.0.2.2".into(),
                    best_only: true,
                    ..base()
                },
                Code::InvalidArgument,
                "best_only true cannot be combined with table TABLE_ADJ_RIB_OUT",
            ),
            (
                v1::ListPathsRequest { pre_policy: true, ..base() },
                Code::InvalidArgument,
                "pre_policy true cannot be combined with table TABLE_UNSPECIFIED",
            ),
            (
                v1::ListPathsRequest { owner: "a b".into(), ..base() },
                Code::InvalidArgument,
                r#"owner "a b""#,
            ),
        ];
        for (i, (request, code, message)) in cases.into_iter().enumerate() {
            let status = tonic::Status::from(list_paths(&request, &known).expect_err(message));
            assert_eq!(status.code(), code, "case {i}: {}", status.message());
            assert!(status.message().starts_with(message), "case {i}: {}", status.message());
        }
    }

    #[test]
    fn watch_requests() {
        let both = v1::WatchRequest { peers: true, best_paths: true, family: 0 };
        assert_eq!(watch(&both), Ok(WatchFilter { peers: true, best_paths: true, family: None }));
        let v6 = v1::WatchRequest { peers: false, best_paths: true, family: 2 };
        assert_eq!(watch(&v6).map(|f| f.family), Ok(Some(Family::Ipv6Unicast)));

        let nothing = watch(&v1::WatchRequest::default()).expect_err("asks for nothing");
        assert_eq!(nothing.to_string(), "peers or best_paths is required");
        let unknown = watch(&v1::WatchRequest { family: 4, ..both }).expect_err("unknown family");
        assert!(unknown.to_string().starts_with("family 4 is not a known value"));
        let useless = watch(&v1::WatchRequest { peers: true, best_paths: false, family: 1 });
        assert!(useless.is_err());
    }

    fn open(open: v1::SessionOpen) -> v1::SessionRequest {
        v1::SessionRequest { request: Some(v1::session_request::Request::Open(open)) }
    }

    #[test]
    fn session_open_requests() {
        let command = session_open(&open(v1::SessionOpen {
            owner: "speaker".into(),
            grace_time_seconds: Some(10),
            hold_time_seconds: None,
            layer2_grace_time_seconds: None,
        }))
        .expect("valid");
        assert_eq!(command.owner, "speaker");
        assert_eq!(command.grace_time, Some(Duration::from_secs(10)));
        assert_eq!(command.hold_time, DEFAULT_SESSION_HOLD_TIME);
        assert_eq!(command.layer2_grace_time, Duration::ZERO, "layer2 goes at once by default");
        let command = session_open(&open(v1::SessionOpen {
            owner: "speaker".into(),
            layer2_grace_time_seconds: Some(3),
            ..Default::default()
        }))
        .expect("valid");
        assert_eq!(command.layer2_grace_time, Duration::from_secs(3));

        let keepalive_first = v1::SessionRequest {
            request: Some(v1::session_request::Request::Keepalive(v1::SessionKeepAlive {
                nonce: 1,
            })),
        };
        assert_eq!(
            session_open(&keepalive_first).map_err(|e| e.to_string()),
            Err("open is required".to_string())
        );
        let cases = [
            (v1::SessionOpen { owner: "".into(), ..Default::default() }, "open.owner \"\""),
            (
                v1::SessionOpen {
                    owner: "a".into(),
                    hold_time_seconds: Some(2),
                    ..Default::default()
                },
                "open.hold_time_seconds 2 is out of range (valid: 3..=3600)",
            ),
            (
                v1::SessionOpen {
                    owner: "a".into(),
                    grace_time_seconds: Some(90_000),
                    ..Default::default()
                },
                "open.grace_time_seconds 90000 is out of range (valid: 0..=86400)",
            ),
        ];
        for (request, message) in cases {
            let error = session_open(&open(request)).expect_err(message);
            assert_eq!(error.code(), Code::InvalidArgument);
            assert!(error.to_string().starts_with(message), "{error}");
        }
    }
}
