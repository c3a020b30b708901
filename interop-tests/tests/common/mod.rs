//! Shared pieces of the `bgpd_*` scenarios: timeouts, addresses and peer configs.
//!
//! Standard pair (see `interop_tests::topology::pair`):
//!
//! ```text
//!   [left: ironlb bgpd] 192.0.2.1 / 2001:db8::1 ──── 192.0.2.2 / 2001:db8::2 [right: FRR or BIRD]
//! ```
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use interop_tests::bgpd::{Bgpd, BgpdConfig, BgpdNeighbor, BgpdRoute};
use interop_tests::bird::{BirdBgp, BirdConfig};
use interop_tests::frr::{FrrConfig, FrrNeighbor};
use interop_tests::netns::Namespace;
use interop_tests::{Check, Family};
use ipnet::IpNet;

/// Session establishment (BIRD connects after its 1 s connect delay; FRR retries every 1 s).
pub const UP: Duration = Duration::from_secs(25);
/// A route to appear or disappear once the session is up.
pub const ROUTE: Duration = Duration::from_secs(30);

pub const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const THEIRS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

pub fn net(s: &str) -> IpNet {
    s.parse().expect("test prefix")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// FRR on the right of a pair, peering with bgpd at `ours`.
pub fn frr_towards_bgpd(frr_asn: u32, bgpd_asn: u32, ours: IpAddr) -> FrrConfig {
    FrrConfig::new(frr_asn, THEIRS).neighbor(FrrNeighbor::new(ours, bgpd_asn))
}

/// BIRD on the right of a pair, peering with bgpd at `ours` (protocol `ironlb`).
pub fn bird_towards_bgpd(bird_asn: u32, bgpd_asn: u32, ours: IpAddr) -> BirdConfig {
    BirdConfig::new(THEIRS).bgp(BirdBgp::new("ironlb", bird_asn, ours, bgpd_asn))
}

/// bgpd on the left of a pair, one neighbour, hold time 9 s.
pub fn bgpd_towards(asn: u32, theirs: IpAddr, their_asn: u32) -> BgpdConfig {
    BgpdConfig::new(asn, OURS).neighbor(BgpdNeighbor::new(theirs, their_asn))
}

/// A config route with MED, communities and large communities.
pub fn route_with_attributes(prefix: &str) -> BgpdRoute {
    BgpdRoute {
        med: 50,
        communities: vec!["65001:100".into(), "65001:200".into()],
        large_communities: vec!["65001:1:2".into()],
        ..BgpdRoute::new(net(prefix))
    }
}

/// Starts bgpd, failing with the reason (binary missing, exited with its log).
pub fn start_bgpd(namespace: &Namespace, config: &BgpdConfig) -> Bgpd {
    Bgpd::start(namespace, config).check("ironlb bgpd starts")
}

pub fn both_families() -> [Family; 2] {
    [Family::Ipv4Unicast, Family::Ipv6Unicast]
}
