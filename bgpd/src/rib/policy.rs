//! Routing policy in the RIB (issue #12, `crate::policy`): each peer's import
//! chain between decoding and the Adj-RIB-In / Loc-RIB, and its export chain
//! in the export decision (`adj_out::decide`).
//!
//! # Import
//! A peer without a chain (or with `accept-all`) takes `import`'s original
//! path: one interning per UPDATE and family, nothing per prefix. With a
//! chain, the attribute conditions are evaluated once per UPDATE and family
//! ([`CompiledChain::prepare`]); when no statement that can still match reads
//! the prefix, one verdict serves the whole UPDATE, otherwise each prefix
//! costs its trie lookups ([`CompiledChain::select`]) and the verdict is
//! computed once per distinct selection. Modified attribute sets are interned
//! like received ones, so a million prefixes given the same LOCAL_PREF share
//! one set. A rejected prefix withdraws the peer's earlier path for it (the
//! re-announcement replaced it; RFC 4271 §9.1.2). RFC 8326 GRACEFUL_SHUTDOWN
//! is applied after the chain (LOCAL_PREF 0 unless the chain set LOCAL_PREF).
//!
//! # Export
//! The export chain runs on the route as the Loc-RIB holds it, before the
//! usual rewrite (`export::rewrite`). Its result is cached with the attribute
//! set like the rewrite (per receiving peer, and per [`Selection`] when the
//! chain reads the prefix); [`Rib::set_peer_policy`] drops the cached results
//! of that peer, so a changed chain is evaluated afresh.

use std::borrow::Cow;
use std::net::IpAddr;

use super::intern::AttrId;
use super::table::{Path, SourceIndex};
use super::{ApplyStats, PeerId, PeerPolicy, PolicyCounters, Rib, RibError};
use crate::policy::{
    CompiledChain, Context, NextHopAction, PathView, PrefixCursor, Selection, Verdict,
};
use crate::wire::{NextHop, Nlri, PathAttributes};

/// The address a next hop is matched as (`match.next_hop_set`).
pub(super) fn next_hop_address(next_hop: Option<NextHop>) -> Option<IpAddr> {
    next_hop.map(|next_hop| match next_hop {
        NextHop::V4(address) => IpAddr::V4(address),
        NextHop::V6 { global, .. } => IpAddr::V6(global),
    })
}

impl Rib {
    /// Sets the chains applied to `peer`'s routes (import) and to what it is
    /// sent (export). Takes effect for the next UPDATE and the next export
    /// decision; re-queue the table ([`Rib::queue_full_table`]) to apply a
    /// changed export chain to what was already sent. Chains that accept
    /// everything are dropped, so the fast path applies.
    pub fn set_peer_policy(
        &mut self,
        peer: PeerId,
        mut policy: PeerPolicy,
    ) -> Result<(), RibError> {
        let source = self.peer_index(peer)?;
        for chain in [&mut policy.import, &mut policy.export] {
            if chain.as_ref().is_some_and(|c| c.accepts_all()) {
                *chain = None;
            }
        }
        if let Some(state) = self.core.source_state(source) {
            state.policy = policy;
            state.counters = PolicyCounters::default();
            state.export_counters = PolicyCounters::default();
        }
        self.core.attrs.forget_exports_of(source);
        Ok(())
    }

    /// The peer's import counters (see [`PolicyCounters`] for when they restart).
    pub fn policy_counters(&self, peer: PeerId) -> Result<PolicyCounters, RibError> {
        let source = self.peer_index(peer)?;
        Ok(self
            .core
            .sources
            .get(source as usize)
            .and_then(Option::as_ref)
            .map_or_else(PolicyCounters::default, |s| s.counters))
    }

    /// The peer's export counters (decisions of its export chain).
    pub fn export_policy_counters(&self, peer: PeerId) -> Result<PolicyCounters, RibError> {
        let source = self.peer_index(peer)?;
        Ok(self
            .core
            .sources
            .get(source as usize)
            .and_then(Option::as_ref)
            .map_or_else(PolicyCounters::default, |s| s.export_counters))
    }

    pub(super) fn count(
        &mut self,
        source: SourceIndex,
        accepted: usize,
        rejected: usize,
        modified: usize,
    ) {
        if let Some(state) = self.core.source_state(source) {
            state.counters.accepted += accepted as u64;
            state.counters.rejected += rejected as u64;
            state.counters.modified += modified as u64;
        }
    }

    /// One UPDATE's announcements of one family through `chain`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn announce_filtered(
        &mut self,
        source: SourceIndex,
        chain: &CompiledChain,
        context: &Context,
        attributes: &PathAttributes,
        next_hop: Option<NextHop>,
        nlri: &[Nlri],
        stats: &mut ApplyStats,
    ) {
        let view = PathView::new(attributes, next_hop_address(next_hop));
        let prepared = chain.prepare(view, context);
        let independent = prepared.is_prefix_independent();
        // Verdicts of this UPDATE by selection (one entry when independent):
        // the interned result (holding one reference) and whether it changed.
        let mut verdicts: Vec<(Selection, Option<(AttrId, bool)>)> = Vec::new();
        let (mut accepted, mut rejected, mut modified) = (0, 0, 0);
        // NLRI come in address order as a rule: one prefix-set search per region.
        let mut cursor = PrefixCursor::default();
        for n in nlri {
            let index = if independent && !verdicts.is_empty() {
                0
            } else {
                let selection = chain.select_near(&prepared, &n.prefix, &mut cursor);
                match verdicts.iter().position(|(s, _)| *s == selection) {
                    Some(index) => index,
                    None => {
                        let verdict = chain.outcome(&selection, view, context);
                        let result = self.intern_verdict(verdict, attributes, next_hop);
                        verdicts.push((selection, result));
                        verdicts.len() - 1
                    }
                }
            };
            match verdicts[index].1 {
                Some((id, changed)) => {
                    let best_changed = with_table!(&mut self, prefix = n.prefix, |core, t, p| {
                        core.attrs.retain(id);
                        core.announce(t, p, Path::new(source, id))
                    });
                    stats.announced += 1;
                    stats.best_changed += usize::from(best_changed);
                    accepted += 1;
                    modified += usize::from(changed);
                }
                None => {
                    let (_, best_changed) =
                        with_table!(&mut self, prefix = n.prefix, |core, t, p| {
                            core.withdraw(t, p, source)
                        });
                    stats.best_changed += usize::from(best_changed);
                    stats.filtered += 1;
                    rejected += 1;
                }
            }
        }
        for (_, result) in verdicts {
            if let Some((id, _)) = result {
                self.core.attrs.release(id);
            }
        }
        self.count(source, accepted, rejected, modified);
    }

    /// Interns an import verdict (one reference for the caller), with RFC
    /// 8326 applied; `None` for a rejection.
    fn intern_verdict(
        &mut self,
        verdict: Verdict<'_>,
        received: &PathAttributes,
        next_hop: Option<NextHop>,
    ) -> Option<(AttrId, bool)> {
        let mut accepted = verdict.accepted()?;
        // An address of the route's family replaces the received next hop;
        // `self` and `unchanged` mean nothing on import.
        let next_hop = match (accepted.next_hop, next_hop) {
            (Some(NextHopAction::Address(IpAddr::V4(address))), Some(NextHop::V4(_))) => {
                if received.next_hop.is_some() {
                    accepted.attributes.to_mut().next_hop = Some(address);
                }
                Some(NextHop::V4(address))
            }
            (Some(NextHopAction::Address(IpAddr::V6(global))), Some(NextHop::V6 { .. })) => {
                Some(NextHop::V6 { global, link_local: None })
            }
            _ => next_hop,
        };
        let changed = accepted.is_modified();
        accepted.apply_graceful_shutdown();
        let id = match accepted.attributes {
            Cow::Borrowed(attributes) => self.core.attrs.intern(attributes, next_hop),
            Cow::Owned(attributes) => self.core.attrs.intern_owned(attributes, next_hop),
        };
        Some((id, changed))
    }
}

/// The chain of the export decision for `receiver`, if it has one: borrowed
/// from the sources alone, so the caller may hold the attribute store
/// mutably beside it (no reference count touched per prefix).
pub(super) fn export_chain(
    sources: &[Option<super::core::SourceState>],
    receiver: SourceIndex,
) -> Option<(&CompiledChain, Context)> {
    let state = sources.get(receiver as usize)?.as_ref()?;
    state.policy.export.as_deref().map(|chain| (chain, state.policy.context))
}
