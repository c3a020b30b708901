//! Layer2 mode on a real segment: bgpd answers ARP and neighbour solicitations for an address
//! the kernel does not know, and moves it between nodes with gratuitous messages alone.
//!
//! ```text
//!            ┌──────────── lan namespace: br0 ────────────┐
//!            │                  │                          │
//!   [node1: bgpd] eth0   [node2: bgpd] eth0        [client] eth0
//!   198.51.100.1/24      198.51.100.2/24           198.51.100.12/24
//!   2001:db8::1/64       2001:db8::2/64            2001:db8::c/64
//!
//!   announced: 198.51.100.50 and 2001:db8::50 (on no interface's address list)
//! ```
//!
//! The client's kernel keeps its defaults that matter here, read and set explicitly:
//! `arp_accept = 0` (an unsolicited ARP never *creates* an entry, but a gratuitous one updates
//! an existing entry: Linux `arp_process` overrides when `arp_is_garp`), `drop_gratuitous_arp = 0`
//! and `drop_unsolicited_na = 0` (an unsolicited NA with Override updates an existing entry,
//! RFC 4861 §7.2.5). The entry exists because the client pinged the address once before the move.
//!
//! "From the gratuitous message alone" is checked on the new owner: its `requests_seen` counter
//! stays 0, so the client never asked it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use interop_tests::bgpd::{Bgpd, BgpdConfig};
use interop_tests::netns::{Bridge, Namespace};
use interop_tests::{Check, HarnessError, Result, TempDir, require_program, wait_until};
use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::layer2_service_client::Layer2ServiceClient;

const VIP4: &str = "198.51.100.50";
const VIP6: &str = "2001:db8::50";
const OWNER: &str = "interop";
/// The solicited-node group of `VIP6`, as `ip maddr` prints it.
const SOLICITED: &str = "ff02::1:ff00:50";
/// The API to answer after start, and a neighbour entry to change: both take milliseconds.
const READY: Duration = Duration::from_secs(10);
const MOVE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

struct Lan {
    _bridge: Bridge,
    nodes: [Namespace; 2],
    client: Namespace,
}

fn lan() -> Lan {
    let mut bridge = Bridge::new().check("bridge");
    let node1 = Namespace::new("n1").check("node1");
    let node2 = Namespace::new("n2").check("node2");
    let client = Namespace::new("cl").check("client");
    bridge.attach(&node1, "eth0", &["198.51.100.1/24", "2001:db8::1/64"]).check("attach node1");
    bridge.attach(&node2, "eth0", &["198.51.100.2/24", "2001:db8::2/64"]).check("attach node2");
    bridge.attach(&client, "eth0", &["198.51.100.12/24", "2001:db8::c/64"]).check("attach client");
    client_sysctls(&client);
    Lan { _bridge: bridge, nodes: [node1, node2], client }
}

/// Reads the client's ARP/NDP acceptance knobs and sets the values this test relies on.
fn client_sysctls(client: &Namespace) {
    for (key, value) in [
        ("net.ipv4.conf.eth0.arp_accept", "0"),
        ("net.ipv4.conf.eth0.drop_gratuitous_arp", "0"),
        ("net.ipv6.conf.eth0.drop_unsolicited_na", "0"),
    ] {
        let before = client.exec("sysctl", &["-n", key]).check(key);
        let before = String::from_utf8_lossy(&before.stdout).trim().to_owned();
        if before != value {
            eprintln!("client: {key} was {before}, setting {value}");
            client.exec("sysctl", &["-w", &format!("{key}={value}")]).check(key);
        }
    }
}

struct Node {
    bgpd: Bgpd,
    api: PathBuf,
    _dir: TempDir,
    namespace: Namespace,
}

fn start(namespace: &Namespace, config: BgpdConfig) -> Node {
    let dir = TempDir::new("l2api").check("api dir");
    let api = dir.join("api.sock");
    let mut config = config;
    config.listen_port = 0;
    config.api_listen = format!("unix:{}", api.display());
    let bgpd = Bgpd::start(namespace, &config).check("start bgpd");
    let node = Node { bgpd, api, _dir: dir, namespace: namespace.clone() };
    let ready = wait_until(
        "Layer2Service to answer",
        READY,
        POLL,
        || list(&node).ok(),
        || node.bgpd.log_tail(20),
    );
    node.bgpd.annotate(ready).check("bgpd API");
    node
}

fn node(namespace: &Namespace) -> Node {
    start(namespace, BgpdConfig::new(65001, "192.0.2.1".parse().expect("router id")))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().check_io("runtime")
}

trait CheckIo<T> {
    fn check_io(self, what: &str) -> T;
}

impl<T> CheckIo<T> for std::io::Result<T> {
    #[track_caller]
    fn check_io(self, what: &str) -> T {
        self.unwrap_or_else(|error| panic!("{what}: {error}"))
    }
}

fn api_error(command: &str, error: impl std::fmt::Display) -> HarnessError {
    HarnessError::CommandFailed {
        command: command.to_owned(),
        status: "gRPC error".to_owned(),
        stderr: error.to_string(),
    }
}

async fn client(node: &Node) -> Result<Layer2ServiceClient<tonic::transport::Channel>> {
    Layer2ServiceClient::connect(format!("unix:{}", node.api.display()))
        .await
        .map_err(|e| api_error("connect", e))
}

fn list(node: &Node) -> Result<Vec<v1::Layer2AnnouncementStatus>> {
    runtime().block_on(async {
        let answer = client(node)
            .await?
            .list_announcements(v1::ListAnnouncementsRequest {})
            .await
            .map_err(|e| api_error("ListAnnouncements", e))?;
        Ok(answer.into_inner().announcements)
    })
}

fn set(node: &Node, addresses: &[&str]) -> v1::SetAnnouncementsResponse {
    let request = v1::SetAnnouncementsRequest {
        owner: OWNER.to_owned(),
        announcements: addresses
            .iter()
            .map(|a| v1::Layer2Announcement {
                address: (*a).to_owned(),
                interfaces: vec!["eth0".to_owned()],
            })
            .collect(),
    };
    let answer: Result<_> = runtime().block_on(async {
        let answer = client(node)
            .await?
            .set_announcements(request)
            .await
            .map_err(|e| api_error("SetAnnouncements", e))?;
        Ok(answer.into_inner())
    });
    node.bgpd.annotate(answer).check("SetAnnouncements")
}

fn status(node: &Node, address: &str) -> v1::Layer2AnnouncementStatus {
    list(node)
        .check("ListAnnouncements")
        .into_iter()
        .find(|s| s.address == address)
        .unwrap_or_else(|| panic!("{address} not listed on {}", node.namespace.name()))
}

/// The MAC of `eth0` in `namespace`, lower case.
fn mac(namespace: &Namespace) -> String {
    let output = namespace.ip(&["-o", "link", "show", "eth0"]).check("ip link");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut words = text.split_whitespace();
    words
        .find(|w| *w == "link/ether")
        .and_then(|_| words.next())
        .expect("link/ether")
        .to_lowercase()
}

/// `ip maddr show dev eth0` in `namespace`.
fn multicast_groups(namespace: &Namespace) -> String {
    let output = namespace.ip(&["maddr", "show", "dev", "eth0"]).check("ip maddr");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The client's neighbour entry for `address`: its MAC when it has one, and the whole line.
fn neighbor(client: &Namespace, address: &str) -> (Option<String>, String) {
    let output = client.ip(&["neigh", "show", address, "dev", "eth0"]).check("ip neigh");
    let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let mut words = line.split_whitespace();
    let mac = words.find(|w| *w == "lladdr").and_then(|_| words.next()).map(str::to_lowercase);
    (mac, line)
}

/// Runs `program args` in `namespace`, whatever its exit status; stdout and success.
fn try_exec(namespace: &Namespace, program: &str, args: &[&str]) -> (String, bool) {
    let output = Command::new("ip")
        .args(["netns", "exec", namespace.name(), program])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .check_io(program);
    (String::from_utf8_lossy(&output.stdout).into_owned(), output.status.success())
}

/// The MACs that answered `arping` for `address` from the client (lower case, in order).
fn arping(client: &Namespace, address: &str) -> Vec<String> {
    let (output, _) = try_exec(client, "arping", &["-c", "2", "-w", "2", "-I", "eth0", address]);
    output.lines().filter_map(replying_mac).collect()
}

/// The MAC in one `arping` answer line: Habets' arping prints
/// `42 bytes from 02:00:00:00:00:01 (198.51.100.50): index=0 ...`, iputils' prints
/// `Unicast reply from 198.51.100.50 [02:00:00:00:00:01]  0.6ms`.
fn replying_mac(line: &str) -> Option<String> {
    if line.contains("reply from") {
        return Some(line.split_once('[')?.1.split_once(']')?.0.to_lowercase());
    }
    let (_, rest) = line.split_once(" bytes from ")?;
    Some(rest.split_whitespace().next()?.to_lowercase())
}

/// The target link-layer address `ndisc6` got for `address`, if any.
fn ndisc(client: &Namespace, address: &str) -> Option<String> {
    let (output, _) = try_exec(client, "ndisc6", &["-1", "-r", "3", "-w", "500", address, "eth0"]);
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Target link-layer address:"))
        .map(|mac| mac.trim().to_lowercase())
}

/// One ping so that the client's kernel resolves `address` and keeps an entry (the ping
/// itself gets no answer: no node's kernel owns the address).
fn resolve(client: &Namespace, address: &str) {
    require_program("ping", "iputils-ping").check("ping");
    let _ = try_exec(client, "ping", &["-c", "1", "-W", "1", address]);
}

fn wait_for_neighbor(client: &Namespace, address: &str, expected: &str, what: &str) {
    wait_until(
        what,
        MOVE,
        POLL,
        || (neighbor(client, address).0.as_deref() == Some(expected)).then_some(()),
        || neighbor(client, address).1,
    )
    .check(what);
}

fn requires() {
    require_program("arping", "arping").check("arping");
    require_program("ndisc6", "ndisc6").check("ndisc6");
}

#[test]
fn ipv4_address_moves_by_gratuitous_arp() {
    requires();
    let lan = lan();
    let [mac1, mac2] = [mac(&lan.nodes[0]), mac(&lan.nodes[1])];
    let node1 = node(&lan.nodes[0]);
    let node2 = node(&lan.nodes[1]);

    // 1. node1 announces: the client's arping gets node1's MAC.
    assert_eq!(set(&node1, &[VIP4]).added, [VIP4]);
    assert_eq!(arping(&lan.client, VIP4), [mac1.clone(), mac1.clone()]);
    let first = status(&node1, VIP4);
    assert_eq!(first.interfaces[0].state, v1::Layer2InterfaceState::Announcing as i32);
    assert!(first.requests_seen >= 2 && first.replies_sent >= 2, "{first:?}");
    assert!(first.gratuitous_sent >= 2, "request and reply at takeover: {first:?}");

    // 2. The client's kernel resolves it too, and keeps the entry.
    resolve(&lan.client, VIP4);
    assert_eq!(neighbor(&lan.client, VIP4).0.as_deref(), Some(mac1.as_str()));

    // 3. The address moves: withdrawn on node1, announced on node2.
    assert_eq!(set(&node1, &[]).removed, [VIP4]);
    assert_eq!(set(&node2, &[VIP4]).added, [VIP4]);

    // 4. The client's entry follows from the gratuitous ARP alone: node2 saw no request.
    wait_for_neighbor(&lan.client, VIP4, &mac2, "the client's ARP entry to point at node2");
    let moved = status(&node2, VIP4);
    assert_eq!(moved.requests_seen, 0, "the client never asked node2: {moved:?}");
    assert!(moved.gratuitous_sent >= 2, "{moved:?}");

    // 5. Only node2 answers now.
    assert_eq!(arping(&lan.client, VIP4), [mac2.clone(), mac2]);
}

#[test]
fn ipv6_address_moves_by_unsolicited_advertisement() {
    requires();
    let lan = lan();
    let [mac1, mac2] = [mac(&lan.nodes[0]), mac(&lan.nodes[1])];
    let node1 = node(&lan.nodes[0]);
    let node2 = node(&lan.nodes[1]);

    // 1. node1 announces: a solicitation (to the solicited-node group) gets node1's MAC.
    assert_eq!(set(&node1, &[VIP6]).added, [VIP6]);
    assert_eq!(ndisc(&lan.client, VIP6).as_deref(), Some(mac1.as_str()));
    let first = status(&node1, VIP6);
    assert!(first.requests_seen >= 1 && first.replies_sent >= 1, "{first:?}");
    // The kernel joined the solicited-node group too, so MLD-snooping switches forward it.
    assert!(multicast_groups(&lan.nodes[0]).contains(SOLICITED), "node1 joined {SOLICITED}");

    // 2. The client's kernel resolves it and keeps the entry.
    resolve(&lan.client, VIP6);
    assert_eq!(neighbor(&lan.client, VIP6).0.as_deref(), Some(mac1.as_str()));

    // 3. The move.
    assert_eq!(set(&node1, &[]).removed, [VIP6]);
    assert_eq!(set(&node2, &[VIP6]).added, [VIP6]);
    let left = wait_until(
        "node1 to leave the group",
        MOVE,
        POLL,
        || (!multicast_groups(&lan.nodes[0]).contains(SOLICITED)).then_some(()),
        || multicast_groups(&lan.nodes[0]),
    );
    left.check("node1 left the solicited-node group");

    // 4. The unsolicited NA with Override alone updates the entry.
    wait_for_neighbor(&lan.client, VIP6, &mac2, "the client's neighbour entry to point at node2");
    let moved = status(&node2, VIP6);
    assert_eq!(moved.requests_seen, 0, "the client never asked node2: {moved:?}");
    assert!(moved.gratuitous_sent >= 1, "{moved:?}");
    assert_eq!(ndisc(&lan.client, VIP6).as_deref(), Some(mac2.as_str()));
}

#[test]
fn withdrawn_addresses_get_no_answer() {
    requires();
    let lan = lan();
    let mac1 = mac(&lan.nodes[0]);
    let node1 = node(&lan.nodes[0]);

    set(&node1, &[VIP4, VIP6]);
    assert_eq!(arping(&lan.client, VIP4), [mac1.clone(), mac1.clone()]);
    assert_eq!(ndisc(&lan.client, VIP6).as_deref(), Some(mac1.as_str()));

    let removed = set(&node1, &[]).removed;
    assert_eq!(removed, [VIP4, VIP6]);
    assert_eq!(arping(&lan.client, VIP4), Vec::<String>::new(), "a withdrawn address is answered");
    assert_eq!(ndisc(&lan.client, VIP6), None, "a withdrawn address is answered");
    // An address never announced gets no answer either.
    assert_eq!(arping(&lan.client, "198.51.100.51"), Vec::<String>::new());
}

#[test]
fn config_file_announcements_are_answered() {
    requires();
    let lan = lan();
    let mac1 = mac(&lan.nodes[0]);
    let vip4: IpAddr = "198.51.100.70".parse().expect("address");
    let vip6: IpAddr = "2001:db8::70".parse().expect("address");
    let config = BgpdConfig::new(65001, "192.0.2.1".parse().expect("router id"))
        .layer2(vip4, &["eth0"])
        .layer2(vip6, &["eth0"]);
    let node1 = start(&lan.nodes[0], config);

    assert_eq!(arping(&lan.client, "198.51.100.70"), [mac1.clone(), mac1.clone()]);
    assert_eq!(ndisc(&lan.client, "2001:db8::70").as_deref(), Some(mac1.as_str()));
    let listed = list(&node1).check("ListAnnouncements");
    let owners: Vec<(&str, &str)> =
        listed.iter().map(|s| (s.address.as_str(), s.owner.as_str())).collect();
    assert_eq!(owners, [("198.51.100.70", "config"), ("2001:db8::70", "config")]);
    assert!(listed.iter().all(|s| s.replies_sent >= 1 && s.gratuitous_sent >= 1), "{listed:?}");
}
