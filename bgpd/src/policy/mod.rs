//! Routing policy: named sets, policies of statements, and chains of policies
//! evaluated on import and export (issue #12). A pure library: it knows the
//! wire's attribute types and nothing of sessions, the RIB or the API.
//!
//! The language takes what GoBGP's policies, FRR's route-maps and BIRD's
//! filters share: named prefix sets with `ge`/`le` ranges, community and large
//! community sets with wildcards (RFC 1997, RFC 8092), AS-path regular
//! expressions with FRR's `_`, and statements of conditions, actions and a
//! disposition.
//!
//! # Chain semantics
//!
//! A neighbor's import or export policy is a chain of named policies. Within a
//! policy, statements are tried in order. A statement matches when every
//! condition it gives holds; its actions are then applied and its `action`
//! taken: `accept` or `reject` decides for the whole chain at once, `next`
//! (the default when `action` is absent) goes on with the following statement,
//! keeping the changes made. When no statement of a policy decides, the
//! policy's `default` applies: `accept` or `reject` decides, `next` (the
//! default when absent) passes the route, with its changes, to the next policy.
//! **The first statement or policy default that says `accept` or `reject`
//! decides**; a route that falls off the end of the chain is rejected (RFC
//! 8212's safe side; end a chain with `accept-all` to accept the rest). This is
//! GoBGP's model (statements with route dispositions, actions accumulating
//! across `next`) with a per-policy default instead of one per direction.
//! Built-in policies: `accept-all` and `reject-all` (no statements, default
//! accept / reject).
//!
//! Conditions always test the route as it entered the chain, not the changes
//! of earlier statements (unlike BIRD's filters): the attribute-set part of
//! the chain is then a function of the attribute set alone and can be cached.
//!
//! # Evaluation and caching
//!
//! Attribute sets are interned by the RIB and shared by many prefixes, so the
//! chain is split at compile time: each statement's conditions are divided
//! into prefix conditions (`match.prefix_set`, `match.family`) and attribute
//! conditions (everything else, including the next hop, which is part of the
//! interning key). The API has two forms:
//!
//! - [`CompiledChain::evaluate`]`(prefix, path, ctx) -> Verdict`: one pass.
//! - The split form for the RIB's cache:
//!   1. [`CompiledChain::prepare`]`(path, ctx) -> Prepared`, once per
//!      attribute set: which statements' attribute conditions hold. Cache it
//!      with the attribute set. If [`Prepared::is_prefix_independent`], one
//!      verdict serves every prefix of that set.
//!   2. [`CompiledChain::select`]`(&prepared, prefix) -> Selection`, per
//!      prefix: only the trie lookups of the prefix conditions, no allocation.
//!   3. [`CompiledChain::outcome`]`(&selection, path, ctx) -> Verdict`, once
//!      per distinct `(attribute set, Selection)`: applies the actions. Cache
//!      it (as the interned result) under that pair.
//!
//! Neither form allocates when nothing is modified: an unchanged route comes
//! back as `Cow::Borrowed`. When actions change the attributes the verdict
//! holds an owned [`PathAttributes`] for the caller to intern. The next hop is
//! not rewritten here, since `self` depends on the session: the verdict
//! carries a [`NextHopAction`] for the caller to apply.
//!
//! # Definitions
//!
//! [`PolicyDefinitions`] mirrors the TOML tables (`[[prefix_sets]]`,
//! `[[community_sets]]`, `[[large_community_sets]]`, `[[as_path_sets]]`,
//! `[[policies]]`); [`PolicyBook::build`] compiles them, reporting every error
//! with its table, index, statement, field and value; [`PolicyBook::chain`]
//! makes the [`CompiledChain`] for a list of policy names.

mod as_path;
mod book;
mod chain;
mod community;
mod definition;
mod error;
mod prefix;
mod statement;

#[cfg(test)]
mod book_tests;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::net::IpAddr;

pub use as_path::{AsPathPatternError, AsPathSet, compile_pattern, render, with_rendered};
pub use book::{ACCEPT_ALL, PolicyBook, REJECT_ALL};
pub use chain::{CompiledChain, Policy, PolicyDefault, Prepared, Selection, StatementSet};
pub use community::{
    CommunityPattern, CommunityPatternError, CommunitySet, LargeCommunityPattern,
    LargeCommunitySet, WELL_KNOWN, well_known,
};
pub use definition::{
    AsPathSetDefinition, CommunitySetDefinition, LargeCommunitySetDefinition, MatchDefinition,
    MedDefinition, PolicyDefinition, PolicyDefinitions, PrefixSetDefinition, SetDefinition,
    StatementDefinition,
};
pub use error::{DefinitionError, DefinitionErrorKind, SetKind, Table, UnknownPolicy};
pub use prefix::{
    CURSOR_SETS, PrefixCursor, PrefixEntry, PrefixEntryError, PrefixEntryErrorKind, PrefixSet,
    SELECTIONS,
};
pub use statement::{
    Actions, Comparison, ComparisonError, Condition, Disposition, MedAction, Statement,
};

use crate::wire::{Community, PathAttributes};

/// What the evaluation needs to know about the session the chain runs for.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Context {
    /// The AS `set.as_path_prepend` prepends: the neighbor's `local_asn` when
    /// it has one, else ours.
    pub local_asn: u32,
    /// The neighbor's AS (`match.neighbor_asn`): the sender on import, the
    /// receiver on export.
    pub neighbor_asn: u32,
}

/// The route's attributes as conditions see them: the attribute set and the
/// next hop (for IPv6 the one of MP_REACH_NLRI, so it is passed beside the
/// attributes; the RIB interns the two together).
#[derive(Copy, Clone, Debug)]
pub struct PathView<'a> {
    pub attributes: &'a PathAttributes,
    pub next_hop: Option<IpAddr>,
}

impl<'a> PathView<'a> {
    pub fn new(attributes: &'a PathAttributes, next_hop: Option<IpAddr>) -> Self {
        Self { attributes, next_hop }
    }
}

/// An attribute set alone: the next hop is its NEXT_HOP attribute (IPv4).
impl<'a> From<&'a PathAttributes> for PathView<'a> {
    fn from(attributes: &'a PathAttributes) -> Self {
        Self { attributes, next_hop: attributes.next_hop.map(IpAddr::V4) }
    }
}

/// `set.next_hop`, for the caller to apply (what `self` means depends on the session).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum NextHopAction {
    /// Our address on the session.
    SelfAddress,
    /// Keep the next hop as learned, even towards an eBGP neighbor.
    Unchanged,
    Address(IpAddr),
}

/// The result of a chain for one route.
// Short-lived and returned by value: boxing the accepted side would cost an
// allocation per modified route for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    Accept(Accepted<'a>),
    Reject,
}

impl<'a> Verdict<'a> {
    pub fn is_accept(&self) -> bool {
        matches!(self, Self::Accept(_))
    }

    pub fn accepted(self) -> Option<Accepted<'a>> {
        match self {
            Self::Accept(accepted) => Some(accepted),
            Self::Reject => None,
        }
    }
}

/// An accepted route: its attributes (borrowed when unchanged) and what the
/// caller still has to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted<'a> {
    pub attributes: Cow<'a, PathAttributes>,
    /// `None`: the session's usual next-hop rules apply.
    pub next_hop: Option<NextHopAction>,
    /// Whether a statement set LOCAL_PREF (graceful shutdown then leaves it alone).
    pub local_pref_set: bool,
}

impl Accepted<'_> {
    /// Whether the policy changed anything (attributes or next hop).
    pub fn is_modified(&self) -> bool {
        matches!(self.attributes, Cow::Owned(_)) || self.next_hop.is_some()
    }

    /// Applies [`graceful_shutdown`] to this result.
    pub fn apply_graceful_shutdown(&mut self) {
        graceful_shutdown(&mut self.attributes, self.local_pref_set);
    }
}

/// LOCAL_PREF given to a route carrying GRACEFUL_SHUTDOWN (RFC 8326 §4.1: "the
/// lowest possible value", 0).
pub const GRACEFUL_SHUTDOWN_LOCAL_PREF: u32 = 0;

/// RFC 8326 on receipt: a route carrying the GRACEFUL_SHUTDOWN community gets
/// LOCAL_PREF 0, so that any other path wins while the sender drains, unless
/// the import policy set LOCAL_PREF itself (`local_pref_set`). The import path
/// calls this after the import chain (and after it removed any LOCAL_PREF an
/// eBGP neighbor sent); returns whether it changed the attributes.
pub fn graceful_shutdown(attributes: &mut Cow<'_, PathAttributes>, local_pref_set: bool) -> bool {
    if local_pref_set
        || !attributes.communities.contains(&Community::GRACEFUL_SHUTDOWN)
        || attributes.local_pref == Some(GRACEFUL_SHUTDOWN_LOCAL_PREF)
    {
        return false;
    }
    attributes.to_mut().local_pref = Some(GRACEFUL_SHUTDOWN_LOCAL_PREF);
    true
}
