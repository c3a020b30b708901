//! `[neighbors.graceful_restart]` and the global graceful restart keys, through
//! the config loader.

use std::path::PathBuf;

use crate::config::{Config, ConfigError, Problem};
use crate::gr::{DEFAULT_SELECTION_DEFERRAL_TIME, DEFAULT_STATE_DIR, Settings};

const HEAD: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";

fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
    Config::from_str_named(text, "gr.toml").map_err(|e| e.errors)
}

#[test]
fn absent_table_means_off_and_globals_default() {
    let config =
        parse(&format!("{HEAD}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n"))
            .unwrap();
    assert_eq!(config.neighbors[0].graceful_restart, None);
    assert_eq!(config.global.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    assert_eq!(config.global.selection_deferral_time, DEFAULT_SELECTION_DEFERRAL_TIME);
}

#[test]
fn table_fills_defaults_and_takes_values() {
    let text = format!(
        "{HEAD}state_dir = \"/tmp/x\"\nselection_deferral_time = 10\n\
         [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
         [neighbors.graceful_restart]\n\
         [[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65002\n\
         [neighbors.graceful_restart]\nrestart_time = 30\nstale_routes_time = 40\n\
         notification = false\nhelper_only = true\nenabled = false\n"
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.global.state_dir, PathBuf::from("/tmp/x"));
    assert_eq!(config.global.selection_deferral_time, 10);
    assert_eq!(config.neighbors[0].graceful_restart, Some(Settings::default()));
    assert_eq!(
        config.neighbors[1].graceful_restart,
        Some(Settings {
            enabled: false,
            restart_time: 30,
            stale_routes_time: 40,
            notification: false,
            helper_only: true
        })
    );
}

#[test]
fn bad_values_are_located() {
    let text = format!(
        "{HEAD}state_dir = \"relative\"\nselection_deferral_time = 0\n\
         [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
         [neighbors.graceful_restart]\nrestart_time = 4096\nstale_routes_time = 0\n"
    );
    let errors = parse(&text).unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 4, "{shown:#?}");
    assert!(shown[0].starts_with("gr.toml:4:13: global.state_dir"), "{}", shown[0]);
    assert!(matches!(errors[0].problem(), Some(Problem::RelativePath)));
    assert!(
        shown[1].starts_with("gr.toml:5:27: global.selection_deferral_time = 0"),
        "{}",
        shown[1]
    );
    assert!(
        shown[2].starts_with("gr.toml:10:16: neighbors[0].graceful_restart.restart_time = 4096"),
        "{}",
        shown[2]
    );
    assert!(
        shown[3].contains("neighbors[0].graceful_restart.stale_routes_time = 0"),
        "{}",
        shown[3]
    );
}

#[test]
fn unknown_key_in_the_table_is_refused() {
    let text = format!(
        "{HEAD}[[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
         [neighbors.graceful_restart]\nlong_lived = true\n"
    );
    assert!(parse(&text).is_err());
}
