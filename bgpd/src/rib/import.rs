//! Import: UPDATEs from peers into the Adj-RIB-In and Loc-RIB (RFC 4271 §9.1,
//! with the loop checks of §9.1.2 and RFC 4456 §8, LOCAL_PREF from eBGP
//! ignored as §5.1.5 says), and the routes local sources originate.

use std::borrow::Cow;

use ipnet::IpNet;

use super::best::SourceFacts;
use super::table::{Path, SourceIndex};
use super::{ApplyStats, PeerId, Rib, RibError, Source};
use crate::wire::{Family, NextHop, Nlri, Origin, PathAttributes, UpdateMessage};

impl Rib {
    /// Apply one UPDATE from `peer`: withdrawals first, then announcements; the
    /// attribute set is interned once per family in the message.
    pub fn apply_update(
        &mut self,
        peer: PeerId,
        update: &UpdateMessage,
    ) -> Result<ApplyStats, RibError> {
        let source = self.peer_index(peer)?;
        self.keep_pre_policy(source, update);
        let mut stats = ApplyStats::default();
        let unreach = update.mp_unreach.iter().flat_map(|u| &u.withdrawn);
        for nlri in update.withdrawn.iter().chain(unreach) {
            let (had, changed) = with_table!(&mut self, prefix = nlri.prefix, |core, t, p| core
                .withdraw(t, p, source));
            stats.withdrawn += usize::from(had);
            stats.best_changed += usize::from(changed);
        }
        if !update.nlri.is_empty() {
            let next_hop = update.attributes.next_hop.map(NextHop::V4);
            self.announce_all(source, &update.attributes, next_hop, &update.nlri, &mut stats);
        }
        if let Some(reach) = &update.mp_reach {
            self.announce_all(
                source,
                &update.attributes,
                Some(reach.next_hop),
                &reach.nlri,
                &mut stats,
            );
        }
        Ok(stats)
    }

    pub(super) fn announce_all(
        &mut self,
        source: SourceIndex,
        attributes: &PathAttributes,
        next_hop: Option<NextHop>,
        nlri: &[Nlri],
        stats: &mut ApplyStats,
    ) {
        let Some(state) = self.core.sources.get(source as usize).and_then(Option::as_ref) else {
            return;
        };
        let ibgp = state.facts.ibgp;
        // Our AS, and the one we meet this peer with (its `local_asn`).
        let own_asn = state.policy.context.local_asn;
        let looped = attributes.as_path.contains(self.core.local.asn)
            || (own_asn != 0 && attributes.as_path.contains(own_asn))
            || (ibgp && attributes.originator_id == Some(self.core.local.router_id));
        if looped {
            self.reject_all(source, nlri, stats);
            stats.rejected += nlri.len();
            return;
        }
        let mut attributes = if !ibgp && attributes.local_pref.is_some() {
            Cow::Owned(PathAttributes { local_pref: None, ..attributes.clone() })
        } else {
            Cow::Borrowed(attributes)
        };
        if let Some(chain) = state.policy.import.clone() {
            let context = state.policy.context;
            if chain.rejects_all() {
                self.reject_all(source, nlri, stats);
                stats.filtered += nlri.len();
                self.count(source, 0, nlri.len(), 0);
            } else {
                self.announce_filtered(
                    source,
                    &chain,
                    &context,
                    &attributes,
                    next_hop,
                    nlri,
                    stats,
                );
            }
            return;
        }
        // No import policy (or accept-all): the route as received, with RFC
        // 8326 applied once for the whole attribute set.
        crate::policy::graceful_shutdown(&mut attributes, false);
        // One reference held for the duration of the loop, so a set is not
        // freed and re-created while paths of this message replace each other.
        let id = self.core.attrs.intern(&attributes, next_hop);
        for n in nlri {
            let changed = with_table!(&mut self, prefix = n.prefix, |core, t, p| {
                core.attrs.retain(id);
                core.announce(t, p, Path::new(source, id))
            });
            stats.announced += 1;
            stats.best_changed += usize::from(changed);
        }
        self.core.attrs.release(id);
        self.count(source, nlri.len(), 0, 0);
    }

    /// Withdraws any earlier path of `source` for each prefix of a rejected
    /// announcement (an implicit withdrawal, RFC 4271 §9.1.2 / RFC 7606 §2).
    pub(super) fn reject_all(
        &mut self,
        source: SourceIndex,
        nlri: &[Nlri],
        stats: &mut ApplyStats,
    ) {
        for n in nlri {
            let (_, changed) =
                with_table!(&mut self, prefix = n.prefix, |core, t, p| core.withdraw(t, p, source));
            stats.best_changed += usize::from(changed);
        }
    }

    /// Originate `prefix` from a local source. The AS_PATH is kept as given (an
    /// API client may originate with a path, e.g. to prepend; config routes
    /// pass an empty one) and ORIGIN defaults to IGP. `next_hop: None` announces ourselves as next hop.
    /// Returns whether the best path of the prefix changed.
    pub fn originate(
        &mut self,
        source: Source,
        prefix: IpNet,
        mut attributes: PathAttributes,
        next_hop: Option<NextHop>,
    ) -> Result<bool, RibError> {
        let index = self.local_index(source)?;
        let family = Family::of(&prefix);
        if let Some(next_hop) = next_hop {
            let fits = matches!(
                (family, next_hop),
                (Family::Ipv4Unicast, NextHop::V4(_)) | (Family::Ipv6Unicast, NextHop::V6 { .. })
            );
            if !fits {
                return Err(RibError::NextHopFamily { prefix, next_hop });
            }
        }
        attributes.origin.get_or_insert(Origin::Igp);
        attributes.next_hop = match next_hop {
            Some(NextHop::V4(address)) => Some(address),
            _ => None,
        };
        let id = self.core.attrs.intern_owned(attributes, next_hop);
        let path = Path::new(index, id);
        Ok(with_table!(&mut self, prefix = prefix, |core, t, p| core.announce(t, p, path)))
    }

    /// Withdraw a route `source` originated. Returns whether it existed.
    pub fn withdraw_local(&mut self, source: Source, prefix: IpNet) -> Result<bool, RibError> {
        let index = self.local_index(source)?;
        Ok(with_table!(&mut self, prefix = prefix, |core, t, p| core.withdraw(t, p, index).0))
    }

    pub(super) fn local_index(&mut self, source: Source) -> Result<SourceIndex, RibError> {
        if matches!(source, Source::Peer(_)) {
            return Err(RibError::NotLocal(source));
        }
        if let Some(&index) = self.core.source_index.get(&source) {
            return Ok(index);
        }
        let facts = SourceFacts {
            source,
            local: true,
            ibgp: false,
            router_id: self.core.local.router_id,
            address: None,
        };
        Ok(self.core.register(source, facts)?.0)
    }
}
