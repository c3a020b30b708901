//! What one session negotiated in its OPEN exchange, as far as the wire format
//! cares: AS number width (RFC 6793), message size (RFC 8654), ADD-PATH per
//! family and direction (RFC 7911 §4), enhanced route refresh (RFC 7313),
//! extended next hop encoding (RFC 8950 §4).

use super::family::Family;
use super::open::{Capability, OpenMessage};
use super::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};

/// A set of [`Family`] values, one bit each: `Copy` and allocation-free so the
/// codec can test it per prefix.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FamilySet(u8);

impl FamilySet {
    pub const EMPTY: FamilySet = FamilySet(0);

    const fn bit(family: Family) -> u8 {
        match family {
            Family::Ipv4Unicast => 1,
            Family::Ipv6Unicast => 2,
        }
    }

    pub const fn contains(self, family: Family) -> bool {
        self.0 & Self::bit(family) != 0
    }

    pub fn insert(&mut self, family: Family) {
        self.0 |= Self::bit(family);
    }

    pub fn with(mut self, family: Family) -> Self {
        self.insert(family);
        self
    }
}

impl FromIterator<Family> for FamilySet {
    fn from_iter<T: IntoIterator<Item = Family>>(iter: T) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

/// Wire format options of one session after OPEN negotiation.
///
/// `Default` is the state before negotiation: 2-octet AS numbers, 4096-octet
/// messages, no ADD-PATH, plain route refresh; OPEN messages are always
/// exchanged under it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CodecOptions {
    /// Both sides sent the 4-octet AS capability (RFC 6793 §3).
    pub four_octet_as: bool,
    /// Both sides sent the extended message capability (RFC 8654 §3).
    pub extended_message: bool,
    /// Both sides sent enhanced route refresh (RFC 7313 §3.1): a ROUTE-REFRESH
    /// of the wrong length is then error 7/1 rather than 1/2.
    pub enhanced_route_refresh: bool,
    /// Families whose received NLRI carry path identifiers (RFC 7911 §3).
    pub add_path_receive: FamilySet,
    /// Families whose sent NLRI carry path identifiers.
    pub add_path_send: FamilySet,
    /// Families whose NLRI may carry an IPv6 next hop although they are not
    /// IPv6 (RFC 8950 §3): both OPENs listed the family with Nexthop AFI 2
    /// in the extended next hop capability. Only IPv4 unicast can be in it.
    /// Without it an IPv4 MP_REACH_NLRI with a 16- or 32-octet next hop is
    /// malformed (RFC 4760 §3, RFC 7606 §7.11) and none is sent.
    pub extended_next_hop: FamilySet,
    /// The peer's AS when it is an external neighbor (the two OPENs name
    /// different ASes), `None` for an internal one. RFC 7606 §7.2, §7.5, §7.9
    /// and §7.10 handle some attributes differently on eBGP sessions.
    pub external_peer_as: Option<u32>,
    /// Accept an external neighbor's AS_PATH whose first AS is not the
    /// neighbor's (RFC 4271 §6.3 and RFC 7606 §7.2 otherwise treat the UPDATE
    /// as withdraw): set for a neighbor with `enforce_first_as = false`, a
    /// route server that does not prepend its own AS (RFC 7947 §2.2.2.1).
    /// `false`, the default, checks. Confederation segments from an external
    /// neighbor are refused either way.
    pub skip_first_as_check: bool,
}

impl CodecOptions {
    /// The largest message this session may carry (OPEN and KEEPALIVE are
    /// limited by their own rules).
    pub const fn max_message_len(&self) -> usize {
        if self.extended_message { MAX_EXTENDED_MESSAGE_LEN } else { MAX_MESSAGE_LEN }
    }

    /// The options agreed by our OPEN (`local`) and the peer's (`remote`).
    pub fn negotiated(local: &OpenMessage, remote: &OpenMessage) -> Self {
        let both = |wanted: fn(&Capability) -> bool| {
            local.capabilities.iter().any(wanted) && remote.capabilities.iter().any(wanted)
        };
        let mut options = Self {
            four_octet_as: both(|c| matches!(c, Capability::FourOctetAs(_))),
            extended_message: both(|c| matches!(c, Capability::ExtendedMessage)),
            enhanced_route_refresh: both(|c| matches!(c, Capability::EnhancedRouteRefresh)),
            external_peer_as: (local.asn() != remote.asn()).then(|| remote.asn()),
            ..Self::default()
        };
        let add_path = |open: &OpenMessage, family: Family| {
            open.capabilities.iter().find_map(|c| match c {
                Capability::AddPath(entries) => {
                    entries.iter().find(|e| e.afi_safi == family.afi_safi()).map(|e| e.mode)
                }
                _ => None,
            })
        };
        let ipv6_next_hop = |open: &OpenMessage, family: Family| {
            open.capabilities.iter().any(|c| match c {
                Capability::ExtendedNextHop(entries) => entries.iter().any(|e| {
                    e.nlri_family() == Some(family) && e.next_hop_afi == super::family::AFI_IPV6
                }),
                _ => false,
            })
        };
        if ipv6_next_hop(local, Family::Ipv4Unicast) && ipv6_next_hop(remote, Family::Ipv4Unicast) {
            options.extended_next_hop.insert(Family::Ipv4Unicast);
        }
        for family in Family::ALL {
            if let (Some(ours), Some(theirs)) = (add_path(local, family), add_path(remote, family))
            {
                if ours.receives() && theirs.sends() {
                    options.add_path_receive.insert(family);
                }
                if ours.sends() && theirs.receives() {
                    options.add_path_send.insert(family);
                }
            }
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::open::{AddPathFamily, AddPathMode, ExtendedNextHopEntry};

    fn open(capabilities: Vec<Capability>) -> OpenMessage {
        OpenMessage {
            version: 4,
            my_as: 65001,
            hold_time: 90,
            router_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities,
        }
    }

    #[test]
    fn default_is_before_negotiation() {
        let options = CodecOptions::default();
        assert!(!options.four_octet_as);
        assert_eq!(options.max_message_len(), 4096);
        assert!(!options.add_path_receive.contains(Family::Ipv4Unicast));
    }

    #[test]
    fn negotiation_needs_both_sides() {
        let add_path = |mode| {
            Capability::AddPath(vec![AddPathFamily {
                afi_safi: Family::Ipv4Unicast.afi_safi(),
                mode,
            }])
        };
        let local = open(vec![
            Capability::FourOctetAs(65001),
            Capability::ExtendedMessage,
            add_path(AddPathMode::Both),
        ]);
        let remote = open(vec![Capability::FourOctetAs(65002), add_path(AddPathMode::Send)]);
        let options = CodecOptions::negotiated(&local, &remote);
        assert!(options.four_octet_as);
        assert!(!options.extended_message);
        assert!(options.add_path_receive.contains(Family::Ipv4Unicast));
        assert!(!options.add_path_send.contains(Family::Ipv4Unicast));
        assert!(!options.add_path_receive.contains(Family::Ipv6Unicast));
    }

    #[test]
    fn extended_next_hop_needs_both_sides_and_an_ipv6_next_hop_afi() {
        let enh = |next_hop_afi| {
            Capability::ExtendedNextHop(vec![ExtendedNextHopEntry {
                next_hop_afi,
                ..ExtendedNextHopEntry::IPV4_UNICAST_OVER_IPV6
            }])
        };
        let ours = open(vec![enh(2)]);
        let both = CodecOptions::negotiated(&ours, &open(vec![enh(2)]));
        assert!(both.extended_next_hop.contains(Family::Ipv4Unicast));
        assert!(!both.extended_next_hop.contains(Family::Ipv6Unicast));
        let one = CodecOptions::negotiated(&ours, &open(vec![]));
        assert!(!one.extended_next_hop.contains(Family::Ipv4Unicast));
        let wrong_afi = CodecOptions::negotiated(&ours, &open(vec![enh(1)]));
        assert!(!wrong_afi.extended_next_hop.contains(Family::Ipv4Unicast));
    }
}
