//! Validation of `[metrics]`: the address of the Prometheus, health and
//! readiness listener. A submodule of `validate`, sharing its `Validator`.

use std::net::SocketAddr;

use toml::Spanned;

use super::super::error::Problem;
use super::super::model::{DEFAULT_METRICS_LISTEN, Metrics};
use super::super::raw::RawMetrics;
use super::{Scope, Validator};

impl Validator<'_> {
    /// `Some(None)` when the section is absent (no listener: metrics are off
    /// by default, since an open port is something the operator opts into).
    pub(super) fn metrics(&mut self, raw: Option<&Spanned<RawMetrics>>) -> Option<Option<Metrics>> {
        let Some(raw) = raw else { return Some(None) };
        let scope = Scope { name: "metrics", index: None, span: raw.span() };
        let listen =
            self.optional(&scope, "listen", &raw.get_ref().listen, DEFAULT_METRICS_LISTEN, |s| {
                s.parse::<SocketAddr>().map_err(|_| Problem::MetricsListen)
            })?;
        Some(Some(Metrics { listen }))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use crate::config::{Config, ConfigError, LogFormat, Problem};

    const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";

    fn problem(text: &str) -> (String, Problem) {
        match Config::from_str(text) {
            Ok(_) => panic!("expected an error in:\n{text}"),
            Err(errors) => match errors.errors.into_iter().next() {
                Some(ConfigError::Invalid { key, problem, .. }) => (key, problem),
                other => panic!("unexpected {other:?}"),
            },
        }
    }

    #[test]
    fn metrics_are_off_without_the_section() {
        let config = Config::from_str(GLOBAL).expect("valid");
        assert_eq!(config.metrics, None);
        assert_eq!(config.global.log_format, LogFormat::Text);
    }

    #[test]
    fn metrics_listen_defaults_and_parses() {
        let config = Config::from_str(&format!("{GLOBAL}[metrics]\n")).expect("valid");
        assert_eq!(config.metrics.map(|m| m.listen.to_string()), Some("127.0.0.1:9179".into()));
        let text = format!("{GLOBAL}[metrics]\nlisten = \"[::1]:9100\"\n");
        let config = Config::from_str(&text).expect("valid");
        assert_eq!(config.metrics.map(|m| m.listen.to_string()), Some("[::1]:9100".into()));
    }

    #[test]
    fn metrics_listen_must_be_an_ip_and_port() {
        let text = format!("{GLOBAL}[metrics]\nlisten = \"localhost:9179\"\n");
        assert_eq!(problem(&text), ("metrics.listen".to_string(), Problem::MetricsListen));
        let text = format!("{GLOBAL}[metrics]\nport = 9179\n");
        assert!(Config::from_str(&text).is_err(), "unknown keys are refused");
    }

    #[test]
    fn log_format_is_text_or_json() {
        let config = Config::from_str(&format!("{GLOBAL}log_format = \"json\"\n")).expect("valid");
        assert_eq!(config.global.log_format, LogFormat::Json);
        let text = format!("{GLOBAL}log_format = \"logfmt\"\n");
        assert_eq!(problem(&text), ("global.log_format".to_string(), Problem::LogFormat));
    }
}
