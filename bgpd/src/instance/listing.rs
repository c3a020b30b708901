//! `ListPaths` inside the instance: walk the table a [`PathQuery`] selects and
//! keep the matching routes, each with where it came from in API terms (owner
//! name, peer address or the config file).
//!
//! [`list_paths`] collects the whole answer (one `Route` per path in flight);
//! the service streams with [`list_page`] instead, a page of at most
//! [`PAGE_PATHS`] paths per request to the instance, so listing a million
//! routes neither stalls the instance nor holds the table twice.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::rib::{OwnerId, PeerId, Rib, Route, Source};
use crate::wire::Family;

/// Which table a `ListPaths` walks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TableSelector {
    LocRib,
    AdjRibIn(IpAddr),
    /// The routes as received (soft reconfiguration inbound), before the
    /// import policy; [`ListedPath::rejected`] marks those it refused.
    AdjRibInPrePolicy(IpAddr),
    AdjRibOut(IpAddr),
}

/// How `ListPaths` matches its prefix.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PrefixMatch {
    Exact,
    /// The prefix and every more specific one inside it.
    Longer,
}

/// A checked `ListPathsRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathQuery {
    pub table: TableSelector,
    /// `None`: every family.
    pub family: Option<Family>,
    /// `None`: every prefix.
    pub prefix: Option<(IpNet, PrefixMatch)>,
    /// Loc-RIB only: paths of this owner.
    pub owner: Option<String>,
    /// Loc-RIB only.
    pub best_only: bool,
}

impl PathQuery {
    /// Whether `candidate` passes the family and prefix filters.
    pub fn matches_prefix(&self, candidate: &IpNet) -> bool {
        if self.family.is_some_and(|f| f != Family::of(candidate)) {
            return false;
        }
        match self.prefix {
            None => true,
            Some((wanted, PrefixMatch::Exact)) => wanted == *candidate,
            Some((wanted, PrefixMatch::Longer)) => wanted.contains(candidate),
        }
    }
}

/// Where a listed path came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSource {
    Owner(String),
    Peer(IpAddr),
    Config,
    /// A source the instance no longer knows (a peer removed meanwhile).
    Unknown,
}

/// One path of a `ListPaths` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedPath {
    pub route: Route,
    pub source: PathSource,
    /// The Loc-RIB best path of its prefix (always false outside the Loc-RIB).
    pub best: bool,
    /// Loc-RIB: the peers a local path is restricted to; empty: every peer.
    pub peers: Vec<crate::rib::PeerKey>,
    /// Pre-policy Adj-RIB-In: the import policy (or a loop check) refused it.
    pub rejected: bool,
}

/// Why a query cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("peer {0} is not a configured peer")]
    UnknownPeer(IpAddr),
    #[error("listing the Adj-RIB-Out is not supported yet")]
    AdjRibOutUnsupported,
    #[error(
        "peer {0} does not keep its routes as received: set soft_reconfiguration_inbound = true on it"
    )]
    NotKept(IpAddr),
}

/// Names of the instance's sources, for [`PathSource`].
pub struct SourceNames<'a> {
    pub owners: &'a HashMap<String, OwnerId>,
    pub peers: &'a HashMap<IpAddr, PeerId>,
}

impl SourceNames<'_> {
    pub(crate) fn resolver(&self) -> impl Fn(Source) -> PathSource + '_ {
        let owners: HashMap<OwnerId, &str> =
            self.owners.iter().map(|(name, id)| (*id, name.as_str())).collect();
        let peers: HashMap<PeerId, IpAddr> =
            self.peers.iter().map(|(address, id)| (*id, *address)).collect();
        move |source| match source {
            Source::Static => PathSource::Config,
            Source::Api(id) => owners
                .get(&id)
                .map_or(PathSource::Unknown, |name| PathSource::Owner(name.to_string())),
            Source::Peer(id) => {
                peers.get(&id).map_or(PathSource::Unknown, |a| PathSource::Peer(*a))
            }
        }
    }
}

/// Answers a `ListPaths` query.
pub fn list_paths(
    rib: &Rib,
    names: &SourceNames<'_>,
    query: &PathQuery,
) -> Result<Vec<ListedPath>, ListError> {
    let families: Vec<Family> = match query.family {
        Some(family) => vec![family],
        None => Family::ALL.to_vec(),
    };
    let resolve = names.resolver();
    let owner = match &query.owner {
        // An owner that never set a path has none.
        Some(name) => match names.owners.get(name) {
            Some(id) => Some(Source::Api(*id)),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let mut listed = Vec::new();
    if let Some((prefix, PrefixMatch::Exact)) = query.prefix {
        // The prefix decides the family: walk it once, not once per family.
        if query.family.is_none() {
            return list_paths(
                rib,
                names,
                &PathQuery { family: Some(crate::wire::Family::of(&prefix)), ..query.clone() },
            );
        }
    }
    match query.table {
        TableSelector::LocRib => {
            for family in families {
                // An exact prefix is one lookup, not a walk of the table.
                let bests: Box<dyn Iterator<Item = Route>> = match query.prefix {
                    Some((prefix, PrefixMatch::Exact)) => Box::new(
                        rib.best_route(prefix)
                            .filter(|r| query.matches_prefix(&r.prefix))
                            .into_iter(),
                    ),
                    _ => Box::new(rib.loc_rib(family).filter(|r| query.matches_prefix(&r.prefix))),
                };
                for best in bests {
                    let routes =
                        if query.best_only { vec![best.clone()] } else { rib.paths(best.prefix) };
                    for route in routes {
                        if owner.is_some_and(|o| o != route.source) {
                            continue;
                        }
                        let is_best = route.source == best.source;
                        listed.push(ListedPath {
                            source: resolve(route.source),
                            peers: rib.restricted_peers(route.source, route.prefix).to_vec(),
                            route,
                            best: is_best,
                            rejected: false,
                        });
                    }
                }
            }
        }
        TableSelector::AdjRibIn(address) => {
            let peer = *names.peers.get(&address).ok_or(ListError::UnknownPeer(address))?;
            for family in families {
                for route in
                    rib.adj_rib_in(peer, family).filter(|r| query.matches_prefix(&r.prefix))
                {
                    listed.push(ListedPath {
                        source: resolve(route.source),
                        route,
                        best: false,
                        peers: Vec::new(),
                        rejected: false,
                    });
                }
            }
        }
        TableSelector::AdjRibInPrePolicy(address) => {
            let peer = *names.peers.get(&address).ok_or(ListError::UnknownPeer(address))?;
            if !rib.keeps_pre_policy(peer) {
                return Err(ListError::NotKept(address));
            }
            listed.extend(pre_policy(rib, (address, peer), query, &families));
        }
        TableSelector::AdjRibOut(_) => return Err(ListError::AdjRibOutUnsupported),
    }
    Ok(listed)
}

/// The pre-policy Adj-RIB-In of `peer` that `query` selects, in prefix order.
fn pre_policy(
    rib: &Rib,
    (address, peer): (IpAddr, PeerId),
    query: &PathQuery,
    families: &[Family],
) -> Vec<ListedPath> {
    families
        .iter()
        .flat_map(|&family| rib.pre_policy_routes(peer, family))
        .filter(|(route, _)| query.matches_prefix(&route.prefix))
        .map(|(route, accepted)| ListedPath {
            source: PathSource::Peer(address),
            route,
            best: false,
            peers: Vec::new(),
            rejected: !accepted,
        })
        .collect()
}

/// Answers a `ListPaths` query of a peer's Adj-RIB-Out: what the peer has
/// been sent, with the attributes as sent (after the export rewrite, RFC 4271
/// §5.1). Needs the RIB mutably: the export rewrite is computed (and cached)
/// on the way, exactly as for sending.
pub fn list_adj_rib_out(
    rib: &mut Rib,
    peers: &HashMap<IpAddr, PeerId>,
    address: IpAddr,
    query: &PathQuery,
) -> Result<Vec<ListedPath>, ListError> {
    let peer = *peers.get(&address).ok_or(ListError::UnknownPeer(address))?;
    let families: Vec<Family> = match (query.family, query.prefix) {
        (Some(family), _) => vec![family],
        (None, Some((prefix, PrefixMatch::Exact))) => {
            vec![crate::wire::Family::of(&prefix)]
        }
        (None, _) => Family::ALL.to_vec(),
    };
    let mut listed = Vec::new();
    for family in families {
        for (prefix, exported) in rib.adj_rib_out(peer, family) {
            if !query.matches_prefix(&prefix) {
                continue;
            }
            let route = Route {
                prefix,
                source: Source::Peer(peer),
                attributes: exported.attributes,
                next_hop: Some(exported.next_hop),
                stale: false,
            };
            listed.push(ListedPath {
                route,
                source: PathSource::Unknown,
                best: false,
                peers: Vec::new(),
                rejected: false,
            });
        }
    }
    Ok(listed)
}

/// Where a paged `ListPaths` walk resumes: the family (index into the
/// query's families) and the table slot.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ListCursor {
    family: usize,
    slot: u32,
}

/// The offset a pre-policy page starts at (its cursor's `slot`).
fn cursor_offset(cursor: ListCursor) -> usize {
    cursor.slot as usize
}

/// One page of a `ListPaths` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub paths: Vec<ListedPath>,
    /// Where the next page starts; `None`: this was the last.
    pub next: Option<ListCursor>,
}

/// Paths listed per page at most.
pub const PAGE_PATHS: usize = 1024;
/// Slots looked at per page at most, so that a sparse match (a rare owner,
/// a narrow prefix) cannot make one page walk the whole table.
const PAGE_SLOTS: u32 = 16 * PAGE_PATHS as u32;

/// Answers a `ListPaths` query one page at a time, from `from`: the walk
/// goes over the table slots (stable while a prefix lives), so the instance
/// never builds a million-path answer and never stops for a whole table. A
/// listing is therefore not one atomic snapshot: a path changed between two
/// pages may be listed in its old or its new form (Watch gives the atomic
/// view). Exact-prefix queries are one lookup and one page.
pub fn list_page(
    rib: &Rib,
    names: &SourceNames<'_>,
    query: &PathQuery,
    from: ListCursor,
) -> Result<Page, ListError> {
    if matches!(query.prefix, Some((_, PrefixMatch::Exact))) {
        let paths = list_paths(rib, names, query)?;
        return Ok(Page { paths, next: None });
    }
    if let TableSelector::AdjRibInPrePolicy(_) = query.table {
        // A map, not table slots: the whole selection in prefix order, paged
        // by offset (bounded by the peer's max-prefix limit, if it has one).
        let all = list_paths(rib, names, query)?;
        let start = cursor_offset(from).min(all.len());
        let end = (start + PAGE_PATHS).min(all.len());
        let next = (end < all.len()).then_some(ListCursor { family: 0, slot: end as u32 });
        let paths = all.into_iter().skip(start).take(end - start).collect();
        return Ok(Page { paths, next });
    }
    let source_filter = match (&query.table, &query.owner) {
        (TableSelector::AdjRibInPrePolicy(_), _) => None,
        (TableSelector::AdjRibIn(address), _) => {
            Some(Source::Peer(*names.peers.get(address).ok_or(ListError::UnknownPeer(*address))?))
        }
        (TableSelector::AdjRibOut(_), _) => return Err(ListError::AdjRibOutUnsupported),
        (TableSelector::LocRib, Some(name)) => match names.owners.get(name) {
            Some(id) => Some(Source::Api(*id)),
            None => return Ok(Page { paths: Vec::new(), next: None }),
        },
        (TableSelector::LocRib, None) => None,
    };
    let loc_rib = query.table == TableSelector::LocRib;
    let families: Vec<Family> = match query.family {
        Some(family) => vec![family],
        None => Family::ALL.to_vec(),
    };
    let resolve = names.resolver();
    let mut cursor = from;
    let mut paths = Vec::new();
    let mut looked = 0;
    while let Some(&family) = families.get(cursor.family) {
        if paths.len() >= PAGE_PATHS || looked >= PAGE_SLOTS {
            return Ok(Page { paths, next: Some(cursor) });
        }
        if cursor.slot >= rib.slot_bound(family) {
            cursor = ListCursor { family: cursor.family + 1, slot: 0 };
            continue;
        }
        let slot = cursor.slot;
        cursor.slot += 1;
        looked += 1;
        let Some(best) = rib.best_at_slot(family, slot) else { continue };
        if !query.matches_prefix(&best.prefix) {
            continue;
        }
        let routes = if loc_rib && query.best_only && source_filter.is_none() {
            vec![best.clone()]
        } else {
            rib.paths(best.prefix)
        };
        for route in routes {
            if source_filter.is_some_and(|s| s != route.source) {
                continue;
            }
            if loc_rib && query.best_only && route.source != best.source {
                continue;
            }
            let is_best = loc_rib && route.source == best.source;
            let peers = if loc_rib {
                rib.restricted_peers(route.source, route.prefix).to_vec()
            } else {
                Vec::new()
            };
            paths.push(ListedPath {
                source: resolve(route.source),
                peers,
                route,
                best: is_best,
                rejected: false,
            });
        }
    }
    Ok(Page { paths, next: None })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::Ipv4Addr;

    use super::*;
    use crate::rib::LocalInfo;
    use crate::wire::PathAttributes;

    #[test]
    fn pages_list_every_path_once_and_end() {
        let mut rib = Rib::new(LocalInfo { asn: 65001, router_id: Ipv4Addr::new(192, 0, 2, 1) });
        let owners = HashMap::from([("lb".to_string(), OwnerId(1))]);
        let peers = HashMap::new();
        let total = 3 * PAGE_PATHS as u32 + 7;
        for index in 0..total {
            let net = ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + index), 32).expect("valid");
            let attributes = PathAttributes::default();
            rib.originate(Source::Api(OwnerId(1)), ipnet::IpNet::V4(net), attributes, None)
                .expect("originate");
        }
        let names = SourceNames { owners: &owners, peers: &peers };
        let query = PathQuery {
            table: TableSelector::LocRib,
            family: None,
            prefix: None,
            owner: Some("lb".to_string()),
            best_only: false,
        };
        let mut seen = HashSet::new();
        let mut from = ListCursor::default();
        let mut pages = 0;
        loop {
            let page = list_page(&rib, &names, &query, from).expect("page");
            assert!(page.paths.len() <= PAGE_PATHS);
            for path in page.paths {
                assert_eq!(path.source, PathSource::Owner("lb".to_string()));
                assert!(seen.insert(path.route.prefix), "listed twice");
            }
            pages += 1;
            match page.next {
                Some(next) => from = next,
                None => break,
            }
        }
        assert_eq!(seen.len(), total as usize);
        assert!(pages >= 4);
    }
}
