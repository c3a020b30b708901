//! The task that owns the [`Store`]: HTTP handlers and test helpers send it closures and await
//! their results, so every request sees and changes the store atomically, in one order.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::store::Store;

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// The store task stopped (the server was dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the test API server's store task has stopped")]
pub struct Stopped;

/// A handle to the store task.
#[derive(Clone, Debug)]
pub(crate) struct StoreHandle {
    tx: mpsc::UnboundedSender<Job>,
}

impl StoreHandle {
    pub(crate) fn spawn(mut store: Store) -> (Self, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let task = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                job(&mut store);
            }
        });
        (StoreHandle { tx }, task)
    }

    /// Runs `f` on the store and returns its result.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> R + Send + 'static,
    ) -> Result<R, Stopped> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        self.tx.send(job).map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }
}
