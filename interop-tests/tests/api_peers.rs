//! bgpd's peer RPCs against FRR 8.4: AddPeer brings a session up, DisablePeer
//! sends Cease / Administrative Shutdown with an RFC 9003 message that FRR
//! records, EnablePeer brings it back, ResetPeer soft in makes FRR receive a
//! ROUTE-REFRESH, and a path restricted to one peer reaches only that FRR.
//!
//! The gRPC client runs on a thread that joined bgpd's network namespace
//! (`setns`), so the API stays on that namespace's loopback.

mod common;

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use common::*;
use interop_tests::Check;
use interop_tests::bgpd::{BgpdConfig, BgpdNeighbor};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor};
use interop_tests::netns::Namespace;
use interop_tests::topology::{Line, ip, line, pair};
use interop_tests::wait_until;
use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

const API: &str = "127.0.0.1:50051";

/// Runs `call` with an API client inside `namespace` and returns its result.
fn api<T, F, Fut>(namespace: &Namespace, call: F) -> T
where
    T: Send + 'static,
    F: FnOnce(BgpServiceClient<Channel>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    interop_tests::api::with_client(namespace, API, UP, call).expect("bgpd's API")
}

fn add_peer(namespace: &Namespace, address: IpAddr, asn: u32) {
    api(namespace, move |mut client| async move {
        let peer = v1::PeerConfig {
            address: address.to_string(),
            remote_asn: asn,
            connect_retry_seconds: Some(1),
            hold_time_seconds: Some(9),
            // bgpd follows RFC 8212: routes cross eBGP only with a policy.
            import_policy: vec!["accept-all".to_owned()],
            export_policy: vec!["accept-all".to_owned()],
            ..v1::PeerConfig::default()
        };
        client.add_peer(v1::AddPeerRequest { peer: Some(peer) }).await.expect("AddPeer");
    });
}

/// `show bgp neighbors X json` of FRR, as text.
fn neighbor_json(frr: &Frr, address: IpAddr) -> String {
    frr.vtysh(&[&format!("show bgp neighbors {address} json")]).unwrap_or_default()
}

fn route_refresh_received(frr: &Frr, address: IpAddr) -> u64 {
    let text = neighbor_json(frr, address);
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return 0 };
    let stats = &json[address.to_string()]["messageStats"];
    ["routeRefreshRecv", "refreshRecv"].iter().filter_map(|k| stats[*k].as_u64()).max().unwrap_or(0)
}

#[test]
fn peer_lifecycle_through_the_api_with_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(&pair.left, &BgpdConfig::new(65001, OURS));
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");
    let theirs = pair.right_v4;

    // AddPeer → Established with FRR.
    add_peer(&pair.left, theirs, 65002);
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("AddPeer brings the session up");

    // ResetPeer soft in → FRR receives a ROUTE-REFRESH.
    let before = route_refresh_received(&frr, pair.left_v4);
    api(&pair.left, move |mut client| async move {
        let request = v1::ResetPeerRequest {
            address: theirs.to_string(),
            kind: v1::ResetKind::SoftIn as i32,
            ..v1::ResetPeerRequest::default()
        };
        client.reset_peer(request).await.expect("ResetPeer soft in");
    });
    wait_until(
        "FRR counts a ROUTE-REFRESH from bgpd",
        ROUTE,
        Duration::from_millis(200),
        || (route_refresh_received(&frr, pair.left_v4) > before).then_some(()),
        || neighbor_json(&frr, pair.left_v4),
    )
    .check("soft in sends ROUTE-REFRESH");

    // DisablePeer with a message → FRR goes down and shows the message.
    api(&pair.left, move |mut client| async move {
        let request = v1::DisablePeerRequest {
            address: theirs.to_string(),
            message: "ironlb maintenance window".to_string(),
        };
        client.disable_peer(request).await.expect("DisablePeer");
    });
    wait_until(
        "FRR records the shutdown communication",
        ROUTE,
        Duration::from_millis(200),
        || {
            let text = neighbor_json(&frr, pair.left_v4);
            (!frr.is_established(pair.left_v4) && text.contains("ironlb maintenance window"))
                .then_some(())
        },
        || neighbor_json(&frr, pair.left_v4),
    )
    .check("DisablePeer shuts the session down with its message");
    let status = frr.neighbor(pair.left_v4).check("FRR neighbour").expect("neighbour");
    assert_eq!(status.last_error_code_subcode.as_deref(), Some("0602"), "{status:?}");

    // EnablePeer → back up.
    api(&pair.left, move |mut client| async move {
        let request = v1::EnablePeerRequest { address: theirs.to_string() };
        client.enable_peer(request).await.expect("EnablePeer");
    });
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("EnablePeer brings it back");
}

#[test]
fn a_per_peer_path_reaches_only_the_chosen_frr() {
    // FRR (first) ── bgpd (middle) ── FRR (last).
    let line = line(["frr-a", "bgpd", "frr-b"]).check("topology");
    let (first, middle_first) = (ip(Line::FIRST), ip(Line::MIDDLE_FIRST));
    let (last, middle_last) = (ip(Line::LAST), ip(Line::MIDDLE_LAST));
    let config = BgpdConfig::new(65001, OURS)
        .neighbor(BgpdNeighbor::new(first, 65002).local_address(middle_first))
        .neighbor(BgpdNeighbor::new(last, 65003).local_address(middle_last));
    let bgpd = start_bgpd(&line.middle, &config);
    let frr_a = Frr::start(
        &line.first,
        &FrrConfig::new(65002, THEIRS).neighbor(FrrNeighbor::new(middle_first, 65001)),
    )
    .check("FRR a starts");
    let frr_b = Frr::start(
        &line.last,
        &FrrConfig::new(65003, "198.51.100.2".parse().expect("literal"))
            .neighbor(FrrNeighbor::new(middle_last, 65001)),
    )
    .check("FRR b starts");
    bgpd.annotate(frr_a.wait_established(middle_first, UP)).check("session with FRR a");
    bgpd.annotate(frr_b.wait_established(middle_last, UP)).check("session with FRR b");

    api(&line.middle, move |mut client| async move {
        let only_b = v1::Path {
            prefix: "203.0.113.10/32".to_string(),
            peers: vec![last.to_string()],
            ..v1::Path::default()
        };
        let everyone = v1::Path { prefix: "203.0.113.20/32".to_string(), ..v1::Path::default() };
        let request = v1::SetPathsRequest {
            owner: "interop".to_string(),
            paths: vec![only_b, everyone],
            grace_time_seconds: None,
        };
        client.set_paths(request).await.expect("SetPaths");
    });
    bgpd.annotate(frr_b.wait_route(net("203.0.113.10/32"), ROUTE, |_| true, middle_last))
        .check("FRR b learns the path meant for it");
    bgpd.annotate(frr_a.wait_route(net("203.0.113.20/32"), ROUTE, |_| true, middle_first))
        .check("FRR a learns the path for everyone");
    // Both UPDATEs left in the same export pass; FRR a has the second one,
    // so the first would be there by now had it been sent.
    assert!(
        frr_a.route(net("203.0.113.10/32")).check("FRR a's table").is_none(),
        "FRR a must not learn a path restricted to FRR b"
    );
}

/// A peer added with `dynamic_asn` EXTERNAL (no AS given) comes up with FRR, which has a
/// concrete AS, and GetPeer reports the AS learned from FRR's OPEN.
#[test]
fn a_dynamic_external_peer_learns_the_as_of_frr() {
    let pair = pair("bgpd", "frr").check("topology");
    let bgpd = start_bgpd(&pair.left, &BgpdConfig::new(65001, OURS));
    let frr =
        Frr::start(&pair.right, &frr_towards_bgpd(65002, 65001, pair.left_v4)).check("FRR starts");
    let theirs = pair.right_v4;
    api(&pair.left, move |mut client| async move {
        let peer = v1::PeerConfig {
            address: theirs.to_string(),
            dynamic_asn: v1::DynamicAsn::External as i32,
            connect_retry_seconds: Some(1),
            hold_time_seconds: Some(9),
            ..v1::PeerConfig::default()
        };
        client.add_peer(v1::AddPeerRequest { peer: Some(peer) }).await.expect("AddPeer");
    });
    bgpd.annotate(frr.wait_established(pair.left_v4, UP)).check("the external peer comes up");
    let peer = api(&pair.left, move |mut client| async move {
        let request = v1::GetPeerRequest { address: theirs.to_string() };
        client.get_peer(request).await.expect("GetPeer").into_inner().peer.expect("the peer")
    });
    let config = peer.config.expect("config");
    assert_eq!((config.remote_asn, config.dynamic_asn), (0, v1::DynamicAsn::External as i32));
    let status = peer.status.expect("status");
    assert_eq!(status.state, v1::SessionState::Established as i32);
    assert_eq!(status.remote_asn, 65002);
}
