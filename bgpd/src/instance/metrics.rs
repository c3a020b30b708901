//! What a scrape of `/metrics` needs from the instance, in domain types:
//! per peer its session state and the `Arc` of the counters its session task
//! writes, per family the RIB's counts.
//!
//! Why one message per scrape rather than atomics published by the instance:
//! every number here is already kept by its owner (the table lengths and the
//! path count are fields, the learned count a per-source counter, the export
//! queue a `VecDeque` length, the advertised and unsendable counts the peer's
//! bitsets' kept counts, the RIB's memory use kept byte totals of the
//! attribute store and the multi-path lists). So the snapshot is O(peers +
//! families), with no walk of the table or of the attribute sets: paid by the
//! scrape and never by an UPDATE, and the instance's own loop (the one owner
//! of the RIB) answers it between two events without locking anything.
//! Publishing atomics instead would add an atomic store per RIB change on the
//! hot path for a number read every 15 s. The message counters are read from
//! the session tasks' atomics by the scraping task, outside the instance.
//!
//! Measured (`interop-tests/src/bin/bench-metrics-scrape.rs`): with 1M
//! prefixes and 100 Established peers each advertised the table, walking the
//! 200,000 attribute sets for their bytes and popcounting 99 x 2 bitsets of
//! 15,625 words took 85 % of bgpd's CPU while scraping (perf); both are kept
//! now.

use std::net::IpAddr;
use std::time::Duration;

use super::Instance;
use crate::fsm::State;
use crate::peer::counters::SharedCounters;
use crate::rib::{MemoryUsage, Source};
use crate::wire::Family;

/// The instance's numbers at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub uptime: Duration,
    pub peers: Vec<PeerMetrics>,
    pub families: Vec<FamilyMetrics>,
    /// Distinct attribute sets interned by the RIB.
    pub attribute_sets: usize,
    pub memory: MemoryUsage,
    /// API owners known (attached or within their grace time).
    pub owners: usize,
    /// Open `Session` streams (owners attached now).
    pub owner_sessions: usize,
    /// Open `Watch` streams.
    pub watchers: usize,
    /// Per open `Watch` stream (by id): events waiting for it.
    pub watch_lags: Vec<(u64, usize)>,
}

/// One family of the Loc-RIB.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FamilyMetrics {
    pub family: Family,
    pub prefixes: usize,
    pub paths: usize,
}

/// One configured neighbor.
#[derive(Clone, Debug)]
pub struct PeerMetrics {
    pub address: IpAddr,
    pub state: State,
    /// Times the session reached Established.
    pub established_transitions: u64,
    pub counters: SharedCounters,
    pub families: Vec<PeerFamilyMetrics>,
    /// Why the last session ended (`None` while it never did).
    pub last_error: Option<String>,
    /// The neighbor's BFD session, when it has one configured.
    pub bfd: Option<BfdMetrics>,
    /// Times a max-prefix limit took the session down.
    pub max_prefix_teardowns: u64,
}

/// One neighbor's BFD session (RFC 5880).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct BfdMetrics {
    pub up: bool,
    pub up_events: u64,
    pub down_events: u64,
    pub packets_sent: u64,
    pub packets_received: u64,
}

/// One family of one neighbor.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PeerFamilyMetrics {
    pub family: Family,
    /// Prefixes learned from the peer and held (after the import rules).
    pub accepted: u64,
    /// Prefixes the peer holds from us.
    pub advertised: u64,
    /// Prefixes queued for the peer, not yet sent.
    pub queued: u64,
    /// Prefixes held back: they cannot be encoded for the peer.
    pub unsendable: u64,
    /// The max-prefix limit of this family, when the neighbor has one.
    pub max_prefix_limit: Option<u32>,
    /// What that limit is checked against (`max_prefix::max_prefix_count`).
    pub max_prefix_count: u64,
}

impl Instance {
    /// Reads the numbers; never changes state.
    pub(super) fn metrics_snapshot(&self) -> Snapshot {
        let mut peers: Vec<PeerMetrics> = self
            .peers
            .iter()
            .map(|(&id, slot)| {
                let status = &slot.status;
                let families = slot
                    .neighbor
                    .families
                    .iter()
                    .map(|&family| PeerFamilyMetrics {
                        family,
                        accepted: self.rib.source_routes(Source::Peer(id), family) as u64,
                        advertised: self.rib.advertised_count(id, family) as u64,
                        queued: self.rib.export_queue(id, family) as u64,
                        unsendable: self.rib.unsendable_count(id, family) as u64,
                        max_prefix_limit: slot
                            .neighbor
                            .max_prefixes
                            .and_then(|limits| limits.limit(family)),
                        max_prefix_count: super::max_prefix::max_prefix_count(
                            &self.rib, id, family,
                        ),
                    })
                    .collect();
                PeerMetrics {
                    address: slot.neighbor.address,
                    state: status.state,
                    established_transitions: status.flaps + u64::from(status.established.is_some()),
                    counters: status.counters.clone(),
                    families,
                    last_error: status.last.reason.clone(),
                    bfd: slot.neighbor.bfd.map(|_| {
                        let bfd = &status.bfd;
                        let (packets_sent, packets_received) = bfd.packets.get();
                        BfdMetrics {
                            up: bfd.last.is_some_and(|c| c.to == crate::bfd::State::Up),
                            up_events: bfd.up_events,
                            down_events: bfd.down_events,
                            packets_sent,
                            packets_received,
                        }
                    }),
                    max_prefix_teardowns: status.max_prefix.teardowns,
                }
            })
            .collect();
        peers.sort_by_key(|peer| peer.address);
        Snapshot {
            uptime: self.started.elapsed(),
            peers,
            families: Family::ALL
                .iter()
                .map(|&family| {
                    let counts = self.rib.counts(family);
                    FamilyMetrics { family, prefixes: counts.prefixes, paths: counts.paths }
                })
                .collect(),
            attribute_sets: self.rib.attribute_sets(),
            memory: self.rib.memory_usage(),
            owners: self.api.owners.len(),
            owner_sessions: self.api.sessions.len(),
            watchers: self.api.watchers.len(),
            watch_lags: self.api.watchers.lags(),
        }
    }
}
