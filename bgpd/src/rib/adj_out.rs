//! Adj-RIB-Out (RFC 4271 §3.2, §9.2): per peer and family, which prefixes wait
//! to be (re)considered for export, and which ones the peer has been sent.
//!
//! Memory: two bitsets indexed by table slot (`queued`, `advertised`), i.e. 2
//! bits per prefix per peer (250 KB per peer for 1 M prefixes), plus a FIFO of
//! slots that changed, deduplicated by `queued` and bounded by [`QUEUE_LIMIT`]
//! entries: changes beyond it are only marked in `queued` and found by a
//! sweep over that bitset in slot order once the FIFO is empty. A full-table
//! dump (new session, route refresh) is a cursor over the slots, not a
//! million queue entries.
//!
//! A third bitset, `unsendable`, marks the prefixes whose exported attributes
//! cannot be encoded for the peer at all (larger than its message limit even
//! with one host route): they are never marked advertised, a version the peer
//! held before is withdrawn, and the instance logs and counts them.
//!
//! What was sent is one bit, not the exported attribute id: a withdrawal needs
//! only "was it announced", and an announcement is re-derived from the current
//! best path when the prefix is dequeued. The cost of the bit is that a best-path
//! change that exports the same attributes is sent again (an implicit replace,
//! harmless); storing the id would cost 32 times the memory.

use std::collections::VecDeque;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use super::core::KEEP_PENDING;
use super::export::{self, PolicyEffects, Receiver, RouteFacts};
use super::intern::{AttrId, CachedExport, CachedPrepared, Exported, Judged, PackedExport};
use super::policy;
use super::table::{PrefixKey, SourceIndex, Table};
use super::{Core, ExportBatch, PolicyCounters, Unsendable};
use crate::policy::{PathView, PrefixCursor};
use crate::wire::Nlri;

/// Entries a peer's FIFO of changed slots holds at most (4 bytes each, per
/// family). Up to it, changes leave in the order they came (a lone change
/// first); past it (a burst: every peer of a route server receiving all the
/// others' tables at once), they leave in slot order by a sweep over `queued`.
/// Unbounded, the FIFOs grew to one entry per changed prefix for every peer:
/// 100 peers x 100,000 prefixes held 50 MB at the peak.
pub(crate) const QUEUE_LIMIT: usize = 1024;

/// A growable bitset indexed by slot, which keeps its count of set bits: a
/// metrics scrape reads every peer's advertised and unsendable counts, and a
/// popcount of 99 peers' bitsets over a full table (15,625 words each) was a
/// fifth of bgpd's CPU while it was scraped. Keeping it costs one add on
/// `set` and `clear`, whose word is already loaded.
#[derive(Clone, Debug, Default)]
pub(crate) struct BitSet {
    words: Vec<u64>,
    ones: usize,
}

impl BitSet {
    pub fn get(&self, index: u32) -> bool {
        self.words.get(index as usize / 64).is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    pub fn set(&mut self, index: u32) {
        let word = index as usize / 64;
        if word >= self.words.len() {
            // Grow by half again at least, so a growing table does not resize
            // the bitset on every new slot.
            let target = (word + 1).max(self.words.len() + self.words.len() / 2);
            self.words.resize(target, 0);
        }
        let bit = 1 << (index % 64);
        let w = &mut self.words[word];
        self.ones += usize::from(*w & bit == 0);
        *w |= bit;
    }

    pub fn clear(&mut self, index: u32) {
        if let Some(w) = self.words.get_mut(index as usize / 64) {
            let bit = 1 << (index % 64);
            self.ones -= usize::from(*w & bit != 0);
            *w &= !bit;
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }

    /// Forgets bits at and above `bound` and gives back the words beyond it.
    pub fn truncate(&mut self, bound: u32) {
        self.words.truncate((bound as usize).div_ceil(64));
        if let Some(last) = self.words.last_mut()
            && !bound.is_multiple_of(64)
        {
            *last &= (1u64 << (bound % 64)) - 1;
        }
        self.words.shrink_to_fit();
        // Rare (compaction after mass withdrawals): recount what is left.
        self.ones = self.popcount();
    }

    /// The first bit set at or after `from`.
    pub fn next_set(&self, from: u32) -> Option<u32> {
        let mut word = from as usize / 64;
        let mut bits = self.words.get(word)? & (u64::MAX << (from % 64));
        loop {
            if bits != 0 {
                return Some((word * 64) as u32 + bits.trailing_zeros());
            }
            word += 1;
            bits = *self.words.get(word)?;
        }
    }

    /// Bits set: kept, O(1).
    pub fn count(&self) -> usize {
        self.ones
    }

    /// Bits set, counted word by word.
    fn popcount(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
}

/// Export state of one peer for one family.
#[derive(Debug, Default)]
pub(crate) struct FamilyExport {
    queue: VecDeque<u32>,
    queued: BitSet,
    advertised: BitSet,
    /// Prefixes held back because they cannot be encoded for the peer.
    unsendable: BitSet,
    /// Next slot of a running full-table dump.
    cursor: Option<u32>,
    /// Changes that did not fit the FIFO are waiting: the lowest slot of
    /// `queued` that may hold one (see [`QUEUE_LIMIT`]).
    sweep: Option<u32>,
}

impl FamilyExport {
    /// Note that the best path of `slot` changed. `live`: the prefix still has a
    /// path. Returns whether this peer still needs the slot kept (queued for a
    /// withdrawal or advertised).
    pub fn enqueue(&mut self, slot: u32, live: bool) -> bool {
        if self.queued.get(slot) {
            return true;
        }
        if !live {
            // Gone: no longer held back (the slot may be reused).
            self.unsendable.clear(slot);
        }
        if live {
            // A running dump will reach it and read its state then.
            if self.cursor.is_none_or(|c| slot < c) {
                self.push(slot);
            }
            return true;
        }
        if self.advertised.get(slot) {
            self.push(slot);
            return true;
        }
        false
    }

    /// Queues `slot` (not queued yet): in the FIFO while it has room and no
    /// sweep is pending (else the FIFO's slots would also be swept), else for
    /// the sweep.
    fn push(&mut self, slot: u32) {
        self.queued.set(slot);
        if self.sweep.is_none() && self.queue.len() < QUEUE_LIMIT {
            self.queue.push_back(slot);
        } else {
            self.sweep = Some(self.sweep.map_or(slot, |from| from.min(slot)));
        }
    }

    pub fn holds(&self, slot: u32) -> bool {
        self.queued.get(slot) || self.advertised.get(slot)
    }

    pub fn start_dump(&mut self) {
        self.cursor = Some(0);
    }

    pub fn pending(&self) -> bool {
        !self.queue.is_empty() || self.sweep.is_some() || self.cursor.is_some()
    }

    pub fn is_advertised(&self, slot: u32) -> bool {
        self.advertised.get(slot)
    }

    /// Prefixes waiting in the queue (a running full-table dump not counted;
    /// a popcount: for queries).
    pub fn queued(&self) -> usize {
        self.queued.count()
    }

    /// Prefixes the peer holds from us (kept by the bitset: O(1)).
    pub fn advertised_count(&self) -> usize {
        self.advertised.count()
    }

    /// Prefixes held back from the peer because they cannot be encoded for it
    /// (kept: O(1)).
    pub fn unsendable_count(&self) -> usize {
        self.unsendable.count()
    }

    fn next_slot<P: PrefixKey>(&mut self, table: &Table<P>) -> Option<u32> {
        if let Some(slot) = self.queue.pop_front() {
            self.queued.clear(slot);
            return Some(slot);
        }
        // With the FIFO empty, every slot still marked in `queued` is one
        // that did not fit it.
        if let Some(from) = self.sweep {
            match self.queued.next_set(from) {
                Some(slot) => {
                    self.queued.clear(slot);
                    self.sweep = Some(slot + 1);
                    return Some(slot);
                }
                None => self.sweep = None,
            }
        }
        while let Some(c) = self.cursor {
            if c >= table.slot_bound() {
                self.cursor = None;
                break;
            }
            self.cursor = Some(c + 1);
            if table.is_live(c) && !self.queued.get(c) {
                return Some(c);
            }
        }
        None
    }

    /// After the table gave back its slots from `bound` on (`Table::compact`):
    /// every bit beyond is clear already (a freed slot is held by nobody), so
    /// only memory changes.
    pub fn compact(&mut self, bound: u32) {
        self.queued.truncate(bound);
        self.advertised.truncate(bound);
        self.unsendable.truncate(bound);
        self.queue.shrink_to_fit();
    }

    pub fn heap_bytes(&self) -> usize {
        self.queue.capacity() * 4
            + self.queued.heap_bytes()
            + self.advertised.heap_bytes()
            + self.unsendable.heap_bytes()
    }
}

/// Export state of one peer.
#[derive(Debug)]
pub(crate) struct PeerExport {
    pub receiver: Receiver,
    pub profile: u16,
    pub families: [Option<FamilyExport>; 2],
}

/// Build the next batch of at most `max` prefixes for peer `peer` from `table`.
pub(crate) fn next_batch<P: PrefixKey>(
    core: &mut Core,
    table: &mut Table<P>,
    peer: usize,
    max: usize,
) -> Option<ExportBatch> {
    let fi = P::FAMILY.index();
    let mut batch = ExportBatch::new(P::FAMILY);
    // Reused across batches: the group of each exported set, and each
    // prefix with its group until the batch lays them out.
    let mut groups = std::mem::take(&mut core.scratch.groups);
    let mut pending = std::mem::take(&mut core.scratch.pending);
    let mut emitted = 0;
    let mut counts = PolicyCounters::default();
    let mut receiver_source = None;
    // One memo for the batch: its slots come in table order, mostly address
    // order, so the export chain's prefix sets are searched once per region,
    // and runs of prefixes with one attribute set are judged once.
    let mut memo = BatchMemo::default();
    // The group the last prefix joined: runs of prefixes of one set skip the
    // map (every prefix of a one-set table, most of a real table's runs).
    let mut last_group: Option<(usize, u32)> = None;
    while emitted < max {
        let pe = core.exports.get_mut(peer)?.as_mut()?;
        let (receiver, profile) = (pe.receiver, pe.profile);
        let fe = pe.families[fi].as_mut()?;
        let Some(slot) = fe.next_slot(table) else { break };
        // Held after our restart: sent once the deferral ends (see `deferral`).
        if core.deferred(table, slot) {
            continue;
        }
        let (exported, judged) = decide(core, table, slot, &receiver, profile, &mut memo);
        receiver_source = Some(receiver.source);
        match judged {
            Judged::Unjudged => {}
            Judged::Accepted => counts.accepted += 1,
            Judged::Modified => {
                counts.accepted += 1;
                counts.modified += 1;
            }
            Judged::Rejected => counts.rejected += 1,
        }
        let Some(fe) = core.exports[peer].as_mut().and_then(|pe| pe.families[fi].as_mut()) else {
            break;
        };
        let prefix = Nlri::new(table.prefix(slot).to_net());
        match exported {
            Some(exported) if exported.too_large() => {
                // Never shown as advertised; the peer keeps no stale version.
                fe.unsendable.set(slot);
                if fe.advertised.get(slot) {
                    fe.advertised.clear(slot);
                    batch.withdrawn.push(prefix);
                }
                let max_message_len = core
                    .profiles
                    .get(profile as usize)
                    .map_or(crate::wire::MAX_MESSAGE_LEN, |p| p.codec.max_message_len());
                let report = batch.unsendable.get_or_insert(Unsendable {
                    count: 0,
                    first: prefix.prefix,
                    max_message_len,
                });
                report.count += 1;
                // Counted, so one call stays bounded even when nothing is sent.
                emitted += 1;
            }
            Some(exported) => {
                fe.unsendable.clear(slot);
                fe.advertised.set(slot);
                // Prefixes sharing a cached export share its packed bytes,
                // and the batch carries them as they are: the session
                // encodes from the packed form, nothing is unpacked.
                let key = exported.attributes().bytes().as_ptr() as usize;
                let index = match last_group {
                    Some((last, index)) if last == key => index,
                    _ => {
                        let index = *groups.entry(key).or_insert_with(|| {
                            batch.open_group(exported.attributes().clone(), exported.next_hop())
                        });
                        last_group = Some((key, index));
                        index
                    }
                };
                pending.push((index, prefix));
                emitted += 1;
            }
            None => {
                fe.unsendable.clear(slot);
                if fe.advertised.get(slot) {
                    fe.advertised.clear(slot);
                    batch.withdrawn.push(prefix);
                    emitted += 1;
                }
                core.release_if_unused(table, slot);
            }
        }
    }
    if let Some(state) = receiver_source.and_then(|source| core.source_state(source)) {
        let out = &mut state.export_counters;
        out.accepted += counts.accepted;
        out.rejected += counts.rejected;
        out.modified += counts.modified;
    }
    batch.place(&mut pending);
    groups.clear();
    if pending.capacity() > KEEP_PENDING {
        pending = Vec::new();
        groups = FxHashMap::default();
    }
    core.scratch.groups = groups;
    core.scratch.pending = pending;
    (emitted > 0).then_some(batch)
}

/// What the export decisions of one batch (one receiver) remember between
/// prefixes. Dropped with the batch: it names attribute sets by id and
/// prefix sets by address.
#[derive(Default)]
pub(crate) struct BatchMemo {
    cursor: PrefixCursor,
    /// The last [`export::may_send`] answer and the attribute set and source
    /// it was for: it depends on nothing else for one receiver, and its AS
    /// loop check reads the whole AS_PATH (about 4 % of the instance
    /// thread's samples when asked per prefix).
    sendable: Option<(AttrId, SourceIndex, bool)>,
}

/// What `slot`'s best path exports as to `receiver`, if anything, and what
/// the receiver's export chain said of it.
fn decide<P: PrefixKey>(
    core: &mut Core,
    table: &Table<P>,
    slot: u32,
    receiver: &Receiver,
    profile: u16,
    memo: &mut BatchMemo,
) -> (Option<PackedExport>, Judged) {
    let mut judged = Judged::Unjudged;
    let exported = decide_judged(core, table, slot, receiver, profile, memo, &mut judged);
    (exported, judged)
}

fn decide_judged<P: PrefixKey>(
    core: &mut Core,
    table: &Table<P>,
    slot: u32,
    receiver: &Receiver,
    profile: u16,
    memo: &mut BatchMemo,
    judged: &mut Judged,
) -> Option<PackedExport> {
    let best = if core.restrictions.restricted(P::FAMILY.index(), slot) {
        core.best_for(table, slot, receiver)?
    } else {
        table.best(slot)?
    };
    let facts = &core.sources.get(best.source as usize)?.as_ref()?.facts;
    let local = facts.local;
    let attr = core.attrs.get(best.attrs)?;
    let route = RouteFacts {
        source: best.source,
        ibgp_learned: facts.ibgp,
        summary: &attr.summary,
        attributes: &attr.attributes,
    };
    let sendable = match memo.sendable {
        Some((attrs, source, sendable)) if attrs == best.attrs && source == best.source => sendable,
        _ => {
            let sendable = export::may_send(&route, receiver);
            memo.sendable = Some((best.attrs, best.source, sendable));
            sendable
        }
    };
    if !sendable {
        return None;
    }
    let key = (u64::from(profile) << 8) | (u64::from(local) << 1) | P::FAMILY.index() as u64;
    let Some((chain, context)) = policy::export_chain(&core.sources, receiver.source) else {
        if let Some((result, _)) = attr.cached_export(key, &None) {
            return result;
        }
        let profile = core.profiles.get(profile as usize)?;
        let scratch = &mut core.scratch;
        attr.attributes.unpack_into(&mut scratch.attributes);
        let result = export::rewrite_in_place(
            &mut scratch.attributes,
            attr.next_hop(),
            local,
            P::FAMILY,
            profile,
            PolicyEffects::default(),
        )
        .map(|next_hop| {
            let too_large = !export::fits(&scratch.attributes, next_hop, P::FAMILY, profile);
            PackedExport::new_or_shared(
                &scratch.attributes,
                next_hop,
                too_large,
                &attr.attributes,
                &mut scratch.packed,
            )
        });
        let attr = core.attrs.get_mut(best.attrs)?;
        let grown = attr.push_export(CachedExport {
            key,
            selection: None,
            result: result.clone(),
            judged: Judged::Unjudged,
        });
        core.attrs.cache_grew(grown);
        return result;
    };
    if chain.rejects_all() {
        *judged = Judged::Rejected;
        return None;
    }
    let key = key | ((u64::from(receiver.source) + 1) << 32);
    let prefix = table.prefix(slot).to_net();
    let profile = core.profiles.get(profile as usize)?;
    let attr = core.attrs.get_mut(best.attrs)?;
    // Per attribute set: which statements' attribute conditions hold; per
    // prefix only the prefix conditions, when some statement has them.
    // Bytes the slot's caches grew by, reported to the store before returning.
    let mut grown = 0;
    if attr.prepared(key).is_none() {
        let attributes = attr.attributes.unpack();
        let view = PathView::new(&attributes, policy::next_hop_address(attr.next_hop()));
        let prepared = chain.prepare(view, &context);
        grown += attr.push_prepared(CachedPrepared { key, prepared });
    }
    let Some(prepared) = attr.prepared(key) else {
        core.attrs.cache_grew(grown);
        return None;
    };
    let selection = (!prepared.is_prefix_independent())
        .then(|| chain.select_near(prepared, &prefix, &mut memo.cursor));
    if let Some((result, cached)) = attr.cached_export(key, &selection) {
        *judged = cached;
        core.attrs.cache_grew(grown);
        return result;
    }
    let full =
        selection.clone().unwrap_or_else(|| chain.select_near(prepared, &prefix, &mut memo.cursor));
    let attributes = attr.attributes.unpack();
    let view = PathView::new(&attributes, policy::next_hop_address(attr.next_hop()));
    let verdict = chain.outcome(&full, view, &context);
    let chain_said = match &verdict {
        crate::policy::Verdict::Reject => Judged::Rejected,
        crate::policy::Verdict::Accept(accepted) if accepted.is_modified() => Judged::Modified,
        crate::policy::Verdict::Accept(_) => Judged::Accepted,
    };
    let result = verdict.accepted().and_then(|accepted| {
        let effects = PolicyEffects {
            next_hop: accepted.next_hop,
            keep_med: accepted.attributes.med != attributes.med,
        };
        export::rewrite(&accepted.attributes, attr.next_hop(), local, P::FAMILY, profile, effects)
    });
    // Receivers with export chains are cached apart (the key holds the
    // receiver), but their chains mostly give the same result (a route
    // server's `accept-all` for every peer): share the exported set with the
    // last one cached for this flavour when equal, rather than one copy of
    // a few hundred bytes per (set, receiver). One comparison: O(1) per miss.
    // The flavour holds the profile, so the size check's answer is shared too.
    let result = result.map(|(attributes, next_hop)| {
        let flavour = key & u64::from(u32::MAX);
        let packed = PackedExport::new_or_shared(
            &attributes,
            next_hop,
            false,
            &attr.attributes,
            &mut core.scratch.packed,
        );
        let shared = attr.last_export_of(flavour).filter(|r| r.same_route(&packed));
        match shared {
            Some(r) => r.clone(),
            None if !export::fits(&attributes, next_hop, P::FAMILY, profile) => {
                PackedExport::new(&attributes, next_hop, true)
            }
            None => packed,
        }
    });
    grown += attr.push_export(CachedExport {
        key,
        selection,
        result: result.clone(),
        judged: chain_said,
    });
    core.attrs.cache_grew(grown);
    *judged = chain_said;
    result
}

/// The cached form of a rewritten route, with whether it fits the peer's
/// messages at all (checked once per attribute set and profile).
/// What `peer` has been sent for `slot` as of now (for the Adj-RIB-Out query).
pub(crate) fn advertised_route<P: PrefixKey>(
    core: &mut Core,
    table: &Table<P>,
    peer: usize,
    slot: u32,
) -> Option<(IpNet, Exported)> {
    let pe = core.exports.get(peer)?.as_ref()?;
    let fe = pe.families[P::FAMILY.index()].as_ref()?;
    if !fe.is_advertised(slot) {
        return None;
    }
    let (receiver, profile) = (pe.receiver, pe.profile);
    let mut memo = BatchMemo::default();
    decide(core, table, slot, &receiver, profile, &mut memo)
        .0
        .map(|e| (table.prefix(slot).to_net(), e.unpacked()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitset_grows_and_clears() {
        let mut b = BitSet::default();
        assert!(!b.get(1_000));
        b.set(1_000);
        b.set(3);
        assert!(b.get(1_000) && b.get(3) && !b.get(4));
        b.clear(1_000);
        assert!(!b.get(1_000));
    }

    /// The count a scrape reads is kept, not a walk of the words: it follows
    /// repeated sets and clears, clears of unset bits, and truncation.
    #[test]
    fn bitset_keeps_its_count() {
        let mut b = BitSet::default();
        for i in (0..10_000).step_by(3) {
            b.set(i);
            b.set(i);
        }
        assert_eq!(b.count(), 3_334);
        for i in (0..10_000).step_by(6) {
            b.clear(i);
            b.clear(i);
        }
        b.clear(1);
        b.clear(1_000_000);
        assert_eq!(b.count(), b.popcount());
        assert_eq!(b.count(), 1_667);
        b.truncate(5_000);
        assert_eq!(b.count(), b.popcount());
        b.set(4_999);
        b.set(6_001);
        assert_eq!(b.count(), b.popcount());
    }

    #[test]
    fn enqueue_dedupes_and_respects_the_dump_cursor() {
        let mut f = FamilyExport::default();
        assert!(f.enqueue(5, true));
        assert!(f.enqueue(5, true));
        assert_eq!(f.queue.len(), 1);
        // Empty and never advertised: nothing to send, nothing held.
        assert!(!f.enqueue(6, false));
        f.advertised.set(7);
        assert!(f.enqueue(7, false));
        assert_eq!(f.queue.len(), 2);
        f.cursor = Some(10);
        f.enqueue(12, true);
        assert_eq!(f.queue.len(), 2, "the dump will reach slot 12");
        f.enqueue(8, true);
        assert_eq!(f.queue.len(), 3);
    }

    #[test]
    fn a_burst_past_the_fifo_limit_is_swept_from_the_bitset_each_slot_once() {
        use super::super::table::Prefix4;
        let table = Table::<Prefix4>::default();
        let mut f = FamilyExport::default();
        // A burst of changes in descending slot order, twice the FIFO's room.
        let burst = 2 * QUEUE_LIMIT as u32;
        for slot in (0..burst).rev() {
            assert!(f.enqueue(slot, true));
        }
        assert_eq!(f.queue.len(), QUEUE_LIMIT);
        assert!(f.queue.capacity() <= QUEUE_LIMIT, "the FIFO stays within its bound");
        assert_eq!(f.queued(), burst as usize);
        let mut out = Vec::new();
        // The FIFO first, in arrival order.
        for _ in 0..QUEUE_LIMIT {
            out.push(f.next_slot(&table).unwrap());
        }
        assert_eq!(out, (QUEUE_LIMIT as u32..burst).rev().collect::<Vec<_>>());
        // Then the sweep in slot order; a change behind it (and one already
        // waiting) is found, the FIFO stays unused while the sweep runs.
        assert_eq!(f.next_slot(&table), Some(0));
        assert_eq!(f.next_slot(&table), Some(1));
        assert!(f.enqueue(0, true));
        assert!(f.enqueue(5, true));
        assert!(f.queue.is_empty());
        let mut rest = Vec::new();
        while let Some(slot) = f.next_slot(&table) {
            rest.push(slot);
        }
        let mut expected = vec![0];
        expected.extend(2..QUEUE_LIMIT as u32);
        assert_eq!(rest, expected);
        assert!(!f.pending() && f.queued() == 0);
        // Back to the FIFO for the next change.
        assert!(f.enqueue(7, true));
        assert_eq!(f.queue.len(), 1);
    }
}
