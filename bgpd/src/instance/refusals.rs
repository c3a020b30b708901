//! A bound on the log lines for refused BGP connections (unknown or disabled
//! neighbor): a flood of connects from anywhere must not flood the log (15,500
//! connects in 30 s once gave 16,008 INFO lines). At most
//! [`REFUSALS_LOGGED_PER_WINDOW`] refusals are logged per
//! [`REFUSAL_WINDOW`]; the rest are counted, and the first line of the next
//! window says how many were not logged. Sans-IO: the caller passes the time.

use std::time::{Duration, Instant};

/// Refusals logged per window.
pub const REFUSALS_LOGGED_PER_WINDOW: u32 = 10;
/// The window.
pub const REFUSAL_WINDOW: Duration = Duration::from_secs(10);

/// The limiter's state (owned by the instance).
#[derive(Debug, Default)]
pub struct RefusalLog {
    window_start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

/// What to do with one refusal.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Log it; `suppressed` refusals before it were not logged (say so when > 0).
    Log { suppressed: u64 },
    /// Count it only.
    Suppress,
}

impl RefusalLog {
    /// Counts a refusal at `now` and says whether to log it.
    pub fn refused(&mut self, now: Instant) -> Refusal {
        let window_over = self
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= REFUSAL_WINDOW);
        if window_over {
            self.window_start = Some(now);
            self.logged = 0;
        }
        if self.logged < REFUSALS_LOGGED_PER_WINDOW {
            self.logged += 1;
            Refusal::Log { suppressed: std::mem::take(&mut self.suppressed) }
        } else {
            self.suppressed += 1;
            Refusal::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_n_lines_per_window_then_the_count() {
        let start = Instant::now();
        let mut log = RefusalLog::default();
        for _ in 0..REFUSALS_LOGGED_PER_WINDOW {
            assert_eq!(log.refused(start), Refusal::Log { suppressed: 0 });
        }
        for _ in 0..1000 {
            assert_eq!(log.refused(start + Duration::from_secs(1)), Refusal::Suppress);
        }
        let next = start + REFUSAL_WINDOW;
        assert_eq!(log.refused(next), Refusal::Log { suppressed: 1000 });
        assert_eq!(log.refused(next), Refusal::Log { suppressed: 0 });
    }
}
