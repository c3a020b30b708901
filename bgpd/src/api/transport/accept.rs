//! The API's accept path: a connection cap and an idle timeout, so that
//! clients that connect and say nothing cannot exhaust bgpd's file
//! descriptors or starve its BGP sessions (README "Limits").
//!
//! A task accepts for the server (mini-redis style, with a semaphore): each
//! connection holds one of `max_connections` permits until it closes; one
//! more is accepted and closed at once, so its client gets a prompt error
//! rather than a hang in the listen backlog. Accept errors (EMFILE when the
//! process is out of descriptors) back off, doubling from 10 ms to 1 s, and
//! are logged once per burst: never a busy loop. Each connection is wrapped
//! in [`Limited`], which fails its reads with `TimedOut` once nothing has
//! arrived for `idle_timeout`; the server then closes it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::Connected;

/// Descriptors kept out of the API's reach for BGP sessions, their
/// listeners, the state files and the layer2 sockets: the API's
/// `max_connections` is lowered to leave at least this many free.
pub const FD_RESERVE: u64 = 512;

/// Longest pause after failed accepts.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// First pause after a failed accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);

/// The accept path's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

impl ConnectionLimits {
    /// `max_connections` lowered, if need be, to leave [`FD_RESERVE`]
    /// descriptors of `fd_limit` to the rest of bgpd (at least one).
    pub fn within_fd_limit(self, fd_limit: u64) -> Self {
        let room = usize::try_from(fd_limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
        Self { max_connections: self.max_connections.min(room).max(1), ..self }
    }
}

/// A listener the accept task can drive.
pub trait Accept: Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Connected + Send + Unpin + 'static;
    fn accept_one(&self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

impl Accept for TcpListener {
    type Io = TcpStream;
    async fn accept_one(&self) -> io::Result<TcpStream> {
        let (stream, _) = self.accept().await?;
        // gRPC calls are small and latency-bound.
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

impl Accept for UnixListener {
    type Io = UnixStream;
    async fn accept_one(&self) -> io::Result<UnixStream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

/// The connections for the server, limited; ends when the server drops it.
pub fn incoming<L: Accept>(
    listener: L,
    limits: ConnectionLimits,
) -> impl tokio_stream::Stream<Item = io::Result<Limited<L::Io>>> + Send + 'static {
    let (sender, receiver) = mpsc::channel(1);
    tokio::spawn(accept_loop(listener, limits, sender));
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

async fn accept_loop<L: Accept>(
    listener: L,
    limits: ConnectionLimits,
    sender: mpsc::Sender<io::Result<Limited<L::Io>>>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut failing = false;
    let mut refusing = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept_one() => accepted,
            () = sender.closed() => return,
        };
        match accepted {
            Ok(stream) => {
                failing = false;
                backoff = ACCEPT_BACKOFF_MIN;
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    if !refusing {
                        tracing::warn!(
                            max_connections = limits.max_connections,
                            "API connection refused: the most [api] max_connections allows \
                             are open (logged once until one is accepted again)"
                        );
                    }
                    refusing = true;
                    drop(stream);
                    continue;
                };
                refusing = false;
                let connection = Limited::new(stream, permit, limits.idle_timeout);
                if sender.send(Ok(connection)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(
                        %error,
                        "API accept failed; backing off (logged once until an accept succeeds)"
                    );
                }
                failing = true;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// One API connection: holds its permit, and fails reads after
/// `idle_timeout` without a byte from the client.
pub struct Limited<Io> {
    io: Io,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    _permit: OwnedSemaphorePermit,
}

impl<Io> Limited<Io> {
    fn new(io: Io, permit: OwnedSemaphorePermit, idle_timeout: Duration) -> Self {
        let idle = Box::pin(tokio::time::sleep(idle_timeout));
        Self { io, idle, idle_timeout, _permit: permit }
    }
}

impl<Io: Connected> Connected for Limited<Io> {
    type ConnectInfo = Io::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Limited<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let deadline = Instant::now() + this.idle_timeout;
                    this.idle.as_mut().reset(deadline);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "API connection idle for longer than [api] idle_timeout",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Limited<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio_stream::StreamExt;

    use super::*;

    #[test]
    fn the_cap_leaves_the_fd_reserve() {
        let limits =
            ConnectionLimits { max_connections: 256, idle_timeout: Duration::from_secs(1) };
        assert_eq!(limits.within_fd_limit(1_048_576).max_connections, 256);
        assert_eq!(limits.within_fd_limit(1024).max_connections, 256);
        assert_eq!(limits.within_fd_limit(600).max_connections, 88);
        assert_eq!(limits.within_fd_limit(100).max_connections, 1);
    }

    #[tokio::test]
    async fn one_over_the_cap_is_closed_and_idle_ones_time_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let limits =
            ConnectionLimits { max_connections: 2, idle_timeout: Duration::from_millis(300) };
        let mut incoming = Box::pin(incoming(listener, limits));
        let _a = TcpStream::connect(address).await.unwrap();
        let _b = TcpStream::connect(address).await.unwrap();
        let mut first = incoming.next().await.unwrap().unwrap();
        let _second = incoming.next().await.unwrap().unwrap();
        // The third is closed by the server at once: its read sees EOF.
        let mut c = TcpStream::connect(address).await.unwrap();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), c.read(&mut byte)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        // The first, silent, times out.
        let started = Instant::now();
        let error = first.read(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn unix_sockets_have_the_same_cap() {
        let path = std::env::temp_dir().join(format!("bgpd-accept-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let limits = ConnectionLimits { max_connections: 1, idle_timeout: Duration::from_secs(60) };
        let mut incoming = Box::pin(incoming(listener, limits));
        let _a = UnixStream::connect(&path).await.unwrap();
        let _first = incoming.next().await.unwrap().unwrap();
        let mut b = UnixStream::connect(&path).await.unwrap();
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), b.read(&mut byte)).await;
        let _ = std::fs::remove_file(&path);
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    }
}
