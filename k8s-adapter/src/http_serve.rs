//! The bounded accept loop both of the adapter's HTTP listeners use: `--metrics-address`
//! (`metrics::http`, plain HTTP) and `--webhook-address` (`controller::webhook::server`,
//! HTTPS). One place decides how a listener's resources are bounded, so the two cannot
//! drift apart.
//!
//! Bounds ([`Limits`]): at most `max_connections` connections at once (the next waits in
//! the kernel's backlog, costing this process nothing), request headers within
//! `header_read_timeout` and at most `max_header_bytes`, and one connection (keep-alive
//! included) at most `connection_lifetime`. What a request body may hold is the handler's
//! business (the webhook limits it; the metrics listener never reads one).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// How much one listener lets its clients hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time allowed for a request's headers.
    pub header_read_timeout: Duration,
    /// Longest life of one connection (keep-alive included).
    pub connection_lifetime: Duration,
    /// Largest request head accepted; hyper's floor, [`MIN_HEADER_BYTES`], applies below it.
    pub max_header_bytes: usize,
}

/// The smallest read buffer hyper's HTTP/1 server accepts (it panics below it).
pub const MIN_HEADER_BYTES: usize = 8192;

/// Pause after a failed accept (out of file descriptors, say), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Accepts until the task is dropped or aborted, at most `limits.max_connections` at once,
/// each handed to `connection` and run on its own task. `what` names the listener in logs.
pub async fn serve<F, Fut>(listener: TcpListener, limits: Limits, what: &'static str, connection: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { return };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, listener = what, "accept failed");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let served = connection(stream);
        tokio::spawn(async move {
            served.await;
            drop(permit);
        });
    }
}

/// Serves HTTP/1.1 on one connection within `limits`' header and lifetime bounds, each
/// request answered by `answer`.
pub async fn http1<I, A, Fut>(io: I, limits: Limits, answer: A)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let response = answer(request);
        async move { Ok::<_, Infallible>(response.await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES))
        .serve_connection(TokioIo::new(io), service);
    let _ = tokio::time::timeout(limits.connection_lifetime, connection).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::StatusCode;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TIGHT: Limits = Limits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(5),
        connection_lifetime: Duration::from_secs(60),
        max_header_bytes: 1024, // below hyper's floor: raised to it, never a panic
    };

    /// A server on a free loopback port answering 200 to everything, and its address.
    async fn start() -> (tokio::task::JoinHandle<()>, std::net::SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let served = serve(listener, TIGHT, "test", |s| async move { http1(s, TIGHT, ok).await });
        (tokio::spawn(served), address)
    }

    async fn ok(_: Request<Incoming>) -> Response<Full<Bytes>> {
        Response::new(Full::new(Bytes::from_static(b"ok\n")))
    }

    async fn get(address: std::net::SocketAddr) -> String {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn a_connection_beyond_the_bound_waits_until_one_closes() {
        let (server, address) = start().await;
        // Two idle connections hold both slots.
        let idle: Vec<TcpStream> = vec![
            TcpStream::connect(address).await.unwrap(),
            TcpStream::connect(address).await.unwrap(),
        ];
        let third = tokio::spawn(get(address));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!third.is_finished(), "a third connection was served beside two idle ones");
        drop(idle);
        let response = tokio::time::timeout(Duration::from_secs(5), third).await.unwrap().unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        server.abort();
    }

    #[tokio::test]
    async fn an_oversized_request_head_is_refused_not_buffered() {
        let (server, address) = start().await;
        let mut stream = TcpStream::connect(address).await.unwrap();
        let long =
            format!("GET / HTTP/1.1\r\nx-long: {}\r\n\r\n", "a".repeat(4 * MIN_HEADER_BYTES));
        let _ = stream.write_all(long.as_bytes()).await;
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response).await;
        assert!(
            response.is_empty()
                || response.contains(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.as_str()),
            "{response}"
        );
        assert!(!response.contains("200 OK"), "{response}");
        server.abort();
    }
}
