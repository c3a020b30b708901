//! Reaching bgpd: turn `--api` into a gRPC endpoint (TCP or a Unix socket, as
//! bgpd's `[api] listen` takes them), connect with a deadline, and turn every
//! failed call into a [`CtlError`] that says whether bgpd was unreachable,
//! slow, or refused.

use std::future::Future;
use std::time::Duration;

use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use ironlb_proto::bgpd::v1::layer2_service_client::Layer2ServiceClient;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::error::{CtlError, reason};

/// Where bgpd is and how long to wait for it.
#[derive(Clone, Debug)]
pub struct Target {
    /// `--api` as the user gave it, for messages.
    pub api: String,
    /// Deadline for the connection and for each answer.
    pub timeout: Duration,
}

/// A connected client and its target.
pub struct Api {
    pub client: BgpServiceClient<Channel>,
    /// Layer2Service, on the same connection.
    pub layer2: Layer2ServiceClient<Channel>,
    pub target: Target,
}

/// The URI tonic connects to: `unix:/path` as is (tonic dials Unix sockets
/// itself), a URI with a scheme as is, and `HOST:PORT` over plain HTTP/2.
pub fn endpoint(api: &str) -> Result<Endpoint, CtlError> {
    let bad = || CtlError::BadApi(api.to_string());
    let uri = if let Some(path) = api.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(bad());
        }
        api.to_string()
    } else if api.starts_with("http://") || api.starts_with("https://") {
        api.to_string()
    } else {
        format!("http://{api}")
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|_| bad())?;
    // A URI without a port would dial port 80, never bgpd.
    if !api.starts_with("unix:") && endpoint.uri().port_u16().is_none() {
        return Err(bad());
    }
    Ok(endpoint)
}

/// Connects to bgpd within `target.timeout`.
pub async fn connect(target: Target) -> Result<Api, CtlError> {
    let endpoint = endpoint(&target.api)?.connect_timeout(target.timeout);
    let channel = match tokio::time::timeout(target.timeout, endpoint.connect()).await {
        Err(_) => return Err(CtlError::Timeout { api: target.api, timeout: target.timeout }),
        Ok(Err(error)) => {
            return Err(CtlError::Unreachable { reason: reason(&error), api: target.api });
        }
        Ok(Ok(channel)) => channel,
    };
    Ok(Api {
        client: BgpServiceClient::new(channel.clone()),
        layer2: Layer2ServiceClient::new(channel),
        target,
    })
}

impl Target {
    /// Awaits one call with the deadline, unwrapping its answer.
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<tonic::Response<T>, Status>>,
    ) -> Result<T, CtlError> {
        self.within(call).await.map(tonic::Response::into_inner)
    }

    /// Awaits `future` (a call, or the next message of a stream) with the
    /// deadline.
    pub async fn within<T>(
        &self,
        future: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, CtlError> {
        match tokio::time::timeout(self.timeout, future).await {
            Err(_) => Err(self.timed_out()),
            Ok(result) => result.map_err(|status| self.status(status)),
        }
    }

    /// The error for a deadline that passed.
    pub fn timed_out(&self) -> CtlError {
        CtlError::Timeout { api: self.api.clone(), timeout: self.timeout }
    }

    /// Classifies an error status: UNAVAILABLE means the connection (or the
    /// daemon) is gone; everything else is bgpd's answer.
    pub fn status(&self, status: Status) -> CtlError {
        match status.code() {
            Code::Unavailable => {
                let reason = match std::error::Error::source(&status) {
                    Some(source) => reason(source),
                    None => status.message().to_string(),
                };
                CtlError::Unreachable { api: self.api.clone(), reason }
            }
            code => CtlError::Refused { code, message: status.message().to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_addresses_become_endpoints() {
        for (api, uri) in [
            ("127.0.0.1:50051", "http://127.0.0.1:50051/"),
            ("[::1]:50051", "http://[::1]:50051/"),
            ("localhost:9", "http://localhost:9/"),
            ("http://127.0.0.1:1", "http://127.0.0.1:1/"),
        ] {
            assert_eq!(endpoint(api).map(|e| e.uri().to_string()).ok(), Some(uri.into()), "{api}");
        }
        assert!(endpoint("unix:/run/ironlb/bgpd.sock").is_ok());
        for bad in ["", "unix:", "127.0.0.1", "a b:1", "http://", "::1:50051:x"] {
            assert!(matches!(endpoint(bad), Err(CtlError::BadApi(_))), "{bad}");
        }
    }
}
