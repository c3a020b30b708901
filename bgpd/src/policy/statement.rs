//! Compiled statements: conditions (split into those that read only the
//! attribute set and those that read the prefix) and actions.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

use super::as_path::{AsPathSet, render};
use super::community::{CommunitySet, LargeCommunitySet};
use super::prefix::{PrefixCursor, PrefixSet};
use super::{Context, NextHopAction, PathView};
use crate::wire::{Community, Family, LargeCommunity, Origin, PathAttributes};

/// LOCAL_PREF of a route that carries none, as the RIB assumes (RFC 4271 §5.1.5
/// leaves it to policy; 100 is what every implementation uses).
const DEFAULT_LOCAL_PREF: u32 = 100;

/// `eq N`, `le N`, `ge N`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    Eq(u32),
    Le(u32),
    Ge(u32),
}

impl Comparison {
    #[inline]
    pub fn holds(self, value: u32) -> bool {
        match self {
            Self::Eq(n) => value == n,
            Self::Le(n) => value <= n,
            Self::Ge(n) => value >= n,
        }
    }
}

/// A comparison that is not `eq N`, `le N` or `ge N`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not `eq N`, `le N` or `ge N`")]
pub struct ComparisonError(pub String);

impl FromStr for Comparison {
    type Err = ComparisonError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ComparisonError(text.to_string());
        let mut words = text.split_ascii_whitespace();
        let (Some(operator), Some(number), None) = (words.next(), words.next(), words.next())
        else {
            return Err(bad());
        };
        let number: u32 = number.parse().map_err(|_| bad())?;
        match operator {
            "eq" => Ok(Self::Eq(number)),
            "le" => Ok(Self::Le(number)),
            "ge" => Ok(Self::Ge(number)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Eq(n) => write!(f, "eq {n}"),
            Self::Le(n) => write!(f, "le {n}"),
            Self::Ge(n) => write!(f, "ge {n}"),
        }
    }
}

/// One condition. The first two read the prefix; the rest read only the
/// attribute set, the next hop and the context.
#[derive(Clone, Debug)]
pub enum Condition {
    PrefixSet {
        set: Arc<PrefixSet>,
        negate: bool,
    },
    Family(Family),
    CommunitySet {
        set: Arc<CommunitySet>,
        negate: bool,
    },
    LargeCommunitySet {
        set: Arc<LargeCommunitySet>,
        negate: bool,
    },
    AsPathSet {
        set: Arc<AsPathSet>,
        negate: bool,
    },
    AsPathLength(Comparison),
    Origin(Origin),
    /// The next hop (as a host route) is in the set; false without a next hop.
    NextHopSet {
        set: Arc<PrefixSet>,
        negate: bool,
    },
    /// MULTI_EXIT_DISC, 0 when absent.
    Med(Comparison),
    /// LOCAL_PREF, 100 when absent.
    LocalPref(Comparison),
    NeighborAsn(u32),
}

impl Condition {
    /// Whether the condition reads the prefix (and so cannot be cached with
    /// the attribute set).
    pub fn reads_prefix(&self) -> bool {
        matches!(self, Self::PrefixSet { .. } | Self::Family(_))
    }

    /// Evaluates a prefix condition.
    #[inline]
    pub(super) fn holds_for_prefix(&self, prefix: &IpNet, cursor: &mut PrefixCursor) -> bool {
        match self {
            Self::PrefixSet { set, negate } => set.matches_near(prefix, cursor) != *negate,
            Self::Family(family) => match prefix {
                IpNet::V4(_) => *family == Family::Ipv4Unicast,
                IpNet::V6(_) => *family == Family::Ipv6Unicast,
            },
            _ => true,
        }
    }

    /// Evaluates an attribute condition; `as_path_text` is rendered on first use.
    #[inline]
    pub(super) fn holds_for_attributes(
        &self,
        path: &PathView<'_>,
        ctx: &Context,
        as_path_text: &mut LazyText<'_>,
    ) -> bool {
        let attributes = path.attributes;
        match self {
            Self::PrefixSet { .. } | Self::Family(_) => true,
            Self::CommunitySet { set, negate } => {
                set.matches_any(&attributes.communities) != *negate
            }
            Self::LargeCommunitySet { set, negate } => {
                set.matches_any(&attributes.large_communities) != *negate
            }
            Self::AsPathSet { set, negate } => {
                set.matches_text(as_path_text.get(attributes)) != *negate
            }
            Self::AsPathLength(comparison) => {
                comparison.holds(attributes.as_path.path_length().try_into().unwrap_or(u32::MAX))
            }
            Self::Origin(origin) => attributes.origin == Some(*origin),
            Self::NextHopSet { set, negate } => match path.next_hop {
                Some(address) => set.matches_address(address) != *negate,
                None => false,
            },
            Self::Med(comparison) => comparison.holds(attributes.med.unwrap_or(0)),
            Self::LocalPref(comparison) => {
                comparison.holds(attributes.local_pref.unwrap_or(DEFAULT_LOCAL_PREF))
            }
            Self::NeighborAsn(asn) => ctx.neighbor_asn == *asn,
        }
    }
}

/// The AS path's text, rendered into a borrowed buffer on first use.
pub(super) struct LazyText<'b> {
    buffer: &'b mut String,
    rendered: bool,
}

impl<'b> LazyText<'b> {
    pub fn new(buffer: &'b mut String) -> Self {
        Self { buffer, rendered: false }
    }

    fn get(&mut self, attributes: &PathAttributes) -> &str {
        if !self.rendered {
            render(&attributes.as_path, self.buffer);
            self.rendered = true;
        }
        self.buffer
    }
}

/// `set.med`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MedAction {
    Set(u32),
    Add(u32),
    Subtract(u32),
}

impl MedAction {
    /// Parses `"N"`, `"+N"` or `"-N"`.
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(n) = text.strip_prefix('+') {
            n.parse().ok().map(Self::Add)
        } else if let Some(n) = text.strip_prefix('-') {
            n.parse().ok().map(Self::Subtract)
        } else {
            text.parse().ok().map(Self::Set)
        }
    }

    /// The new MED from the current one (absent counts as 0), saturating.
    pub fn apply(self, current: Option<u32>) -> u32 {
        let current = current.unwrap_or(0);
        match self {
            Self::Set(n) => n,
            Self::Add(n) => current.saturating_add(n),
            Self::Subtract(n) => current.saturating_sub(n),
        }
    }
}

/// What a statement sets. Each action leaves the attributes borrowed when it
/// would not change them, so an idempotent statement costs no allocation.
#[derive(Clone, Debug, Default)]
pub struct Actions {
    pub local_pref: Option<u32>,
    pub med: Option<MedAction>,
    pub as_path_prepend: u8,
    pub communities_add: Vec<Community>,
    /// Patterns to remove; `None` when nothing is removed.
    pub communities_remove: Option<CommunitySet>,
    pub large_communities_add: Vec<LargeCommunity>,
    pub large_communities_remove: Option<LargeCommunitySet>,
    pub next_hop: Option<NextHopAction>,
}

/// What the actions so far decided beside the attributes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Effects {
    pub next_hop: Option<NextHopAction>,
    pub local_pref_set: bool,
}

impl Actions {
    pub(super) fn apply<'a>(
        &self,
        attributes: &mut Cow<'a, PathAttributes>,
        effects: &mut Effects,
        ctx: &Context,
    ) {
        if let Some(local_pref) = self.local_pref {
            effects.local_pref_set = true;
            if attributes.local_pref != Some(local_pref) {
                attributes.to_mut().local_pref = Some(local_pref);
            }
        }
        if let Some(med) = self.med {
            let value = med.apply(attributes.med);
            if attributes.med != Some(value) {
                attributes.to_mut().med = Some(value);
            }
        }
        if self.as_path_prepend > 0 {
            let as_path = &mut attributes.to_mut().as_path;
            for _ in 0..self.as_path_prepend {
                as_path.prepend(ctx.local_asn);
            }
        }
        if let Some(remove) = &self.communities_remove
            && remove.matches_any(&attributes.communities)
        {
            attributes.to_mut().communities.retain(|c| !remove.contains(*c));
        }
        for community in &self.communities_add {
            if !attributes.communities.contains(community) {
                attributes.to_mut().communities.push(*community);
            }
        }
        if let Some(remove) = &self.large_communities_remove
            && remove.matches_any(&attributes.large_communities)
        {
            attributes.to_mut().large_communities.retain(|c| !remove.contains(c));
        }
        for community in &self.large_communities_add {
            if !attributes.large_communities.contains(community) {
                attributes.to_mut().large_communities.push(*community);
            }
        }
        if let Some(next_hop) = self.next_hop {
            effects.next_hop = Some(next_hop);
        }
    }
}

/// What a statement does after its actions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Disposition {
    Accept,
    Reject,
    /// Go on to the next statement (the default).
    Next,
}

impl Disposition {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "accept" => Some(Self::Accept),
            "reject" => Some(Self::Reject),
            "next" => Some(Self::Next),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        self != Self::Next
    }
}

/// A compiled statement.
#[derive(Clone, Debug)]
pub struct Statement {
    pub(super) attribute_conditions: Vec<Condition>,
    pub(super) prefix_conditions: Vec<Condition>,
    pub(super) actions: Actions,
    pub(super) disposition: Disposition,
}

impl Statement {
    pub fn new(conditions: Vec<Condition>, actions: Actions, disposition: Disposition) -> Self {
        let (prefix_conditions, attribute_conditions) =
            conditions.into_iter().partition(Condition::reads_prefix);
        Self { attribute_conditions, prefix_conditions, actions, disposition }
    }

    pub fn disposition(&self) -> Disposition {
        self.disposition
    }

    /// Whether the statement has conditions on the prefix.
    pub fn reads_prefix(&self) -> bool {
        !self.prefix_conditions.is_empty()
    }

    #[inline]
    pub(super) fn attributes_hold(
        &self,
        path: &PathView<'_>,
        ctx: &Context,
        text: &mut LazyText<'_>,
    ) -> bool {
        self.attribute_conditions.iter().all(|c| c.holds_for_attributes(path, ctx, text))
    }

    #[inline]
    pub(super) fn prefix_holds(&self, prefix: &IpNet, cursor: &mut PrefixCursor) -> bool {
        self.prefix_conditions.iter().all(|c| c.holds_for_prefix(prefix, cursor))
    }
}

/// Parses `set.next_hop`.
pub fn parse_next_hop(text: &str) -> Option<NextHopAction> {
    match text {
        "self" => Some(NextHopAction::SelfAddress),
        "unchanged" => Some(NextHopAction::Unchanged),
        _ => text.parse::<IpAddr>().ok().map(NextHopAction::Address),
    }
}

/// Parses `match.origin`.
pub fn parse_origin(text: &str) -> Option<Origin> {
    match text {
        "igp" => Some(Origin::Igp),
        "egp" => Some(Origin::Egp),
        "incomplete" => Some(Origin::Incomplete),
        _ => None,
    }
}

/// Parses `match.family`.
pub fn parse_family(text: &str) -> Option<Family> {
    match text {
        "ipv4-unicast" => Some(Family::Ipv4Unicast),
        "ipv6-unicast" => Some(Family::Ipv6Unicast),
        _ => None,
    }
}
