//! The routing information bases (RFC 4271 §3.2, §9): Adj-RIB-In per peer, the
//! Loc-RIB with best-path selection (§9.1), Adj-RIB-Out per peer with the export
//! rules (§9.1.3, §5.1, RFC 1997, RFC 4456), and graceful-restart stale marking
//! (RFC 4724 §4.2).
//!
//! [`Rib`] is owned by the single instance task: no locks, no async, no I/O. It
//! works on `wire` types (never bytes); the peer tasks encode what it hands out.
//!
//! # Flow
//! ```text
//! UpdateMessage ──apply_update──► table (Adj-RIB-In paths + best) ──► per-peer queues
//! originate / withdraw_local ──┘        │                                 │
//!                                       └─► changes (opt-in, drain_changes) next_export_batch
//! ```
//!
//! # Storage (see `table`, `intern`, `adj_out`)
//! One table per family: a `Vec` of 12-byte entries (IPv4: address `u32`, and
//! the only path inline: attribute id `u32`, source index `u16`, flags such as
//! stale, prefix length) addressed by a stable *slot*, plus a hashbrown index
//! of slots (5 bytes a bucket). Prefixes with several paths point into a side
//! slab whose lists keep the best path first. Attribute sets are interned with
//! reference counts and freed with their last user. Per peer, the Adj-RIB-Out
//! is two bits per prefix plus a deduplicated FIFO of slots.
//!
//! Growth: the entry `Vec` doubles, but capacity it has not used yet is never
//! written, so it costs address space, not RSS (and large reallocations are
//! `mremap`s). The index must double too (hashbrown is power-of-two); holding
//! only a `u32` per bucket bounds the waste to ≈5 MB at 1 M prefixes, and its
//! transient peak while rehashing to ≈15 MB. A custom non-power-of-two table
//! would save those few MB at the price of more probes or tag bytes; not worth
//! it at this size.
//!
//! Measured (`cargo bench --bench rib`, 1 M IPv4 prefixes over 2,000 attribute
//! sets, from one eBGP peer, exported to another): the RIB adds 31 MiB to the
//! process peak RSS (heap 27 MiB after the import, 24 MiB after the export);
//! import ≈3 M prefixes/s, full-table export ≈17 M prefixes/s on one core.
//!
//! # Sources and local routes
//! A route's [`Source`] is a BGP peer ([`PeerId`], chosen by the caller), the
//! static config or an API owner. Local routes have an empty AS_PATH and ORIGIN
//! IGP unless set; they win over learned routes after LOCAL_PREF (so a learned
//! route with a higher LOCAL_PREF still wins), and among themselves Static wins
//! over Api, lower owner id first. See `best` for every step.
//!
//! # Import rules
//! Routes whose AS_PATH holds our ASN, and iBGP routes whose ORIGINATOR_ID is our
//! router id, are rejected and withdraw any earlier path of that peer for the
//! prefix (RFC 4271 §9.1.2, RFC 4456 §8). LOCAL_PREF from eBGP peers is ignored
//! (§5.1.5); routes without one count as 100. ADD-PATH path identifiers are
//! ignored: one path per (prefix, source).
//!
//! # Export
//! [`Rib::next_export_batch`] hands out withdrawals and announcements grouped by
//! exported attribute set; the exported set is computed once per (attribute set,
//! peer flavour) and cached. A withdrawal is only sent for a prefix that was
//! announced. [`Rib::queue_full_table`] starts a dump; [`Rib::export_pending`]
//! says when the caller may send End-of-RIB.
//!
//! # Files
//! `mod.rs`: [`Rib`], peers, graceful-restart stale marking (RFC 4724 §4.2),
//! the export queue; `import`: UPDATEs and local routes in; `core`: the state
//! besides the tables and the per-family add/remove/select/queue steps;
//! `dispatch`: `with_table!`, the one place that picks the IPv4 or IPv6
//! table; `queries`: read-only views; `table`, `intern`, `best`, `export`,
//! `adj_out`, `restrict`, `deferral` as their docs say.

#[macro_use]
mod dispatch;

mod adj_out;
mod best;
#[cfg(test)]
mod compact_tests;
mod core;
mod deferral;
mod export;
mod import;
mod intern;
mod policy;
#[cfg(test)]
mod policy_tests;
mod queries;
mod restrict;
mod soft_in;
mod table;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod types;
#[cfg(test)]
mod unsendable_tests;

use rustc_hash::FxHashMap;

pub use best::Reason;
pub use intern::Exported;
pub use restrict::PeerKey;
pub use types::{
    ApplyStats, BestChange, Counts, ExportBatch, Group, LocalInfo, MemoryUsage, OwnerId, PeerId,
    PeerInfo, PeerPolicy, PolicyCounters, RibError, Route, Source, Unsendable,
};

use self::core::Core;
use adj_out::{FamilyExport, PeerExport};
use best::SourceFacts;
use export::{ExportProfile, Receiver};
use intern::AttrStore;
use table::{FLAG_STALE, Path, Prefix4, Prefix6, SourceIndex, Table};

use crate::wire::{CodecOptions, Family};

/// The RIB of one BGP instance. See the module documentation.
#[derive(Debug)]
pub struct Rib {
    core: Core,
    v4: Table<Prefix4>,
    v6: Table<Prefix6>,
}

impl Rib {
    pub fn new(local: LocalInfo) -> Self {
        Self {
            core: Core {
                local,
                attrs: AttrStore::default(),
                sources: Vec::new(),
                source_index: FxHashMap::default(),
                exports: Vec::new(),
                profiles: Vec::new(),
                changes: None,
                restrictions: restrict::Restrictions::default(),
                deferral: deferral::Deferral::default(),
                scratch: core::ExportScratch::default(),
            },
            v4: Table::default(),
            v6: Table::default(),
        }
    }

    pub fn local(&self) -> LocalInfo {
        self.core.local
    }

    // ----- peers -----

    /// Register a peer whose session reached Established (or update it after a
    /// graceful restart: its routes stay). Its export state starts empty: call
    /// [`Rib::queue_full_table`] for each family to send it the table.
    pub fn add_peer(&mut self, id: PeerId, info: PeerInfo) -> Result<(), RibError> {
        let facts = SourceFacts {
            source: Source::Peer(id),
            local: false,
            ibgp: info.ibgp,
            router_id: info.router_id,
            address: Some(info.address),
        };
        let (index, facts_changed) = self.core.register(Source::Peer(id), facts)?;
        // A new session sends its routes again.
        self.clear_pre_policy(index);
        let (next_hop_v4, next_hop_v6) =
            export::own_addresses(info.local_address, info.next_hop_v4, info.next_hop_v6);
        let profile = ExportProfile {
            local_asn: info.local_asn,
            global_asn: self.core.local.asn,
            ibgp: info.ibgp,
            next_hop_self: info.next_hop_self,
            next_hop_v4,
            next_hop_v6,
            next_hop_link_local: export::own_link_local(info.local_address),
            codec: CodecOptions { external_peer_as: None, ..info.codec },
        };
        let profile = match self.core.profiles.iter().position(|p| *p == profile) {
            Some(i) => i,
            None => {
                self.core.profiles.push(profile);
                self.core.profiles.len() - 1
            }
        } as u16;
        let mut families = [None, None];
        for family in &info.families {
            families[family.index()] = Some(FamilyExport::default());
        }
        let exports = &mut self.core.exports;
        if exports.len() <= index as usize {
            exports.resize_with(index as usize + 1, || None);
        }
        let previous = exports[index as usize].replace(PeerExport {
            receiver: Receiver { source: index, ibgp: info.ibgp, asn: info.asn },
            profile,
            families,
        });
        if previous.is_some() {
            // Withdrawals the old session still owed are moot: free their slots.
            self.core.sweep_empty(&mut self.v4);
            self.core.sweep_empty(&mut self.v6);
        }
        if facts_changed {
            // E.g. a new router id after a restart: kept (stale) routes compete anew.
            self.core.reselect(&mut self.v4, index);
            self.core.reselect(&mut self.v6, index);
        }
        Ok(())
    }

    /// The session went down without graceful restart: drop every route learned
    /// from it and forget what it was sent. The peer stays registered.
    pub fn peer_down(&mut self, id: PeerId) -> Result<usize, RibError> {
        let source = self.peer_index(id)?;
        self.reset_export(id)?;
        self.clear_pre_policy(source);
        let removed = self.core.remove_paths(&mut self.v4, source, |_| true)
            + self.core.remove_paths(&mut self.v6, source, |_| true);
        Ok(removed)
    }

    /// Forget what `id` was sent and stop exporting to it (session lost with
    /// graceful restart: its routes stay, see [`Rib::mark_stale`]).
    pub fn reset_export(&mut self, id: PeerId) -> Result<(), RibError> {
        let source = self.peer_index(id)? as usize;
        if let Some(slot) = self.core.exports.get_mut(source) {
            *slot = None;
        }
        self.core.sweep_empty(&mut self.v4);
        self.core.sweep_empty(&mut self.v6);
        Ok(())
    }

    /// [`Rib::peer_down`] and unregister.
    pub fn remove_peer(&mut self, id: PeerId) -> Result<usize, RibError> {
        let removed = self.peer_down(id)?;
        if let Some(index) = self.core.source_index.remove(&Source::Peer(id)) {
            self.core.sources[index as usize] = None;
        }
        Ok(removed)
    }

    fn peer_index(&self, id: PeerId) -> Result<SourceIndex, RibError> {
        self.core.source_index.get(&Source::Peer(id)).copied().ok_or(RibError::UnknownPeer(id))
    }

    // ----- graceful restart -----

    /// Mark every route of `peer` in `family` stale (RFC 4724 §4.2). A route the
    /// peer announces again loses the mark.
    pub fn mark_stale(&mut self, peer: PeerId, family: Family) -> Result<(), RibError> {
        let source = self.peer_index(peer)?;
        with_table!(&mut self, family = family, |_core, t| t
            .for_each_path_of(source, |p| p.flags |= FLAG_STALE));
        Ok(())
    }

    /// Remove the routes of `peer` in `family` still marked stale. Returns the count.
    pub fn sweep_stale(&mut self, peer: PeerId, family: Family) -> Result<usize, RibError> {
        let source = self.peer_index(peer)?;
        Ok(with_table!(&mut self, family = family, |core, t| core.remove_paths(
            t,
            source,
            Path::is_stale
        )))
    }

    // ----- export -----

    /// Queue every Loc-RIB prefix of `family` for `peer` (new session, route refresh).
    pub fn queue_full_table(&mut self, peer: PeerId, family: Family) -> Result<(), RibError> {
        let source = self.peer_index(peer)? as usize;
        let fe = self.core.exports.get_mut(source).and_then(Option::as_mut);
        if let Some(fe) = fe.and_then(|pe| pe.families[family.index()].as_mut()) {
            fe.start_dump();
        }
        Ok(())
    }

    /// The next withdrawals and announcements for `peer`, at most `max_prefixes`
    /// prefixes (at least one), one family per batch. `None` when nothing is pending.
    pub fn next_export_batch(&mut self, peer: PeerId, max_prefixes: usize) -> Option<ExportBatch> {
        let source = self.peer_index(peer).ok()? as usize;
        let max_prefixes = max_prefixes.max(1);
        adj_out::next_batch(&mut self.core, &mut self.v4, source, max_prefixes)
            .or_else(|| adj_out::next_batch(&mut self.core, &mut self.v6, source, max_prefixes))
    }

    /// Whether `peer` has export work queued (End-of-RIB waits until it has not).
    pub fn export_pending(&self, peer: PeerId) -> bool {
        let Ok(source) = self.peer_index(peer) else { return false };
        self.core
            .exports
            .get(source as usize)
            .and_then(Option::as_ref)
            .is_some_and(|pe| pe.families.iter().flatten().any(FamilyExport::pending))
    }

    // ----- change events -----

    /// Start (or stop) recording best-path changes for [`Rib::drain_changes`].
    /// Off by default: then nothing is recorded and nothing costs.
    pub fn track_changes(&mut self, on: bool) {
        self.core.changes =
            if on { Some(self.core.changes.take().unwrap_or_default()) } else { None };
    }

    /// Best-path changes since the last call, oldest first.
    pub fn drain_changes(&mut self) -> Vec<BestChange> {
        self.core.changes.as_mut().map(std::mem::take).unwrap_or_default()
    }
}
