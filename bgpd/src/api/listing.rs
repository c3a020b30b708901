//! `ListPaths` inside the instance: walk the table a [`PathQuery`] selects and
//! keep the matching routes, each with where it came from in API terms (owner
//! name, peer address or the config file).
//!
//! The answer is collected before it is streamed, so a listing of the whole
//! Loc-RIB costs one `Route` (a prefix, an `Arc` and a next hop) per path
//! while it is in flight. Fine for operators and tests; a paged walk is the
//! way to list a million routes without that.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::api::requests::{PathQuery, PrefixMatch, TableSelector};
use crate::rib::{OwnerId, PeerId, Rib, Route, Source};
use crate::wire::Family;

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
}

/// Why a query cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("peer {0} is not a configured peer")]
    UnknownPeer(IpAddr),
    #[error("listing the Adj-RIB-Out is not supported yet")]
    AdjRibOutUnsupported,
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
                &PathQuery {
                    family: Some(crate::api::validate::family_of(&prefix)),
                    ..query.clone()
                },
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
                            route,
                            best: is_best,
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
                    listed.push(ListedPath { source: resolve(route.source), route, best: false });
                }
            }
        }
        TableSelector::AdjRibOut(_) => return Err(ListError::AdjRibOutUnsupported),
    }
    Ok(listed)
}
