//! Where and how the API listens: TCP (`[api] listen`, default
//! `127.0.0.1:50051`) or a Unix socket (`unix:/run/ironlb/bgpd.sock`, mode
//! 0660 so that a group can be given access without opening a port), with the
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
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ironlb_proto::bgpd::v1::bgp_service_server::{BgpService, BgpServiceServer};
use ironlb_proto::bgpd::v1::layer2_service_server::{Layer2Service, Layer2ServiceServer};
use tokio::net::{TcpListener, UnixListener};
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tonic::service::Routes;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

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
    /// The path is removed when serving ends.
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Where it listens (the real port when bound to port 0).
    pub fn local_address(&self) -> io::Result<ListenAddress> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().map(ListenAddress::Tcp),
            Listener::Unix(_, path) => Ok(ListenAddress::Unix(path.clone())),
        }
    }
}

/// Removes a socket left by an earlier run, but never a file of another kind.
fn remove_stale_socket(path: &Path) -> Result<(), ServeError> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|source| ServeError::Bind {
                address: ListenAddress::Unix(path.to_path_buf()),
                source,
            })
        }
        Ok(_) => Err(ServeError::NotASocket { path: path.to_path_buf() }),
        Err(_) => Ok(()),
    }
}

/// Binds `address`. A Unix socket replaces a stale one and gets mode 0660.
pub async fn bind(address: &ListenAddress) -> Result<Listener, ServeError> {
    let bind_error = |source| ServeError::Bind { address: address.clone(), source };
    match address {
        ListenAddress::Tcp(socket) => {
            Ok(Listener::Tcp(TcpListener::bind(socket).await.map_err(bind_error)?))
        }
        ListenAddress::Unix(path) => {
            remove_stale_socket(path)?;
            let listener = UnixListener::bind(path).map_err(bind_error)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(UNIX_SOCKET_MODE))
                .map_err(|source| ServeError::Permissions {
                    path: path.clone(),
                    mode: UNIX_SOCKET_MODE,
                    source,
                })?;
            Ok(Listener::Unix(listener, path.clone()))
        }
    }
}

/// `BgpService`, health and reflection as one set of routes. The health
/// reporter says SERVING for the whole server ("") and for
/// `ironlb.bgpd.v1.BgpService`; the daemon may flip it when it shuts down.
pub async fn routes<S: BgpService>(service: S) -> Result<(Routes, HealthReporter), ServeError> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status(ironlb_proto::BGP_SERVICE_NAME, ServingStatus::Serving).await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(ironlb_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let routes = Routes::new(BgpServiceServer::new(service))
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
    let mut server = Server::builder();
    let router = server.add_routes(routes);
    match listener {
        Listener::Tcp(listener) => {
            let incoming = TcpListenerStream::new(listener);
            router.serve_with_incoming_shutdown(incoming, shutdown).await?;
        }
        Listener::Unix(listener, path) => {
            let incoming = UnixListenerStream::new(listener);
            let served = router.serve_with_incoming_shutdown(incoming, shutdown).await;
            // Best effort: a leftover socket is replaced at the next start.
            let _ = std::fs::remove_file(&path);
            served?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
