//! Errors of building a [`super::PolicyBook`] from definitions: each names
//! where it is (table, index in the table, item name, statement, field, index
//! in a list field) and what is wrong, with the offending value, so that the
//! config module can map it to a line and column of the file.

use std::fmt;

use super::as_path::AsPathPatternError;
use super::community::CommunityPatternError;
use super::prefix::PrefixEntryError;

/// The table a definition comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    PrefixSets,
    CommunitySets,
    LargeCommunitySets,
    AsPathSets,
    Policies,
}

impl Table {
    /// The TOML key of the table.
    pub fn key(self) -> &'static str {
        match self {
            Self::PrefixSets => "prefix_sets",
            Self::CommunitySets => "community_sets",
            Self::LargeCommunitySets => "large_community_sets",
            Self::AsPathSets => "as_path_sets",
            Self::Policies => "policies",
        }
    }
}

/// The kind of a named set, for unknown-name errors.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SetKind {
    Prefix,
    Community,
    LargeCommunity,
    AsPath,
}

impl fmt::Display for SetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Prefix => "prefix set",
            Self::Community => "community set",
            Self::LargeCommunity => "large community set",
            Self::AsPath => "AS-path set",
        })
    }
}

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionErrorKind {
    #[error(transparent)]
    Prefix(#[from] PrefixEntryError),
    #[error(transparent)]
    Community(#[from] CommunityPatternError),
    #[error(transparent)]
    AsPathPattern(#[from] AsPathPatternError),
    #[error("unknown {kind} {name:?}")]
    UnknownSet { kind: SetKind, name: String },
    #[error("the name {name:?} is already used by {table}[{first}]", table = .table.key())]
    DuplicateName { name: String, table: Table, first: usize },
    #[error("the name {name:?} is reserved for a built-in policy")]
    ReservedName { name: String },
    #[error("the name is empty")]
    EmptyName,
    #[error("{value:?} is not {expected}")]
    BadValue { value: String, expected: &'static str },
}

/// One error of a definition, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinitionError {
    pub table: Table,
    /// Index of the definition in its table (the n-th `[[policies]]`).
    pub position: usize,
    /// The definition's `name`, as written.
    pub name: String,
    /// Index of the statement, for policies.
    pub statement: Option<usize>,
    /// The key: `name`, `prefixes`, `default`, `action`, `match.prefix_set`, `set.med`, ...
    pub field: &'static str,
    /// Index within a list-valued field.
    pub index: Option<usize>,
    pub kind: DefinitionErrorKind,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}] {:?}", self.table.key(), self.position, self.name)?;
        if let Some(statement) = self.statement {
            write!(f, " statements[{statement}]")?;
        }
        write!(f, " {}", self.field)?;
        if let Some(index) = self.index {
            write!(f, "[{index}]")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DefinitionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// A chain names a policy the book does not have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy {name:?} (position {index} of the chain)")]
pub struct UnknownPolicy {
    pub name: String,
    pub index: usize,
}
