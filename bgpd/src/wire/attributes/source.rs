//! What the UPDATE encoder reads of an attribute set (RFC 4271 §4.3, §5),
//! whatever form the set is held in: a [`PathAttributes`], or the RIB's packed
//! form read in place ([`super::packed::PackedView`]).
//!
//! Why: the RIB stores exported attribute sets packed. Before this trait, an
//! export batch had to unpack each set into a `PathAttributes` (five to ten
//! allocations) for the session to encode it; a route server kept a memo of
//! 65,536 unpacked sets (about 24 MB) so 100 receivers did not each unpack
//! the same set, and still paid for the copies made in the RIB's thread and
//! freed in the sessions'. Encoding straight from the packed bytes needs
//! neither: a batch carries the shared packed set, and each session writes
//! the wire form from it.
//!
//! Every list is given as an iterator over borrowed elements, so neither form
//! allocates to be encoded.

use std::net::Ipv4Addr;

use super::{Aggregator, LargeCommunity, Origin, PathAttributes, SegmentType};

/// The single-valued attributes, which both forms hold as plain values.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Scalars {
    pub origin: Option<Origin>,
    /// The NEXT_HOP attribute (IPv4 routes outside MP_REACH_NLRI).
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub originator_id: Option<Ipv4Addr>,
}

/// An attribute set as the encoder reads it (see the module docs).
pub trait AttributeSource {
    fn scalars(&self) -> Scalars;
    /// COMMUNITIES, each as its 32-bit value.
    fn communities(&self) -> impl ExactSizeIterator<Item = u32>;
    fn cluster_list(&self) -> impl ExactSizeIterator<Item = Ipv4Addr>;
    fn extended_communities(&self) -> impl ExactSizeIterator<Item = [u8; 8]>;
    fn large_communities(&self) -> impl ExactSizeIterator<Item = LargeCommunity>;
    /// The AS_PATH's segments, 4-octet ASNs, in order.
    fn segments(&self) -> impl Iterator<Item = Segment<'_>> + Clone;
    /// Attributes the speaker does not interpret, in the order held.
    fn unknown(&self) -> impl Iterator<Item = Unknown<'_>>;
}

/// One AS_PATH segment, borrowed.
#[derive(Copy, Clone, Debug)]
pub struct Segment<'a> {
    pub kind: SegmentType,
    pub asns: Asns<'a>,
}

/// A segment's ASNs, borrowed from either form.
#[derive(Copy, Clone, Debug)]
pub enum Asns<'a> {
    Unpacked(&'a [u32]),
    /// Little-endian `u32`s, four bytes each (the packed form).
    Packed(&'a [u8]),
}

impl<'a> Asns<'a> {
    pub fn len(&self) -> usize {
        match self {
            Asns::Unpacked(asns) => asns.len(),
            Asns::Packed(bytes) => bytes.len() / 4,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(self) -> impl Iterator<Item = u32> + 'a {
        let (unpacked, packed): (&'a [u32], &'a [u8]) = match self {
            Asns::Unpacked(asns) => (asns, &[]),
            Asns::Packed(bytes) => (&[], bytes),
        };
        unpacked
            .iter()
            .copied()
            .chain(packed.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }

    /// Runs of at most `size` ASNs (`size` > 0), in order.
    pub fn chunks(self, size: usize) -> impl Iterator<Item = Asns<'a>> + 'a {
        let size = size.max(1);
        let (unpacked, packed): (&'a [u32], &'a [u8]) = match self {
            Asns::Unpacked(asns) => (asns, &[]),
            Asns::Packed(bytes) => (&[], bytes),
        };
        unpacked.chunks(size).map(Asns::Unpacked).chain(packed.chunks(4 * size).map(Asns::Packed))
    }
}

/// An attribute the speaker does not interpret, borrowed.
#[derive(Copy, Clone, Debug)]
pub struct Unknown<'a> {
    pub flags: u8,
    pub type_code: u8,
    pub value: &'a [u8],
}

impl Unknown<'_> {
    pub fn is_transitive(&self) -> bool {
        self.flags & super::flags::TRANSITIVE != 0
    }
}

impl AttributeSource for PathAttributes {
    fn scalars(&self) -> Scalars {
        Scalars {
            origin: self.origin,
            next_hop: self.next_hop,
            med: self.med,
            local_pref: self.local_pref,
            atomic_aggregate: self.atomic_aggregate,
            aggregator: self.aggregator,
            originator_id: self.originator_id,
        }
    }

    fn communities(&self) -> impl ExactSizeIterator<Item = u32> {
        self.communities.iter().map(|c| c.0)
    }

    fn cluster_list(&self) -> impl ExactSizeIterator<Item = Ipv4Addr> {
        self.cluster_list.iter().copied()
    }

    fn extended_communities(&self) -> impl ExactSizeIterator<Item = [u8; 8]> {
        self.extended_communities.iter().map(|c| c.0)
    }

    fn large_communities(&self) -> impl ExactSizeIterator<Item = LargeCommunity> {
        self.large_communities.iter().copied()
    }

    fn segments(&self) -> impl Iterator<Item = Segment<'_>> + Clone {
        self.as_path
            .segments
            .iter()
            .map(|s| Segment { kind: s.kind, asns: Asns::Unpacked(&s.asns) })
    }

    fn unknown(&self) -> impl Iterator<Item = Unknown<'_>> {
        self.unknown.iter().map(|u| Unknown {
            flags: u.flags,
            type_code: u.type_code,
            value: &u.value,
        })
    }
}
