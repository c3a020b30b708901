//! The owner task of layer2 state: it alone holds the [`Announcer`]; the
//! API, the config and the link threads send it messages. It turns the
//! announcer's [`Action`]s into socket threads, memberships and frames, and
//! wakes each thread once per batch.
//!
//! Interfaces are re-read every [`LINK_SCAN_INTERVAL`] on a std thread, so
//! an interface that appears, comes up or loses `NOARP` is announced on
//! within that time, and one that goes down is closed.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::announcer::{
    Action, Announcement, AnnouncementStatus, Announcer, Conflict, GratuitousSettings, LinkState,
    SetOutcome,
};
use super::link;
use super::socket::{LinkCommand, LinkThread, Received};

/// The owner of the `[[layer2]]` entries of the configuration file.
pub const CONFIG_OWNER: &str = "config";
/// How often interfaces are re-read.
pub const LINK_SCAN_INTERVAL: Duration = Duration::from_millis(500);
const COMMAND_QUEUE: usize = 64;
/// Requests waiting for the owner; beyond this they are dropped (the asker
/// retries) rather than queued without bound.
const RECEIVED_QUEUE: usize = 4096;
/// Requests answered per batch before other work gets a turn.
const RECEIVED_BATCH: usize = 256;

/// The layer2 task is gone (the daemon is stopping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the layer2 responder has stopped")]
pub struct Stopped;

enum Command {
    Set {
        owner: String,
        announcements: Vec<Announcement>,
        reply: oneshot::Sender<Result<SetOutcome, Conflict>>,
    },
    List {
        reply: oneshot::Sender<Vec<AnnouncementStatus>>,
    },
    Configure {
        announcements: Vec<Announcement>,
        settings: GratuitousSettings,
    },
    /// An owner's lease ran out (see [`Handle::forget_owners`]).
    Forget {
        owner: String,
    },
}

/// How the API and the config reach the layer2 task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Handle {
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Set { .. } => "Set",
            Command::List { .. } => "List",
            Command::Configure { .. } => "Configure",
            Command::Forget { .. } => "Forget",
        })
    }
}

impl Handle {
    /// Makes `announcements` the set of `owner` (declarative, like `SetPaths`).
    pub async fn set(
        &self,
        owner: String,
        announcements: Vec<Announcement>,
    ) -> Result<Result<SetOutcome, Conflict>, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Set { owner, announcements, reply })
            .await
            .map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }

    /// Every announced address with its status and counters.
    pub async fn list(&self) -> Result<Vec<AnnouncementStatus>, Stopped> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::List { reply }).await.map_err(|_| Stopped)?;
        answer.await.map_err(|_| Stopped)
    }

    /// Applies the configuration file's `[[layer2]]` entries and settings
    /// (at start and on reload).
    pub async fn configure(
        &self,
        announcements: Vec<Announcement>,
        settings: GratuitousSettings,
    ) -> Result<(), Stopped> {
        self.commands
            .send(Command::Configure { announcements, settings })
            .await
            .map_err(|_| Stopped)
    }
}

impl Handle {
    /// The instance's owner leases ran out for `owners` (their `Session`
    /// lapsed and the grace time they asked for passed): withdraw whatever
    /// they announce, as an empty `SetAnnouncements` would. An owner name is
    /// one owner across BgpService and Layer2Service. The configuration
    /// file's owner is never forgotten this way. Never waits: the instance
    /// task calls it, so a full queue hands the message to a spawned task
    /// (must be called inside a tokio runtime).
    pub fn forget_owners(&self, owners: &[String]) {
        for owner in owners.iter().filter(|owner| owner.as_str() != CONFIG_OWNER) {
            tracing::info!(%owner, "owner's grace time ran out; withdrawing its layer2 announcements");
            let command = Command::Forget { owner: owner.clone() };
            match self.commands.try_send(command) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(command)) => {
                    let commands = self.commands.clone();
                    tokio::spawn(async move {
                        let _ = commands.send(command).await;
                    });
                }
            }
        }
    }
}

/// Starts the layer2 task (and its link watcher) with the configured
/// entries. Must be called inside a tokio runtime.
pub fn spawn(announcements: Vec<Announcement>, settings: GratuitousSettings) -> Handle {
    let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
    let handle = Handle { commands };
    let (links_sender, links) = mpsc::channel(1);
    let watcher = std::thread::Builder::new()
        .name("layer2-links".to_string())
        .spawn(move || watch_links(Path::new(link::SYS_CLASS_NET), links_sender));
    if let Err(error) = watcher {
        tracing::error!(%error, "layer2: cannot start the link watcher; interfaces are never seen");
    }
    let task = Owner {
        announcer: Announcer::new(settings),
        threads: HashMap::new(),
        actions: Vec::new(),
        dirty: Vec::new(),
        received: None,
        targets: HashMap::new(),
    };
    tokio::spawn(task.run(queue, links, announcements));
    handle
}

/// Sends the interface list when it changes, until the owner is gone.
fn watch_links(root: &Path, sender: mpsc::Sender<Vec<LinkState>>) {
    let mut last = None;
    loop {
        let links = link::scan(root);
        if last.as_ref() != Some(&links) {
            if sender.blocking_send(links.clone()).is_err() {
                return;
            }
            last = Some(links);
        }
        std::thread::sleep(LINK_SCAN_INTERVAL);
        if sender.is_closed() {
            return;
        }
    }
}

struct Owner {
    announcer: Announcer,
    threads: HashMap<u32, LinkThread>,
    /// Reused between batches.
    actions: Vec<Action>,
    dirty: Vec<u32>,
    received: Option<mpsc::Sender<Received>>,
    /// What each link thread was last told to accept.
    targets: HashMap<u32, Vec<std::net::IpAddr>>,
}

impl Owner {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut links: mpsc::Receiver<Vec<LinkState>>,
        configured: Vec<Announcement>,
    ) {
        let (received_sender, mut received) = mpsc::channel(RECEIVED_QUEUE);
        self.received = Some(received_sender);
        // The first scan comes before the configured entries, so that they
        // are announced at once rather than reported missing.
        if let Some(first) = links.recv().await {
            self.announcer.set_links(first, Instant::now().into_std(), &mut self.actions);
        }
        self.set_config(configured);
        self.apply();
        self.refresh_targets();
        loop {
            let deadline = self.announcer.next_deadline().map(Instant::from_std);
            tokio::select! {
                biased;
                Some(event) = received.recv() => {
                    self.on_received(event);
                    for _ in 1..RECEIVED_BATCH {
                        match received.try_recv() {
                            Ok(event) => self.on_received(event),
                            Err(_) => break,
                        }
                    }
                }
                () = crate::time::sleep_until(deadline), if deadline.is_some() => {
                    self.announcer.poll(Instant::now().into_std(), &mut self.actions);
                }
                Some(state) = links.recv() => {
                    self.announcer.set_links(state, Instant::now().into_std(), &mut self.actions);
                    self.apply();
                    self.refresh_targets();
                }
                command = commands.recv() => match command {
                    Some(command) => {
                        self.on_command(command);
                        self.apply();
                        self.refresh_targets();
                    }
                    None => return,
                },
            }
            self.apply();
        }
    }

    /// Tells each link thread which addresses to pass up, when that changed.
    fn refresh_targets(&mut self) {
        let targets = self.announcer.link_targets();
        self.targets.retain(|link, _| targets.contains_key(link));
        for (link, list) in targets {
            if self.targets.get(&link) != Some(&list) {
                self.targets.insert(link, list.clone());
                queue(&self.threads, &mut self.dirty, link, LinkCommand::Targets(list));
            }
        }
        for link in self.dirty.drain(..) {
            if let Some(thread) = self.threads.get(&link) {
                thread.wake();
            }
        }
    }

    fn on_received(&mut self, event: Received) {
        let (link, answer) = match event {
            Received::Arp { link, packet } => (link, self.announcer.on_arp(link, &packet)),
            Received::Solicitation { link, packet } => {
                (link, self.announcer.on_solicitation(link, &packet))
            }
        };
        if let Some(frame) = answer {
            self.actions.push(Action::Send { link, frame });
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = Instant::now().into_std();
        match command {
            Command::Set { owner, announcements, reply } => {
                let outcome = self.announcer.set(&owner, &announcements, now, &mut self.actions);
                let _ = reply.send(outcome);
            }
            Command::List { reply } => {
                let _ = reply.send(self.announcer.list());
            }
            Command::Configure { announcements, settings } => {
                self.announcer.set_settings(settings);
                self.set_config(announcements);
            }
            Command::Forget { owner } => {
                if let Ok(outcome) = self.announcer.set(&owner, &[], now, &mut self.actions) {
                    tracing::debug!(%owner, removed = outcome.removed.len(), "layer2: owner forgotten");
                }
            }
        }
    }

    fn set_config(&mut self, announcements: Vec<Announcement>) {
        let now = Instant::now().into_std();
        match self.announcer.set(CONFIG_OWNER, &announcements, now, &mut self.actions) {
            Ok(outcome) => tracing::info!(
                added = outcome.added.len(),
                removed = outcome.removed.len(),
                changed = outcome.changed.len(),
                "layer2: configured announcements applied"
            ),
            Err(conflict) => {
                tracing::error!(%conflict, "layer2: configured announcements not applied")
            }
        }
    }

    /// Carries out the batch of actions, then wakes each thread touched once.
    fn apply(&mut self) {
        for action in self.actions.drain(..) {
            match action {
                Action::Open { link } => {
                    let Some(received) = self.received.clone() else { continue };
                    match LinkThread::spawn(link, received) {
                        Ok(thread) => {
                            tracing::debug!(link, "layer2: listening on interface");
                            self.threads.insert(link, thread);
                        }
                        Err(error) => tracing::error!(%error, "layer2: cannot open interface"),
                    }
                }
                Action::Close { link } => {
                    self.threads.remove(&link);
                    tracing::debug!(link, "layer2: interface closed");
                }
                Action::Join { link, group } => {
                    queue(&self.threads, &mut self.dirty, link, LinkCommand::Join(group))
                }
                Action::Leave { link, group } => {
                    queue(&self.threads, &mut self.dirty, link, LinkCommand::Leave(group))
                }
                Action::Send { link, frame } => {
                    queue(&self.threads, &mut self.dirty, link, LinkCommand::Send(frame))
                }
            }
        }
        for link in self.dirty.drain(..) {
            if let Some(thread) = self.threads.get(&link) {
                thread.wake();
            }
        }
    }
}

fn queue(
    threads: &HashMap<u32, LinkThread>,
    dirty: &mut Vec<u32>,
    link: u32,
    command: LinkCommand,
) {
    if let Some(thread) = threads.get(&link) {
        thread.queue(command);
        if !dirty.contains(&link) {
            dirty.push(link);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(address: &str) -> Announcement {
        Announcement {
            address: address.parse().expect("literal"),
            interfaces: vec!["ironlb-none0".to_string()],
        }
    }

    async fn owners(handle: &Handle) -> Vec<String> {
        let list = handle.list().await.expect("running");
        list.into_iter().map(|status| status.owner).collect()
    }

    #[tokio::test]
    async fn forgetting_an_owner_withdraws_its_announcements_but_not_the_configs() {
        let handle = spawn(vec![announcement("198.51.100.1")], GratuitousSettings::default());
        let set = handle.set("lb".into(), vec![announcement("198.51.100.50")]).await;
        assert!(set.expect("running").is_ok());
        let set = handle.set("other".into(), vec![announcement("198.51.100.51")]).await;
        assert!(set.expect("running").is_ok());
        assert_eq!(owners(&handle).await, ["config", "lb", "other"]);
        handle.forget_owners(&["lb".to_string(), CONFIG_OWNER.to_string()]);
        // Commands are handled in order: the list comes after the forget.
        assert_eq!(owners(&handle).await, ["config", "other"]);
    }
}
