//! Field ownership for server-side apply, kept minimal.
//!
//! Each object carries, per field manager and operation (`Apply` or `Update`), the set of leaf
//! fields it owns, as JSON pointers. Objects are walked into their leaves; lists are atomic
//! (owned whole), which is what upstream does for `listType: atomic` and a simplification for
//! keyed lists. This gives the behaviours controllers meet: an apply conflicts (409) when it
//! changes a field another manager owns unless `force=true`; a field that an applier stops
//! sending is removed when nobody else owns it; an update takes over the fields it changes.
//! The sets are rendered into `metadata.managedFields` (FieldsV1) so objects look real.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::patch::{escape_token, pointer_tokens};

/// Owned leaf fields as JSON pointers.
pub(crate) type FieldSet = BTreeSet<String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Apply,
    Update,
}

#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: Operation,
    subresource: String,
    time: String,
    fields: FieldSet,
}

/// The managers of one object.
#[derive(Clone, Debug, Default)]
pub(crate) struct Managers {
    entries: Vec<Entry>,
}

/// Metadata fields the server owns; never counted as managed.
fn system_field(path: &str) -> bool {
    matches!(path, "/apiVersion" | "/kind")
        || [
            "/metadata/name",
            "/metadata/namespace",
            "/metadata/uid",
            "/metadata/resourceVersion",
            "/metadata/generation",
            "/metadata/creationTimestamp",
            "/metadata/deletionTimestamp",
            "/metadata/deletionGracePeriodSeconds",
            "/metadata/managedFields",
            "/metadata/generateName",
        ]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

fn walk(v: &Value, prefix: &mut String, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                let len = prefix.len();
                prefix.push('/');
                prefix.push_str(&escape_token(k));
                walk(child, prefix, out);
                prefix.truncate(len);
            }
        }
        _ => {
            if !prefix.is_empty() && !system_field(prefix) {
                out.insert(prefix.clone());
            }
        }
    }
}

/// Leaf fields of an object.
pub(crate) fn leaf_paths(v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    walk(v, &mut String::new(), &mut out);
    out
}

pub(crate) fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let tokens = pointer_tokens(path).ok()?;
    let mut cur = v;
    for t in &tokens {
        cur = cur.as_object()?.get(t)?;
    }
    Some(cur)
}

fn remove_path(v: &mut Value, path: &str) {
    let Ok(tokens) = pointer_tokens(path) else { return };
    let Some((last, head)) = tokens.split_last() else { return };
    let mut cur = v;
    for t in head {
        match cur.as_object_mut().and_then(|m| m.get_mut(t)) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

/// Deep merge for apply: objects merge, everything else (lists included) replaces.
fn merge_applied(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) => {
            for (k, v) in a {
                match t.get_mut(k) {
                    Some(slot) => merge_applied(slot, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, a) => *t = a.clone(),
    }
}

/// `.spec.ports` style rendering of a pointer, for conflict messages.
fn dotted(path: &str) -> String {
    pointer_tokens(path).map(|t| t.iter().map(|s| format!(".{s}")).collect()).unwrap_or_default()
}

impl Managers {
    fn entry_mut(&mut self, manager: &str, op: Operation, sub: &str, time: &str) -> &mut Entry {
        let pos = self
            .entries
            .iter()
            .position(|e| e.manager == manager && e.operation == op && e.subresource == sub);
        let i = match pos {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    manager: manager.to_owned(),
                    operation: op,
                    subresource: sub.to_owned(),
                    time: String::new(),
                    fields: FieldSet::new(),
                });
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[i];
        e.time = time.to_owned();
        e
    }

    fn is_me(e: &Entry, manager: &str, op: Operation, sub: &str) -> bool {
        e.manager == manager && e.operation == op && e.subresource == sub
    }

    /// Records a non-apply write: `manager` takes the fields that changed from `old` to `new`;
    /// fields that disappeared are owned by nobody.
    pub(crate) fn record_update(
        &mut self,
        manager: &str,
        sub: &str,
        old: &Value,
        new: &Value,
        time: &str,
    ) {
        let new_fields = leaf_paths(new);
        let changed: FieldSet =
            new_fields.iter().filter(|p| get_path(old, p) != get_path(new, p)).cloned().collect();
        for e in &mut self.entries {
            e.fields.retain(|p| new_fields.contains(p) && !changed.contains(p));
        }
        if !changed.is_empty() {
            self.entry_mut(manager, Operation::Update, sub, time).fields.extend(changed);
        }
        self.entries.retain(|e| !e.fields.is_empty());
    }

    /// Server-side apply of `applied` by `manager` onto `current`; returns the new object or the
    /// conflicting fields (`conflict with "other": .spec.x`).
    pub(crate) fn apply(
        &mut self,
        manager: &str,
        sub: &str,
        current: &Value,
        applied: &Value,
        force: bool,
        time: &str,
    ) -> Result<Value, Vec<String>> {
        let applied_set = leaf_paths(applied);
        let mut conflicts = Vec::new();
        let mut stolen = Vec::new();
        for p in &applied_set {
            if get_path(current, p) == get_path(applied, p) {
                continue;
            }
            for e in &self.entries {
                if !Self::is_me(e, manager, Operation::Apply, sub)
                    && e.manager != manager
                    && e.fields.contains(p)
                {
                    conflicts.push(format!("conflict with \"{}\": {}", e.manager, dotted(p)));
                    stolen.push(p.clone());
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(conflicts);
        }
        for e in &mut self.entries {
            if e.manager != manager {
                e.fields.retain(|p| !stolen.contains(p));
            }
        }
        let mut result = current.clone();
        let previous = self
            .entries
            .iter()
            .find(|e| Self::is_me(e, manager, Operation::Apply, sub))
            .map(|e| e.fields.clone())
            .unwrap_or_default();
        for p in previous.difference(&applied_set) {
            let owned_elsewhere = self
                .entries
                .iter()
                .any(|e| !Self::is_me(e, manager, Operation::Apply, sub) && e.fields.contains(p));
            if !owned_elsewhere {
                remove_path(&mut result, p);
            }
        }
        merge_applied(&mut result, applied);
        self.entry_mut(manager, Operation::Apply, sub, time).fields = applied_set;
        self.entries.retain(|e| !e.fields.is_empty());
        Ok(result)
    }

    /// `metadata.managedFields` in FieldsV1 form.
    pub(crate) fn render(&self, api_version: &str) -> Value {
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                let mut root = Map::new();
                for p in &e.fields {
                    let mut cur = &mut root;
                    for t in pointer_tokens(p).unwrap_or_default() {
                        let slot = cur
                            .entry(format!("f:{t}"))
                            .or_insert_with(|| Value::Object(Map::new()));
                        match slot.as_object_mut() {
                            Some(m) => cur = m,
                            None => break,
                        }
                    }
                }
                let mut v = json!({
                    "manager": e.manager,
                    "operation": if e.operation == Operation::Apply { "Apply" } else { "Update" },
                    "apiVersion": api_version,
                    "time": e.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": Value::Object(root),
                });
                if !e.subresource.is_empty()
                    && let Some(m) = v.as_object_mut()
                {
                    m.insert("subresource".to_owned(), json!(e.subresource));
                }
                v
            })
            .collect();
        Value::Array(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "2026-01-01T00:00:00Z";

    #[test]
    fn leaves_skip_system_metadata() {
        let o = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"ports": [1], "e": {}}});
        let got: Vec<_> = leaf_paths(&o).into_iter().collect();
        assert_eq!(got, vec!["/metadata/labels/x", "/spec/e", "/spec/ports"]);
    }

    #[test]
    fn apply_conflicts_unless_forced() {
        let mut m = Managers::default();
        let cur = json!({"spec": {"a": 1}});
        let obj = m.apply("one", "", &json!({}), &cur, false, T);
        assert_eq!(obj, Ok(cur.clone()));
        let res = m.apply("two", "", &cur, &json!({"spec": {"a": 2}}), false, T);
        assert_eq!(res, Err(vec!["conflict with \"one\": .spec.a".to_owned()]));
        // Same value: shared ownership, no conflict.
        assert!(m.apply("two", "", &cur, &json!({"spec": {"a": 1}}), false, T).is_ok());
        let forced = m.apply("three", "", &cur, &json!({"spec": {"a": 3}}), true, T);
        assert_eq!(forced, Ok(json!({"spec": {"a": 3}})));
    }

    #[test]
    fn apply_removes_fields_no_longer_applied() {
        let mut m = Managers::default();
        let v1 = m.apply("me", "", &json!({}), &json!({"spec": {"a": 1, "b": 2}}), false, T);
        let v1 = v1.unwrap_or_default();
        let v2 = m.apply("me", "", &v1, &json!({"spec": {"a": 1}}), false, T);
        assert_eq!(v2, Ok(json!({"spec": {"a": 1}})));
    }

    #[test]
    fn update_takes_ownership() {
        let mut m = Managers::default();
        let v1 =
            m.apply("me", "", &json!({}), &json!({"spec": {"a": 1}}), false, T).unwrap_or_default();
        let v2 = json!({"spec": {"a": 5}});
        m.record_update("kubectl", "", &v1, &v2, T);
        // The applier no longer owns a: re-applying a different value conflicts with kubectl.
        let res = m.apply("other", "", &v2, &json!({"spec": {"a": 7}}), false, T);
        assert_eq!(res, Err(vec!["conflict with \"kubectl\": .spec.a".to_owned()]));
        let rendered = m.render("v1");
        assert_eq!(rendered[0]["fieldsV1"], json!({"f:spec": {"f:a": {}}}));
        assert_eq!(rendered[0]["operation"], "Update");
    }
}
