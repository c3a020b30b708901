//! The layer2 election at run time: one task owns this node's [`Failover`], its
//! [`LeaseKeeper`] and the [`MembershipTracker`]; everything else sends it messages. The
//! design and its trade-offs are in `k8s-adapter/ELECTION.md` and `election/`'s docs; this
//! is the wiring ("What the runtime must do" there):
//!
//! - membership: our Lease (`ironlb-speaker-<node>`) written when [`LeaseKeeper::poll`]
//!   says, the Leases watched by label; `Failover::set_members` on each change and at the
//!   next Lease expiry (a timer, no polling);
//! - candidates: [`election::candidates`] from the Services, EndpointSlices, every Node
//!   and the config, on every batch of the speaker loop ([`Handle::recompute`]);
//! - heartbeats: every interval and on `SendHeartbeat`, on each layer2 interface
//!   ([`heartbeat`]); received ones go to `Failover::heard` without allocating;
//! - announcements: on `Announce`/`Withdraw` the whole `announcing()` set goes to the
//!   client task ([`push`]), which sends it to bgpd with `SetAnnouncements`;
//! - links: [`link`] reports carrier changes into `Failover::set_link`;
//! - clean stop ([`Handle::stop`]): delete the Lease first, then withdraw;
//! - visibility: [`visible`] (annotation and Events by the winner);
//! - BGP fallback: pools in fallback mode ([`fallback::fallback_pools`]) are joined or left
//!   from the local bgpd's session states ([`sessions`], [`fallback::decide`]); the joined
//!   pools go into our Lease ([`LeaseKeeper::set_fallback`]), and every speaker reads them
//!   back from the Leases into the candidates.

pub mod heartbeat;
pub mod interfaces;
pub mod leases;
pub mod link;
pub mod push;
pub mod sessions;
pub mod visible;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1::SetAnnouncementsRequest;
use ironlb_proto::bgpd::v1::layer2_service_client::Layer2ServiceClient;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::{mpsc, oneshot, watch};

use self::heartbeat::{Groups, Heartbeats};
use self::push::Layer2Desired;
use self::visible::Answering;
use super::view::slice_service;
use super::{NodeView, ServiceView};
use crate::allocator::{ClassPolicy, ServiceKey};
use crate::config::Config;
use crate::election::failover::{Action, Failover, FailoverTiming};
use crate::election::membership::{LeaseKeeper, LeaseTiming, MembershipTracker};
use crate::election::{self, FallbackView, fallback, wire};
use crate::events::Events;

/// How long a clean stop waits for the Lease deletion and the withdrawal each.
const STOP_STEP: Duration = Duration::from_secs(3);
/// How long a BGP session must stay Established before a node leaves a fallback pool's
/// layer2 election: a flapping session moves nothing.
const FALLBACK_UP_HOLD: Duration = Duration::from_secs(5);

/// The layer2 knobs (speaker flags).
#[derive(Debug, Clone, Default)]
pub struct Layer2Options {
    /// Interfaces to answer and send heartbeats on; empty: the one holding this node's
    /// InternalIP ([`interfaces::holding`]).
    pub interfaces: Vec<String>,
    /// Heartbeat multicast groups and port (every speaker of a cluster uses the same).
    pub groups: Groups,
    pub failover: FailoverTiming,
    pub lease: LeaseTiming,
}

/// What the task is told.
#[derive(Debug)]
enum Input {
    /// Services, EndpointSlices or the config changed (one per speaker batch).
    Recompute(Arc<Config>),
    Leases,
    Nodes,
    /// A Lease write failed: retry within the write budget.
    LeaseWriteFailed,
    /// The local bgpd's BGP session states.
    Sessions(sessions::Sessions),
    /// Heartbeat sockets for interfaces that were missing at start.
    Sockets(Vec<heartbeat::Opened>),
    Stop(oneshot::Sender<()>),
}

/// How the speaker loop talks to the layer2 task.
#[derive(Clone)]
pub struct Handle {
    inputs: mpsc::UnboundedSender<Input>,
}

impl Handle {
    /// Services, EndpointSlices or the config changed.
    pub fn recompute(&self, config: Arc<Config>) {
        let _ = self.inputs.send(Input::Recompute(config));
    }

    /// Clean stop: deletes our Lease, then withdraws every layer2 announcement from bgpd.
    /// Returns when both are done (or gave up).
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inputs.send(Input::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// What the task needs from the speaker.
pub struct Setup {
    pub client: Client,
    pub node: String,
    pub namespace: String,
    pub class: ClassPolicy,
    pub options: Layer2Options,
    /// bgpd's API endpoint and our owner there (for the withdrawal on stop).
    pub bgpd: String,
    pub owner: String,
    pub services: Store<Service>,
    pub slices: Store<EndpointSlice>,
    pub events: Events,
    /// The set for the client task to push.
    pub desired: watch::Sender<Arc<Layer2Desired>>,
}

/// Starts the layer2 task.
pub fn spawn(setup: Setup) -> Handle {
    let (inputs, rx) = mpsc::unbounded_channel();
    let handle = Handle { inputs: inputs.clone() };
    tokio::spawn(run(setup, inputs, rx));
    handle
}

struct Task {
    setup: Setup,
    failover: Failover,
    keeper: LeaseKeeper,
    leases: Store<Lease>,
    nodes: Store<Node>,
    config: Arc<Config>,
    interfaces: Vec<String>,
    heartbeats: Heartbeats,
    /// A [`Task::reopen`] attempt is under way.
    reopening: bool,
    /// Per layer2 address, the interfaces its L2Advertisements name (empty: ours).
    address_interfaces: BTreeMap<IpAddr, Vec<String>>,
    /// Per layer2 address, the Services holding it.
    address_services: BTreeMap<IpAddr, Vec<ServiceKey>>,
    fallback: FallbackView,
    /// This node's view of itself (labels), for its fallback pools' peers.
    me: NodeView,
    /// `None` until bgpd's first report: no fallback decision before the sessions are
    /// known (a restarted speaker whose bgpd keeps its sessions up must not join).
    sessions: Option<sessions::Sessions>,
    /// Fallback pools this node joined, and when to decide again.
    joined: BTreeSet<String>,
    fallback_recheck: Option<Instant>,
    timer: Option<Instant>,
    lease_poll: Option<Timestamp>,
    members_due: Option<Timestamp>,
    answering: watch::Sender<Answering>,
    /// The [`visible`] task, awaited on a clean stop so its withdrawal is published.
    visible: Option<tokio::task::JoinHandle<()>>,
    inputs: mpsc::UnboundedSender<Input>,
    datagram: Vec<u8>,
}

async fn run(
    setup: Setup,
    inputs: mpsc::UnboundedSender<Input>,
    mut rx: mpsc::UnboundedReceiver<Input>,
) {
    let failover = match Failover::new(&setup.node, setup.options.failover) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "layer2 failover timing refused; layer2 is off");
            return;
        }
    };
    let keeper = match LeaseKeeper::new(&setup.node, &setup.namespace, setup.options.lease) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "layer2 lease timing refused; layer2 is off");
            return;
        }
    };
    let leases = leases::watch(
        Api::<Lease>::namespaced(setup.client.clone(), &setup.namespace),
        watcher::Config::default().labels(&leases::lease_selector()),
        inputs.clone(),
        || Input::Leases,
    );
    let nodes = leases::watch(
        Api::<Node>::all(setup.client.clone()),
        watcher::Config::default(),
        inputs.clone(),
        || Input::Nodes,
    );
    let _ = nodes.wait_until_ready().await;
    let interfaces = if setup.options.interfaces.is_empty() {
        let node =
            nodes.state().into_iter().find(|n| n.metadata.name.as_ref() == Some(&setup.node));
        match node.as_deref().map(interfaces::internal_ips) {
            Some(ips) => interfaces::holding_blocking(ips).await,
            None => Vec::new(),
        }
    } else {
        setup.options.interfaces.clone()
    };
    if interfaces.is_empty() {
        tracing::warn!("no layer2 interface (none given, none holds the node's InternalIP)");
    } else {
        tracing::info!(?interfaces, "layer2 interfaces");
    }
    // Heartbeats go out before the Lease is first written, so peers hear us as soon as
    // they count us.
    let groups = setup.options.groups;
    let (opened, failed) = open_sockets(heartbeat::pairs(&interfaces, groups)).await;
    for e in failed {
        tracing::warn!(error = %e, "no heartbeat socket yet; retrying every heartbeat interval");
    }
    let heartbeats = match Heartbeats::new(opened) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "heartbeat sockets unusable; layer2 is off");
            return;
        }
    };
    let (link_tx, mut link_rx) = mpsc::channel(4);
    link::spawn(interfaces.clone(), setup.options.failover.heartbeat_interval, link_tx);
    let report = inputs.clone();
    tokio::spawn(sessions::run(setup.bgpd.clone(), move |s| {
        report.send(Input::Sessions(s)).is_ok()
    }));
    let (answering, answering_rx) = watch::channel(Answering::new());
    let visible = tokio::spawn(visible::run(
        answering_rx,
        setup.client.clone(),
        setup.services.clone(),
        setup.events.clone(),
        setup.node.clone(),
    ));
    let mut task = Task {
        setup,
        failover,
        keeper,
        leases,
        nodes,
        config: Arc::new(Config::default()),
        interfaces,
        heartbeats,
        reopening: false,
        address_interfaces: BTreeMap::new(),
        address_services: BTreeMap::new(),
        fallback: FallbackView::default(),
        me: NodeView::default(),
        sessions: None,
        joined: BTreeSet::new(),
        fallback_recheck: None,
        timer: None,
        lease_poll: Some(Timestamp::now()),
        members_due: None,
        answering,
        visible: Some(visible),
        inputs,
        datagram: Vec::new(),
    };
    let mut buf = vec![0u8; wire::MAX_DATAGRAM];
    let mut tick = tokio::time::interval(task.setup.options.failover.heartbeat_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wall = wall_deadline(task.lease_poll, task.members_due);
        tokio::select! {
            input = rx.recv() => match input {
                None => return,
                Some(Input::Stop(done)) => {
                    task.stop().await;
                    let _ = done.send(());
                    return;
                }
                Some(input) => task.on_input(input),
            },
            up = link_rx.recv(), if !link_rx.is_closed() => {
                if let Some(up) = up {
                    tracing::info!(up, "layer2 link state");
                    let actions = task.failover.set_link(up, Instant::now());
                    task.act(actions);
                }
            }
            _ = tick.tick() => {
                task.send_heartbeat();
                task.reopen();
            }
            got = task.heartbeats.recv(&mut buf) => match got {
                Ok(len) => task.heard(&buf[..len]),
                Err((interface, e)) => {
                    tracing::warn!(%interface, error = %e, "heartbeat socket failed; closing it");
                    task.heartbeats.remove(&interface);
                }
            },
            () = sleep_until(task.timer) => {
                let actions = task.failover.timer(Instant::now());
                task.timer = None;
                task.act(actions);
            }
            () = sleep_for(wall) => task.wall_clock(),
            () = sleep_until(task.fallback_recheck) => {
                task.fallback_recheck = None;
                task.decide_fallback();
            }
        }
    }
}

impl Task {
    fn on_input(&mut self, input: Input) {
        match input {
            Input::Recompute(config) => {
                self.config = config;
                self.recompute();
                // Services changed: the annotations we own may need writing again.
                let answering = !self.answering.borrow().is_empty();
                if answering {
                    visible::nudge(&self.answering);
                }
            }
            Input::Nodes => self.recompute(),
            Input::Leases => self.members(),
            Input::LeaseWriteFailed => {
                self.keeper.write_failed();
                self.lease_poll = Some(Timestamp::now());
            }
            Input::Sessions(sessions) => {
                self.sessions = Some(sessions);
                self.decide_fallback();
            }
            Input::Sockets(sockets) => {
                self.reopening = false;
                if let Err(e) = self.heartbeats.add(sockets) {
                    tracing::warn!(error = %e, "heartbeat sockets unusable");
                }
            }
            Input::Stop(_) => {}
        }
    }

    /// Opens heartbeat sockets, off the async threads, for the interfaces that have none
    /// (absent at start, or closed after an error); one attempt at a time, at most once
    /// per heartbeat interval.
    fn reopen(&mut self) {
        let missing = self.heartbeats.missing(&self.interfaces, self.setup.options.groups);
        if self.reopening || missing.is_empty() {
            return;
        }
        self.reopening = true;
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let (opened, failed) = open_sockets(missing).await;
            for e in failed {
                tracing::debug!(error = %e, "no heartbeat socket yet");
            }
            let _ = inputs.send(Input::Sockets(opened));
        });
    }

    /// Which fallback pools this node joins, from its sessions to each pool's peers; a
    /// change goes into our Lease as soon as the write budget allows.
    fn decide_fallback(&mut self) {
        let Some(known) = &self.sessions else { return };
        let now = Instant::now();
        let mut joined = BTreeSet::new();
        let mut recheck: Option<Instant> = None;
        for name in &self.fallback.pools {
            let Some(pool) = self.config.pools.get(name) else { continue };
            let peers = fallback::pool_peers(&self.config, &self.me, pool);
            let sessions = self
                .config
                .peers
                .iter()
                .filter(|p| peers.contains(p.name.as_str()))
                .map(|p| known.get(&p.address.to_string()).copied().flatten());
            let was = self.joined.contains(name);
            let decision = fallback::decide(sessions, was, now, FALLBACK_UP_HOLD);
            if decision.join {
                joined.insert(name.clone());
            }
            recheck = match (recheck, decision.recheck_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.fallback_recheck = recheck;
        if joined != self.joined {
            tracing::info!(pools = ?joined, "layer2 fallback: joined pools changed");
            self.joined = joined.clone();
            self.keeper.set_fallback(joined);
            self.lease_poll = Some(Timestamp::now());
        }
    }

    /// Candidates from the caches and the config, into the failover.
    fn recompute(&mut self) {
        let services = self.setup.services.state();
        let slices = self.setup.slices.state();
        let mut by_service: HashMap<ServiceKey, Vec<&EndpointSlice>> = HashMap::new();
        for slice in &slices {
            if let Some(key) = slice_service(slice) {
                by_service.entry(key).or_default().push(slice);
            }
        }
        let views: Vec<ServiceView> = services
            .iter()
            .filter_map(|s| {
                let key = crate::watch::service_key(s.as_ref());
                let mine = by_service.get(&key).map_or(&[][..], Vec::as_slice);
                ServiceView::from_k8s(s, mine.iter().copied(), &self.setup.class)
            })
            .collect();
        let nodes: Vec<NodeView> =
            self.nodes.state().iter().map(|n| NodeView::from_node(n)).collect();
        let me = nodes
            .iter()
            .find(|n| n.name == self.setup.node)
            .cloned()
            .unwrap_or_else(|| NodeView { name: self.setup.node.clone(), ..NodeView::default() });
        self.me = me.clone();
        self.address_interfaces.clear();
        self.address_services.clear();
        for l2 in super::desired(&views, &me, &self.config).layer2 {
            self.address_services.entry(l2.address).or_default().push(l2.service);
            self.address_interfaces.entry(l2.address).or_default().extend(l2.interfaces);
        }
        // Pools or their peers may have changed.
        self.fallback.pools = fallback::fallback_pools(&self.config);
        self.decide_fallback();
        let candidates = election::candidates(&views, &nodes, &self.config, &self.fallback);
        let actions = self.failover.set_candidates(&candidates, Instant::now());
        self.act(actions);
        // Interfaces may have changed without the announcing set changing.
        self.publish();
    }

    /// The Lease set changed, or a Lease expired: membership into the failover.
    fn members(&mut self) {
        let mut tracker = MembershipTracker::new();
        for lease in self.leases.state() {
            if let Err(e) = tracker.apply(&lease) {
                tracing::debug!(error = %e, "speaker Lease ignored");
            }
        }
        let membership = tracker.evaluate(Timestamp::now());
        self.members_due = membership.next_deadline;
        let actions =
            self.failover.set_members(membership.live.keys().map(String::as_str), Instant::now());
        self.act(actions);
        if membership.fallback != self.fallback.joined {
            self.fallback.joined = membership.fallback;
            self.recompute();
        }
    }

    /// A wall-clock deadline passed: our Lease's write, or a Lease's expiry.
    fn wall_clock(&mut self) {
        let now = Timestamp::now();
        if self.lease_poll.is_some_and(|t| t <= now) {
            let (action, next) = self.keeper.poll(now);
            self.lease_poll = next;
            if let Some(action) = action {
                let client = self.setup.client.clone();
                let inputs = self.inputs.clone();
                tokio::spawn(async move {
                    if let Err(e) = leases::execute(&client, action).await {
                        tracing::warn!(error = %e, "writing our speaker Lease failed");
                        let _ = inputs.send(Input::LeaseWriteFailed);
                    }
                });
            }
        }
        if self.members_due.is_some_and(|t| t <= now) {
            self.members();
        }
    }

    fn heard(&mut self, datagram: &[u8]) {
        match wire::decode(datagram) {
            Ok(heartbeat) => {
                let actions = self.failover.heard(heartbeat, Instant::now());
                self.act(actions);
            }
            Err(e) => tracing::debug!(error = %e, "not a heartbeat"),
        }
    }

    fn send_heartbeat(&mut self) {
        let Some(heartbeat) = self.failover.heartbeat() else { return };
        match wire::encode(&heartbeat, &mut self.datagram) {
            Ok(()) => self.heartbeats.send(&self.datagram),
            Err(e) => tracing::warn!(error = %e, "heartbeat not encodable"),
        }
    }

    fn act(&mut self, actions: Vec<Action>) {
        let mut moved = false;
        for action in actions {
            match action {
                Action::Announce(address) => {
                    // The takeover decision, in wall-clock microseconds: bench-layer2 sets
                    // it against the gratuitous ARP's capture time on the client.
                    tracing::info!(%address, decided_unix_us = unix_micros(), "layer2: announcing");
                    moved = true;
                }
                Action::Withdraw(address) => {
                    tracing::info!(%address, "layer2: withdrawing");
                    moved = true;
                }
                Action::SendHeartbeat => self.send_heartbeat(),
                Action::ArmTimer(at) => self.timer = Some(at),
            }
        }
        if moved {
            self.publish();
        }
    }

    /// The announcing set to the client task, and what we answer for to [`visible`].
    fn publish(&mut self) {
        let announcing = self.failover.announcing();
        let desired = Layer2Desired::new(announcing, &self.address_interfaces, &self.interfaces);
        self.setup.desired.send_if_modified(|current| {
            if **current == desired {
                false
            } else {
                *current = Arc::new(desired);
                true
            }
        });
        let mut answering = Answering::new();
        for address in announcing {
            for key in self.address_services.get(address).into_iter().flatten() {
                answering.entry(key.clone()).or_default().insert(*address);
            }
        }
        self.answering.send_if_modified(|current| {
            if *current == answering {
                false
            } else {
                *current = answering;
                true
            }
        });
    }

    /// Clean stop: delete our Lease (every speaker's watch re-elects at once), then
    /// withdraw from bgpd directly, so the withdrawal does not wait on the client task.
    async fn stop(&mut self) {
        let delete = self.keeper.stop();
        match tokio::time::timeout(STOP_STEP, leases::execute(&self.setup.client, delete)).await {
            Ok(Ok(())) => tracing::info!("speaker Lease deleted"),
            Ok(Err(e)) => tracing::warn!(error = %e, "deleting our speaker Lease failed"),
            Err(_) => tracing::warn!("deleting our speaker Lease timed out"),
        }
        let _ = self.failover.stop();
        self.setup.desired.send_replace(Arc::new(Layer2Desired::default()));
        let withdraw = async {
            let channel = super::client::connect(&self.setup.bgpd).await.ok()?;
            let request = SetAnnouncementsRequest {
                owner: self.setup.owner.clone(),
                announcements: Vec::new(),
            };
            Layer2ServiceClient::new(channel).set_announcements(request).await.ok()
        };
        match tokio::time::timeout(STOP_STEP, withdraw).await {
            Ok(Some(_)) => tracing::info!("layer2 announcements withdrawn"),
            _ => tracing::warn!("withdrawing the layer2 announcements failed"),
        }
        // Nothing answered any more: [`visible`] removes our annotation (where it still
        // names us, so a successor's is kept) and says so in Events, then ends with the
        // channel. Without this a Service nobody took over would keep naming this node.
        let (closed, _) = watch::channel(Answering::new());
        std::mem::replace(&mut self.answering, closed).send_replace(Answering::new());
        if let Some(visible) = self.visible.take() {
            match tokio::time::timeout(STOP_STEP, visible).await {
                Ok(_) => tracing::info!("layer2 annotations and Events updated"),
                Err(_) => tracing::warn!("updating the layer2 annotations timed out"),
            }
        }
    }
}

/// Heartbeat sockets for (interface, group) pairs, opened on a blocking thread, and why
/// the others could not be.
async fn open_sockets(
    pairs: Vec<(String, std::net::SocketAddr)>,
) -> (Vec<heartbeat::Opened>, Vec<heartbeat::HeartbeatError>) {
    tokio::task::spawn_blocking(move || heartbeat::open_all(pairs)).await.unwrap_or_default()
}

/// Now, in microseconds since the Unix epoch (0 if the clock is before it).
fn unix_micros() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The earlier of two wall-clock deadlines, as a duration from now.
fn wall_deadline(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Duration> {
    let at = match (a, b) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let micros = at.as_microsecond().saturating_sub(Timestamp::now().as_microsecond());
    Some(Duration::from_micros(u64::try_from(micros).unwrap_or(0)))
}

async fn sleep_for(after: Option<Duration>) {
    match after {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
