//! The speaker against the in-process API server and a fake bgpd (a small tonic
//! `BgpService` that records what it is sent): ETP Cluster and Local, endpoint readiness,
//! Service deletion, re-sync after bgpd restarts, and readiness.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ironlb_proto::bgpd::v1::bgp_service_server::{BgpService, BgpServiceServer};
use ironlb_proto::bgpd::v1::{
    AddPathsRequest, AddPathsResponse, AddPeerRequest, AddPeerResponse, DeletePathsRequest,
    DeletePathsResponse, DeletePeerRequest, DeletePeerResponse, ListPeersRequest,
    ListPeersResponse, Path, PathOutcome, PathResult, Peer, PeerConfig, SessionKeepAliveAck,
    SessionOpened, SessionRequest, SessionResponse, SetPathsRequest, SetPathsResponse,
    UpdatePeerRequest, UpdatePeerResponse, session_request, session_response,
};
use ironlb_test_apiserver::TestApiServer;
use k8s_adapter::speaker::runtime::{self, SpeakerOptions};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status};

/// What the fake bgpd holds and was asked.
#[derive(Debug, Default, Clone)]
struct FakeState {
    peers: BTreeMap<String, PeerConfig>,
    /// Owner -> its paths.
    paths: BTreeMap<String, Vec<Path>>,
    owners_opened: Vec<String>,
    add_peer_calls: usize,
    set_paths_calls: usize,
    add_paths_calls: usize,
    /// Refuse every SetPaths (INVALID_ARGUMENT), as bgpd does for a path it cannot take.
    reject_paths: bool,
    /// Answer Session with UNIMPLEMENTED, as a bgpd without owner sessions does.
    no_sessions: bool,
}

#[derive(Clone)]
struct FakeBgpd {
    state: Arc<Mutex<FakeState>>,
    changed: watch::Sender<u64>,
    /// Bumping it ends every open Session stream (bgpd "restarts").
    kill: watch::Sender<u64>,
}

impl FakeBgpd {
    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Simulates a bgpd restart: forgets everything and drops the sessions.
    fn restart(&self) {
        let mut s = self.state.lock().unwrap();
        *s = FakeState { no_sessions: s.no_sessions, ..FakeState::default() };
        drop(s);
        self.kill.send_modify(|n| *n += 1);
        self.bump();
    }

    async fn wait(&self, what: &str, pred: impl Fn(&FakeState) -> bool) -> FakeState {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let snapshot = self.state.lock().unwrap().clone();
            if pred(&snapshot) {
                return snapshot;
            }
            if tokio::time::timeout_at(deadline, rx.changed()).await.is_err() {
                panic!("fake bgpd never saw: {what}; state {snapshot:#?}");
            }
        }
    }
}

#[tonic::async_trait]
impl BgpService for FakeBgpd {
    async fn list_owners(
        &self,
        _: Request<ironlb_proto::bgpd::v1::ListOwnersRequest>,
    ) -> Result<Response<ironlb_proto::bgpd::v1::ListOwnersResponse>, Status> {
        let s = self.state.lock().unwrap();
        let owners = s
            .paths
            .iter()
            .map(|(name, paths)| ironlb_proto::bgpd::v1::Owner {
                name: name.clone(),
                path_count: paths.len() as u64,
                ..Default::default()
            })
            .collect();
        Ok(Response::new(ironlb_proto::bgpd::v1::ListOwnersResponse { owners }))
    }

    async fn list_peers(
        &self,
        _: Request<ListPeersRequest>,
    ) -> Result<Response<ListPeersResponse>, Status> {
        let peers: Vec<PeerConfig> = self.state.lock().unwrap().peers.values().cloned().collect();
        let peers = peers.into_iter().map(|c| Peer { config: Some(c), status: None }).collect();
        Ok(Response::new(ListPeersResponse { peers }))
    }

    async fn add_peer(
        &self,
        r: Request<AddPeerRequest>,
    ) -> Result<Response<AddPeerResponse>, Status> {
        let config = r.into_inner().peer.ok_or_else(|| Status::invalid_argument("peer"))?;
        {
            let mut s = self.state.lock().unwrap();
            if s.peers.contains_key(&config.address) {
                return Err(Status::already_exists(config.address));
            }
            s.add_peer_calls += 1;
            s.peers.insert(config.address.clone(), config);
        }
        self.bump();
        Ok(Response::new(AddPeerResponse { peer: None }))
    }

    async fn update_peer(
        &self,
        r: Request<UpdatePeerRequest>,
    ) -> Result<Response<UpdatePeerResponse>, Status> {
        let config = r.into_inner().peer.ok_or_else(|| Status::invalid_argument("peer"))?;
        self.state.lock().unwrap().peers.insert(config.address.clone(), config);
        self.bump();
        Ok(Response::new(UpdatePeerResponse::default()))
    }

    async fn delete_peer(
        &self,
        r: Request<DeletePeerRequest>,
    ) -> Result<Response<DeletePeerResponse>, Status> {
        let address = r.into_inner().address;
        if self.state.lock().unwrap().peers.remove(&address).is_none() {
            return Err(Status::not_found(address));
        }
        self.bump();
        Ok(Response::new(DeletePeerResponse {}))
    }

    async fn set_paths(
        &self,
        r: Request<SetPathsRequest>,
    ) -> Result<Response<SetPathsResponse>, Status> {
        let r = r.into_inner();
        {
            let mut s = self.state.lock().unwrap();
            if s.reject_paths {
                return Err(Status::invalid_argument("paths[0].prefix refused by the test"));
            }
            for p in &r.paths {
                if let Some(peer) = p.peers.iter().find(|a| !s.peers.contains_key(*a)) {
                    return Err(Status::not_found(format!("peer {peer}")));
                }
            }
            s.set_paths_calls += 1;
            s.paths.insert(r.owner, r.paths);
        }
        self.bump();
        Ok(Response::new(SetPathsResponse::default()))
    }

    async fn add_paths(
        &self,
        r: Request<AddPathsRequest>,
    ) -> Result<Response<AddPathsResponse>, Status> {
        let r = r.into_inner();
        let mut results = Vec::new();
        {
            let mut s = self.state.lock().unwrap();
            s.add_paths_calls += 1;
            for p in r.paths {
                let rejected =
                    s.reject_paths || p.peers.iter().any(|a| !s.peers.contains_key(a.as_str()));
                let mut result = PathResult { prefix: p.prefix.clone(), ..PathResult::default() };
                if rejected {
                    result.outcome = PathOutcome::Rejected as i32;
                    result.code = tonic::Code::InvalidArgument as i32;
                    result.message = "refused by the test".into();
                } else {
                    result.outcome = PathOutcome::Added as i32;
                    let held = s.paths.entry(r.owner.clone()).or_default();
                    held.retain(|h| h.prefix != p.prefix);
                    held.push(p);
                    held.sort_by(|a, b| a.prefix.cmp(&b.prefix));
                }
                results.push(result);
            }
        }
        self.bump();
        Ok(Response::new(AddPathsResponse { results, ..AddPathsResponse::default() }))
    }

    async fn delete_paths(
        &self,
        r: Request<DeletePathsRequest>,
    ) -> Result<Response<DeletePathsResponse>, Status> {
        let r = r.into_inner();
        let mut results = Vec::new();
        {
            let mut s = self.state.lock().unwrap();
            let held = s.paths.entry(r.owner.clone()).or_default();
            for prefix in r.prefixes {
                held.retain(|h| h.prefix != prefix);
                results.push(PathResult {
                    prefix,
                    outcome: PathOutcome::Withdrawn as i32,
                    ..PathResult::default()
                });
            }
        }
        self.bump();
        Ok(Response::new(DeletePathsResponse { results, ..DeletePathsResponse::default() }))
    }

    async fn session(
        &self,
        r: Request<tonic::Streaming<SessionRequest>>,
    ) -> Result<Response<tonic::codegen::BoxStream<SessionResponse>>, Status> {
        if self.state.lock().unwrap().no_sessions {
            return Err(Status::unimplemented("Session"));
        }
        let mut inbound = r.into_inner();
        let (tx, rx) = mpsc::channel(8);
        let mut kill = self.kill.subscribe();
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    m = inbound.message() => {
                        let response = match m {
                            Ok(Some(SessionRequest { request: Some(session_request::Request::Open(o)) })) => {
                                me.state.lock().unwrap().owners_opened.push(o.owner);
                                me.bump();
                                session_response::Response::Opened(SessionOpened::default())
                            }
                            Ok(Some(SessionRequest { request: Some(session_request::Request::Keepalive(k)) })) => {
                                session_response::Response::KeepaliveAck(SessionKeepAliveAck { nonce: k.nonce })
                            }
                            _ => break,
                        };
                        if tx.send(Ok(SessionResponse { response: Some(response) })).await.is_err() {
                            break;
                        }
                    }
                    _ = kill.changed() => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn fake_bgpd() -> (FakeBgpd, String) {
    let fake =
        FakeBgpd { state: Arc::default(), changed: watch::channel(0).0, kill: watch::channel(0).0 };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let service = BgpServiceServer::new(fake.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (fake, addr)
}

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
}

fn slice(service: &str, suffix: &str, node: &str, ready: bool) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-{suffix}"), "namespace": "default",
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": ready}, "nodeName": node}]})
}

async fn service_with_ip(server: &TestApiServer, name: &str, ip: &str, local: bool) {
    let mut svc = lb_service("default", name, json!({}));
    if local {
        svc["spec"]["externalTrafficPolicy"] = json!("Local");
    }
    server.insert(svc).await.unwrap();
    let ip = ip.to_owned();
    server
        .modify("v1", "Service", Some("default"), name, move |o| {
            o["status"] = json!({"loadBalancer": {"ingress": [{"ip": ip}]}});
        })
        .await
        .unwrap();
}

/// Waits until node n1's ServiceBGPStatus for `service` names `peers` (`None`: until there
/// is none), and returns it.
async fn wait_bgp_status(server: &TestApiServer, service: &str, peers: Option<&[&str]>) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let all = server.list("ironlb.io/v1beta1", "ServiceBGPStatus", Some(NS)).await.unwrap();
        let found = all.into_iter().find(|o| o["status"]["serviceName"] == service);
        match (&found, peers) {
            (None, None) => return Value::Null,
            (Some(o), Some(want)) if o["status"]["peers"] == json!(want) => return o.clone(),
            _ if tokio::time::Instant::now() > deadline => {
                panic!("ServiceBGPStatus of {service} never became {peers:?}: {found:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn prefixes(s: &FakeState) -> Vec<String> {
    s.paths.get("k8s-speaker/n1").into_iter().flatten().map(|p| p.prefix.clone()).collect()
}

#[tokio::test]
async fn speaker_announces_by_traffic_policy_and_readiness_and_resyncs_bgpd() {
    let server = server().await;
    let (bgpd, addr) = fake_bgpd().await;
    server.insert(node("n1")).await.unwrap();
    server.insert(node("n2")).await.unwrap();
    server.insert(pool("bgp", &["198.51.100.0/24"])).await.unwrap();
    server
        .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
            "metadata": {"name": "rtr", "namespace": NS},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1"}}))
        .await
        .unwrap();
    server
        .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
            "metadata": {"name": "adv", "namespace": NS}, "spec": {"localPref": 150}}))
        .await
        .unwrap();
    // ETP Cluster with a ready endpoint on another node: announced from n1.
    service_with_ip(&server, "cluster", "198.51.100.10", false).await;
    server.insert(slice("cluster", "a", "n2", true)).await.unwrap();
    // ETP Local with its endpoint only on n2: not announced from n1.
    service_with_ip(&server, "local", "198.51.100.11", true).await;
    server.insert(slice("local", "a", "n2", true)).await.unwrap();

    let options = speaker_options(addr, Duration::from_secs(10));
    let client = server.client_as(SPEAKER).unwrap();
    let speaker = tokio::spawn(async move { runtime::run(client, options).await });

    let s =
        bgpd.wait("the cluster Service announced", |s| prefixes(s) == ["198.51.100.10/32"]).await;
    assert_eq!(s.owners_opened, ["k8s-speaker/n1"]);
    let peer = &s.peers["192.0.2.1"];
    assert_eq!((peer.remote_asn, peer.local_asn), (64501, 64500));
    assert!(peer.description.starts_with("ironlb k8s-speaker/n1"));
    let path = &s.paths["k8s-speaker/n1"][0];
    assert_eq!(path.peers, ["192.0.2.1"]);
    assert_eq!(path.local_pref, Some(150));
    wait_event(&server, "Service", "cluster", "AnnouncingFromNode", "n1").await;
    // The ServiceBGPStatus of n1 for it names the peer, labelled for kubectl get -l.
    let status = wait_bgp_status(&server, "cluster", Some(&["rtr"])).await;
    assert_eq!(status["status"]["node"], "n1");
    assert_eq!(status["metadata"]["labels"]["ironlb.io/node"], "n1");
    assert_eq!(status["metadata"]["labels"]["ironlb.io/service-namespace"], "default");

    // The Local Service gets an endpoint on n1: now announced from here too.
    server.insert(slice("local", "b", "n1", true)).await.unwrap();
    let s = bgpd
        .wait("the local Service announced", |s| {
            prefixes(s) == ["198.51.100.10/32", "198.51.100.11/32"]
        })
        .await;
    // After the first full set, changes go as their difference.
    assert!(s.add_paths_calls >= 1, "{s:?}");

    // The cluster Service's only endpoint stops being ready: withdrawn.
    server
        .modify("discovery.k8s.io/v1", "EndpointSlice", Some("default"), "cluster-a", |o| {
            o["endpoints"][0]["conditions"]["ready"] = json!(false);
        })
        .await
        .unwrap();
    bgpd.wait("the cluster Service withdrawn", |s| prefixes(s) == ["198.51.100.11/32"]).await;
    wait_event(&server, "Service", "cluster", "WithdrawnFromNode", "n1").await;
    wait_bgp_status(&server, "cluster", None).await;

    // Deleting the Local Service withdraws it.
    server.remove("v1", "Service", Some("default"), "local").await.unwrap();
    bgpd.wait("everything withdrawn", |s| s.paths.get("k8s-speaker/n1").is_some_and(Vec::is_empty))
        .await;

    // bgpd restarts and forgets everything: the speaker reconnects, re-adds its peer and
    // sends its (now non-empty again) path set.
    server
        .modify("discovery.k8s.io/v1", "EndpointSlice", Some("default"), "cluster-a", |o| {
            o["endpoints"][0]["conditions"]["ready"] = json!(true);
        })
        .await
        .unwrap();
    bgpd.wait("cluster announced again", |s| prefixes(s) == ["198.51.100.10/32"]).await;
    bgpd.restart();
    let s = bgpd
        .wait("the full re-sync after the restart", |s| {
            s.owners_opened.len() == 1
                && s.peers.contains_key("192.0.2.1")
                && prefixes(s) == ["198.51.100.10/32"]
        })
        .await;
    assert_eq!(s.add_peer_calls, 1);

    // bgpd refuses the path set: the Services in it get an AnnounceFailed Event.
    bgpd.state.lock().unwrap().reject_paths = true;
    service_with_ip(&server, "third", "198.51.100.12", false).await;
    server.insert(slice("third", "a", "n2", true)).await.unwrap();
    wait_event(&server, "Service", "third", "AnnounceFailed", "refused by the test").await;
    bgpd.state.lock().unwrap().reject_paths = false;
    server.remove("v1", "Service", Some("default"), "third").await.unwrap();

    // A peer that no longer selects this node (deleted) is removed from bgpd.
    server.remove("ironlb.io/v1beta1", "BGPPeer", Some(NS), "rtr").await.unwrap();
    bgpd.wait("our peer deleted", |s| s.peers.is_empty() && prefixes(s).is_empty()).await;
    speaker.abort();
}

/// A bgpd without owner sessions (UNIMPLEMENTED) still gets the paths, and its restart is
/// noticed by the drift check (our peer and paths gone): the speaker re-syncs.
#[tokio::test]
async fn speaker_works_with_a_bgpd_without_sessions() {
    let server = server().await;
    let (bgpd, addr) = fake_bgpd().await;
    bgpd.state.lock().unwrap().no_sessions = true;
    server.insert(node("n1")).await.unwrap();
    server.insert(pool("bgp", &["198.51.100.0/24"])).await.unwrap();
    server
        .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
            "metadata": {"name": "rtr", "namespace": NS},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1"}}))
        .await
        .unwrap();
    server
        .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
            "metadata": {"name": "adv", "namespace": NS}, "spec": {}}))
        .await
        .unwrap();
    service_with_ip(&server, "web", "198.51.100.20", false).await;
    server.insert(slice("web", "a", "n1", true)).await.unwrap();
    let options = speaker_options(addr, Duration::from_millis(100));
    let client = server.client_as(SPEAKER).unwrap();
    let speaker = tokio::spawn(async move { runtime::run(client, options).await });
    bgpd.wait("announced without a session", |s| prefixes(s) == ["198.51.100.20/32"]).await;
    bgpd.restart();
    let s = bgpd
        .wait("re-synced after the restart", |s| {
            s.peers.contains_key("192.0.2.1") && prefixes(s) == ["198.51.100.20/32"]
        })
        .await;
    assert!(s.owners_opened.is_empty());
    speaker.abort();
}

/// Two advertisements give one address different LOCAL_PREFs towards two peers: each peer
/// gets its own (MetalLB's behaviour), the second through the variant owner `#1` with its
/// own session; when they agree again everything is back in the main owner.
#[tokio::test]
async fn each_peer_gets_its_own_attributes() {
    let server = server().await;
    let (bgpd, addr) = fake_bgpd().await;
    server.insert(node("n1")).await.unwrap();
    server.insert(pool("bgp", &["198.51.100.0/24"])).await.unwrap();
    for (name, address) in [("r1", "192.0.2.1"), ("r2", "192.0.2.2")] {
        server
            .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
                "metadata": {"name": name, "namespace": NS},
                "spec": {"myASN": 64500, "peerASN": 64500, "peerAddress": address}}))
            .await
            .unwrap();
    }
    for (name, peer, local_pref) in [("to-r1", "r1", 100), ("to-r2", "r2", 200)] {
        server
            .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
                "metadata": {"name": name, "namespace": NS},
                "spec": {"localPref": local_pref, "peers": [peer], "communities": [format!("65000:{local_pref}")]}}))
            .await
            .unwrap();
    }
    service_with_ip(&server, "web", "198.51.100.30", false).await;
    server.insert(slice("web", "a", "n1", true)).await.unwrap();
    let options = speaker_options(addr, Duration::from_secs(10));
    let client = server.client_as(SPEAKER).unwrap();
    let speaker = tokio::spawn(async move { runtime::run(client, options).await });

    type Held = Vec<(String, Vec<String>, Option<u32>, Vec<String>)>;
    let held = |s: &FakeState, owner: &str| -> Held {
        s.paths
            .get(owner)
            .into_iter()
            .flatten()
            .map(|p| (p.prefix.clone(), p.peers.clone(), p.local_pref, p.communities.clone()))
            .collect()
    };
    let s = bgpd
        .wait("one path per peer", |s| {
            !held(s, "k8s-speaker/n1").is_empty() && !held(s, "k8s-speaker/n1#1").is_empty()
        })
        .await;
    let own = |peer: &str, lp: u32| {
        vec![(
            "198.51.100.30/32".to_owned(),
            vec![peer.to_owned()],
            Some(lp),
            vec![format!("65000:{lp}")],
        )]
    };
    assert_eq!(held(&s, "k8s-speaker/n1"), own("192.0.2.1", 100));
    assert_eq!(held(&s, "k8s-speaker/n1#1"), own("192.0.2.2", 200));
    assert!(s.owners_opened.iter().any(|o| o == "k8s-speaker/n1#1"), "{s:?}");

    // They agree again: one path to both peers in the main owner, the variant emptied.
    server
        .modify("ironlb.io/v1beta1", "BGPAdvertisement", Some(NS), "to-r2", |o| {
            o["spec"]["localPref"] = json!(100);
            o["spec"]["communities"] = json!(["65000:100"]);
        })
        .await
        .unwrap();
    let s = bgpd
        .wait("one path for both", |s| {
            held(s, "k8s-speaker/n1#1").is_empty()
                && held(s, "k8s-speaker/n1").first().is_some_and(|p| p.1.len() == 2)
        })
        .await;
    assert_eq!(held(&s, "k8s-speaker/n1")[0].2, Some(100));
    speaker.abort();
}

/// Graceful drain: a cordoned node re-announces with GRACEFUL_SHUTDOWN (65535:0) for the
/// drain time (300 ms here), then withdraws; uncordoned, it announces normally again.
#[tokio::test]
async fn a_cordoned_node_drains_with_graceful_shutdown_then_withdraws() {
    let server = server().await;
    let (bgpd, addr) = fake_bgpd().await;
    server.insert(node("n1")).await.unwrap();
    server.insert(pool("bgp", &["198.51.100.0/24"])).await.unwrap();
    server
        .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
            "metadata": {"name": "rtr", "namespace": NS},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1"}}))
        .await
        .unwrap();
    server
        .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
            "metadata": {"name": "adv", "namespace": NS}, "spec": {}}))
        .await
        .unwrap();
    service_with_ip(&server, "web", "198.51.100.40", false).await;
    server.insert(slice("web", "a", "n1", true)).await.unwrap();
    let options = speaker_options(addr, Duration::from_secs(10));
    let client = server.client_as(SPEAKER).unwrap();
    let speaker = tokio::spawn(async move { runtime::run(client, options).await });
    let communities = |s: &FakeState| -> Option<Vec<String>> {
        s.paths.get("k8s-speaker/n1")?.first().map(|p| p.communities.clone())
    };
    bgpd.wait("announced normally", |s| communities(s).is_some_and(|c| c.is_empty())).await;

    let set_cordon = |on: bool| {
        server.modify("v1", "Node", None, "n1", move |o| o["spec"]["unschedulable"] = json!(on))
    };
    set_cordon(true).await.unwrap();
    let started = tokio::time::Instant::now();
    bgpd.wait("GRACEFUL_SHUTDOWN while draining", |s| {
        communities(s).is_some_and(|c| c == ["65535:0"])
    })
    .await;
    bgpd.wait("withdrawn after the drain", |s| prefixes(s).is_empty()).await;
    assert!(started.elapsed() >= Duration::from_millis(250), "withdrawn before the drain time");

    set_cordon(false).await.unwrap();
    bgpd.wait("announced normally again", |s| communities(s).is_some_and(|c| c.is_empty())).await;
    speaker.abort();
}

fn password_secret(password_base64: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "tor-pw", "namespace": NS},
           "type": "kubernetes.io/basic-auth",
           "data": {"password": password_base64}})
}

/// `passwordSecret`: the peer waits for its Secret, gets its password, follows its changes,
/// and goes away with it (never configured without the password its router expects).
#[tokio::test]
async fn password_secret_is_read_watched_and_passed_to_bgpd() {
    let server = server().await;
    let (bgpd, addr) = fake_bgpd().await;
    server.insert(node("n1")).await.unwrap();
    server.insert(pool("bgp", &["198.51.100.0/24"])).await.unwrap();
    for (name, address, extra) in [
        ("plain", "192.0.2.1", json!({})),
        ("md5", "192.0.2.2", json!({"passwordSecret": {"name": "tor-pw", "namespace": NS}})),
    ] {
        let mut spec = json!({"myASN": 64500, "peerASN": 64501, "peerAddress": address});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        server
            .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
                "metadata": {"name": name, "namespace": NS}, "spec": spec}))
            .await
            .unwrap();
    }
    let options = speaker_options(addr, Duration::from_secs(10));
    let client = server.client_as(SPEAKER).unwrap();
    let speaker = tokio::spawn(async move { runtime::run(client, options).await });
    let s = bgpd.wait("the peer without a password", |s| s.peers.contains_key("192.0.2.1")).await;
    assert!(!s.peers.contains_key("192.0.2.2"), "configured before its Secret exists");

    // "s3cret", then "n3w".
    server.insert(password_secret("czNjcmV0")).await.unwrap();
    bgpd.wait("the password from the Secret", |s| {
        s.peers.get("192.0.2.2").is_some_and(|p| p.password == "s3cret")
    })
    .await;
    server
        .modify("v1", "Secret", Some(NS), "tor-pw", |o| o["data"]["password"] = json!("bjN3"))
        .await
        .unwrap();
    bgpd.wait("the changed password", |s| {
        s.peers.get("192.0.2.2").is_some_and(|p| p.password == "n3w")
    })
    .await;
    server.remove("v1", "Secret", Some(NS), "tor-pw").await.unwrap();
    let s =
        bgpd.wait("the peer gone with its Secret", |s| !s.peers.contains_key("192.0.2.2")).await;
    assert!(s.peers.contains_key("192.0.2.1"));
    speaker.abort();
}

/// Node `n1`'s speaker towards the fake bgpd at `bgpd`, BGP only (no layer2 interfaces).
fn speaker_options(bgpd: String, keepalive: Duration) -> SpeakerOptions {
    SpeakerOptions {
        node_name: "n1".into(),
        namespace: NS.into(),
        legacy: None,
        class: Default::default(),
        bgpd,
        grace: Duration::from_secs(60),
        keepalive,
        layer2: Default::default(),
        drain: Duration::from_millis(300),
    }
}

/// Not ready before the caches synced and bgpd's session opened; ready after, config loaded.
#[tokio::test]
async fn ready_once_caches_synced_and_the_bgpd_session_open() {
    use k8s_adapter::metrics::{Exposition, SpeakerMetrics, http};
    let (server, (bgpd, addr)) = (server().await, fake_bgpd().await);
    server.insert(node("n1")).await.unwrap();
    let metrics = Arc::new(SpeakerMetrics::default());
    assert!(!metrics.ready(), "nothing synced yet");
    let (client, options) = (server.client_as(SPEAKER).unwrap(), speaker_options(addr, DEADLINE));
    let run = runtime::run_with_metrics(client, options, Arc::clone(&metrics));
    let speaker = tokio::spawn(run);
    bgpd.wait("the speaker's session", |s| !s.owners_opened.is_empty()).await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !metrics.ready() {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(metrics.readiness.caches_synced());
    let text = http::scrape(metrics.as_ref()).unwrap();
    assert!(text.contains("ironlb_k8s_client_config_loaded_bool 1"), "{text}");
    assert!(text.contains("ironlb_k8s_client_config_stale_bool 0"), "{text}");
    speaker.abort();
}
