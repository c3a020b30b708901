//! The soak's API clients, as tokio tasks on a runtime inside bgpd's namespace: the churn
//! (AddPaths/DeletePaths in batches) and the misbehaving set (stalled Watch streams, idle TCP
//! connections, Session streams that never open or are abandoned after `open`).
//!
//! Each task owns its state and reports through atomics the sampler reads; the churn hands its
//! final table back when it is told to stop.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ironlb_proto::bgpd::v1;
use ironlb_proto::bgpd::v1::bgp_service_client::BgpServiceClient;
use tonic::transport::Channel;

/// The churn owner's prefixes come from 198.18.0.0/15 (RFC 2544).
pub const CHURN_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
/// The stable owner's prefixes (198.19.128.0/17, inside 198.18.0.0/15 too).
pub const STABLE_BASE: Ipv4Addr = Ipv4Addr::new(198, 19, 128, 0);
pub const CHURN_OWNER: &str = "soak-churn";
pub const STABLE_OWNER: &str = "soak-stable";

/// The `index`th /32 from `base`.
pub fn host(base: Ipv4Addr, index: u32) -> String {
    format!("{}/32", Ipv4Addr::from(u32::from(base).wrapping_add(index)))
}

/// A client of the API at `address`, on a connection of its own; `None` if it cannot connect.
pub async fn connect(address: &str) -> Option<BgpServiceClient<Channel>> {
    let channel = Channel::from_shared(format!("http://{address}")).ok()?.connect().await.ok()?;
    Some(BgpServiceClient::new(channel).max_decoding_message_size(64 << 20))
}

/// True when the peer of an idle connection has closed it (EOF or reset); bytes it sent
/// first (HTTP/2 SETTINGS, a GOAWAY) are read and dropped.
fn closed_by_peer(stream: &tokio::net::TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match stream.try_read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// What the churn did.
#[derive(Debug, Default)]
pub struct ChurnCounters {
    /// Prefix changes applied (added + withdrawn as bgpd counted them).
    pub changes: AtomicU64,
    /// Calls that failed, or outcomes that contradict the client's view (rejected,
    /// not found, unchanged).
    pub errors: AtomicU64,
    /// The slowest call, microseconds.
    pub slowest_call_us: AtomicU64,
}

/// The churn's plan: `rate` changes a second over a pool of `pool` prefixes, in batches every
/// `tick`. Each batch takes the next prefixes of the pool in turn and flips them: withdrawn
/// if held, announced if not, so every prefix changes every `pool / rate` seconds.
#[derive(Debug, Clone, Copy)]
pub struct ChurnPlan {
    pub rate: u32,
    pub pool: u32,
    pub tick: Duration,
}

impl ChurnPlan {
    pub fn per_tick(&self) -> u32 {
        ((f64::from(self.rate) * self.tick.as_secs_f64()).round() as u32).clamp(1, self.pool)
    }
}

/// Runs the churn until `stop`; returns the churn owner's final table (pool indices held).
pub async fn churn(
    mut client: BgpServiceClient<Channel>,
    plan: ChurnPlan,
    counters: Arc<ChurnCounters>,
    stop: Arc<AtomicBool>,
) -> Vec<bool> {
    let mut held = vec![false; plan.pool as usize];
    let mut cursor = 0u32;
    let mut ticker = tokio::time::interval(plan.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let record_error = |counters: &ChurnCounters| counters.errors.fetch_add(1, Ordering::Relaxed);
    while !stop.load(Ordering::Relaxed) {
        ticker.tick().await;
        let mut add = Vec::new();
        let mut delete = Vec::new();
        for _ in 0..plan.per_tick() {
            let index = cursor;
            cursor = (cursor + 1) % plan.pool;
            let prefix = host(CHURN_BASE, index);
            if held[index as usize] {
                delete.push(prefix);
            } else {
                add.push(v1::Path { prefix, ..v1::Path::default() });
            }
            held[index as usize] = !held[index as usize];
        }
        let started = Instant::now();
        let (wanted_adds, wanted_deletes) = (add.len() as u64, delete.len() as u64);
        if !add.is_empty() {
            let request = v1::AddPathsRequest { owner: CHURN_OWNER.to_owned(), paths: add };
            match client.add_paths(request).await {
                Ok(answer) => {
                    let counts = answer.into_inner().counts.unwrap_or_default();
                    counters.changes.fetch_add(counts.added, Ordering::Relaxed);
                    if counts.added != wanted_adds {
                        record_error(&counters);
                    }
                }
                Err(_) => {
                    record_error(&counters);
                }
            }
        }
        if !delete.is_empty() {
            let request =
                v1::DeletePathsRequest { owner: CHURN_OWNER.to_owned(), prefixes: delete };
            match client.delete_paths(request).await {
                Ok(answer) => {
                    let counts = answer.into_inner().counts.unwrap_or_default();
                    counters.changes.fetch_add(counts.withdrawn, Ordering::Relaxed);
                    if counts.withdrawn != wanted_deletes {
                        record_error(&counters);
                    }
                }
                Err(_) => {
                    record_error(&counters);
                }
            }
        }
        let took = started.elapsed().as_micros() as u64;
        counters.slowest_call_us.fetch_max(took, Ordering::Relaxed);
    }
    held
}

/// What the misbehaving clients saw; every field is a count.
#[derive(Debug, Default)]
pub struct MisbehaviourCounters {
    /// Watch streams opened and never read.
    pub watchers_opened: AtomicU64,
    /// Watch opens refused with RESOURCE_EXHAUSTED (`max_watchers`).
    pub watchers_refused: AtomicU64,
    /// Stalled watchers found ended with RESOURCE_EXHAUSTED when finally read.
    pub watchers_cut_off: AtomicU64,
    /// Stalled watchers still alive when read after being held for 4 rounds of churn (a
    /// broken bound), and those still alive when read after the churn stopped (fine).
    pub watchers_alive: AtomicU64,
    pub watchers_alive_at_end: AtomicU64,
    /// Stalled watchers held now.
    pub watchers_held: AtomicU64,
    /// Idle TCP connections opened, and closed by bgpd.
    pub idle_opened: AtomicU64,
    pub idle_closed: AtomicU64,
    /// Idle connections held now.
    pub idle_held: AtomicU64,
    /// Idle connections still open well past `idle_timeout` (a broken bound).
    pub idle_overdue: AtomicU64,
    /// Session streams that never sent `open`: ended by bgpd (DEADLINE_EXCEEDED), or not
    /// within the open timeout plus slack.
    pub sessions_unopened_cut: AtomicU64,
    pub sessions_unopened_overdue: AtomicU64,
    /// Session streams abandoned after `open` (no keepalive): ended by bgpd, or not in time.
    pub sessions_abandoned_cut: AtomicU64,
    pub sessions_abandoned_overdue: AtomicU64,
    /// Calls that failed in a way the soak did not expect (connect errors and the like).
    pub unexpected: AtomicU64,
}

/// The bounds configured for the soak (`[api]` keys), which the clients check.
#[derive(Debug, Clone, Copy)]
pub struct ApiBounds {
    pub idle_timeout: Duration,
    pub session_open_timeout: Duration,
    /// Hold time the abandoned sessions ask for (SessionOpen.hold_time_seconds).
    pub session_hold: Duration,
    pub max_watchers: u32,
}

/// Stalled watchers kept at once by the client (above `max_watchers`, so refusals happen).
const WATCHERS_KEPT: usize = 12;
/// Per round: new stalled watchers, idle connections, unopened and abandoned sessions.
const WATCHERS_PER_ROUND: usize = 3;
const IDLE_PER_ROUND: usize = 8;
/// Slack on top of each timeout before a missing cut-off counts as a broken bound.
const SLACK: Duration = Duration::from_secs(15);

/// Runs the misbehaving clients, a round every `round`, until `stop`.
pub async fn misbehave(
    address: String,
    bounds: ApiBounds,
    round: Duration,
    counters: Arc<MisbehaviourCounters>,
    stop: Arc<AtomicBool>,
) {
    let c = &counters;
    // The client is kept with its stream: its connection must stay open, unread.
    type Stalled = (BgpServiceClient<Channel>, tonic::Streaming<v1::WatchEvent>);
    let mut watchers: std::collections::VecDeque<Stalled> = std::collections::VecDeque::new();
    let mut idle: Vec<(Instant, tokio::net::TcpStream)> = Vec::new();
    let mut ticker = tokio::time::interval(round);
    let mut serial = 0u64;
    while !stop.load(Ordering::Relaxed) {
        ticker.tick().await;
        serial += 1;
        // Stalled watchers, each on a connection of its own so one's flow control window does
        // not stall the others.
        for _ in 0..WATCHERS_PER_ROUND {
            let Some(mut client) = connect(&address).await else {
                c.unexpected.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let request = v1::WatchRequest { peers: true, best_paths: true, ..Default::default() };
            match client.watch(request).await {
                Ok(stream) => {
                    c.watchers_opened.fetch_add(1, Ordering::Relaxed);
                    watchers.push_back((client, stream.into_inner()));
                }
                Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                    c.watchers_refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    c.unexpected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        while watchers.len() > WATCHERS_KEPT {
            if let Some((_client, stream)) = watchers.pop_front() {
                inspect_watcher(stream, c, &c.watchers_alive).await;
            }
        }
        c.watchers_held.store(watchers.len() as u64, Ordering::Relaxed);

        // Idle TCP connections: never a byte sent.
        for _ in 0..IDLE_PER_ROUND {
            match tokio::net::TcpStream::connect(&address).await {
                Ok(stream) => {
                    c.idle_opened.fetch_add(1, Ordering::Relaxed);
                    idle.push((Instant::now(), stream));
                }
                Err(_) => {
                    c.unexpected.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        idle.retain(|(opened, stream)| {
            if closed_by_peer(stream) {
                c.idle_closed.fetch_add(1, Ordering::Relaxed);
                false
            } else if opened.elapsed() > bounds.idle_timeout + SLACK {
                c.idle_overdue.fetch_add(1, Ordering::Relaxed);
                false
            } else {
                true
            }
        });
        c.idle_held.store(idle.len() as u64, Ordering::Relaxed);

        // One Session stream that never opens, one abandoned after `open`.
        tokio::spawn(unopened_session(address.clone(), bounds, Arc::clone(&counters)));
        tokio::spawn(abandoned_session(address.clone(), bounds, serial, Arc::clone(&counters)));
    }
    // The last ones may have been opened just before the churn stopped: nothing to fall
    // behind on any more, so alive is fine.
    for (_client, stream) in watchers {
        inspect_watcher(stream, c, &c.watchers_alive_at_end).await;
    }
}

/// Reads a stalled watcher at last (for at most 5 s) to see how bgpd ended it; counts it in
/// `alive` if bgpd had not.
async fn inspect_watcher(
    mut stream: tonic::Streaming<v1::WatchEvent>,
    c: &MisbehaviourCounters,
    alive: &AtomicU64,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, stream.message()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Err(status)) if status.code() == tonic::Code::ResourceExhausted => {
                c.watchers_cut_off.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(Ok(None)) | Ok(Err(_)) => {
                c.unexpected.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(_) => {
                alive.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// A Session stream whose request side stays open and silent: bgpd must end it after
/// `session_open_timeout` with DEADLINE_EXCEEDED.
async fn unopened_session(address: String, bounds: ApiBounds, c: Arc<MisbehaviourCounters>) {
    let Some(mut client) = connect(&address).await else {
        c.unexpected.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<v1::SessionRequest>(1);
    let requests = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let limit = bounds.session_open_timeout + SLACK;
    let outcome = tokio::time::timeout(limit, async {
        let mut stream = client.session(requests).await?.into_inner();
        loop {
            if stream.message().await?.is_none() {
                return Ok::<(), tonic::Status>(());
            }
        }
    })
    .await;
    drop(sender);
    match outcome {
        Ok(Err(status)) if status.code() == tonic::Code::DeadlineExceeded => {
            c.sessions_unopened_cut.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            c.sessions_unopened_overdue.fetch_add(1, Ordering::Relaxed);
        }
        Ok(_) => {
            c.unexpected.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A Session stream that sends `open` and then nothing: bgpd must end it once
/// `hold_time_seconds` pass without a keepalive.
async fn abandoned_session(
    address: String,
    bounds: ApiBounds,
    serial: u64,
    c: Arc<MisbehaviourCounters>,
) {
    let Some(mut client) = connect(&address).await else {
        c.unexpected.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<v1::SessionRequest>(1);
    let open = v1::SessionRequest {
        request: Some(v1::session_request::Request::Open(v1::SessionOpen {
            owner: format!("soak-abandoned-{serial}"),
            grace_time_seconds: Some(0),
            hold_time_seconds: Some(bounds.session_hold.as_secs() as u32),
            layer2_grace_time_seconds: None,
        })),
    };
    if sender.send(open).await.is_err() {
        c.unexpected.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let requests = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let limit = bounds.session_hold + SLACK;
    let outcome = tokio::time::timeout(limit, async {
        let mut stream = client.session(requests).await.map_err(|s| (0, s))?.into_inner();
        let mut answers = 0u32;
        loop {
            match stream.message().await {
                Ok(Some(_)) => answers += 1,
                Ok(None) => return Ok(answers),
                Err(status) => return Err((answers, status)),
            }
        }
    })
    .await;
    drop(sender);
    match outcome {
        // `opened`, then the end: a lapsed lease.
        Ok(Ok(1)) | Ok(Err((1, _))) => {
            c.sessions_abandoned_cut.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            c.sessions_abandoned_overdue.fetch_add(1, Ordering::Relaxed);
        }
        Ok(_) => {
            c.unexpected.fetch_add(1, Ordering::Relaxed);
        }
    }
}
