//! Small timing helpers shared by the tasks that arm one deadline at a time
//! (the instance's owner timer, the layer2 task's announcer).

/// Sleeps until `deadline`, or forever without one (a `select!` branch that
/// never fires).
pub async fn sleep_until<T: Into<tokio::time::Instant>>(deadline: Option<T>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
