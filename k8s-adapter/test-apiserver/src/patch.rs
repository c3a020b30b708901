//! PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch (Kubernetes), JSON patch
//! (RFC 6902, with JSON pointers per RFC 6901).
//!
//! Strategic merge is merge patch plus list merging by key for the lists Kubernetes marks
//! `patchStrategy: merge` that controllers commonly patch (`conditions` by `type`; `containers`,
//! `initContainers`, `volumes`, `env` by `name`), the `$patch: delete` element directive in those
//! lists, and `$`-directives stripped; every other list is replaced, as with merge patch.

use serde_json::{Map, Value};

use crate::errors::ApiError;

/// RFC 7386 JSON merge patch, applied in place.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in patch {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// Merge key of a list field under strategic merge, for the fields this server knows.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "conditions" => Some("type"),
        "containers" | "initContainers" | "volumes" | "env" => Some("name"),
        _ => None,
    }
}

/// Kubernetes strategic merge patch, applied in place.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = patch.clone();
        p.remove("$patch");
        *target = Value::Object(p);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else { return };
    for (k, v) in patch {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        match (merge_key(k), v, t.get_mut(k)) {
            (Some(key), Value::Array(items), Some(Value::Array(cur))) => {
                merge_list(cur, items, key)
            }
            _ => strategic_merge_patch(t.entry(k.clone()).or_insert(Value::Null), v),
        }
    }
}

fn merge_list(cur: &mut Vec<Value>, items: &[Value], key: &str) {
    for item in items {
        let Some(id) = item.get(key).cloned() else {
            cur.push(item.clone());
            continue;
        };
        let pos = cur.iter().position(|c| c.get(key) == Some(&id));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                cur.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge_patch(&mut cur[i], item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge_patch(&mut fresh, item);
                cur.push(fresh);
            }
        }
    }
}

/// Splits an RFC 6901 pointer into unescaped tokens.
pub fn pointer_tokens(pointer: &str) -> Result<Vec<String>, ApiError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(ApiError::BadRequest { message: format!("invalid JSON pointer {pointer:?}") });
    };
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

/// Escapes one token for a JSON pointer.
pub fn escape_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

fn patch_failed(op: &Value, why: &str) -> ApiError {
    ApiError::Invalid {
        group: String::new(),
        kind: "JSONPatch".to_owned(),
        name: String::new(),
        causes: vec![crate::errors::FieldError {
            field: op["path"].as_str().unwrap_or("").to_owned(),
            detail: why.to_owned(),
        }],
    }
}

/// Resolves the parent container of `tokens` and the last token.
fn parent_mut<'a>(doc: &'a mut Value, tokens: &'a [String]) -> Option<(&'a mut Value, &'a str)> {
    let (last, head) = tokens.split_last()?;
    let mut cur = doc;
    for t in head {
        cur = match cur {
            Value::Object(m) => m.get_mut(t)?,
            Value::Array(a) => a.get_mut(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some((cur, last.as_str()))
}

fn remove_at(doc: &mut Value, tokens: &[String]) -> Option<Value> {
    let (parent, last) = parent_mut(doc, tokens)?;
    match parent {
        Value::Object(m) => m.remove(last),
        Value::Array(a) => {
            let i = last.parse::<usize>().ok().filter(|i| *i < a.len())?;
            Some(a.remove(i))
        }
        _ => None,
    }
}

fn add_at(doc: &mut Value, tokens: &[String], v: Value) -> Option<()> {
    if tokens.is_empty() {
        *doc = v;
        return Some(());
    }
    let (parent, last) = parent_mut(doc, tokens)?;
    match parent {
        Value::Object(m) => {
            m.insert(last.to_owned(), v);
        }
        Value::Array(a) if last == "-" => a.push(v),
        Value::Array(a) => {
            let i = last.parse::<usize>().ok().filter(|i| *i <= a.len())?;
            a.insert(i, v);
        }
        _ => return None,
    }
    Some(())
}

fn get_at<'a>(doc: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get(t)?,
            Value::Array(a) => a.get(t.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// RFC 6902 JSON patch; all-or-nothing (the document is untouched on error).
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let Some(ops) = ops.as_array() else {
        return Err(ApiError::BadRequest {
            message: "JSON patch must be an array of operations".to_owned(),
        });
    };
    let mut work = doc.clone();
    for op in ops {
        let path = pointer_tokens(op["path"].as_str().unwrap_or(""))?;
        let value = || op.get("value").cloned().ok_or_else(|| patch_failed(op, "missing value"));
        let from = || pointer_tokens(op["from"].as_str().unwrap_or(""));
        match op["op"].as_str() {
            Some("add") => add_at(&mut work, &path, value()?)
                .ok_or_else(|| patch_failed(op, "path not found"))?,
            Some("remove") => {
                remove_at(&mut work, &path).ok_or_else(|| patch_failed(op, "path not found"))?;
            }
            Some("replace") => {
                let v = value()?;
                let slot = parent_mut(&mut work, &path).and_then(|(p, last)| match p {
                    Value::Object(m) => m.get_mut(last),
                    Value::Array(a) => a.get_mut(last.parse::<usize>().ok()?),
                    _ => None,
                });
                match (slot, path.is_empty()) {
                    (_, true) => work = v,
                    (Some(slot), false) => *slot = v,
                    (None, false) => return Err(patch_failed(op, "path not found")),
                }
            }
            Some("move") => {
                let v = remove_at(&mut work, &from()?)
                    .ok_or_else(|| patch_failed(op, "from not found"))?;
                add_at(&mut work, &path, v).ok_or_else(|| patch_failed(op, "path not found"))?;
            }
            Some("copy") => {
                let v = get_at(&work, &from()?)
                    .cloned()
                    .ok_or_else(|| patch_failed(op, "from not found"))?;
                add_at(&mut work, &path, v).ok_or_else(|| patch_failed(op, "path not found"))?;
            }
            Some("test") => {
                if get_at(&work, &path) != Some(&value()?) {
                    return Err(patch_failed(op, "test failed"));
                }
            }
            other => {
                return Err(ApiError::BadRequest {
                    message: format!("unknown JSON patch op {other:?}"),
                });
            }
        }
    }
    *doc = work;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}, "l": [3]}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}, "l": [3]}));
    }

    #[test]
    fn strategic_merges_conditions_by_type() {
        let mut t = json!({"status": {"conditions": [{"type": "A", "status": "True"}, {"type": "B", "status": "False"}]}});
        let p = json!({"status": {"conditions": [{"type": "B", "status": "True"}, {"type": "C", "status": "True"}]}});
        strategic_merge_patch(&mut t, &p);
        let types: Vec<_> = t["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["status"].clone())
            .collect();
        assert_eq!(types, vec![json!("True"), json!("True"), json!("True")]);
        strategic_merge_patch(
            &mut t,
            &json!({"status": {"conditions": [{"type": "A", "$patch": "delete"}]}}),
        );
        assert_eq!(t["status"]["conditions"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn strategic_replaces_unkeyed_lists() {
        let mut t = json!({"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}});
        strategic_merge_patch(
            &mut t,
            &json!({"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}]}}}),
        );
        assert_eq!(t["status"]["loadBalancer"]["ingress"], json!([{"ip": "192.0.2.2"}]));
    }

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"metadata": {"labels": {"a/b": "x"}}, "l": [1, 2]});
        let ops = json!([
            {"op": "add", "path": "/l/-", "value": 3},
            {"op": "replace", "path": "/metadata/labels/a~1b", "value": "y"},
            {"op": "test", "path": "/l/0", "value": 1},
            {"op": "copy", "from": "/l/0", "path": "/first"},
            {"op": "move", "from": "/first", "path": "/moved"},
            {"op": "remove", "path": "/l/1"}
        ]);
        assert_eq!(json_patch(&mut d, &ops), Ok(()));
        assert_eq!(d, json!({"metadata": {"labels": {"a/b": "y"}}, "l": [1, 3], "moved": 1}));
    }

    #[test]
    fn failed_json_patch_leaves_document() {
        let mut d = json!({"a": 1});
        let ops = json!([{"op": "replace", "path": "/a", "value": 2}, {"op": "test", "path": "/a", "value": 5}]);
        assert_eq!(json_patch(&mut d, &ops).map_err(|e| e.code()), Err(422));
        assert_eq!(d, json!({"a": 1}));
        assert_eq!(json_patch(&mut d, &json!({})).map_err(|e| e.code()), Err(400));
    }
}
