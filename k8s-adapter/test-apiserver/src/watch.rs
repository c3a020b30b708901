//! Watches: the retained event history, open watchers and the JSON lines they receive.
//!
//! As on the real server: a watch from resourceVersion N replays every retained event after N
//! then follows live; N older than the oldest retained history is answered with an `ERROR` event
//! carrying a 410 `Expired` Status; a watch from "" or "0" starts with synthetic `ADDED` events
//! for the current objects; with `allowWatchBookmarks` the watcher gets `BOOKMARK` events carrying
//! only a resourceVersion; with `sendInitialEvents` the initial `ADDED` events end with a bookmark
//! annotated `k8s.io/initial-events-end`. A watcher with selectors sees an object that stops
//! matching as `DELETED` and one that starts matching as `ADDED`.

use std::collections::VecDeque;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::resources::{ResId, ResourceType};
use crate::selectors::{FieldSelector, LabelSelector};

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Added,
    Modified,
    Deleted,
}

/// One retained event: the object before and after (after = final state for a deletion).
#[derive(Clone, Debug)]
pub(crate) struct HistEvent {
    pub(crate) rv: u64,
    pub(crate) res: ResId,
    pub(crate) change: Change,
    pub(crate) old: Option<Value>,
    pub(crate) new: Value,
}

/// Which objects a watch or list selects.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    pub(crate) namespace: Option<String>,
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
    /// The client asked for `PartialObjectMetadata` (kube's `metadata_watcher`).
    pub(crate) partial: bool,
}

impl Filter {
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.namespace.as_deref().is_none_or(|ns| obj["metadata"]["namespace"].as_str() == Some(ns))
            && self.labels.matches(obj)
            && self.fields.matches(obj)
    }
}

/// An open watch.
#[derive(Debug)]
pub(crate) struct Watcher {
    pub(crate) res: ResId,
    pub(crate) filter: Filter,
    pub(crate) bookmarks: bool,
    pub(crate) tx: mpsc::UnboundedSender<Bytes>,
}

/// The event type a watcher with `filter` sees for `ev`, if any.
fn visible(filter: &Filter, ev: &HistEvent) -> Option<&'static str> {
    let now = filter.matches(&ev.new);
    let before = ev.old.as_ref().is_some_and(|o| filter.matches(o));
    match ev.change {
        Change::Added => now.then_some("ADDED"),
        Change::Deleted => (now || before).then_some("DELETED"),
        Change::Modified => match (before, now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        },
    }
}

/// An object as `meta.k8s.io/v1` `PartialObjectMetadata`: only its metadata.
pub(crate) fn partial(obj: &Value) -> Value {
    json!({ "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"] })
}

/// The event line for `obj` as the watcher with `filter` sees it.
pub(crate) fn view_line(kind: &str, obj: &Value, filter: &Filter) -> Bytes {
    if filter.partial { line(kind, &partial(obj)) } else { line(kind, obj) }
}

/// `{"type":T,"object":O}\n`.
pub(crate) fn line(kind: &str, obj: &Value) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"{\"type\":\"");
    buf.extend_from_slice(kind.as_bytes());
    buf.extend_from_slice(b"\",\"object\":");
    if serde_json::to_writer(&mut buf, obj).is_err() {
        buf.extend_from_slice(b"null");
    }
    buf.extend_from_slice(b"}\n");
    Bytes::from(buf)
}

/// The object of a `BOOKMARK` event.
pub(crate) fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({ "resourceVersion": rv.to_string() });
    if initial_end && let Some(m) = meta.as_object_mut() {
        m.insert("annotations".to_owned(), json!({ "k8s.io/initial-events-end": "true" }));
    }
    json!({ "kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta })
}

/// Retained history and open watchers.
#[derive(Debug)]
pub(crate) struct Watches {
    history: VecDeque<HistEvent>,
    window: usize,
    /// Events up to and including this resourceVersion are no longer retained.
    compacted: u64,
    watchers: Vec<Watcher>,
}

impl Watches {
    pub(crate) fn new(window: usize) -> Self {
        Watches { history: VecDeque::new(), window, compacted: 0, watchers: Vec::new() }
    }

    /// Records `ev` and sends it to the watchers that see it; drops watchers whose stream closed.
    pub(crate) fn publish(&mut self, ev: HistEvent) {
        let mut cache: [Option<Bytes>; 6] = Default::default();
        self.watchers.retain(|w| {
            if w.res != ev.res {
                return !w.tx.is_closed();
            }
            let Some(kind) = visible(&w.filter, &ev) else { return !w.tx.is_closed() };
            let slot = match kind {
                "ADDED" => 0,
                "MODIFIED" => 1,
                _ => 2,
            } + if w.filter.partial { 3 } else { 0 };
            let bytes =
                cache[slot].get_or_insert_with(|| view_line(kind, &ev.new, &w.filter)).clone();
            w.tx.send(bytes).is_ok()
        });
        self.history.push_back(ev);
        while self.history.len() > self.window {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    /// Starts a watch from resourceVersion `from` (> 0): the retained events after it, or
    /// `Err(oldest retained resourceVersion)` when some were compacted away.
    pub(crate) fn replay(&self, res: ResId, filter: &Filter, from: u64) -> Result<Vec<Bytes>, u64> {
        if from < self.compacted {
            return Err(self.compacted + 1);
        }
        Ok(self
            .history
            .iter()
            .filter(|ev| ev.rv > from && ev.res == res)
            .filter_map(|ev| visible(filter, ev).map(|kind| view_line(kind, &ev.new, filter)))
            .collect())
    }

    pub(crate) fn add(&mut self, w: Watcher) {
        self.watchers.push(w);
    }

    /// Sends a bookmark at `rv` to every watcher of `res` that asked for bookmarks.
    pub(crate) fn bookmark(&mut self, res: ResId, rt: &ResourceType, rv: u64) {
        let mut cached: Option<Bytes> = None;
        self.watchers.retain(|w| {
            if w.res != res || !w.bookmarks {
                return !w.tx.is_closed();
            }
            let bytes =
                cached.get_or_insert_with(|| line("BOOKMARK", &bookmark(rt, rv, false))).clone();
            w.tx.send(bytes).is_ok()
        });
    }

    /// Resources with at least one watcher asking for bookmarks.
    pub(crate) fn bookmark_resources(&self) -> Vec<ResId> {
        let mut out: Vec<ResId> =
            self.watchers.iter().filter(|w| w.bookmarks).map(|w| w.res).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Forgets all history: any watch from an older resourceVersion now gets 410.
    pub(crate) fn compact(&mut self, rv: u64) {
        self.history.clear();
        self.compacted = rv;
    }

    /// Ends every open watch (the server closing streams, as on an API server restart).
    pub(crate) fn close_all(&mut self) {
        self.watchers.clear();
    }

    pub(crate) fn open(&self) -> usize {
        self.watchers.iter().filter(|w| !w.tx.is_closed()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(rv: u64, change: Change, old: Option<Value>, new: Value) -> HistEvent {
        HistEvent { rv, res: 0, change, old, new }
    }

    fn labelled(v: &str) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": v}}})
    }

    #[test]
    fn selector_transitions() {
        let f = Filter {
            labels: LabelSelector::parse("app=web").unwrap_or_default(),
            ..Filter::default()
        };
        let into = ev(2, Change::Modified, Some(labelled("db")), labelled("web"));
        let out = ev(3, Change::Modified, Some(labelled("web")), labelled("db"));
        let never = ev(4, Change::Modified, Some(labelled("db")), labelled("db"));
        assert_eq!(visible(&f, &into), Some("ADDED"));
        assert_eq!(visible(&f, &out), Some("DELETED"));
        assert_eq!(visible(&f, &never), None);
    }

    #[test]
    fn replay_and_compaction() {
        let mut w = Watches::new(2);
        for rv in 1..=3 {
            w.publish(ev(rv, Change::Added, None, labelled("web")));
        }
        let f = Filter::default();
        assert_eq!(w.replay(0, &f, 1).map(|v| v.len()), Ok(2));
        assert_eq!(w.replay(0, &f, 0), Err(2));
        w.compact(3);
        assert_eq!(w.replay(0, &f, 2), Err(4));
        assert_eq!(w.replay(0, &f, 3).map(|v| v.len()), Ok(0));
    }

    #[test]
    fn live_events_reach_watchers() {
        let mut w = Watches::new(10);
        let (tx, mut rx) = mpsc::unbounded_channel();
        w.add(Watcher { res: 0, filter: Filter::default(), bookmarks: true, tx });
        w.publish(ev(1, Change::Added, None, labelled("web")));
        let rt = crate::resources::ResourceType::custom("g", "v1", "K", "ks", true);
        w.bookmark(0, &rt, 1);
        let first = rx.try_recv().map(|b| b.starts_with(b"{\"type\":\"ADDED\""));
        let second = rx.try_recv().map(|b| b.starts_with(b"{\"type\":\"BOOKMARK\""));
        assert_eq!((first, second), (Ok(true), Ok(true)));
        assert_eq!(w.open(), 1);
        drop(rx);
        w.publish(ev(2, Change::Added, None, labelled("web")));
        assert_eq!(w.open(), 0);
    }
}
