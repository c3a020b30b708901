//! IPv6 Neighbor Discovery (RFC 4861) over Ethernet, as far as an address
//! owner needs it: parse Neighbor Solicitations, build solicited and
//! unsolicited Neighbor Advertisements, and the solicited-node multicast
//! group (RFC 4291 §2.7.1) with its Ethernet address (RFC 2464 §7).
//!
//! ```text
//! Ethernet: destination (6) | source (6) | EtherType 0x86dd            0..14
//! IPv6 (RFC 8200 §3):
//! +-------+---------------+---------------------------------------+
//! |Version| Traffic Class |              Flow Label               |   14
//! +-------+-------+-------+-------+---------------+---------------+
//! |        Payload Length         |  Next Hdr 58  | Hop Limit 255 |   18
//! +-------------------------------+---------------+---------------+
//! |                   Source Address (16)                         |   22
//! |                   Destination Address (16)                    |   38
//! ICMPv6 (RFC 4443 §2.1), Neighbor Solicitation (§4.3) / Advertisement (§4.4):
//! +---------------+---------------+-------------------------------+
//! | Type 135/136  |    Code 0     |           Checksum            |   54
//! +-+-+-+---------+---------------+-------------------------------+
//! |R|S|O|                     Reserved                            |   58
//! +-+-+-+---------------------------------------------------------+
//! |                       Target Address (16)                     |   62
//! +---------------+---------------+-------------------------------+
//! | Option Type   | Length (x8)   |  Link-layer address (6) ...   |   78
//! +---------------+---------------+-------------------------------+
//! ```
//!
//! Validation follows §7.1.1 and §7.1.2: hop limit 255, code 0, a correct
//! checksum, a unicast target, no zero-length option, and the rules tying
//! the unspecified source and multicast destinations to the flags.

use std::net::Ipv6Addr;

use super::arp::{ETHERNET_HEADER_LEN, MacAddress};

/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// The longest frame built here: an advertisement or solicitation with one
/// link-layer address option.
pub const NDP_FRAME_MAX: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + NDP_BODY_LEN + 8;
/// ff02::1, all nodes (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

const IPV6_HEADER_LEN: usize = 40;
const ICMPV6_OFFSET: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN;
/// Type, code, checksum, flags/reserved and target.
const NDP_BODY_LEN: usize = 24;
const NEXT_HEADER_ICMPV6: u8 = 58;
const HOP_LIMIT: u8 = 255;
const TYPE_SOLICITATION: u8 = 135;
const TYPE_ADVERTISEMENT: u8 = 136;
const OPTION_SOURCE_LINK_ADDRESS: u8 = 1;
const OPTION_TARGET_LINK_ADDRESS: u8 = 2;
const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// The solicited-node multicast address of `address`: ff02::1:ff00:0/104
/// plus its low 24 bits (RFC 4291 §2.7.1).
pub fn solicited_node(address: Ipv6Addr) -> Ipv6Addr {
    let o = address.octets();
    Ipv6Addr::from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15]])
}

/// The Ethernet address of an IPv6 multicast group: 33:33 and the group's
/// low 32 bits (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> MacAddress {
    let o = group.octets();
    MacAddress([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// Flags of a Neighbor Advertisement (RFC 4861 §4.4).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct AdvertisementFlags {
    pub router: bool,
    pub solicited: bool,
    /// Replace the receiver's cached link-layer address.
    pub override_entry: bool,
}

/// The two Neighbor Discovery messages handled here.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NdpMessage {
    Solicitation {
        target: Ipv6Addr,
        source_link_address: Option<MacAddress>,
    },
    Advertisement {
        flags: AdvertisementFlags,
        target: Ipv6Addr,
        target_link_address: Option<MacAddress>,
    },
}

/// One Ethernet + IPv6 + ICMPv6 Neighbor Discovery frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NdpPacket {
    pub ethernet_destination: MacAddress,
    pub ethernet_source: MacAddress,
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub message: NdpMessage,
}

/// Why a frame is not a valid solicitation or advertisement; offsets are
/// into the frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NdpError {
    #[error("frame of {length} bytes is shorter than the {needed} needed")]
    Truncated { length: usize, needed: usize },
    #[error("EtherType {ethertype:#06x} at offset 12 is not IPv6")]
    NotIpv6 { ethertype: u16 },
    #[error("IP version {version} at offset 14 is not 6")]
    Version { version: u8 },
    #[error("next header {next_header} at offset 20 is not ICMPv6 (58)")]
    NotIcmpv6 { next_header: u8 },
    #[error("hop limit {hop_limit} at offset 21 is not 255 (RFC 4861 §7.1.1)")]
    HopLimit { hop_limit: u8 },
    #[error("payload length {payload_length} at offset 18 exceeds the {available} bytes present")]
    PayloadLength { payload_length: u16, available: usize },
    #[error(
        "ICMPv6 type {icmp_type} at offset 54 is not a neighbour solicitation or advertisement"
    )]
    NotNeighborDiscovery { icmp_type: u8 },
    #[error("ICMPv6 code {code} at offset 55 is not 0")]
    Code { code: u8 },
    #[error("checksum {found:#06x} at offset 56 should be {expected:#06x}")]
    Checksum { found: u16, expected: u16 },
    #[error("target {target} at offset 62 is multicast")]
    MulticastTarget { target: Ipv6Addr },
    #[error("option at offset {offset} has length 0 or runs past the end")]
    OptionLength { offset: usize },
    #[error("solicitation from the unspecified address carries a link-layer address option")]
    UnspecifiedWithLinkAddress,
    #[error("solicitation from the unspecified address is not sent to a solicited-node group")]
    UnspecifiedNotSolicitedNode,
    #[error("advertisement to multicast {destination} has the Solicited flag set")]
    SolicitedToMulticast { destination: Ipv6Addr },
}

fn ipv6_at(frame: &[u8], offset: usize) -> Ipv6Addr {
    let mut octets = [0; 16];
    octets.copy_from_slice(&frame[offset..offset + 16]);
    Ipv6Addr::from(octets)
}

fn mac_at(frame: &[u8], offset: usize) -> MacAddress {
    let mut mac = [0; 6];
    mac.copy_from_slice(&frame[offset..offset + 6]);
    MacAddress(mac)
}

/// The ICMPv6 checksum (RFC 4443 §2.3) over the pseudo-header (RFC 8200
/// §8.1) and `message`, whose checksum field counts as written.
fn checksum(source: Ipv6Addr, destination: Ipv6Addr, message: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
            sum += u32::from(word);
        }
    };
    add(&source.octets());
    add(&destination.octets());
    // Upper-layer length fits 16 bits here (frames come from one Ethernet frame).
    add(&(message.len() as u32).to_be_bytes());
    add(&[0, 0, 0, NEXT_HEADER_ICMPV6]);
    add(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl NdpPacket {
    /// Parses and validates an Ethernet frame; trailing padding beyond the
    /// IPv6 payload length is ignored.
    pub fn parse(frame: &[u8]) -> Result<NdpPacket, NdpError> {
        let needed = ICMPV6_OFFSET + NDP_BODY_LEN;
        if frame.len() < needed {
            return Err(NdpError::Truncated { length: frame.len(), needed });
        }
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if ethertype != ETHERTYPE_IPV6 {
            return Err(NdpError::NotIpv6 { ethertype });
        }
        let version = frame[14] >> 4;
        if version != 6 {
            return Err(NdpError::Version { version });
        }
        let next_header = frame[20];
        if next_header != NEXT_HEADER_ICMPV6 {
            return Err(NdpError::NotIcmpv6 { next_header });
        }
        let hop_limit = frame[21];
        if hop_limit != HOP_LIMIT {
            return Err(NdpError::HopLimit { hop_limit });
        }
        let payload_length = u16::from_be_bytes([frame[18], frame[19]]);
        let available = frame.len() - ICMPV6_OFFSET;
        if usize::from(payload_length) > available {
            return Err(NdpError::PayloadLength { payload_length, available });
        }
        if usize::from(payload_length) < NDP_BODY_LEN {
            return Err(NdpError::Truncated {
                length: ICMPV6_OFFSET + usize::from(payload_length),
                needed,
            });
        }
        let message = &frame[ICMPV6_OFFSET..ICMPV6_OFFSET + usize::from(payload_length)];
        let (icmp_type, code) = (message[0], message[1]);
        if icmp_type != TYPE_SOLICITATION && icmp_type != TYPE_ADVERTISEMENT {
            return Err(NdpError::NotNeighborDiscovery { icmp_type });
        }
        if code != 0 {
            return Err(NdpError::Code { code });
        }
        let source = ipv6_at(frame, 22);
        let destination = ipv6_at(frame, 38);
        let sum = checksum(source, destination, message);
        if sum != 0 {
            let found = u16::from_be_bytes([message[2], message[3]]);
            let expected = checksum_with_zero_field(source, destination, message);
            return Err(NdpError::Checksum { found, expected });
        }
        let target = ipv6_at(message, 8);
        if target.is_multicast() {
            return Err(NdpError::MulticastTarget { target });
        }
        let link_address = link_address_option(
            &message[NDP_BODY_LEN..],
            ICMPV6_OFFSET + NDP_BODY_LEN,
            if icmp_type == TYPE_SOLICITATION {
                OPTION_SOURCE_LINK_ADDRESS
            } else {
                OPTION_TARGET_LINK_ADDRESS
            },
        )?;
        let message = if icmp_type == TYPE_SOLICITATION {
            if source.is_unspecified() {
                if link_address.is_some() {
                    return Err(NdpError::UnspecifiedWithLinkAddress);
                }
                if destination != solicited_node(target) {
                    return Err(NdpError::UnspecifiedNotSolicitedNode);
                }
            }
            NdpMessage::Solicitation { target, source_link_address: link_address }
        } else {
            let flags = AdvertisementFlags {
                router: message[4] & FLAG_ROUTER != 0,
                solicited: message[4] & FLAG_SOLICITED != 0,
                override_entry: message[4] & FLAG_OVERRIDE != 0,
            };
            if flags.solicited && destination.is_multicast() {
                return Err(NdpError::SolicitedToMulticast { destination });
            }
            NdpMessage::Advertisement { flags, target, target_link_address: link_address }
        };
        Ok(NdpPacket {
            ethernet_destination: mac_at(frame, 0),
            ethernet_source: mac_at(frame, 6),
            source,
            destination,
            message,
        })
    }

    /// Writes the frame into `out` and returns its length.
    pub fn encode(&self, out: &mut [u8; NDP_FRAME_MAX]) -> usize {
        let (icmp_type, flags, target, option) = match self.message {
            NdpMessage::Solicitation { target, source_link_address } => (
                TYPE_SOLICITATION,
                0,
                target,
                source_link_address.map(|mac| (OPTION_SOURCE_LINK_ADDRESS, mac)),
            ),
            NdpMessage::Advertisement { flags, target, target_link_address } => {
                let mut bits = 0;
                if flags.router {
                    bits |= FLAG_ROUTER;
                }
                if flags.solicited {
                    bits |= FLAG_SOLICITED;
                }
                if flags.override_entry {
                    bits |= FLAG_OVERRIDE;
                }
                (
                    TYPE_ADVERTISEMENT,
                    bits,
                    target,
                    target_link_address.map(|mac| (OPTION_TARGET_LINK_ADDRESS, mac)),
                )
            }
        };
        let payload_length = NDP_BODY_LEN + if option.is_some() { 8 } else { 0 };
        let length = ICMPV6_OFFSET + payload_length;
        out[0..6].copy_from_slice(&self.ethernet_destination.0);
        out[6..12].copy_from_slice(&self.ethernet_source.0);
        out[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        out[14..18].copy_from_slice(&[0x60, 0, 0, 0]);
        out[18..20].copy_from_slice(&(payload_length as u16).to_be_bytes());
        out[20] = NEXT_HEADER_ICMPV6;
        out[21] = HOP_LIMIT;
        out[22..38].copy_from_slice(&self.source.octets());
        out[38..54].copy_from_slice(&self.destination.octets());
        let message = &mut out[ICMPV6_OFFSET..length];
        message[0] = icmp_type;
        message[1] = 0;
        message[2..4].copy_from_slice(&[0, 0]);
        message[4..8].copy_from_slice(&[flags, 0, 0, 0]);
        message[8..24].copy_from_slice(&target.octets());
        if let Some((kind, mac)) = option {
            message[24] = kind;
            message[25] = 1;
            message[26..32].copy_from_slice(&mac.0);
        }
        let sum = checksum(self.source, self.destination, message);
        message[2..4].copy_from_slice(&sum.to_be_bytes());
        length
    }

    /// The answer of `mac`, owner of the solicited target, to `solicitation`
    /// (RFC 4861 §7.2.4): unicast with Solicited and Override to the asker, or,
    /// when it asks from the unspecified address (duplicate address
    /// detection), to all nodes without Solicited. `None` when
    /// `solicitation` is not a solicitation.
    pub fn advertisement_for(solicitation: &NdpPacket, mac: MacAddress) -> Option<NdpPacket> {
        let NdpMessage::Solicitation { target, source_link_address } = solicitation.message else {
            return None;
        };
        let to_all = solicitation.source.is_unspecified();
        let (destination, ethernet_destination) = if to_all {
            (ALL_NODES, multicast_mac(ALL_NODES))
        } else {
            (solicitation.source, source_link_address.unwrap_or(solicitation.ethernet_source))
        };
        Some(NdpPacket {
            ethernet_destination,
            ethernet_source: mac,
            source: target,
            destination,
            message: NdpMessage::Advertisement {
                flags: AdvertisementFlags {
                    router: false,
                    solicited: !to_all,
                    override_entry: true,
                },
                target,
                target_link_address: Some(mac),
            },
        })
    }

    /// An unsolicited advertisement with Override to all nodes (RFC 4861
    /// §7.2.6): every neighbour that caches `address` switches to `mac`.
    pub fn unsolicited_advertisement(address: Ipv6Addr, mac: MacAddress) -> NdpPacket {
        NdpPacket {
            ethernet_destination: multicast_mac(ALL_NODES),
            ethernet_source: mac,
            source: address,
            destination: ALL_NODES,
            message: NdpMessage::Advertisement {
                flags: AdvertisementFlags { router: false, solicited: false, override_entry: true },
                target: address,
                target_link_address: Some(mac),
            },
        }
    }
}

/// The checksum `message` should carry: computed with its field zeroed.
fn checksum_with_zero_field(source: Ipv6Addr, destination: Ipv6Addr, message: &[u8]) -> u16 {
    let found = u16::from_be_bytes([message[2], message[3]]);
    // One's-complement arithmetic: removing `found` from the folded sum is
    // adding its complement.
    let with_field = !checksum(source, destination, message);
    let mut sum = u32::from(with_field) + u32::from(!found);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The link-layer address in the first option of kind `wanted`, after
/// checking every option's length (RFC 4861 §4.6, §7.1.1).
fn link_address_option(
    options: &[u8],
    base: usize,
    wanted: u8,
) -> Result<Option<MacAddress>, NdpError> {
    let mut found = None;
    let mut at = 0;
    while at < options.len() {
        let offset = base + at;
        if options.len() - at < 2 {
            return Err(NdpError::OptionLength { offset });
        }
        let length = usize::from(options[at + 1]) * 8;
        if length == 0 || at + length > options.len() {
            return Err(NdpError::OptionLength { offset });
        }
        if options[at] == wanted && found.is_none() && length >= 8 {
            found = Some(mac_at(options, at + 2));
        }
        at += length;
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
