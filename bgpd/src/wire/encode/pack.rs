//! UPDATE packing, the export hot path: many prefixes sharing one attribute
//! set go out in as few UPDATEs as the size limit allows (4096 octets, or
//! 65535 with RFC 8654).
//!
//! The attribute bytes are encoded once into a reusable scratch buffer and
//! copied into each message; prefixes are written straight into the output,
//! so packing allocates nothing per prefix (only `out` grows).
//!
//! Layout of an announcement:
//! ```text
//! IPv4 unicast, IPv4 next hop:  header | 0 | attr len | attributes + NEXT_HOP | NLRI...
//! other families:               header | 0 | attr len | MP_REACH_NLRI(NLRI...) | attributes
//! ```
//! and of a withdrawal:
//! ```text
//! IPv4 unicast:                 header | len | withdrawn... | 0
//! other families:               header | 0 | attr len | MP_UNREACH_NLRI(withdrawn...)
//! ```

use bytes::{BufMut, BytesMut};

use super::attributes::{NextHopField, put_attributes};
use super::{
    MP_UNREACH_FLAGS, begin, begin_mp_reach, finish, patch_length, prefix_wire_len, put_prefix,
};
use crate::wire::attributes::{AttributeSource, flags, type_code};
use crate::wire::error::{EncodeError, Field};
use crate::wire::family::Family;
use crate::wire::options::CodecOptions;
use crate::wire::update::{NextHop, Nlri};
use crate::wire::{HEADER_LEN, message_type};

/// What [`UpdatePacker::announce_holding_tail`] wrote.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Packed {
    /// Messages appended to `out`.
    pub messages: usize,
    /// Trailing prefixes left out because they would have gone into a last,
    /// not full message: the caller sends them with the prefixes that follow.
    pub held: usize,
}

/// Packs routes into UPDATE messages for one session. Keep one per session
/// and reuse it: its scratch buffer keeps its capacity.
#[derive(Debug)]
pub struct UpdatePacker {
    options: CodecOptions,
    scratch: BytesMut,
}

impl UpdatePacker {
    pub fn new(options: CodecOptions) -> Self {
        Self { options, scratch: BytesMut::with_capacity(256) }
    }

    pub fn options(&self) -> &CodecOptions {
        &self.options
    }

    /// Append UPDATEs announcing every prefix of `nlri` with `attributes`.
    ///
    /// `next_hop`: for IPv4 unicast, `None` uses `attributes.next_hop`, an IPv4
    /// address overrides it, an IPv6 one sends the routes in MP_REACH_NLRI
    /// (RFC 8950); other families need it. Returns the number of messages
    /// (0 for no prefixes). On error `out` is left as it was.
    pub fn announce<A: AttributeSource + ?Sized, I>(
        &mut self,
        attributes: &A,
        family: Family,
        next_hop: Option<NextHop>,
        nlri: I,
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError>
    where
        I: IntoIterator<Item = Nlri>,
    {
        self.announce_holding(attributes, family, next_hop, nlri, false, out)
            .map(|packed| packed.messages)
    }

    /// [`Self::announce`], except that a last message the prefixes ran out
    /// before filling is not written: [`Packed::held`] says how many of the
    /// last prefixes of `nlri` it would have carried. The caller keeps them
    /// and passes them again, ahead of the next prefixes with the same
    /// attributes, so a stream of batches packs as one (or announces them
    /// alone when nothing follows). On error `out` is left as it was.
    pub fn announce_holding_tail<A: AttributeSource + ?Sized, I>(
        &mut self,
        attributes: &A,
        family: Family,
        next_hop: Option<NextHop>,
        nlri: I,
        out: &mut BytesMut,
    ) -> Result<Packed, EncodeError>
    where
        I: IntoIterator<Item = Nlri>,
    {
        self.announce_holding(attributes, family, next_hop, nlri, true, out)
    }

    fn announce_holding<A: AttributeSource + ?Sized, I>(
        &mut self,
        attributes: &A,
        family: Family,
        next_hop: Option<NextHop>,
        nlri: I,
        hold_tail: bool,
        out: &mut BytesMut,
    ) -> Result<Packed, EncodeError>
    where
        I: IntoIterator<Item = Nlri>,
    {
        let start = out.len();
        let result = self.announce_into(attributes, family, next_hop, nlri, hold_tail, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Whether a route of `family` with `attributes` and `next_hop` can be
    /// announced at all under these options: one UPDATE carrying it and the
    /// longest prefix of the family (with a path identifier when ADD-PATH
    /// sends) fits the message size limit. The export path asks this once per
    /// attribute set and peer profile, so a route that could never be sent is
    /// never recorded as advertised (the error says why).
    pub fn fits<A: AttributeSource + ?Sized>(
        &mut self,
        attributes: &A,
        family: Family,
        next_hop: Option<NextHop>,
    ) -> Result<(), EncodeError> {
        // A host route: /32 or /128, the longest prefix of the family.
        let longest = match family {
            Family::Ipv4Unicast => ipnet::IpNet::V4(std::net::Ipv4Addr::UNSPECIFIED.into()),
            Family::Ipv6Unicast => ipnet::IpNet::V6(std::net::Ipv6Addr::UNSPECIFIED.into()),
        };
        let mut out = BytesMut::new();
        self.announce(attributes, family, next_hop, [Nlri::new(longest)], &mut out).map(|_| ())
    }

    /// Append UPDATEs withdrawing every prefix of `nlri`. Returns the number of
    /// messages. On error `out` is left as it was.
    pub fn withdraw<I>(
        &mut self,
        family: Family,
        nlri: I,
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError>
    where
        I: IntoIterator<Item = Nlri>,
    {
        let start = out.len();
        let result = self.withdraw_into(family, nlri, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// [`Self::announce`] without the rollback on error.
    fn announce_into<A: AttributeSource + ?Sized, I>(
        &mut self,
        attributes: &A,
        family: Family,
        next_hop: Option<NextHop>,
        nlri: I,
        hold_tail: bool,
        out: &mut BytesMut,
    ) -> Result<Packed, EncodeError>
    where
        I: IntoIterator<Item = Nlri>,
    {
        let classic_next_hop = match (family, next_hop) {
            (Family::Ipv4Unicast, None) => attributes.scalars().next_hop,
            (Family::Ipv4Unicast, Some(NextHop::V4(address))) => Some(address),
            _ => None,
        };
        self.scratch.clear();
        match classic_next_hop {
            Some(address) => {
                put_attributes(
                    attributes,
                    &self.options,
                    NextHopField::Override(address),
                    &mut self.scratch,
                )?;
                self.announce_classic(nlri, hold_tail, out)
            }
            None => {
                let next_hop = next_hop.ok_or(EncodeError::NextHopMismatch { family, next_hop })?;
                put_attributes(attributes, &self.options, NextHopField::Omit, &mut self.scratch)?;
                self.announce_multiprotocol(family, &next_hop, nlri, hold_tail, out)
            }
        }
    }

    /// [`Self::withdraw`] without the rollback on error.
    fn withdraw_into<I>(
        &mut self,
        family: Family,
        nlri: I,
        out: &mut BytesMut,
    ) -> Result<usize, EncodeError>
    where
        I: IntoIterator<Item = Nlri>,
    {
        let add_path = self.options.add_path_send.contains(family);
        let max = self.options.max_message_len();
        let mut pending = nlri.into_iter().peekable();
        let mut messages = 0;
        while pending.peek().is_some() {
            let start = begin(out, message_type::UPDATE);
            match family {
                Family::Ipv4Unicast => {
                    let length_at = out.len();
                    out.put_u16(0);
                    // Leave room for the 2-octet (empty) path attribute length.
                    let _ = fill(
                        &mut pending,
                        out,
                        start,
                        max - 2,
                        add_path,
                        family,
                        Field::WithdrawnRoutes,
                    )?;
                    patch_length(out, length_at, 0)?;
                    out.put_u16(0);
                }
                _ => {
                    out.put_u16(0);
                    let attributes_at = out.len();
                    out.put_u16(0);
                    out.put_u8(MP_UNREACH_FLAGS | flags::EXTENDED_LENGTH);
                    out.put_u8(type_code::MP_UNREACH_NLRI);
                    let length_at = out.len();
                    out.put_u16(0);
                    let afi_safi = family.afi_safi();
                    out.put_u16(afi_safi.afi);
                    out.put_u8(afi_safi.safi);
                    let _ = fill(
                        &mut pending,
                        out,
                        start,
                        max,
                        add_path,
                        family,
                        Field::MpUnreachNlri,
                    )?;
                    patch_length(out, length_at, type_code::MP_UNREACH_NLRI)?;
                    patch_length(out, attributes_at, 0)?;
                }
            }
            finish(out, start, max)?;
            messages += 1;
        }
        Ok(messages)
    }

    fn announce_classic<I>(
        &mut self,
        nlri: I,
        hold_tail: bool,
        out: &mut BytesMut,
    ) -> Result<Packed, EncodeError>
    where
        I: IntoIterator<Item = Nlri>,
    {
        let family = Family::Ipv4Unicast;
        let add_path = self.options.add_path_send.contains(family);
        let max = self.options.max_message_len();
        let attributes_len = u16::try_from(self.scratch.len())
            .map_err(|_| EncodeError::AttributesTooLong { max })?;
        let mut pending = nlri.into_iter().peekable();
        let mut messages = 0;
        while pending.peek().is_some() {
            let start = begin(out, message_type::UPDATE);
            out.put_u16(0);
            out.put_u16(attributes_len);
            out.put_slice(&self.scratch);
            let written = fill(&mut pending, out, start, max, add_path, family, Field::Nlri)?;
            if hold_tail && pending.peek().is_none() {
                out.truncate(start);
                return Ok(Packed { messages, held: written });
            }
            finish(out, start, max)?;
            messages += 1;
        }
        Ok(Packed { messages, held: 0 })
    }

    fn announce_multiprotocol<I>(
        &mut self,
        family: Family,
        next_hop: &NextHop,
        nlri: I,
        hold_tail: bool,
        out: &mut BytesMut,
    ) -> Result<Packed, EncodeError>
    where
        I: IntoIterator<Item = Nlri>,
    {
        let add_path = self.options.add_path_send.contains(family);
        let max = self.options.max_message_len();
        let mut pending = nlri.into_iter().peekable();
        let mut messages = 0;
        while pending.peek().is_some() {
            let start = begin(out, message_type::UPDATE);
            out.put_u16(0);
            let attributes_at = out.len();
            out.put_u16(0);
            let length_at = begin_mp_reach(out, family, next_hop)?;
            // The other attributes follow the NLRI: keep room for them.
            let room = max
                .checked_sub(self.scratch.len())
                .ok_or(EncodeError::AttributesTooLong { max })?;
            let written =
                fill(&mut pending, out, start, room, add_path, family, Field::MpReachNlri)?;
            if hold_tail && pending.peek().is_none() {
                out.truncate(start);
                return Ok(Packed { messages, held: written });
            }
            patch_length(out, length_at, type_code::MP_REACH_NLRI)?;
            out.put_slice(&self.scratch);
            patch_length(out, attributes_at, 0)?;
            finish(out, start, max)?;
            messages += 1;
        }
        Ok(Packed { messages, held: 0 })
    }
}

/// Write prefixes from `pending` while the message starting at `start` stays
/// within `limit` octets; returns how many. At least one prefix must fit.
fn fill<I: Iterator<Item = Nlri>>(
    pending: &mut std::iter::Peekable<I>,
    out: &mut BytesMut,
    start: usize,
    limit: usize,
    add_path: bool,
    family: Family,
    field: Field,
) -> Result<usize, EncodeError> {
    let mut written = 0usize;
    while let Some(nlri) = pending.peek() {
        if out.len() - start + prefix_wire_len(nlri, add_path) > limit {
            break;
        }
        put_prefix(out, nlri, add_path, family, field)?;
        pending.next();
        written += 1;
    }
    if written == 0 {
        return Err(EncodeError::AttributesTooLong { max: limit.max(HEADER_LEN) });
    }
    Ok(written)
}
