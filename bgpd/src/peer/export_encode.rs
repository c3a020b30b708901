//! Encoding export batches into a session's write buffer (RFC 4271 §4.3,
//! §9.2), packing across batches.
//!
//! The instance hands a session its routes in batches of bounded size, so a
//! large change arrives as several batches, and each batch's prefixes per
//! attribute set rarely fill their last UPDATE exactly. Closing that partial
//! message at every batch boundary would cost one extra, short UPDATE per
//! batch. Instead the trailing prefixes of a batch's last group are *held*
//! (as prefixes, not bytes) and lead the next batch's first group when it has
//! the same attributes and next hop; they go out alone as soon as the session
//! has nothing else to do: its write buffer is empty and no command waits.
//! Holding them costs no latency: while the write buffer still has bytes,
//! the socket could not have sent them any earlier. There is no timer.
//!
//! Order is kept: anything else (withdrawals, another attribute set,
//! End-of-RIB, a route refresh marker) first flushes the held prefixes.

use std::sync::Arc;

use crate::rib::{AnnounceGroup, ExportBatch};
use crate::wire::{Family, NextHop, Nlri, PathAttributes};

use super::connection::Connection;

/// The UPDATE message type (RFC 4271 §4.1), for the counters.
const UPDATE_TYPE: u8 = 2;

/// Prefixes announced but not yet encoded, all with one attribute set.
#[derive(Debug, Default)]
pub struct HeldTail {
    group: Option<HeldGroup>,
    /// Reused between batches: its capacity stays.
    nlri: Vec<Nlri>,
}

#[derive(Debug)]
struct HeldGroup {
    family: Family,
    attributes: Arc<PathAttributes>,
    next_hop: NextHop,
}

impl HeldTail {
    pub fn is_empty(&self) -> bool {
        self.nlri.is_empty()
    }

    /// Forgets the held prefixes (the session went down; the instance
    /// re-sends the whole table on the next session).
    pub fn clear(&mut self) {
        self.group = None;
        self.nlri.clear();
    }

    /// Whether `group` of `family` continues the held prefixes.
    fn continues(&self, family: Family, group: &AnnounceGroup) -> bool {
        self.group.as_ref().is_some_and(|held| {
            held.family == family
                && held.next_hop == group.next_hop
                && (Arc::ptr_eq(&held.attributes, &group.attributes)
                    || held.attributes == group.attributes)
        })
    }
}

/// Appends `batch` to the write buffer, continuing the held prefixes when its
/// first group shares their attributes and holding the last group's tail.
pub fn encode_batch(connection: &mut Connection, batch: &ExportBatch) {
    let continues = batch.withdrawn.is_empty()
        && batch
            .announced
            .first()
            .is_some_and(|group| connection.held.continues(batch.family, group));
    if !continues {
        flush_held(connection);
    }
    let Connection { packer, write_buffer, counters, held, .. } = connection;
    let counters = &counters.0;
    if !batch.withdrawn.is_empty() {
        match packer.withdraw(batch.family, batch.withdrawn.iter().copied(), write_buffer) {
            Ok(messages) => {
                counters.sent.add(UPDATE_TYPE, messages as u64);
                counters.withdrawn_sent(batch.family, batch.withdrawn.len());
            }
            Err(error) => tracing::error!(%error, "cannot encode withdrawals"),
        }
    }
    let last = batch.announced.len().saturating_sub(1);
    for (index, group) in batch.announced.iter().enumerate() {
        // Only the first group can continue the held prefixes (checked above).
        let leading: &[Nlri] = if index == 0 && continues { &held.nlri } else { &[] };
        let leading_len = leading.len();
        let nlri = leading.iter().chain(&group.nlri).copied();
        if index < last {
            match packer.announce(
                &group.attributes,
                batch.family,
                Some(group.next_hop),
                nlri,
                write_buffer,
            ) {
                Ok(messages) => counters.sent.add(UPDATE_TYPE, messages as u64),
                Err(error) => tracing::error!(%error, "cannot encode announcements"),
            }
            if index == 0 {
                held.clear();
            }
            continue;
        }
        match packer.announce_holding_tail(
            &group.attributes,
            batch.family,
            Some(group.next_hop),
            nlri,
            write_buffer,
        ) {
            Ok(packed) => {
                counters.sent.add(UPDATE_TYPE, packed.messages as u64);
                // The held prefixes are the last `packed.held` of leading ++ group.
                let total = leading_len + group.nlri.len();
                let from = total - packed.held.min(total);
                let mut tail = std::mem::take(&mut held.nlri);
                if from < leading_len {
                    // Only when nothing of the group fit a full message: keep
                    // the leading ones' suffix, then the whole group.
                    tail.drain(..from);
                    tail.extend_from_slice(&group.nlri);
                } else {
                    tail.clear();
                    tail.extend_from_slice(&group.nlri[from - leading_len..]);
                }
                held.nlri = tail;
                held.group = (!held.nlri.is_empty()).then(|| HeldGroup {
                    family: batch.family,
                    attributes: group.attributes.clone(),
                    next_hop: group.next_hop,
                });
            }
            Err(error) => {
                tracing::error!(%error, "cannot encode announcements");
                held.clear();
            }
        }
    }
    // Keep the buffer's spare capacity modest between bursts.
    if write_buffer.is_empty() && write_buffer.capacity() > 1 << 20 {
        *write_buffer = bytes::BytesMut::new();
    }
}

/// Encodes the held prefixes, if any, into the write buffer.
pub fn flush_held(connection: &mut Connection) {
    let Connection { packer, write_buffer, counters, held, .. } = connection;
    let Some(group) = held.group.take() else {
        held.nlri.clear();
        return;
    };
    match packer.announce(
        &group.attributes,
        group.family,
        Some(group.next_hop),
        held.nlri.iter().copied(),
        write_buffer,
    ) {
        Ok(messages) => counters.0.sent.add(UPDATE_TYPE, messages as u64),
        Err(error) => tracing::error!(%error, "cannot encode announcements"),
    }
    held.nlri.clear();
}

#[cfg(test)]
#[path = "export_encode_tests.rs"]
mod tests;
