//! Table tests of OPEN checks and capability negotiation.

use std::net::Ipv4Addr;

use bytes::Bytes;

use super::*;
use crate::fsm::config::HostName;
use crate::wire::{AddPathMode, GracefulRestartFamily};

const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn config() -> SessionConfig {
    SessionConfig::new(65001, 65002, LOCAL_ID)
}

fn peer_open(capabilities: Vec<Capability>) -> OpenMessage {
    OpenMessage { version: 4, my_as: 65002, hold_time: 90, router_id: PEER_ID, capabilities }
}

fn v4() -> Capability {
    Capability::Multiprotocol(Family::Ipv4Unicast.afi_safi())
}

fn v6() -> Capability {
    Capability::Multiprotocol(Family::Ipv6Unicast.afi_safi())
}

fn run(config: &SessionConfig, remote: &OpenMessage) -> Result<NegotiatedSession, OpenError> {
    negotiate(config, &build_open(config), remote)
}

fn rejected(config: &SessionConfig, remote: &OpenMessage) -> (NotificationKind, Bytes) {
    match run(config, remote) {
        Ok(session) => panic!("accepted: {session:?}"),
        Err(error) => {
            let notification = error.notification();
            (notification.kind().expect("known kind"), notification.data)
        }
    }
}

// --- building our OPEN ---

#[test]
fn open_carries_two_octet_asn_and_four_octet_capability() {
    let open = build_open(&config());
    assert_eq!(open.version, 4);
    assert_eq!(open.my_as, 65001);
    assert_eq!(open.hold_time, 90);
    assert_eq!(open.router_id, LOCAL_ID);
    assert!(open.capabilities.contains(&Capability::FourOctetAs(65001)));
}

#[test]
fn open_offers_ipv4_over_ipv6_next_hops_only_when_asked() {
    let enh = Capability::ExtendedNextHop(vec![ExtendedNextHopEntry::IPV4_UNICAST_OVER_IPV6]);
    assert!(!build_open(&config()).capabilities.contains(&enh));
    let mut unnumbered = config();
    unnumbered.extended_next_hop = true;
    assert!(build_open(&unnumbered).capabilities.contains(&enh));
    // Without IPv4 unicast there is nothing to encode over IPv6.
    unnumbered.families = vec![Family::Ipv6Unicast];
    assert!(!build_open(&unnumbered).capabilities.contains(&enh));
}

#[test]
fn open_puts_as_trans_for_a_four_octet_asn() {
    let mut config = config();
    config.local_asn = 4_200_000_001;
    let open = build_open(&config);
    assert_eq!(open.my_as, AS_TRANS);
    assert_eq!(open.asn(), 4_200_000_001);
}

#[test]
fn open_lists_default_capabilities_in_order() {
    let open = build_open(&config());
    assert_eq!(
        open.capabilities,
        vec![
            v4(),
            v6(),
            Capability::RouteRefresh { cisco: false },
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(65001),
            Capability::ExtendedMessage,
        ]
    );
}

#[test]
fn open_leaves_out_disabled_capabilities() {
    let mut config = config();
    config.route_refresh = false;
    config.extended_message = false;
    config.families = vec![Family::Ipv6Unicast];
    let open = build_open(&config);
    assert_eq!(open.capabilities, vec![v6(), Capability::FourOctetAs(65001)]);
}

#[test]
fn open_without_configured_families_offers_ipv4_unicast() {
    let mut config = config();
    config.families.clear();
    assert_eq!(build_open(&config).capabilities[0], v4());
}

#[test]
fn open_carries_add_path_only_for_offered_families() {
    let mut config = config();
    config.families = vec![Family::Ipv4Unicast];
    config.add_path =
        vec![(Family::Ipv4Unicast, AddPathMode::Both), (Family::Ipv6Unicast, AddPathMode::Send)];
    let open = build_open(&config);
    let expected = Capability::AddPath(vec![AddPathFamily {
        afi_safi: Family::Ipv4Unicast.afi_safi(),
        mode: AddPathMode::Both,
    }]);
    assert!(open.capabilities.contains(&expected));
}

#[test]
fn open_carries_graceful_restart_and_fqdn_when_configured() {
    let mut config = config();
    let graceful_restart = GracefulRestartCapability {
        restart_state: false,
        notification: true,
        restart_time: 120,
        families: vec![GracefulRestartFamily {
            afi_safi: Family::Ipv4Unicast.afi_safi(),
            forwarding_preserved: false,
        }],
    };
    config.graceful_restart = Some(graceful_restart.clone());
    config.fqdn = Some(HostName { hostname: "node1".into(), domain: "example".into() });
    let open = build_open(&config);
    assert!(open.capabilities.contains(&Capability::GracefulRestart(graceful_restart)));
    assert!(
        open.capabilities
            .contains(&Capability::Fqdn { hostname: "node1".into(), domain: "example".into() })
    );
}

// --- accepted OPENs ---

#[test]
fn accepts_a_plain_peer() {
    let remote = peer_open(vec![v4(), v6(), Capability::FourOctetAs(65002)]);
    let session = run(&config(), &remote).expect("accepted");
    assert_eq!(session.peer_asn, 65002);
    assert_eq!(session.peer_router_id, PEER_ID);
    assert_eq!((session.hold_time, session.keepalive_interval), (90, 30));
    assert!(session.four_octet_as);
    assert_eq!(session.families, vec![Family::Ipv4Unicast, Family::Ipv6Unicast]);
    assert_eq!(session.remote_open, remote);
    assert_eq!(session.local_open, build_open(&config()));
    assert_eq!(session.hold_duration(), Some(Duration::from_secs(90)));
    assert_eq!(session.keepalive_duration(), Some(Duration::from_secs(30)));
}

#[test]
fn families_are_the_intersection() {
    let session = run(&config(), &peer_open(vec![v6()])).expect("accepted");
    assert_eq!(session.families, vec![Family::Ipv6Unicast]);
    assert!(session.has_family(Family::Ipv6Unicast));
    assert!(!session.has_family(Family::Ipv4Unicast));
}

#[test]
fn peer_without_multiprotocol_means_ipv4_unicast() {
    let session = run(&config(), &peer_open(Vec::new())).expect("accepted");
    assert_eq!(session.families, vec![Family::Ipv4Unicast]);
}

#[test]
fn peer_families_we_do_not_route_are_ignored() {
    let evpn = Capability::Multiprotocol(AfiSafi::new(25, 70));
    let session = run(&config(), &peer_open(vec![evpn, v4()])).expect("accepted");
    assert_eq!(session.families, vec![Family::Ipv4Unicast]);
}

#[test]
fn no_common_family_is_unsupported_capability_listing_ours() {
    let mut config = config();
    config.families = vec![Family::Ipv6Unicast];
    let (kind, data) = rejected(&config, &peer_open(Vec::new()));
    assert_eq!(kind, NotificationKind::UnsupportedCapability);
    assert_eq!(&data[..], &[1, 4, 0, 2, 0, 1]);
}

#[test]
fn unknown_capabilities_are_accepted() {
    let unknown = Capability::Unknown { code: 200, value: Bytes::from_static(&[1, 2, 3]) };
    assert!(run(&config(), &peer_open(vec![unknown, v4()])).is_ok());
}

#[test]
fn four_octet_asn_behind_as_trans() {
    let mut config = config();
    config.remote_asn = 4_200_000_002;
    let mut remote = peer_open(vec![v4(), Capability::FourOctetAs(4_200_000_002)]);
    remote.my_as = AS_TRANS;
    let session = run(&config, &remote).expect("accepted");
    assert_eq!(session.peer_asn, 4_200_000_002);
    assert!(session.four_octet_as);
}

#[test]
fn peer_without_four_octet_capability_uses_my_as() {
    let session = run(&config(), &peer_open(vec![v4()])).expect("accepted");
    assert_eq!(session.peer_asn, 65002);
    assert!(!session.four_octet_as);
}

#[test]
fn graceful_restart_of_the_peer_is_passed_on() {
    let graceful_restart = GracefulRestartCapability {
        restart_state: true,
        notification: false,
        restart_time: 90,
        families: Vec::new(),
    };
    let remote = peer_open(vec![v4(), Capability::GracefulRestart(graceful_restart.clone())]);
    let session = run(&config(), &remote).expect("accepted");
    assert_eq!(session.peer_graceful_restart, Some(graceful_restart));
    let session = run(&config(), &peer_open(vec![v4()])).expect("accepted");
    assert_eq!(session.peer_graceful_restart, None);
}

#[test]
fn external_peer_may_share_our_identifier() {
    let mut remote = peer_open(vec![v4()]);
    remote.router_id = LOCAL_ID;
    assert!(run(&config(), &remote).is_ok());
}

// --- rejected OPENs and their NOTIFICATIONs ---

#[test]
fn version_other_than_four_is_unsupported_version_with_data_four() {
    for version in [3, 5] {
        let mut remote = peer_open(vec![v4()]);
        remote.version = version;
        let (kind, data) = rejected(&config(), &remote);
        assert_eq!(kind, NotificationKind::UnsupportedVersionNumber);
        assert_eq!(&data[..], &[0, 4]);
    }
}

#[test]
fn any_external_as_accepts_every_as_but_ours_and_learns_it() {
    let mut config = SessionConfig::new(65001, 0, LOCAL_ID);
    config.any_external_as = true;
    assert!(!config.is_internal());
    for asn in [65002, 4_200_000_000] {
        let mut remote = peer_open(vec![v4(), Capability::FourOctetAs(asn)]);
        remote.my_as = u16::try_from(asn).unwrap_or(AS_TRANS);
        assert_eq!(run(&config, &remote).expect("accepted").peer_asn, asn);
    }
    let mut ours = peer_open(vec![v4(), Capability::FourOctetAs(65001)]);
    ours.my_as = 65001;
    assert_eq!(rejected(&config, &ours).0, NotificationKind::BadPeerAs);
}

#[test]
fn wrong_peer_as_is_bad_peer_as() {
    let mut remote = peer_open(vec![v4()]);
    remote.my_as = 65099;
    assert_eq!(rejected(&config(), &remote).0, NotificationKind::BadPeerAs);
    let remote = peer_open(vec![v4(), Capability::FourOctetAs(65099)]);
    let mut remote = remote;
    remote.my_as = 65099;
    assert_eq!(rejected(&config(), &remote).0, NotificationKind::BadPeerAs);
}

#[test]
fn as_trans_without_capability_is_bad_peer_as() {
    let mut config = config();
    config.remote_asn = 4_200_000_002;
    let mut remote = peer_open(vec![v4()]);
    remote.my_as = AS_TRANS;
    assert_eq!(
        run(&config, &remote),
        Err(OpenError::BadPeerAs { expected: 4_200_000_002, received: u32::from(AS_TRANS) })
    );
}

#[test]
fn my_as_contradicting_the_capability_is_bad_peer_as() {
    // Small ASN in the capability, another in My AS.
    let mut remote = peer_open(vec![v4(), Capability::FourOctetAs(65002)]);
    remote.my_as = 65003;
    assert_eq!(
        run(&config(), &remote),
        Err(OpenError::InconsistentAs { my_as: 65003, asn: 65002 })
    );
    // Large ASN in the capability, My AS not AS_TRANS.
    let mut config = config();
    config.remote_asn = 4_200_000_002;
    let mut remote = peer_open(vec![v4(), Capability::FourOctetAs(4_200_000_002)]);
    remote.my_as = 65002;
    assert_eq!(rejected(&config, &remote).0, NotificationKind::BadPeerAs);
}

#[test]
fn asn_zero_is_bad_peer_as() {
    let mut config = config();
    config.remote_asn = 0;
    let mut remote = peer_open(vec![v4()]);
    remote.my_as = 0;
    assert_eq!(rejected(&config, &remote).0, NotificationKind::BadPeerAs);
}

#[test]
fn zero_identifier_is_bad_bgp_identifier() {
    let mut remote = peer_open(vec![v4()]);
    remote.router_id = Ipv4Addr::UNSPECIFIED;
    assert_eq!(run(&config(), &remote), Err(OpenError::ZeroRouterId));
    assert_eq!(rejected(&config(), &remote).0, NotificationKind::BadBgpIdentifier);
}

#[test]
fn internal_peer_with_our_identifier_is_bad_bgp_identifier() {
    let mut config = config();
    config.remote_asn = 65001;
    let mut remote = peer_open(vec![v4()]);
    remote.my_as = 65001;
    remote.router_id = LOCAL_ID;
    assert_eq!(rejected(&config, &remote).0, NotificationKind::BadBgpIdentifier);
    remote.router_id = PEER_ID;
    assert!(run(&config, &remote).is_ok());
}

#[test]
fn hold_time_one_or_two_is_unacceptable() {
    for hold_time in [1, 2] {
        let mut remote = peer_open(vec![v4()]);
        remote.hold_time = hold_time;
        let (kind, data) = rejected(&config(), &remote);
        assert_eq!(kind, NotificationKind::UnacceptableHoldTime);
        assert!(data.is_empty());
    }
}

#[test]
fn every_open_error_has_its_rfc_code_and_subcode() {
    let table = [
        (OpenError::UnsupportedVersion { version: 3 }, (2, 1)),
        (OpenError::BadPeerAs { expected: 1, received: 2 }, (2, 2)),
        (OpenError::InconsistentAs { my_as: 1, asn: 2 }, (2, 2)),
        (OpenError::ZeroRouterId, (2, 3)),
        (OpenError::DuplicateRouterId { router_id: LOCAL_ID }, (2, 3)),
        (OpenError::UnacceptableHoldTime { hold_time: 1 }, (2, 6)),
        (OpenError::NoCommonFamily { ours: Vec::new(), theirs: Vec::new() }, (2, 7)),
    ];
    for (error, (code, subcode)) in table {
        let notification = error.notification();
        assert_eq!((notification.code, notification.subcode), (code, subcode), "{error}");
    }
}

// --- hold time ---

#[test]
fn hold_time_table() {
    // (ours, configured keepalive, theirs) -> (hold, keepalive)
    type Row = (u16, Option<u16>, u16, (u16, u16));
    let table: [Row; 9] = [
        (90, None, 90, (90, 30)),
        (90, None, 30, (30, 10)),
        (30, None, 90, (30, 10)),
        (90, None, 3, (3, 1)),
        (90, None, 4, (4, 1)),
        (90, None, 0, (0, 0)),
        (0, None, 90, (0, 0)),
        (90, Some(10), 90, (90, 10)),
        (90, Some(60), 90, (90, 30)),
    ];
    for (ours, keepalive, theirs, expected) in table {
        let mut config = config();
        config.hold_time = ours;
        config.keepalive_time = keepalive;
        assert_eq!(negotiate_hold_time(&config, theirs), Ok(expected), "{ours} {theirs}");
    }
}

#[test]
fn hold_time_zero_has_no_timers() {
    let mut remote = peer_open(vec![v4()]);
    remote.hold_time = 0;
    let session = run(&config(), &remote).expect("accepted");
    assert_eq!(session.hold_duration(), None);
    assert_eq!(session.keepalive_duration(), None);
}

// --- optional capabilities ---

#[test]
fn route_refresh_table() {
    let standard = Capability::RouteRefresh { cisco: false };
    let cisco = Capability::RouteRefresh { cisco: true };
    let enhanced = Capability::EnhancedRouteRefresh;
    // (we enable, peer capabilities) -> (route refresh, enhanced)
    let table = [
        (true, vec![standard.clone(), enhanced.clone()], (true, true)),
        (true, vec![standard.clone()], (true, false)),
        (true, vec![cisco], (true, false)),
        (true, vec![enhanced.clone()], (false, false)),
        (true, vec![], (false, false)),
        (false, vec![standard, enhanced], (false, false)),
    ];
    for (enabled, mut capabilities, expected) in table {
        let mut config = config();
        config.route_refresh = enabled;
        capabilities.push(v4());
        let session = run(&config, &peer_open(capabilities)).expect("accepted");
        assert_eq!((session.route_refresh, session.enhanced_route_refresh), expected);
    }
}

#[test]
fn extended_message_needs_both_ends() {
    let remote = peer_open(vec![v4(), Capability::ExtendedMessage]);
    assert!(run(&config(), &remote).expect("accepted").extended_message);
    assert!(!run(&config(), &peer_open(vec![v4()])).expect("accepted").extended_message);
    let mut config = config();
    config.extended_message = false;
    assert!(!run(&config, &remote).expect("accepted").extended_message);
}

fn add_path(mode: AddPathMode, family: Family) -> Capability {
    Capability::AddPath(vec![AddPathFamily { afi_safi: family.afi_safi(), mode }])
}

#[test]
fn add_path_directions_table() {
    use AddPathMode::{Both, Receive, Send};
    // (ours, theirs) -> (we send, we receive)
    let table = [
        (Both, Both, (true, true)),
        (Send, Receive, (true, false)),
        (Receive, Send, (false, true)),
        (Both, Receive, (true, false)),
        (Both, Send, (false, true)),
        (Send, Send, (false, false)),
        (Receive, Receive, (false, false)),
    ];
    for (ours, theirs, expected) in table {
        let mut config = config();
        config.add_path = vec![(Family::Ipv4Unicast, ours)];
        let remote = peer_open(vec![v4(), add_path(theirs, Family::Ipv4Unicast)]);
        let session = run(&config, &remote).expect("accepted");
        assert_eq!(session.add_path(Family::Ipv4Unicast), expected, "{ours:?} {theirs:?}");
        assert_eq!(session.add_path.is_empty(), expected == (false, false));
    }
}

#[test]
fn add_path_needs_the_family_negotiated_and_offered_by_both() {
    let mut config = config();
    config.add_path = vec![(Family::Ipv6Unicast, AddPathMode::Both)];
    // The peer offers ADD-PATH for IPv6 but not the IPv6 family itself.
    let remote = peer_open(vec![v4(), add_path(AddPathMode::Both, Family::Ipv6Unicast)]);
    assert!(run(&config, &remote).expect("accepted").add_path.is_empty());
    // We do not offer ADD-PATH for IPv4.
    let remote = peer_open(vec![v4(), add_path(AddPathMode::Both, Family::Ipv4Unicast)]);
    assert!(run(&config, &remote).expect("accepted").add_path.is_empty());
}
