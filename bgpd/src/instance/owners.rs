//! Owner bookkeeping: which API client holds which paths, what `SetPaths`
//! changes, and how long paths outlive their owner's lease. The lease protocol
//! is described in the `.proto` at `SessionRequest`; graceful restart's
//! deferral (RFC 4724 §4.1: hold End-of-RIB until the routes are back) is the
//! "re-sync" below.
//!
//! Sans-IO: the instance calls these methods with the current time and acts on
//! what they return (announce, withdraw, arm a timer at [`Owners::next_deadline`]).
//! Nothing here reads a clock, sleeps or talks to the RIB.
//!
//! Life of an owner:
//!
//! ```text
//!   set_paths / add_paths (no session)          attach
//!          │                                       │
//!          ▼            attach                     ▼
//!      Unleased ─────────────────────────────► Attached ◄──────────┐
//!                                                  │ detach         │ attach before the
//!                                                  ▼                │ deadline: reclaimed,
//!                                     Detached { deadline } ────────┘ nothing withdrawn
//!                                                  │ expire(now ≥ deadline)
//!                                                  ▼
//!                                      every path withdrawn, owner forgotten
//! ```
//!
//! Re-sync: after the daemon restarts with graceful restart, the owners it
//! expects are marked [`Owners::require_resync`]. Until such an owner's first
//! `set_paths` (or the re-sync deadline), its paths are *held*: stored but not
//! announced, and batch operations on it report `held`. The GR logic sends
//! End-of-RIB once [`Owners::resync_pending`] is false.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::wire::{Family, NextHop, PathAttributes};

/// Grace time of an owner that never asked for one (the `.proto` documents it).
pub const DEFAULT_GRACE_TIME: Duration = Duration::from_secs(120);

/// A path an owner holds: checked and typed by the API before it gets here.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ValidatedPath {
    /// Implied by `prefix`, kept for keying and filtering.
    pub family: Family,
    /// Host bits are zero.
    pub prefix: IpNet,
    /// `None`: next hop self (our local address on each session). Of the
    /// prefix's family.
    pub next_hop: Option<NextHop>,
    /// `attributes.next_hop` stays `None`: the next hop is `next_hop` above,
    /// for both families, and the encoder places it. Shared: the paths of a
    /// batch usually carry the same attributes, and an owner holds each of its
    /// paths for as long as it lives, so one copy per set, not per path.
    pub attributes: Arc<PathAttributes>,
    /// Peers to announce to (by address, or by interface for peers over
    /// one), sorted, without duplicates; empty: every peer.
    pub peers: Vec<crate::rib::PeerKey>,
}

impl ValidatedPath {
    /// The key under which an owner holds this path.
    pub fn key(&self) -> (Family, IpNet) {
        (self.family, self.prefix)
    }
}

/// A checked `SetPaths`: the owner's whole set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetPathsCommand {
    pub owner: String,
    /// At most one path per prefix.
    pub paths: Vec<ValidatedPath>,
    /// `None`: keep the owner's current grace time.
    pub grace_time: Option<Duration>,
}

/// The key of a path within one owner.
pub type PathKey = (Family, IpNet);

/// One `Session` stream of an owner. A newer session of the same owner takes
/// over; the id lets a late `detach` from the older stream be ignored.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// An owner's lease state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Lease {
    /// Never opened a session: its paths have no lease and stay until deleted.
    Unleased,
    /// Holds this session.
    Attached(SessionId),
    /// Its session lapsed; its paths are withdrawn at `deadline`.
    Detached { deadline: Instant },
}

/// What [`Owners::attach`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    pub session: SessionId,
    /// The owner was detached and took its paths back.
    pub reclaimed: bool,
    /// Paths held for the owner now.
    pub path_count: usize,
    pub resync_required: bool,
    /// The grace time in force.
    pub grace_time: Duration,
    /// The layer2 grace time in force (`None`: the same as `grace_time`).
    pub layer2_grace_time: Option<Duration>,
    /// The older session this one took over: the driver ends its stream.
    pub replaced: Option<SessionId>,
}

/// The difference one `set_paths` applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// Paths for prefixes the owner did not hold, in prefix order.
    pub added: Vec<ValidatedPath>,
    /// New versions of paths whose next hop, attributes or peers changed.
    pub changed: Vec<ValidatedPath>,
    /// Prefixes the owner no longer holds.
    pub withdrawn: Vec<PathKey>,
}

impl Diff {
    /// Nothing to send.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.withdrawn.is_empty()
    }
}

/// What `add_paths` did with one path.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    Changed,
    Unchanged,
}

/// What `delete_paths` did with one prefix.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Withdrawn,
    NotFound,
}

/// Per-item outcomes of a batch, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch<T> {
    pub outcomes: Vec<T>,
    /// The owner awaits re-sync: nothing of this may be announced yet.
    pub held: bool,
}

/// A path to withdraw from the RIB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdrawal {
    pub owner: String,
    pub key: PathKey,
}

/// What [`Owners::expire`] decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expiry {
    /// Paths of owners whose grace ran out.
    pub withdrawn: Vec<Withdrawal>,
    /// Owners forgotten (grace ran out).
    pub expired: Vec<String>,
    /// The re-sync wait ended: these held paths may now be announced.
    pub released: Vec<(String, ValidatedPath)>,
    /// Owners still within their grace time whose layer2 grace ran out: their
    /// layer2 announcements go, their paths stay.
    pub layer2_dropped: Vec<String>,
}

/// A read-only view of one owner (ListOwners).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerView<'a> {
    pub name: &'a str,
    pub lease: Lease,
    pub path_count: usize,
    pub grace_time: Duration,
    pub resync_required: bool,
}

/// An owner as ListOwners reports it, owned so that it can leave the
/// instance task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerSummary {
    pub name: String,
    pub lease: Lease,
    pub path_count: usize,
    pub grace_time: Duration,
    pub resync_required: bool,
}

impl From<&OwnerView<'_>> for OwnerSummary {
    fn from(view: &OwnerView<'_>) -> Self {
        Self {
            name: view.name.to_string(),
            lease: view.lease,
            path_count: view.path_count,
            grace_time: view.grace_time,
            resync_required: view.resync_required,
        }
    }
}

#[derive(Debug)]
struct Owner {
    paths: BTreeMap<PathKey, ValidatedPath>,
    grace_time: Duration,
    /// How long layer2 announcements outlive a lapse; `None`: as long as the
    /// paths (an owner attached without saying, through [`Owners::attach`]).
    layer2_grace: Option<Duration>,
    /// While detached: when the layer2 announcements go, if before `deadline`;
    /// taken when it passes.
    layer2_deadline: Option<Instant>,
    lease: Lease,
    resync_required: bool,
}

impl Owner {
    fn new() -> Self {
        Self {
            paths: BTreeMap::new(),
            grace_time: DEFAULT_GRACE_TIME,
            layer2_grace: None,
            layer2_deadline: None,
            lease: Lease::Unleased,
            resync_required: false,
        }
    }

    /// An owner with nothing to remember: no paths, no lease, no re-sync.
    fn is_idle(&self) -> bool {
        self.paths.is_empty() && self.lease == Lease::Unleased && !self.resync_required
    }
}

/// Every owner and its paths.
#[derive(Debug, Default)]
pub struct Owners {
    owners: BTreeMap<String, Owner>,
    next_session: u64,
    resync_deadline: Option<Instant>,
}

impl Owners {
    pub fn new() -> Self {
        Self::default()
    }

    fn entry(&mut self, name: &str) -> &mut Owner {
        self.owners.entry(name.to_string()).or_insert_with(Owner::new)
    }

    fn forget_if_idle(&mut self, name: &str) {
        if self.owners.get(name).is_some_and(Owner::is_idle) {
            self.owners.remove(name);
        }
    }

    /// A `Session` opened for `name`: the owner is attached. A detached owner
    /// takes back whatever it still holds (its deadline is judged by
    /// [`Owners::expire`], which the driver calls when the deadline comes).
    pub fn attach(&mut self, name: &str, grace_time: Option<Duration>) -> Attached {
        self.next_session += 1;
        let session = SessionId(self.next_session);
        let owner = self.entry(name);
        let (reclaimed, replaced) = match owner.lease {
            Lease::Unleased => (false, None),
            Lease::Attached(old) => (false, Some(old)),
            Lease::Detached { .. } => (true, None),
        };
        owner.lease = Lease::Attached(session);
        owner.layer2_deadline = None;
        if let Some(grace_time) = grace_time {
            owner.grace_time = grace_time;
        }
        Attached {
            session,
            reclaimed,
            path_count: owner.paths.len(),
            resync_required: owner.resync_required,
            grace_time: owner.grace_time,
            layer2_grace_time: owner.layer2_grace,
            replaced,
        }
    }

    /// How long `name`'s layer2 announcements outlive a lapse of its session,
    /// separately from its paths (a `Session` open always says: 0 unless
    /// asked). An address answered by a gone speaker's daemon would be
    /// answered beside its new owner's, while a path kept for the grace time
    /// harms nobody. Unknown owners are ignored.
    pub fn set_layer2_grace(&mut self, name: &str, grace: Duration) {
        if let Some(owner) = self.owners.get_mut(name) {
            owner.layer2_grace = Some(grace);
        }
    }

    /// `session` of `name` lapsed at `now` (stream ended, keepalives stopped):
    /// the grace timer starts. Returns its deadline, or `None` if the session is
    /// not the owner's current one (it was taken over) and nothing changed.
    pub fn detach(&mut self, name: &str, session: SessionId, now: Instant) -> Option<Instant> {
        let owner = self.owners.get_mut(name)?;
        if owner.lease != Lease::Attached(session) {
            return None;
        }
        let deadline = now + owner.grace_time;
        owner.lease = Lease::Detached { deadline };
        owner.layer2_deadline =
            owner.layer2_grace.map(|grace| now + grace).filter(|at| *at < deadline);
        Some(deadline)
    }

    /// Replace the owner's whole set with `paths` and return the difference.
    /// `paths` hold at most one path per key (validation guarantees it; here
    /// a later duplicate wins). `grace_time`, when given, becomes the owner's.
    pub fn set_paths(
        &mut self,
        name: &str,
        paths: Vec<ValidatedPath>,
        grace_time: Option<Duration>,
    ) -> Diff {
        let owner = self.entry(name);
        if let Some(grace_time) = grace_time {
            owner.grace_time = grace_time;
        }
        let desired: BTreeMap<PathKey, ValidatedPath> =
            paths.into_iter().map(|path| (path.key(), path)).collect();
        let old = std::mem::replace(&mut owner.paths, desired);
        let mut diff = Diff::default();
        if owner.resync_required {
            // Nothing of the old set was announced: everything is new, nothing
            // needs withdrawing, and the owner is synced from now on.
            owner.resync_required = false;
            diff.added = owner.paths.values().cloned().collect();
        } else {
            for (key, path) in &owner.paths {
                match old.get(key) {
                    None => diff.added.push(path.clone()),
                    Some(held) if held != path => diff.changed.push(path.clone()),
                    Some(_) => {}
                }
            }
            diff.withdrawn = old.into_keys().filter(|key| !owner.paths.contains_key(key)).collect();
        }
        self.forget_if_idle(name);
        diff
    }

    /// Add or replace paths of `name`, one outcome per path in order.
    pub fn add_paths(&mut self, name: &str, paths: Vec<ValidatedPath>) -> Batch<AddOutcome> {
        let owner = self.entry(name);
        let outcomes = paths
            .into_iter()
            .map(|path| match owner.paths.entry(path.key()) {
                Entry::Vacant(vacant) => {
                    vacant.insert(path);
                    AddOutcome::Added
                }
                Entry::Occupied(held) if *held.get() == path => AddOutcome::Unchanged,
                Entry::Occupied(mut held) => {
                    held.insert(path);
                    AddOutcome::Changed
                }
            })
            .collect();
        let held = owner.resync_required;
        self.forget_if_idle(name);
        Batch { outcomes, held }
    }

    /// Withdraw paths of `name` by key, one outcome per key in order. An
    /// unknown owner holds nothing: every key is `NotFound`.
    pub fn delete_paths(&mut self, name: &str, keys: &[PathKey]) -> Batch<DeleteOutcome> {
        let Some(owner) = self.owners.get_mut(name) else {
            return Batch { outcomes: vec![DeleteOutcome::NotFound; keys.len()], held: false };
        };
        let outcomes = keys
            .iter()
            .map(|key| match owner.paths.remove(key) {
                Some(_) => DeleteOutcome::Withdrawn,
                None => DeleteOutcome::NotFound,
            })
            .collect();
        let held = owner.resync_required;
        self.forget_if_idle(name);
        Batch { outcomes, held }
    }

    /// After a graceful restart of the daemon: hold the paths of these owners
    /// back until each calls `set_paths`, or until `deadline`, whichever is
    /// first. Unknown owners are created, unleased and empty.
    pub fn require_resync<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
        deadline: Instant,
    ) {
        for name in names {
            self.entry(name).resync_required = true;
        }
        if self.owners.values().any(|owner| owner.resync_required) {
            self.resync_deadline = Some(deadline);
        }
    }

    /// Some owner has yet to re-sync: End-of-RIB must wait.
    pub fn resync_pending(&self) -> bool {
        self.owners.values().any(|owner| owner.resync_required)
    }

    /// Apply every deadline that is due at `now`: owners whose grace ran out
    /// lose their paths and are forgotten; if the re-sync wait is over, held
    /// paths are released for announcement.
    pub fn expire(&mut self, now: Instant) -> Expiry {
        let mut expiry = Expiry::default();
        let due: Vec<String> = self
            .owners
            .iter()
            .filter(
                |(_, owner)| matches!(owner.lease, Lease::Detached { deadline } if deadline <= now),
            )
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            let Some(owner) = self.owners.remove(&name) else { continue };
            // Held paths were never announced: nothing to withdraw.
            if !owner.resync_required {
                expiry.withdrawn.extend(
                    owner.paths.into_keys().map(|key| Withdrawal { owner: name.clone(), key }),
                );
            }
            expiry.expired.push(name);
        }
        for (name, owner) in &mut self.owners {
            if owner.layer2_deadline.is_some_and(|at| at <= now) {
                owner.layer2_deadline = None;
                expiry.layer2_dropped.push(name.clone());
            }
        }
        if self.resync_deadline.is_some_and(|deadline| deadline <= now) {
            self.resync_deadline = None;
            for (name, owner) in &mut self.owners {
                if owner.resync_required {
                    owner.resync_required = false;
                    expiry
                        .released
                        .extend(owner.paths.values().map(|path| (name.clone(), path.clone())));
                }
            }
            self.owners.retain(|_, owner| !owner.is_idle());
        }
        if !self.resync_pending() {
            self.resync_deadline = None;
        }
        expiry
    }

    /// The earliest instant at which [`Owners::expire`] has work: the driver
    /// arms its timer here. `None`: no timer needed.
    pub fn next_deadline(&self) -> Option<Instant> {
        let grace = self
            .owners
            .values()
            .filter_map(|owner| match owner.lease {
                Lease::Detached { deadline } => Some(owner.layer2_deadline.unwrap_or(deadline)),
                _ => None,
            })
            .min();
        let resync = self.resync_deadline.filter(|_| self.resync_pending());
        match (grace, resync) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// One owner.
    pub fn owner(&self, name: &str) -> Option<OwnerView<'_>> {
        self.owners.get_key_value(name).map(|(name, owner)| view(name, owner))
    }

    /// Every owner, by name.
    pub fn owners(&self) -> impl Iterator<Item = OwnerView<'_>> {
        self.owners.iter().map(|(name, owner)| view(name, owner))
    }

    /// The paths of one owner, by key (empty for an unknown owner).
    pub fn paths(&self, name: &str) -> impl Iterator<Item = &ValidatedPath> {
        self.owners.get(name).into_iter().flat_map(|owner| owner.paths.values())
    }

    /// Number of owners known.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}

fn view<'a>(name: &'a str, owner: &Owner) -> OwnerView<'a> {
    OwnerView {
        name,
        lease: owner.lease,
        path_count: owner.paths.len(),
        grace_time: owner.grace_time,
        resync_required: owner.resync_required,
    }
}

#[cfg(test)]
mod tests;
