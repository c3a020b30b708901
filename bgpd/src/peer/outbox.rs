//! What one connection has to send: the UPDATE packer, the write buffer, the
//! prefixes held back for packing across export batches, and the counting of
//! every message sent (RFC 4271 §4, §9.2).
//!
//! Everything outgoing is encoded straight into one write buffer, which the
//! connection hands to the socket as a whole ([`Outbox::writable`]), so a burst
//! of UPDATEs leaves in few system calls and no message is copied on the way.
//! Messages are counted as they are encoded, here and nowhere else.
//!
//! Memory: the buffer holds at most what the instance has in flight for the
//! peer (its export window, `instance::EXPORT_WINDOW` batches of at most
//! `instance::MAX_EXPORT_BATCH` prefixes, fewer when many peers share the
//! instance's budget, encoded) plus a few single messages; once it has
//! all been written, a buffer grown past [`KEEP_CAPACITY`] is given back
//! ([`Outbox::release_if_idle`]), so idle sessions hold at most that much.
//!
//! # Packing across export batches
//!
//! The instance hands a session its routes in batches of bounded size, so a
//! large change arrives as several batches, and each batch's prefixes per
//! attribute set rarely fill their last UPDATE exactly. Closing that partial
//! message at every batch boundary would cost one extra, short UPDATE per
//! batch. Instead the trailing prefixes of a batch's last group are *held*
//! (as prefixes, not bytes) and lead the next batch's first group when it has
//! the same attributes and next hop; they go out alone once the session has
//! nothing else to do: its write buffer is empty ([`Outbox::should_flush`]), no
//! command waits (the session loop knows that), and [`FLUSH_DELAY`] has passed
//! since the held prefixes last changed ([`Outbox::flush_deadline`],
//! [`Outbox::flush_if_due`]). While the write buffer still has bytes, holding
//! costs nothing: the socket could not have sent them any earlier. The short
//! wait after that matters when routes trickle in: the instance hands out the
//! next batch only after the previous one was written, so the buffer is empty
//! between any two batches, and flushing there closed one short UPDATE per
//! batch (22 UPDATEs for 10,000 trickled prefixes where 10 suffice; FRR sends
//! 10 after its one-second coalescing). A lone change waits at most
//! [`FLUSH_DELAY`]; a stream keeps packing while its batches come closer than
//! that, each prefix waiting at most until its message is full.
//!
//! A *stream* (the held prefixes are the tail of a group that already filled
//! at least one UPDATE, [`Outbox::streaming`]) waits longer for its next batch:
//! [`STREAM_HOLD`] instead of [`FLUSH_DELAY`]. On a busy machine the instance
//! thread is descheduled for a few milliseconds at a time, and each such gap
//! in the middle of a stream closed one more short UPDATE (10,000 trickled
//! prefixes took 10 UPDATEs on an idle 2-core machine, 11-12 with the
//! benchmark rig on the other core). Only the last, partial message of a
//! burst waits the longer hold; a change that does not follow a full
//! UPDATE of its attribute set within [`STREAM_HOLD`] is still lone.
//!
//! Order is kept: anything else (withdrawals, another attribute set,
//! End-of-RIB, a route refresh marker) first flushes the held prefixes.
//!
//! # Deferred output
//!
//! During a connection collision (RFC 4271 §6.8, `fsm::collision`,
//! `OpenVerdict::Defer`) the output stays unwritten until the peer shows
//! which connection it kept: [`Outbox::defer`], then [`Outbox::release`] or
//! [`Outbox::discard`].

use std::time::Duration;

use bytes::BytesMut;
use tokio::time::Instant;

use crate::rib::{ExportBatch, Group};
use crate::wire::{
    CodecOptions, Family, Message, NextHop, Nlri, PackedAttributes, UpdatePacker, encode_message,
    message_type,
};

use super::counters::SharedCounters;

/// The write buffer an idle session keeps: once everything queued has been
/// written, a buffer that held more than this since it was last released is
/// given back ([`Outbox::release_if_idle`]), so a burst's buffer does not stay
/// with every peer for the life of its session (100 peers of a route server
/// held about a megabyte each: the window of export batches, encoded).
/// 16 KiB holds a few full UPDATEs; with 64 KiB the route server's 100
/// sessions could keep 6.4 MB between bursts (peak RSS 54-56 MB against
/// 53 MB now, `table-route-server.txt`).
pub const KEEP_CAPACITY: usize = 16 * 1024;

/// How long held prefixes wait for the next export batch once nothing else is
/// being written (see the module documentation): the most a lone change is
/// delayed.
pub const FLUSH_DELAY: Duration = Duration::from_millis(1);

/// How long the held tail of a stream waits for its next batch (see the
/// module documentation): the most the last, partial UPDATE of a burst is
/// delayed. Ten milliseconds covers a scheduler time slice or two of a busy
/// machine, and is a hundredth of FRR's one-second coalescing.
pub const STREAM_HOLD: Duration = Duration::from_millis(10);

/// The sending side of one connection.
#[derive(Debug)]
pub struct Outbox {
    packer: UpdatePacker,
    /// Encoded messages not yet written; the socket consumes it from the front.
    buffer: BytesMut,
    /// The most bytes `buffer` held since it was last released: a lower bound
    /// of its allocation, which `BytesMut` does not tell once the socket
    /// advanced past written bytes.
    peak: usize,
    /// Announcements kept back to pack with the next export batch.
    held: HeldTail,
    /// When the held prefixes last changed (`None`: nothing held).
    held_at: Option<Instant>,
    /// When the held group last filled a whole UPDATE (`None`: it never did,
    /// or its tail has gone out since): the held prefixes are a stream's.
    streaming: Option<Instant>,
    /// Output kept unwritten while a collision waits for the peer's choice.
    deferred: bool,
    /// The neighbour's counters (see `counters`), shared by its connections.
    counters: SharedCounters,
}

impl Outbox {
    /// An outbox with the options of a session before OPEN.
    pub fn new(counters: SharedCounters) -> Self {
        Self {
            packer: UpdatePacker::new(CodecOptions::default()),
            buffer: BytesMut::new(),
            peak: 0,
            held: HeldTail::default(),
            held_at: None,
            streaming: None,
            deferred: false,
            counters,
        }
    }

    /// Encodes from now on with what the session negotiated (or the defaults
    /// again); held prefixes are forgotten.
    pub fn set_options(&mut self, options: CodecOptions) {
        self.packer = UpdatePacker::new(options);
        self.held.clear();
        self.held_at = None;
        self.streaming = None;
    }

    /// Queues one message. An encoding failure (a message over the size limit)
    /// is logged and the message dropped: it is our own bug, not the peer's.
    pub fn push_message(&mut self, message: &Message) {
        match encode_message(message, self.packer.options(), &mut self.buffer) {
            Ok(()) => {
                self.counters.0.sent.add(type_code(message), 1);
                if let Message::Notification(n) = message {
                    self.counters.0.notifications.sent(n.code, n.subcode);
                }
            }
            Err(error) => tracing::error!(%error, "cannot encode an outgoing message"),
        }
        self.note_len();
    }

    /// Queues a message that must follow every route pushed before it
    /// (End-of-RIB, a route refresh marker): the held prefixes go first.
    pub fn push_after_routes(&mut self, message: &Message) {
        self.flush_held();
        self.push_message(message);
    }

    /// Appends `batch`, continuing the held prefixes when its first group
    /// shares their attributes and holding the last group's tail. Returns the
    /// buffered length at which the batch is completely written (0: nothing
    /// waits, it is already gone or held).
    pub fn push_batch(&mut self, batch: &ExportBatch) -> usize {
        let continues = batch.withdrawn.is_empty()
            && batch.groups().next().is_some_and(|group| self.held.continues(batch.family, group));
        if !continues {
            self.flush_held();
        }
        if !batch.withdrawn.is_empty() {
            self.withdraw(batch.family, &batch.withdrawn);
        }
        let last = batch.groups().len().saturating_sub(1);
        for (index, group) in batch.groups().enumerate() {
            // Only the first group can continue the held prefixes (checked above).
            let leading = index == 0 && continues;
            if index < last {
                self.announce(batch.family, group, leading);
            } else {
                self.announce_holding_tail(batch.family, group, leading);
            }
        }
        self.held_at = (!self.held.is_empty()).then(Instant::now);
        self.note_len();
        self.release_if_idle();
        self.buffer.len()
    }

    /// Gives the write buffer's memory back if everything queued has been
    /// written and the buffer held more than [`KEEP_CAPACITY`] since it was
    /// last released. The session calls it after every write.
    pub fn release_if_idle(&mut self) {
        if self.buffer.is_empty() && self.peak > KEEP_CAPACITY {
            self.buffer = BytesMut::new();
            self.peak = 0;
        }
    }

    #[inline]
    fn note_len(&mut self) {
        self.peak = self.peak.max(self.buffer.len());
    }

    /// Whether the held prefixes could go out now: nothing else waits to be
    /// written. The session adds its own condition (no command waits).
    pub fn should_flush(&self) -> bool {
        !self.held.is_empty() && self.buffer.is_empty()
    }

    /// When the held prefixes are due to go out if nothing else comes:
    /// [`FLUSH_DELAY`] after they last changed ([`STREAM_HOLD`] for a
    /// stream's tail, [`Self::streaming`]), once nothing else waits to be
    /// written. `None` while there is nothing to flush or the buffer has bytes.
    pub fn flush_deadline(&self) -> Option<Instant> {
        if !self.should_flush() {
            return None;
        }
        let Some(at) = self.held_at else {
            return Some(Instant::now());
        };
        Some(at + if self.streaming() { STREAM_HOLD } else { FLUSH_DELAY })
    }

    /// Whether the held prefixes are the tail of a stream: their group filled
    /// a whole UPDATE no longer than [`STREAM_HOLD`] before they last changed.
    pub fn streaming(&self) -> bool {
        match (self.streaming, self.held_at) {
            (Some(full), Some(held)) => held.saturating_duration_since(full) < STREAM_HOLD,
            _ => false,
        }
    }

    /// Encodes the held prefixes if their [`Self::flush_deadline`] has come
    /// (`now` at or after it). Returns whether it did.
    pub fn flush_if_due(&mut self, now: Instant) -> bool {
        let due = self.flush_deadline().is_some_and(|deadline| deadline <= now);
        if due {
            self.flush_held();
        }
        due
    }

    /// Encodes the held prefixes, if any.
    pub fn flush_held(&mut self) {
        self.held_at = None;
        self.streaming = None;
        let Some(group) = self.held.group.take() else {
            self.held.nlri.clear();
            return;
        };
        let nlri = self.held.nlri.iter().copied();
        match self.packer.announce(
            &group.attributes.view(),
            group.family,
            Some(group.next_hop),
            nlri,
            &mut self.buffer,
        ) {
            Ok(messages) => self.count_updates(messages),
            Err(error) => tracing::error!(%error, "cannot encode announcements"),
        }
        self.held.nlri.clear();
        self.note_len();
    }

    /// The bytes to hand to the socket, if any may leave now. The socket
    /// advances the buffer past what it wrote (`AsyncWriteExt::write_buf`).
    pub fn writable(&mut self) -> Option<&mut BytesMut> {
        (!self.buffer.is_empty() && !self.deferred).then_some(&mut self.buffer)
    }

    /// Keeps the output unwritten until [`Self::release`] or [`Self::discard`].
    pub fn defer(&mut self) {
        self.deferred = true;
    }

    /// Lets deferred output leave.
    pub fn release(&mut self) {
        self.deferred = false;
    }

    /// Drops everything not yet written (a new TCP connection, or deferred
    /// output the peer will never see) and ends any deferral.
    pub fn discard(&mut self) {
        self.buffer.clear();
        self.deferred = false;
        self.release_if_idle();
    }

    /// The connection closes: returns what may still be written (a
    /// NOTIFICATION; deferred output never leaves) and resets the outbox to
    /// the options before OPEN, forgetting held prefixes (the instance
    /// re-sends the whole table on the next session).
    pub fn close(&mut self) -> BytesMut {
        if self.deferred {
            self.discard();
        }
        let remaining = std::mem::take(&mut self.buffer);
        self.peak = 0;
        self.set_options(CodecOptions::default());
        remaining
    }

    fn withdraw(&mut self, family: Family, withdrawn: &[Nlri]) {
        match self.packer.withdraw(family, withdrawn.iter().copied(), &mut self.buffer) {
            Ok(messages) => {
                self.count_updates(messages);
                self.counters.0.withdrawn_sent(family, withdrawn.len());
            }
            Err(error) => tracing::error!(%error, "cannot encode withdrawals"),
        }
    }

    /// Announces `group` entirely, after the held prefixes when `leading`.
    fn announce(&mut self, family: Family, group: Group<'_>, leading: bool) {
        let leading_nlri: &[Nlri] = if leading { &self.held.nlri } else { &[] };
        let nlri = leading_nlri.iter().chain(group.nlri).copied();
        match self.packer.announce(
            &group.attributes.view(),
            family,
            Some(group.next_hop),
            nlri,
            &mut self.buffer,
        ) {
            Ok(messages) => self.count_updates(messages),
            Err(error) => tracing::error!(%error, "cannot encode announcements"),
        }
        if leading {
            self.held.clear();
        }
    }

    /// Announces `group` (after the held prefixes when `leading`) except the
    /// prefixes of a last, partial message, which become the held tail.
    fn announce_holding_tail(&mut self, family: Family, group: Group<'_>, leading: bool) {
        let leading_nlri: &[Nlri] = if leading { &self.held.nlri } else { &[] };
        let leading_len = leading_nlri.len();
        let nlri = leading_nlri.iter().chain(group.nlri).copied();
        match self.packer.announce_holding_tail(
            &group.attributes.view(),
            family,
            Some(group.next_hop),
            nlri,
            &mut self.buffer,
        ) {
            Ok(packed) => {
                self.count_updates(packed.messages);
                self.held.keep(family, group, leading_len, packed.held);
                // A group that filled a message is a stream from now on; one
                // that did not continues the stream it joined, if any.
                if packed.messages > 0 {
                    self.streaming = Some(Instant::now());
                } else if !leading {
                    self.streaming = None;
                }
            }
            Err(error) => {
                tracing::error!(%error, "cannot encode announcements");
                self.held.clear();
            }
        }
    }

    #[inline]
    fn count_updates(&self, messages: usize) {
        self.counters.0.sent.add(message_type::UPDATE, messages as u64);
    }
}

/// The wire type code of `message` (RFC 4271 §4.1, RFC 2918 §3).
fn type_code(message: &Message) -> u8 {
    match message {
        Message::Open(_) => message_type::OPEN,
        Message::Update(_) => message_type::UPDATE,
        Message::Notification(_) => message_type::NOTIFICATION,
        Message::Keepalive => message_type::KEEPALIVE,
        Message::RouteRefresh(_) => message_type::ROUTE_REFRESH,
    }
}

/// Prefixes announced but not yet encoded, all with one attribute set.
#[derive(Debug, Default)]
struct HeldTail {
    group: Option<HeldGroup>,
    /// Reused between batches: its capacity stays.
    nlri: Vec<Nlri>,
}

#[derive(Debug)]
struct HeldGroup {
    family: Family,
    attributes: PackedAttributes,
    next_hop: NextHop,
}

impl HeldTail {
    fn is_empty(&self) -> bool {
        self.nlri.is_empty()
    }

    fn clear(&mut self) {
        self.group = None;
        self.nlri.clear();
    }

    /// Whether `group` of `family` continues the held prefixes.
    fn continues(&self, family: Family, group: Group<'_>) -> bool {
        self.group.as_ref().is_some_and(|held| {
            held.family == family
                && held.next_hop == group.next_hop
                && (held.attributes.ptr_eq(group.attributes)
                    || held.attributes == *group.attributes)
        })
    }

    /// Holds the last `count` prefixes of the held prefixes' first
    /// `leading_len` followed by `group`'s, which the packer left out.
    fn keep(&mut self, family: Family, group: Group<'_>, leading_len: usize, count: usize) {
        let total = leading_len + group.nlri.len();
        let from = total - count.min(total);
        if from < leading_len {
            // Only when nothing of the group fit a full message: keep the
            // leading ones' suffix, then the whole group.
            self.nlri.drain(..from);
            self.nlri.extend_from_slice(group.nlri);
        } else {
            self.nlri.clear();
            self.nlri.extend_from_slice(&group.nlri[from - leading_len..]);
        }
        self.group = (!self.nlri.is_empty()).then(|| HeldGroup {
            family,
            attributes: group.attributes.clone(),
            next_hop: group.next_hop,
        });
    }
}

#[cfg(test)]
mod tests;
