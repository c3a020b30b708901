//! Validation of the `[api]` limits (README "Limits"; the defaults are in
//! `model`). A submodule of `validate`, sharing its `Validator`.

use std::time::Duration;

use super::super::model::{
    ApiLimits, DEFAULT_API_IDLE_TIMEOUT, DEFAULT_API_MAX_CONNECTIONS,
    DEFAULT_API_MAX_MESSAGE_BYTES, DEFAULT_API_MAX_WATCHERS, DEFAULT_API_SESSION_OPEN_TIMEOUT,
    DEFAULT_API_WATCH_BUFFER_EVENTS,
};
use super::super::raw::RawApi;
use super::{Scope, Validator};

/// `max_connections`: at least one; at most what a raised fd limit allows.
pub(in crate::config) const API_MAX_CONNECTIONS: (u32, u32) = (1, 65_536);
/// `idle_timeout` and `session_open_timeout`, seconds: one second to a day.
pub(in crate::config) const API_TIMEOUT: (u32, u32) = (1, 86_400);
/// `max_watchers`.
pub(in crate::config) const API_MAX_WATCHERS: (u32, u32) = (1, 4_096);
/// `watch_buffer_events`: at least a snapshot chunk or two.
pub(in crate::config) const API_WATCH_BUFFER_EVENTS: (u32, u32) = (4_096, 16_777_216);
/// `max_message_bytes`: never below gRPC's usual 4 MiB, at most 1 GiB.
pub(in crate::config) const API_MAX_MESSAGE_BYTES: (u32, u32) = (4 << 20, 1 << 30);

impl Validator<'_> {
    pub(super) fn api_limits(&mut self, scope: &Scope, raw: &RawApi) -> Option<ApiLimits> {
        let max_connections = self.integer(
            scope,
            "max_connections",
            &raw.max_connections,
            API_MAX_CONNECTIONS,
            DEFAULT_API_MAX_CONNECTIONS,
        );
        let idle_timeout = self.integer(
            scope,
            "idle_timeout",
            &raw.idle_timeout,
            API_TIMEOUT,
            DEFAULT_API_IDLE_TIMEOUT,
        );
        let session_open_timeout = self.integer(
            scope,
            "session_open_timeout",
            &raw.session_open_timeout,
            API_TIMEOUT,
            DEFAULT_API_SESSION_OPEN_TIMEOUT,
        );
        let max_watchers = self.integer(
            scope,
            "max_watchers",
            &raw.max_watchers,
            API_MAX_WATCHERS,
            DEFAULT_API_MAX_WATCHERS,
        );
        let watch_buffer_events = self.integer(
            scope,
            "watch_buffer_events",
            &raw.watch_buffer_events,
            API_WATCH_BUFFER_EVENTS,
            DEFAULT_API_WATCH_BUFFER_EVENTS,
        );
        let max_message_bytes = self.integer(
            scope,
            "max_message_bytes",
            &raw.max_message_bytes,
            API_MAX_MESSAGE_BYTES,
            DEFAULT_API_MAX_MESSAGE_BYTES,
        );
        Some(ApiLimits {
            max_connections: max_connections?,
            idle_timeout: Duration::from_secs(idle_timeout?.into()),
            session_open_timeout: Duration::from_secs(session_open_timeout?.into()),
            max_watchers: max_watchers?,
            watch_buffer_events: watch_buffer_events?,
            max_message_bytes: max_message_bytes?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{ApiLimits, Config};

    const GLOBAL: &str = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n";

    #[test]
    fn defaults_without_keys() {
        let config = "{GLOBAL}[api]\n".replace("{GLOBAL}", GLOBAL).parse::<Config>().unwrap();
        assert_eq!(config.api.limits, ApiLimits::default());
    }

    #[test]
    fn every_key_is_read() {
        let text = format!(
            "{GLOBAL}[api]\nmax_connections = 8\nidle_timeout = 2\nsession_open_timeout = 3\n\
             max_watchers = 4\nwatch_buffer_events = 5000\nmax_message_bytes = 8388608\n"
        );
        let limits = text.parse::<Config>().unwrap().api.limits;
        assert_eq!(limits.max_connections, 8);
        assert_eq!(limits.idle_timeout, Duration::from_secs(2));
        assert_eq!(limits.session_open_timeout, Duration::from_secs(3));
        assert_eq!(limits.max_watchers, 4);
        assert_eq!(limits.watch_buffer_events, 5000);
        assert_eq!(limits.max_message_bytes, 8 << 20);
    }

    #[test]
    fn out_of_range_is_refused_and_named() {
        let text = format!("{GLOBAL}[api]\nmax_connections = 0\nmax_message_bytes = 1024\n");
        let errors = text.parse::<Config>().unwrap_err().to_string();
        assert!(errors.contains("api.max_connections"), "{errors}");
        assert!(errors.contains("api.max_message_bytes"), "{errors}");
    }
}
