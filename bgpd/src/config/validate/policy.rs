//! Validation of the policy tables (`[[prefix_sets]]`, `[[community_sets]]`,
//! `[[large_community_sets]]`, `[[as_path_sets]]`, `[[policies]]`) and of the
//! neighbors' `import_policy` / `export_policy` chains. A submodule of
//! `validate`, sharing its `Validator`.
//!
//! The tables are read by serde into `crate::policy`'s plain definitions and
//! compiled by [`PolicyBook::build`], which reports every problem by table,
//! index, statement, field and list index. Only then, and only when there is
//! a problem, the text is parsed again as a spanned document to find the
//! value's line and column, so a valid configuration pays nothing for it.

use std::collections::HashSet;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::super::error::{ConfigError, Problem};
use super::super::model::Policies;
use super::super::raw::{Key, RawConfig, StringList};
use super::Validator;
use crate::policy::{ACCEPT_ALL, DefinitionError, PolicyBook, PolicyDefinitions, REJECT_ALL};

/// The names of a chain key, as written (empty when absent).
pub(super) fn names(raw: &Key<StringList>) -> Vec<String> {
    raw.as_ref().map_or_else(Vec::new, |list| {
        list.get_ref().iter().map(|name| name.get_ref().clone()).collect()
    })
}

impl Validator<'_> {
    /// Builds the policy book, recording every definition error and every
    /// unknown policy a neighbor names, each at its value.
    pub(super) fn policies(&mut self, raw: &RawConfig) -> Option<Policies> {
        let definitions = PolicyDefinitions {
            prefix_sets: raw.prefix_sets.clone(),
            community_sets: raw.community_sets.clone(),
            large_community_sets: raw.large_community_sets.clone(),
            as_path_sets: raw.as_path_sets.clone(),
            policies: raw.policies.clone(),
        };
        let book = match PolicyBook::build(&definitions) {
            Ok(book) => Some(book),
            Err(errors) => {
                self.definition_errors(&errors);
                None
            }
        };
        // Names are checked against the definitions even when the book did not
        // build, so one run shows both kinds of mistakes.
        let mut known: HashSet<&str> = raw.policies.iter().map(|p| p.name.as_str()).collect();
        known.extend([ACCEPT_ALL, REJECT_ALL]);
        for (index, neighbor) in raw.neighbors.iter().enumerate() {
            let n = neighbor.get_ref();
            for (field, list) in
                [("import_policy", &n.import_policy), ("export_policy", &n.export_policy)]
            {
                let Some(list) = list else { continue };
                for (i, name) in list.get_ref().iter().enumerate() {
                    if !known.contains(name.get_ref().as_str()) {
                        let key = format!("neighbors[{index}].{field}[{i}]");
                        let value = format!("{:?}", name.get_ref());
                        self.invalid(name.span(), key, value, Problem::UnknownPolicy);
                    }
                }
            }
        }
        book.map(|book| Policies(Arc::new(book)))
    }

    fn definition_errors(&mut self, errors: &[DefinitionError]) {
        let document = DeTable::parse(self.locator.text()).ok();
        for error in errors {
            let mut key = format!("{}[{}]", error.table.key(), error.position);
            let mut path: Vec<Segment<'_>> =
                vec![Segment::Key(error.table.key()), Segment::Index(error.position)];
            if let Some(statement) = error.statement {
                key.push_str(&format!(".statements[{statement}]"));
                path.extend([Segment::Key("statements"), Segment::Index(statement)]);
            }
            key.push('.');
            key.push_str(error.field);
            path.extend(error.field.split('.').map(Segment::Key));
            if let Some(index) = error.index {
                key.push_str(&format!("[{index}]"));
                path.push(Segment::Index(index));
            }
            let (offset, value) = match &document {
                Some(document) => locate(document, &path),
                None => (0, None),
            };
            let location = self.locator.locate(offset);
            let value = value.unwrap_or_else(|| format!("{:?}", error.name));
            let problem = Problem::Policy(error.kind.clone());
            self.errors.push(ConfigError::Invalid { location, key, value, problem });
        }
    }
}

#[derive(Copy, Clone, Debug)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// The start of the deepest value of `path` present in `document`, and that
/// value rendered when the whole path was found.
fn locate(document: &Spanned<DeTable<'_>>, path: &[Segment<'_>]) -> (usize, Option<String>) {
    let mut offset = document.span().start;
    let Some((Segment::Key(first), rest)) = path.split_first() else { return (offset, None) };
    let Some(mut value) = document.get_ref().get(*first) else { return (offset, None) };
    for segment in rest {
        offset = value.span().start;
        let next = match segment {
            Segment::Key(key) => value.get_ref().get(*key),
            Segment::Index(index) => value.get_ref().get(*index),
        };
        match next {
            Some(next) => value = next,
            None => return (offset, None),
        }
    }
    (value.span().start, Some(render(value.get_ref())))
}

fn render(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(text) => format!("{:?}", text.as_ref()),
        DeValue::Integer(integer) => integer.as_str().to_string(),
        DeValue::Boolean(flag) => flag.to_string(),
        DeValue::Float(float) => float.as_str().to_string(),
        DeValue::Datetime(datetime) => datetime.to_string(),
        DeValue::Array(_) => "[...]".to_string(),
        DeValue::Table(_) => "{...}".to_string(),
    }
}
