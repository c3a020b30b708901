//! A compact, immutable storage form of [`PathAttributes`]: one allocation
//! holding every attribute, the scalars first and each list as a count and
//! its packed elements.
//!
//! The RIB keeps hundreds of thousands of distinct attribute sets on a full
//! table (and their exported copies). As a `PathAttributes` behind an `Arc`
//! each costs about 200 bytes of inline fields (six `Vec`s, mostly empty) plus
//! one allocation per AS path segment list, its ASNs, and each list present:
//! about 350 bytes for a set whose wire form is about 50. Packed, the same set
//! is one allocation of its wire size plus the `Arc`'s 16-byte header.
//!
//! The form is a function of the attributes, so two sets are equal exactly
//! when their packed bytes are (equality and hashing compare bytes), and
//! [`PackedAttributes::unpack`] gives back the set it was made from. It is
//! never sent or stored outside the process; the wire codec (RFC 4271 §4.3)
//! stays the only external form.
//!
//! ```text
//! scalars: u8 bit set (origin, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE,
//!          AGGREGATOR, ORIGINATOR_ID), then the present ones in that order,
//!          each u32 little-endian (origin: one byte; atomic: none)
//! lists:   u8 bit set (AS_PATH, COMMUNITIES, CLUSTER_LIST, EXTENDED,
//!          LARGE, unknown), then each present one: a LEB128 count and its
//!          elements (a segment: type byte, LEB128 count, u32 ASNs; an unknown
//!          attribute: flags, type code, LEB128 length, value bytes)
//! route:   (only in the route form, [`PackedAttributes::pack_route`]) the
//!          next hop's bytes (none, 4, 16, or 16 + 16 link-local), then one
//!          byte: its kind in the low two bits, the caller's flag in the top
//! ```
//!
//! The RIB keeps its sets in the route form, so a set and the next hop it
//! goes with are one allocation, hashed and compared as one byte string, and
//! its slot holds no 36-byte `Option<NextHop>` beside it (nor the exported
//! copy a second one and its too-large flag). [`PackedAttributes::unpack`]
//! stops where the attributes end, so it reads both forms.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;

mod view;

use crate::wire::NextHop;
pub use view::PackedView;

use super::{
    Aggregator, AsSegment, Community, ExtendedCommunity, LargeCommunity, Origin, PathAttributes,
    SegmentType, UnknownAttribute,
};

const ORIGIN: u8 = 1;
const NEXT_HOP: u8 = 1 << 1;
const MED: u8 = 1 << 2;
const LOCAL_PREF: u8 = 1 << 3;
const ATOMIC_AGGREGATE: u8 = 1 << 4;
const AGGREGATOR: u8 = 1 << 5;
const ORIGINATOR_ID: u8 = 1 << 6;

/// The route trailer's last byte: the next hop's kind (low two bits) and the
/// caller's flag.
const ROUTE_NONE: u8 = 0;
const ROUTE_V4: u8 = 1;
const ROUTE_V6: u8 = 2;
const ROUTE_V6_LINK_LOCAL: u8 = 3;
const ROUTE_KIND: u8 = 0b11;
const ROUTE_FLAG: u8 = 1 << 7;

const AS_PATH: u8 = 1;
const COMMUNITIES: u8 = 1 << 1;
const CLUSTER_LIST: u8 = 1 << 2;
const EXTENDED: u8 = 1 << 3;
const LARGE: u8 = 1 << 4;
const UNKNOWN: u8 = 1 << 5;

/// An attribute set packed into one shared allocation (see the module docs).
/// Cloning shares it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PackedAttributes(Arc<[u8]>);

impl std::fmt::Debug for PackedAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.unpack().fmt(f)
    }
}

impl From<&PathAttributes> for PackedAttributes {
    fn from(attributes: &PathAttributes) -> Self {
        Self::pack(attributes)
    }
}

impl PackedAttributes {
    /// Packs `attributes`.
    pub fn pack(attributes: &PathAttributes) -> Self {
        let mut out = Vec::with_capacity(packed_len(attributes));
        pack_into(attributes, &mut out);
        Self(Arc::from(out))
    }

    /// Packs `attributes` into `out` (cleared first), for a comparison with
    /// [`Self::bytes`] that allocates nothing once `out` has grown.
    pub fn pack_to(attributes: &PathAttributes, out: &mut Vec<u8>) {
        out.clear();
        pack_into(attributes, out);
    }

    /// Packs `attributes` with `next_hop` and `flag` in the route form (see
    /// the module docs) into `out` (cleared first). Two route forms are equal
    /// exactly when attributes, next hop and flag are.
    pub fn pack_route_to(
        attributes: &PathAttributes,
        next_hop: Option<NextHop>,
        flag: bool,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        pack_into(attributes, out);
        let kind = match next_hop {
            None => ROUTE_NONE,
            Some(NextHop::V4(address)) => {
                out.extend_from_slice(&address.octets());
                ROUTE_V4
            }
            Some(NextHop::V6 { global, link_local: None }) => {
                out.extend_from_slice(&global.octets());
                ROUTE_V6
            }
            Some(NextHop::V6 { global, link_local: Some(link_local) }) => {
                out.extend_from_slice(&global.octets());
                out.extend_from_slice(&link_local.octets());
                ROUTE_V6_LINK_LOCAL
            }
        };
        out.push(kind | if flag { ROUTE_FLAG } else { 0 });
    }

    /// As [`Self::pack_route_to`], into a new allocation.
    pub fn pack_route(attributes: &PathAttributes, next_hop: Option<NextHop>, flag: bool) -> Self {
        let mut out = Vec::with_capacity(packed_len(attributes) + 33);
        Self::pack_route_to(attributes, next_hop, flag, &mut out);
        Self(Arc::from(out))
    }

    /// The next hop of a route form ([`Self::pack_route`]); `None` for a set
    /// packed without one, or in the plain form.
    pub fn route_next_hop(&self) -> Option<NextHop> {
        let (&last, rest) = self.0.split_last()?;
        let octets =
            |from: usize| -> Option<[u8; 16]> { rest.get(from..from + 16)?.try_into().ok() };
        match last & ROUTE_KIND {
            ROUTE_V4 => {
                let bytes: [u8; 4] = rest.get(rest.len().checked_sub(4)?..)?.try_into().ok()?;
                Some(NextHop::V4(Ipv4Addr::from(bytes)))
            }
            ROUTE_V6 => Some(NextHop::V6 {
                global: octets(rest.len().checked_sub(16)?)?.into(),
                link_local: None,
            }),
            ROUTE_V6_LINK_LOCAL => {
                let from = rest.len().checked_sub(32)?;
                Some(NextHop::V6 {
                    global: octets(from)?.into(),
                    link_local: Some(octets(from + 16)?.into()),
                })
            }
            _ => None,
        }
    }

    /// The flag of a route form ([`Self::pack_route`]).
    pub fn route_flag(&self) -> bool {
        self.0.last().is_some_and(|last| last & ROUTE_FLAG != 0)
    }

    /// Whether this route form and `other` differ at most in their flag.
    pub fn same_route(&self, other: &Self) -> bool {
        match (self.0.split_last(), other.0.split_last()) {
            (Some((a, ra)), Some((b, rb))) => ra == rb && a & ROUTE_KIND == b & ROUTE_KIND,
            _ => false,
        }
    }

    /// Packs bytes made by [`Self::pack_to`].
    pub fn from_packed(bytes: &[u8]) -> Self {
        Self(Arc::from(bytes))
    }

    /// The packed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether both share one allocation (then they are equal).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Heap bytes of the allocation (the `Arc`'s two counters and the bytes).
    pub fn heap_bytes(&self) -> usize {
        16 + self.0.len()
    }

    /// The attribute set these bytes were packed from.
    pub fn unpack(&self) -> PathAttributes {
        let mut attributes = PathAttributes::default();
        self.unpack_into(&mut attributes);
        attributes
    }

    /// As [`Self::unpack`], into `out`, reusing the capacity of its lists
    /// (and of its AS_PATH segments' ASN lists): the export path unpacks a
    /// stored set for every new attribute set it sends, and a reused `out`
    /// makes that free of allocations once it has grown (one allocation per
    /// list and segment before, about five per exported set).
    pub fn unpack_into(&self, out: &mut PathAttributes) {
        let PathAttributes {
            origin,
            as_path,
            next_hop,
            med,
            local_pref,
            atomic_aggregate,
            aggregator,
            communities,
            originator_id,
            cluster_list,
            extended_communities,
            large_communities,
            unknown,
        } = out;
        let mut r = Reader { bytes: &self.0 };
        let scalars = r.u8();
        *origin = (scalars & ORIGIN != 0).then(|| Origin::from_u8(r.u8())).flatten();
        *next_hop = (scalars & NEXT_HOP != 0).then(|| Ipv4Addr::from(r.u32()));
        *med = (scalars & MED != 0).then(|| r.u32());
        *local_pref = (scalars & LOCAL_PREF != 0).then(|| r.u32());
        *atomic_aggregate = scalars & ATOMIC_AGGREGATE != 0;
        *aggregator = (scalars & AGGREGATOR != 0).then(|| {
            let asn = r.u32();
            Aggregator { asn, address: Ipv4Addr::from(r.u32()) }
        });
        *originator_id = (scalars & ORIGINATOR_ID != 0).then(|| Ipv4Addr::from(r.u32()));
        let lists = r.u8();
        let segments = &mut as_path.segments;
        if lists & AS_PATH != 0 {
            let count = r.count();
            let mut used = 0;
            while used < count && !r.bytes.is_empty() {
                let kind = segment_type(r.u8());
                if let Some(segment) = segments.get_mut(used) {
                    segment.kind = kind;
                    r.list_into(&mut segment.asns, Reader::u32);
                } else {
                    let mut asns = Vec::new();
                    r.list_into(&mut asns, Reader::u32);
                    segments.push(AsSegment { kind, asns });
                }
                used += 1;
            }
            segments.truncate(used);
        } else {
            segments.clear();
        }
        r.list_into_if(lists & COMMUNITIES != 0, communities, |r| Community(r.u32()));
        r.list_into_if(lists & CLUSTER_LIST != 0, cluster_list, |r| Ipv4Addr::from(r.u32()));
        r.list_into_if(lists & EXTENDED != 0, extended_communities, |r| {
            let mut value = [0; 8];
            for byte in &mut value {
                *byte = r.u8();
            }
            ExtendedCommunity(value)
        });
        r.list_into_if(lists & LARGE != 0, large_communities, |r| LargeCommunity {
            global_admin: r.u32(),
            local_data_1: r.u32(),
            local_data_2: r.u32(),
        });
        r.list_into_if(lists & UNKNOWN != 0, unknown, |r| {
            let flags = r.u8();
            let type_code = r.u8();
            let len = r.count();
            UnknownAttribute { flags, type_code, value: Bytes::copy_from_slice(r.take(len)) }
        });
    }

    /// Whether `asn` appears anywhere in the AS_PATH (as
    /// [`super::AsPath::contains`], without unpacking).
    pub fn as_path_contains(&self, asn: u32) -> bool {
        let mut r = Reader { bytes: &self.0 };
        let scalars = r.u8();
        let skip: usize = [
            (ORIGIN, 1),
            (NEXT_HOP, 4),
            (MED, 4),
            (LOCAL_PREF, 4),
            (AGGREGATOR, 8),
            (ORIGINATOR_ID, 4),
        ]
        .iter()
        .filter(|(bit, _)| scalars & bit != 0)
        .map(|(_, len)| len)
        .sum();
        r.take(skip);
        if r.u8() & AS_PATH == 0 {
            return false;
        }
        for _ in 0..r.count() {
            r.u8();
            for _ in 0..r.count() {
                if r.u32() == asn {
                    return true;
                }
            }
        }
        false
    }
}

fn segment_type(value: u8) -> SegmentType {
    match value {
        1 => SegmentType::Set,
        3 => SegmentType::ConfedSequence,
        4 => SegmentType::ConfedSet,
        _ => SegmentType::Sequence,
    }
}

/// The length [`pack_into`] writes (counts taken as at most 5 bytes of LEB128:
/// an upper bound, so the buffer never grows).
fn packed_len(a: &PathAttributes) -> usize {
    let count = 5;
    let segments: usize = a.as_path.segments.iter().map(|s| 1 + count + 4 * s.asns.len()).sum();
    let unknown: usize = a.unknown.iter().map(|u| 2 + count + u.value.len()).sum();
    2 + 1
        + 4 * 6
        + 6 * count
        + segments
        + 4 * a.communities.len()
        + 4 * a.cluster_list.len()
        + 8 * a.extended_communities.len()
        + 12 * a.large_communities.len()
        + unknown
}

fn pack_into(a: &PathAttributes, out: &mut Vec<u8>) {
    let scalars = out.len();
    out.push(0);
    let mut bits = 0;
    if let Some(origin) = a.origin {
        bits |= ORIGIN;
        out.push(origin as u8);
    }
    let mut put = |bit: u8, value: Option<u32>, out: &mut Vec<u8>| {
        if let Some(value) = value {
            bits |= bit;
            out.extend_from_slice(&value.to_le_bytes());
        }
    };
    put(NEXT_HOP, a.next_hop.map(u32::from), out);
    put(MED, a.med, out);
    put(LOCAL_PREF, a.local_pref, out);
    if let Some(aggregator) = a.aggregator {
        put(AGGREGATOR, Some(aggregator.asn), out);
        out.extend_from_slice(&u32::from(aggregator.address).to_le_bytes());
    }
    put(ORIGINATOR_ID, a.originator_id.map(u32::from), out);
    if a.atomic_aggregate {
        bits |= ATOMIC_AGGREGATE;
    }
    out[scalars] = bits;

    let lists = out.len();
    out.push(0);
    let mut bits = 0;
    if !a.as_path.segments.is_empty() {
        bits |= AS_PATH;
        put_count(out, a.as_path.segments.len());
        for segment in &a.as_path.segments {
            out.push(segment.kind as u8);
            put_count(out, segment.asns.len());
            for asn in &segment.asns {
                out.extend_from_slice(&asn.to_le_bytes());
            }
        }
    }
    if !a.communities.is_empty() {
        bits |= COMMUNITIES;
        put_count(out, a.communities.len());
        for community in &a.communities {
            out.extend_from_slice(&community.0.to_le_bytes());
        }
    }
    if !a.cluster_list.is_empty() {
        bits |= CLUSTER_LIST;
        put_count(out, a.cluster_list.len());
        for id in &a.cluster_list {
            out.extend_from_slice(&u32::from(*id).to_le_bytes());
        }
    }
    if !a.extended_communities.is_empty() {
        bits |= EXTENDED;
        put_count(out, a.extended_communities.len());
        for community in &a.extended_communities {
            out.extend_from_slice(&community.0);
        }
    }
    if !a.large_communities.is_empty() {
        bits |= LARGE;
        put_count(out, a.large_communities.len());
        for c in &a.large_communities {
            for value in [c.global_admin, c.local_data_1, c.local_data_2] {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
    }
    if !a.unknown.is_empty() {
        bits |= UNKNOWN;
        put_count(out, a.unknown.len());
        for attribute in &a.unknown {
            out.push(attribute.flags);
            out.push(attribute.type_code);
            put_count(out, attribute.value.len());
            out.extend_from_slice(&attribute.value);
        }
    }
    out[lists] = bits;
}

/// LEB128: seven bits a byte, low first, the high bit set on all but the last.
fn put_count(out: &mut Vec<u8>, mut count: usize) {
    while count >= 0x80 {
        out.push((count as u8 & 0x7F) | 0x80);
        count >>= 7;
    }
    out.push(count as u8);
}

/// Reads what [`pack_into`] wrote. The bytes are always its own, so running
/// short cannot happen; should it, the reader yields zeros and empty lists
/// rather than panic.
#[derive(Clone)]
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> &'a [u8] {
        let len = len.min(self.bytes.len());
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        head
    }

    fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// A little-endian word; a short tail (never in a set this module
    /// packed) reads zero-padded. The four bytes are read as one array:
    /// copying a slice of unknown length called `memmove` for every word,
    /// and every ASN of a path, the loop check of each exported prefix
    /// (`as_path_contains`) and every unpacked set read words this way.
    fn u32(&mut self) -> u32 {
        if let Some((head, tail)) = self.bytes.split_first_chunk::<4>() {
            self.bytes = tail;
            return u32::from_le_bytes(*head);
        }
        let mut value = [0; 4];
        let head = self.take(4);
        value[..head.len()].copy_from_slice(head);
        u32::from_le_bytes(value)
    }

    fn count(&mut self) -> usize {
        let mut count = 0usize;
        for shift in (0..usize::BITS).step_by(7) {
            let byte = self.u8();
            count |= usize::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        count
    }

    /// A counted list into `out` (cleared first, its capacity kept); the
    /// room reserved is bounded by the bytes left, so a bad count cannot
    /// allocate more than the packed form holds.
    fn list_into<T>(&mut self, out: &mut Vec<T>, mut element: impl FnMut(&mut Self) -> T) {
        out.clear();
        let count = self.count();
        out.reserve(count.min(self.bytes.len()));
        for _ in 0..count {
            if self.bytes.is_empty() {
                break;
            }
            out.push(element(self));
        }
    }

    /// [`Self::list_into`] when the list is `present`, else `out` cleared.
    fn list_into_if<T>(
        &mut self,
        present: bool,
        out: &mut Vec<T>,
        element: impl FnMut(&mut Self) -> T,
    ) {
        if present {
            self.list_into(out, element);
        } else {
            out.clear();
        }
    }
}

#[cfg(test)]
mod reader_tests {
    use super::Reader;

    #[test]
    fn words_are_read_in_order_and_a_short_tail_is_zero_padded() {
        let bytes = [1, 0, 0, 0, 0x78, 0x56, 0x34, 0x12, 0xAA, 0xBB];
        let mut r = Reader { bytes: &bytes };
        assert_eq!(r.u32(), 1);
        assert_eq!(r.u32(), 0x1234_5678);
        assert_eq!(r.u32(), 0xBBAA, "two bytes left: the rest is zero");
        assert_eq!(r.u32(), 0, "nothing left");
        assert!(r.bytes.is_empty());
    }
}
