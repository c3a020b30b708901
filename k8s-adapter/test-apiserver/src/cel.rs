//! CEL `x-kubernetes-validations` of a CRD's schema, evaluated on every write of a custom
//! object (create, update, patch, apply), as the real API server does: each rule of a schema
//! node is evaluated with `self` bound to the object's value at that node, when the value is
//! present; a rule that is not true fails the write with 422 `Invalid`, the rule's
//! `message` (or `failed rule: RULE`) as the cause, at the node's path (`spec`).
//!
//! Evaluated with the `cel-interpreter` crate. Faithful: `properties` and `items` nesting,
//! `message`, `fieldPath` (appended to the node's path), absent values skipping their
//! rules. Not modelled: transition rules (those naming `oldSelf` are skipped),
//! `messageExpression`, `reason`, cost limits, and `additionalProperties` nodes. A rule
//! that does not compile or evaluate fails the write with the interpreter's error, so a
//! rule the real server would reject at CRD creation is seen in tests too.

use cel_interpreter::{Context, Program, Value as Cel};
use serde_json::Value;

use crate::errors::FieldError;

/// The causes of every rule of `schema` that `object` breaks; empty when it breaks none.
pub(crate) fn check(schema: &Value, object: &Value) -> Vec<FieldError> {
    let mut causes = Vec::new();
    walk(schema, object, "", &mut causes);
    causes
}

fn walk(schema: &Value, value: &Value, path: &str, causes: &mut Vec<FieldError>) {
    if value.is_null() {
        return;
    }
    for rule in schema["x-kubernetes-validations"].as_array().into_iter().flatten() {
        let Some(text) = rule["rule"].as_str() else { continue };
        if text.contains("oldSelf") {
            continue;
        }
        let failure = match evaluate(text, value) {
            Ok(true) => continue,
            Ok(false) => rule["message"]
                .as_str()
                .map_or_else(|| format!("failed rule: {text}"), str::to_owned),
            Err(error) => format!("rule {text:?} cannot be evaluated: {error}"),
        };
        let field = match rule["fieldPath"].as_str() {
            Some(extra) => format!("{path}{extra}"),
            None => path.trim_start_matches('.').to_owned(),
        };
        causes
            .push(FieldError { field: field.trim_start_matches('.').to_owned(), detail: failure });
    }
    if let (Some(properties), Some(fields)) = (schema["properties"].as_object(), value.as_object())
    {
        for (name, child) in properties {
            if let Some(inner) = fields.get(name) {
                walk(child, inner, &format!("{path}.{name}"), causes);
            }
        }
    }
    if let (true, Some(items)) = (schema["items"].is_object(), value.as_array()) {
        for (index, item) in items.iter().enumerate() {
            walk(&schema["items"], item, &format!("{path}[{index}]"), causes);
        }
    }
}

/// Whether `rule` holds with `self` bound to `value`.
fn evaluate(rule: &str, value: &Value) -> Result<bool, String> {
    let program = Program::compile(rule).map_err(|e| e.to_string())?;
    let mut context = Context::default();
    context.add_variable("self", value.clone()).map_err(|e| e.to_string())?;
    match program.execute(&context).map_err(|e| e.to_string())? {
        Cel::Bool(holds) => Ok(holds),
        other => Err(format!("evaluates to {other:?}, not a bool")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "properties": {"holdTime": {"type": "string"}, "myASN": {"type": "integer"},
                       "peerASN": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.myASN >= 1 && self.myASN <= 4294967295",
             "message": "spec.myASN: must be 1 to 4294967295"},
            {"rule": "!has(self.peerASN) || self.peerASN != self.myASN || true"},
            {"rule": "!has(self.holdTime) || duration(self.holdTime) == duration('0s') || duration(self.holdTime) >= duration('3s')",
             "message": "spec.holdTime: must be 0 or at least 3s"},
            {"rule": "self.oldSelf == self", "message": "transition rules are skipped"}
        ]}}})
    }

    #[test]
    fn rules_hold_or_fail_with_their_message_at_their_path() {
        let good =
            json!({"spec": {"myASN": 4_200_000_000_u64, "peerASN": 64501, "holdTime": "90s"}});
        assert_eq!(check(&schema(), &good), []);
        let bad = json!({"spec": {"myASN": 0, "holdTime": "2s"}});
        let causes = check(&schema(), &bad);
        let details: Vec<&str> = causes.iter().map(|c| c.detail.as_str()).collect();
        assert_eq!(
            details,
            ["spec.myASN: must be 1 to 4294967295", "spec.holdTime: must be 0 or at least 3s"]
        );
        assert!(causes.iter().all(|c| c.field == "spec"), "{causes:?}");
        // No spec: its rules are not evaluated.
        assert_eq!(check(&schema(), &json!({"metadata": {}})), []);
    }

    #[test]
    fn a_rule_that_cannot_run_fails_with_the_reason() {
        let schema = json!({"x-kubernetes-validations": [{"rule": "self.missing > 1"}]});
        let causes = check(&schema, &json!({}));
        assert_eq!(causes.len(), 1);
        assert!(causes[0].detail.contains("cannot be evaluated"), "{causes:?}");
    }
}
