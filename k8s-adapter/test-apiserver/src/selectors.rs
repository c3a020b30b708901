//! Label and field selectors of list and watch requests.
//!
//! Label selector syntax is apimachinery's `labels.Parse`: comma-separated requirements
//! `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`. `!=` and `notin` also match
//! objects without the label, as upstream. Field selectors support `=`, `==` and `!=` on any
//! dotted path of the object (the real server allows only a per-type set of fields; being lenient
//! here never makes a controller's request fail that would work on a cluster).

use serde_json::Value;

use crate::errors::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelOp {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<(String, LabelOp)>,
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn bad(selector: &str, why: &str) -> ApiError {
    ApiError::BadRequest { message: format!("unable to parse requirement {selector:?}: {why}") }
}

fn valid_key(k: &str) -> bool {
    let name = match k.rsplit_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() || prefix.len() > 253 {
                return false;
            }
            name
        }
        None => k,
    };
    valid_value(name) && !name.is_empty()
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && v.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && v.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

impl LabelSelector {
    /// Parses the `labelSelector` query value.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (key, op) = if let Some(k) = part.strip_prefix('!') {
                (k.trim(), LabelOp::NotExists)
            } else if let Some(open) = part.find('(') {
                let close = part
                    .rfind(')')
                    .filter(|c| *c > open)
                    .ok_or_else(|| bad(part, "missing ')'"))?;
                let head = part[..open].trim();
                let values: Vec<String> = part[open + 1..close]
                    .split(',')
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect();
                if let Some(k) = head.strip_suffix(" notin") {
                    (k.trim(), LabelOp::NotIn(values))
                } else if let Some(k) = head.strip_suffix(" in") {
                    (k.trim(), LabelOp::In(values))
                } else {
                    return Err(bad(part, "expected 'in' or 'notin'"));
                }
            } else if let Some((k, v)) = part.split_once("!=") {
                (k.trim(), LabelOp::NotEq(v.trim().to_owned()))
            } else if let Some((k, v)) = part.split_once("==") {
                (k.trim(), LabelOp::Eq(v.trim().to_owned()))
            } else if let Some((k, v)) = part.split_once('=') {
                (k.trim(), LabelOp::Eq(v.trim().to_owned()))
            } else {
                (part, LabelOp::Exists)
            };
            if !valid_key(key) {
                return Err(bad(part, "invalid label key"));
            }
            let values_ok = match &op {
                LabelOp::Eq(v) | LabelOp::NotEq(v) => valid_value(v),
                LabelOp::In(vs) | LabelOp::NotIn(vs) => vs.iter().all(|v| valid_value(v)),
                LabelOp::Exists | LabelOp::NotExists => true,
            };
            if !values_ok {
                return Err(bad(part, "invalid label value"));
            }
            reqs.push((key.to_owned(), op));
        }
        Ok(LabelSelector { reqs })
    }

    /// Whether the object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        self.reqs.iter().all(|(k, op)| {
            let v = labels.get(k).and_then(Value::as_str);
            match op {
                LabelOp::Eq(want) => v == Some(want.as_str()),
                LabelOp::NotEq(want) => v != Some(want.as_str()),
                LabelOp::In(set) => v.is_some_and(|v| set.iter().any(|s| s == v)),
                LabelOp::NotIn(set) => v.is_none_or(|v| !set.iter().any(|s| s == v)),
                LabelOp::Exists => v.is_some(),
                LabelOp::NotExists => v.is_none(),
            }
        })
    }
}

/// A parsed field selector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    reqs: Vec<(Vec<String>, bool, String)>,
}

impl FieldSelector {
    /// Parses the `fieldSelector` query value.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, eq, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::BadRequest {
                    message: format!("invalid field selector {part:?}"),
                });
            };
            let path: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
            if path.iter().any(String::is_empty) {
                return Err(ApiError::BadRequest {
                    message: format!("invalid field selector {part:?}"),
                });
            }
            reqs.push((path, eq, value.trim().to_owned()));
        }
        Ok(FieldSelector { reqs })
    }

    /// Whether the object satisfies every requirement; a missing field compares as "".
    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(path, eq, want)| {
            let mut cur = obj;
            for seg in path {
                cur = &cur[seg.as_str()];
            }
            let got = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (got == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn label_operators() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (db, web)", true),
            ("app notin (db,web)", false),
            ("missing notin (x)", true),
            ("missing in (x)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("", true),
        ];
        for (sel, want) in cases {
            assert_eq!(LabelSelector::parse(sel).map(|s| s.matches(&o)), Ok(want), "{sel}");
        }
    }

    #[test]
    fn object_without_labels() {
        let o = json!({"metadata": {"name": "a"}});
        assert!(LabelSelector::parse("!app").is_ok_and(|s| s.matches(&o)));
        assert!(LabelSelector::parse("app").is_ok_and(|s| !s.matches(&o)));
    }

    #[test]
    fn bad_label_selectors_are_400() {
        for sel in ["app in (a", "app foo (a)", "=x", "a=b c", "app=-x"] {
            let err = LabelSelector::parse(sel).err();
            assert_eq!(err.map(|e| e.code()), Some(400), "{sel}");
        }
    }

    #[test]
    fn field_selectors() {
        let o = obj(json!({}));
        let m = |s: &str| FieldSelector::parse(s).map(|f| f.matches(&o));
        assert_eq!(m("metadata.name=a"), Ok(true));
        assert_eq!(m("metadata.name!=a"), Ok(false));
        assert_eq!(m("metadata.namespace==ns,metadata.name=a"), Ok(true));
        assert_eq!(m("metadata.namespace=other"), Ok(false));
        assert_eq!(m("spec.nodeName="), Ok(true));
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
