//! The tonic `BgpService`: validate the request, hand it to the instance as an
//! [`ApiRequest`] with a oneshot for the answer, await, convert. Holds no state
//! of its own besides the instance's queue, so any number of calls may run
//! concurrently while the instance stays the single owner of the RIB.

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_server::BgpService;
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status};

use crate::api::handler::{ApiRequest, Info};
use crate::instance::InstanceEvent;

/// bgpd's version, as `GetInfo` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The service the daemon serves.
#[derive(Clone, Debug)]
pub struct Service {
    events: mpsc::Sender<InstanceEvent>,
    /// Where the API listens, for `GetInfo.listen`.
    listen: Vec<String>,
}

impl Service {
    pub fn new(events: mpsc::Sender<InstanceEvent>, listen: Vec<String>) -> Self {
        Self { events, listen }
    }

    /// Sends a request built around a fresh oneshot and waits for the answer.
    async fn ask<T>(
        &self,
        build: impl FnOnce(oneshot::Sender<T>) -> ApiRequest,
    ) -> Result<T, Status> {
        let (reply, answer) = oneshot::channel();
        self.events
            .send(InstanceEvent::Api(build(reply)))
            .await
            .map_err(|_| Status::unavailable("bgpd is shutting down"))?;
        answer.await.map_err(|_| Status::unavailable("bgpd is shutting down"))
    }
}

fn info_response(info: Info, listen: &[String]) -> v1::GetInfoResponse {
    v1::GetInfoResponse {
        asn: info.asn,
        router_id: info.router_id.to_string(),
        version: VERSION.to_string(),
        uptime_seconds: info.uptime.as_secs(),
        peer_count: u32::try_from(info.peers.configured).unwrap_or(u32::MAX),
        established_peer_count: u32::try_from(info.peers.established).unwrap_or(u32::MAX),
        path_count: info.prefixes as u64,
        owner_count: u32::try_from(info.owners).unwrap_or(u32::MAX),
        listen: listen.to_vec(),
    }
}

#[tonic::async_trait]
impl BgpService for Service {
    async fn get_info(
        &self,
        _request: Request<v1::GetInfoRequest>,
    ) -> Result<Response<v1::GetInfoResponse>, Status> {
        let info = self.ask(|reply| ApiRequest::GetInfo { reply }).await?;
        Ok(Response::new(info_response(info, &self.listen)))
    }
}
