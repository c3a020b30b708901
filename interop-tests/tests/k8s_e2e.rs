//! The Kubernetes adapter end to end: the in-process API server, the controller and a
//! speaker (both in this process, in the root namespace), a real `bgpd` in the node's
//! namespace and FRR as the upstream router.
//!
//! ```text
//!   test process (root netns): API server 127.0.0.1:N, controller, speaker "n1"
//!        │ kube client over TCP           │ gRPC over unix:/tmp/.../bgpd.sock
//!        ▼                                ▼   (a path reaches across namespaces)
//!   [node: bgpd AS65001] 198.51.100.1 ──── 198.51.100.2 [peer: FRR AS65002]
//! ```
//! The pool is 198.51.100.64/28, apart from the link addresses. `bgpd` starts with no
//! neighbours: the speaker adds FRR from the BGPPeer that selects node `n1` and sends the
//! /32s with `SetPaths`. What the Service gets is read back at FRR (issue 5, "How it is
//! proven", end to end in network namespaces).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use interop_tests::bgpd::{Bgpd, BgpdConfig};
use interop_tests::frr::{Frr, FrrConfig, FrrNeighbor};
use interop_tests::netns::{Namespace, connect};
use interop_tests::{Check, Family, TempDir, wait_until};
use ironlb_test_apiserver::TestApiServer;
use k8s_adapter::config::crd;
use k8s_adapter::controller;
use k8s_adapter::speaker::runtime::{self, SpeakerOptions};
use serde_json::{Value, json};

/// Session establishment (FRR retries every second; the speaker adds the peer first).
const UP: Duration = Duration::from_secs(30);
/// A change in the API server to reach FRR, or the controller to write a status.
const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// Namespace of our config objects.
const NS: &str = "ironlb-system";
const NODE: &str = "n1";
const NODE_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const FRR_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

/// Everything one scenario runs; dropping it stops the loops, then the daemons and
/// namespaces go (the harness kills them by PID and deletes the namespaces).
struct World {
    runtime: tokio::runtime::Runtime,
    server: TestApiServer,
    frr: Frr,
    bgpd: Bgpd,
    _dir: TempDir,
    _node: Namespace,
    _peer: Namespace,
}

impl Drop for World {
    fn drop(&mut self) {
        // Ends the controller and speaker tasks before bgpd and FRR are killed.
        let runtime = std::mem::replace(
            &mut self.runtime,
            tokio::runtime::Builder::new_current_thread().build().expect("a runtime"),
        );
        runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

fn world() -> World {
    let node = Namespace::new("k8s-node").check("node namespace");
    let peer = Namespace::new("k8s-frr").check("peer namespace");
    connect(&node, "to-frr", &["198.51.100.1/24"], &peer, "to-node", &["198.51.100.2/24"])
        .check("veth between node and FRR");
    let dir = TempDir::new("k8s-e2e").check("scratch directory");
    let socket = dir.join("bgpd.sock");

    // bgpd with its API on a Unix socket the root namespace can reach, and no neighbours.
    let mut config = BgpdConfig::new(65001, NODE_ADDRESS);
    config.api_listen = format!("unix:{}", socket.display());
    let bgpd = Bgpd::start(&node, &config).check("bgpd starts");
    let frr = Frr::start(
        &peer,
        &FrrConfig::new(65002, FRR_ADDRESS)
            .neighbor(FrrNeighbor::new(IpAddr::V4(NODE_ADDRESS), 65001)),
    )
    .check("FRR starts");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = runtime.block_on(async {
        let server = TestApiServer::start().await.expect("API server starts");
        for definition in crd::definitions() {
            server.insert(serde_json::to_value(definition).unwrap()).await.expect("CRD created");
        }
        for object in config_objects() {
            server.insert(object).await.expect("config object created");
        }
        server
    });

    // kube's client spawns its buffer task: build it inside the runtime.
    let _context = runtime.enter();
    let client = server.client().expect("kube client");
    runtime.spawn(async move {
        let options = controller::Options::new(NS, "controller-0");
        if let Err(error) = controller::run(client, options).await {
            eprintln!("controller stopped: {error}");
        }
    });
    let client = server.client().expect("kube client");
    let options = SpeakerOptions {
        node_name: NODE.into(),
        namespace: NS.into(),
        legacy: None,
        class: Default::default(),
        bgpd: format!("unix:{}", socket.display()),
        grace: Duration::from_secs(30),
        keepalive: Duration::from_secs(5),
    };
    runtime.spawn(async move {
        if let Err(error) = runtime::run(client, options).await {
            eprintln!("speaker stopped: {error}");
        }
    });

    drop(_context);
    let world = World { runtime, server, frr, bgpd, _dir: dir, _node: node, _peer: peer };
    world
        .bgpd
        .annotate(world.frr.wait_established(IpAddr::V4(NODE_ADDRESS), UP))
        .check("the speaker's BGPPeer brings the session to FRR up");
    world
}

/// The namespace, node `n1`, the pool, its advertisement and FRR as a BGPPeer of `n1`.
fn config_objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}}}),
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": "n2", "labels": {"kubernetes.io/hostname": "n2"}}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": "bgp", "namespace": NS},
               "spec": {"addresses": ["198.51.100.64/28"]}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
               "metadata": {"name": "bgp", "namespace": NS},
               "spec": {"ipAddressPools": ["bgp"]}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
               "metadata": {"name": "frr", "namespace": NS},
               "spec": {"myASN": 65001, "peerASN": 65002, "peerAddress": FRR_ADDRESS.to_string(),
                        "nodeSelectors": [{"matchLabels": {"kubernetes.io/hostname": NODE}}]}}),
    ]
}

fn service(name: &str, local: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"type": "LoadBalancer", "selector": {"app": name},
                    "externalTrafficPolicy": if local { "Local" } else { "Cluster" },
                    "ports": [{"port": 80, "protocol": "TCP"}]}})
}

fn slice(service: &str, node: &str, ready: bool) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-a"), "namespace": "default",
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": ready},
                          "nodeName": node}]})
}

impl World {
    fn insert(&self, object: Value) {
        self.runtime.block_on(self.server.insert(object)).expect("object created");
    }

    fn set_ready(&self, service: &str, ready: bool) {
        let name = format!("{service}-a");
        self.runtime
            .block_on(self.server.modify(
                "discovery.k8s.io/v1",
                "EndpointSlice",
                Some("default"),
                &name,
                move |o| o["endpoints"][0]["conditions"]["ready"] = json!(ready),
            ))
            .expect("slice modified");
    }

    fn delete_service(&self, name: &str) {
        self.runtime
            .block_on(self.server.remove("v1", "Service", Some("default"), name))
            .expect("Service deleted");
    }

    /// The address the controller wrote into the Service's status.
    fn wait_address(&self, name: &str) -> Ipv4Addr {
        let get = || {
            self.runtime
                .block_on(self.server.get("v1", "Service", Some("default"), name))
                .expect("API server answers")
        };
        wait_until(
            &format!("the controller to give {name} an address"),
            CONVERGE,
            POLL,
            || get()?["status"]["loadBalancer"]["ingress"][0]["ip"].as_str()?.parse().ok(),
            || format!("{:?}", get()),
        )
        .check("address allocated")
    }

    fn frr_has(&self, address: Ipv4Addr) -> bool {
        let want = format!("{address}/32");
        self.frr.prefixes(Family::Ipv4Unicast).check("show bgp").contains(&want)
    }

    fn wait_frr(&self, what: &str, address: Ipv4Addr, present: bool) {
        self.bgpd
            .annotate(wait_until(
                what,
                CONVERGE,
                POLL,
                || (self.frr_has(address) == present).then_some(()),
                || format!("FRR's table: {:?}", self.frr.prefixes(Family::Ipv4Unicast)),
            ))
            .check(what);
    }
}

#[test]
fn services_reach_frr_by_readiness_and_traffic_policy_and_deletion_frees_the_address() {
    let world = world();

    // ETP Local whose only ready endpoint is on n2: given an address, never announced by n1.
    world.insert(service("local", true));
    world.insert(slice("local", "n2", true));
    let local = world.wait_address("local");

    // ETP Cluster with a ready endpoint: its /32 reaches FRR.
    world.insert(service("web", false));
    world.insert(slice("web", NODE, true));
    let web = world.wait_address("web");
    assert_ne!(web, local, "two Services, two addresses");
    world.wait_frr("the Cluster Service's /32 at FRR", web, true);
    assert!(!world.frr_has(local), "the Local Service is announced from a node without endpoints");

    // Its endpoints stop being ready: withdrawn at FRR.
    world.set_ready("web", false);
    world.wait_frr("the /32 withdrawn when no endpoint is ready", web, false);
    world.set_ready("web", true);
    world.wait_frr("the /32 back when the endpoint is ready again", web, true);
    assert!(!world.frr_has(local), "the Local Service is announced from a node without endpoints");

    // Deleting the Service withdraws it and frees its address for the next Service.
    world.delete_service("web");
    world.wait_frr("the /32 withdrawn when the Service is deleted", web, false);
    world.insert(service("next", false));
    world.insert(slice("next", NODE, true));
    assert_eq!(world.wait_address("next"), web, "the freed address goes to the next Service");
    world.wait_frr("the next Service's /32 at FRR", web, true);
    assert!(!world.frr_has(local), "the Local Service is announced from a node without endpoints");
}
