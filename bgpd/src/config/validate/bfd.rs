//! Validation of `[neighbors.bfd]` (RFC 5880 timers, RFC 5882 coupling),
//! with the rules of `config::rules` that the API uses too. A submodule of
//! `validate`, sharing its `Validator`.

use super::super::model::BfdSettings;
use super::super::raw::{Key, RawBfd};
use super::super::rules;
use super::{Scope, Validator};

impl Validator<'_> {
    /// `[neighbors.bfd]`: every key optional, defaults in [`BfdSettings`].
    pub(super) fn bfd(&mut self, scope: &Scope, b: &RawBfd) -> Option<BfdSettings> {
        let defaults = BfdSettings::default();
        let flag = |key: &Key<bool>, default: bool| key.as_ref().map_or(default, |v| *v.get_ref());
        let key = |field: &str| format!("bfd.{field}");
        let min_rx_ms =
            self.optional(scope, &key("min_rx_ms"), &b.min_rx_ms, defaults.min_rx_ms, |v| {
                rules::bfd_interval_ms(*v)
            });
        let min_tx_ms =
            self.optional(scope, &key("min_tx_ms"), &b.min_tx_ms, defaults.min_tx_ms, |v| {
                rules::bfd_interval_ms(*v)
            });
        let multiplier =
            self.optional(scope, &key("multiplier"), &b.multiplier, defaults.multiplier, |v| {
                rules::bfd_multiplier(*v)
            });
        let echo = self.optional(scope, &key("echo"), &b.echo, (), |v| rules::bfd_echo(*v));
        echo?;
        Some(BfdSettings {
            enabled: flag(&b.enabled, defaults.enabled),
            min_rx_ms: min_rx_ms?,
            min_tx_ms: min_tx_ms?,
            multiplier: multiplier?,
            passive: flag(&b.passive, defaults.passive),
            check_control_plane_failure: flag(
                &b.check_control_plane_failure,
                defaults.check_control_plane_failure,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::bfd::{Hop, SessionConfig, Timers};
    use crate::config::{BfdSettings, Config, ConfigError, Problem};

    const HEAD: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n\
        [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n";

    fn parse(extra: &str) -> Result<Config, Vec<ConfigError>> {
        Config::from_str_named(&format!("{HEAD}{extra}"), "test.toml").map_err(|e| e.errors)
    }

    #[test]
    fn absent_table_means_no_bfd() {
        let config = parse("").unwrap();
        assert_eq!(config.neighbors[0].bfd, None);
        assert_eq!(config.neighbors[0].bfd_session(), None);
    }

    #[test]
    fn defaults_are_off_and_300_by_3() {
        let config = parse("[neighbors.bfd]\n").unwrap();
        assert_eq!(config.neighbors[0].bfd, Some(BfdSettings::default()));
        assert_eq!(config.neighbors[0].bfd_session(), None, "enabled defaults to false");
        let config = parse("[neighbors.bfd]\nenabled = true\n").unwrap();
        assert_eq!(config.neighbors[0].bfd_session(), Some(SessionConfig::default()));
    }

    #[test]
    fn every_key() {
        let config = parse(
            "[neighbors.bfd]\nenabled = true\nmin_rx_ms = 50\nmin_tx_ms = 100\nmultiplier = 5\n\
             passive = true\necho = false\ncheck_control_plane_failure = true\n",
        )
        .unwrap();
        let bfd = config.neighbors[0].bfd.unwrap();
        assert!(bfd.passive && bfd.check_control_plane_failure);
        let session = config.neighbors[0].bfd_session().unwrap();
        assert_eq!(
            session.timers,
            Timers {
                desired_min_tx: Duration::from_millis(100),
                required_min_rx: Duration::from_millis(50),
                detect_multiplier: 5,
            }
        );
        assert!(session.passive);
        assert_eq!(session.hop, Hop::Single);
        assert!(!session.control_plane_independent);
    }

    #[test]
    fn multihop_neighbors_get_multihop_bfd() {
        let config = parse("ebgp_multihop = 2\n[neighbors.bfd]\nenabled = true\n").unwrap();
        assert_eq!(config.neighbors[0].bfd_session().unwrap().hop, Hop::Multi { min_ttl: 254 });
        let config = parse("ttl_security = 3\n[neighbors.bfd]\nenabled = true\n").unwrap();
        assert_eq!(config.neighbors[0].bfd_session().unwrap().hop, Hop::Multi { min_ttl: 253 });
        let config = parse("ttl_security = true\n[neighbors.bfd]\nenabled = true\n").unwrap();
        assert_eq!(config.neighbors[0].bfd_session().unwrap().hop, Hop::Single);
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
    fn echo_is_refused_with_a_clear_error() {
        let found = problems("[neighbors.bfd]\nenabled = true\necho = true\n");
        assert_eq!(found, vec![("neighbors[0].bfd.echo".into(), Problem::BfdEchoNotImplemented)]);
        assert!(Problem::BfdEchoNotImplemented.to_string().contains("not implemented"));
    }

    #[test]
    fn out_of_range_values_are_all_reported() {
        let found = problems("[neighbors.bfd]\nmin_rx_ms = 5\nmin_tx_ms = 70000\nmultiplier = 1\n");
        let keys: Vec<&str> = found.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "neighbors[0].bfd.min_rx_ms",
                "neighbors[0].bfd.min_tx_ms",
                "neighbors[0].bfd.multiplier"
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse("[neighbors.bfd]\necho_interval = 50\n").is_err());
    }

    #[test]
    fn a_bfd_change_does_not_reset_the_session() {
        let old = parse("").unwrap();
        let new = parse("[neighbors.bfd]\nenabled = true\n").unwrap();
        let diff = crate::config::ConfigDiff::between(&old, &new);
        assert_eq!(diff.neighbors_changed.len(), 1);
        assert_eq!(diff.neighbors_changed[0].fields, vec![crate::config::NeighborField::Bfd]);
        assert!(!diff.neighbors_changed[0].reset);
    }
}
