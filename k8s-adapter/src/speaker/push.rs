//! Sending a new path set to bgpd at the cost of what changed, and the one place the
//! speaker's typed paths ([`super::bgpd::Path`]) become the API's `Path` messages.
//!
//! The first set of a connection goes with `SetPaths` (declarative: whatever bgpd held for
//! the owner and is not in it is withdrawn). After that, bgpd holds exactly the set we
//! last sent, so a new set is sent as its difference: `AddPaths` for paths new or changed,
//! `DeletePaths` for prefixes gone. bgpd then validates and applies only those, instead of
//! the whole set (1,000 Services: one path instead of 1,000 per change).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ipnet::IpNet;
use ironlb_proto::bgpd::v1 as proto;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use ironlb_proto::bgpd::v1::{
    AddPathsRequest, DeletePathsRequest, PathOutcome, PathResult, SetPathsRequest,
};
use tonic::Status;
use tonic::transport::Channel;

use super::bgpd::Path;
use crate::config::BgpCommunity;

/// What changed from `old` to `new`, keyed by prefix: paths to add or replace (in `new`'s
/// order), prefixes to withdraw (in `old`'s order).
pub fn difference<'a>(old: &[Arc<Path>], new: &'a [Arc<Path>]) -> (Vec<&'a Path>, Vec<IpNet>) {
    let before: HashMap<IpNet, &Arc<Path>> = old.iter().map(|p| (p.prefix, p)).collect();
    // Unchanged paths are the same allocation in both sets: a pointer comparison.
    let same = |a: &Arc<Path>, b: &Arc<Path>| Arc::ptr_eq(a, b) || a == b;
    let upserts: Vec<&Path> = new
        .iter()
        .filter(|p| !before.get(&p.prefix).is_some_and(|old| same(old, p)))
        .map(|p| &**p)
        .collect();
    let now: HashSet<IpNet> = new.iter().map(|p| p.prefix).collect();
    let withdrawn: Vec<IpNet> =
        old.iter().filter(|p| !now.contains(&p.prefix)).map(|p| p.prefix).collect();
    (upserts, withdrawn)
}

/// Whether two path sets are equal; pointer comparisons for the paths they share.
pub fn same_set(a: &[Arc<Path>], b: &[Arc<Path>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y) || x == y)
}

/// The API's message for a path: communities as text (standard ones `high:low`, large ones
/// `a:b:c`, each kind in the order of the attribute set), peers by their text address in
/// text order, as bgpd names them.
pub fn to_proto(path: &Path) -> proto::Path {
    let mut communities = Vec::new();
    let mut large = Vec::new();
    for c in &path.attributes.communities {
        match c {
            BgpCommunity::Standard(v) => communities.push(format!("{}:{}", v >> 16, v & 0xffff)),
            BgpCommunity::Large(a, b, c) => large.push(format!("{a}:{b}:{c}")),
        }
    }
    let mut peers: Vec<String> = path.peers.iter().map(ToString::to_string).collect();
    peers.sort_unstable();
    proto::Path {
        prefix: path.prefix.to_string(),
        next_hop: path.attributes.next_hop.map(|a| a.to_string()).unwrap_or_default(),
        local_pref: path.attributes.local_pref,
        communities,
        large_communities: large,
        peers,
        ..proto::Path::default()
    }
}

/// One half of bringing an owner's paths in bgpd from `applied` (what it holds, when known)
/// to `paths`. The speaker sends every owner's [`Phase::Upserts`] before any owner's
/// [`Phase::Withdrawals`], so that a peer whose path moves from one owner to another (its
/// attributes now differ from the other peers', or agree again) holds both for a moment
/// rather than neither. A path bgpd refuses comes back as `INVALID_ARGUMENT` (or its own
/// code) with bgpd's message, as `SetPaths` would refuse the whole set.
pub async fn push(
    client: &mut BgpServiceClient<Channel>,
    owner: &str,
    grace_time_seconds: u32,
    applied: Option<&[Arc<Path>]>,
    paths: &[Arc<Path>],
    phase: Phase,
) -> Result<(), Status> {
    let Some(applied) = applied else {
        if phase == Phase::Withdrawals {
            // SetPaths withdrew what the set does not hold.
            return Ok(());
        }
        let request = SetPathsRequest {
            owner: owner.to_owned(),
            paths: paths.iter().map(|p| to_proto(p)).collect(),
            grace_time_seconds: Some(grace_time_seconds),
        };
        let r = client.set_paths(request).await?.into_inner();
        tracing::debug!(
            owner,
            added = r.added.len(),
            changed = r.changed.len(),
            withdrawn = r.withdrawn.len(),
            "SetPaths"
        );
        return Ok(());
    };
    let (upserts, withdrawn) = difference(applied, paths);
    match phase {
        Phase::Upserts if !upserts.is_empty() => {
            let added = upserts.len();
            let paths = upserts.into_iter().map(to_proto).collect();
            let request = AddPathsRequest { owner: owner.to_owned(), paths };
            refused(&client.add_paths(request).await?.into_inner().results)?;
            tracing::debug!(owner, added, "paths pushed");
        }
        Phase::Withdrawals if !withdrawn.is_empty() => {
            let removed = withdrawn.len();
            let prefixes = withdrawn.iter().map(ToString::to_string).collect();
            let request = DeletePathsRequest { owner: owner.to_owned(), prefixes };
            refused(&client.delete_paths(request).await?.into_inner().results)?;
            tracing::debug!(owner, removed, "paths withdrawn");
        }
        Phase::Upserts | Phase::Withdrawals => {}
    }
    Ok(())
}

/// Which half of [`push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// New and changed paths (or, for a set bgpd's contents are unknown, `SetPaths`).
    Upserts,
    /// Prefixes no longer in the set.
    Withdrawals,
}

/// The first rejected result as a status.
fn refused(results: &[PathResult]) -> Result<(), Status> {
    match results.iter().find(|r| r.outcome == PathOutcome::Rejected as i32) {
        None => Ok(()),
        Some(r) => {
            Err(Status::new(tonic::Code::from_i32(r.code), format!("{}: {}", r.prefix, r.message)))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::PeerKey;
    use std::collections::BTreeSet;
    use std::net::IpAddr;

    use super::*;
    use crate::speaker::PathAttributes;

    fn path(prefix: &str, local_pref: Option<u32>) -> Arc<Path> {
        Arc::new(Path {
            prefix: prefix.parse().unwrap(),
            attributes: PathAttributes { local_pref, ..PathAttributes::default() },
            peers: BTreeSet::new(),
        })
    }

    #[test]
    fn the_difference_is_new_changed_and_gone() {
        let old = [path("198.51.100.1/32", None), path("198.51.100.2/32", None)];
        let new = [path("198.51.100.2/32", Some(200)), path("198.51.100.3/32", None)];
        let (upserts, withdrawn) = difference(&old, &new);
        assert_eq!(upserts, new.iter().map(|p| &**p).collect::<Vec<_>>());
        assert_eq!(withdrawn, ["198.51.100.1/32".parse::<IpNet>().unwrap()]);
        let (upserts, withdrawn) = difference(&new, &new);
        assert!(upserts.is_empty() && withdrawn.is_empty());
    }

    #[test]
    fn the_message_names_communities_and_peers_as_text() {
        let ip = |s: &str| PeerKey::Address(s.parse::<IpAddr>().unwrap());
        let path = Path {
            prefix: "198.51.100.0/24".parse().unwrap(),
            attributes: PathAttributes {
                local_pref: Some(300),
                communities: BTreeSet::from([
                    BgpCommunity::Standard(2),
                    BgpCommunity::Standard((65000 << 16) | 100),
                    BgpCommunity::Large(64500, 1, 2),
                ]),
                next_hop: None,
            },
            // Text order differs from address order: bgpd gets them in text order.
            peers: BTreeSet::from([ip("192.0.2.9"), ip("192.0.2.10"), ip("2001:db8::1")]),
        };
        let message = to_proto(&path);
        assert_eq!(message.prefix, "198.51.100.0/24");
        assert_eq!(message.local_pref, Some(300));
        assert_eq!(message.communities, ["0:2", "65000:100"]);
        assert_eq!(message.large_communities, ["64500:1:2"]);
        assert_eq!(message.peers, ["192.0.2.10", "192.0.2.9", "2001:db8::1"]);
        assert_eq!(message.next_hop, "");
    }
}
