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

/// Announcements that share one exported attribute set and next hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceGroup {
    /// Shared with the RIB's export cache: the session encodes straight from
    /// it (`wire::attributes::source`), nothing is unpacked per batch.
    pub attributes: PackedAttributes,
    pub next_hop: NextHop,
    pub nlri: Vec<Nlri>,
}

/// Work for one peer: pack `withdrawn` and each group into as few UPDATEs as fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportBatch {
    pub family: Family,
    pub withdrawn: Vec<Nlri>,
    pub announced: Vec<AnnounceGroup>,
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
    /// Whether the batch has anything for the session to send.
    pub fn has_output(&self) -> bool {
        !self.withdrawn.is_empty() || !self.announced.is_empty()
    }

    /// Heap bytes the batch holds (its prefixes and groups), what the
    /// instance's export flow control counts while it is in flight.
    pub fn heap_bytes(&self) -> usize {
        let nlri: usize = self.announced.iter().map(|g| g.nlri.capacity()).sum();
        (self.withdrawn.capacity() + nlri) * size_of::<Nlri>()
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
