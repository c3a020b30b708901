//! The gRPC channel to the local bgpd (`host:port`, `http://host:port` or `unix:/path`),
//! shared by the client task ([`super::client`]) and the layer2 task's session watch and
//! clean stop ([`super::layer2`]).

use hyper_util::rt::TokioIo;
use thiserror::Error;
use tonic::transport::{Channel, Endpoint};

/// bgpd cannot be reached.
#[derive(Debug, Error)]
#[error("connecting to bgpd at {endpoint}: {source}")]
pub struct ConnectError {
    pub endpoint: String,
    pub source: tonic::transport::Error,
}

/// Opens a channel to `endpoint`.
pub async fn connect(endpoint: &str) -> Result<Channel, ConnectError> {
    let err = |source| ConnectError { endpoint: endpoint.to_owned(), source };
    if let Some(path) = endpoint.strip_prefix("unix:") {
        let path = path.to_owned();
        // The URI is required by tonic but unused: the connector dials the socket.
        return Endpoint::from_static("http://bgpd.local")
            .connect_with_connector(tower::service_fn(move |_| {
                let path = path.clone();
                async move {
                    Ok::<_, std::io::Error>(TokioIo::new(
                        tokio::net::UnixStream::connect(path).await?,
                    ))
                }
            }))
            .await
            .map_err(err);
    }
    let uri =
        if endpoint.contains("://") { endpoint.to_owned() } else { format!("http://{endpoint}") };
    Endpoint::from_shared(uri).map_err(err)?.connect().await.map_err(err)
}
