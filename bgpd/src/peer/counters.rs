//! Message and withdrawal counters of one neighbour (for the API's
//! `PeerStatus.messages_sent`, `messages_received` and prefix counters).
//!
//! Counting must cost nothing measurable on the hot path and never a channel
//! send per message. The session task is the only writer: it bumps plain
//! relaxed atomics (a load and a store, no locked instruction) as it frames
//! and encodes messages. The instance holds the same `Arc` in the peer's
//! status and reads a snapshot only when the API asks. Counts are monotonic
//! since the neighbour was configured (RFC 4271 §4.1 message types 1..=5,
//! [`crate::wire::message_type`]).
//!
//! Messages sent are counted where they are encoded (`outbox`), messages
//! received where they are framed (`connection`), prefixes withdrawn by the
//! peer where the session accepts its UPDATE, NOTIFICATIONs by code and
//! subcode (RFC 4271 §4.5, RFC 4486) where they are encoded and decoded. The
//! metrics endpoint reads the same atomics on scrape (`crate::metrics`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::wire::message_type::{KEEPALIVE, NOTIFICATION, OPEN, ROUTE_REFRESH, UPDATE};
use crate::wire::{Family, UpdateMessage};

/// Single-writer increment: the session task is the only writer, so a
/// relaxed load and store cannot lose an update.
#[inline]
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

/// Messages of one direction, per type.
#[derive(Debug, Default)]
pub struct MessageCounts {
    by_type: [AtomicU64; 5],
    total: AtomicU64,
}

impl MessageCounts {
    /// Counts `count` messages of type `code` (other codes count in the total only).
    #[inline]
    pub fn add(&self, code: u8, count: u64) {
        if let Some(counter) = code.checked_sub(1).and_then(|i| self.by_type.get(usize::from(i))) {
            bump(counter, count);
        }
        bump(&self.total, count);
    }

    pub fn snapshot(&self) -> MessageSnapshot {
        let get = |code: u8| self.by_type[usize::from(code - 1)].load(Ordering::Relaxed);
        MessageSnapshot {
            open: get(OPEN),
            update: get(UPDATE),
            notification: get(NOTIFICATION),
            keepalive: get(KEEPALIVE),
            route_refresh: get(ROUTE_REFRESH),
            total: self.total.load(Ordering::Relaxed),
        }
    }
}

/// NOTIFICATION codes counted one by one (RFC 4271 §4.5 codes 1..=6, RFC 7313
/// code 7); others count under code 0.
pub const NOTIFICATION_CODES: usize = 8;
/// Subcodes counted one by one per code (Cease has 1..=11, RFC 4486 and RFC
/// 8538); higher ones count under subcode 0 of their code.
pub const NOTIFICATION_SUBCODES: usize = 16;

/// NOTIFICATIONs of both directions by code and subcode: a fixed table of
/// atomics, so counting one never allocates and a peer that sends unknown
/// codes cannot grow it.
#[derive(Debug, Default)]
pub struct NotificationCounts {
    sent: [[AtomicU64; NOTIFICATION_SUBCODES]; NOTIFICATION_CODES],
    received: [[AtomicU64; NOTIFICATION_SUBCODES]; NOTIFICATION_CODES],
}

impl NotificationCounts {
    fn slot(
        table: &[[AtomicU64; NOTIFICATION_SUBCODES]; NOTIFICATION_CODES],
        code: u8,
        subcode: u8,
    ) -> &AtomicU64 {
        let code = usize::from(code);
        let (code, subcode) = if code < NOTIFICATION_CODES {
            let subcode = usize::from(subcode);
            (code, if subcode < NOTIFICATION_SUBCODES { subcode } else { 0 })
        } else {
            (0, 0)
        };
        &table[code][subcode]
    }

    pub fn sent(&self, code: u8, subcode: u8) {
        bump(Self::slot(&self.sent, code, subcode), 1);
    }

    pub fn received(&self, code: u8, subcode: u8) {
        bump(Self::slot(&self.received, code, subcode), 1);
    }

    /// Every (code, subcode, sent, received) counted at least once either way.
    pub fn nonzero(&self) -> impl Iterator<Item = (u8, u8, u64, u64)> + '_ {
        (0..NOTIFICATION_CODES).flat_map(move |code| {
            (0..NOTIFICATION_SUBCODES).filter_map(move |subcode| {
                let sent = self.sent[code][subcode].load(Ordering::Relaxed);
                let received = self.received[code][subcode].load(Ordering::Relaxed);
                // Both indices are below 16: the casts cannot truncate.
                (sent + received > 0).then_some((code as u8, subcode as u8, sent, received))
            })
        })
    }
}

/// Everything counted for one neighbour.
#[derive(Debug, Default)]
pub struct SessionCounters {
    pub sent: MessageCounts,
    pub received: MessageCounts,
    pub notifications: NotificationCounts,
    /// Prefixes withdrawn, per family index (IPv4, IPv6).
    withdrawals_sent: [AtomicU64; 2],
    withdrawals_received: [AtomicU64; 2],
}

impl SessionCounters {
    #[inline]
    pub fn withdrawn_sent(&self, family: Family, count: usize) {
        bump(&self.withdrawals_sent[family.index()], count as u64);
    }

    #[inline]
    pub fn withdrawn_received(&self, family: Family, count: usize) {
        bump(&self.withdrawals_received[family.index()], count as u64);
    }

    /// Counts the prefixes an accepted UPDATE withdraws: the IPv4 Withdrawn
    /// Routes field (RFC 4271 §4.3) and MP_UNREACH_NLRI (RFC 4760 §4).
    pub fn update_received(&self, update: &UpdateMessage) {
        self.withdrawn_received(Family::Ipv4Unicast, update.withdrawn.len());
        if let Some(unreach) = &update.mp_unreach {
            self.withdrawn_received(unreach.family, unreach.withdrawn.len());
        }
    }

    /// (sent, received) withdrawals of `family`.
    pub fn withdrawals(&self, family: Family) -> (u64, u64) {
        let i = family.index();
        (
            self.withdrawals_sent[i].load(Ordering::Relaxed),
            self.withdrawals_received[i].load(Ordering::Relaxed),
        )
    }
}

/// The counters shared by a session task and the instance. Equal when both
/// name the same counters (so the status that holds it stays comparable).
#[derive(Clone, Debug, Default)]
pub struct SharedCounters(pub Arc<SessionCounters>);

impl PartialEq for SharedCounters {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedCounters {}

/// Message counts of one direction at one moment.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageSnapshot {
    pub open: u64,
    pub update: u64,
    pub notification: u64,
    pub keepalive: u64,
    pub route_refresh: u64,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_type_and_total() {
        let counts = MessageCounts::default();
        counts.add(UPDATE, 3);
        counts.add(KEEPALIVE, 1);
        counts.add(ROUTE_REFRESH, 1);
        counts.add(0, 1);
        counts.add(200, 1);
        let snapshot = counts.snapshot();
        assert_eq!(snapshot.update, 3);
        assert_eq!(snapshot.keepalive, 1);
        assert_eq!(snapshot.route_refresh, 1);
        assert_eq!(snapshot.open, 0);
        assert_eq!(snapshot.total, 7, "unknown types count in the total");
    }

    #[test]
    fn notifications_by_code_and_subcode_with_a_bounded_table() {
        let counts = NotificationCounts::default();
        counts.sent(6, 2);
        counts.sent(6, 2);
        counts.received(4, 0);
        counts.received(200, 3);
        counts.received(6, 99);
        let seen: Vec<_> = counts.nonzero().collect();
        assert_eq!(seen, vec![(0, 0, 0, 1), (4, 0, 0, 1), (6, 0, 0, 1), (6, 2, 2, 0)]);
    }

    #[test]
    fn withdrawals_per_family() {
        let counters = SessionCounters::default();
        counters.withdrawn_sent(Family::Ipv6Unicast, 5);
        counters.withdrawn_received(Family::Ipv4Unicast, 2);
        assert_eq!(counters.withdrawals(Family::Ipv6Unicast), (5, 0));
        assert_eq!(counters.withdrawals(Family::Ipv4Unicast), (0, 2));
    }
}
