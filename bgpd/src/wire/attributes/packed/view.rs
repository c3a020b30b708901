//! The packed form read in place for the encoder ([`AttributeSource`]): one
//! pass over the bytes records where each list lies, and the lists are then
//! iterated from the bytes, so encoding a packed set allocates nothing.

use std::net::Ipv4Addr;

use super::{
    AGGREGATOR, AS_PATH, ATOMIC_AGGREGATE, CLUSTER_LIST, COMMUNITIES, EXTENDED, LARGE, LOCAL_PREF,
    MED, NEXT_HOP, ORIGIN, ORIGINATOR_ID, PackedAttributes, Reader, UNKNOWN, segment_type,
};
use crate::wire::attributes::source::{Asns, AttributeSource, Scalars, Segment, Unknown};
use crate::wire::attributes::{Aggregator, LargeCommunity, Origin};

/// A counted list of the packed form: its element count and its bytes.
#[derive(Copy, Clone, Debug, Default)]
struct List<'a> {
    count: usize,
    bytes: &'a [u8],
}

/// A packed attribute set, parsed for encoding ([`PackedAttributes::view`]).
#[derive(Copy, Clone, Debug)]
pub struct PackedView<'a> {
    scalars: Scalars,
    as_path: List<'a>,
    communities: List<'a>,
    cluster_list: List<'a>,
    extended: List<'a>,
    large: List<'a>,
    unknown: List<'a>,
}

impl PackedAttributes {
    /// The set read in place, for the encoder.
    pub fn view(&self) -> PackedView<'_> {
        PackedView::of(self.bytes())
    }
}

impl<'a> PackedView<'a> {
    fn of(bytes: &'a [u8]) -> Self {
        let mut r = Reader { bytes };
        let scalars = r.u8();
        let scalar = |bit: u8, r: &mut Reader<'a>| (scalars & bit != 0).then(|| r.u32());
        let origin = (scalars & ORIGIN != 0).then(|| r.u8()).and_then(Origin::from_u8);
        let next_hop = scalar(NEXT_HOP, &mut r).map(Ipv4Addr::from);
        let med = scalar(MED, &mut r);
        let local_pref = scalar(LOCAL_PREF, &mut r);
        let aggregator = scalar(AGGREGATOR, &mut r)
            .map(|asn| Aggregator { asn, address: Ipv4Addr::from(r.u32()) });
        let originator_id = scalar(ORIGINATOR_ID, &mut r).map(Ipv4Addr::from);
        let lists = r.u8();
        let as_path = list(&mut r, lists & AS_PATH != 0, |r| {
            r.u8();
            let asns = r.count();
            r.take(asns.saturating_mul(4));
        });
        let communities = list(&mut r, lists & COMMUNITIES != 0, |r| {
            r.take(4);
        });
        let cluster_list = list(&mut r, lists & CLUSTER_LIST != 0, |r| {
            r.take(4);
        });
        let extended = list(&mut r, lists & EXTENDED != 0, |r| {
            r.take(8);
        });
        let large = list(&mut r, lists & LARGE != 0, |r| {
            r.take(12);
        });
        let unknown = list(&mut r, lists & UNKNOWN != 0, |r| {
            r.take(2);
            let len = r.count();
            r.take(len);
        });
        Self {
            scalars: Scalars {
                origin,
                next_hop,
                med,
                local_pref,
                atomic_aggregate: scalars & ATOMIC_AGGREGATE != 0,
                aggregator,
                originator_id,
            },
            as_path,
            communities,
            cluster_list,
            extended,
            large,
            unknown,
        }
    }
}

/// Reads a counted list (when `present`), stepping over each element with
/// `skip`; a count beyond the bytes left stops at their end.
fn list<'a>(r: &mut Reader<'a>, present: bool, mut skip: impl FnMut(&mut Reader<'a>)) -> List<'a> {
    if !present {
        return List::default();
    }
    let count = r.count();
    let start = r.bytes;
    let mut read = 0;
    while read < count && !r.bytes.is_empty() {
        skip(r);
        read += 1;
    }
    List { count: read, bytes: &start[..start.len() - r.bytes.len()] }
}

/// The elements of a list of variable-size elements, each read by `read`;
/// stops at the list's count or where its bytes end.
fn elements<'a, T>(
    list: List<'a>,
    read: impl Fn(&mut Reader<'a>) -> T + Clone,
) -> impl Iterator<Item = T> + Clone {
    let mut r = Reader { bytes: list.bytes };
    let mut left = list.count;
    std::iter::from_fn(move || {
        if left == 0 || r.bytes.is_empty() {
            return None;
        }
        left -= 1;
        Some(read(&mut r))
    })
}

/// The elements of a list of fixed-size elements.
fn fixed<const N: usize>(list: List<'_>) -> impl ExactSizeIterator<Item = [u8; N]> + '_ {
    list.bytes.chunks_exact(N).take(list.count).map(|chunk| {
        let mut value = [0; N];
        value.copy_from_slice(chunk);
        value
    })
}

impl AttributeSource for PackedView<'_> {
    fn scalars(&self) -> Scalars {
        self.scalars
    }

    fn communities(&self) -> impl ExactSizeIterator<Item = u32> {
        fixed::<4>(self.communities).map(u32::from_le_bytes)
    }

    fn cluster_list(&self) -> impl ExactSizeIterator<Item = Ipv4Addr> {
        fixed::<4>(self.cluster_list).map(|b| Ipv4Addr::from(u32::from_le_bytes(b)))
    }

    fn extended_communities(&self) -> impl ExactSizeIterator<Item = [u8; 8]> {
        fixed::<8>(self.extended)
    }

    fn large_communities(&self) -> impl ExactSizeIterator<Item = LargeCommunity> {
        fixed::<12>(self.large).map(|b| {
            let at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            LargeCommunity { global_admin: at(0), local_data_1: at(4), local_data_2: at(8) }
        })
    }

    fn segments(&self) -> impl Iterator<Item = Segment<'_>> + Clone {
        elements(self.as_path, |r| {
            let kind = segment_type(r.u8());
            let count = r.count();
            Segment { kind, asns: Asns::Packed(r.take(count.saturating_mul(4))) }
        })
    }

    fn unknown(&self) -> impl Iterator<Item = Unknown<'_>> {
        elements(self.unknown, |r| {
            let flags = r.u8();
            let type_code = r.u8();
            let len = r.count();
            Unknown { flags, type_code, value: r.take(len) }
        })
    }
}
