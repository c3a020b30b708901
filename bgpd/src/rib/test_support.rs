//! What several RIB test files share.

use std::net::{IpAddr, Ipv4Addr};

use super::PeerInfo;
use crate::wire::{CodecOptions, Family};

/// Our AS in these tests.
pub(super) const LOCAL_ASN: u32 = 65000;

/// An eBGP peer of AS `asn` at 192.0.2.`last`, IPv4 unicast only, 4-octet
/// ASNs, with or without RFC 8654 extended messages.
pub(super) fn ebgp_peer(asn: u32, last: u8, extended_message: bool) -> PeerInfo {
    PeerInfo {
        asn,
        local_asn: LOCAL_ASN,
        router_id: Ipv4Addr::new(10, 0, 0, last),
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)),
        ibgp: false,
        local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        next_hop_v4: None,
        next_hop_v6: None,
        next_hop_self: false,
        families: vec![Family::Ipv4Unicast],
        codec: CodecOptions { four_octet_as: true, extended_message, ..CodecOptions::default() },
    }
}
