//! Structure-aware UPDATE fuzzing: an [`UpdateModel`] (derived with
//! `arbitrary` from the fuzzer's bytes, so libFuzzer's mutations of the
//! input are mutations of the model) holds IPv4 NLRI and withdrawn routes,
//! MP_REACH_NLRI / MP_UNREACH_NLRI for IPv4 and IPv6 (RFC 4760), ADD-PATH
//! identifiers (RFC 7911), typed path attributes with communities (RFC
//! 1997), extended (RFC 4360) and large ones (RFC 8092), AS_PATH segments of
//! every type (RFC 4271 §4.3, RFC 5065) and unknown optional transitive
//! attributes (RFC 4271 §5).
//!
//! [`check`] turns it into bgpd's own [`UpdateMessage`] under each
//! [`CodecOptions`] of [`option_variants`], encodes it and checks that
//! `decode(encode(x)) == x` with no RFC 7606 error; then it flips a few
//! octets of the encoding (the model's `flips`) and decodes again, as an
//! internal and as an external neighbor: no panic, and what decodes
//! re-encodes to a message that decodes.
//!
//! The model only describes messages a correct speaker may send (prefixes
//! without host bits, non-zero ASNs, unknown attributes of unused codes with
//! the Partial bit set as they are passed on, at most one of each); anything
//! else is the mutation step's business.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{Bytes, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::wire::attributes::table::{self, flags};
use crate::wire::{
    Aggregator, AsPath, AsSegment, CodecOptions, Community, Decoded, ExtendedCommunity, Family,
    FamilySet, LargeCommunity, Message, MpReach, MpUnreach, NextHop, Nlri, Origin, PathAttributes,
    SegmentType, UnknownAttribute, UpdateMessage, decode_message, encode_message,
};

/// Whether this build can turn bytes into models (the `arbitrary` feature).
pub const ENABLED: bool = cfg!(feature = "arbitrary");

/// An IPv4 prefix with a path identifier (used only under ADD-PATH).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Prefix4 {
    pub address: [u8; 4],
    pub length: u8,
    pub path_id: u32,
}

/// An IPv6 prefix with a path identifier (used only under ADD-PATH).
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct Prefix6 {
    pub address: [u8; 16],
    pub length: u8,
    pub path_id: u32,
}

/// MP_REACH_NLRI of one family.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub enum ReachModel {
    V4 { next_hop: [u8; 4], nlri: Vec<Prefix4> },
    V6 { global: [u8; 16], link_local: Option<[u8; 8]>, nlri: Vec<Prefix6> },
}

/// MP_UNREACH_NLRI of one family.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub enum UnreachModel {
    V4(Vec<Prefix4>),
    V6(Vec<Prefix6>),
}

/// One AS_PATH segment: `kind` picks one of the four types.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct SegmentModel {
    pub kind: u8,
    pub first: u32,
    pub more: Vec<u32>,
}

/// The path attributes other than the MP ones.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct AttributesModel {
    pub origin: u8,
    pub as_path: Vec<SegmentModel>,
    pub next_hop: [u8; 4],
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<(u32, [u8; 4])>,
    pub communities: Vec<u32>,
    pub originator_id: Option<[u8; 4]>,
    pub cluster_list: Vec<[u8; 4]>,
    pub extended_communities: Vec<[u8; 8]>,
    pub large_communities: Vec<(u32, u32, u32)>,
    pub unknown: Vec<(u8, Vec<u8>)>,
}

/// An UPDATE, and the octets to flip in its encoding.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug)]
pub struct UpdateModel {
    pub withdrawn: Vec<Prefix4>,
    pub nlri: Vec<Prefix4>,
    pub attributes: AttributesModel,
    pub mp_reach: Option<ReachModel>,
    pub mp_unreach: Option<UnreachModel>,
    /// (position modulo the encoding's length, value to XOR in).
    pub flips: Vec<(u16, u8)>,
}

/// The sessions every model is encoded for: before negotiation (2-octet AS,
/// AS4_PATH and AS4_AGGREGATOR generated and merged back, RFC 6793 §4.2),
/// 4-octet AS, 2-octet AS with ADD-PATH for IPv4 only, and 4-octet AS with
/// extended messages and ADD-PATH for both families. Send and receive
/// ADD-PATH agree so that one options value encodes and decodes.
pub fn option_variants() -> [CodecOptions; 4] {
    let v4 = FamilySet::EMPTY.with(Family::Ipv4Unicast);
    let both = super::all_families();
    [
        CodecOptions::default(),
        CodecOptions { four_octet_as: true, ..CodecOptions::default() },
        CodecOptions { add_path_receive: v4, add_path_send: v4, ..CodecOptions::default() },
        CodecOptions {
            four_octet_as: true,
            extended_message: true,
            enhanced_route_refresh: true,
            add_path_receive: both,
            add_path_send: both,
            extended_next_hop: v4,
            external_peer_as: None,
            skip_first_as_check: false,
        },
    ]
}

fn path_id(options: &CodecOptions, family: Family, id: u32) -> Option<u32> {
    options.add_path_send.contains(family).then_some(id)
}

fn v4(prefix: &Prefix4, options: &CodecOptions) -> Nlri {
    let net = Ipv4Net::new(Ipv4Addr::from(prefix.address), prefix.length % 33)
        .map_or(IpNet::V4(Ipv4Net::default()), |net| IpNet::V4(net.trunc()));
    Nlri { prefix: net, path_id: path_id(options, Family::Ipv4Unicast, prefix.path_id) }
}

fn v6(prefix: &Prefix6, options: &CodecOptions) -> Nlri {
    let net = Ipv6Net::new(Ipv6Addr::from(prefix.address), prefix.length % 129)
        .map_or(IpNet::V6(Ipv6Net::default()), |net| IpNet::V6(net.trunc()));
    Nlri { prefix: net, path_id: path_id(options, Family::Ipv6Unicast, prefix.path_id) }
}

/// A host address for NEXT_HOP (RFC 4271 §6.3: not 0.0.0.0, multicast or
/// class E, which bgpd treats as withdraw).
fn host(mut octets: [u8; 4]) -> Ipv4Addr {
    octets[0] = octets[0] % 223 + 1;
    Ipv4Addr::from(octets)
}

/// A non-zero ASN (RFC 7607: AS 0 is an error).
fn asn(value: u32) -> u32 {
    value.max(1)
}

/// AS_PATH as a confederation member builds it: confederation segments
/// lead (RFC 5065 §3: they are prepended inside the confederation and
/// removed at its edge). On a 2-octet session their ASNs fit in two octets:
/// AS4_PATH carries no confederation segments (RFC 6793 §3), so a 4-octet
/// member AS there could not be told from AS_TRANS.
fn as_path(models: &[SegmentModel], options: &CodecOptions) -> AsPath {
    let mut segments: Vec<AsSegment> = models
        .iter()
        .map(|model| {
            let kind = match model.kind % 4 {
                0 => SegmentType::Set,
                1 => SegmentType::Sequence,
                2 => SegmentType::ConfedSequence,
                _ => SegmentType::ConfedSet,
            };
            let confed = matches!(kind, SegmentType::ConfedSequence | SegmentType::ConfedSet);
            let asns = std::iter::once(model.first).chain(model.more.iter().copied()).take(255);
            let asns = asns.map(|a| if confed && !options.four_octet_as { a & 0xFFFF } else { a });
            AsSegment { kind, asns: asns.map(asn).collect() }
        })
        .collect();
    segments
        .sort_by_key(|s| !matches!(s.kind, SegmentType::ConfedSequence | SegmentType::ConfedSet));
    AsPath { segments }
}

/// On a 2-octet session, a 2-octet AGGREGATOR other than AS_TRANS makes
/// the receiver ignore AS4_PATH (RFC 6793 §4.2.3: the aggregating speaker
/// was an old one), so a path that needs AS4_PATH gets a 4-octet aggregator.
fn aggregator_asn(number: u32, path: &AsPath, options: &CodecOptions) -> u32 {
    let four_octet_path = path.segments.iter().any(|s| {
        !matches!(s.kind, SegmentType::ConfedSequence | SegmentType::ConfedSet)
            && s.asns.iter().any(|&a| a > u32::from(u16::MAX))
    });
    if !options.four_octet_as && four_octet_path { number | 0x1_0000 } else { asn(number) }
}

/// An unknown attribute as it is passed on: optional, transitive, partial,
/// of a code bgpd does not interpret.
fn unknown(list: &[(u8, Vec<u8>)]) -> Vec<UnknownAttribute> {
    let mut out: Vec<UnknownAttribute> = Vec::new();
    for (code, value) in list {
        if *code == 0 || table::spec(*code).is_some() || out.iter().any(|u| u.type_code == *code) {
            continue;
        }
        out.push(UnknownAttribute {
            flags: flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL,
            type_code: *code,
            value: Bytes::copy_from_slice(value),
        });
    }
    out.sort_by_key(|u| u.type_code);
    out
}

impl UpdateModel {
    /// The message this model describes for a session with `options`.
    pub fn message(&self, options: &CodecOptions) -> UpdateMessage {
        let a = &self.attributes;
        let as_path = as_path(&a.as_path, options);
        let nlri: Vec<Nlri> = self.nlri.iter().map(|p| v4(p, options)).collect();
        let attributes = PathAttributes {
            origin: Some(match a.origin % 3 {
                0 => Origin::Igp,
                1 => Origin::Egp,
                _ => Origin::Incomplete,
            }),
            as_path: as_path.clone(),
            next_hop: (!nlri.is_empty()).then(|| host(a.next_hop)),
            med: a.med,
            local_pref: a.local_pref,
            atomic_aggregate: a.atomic_aggregate,
            aggregator: a.aggregator.map(|(number, address)| Aggregator {
                asn: aggregator_asn(number, &as_path, options),
                address: Ipv4Addr::from(address),
            }),
            communities: a.communities.iter().copied().map(Community).collect(),
            originator_id: a.originator_id.map(Ipv4Addr::from),
            cluster_list: a.cluster_list.iter().copied().map(Ipv4Addr::from).collect(),
            extended_communities: a
                .extended_communities
                .iter()
                .copied()
                .map(ExtendedCommunity)
                .collect(),
            large_communities: a
                .large_communities
                .iter()
                .map(|&(global_admin, local_data_1, local_data_2)| LargeCommunity {
                    global_admin,
                    local_data_1,
                    local_data_2,
                })
                .collect(),
            unknown: unknown(&a.unknown),
        };
        let mp_reach = self.mp_reach.as_ref().map(|reach| match reach {
            ReachModel::V4 { next_hop, nlri } => MpReach {
                family: Family::Ipv4Unicast,
                next_hop: NextHop::V4(host(*next_hop)),
                nlri: nlri.iter().map(|p| v4(p, options)).collect(),
            },
            ReachModel::V6 { global, link_local, nlri } => MpReach {
                family: Family::Ipv6Unicast,
                next_hop: NextHop::V6 {
                    global: Ipv6Addr::from(*global),
                    link_local: link_local.map(|tail| {
                        let mut octets = [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                        octets[8..].copy_from_slice(&tail);
                        Ipv6Addr::from(octets)
                    }),
                },
                nlri: nlri.iter().map(|p| v6(p, options)).collect(),
            },
        });
        let mp_unreach = self.mp_unreach.as_ref().map(|unreach| match unreach {
            UnreachModel::V4(list) => MpUnreach {
                family: Family::Ipv4Unicast,
                withdrawn: list.iter().map(|p| v4(p, options)).collect(),
            },
            UnreachModel::V6(list) => MpUnreach {
                family: Family::Ipv6Unicast,
                withdrawn: list.iter().map(|p| v6(p, options)).collect(),
            },
        });
        UpdateMessage {
            withdrawn: self.withdrawn.iter().map(|p| v4(p, options)).collect(),
            attributes,
            nlri,
            mp_reach,
            mp_unreach,
        }
    }

    /// Encodes, decodes and compares under every option variant, then
    /// decodes mutated encodings. Panics on a broken property.
    pub fn check(&self) {
        for options in option_variants() {
            let message = self.message(&options);
            let mut out = BytesMut::new();
            let update = Message::Update(Box::new(message.clone()));
            if encode_message(&update, &options, &mut out).is_err() {
                // Too large for the session: the encoder's refusal is the answer.
                continue;
            }
            match decode_message(&out, &options) {
                Ok(Decoded::Update(decoded)) => {
                    assert!(
                        decoded.outcome.errors.is_empty(),
                        "{options:?}: a well-formed UPDATE has errors {:?}\n{message:?}",
                        decoded.outcome.errors
                    );
                    assert_eq!(decoded.update, message, "{options:?}: decode(encode(x)) != x");
                }
                other => {
                    panic!("{options:?}: {message:?} encodes to {out:?}, decoded as {other:?}")
                }
            }
            if self.flips.is_empty() {
                continue;
            }
            let mut mutated = out.to_vec();
            for &(position, value) in &self.flips {
                let i = usize::from(position) % mutated.len();
                mutated[i] ^= value;
            }
            let first_as = message.attributes.as_path.first_asn().unwrap_or(64_512);
            for (external_peer_as, skip_first_as_check) in
                [(None, false), (Some(first_as), false), (Some(first_as ^ 1), true)]
            {
                let options = CodecOptions { external_peer_as, skip_first_as_check, ..options };
                super::reencode(&mutated, &options);
            }
        }
    }
}

/// The fuzz target's body: the bytes become a model (when the `arbitrary`
/// feature is on; otherwise nothing runs, see [`ENABLED`]).
pub fn check(data: &[u8]) {
    #[cfg(feature = "arbitrary")]
    {
        use arbitrary::{Arbitrary, Unstructured};
        if let Ok(model) = UpdateModel::arbitrary_take_rest(Unstructured::new(data)) {
            model.check();
        }
    }
    #[cfg(not(feature = "arbitrary"))]
    let _ = data;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix4(address: [u8; 4], length: u8) -> Prefix4 {
        Prefix4 { address, length, path_id: 7 }
    }

    fn model() -> UpdateModel {
        UpdateModel {
            withdrawn: vec![prefix4([203, 0, 113, 0], 24)],
            nlri: vec![prefix4([198, 51, 100, 77], 24), prefix4([192, 0, 2, 1], 32)],
            attributes: AttributesModel {
                origin: 0,
                as_path: vec![
                    SegmentModel { kind: 1, first: 65_001, more: vec![4_200_000_000, 0] },
                    SegmentModel { kind: 0, first: 64_512, more: vec![4_200_000_001] },
                    SegmentModel { kind: 2, first: 4_200_000_002, more: vec![] },
                ],
                next_hop: [0, 0, 2, 1],
                med: Some(5),
                local_pref: Some(200),
                atomic_aggregate: true,
                aggregator: Some((65_010, [192, 0, 2, 9])),
                communities: vec![0xFFFF_FF01, 0xFDE9_0007],
                originator_id: Some([192, 0, 2, 3]),
                cluster_list: vec![[192, 0, 2, 4]],
                extended_communities: vec![[0, 2, 0xFD, 0xE9, 0, 0, 0, 100]],
                large_communities: vec![(65_001, 1, 2)],
                unknown: vec![(99, vec![1, 2, 3]), (2, vec![]), (99, vec![4]), (50, vec![])],
            },
            mp_reach: Some(ReachModel::V6 {
                global: [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                link_local: Some([0, 0, 0, 0, 0, 0, 0, 1]),
                nlri: vec![Prefix6 {
                    address: [0x20, 0x01, 0x0D, 0xB8, 1, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                    length: 40,
                    path_id: 9,
                }],
            }),
            mp_unreach: Some(UnreachModel::V4(vec![prefix4([198, 51, 100, 0], 25)])),
            flips: vec![(30, 0xFF), (7, 1)],
        }
    }

    #[test]
    fn a_full_model_round_trips_under_every_variant() {
        model().check();
    }

    #[test]
    fn the_model_keeps_to_well_formed_messages() {
        let options = CodecOptions::default();
        let message = model().message(&options);
        // Host bits cleared, path ids only under ADD-PATH.
        assert_eq!(message.nlri[0], Nlri::new("198.51.100.0/24".parse().unwrap()));
        // A usable NEXT_HOP, no AS 0, confederation segments first with
        // 2-octet ASNs on a 2-octet session.
        assert_eq!(message.attributes.next_hop, Some(Ipv4Addr::new(1, 0, 2, 1)));
        let segments = &message.attributes.as_path.segments;
        assert_eq!(segments[0].kind, SegmentType::ConfedSequence);
        assert_eq!(segments[0].asns, vec![4_200_000_002 & 0xFFFF]);
        assert_eq!(segments[1].asns, vec![65_001, 4_200_000_000, 1]);
        // The path needs AS4_PATH, so the aggregator is a 4-octet one.
        assert!(message.attributes.aggregator.unwrap().asn > 0xFFFF);
        // Unknown attributes: unused codes only, one each, by code.
        let codes: Vec<u8> = message.attributes.unknown.iter().map(|u| u.type_code).collect();
        assert_eq!(codes, vec![50, 99]);
        let add_path = &option_variants()[3];
        assert_eq!(model().message(add_path).nlri[0].path_id, Some(7));
    }
}
