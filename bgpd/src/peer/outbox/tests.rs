//! Packing across export batches: the messages of several batches are as
//! few as one batch of all their prefixes would give, in order, and anything
//! else (withdrawals, other attributes) flushes the held prefixes first.
//! Prefixes come from 198.18.0.0/15 (RFC 2544 benchmarking space).
//! Then what the outbox counts and when its bytes may be written.

use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use ipnet::{IpNet, Ipv4Net};

use super::*;
use crate::wire::{
    AsPath, Decoded, Origin, PathAttributes, UpdateMessage, decode_message, frame_length,
};

fn options() -> CodecOptions {
    CodecOptions { four_octet_as: true, ..CodecOptions::default() }
}

fn fresh() -> Outbox {
    let mut outbox = Outbox::new(SharedCounters::default());
    outbox.set_options(options());
    outbox
}

fn routes(from: u32, count: u32) -> Vec<Nlri> {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
    (from..from + count)
        .map(|i| Nlri::new(IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base + i), 32).unwrap())))
        .collect()
}

fn attributes(asn: u32) -> PackedAttributes {
    PackedAttributes::pack(&PathAttributes {
        origin: Some(Origin::Igp),
        as_path: AsPath::from_sequence([asn]),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        ..PathAttributes::default()
    })
}

fn next_hop() -> NextHop {
    NextHop::V4(Ipv4Addr::new(192, 0, 2, 1))
}

fn batch(groups: Vec<(PackedAttributes, Vec<Nlri>)>, withdrawn: Vec<Nlri>) -> ExportBatch {
    let mut batch = ExportBatch::new(Family::Ipv4Unicast);
    batch.withdrawn = withdrawn;
    for (attributes, nlri) in groups {
        batch.push_group(attributes, next_hop(), nlri);
    }
    batch
}

fn decode_all(out: &[u8]) -> Vec<UpdateMessage> {
    let mut rest = out;
    let mut updates = Vec::new();
    while !rest.is_empty() {
        let length = frame_length(rest, 4096).unwrap().unwrap();
        match decode_message(&rest[..length], &options()).unwrap() {
            Decoded::Update(update) => updates.push(update.update),
            other => panic!("expected an UPDATE, got {other:?}"),
        }
        rest = &rest[length..];
    }
    updates
}

/// Messages one announcement of `nlri` needs.
fn minimum(nlri: &[Nlri]) -> usize {
    UpdatePacker::new(options())
        .announce(
            &attributes(65001).view(),
            Family::Ipv4Unicast,
            None,
            nlri.iter().copied(),
            &mut BytesMut::new(),
        )
        .unwrap()
}

#[test]
fn batches_of_one_attribute_set_pack_as_one() {
    let mut outbox = fresh();
    let shared = attributes(65001);
    // Batch sizes that never fill their last message (and one smaller than a message).
    let sizes = [1000, 1500, 7, 2500];
    let mut all = Vec::new();
    let mut from = 0;
    for size in sizes {
        let nlri = routes(from, size);
        from += size;
        all.extend_from_slice(&nlri);
        outbox.push_batch(&batch(vec![(shared.clone(), nlri)], vec![]));
        assert!(!outbox.held.is_empty());
    }
    outbox.flush_held();
    assert!(outbox.held.is_empty());
    let updates = decode_all(&outbox.buffer);
    assert_eq!(updates.len(), minimum(&all));
    let sent: Vec<Nlri> = updates.iter().flat_map(|u| u.nlri.iter().copied()).collect();
    assert_eq!(sent, all, "every prefix once, in order");
    // Equal attributes in another allocation continue the held prefixes too.
    let mut outbox = fresh();
    outbox.push_batch(&batch(vec![(attributes(65001), routes(0, 10))], vec![]));
    outbox.push_batch(&batch(vec![(attributes(65001), routes(10, 10))], vec![]));
    outbox.flush_held();
    assert_eq!(decode_all(&outbox.buffer).len(), 1);
}

#[test]
fn other_attributes_and_withdrawals_flush_the_held_prefixes_first() {
    let mut outbox = fresh();
    outbox.push_batch(&batch(vec![(attributes(65001), routes(0, 10))], vec![]));
    assert!(outbox.buffer.is_empty(), "a partial message is held");
    // Another attribute set: the held prefixes go first, alone.
    outbox.push_batch(&batch(vec![(attributes(65002), routes(10, 5))], vec![]));
    // A withdrawal of a held prefix: the announcement goes first.
    outbox.push_batch(&batch(vec![], routes(10, 1)));
    assert!(outbox.held.is_empty());
    let updates = decode_all(&outbox.buffer);
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[0].nlri, routes(0, 10));
    assert_eq!(updates[0].attributes.as_path, AsPath::from_sequence([65001]));
    assert_eq!(updates[1].nlri, routes(10, 5));
    assert_eq!(updates[1].attributes.as_path, AsPath::from_sequence([65002]));
    assert_eq!(updates[2].withdrawn, routes(10, 1));
}

#[test]
fn only_the_last_group_of_a_batch_is_held() {
    let mut outbox = fresh();
    let a = attributes(65001);
    let b = attributes(65002);
    outbox.push_batch(&batch(vec![(a.clone(), routes(0, 3))], vec![]));
    // Continues `a`, closes it (not last), then holds `b`.
    outbox.push_batch(&batch(vec![(a.clone(), routes(3, 3)), (b.clone(), routes(6, 3))], vec![]));
    let updates = decode_all(&outbox.buffer);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].nlri, routes(0, 6));
    outbox.flush_held();
    let updates = decode_all(&outbox.buffer);
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1].nlri, routes(6, 3));
    // Nothing held: flushing writes nothing.
    let before = outbox.buffer.len();
    outbox.flush_held();
    assert_eq!(outbox.buffer.len(), before);
}

#[test]
fn sent_messages_are_counted_by_type_when_encoded() {
    let counters = SharedCounters::default();
    let mut outbox = Outbox::new(counters.clone());
    outbox.set_options(options());
    outbox.push_message(&Message::Keepalive);
    let mark = outbox.push_batch(&batch(vec![], routes(0, 3)));
    assert_eq!(mark, outbox.buffer.len(), "the batch ends where the buffer does");
    // Held, so not sent (nor counted) yet.
    outbox.push_batch(&batch(vec![(attributes(65001), routes(3, 2))], vec![]));
    let sent = counters.0.sent.snapshot();
    assert_eq!((sent.keepalive, sent.update, sent.total), (1, 1, 2));
    outbox.flush_held();
    assert_eq!(counters.0.sent.snapshot().update, 2);
    assert_eq!(counters.0.withdrawals(Family::Ipv4Unicast), (3, 0));
    assert_eq!(counters.0.received.snapshot().total, 0);
}

#[test]
fn held_prefixes_flush_only_once_the_buffer_is_written() {
    let mut outbox = fresh();
    outbox.push_message(&Message::Keepalive);
    outbox.push_batch(&batch(vec![(attributes(65001), routes(0, 2))], vec![]));
    assert!(!outbox.should_flush(), "the KEEPALIVE is still to be written");
    outbox.buffer.clear();
    assert!(outbox.should_flush());
    outbox.flush_held();
    assert!(!outbox.should_flush());
}

#[test]
fn deferred_output_is_not_writable_and_never_leaves_on_close() {
    let mut outbox = fresh();
    assert!(outbox.writable().is_none(), "nothing to write");
    outbox.push_message(&Message::Keepalive);
    outbox.defer();
    assert!(outbox.writable().is_none());
    outbox.release();
    assert_eq!(outbox.writable().map(|buffer| buffer.len()), Some(19));
    outbox.defer();
    assert!(outbox.close().is_empty());
    // Output not deferred (a NOTIFICATION) is handed over to be written.
    outbox.push_message(&Message::Keepalive);
    assert_eq!(outbox.close().len(), 19);
    assert!(outbox.buffer.is_empty());
}

/// The session's rule after every wakeup, with the socket writing everything
/// at once: what the peer gets when batches trickle in one after the other.
fn write_out(outbox: &mut Outbox, now: Instant, sent: &mut BytesMut) {
    outbox.flush_if_due(now);
    sent.extend_from_slice(&outbox.buffer);
    outbox.buffer.clear();
}

/// Pushes `nlri` as one batch of `set`, noting them in `all` (what the peer
/// must end up with, in order).
fn push_routes(outbox: &mut Outbox, set: &PackedAttributes, nlri: Vec<Nlri>, all: &mut Vec<Nlri>) {
    all.extend_from_slice(&nlri);
    outbox.push_batch(&batch(vec![(set.clone(), nlri)], vec![]));
}

#[test]
fn trickling_batches_pack_as_one_when_each_follows_within_the_flush_delay() {
    // The instance sends the next batch only once the last is written, so the
    // buffer is empty between batches: flushing there (the rule before
    // FLUSH_DELAY) closed one short UPDATE per batch.
    let mut outbox = fresh();
    let shared = attributes(65001);
    let mut sent = BytesMut::new();
    let mut all = Vec::new();
    let mut from = 0;
    for size in [300, 450, 7, 1200, 90, 2500, 40] {
        push_routes(&mut outbox, &shared, routes(from, size), &mut all);
        from += size;
        write_out(&mut outbox, Instant::now(), &mut sent);
    }
    assert!(!outbox.held.is_empty(), "the tail still waits for a next batch");
    // Nothing more comes: the tail of this stream leaves once STREAM_HOLD has
    // passed, not before.
    assert!(outbox.streaming());
    let deadline = outbox.flush_deadline().unwrap();
    assert!(deadline <= Instant::now() + STREAM_HOLD);
    assert_eq!(Some(deadline), outbox.held_at.map(|at| at + STREAM_HOLD));
    assert!(!outbox.flush_if_due(deadline - Duration::from_micros(100)));
    write_out(&mut outbox, deadline, &mut sent);
    assert!(outbox.held.is_empty() && outbox.flush_deadline().is_none());
    let updates = decode_all(&sent);
    assert_eq!(updates.len(), minimum(&all));
    let nlri: Vec<Nlri> = updates.iter().flat_map(|u| u.nlri.iter().copied()).collect();
    assert_eq!(nlri, all, "every prefix once, in order");
}

#[test]
fn a_stream_survives_a_gap_longer_than_the_flush_delay_but_not_a_lone_change() {
    let mut outbox = fresh();
    let shared = attributes(65001);
    let mut sent = BytesMut::new();
    let mut all = Vec::new();
    // Three batches with gaps of 3 ms between them (the instance thread
    // descheduled): past FLUSH_DELAY, within STREAM_HOLD.
    let mut now = Instant::now();
    for (index, size) in [1500, 700, 900].into_iter().enumerate() {
        push_routes(&mut outbox, &shared, routes(index as u32 * 2000, size), &mut all);
        write_out(&mut outbox, now, &mut sent);
        now += Duration::from_millis(3);
        write_out(&mut outbox, now, &mut sent);
        assert!(!outbox.held.is_empty(), "batch {index}: the stream's tail waits");
    }
    let deadline = outbox.flush_deadline().unwrap();
    assert_eq!(Some(deadline), outbox.held_at.map(|at| at + STREAM_HOLD));
    write_out(&mut outbox, deadline, &mut sent);
    assert!(outbox.held.is_empty());
    let updates = decode_all(&sent);
    assert_eq!(updates.len(), minimum(&all), "no short UPDATE in the middle");

    // Another attribute set after the stream is a lone change again: it is
    // not held for the stream's sake, and flushes after FLUSH_DELAY.
    let before = Instant::now();
    outbox.push_batch(&batch(vec![(attributes(65002), routes(9000, 1))], vec![]));
    assert!(!outbox.streaming());
    let deadline = outbox.flush_deadline().unwrap();
    assert!(deadline >= before && deadline <= Instant::now() + FLUSH_DELAY);
}

#[test]
fn a_lone_change_waits_at_most_the_flush_delay_and_never_while_bytes_wait() {
    let mut outbox = fresh();
    let before = Instant::now();
    outbox.push_batch(&batch(vec![(attributes(65001), routes(0, 1))], vec![]));
    let deadline = outbox.flush_deadline().unwrap();
    assert!(deadline >= before && deadline <= Instant::now() + FLUSH_DELAY);
    // With bytes still to write there is no deadline: the socket is busy anyway.
    outbox.push_message(&Message::Keepalive);
    assert!(outbox.flush_deadline().is_none());
    assert!(!outbox.flush_if_due(deadline + FLUSH_DELAY));
    outbox.buffer.clear();
    assert!(outbox.flush_if_due(deadline));
    assert_eq!(decode_all(&outbox.buffer)[0].nlri, routes(0, 1));
}

#[test]
fn a_burst_buffer_is_given_back_once_written_and_a_small_one_kept() {
    let mut outbox = fresh();
    // 40,000 host routes of one set: about 200 KB of UPDATEs, past KEEP_CAPACITY.
    let mark = outbox.push_batch(&batch(vec![(attributes(65001), routes(0, 40_000))], vec![]));
    assert!(mark > KEEP_CAPACITY, "{mark} bytes");
    // The socket writes half: nothing is released while bytes wait.
    outbox.writable().unwrap().advance(mark / 2);
    outbox.release_if_idle();
    assert!(outbox.peak >= mark && outbox.buffer.len() == mark - mark / 2);
    // Written out: the allocation goes back.
    let rest = outbox.buffer.len();
    outbox.writable().unwrap().advance(rest);
    outbox.release_if_idle();
    assert_eq!((outbox.peak, outbox.buffer.capacity()), (0, 0));
    // A small message's buffer stays for the next one.
    outbox.push_message(&Message::Keepalive);
    outbox.writable().unwrap().advance(19);
    outbox.release_if_idle();
    assert_eq!(outbox.peak, 19, "not released: below KEEP_CAPACITY");
}
