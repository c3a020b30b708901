//! Address allocation for Services of type LoadBalancer, with MetalLB's semantics.
//!
//! Pure and free of Kubernetes types ([`request`] converts a `Service` into a [`Request`]):
//! the controller feeds it Services and pool changes, and writes the [`Assignment`]s it
//! returns into `status.loadBalancer.ingress`. It persists nothing: after a restart the
//! controller calls [`Allocator::restore`] with every Service's status first, then
//! [`Allocator::assign`] as usual.
//!
//! Rules, as MetalLB documents them:
//! - a Service gets one address per family it asks for (`ipFamilies`, `ipFamilyPolicy`);
//!   `PreferDualStack` falls back to its primary family when no pool has both;
//! - requested addresses (`spec.loadBalancerIP`, the `loadBalancerIPs` annotation) must lie
//!   in one pool that admits the Service; a requested pool (`address-pool` annotation) is the
//!   only one used; otherwise pools with `autoAssign` whose `serviceAllocation` admits the
//!   Service are tried, those with a `serviceAllocation` first (by priority, lower first,
//!   then by name), then the others by name;
//! - within a pool the lowest usable address wins (deterministic), skipping .0 and .255
//!   with `avoidBuggyIPs`; usable means free, or held by Services that it may share with:
//!   same sharing key, no (protocol, port) in common, and the same backends (all
//!   `externalTrafficPolicy: Cluster`, or all `Local` with the same selector);
//! - an existing assignment is kept while it stays valid; one whose address left its pool
//!   (or no longer matches what the Service asks for) is released and replaced.
//!
//! Cost: taken addresses are merged runs per family ([`intervals`]), so finding the lowest
//! free address is a map lookup, not a scan of the pool.

pub mod intervals;
pub mod request;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

use crate::config::address::{self, Family};
use crate::config::{Config, Labels, Pool};
use intervals::IntervalSet;

pub use request::{ClassPolicy, RequestError, status_addresses};

/// A Service's identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    pub namespace: String,
    pub name: String,
}

impl ServiceKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into() }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Transport protocol of a Service port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// One (protocol, port) a Service listens on; two Services sharing an address must not both
/// use one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortKey {
    pub protocol: Protocol,
    pub port: u16,
}

impl fmt::Display for PortKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:?}", self.port, self.protocol)
    }
}

/// Which families a Service wants addresses of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyPolicy {
    Single(Family),
    /// Both if some pool has both, else the primary one.
    PreferDual(Family),
    RequireDual(Family),
}

impl FamilyPolicy {
    fn primary(self) -> Family {
        match self {
            Self::Single(f) | Self::PreferDual(f) | Self::RequireDual(f) => f,
        }
    }

    /// Family lists to try, best first, primary family first in each.
    fn choices(self) -> &'static [&'static [Family]] {
        const V4: &[Family] = &[Family::V4];
        const V6: &[Family] = &[Family::V6];
        const V4V6: &[Family] = &[Family::V4, Family::V6];
        const V6V4: &[Family] = &[Family::V6, Family::V4];
        match self {
            Self::Single(Family::V4) => &[V4],
            Self::Single(Family::V6) => &[V6],
            Self::RequireDual(Family::V4) => &[V4V6],
            Self::RequireDual(Family::V6) => &[V6V4],
            Self::PreferDual(Family::V4) => &[V4V6, V4],
            Self::PreferDual(Family::V6) => &[V6V4, V6],
        }
    }
}

impl fmt::Display for FamilyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Single(fam) => write!(f, "{fam}"),
            Self::PreferDual(_) => f.write_str("IPv4 and IPv6 (preferred)"),
            Self::RequireDual(_) => f.write_str("IPv4 and IPv6"),
        }
    }
}

/// What a Service asks of the allocator, already read from the Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub key: ServiceKey,
    pub labels: Labels,
    /// Labels of the Service's Namespace, for `serviceAllocation.namespaceSelectors`.
    pub namespace_labels: Labels,
    pub families: FamilyPolicy,
    /// Requested addresses, at most one per family.
    pub addresses: Vec<IpAddr>,
    /// Requested pool.
    pub pool: Option<String>,
    pub sharing_key: Option<String>,
    pub ports: Vec<PortKey>,
    /// `None` for `externalTrafficPolicy: Cluster`; the pod selector for `Local`, which
    /// Services sharing an address must agree on.
    pub backend_key: Option<String>,
}

impl Request {
    /// A plain request: one IPv4 address, no preferences (for tests and simple callers).
    pub fn new(key: ServiceKey) -> Self {
        Self {
            key,
            labels: Labels::new(),
            namespace_labels: Labels::new(),
            families: FamilyPolicy::Single(Family::V4),
            addresses: Vec::new(),
            pool: None,
            sharing_key: None,
            ports: Vec::new(),
            backend_key: None,
        }
    }
}

/// The addresses a Service holds (primary family first) and the pool they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub addresses: Vec<IpAddr>,
    pub pool: String,
}

/// Why two Services may not share an address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShareRefusal {
    #[error("one of them has no sharing key")]
    NoSharingKey,
    #[error("sharing keys differ ({mine:?} vs {theirs:?})")]
    DifferentKeys { mine: String, theirs: String },
    #[error("both use port {0}")]
    PortClash(PortKey),
    #[error("their traffic policies or Local selectors differ")]
    Backends,
}

/// Why a Service got no address (or not the one it asked for).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AllocationError {
    #[error("no IPAddressPool named {0:?}")]
    UnknownPool(String),
    #[error("pool {pool:?} does not admit this Service (serviceAllocation)")]
    NotAdmitted { pool: String },
    #[error("{0} is not in any IPAddressPool")]
    NotInAnyPool(IpAddr),
    #[error("{address} is in pool {actual:?}, not in the requested pool {requested:?}")]
    NotInRequestedPool { address: IpAddr, actual: String, requested: String },
    #[error("requested addresses {first} and {second} are in different pools")]
    DifferentPools { first: IpAddr, second: IpAddr },
    #[error("{address} is in use by {holder}: {reason}")]
    InUse { address: IpAddr, holder: ServiceKey, reason: ShareRefusal },
    #[error("addresses {addresses:?} do not fit the Service's families ({wanted})")]
    FamilyMismatch { addresses: Vec<IpAddr>, wanted: FamilyPolicy },
    #[error("addresses {held:?} are not the requested {requested:?}")]
    NotRequested { held: Vec<IpAddr>, requested: Vec<IpAddr> },
    #[error("no pool that admits this Service offers {0}")]
    NoPool(FamilyPolicy),
    #[error("no free {0} address in the pools that admit this Service")]
    Exhausted(FamilyPolicy),
}

impl AllocationError {
    /// A short CamelCase reason for Events and the Service condition.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownPool(_) => "UnknownPool",
            Self::NotAdmitted { .. } => "PoolNotAllowed",
            Self::NotInAnyPool(_) | Self::NotInRequestedPool { .. } => "AddressNotInPool",
            Self::DifferentPools { .. } => "AddressesInDifferentPools",
            Self::InUse { .. } => "AddressInUse",
            Self::FamilyMismatch { .. } => "IPFamilyMismatch",
            Self::NotRequested { .. } => "RequestChanged",
            Self::NoPool(_) => "NoPool",
            Self::Exhausted(_) => "PoolExhausted",
        }
    }
}

#[derive(Debug, Clone)]
struct Holder {
    assignment: Assignment,
    sharing_key: Option<String>,
    backend_key: Option<String>,
    ports: Vec<PortKey>,
}

/// The allocator's state: pools and who holds which address.
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    /// Only the pools matter here; `Config` brings the address → pool index.
    pools: Config,
    holders: HashMap<ServiceKey, Holder>,
    /// Services using each taken address (more than one when shared).
    users: HashMap<IpAddr, Vec<ServiceKey>>,
    /// Taken addresses per family ([`Family::index`]).
    taken: [IntervalSet; 2],
    /// Taken addresses by the sharing key of their holders.
    shared: HashMap<String, BTreeSet<IpAddr>>,
}

/// A pool's addresses in use and in total, per family ([`Family::index`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    pub assigned: [u128; 2],
    /// Addresses the pool can hand out.
    pub total: [u128; 2],
}

impl PoolUsage {
    /// Addresses still free in `family`.
    pub fn available(&self, family: Family) -> u128 {
        let i = family.index();
        self.total[i].saturating_sub(self.assigned[i])
    }
}

/// How many IPv4 keys in `lo..=hi` end in .0 or .255.
fn buggy_in(lo: u128, hi: u128) -> u128 {
    // Keys k with k % 256 == r, for r in {0, 255}: those below hi + 1 minus those below lo.
    let below = |n: u128, r: u128| if n > r { (n - r - 1) / 256 + 1 } else { 0 };
    [0, 255].iter().map(|r| below(hi + 1, *r) - below(lo, *r)).sum()
}

fn is_buggy(family: Family, key: u128) -> bool {
    family == Family::V4 && matches!(key & 0xff, 0 | 0xff)
}

impl Allocator {
    /// An allocator over the pools of `config`.
    pub fn new(config: &Config) -> Self {
        let mut me = Self::default();
        me.set_pools(config);
        me
    }

    /// Replaces the pools. Returns the Services whose addresses are no longer in the pool
    /// they were assigned from (the pool is gone or shrank, or the address moved to another
    /// pool): the controller re-runs [`Allocator::assign`] for them, which moves them when
    /// they are no longer valid. Their addresses stay taken until then.
    pub fn set_pools(&mut self, config: &Config) -> Vec<ServiceKey> {
        self.pools = Config::new(
            config.pools.values().cloned().collect(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let mut stale: Vec<ServiceKey> =
            self.holders
                .iter()
                .filter(|(_, h)| {
                    h.assignment.addresses.iter().any(|ip| {
                        self.pools.pool_of(*ip).is_none_or(|p| p.name != h.assignment.pool)
                    })
                })
                .map(|(k, _)| k.clone())
                .collect();
        stale.sort();
        stale
    }

    /// The pool `address` belongs to.
    pub fn pool_of(&self, address: IpAddr) -> Option<&Pool> {
        self.pools.pool_of(address)
    }

    /// What `key` holds.
    pub fn assignment(&self, key: &ServiceKey) -> Option<&Assignment> {
        self.holders.get(key).map(|h| &h.assignment)
    }

    /// Services using `address`.
    pub fn users(&self, address: IpAddr) -> &[ServiceKey] {
        self.users.get(&address).map_or(&[], Vec::as_slice)
    }

    /// Per pool (every pool, by name), its addresses in use and still free per family
    /// ([`Family::index`]), as the pool's `status` shows them. An address shared by several
    /// Services counts once; with `avoidBuggyIPs` the .0 and .255 addresses, which are never
    /// handed out, are not counted as free.
    pub fn usage(&self) -> std::collections::BTreeMap<String, PoolUsage> {
        let mut out: std::collections::BTreeMap<String, PoolUsage> = self
            .pools
            .pools
            .values()
            .map(|pool| {
                let mut usage = PoolUsage::default();
                for range in &pool.ranges {
                    let (lo, hi) = range.bounds();
                    let mut size = hi - lo + 1;
                    if pool.avoid_buggy_ips && range.family() == Family::V4 {
                        size -= buggy_in(lo, hi);
                    }
                    let total = &mut usage.total[range.family().index()];
                    *total = total.saturating_add(size);
                }
                (pool.name.clone(), usage)
            })
            .collect();
        for address in self.users.keys() {
            let Some(pool) = self.pools.pool_of(*address) else { continue };
            if let Some(usage) = out.get_mut(&pool.name) {
                usage.assigned[Family::of(*address).index()] += 1;
            }
        }
        out
    }

    /// Number of Services holding addresses.
    pub fn len(&self) -> usize {
        self.holders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.holders.is_empty()
    }

    /// Gives `request.key` its addresses: keeps its current ones while they stay valid,
    /// otherwise releases them and allocates anew. Idempotent. On error the Service holds
    /// nothing.
    pub fn assign(&mut self, request: &Request) -> Result<Assignment, AllocationError> {
        if let Some(holder) = self.holders.get(&request.key) {
            let current = holder.assignment.addresses.clone();
            if let Ok(pool) = self.check(request, &current) {
                return Ok(self.take(request, current, pool));
            }
            self.release(&request.key);
        }
        self.allocate(request)
    }

    /// Takes the addresses a Service already shows in its status, when the controller
    /// starts. Fails (holding nothing) when they are not valid for it any more, or are taken
    /// by an earlier Service that may not share them; the controller then calls
    /// [`Allocator::assign`], which allocates anew.
    pub fn restore(
        &mut self,
        request: &Request,
        addresses: &[IpAddr],
    ) -> Result<Assignment, AllocationError> {
        if self.holders.contains_key(&request.key) {
            return self.assign(request);
        }
        let pool = self.check(request, addresses)?;
        Ok(self.take(request, addresses.to_vec(), pool))
    }

    /// Frees what `key` holds (the Service was deleted or is no longer ours).
    pub fn release(&mut self, key: &ServiceKey) -> Option<Assignment> {
        let holder = self.holders.remove(key)?;
        for ip in &holder.assignment.addresses {
            let Some(users) = self.users.get_mut(ip) else { continue };
            users.retain(|u| u != key);
            if users.is_empty() {
                self.users.remove(ip);
                self.taken[Family::of(*ip).index()].remove(address::key(*ip));
                if let Some(sharing_key) = &holder.sharing_key
                    && let Some(set) = self.shared.get_mut(sharing_key)
                {
                    set.remove(ip);
                    if set.is_empty() {
                        self.shared.remove(sharing_key);
                    }
                }
            }
        }
        Some(holder.assignment)
    }

    fn allocate(&mut self, request: &Request) -> Result<Assignment, AllocationError> {
        if !request.addresses.is_empty() {
            let pool = self.check(request, &request.addresses)?;
            return Ok(self.take(request, request.addresses.clone(), pool));
        }
        let pools = self.candidate_pools(request)?;
        let mut any_pool = false;
        for families in request.families.choices() {
            for pool in &pools {
                if !families.iter().all(|f| pool.has_family(*f)) {
                    continue;
                }
                any_pool = true;
                let found: Option<Vec<IpAddr>> =
                    families.iter().map(|f| self.lowest_usable(pool, *f, request)).collect();
                if let Some(addresses) = found {
                    let name = pool.name.clone();
                    return Ok(self.take(request, addresses, name));
                }
            }
        }
        Err(if any_pool {
            AllocationError::Exhausted(request.families)
        } else {
            AllocationError::NoPool(request.families)
        })
    }

    /// Pools to allocate from, best first.
    fn candidate_pools(&self, request: &Request) -> Result<Vec<&Pool>, AllocationError> {
        if let Some(name) = &request.pool {
            let pool = self
                .pools
                .pools
                .get(name)
                .ok_or_else(|| AllocationError::UnknownPool(name.clone()))?;
            if !self.admits(pool, request) {
                return Err(AllocationError::NotAdmitted { pool: name.clone() });
            }
            return Ok(vec![pool]);
        }
        let mut pinned: Vec<&Pool> = Vec::new();
        let mut open: Vec<&Pool> = Vec::new();
        // `pools` is a BTreeMap, so both lists come out sorted by name.
        for pool in self.pools.pools.values().filter(|p| p.auto_assign) {
            match &pool.allocation {
                None => open.push(pool),
                Some(_) if self.admits(pool, request) => pinned.push(pool),
                Some(_) => {}
            }
        }
        pinned.sort_by_key(|p| {
            p.allocation.as_ref().and_then(|a| a.priority).map_or((1, 0), |pr| (0, pr))
        });
        pinned.extend(open);
        Ok(pinned)
    }

    fn admits(&self, pool: &Pool, request: &Request) -> bool {
        pool.allocation.as_ref().is_none_or(|a| {
            a.admits(&request.key.namespace, &request.namespace_labels, &request.labels)
        })
    }

    /// The lowest address of `family` in `pool` that `request` may use.
    fn lowest_usable(&self, pool: &Pool, family: Family, request: &Request) -> Option<IpAddr> {
        let avoid = pool.avoid_buggy_ips;
        let taken = &self.taken[family.index()];
        let free = pool.ranges.iter().filter(|r| r.family() == family).find_map(|r| {
            let (lo, hi) = r.bounds();
            taken.first_free(lo, hi, |k| avoid && is_buggy(family, k))
        });
        let shared =
            request.sharing_key.as_ref().and_then(|k| self.shared.get(k)).and_then(|set| {
                set.iter().copied().find(|ip| {
                    Family::of(*ip) == family
                        && pool.contains(*ip)
                        && !(avoid && is_buggy(family, address::key(*ip)))
                        && self.may_share(*ip, request).is_ok()
                })
            });
        let free = free.map(|k| address::from_key(family, k));
        match (free, shared) {
            (Some(a), Some(b)) => Some(if address::key(a) <= address::key(b) { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// Whether `request` may use `address` beside its current users.
    fn may_share(&self, address: IpAddr, request: &Request) -> Result<(), AllocationError> {
        for user in self.users(address).iter().filter(|u| **u != request.key) {
            let Some(holder) = self.holders.get(user) else { continue };
            let refusal = match (&request.sharing_key, &holder.sharing_key) {
                (Some(mine), Some(theirs)) if mine != theirs => {
                    Some(ShareRefusal::DifferentKeys { mine: mine.clone(), theirs: theirs.clone() })
                }
                (Some(_), Some(_)) => {
                    if request.backend_key != holder.backend_key {
                        Some(ShareRefusal::Backends)
                    } else {
                        request
                            .ports
                            .iter()
                            .find(|p| holder.ports.contains(p))
                            .map(|p| ShareRefusal::PortClash(*p))
                    }
                }
                _ => Some(ShareRefusal::NoSharingKey),
            };
            if let Some(reason) = refusal {
                return Err(AllocationError::InUse { address, holder: user.clone(), reason });
            }
        }
        Ok(())
    }

    /// Checks that `addresses` are valid for `request`; returns their pool's name.
    fn check(&self, request: &Request, addresses: &[IpAddr]) -> Result<String, AllocationError> {
        if !request.addresses.is_empty() && !same_set(&request.addresses, addresses) {
            return Err(AllocationError::NotRequested {
                held: addresses.to_vec(),
                requested: request.addresses.clone(),
            });
        }
        let families: Vec<Family> = addresses.iter().map(|ip| Family::of(*ip)).collect();
        let fits = request.families.choices().iter().any(|choice| {
            choice.len() == families.len() && choice.iter().all(|f| families.contains(f))
        }) || (matches!(request.families, FamilyPolicy::PreferDual(_))
            && !request.addresses.is_empty()
            && families.len() == 1);
        if !fits {
            return Err(AllocationError::FamilyMismatch {
                addresses: addresses.to_vec(),
                wanted: request.families,
            });
        }
        let mut pool: Option<(&Pool, IpAddr)> = None;
        for ip in addresses {
            let here = self.pools.pool_of(*ip).ok_or(AllocationError::NotInAnyPool(*ip))?;
            match pool {
                Some((p, first)) if p.name != here.name => {
                    return Err(AllocationError::DifferentPools { first, second: *ip });
                }
                Some(_) => {}
                None => pool = Some((here, *ip)),
            }
        }
        let Some((pool, first)) = pool else {
            return Err(AllocationError::FamilyMismatch {
                addresses: Vec::new(),
                wanted: request.families,
            });
        };
        if let Some(requested) = &request.pool
            && *requested != pool.name
        {
            return Err(AllocationError::NotInRequestedPool {
                address: first,
                actual: pool.name.clone(),
                requested: requested.clone(),
            });
        }
        if !self.admits(pool, request) {
            return Err(AllocationError::NotAdmitted { pool: pool.name.clone() });
        }
        for ip in addresses {
            self.may_share(*ip, request)?;
        }
        Ok(pool.name.clone())
    }

    /// Records `addresses` (already checked) for `request`, replacing what it held.
    fn take(&mut self, request: &Request, mut addresses: Vec<IpAddr>, pool: String) -> Assignment {
        let primary = request.families.primary();
        addresses.sort_by_key(|ip| (Family::of(*ip) != primary, address::key(*ip)));
        if self.holders.contains_key(&request.key) {
            self.release(&request.key);
        }
        for ip in &addresses {
            let users = self.users.entry(*ip).or_default();
            users.push(request.key.clone());
            self.taken[Family::of(*ip).index()].insert(address::key(*ip));
            if let Some(k) = &request.sharing_key {
                self.shared.entry(k.clone()).or_default().insert(*ip);
            }
        }
        let assignment = Assignment { addresses, pool };
        self.holders.insert(
            request.key.clone(),
            Holder {
                assignment: assignment.clone(),
                sharing_key: request.sharing_key.clone(),
                backend_key: request.backend_key.clone(),
                ports: request.ports.clone(),
            },
        );
        assignment
    }
}

fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

#[cfg(test)]
mod tests;
