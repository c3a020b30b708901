//! Object metadata the server owns: timestamps, uids, generated names, and the validation of
//! names and labels (apimachinery's `ValidateObjectMeta`, the parts controllers trip over).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::errors::FieldError;

/// Now, as RFC 3339 UTC with second precision (`metav1.Time`).
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    rfc3339(secs)
}

/// Formats seconds since the Unix epoch (days-to-civil per H. Hinnant's algorithm).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        (rem % 3_600) / 60,
        rem % 60
    )
}

/// A version-4-shaped uid made from a sequence number (unique per server, readable in tests).
pub(crate) fn uid(seq: u64) -> String {
    format!("00000000-0000-4000-8000-{:012x}", seq & 0xffff_ffff_ffff)
}

/// The five-character suffix `generateName` gets, from a sequence number.
pub(crate) fn name_suffix(seq: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(0x2545_f491_4f6c_dd1d);
    (0..5)
        .map(|_| {
            x ^= x >> 29;
            x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            char::from(ALPHABET[(x % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

/// RFC 1123 subdomain: what most object names must be.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// RFC 1123 label: namespace names.
pub(crate) fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && !s.contains('.') && is_dns_subdomain(s)
}

fn is_label_value(v: &str) -> bool {
    v.len() <= 63
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && v.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && v.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
}

fn is_qualified_name(k: &str) -> bool {
    let name = match k.rsplit_once('/') {
        Some((prefix, name)) if is_dns_subdomain(prefix) => name,
        Some(_) => return false,
        None => k,
    };
    !name.is_empty() && is_label_value(name)
}

/// Field errors of an object's metadata; `namespace_kind` is true for Namespace objects.
pub(crate) fn validate_meta(obj: &Value, namespace_kind: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or("");
    let ok = if namespace_kind { is_dns_label(name) } else { is_dns_subdomain(name) };
    if !ok {
        errs.push(FieldError {
            field: "metadata.name".to_owned(),
            detail: format!("Invalid value: {name:?}: a lowercase RFC 1123 name is required"),
        });
    }
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            if !is_qualified_name(k) {
                errs.push(FieldError { field: "metadata.labels".to_owned(), detail: format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.'") });
            }
            if !v.as_str().is_some_and(is_label_value) {
                errs.push(FieldError {
                    field: format!("metadata.labels.{k}"),
                    detail: format!("Invalid value: {v}: a valid label value is required"),
                });
            }
        }
    }
    if let Some(annotations) = meta.get("annotations").filter(|a| !a.is_null()) {
        let all_strings = annotations.as_object().is_some_and(|m| m.values().all(Value::is_string));
        if !all_strings {
            errs.push(FieldError {
                field: "metadata.annotations".to_owned(),
                detail: "annotation values must be strings".to_owned(),
            });
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_648_825), "2026-11-25T23:20:25Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn suffixes_are_valid_names() {
        for seq in 0..50 {
            let s = name_suffix(seq);
            assert_eq!(s.len(), 5);
            assert!(is_dns_label(&s), "{s}");
        }
        assert_ne!(name_suffix(1), name_suffix(2));
    }

    #[test]
    fn validates_names_and_labels() {
        assert!(validate_meta(&json!({"metadata": {"name": "web-1.x"}}), false).is_empty());
        assert_eq!(validate_meta(&json!({"metadata": {"name": "web-1.x"}}), true).len(), 1);
        assert_eq!(validate_meta(&json!({"metadata": {"name": "Web"}}), false).len(), 1);
        let bad = json!({"metadata": {"name": "a", "labels": {"ironlb.io/pool": "ok", "x": "bad value"}}});
        assert_eq!(validate_meta(&bad, false).len(), 1);
    }
}
