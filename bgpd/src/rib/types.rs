//! The RIB's public vocabulary: sources, peer descriptions, results, errors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::policy::{CompiledChain, Context};
use crate::wire::{CodecOptions, Family, NextHop, Nlri, PackedAttributes, PathAttributes};

/// A BGP peer, numbered by the caller (small, stable for the session's life).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// A client of the API that owns routes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnerId(pub u32);

/// Where a route came from. The order is the last tie-break of best-path selection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Originated by the configuration file.
    Static,
    /// Originated by an API client.
    Api(OwnerId),
    /// Learned from a BGP peer.
    Peer(PeerId),
}

/// This router.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LocalInfo {
    pub asn: u32,
    pub router_id: Ipv4Addr,
}

/// A peer, as known once its session is Established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub asn: u32,
    /// Our AS towards it (the neighbor's `local_asn`, else ours): prepended
    /// on export to eBGP, and refused in the AS_PATHs it sends (a loop).
    pub local_asn: u32,
    /// BGP identifier from its OPEN.
    pub router_id: Ipv4Addr,
    pub address: IpAddr,
    /// Normally `asn == local asn`; confederations aside.
    pub ibgp: bool,
    /// Our end of the session: the next hop we announce for ourselves.
    pub local_address: IpAddr,
    /// Next hop for IPv4 routes when `local_address` is IPv6 (or to override it).
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Next hop for IPv6 routes when `local_address` is IPv4 (or to override it).
    pub next_hop_v6: Option<Ipv6Addr>,
    /// Rewrite the next hop to ours towards this iBGP peer too.
    pub next_hop_self: bool,
    /// Families negotiated: the only ones exported to it.
    pub families: Vec<Family>,
    /// The wire options of the session (message size, AS width, ADD-PATH):
    /// what decides whether an exported route can be encoded for it.
    pub codec: CodecOptions,
}

/// A peer's routing policy chains as the RIB applies them (see
/// [`super::Rib::set_peer_policy`]). `None` accepts every route unchanged at
/// no cost; a chain that [`CompiledChain::accepts_all`] is stored as `None`.
#[derive(Clone, Debug, Default)]
pub struct PeerPolicy {
    pub import: Option<Arc<CompiledChain>>,
    pub export: Option<Arc<CompiledChain>>,
    pub context: Context,
}

/// Routes a peer's import (or export) chain accepted (`modified` of them
/// changed) or rejected, in prefixes. Import: each prefix of each UPDATE
/// (and each kept route when `Rib::reapply_import` runs the chain again);
/// export: each export decision for the peer (a prefix sent again after a
/// change of its best path counts again). Both restart from zero when the
/// peer's chains are set (`Rib::set_peer_policy`: a session coming up, a
/// changed policy), and the import ones also when the chain is re-applied
/// from the kept routes, so a reapply or a ROUTE-REFRESH after a policy change
/// judges each route once under the new chain instead of adding to the old
/// counts.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyCounters {
    pub accepted: u64,
    pub rejected: u64,
    pub modified: u64,
}

/// What one `apply_update` did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyStats {
    pub announced: usize,
    pub withdrawn: usize,
    /// Rejected as a loop (our ASN in AS_PATH, our router id as ORIGINATOR_ID).
    pub rejected: usize,
    /// Rejected by the peer's import policy.
    pub filtered: usize,
    /// Prefixes whose best path changed.
    pub best_changed: usize,
}

/// A RIB operation that cannot be done.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("peer {0:?} is not known to the RIB (add_peer first)")]
    UnknownPeer(PeerId),
    #[error("source {0:?} cannot originate routes: only Static and Api can")]
    NotLocal(Source),
    #[error("next hop {next_hop:?} is not of the family of prefix {prefix}")]
    NextHopFamily { prefix: IpNet, next_hop: NextHop },
    #[error("too many route sources: the limit is {0}")]
    TooManySources(usize),
}

/// A route as the queries and change events show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpNet,
    pub source: Source,
    pub attributes: Arc<PathAttributes>,
    /// `None`: originated with the next hop set to ourselves.
    pub next_hop: Option<NextHop>,
    pub stale: bool,
}

/// A change of the Loc-RIB best path of one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BestChange {
    pub family: Family,
    pub prefix: IpNet,
    /// The prefix's table slot (see [`super::Rib::best_at_slot`]): lets a
    /// snapshot walking the slots tell whether it already passed this prefix.
    pub slot: u32,
    pub old: Option<Route>,
    pub new: Option<Route>,
}

/// Announcements that share one exported attribute set and next hop: their
/// prefixes are a run of the batch's one prefix list ([`ExportBatch::groups`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceGroup {
    /// Shared with the RIB's export cache: the session encodes straight from
    /// it (`wire::attributes::source`), nothing is unpacked per batch.
    pub attributes: PackedAttributes,
    pub next_hop: NextHop,
    /// Where the group's prefixes start in the batch's list, and how many.
    start: u32,
    len: u32,
}

/// One group of an [`ExportBatch`] with its prefixes.
#[derive(Copy, Clone, Debug)]
pub struct Group<'a> {
    pub attributes: &'a PackedAttributes,
    pub next_hop: NextHop,
    pub nlri: &'a [Nlri],
}

/// Work for one peer: pack `withdrawn` and each group into as few UPDATEs as fit.
///
/// Why the groups share one prefix list: a real table's prefixes come in
/// short runs of many attribute sets, and a list per group was one or more
/// allocations per group (about 233,000 per full table to one peer, six
/// million for a 100-peer route server), made on the RIB's thread and freed
/// on the session's. The batch holds three lists whatever its shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportBatch {
    pub family: Family,
    pub withdrawn: Vec<Nlri>,
    announced: Vec<AnnounceGroup>,
    /// The prefixes of every group, each group's a contiguous run.
    nlri: Vec<Nlri>,
    /// Prefixes of this batch held back because they cannot be encoded for
    /// the peer (an earlier version it held is in `withdrawn`).
    pub unsendable: Option<Unsendable>,
}

/// Prefixes of one export batch that cannot be encoded for the peer: even one
/// host route with their attributes is larger than the peer's message limit
/// (4,096 octets without RFC 8654 extended messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsendable {
    pub count: usize,
    /// The first of them, to name in the log.
    pub first: IpNet,
    /// The peer's message size limit, in octets.
    pub max_message_len: usize,
}

impl ExportBatch {
    /// An empty batch of `family`.
    pub fn new(family: Family) -> Self {
        Self {
            family,
            withdrawn: Vec::new(),
            announced: Vec::new(),
            nlri: Vec::new(),
            unsendable: None,
        }
    }

    /// Whether the batch has anything for the session to send.
    pub fn has_output(&self) -> bool {
        !self.withdrawn.is_empty() || !self.announced.is_empty()
    }

    /// The announcement groups in the order they are to be sent.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = Group<'_>> + DoubleEndedIterator {
        self.announced.iter().map(|group| Group {
            attributes: &group.attributes,
            next_hop: group.next_hop,
            nlri: &self.nlri[group.start as usize..(group.start + group.len) as usize],
        })
    }

    /// Appends a group with `nlri` after the groups already there: a batch
    /// built whole, as tests build one (the RIB builds with `open_group` and
    /// `place`).
    #[cfg(test)]
    pub fn push_group(
        &mut self,
        attributes: PackedAttributes,
        next_hop: NextHop,
        nlri: impl IntoIterator<Item = Nlri>,
    ) {
        let start = self.nlri.len();
        self.nlri.extend(nlri);
        let len = self.nlri.len() - start;
        self.announced.push(AnnounceGroup {
            attributes,
            next_hop,
            start: start as u32,
            len: len as u32,
        });
    }

    /// Opens a group with no prefixes yet and returns its index, for
    /// [`Self::place`]: the batch is being built and its prefixes come
    /// interleaved across groups.
    pub(crate) fn open_group(&mut self, attributes: PackedAttributes, next_hop: NextHop) -> u32 {
        self.announced.push(AnnounceGroup { attributes, next_hop, start: 0, len: 0 });
        (self.announced.len() - 1) as u32
    }

    /// Lays out `pending` (each prefix with the index of the group it
    /// joined, in the order they came) as the batch's prefix list, each
    /// group's prefixes a run in their order. Called once, after every
    /// [`Self::open_group`]; `pending` is left empty with its capacity.
    pub(crate) fn place(&mut self, pending: &mut Vec<(u32, Nlri)>) {
        let Some(&(_, filler)) = pending.first() else { return };
        for &(group, _) in pending.iter() {
            self.announced[group as usize].len += 1;
        }
        // Each group's start, then its length counts up again as it fills.
        let mut start = 0;
        for group in &mut self.announced {
            group.start = start;
            start += group.len;
            group.len = 0;
        }
        self.nlri = vec![filler; pending.len()];
        for (group, prefix) in pending.drain(..) {
            let group = &mut self.announced[group as usize];
            self.nlri[(group.start + group.len) as usize] = prefix;
            group.len += 1;
        }
    }

    /// Heap bytes the batch holds (its prefixes and groups), what the
    /// instance's export flow control counts while it is in flight.
    pub fn heap_bytes(&self) -> usize {
        (self.withdrawn.capacity() + self.nlri.capacity()) * size_of::<Nlri>()
            + self.announced.capacity() * size_of::<AnnounceGroup>()
    }
}

/// Prefix and path counts of one family.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub prefixes: usize,
    pub paths: usize,
}

/// Heap bytes held by the RIB, from capacities.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    pub tables: usize,
    pub attributes: usize,
    pub exports: usize,
}

impl MemoryUsage {
    pub fn total(&self) -> usize {
        self.tables + self.attributes + self.exports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nlri(i: u8) -> Nlri {
        Nlri::new(IpNet::from(IpAddr::V4(Ipv4Addr::new(198, 51, 100, i))))
    }

    fn set(med: u32) -> PackedAttributes {
        PackedAttributes::pack(&PathAttributes { med: Some(med), ..PathAttributes::default() })
    }

    #[test]
    fn interleaved_prefixes_are_laid_out_as_one_run_per_group_in_arrival_order() {
        let hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        let mut batch = ExportBatch::new(Family::Ipv4Unicast);
        let a = batch.open_group(set(1), hop);
        let b = batch.open_group(set(2), hop);
        let c = batch.open_group(set(3), hop);
        let mut pending = vec![(a, nlri(1)), (b, nlri(2)), (a, nlri(3)), (c, nlri(4))];
        pending.extend([(b, nlri(5)), (a, nlri(6))]);
        batch.place(&mut pending);
        assert!(pending.is_empty() && pending.capacity() >= 6, "emptied, capacity kept");
        let groups: Vec<(Option<u32>, Vec<Nlri>)> =
            batch.groups().map(|g| (g.attributes.unpack().med, g.nlri.to_vec())).collect();
        assert_eq!(
            groups,
            vec![
                (Some(1), vec![nlri(1), nlri(3), nlri(6)]),
                (Some(2), vec![nlri(2), nlri(5)]),
                (Some(3), vec![nlri(4)]),
            ]
        );
        assert!(batch.has_output());
        assert!(batch.heap_bytes() >= 6 * size_of::<Nlri>() + 3 * size_of::<AnnounceGroup>());
    }

    #[test]
    fn pushed_groups_follow_each_other_and_an_empty_batch_has_no_output() {
        let hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        let mut batch = ExportBatch::new(Family::Ipv4Unicast);
        batch.place(&mut Vec::new());
        assert!(!batch.has_output() && batch.groups().len() == 0);
        batch.push_group(set(1), hop, [nlri(1), nlri(2)]);
        batch.push_group(set(2), hop, [nlri(3)]);
        let lens: Vec<usize> = batch.groups().map(|g| g.nlri.len()).collect();
        assert_eq!(lens, vec![2, 1]);
        assert_eq!(batch.groups().next_back().map(|g| g.nlri[0]), Some(nlri(3)));
    }
}
