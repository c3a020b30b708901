//! Policies and chains of policies, and their evaluation: in one call
//! ([`CompiledChain::evaluate`]) or split into a per-attribute-set step and a
//! per-prefix step ([`CompiledChain::prepare`], [`CompiledChain::select`],
//! [`CompiledChain::outcome`]) for the RIB's cache.
//!
//! # Semantics (see also the module docs of [`super`])
//!
//! Statements run in order. A statement matches when all its conditions hold;
//! then its actions are applied and its disposition taken: `accept` or
//! `reject` ends the whole chain, `next` goes on. When a policy's statements
//! are exhausted its `default` applies: `accept`/`reject` end the chain,
//! `next` (or no default) goes on to the next policy. Past the last policy the
//! route is rejected. Conditions always test the route as it entered the chain,
//! never the changes of earlier statements; that is what lets the
//! attribute-set part be computed once and cached.

use std::borrow::Cow;
use std::sync::Arc;

use ipnet::IpNet;

use super::as_path::with_buffer;
use super::prefix::{PrefixCursor, SELECTIONS, key};
use super::statement::{Condition, Effects, LazyText, Statement};
use super::{Accepted, Context, PathView, Verdict};
use crate::wire::PathAttributes;

/// How a policy ends when no statement decides.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PolicyDefault {
    Accept,
    Reject,
    /// Go on to the next policy of the chain.
    Next,
}

/// A compiled policy.
#[derive(Clone, Debug)]
pub struct Policy {
    name: String,
    statements: Vec<Statement>,
    default: PolicyDefault,
}

impl Policy {
    pub fn new(
        name: impl Into<String>,
        statements: Vec<Statement>,
        default: PolicyDefault,
    ) -> Self {
        Self { name: name.into(), statements, default }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    pub fn default(&self) -> PolicyDefault {
        self.default
    }
}

/// A set of statement indices of a chain (bit i = the i-th statement counted
/// over all policies). Inline up to 64 statements, so the split API allocates
/// nothing for ordinary chains.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StatementSet {
    Small(u64),
    Large(Box<[u64]>),
}

impl StatementSet {
    fn with_capacity(statements: usize) -> Self {
        if statements <= 64 {
            Self::Small(0)
        } else {
            Self::Large(vec![0; statements.div_ceil(64)].into_boxed_slice())
        }
    }

    #[inline]
    fn insert(&mut self, index: usize) {
        match self {
            Self::Small(bits) => *bits |= 1 << index,
            Self::Large(words) => words[index / 64] |= 1 << (index % 64),
        }
    }

    #[inline]
    fn contains(&self, index: usize) -> bool {
        match self {
            Self::Small(bits) => index < 64 && bits & (1 << index) != 0,
            Self::Large(words) => {
                words.get(index / 64).is_some_and(|w| w & (1 << (index % 64)) != 0)
            }
        }
    }

    /// The indices in the set, ascending: one step per member, whatever the
    /// chain's length (a `trailing_zeros` and a clear of the lowest bit).
    #[inline]
    fn ones(&self) -> Ones<'_> {
        let words = match self {
            Self::Small(bits) => std::slice::from_ref(bits),
            Self::Large(words) => words,
        };
        let (bits, rest) = words.split_first().map_or((0, &[][..]), |(first, rest)| (*first, rest));
        Ones { bits, rest, base: 0 }
    }
}

/// The members of a [`StatementSet`], ascending.
struct Ones<'a> {
    /// The current word's members not yet given.
    bits: u64,
    /// The words after the current one.
    rest: &'a [u64],
    /// The index of the current word's bit 0.
    base: usize,
}

impl Iterator for Ones<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            let (first, rest) = self.rest.split_first()?;
            self.bits = *first;
            self.rest = rest;
            self.base += 64;
        }
        let bit = self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(self.base + bit)
    }
}

/// What [`CompiledChain::select_near`] reads of one statement, in a flat table
/// indexed like [`StatementSet`]: its prefix conditions and whether it decides.
#[derive(Clone, Debug)]
struct PrefixStep {
    conditions: Box<[Condition]>,
    is_final: bool,
}

impl PrefixStep {
    /// Whether the prefix conditions hold, narrowing `low..=high` to the
    /// addresses (of the prefix's family and length) where each condition
    /// consulted gives the same answer.
    #[inline]
    fn holds(
        &self,
        prefix: &IpNet,
        cursor: &mut PrefixCursor,
        low: &mut u128,
        high: &mut u128,
    ) -> bool {
        self.conditions.iter().all(|condition| match condition {
            Condition::PrefixSet { set, negate } => {
                let region = set.region_near(prefix, cursor);
                *low = (*low).max(region.low);
                *high = (*high).min(region.high);
                region.matches != *negate
            }
            other => other.holds_for_prefix(prefix, cursor),
        })
    }
}

/// A [`PrefixCursor`]'s memory of one [`CompiledChain::select_near`]:
/// a route of the same family and length whose address is within
/// `low..=high` gets the same answer from every prefix condition that walk
/// consulted (`low..=high` is the intersection of their regions; family
/// conditions read only the family), so under the same chain and candidates
/// it follows the same walk to the same selection. Routes in address order
/// then cost a few comparisons each until a prefix set's answer changes.
#[derive(Clone, Debug)]
pub(super) struct LastSelection {
    /// The chain's address (a cursor must not outlive its chain).
    chain: usize,
    candidates: StatementSet,
    v6: bool,
    len: u8,
    low: u128,
    high: u128,
    selected: StatementSet,
}

/// The per-attribute-set result: which statements' attribute conditions hold
/// (up to the first one that decides for every prefix). Depends only on the
/// attribute set, its next hop and the context: cache it with the attribute set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    candidates: StatementSet,
    reads_prefix: bool,
}

impl Prepared {
    /// Whether every prefix with this attribute set gets the same verdict: no
    /// statement that can still match has a prefix condition. The RIB then
    /// needs one [`CompiledChain::outcome`] per attribute set.
    pub fn is_prefix_independent(&self) -> bool {
        !self.reads_prefix
    }
}

/// The per-prefix result: exactly the statements that matched and were
/// reached. Two prefixes with equal selections (and the same attribute set)
/// get the same verdict, so `(attribute set, Selection)` is a cache key for
/// the outcome.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Selection(StatementSet);

/// A chain of policies for one neighbor and direction, ready to evaluate.
#[derive(Clone, Debug)]
pub struct CompiledChain {
    policies: Vec<Arc<Policy>>,
    statements: usize,
    reads_prefix: bool,
    /// Every statement's prefix part, by statement index: `select_near` visits
    /// only the prepared candidates through it, not every statement.
    steps: Box<[PrefixStep]>,
}

impl CompiledChain {
    pub fn new(policies: Vec<Arc<Policy>>) -> Self {
        let statements = policies.iter().map(|p| p.statements.len()).sum();
        let reads_prefix = policies.iter().flat_map(|p| &p.statements).any(Statement::reads_prefix);
        let steps = policies
            .iter()
            .flat_map(|p| &p.statements)
            .map(|s| PrefixStep {
                conditions: s.prefix_conditions.clone().into_boxed_slice(),
                is_final: s.disposition.is_final(),
            })
            .collect();
        Self { policies, statements, reads_prefix, steps }
    }

    pub fn policies(&self) -> impl Iterator<Item = &str> {
        self.policies.iter().map(|p| p.name())
    }

    /// Whether any statement has a prefix condition (if not, the verdict is a
    /// function of the attribute set alone).
    pub fn reads_prefix(&self) -> bool {
        self.reads_prefix
    }

    /// Whether the chain accepts every route unchanged (its first policy has
    /// no statements and `default = accept`, like the built-in `accept-all`):
    /// callers may skip evaluation altogether.
    pub fn accepts_all(&self) -> bool {
        self.policies
            .first()
            .is_some_and(|p| p.statements.is_empty() && p.default == PolicyDefault::Accept)
    }

    /// Whether the chain rejects every route (first policy empty with
    /// `default = reject`, or no policy at all).
    pub fn rejects_all(&self) -> bool {
        self.policies
            .first()
            .is_none_or(|p| p.statements.is_empty() && p.default == PolicyDefault::Reject)
    }

    /// Evaluates the chain for one route in one pass. Allocates only when an
    /// action changes the attributes (the result is then `Cow::Owned`, for the
    /// caller to intern); an unchanged route comes back borrowed.
    pub fn evaluate<'a>(
        &self,
        prefix: &IpNet,
        path: impl Into<PathView<'a>>,
        ctx: &Context,
    ) -> Verdict<'a> {
        let path = path.into();
        if self.accepts_all() {
            return accept(Cow::Borrowed(path.attributes), Effects::default());
        }
        with_buffer(|buffer| {
            let mut text = LazyText::new(buffer);
            let mut cursor = PrefixCursor::default();
            let mut attributes = Cow::Borrowed(path.attributes);
            let mut effects = Effects::default();
            for policy in &self.policies {
                for statement in &policy.statements {
                    // Attribute conditions first: most are a compare or two,
                    // cheaper than a trie walk.
                    if !statement.attributes_hold(&path, ctx, &mut text)
                        || !statement.prefix_holds(prefix, &mut cursor)
                    {
                        continue;
                    }
                    if let Some(verdict) = step(statement, &mut attributes, &mut effects, ctx) {
                        return verdict(attributes, effects);
                    }
                }
                if let Some(verdict) = end_of_policy(policy) {
                    return verdict(attributes, effects);
                }
            }
            Verdict::Reject
        })
    }

    /// Step 1 of the split evaluation, once per attribute set (and next hop):
    /// which statements' attribute conditions hold. Cache the result with the
    /// attribute set; it stays valid until the chain changes.
    pub fn prepare<'a>(&self, path: impl Into<PathView<'a>>, ctx: &Context) -> Prepared {
        let path = path.into();
        with_buffer(|buffer| {
            let mut text = LazyText::new(buffer);
            let mut candidates = StatementSet::with_capacity(self.statements);
            let mut reads_prefix = false;
            let mut index = 0;
            for policy in &self.policies {
                for statement in &policy.statements {
                    let this = index;
                    index += 1;
                    if !statement.attributes_hold(&path, ctx, &mut text) {
                        continue;
                    }
                    candidates.insert(this);
                    if statement.reads_prefix() {
                        reads_prefix = true;
                    } else if statement.disposition.is_final() {
                        // Decides for every prefix that gets here.
                        return Prepared { candidates, reads_prefix };
                    }
                }
                if policy.default != PolicyDefault::Next {
                    break;
                }
            }
            Prepared { candidates, reads_prefix }
        })
    }

    /// Step 2, per prefix: the statements that match `prefix` among the
    /// prepared candidates, up to the first that decides. Allocates nothing
    /// for chains of up to 64 statements.
    pub fn select(&self, prepared: &Prepared, prefix: &IpNet) -> Selection {
        self.select_near(prepared, prefix, &mut PrefixCursor::default())
    }

    /// [`CompiledChain::select`] for one of a run of routes: `cursor` keeps each
    /// prefix set's last answer and the address range it holds for, so routes
    /// listed in address order (as tables and UPDATEs list them) mostly need no
    /// search (see [`PrefixSet::matches_near`](super::PrefixSet::matches_near)).
    /// It also keeps the last few selections with the addresses each holds
    /// for ([`LastSelection`]): a route in one of those ranges, with the same
    /// candidates, gets its selection back after a few comparisons. The walk
    /// itself visits only the candidate statements (one bit each), not the
    /// whole chain.
    /// The cursor must not outlive the chain.
    pub fn select_near(
        &self,
        prepared: &Prepared,
        prefix: &IpNet,
        cursor: &mut PrefixCursor,
    ) -> Selection {
        let address = key(prefix);
        let v6 = matches!(prefix, IpNet::V6(_));
        let len = prefix.prefix_len();
        let chain = std::ptr::from_ref(self) as usize;
        for last in cursor.last.iter().flatten() {
            if last.chain == chain
                && last.v6 == v6
                && last.len == len
                && last.low <= address
                && address <= last.high
                && last.candidates == prepared.candidates
            {
                return Selection(last.selected.clone());
            }
        }
        let (mut low, mut high) = (0, u128::MAX);
        let mut selected = StatementSet::with_capacity(self.statements);
        // Only the candidates: `prepare` stopped where the chain is decided
        // for every prefix (a final statement without prefix conditions, a
        // policy default other than `next`), so the members of `candidates`
        // are exactly the statements the one-pass walk could match, in order.
        for index in prepared.candidates.ones() {
            let Some(step) = self.steps.get(index) else { break };
            if !step.holds(prefix, cursor, &mut low, &mut high) {
                continue;
            }
            selected.insert(index);
            if step.is_final {
                break;
            }
        }
        let slot = cursor.next_last % SELECTIONS;
        cursor.next_last = (slot + 1) % SELECTIONS;
        cursor.last[slot] = Some(LastSelection {
            chain,
            candidates: prepared.candidates.clone(),
            v6,
            len,
            low,
            high,
            selected: selected.clone(),
        });
        Selection(selected)
    }

    /// Step 3, per distinct (attribute set, selection): the verdict. Reads
    /// neither the prefix nor any condition, only the selected statements'
    /// actions, so the caller may cache it under `(attribute set, selection)`.
    pub fn outcome<'a>(
        &self,
        selection: &Selection,
        path: impl Into<PathView<'a>>,
        ctx: &Context,
    ) -> Verdict<'a> {
        let path = path.into();
        let mut attributes = Cow::Borrowed(path.attributes);
        let mut effects = Effects::default();
        let mut index = 0;
        for policy in &self.policies {
            for statement in &policy.statements {
                let this = index;
                index += 1;
                if !selection.0.contains(this) {
                    continue;
                }
                if let Some(verdict) = step(statement, &mut attributes, &mut effects, ctx) {
                    return verdict(attributes, effects);
                }
            }
            if let Some(verdict) = end_of_policy(policy) {
                return verdict(attributes, effects);
            }
        }
        Verdict::Reject
    }
}

type Finish<'a> = fn(Cow<'a, PathAttributes>, Effects) -> Verdict<'a>;

fn accept<'a>(attributes: Cow<'a, PathAttributes>, effects: Effects) -> Verdict<'a> {
    Verdict::Accept(Accepted {
        attributes,
        next_hop: effects.next_hop,
        local_pref_set: effects.local_pref_set,
    })
}

fn reject<'a>(_: Cow<'a, PathAttributes>, _: Effects) -> Verdict<'a> {
    Verdict::Reject
}

/// Applies a matched statement; returns how to finish when it decides.
#[inline]
fn step<'a>(
    statement: &Statement,
    attributes: &mut Cow<'a, PathAttributes>,
    effects: &mut Effects,
    ctx: &Context,
) -> Option<Finish<'a>> {
    match statement.disposition {
        // A rejected route's changes would be thrown away: skip them.
        super::Disposition::Reject => Some(reject),
        super::Disposition::Accept => {
            statement.actions.apply(attributes, effects, ctx);
            Some(accept)
        }
        super::Disposition::Next => {
            statement.actions.apply(attributes, effects, ctx);
            None
        }
    }
}

fn end_of_policy<'a>(policy: &Policy) -> Option<Finish<'a>> {
    match policy.default {
        PolicyDefault::Accept => Some(accept),
        PolicyDefault::Reject => Some(reject),
        PolicyDefault::Next => None,
    }
}
