use std::net::Ipv6Addr;

use super::*;
use crate::layer2::ndp::{ALL_NODES, NdpMessage};

const MAC: MacAddress = MacAddress([2, 0, 0, 0, 0, 1]);
const CLIENT: MacAddress = MacAddress([2, 0, 0, 0, 0, 0x0c]);
const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 50));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50));

fn link(name: &str, index: u32) -> LinkState {
    LinkState { name: name.to_string(), index, mac: MAC, up: true, noarp: false }
}

fn announce(address: IpAddr, interfaces: &[&str]) -> Announcement {
    Announcement { address, interfaces: interfaces.iter().map(|s| s.to_string()).collect() }
}

fn setup(now: Instant) -> (Announcer, Vec<Action>) {
    let mut announcer = Announcer::new(GratuitousSettings::default());
    let mut out = Vec::new();
    announcer.set_links(vec![link("eth0", 2), link("eth1", 3)], now, &mut out);
    assert!(out.is_empty(), "nothing wanted, nothing opened: {out:?}");
    (announcer, out)
}

fn sends(actions: &[Action]) -> Vec<(u32, Vec<u8>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { link, frame } => Some((*link, frame.as_bytes().to_vec())),
            _ => None,
        })
        .collect()
}

fn request(target: Ipv4Addr) -> ArpPacket {
    ArpPacket {
        ethernet_destination: MacAddress::BROADCAST,
        ethernet_source: CLIENT,
        operation: ArpOperation::Request,
        sender_mac: CLIENT,
        sender_ip: Ipv4Addr::new(198, 51, 100, 12),
        target_mac: MacAddress::ZERO,
        target_ip: target,
    }
}

fn solicitation(target: Ipv6Addr) -> NdpPacket {
    NdpPacket {
        ethernet_destination: multicast_mac(solicited_node(target)),
        ethernet_source: CLIENT,
        source: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x0c),
        destination: solicited_node(target),
        message: NdpMessage::Solicitation { target, source_link_address: Some(CLIENT) },
    }
}

#[test]
fn takeover_opens_the_link_and_sends_gratuitous_arp_at_once() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    let outcome = announcer.set("svc", &[announce(V4, &["eth0"])], now, &mut out).unwrap();
    assert_eq!(outcome.added, vec![V4]);
    assert_eq!(out[0], Action::Open { link: 2 });
    let frames = sends(&out);
    assert_eq!(frames.len(), 2, "request and reply");
    let IpAddr::V4(v4) = V4 else { unreachable!() };
    let parsed: Vec<ArpPacket> = frames.iter().map(|(_, f)| ArpPacket::parse(f).unwrap()).collect();
    assert_eq!(parsed[0], ArpPacket::gratuitous_request(v4, MAC));
    assert_eq!(parsed[1], ArpPacket::gratuitous_reply(v4, MAC));
    assert_eq!(announcer.list()[0].counters.gratuitous_sent, 2);
}

#[test]
fn gratuitous_messages_repeat_on_schedule_then_stop() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    announcer.set("svc", &[announce(V6, &["eth0"])], now, &mut out).unwrap();
    assert_eq!(sends(&out).len(), 1, "one unsolicited NA");
    let interval = DEFAULT_GRATUITOUS_INTERVAL;
    let mut at = now;
    for _ in 0..DEFAULT_GRATUITOUS_REPEATS {
        out.clear();
        announcer.poll(at, &mut out);
        assert!(out.is_empty(), "nothing before the deadline");
        at = announcer.next_deadline().unwrap();
        assert_eq!(at, now + interval * ((at - now).as_millis() as u32 / 500));
        announcer.poll(at, &mut out);
        assert_eq!(sends(&out).len(), 1);
    }
    assert_eq!(announcer.next_deadline(), None);
    assert_eq!(announcer.list()[0].counters.gratuitous_sent, 1 + 3);
}

#[test]
fn ipv6_joins_the_solicited_node_group_and_answers() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    announcer.set("svc", &[announce(V6, &["eth1"])], now, &mut out).unwrap();
    let IpAddr::V6(v6) = V6 else { unreachable!() };
    assert_eq!(
        out[..2],
        [
            Action::Open { link: 3 },
            Action::Join { link: 3, group: multicast_mac(solicited_node(v6)) }
        ]
    );
    let unsolicited = NdpPacket::parse(sends(&out)[0].1.as_slice()).unwrap();
    assert_eq!(unsolicited.destination, ALL_NODES);
    let answer = announcer.on_solicitation(3, &solicitation(v6)).unwrap();
    let answer = NdpPacket::parse(answer.as_bytes()).unwrap();
    assert_eq!(answer, NdpPacket::advertisement_for(&solicitation(v6), MAC).unwrap());
    assert_eq!(announcer.on_solicitation(2, &solicitation(v6)), None, "not on eth0");
    let counters = announcer.list()[0].counters;
    assert_eq!((counters.requests_seen, counters.replies_sent), (1, 1));
}

#[test]
fn arp_requests_for_announced_addresses_only() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    announcer.set("svc", &[announce(V4, &["eth0"])], now, &mut out).unwrap();
    let IpAddr::V4(v4) = V4 else { unreachable!() };
    let reply = announcer.on_arp(2, &request(v4)).unwrap();
    assert_eq!(ArpPacket::parse(reply.as_bytes()).unwrap(), ArpPacket::reply_to(&request(v4), MAC));
    assert_eq!(announcer.on_arp(2, &request(Ipv4Addr::new(198, 51, 100, 51))), None);
    assert_eq!(announcer.on_arp(3, &request(v4)), None, "eth1 is not announced");
    let mut own = request(v4);
    own.sender_mac = MAC;
    assert_eq!(announcer.on_arp(2, &own), None, "our own frame");
    let someone_elses_gratuitous = ArpPacket::gratuitous_request(v4, CLIENT);
    assert_eq!(announcer.on_arp(2, &someone_elses_gratuitous), None);
    let mut reply_packet = request(v4);
    reply_packet.operation = ArpOperation::Reply;
    assert_eq!(announcer.on_arp(2, &reply_packet), None);
    let counters = announcer.list()[0].counters;
    assert_eq!((counters.requests_seen, counters.replies_sent), (1, 1));
}

#[test]
fn withdrawal_stops_answers_and_keeps_the_link_open_until_it_goes_down() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    announcer.set("svc", &[announce(V4, &["eth0"])], now, &mut out).unwrap();
    out.clear();
    let outcome = announcer.set("svc", &[], now, &mut out).unwrap();
    assert_eq!(outcome.removed, vec![V4]);
    assert!(out.is_empty(), "the link lingers for the next takeover: {out:?}");
    let IpAddr::V4(v4) = V4 else { unreachable!() };
    assert_eq!(announcer.on_arp(2, &request(v4)), None);
    assert_eq!(announcer.next_deadline(), None, "no repeats for a withdrawn address");
    assert_eq!(announcer.link_targets().get(&2), Some(&vec![]), "its thread passes nothing up");
    let mut down = link("eth0", 2);
    down.up = false;
    announcer.set_links(vec![down, link("eth1", 3)], now, &mut out);
    assert_eq!(out, vec![Action::Close { link: 2 }]);
}

#[test]
fn another_owners_address_is_a_conflict_and_changes_nothing() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    announcer.set("a", &[announce(V4, &["eth0"])], now, &mut out).unwrap();
    let error = announcer
        .set("b", &[announce(V6, &["eth0"]), announce(V4, &["eth1"])], now, &mut out)
        .unwrap_err();
    assert_eq!(error, Conflict { address: V4, holder: "a".to_string() });
    assert_eq!(announcer.list().len(), 1);
}

#[test]
fn set_is_declarative_and_reports_changes() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    announcer
        .set("svc", &[announce(V4, &["eth0"]), announce(V6, &["eth0"])], now, &mut out)
        .unwrap();
    let outcome = announcer.set("svc", &[announce(V4, &["eth0", "eth1"])], now, &mut out).unwrap();
    assert_eq!(outcome, SetOutcome { added: vec![], removed: vec![V6], changed: vec![V4] });
    let same = announcer.set("svc", &[announce(V4, &["eth1", "eth0"])], now, &mut out).unwrap();
    assert_eq!(same, SetOutcome::default());
}

#[test]
fn missing_down_and_noarp_interfaces_are_reported_and_skipped() {
    let now = Instant::now();
    let mut announcer = Announcer::new(GratuitousSettings::default());
    let mut out = Vec::new();
    let mut down = link("eth1", 3);
    down.up = false;
    let mut noarp = link("tun0", 4);
    noarp.noarp = true;
    announcer.set_links(vec![down, noarp], now, &mut out);
    announcer.set("svc", &[announce(V4, &["eth1", "tun0", "eth9"])], now, &mut out).unwrap();
    assert!(out.is_empty(), "nothing usable: {out:?}");
    let status = &announcer.list()[0].interfaces;
    assert_eq!(
        status,
        &vec![
            ("eth1".to_string(), InterfaceStatus::Down),
            ("eth9".to_string(), InterfaceStatus::Missing),
            ("tun0".to_string(), InterfaceStatus::NoArp),
        ]
    );
    // eth9 appears: the address is taken over there at once.
    announcer.set_links(vec![link("eth9", 9)], now, &mut out);
    assert_eq!(out[0], Action::Open { link: 9 });
    assert_eq!(sends(&out).len(), 2);
    // and goes down again: the link is closed.
    out.clear();
    let mut gone = link("eth9", 9);
    gone.up = false;
    announcer.set_links(vec![gone], now, &mut out);
    assert_eq!(out, vec![Action::Close { link: 9 }]);
}

#[test]
fn groups_are_shared_and_left_with_the_last_address() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    let other: IpAddr = "2001:db8:1::50".parse().unwrap();
    announcer
        .set("svc", &[announce(V6, &["eth0"]), announce(other, &["eth0"])], now, &mut out)
        .unwrap();
    let joins = out.iter().filter(|a| matches!(a, Action::Join { .. })).count();
    assert_eq!(joins, 1, "both addresses share ff02::1:ff00:50");
    out.clear();
    announcer
        .set("svc", &[announce(V6, &["eth0"]), announce(V4, &["eth0"])], now, &mut out)
        .unwrap();
    assert!(!out.iter().any(|a| matches!(a, Action::Leave { .. })), "still wanted: {out:?}");
    out.clear();
    announcer.set("svc", &[announce(V4, &["eth0"])], now, &mut out).unwrap();
    assert!(matches!(out[..], [Action::Leave { link: 2, .. }]), "{out:?}");
    out.clear();
    announcer.set("svc", &[announce(V4, &["eth1"])], now, &mut out).unwrap();
    assert_eq!(out[0], Action::Open { link: 3 });
    assert!(!out.iter().any(|a| matches!(a, Action::Close { .. })), "eth0 lingers: {out:?}");
}

#[test]
fn only_host_addresses_are_announceable() {
    assert!(announceable(V4));
    assert!(announceable(V6));
    for bad in ["0.0.0.0", "224.0.0.1", "255.255.255.255", "127.0.0.1", "::", "ff02::1", "::1"] {
        assert!(!announceable(bad.parse().unwrap()), "{bad}");
    }
}

#[test]
fn link_targets_follow_the_announcements() {
    let now = Instant::now();
    let (mut announcer, mut out) = setup(now);
    announcer
        .set("svc", &[announce(V4, &["eth0", "eth1"]), announce(V6, &["eth0"])], now, &mut out)
        .unwrap();
    let targets = announcer.link_targets();
    assert_eq!(targets.get(&2), Some(&vec![V4, V6]));
    assert_eq!(targets.get(&3), Some(&vec![V4]));
    announcer.set("svc", &[announce(V6, &["eth0"])], now, &mut out).unwrap();
    let targets = announcer.link_targets();
    assert_eq!(targets.get(&2), Some(&vec![V6]));
    assert_eq!(targets.get(&3), Some(&vec![]), "eth1 lingers, accepting nothing");
}
