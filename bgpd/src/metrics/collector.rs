//! One scrape's numbers as metric families: the instance's [`Snapshot`]
//! (with the counters its `Arc`s point at, read now) and the process's
//! [`ProcessStats`]. Built per scrape, encoded once, dropped.
//!
//! Label sets are bounded by configuration, never by traffic: peers are the
//! configured neighbors, families two, message types five, NOTIFICATION codes
//! and subcodes a fixed table ([`crate::peer::counters::NotificationCounts`]).
//! No metric has a per-prefix label.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::process::ProcessStats;
use crate::fsm::State;
use crate::instance::metrics::{BfdMetrics, PeerMetrics, Snapshot};
use crate::layer2::announcer::AnnouncementStatus;
use crate::peer::counters::MessageSnapshot;

type Labels = Vec<(&'static str, String)>;

/// The collector of one scrape.
#[derive(Debug)]
pub struct ScrapeCollector {
    pub snapshot: Snapshot,
    pub process: ProcessStats,
    /// The layer2 task's announcements with their counters (bounded by
    /// what is announced: config and API owners).
    pub layer2: Vec<AnnouncementStatus>,
}

/// RFC 4273 `bgpPeerState` numbering: idle(1) .. established(6).
pub fn state_number(state: State) -> u64 {
    match state {
        State::Idle => 1,
        State::Connect => 2,
        State::Active => 3,
        State::OpenSent => 4,
        State::OpenConfirm => 5,
        State::Established => 6,
    }
}

fn peer(p: &PeerMetrics) -> Labels {
    vec![("peer", p.address.to_string())]
}

fn with(mut labels: Labels, name: &'static str, value: impl ToString) -> Labels {
    labels.push((name, value.to_string()));
    labels
}

/// Encodes one family of samples. `kind` decides the TYPE line: counters get
/// the `_total` suffix on their samples; `Unknown` keeps a MetalLB counter's
/// exact name (MetalLB's FRR counters have no `_total`).
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, M)>,
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, sample) in samples {
        sample.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(value: u64) -> ConstGauge<u64> {
    ConstGauge::new(value)
}

fn counter(value: u64) -> ConstCounter<u64> {
    ConstCounter::new(value)
}

/// Messages of one direction by type, as `(type, count)`.
fn by_type(m: &MessageSnapshot) -> [(&'static str, u64); 5] {
    [
        ("open", m.open),
        ("update", m.update),
        ("notification", m.notification),
        ("keepalive", m.keepalive),
        ("route_refresh", m.route_refresh),
    ]
}

impl ScrapeCollector {
    fn peers(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let peers = &self.snapshot.peers;
        let sent: Vec<MessageSnapshot> =
            peers.iter().map(|p| p.counters.0.sent.snapshot()).collect();
        let received: Vec<MessageSnapshot> =
            peers.iter().map(|p| p.counters.0.received.snapshot()).collect();
        let per_peer = |values: &dyn Fn(usize) -> u64| {
            peers.iter().enumerate().map(|(i, p)| (peer(p), values(i))).collect::<Vec<_>>()
        };

        // MetalLB's names (metallb_bgp_*), one to one.
        family(
            e,
            "ironlb_bgp_session_up",
            "BGP session state (1 is up, 0 is down)",
            MetricType::Gauge,
            per_peer(&|i| u64::from(peers[i].state == State::Established))
                .into_iter()
                .map(|(l, v)| (l, gauge(v))),
        )?;
        family(
            e,
            "ironlb_bgp_updates",
            "Number of BGP UPDATE messages sent",
            MetricType::Counter,
            per_peer(&|i| sent[i].update).into_iter().map(|(l, v)| (l, counter(v))),
        )?;
        let mut metallb_counter = |name: &str, help: &str, value: &dyn Fn(usize) -> u64| {
            family(
                e,
                name,
                help,
                MetricType::Unknown,
                per_peer(value).into_iter().map(|(l, v)| (l, gauge(v))),
            )
        };
        metallb_counter("ironlb_bgp_opens_sent", "Number of BGP open messages sent", &|i| {
            sent[i].open
        })?;
        metallb_counter(
            "ironlb_bgp_opens_received",
            "Number of BGP open messages received",
            &|i| received[i].open,
        )?;
        metallb_counter(
            "ironlb_bgp_notifications_sent",
            "Number of BGP notification messages sent",
            &|i| sent[i].notification,
        )?;
        metallb_counter(
            "ironlb_bgp_updates_total_received",
            "Number of BGP UPDATE messages received",
            &|i| received[i].update,
        )?;
        metallb_counter(
            "ironlb_bgp_keepalives_sent",
            "Number of BGP keepalive messages sent",
            &|i| sent[i].keepalive,
        )?;
        metallb_counter(
            "ironlb_bgp_keepalives_received",
            "Number of BGP keepalive messages received",
            &|i| received[i].keepalive,
        )?;
        metallb_counter(
            "ironlb_bgp_route_refresh_sent",
            "Number of BGP route refresh messages sent",
            &|i| sent[i].route_refresh,
        )?;
        metallb_counter("ironlb_bgp_total_sent", "Number of total BGP messages sent", &|i| {
            sent[i].total
        })?;
        metallb_counter(
            "ironlb_bgp_total_received",
            "Number of total BGP messages received",
            &|i| received[i].total,
        )?;
        let sum =
            |p: &PeerMetrics, f: &dyn Fn(&crate::instance::metrics::PeerFamilyMetrics) -> u64| {
                p.families.iter().map(f).sum::<u64>()
            };
        family(
            e,
            "ironlb_bgp_announced_prefixes_total",
            "Number of prefixes currently being advertised on the BGP session",
            MetricType::Gauge,
            peers.iter().map(|p| (peer(p), gauge(sum(p, &|f| f.advertised)))),
        )?;
        family(
            e,
            "ironlb_bgp_received_prefixes_total",
            "Number of prefixes currently being received on the BGP session",
            MetricType::Gauge,
            peers.iter().map(|p| (peer(p), gauge(sum(p, &|f| f.accepted)))),
        )?;
        family(
            e,
            "ironlb_bgp_pending_prefixes_total",
            "Number of prefixes that should be advertised on the BGP session (queued, not yet sent)",
            MetricType::Gauge,
            peers.iter().map(|p| (peer(p), gauge(sum(p, &|f| f.queued)))),
        )?;

        // ironlb's own, finer.
        family(
            e,
            "ironlb_bgp_fsm_state",
            "BGP FSM state, RFC 4273 numbering: 1 Idle, 2 Connect, 3 Active, 4 OpenSent, 5 OpenConfirm, 6 Established",
            MetricType::Gauge,
            peers.iter().map(|p| (peer(p), gauge(state_number(p.state)))),
        )?;
        family(
            e,
            "ironlb_bgp_established_transitions",
            "Times the session reached Established",
            MetricType::Counter,
            peers.iter().map(|p| (peer(p), counter(p.established_transitions))),
        )?;
        for (name, help, counts) in [
            ("ironlb_bgp_messages_sent", "BGP messages sent, by type", &sent),
            ("ironlb_bgp_messages_received", "BGP messages received, by type", &received),
        ] {
            family(
                e,
                name,
                help,
                MetricType::Counter,
                peers.iter().zip(counts.iter()).flat_map(|(p, m)| {
                    by_type(m).map(|(kind, value)| (with(peer(p), "type", kind), counter(value)))
                }),
            )?;
        }
        family(
            e,
            "ironlb_bgp_notifications",
            "BGP NOTIFICATIONs by direction, code and subcode (RFC 4271 4.5; code 0: other)",
            MetricType::Counter,
            peers.iter().flat_map(|p| {
                p.counters.0.notifications.nonzero().flat_map(
                    move |(code, subcode, sent, received)| {
                        let labels = |direction: &str| {
                            with(
                                with(with(peer(p), "direction", direction), "code", code),
                                "subcode",
                                subcode,
                            )
                        };
                        [(labels("sent"), counter(sent)), (labels("received"), counter(received))]
                    },
                )
            }),
        )?;
        let per_family = |value: fn(&crate::instance::metrics::PeerFamilyMetrics) -> u64| {
            peers
                .iter()
                .flat_map(move |p| {
                    p.families
                        .iter()
                        .map(move |f| (with(peer(p), "family", f.family), gauge(value(f))))
                })
                .collect::<Vec<_>>()
        };
        family(
            e,
            "ironlb_bgp_prefixes_received",
            "Prefixes held from the peer, per family (before import rules; equal to accepted while no import rule rejects)",
            MetricType::Gauge,
            per_family(|f| f.accepted),
        )?;
        family(
            e,
            "ironlb_bgp_prefixes_accepted",
            "Prefixes held from the peer after the import rules, per family",
            MetricType::Gauge,
            per_family(|f| f.accepted),
        )?;
        family(
            e,
            "ironlb_bgp_prefixes_advertised",
            "Prefixes the peer holds from us, per family",
            MetricType::Gauge,
            per_family(|f| f.advertised),
        )?;
        family(
            e,
            "ironlb_bgp_prefixes_unsendable",
            "Prefixes not advertised to the peer because their attributes do not fit in one UPDATE it accepts, per family",
            MetricType::Gauge,
            per_family(|f| f.unsendable),
        )?;
        family(
            e,
            "ironlb_bgp_adj_rib_out_queue",
            "Prefixes queued for the peer and not yet sent, per family",
            MetricType::Gauge,
            per_family(|f| f.queued),
        )?;
        family(
            e,
            "ironlb_bgp_withdrawals",
            "Prefixes withdrawn, per family and direction",
            MetricType::Counter,
            peers.iter().flat_map(|p| {
                p.families.iter().flat_map(move |f| {
                    let (sent, received) = p.counters.0.withdrawals(f.family);
                    let labels = |direction: &str| {
                        with(with(peer(p), "family", f.family), "direction", direction)
                    };
                    [(labels("sent"), counter(sent)), (labels("received"), counter(received))]
                })
            }),
        )?;
        let limited = || {
            peers.iter().flat_map(|p| {
                p.families.iter().filter_map(move |f| {
                    f.max_prefix_limit.map(|limit| (with(peer(p), "family", f.family), limit, f))
                })
            })
        };
        family(
            e,
            "ironlb_bgp_max_prefix_limit",
            "The neighbor's max-prefix limit, per family (only families with a limit)",
            MetricType::Gauge,
            limited().map(|(labels, limit, _)| (labels, gauge(u64::from(limit)))),
        )?;
        family(
            e,
            "ironlb_bgp_max_prefix_count",
            "Prefixes counted against the max-prefix limit, per family (accepted after import \
             policy, or kept as received when more; only families with a limit)",
            MetricType::Gauge,
            limited().map(|(labels, _, f)| (labels, gauge(f.max_prefix_count))),
        )?;
        family(
            e,
            "ironlb_bgp_max_prefix_teardowns",
            "Times a max-prefix limit stopped the session (Cease 6/1, RFC 4486)",
            MetricType::Counter,
            peers.iter().map(|p| (peer(p), counter(p.max_prefix_teardowns))),
        )?;
        family(
            e,
            "ironlb_bgp_last_error_info",
            "Why the peer's last session ended (1 while a reason is known)",
            MetricType::Gauge,
            peers.iter().filter_map(|p| {
                p.last_error.as_ref().map(|reason| (with(peer(p), "reason", reason), gauge(1)))
            }),
        )
    }

    fn rib_and_api(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let s = &self.snapshot;
        family(
            e,
            "ironlb_rib_prefixes",
            "Prefixes in the Loc-RIB, per family",
            MetricType::Gauge,
            s.families
                .iter()
                .map(|f| (vec![("family", f.family.to_string())], gauge(f.prefixes as u64))),
        )?;
        family(
            e,
            "ironlb_rib_paths",
            "Paths held by the RIB (every source), per family",
            MetricType::Gauge,
            s.families
                .iter()
                .map(|f| (vec![("family", f.family.to_string())], gauge(f.paths as u64))),
        )?;
        family(
            e,
            "ironlb_rib_attribute_sets",
            "Distinct path attribute sets interned",
            MetricType::Gauge,
            [(Labels::new(), gauge(s.attribute_sets as u64))],
        )?;
        family(
            e,
            "ironlb_rib_memory_bytes",
            "Heap bytes held by the RIB, by part (from capacities)",
            MetricType::Gauge,
            [
                ("tables", s.memory.tables),
                ("attributes", s.memory.attributes),
                ("exports", s.memory.exports),
            ]
            .map(|(part, bytes)| (vec![("part", part.to_string())], gauge(bytes as u64))),
        )?;
        family(
            e,
            "ironlb_api_owners",
            "API owners known (attached, or detached within their grace time)",
            MetricType::Gauge,
            [(Labels::new(), gauge(s.owners as u64))],
        )?;
        family(
            e,
            "ironlb_api_owner_sessions",
            "Open Session streams (owners attached now)",
            MetricType::Gauge,
            [(Labels::new(), gauge(s.owner_sessions as u64))],
        )?;
        family(
            e,
            "ironlb_api_watch_subscribers",
            "Open Watch streams",
            MetricType::Gauge,
            [(Labels::new(), gauge(s.watchers as u64))],
        )?;
        // At most `max_watchers` series: only open streams appear.
        family(
            e,
            "ironlb_api_watch_lag_events",
            "Events queued for a Watch stream and not yet sent (cut off at [api] watch_buffer_events)",
            MetricType::Gauge,
            s.watch_lags
                .iter()
                .map(|&(id, lag)| (vec![("watcher", id.to_string())], gauge(lag as u64))),
        )
    }

    /// MetalLB's layer2 names (`metallb_layer2_*`, counters without `_total`,
    /// label `ip`), per announced address.
    fn layer2(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let per_address = |value: fn(&AnnouncementStatus) -> u64| {
            self.layer2
                .iter()
                .map(move |a| (vec![("ip", a.address.to_string())], gauge(value(a))))
                .collect::<Vec<_>>()
        };
        family(
            e,
            "ironlb_layer2_requests_received",
            "Number of layer2 requests received for owned IPs",
            MetricType::Unknown,
            per_address(|a| a.counters.requests_seen),
        )?;
        family(
            e,
            "ironlb_layer2_responses_sent",
            "Number of layer2 responses sent for owned IPs",
            MetricType::Unknown,
            per_address(|a| a.counters.replies_sent),
        )?;
        family(
            e,
            "ironlb_layer2_gratuitous_sent",
            "Number of gratuitous layer2 packets sent for owned IPs",
            MetricType::Unknown,
            per_address(|a| a.counters.gratuitous_sent),
        )
    }

    fn process(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        if let Some(bytes) = self.process.resident_bytes {
            family(
                e,
                "ironlb_process_resident_memory_bytes",
                "Resident memory size in bytes",
                MetricType::Gauge,
                [(Labels::new(), gauge(bytes))],
            )?;
        }
        if let Some(fds) = self.process.open_fds {
            family(
                e,
                "ironlb_process_open_fds",
                "Number of open file descriptors",
                MetricType::Gauge,
                [(Labels::new(), gauge(fds))],
            )?;
        }
        family(
            e,
            "ironlb_log_lines_lost",
            "Log lines that could not be written (full disk, closed output)",
            MetricType::Counter,
            [(Labels::new(), counter(self.process.log_lines_lost))],
        )?;
        family(
            e,
            "ironlb_process_uptime_seconds",
            "Seconds since bgpd started",
            MetricType::Gauge,
            [(Labels::new(), ConstGauge::new(self.snapshot.uptime.as_secs_f64()))],
        )
    }
}

impl ScrapeCollector {
    /// BFD sessions, with MetalLB's FRR-mode names (`metallb_bfd_*`): TYPE
    /// unknown and no `_total`, as MetalLB exports them. Only neighbors with
    /// BFD configured appear; ironlb has no echo function, so MetalLB's
    /// echo counters have no counterpart.
    fn bfd(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let sessions: Vec<(Labels, BfdMetrics)> =
            self.snapshot.peers.iter().filter_map(|p| Some((peer(p), p.bfd?))).collect();
        family(
            e,
            "ironlb_bfd_session_up",
            "BFD session state (1 is up, 0 is down)",
            MetricType::Gauge,
            sessions.iter().map(|(l, b)| (l.clone(), gauge(u64::from(b.up)))),
        )?;
        type Read = fn(&BfdMetrics) -> u64;
        let values: [(&str, &str, Read); 4] = [
            ("ironlb_bfd_control_packet_input", "Number of received BFD control packets", |b| {
                b.packets_received
            }),
            ("ironlb_bfd_control_packet_output", "Number of sent BFD control packets", |b| {
                b.packets_sent
            }),
            ("ironlb_bfd_session_up_events", "Number of BFD session up events", |b| b.up_events),
            ("ironlb_bfd_session_down_events", "Number of BFD session down events", |b| {
                b.down_events
            }),
        ];
        for (name, help, value) in values {
            family(
                e,
                name,
                help,
                MetricType::Unknown,
                sessions.iter().map(|(l, b)| (l.clone(), gauge(value(b)))),
            )?;
        }
        Ok(())
    }
}

impl Collector for ScrapeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        self.peers(&mut encoder)?;
        self.bfd(&mut encoder)?;
        self.rib_and_api(&mut encoder)?;
        self.layer2(&mut encoder)?;
        self.process(&mut encoder)
    }
}

#[cfg(test)]
mod tests;
