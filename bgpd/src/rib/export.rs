//! Export rules: which Loc-RIB routes a peer is sent (RFC 4271 §9.1.3, RFC 1997)
//! and how their attributes are rewritten for it (RFC 4271 §5.1).
//!
//! The rewrite depends only on the attribute set, whether the route is local,
//! the family and the peer's *export profile* (iBGP or eBGP, next-hop-self and
//! the addresses used for it), never on the prefix; so it is computed once per
//! (attribute set, flavour) and cached in the interning table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::intern::{DEFAULT_LOCAL_PREF, Summary};
use crate::policy::NextHopAction;
use crate::wire::attributes::table::passed_on_flags;
use crate::wire::{
    AsPath, CodecOptions, Family, NextHop, PathAttributes, SegmentType, UpdatePacker,
};

/// The part of a peer's configuration that shapes exported attributes. Peers
/// with equal profiles share cached exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExportProfile {
    /// Our AS towards the peer (its `local_asn`, else `global_asn`).
    pub local_asn: u32,
    /// The daemon's AS (`global.asn`).
    pub global_asn: u32,
    pub ibgp: bool,
    /// Rewrite the next hop to our address for iBGP too (always done for eBGP).
    pub next_hop_self: bool,
    pub next_hop_v4: Option<Ipv4Addr>,
    pub next_hop_v6: Option<Ipv6Addr>,
    /// Our link-local address when the session runs over one (BGP
    /// unnumbered): sent beside a global `next_hop_v6` as the second next
    /// hop of RFC 2545 §3, or alone in its place when there is no global one.
    pub next_hop_link_local: Option<Ipv6Addr>,
    /// What the encoder needs to know of the session (its peer AS cleared, so
    /// eBGP peers of different ASes still share a profile).
    pub codec: CodecOptions,
}

impl ExportProfile {
    fn own_next_hop(&self, family: Family) -> Option<NextHop> {
        match family {
            // RFC 8950 §3: without an IPv4 address of ours, IPv4 routes go
            // with our IPv6 next hop where the peer accepts it.
            Family::Ipv4Unicast => self.next_hop_v4.map(NextHop::V4).or_else(|| {
                self.codec.extended_next_hop.contains(family).then(|| self.own_ipv6())?
            }),
            Family::Ipv6Unicast => self.own_ipv6(),
        }
    }

    fn own_ipv6(&self) -> Option<NextHop> {
        let global = self.next_hop_v6?;
        let link_local = self.next_hop_link_local.filter(|l| *l != global);
        Some(NextHop::V6 { global, link_local })
    }

    /// Whether `next_hop` can go with a route of `family` to this peer.
    fn fits(&self, next_hop: NextHop, family: Family) -> bool {
        next_hop_fits(next_hop, family)
            || (family == Family::Ipv4Unicast
                && self.codec.extended_next_hop.contains(family)
                && next_hop_fits(next_hop, Family::Ipv6Unicast))
    }
}

/// What an export chain asked of the rewrite: where the next hop goes, and
/// whether a MED it set survives towards eBGP.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct PolicyEffects {
    pub next_hop: Option<NextHopAction>,
    pub keep_med: bool,
}

/// What the per-route filter needs to know about the receiving peer.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Receiver {
    pub source: super::table::SourceIndex,
    pub ibgp: bool,
    pub asn: u32,
}

/// What [`may_send`] reads of a route's attributes: whether the receiver's
/// AS is in the AS_PATH. Stored sets answer without unpacking.
pub(crate) trait PathLoop: std::fmt::Debug {
    fn path_contains(&self, asn: u32) -> bool;
}

impl PathLoop for PathAttributes {
    fn path_contains(&self, asn: u32) -> bool {
        self.as_path.contains(asn)
    }
}

impl PathLoop for crate::wire::PackedAttributes {
    fn path_contains(&self, asn: u32) -> bool {
        self.as_path_contains(asn)
    }
}

/// What the per-route filter needs to know about the route.
#[derive(Copy, Clone, Debug)]
pub(crate) struct RouteFacts<'a> {
    pub source: super::table::SourceIndex,
    pub ibgp_learned: bool,
    pub summary: &'a Summary,
    pub attributes: &'a dyn PathLoop,
}

/// Whether `route` may be advertised to `receiver` at all.
pub(crate) fn may_send(route: &RouteFacts<'_>, receiver: &Receiver) -> bool {
    // Never back to the peer it came from.
    if route.source == receiver.source {
        return false;
    }
    // RFC 1997: NO_ADVERTISE to nobody, NO_EXPORT not outside the AS.
    if route.summary.no_advertise || (route.summary.no_export && !receiver.ibgp) {
        return false;
    }
    // RFC 4271 §9.2: iBGP-learned routes are not re-advertised to iBGP peers
    // (we are not a route reflector).
    if route.ibgp_learned && receiver.ibgp {
        return false;
    }
    // The peer would drop it as a loop (RFC 4271 §9.1.2); save it the work.
    receiver.ibgp || !route.attributes.path_contains(receiver.asn)
}

/// The attributes and next hop `attributes` is sent with to a peer of `profile`,
/// or `None` when no next hop of the family is known for that peer.
///
/// eBGP (RFC 4271 §5.1): prepend our ASN, next hop self, no LOCAL_PREF, no MED
/// learned from another AS (a locally set MED stays), no ORIGINATOR_ID or
/// CLUSTER_LIST (RFC 4456 §8), no non-transitive extended communities (RFC 4360
/// §6). iBGP: attributes kept, LOCAL_PREF set (100 when absent), next hop kept
/// unless next-hop-self; a route we originate loses the copies of our own ASN
/// its AS_PATH starts with (the config's `as_path_prepend`, an API client's
/// prepends): they are for eBGP neighbors only, RFC 4271 §5.1.2 wants a
/// locally originated route to reach internal peers with an empty AS_PATH,
/// and an internal peer would drop our ASN as a loop. Both: unknown non-transitive attributes are dropped and
/// unknown transitive ones get the Partial bit (RFC 4271 §5, the rule in
/// [`passed_on_flags`]).
pub(crate) fn rewrite(
    attributes: &PathAttributes,
    learned_next_hop: Option<NextHop>,
    local: bool,
    family: Family,
    profile: &ExportProfile,
    effects: PolicyEffects,
) -> Option<(PathAttributes, NextHop)> {
    let mut out = attributes.clone();
    let next_hop = rewrite_in_place(&mut out, learned_next_hop, local, family, profile, effects)?;
    Some((out, next_hop))
}

/// [`rewrite`] in place: `out` becomes the set sent and the next hop is
/// returned (`None`: no next hop of the family is known for the peer, and
/// `out` is left part-rewritten). The export path rewrites a reused
/// scratch set this way, without allocating.
pub(crate) fn rewrite_in_place(
    out: &mut PathAttributes,
    learned_next_hop: Option<NextHop>,
    local: bool,
    family: Family,
    profile: &ExportProfile,
    effects: PolicyEffects,
) -> Option<NextHop> {
    let local_asn = profile.local_asn;
    let chosen = match effects.next_hop {
        None => None,
        Some(NextHopAction::SelfAddress) => Some(profile.own_next_hop(family)?),
        Some(NextHopAction::Unchanged) => learned_next_hop.filter(|n| profile.fits(*n, family)),
        Some(NextHopAction::Address(address)) => {
            let next_hop = match address {
                IpAddr::V4(address) => NextHop::V4(address),
                IpAddr::V6(global) => NextHop::V6 { global, link_local: None },
            };
            profile.fits(next_hop, family).then_some(next_hop)
        }
    };
    let next_hop = if profile.ibgp {
        out.local_pref = Some(out.local_pref.unwrap_or(DEFAULT_LOCAL_PREF));
        if local {
            drop_own_prepends(&mut out.as_path, profile.global_asn);
            drop_own_prepends(&mut out.as_path, local_asn);
        }
        match learned_next_hop {
            Some(next_hop) if !profile.next_hop_self && profile.fits(next_hop, family) => next_hop,
            _ => profile.own_next_hop(family)?,
        }
    } else {
        if local && local_asn != profile.global_asn {
            // The config's and API clients' prepends are of the daemon's
            // AS: towards a neighbor we meet with another AS, they are of
            // that one, so the peer sees one AS of ours only.
            let prepends = drop_own_prepends(&mut out.as_path, profile.global_asn);
            for _ in 0..prepends {
                out.as_path.prepend(local_asn);
            }
        }
        out.as_path.prepend(local_asn);
        out.local_pref = None;
        if !local && !effects.keep_med {
            out.med = None;
        }
        out.originator_id = None;
        out.cluster_list.clear();
        out.extended_communities.retain(|c| c.is_transitive());
        // A route we originate with an explicit next hop (the config's
        // `next_hop`) keeps it: the operator named where traffic should go.
        match learned_next_hop {
            Some(next_hop) if local && profile.fits(next_hop, family) => next_hop,
            _ => profile.own_next_hop(family)?,
        }
    };
    let next_hop = chosen.unwrap_or(next_hop);
    out.unknown.retain(|u| u.is_transitive());
    for unknown in &mut out.unknown {
        unknown.flags = passed_on_flags(unknown.flags);
    }
    out.next_hop = match next_hop {
        NextHop::V4(address) if family == Family::Ipv4Unicast => Some(address),
        _ => None,
    };
    Some(next_hop)
}

/// Whether the rewritten route can be encoded for a peer of `profile` (see
/// `UpdatePacker::fits`).
pub(crate) fn fits(
    attributes: &PathAttributes,
    next_hop: NextHop,
    family: Family,
    profile: &ExportProfile,
) -> bool {
    // Nearly every set is far below the limit: a bound on its size skips
    // the trial encoding (once per attribute set and profile on export).
    if encoded_len_bound(attributes) <= SURELY_FITS {
        return true;
    }
    UpdatePacker::new(profile.codec).fits(attributes, family, Some(next_hop)).is_ok()
}

/// Attribute octets that fit a 4,096-octet UPDATE whatever else it carries:
/// header (19), two length fields (4), MP_REACH_NLRI with a global and
/// link-local IPv6 next hop and one host route with a path identifier (4 +
/// 5 + 32 + 1 + 21), rounded down generously.
const SURELY_FITS: usize = 3_900;

/// An upper bound on the octets `attributes` take on the wire (4-octet ASNs,
/// every attribute with an extended length header).
fn encoded_len_bound(attributes: &PathAttributes) -> usize {
    const FIXED: usize = 4 * 10 + 4 + 4 + 4 + 4 + 8 + 4 + 4;
    let segments: usize = attributes.as_path.segments.iter().map(|s| 2 + 4 * s.asns.len()).sum();
    let unknown: usize = attributes.unknown.iter().map(|u| 4 + u.value.len()).sum();
    FIXED
        + segments
        + 4 * attributes.communities.len()
        + 4 * attributes.cluster_list.len()
        + 8 * attributes.extended_communities.len()
        + 12 * attributes.large_communities.len()
        + unknown
}

/// Removes the copies of `local_asn` at the front of the first AS_SEQUENCE
/// (and that segment, when nothing else is left in it). Returns how many.
fn drop_own_prepends(as_path: &mut AsPath, local_asn: u32) -> usize {
    let Some(first) = as_path.segments.first_mut() else { return 0 };
    if first.kind != SegmentType::Sequence {
        return 0;
    }
    let own = first.asns.iter().take_while(|&&asn| asn == local_asn).count();
    first.asns.drain(..own);
    if first.asns.is_empty() {
        as_path.segments.remove(0);
    }
    own
}

fn next_hop_fits(next_hop: NextHop, family: Family) -> bool {
    match next_hop {
        NextHop::V4(address) => family == Family::Ipv4Unicast && !address.is_unspecified(),
        NextHop::V6 { global, .. } => family == Family::Ipv6Unicast && !global.is_unspecified(),
    }
}

/// Our link-local address when the session's local end is one.
pub(crate) fn own_link_local(local_address: IpAddr) -> Option<Ipv6Addr> {
    match local_address {
        IpAddr::V6(a) if a.is_unicast_link_local() => Some(a),
        _ => None,
    }
}

/// Next-hop addresses for a session from its local address and overrides.
pub(crate) fn own_addresses(
    local_address: IpAddr,
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    match local_address {
        IpAddr::V4(a) => (v4.or(Some(a)), v6),
        IpAddr::V6(a) => (v4.or_else(|| a.to_ipv4_mapped()), v6.or(Some(a))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::attributes::flags;
    use crate::wire::{Community, ExtendedCommunity, UnknownAttribute};

    const LOCAL_ASN: u32 = 65000;

    fn learned() -> PathAttributes {
        PathAttributes {
            as_path: AsPath::from_sequence([65001, 65010]),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            med: Some(50),
            local_pref: Some(300),
            originator_id: Some(Ipv4Addr::new(10, 0, 0, 9)),
            cluster_list: vec![Ipv4Addr::new(10, 0, 0, 8)],
            extended_communities: vec![
                ExtendedCommunity([0x00, 2, 0, 1, 0, 0, 0, 1]),
                ExtendedCommunity([0x40, 2, 0, 1, 0, 0, 0, 1]),
            ],
            unknown: vec![
                UnknownAttribute {
                    flags: flags::OPTIONAL | flags::TRANSITIVE,
                    type_code: 99,
                    value: bytes::Bytes::from_static(b"x"),
                },
                UnknownAttribute {
                    flags: flags::OPTIONAL,
                    type_code: 98,
                    value: bytes::Bytes::from_static(b"y"),
                },
            ],
            ..PathAttributes::default()
        }
    }

    fn profile(ibgp: bool, next_hop_self: bool) -> ExportProfile {
        ExportProfile {
            local_asn: LOCAL_ASN,
            global_asn: LOCAL_ASN,
            ibgp,
            next_hop_self,
            next_hop_v4: Some(Ipv4Addr::new(198, 51, 100, 1)),
            next_hop_v6: None,
            next_hop_link_local: None,
            codec: CodecOptions { four_octet_as: true, ..CodecOptions::default() },
        }
    }

    /// An eBGP session over a link-local address (BGP unnumbered), with the
    /// extended next hop capability negotiated or not.
    fn unnumbered(global: Option<Ipv6Addr>, extended_next_hop: bool) -> ExportProfile {
        let link_local: Ipv6Addr = "fe80::1".parse().unwrap();
        let mut codec = CodecOptions { four_octet_as: true, ..CodecOptions::default() };
        if extended_next_hop {
            codec.extended_next_hop.insert(Family::Ipv4Unicast);
        }
        ExportProfile {
            next_hop_v4: None,
            next_hop_v6: Some(global.unwrap_or(link_local)),
            next_hop_link_local: Some(link_local),
            codec,
            ..profile(false, false)
        }
    }

    fn exported(profile: &ExportProfile, family: Family) -> Option<NextHop> {
        let learned_next_hop = Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let effects = PolicyEffects::default();
        rewrite(&learned(), learned_next_hop, false, family, profile, effects).map(|(_, n)| n)
    }

    #[test]
    fn unnumbered_ipv4_goes_with_our_link_local_next_hop() {
        let link_local: Ipv6Addr = "fe80::1".parse().unwrap();
        let alone = NextHop::V6 { global: link_local, link_local: None };
        assert_eq!(exported(&unnumbered(None, true), Family::Ipv4Unicast), Some(alone));
        assert_eq!(exported(&unnumbered(None, true), Family::Ipv6Unicast), Some(alone));
        let global: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let both = NextHop::V6 { global, link_local: Some(link_local) };
        assert_eq!(exported(&unnumbered(Some(global), true), Family::Ipv4Unicast), Some(both));
    }

    #[test]
    fn unnumbered_ipv4_is_not_sent_without_extended_next_hop() {
        assert_eq!(exported(&unnumbered(None, false), Family::Ipv4Unicast), None);
    }

    #[test]
    fn an_ipv6_next_hop_of_an_ipv4_route_passes_on_only_with_extended_next_hop() {
        let learned_v6 =
            Some(NextHop::V6 { global: "2001:db8::9".parse().unwrap(), link_local: None });
        let internal = |extended| ExportProfile { ibgp: true, ..unnumbered(None, extended) };
        let kept = rewrite(
            &learned(),
            learned_v6,
            false,
            Family::Ipv4Unicast,
            &internal(true),
            PolicyEffects::default(),
        );
        assert_eq!(kept.map(|(_, n)| n), learned_v6);
        let own = rewrite(
            &learned(),
            learned_v6,
            false,
            Family::Ipv4Unicast,
            &internal(false),
            PolicyEffects::default(),
        );
        assert_eq!(own, None, "no IPv4 next hop of ours, no IPv6 one allowed");
    }

    #[test]
    fn ebgp_rewrite() {
        let nh = Some(NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
        let (out, next_hop) = rewrite(
            &learned(),
            nh,
            false,
            Family::Ipv4Unicast,
            &profile(false, false),
            PolicyEffects::default(),
        )
        .unwrap();
        assert_eq!(out.as_path, AsPath::from_sequence([LOCAL_ASN, 65001, 65010]));
        assert_eq!(next_hop, NextHop::V4(Ipv4Addr::new(198, 51, 100, 1)));
        assert_eq!(out.next_hop, Some(Ipv4Addr::new(198, 51, 100, 1)));
        assert_eq!(out.local_pref, None);
        assert_eq!(out.med, None, "MED learned from another AS is not passed on");
        assert_eq!(out.originator_id, None);
        assert!(out.cluster_list.is_empty());
        assert_eq!(out.extended_communities.len(), 1);
        assert_eq!(out.unknown.len(), 1);
        assert_eq!(out.unknown[0].type_code, 99);
        assert_ne!(out.unknown[0].flags & flags::PARTIAL, 0);
        // A locally set MED stays.
        let (out, _) = rewrite(
            &learned(),
            None,
            true,
            Family::Ipv4Unicast,
            &profile(false, false),
            PolicyEffects::default(),
        )
        .unwrap();
        assert_eq!(out.med, Some(50));
        // No IPv6 address for this session: IPv6 routes cannot be sent.
        assert!(
            rewrite(
                &learned(),
                None,
                true,
                Family::Ipv6Unicast,
                &profile(false, false),
                PolicyEffects::default()
            )
            .is_none()
        );
    }

    #[test]
    fn a_neighbor_local_as_is_the_only_as_of_ours_the_peer_sees() {
        let other = ExportProfile { local_asn: 64999, ..profile(false, false) };
        let (out, _) =
            rewrite(&learned(), None, false, Family::Ipv4Unicast, &other, PolicyEffects::default())
                .unwrap();
        assert_eq!(out.as_path, AsPath::from_sequence([64999, 65001, 65010]));
        // A local route's prepends (of the daemon's AS) become the neighbor's AS.
        let prepended = PathAttributes {
            as_path: AsPath::from_sequence([LOCAL_ASN, LOCAL_ASN]),
            ..PathAttributes::default()
        };
        let (out, _) =
            rewrite(&prepended, None, true, Family::Ipv4Unicast, &other, PolicyEffects::default())
                .unwrap();
        assert_eq!(out.as_path, AsPath::from_sequence([64999, 64999, 64999]));
        // iBGP in the neighbor's AS: a local route goes with an empty AS_PATH.
        let internal = ExportProfile { local_asn: 64999, ..profile(true, false) };
        let (out, _) = rewrite(
            &prepended,
            None,
            true,
            Family::Ipv4Unicast,
            &internal,
            PolicyEffects::default(),
        )
        .unwrap();
        assert!(out.as_path.segments.is_empty(), "{:?}", out.as_path);
    }

    #[test]
    fn ibgp_rewrite() {
        let learned_hop = NextHop::V4(Ipv4Addr::new(192, 0, 2, 1));
        let nh = Some(learned_hop);
        let mut attrs = learned();
        attrs.local_pref = None;
        let (out, next_hop) = rewrite(
            &attrs,
            nh,
            false,
            Family::Ipv4Unicast,
            &profile(true, false),
            PolicyEffects::default(),
        )
        .unwrap();
        assert_eq!(out.as_path, attrs.as_path);
        assert_eq!(out.local_pref, Some(100));
        assert_eq!(out.med, Some(50));
        assert_eq!(next_hop, learned_hop);
        let (_, next_hop) = rewrite(
            &attrs,
            nh,
            false,
            Family::Ipv4Unicast,
            &profile(true, true),
            PolicyEffects::default(),
        )
        .unwrap();
        assert_eq!(next_hop, NextHop::V4(Ipv4Addr::new(198, 51, 100, 1)));
        // Originated with "self": our address.
        let (_, next_hop) = rewrite(
            &attrs,
            None,
            true,
            Family::Ipv4Unicast,
            &profile(true, false),
            PolicyEffects::default(),
        )
        .unwrap();
        assert_eq!(next_hop, NextHop::V4(Ipv4Addr::new(198, 51, 100, 1)));
    }

    #[test]
    fn route_filters() {
        let attrs = learned();
        let mut summary = Summary::of(&attrs);
        let route = |summary: &Summary, source, ibgp_learned| {
            may_send(
                &RouteFacts { source, ibgp_learned, summary, attributes: &attrs },
                &Receiver { source: 2, ibgp: false, asn: 65002 },
            )
        };
        assert!(route(&summary, 1, false));
        assert!(!route(&summary, 2, false), "never back to the sender");
        let to_ibgp = |summary: &Summary, ibgp_learned| {
            may_send(
                &RouteFacts { source: 1, ibgp_learned, summary, attributes: &attrs },
                &Receiver { source: 2, ibgp: true, asn: LOCAL_ASN },
            )
        };
        assert!(to_ibgp(&summary, false));
        assert!(!to_ibgp(&summary, true), "no iBGP to iBGP");
        summary.no_export = true;
        assert!(!route(&summary, 1, false));
        assert!(to_ibgp(&summary, false), "NO_EXPORT stays inside the AS");
        summary.no_export = false;
        summary.no_advertise = true;
        assert!(!to_ibgp(&summary, false));
        let summary = Summary::of(&attrs);
        let to_65010 = may_send(
            &RouteFacts { source: 1, ibgp_learned: false, summary: &summary, attributes: &attrs },
            &Receiver { source: 2, ibgp: false, asn: 65010 },
        );
        assert!(!to_65010, "peer's ASN in the path");
        let _ = Community::NO_EXPORT;
    }

    #[test]
    fn ebgp_keeps_the_configured_next_hop_of_a_local_route() {
        let configured = NextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None };
        let (_, next_hop) = rewrite(
            &learned(),
            Some(configured),
            true,
            Family::Ipv6Unicast,
            &profile(false, false),
            PolicyEffects::default(),
        )
        .unwrap();
        assert_eq!(next_hop, configured);
    }

    #[test]
    fn a_set_at_the_size_bound_really_fits_the_worst_case_update() {
        let mut attributes = learned();
        while encoded_len_bound(&attributes) + 4 <= SURELY_FITS {
            let next = attributes.communities.len() as u32;
            attributes.communities.push(Community(next));
        }
        let next_hop = NextHop::V6 {
            global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
        };
        let mut codec = CodecOptions { four_octet_as: true, ..CodecOptions::default() };
        codec.add_path_send.insert(Family::Ipv6Unicast);
        let mut packer = UpdatePacker::new(codec);
        packer.fits(&attributes, Family::Ipv6Unicast, Some(next_hop)).expect("fits");
    }
}
