//! Kubernetes label selectors (`matchLabels` and `matchExpressions`), validated once when the
//! config is built so that matching a Service, a Namespace or a Node is a plain walk with no
//! error path.
//!
//! Semantics follow `metav1.LabelSelector`: every requirement must hold; an empty selector
//! matches everything. A *list* of selectors (MetalLB's `nodeSelectors`,
//! `ipAddressPoolSelectors`, ...) matches when it is empty or when any of them matches.

use std::collections::BTreeMap;

use thiserror::Error;

use super::crd;

/// Labels of a Kubernetes object, as k8s-openapi stores them.
pub type Labels = BTreeMap<String, String>;

/// Why a selector was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SelectorError {
    #[error("unknown operator {0:?} (expected In, NotIn, Exists or DoesNotExist)")]
    UnknownOperator(String),
    #[error("operator {operator} on key {key:?} needs at least one value")]
    MissingValues { key: String, operator: String },
    #[error("operator {operator} on key {key:?} takes no values")]
    UnexpectedValues { key: String, operator: String },
    #[error("empty label key")]
    EmptyKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A validated label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Vec<(String, String)>,
    requirements: Vec<Requirement>,
}

impl Selector {
    /// A selector with only `matchLabels`.
    pub fn from_labels<I, K, V>(labels: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            labels: labels.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            requirements: Vec::new(),
        }
    }

    /// Validates a selector as written in a CRD.
    pub fn from_crd(selector: &crd::LabelSelector) -> Result<Self, SelectorError> {
        let mut requirements = Vec::with_capacity(selector.match_expressions.len());
        for expr in &selector.match_expressions {
            if expr.key.is_empty() {
                return Err(SelectorError::EmptyKey);
            }
            let key = expr.key.clone();
            let values = expr.values.clone();
            let need_values = |values: Vec<String>| {
                if values.is_empty() {
                    Err(SelectorError::MissingValues {
                        key: expr.key.clone(),
                        operator: expr.operator.clone(),
                    })
                } else {
                    Ok(values)
                }
            };
            let no_values = || {
                if expr.values.is_empty() {
                    Ok(())
                } else {
                    Err(SelectorError::UnexpectedValues {
                        key: expr.key.clone(),
                        operator: expr.operator.clone(),
                    })
                }
            };
            requirements.push(match expr.operator.as_str() {
                "In" => Requirement::In(key, need_values(values)?),
                "NotIn" => Requirement::NotIn(key, need_values(values)?),
                "Exists" => {
                    no_values()?;
                    Requirement::Exists(key)
                }
                "DoesNotExist" => {
                    no_values()?;
                    Requirement::DoesNotExist(key)
                }
                other => return Err(SelectorError::UnknownOperator(other.to_owned())),
            });
        }
        Ok(Self {
            labels: selector.match_labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            requirements,
        })
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
            && self.requirements.iter().all(|r| match r {
                Requirement::In(k, vs) => labels.get(k).is_some_and(|have| vs.contains(have)),
                Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|have| !vs.contains(have)),
                Requirement::Exists(k) => labels.contains_key(k),
                Requirement::DoesNotExist(k) => !labels.contains_key(k),
            })
    }
}

/// MetalLB's rule for selector lists: empty selects everything, otherwise any one must match.
pub fn any_matches(selectors: &[Selector], labels: &Labels) -> bool {
    selectors.is_empty() || selectors.iter().any(|s| s.matches(labels))
}

/// Validates a list of CRD selectors; the error carries the index of the bad one.
pub fn from_crd_list(list: &[crd::LabelSelector]) -> Result<Vec<Selector>, (usize, SelectorError)> {
    list.iter().enumerate().map(|(i, s)| Selector::from_crd(s).map_err(|e| (i, e))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn expr(key: &str, operator: &str, values: &[&str]) -> crd::LabelSelectorRequirement {
        crd::LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn selector_semantics() {
        let sel = Selector::from_crd(&crd::LabelSelector {
            match_labels: [("zone".to_owned(), "a".to_owned())].into(),
            match_expressions: vec![
                expr("rack", "In", &["1", "2"]),
                expr("spot", "DoesNotExist", &[]),
                expr("tier", "NotIn", &["edge"]),
            ],
        })
        .unwrap();
        assert!(sel.matches(&labels(&[("zone", "a"), ("rack", "2")])));
        assert!(!sel.matches(&labels(&[("zone", "a"), ("rack", "3")])));
        assert!(!sel.matches(&labels(&[("zone", "a"), ("rack", "1"), ("spot", "")])));
        assert!(!sel.matches(&labels(&[("zone", "a"), ("rack", "1"), ("tier", "edge")])));
        assert!(!sel.matches(&labels(&[("rack", "1")])));
        assert!(Selector::default().matches(&Labels::new()));
        assert!(any_matches(&[], &Labels::new()));
        assert!(!any_matches(&[sel], &Labels::new()));
    }

    #[test]
    fn bad_selectors_are_refused() {
        let bad = |e| {
            Selector::from_crd(&crd::LabelSelector {
                match_expressions: vec![e],
                ..Default::default()
            })
        };
        assert_eq!(bad(expr("a", "Like", &[])), Err(SelectorError::UnknownOperator("Like".into())));
        assert!(matches!(bad(expr("a", "In", &[])), Err(SelectorError::MissingValues { .. })));
        assert!(matches!(
            bad(expr("a", "Exists", &["x"])),
            Err(SelectorError::UnexpectedValues { .. })
        ));
        assert_eq!(bad(expr("", "Exists", &[])), Err(SelectorError::EmptyKey));
    }
}
