//! The policy book: every named set and policy of one configuration, compiled
//! once, and the chains made from it. A reload builds a new book and new
//! chains; nothing in a book changes after [`PolicyBook::build`].

use std::collections::HashMap;
use std::sync::Arc;

use super::as_path::{AsPathSet, compile_pattern};
use super::chain::{CompiledChain, Policy, PolicyDefault};
use super::community::{
    CommunityPattern, CommunitySet, LargeCommunityPattern, LargeCommunitySet,
    parse_exact_community, parse_exact_large_community,
};
use super::definition::{
    MatchDefinition, MedDefinition, PolicyDefinition, PolicyDefinitions, SetDefinition,
    StatementDefinition,
};
use super::error::{DefinitionError, DefinitionErrorKind, SetKind, Table, UnknownPolicy};
use super::prefix::PrefixSet;
use super::statement::{
    Actions, Comparison, Condition, Disposition, MedAction, Statement, parse_family,
    parse_next_hop, parse_origin,
};

/// The built-in policy that accepts every route unchanged.
pub const ACCEPT_ALL: &str = "accept-all";
/// The built-in policy that rejects every route.
pub const REJECT_ALL: &str = "reject-all";

/// Largest `set.as_path_prepend` (FRR allows 10, GoBGP 255; 32 is plenty and
/// keeps a typo from producing a path other routers drop).
pub const MAX_PREPEND: u32 = 32;

/// Compiled sets and policies by name.
#[derive(Clone, Debug)]
pub struct PolicyBook {
    definitions: PolicyDefinitions,
    prefix_sets: HashMap<String, Arc<PrefixSet>>,
    community_sets: HashMap<String, Arc<CommunitySet>>,
    large_community_sets: HashMap<String, Arc<LargeCommunitySet>>,
    as_path_sets: HashMap<String, Arc<AsPathSet>>,
    policies: HashMap<String, Arc<Policy>>,
}

impl Default for PolicyBook {
    /// The built-in policies only.
    fn default() -> Self {
        let mut policies = HashMap::new();
        for (name, default) in
            [(ACCEPT_ALL, PolicyDefault::Accept), (REJECT_ALL, PolicyDefault::Reject)]
        {
            policies.insert(name.to_string(), Arc::new(Policy::new(name, Vec::new(), default)));
        }
        Self {
            definitions: PolicyDefinitions::default(),
            prefix_sets: HashMap::new(),
            community_sets: HashMap::new(),
            large_community_sets: HashMap::new(),
            as_path_sets: HashMap::new(),
            policies,
        }
    }
}

/// Where errors of the definition being compiled go.
struct Errors<'d> {
    table: Table,
    position: usize,
    name: &'d str,
    statement: Option<usize>,
    out: &'d mut Vec<DefinitionError>,
}

impl Errors<'_> {
    fn push(&mut self, field: &'static str, index: Option<usize>, kind: DefinitionErrorKind) {
        self.out.push(DefinitionError {
            table: self.table,
            position: self.position,
            name: self.name.to_string(),
            statement: self.statement,
            field,
            index,
            kind,
        });
    }

    fn bad(&mut self, field: &'static str, value: &str, expected: &'static str) {
        self.push(
            field,
            None,
            DefinitionErrorKind::BadValue { value: value.to_string(), expected },
        );
    }
}

/// Compiles one table of sets whose entries each parse alone (prefix,
/// community and large-community sets): every bad entry is reported, and a
/// set keeps its good entries so that policies naming it are still checked.
fn entry_sets<D, P, S>(
    definitions: &[D],
    table: Table,
    field: &'static str,
    parts: impl Fn(&D) -> (&String, &Vec<String>),
    make: impl Fn(Vec<P>) -> S,
    all: &mut Vec<DefinitionError>,
) -> HashMap<String, Arc<S>>
where
    P: std::str::FromStr,
    P::Err: Into<DefinitionErrorKind>,
{
    let mut sets = HashMap::new();
    let mut seen = HashMap::new();
    for (position, def) in definitions.iter().enumerate() {
        let (name, texts) = parts(def);
        let mut errors = Errors { table, position, name, statement: None, out: all };
        let fresh = claim_name(&mut seen, &mut errors, &[]);
        let mut entries = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            match text.parse::<P>() {
                Ok(entry) => entries.push(entry),
                Err(error) => errors.push(field, Some(index), error.into()),
            }
        }
        if fresh {
            sets.insert(name.clone(), Arc::new(make(entries)));
        }
    }
    sets
}

/// Checks a definition's name and registers it; returns whether it is new.
fn claim_name(
    seen: &mut HashMap<String, usize>,
    errors: &mut Errors<'_>,
    reserved: &[&str],
) -> bool {
    let name = errors.name;
    if name.is_empty() {
        errors.push("name", None, DefinitionErrorKind::EmptyName);
        return false;
    }
    if reserved.contains(&name) {
        errors.push("name", None, DefinitionErrorKind::ReservedName { name: name.to_string() });
        return false;
    }
    if let Some(&first) = seen.get(name) {
        let kind = DefinitionErrorKind::DuplicateName {
            name: name.to_string(),
            table: errors.table,
            first,
        };
        errors.push("name", None, kind);
        return false;
    }
    seen.insert(name.to_string(), errors.position);
    true
}

impl PolicyBook {
    /// Compiles all definitions, or returns every error found (sets with bad
    /// entries are still registered with their good ones, so a policy naming
    /// them gets no second, misleading "unknown set" error).
    pub fn build(definitions: &PolicyDefinitions) -> Result<Self, Vec<DefinitionError>> {
        let mut book = Self { definitions: definitions.clone(), ..Self::default() };
        let mut all = Vec::new();

        book.prefix_sets = entry_sets(
            &definitions.prefix_sets,
            Table::PrefixSets,
            "prefixes",
            |def| (&def.name, &def.prefixes),
            PrefixSet::new,
            &mut all,
        );
        book.community_sets = entry_sets(
            &definitions.community_sets,
            Table::CommunitySets,
            "communities",
            |def| (&def.name, &def.communities),
            CommunitySet::new,
            &mut all,
        );
        book.large_community_sets = entry_sets(
            &definitions.large_community_sets,
            Table::LargeCommunitySets,
            "communities",
            |def| (&def.name, &def.communities),
            LargeCommunitySet::new,
            &mut all,
        );

        let mut seen = HashMap::new();
        for (position, def) in definitions.as_path_sets.iter().enumerate() {
            let mut errors = Errors {
                table: Table::AsPathSets,
                position,
                name: &def.name,
                statement: None,
                out: &mut all,
            };
            let fresh = claim_name(&mut seen, &mut errors, &[]);
            let mut good = Vec::new();
            for (index, pattern) in def.patterns.iter().enumerate() {
                match compile_pattern(pattern) {
                    Ok(_) => good.push(pattern.as_str()),
                    Err(error) => errors.push("patterns", Some(index), error.into()),
                }
            }
            match AsPathSet::new(&good) {
                Ok(set) if fresh => {
                    book.as_path_sets.insert(def.name.clone(), Arc::new(set));
                }
                Ok(_) => {}
                // Each pattern compiled alone; only a size limit of the
                // alternation can fail here.
                Err(error) => errors.push("patterns", None, error.into()),
            }
        }

        let mut seen = HashMap::new();
        for (position, def) in definitions.policies.iter().enumerate() {
            let mut errors = Errors {
                table: Table::Policies,
                position,
                name: &def.name,
                statement: None,
                out: &mut all,
            };
            let fresh = claim_name(&mut seen, &mut errors, &[ACCEPT_ALL, REJECT_ALL]);
            let policy = book.compile_policy(def, &mut errors);
            if fresh {
                book.policies.insert(def.name.clone(), Arc::new(policy));
            }
        }

        if all.is_empty() { Ok(book) } else { Err(all) }
    }

    fn compile_policy(&self, def: &PolicyDefinition, errors: &mut Errors<'_>) -> Policy {
        let default = match def.default.as_deref() {
            None | Some("next") => PolicyDefault::Next,
            Some("accept") => PolicyDefault::Accept,
            Some("reject") => PolicyDefault::Reject,
            Some(other) => {
                errors.bad("default", other, "accept, reject or next");
                PolicyDefault::Next
            }
        };
        let mut statements = Vec::with_capacity(def.statements.len());
        for (index, statement) in def.statements.iter().enumerate() {
            errors.statement = Some(index);
            statements.push(self.compile_statement(statement, errors));
        }
        errors.statement = None;
        Policy::new(def.name.clone(), statements, default)
    }

    fn compile_statement(&self, def: &StatementDefinition, errors: &mut Errors<'_>) -> Statement {
        let conditions = self.compile_conditions(&def.conditions, errors);
        let actions = self.compile_actions(&def.actions, errors);
        let disposition = match def.action.as_deref() {
            None => Disposition::Next,
            Some(text) => Disposition::parse(text).unwrap_or_else(|| {
                errors.bad("action", text, "accept, reject or next");
                Disposition::Next
            }),
        };
        Statement::new(conditions, actions, disposition)
    }

    fn compile_conditions(&self, def: &MatchDefinition, errors: &mut Errors<'_>) -> Vec<Condition> {
        /// `name` or `!name`.
        fn reference(text: &str) -> (&str, bool) {
            match text.strip_prefix('!') {
                Some(name) => (name.trim_start(), true),
                None => (text, false),
            }
        }
        fn lookup<T>(
            map: &HashMap<String, Arc<T>>,
            text: &str,
            kind: SetKind,
            field: &'static str,
            errors: &mut Errors<'_>,
        ) -> Option<(Arc<T>, bool)> {
            let (name, negate) = reference(text);
            match map.get(name) {
                Some(set) => Some((set.clone(), negate)),
                None => {
                    let kind = DefinitionErrorKind::UnknownSet { kind, name: name.to_string() };
                    errors.push(field, None, kind);
                    None
                }
            }
        }
        fn comparison(
            text: &str,
            field: &'static str,
            errors: &mut Errors<'_>,
        ) -> Option<Comparison> {
            let parsed = text.parse().ok();
            if parsed.is_none() {
                errors.bad(field, text, "`eq N`, `le N` or `ge N`");
            }
            parsed
        }

        let mut out = Vec::new();
        if let Some(text) = &def.prefix_set
            && let Some((set, negate)) =
                lookup(&self.prefix_sets, text, SetKind::Prefix, "match.prefix_set", errors)
        {
            out.push(Condition::PrefixSet { set, negate });
        }
        if let Some(text) = &def.family {
            match parse_family(text) {
                Some(family) => out.push(Condition::Family(family)),
                None => errors.bad("match.family", text, "ipv4-unicast or ipv6-unicast"),
            }
        }
        if let Some(text) = &def.community_set
            && let Some((set, negate)) = lookup(
                &self.community_sets,
                text,
                SetKind::Community,
                "match.community_set",
                errors,
            )
        {
            out.push(Condition::CommunitySet { set, negate });
        }
        if let Some(text) = &def.large_community_set
            && let Some((set, negate)) = lookup(
                &self.large_community_sets,
                text,
                SetKind::LargeCommunity,
                "match.large_community_set",
                errors,
            )
        {
            out.push(Condition::LargeCommunitySet { set, negate });
        }
        if let Some(text) = &def.as_path_set
            && let Some((set, negate)) =
                lookup(&self.as_path_sets, text, SetKind::AsPath, "match.as_path_set", errors)
        {
            out.push(Condition::AsPathSet { set, negate });
        }
        if let Some(text) = &def.as_path_length
            && let Some(c) = comparison(text, "match.as_path_length", errors)
        {
            out.push(Condition::AsPathLength(c));
        }
        if let Some(text) = &def.origin {
            match parse_origin(text) {
                Some(origin) => out.push(Condition::Origin(origin)),
                None => errors.bad("match.origin", text, "igp, egp or incomplete"),
            }
        }
        if let Some(text) = &def.next_hop_set
            && let Some((set, negate)) =
                lookup(&self.prefix_sets, text, SetKind::Prefix, "match.next_hop_set", errors)
        {
            out.push(Condition::NextHopSet { set, negate });
        }
        if let Some(text) = &def.med
            && let Some(c) = comparison(text, "match.med", errors)
        {
            out.push(Condition::Med(c));
        }
        if let Some(text) = &def.local_pref
            && let Some(c) = comparison(text, "match.local_pref", errors)
        {
            out.push(Condition::LocalPref(c));
        }
        if let Some(asn) = def.neighbor_asn {
            out.push(Condition::NeighborAsn(asn));
        }
        out
    }

    fn compile_actions(&self, def: &SetDefinition, errors: &mut Errors<'_>) -> Actions {
        let mut actions = Actions { local_pref: def.local_pref, ..Actions::default() };
        match &def.med {
            None => {}
            Some(MedDefinition::Value(value)) => actions.med = Some(MedAction::Set(*value)),
            Some(MedDefinition::Text(text)) => match MedAction::parse(text) {
                Some(med) => actions.med = Some(med),
                None => errors.bad("set.med", text, "a number 0..=4294967295, \"+N\" or \"-N\""),
            },
        }
        if let Some(count) = def.as_path_prepend {
            match u8::try_from(count) {
                Ok(count) if u32::from(count) <= MAX_PREPEND => actions.as_path_prepend = count,
                _ => errors.bad("set.as_path_prepend", &count.to_string(), "a count 0..=32"),
            }
        }
        for (index, text) in def.communities_add.iter().enumerate() {
            match parse_exact_community(text) {
                Ok(community) => actions.communities_add.push(community),
                Err(error) => errors.push("set.communities_add", Some(index), error.into()),
            }
        }
        for (index, text) in def.large_communities_add.iter().enumerate() {
            match parse_exact_large_community(text) {
                Ok(community) => actions.large_communities_add.push(community),
                Err(error) => errors.push("set.large_communities_add", Some(index), error.into()),
            }
        }
        if !def.communities_remove.is_empty() {
            let mut patterns = Vec::new();
            for (index, text) in def.communities_remove.iter().enumerate() {
                // A set's name wins: the issue's own example names a set "blackhole".
                if let Some(set) = self.community_sets.get(text.as_str()) {
                    patterns.extend_from_slice(set.patterns());
                    continue;
                }
                match text.parse::<CommunityPattern>() {
                    Ok(pattern) => patterns.push(pattern),
                    Err(error) => errors.push("set.communities_remove", Some(index), error.into()),
                }
            }
            actions.communities_remove = Some(CommunitySet::new(patterns));
        }
        if !def.large_communities_remove.is_empty() {
            let mut patterns = Vec::new();
            for (index, text) in def.large_communities_remove.iter().enumerate() {
                if let Some(set) = self.large_community_sets.get(text.as_str()) {
                    patterns.extend_from_slice(set.patterns());
                    continue;
                }
                match text.parse::<LargeCommunityPattern>() {
                    Ok(pattern) => patterns.push(pattern),
                    Err(error) => {
                        errors.push("set.large_communities_remove", Some(index), error.into())
                    }
                }
            }
            actions.large_communities_remove = Some(LargeCommunitySet::new(patterns));
        }
        if let Some(text) = &def.next_hop {
            match parse_next_hop(text) {
                Some(next_hop) => actions.next_hop = Some(next_hop),
                None => errors.bad("set.next_hop", text, "self, unchanged or an IP address"),
            }
        }
        actions
    }

    /// The chain of the named policies, in order.
    pub fn chain<S: AsRef<str>>(&self, names: &[S]) -> Result<CompiledChain, UnknownPolicy> {
        let mut policies = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            let name = name.as_ref();
            let policy = self
                .policies
                .get(name)
                .ok_or_else(|| UnknownPolicy { name: name.to_string(), index })?;
            policies.push(policy.clone());
        }
        Ok(CompiledChain::new(policies))
    }

    /// Every name of `names` the book lacks (for config validation).
    pub fn unknown_policies<S: AsRef<str>>(&self, names: &[S]) -> Vec<UnknownPolicy> {
        names
            .iter()
            .enumerate()
            .filter(|(_, name)| !self.policies.contains_key(name.as_ref()))
            .map(|(index, name)| UnknownPolicy { name: name.as_ref().to_string(), index })
            .collect()
    }

    pub fn has_policy(&self, name: &str) -> bool {
        self.policies.contains_key(name)
    }

    pub fn policy(&self, name: &str) -> Option<&Arc<Policy>> {
        self.policies.get(name)
    }

    /// Policy names, sorted (built-ins included).
    pub fn policy_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.policies.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    pub fn prefix_set(&self, name: &str) -> Option<&Arc<PrefixSet>> {
        self.prefix_sets.get(name)
    }

    pub fn community_set(&self, name: &str) -> Option<&Arc<CommunitySet>> {
        self.community_sets.get(name)
    }

    pub fn large_community_set(&self, name: &str) -> Option<&Arc<LargeCommunitySet>> {
        self.large_community_sets.get(name)
    }

    pub fn as_path_set(&self, name: &str) -> Option<&Arc<AsPathSet>> {
        self.as_path_sets.get(name)
    }

    /// The definitions the book was built from (what `ListPolicies` shows).
    pub fn definitions(&self) -> &PolicyDefinitions {
        &self.definitions
    }
}
