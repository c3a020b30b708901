//! Session states (RFC 4271 §8.2.2) and the timers the FSM asks its I/O task to
//! run (RFC 4271 §8.2.1, §10).

use std::fmt;

/// The six states of RFC 4271 §8.2.2.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Refuses connections; waits for a start event (or its IdleHoldTimer).
    Idle,
    /// Waiting for the TCP connection we initiated to complete.
    Connect,
    /// Listening for the peer to connect to us.
    Active,
    /// Our OPEN is sent; waiting for the peer's.
    OpenSent,
    /// OPENs exchanged and accepted; waiting for the peer's first KEEPALIVE.
    OpenConfirm,
    /// UPDATEs may flow.
    Established,
}

impl State {
    /// The name RFC 4271 and every BGP CLI use.
    pub const fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A timer the I/O task runs on the FSM's behalf. When one fires, the I/O task
/// feeds the matching `*TimerExpires` event.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// RFC 4271 §8.2.1.3: time between connection attempts.
    ConnectRetry,
    /// RFC 4271 §4.2 and §10: the peer's silence allowed before we give up.
    Hold,
    /// RFC 4271 §4.4: when we next owe the peer a KEEPALIVE.
    Keepalive,
    /// RFC 4271 §8.1.1 (optional attribute DelayOpen): wait for the peer's OPEN
    /// before sending ours.
    DelayOpen,
    /// RFC 4271 §8.1.1 (optional attribute DampPeerOscillations): how long Idle
    /// lasts before the session restarts on its own.
    IdleHold,
    /// Not in the RFC: how long a session must stay Established before the
    /// IdleHold backoff returns to its base value.
    DampingReset,
}

impl Timer {
    /// Every timer, in a stable order.
    pub const ALL: [Timer; 6] = [
        Timer::ConnectRetry,
        Timer::Hold,
        Timer::Keepalive,
        Timer::DelayOpen,
        Timer::IdleHold,
        Timer::DampingReset,
    ];

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Which timers the FSM believes are running: an expiry for a timer it has
/// stopped is stale (it raced the StopTimer through the I/O task's queue) and
/// is ignored.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerSet(u8);

impl TimerSet {
    pub(crate) fn insert(&mut self, timer: Timer) {
        self.0 |= timer.bit();
    }

    pub(crate) fn remove(&mut self, timer: Timer) -> bool {
        let was = self.contains(timer);
        self.0 &= !timer.bit();
        was
    }

    pub(crate) fn contains(self, timer: Timer) -> bool {
        self.0 & timer.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_set_tracks_each_timer_alone() {
        let mut set = TimerSet::default();
        for timer in Timer::ALL {
            assert!(!set.contains(timer));
            set.insert(timer);
            assert!(set.contains(timer));
        }
        assert!(set.remove(Timer::Hold));
        assert!(!set.remove(Timer::Hold));
        assert!(set.contains(Timer::Keepalive));
    }

    #[test]
    fn state_names_match_the_rfc() {
        assert_eq!(State::OpenConfirm.to_string(), "OpenConfirm");
    }
}
