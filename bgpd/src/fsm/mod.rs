//! The BGP session finite state machine: RFC 4271 §8 (events §8.1, states and
//! transitions §8.2.2), OPEN checks of §6.2, collision detection of §6.8,
//! FSM error subcodes of RFC 6608.
//!
//! Sans-IO: [`Fsm::handle`] takes an [`Event`] and returns the [`Action`]s the
//! session's I/O task executes in order. The FSM never reads a clock or
//! touches a socket: the I/O task runs the [`Timer`]s it is asked to and feeds
//! back their `*TimerExpires` events.
//!
//! # Driving it (what `peer/` feeds)
//!
//! - Operator or daemon: [`Event::ManualStart`], [`Event::AutomaticStart`] (or
//!   their passive and damped forms), [`Event::ManualStop`],
//!   [`Event::AutomaticStop`].
//! - TCP: our connect succeeded → [`Event::TcpCrAcked`]; an inbound connection
//!   from the peer → [`Event::TcpConnectionValid`] then
//!   [`Event::TcpConnectionConfirmed`] (a stranger → [`Event::TcpCrInvalid`]);
//!   a failure, reset or EOF → [`Event::TcpConnectionFails`]. In Idle, refuse
//!   inbound connections. A second connection to a peer whose FSM is past
//!   Active goes through [`collision`].
//! - Decoded messages: OPEN → [`Event::BgpOpen`], KEEPALIVE →
//!   [`Event::KeepAliveMsg`], UPDATE → [`Event::UpdateMsg`] (and to the RIB when
//!   Established), ROUTE-REFRESH → [`Event::RouteRefreshMsg`], NOTIFICATION →
//!   [`Event::NotifMsg`]. Decode errors carry the NOTIFICATION the codec built:
//!   header → [`Event::BgpHeaderErr`], OPEN → [`Event::BgpOpenMsgErr`], UPDATE
//!   needing a session reset → [`Event::UpdateMsgErr`].
//! - Timers: execute [`Action::StartTimer`] and [`Action::StopTimer`]; when
//!   one fires, feed [`Event::timer_expired`]. Every received UPDATE asks for
//!   a HoldTimer restart; the I/O task may do that lazily (note the time of the
//!   last message, and on expiry re-arm for what remains), provided
//!   [`Event::HoldTimerExpires`] is fed only once the hold time has really
//!   passed since the last message.
//!
//! Where we depart from the letter of RFC 4271 §8.2.2, and why:
//! - An expiry for a timer the FSM has stopped is ignored instead of being
//!   "any other event": it raced the StopTimer through the I/O task's queue.
//! - A NOTIFICATION received in OpenSent closes the session without answering
//!   it with an FSM error: the peer has already closed its side.
//! - BgpHeaderErr and BgpOpenMsgErr send the NOTIFICATION they carry in every
//!   state (the RFC's Established text would send an FSM error instead).
//! - Stopping in Connect or Active sends the stop NOTIFICATION when a TCP
//!   connection is up (DelayOpen running), as if SendNOTIFICATIONwithoutOPEN.
//! - ManualStop in Idle cancels a pending automatic restart.
//! - `SessionConfig::passive` never connects, even when the ConnectRetryTimer
//!   fires in Active; the passive start events follow the RFC (listen first,
//!   connect on ConnectRetryTimer expiry).
//! - The KeepaliveTimer is not restarted when an UPDATE is sent: the extra
//!   KEEPALIVEs cost nothing and spare the I/O task one event per UPDATE.
//!
//! Automatic restart and peer oscillation damping (RFC 4271 §8.1.1
//! DampPeerOscillations, left to implementations): after any start event the
//! session is *enabled*. Whenever an enabled session falls to Idle, the FSM
//! starts the IdleHoldTimer and restarts by itself when it fires (listening or
//! connecting as the last start did). The delay starts at
//! `idle_hold_base` (1 s by default) and doubles on every fall (a refused
//! connection counts as much as a reset session) up to
//! `idle_hold_cap` (120 s); once a session has stayed Established for
//! `damping_reset_time` (120 s) it returns to the base. ManualStop disables;
//! OpenCollisionDump ends the FSM for good (the caller discards it).

mod action;
pub mod collision;
mod config;
mod event;
pub mod negotiate;
mod state;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use action::{Action, DownReason};
pub use collision::{Direction, connection_to_dump, resolve_collision};
pub use config::{
    DEFAULT_CONNECT_RETRY_TIME, DEFAULT_DAMPING_RESET_TIME, DEFAULT_HOLD_TIME,
    DEFAULT_IDLE_HOLD_BASE, DEFAULT_IDLE_HOLD_CAP, HostName, SessionConfig,
};
pub use event::Event;
pub use negotiate::{AddPathNegotiated, NegotiatedSession, OpenError, build_open, negotiate};
pub use state::{State, Timer};

use crate::wire::{GracefulRestartCapability, Notification, NotificationKind, OpenMessage};
use state::TimerSet;

/// The HoldTimer while waiting for the peer's OPEN: RFC 4271 §8.2.2 suggests
/// "a large value", four minutes.
pub const INITIAL_HOLD_TIME: Duration = Duration::from_secs(240);

/// What falling to Idle does to the ConnectRetryCounter (RFC 4271 §8.2.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Counter {
    Reset,
    Increment,
    Keep,
}

/// Whether falling to Idle schedules an automatic restart.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Restart {
    IfEnabled,
    Never,
}

/// One BGP session's state machine. See the module documentation.
#[derive(Clone, Debug)]
pub struct Fsm {
    config: SessionConfig,
    local_open: OpenMessage,
    state: State,
    timers: TimerSet,
    connect_retry_counter: u32,
    /// A start event was seen and no ManualStop since: restart from Idle.
    enabled: bool,
    /// Listen instead of connecting when (re)starting.
    passive_start: bool,
    /// The IdleHold delay the next fall to Idle will use.
    idle_hold: Duration,
    /// Set from the accepted OPEN until the session falls to Idle.
    session: Option<Box<NegotiatedSession>>,
}

impl Fsm {
    /// A stopped session in Idle. Nothing happens until a start event.
    pub fn new(config: SessionConfig) -> Self {
        let local_open = build_open(&config);
        let idle_hold = config.idle_hold_base;
        Self {
            config,
            local_open,
            state: State::Idle,
            timers: TimerSet::default(),
            connect_retry_counter: 0,
            enabled: false,
            passive_start: false,
            idle_hold,
            session: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Replaces the graceful restart capability of the OPENs sent from now
    /// on (the R bit clears once a restart's deferral is over, RFC 4724 §4.1).
    pub fn set_graceful_restart(&mut self, capability: Option<GracefulRestartCapability>) {
        self.config.graceful_restart = capability;
        self.local_open = build_open(&self.config);
    }

    /// The OPEN we send.
    pub fn local_open(&self) -> &OpenMessage {
        &self.local_open
    }

    /// The negotiated parameters, from OpenConfirm until the session goes down.
    pub fn session(&self) -> Option<&NegotiatedSession> {
        self.session.as_deref()
    }

    /// RFC 4271 §8.1.1 ConnectRetryCounter.
    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }

    /// The IdleHold delay the next fall to Idle will wait.
    pub fn next_idle_hold(&self) -> Duration {
        self.idle_hold
    }

    /// Whether the FSM believes this timer is running.
    pub fn timer_running(&self, timer: Timer) -> bool {
        self.timers.contains(timer)
    }

    /// Feeds one event and returns what to do.
    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        let mut actions = Vec::new();
        self.handle_into(event, &mut actions);
        actions
    }

    /// As [`Fsm::handle`], appending to a buffer the caller reuses (one
    /// KEEPALIVE or UPDATE at a time, without an allocation each).
    pub fn handle_into(&mut self, event: Event, out: &mut Vec<Action>) {
        if let Some(timer) = event.expired_timer()
            && !self.timers.remove(timer)
        {
            return; // stale: stopped after it fired
        }
        let event = match event {
            Event::NotifMsg(notification)
                if notification.kind() == Some(NotificationKind::UnsupportedVersionNumber) =>
            {
                Event::NotifMsgVerErr(notification)
            }
            // The FSM knows whether its DelayOpenTimer runs.
            Event::BgpOpenWithDelayOpenTimerRunning(open) => Event::BgpOpen(open),
            event => event,
        };
        match self.state {
            State::Idle => self.on_idle(event, out),
            State::Connect | State::Active => self.on_connecting(event, out),
            State::OpenSent => self.on_open_sent(event, out),
            State::OpenConfirm => self.on_open_confirm(event, out),
            State::Established => self.on_established(event, out),
        }
    }

    fn on_idle(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::ManualStart | Event::AutomaticStart => self.start(false, out),
            Event::ManualStartWithPassiveTcpEstablishment
            | Event::AutomaticStartWithPassiveTcpEstablishment => self.start(true, out),
            Event::AutomaticStartWithDampPeerOscillations => self.start_damped(false, out),
            Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment => {
                self.start_damped(true, out);
            }
            Event::IdleHoldTimerExpires if self.enabled => self.start(self.passive_start, out),
            Event::ManualStop(_) => {
                self.enabled = false;
                self.stop_timer(Timer::IdleHold, out);
            }
            // RFC 4271 §8.2.2: every other event leaves Idle as it is.
            _ => {}
        }
    }

    /// Connect and Active differ only in a few events.
    fn on_connecting(&mut self, event: Event, out: &mut Vec<Action>) {
        let delay_open_running = self.timers.contains(Timer::DelayOpen);
        match event {
            Event::ManualStart
            | Event::AutomaticStart
            | Event::ManualStartWithPassiveTcpEstablishment
            | Event::AutomaticStartWithPassiveTcpEstablishment
            | Event::AutomaticStartWithDampPeerOscillations
            | Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment
            | Event::TcpConnectionValid
            | Event::TcpCrInvalid => {}
            Event::ManualStop(notification) => {
                self.enabled = false;
                let reason = self.stop_notification(delay_open_running, notification, out);
                self.fall_to_idle(reason, Counter::Reset, Restart::Never, out);
            }
            Event::AutomaticStop(notification) => {
                let reason = self.stop_notification(delay_open_running, notification, out);
                self.fall_to_idle(reason, Counter::Increment, Restart::IfEnabled, out);
            }
            Event::ConnectRetryTimerExpires => {
                self.stop_timer(Timer::DelayOpen, out);
                self.start_timer(Timer::ConnectRetry, self.config.connect_retry_time, out);
                if self.state == State::Connect {
                    out.push(Action::Disconnect);
                    out.push(Action::Connect);
                } else if !self.config.passive {
                    out.push(Action::Connect);
                    self.set_state(State::Connect, out);
                }
            }
            Event::DelayOpenTimerExpires => self.send_open(out),
            Event::TcpCrAcked | Event::TcpConnectionConfirmed => {
                match self.config.delay_open_time {
                    Some(delay) => {
                        self.stop_timer(Timer::ConnectRetry, out);
                        self.start_timer(Timer::DelayOpen, delay, out);
                    }
                    None => self.send_open(out),
                }
            }
            Event::TcpConnectionFails if self.state == State::Connect && delay_open_running => {
                self.stop_timer(Timer::DelayOpen, out);
                self.start_timer(Timer::ConnectRetry, self.config.connect_retry_time, out);
                out.push(Action::Disconnect);
                self.set_state(State::Active, out);
            }
            Event::TcpConnectionFails => {
                let counter = match self.state {
                    State::Connect => Counter::Keep,
                    _ => Counter::Increment,
                };
                self.fall_to_idle(
                    DownReason::TcpConnectionFailed,
                    counter,
                    Restart::IfEnabled,
                    out,
                );
            }
            Event::BgpOpen(open) if delay_open_running => self.on_open_during_delay(open, out),
            Event::BgpHeaderErr(notification) | Event::BgpOpenMsgErr(notification) => {
                self.send_and_fall(notification, Restart::IfEnabled, out);
            }
            Event::NotifMsgVerErr(notification) => {
                let counter = if delay_open_running { Counter::Keep } else { Counter::Increment };
                let reason = DownReason::NotificationReceived(notification);
                self.fall_to_idle(reason, counter, Restart::IfEnabled, out);
            }
            Event::NotifMsg(notification) => {
                let reason = DownReason::NotificationReceived(notification);
                self.fall_to_idle(reason, Counter::Increment, Restart::IfEnabled, out);
            }
            other => {
                let reason =
                    DownReason::UnexpectedEvent { event: other.number(), state: self.state };
                self.fall_to_idle(reason, Counter::Increment, Restart::IfEnabled, out);
            }
        }
    }

    fn on_open_sent(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::TcpConnectionFails => {
                // RFC 4271 §8.2.2: back to listening; the peer may call again.
                self.stop_timer(Timer::Hold, out);
                out.push(Action::Disconnect);
                self.start_timer(Timer::ConnectRetry, self.config.connect_retry_time, out);
                self.set_state(State::Active, out);
            }
            Event::BgpOpen(open) => match negotiate(&self.config, &self.local_open, &open) {
                Ok(session) => {
                    self.stop_timer(Timer::DelayOpen, out);
                    self.stop_timer(Timer::ConnectRetry, out);
                    out.push(Action::SendKeepalive);
                    self.start_negotiated_timers(&session, out);
                    self.session = Some(Box::new(session));
                    self.set_state(State::OpenConfirm, out);
                }
                Err(error) => self.send_and_fall(error.notification(), Restart::IfEnabled, out),
            },
            Event::NotifMsg(notification) => {
                let reason = DownReason::NotificationReceived(notification);
                self.fall_to_idle(reason, Counter::Increment, Restart::IfEnabled, out);
            }
            event => self.on_open_exchanged(event, out),
        }
    }

    fn on_open_confirm(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::KeepAliveMsg => {
                self.restart_hold_timer(out);
                self.start_timer(Timer::DampingReset, self.config.damping_reset_time, out);
                self.set_state(State::Established, out);
                if let Some(session) = &self.session {
                    out.push(Action::Established(session.clone()));
                }
            }
            event => self.on_open_exchanged(event, out),
        }
    }

    fn on_established(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::KeepAliveMsg | Event::UpdateMsg | Event::RouteRefreshMsg => {
                self.restart_hold_timer(out);
            }
            Event::UpdateMsgErr(notification) => {
                self.send_and_fall(notification, Restart::IfEnabled, out);
            }
            Event::DampingResetTimerExpires => self.idle_hold = self.config.idle_hold_base,
            event => self.on_open_exchanged(event, out),
        }
    }

    /// Events handled alike in OpenSent, OpenConfirm and Established.
    fn on_open_exchanged(&mut self, event: Event, out: &mut Vec<Action>) {
        match event {
            Event::ManualStart
            | Event::AutomaticStart
            | Event::ManualStartWithPassiveTcpEstablishment
            | Event::AutomaticStartWithPassiveTcpEstablishment
            | Event::AutomaticStartWithDampPeerOscillations
            | Event::AutomaticStartWithDampPeerOscillationsAndPassiveTcpEstablishment
            // A second connection is the caller's business (see `collision`).
            | Event::TcpConnectionValid
            | Event::TcpCrInvalid
            | Event::TcpCrAcked
            | Event::TcpConnectionConfirmed => {}
            Event::ManualStop(notification) => {
                self.enabled = false;
                out.push(Action::SendNotification(notification.clone()));
                let reason = DownReason::NotificationSent(notification);
                self.fall_to_idle(reason, Counter::Reset, Restart::Never, out);
            }
            Event::AutomaticStop(notification) => {
                self.send_and_fall(notification, Restart::IfEnabled, out);
            }
            Event::HoldTimerExpires => {
                let notification = Notification::new(NotificationKind::HoldTimerExpired, Vec::new());
                self.send_and_fall(notification, Restart::IfEnabled, out);
            }
            Event::KeepaliveTimerExpires => {
                out.push(Action::SendKeepalive);
                if let Some(interval) = self.session.as_ref().and_then(|s| s.keepalive_duration()) {
                    self.start_timer(Timer::Keepalive, interval, out);
                }
            }
            Event::TcpConnectionFails => {
                let reason = DownReason::TcpConnectionFailed;
                self.fall_to_idle(reason, Counter::Increment, Restart::IfEnabled, out);
            }
            Event::BgpHeaderErr(notification) | Event::BgpOpenMsgErr(notification) => {
                self.send_and_fall(notification, Restart::IfEnabled, out);
            }
            Event::OpenCollisionDump => {
                self.enabled = false;
                let notification =
                    Notification::new(NotificationKind::ConnectionCollisionResolution, Vec::new());
                self.send_and_fall(notification, Restart::Never, out);
            }
            Event::NotifMsgVerErr(notification) => {
                let counter = match self.state {
                    State::Established => Counter::Increment,
                    _ => Counter::Keep,
                };
                let reason = DownReason::NotificationReceived(notification);
                self.fall_to_idle(reason, counter, Restart::IfEnabled, out);
            }
            Event::NotifMsg(notification) => {
                let reason = DownReason::NotificationReceived(notification);
                self.fall_to_idle(reason, Counter::Increment, Restart::IfEnabled, out);
            }
            // RFC 4271 §8.2.2 "any other event", answered per RFC 6608 §4.
            _ => {
                let kind = match self.state {
                    State::OpenSent => NotificationKind::FsmUnexpectedInOpenSent,
                    State::OpenConfirm => NotificationKind::FsmUnexpectedInOpenConfirm,
                    _ => NotificationKind::FsmUnexpectedInEstablished,
                };
                self.send_and_fall(Notification::new(kind, Vec::new()), Restart::IfEnabled, out);
            }
        }
    }

    fn start(&mut self, passive: bool, out: &mut Vec<Action>) {
        self.enabled = true;
        self.passive_start = passive || self.config.passive;
        self.stop_timer(Timer::IdleHold, out);
        self.connect_retry_counter = 0;
        self.start_timer(Timer::ConnectRetry, self.config.connect_retry_time, out);
        if self.passive_start {
            self.set_state(State::Active, out);
        } else {
            out.push(Action::Connect);
            self.set_state(State::Connect, out);
        }
    }

    /// Events 6 and 7: start, unless the session is being held down, in which
    /// case the IdleHoldTimer's expiry starts it.
    fn start_damped(&mut self, passive: bool, out: &mut Vec<Action>) {
        if self.timers.contains(Timer::IdleHold) {
            self.enabled = true;
            self.passive_start = passive || self.config.passive;
        } else {
            self.start(passive, out);
        }
    }

    /// Connect/Active → OpenSent: RFC 4271 §8.2.2 "sends an OPEN message to its
    /// peer, sets the HoldTimer to a large value".
    fn send_open(&mut self, out: &mut Vec<Action>) {
        self.stop_timer(Timer::ConnectRetry, out);
        self.stop_timer(Timer::DelayOpen, out);
        out.push(Action::SendOpen(self.local_open.clone()));
        self.start_timer(Timer::Hold, INITIAL_HOLD_TIME, out);
        self.set_state(State::OpenSent, out);
    }

    /// Event 20: the peer spoke first while we delayed our OPEN.
    fn on_open_during_delay(&mut self, open: OpenMessage, out: &mut Vec<Action>) {
        match negotiate(&self.config, &self.local_open, &open) {
            Ok(session) => {
                self.stop_timer(Timer::ConnectRetry, out);
                self.stop_timer(Timer::DelayOpen, out);
                out.push(Action::SendOpen(self.local_open.clone()));
                out.push(Action::SendKeepalive);
                self.start_negotiated_timers(&session, out);
                self.session = Some(Box::new(session));
                self.set_state(State::OpenConfirm, out);
            }
            Err(error) => self.send_and_fall(error.notification(), Restart::IfEnabled, out),
        }
    }

    /// KeepaliveTimer and HoldTimer from the negotiated hold time; both off
    /// when it is 0 (RFC 4271 §4.4).
    fn start_negotiated_timers(&mut self, session: &NegotiatedSession, out: &mut Vec<Action>) {
        match (session.keepalive_duration(), session.hold_duration()) {
            (Some(keepalive), Some(hold)) => {
                self.start_timer(Timer::Keepalive, keepalive, out);
                self.start_timer(Timer::Hold, hold, out);
            }
            _ => {
                self.stop_timer(Timer::Keepalive, out);
                self.stop_timer(Timer::Hold, out);
            }
        }
    }

    fn restart_hold_timer(&mut self, out: &mut Vec<Action>) {
        if let Some(hold) = self.session.as_ref().and_then(|s| s.hold_duration()) {
            self.start_timer(Timer::Hold, hold, out);
        }
    }

    /// In Connect or Active a NOTIFICATION can only be sent on a connection
    /// that is up, which means the DelayOpenTimer is running.
    fn stop_notification(
        &mut self,
        connected: bool,
        notification: Notification,
        out: &mut Vec<Action>,
    ) -> DownReason {
        if connected {
            out.push(Action::SendNotification(notification.clone()));
            DownReason::NotificationSent(notification)
        } else {
            DownReason::Stopped
        }
    }

    fn send_and_fall(
        &mut self,
        notification: Notification,
        restart: Restart,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::SendNotification(notification.clone()));
        let reason = DownReason::NotificationSent(notification);
        self.fall_to_idle(reason, Counter::Increment, restart, out);
    }

    /// RFC 4271 §8.2.2 "releases all BGP resources, drops the TCP connection,
    /// changes its state to Idle", then the damped automatic restart.
    fn fall_to_idle(
        &mut self,
        reason: DownReason,
        counter: Counter,
        restart: Restart,
        out: &mut Vec<Action>,
    ) {
        for timer in [
            Timer::ConnectRetry,
            Timer::Hold,
            Timer::Keepalive,
            Timer::DelayOpen,
            Timer::DampingReset,
        ] {
            self.stop_timer(timer, out);
        }
        out.push(Action::Disconnect);
        match counter {
            Counter::Reset => self.connect_retry_counter = 0,
            Counter::Increment => {
                self.connect_retry_counter = self.connect_retry_counter.saturating_add(1);
            }
            Counter::Keep => {}
        }
        self.session = None;
        let established = self.state == State::Established;
        out.push(Action::SessionDown { reason, established });
        self.set_state(State::Idle, out);
        if restart == Restart::IfEnabled && self.enabled {
            self.start_timer(Timer::IdleHold, self.idle_hold, out);
            self.idle_hold = self.idle_hold.saturating_mul(2).min(self.config.idle_hold_cap);
        }
    }

    fn set_state(&mut self, to: State, out: &mut Vec<Action>) {
        if self.state != to {
            out.push(Action::StateChanged { from: self.state, to });
            self.state = to;
        }
    }

    fn start_timer(&mut self, timer: Timer, duration: Duration, out: &mut Vec<Action>) {
        self.timers.insert(timer);
        out.push(Action::StartTimer(timer, duration));
    }

    fn stop_timer(&mut self, timer: Timer, out: &mut Vec<Action>) {
        if self.timers.remove(timer) {
            out.push(Action::StopTimer(timer));
        }
    }
}
