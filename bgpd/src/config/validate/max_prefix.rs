//! Validation of `[neighbors.max_prefixes]` (RFC 4486 §4), with the rules of
//! `config::rules` that the API uses too. A submodule of `validate`, sharing
//! its `Validator`.

use super::super::max_prefix::{DEFAULT_MAX_PREFIX_WARNING_PERCENT, MaxPrefixes};
use super::super::raw::RawMaxPrefixes;
use super::super::rules;
use super::{Scope, Validator};
use crate::wire::Family;

impl Validator<'_> {
    /// `[neighbors.max_prefixes]`: every key optional; `families` (when
    /// valid) must hold every limited family.
    pub(super) fn max_prefixes(
        &mut self,
        scope: &Scope,
        m: &toml::Spanned<RawMaxPrefixes>,
        families: Option<&[Family]>,
    ) -> Option<MaxPrefixes> {
        let key = |field: &str| format!("max_prefixes.{field}");
        let raw = m.get_ref();
        let limit = |this: &mut Self, family: Family, raw| {
            this.optional(scope, &key(family.name()), raw, None, |v| {
                rules::max_prefix_limit(*v).map(Some)
            })
        };
        let ipv4 = limit(self, Family::Ipv4Unicast, &raw.ipv4_unicast);
        let ipv6 = limit(self, Family::Ipv6Unicast, &raw.ipv6_unicast);
        let warning_percent = self.optional(
            scope,
            &key("warning_percent"),
            &raw.warning_percent,
            DEFAULT_MAX_PREFIX_WARNING_PERCENT,
            |v| rules::max_prefix_warning_percent(*v),
        );
        let restart_time =
            self.integer(scope, &key("restart_time"), &raw.restart_time, (0, u16::MAX), 0);
        let limits = MaxPrefixes {
            limits: [ipv4?, ipv6?],
            warning_percent: warning_percent?,
            warning_only: raw.warning_only.as_ref().is_some_and(|v| *v.get_ref()),
            restart_time: restart_time?,
        };
        if let Some(families) = families
            && let Err((family, problem)) = rules::max_prefix_families(&limits, families)
        {
            let value = limits.limit(family).map_or_else(String::new, |l| l.to_string());
            self.invalid(m.span(), scope.key(&key(family.name())), value, problem);
            return None;
        }
        Some(limits)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, MaxPrefixes, Problem};

    const HEAD: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n\
        [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n";

    fn parse(extra: &str) -> Result<Config, Vec<ConfigError>> {
        Config::from_str_named(&format!("{HEAD}{extra}"), "test.toml").map_err(|e| e.errors)
    }

    fn problems(extra: &str) -> Vec<(String, Problem)> {
        parse(extra)
            .unwrap_err()
            .into_iter()
            .map(|e| match e {
                ConfigError::Invalid { key, problem, .. } => (key, problem),
                other => panic!("expected Invalid, got {other}"),
            })
            .collect()
    }

    #[test]
    fn absent_table_means_no_limit() {
        assert_eq!(parse("").unwrap().neighbors[0].max_prefixes, None);
    }

    #[test]
    fn every_key() {
        let config = parse(
            "families = [\"ipv4-unicast\", \"ipv6-unicast\"]\n[neighbors.max_prefixes]\n\
             ipv4-unicast = 1000\nipv6-unicast = 200\nwarning_percent = 90\n\
             warning_only = true\nrestart_time = 60\n",
        )
        .unwrap();
        assert_eq!(
            config.neighbors[0].max_prefixes,
            Some(MaxPrefixes {
                limits: [Some(1000), Some(200)],
                warning_percent: 90,
                warning_only: true,
                restart_time: 60,
            })
        );
    }

    #[test]
    fn defaults_warn_at_75_percent_and_stay_down() {
        let config = parse("[neighbors.max_prefixes]\nipv4-unicast = 10\n").unwrap();
        let limits = config.neighbors[0].max_prefixes.unwrap();
        assert_eq!(limits, MaxPrefixes { limits: [Some(10), None], ..MaxPrefixes::default() });
        assert_eq!(
            (limits.warning_percent, limits.restart_time, limits.warning_only),
            (75, 0, false)
        );
    }

    #[test]
    fn out_of_range_values_are_all_reported() {
        let found = problems(
            "[neighbors.max_prefixes]\nipv4-unicast = 0\nwarning_percent = 101\nrestart_time = -1\n",
        );
        let keys: Vec<&str> = found.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "neighbors[0].max_prefixes.ipv4-unicast",
                "neighbors[0].max_prefixes.warning_percent",
                "neighbors[0].max_prefixes.restart_time"
            ]
        );
    }

    #[test]
    fn a_limit_on_a_family_not_negotiated_is_refused() {
        let found = problems("[neighbors.max_prefixes]\nipv6-unicast = 10\n");
        assert_eq!(
            found,
            vec![(
                "neighbors[0].max_prefixes.ipv6-unicast".into(),
                Problem::MaxPrefixFamilyNotNegotiated
            )]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse("[neighbors.max_prefixes]\nipv4 = 10\n").is_err());
    }

    #[test]
    fn a_limit_change_does_not_reset_the_session() {
        let old = parse("").unwrap();
        let new = parse("[neighbors.max_prefixes]\nipv4-unicast = 10\n").unwrap();
        let diff = crate::config::ConfigDiff::between(&old, &new);
        assert_eq!(diff.neighbors_changed.len(), 1);
        assert_eq!(
            diff.neighbors_changed[0].fields,
            vec![crate::config::NeighborField::MaxPrefixes]
        );
        assert!(!diff.neighbors_changed[0].reset);
    }
}
