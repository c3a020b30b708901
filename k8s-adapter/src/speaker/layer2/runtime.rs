//! The layer2 task's I/O around its [`State`], and how the speaker starts it ([`spawn`])
//! and talks to it ([`Handle`]): it starts the watches, the heartbeat sockets, the link
//! reader, the session watch and the [`visible`] task, turns what they report into
//! [`Event`]s, and carries out the [`Action`]s (Lease writes, heartbeats, the sets for the
//! client task and for [`visible`]). The clean stop is here too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::{mpsc, oneshot, watch};

use super::heartbeat::{self, Groups, Heartbeats};
use super::push::{self, Layer2Desired};
use super::state::{Action, Event, Now, State};
use super::views::ServiceChanges;
use super::visible::{self, Answering};
use super::{interfaces, leases, link, sessions};
use crate::config::Config;
use crate::election::auth::HeartbeatKeys;
use crate::election::failover::{Failover, FailoverTiming};
use crate::election::membership::{LeaseKeeper, LeaseTiming};
use crate::election::wire;
use crate::events::Events;
use crate::metrics::SessionGauges;
use crate::speaker::NodeView;

/// How long a clean stop waits for the Lease deletion and the withdrawal each.
const STOP_STEP: Duration = Duration::from_secs(3);

/// What the task is told.
#[derive(Debug)]
enum Input {
    /// A batch of the speaker loop (one per batch).
    Services(Arc<Config>, ServiceChanges),
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

/// The layer2 knobs (speaker flags).
#[derive(Debug, Clone, Default)]
pub struct Layer2Options {
    /// Interfaces to answer and send heartbeats on; empty: the one holding this node's
    /// InternalIP ([`super::interfaces::holding`]).
    pub interfaces: Vec<String>,
    /// Heartbeat multicast groups and port (every speaker of a cluster uses the same).
    pub groups: Groups,
    pub failover: FailoverTiming,
    pub lease: LeaseTiming,
    /// Heartbeat authentication keys; empty: unauthenticated heartbeats.
    pub keys: HeartbeatKeys,
}

/// How the speaker loop talks to the layer2 task.
#[derive(Clone)]
pub struct Handle {
    inputs: mpsc::UnboundedSender<Input>,
}

impl Handle {
    /// One batch of the speaker loop: the config (the same `Arc` while unchanged) and the
    /// views of the Services that changed (all of them after a relist, a config or a Node
    /// change).
    pub fn recompute(&self, config: Arc<Config>, changes: ServiceChanges) {
        let _ = self.inputs.send(Input::Services(config, changes));
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
    pub options: Layer2Options,
    /// bgpd's API endpoint and our owner there (for the withdrawal on stop).
    pub bgpd: String,
    pub owner: String,
    /// For the annotations and Events ([`super::visible`]).
    pub services: Store<Service>,
    pub events: Events,
    /// The set for the client task to push.
    pub desired: watch::Sender<Arc<Layer2Desired>>,
    /// Addresses won, counted from that set.
    pub metrics: Arc<crate::metrics::SpeakerMetrics>,
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
    state: State,
    leases: Store<Lease>,
    nodes: Store<Node>,
    interfaces: Vec<String>,
    heartbeats: Heartbeats,
    /// A [`Task::reopen`] attempt is under way.
    reopening: bool,
    answering: watch::Sender<Answering>,
    /// The [`visible`] task, awaited on a clean stop so its withdrawal is published.
    visible: Option<tokio::task::JoinHandle<()>>,
    inputs: mpsc::UnboundedSender<Input>,
    /// `ironlb_speaker_bgp_session_up`, from bgpd's Watch.
    session_gauges: SessionGauges,
}

/// Runs the task until it is stopped or its handle is gone.
async fn run(
    setup: Setup,
    inputs: mpsc::UnboundedSender<Input>,
    rx: mpsc::UnboundedReceiver<Input>,
) {
    let heartbeat_interval = setup.options.failover.heartbeat_interval;
    let Some((task, link_rx)) = Task::start(setup, inputs).await else { return };
    task.run(rx, link_rx, heartbeat_interval).await;
}

impl Task {
    /// The failover and the Lease keeper from the options, the watches, the layer2
    /// interfaces and their heartbeat sockets, and the helper tasks. `None` (logged) when
    /// layer2 cannot run.
    async fn start(
        setup: Setup,
        inputs: mpsc::UnboundedSender<Input>,
    ) -> Option<(Self, mpsc::Receiver<bool>)> {
        let failover = Failover::new(&setup.node, setup.options.failover)
            .inspect_err(|e| {
                tracing::error!(error = %e, "layer2 failover timing refused; layer2 is off");
            })
            .ok()?;
        let keeper = LeaseKeeper::new(&setup.node, &setup.namespace, setup.options.lease)
            .inspect_err(|e| {
                tracing::error!(error = %e, "layer2 lease timing refused; layer2 is off");
            })
            .ok()?;
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
        let interfaces = layer2_interfaces(&setup, &nodes).await;
        // Heartbeats go out before the Lease is first written, so peers hear us as soon as
        // they count us.
        let (opened, failed) =
            open_sockets(heartbeat::pairs(&interfaces, setup.options.groups)).await;
        for e in failed {
            tracing::warn!(error = %e, "no heartbeat socket yet; retrying every heartbeat interval");
        }
        let heartbeats = Heartbeats::new(opened)
            .inspect_err(|e| {
                tracing::error!(error = %e, "heartbeat sockets unusable; layer2 is off");
            })
            .ok()?;
        let (link_tx, link_rx) = mpsc::channel(4);
        link::spawn(interfaces.clone(), setup.options.failover.heartbeat_interval, link_tx);
        let report = inputs.clone();
        tokio::spawn(sessions::run(setup.bgpd.clone(), move |s| {
            report.send(Input::Sessions(s)).is_ok()
        }));
        let (answering, answering_rx) = watch::channel(Answering::new());
        let visible = tokio::spawn(visible::run(
            answering_rx,
            setup.client.clone(),
            setup.namespace.clone(),
            setup.services.clone(),
            setup.events.clone(),
            setup.node.clone(),
        ));
        let state = State::new(
            &setup.node,
            failover,
            keeper,
            node_views(&nodes),
            interfaces.clone(),
            Now::read(),
        )
        .with_keys(setup.options.keys.clone());
        let session_gauges = setup.metrics.session_gauges();
        let task = Self {
            session_gauges,
            setup,
            state,
            leases,
            nodes,
            interfaces,
            heartbeats,
            reopening: false,
            answering,
            visible: Some(visible),
            inputs,
        };
        Some((task, link_rx))
    }

    /// The event loop: inputs, link changes, heartbeats (sent and heard) and the
    /// deadlines, each into the state, until stopped.
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Input>,
        mut link_rx: mpsc::Receiver<bool>,
        heartbeat_interval: Duration,
    ) {
        let mut buf = vec![0u8; wire::MAX_DATAGRAM];
        let mut tick = tokio::time::interval(heartbeat_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadlines = self.state.deadlines();
            tokio::select! {
                input = rx.recv() => match input {
                    None => return,
                    Some(Input::Stop(done)) => {
                        self.stop().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(input) => self.on_input(input),
                },
                up = link_rx.recv(), if !link_rx.is_closed() => {
                    if let Some(up) = up {
                        self.handle(Event::Link(up));
                    }
                }
                _ = tick.tick() => {
                    self.handle(Event::Tick);
                    self.reopen();
                }
                got = self.heartbeats.recv(&mut buf) => match got {
                    Ok(len) => {
                        let actions = self.state.handle(Event::Heard(&buf[..len]), Now::read());
                        self.execute(actions);
                    }
                    Err((interface, e)) => {
                        tracing::warn!(%interface, error = %e, "heartbeat socket failed; closing it");
                        self.heartbeats.remove(&interface);
                    }
                },
                () = sleep_until(deadlines.failover) => self.handle(Event::FailoverTimer),
                () = sleep_for(wall_delay(deadlines.wall)) => {
                    let leases = self.leases.state();
                    self.handle(Event::WallClock(&leases));
                }
                () = sleep_until(deadlines.fallback_recheck) => self.handle(Event::FallbackRecheck),
            }
        }
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Services(config, changes) => self.handle(Event::Services { config, changes }),
            Input::Nodes => self.handle(Event::Nodes(node_views(&self.nodes))),
            Input::Leases => {
                let leases = self.leases.state();
                self.handle(Event::Leases(&leases));
            }
            Input::LeaseWriteFailed => self.handle(Event::LeaseWriteFailed),
            Input::Sessions(sessions) => {
                self.session_gauges
                    .set(sessions.iter().map(|(peer, since)| (peer, since.is_some())));
                self.handle(Event::Sessions(sessions));
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

    fn handle(&mut self, event: Event<'_>) {
        let actions = self.state.handle(event, Now::read());
        self.execute(actions);
    }

    fn execute(&mut self, actions: Vec<Action>) {
        self.setup.metrics.layer2_counters(self.state.counters());
        for action in actions {
            match action {
                Action::Lease(action) => {
                    let client = self.setup.client.clone();
                    let inputs = self.inputs.clone();
                    tokio::spawn(async move {
                        if let Err(e) = leases::execute(&client, action).await {
                            tracing::warn!(error = %e, "writing our speaker Lease failed");
                            let _ = inputs.send(Input::LeaseWriteFailed);
                        }
                    });
                }
                Action::SendHeartbeat(datagram) => self.heartbeats.send(&datagram),
                Action::Desired(desired) => {
                    self.setup.metrics.layer2_won(desired.announcements.len());
                    self.setup.desired.send_replace(desired);
                }
                Action::Answering(answering) => {
                    self.answering.send_replace(answering);
                }
                Action::Nudge => visible::nudge(&self.answering),
            }
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

    /// Clean stop: delete our Lease (every speaker's watch re-elects at once), then
    /// withdraw from bgpd directly, so the withdrawal does not wait on the client task.
    async fn stop(&mut self) {
        let delete = self.state.stop();
        match tokio::time::timeout(STOP_STEP, leases::execute(&self.setup.client, delete)).await {
            Ok(Ok(())) => tracing::info!("speaker Lease deleted"),
            Ok(Err(e)) => tracing::warn!(error = %e, "deleting our speaker Lease failed"),
            Err(_) => tracing::warn!("deleting our speaker Lease timed out"),
        }
        self.state.withdraw();
        self.setup.metrics.layer2_won(0);
        self.setup.desired.send_replace(Arc::new(Layer2Desired::default()));
        let withdraw = push::withdraw_all(&self.setup.bgpd, &self.setup.owner);
        match tokio::time::timeout(STOP_STEP, withdraw).await {
            Ok(true) => tracing::info!("layer2 announcements withdrawn"),
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

/// The interfaces given, or else the one holding this node's InternalIP.
async fn layer2_interfaces(setup: &Setup, nodes: &Store<Node>) -> Vec<String> {
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
    interfaces
}

fn node_views(nodes: &Store<Node>) -> Vec<NodeView> {
    nodes.state().iter().map(|n| NodeView::from_node(n)).collect()
}

/// Heartbeat sockets for (interface, group) pairs, opened on a blocking thread, and why
/// the others could not be.
async fn open_sockets(
    pairs: Vec<(String, std::net::SocketAddr)>,
) -> (Vec<heartbeat::Opened>, Vec<heartbeat::HeartbeatError>) {
    tokio::task::spawn_blocking(move || heartbeat::open_all(pairs)).await.unwrap_or_default()
}

/// Sleeps until `at`; forever when there is none.
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A wall-clock deadline as a duration from now (zero when past).
fn wall_delay(at: Option<Timestamp>) -> Option<Duration> {
    let micros = at?.as_microsecond().saturating_sub(Timestamp::now().as_microsecond());
    Some(Duration::from_micros(u64::try_from(micros).unwrap_or(0)))
}

async fn sleep_for(after: Option<Duration>) {
    match after {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
