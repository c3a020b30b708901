//! ARP over Ethernet (RFC 826), as far as an address owner needs it: parse
//! requests, build replies and gratuitous announcements (RFC 5227 §3 calls
//! them ARP Announcements; RFC 5944 §4.6 shows the request and reply forms).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Ethernet destination (6) ... source (6) ...            |
//! +-------------------------------+-------------------------------+
//! |   EtherType 0x0806            |  HTYPE = 1 (Ethernet)         |  offset 12
//! +-------------------------------+---------------+---------------+
//! |   PTYPE = 0x0800 (IPv4)       |  HLEN = 6     |  PLEN = 4     |  offset 16
//! +-------------------------------+---------------+---------------+
//! |   OPER (1 request, 2 reply)   |  SHA (6) ...                  |  offset 20
//! +-------------------------------+-------------------------------+
//! |   ... SHA  | SPA (4) | THA (6) | TPA (4)                      |  ends at 42
//! +---------------------------------------------------------------+
//! ```
//!
//! Frames are 42 bytes; drivers pad them to the Ethernet minimum.

use std::fmt;
use std::net::Ipv4Addr;

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Length of an Ethernet + ARP frame for IPv4 over Ethernet.
pub const ARP_FRAME_LEN: usize = 42;
/// Length of an Ethernet header without VLAN tag.
pub const ETHERNET_HEADER_LEN: usize = 14;

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;

/// An Ethernet (EUI-48) address.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    pub const BROADCAST: MacAddress = MacAddress([0xff; 6]);
    pub const ZERO: MacAddress = MacAddress([0; 6]);

    /// Whether the group bit is set (broadcast and multicast).
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The ARP operation (RFC 826 `ar$op`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ArpOperation {
    Request,
    Reply,
}

impl ArpOperation {
    fn code(self) -> u16 {
        match self {
            Self::Request => 1,
            Self::Reply => 2,
        }
    }
}

/// One Ethernet + ARP frame, IPv4 over Ethernet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ArpPacket {
    pub ethernet_destination: MacAddress,
    pub ethernet_source: MacAddress,
    pub operation: ArpOperation,
    pub sender_mac: MacAddress,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddress,
    pub target_ip: Ipv4Addr,
}

/// Why a frame is not an ARP packet we can use; offsets are into the frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArpError {
    #[error("frame of {length} bytes is shorter than the {needed} an ARP packet needs")]
    Truncated { length: usize, needed: usize },
    #[error("EtherType {ethertype:#06x} at offset 12 is not ARP")]
    NotArp { ethertype: u16 },
    #[error("hardware type {htype} at offset 14 is not Ethernet (1)")]
    HardwareType { htype: u16 },
    #[error("protocol type {ptype:#06x} at offset 16 is not IPv4")]
    ProtocolType { ptype: u16 },
    #[error("address lengths {hlen}/{plen} at offset 18 are not 6/4")]
    AddressLengths { hlen: u8, plen: u8 },
    #[error("operation {operation} at offset 20 is neither request (1) nor reply (2)")]
    Operation { operation: u16 },
}

fn u16_at(frame: &[u8], offset: usize) -> u16 {
    u16::from_be_bytes([frame[offset], frame[offset + 1]])
}

fn mac_at(frame: &[u8], offset: usize) -> MacAddress {
    let mut mac = [0; 6];
    mac.copy_from_slice(&frame[offset..offset + 6]);
    MacAddress(mac)
}

fn ipv4_at(frame: &[u8], offset: usize) -> Ipv4Addr {
    Ipv4Addr::new(frame[offset], frame[offset + 1], frame[offset + 2], frame[offset + 3])
}

impl ArpPacket {
    /// Parses an Ethernet frame; trailing padding is ignored.
    pub fn parse(frame: &[u8]) -> Result<ArpPacket, ArpError> {
        if frame.len() < ARP_FRAME_LEN {
            return Err(ArpError::Truncated { length: frame.len(), needed: ARP_FRAME_LEN });
        }
        let ethertype = u16_at(frame, 12);
        if ethertype != ETHERTYPE_ARP {
            return Err(ArpError::NotArp { ethertype });
        }
        let htype = u16_at(frame, 14);
        if htype != HTYPE_ETHERNET {
            return Err(ArpError::HardwareType { htype });
        }
        let ptype = u16_at(frame, 16);
        if ptype != PTYPE_IPV4 {
            return Err(ArpError::ProtocolType { ptype });
        }
        let (hlen, plen) = (frame[18], frame[19]);
        if (hlen, plen) != (6, 4) {
            return Err(ArpError::AddressLengths { hlen, plen });
        }
        let operation = match u16_at(frame, 20) {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            operation => return Err(ArpError::Operation { operation }),
        };
        Ok(ArpPacket {
            ethernet_destination: mac_at(frame, 0),
            ethernet_source: mac_at(frame, 6),
            operation,
            sender_mac: mac_at(frame, 22),
            sender_ip: ipv4_at(frame, 28),
            target_mac: mac_at(frame, 32),
            target_ip: ipv4_at(frame, 38),
        })
    }

    /// Writes the 42-byte frame.
    pub fn encode(&self, out: &mut [u8; ARP_FRAME_LEN]) {
        out[0..6].copy_from_slice(&self.ethernet_destination.0);
        out[6..12].copy_from_slice(&self.ethernet_source.0);
        out[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
        out[14..16].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        out[16..18].copy_from_slice(&PTYPE_IPV4.to_be_bytes());
        out[18] = 6;
        out[19] = 4;
        out[20..22].copy_from_slice(&self.operation.code().to_be_bytes());
        out[22..28].copy_from_slice(&self.sender_mac.0);
        out[28..32].copy_from_slice(&self.sender_ip.octets());
        out[32..38].copy_from_slice(&self.target_mac.0);
        out[38..42].copy_from_slice(&self.target_ip.octets());
    }

    /// The reply of `mac`, owner of the requested address, to `request`:
    /// unicast back to the asker (RFC 826 "swap the sender and target").
    pub fn reply_to(request: &ArpPacket, mac: MacAddress) -> ArpPacket {
        ArpPacket {
            ethernet_destination: request.sender_mac,
            ethernet_source: mac,
            operation: ArpOperation::Reply,
            sender_mac: mac,
            sender_ip: request.target_ip,
            target_mac: request.sender_mac,
            target_ip: request.sender_ip,
        }
    }

    /// A gratuitous request (RFC 5227 ARP Announcement: sender and target IP
    /// both `address`, target MAC zero), broadcast.
    pub fn gratuitous_request(address: Ipv4Addr, mac: MacAddress) -> ArpPacket {
        ArpPacket {
            ethernet_destination: MacAddress::BROADCAST,
            ethernet_source: mac,
            operation: ArpOperation::Request,
            sender_mac: mac,
            sender_ip: address,
            target_mac: MacAddress::ZERO,
            target_ip: address,
        }
    }

    /// A gratuitous reply, broadcast. The target MAC repeats the sender's:
    /// Linux only treats a reply as gratuitous when they match
    /// (`arp_is_garp`), and only then overrides an entry younger than
    /// `locktime`.
    pub fn gratuitous_reply(address: Ipv4Addr, mac: MacAddress) -> ArpPacket {
        ArpPacket {
            operation: ArpOperation::Reply,
            target_mac: mac,
            ..Self::gratuitous_request(address, mac)
        }
    }
}

#[cfg(test)]
mod tests;
