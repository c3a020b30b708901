//! One line for logs on why a session ended.

use crate::fsm::DownReason;

/// [`describe`], with the cause of a TCP failure when known
/// ("TCP connection failed or closed: Connection reset by peer (os error 104)").
pub fn describe_with_cause(reason: &DownReason, cause: Option<String>) -> String {
    match (reason, cause) {
        (DownReason::TcpConnectionFailed, Some(cause)) => format!("{}: {cause}", describe(reason)),
        _ => describe(reason),
    }
}

/// One line for logs: what NOTIFICATION or failure ended the session.
pub fn describe(reason: &DownReason) -> String {
    match reason {
        DownReason::NotificationSent(n) => format!("sent NOTIFICATION {n}"),
        DownReason::NotificationReceived(n) => format!("received NOTIFICATION {n}"),
        DownReason::TcpConnectionFailed => "TCP connection failed or closed".to_string(),
        DownReason::Stopped => "stopped".to_string(),
        DownReason::UnexpectedEvent { event, state } => {
            format!("unexpected event {event:?} in state {state:?}")
        }
    }
}
