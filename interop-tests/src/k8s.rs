//! The Kubernetes adapter in network namespaces, for `tests/k8s_e2e.rs` and
//! `bin/bench-k8s.rs`: the in-process API server, the controller and a speaker (both in
//! this process, in the root namespace), a real `bgpd` in the node's namespace and FRR as
//! the upstream router.
//!
//! ```text
//!   this process (root netns): API server 127.0.0.1:N, controller, speaker "n1"
//!        │ kube client over TCP           │ gRPC over unix:/tmp/.../bgpd.sock
//!        ▼                                ▼   (a path reaches across namespaces)
//!   [node: bgpd AS65001] 198.51.100.1 ──── 198.51.100.2 [peer: FRR AS65002]
//! ```
//! `bgpd` starts with no neighbours: the speaker adds FRR from the BGPPeer that selects
//! node `n1` and sends the /32s with `SetPaths`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use ironlb_test_apiserver::TestApiServer;
use k8s_adapter::config::crd;
use k8s_adapter::controller;
use k8s_adapter::speaker::runtime::{self, SpeakerOptions};
use serde_json::{Value, json};

use crate::bgpd::{Bgpd, BgpdConfig};
use crate::frr::{Frr, FrrConfig, FrrNeighbor};
use crate::netns::{Namespace, connect};
use crate::{Check, Family, TempDir, wait_until};

/// Session establishment (FRR retries every second; the speaker adds the peer first).
pub const UP: Duration = Duration::from_secs(30);
/// A change in the API server to reach FRR, or the controller to write a status.
pub const CONVERGE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// Namespace of our config objects.
pub const NS: &str = "ironlb-system";
/// The users the components run as in `deploy/`, whose RBAC the API server enforces.
pub const CONTROLLER: &str = "system:serviceaccount:ironlb-system:ironlb-controller";
pub const SPEAKER: &str = "system:serviceaccount:ironlb-system:ironlb-speaker";

/// `deploy/base/rbac.yaml`'s grants, for [`TestApiServer::enforce_rbac`]: the controller and the
/// speakers run with the permissions the manifests give them.
pub fn deploy_rbac() -> ironlb_test_apiserver::Rbac {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/base/rbac.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let documents: Vec<Value> =
        serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    ironlb_test_apiserver::Rbac::from_manifests(&documents)
}
pub const NODE: &str = "n1";
/// The speaker's `--drain-seconds` in these worlds.
pub const DRAIN: Duration = Duration::from_secs(3);
pub const NODE_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const FRR_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

/// Everything one scenario runs; dropping it stops the loops, then the daemons and
/// namespaces go (the harness kills them by PID and deletes the namespaces).
pub struct World {
    pub runtime: tokio::runtime::Runtime,
    /// Shared so that concurrent writes can be spawned onto the runtime.
    pub server: Arc<TestApiServer>,
    /// Shared, so that a watcher thread can poll it while the test restarts bgpd.
    pub frr: Arc<Frr>,
    pub bgpd: Bgpd,
    /// bgpd's config, to start it again after a kill.
    pub bgpd_config: BgpdConfig,
    /// The speaker task and how it was started, to kill and start it again.
    speaker: tokio::task::JoinHandle<()>,
    /// Asks the speaker task for its clean stop (what SIGTERM does to the container).
    speaker_stop: Arc<tokio::sync::Notify>,
    speaker_options: SpeakerOptions,
    _dir: TempDir,
    pub node: Namespace,
    pub peer: Namespace,
}

impl Drop for World {
    fn drop(&mut self) {
        // Ends the controller and speaker tasks before bgpd and FRR are killed.
        let runtime = std::mem::replace(
            &mut self.runtime,
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap_or_else(|e| panic!("a runtime: {e}")),
        );
        runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

/// Namespaces, daemons, the API server with `pool` as the only IPAddressPool, the
/// controller and the speaker; returns once FRR's session with bgpd is up.
pub fn world(pool: &str) -> World {
    world_with(pool, false)
}

/// [`world`], with graceful restart on both sides when `graceful_restart`: FRR as helper
/// (restart time 120 s), the BGPPeer's `enableGracefulRestart`, and bgpd's state directory
/// kept across bgpd restarts ([`World::restart_bgpd`]) as the DaemonSet's hostPath keeps it.
pub fn world_with(pool: &str, graceful_restart: bool) -> World {
    build(&[pool], graceful_restart, false, false)
}

/// BFD timers of [`world_bfd`]: MetalLB's default profile, 300 ms x 3, on both sides.
pub const BFD_INTERVAL_MS: u32 = 300;
pub const BFD_MULTIPLIER: u8 = 3;

/// [`world`] with BFD: a `BFDProfile` (300 ms x 3) named by the BGPPeer's `bfdProfile`, and
/// FRR running bfdd with the same timers on its neighbour.
pub fn world_bfd(pool: &str) -> World {
    build(&[pool], false, false, true)
}

/// The IPv6 addresses of the link in [`world_dual_stack`]: the node's (also its Node's
/// second InternalIP) and FRR's.
pub const NODE_ADDRESS_V6: &str = "2001:db8:1::1";
pub const FRR_ADDRESS_V6: &str = "2001:db8:1::2";

/// [`world`] for dual-stack Services: the pool holds `pool` and `pool_v6`, the cluster
/// serves both families, the link and the Node have an IPv6 address too, and the BGPPeer
/// (an IPv4 session) has `dualStackAddressFamily`, FRR activating IPv6 unicast on it.
pub fn world_dual_stack(pool: &str, pool_v6: &str) -> World {
    build(&[pool, pool_v6], false, true, false)
}

fn build(pools: &[&str], graceful_restart: bool, dual_stack: bool, bfd: bool) -> World {
    let node = Namespace::new("k8s-node").check("node namespace");
    let peer = Namespace::new("k8s-frr").check("peer namespace");
    let (node_v6, frr_v6) = (format!("{NODE_ADDRESS_V6}/64"), format!("{FRR_ADDRESS_V6}/64"));
    let (mut node_addresses, mut frr_addresses) =
        (vec!["198.51.100.1/24"], vec!["198.51.100.2/24"]);
    if dual_stack {
        node_addresses.push(&node_v6);
        frr_addresses.push(&frr_v6);
    }
    connect(&node, "to-frr", &node_addresses, &peer, "to-node", &frr_addresses)
        .check("veth between node and FRR");
    let dir = TempDir::new("k8s-e2e").check("scratch directory");
    let socket = dir.join("bgpd.sock");

    // bgpd with its API on a Unix socket the root namespace can reach, and no neighbours.
    let mut config = BgpdConfig::new(65001, NODE_ADDRESS);
    config.api_listen = format!("unix:{}", socket.display());
    if graceful_restart {
        let state = dir.join("state");
        std::fs::create_dir_all(&state).unwrap_or_else(|e| panic!("state directory: {e}"));
        config = config.state_dir(&state);
        config.selection_deferral_time = Some(30);
    }
    let bgpd = Bgpd::start(&node, &config).check("bgpd starts");
    let mut neighbor = FrrNeighbor::new(IpAddr::V4(NODE_ADDRESS), 65001);
    if dual_stack {
        neighbor = neighbor.families(&[Family::Ipv4Unicast, Family::Ipv6Unicast]);
    }
    let mut frr_config = FrrConfig::new(65002, FRR_ADDRESS).neighbor(neighbor);
    if graceful_restart {
        frr_config.graceful_restart =
            Some(crate::frr::FrrGracefulRestart { restart_time: 120, stalepath_time: 360 });
    }
    if bfd {
        frr_config.bfd = Some(crate::frr::FrrBfd {
            receive_interval: BFD_INTERVAL_MS,
            transmit_interval: BFD_INTERVAL_MS,
            detect_multiplier: BFD_MULTIPLIER,
        });
    }
    let frr = Frr::start(&peer, &frr_config).check("FRR starts");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let server = runtime.block_on(async {
        let mut options = ironlb_test_apiserver::Options::default();
        if dual_stack {
            options.ip_families = vec!["IPv4".to_owned(), "IPv6".to_owned()];
        }
        let server = TestApiServer::start_with(options)
            .await
            .unwrap_or_else(|e| panic!("API server starts: {e}"));
        for definition in crd::definitions() {
            server
                .insert(
                    serde_json::to_value(definition)
                        .unwrap_or_else(|e| panic!("CRD serializes: {e}")),
                )
                .await
                .unwrap_or_else(|e| panic!("CRD created: {e}"));
        }
        for object in config_objects(pools, graceful_restart, dual_stack, bfd) {
            server.insert(object).await.unwrap_or_else(|e| panic!("config object created: {e}"));
        }
        server.enforce_rbac(deploy_rbac()).await.unwrap_or_else(|e| panic!("RBAC: {e}"));
        server
    });

    // kube's client spawns its buffer task: build it inside the runtime.
    let _context = runtime.enter();
    let client = server.client_as(CONTROLLER).unwrap_or_else(|e| panic!("kube client: {e}"));
    runtime.spawn(async move {
        let options = controller::Options::new(NS, "controller-0");
        if let Err(error) = controller::run(client, options).await {
            eprintln!("controller stopped: {error}");
        }
    });
    let options = SpeakerOptions {
        node_name: NODE.into(),
        namespace: NS.into(),
        legacy: None,
        class: Default::default(),
        bgpd: format!("unix:{}", socket.display()),
        grace: Duration::from_secs(30),
        keepalive: Duration::from_secs(5),
        layer2: Default::default(),
        // Short, so that a drain test sees the withdrawal soon.
        drain: DRAIN,
    };
    let (speaker, speaker_stop) = spawn_speaker(&runtime, &server, options.clone());

    drop(_context);
    let world = World {
        runtime,
        server: Arc::new(server),
        frr: Arc::new(frr),
        bgpd,
        bgpd_config: config,
        speaker,
        speaker_stop,
        speaker_options: options,
        _dir: dir,
        node,
        peer,
    };
    world
        .bgpd
        .annotate(world.frr.wait_established(IpAddr::V4(NODE_ADDRESS), UP))
        .check("the speaker's BGPPeer brings the session to FRR up");
    world
}

/// The speaker as a task on `runtime`, running as its ServiceAccount, and what asks it
/// for its clean stop.
fn spawn_speaker(
    runtime: &tokio::runtime::Runtime,
    server: &TestApiServer,
    options: SpeakerOptions,
) -> (tokio::task::JoinHandle<()>, Arc<tokio::sync::Notify>) {
    // kube's client spawns its buffer task: build it inside the runtime.
    let _context = runtime.enter();
    let client = server.client_as(SPEAKER).unwrap_or_else(|e| panic!("kube client: {e}"));
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = Arc::clone(&stop);
    let task = runtime.spawn(async move {
        let stop = async move { stopped.notified().await };
        if let Err(error) = runtime::run_until(client, options, Arc::default(), stop).await {
            eprintln!("speaker stopped: {error}");
        }
    });
    (task, stop)
}

/// The namespace, node `n1`, the pool, its advertisement and FRR as a BGPPeer of `n1`
/// (with `enableGracefulRestart` when `graceful_restart`, and the BFDProfile `fast` when
/// `bfd`).
fn config_objects(
    pools: &[&str],
    graceful_restart: bool,
    dual_stack: bool,
    bfd: bool,
) -> Vec<Value> {
    let mut addresses = vec![json!({"type": "InternalIP", "address": NODE_ADDRESS.to_string()})];
    if dual_stack {
        addresses.push(json!({"type": "InternalIP", "address": NODE_ADDRESS_V6}));
    }
    let mut peer = json!({"myASN": 65001, "peerASN": 65002, "peerAddress": FRR_ADDRESS.to_string(),
                          "enableGracefulRestart": graceful_restart,
                          "dualStackAddressFamily": dual_stack,
                          "nodeSelectors": [{"matchLabels": {"kubernetes.io/hostname": NODE}}]});
    let mut objects =
        vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})];
    if bfd {
        peer["bfdProfile"] = json!("fast");
        objects.push(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BFDProfile",
               "metadata": {"name": "fast", "namespace": NS},
               "spec": {"receiveInterval": BFD_INTERVAL_MS, "transmitInterval": BFD_INTERVAL_MS,
                        "detectMultiplier": BFD_MULTIPLIER}}));
    }
    objects.extend([
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
               "status": {"addresses": addresses}}),
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": "n2", "labels": {"kubernetes.io/hostname": "n2"}}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": "bgp", "namespace": NS},
               "spec": {"addresses": pools}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
               "metadata": {"name": "bgp", "namespace": NS},
               "spec": {"ipAddressPools": ["bgp"]}}),
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
               "metadata": {"name": "frr", "namespace": NS}, "spec": peer}),
    ]);
    objects
}

/// A LoadBalancer Service in `default`, ETP Local or Cluster.
pub fn service(name: &str, local: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"type": "LoadBalancer", "selector": {"app": name},
                    "externalTrafficPolicy": if local { "Local" } else { "Cluster" },
                    "ports": [{"port": 80, "protocol": "TCP"}]}})
}

/// The EndpointSlice `{service}-a` with one endpoint on `node`.
pub fn slice(service: &str, node: &str, ready: bool) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": format!("{service}-a"), "namespace": "default",
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": ready},
                          "nodeName": node}]})
}

impl World {
    /// Kills bgpd (SIGKILL), leaves it down for `downtime`, and starts it again with the
    /// same config and state directory.
    pub fn restart_bgpd(&mut self, downtime: Duration) {
        self.bgpd.kill();
        std::thread::sleep(downtime);
        self.bgpd = Bgpd::start(&self.node, &self.bgpd_config).check("bgpd starts again");
    }

    /// Ends the speaker at once (its task aborted: no clean stop, its bgpd session simply
    /// drops, as when its container is killed).
    pub fn kill_speaker(&mut self) {
        self.speaker.abort();
    }

    /// Starts the speaker again, as the kubelet restarts a killed container.
    pub fn start_speaker(&mut self) {
        (self.speaker, self.speaker_stop) =
            spawn_speaker(&self.runtime, &self.server, self.speaker_options.clone());
    }

    /// The speaker's clean stop, as SIGTERM asks for it (the Lease deleted, the layer2
    /// announcements withdrawn), waited for up to `deadline`.
    pub fn stop_speaker(&mut self, deadline: Duration) {
        self.speaker_stop.notify_one();
        let task = &mut self.speaker;
        self.runtime
            .block_on(async { tokio::time::timeout(deadline, task).await })
            .unwrap_or_else(|_| panic!("the speaker did not stop within {deadline:?}"))
            .unwrap_or_else(|e| panic!("the speaker task failed: {e}"));
    }

    /// bgpd stopped with SIGTERM (with graceful restart: its sessions closed without a
    /// NOTIFICATION), down for `downtime`, started again with the same config and state.
    pub fn terminate_and_restart_bgpd(&mut self, downtime: Duration) {
        let status = self.bgpd.terminate(Duration::from_secs(10)).check("bgpd stops on SIGTERM");
        assert!(status.success(), "bgpd exits 0 on SIGTERM: {status}");
        std::thread::sleep(downtime);
        self.bgpd = Bgpd::start(&self.node, &self.bgpd_config).check("bgpd starts again");
    }

    /// Cordons (or uncordons) node `n1`.
    pub fn cordon(&self, on: bool) {
        self.runtime
            .block_on(self.server.modify("v1", "Node", None, NODE, move |o| {
                o["spec"]["unschedulable"] = json!(on);
            }))
            .unwrap_or_else(|e| panic!("Node modified: {e}"));
    }

    /// bgpd's graceful restart state file.
    pub fn state_file(&self) -> Option<std::path::PathBuf> {
        self.bgpd_config.state_dir.as_ref().map(|d| d.join("bgpd.state"))
    }

    pub fn insert(&self, object: Value) {
        self.runtime
            .block_on(self.server.insert(object))
            .unwrap_or_else(|e| panic!("object created: {e}"));
    }

    pub fn set_ready(&self, service: &str, ready: bool) {
        let name = format!("{service}-a");
        self.runtime
            .block_on(self.server.modify(
                "discovery.k8s.io/v1",
                "EndpointSlice",
                Some("default"),
                &name,
                move |o| o["endpoints"][0]["conditions"]["ready"] = json!(ready),
            ))
            .unwrap_or_else(|e| panic!("slice modified: {e}"));
    }

    pub fn delete_service(&self, name: &str) {
        self.runtime
            .block_on(self.server.remove("v1", "Service", Some("default"), name))
            .unwrap_or_else(|e| panic!("Service deleted: {e}"));
    }

    /// The address the controller wrote into the Service's status.
    pub fn wait_address(&self, name: &str) -> Ipv4Addr {
        let get = || {
            self.runtime
                .block_on(self.server.get("v1", "Service", Some("default"), name))
                .unwrap_or_else(|e| panic!("API server answers: {e}"))
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

    pub fn frr_has(&self, address: Ipv4Addr) -> bool {
        let want = format!("{address}/32");
        self.frr.prefixes(Family::Ipv4Unicast).check("show bgp").contains(&want)
    }

    pub fn wait_frr(&self, what: &str, address: Ipv4Addr, present: bool) {
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
