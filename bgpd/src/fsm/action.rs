//! FSM outputs: what the I/O task must do, in order, with no logic of its own.

use std::time::Duration;

use crate::wire::{Notification, OpenMessage};

use super::negotiate::NegotiatedSession;
use super::state::{State, Timer};

/// One thing for the I/O task to do. Execute a batch in order: a
/// [`Action::SendNotification`] always comes before the [`Action::Disconnect`]
/// that closes the connection it travels on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer (port 179). Success is
    /// [`Event::TcpCrAcked`](super::Event::TcpCrAcked), failure
    /// [`Event::TcpConnectionFails`](super::Event::TcpConnectionFails).
    Connect,
    /// Close the session's TCP connection, or abandon the connection attempt,
    /// if there is one: flush what is queued (a NOTIFICATION), then drop the
    /// socket and its buffers.
    Disconnect,
    /// Send this OPEN.
    SendOpen(OpenMessage),
    /// Send a KEEPALIVE.
    SendKeepalive,
    /// Send this NOTIFICATION.
    SendNotification(Notification),
    /// (Re)start a timer: a running one is cancelled first. When it fires, feed
    /// [`Event::timer_expired`](super::Event::timer_expired).
    StartTimer(Timer, Duration),
    /// Cancel a timer. An expiry already queued is ignored by the FSM.
    StopTimer(Timer),
    /// The session reached Established with these parameters: UPDATEs may flow.
    Established(Box<NegotiatedSession>),
    /// The session went down to Idle. `established` says whether it had reached
    /// Established (and so whether routes learned from the peer must go).
    SessionDown { reason: DownReason, established: bool },
    /// The state changed (for logs, the API and metrics).
    StateChanged { from: State, to: State },
}

/// Why a session went to Idle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownReason {
    /// We sent this NOTIFICATION: a stop, an error we found, hold timer expiry
    /// (4/0), an unexpected message (code 5), a collision (6/7).
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The TCP connection failed or was closed without a NOTIFICATION.
    TcpConnectionFailed,
    /// Stopped (manually or automatically) before any BGP message was exchanged.
    Stopped,
    /// An event with no meaning in the state (RFC 4271 "any other event"
    /// before OPEN was sent, where no NOTIFICATION can be sent): the RFC 4271
    /// §8.1 event number.
    UnexpectedEvent { event: Option<u8>, state: State },
}
