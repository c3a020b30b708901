//! Layer2 mode end to end with the Kubernetes adapter, for `tests/layer2_e2e.rs` and
//! `bin/bench-layer2.rs`: two node namespaces, each with its own `bgpd` and
//! `k8s-adapter speaker` process, and a client namespace on one bridge; the test API server
//! and the controller in this process, on threads that joined the bridge's namespace.
//!
//! ```text
//!   lan namespace: br0 198.51.100.254/24 ── test API server :PORT, controller
//!        │                    │
//!   [n1] eth0 .1/24     [n2] eth0 .2/24     [client] eth0 .12/24
//!   bgpd + speaker      bgpd + speaker      arping, ip neigh
//! ```
//!
//! The speakers find the API server through a kubeconfig naming `http://198.51.100.254:PORT`
//! and talk to their `bgpd` over a Unix socket. n1's speaker finds its layer2 interface
//! from its Node's InternalIP (the default); n2's is given `--layer2-interfaces eth0`.
//! The speaker binary is `target/debug/k8s-adapter` (or `$IRONLB_K8S_ADAPTER`): build it
//! first with `cargo build -p bgpd -p k8s-adapter`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::NsRuntime;
use crate::bgpd::{Bgpd, BgpdConfig};
use crate::frr::{Frr, FrrConfig, FrrNeighbor};
use crate::k8s::{CONTROLLER, SPEAKER, deploy_rbac};
use crate::netns::{Bridge, Namespace, Process};
use crate::{Check, TempDir, require_program, tail, wait_until};
use ironlb_test_apiserver::{Options, TestApiServer};
use k8s_adapter::config::crd;
use k8s_adapter::controller;
use serde_json::{Value, json};

pub const NS: &str = "ironlb-system";
pub const API_ADDRESS: &str = "198.51.100.254";
pub const NODES: [&str; 2] = ["n1", "n2"];
pub const NODE_ADDRESSES: [&str; 2] = ["198.51.100.1/24", "198.51.100.2/24"];
/// Start, allocation, first election (a starting speaker listens up to a dead interval).
pub const CONVERGE: Duration = Duration::from_secs(30);
/// A crash is detected after a dead interval (600 ms); the deadline only bounds the wait.
pub const MOVE: Duration = Duration::from_secs(10);
pub const POLL: Duration = Duration::from_millis(50);
/// Longer than a dead interval (600 ms): an election result that lasts this long is the
/// settled one.
pub const SETTLED: Duration = Duration::from_secs(1);
/// The status object each answering node's speaker keeps per Service (MetalLB's shape).
pub const L2_STATUS: (&str, &str) = ("ironlb.io/v1beta1", "ServiceL2Status");

/// The nodes whose ServiceL2Status says they answer for the Service `name` (a crashed
/// node's stays until it is back; the one answering is the one whose MAC replies).
pub fn l2_nodes(api: &Api, name: &str) -> Vec<String> {
    api.list(L2_STATUS, NS)
        .iter()
        .filter(|o| o["status"]["serviceName"] == name)
        .filter_map(|o| o["status"]["node"].as_str().map(str::to_owned))
        .collect()
}
/// The fallback scenario's BGP router (FRR), on br0 beside the API server.
pub const ROUTER_ADDRESS: &str = "198.51.100.253";

pub fn adapter_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("IRONLB_K8S_ADAPTER") {
        return PathBuf::from(path);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().map(PathBuf::from).unwrap_or_default();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let path = target.join("debug").join("k8s-adapter");
    assert!(path.is_file(), "{} missing: cargo build -p k8s-adapter", path.display());
    path
}

/// One node: its namespace, bgpd and speaker.
pub struct Node {
    pub name: &'static str,
    pub namespace: Namespace,
    pub bgpd: Option<Bgpd>,
    pub speaker: Option<Process>,
    pub dir: TempDir,
    pub mac: String,
    /// bgpd accepts BGP connections on port 179 (the fallback test's router connects).
    pub bgp_listen: bool,
    /// The running bgpd's API socket.
    pub socket: PathBuf,
    /// More speaker flags, after the usual ones.
    pub speaker_args: Vec<String>,
}

impl Node {
    /// Starts bgpd (API on a Unix socket) and the speaker.
    pub fn start(&mut self, kubeconfig: &Path, generation: u32) {
        let socket = self.dir.join(&format!("bgpd-{generation}.sock"));
        let mut config = BgpdConfig::new(65001, std::net::Ipv4Addr::new(192, 0, 2, 1));
        if !self.bgp_listen {
            config.listen_port = 0;
        }
        config.api_listen = format!("unix:{}", socket.display());
        self.bgpd = Some(Bgpd::start(&self.namespace, &config).check("bgpd starts"));
        self.socket = socket;
        self.start_speaker(kubeconfig, generation);
    }

    /// Starts the speaker alone, for the running bgpd.
    pub fn start_speaker(&mut self, kubeconfig: &Path, generation: u32) {
        let log = self.dir.join(&format!("speaker-{generation}.log"));
        let mut args: Vec<String> = vec![
            format!("KUBECONFIG={}", kubeconfig.display()),
            "RUST_LOG=info,k8s_adapter=debug".into(),
            adapter_binary().display().to_string(),
            "speaker".into(),
            "--node-name".into(),
            self.name.into(),
            "--namespace".into(),
            NS.into(),
            "--bgpd-api".into(),
            format!("unix:{}", self.socket.display()),
        ];
        // n1 finds its interface from its Node's InternalIP (the default), n2 is told.
        if self.name != "n1" {
            args.extend(["--layer2-interfaces".into(), "eth0".into()]);
        }
        args.extend(self.speaker_args.iter().cloned());
        let speaker = self.namespace.spawn("speaker", Path::new("/usr/bin/env"), &args, &log);
        self.speaker = Some(speaker.check("speaker starts"));
    }

    pub fn log(&self) -> String {
        self.speaker.as_ref().map(|s| tail(s.log(), 30)).unwrap_or_default()
    }

    /// SIGKILL to the speaker and bgpd: a crash.
    pub fn crash(&mut self) {
        if let Some(mut speaker) = self.speaker.take() {
            speaker.kill();
        }
        if let Some(bgpd) = self.bgpd.take() {
            crate::netns::signal(bgpd.pid(), libc::SIGKILL);
        }
    }
}

/// The MAC of `eth0` in `namespace`, lower case.
pub fn mac(namespace: &Namespace) -> String {
    let output = namespace.ip(&["-o", "link", "show", "eth0"]).check("ip link");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut words = text.split_whitespace();
    let mac = words.find(|w| *w == "link/ether").and_then(|_| words.next());
    mac.unwrap_or_else(|| panic!("no MAC in {text:?}")).to_lowercase()
}

/// Runs `program args` in `namespace`, whatever its exit status; its stdout.
pub fn try_exec(namespace: &Namespace, program: &str, args: &[&str]) -> String {
    let output = Command::new("ip")
        .args(["netns", "exec", namespace.name(), program])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("ip netns exec {program}: {e}"));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The MACs that answered one `arping` round for `address` (lower case).
pub fn arping(client: &Namespace, address: &str) -> Vec<String> {
    let output = try_exec(client, "arping", &["-c", "1", "-w", "1", "-I", "eth0", address]);
    output
        .lines()
        .filter_map(|line| {
            if line.contains("reply from") {
                return Some(line.split_once('[')?.1.split_once(']')?.0.to_lowercase());
            }
            let (_, rest) = line.split_once(" bytes from ")?;
            Some(rest.split_whitespace().next()?.to_lowercase())
        })
        .collect()
}

/// The client's neighbour entry's MAC for `address`, and the whole line.
pub fn neighbor(client: &Namespace, address: &str) -> (Option<String>, String) {
    let output = client.ip(&["neigh", "show", address, "dev", "eth0"]).check("ip neigh");
    let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let mut words = line.split_whitespace();
    let mac = words.find(|w| *w == "lladdr").and_then(|_| words.next()).map(str::to_lowercase);
    (mac, line)
}

pub struct Api {
    pub runtime: NsRuntime,
    pub server: Arc<TestApiServer>,
}

impl Api {
    pub fn insert(&self, object: Value) {
        let server = self.server.clone();
        self.runtime
            .run(async move { server.insert(object).await })
            .unwrap_or_else(|e| panic!("insert: {e}"));
    }

    pub fn get(&self, kind: (&str, &str), namespace: &str, name: &str) -> Option<Value> {
        let server = self.server.clone();
        let (api_version, kind) = (kind.0.to_owned(), kind.1.to_owned());
        let (namespace, name) = (namespace.to_owned(), name.to_owned());
        self.runtime
            .run(async move { server.get(&api_version, &kind, Some(&namespace), &name).await })
            .unwrap_or_else(|e| panic!("get: {e}"))
    }

    pub fn list(&self, kind: (&str, &str), namespace: &str) -> Vec<Value> {
        let server = self.server.clone();
        let (api_version, kind, namespace) =
            (kind.0.to_owned(), kind.1.to_owned(), namespace.to_owned());
        self.runtime
            .run(async move { server.list(&api_version, &kind, Some(&namespace)).await })
            .unwrap_or_else(|e| panic!("list: {e}"))
    }

    pub fn remove(&self, kind: (&str, &str), namespace: &str, name: &str) {
        let server = self.server.clone();
        let (api_version, kind) = (kind.0.to_owned(), kind.1.to_owned());
        let (namespace, name) = (namespace.to_owned(), name.to_owned());
        self.runtime
            .run(async move { server.remove(&api_version, &kind, Some(&namespace), &name).await })
            .unwrap_or_else(|e| panic!("remove: {e}"));
    }
}

pub const SERVICE: (&str, &str) = ("v1", "Service");
pub const EVENT: (&str, &str) = ("events.k8s.io/v1", "Event");
pub const LEASE: (&str, &str) = ("coordination.k8s.io/v1", "Lease");

/// The API server on br0's address in the lan namespace, our config objects, the
/// controller.
pub fn api(lan: &Namespace, objects: Vec<Value>) -> Api {
    lan.ip(&["addr", "add", &format!("{API_ADDRESS}/24"), "dev", "br0"]).check("br0 address");
    let runtime = NsRuntime::new(lan).check("a runtime in the lan namespace");
    let server = runtime.run(async move {
        let options = Options {
            listen: std::net::SocketAddr::from(([198, 51, 100, 254], 0)),
            ..Options::default()
        };
        let server = TestApiServer::start_with(options)
            .await
            .unwrap_or_else(|e| panic!("API server starts: {e}"));
        for definition in crd::definitions() {
            let definition =
                serde_json::to_value(definition).unwrap_or_else(|e| panic!("CRD serializes: {e}"));
            server.insert(definition).await.unwrap_or_else(|e| panic!("CRD created: {e}"));
        }
        for object in objects {
            server.insert(object).await.unwrap_or_else(|e| panic!("object created: {e}"));
        }
        server.enforce_rbac(deploy_rbac()).await.unwrap_or_else(|e| panic!("RBAC: {e}"));
        let server = Arc::new(server);
        let client = server.client_as(CONTROLLER).unwrap_or_else(|e| panic!("kube client: {e}"));
        tokio::spawn(async move {
            let options = controller::Options::new(NS, "controller-0");
            if let Err(error) = controller::run(client, options).await {
                eprintln!("controller stopped: {error}");
            }
        });
        server
    });
    Api { runtime, server }
}

/// The namespace, the Nodes and the layer2 pool `l2` 198.51.100.64/28.
pub fn config_objects() -> Vec<Value> {
    let mut objects = cluster_objects();
    objects.extend([
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": "l2", "namespace": NS},
               "spec": {"addresses": ["198.51.100.64/28"]}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "L2Advertisement",
               "metadata": {"name": "l2", "namespace": NS},
               "spec": {"ipAddressPools": ["l2"]}}),
    ]);
    objects
}

/// The pool `fb` 198.51.100.80/28, announced over BGP to the router at ROUTER_ADDRESS
/// from every node, with layer2 as its fallback.
pub fn fallback_objects() -> Vec<Value> {
    let mut objects = cluster_objects();
    objects.extend([
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": "fb", "namespace": NS},
               "spec": {"addresses": ["198.51.100.80/28"]}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
               "metadata": {"name": "fb", "namespace": NS},
               "spec": {"ipAddressPools": ["fb"]}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "L2Advertisement",
               "metadata": {"name": "fb", "namespace": NS},
               "spec": {"ipAddressPools": ["fb"], "bgpFallback": true}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
               "metadata": {"name": "router", "namespace": NS},
               "spec": {"myASN": 65001, "peerASN": 65002, "peerAddress": ROUTER_ADDRESS}}),
    ]);
    objects
}

/// The nodes' addresses on br0, without their prefix length.
pub fn node_ips() -> Vec<std::net::IpAddr> {
    NODE_ADDRESSES
        .iter()
        .filter_map(|a| a.split_once('/').and_then(|(ip, _)| ip.parse().ok()))
        .collect()
}

/// FRR as the nodes' router on br0 (ROUTER_ADDRESS, AS 65002), both nodes its neighbours
/// (AS 65001), started in the lan namespace.
pub fn start_router(bridge: &Bridge) -> Frr {
    let lan = bridge.namespace();
    lan.ip(&["addr", "add", &format!("{ROUTER_ADDRESS}/24"), "dev", "br0"])
        .check("the router's address");
    let router = ROUTER_ADDRESS.parse().unwrap_or_else(|e| panic!("{ROUTER_ADDRESS}: {e}"));
    let mut config = FrrConfig::new(65002, router);
    for ip in node_ips() {
        config = config.neighbor(FrrNeighbor::new(ip, 65001));
    }
    Frr::start(lan, &config).check("FRR starts")
}

pub fn cluster_objects() -> Vec<Value> {
    let mut objects =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})];
    for (node, address) in NODES.iter().zip(NODE_ADDRESSES) {
        let internal = address.split_once('/').map_or(address, |(a, _)| a);
        objects.push(json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}},
               "status": {"addresses": [{"type": "InternalIP", "address": internal}]}}));
    }
    objects
}

pub fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"type": "LoadBalancer", "selector": {"app": name},
                    "externalTrafficPolicy": "Cluster",
                    "ports": [{"port": 80, "protocol": "TCP"}]}})
}

pub fn slice(service: &str, node: &str) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-a"), "namespace": "default",
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true},
                          "nodeName": node}]})
}

pub fn requires() {
    require_program("arping", "arping").check("arping");
    let _ = adapter_binary();
}

/// Waits until every arping answer for `address` comes from `mac` (one node answers).
pub fn wait_answered_by(client: &Namespace, address: &str, mac: &str, what: &str, nodes: &[Node]) {
    let result = wait_until(
        what,
        MOVE,
        POLL,
        || {
            let got = arping(client, address);
            (!got.is_empty() && got.iter().all(|m| m == mac)).then_some(())
        },
        || format!("{:?}; logs: {}", arping(client, address), logs(nodes)),
    );
    result.check(what);
}

pub fn wait_neighbor(client: &Namespace, address: &str, mac: &str, what: &str, nodes: &[Node]) {
    let result = wait_until(
        what,
        MOVE,
        POLL,
        || (neighbor(client, address).0.as_deref() == Some(mac)).then_some(()),
        || format!("{}; logs: {}", neighbor(client, address).1, logs(nodes)),
    );
    result.check(what);
}

pub fn logs(nodes: &[Node]) -> String {
    nodes.iter().map(|n| format!("\n--- {} speaker:\n{}", n.name, n.log())).collect()
}

/// Everything a scenario runs on; dropping it stops the processes and deletes the
/// namespaces (by PID, even on failure).
pub struct Cluster {
    pub bridge: Bridge,
    pub client: Namespace,
    pub nodes: Vec<Node>,
    pub api: Api,
    pub kubeconfig: PathBuf,
    pub _dir: TempDir,
}

/// The bridge, the nodes and client, the API server with `objects`, the controller, and
/// each node's bgpd and speaker; returns once both speakers hold a Lease.
pub fn cluster(objects: Vec<Value>, bgp_listen: bool) -> Cluster {
    cluster_with(objects, bgp_listen, [&[], &[]])
}

/// [`cluster`], each node's speaker given `speaker_args` (n1's first) beside the usual
/// flags.
pub fn cluster_with(objects: Vec<Value>, bgp_listen: bool, speaker_args: [&[&str]; 2]) -> Cluster {
    let mut bridge = Bridge::new().check("bridge");
    let client = Namespace::new("l2cl").check("client namespace");
    let mut nodes: Vec<Node> = NODES
        .iter()
        .zip(NODE_ADDRESSES)
        .zip(speaker_args)
        .map(|((name, address), speaker_args)| {
            let namespace = Namespace::new(name).check("node namespace");
            bridge.attach(&namespace, "eth0", &[address]).check("attach node");
            let mac = mac(&namespace);
            Node {
                name,
                namespace,
                bgpd: None,
                speaker: None,
                dir: TempDir::new("l2e2e").check("node directory"),
                mac,
                bgp_listen,
                socket: PathBuf::new(),
                speaker_args: speaker_args.iter().map(|a| (*a).to_owned()).collect(),
            }
        })
        .collect();
    bridge.attach(&client, "eth0", &["198.51.100.12/24"]).check("attach client");
    let api = api(bridge.namespace(), objects);
    let dir = TempDir::new("l2e2e-kube").check("kubeconfig directory");
    let url = format!("http://{API_ADDRESS}:{}", api.server.addr().port());
    let kubeconfig =
        dir.write("kubeconfig", &api.server.kubeconfig_as(Some(&url), SPEAKER)).check("kubeconfig");
    for node in &mut nodes {
        node.start(&kubeconfig, 0);
    }
    wait_until(
        "both speaker Leases",
        CONVERGE,
        POLL,
        || (speaker_leases(&api).len() == 2).then_some(()),
        || format!("{:?}{}", speaker_leases(&api), logs(&nodes)),
    )
    .check("Leases");
    // n1 found eth0 from its InternalIP.
    wait_until(
        "n1's speaker to pick eth0 by its InternalIP",
        CONVERGE,
        POLL,
        || {
            nodes[0]
                .log()
                .lines()
                .any(|l| l.contains("layer2 interfaces") && l.contains("eth0"))
                .then_some(())
        },
        || logs(&nodes),
    )
    .check("default interface");
    Cluster { bridge, client, nodes, api, kubeconfig, _dir: dir }
}

/// The speakers' Leases (the controller's is in the same namespace).
pub fn speaker_leases(api: &Api) -> Vec<Value> {
    let mut leases = api.list(LEASE, NS);
    leases.retain(|l| {
        l["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("ironlb-speaker-"))
    });
    leases
}

/// The address the controller gave Service `name`.
pub fn wait_address(api: &Api, name: &str) -> String {
    wait_until(
        &format!("an address for {name}"),
        CONVERGE,
        POLL,
        || {
            let svc = api.get(SERVICE, "default", name)?;
            Some(svc["status"]["loadBalancer"]["ingress"][0]["ip"].as_str()?.to_owned())
        },
        || format!("{:?}", api.get(SERVICE, "default", name)),
    )
    .check("address")
}

/// The node that answers for Service `name`'s `address`, once settled: the election
/// settles when both speakers heard each other (a speaker that has not seen its peer's
/// Lease yet may answer until then), so this waits until the annotation and the ARP
/// answers agree, and keep agreeing for longer than a dead interval.
pub fn wait_winner(
    api: &Api,
    client: &Namespace,
    nodes: &[Node],
    name: &str,
    address: &str,
) -> String {
    let mut agreed: Option<(String, Instant)> = None;
    wait_until(
        "a node with a ServiceL2Status to be the one answering ARP",
        CONVERGE,
        POLL,
        || {
            let now = Instant::now();
            let current = (|| {
                let name_of_service = name;
                let got = arping(client, address);
                let answering =
                    nodes.iter().find(|n| !got.is_empty() && got.iter().all(|m| *m == n.mac))?;
                let name = answering.name.to_string();
                l2_nodes(api, name_of_service).contains(&name).then_some(name)
            })();
            match (current, &agreed) {
                (Some(winner), Some((was, since))) if *was == winner => {
                    (now.duration_since(*since) >= SETTLED).then_some(winner)
                }
                (current, _) => {
                    agreed = current.map(|winner| (winner, now));
                    None
                }
            }
        },
        || format!("{:?}{}", api.list(L2_STATUS, NS), logs(nodes)),
    )
    .check("ServiceL2Status")
}
