use std::net::IpAddr;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

use super::*;
use crate::instance::metrics::{BfdMetrics, FamilyMetrics, PeerFamilyMetrics};
use crate::layer2::announcer::Counters;
use crate::peer::counters::SharedCounters;
use crate::rib::MemoryUsage;
use crate::wire::Family;
use crate::wire::message_type::{KEEPALIVE, NOTIFICATION, OPEN, UPDATE};

fn peer_metrics(address: &str, state: State) -> PeerMetrics {
    PeerMetrics {
        address: address.parse::<IpAddr>().expect("literal"),
        state,
        established_transitions: 2,
        counters: SharedCounters::default(),
        families: vec![PeerFamilyMetrics {
            family: Family::Ipv4Unicast,
            accepted: 7,
            advertised: 3,
            queued: 1,
            unsendable: 0,
            max_prefix_limit: None,
            max_prefix_count: 7,
        }],
        last_error: None,
        bfd: None,
        max_prefix_teardowns: 0,
    }
}

fn snapshot(peers: Vec<PeerMetrics>) -> Snapshot {
    Snapshot {
        uptime: Duration::from_secs(5),
        peers,
        families: vec![
            FamilyMetrics { family: Family::Ipv4Unicast, prefixes: 10, paths: 12 },
            FamilyMetrics { family: Family::Ipv6Unicast, prefixes: 0, paths: 0 },
        ],
        attribute_sets: 4,
        memory: MemoryUsage { tables: 100, attributes: 20, exports: 3 },
        owners: 2,
        owner_sessions: 1,
        watchers: 1,
        watch_lags: vec![(7, 120)],
    }
}

fn scrape(snapshot: Snapshot) -> prometheus_parse::Scrape {
    let mut registry = Registry::default();
    let process = ProcessStats { resident_bytes: Some(4096), open_fds: Some(9), log_lines_lost: 2 };
    let layer2 = vec![AnnouncementStatus {
        address: "192.0.2.100".parse().expect("literal"),
        owner: "config".to_string(),
        interfaces: Vec::new(),
        counters: Counters { requests_seen: 3, replies_sent: 2, gratuitous_sent: 4 },
    }];
    registry.register_collector(Box::new(ScrapeCollector { snapshot, process, layer2 }));
    let mut text = String::new();
    encode(&mut text, &registry).expect("encode");
    let lines = text.lines().map(|line| Ok(line.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("parses as Prometheus text")
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[test]
fn session_up_and_fsm_state_follow_the_state() {
    let up = peer_metrics("192.0.2.2", State::Established);
    let down = peer_metrics("192.0.2.3", State::Active);
    let scrape = scrape(snapshot(vec![up, down]));
    let peer = |a| [("peer", a)];
    assert_eq!(value(&scrape, "ironlb_bgp_session_up", &peer("192.0.2.2")), Some(1.0));
    assert_eq!(value(&scrape, "ironlb_bgp_session_up", &peer("192.0.2.3")), Some(0.0));
    assert_eq!(value(&scrape, "ironlb_bgp_fsm_state", &peer("192.0.2.2")), Some(6.0));
    assert_eq!(value(&scrape, "ironlb_bgp_fsm_state", &peer("192.0.2.3")), Some(3.0));
    assert_eq!(
        value(&scrape, "ironlb_bgp_established_transitions_total", &peer("192.0.2.2")),
        Some(2.0)
    );
}

#[test]
fn message_counters_are_read_from_the_session_atomics_at_scrape_time() {
    let p = peer_metrics("192.0.2.2", State::Established);
    let counters = p.counters.clone();
    let snapshot = snapshot(vec![p]);
    counters.0.sent.add(OPEN, 1);
    counters.0.sent.add(UPDATE, 5);
    counters.0.received.add(KEEPALIVE, 3);
    counters.0.received.add(NOTIFICATION, 1);
    counters.0.notifications.received(6, 2);
    counters.0.withdrawn_received(Family::Ipv4Unicast, 4);
    let scrape = scrape(snapshot);
    let peer = [("peer", "192.0.2.2")];
    // MetalLB's names, unchanged but for the prefix.
    assert_eq!(value(&scrape, "ironlb_bgp_updates_total", &peer), Some(5.0));
    assert_eq!(value(&scrape, "ironlb_bgp_opens_sent", &peer), Some(1.0));
    assert_eq!(value(&scrape, "ironlb_bgp_keepalives_received", &peer), Some(3.0));
    assert_eq!(value(&scrape, "ironlb_bgp_total_sent", &peer), Some(6.0));
    assert_eq!(value(&scrape, "ironlb_bgp_total_received", &peer), Some(4.0));
    assert_eq!(value(&scrape, "ironlb_bgp_announced_prefixes_total", &peer), Some(3.0));
    assert_eq!(value(&scrape, "ironlb_bgp_received_prefixes_total", &peer), Some(7.0));
    assert_eq!(value(&scrape, "ironlb_bgp_pending_prefixes_total", &peer), Some(1.0));
    // ironlb's finer ones.
    let typed = [("peer", "192.0.2.2"), ("type", "update")];
    assert_eq!(value(&scrape, "ironlb_bgp_messages_sent_total", &typed), Some(5.0));
    let cease = [("peer", "192.0.2.2"), ("direction", "received"), ("code", "6"), ("subcode", "2")];
    assert_eq!(value(&scrape, "ironlb_bgp_notifications_total", &cease), Some(1.0));
    let v4 = Family::Ipv4Unicast.to_string();
    let withdrawn = [("peer", "192.0.2.2"), ("family", v4.as_str()), ("direction", "received")];
    assert_eq!(value(&scrape, "ironlb_bgp_withdrawals_total", &withdrawn), Some(4.0));
    let family = [("peer", "192.0.2.2"), ("family", v4.as_str())];
    assert_eq!(value(&scrape, "ironlb_bgp_prefixes_accepted", &family), Some(7.0));
    assert_eq!(value(&scrape, "ironlb_bgp_prefixes_advertised", &family), Some(3.0));
    assert_eq!(value(&scrape, "ironlb_bgp_adj_rib_out_queue", &family), Some(1.0));
}

#[test]
fn rib_api_and_process_numbers() {
    let mut down = peer_metrics("2001:db8::2", State::Idle);
    down.last_error = Some("hold timer expired".to_string());
    let scrape = scrape(snapshot(vec![down]));
    let v4 = Family::Ipv4Unicast.to_string();
    assert_eq!(value(&scrape, "ironlb_rib_prefixes", &[("family", v4.as_str())]), Some(10.0));
    assert_eq!(value(&scrape, "ironlb_rib_paths", &[("family", v4.as_str())]), Some(12.0));
    assert_eq!(value(&scrape, "ironlb_rib_attribute_sets", &[]), Some(4.0));
    assert_eq!(value(&scrape, "ironlb_rib_memory_bytes", &[("part", "tables")]), Some(100.0));
    assert_eq!(value(&scrape, "ironlb_api_owners", &[]), Some(2.0));
    assert_eq!(value(&scrape, "ironlb_api_owner_sessions", &[]), Some(1.0));
    assert_eq!(value(&scrape, "ironlb_api_watch_subscribers", &[]), Some(1.0));
    assert_eq!(value(&scrape, "ironlb_process_resident_memory_bytes", &[]), Some(4096.0));
    assert_eq!(value(&scrape, "ironlb_process_open_fds", &[]), Some(9.0));
    assert_eq!(value(&scrape, "ironlb_log_lines_lost_total", &[]), Some(2.0));
    let ip = [("ip", "192.0.2.100")];
    assert_eq!(value(&scrape, "ironlb_layer2_requests_received", &ip), Some(3.0));
    assert_eq!(value(&scrape, "ironlb_layer2_responses_sent", &ip), Some(2.0));
    assert_eq!(value(&scrape, "ironlb_layer2_gratuitous_sent", &ip), Some(4.0));
    assert_eq!(value(&scrape, "ironlb_process_uptime_seconds", &[]), Some(5.0));
    let reason = [("peer", "2001:db8::2"), ("reason", "hold timer expired")];
    assert_eq!(value(&scrape, "ironlb_bgp_last_error_info", &reason), Some(1.0));
}

#[test]
fn no_peers_still_encodes_every_family_header() {
    let scrape = scrape(snapshot(Vec::new()));
    assert!(value(&scrape, "ironlb_bgp_session_up", &[]).is_none());
    assert_eq!(value(&scrape, "ironlb_rib_attribute_sets", &[]), Some(4.0));
}

#[test]
fn bfd_sessions_use_metallbs_names_and_only_configured_neighbors_appear() {
    let with_bfd = PeerMetrics {
        bfd: Some(BfdMetrics {
            up: true,
            up_events: 2,
            down_events: 1,
            packets_sent: 40,
            packets_received: 38,
        }),
        ..peer_metrics("192.0.2.2", State::Established)
    };
    let without = peer_metrics("192.0.2.3", State::Established);
    let scrape = scrape(snapshot(vec![with_bfd, without]));
    let peer = [("peer", "192.0.2.2")];
    assert_eq!(value(&scrape, "ironlb_bfd_session_up", &peer), Some(1.0));
    assert_eq!(value(&scrape, "ironlb_bfd_control_packet_input", &peer), Some(38.0));
    assert_eq!(value(&scrape, "ironlb_bfd_control_packet_output", &peer), Some(40.0));
    assert_eq!(value(&scrape, "ironlb_bfd_session_up_events", &peer), Some(2.0));
    assert_eq!(value(&scrape, "ironlb_bfd_session_down_events", &peer), Some(1.0));
    assert_eq!(value(&scrape, "ironlb_bfd_session_up", &[("peer", "192.0.2.3")]), None);
}

#[test]
fn each_open_watch_stream_reports_its_lag() {
    let scrape = scrape(snapshot(Vec::new()));
    assert_eq!(value(&scrape, "ironlb_api_watch_subscribers", &[]), Some(1.0));
    assert_eq!(value(&scrape, "ironlb_api_watch_lag_events", &[("watcher", "7")]), Some(120.0));
}

#[test]
fn max_prefix_count_and_limit_appear_for_limited_families_with_the_teardowns() {
    let mut limited = peer_metrics("192.0.2.2", State::Active);
    limited.families[0].max_prefix_limit = Some(10);
    limited.families[0].max_prefix_count = 11;
    limited.max_prefix_teardowns = 3;
    let unlimited = peer_metrics("192.0.2.3", State::Established);
    let scrape = scrape(snapshot(vec![limited, unlimited]));
    let v4 = Family::Ipv4Unicast.to_string();
    let family = |peer| [("peer", peer), ("family", v4.as_str())];
    assert_eq!(value(&scrape, "ironlb_bgp_max_prefix_limit", &family("192.0.2.2")), Some(10.0));
    assert_eq!(value(&scrape, "ironlb_bgp_max_prefix_count", &family("192.0.2.2")), Some(11.0));
    let teardowns =
        |peer| value(&scrape, "ironlb_bgp_max_prefix_teardowns_total", &[("peer", peer)]);
    assert_eq!(teardowns("192.0.2.2"), Some(3.0));
    assert_eq!(teardowns("192.0.2.3"), Some(0.0));
    assert_eq!(value(&scrape, "ironlb_bgp_max_prefix_limit", &family("192.0.2.3")), None);
    assert_eq!(value(&scrape, "ironlb_bgp_max_prefix_count", &family("192.0.2.3")), None);
}
