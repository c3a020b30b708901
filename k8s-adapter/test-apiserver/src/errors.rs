//! API errors, rendered as the Kubernetes `Status` object the real API server returns.
//!
//! kube-rs turns a non-2xx response whose body is a `Status` into `kube::Error::Api` carrying the
//! code and reason, and controllers branch on those (409 → refetch, 404 → gone, 410 → relist), so
//! every error here names the reason string and the HTTP code the real server would use
//! (k8s.io/apimachinery `StatusReason` values).

use serde_json::{Value, json};

/// One field-level problem of a 422 `Invalid` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, as the API server writes it (`metadata.name`).
    pub field: String,
    /// What is wrong with it.
    pub detail: String,
}

/// An error the API server answers with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{plural} \"{name}\" not found")]
    NotFound { group: String, plural: String, name: String },
    #[error("{plural} \"{name}\" already exists")]
    AlreadyExists { group: String, plural: String, name: String },
    #[error(
        "Operation cannot be fulfilled on {plural} \"{name}\": the object has been modified; \
         please apply your changes to the latest version and try again"
    )]
    Conflict { group: String, plural: String, name: String },
    #[error("Operation cannot be fulfilled on {plural} \"{name}\": {detail}")]
    Precondition { group: String, plural: String, name: String, detail: String },
    #[error("Apply failed with {} conflict(s): {}", fields.len(), fields.join(", "))]
    ApplyConflict { group: String, plural: String, name: String, fields: Vec<String> },
    #[error("{kind} \"{name}\" is invalid: {}", render_causes(causes))]
    Invalid { group: String, kind: String, name: String, causes: Vec<FieldError> },
    #[error("{message}")]
    BadRequest { message: String },
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error("the server does not allow this method on the requested resource: {method}")]
    MethodNotAllowed { method: String },
    #[error(
        "the body of the request was in an unknown format - accepted media types include: {accepted} (got {content_type:?})"
    )]
    UnsupportedMediaType { content_type: String, accepted: String },
    #[error("the server could not find the requested resource: {path}")]
    UnknownPath { path: String },
    /// RBAC ([`crate::Rbac`]) does not allow the request.
    #[error(
        "{resource} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\"{}",
        namespace.as_ref().map(|n| format!(" in the namespace \"{n}\"")).unwrap_or_else(|| " at the cluster scope".to_owned())
    )]
    Forbidden {
        user: String,
        verb: String,
        group: String,
        resource: String,
        namespace: Option<String>,
    },
    /// A validating admission webhook refused the request ([`crate::admission`]); the code
    /// is the one its response's status gives (403 without one), as upstream.
    #[error("admission webhook \"{webhook}\" denied the request: {message}")]
    Denied { webhook: String, code: u16, message: String },
    /// A webhook with `failurePolicy: Fail` could not be called or answered nonsense.
    #[error("Internal error occurred: failed calling webhook \"{webhook}\": {detail}")]
    WebhookFailed { webhook: String, detail: String },
    /// A failure a test asked for through [`crate::Failure`].
    #[error("injected failure {code} on {plural}")]
    Injected { plural: String, code: u16 },
}

fn render_causes(causes: &[FieldError]) -> String {
    let parts: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.detail)).collect();
    parts.join(", ")
}

impl ApiError {
    /// HTTP status code of this error.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownPath { .. } => 404,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::Precondition { .. }
            | ApiError::ApplyConflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest { .. } => 400,
            ApiError::Gone { .. } => 410,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::Forbidden { .. } => 403,
            ApiError::Injected { code, .. } | ApiError::Denied { code, .. } => *code,
            ApiError::WebhookFailed { .. } => 500,
        }
    }

    /// The `reason` field (`metav1.StatusReason`).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownPath { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. }
            | ApiError::Precondition { .. }
            | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest { .. } => "BadRequest",
            ApiError::Gone { .. } => "Expired",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::Injected { code, .. } | ApiError::Denied { code, .. } => {
                reason_for_code(*code)
            }
            ApiError::WebhookFailed { .. } => "InternalError",
        }
    }

    /// The `Status` object, as the body of an error response or the object of a watch `ERROR`.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let details = match self {
            ApiError::NotFound { group, plural, name }
            | ApiError::AlreadyExists { group, plural, name }
            | ApiError::Conflict { group, plural, name }
            | ApiError::Precondition { group, plural, name, .. }
            | ApiError::ApplyConflict { group, plural, name, .. } => {
                Some(json!({ "name": name, "group": group, "kind": plural }))
            }
            ApiError::Invalid { group, kind, name, causes } => {
                let causes: Vec<Value> = causes
                    .iter()
                    .map(|c| {
                        json!({ "reason": "FieldValueInvalid", "message": c.detail, "field": c.field })
                    })
                    .collect();
                Some(json!({ "name": name, "group": group, "kind": kind, "causes": causes }))
            }
            _ => None,
        };
        if let (Some(details), Some(map)) = (details, status.as_object_mut()) {
            map.insert("details".to_owned(), details);
        }
        status
    }
}

/// The reason the real server gives alongside a code (for injected failures).
fn reason_for_code(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_renders_status_with_details() {
        let e = ApiError::NotFound {
            group: String::new(),
            plural: "services".into(),
            name: "a".into(),
        };
        let s = e.to_status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "services \"a\" not found");
        assert_eq!(s["details"]["kind"], "services");
    }

    #[test]
    fn gone_is_expired_410() {
        let e = ApiError::Gone { requested: 3, oldest: 9 };
        assert_eq!(e.code(), 410);
        assert_eq!(e.to_status()["reason"], "Expired");
        assert_eq!(e.to_string(), "too old resource version: 3 (9)");
    }

    #[test]
    fn injected_codes_map_to_reasons() {
        let e = ApiError::Injected { plural: "leases".into(), code: 503 };
        assert_eq!(e.reason(), "ServiceUnavailable");
        assert_eq!(e.to_status()["code"], 503);
    }
}
