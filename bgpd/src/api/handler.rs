//! The instance side of the API: each [`ApiRequest`] carries its validated
//! input and a oneshot sender for the answer. The instance task owns the RIB
//! and the owner state, so these functions run inside it and nothing else
//! ever touches them; the tonic service only validates, asks and converts.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::api::Owners;
use crate::rib::Rib;
use crate::wire::Family;

/// A request from the gRPC service to the instance.
#[derive(Debug)]
pub enum ApiRequest {
    GetInfo { reply: oneshot::Sender<Info> },
}

/// What the instance knows about its peers, for the counts of [`Info`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerCounts {
    pub configured: usize,
    pub established: usize,
}

/// The daemon's identity and counts (`GetInfo`), in domain types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    pub asn: u32,
    pub router_id: std::net::Ipv4Addr,
    pub uptime: Duration,
    pub peers: PeerCounts,
    /// Prefixes with a best path, all families.
    pub prefixes: usize,
    pub owners: usize,
}

/// Answers `GetInfo` from the instance's state.
pub fn get_info(rib: &Rib, owners: &Owners, started: Instant, peers: PeerCounts) -> Info {
    let local = rib.local();
    Info {
        asn: local.asn,
        router_id: local.router_id,
        uptime: started.elapsed(),
        peers,
        prefixes: Family::ALL.iter().map(|family| rib.counts(*family).prefixes).sum(),
        owners: owners.len(),
    }
}

/// Everything of the instance an API request may need, borrowed for one call.
pub struct Context<'a> {
    pub rib: &'a mut Rib,
    pub owners: &'a mut Owners,
    pub started: Instant,
    pub peers: PeerCounts,
}

/// Handles one request. Returns whether the Loc-RIB changed, so the instance
/// pumps exports. A dropped reply (the client went away) is not an error.
pub fn handle(request: ApiRequest, context: Context<'_>) -> bool {
    match request {
        ApiRequest::GetInfo { reply } => {
            let info = get_info(context.rib, context.owners, context.started, context.peers);
            let _ = reply.send(info);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::rib::LocalInfo;

    #[test]
    fn get_info_reports_identity_and_counts() {
        let rib = Rib::new(LocalInfo { asn: 65001, router_id: Ipv4Addr::new(192, 0, 2, 1) });
        let owners = Owners::new();
        let peers = PeerCounts { configured: 3, established: 1 };
        let info = get_info(&rib, &owners, Instant::now(), peers);
        assert_eq!(info.asn, 65001);
        assert_eq!(info.router_id, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(info.peers, peers);
        assert_eq!(info.prefixes, 0);
        assert_eq!(info.owners, 0);
    }
}
