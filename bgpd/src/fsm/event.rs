//! FSM inputs, named after RFC 4271 §8.1 (the event number is in each doc).
//!
//! The I/O task turns what it sees (an operator command, a TCP outcome, a
//! decoded message, a timer firing) into one of these and feeds it to
//! [`Fsm::handle`](super::Fsm::handle).

use crate::wire::{Notification, NotificationKind, OpenMessage};

use super::state::Timer;

/// One FSM input (RFC 4271 §8.1.2 to §8.1.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Event 1: an operator starts the session; we connect and listen.
    ManualStart,
    /// Event 2: an operator stops the session. The NOTIFICATION (a Cease,
    /// normally Administrative Shutdown with an RFC 9003 message) is sent if a
    /// BGP conversation has begun. Auto-restart stays off until a start event.
    ManualStop(Notification),
    /// Event 3: the daemon starts the session itself (startup, config reload).
    AutomaticStart,
    /// Event 4: operator start; listen first (RFC 4271 §8.1.1 PassiveTcpEstablishment).
    ManualStartWithPassiveTcpEstablishment,
    /// Event 5: automatic start; listen first.
    AutomaticStartWithPassiveTcpEstablishment,
    /// Event 6: automatic start that honours a running IdleHoldTimer: if the
    /// session is being held down after flaps it starts when the timer fires.
    AutomaticStartWithDampPeerOscillations,
    /// Event 7: as event 6, listening first.
    AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment,
    /// Event 8: the daemon stops the session (maximum prefixes, config change).
    /// The NOTIFICATION is a Cease with the subcode that says why. The session
    /// restarts after the IdleHold backoff. Ignored in Idle (RFC 4271), so a
    /// pending restart stays: use ManualStop to cancel it.
    AutomaticStop(Notification),
    /// Event 9.
    ConnectRetryTimerExpires,
    /// Event 10.
    HoldTimerExpires,
    /// Event 11.
    KeepaliveTimerExpires,
    /// Event 12.
    DelayOpenTimerExpires,
    /// Event 13.
    IdleHoldTimerExpires,
    /// Event 14: an inbound connection from the peer's address and port 179
    /// was accepted by the I/O task.
    TcpConnectionValid,
    /// Event 15: an inbound connection from an unknown source was refused.
    TcpCrInvalid,
    /// Event 16: the connection we initiated completed.
    TcpCrAcked,
    /// Event 17: the peer's inbound connection completed.
    TcpConnectionConfirmed,
    /// Event 18: the connection failed or the peer closed it.
    TcpConnectionFails,
    /// Event 19: a well-formed OPEN arrived. The FSM runs the semantic checks of
    /// RFC 4271 §6.2 itself and turns a failure into event 22.
    BgpOpen(OpenMessage),
    /// Event 20: an OPEN while the DelayOpenTimer runs. The FSM tracks that
    /// timer itself, so callers may send [`Event::BgpOpen`] in every case; both
    /// variants are handled by what the FSM knows of the timer.
    BgpOpenWithDelayOpenTimerRunning(OpenMessage),
    /// Event 21: a message header failed to decode; carries the NOTIFICATION to
    /// send (RFC 4271 §6.1).
    BgpHeaderErr(Notification),
    /// Event 22: an OPEN failed to decode; carries the NOTIFICATION to send
    /// (RFC 4271 §6.2).
    BgpOpenMsgErr(Notification),
    /// Event 23: collision resolution (RFC 4271 §6.8) chose to close this
    /// connection; see [`collision`](super::collision).
    OpenCollisionDump,
    /// Event 24: the peer sent a NOTIFICATION with Unsupported Version Number.
    NotifMsgVerErr(Notification),
    /// Event 25: the peer sent any other NOTIFICATION.
    NotifMsg(Notification),
    /// Event 26.
    KeepAliveMsg,
    /// Event 27.
    UpdateMsg,
    /// Event 28: an UPDATE error that resets the session (RFC 4271 §6.3 and
    /// RFC 7606 "session reset"); carries the NOTIFICATION to send.
    UpdateMsgErr(Notification),
    /// Not in RFC 4271: a ROUTE-REFRESH arrived (RFC 2918). Legal only when
    /// Established; it restarts the HoldTimer like any other message.
    RouteRefreshMsg,
    /// Not in RFC 4271: the [`Timer::DampingReset`] fired; the session stayed up
    /// long enough for its IdleHold backoff to return to the base value.
    DampingResetTimerExpires,
}

impl Event {
    /// [`Event::ManualStop`] with a plain Administrative Shutdown Cease.
    pub fn manual_stop() -> Self {
        Event::ManualStop(Notification::new(NotificationKind::AdministrativeShutdown, Vec::new()))
    }

    /// [`Event::ManualStop`] carrying an RFC 9003 shutdown communication.
    pub fn manual_stop_with_message(message: &str) -> Self {
        Event::ManualStop(Notification::shutdown(NotificationKind::AdministrativeShutdown, message))
    }

    /// The event a fired timer turns into.
    pub fn timer_expired(timer: Timer) -> Self {
        match timer {
            Timer::ConnectRetry => Event::ConnectRetryTimerExpires,
            Timer::Hold => Event::HoldTimerExpires,
            Timer::Keepalive => Event::KeepaliveTimerExpires,
            Timer::DelayOpen => Event::DelayOpenTimerExpires,
            Timer::IdleHold => Event::IdleHoldTimerExpires,
            Timer::DampingReset => Event::DampingResetTimerExpires,
        }
    }

    /// The RFC 4271 §8.1 event number; `None` for the two events we add.
    pub fn number(&self) -> Option<u8> {
        Some(match self {
            Event::ManualStart => 1,
            Event::ManualStop(_) => 2,
            Event::AutomaticStart => 3,
            Event::ManualStartWithPassiveTcpEstablishment => 4,
            Event::AutomaticStartWithPassiveTcpEstablishment => 5,
            Event::AutomaticStartWithDampPeerOscillations => 6,
            Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment => 7,
            Event::AutomaticStop(_) => 8,
            Event::ConnectRetryTimerExpires => 9,
            Event::HoldTimerExpires => 10,
            Event::KeepaliveTimerExpires => 11,
            Event::DelayOpenTimerExpires => 12,
            Event::IdleHoldTimerExpires => 13,
            Event::TcpConnectionValid => 14,
            Event::TcpCrInvalid => 15,
            Event::TcpCrAcked => 16,
            Event::TcpConnectionConfirmed => 17,
            Event::TcpConnectionFails => 18,
            Event::BgpOpen(_) => 19,
            Event::BgpOpenWithDelayOpenTimerRunning(_) => 20,
            Event::BgpHeaderErr(_) => 21,
            Event::BgpOpenMsgErr(_) => 22,
            Event::OpenCollisionDump => 23,
            Event::NotifMsgVerErr(_) => 24,
            Event::NotifMsg(_) => 25,
            Event::KeepAliveMsg => 26,
            Event::UpdateMsg => 27,
            Event::UpdateMsgErr(_) => 28,
            Event::RouteRefreshMsg | Event::DampingResetTimerExpires => return None,
        })
    }

    /// The timer whose expiry this event reports, if it is one.
    pub(crate) fn expired_timer(&self) -> Option<Timer> {
        Some(match self {
            Event::ConnectRetryTimerExpires => Timer::ConnectRetry,
            Event::HoldTimerExpires => Timer::Hold,
            Event::KeepaliveTimerExpires => Timer::Keepalive,
            Event::DelayOpenTimerExpires => Timer::DelayOpen,
            Event::IdleHoldTimerExpires => Timer::IdleHold,
            Event::DampingResetTimerExpires => Timer::DampingReset,
            _ => return None,
        })
    }
}
