//! API request validation: arbitrary bytes decoded with prost as one of the
//! request messages that carry a `Path`, a `PeerConfig` or a
//! `Layer2Announcement`, then checked by the same functions the gRPC handlers
//! call (`api::validate`, `api::peer::neighbor`, `api::layer2::validate_set`).
//!
//! Properties: no input panics; a refusal names a field and converts to a
//! gRPC status; a path the API accepted, written back as a `Path` (what
//! ListPaths shows), is accepted again as the same path.

use std::net::IpAddr;

use ironlb_proto::bgpd::v1;
use prost::Message;

use crate::api::ValidationError;
use crate::api::convert::peer::peer_config;
use crate::api::{layer2, peer, validate};

/// The peers the lookup knows: every address whose last octet is even, so
/// that both answers happen.
fn is_peer(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.octets()[3] % 2 == 0,
        IpAddr::V6(v6) => v6.octets()[15] % 2 == 0,
    }
}

/// The input's first octet picks the request type; the rest is its
/// protobuf encoding.
pub fn check(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 6 {
        0 => {
            if let Ok(request) = v1::SetPathsRequest::decode(bytes) {
                set_paths(&request);
            }
        }
        1 => {
            if let Ok(request) = v1::AddPathsRequest::decode(bytes) {
                add_paths(&request);
            }
        }
        2 => {
            if let Ok(request) = v1::DeletePathsRequest::decode(bytes) {
                refusal(validate::delete_paths(&request).err());
            }
        }
        3 => {
            if let Ok(request) = v1::AddPeerRequest::decode(bytes) {
                peer_request(request.peer.as_ref());
            }
        }
        4 => {
            if let Ok(request) = v1::UpdatePeerRequest::decode(bytes) {
                peer_request(request.peer.as_ref());
            }
        }
        _ => {
            if let Ok(request) = v1::SetAnnouncementsRequest::decode(bytes) {
                refusal(layer2::validate_set(&request).err());
            }
        }
    }
}

fn set_paths(request: &v1::SetPathsRequest) {
    let lookup = |address| is_peer(address);
    match validate::set_paths(request, &lookup) {
        Ok(command) => {
            for path in &command.paths {
                let shown = v1::Path::from(path);
                let again = validate::path(0, &shown, &lookup);
                assert_eq!(again.as_ref(), Ok(path), "{shown:?} does not read back");
            }
        }
        Err(error) => refusal(Some(error)),
    }
}

fn add_paths(request: &v1::AddPathsRequest) {
    match validate::add_paths(request, &|address| is_peer(address)) {
        Ok(command) => {
            assert_eq!(command.paths.len(), request.paths.len(), "one result per path");
            for result in command.paths {
                refusal(result.err());
            }
        }
        Err(error) => refusal(Some(error)),
    }
}

fn peer_request(config: Option<&v1::PeerConfig>) {
    match peer::neighbor(config) {
        // What GetPeer shows of it must not panic either.
        Ok(new) => drop(peer_config(&new.neighbor)),
        Err(error) => refusal(Some(error)),
    }
}

/// A refusal names its field, prints, and becomes a gRPC status.
fn refusal(error: Option<ValidationError>) {
    let Some(error) = error else {
        return;
    };
    assert!(!error.field().is_empty(), "a refusal names no field: {error:?}");
    assert!(!error.to_string().is_empty());
    let status = tonic::Status::from(error);
    assert_ne!(status.code(), tonic::Code::Ok);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_set_paths_reads_back() {
        let request = v1::SetPathsRequest {
            owner: "fuzz".into(),
            paths: vec![v1::Path {
                prefix: "198.51.100.0/24".into(),
                next_hop: "192.0.2.7".into(),
                origin: v1::Origin::Igp as i32,
                communities: vec!["65001:7".into(), "no-export".into()],
                large_communities: vec!["65001:1:2".into()],
                extended_communities: vec!["rt:65001:100".into()],
                peers: vec!["192.0.2.2".into()],
                ..v1::Path::default()
            }],
            ..v1::SetPathsRequest::default()
        };
        assert!(validate::set_paths(&request, &|a| is_peer(a)).is_ok());
        let mut bytes = vec![0];
        bytes.extend(request.encode_to_vec());
        check(&bytes);
    }
}
