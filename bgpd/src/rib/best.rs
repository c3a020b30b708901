//! Best-path selection: RFC 4271 §9.1.2.2 (breaking ties) with the usual
//! additions (RFC 4456 §9 for ORIGINATOR_ID and CLUSTER_LIST, local origination).
//!
//! Steps, first difference wins:
//! 1. highest LOCAL_PREF (100 when absent; eBGP-learned LOCAL_PREF is dropped on
//!    import, RFC 4271 §5.1.5);
//! 2. locally originated (static config or API) over learned;
//! 3. shortest AS_PATH (AS_SET counts 1, confederation segments 0);
//! 4. lowest ORIGIN (IGP < EGP < INCOMPLETE);
//! 5. lowest MULTI_EXIT_DISC, only between routes from the same neighbouring AS
//!    (missing MED = 0, RFC 4271 §9.1.2.2 c);
//! 6. eBGP-learned over iBGP-learned;
//! 7. lowest router id of the sender, ORIGINATOR_ID instead when present;
//! 8. shortest CLUSTER_LIST;
//! 9. lowest peer address;
//! 10. a final deterministic order on the source itself (Static < Api(owner) <
//!     Peer(id)), so that two local sources with equal attributes always resolve
//!     the same way.
//!
//! The IGP cost step (§9.1.2.2 e) is absent: `bgpd` has no IGP. Step 5 is not
//! transitive over three paths from two ASes (a known property of MED); the
//! result then depends on arrival order, as in RFC 4271 itself.

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr};

use super::Source;
use super::intern::Summary;

/// What best-path selection needs to know about a route's source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SourceFacts {
    pub source: Source,
    /// Static or API: originated by this router.
    pub local: bool,
    /// Learned over an iBGP session.
    pub ibgp: bool,
    pub router_id: Ipv4Addr,
    /// Peer address; `None` for local sources.
    pub address: Option<IpAddr>,
}

/// One path as selection sees it.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Candidate<'a> {
    pub summary: &'a Summary,
    pub source: &'a SourceFacts,
}

/// The step that decided a comparison (for tests and "show route" output).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    LocalPref,
    LocalOrigin,
    AsPathLength,
    Origin,
    Med,
    ExternalOverInternal,
    RouterId,
    ClusterListLength,
    PeerAddress,
    SourceOrder,
    Equal,
}

/// Compare two candidates: `Ordering::Less` means `a` is preferred.
pub(crate) fn compare(a: &Candidate<'_>, b: &Candidate<'_>) -> (Ordering, Reason) {
    let (sa, sb) = (a.summary, b.summary);
    let steps: [(Ordering, Reason); 4] = [
        (sb.local_pref.cmp(&sa.local_pref), Reason::LocalPref),
        (b.source.local.cmp(&a.source.local), Reason::LocalOrigin),
        (sa.path_length.cmp(&sb.path_length), Reason::AsPathLength),
        (sa.origin.cmp(&sb.origin), Reason::Origin),
    ];
    for (ordering, reason) in steps {
        if ordering != Ordering::Equal {
            return (ordering, reason);
        }
    }
    if sa.neighbor_as == sb.neighbor_as && sa.med != sb.med {
        return (sa.med.cmp(&sb.med), Reason::Med);
    }
    if a.source.ibgp != b.source.ibgp {
        return (a.source.ibgp.cmp(&b.source.ibgp), Reason::ExternalOverInternal);
    }
    let id_a = sa.originator_id.unwrap_or(a.source.router_id);
    let id_b = sb.originator_id.unwrap_or(b.source.router_id);
    let steps: [(Ordering, Reason); 3] = [
        (id_a.cmp(&id_b), Reason::RouterId),
        (sa.cluster_length.cmp(&sb.cluster_length), Reason::ClusterListLength),
        (a.source.address.cmp(&b.source.address), Reason::PeerAddress),
    ];
    for (ordering, reason) in steps {
        if ordering != Ordering::Equal {
            return (ordering, reason);
        }
    }
    match a.source.source.cmp(&b.source.source) {
        Ordering::Equal => (Ordering::Equal, Reason::Equal),
        ordering => (ordering, Reason::SourceOrder),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rib::{OwnerId, PeerId};

    fn summary() -> Summary {
        Summary {
            local_pref: 100,
            path_length: 2,
            origin: 0,
            med: 0,
            neighbor_as: Some(65001),
            originator_id: None,
            cluster_length: 0,
            no_export: false,
            no_advertise: false,
        }
    }

    fn peer(id: u32, ibgp: bool, router_id: [u8; 4], address: [u8; 4]) -> SourceFacts {
        SourceFacts {
            source: Source::Peer(PeerId(id)),
            local: false,
            ibgp,
            router_id: Ipv4Addr::from(router_id),
            address: Some(IpAddr::from(address)),
        }
    }

    fn ebgp() -> SourceFacts {
        peer(1, false, [10, 0, 0, 1], [192, 0, 2, 1])
    }

    /// Each row: a modification making `a` win, and the step that must decide.
    #[test]
    fn each_step_decides() {
        type Tweak = fn(&mut Summary, &mut SourceFacts, &mut Summary, &mut SourceFacts);
        let rows: Vec<(&str, Tweak, Reason)> = vec![
            ("local pref", |a, _, _, _| a.local_pref = 200, Reason::LocalPref),
            (
                "local origin beats shorter path",
                |a, sa, b, _| {
                    sa.local = true;
                    sa.source = Source::Static;
                    a.path_length = 5;
                    b.path_length = 1;
                },
                Reason::LocalOrigin,
            ),
            ("as path", |_, _, b, _| b.path_length = 3, Reason::AsPathLength),
            ("origin", |_, _, b, _| b.origin = 2, Reason::Origin),
            (
                "med same neighbour",
                |a, _, b, _| {
                    a.med = 5;
                    b.med = 10;
                },
                Reason::Med,
            ),
            (
                "med ignored across neighbours, ebgp decides",
                |a, _, b, sb| {
                    a.med = 50;
                    b.neighbor_as = Some(65002);
                    *sb = peer(2, true, [1, 1, 1, 1], [192, 0, 2, 0]);
                },
                Reason::ExternalOverInternal,
            ),
            ("ebgp over ibgp", |_, _, _, sb| sb.ibgp = true, Reason::ExternalOverInternal),
            (
                "router id",
                |_, _, _, sb| *sb = peer(2, false, [10, 0, 0, 2], [192, 0, 2, 0]),
                Reason::RouterId,
            ),
            (
                "originator id replaces router id",
                |a, _, _, sb| {
                    *sb = peer(2, false, [1, 1, 1, 1], [192, 0, 2, 0]);
                    a.originator_id = Some(Ipv4Addr::new(1, 0, 0, 0));
                },
                Reason::RouterId,
            ),
            (
                "cluster list",
                |_, _, b, sb| {
                    *sb = peer(2, false, [10, 0, 0, 1], [192, 0, 2, 0]);
                    b.cluster_length = 1;
                },
                Reason::ClusterListLength,
            ),
            (
                "peer address",
                |_, _, _, sb| *sb = peer(2, false, [10, 0, 0, 1], [192, 0, 2, 9]),
                Reason::PeerAddress,
            ),
            (
                "static before api",
                |_, sa, _, sb| {
                    for (s, source) in [(sa, Source::Static), (sb, Source::Api(OwnerId(1)))] {
                        s.local = true;
                        s.source = source;
                        s.address = None;
                    }
                },
                Reason::SourceOrder,
            ),
        ];
        for (name, tweak, reason) in rows {
            let (mut a, mut sa, mut b, mut sb) = (summary(), ebgp(), summary(), ebgp());
            tweak(&mut a, &mut sa, &mut b, &mut sb);
            let ca = Candidate { summary: &a, source: &sa };
            let cb = Candidate { summary: &b, source: &sb };
            assert_eq!(compare(&ca, &cb), (Ordering::Less, reason), "{name}");
            assert_eq!(compare(&cb, &ca), (Ordering::Greater, reason), "{name} reversed");
        }
    }

    #[test]
    fn identical_paths_are_equal() {
        let (a, s) = (summary(), ebgp());
        let c = Candidate { summary: &a, source: &s };
        assert_eq!(compare(&c, &c), (Ordering::Equal, Reason::Equal));
    }
}
