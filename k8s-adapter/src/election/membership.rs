//! Membership by Leases (`coordination.k8s.io/v1`): each speaker keeps a Lease of its own,
//! `ironlb-speaker-<node>` in the adapter's namespace; a node is alive while its
//! `renewTime + leaseDurationSeconds` is in the future. The Lease set is the source of truth
//! for who is alive: the failover's faster signal only ever removes nodes from it for a
//! while ([`super::failover`]).
//!
//! Why one Lease per node, not one per address (as MetalLB's and Cilium's leader election
//! do): writes grow with nodes, not with addresses, and the election needs no write at all
//! (every speaker computes it, [`super::order`]). The defaults write once per
//! [`LeaseTiming::renew_every`] (5 s) per node, 0.2 writes/s, well under the one write per
//! second per node we allow; [`LeaseKeeper`] enforces that bound even for the extra writes
//! (fallback changes, retries).
//!
//! A clean stop deletes the Lease first ([`LeaseKeeper::stop`]): every speaker's watch sees
//! the deletion and re-elects at once, without waiting for expiry.
//!
//! Time here is wall-clock (`renewTime` is), passed in; nothing reads a clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use thiserror::Error;

/// Our Leases' names are this plus the node name.
pub const LEASE_PREFIX: &str = "ironlb-speaker-";
/// Label on our Leases, for a label-selected watch (value [`LEASE_LABEL_VALUE`]).
pub const LEASE_LABEL: &str = "app.kubernetes.io/component";
pub const LEASE_LABEL_VALUE: &str = "ironlb-speaker-lease";
/// Annotation listing, comma-separated, the fallback pools whose layer2 election the node
/// joined ([`super::fallback`]).
pub const FALLBACK_ANNOTATION: &str = "ironlb.io/layer2-fallback";
/// Never write our Lease more often than this (the API-server budget per node).
pub const MIN_WRITE_GAP: Duration = Duration::from_secs(1);

/// Longest object name Kubernetes accepts (DNS subdomain).
const MAX_NAME: usize = 253;

/// Lease timing knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// `leaseDurationSeconds`: how long a crashed node whose heartbeats nobody hears
    /// (e.g. no candidate shares its segment) keeps its addresses. Whole seconds.
    pub duration: Duration,
    /// How often the Lease is renewed. At most [`MIN_WRITE_GAP`]⁻¹ writes per second.
    pub renew_every: Duration,
}

impl Default for LeaseTiming {
    /// 15 s / 5 s: three renewals per duration ride out an API server hiccup of 10 s
    /// without losing membership; 0.2 writes/s per node (100/s for 500 nodes, the same
    /// order as kubelet's node Leases). Crash failover does not wait for this: heartbeats
    /// detect a silent announcer in a dead interval.
    fn default() -> Self {
        Self { duration: Duration::from_secs(15), renew_every: Duration::from_secs(5) }
    }
}

/// Timing knobs that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TimingError {
    #[error("lease renew period {0:?} is under {MIN_WRITE_GAP:?}: more than one write per second")]
    RenewTooFrequent(Duration),
    #[error("lease duration {0:?} is not a whole number of seconds from 1 to 2^31-1")]
    DurationNotSeconds(Duration),
    #[error("lease duration {duration:?} is under twice the renew period {renew_every:?}")]
    DurationTooShort { duration: Duration, renew_every: Duration },
}

impl LeaseTiming {
    pub fn validate(&self) -> Result<(), TimingError> {
        if self.renew_every < MIN_WRITE_GAP {
            return Err(TimingError::RenewTooFrequent(self.renew_every));
        }
        if self.duration.subsec_nanos() != 0 || self.seconds().is_none() {
            return Err(TimingError::DurationNotSeconds(self.duration));
        }
        if self.duration < self.renew_every * 2 {
            return Err(TimingError::DurationTooShort {
                duration: self.duration,
                renew_every: self.renew_every,
            });
        }
        Ok(())
    }

    fn seconds(&self) -> Option<i32> {
        i32::try_from(self.duration.as_secs()).ok().filter(|s| *s > 0)
    }
}

/// The name of `node`'s Lease. Node names longer than a Lease name allows (they may reach
/// 253 characters, the prefix makes 268) are cut; the holder identity still carries the
/// whole name, and it is what [`LeaseView`] reads.
pub fn lease_name(node: &str) -> String {
    let mut name = format!("{LEASE_PREFIX}{node}");
    if name.len() > MAX_NAME {
        let mut cut = MAX_NAME;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
        // A name must end alphanumeric.
        while name.ends_with(['-', '.']) {
            name.pop();
        }
    }
    name
}

/// Our Lease's spec: holder `node`, acquired at `acquired`, renewed `now`.
pub fn lease_spec(
    node: &str,
    timing: &LeaseTiming,
    acquired: Timestamp,
    now: Timestamp,
) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(node.to_owned()),
        lease_duration_seconds: timing.seconds(),
        acquire_time: Some(MicroTime(acquired)),
        renew_time: Some(MicroTime(now)),
        ..LeaseSpec::default()
    }
}

/// The whole Lease object to create or replace (server-side apply).
pub fn lease(
    node: &str,
    namespace: &str,
    spec: LeaseSpec,
    fallback_pools: &BTreeSet<String>,
) -> Lease {
    let annotations = (!fallback_pools.is_empty()).then(|| {
        let joined: Vec<&str> = fallback_pools.iter().map(String::as_str).collect();
        [(FALLBACK_ANNOTATION.to_owned(), joined.join(","))].into()
    });
    Lease {
        metadata: ObjectMeta {
            name: Some(lease_name(node)),
            namespace: Some(namespace.to_owned()),
            labels: Some([(LEASE_LABEL.to_owned(), LEASE_LABEL_VALUE.to_owned())].into()),
            annotations,
            ..ObjectMeta::default()
        },
        spec: Some(spec),
    }
}

/// A Lease's renew time in microseconds since the epoch: identical for every observer, so
/// the failover uses it to tag suspicions ("suspected as of this renewal").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LeaseStamp(pub i64);

/// A Lease that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LeaseError {
    #[error("lease {lease:?} has no holderIdentity")]
    NoHolder { lease: String },
    #[error("lease {lease:?} has neither renewTime nor acquireTime")]
    NoRenewTime { lease: String },
    #[error("lease {lease:?} has leaseDurationSeconds {seconds:?}, not a positive number")]
    BadDuration { lease: String, seconds: Option<i32> },
}

/// What membership needs of one speaker Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseView {
    /// The holder identity: the node name.
    pub node: String,
    pub renewed: LeaseStamp,
    /// Alive until this (microseconds since the epoch, exclusive).
    pub expires: LeaseStamp,
    pub fallback_pools: BTreeSet<String>,
}

impl LeaseView {
    pub fn from_lease(lease: &Lease) -> Result<Self, LeaseError> {
        let name = lease.metadata.name.clone().unwrap_or_default();
        let spec = lease.spec.as_ref();
        let node = spec
            .and_then(|s| s.holder_identity.clone())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| LeaseError::NoHolder { lease: name.clone() })?;
        let renewed = spec
            .and_then(|s| s.renew_time.as_ref().or(s.acquire_time.as_ref()))
            .map(|t| t.0.as_microsecond())
            .ok_or_else(|| LeaseError::NoRenewTime { lease: name.clone() })?;
        let seconds = spec.and_then(|s| s.lease_duration_seconds);
        let secs =
            seconds.filter(|s| *s > 0).ok_or(LeaseError::BadDuration { lease: name, seconds })?;
        let fallback_pools = lease
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(FALLBACK_ANNOTATION))
            .map(|v| {
                v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
            })
            .unwrap_or_default();
        Ok(Self {
            node,
            renewed: LeaseStamp(renewed),
            expires: LeaseStamp(renewed.saturating_add(i64::from(secs) * 1_000_000)),
            fallback_pools,
        })
    }

    pub fn alive_at(&self, now: Timestamp) -> bool {
        now.as_microsecond() < self.expires.0
    }
}

/// The nodes whose Lease is alive at `now`.
pub fn live_nodes<'a>(
    leases: impl IntoIterator<Item = &'a LeaseView>,
    now: Timestamp,
) -> BTreeSet<String> {
    leases.into_iter().filter(|l| l.alive_at(now)).map(|l| l.node.clone()).collect()
}

/// The membership at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Live nodes with their latest renewal.
    pub live: BTreeMap<String, LeaseStamp>,
    /// Live nodes' joined fallback pools (only nodes that joined some).
    pub fallback: BTreeMap<String, BTreeSet<String>>,
    /// When the next live Lease expires: evaluate again then (no polling).
    pub next_deadline: Option<Timestamp>,
}

/// The speaker Leases seen by the watch, by Lease name.
#[derive(Debug, Clone, Default)]
pub struct MembershipTracker {
    leases: BTreeMap<String, LeaseView>,
}

impl MembershipTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A Lease added or changed. An unreadable one is refused and the previous view of it,
    /// if any, kept: it expires on its own.
    pub fn apply(&mut self, lease: &Lease) -> Result<(), LeaseError> {
        let view = LeaseView::from_lease(lease)?;
        self.leases.insert(lease.metadata.name.clone().unwrap_or_default(), view);
        Ok(())
    }

    /// A Lease deleted (a clean stop): the node leaves at once.
    pub fn remove(&mut self, lease_name: &str) {
        self.leases.remove(lease_name);
    }

    /// Who is alive at `now`. A node with several live Leases (a stray copy) takes the
    /// latest renewal.
    pub fn evaluate(&self, now: Timestamp) -> Membership {
        let mut out = Membership::default();
        let mut deadline: Option<i64> = None;
        for view in self.leases.values().filter(|l| l.alive_at(now)) {
            let stamp = out.live.entry(view.node.clone()).or_insert(view.renewed);
            if view.renewed >= *stamp {
                *stamp = view.renewed;
                if view.fallback_pools.is_empty() {
                    out.fallback.remove(&view.node);
                } else {
                    out.fallback.insert(view.node.clone(), view.fallback_pools.clone());
                }
            }
            deadline = Some(deadline.map_or(view.expires.0, |d| d.min(view.expires.0)));
        }
        out.next_deadline =
            deadline.map(|d| Timestamp::from_microsecond(d).unwrap_or(Timestamp::MAX));
        out
    }
}

/// What the runtime does to our own Lease.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseAction {
    /// Create or replace (server-side apply) this Lease.
    Apply(Box<Lease>),
    /// Delete our Lease (clean stop): do it before withdrawing anything.
    Delete { namespace: String, name: String },
}

/// Keeps this node's Lease: renews every `renew_every`, writes sooner when the fallback
/// pools change or on request ([`LeaseKeeper::renew_soon`]), never more often than
/// [`MIN_WRITE_GAP`].
#[derive(Debug, Clone)]
pub struct LeaseKeeper {
    node: String,
    namespace: String,
    timing: LeaseTiming,
    acquired: Option<Timestamp>,
    last_write: Option<Timestamp>,
    fallback: BTreeSet<String>,
    urgent: bool,
    stopped: bool,
}

impl LeaseKeeper {
    pub fn new(node: &str, namespace: &str, timing: LeaseTiming) -> Result<Self, TimingError> {
        timing.validate()?;
        Ok(Self {
            node: node.to_owned(),
            namespace: namespace.to_owned(),
            timing,
            acquired: None,
            last_write: None,
            fallback: BTreeSet::new(),
            urgent: true,
            stopped: false,
        })
    }

    /// The fallback pools this node joined; a change is written at the next
    /// [`Self::poll`] the write budget allows (call it after this).
    pub fn set_fallback(&mut self, pools: BTreeSet<String>) {
        if pools != self.fallback {
            self.fallback = pools;
            self.urgent = true;
        }
    }

    /// Renew as soon as the write budget allows (e.g. when this node sees its own Lease
    /// close to expiry after API trouble). Call [`Self::poll`] after it.
    pub fn renew_soon(&mut self) {
        self.urgent = true;
    }

    /// The last write failed: retry as soon as the budget allows.
    pub fn write_failed(&mut self) {
        self.urgent = true;
    }

    /// The write due at `now`, if any, and when to poll next.
    pub fn poll(&mut self, now: Timestamp) -> (Option<LeaseAction>, Option<Timestamp>) {
        if self.stopped {
            return (None, None);
        }
        let last = self.last_write;
        let gap = |d: Duration| {
            let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
            last.map_or(i64::MIN, |t| t.as_microsecond().saturating_add(micros))
        };
        let due = if self.urgent { gap(MIN_WRITE_GAP) } else { gap(self.timing.renew_every) };
        if now.as_microsecond() < due {
            return (None, Timestamp::from_microsecond(due).ok());
        }
        let acquired = *self.acquired.get_or_insert(now);
        self.last_write = Some(now);
        self.urgent = false;
        let spec = lease_spec(&self.node, &self.timing, acquired, now);
        let lease = lease(&self.node, &self.namespace, spec, &self.fallback);
        let next = now
            .as_microsecond()
            .saturating_add(i64::try_from(self.timing.renew_every.as_micros()).unwrap_or(i64::MAX));
        (Some(LeaseAction::Apply(Box::new(lease))), Timestamp::from_microsecond(next).ok())
    }

    /// Clean stop: delete the Lease first; nothing is written after.
    pub fn stop(&mut self) -> LeaseAction {
        self.stopped = true;
        LeaseAction::Delete { namespace: self.namespace.clone(), name: lease_name(&self.node) }
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
