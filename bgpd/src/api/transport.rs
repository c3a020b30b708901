//! Where and how the API listens: TCP (`[api] listen`, default
//! `127.0.0.1:50051`) or a Unix socket (`unix:/run/ironlb/bgpd.sock`, mode
//! 0660 so that a group can be given access without opening a port; a live
//! socket of another process is never taken over, see [`bind`]), with the
//! standard gRPC health service (`grpc.health.v1.Health`) and server
//! reflection (`grpc.reflection.v1`, and `grpc.reflection.v1alpha` for the
//! clients that speak only that: Python's grpcio-reflection, Postman, grpcui,
//! older grpcurl) beside `BgpService` and `Layer2Service`. [`measured`] wraps
//! the routes in the metrics layer (`crate::metrics::api`).
//!
//! Generic over the `BgpService` implementation: the daemon plugs its
//! handlers in; tests plug in a stub.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ironlb_proto::bgpd::v1::bgp_service_server::{BgpService, BgpServiceServer};
use ironlb_proto::bgpd::v1::layer2_service_server::{Layer2Service, Layer2ServiceServer};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

pub mod accept;
pub use accept::ConnectionLimits;

/// The default `[api] listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// File mode of the Unix socket: owner and group may connect.
pub const UNIX_SOCKET_MODE: u32 = 0o660;

/// One address the API listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddress {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// A listen address that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "listen address {0:?} is neither ADDRESS:PORT (\"127.0.0.1:50051\", \"[::1]:50051\") nor unix:PATH"
)]
pub struct ListenAddressError(pub String);

impl FromStr for ListenAddress {
    type Err = ListenAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(ListenAddressError(s.to_string()));
            }
            return Ok(ListenAddress::Unix(PathBuf::from(path)));
        }
        SocketAddr::from_str(s)
            .map(ListenAddress::Tcp)
            .map_err(|_| ListenAddressError(s.to_string()))
    }
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddress::Tcp(address) => address.fmt(f),
            ListenAddress::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Why the API could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {address}: {source}")]
    Bind { address: ListenAddress, source: io::Error },
    /// Another process answers on the Unix socket: it is not taken over.
    #[error("cannot listen on unix:{}: address in use (another process answers on it)", path.display())]
    InUse { path: PathBuf },
    #[error("{path:?} exists and is not a socket; not replacing it")]
    NotASocket { path: PathBuf },
    #[error("cannot set mode {mode:o} on {path:?}: {source}")]
    Permissions { path: PathBuf, mode: u32, source: io::Error },
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A bound listener, ready to serve.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    /// The path is removed when serving ends, if it is still this socket.
    Unix(UnixListener, PathBuf, SocketFile),
}

/// Which file a Unix socket is (device and inode), so a server removes the
/// socket file at its path only if it is still the one it created, never one
/// another process bound there since.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SocketFile {
    dev: u64,
    ino: u64,
}

impl SocketFile {
    fn of(path: &Path) -> io::Result<Self> {
        let metadata = std::fs::symlink_metadata(path)?;
        Ok(Self { dev: metadata.dev(), ino: metadata.ino() })
    }
}

impl Listener {
    /// Where it listens (the real port when bound to port 0).
    pub fn local_address(&self) -> io::Result<ListenAddress> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().map(ListenAddress::Tcp),
            Listener::Unix(_, path, _) => Ok(ListenAddress::Unix(path.clone())),
        }
    }
}

/// How long a probe of an existing Unix socket may take to be answered.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Removes a socket left by an earlier run, but never a file of another kind
/// and never a live socket: the path is probed with a connect first. Only a
/// refused connection (nobody listens: a stale socket) lets it be removed;
/// an accepted one, a full backlog (`EAGAIN`) or a probe that does not finish
/// means another process serves there, which is refused like a TCP port in use.
async fn remove_stale_socket(path: &Path) -> Result<(), ServeError> {
    let bind_error =
        |source| ServeError::Bind { address: ListenAddress::Unix(path.to_path_buf()), source };
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(path)).await {
                Ok(Err(error)) if error.kind() == io::ErrorKind::ConnectionRefused => {}
                Ok(Err(error)) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                Ok(Err(error)) if error.kind() != io::ErrorKind::WouldBlock => {
                    return Err(bind_error(error));
                }
                Ok(_) | Err(_) => return Err(ServeError::InUse { path: path.to_path_buf() }),
            }
            match std::fs::remove_file(path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(bind_error(error)),
                _ => Ok(()),
            }
        }
        Ok(_) => Err(ServeError::NotASocket { path: path.to_path_buf() }),
        Err(_) => Ok(()),
    }
}

/// Binds `address`. A Unix socket replaces a stale one (never a live one) and
/// gets mode 0660.
pub async fn bind(address: &ListenAddress) -> Result<Listener, ServeError> {
    let bind_error = |source| ServeError::Bind { address: address.clone(), source };
    match address {
        ListenAddress::Tcp(socket) => {
            Ok(Listener::Tcp(TcpListener::bind(socket).await.map_err(bind_error)?))
        }
        ListenAddress::Unix(path) => {
            remove_stale_socket(path).await?;
            let listener = UnixListener::bind(path).map_err(|error| {
                if error.kind() == io::ErrorKind::AddrInUse {
                    ServeError::InUse { path: path.clone() }
                } else {
                    bind_error(error)
                }
            })?;
            let file = SocketFile::of(path).map_err(bind_error)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(UNIX_SOCKET_MODE))
                .map_err(|source| ServeError::Permissions {
                    path: path.clone(),
                    mode: UNIX_SOCKET_MODE,
                    source,
                })?;
            Ok(Listener::Unix(listener, path.clone(), file))
        }
    }
}

/// `BgpService`, health and reflection as one set of routes. The health
/// reporter says SERVING for the whole server ("") and for
/// `ironlb.bgpd.v1.BgpService`; the daemon may flip it when it shuts down.
/// `BgpService` requests may be up to `[api] max_message_bytes` (default
/// 64 MiB, well over a million IPv4 paths per `SetPaths`), not gRPC's usual 4 MiB.
pub async fn routes<S: BgpService>(service: S) -> Result<(Routes, HealthReporter), ServeError> {
    routes_limited(service, crate::config::ApiLimits::default().max_message_bytes as usize).await
}

/// [`routes`] with `max_message_bytes` for `BgpService` requests.
pub async fn routes_limited<S: BgpService>(
    service: S,
    max_message_bytes: usize,
) -> Result<(Routes, HealthReporter), ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status(ironlb_proto::BGP_SERVICE_NAME, ServingStatus::Serving).await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ironlb_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let bgp = BgpServiceServer::new(service).max_decoding_message_size(max_message_bytes);
    let routes = Routes::new(bgp)
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?);
    Ok((routes, reporter))
}

/// `routes` with every call counted and timed into `metrics`.
pub fn measured(routes: Routes, metrics: crate::metrics::ApiMetrics) -> Routes {
    Routes::from(routes.into_axum_router().layer(crate::metrics::ApiMetricsLayer::new(metrics)))
}

/// Adds `Layer2Service` beside `BgpService` and marks it SERVING. Its
/// messages are in the same descriptor set, so reflection already knows it.
pub async fn add_layer2<L: Layer2Service>(
    routes: Routes,
    reporter: &HealthReporter,
    layer2: L,
) -> Routes {
    reporter.set_service_status(ironlb_proto::LAYER2_SERVICE_NAME, ServingStatus::Serving).await;
    routes.add_service(Layer2ServiceServer::new(layer2))
}

/// Serves `routes` on `listener` until `shutdown` completes, then lets
/// in-flight calls finish. A Unix socket file is removed afterwards.
pub async fn serve(
    listener: Listener,
    routes: Routes,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let limits = crate::config::ApiLimits::default();
    let limits = ConnectionLimits {
        max_connections: limits.max_connections as usize,
        idle_timeout: limits.idle_timeout,
    };
    serve_limited(listener, routes, limits, shutdown).await
}

/// [`serve`] with the accept path's limits (see [`accept`]). HTTP/2 PINGs
/// every third of the idle timeout keep a live client's quiet connection
/// open and close one whose client stopped answering.
pub async fn serve_limited(
    listener: Listener,
    routes: Routes,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let ping = (limits.idle_timeout / 3).max(std::time::Duration::from_millis(100));
    let mut server =
        Server::builder().http2_keepalive_interval(Some(ping)).http2_keepalive_timeout(Some(ping));
    let router = server.add_routes(routes);
    match listener {
        Listener::Tcp(listener) => {
            let incoming = accept::incoming(listener, limits);
            router.serve_with_incoming_shutdown(incoming, shutdown).await?;
        }
        Listener::Unix(listener, path, file) => {
            let incoming = accept::incoming(listener, limits);
            let served = router.serve_with_incoming_shutdown(incoming, shutdown).await;
            // Only our own socket: another process may have bound the path
            // since (after removing ours). Best effort: a leftover socket is
            // replaced at the next start.
            if SocketFile::of(&path).is_ok_and(|now| now == file) {
                let _ = std::fs::remove_file(&path);
            }
            served?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
