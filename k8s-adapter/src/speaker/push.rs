//! Sending a new path set to bgpd at the cost of what changed.
//!
//! The first set of a connection goes with `SetPaths` (declarative: whatever bgpd held for
//! our owner and is not in it is withdrawn). After that, bgpd holds exactly the set we
//! last sent, so a new set is sent as its difference: `AddPaths` for paths new or changed,
//! `DeletePaths` for prefixes gone. bgpd then validates and applies only those, instead of
//! the whole set (1,000 Services: one path instead of 1,000 per change).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use ironlb_proto::bgpd::v1::{
    AddPathsRequest, DeletePathsRequest, Path, PathOutcome, PathResult, SetPathsRequest,
};
use tonic::Status;
use tonic::transport::Channel;

/// What changed from `old` to `new`: paths to add or replace, prefixes to withdraw.
pub fn difference(old: &[Arc<Path>], new: &[Arc<Path>]) -> (Vec<Path>, Vec<String>) {
    let before: HashMap<&str, &Arc<Path>> = old.iter().map(|p| (p.prefix.as_str(), p)).collect();
    // Unchanged paths are the same allocation in both sets: a pointer comparison.
    let same = |a: &Arc<Path>, b: &Arc<Path>| Arc::ptr_eq(a, b) || a == b;
    let upserts: Vec<Path> = new
        .iter()
        .filter(|p| !before.get(p.prefix.as_str()).is_some_and(|old| same(old, p)))
        .map(|p| Path::clone(p))
        .collect();
    let now: HashSet<&str> = new.iter().map(|p| p.prefix.as_str()).collect();
    let withdrawn: Vec<String> =
        old.iter().filter(|p| !now.contains(p.prefix.as_str())).map(|p| p.prefix.clone()).collect();
    (upserts, withdrawn)
}

/// Whether two path sets are equal; pointer comparisons for the paths they share.
pub fn same_set(a: &[Arc<Path>], b: &[Arc<Path>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y) || x == y)
}

/// Brings our owner's paths in bgpd from `applied` (what it holds, when known) to `paths`.
/// A path bgpd refuses comes back as `INVALID_ARGUMENT` (or its own code) with bgpd's
/// message, as `SetPaths` would refuse the whole set.
pub async fn push(
    client: &mut BgpServiceClient<Channel>,
    owner: &str,
    grace_time_seconds: u32,
    applied: Option<&[Arc<Path>]>,
    paths: &[Arc<Path>],
) -> Result<(), Status> {
    let Some(applied) = applied else {
        let request = SetPathsRequest {
            owner: owner.to_owned(),
            paths: paths.iter().map(|p| Path::clone(p)).collect(),
            grace_time_seconds: Some(grace_time_seconds),
        };
        let r = client.set_paths(request).await?.into_inner();
        tracing::debug!(
            added = r.added.len(),
            changed = r.changed.len(),
            withdrawn = r.withdrawn.len(),
            "SetPaths"
        );
        return Ok(());
    };
    let (upserts, withdrawn) = difference(applied, paths);
    let (added, removed) = (upserts.len(), withdrawn.len());
    if !withdrawn.is_empty() {
        let request = DeletePathsRequest { owner: owner.to_owned(), prefixes: withdrawn };
        refused(&client.delete_paths(request).await?.into_inner().results)?;
    }
    if !upserts.is_empty() {
        let request = AddPathsRequest { owner: owner.to_owned(), paths: upserts };
        refused(&client.add_paths(request).await?.into_inner().results)?;
    }
    tracing::debug!(added, removed, "paths pushed");
    Ok(())
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
    use super::*;

    fn path(prefix: &str, local_pref: Option<u32>) -> Arc<Path> {
        Arc::new(Path { prefix: prefix.into(), local_pref, ..Path::default() })
    }

    #[test]
    fn the_difference_is_new_changed_and_gone() {
        let old = [path("198.51.100.1/32", None), path("198.51.100.2/32", None)];
        let new = [path("198.51.100.2/32", Some(200)), path("198.51.100.3/32", None)];
        let (upserts, withdrawn) = difference(&old, &new);
        assert_eq!(upserts, new.iter().map(|p| Path::clone(p)).collect::<Vec<_>>());
        assert_eq!(withdrawn, ["198.51.100.1/32"]);
        let (upserts, withdrawn) = difference(&new, &new);
        assert!(upserts.is_empty() && withdrawn.is_empty());
    }
}
