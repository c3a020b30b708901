//! Polling with a deadline: the only way tests wait for anything.

use std::time::{Duration, Instant};

use crate::{HarnessError, Result};

/// Polls `check` every `poll` until it yields a value or `deadline` has passed.
///
/// On timeout the error carries `describe()`: what the peer last reported (its state, its last
/// reset reason, a log tail), so that the failure explains itself.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    poll: Duration,
    mut check: impl FnMut() -> Option<T>,
    describe: impl FnOnce() -> String,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if start.elapsed() >= deadline {
            return Err(HarnessError::Timeout {
                what: what.to_owned(),
                waited: start.elapsed(),
                last: describe(),
            });
        }
        std::thread::sleep(poll.min(deadline.saturating_sub(start.elapsed())));
    }
}

/// Polls `holds` every `poll` for the whole `window` and fails as soon as it is false.
///
/// Used for "never": a wrong MD5 password must keep the session down for the full window,
/// not merely at one sampled instant.
pub fn hold_for(
    what: &str,
    window: Duration,
    poll: Duration,
    mut holds: impl FnMut() -> bool,
    describe: impl FnOnce() -> String,
) -> Result<()> {
    let start = Instant::now();
    loop {
        if !holds() {
            return Err(HarnessError::Violated {
                what: what.to_owned(),
                after: start.elapsed(),
                last: describe(),
            });
        }
        if start.elapsed() >= window {
            return Ok(());
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_returns_the_value_once_ready() {
        let mut calls = 0;
        let got = wait_until(
            "three calls",
            Duration::from_secs(2),
            Duration::from_millis(1),
            || {
                calls += 1;
                (calls == 3).then_some(calls)
            },
            String::new,
        );
        assert_eq!(got.ok(), Some(3));
    }

    #[test]
    fn wait_until_times_out_with_the_description() {
        let got: Result<()> = wait_until(
            "nothing",
            Duration::from_millis(20),
            Duration::from_millis(5),
            || None,
            || "peer said Idle".to_owned(),
        );
        let message = got.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("peer said Idle"), "{message}");
    }

    #[test]
    fn hold_for_fails_when_the_condition_breaks() {
        let mut n = 0;
        let got = hold_for(
            "below two",
            Duration::from_secs(1),
            Duration::from_millis(1),
            || {
                n += 1;
                n < 2
            },
            || "two".to_owned(),
        );
        assert!(got.is_err());
    }
}
