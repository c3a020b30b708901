//! The session task of one neighbour (RFC 4271 §8, collision handling §6.8).
//!
//! It holds the primary connection (whose FSM lives as long as the neighbour)
//! and, during a collision, a second inbound one with its own FSM. It sends
//! [`SessionEvent`]s to the instance and takes [`SessionCommand`]s from it.
//! Commands arrive on an unbounded channel whose depth the instance bounds
//! itself (it keeps a window of export batches in flight per peer), so the
//! instance never waits on a session and the two can never deadlock.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::self_connect;
use crate::fsm::collision::{Deferred, OpenVerdict, on_open, settle_deferred};
use crate::fsm::{
    Action, Direction, DownReason, Event, Fsm, NegotiatedSession, SessionConfig, State,
};
use crate::rib::{ExportBatch, PeerId};
use crate::wire::{
    CodecOptions, Family, GracefulRestartCapability, Message, Notification, RefreshSubtype,
    RouteRefresh, UpdateMessage,
};
pub use describe::{describe, describe_with_cause};
pub use updates::Recycling;
use updates::{PendingUpdates, RecycleInbox, RecycleSender};

use super::connection::{Connection, Received, Wakeup};
use super::counters::SharedCounters;

use super::socket::{self, ConnectOptions};

/// What the instance asks of a session.
#[derive(Debug)]
pub enum SessionCommand {
    /// Administrative start (ManualStart, or its passive form).
    Start,
    /// Administrative stop with this Cease.
    Stop(Notification),
    /// The peer connected to us.
    Inbound(TcpStream),
    /// Routes to send; answered by [`SessionEvent::Written`] once on the wire.
    Export(ExportBatch),
    /// End-of-RIB for a family (RFC 4724 §2).
    EndOfRib(Family),
    /// Enhanced route refresh marker (RFC 7313 §4).
    RefreshMarker(Family, RefreshSubtype),
    /// Stop with this Cease and end the task.
    Shutdown(Notification),
    /// Close the connections without a NOTIFICATION and end the task: a
    /// planned stop for graceful restart (RFC 4724 §4), the peer keeps our routes.
    Close,
    /// The graceful restart capability of OPENs sent from now on.
    SetGracefulRestart(Option<GracefulRestartCapability>),
}

/// What a session tells the instance.
#[derive(Debug)]
pub enum SessionEvent {
    Established {
        negotiated: Box<NegotiatedSession>,
        local: SocketAddr,
        remote: SocketAddr,
    },
    Down {
        reason: DownReason,
        established: bool,
    },
    StateChanged {
        from: State,
        to: State,
    },
    /// UPDATEs in the order received, at most [`updates::MAX_UPDATES_PER_REPORT`].
    Updates(Vec<UpdateMessage>),
    RouteRefresh(RouteRefresh),
    /// One export batch left the write buffer.
    Written,
    /// The task ended after [`SessionCommand::Shutdown`].
    Ended,
}

/// A [`SessionEvent`] of one peer, as the session task sends it to the
/// instance on the channel given to [`spawn`].
#[derive(Debug)]
pub struct SessionReport {
    pub peer: PeerId,
    pub event: SessionEvent,
}

/// Everything a session task needs to run.
pub struct SessionParams {
    pub peer: PeerId,
    pub config: SessionConfig,
    pub connect: ConnectOptions,
    pub enabled: bool,
    /// The count of applied UPDATE lists on their way back to all sessions.
    pub recycling: Recycling,
}

/// The instance's end of a session.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    pub commands: mpsc::UnboundedSender<SessionCommand>,
    /// What the session task counts; read by the API.
    pub counters: SharedCounters,
    /// The lists of applied [`SessionEvent::Updates`] reports, going back to
    /// be dropped and reused on the session's side (see `updates`). Apart
    /// from the commands: the session takes them all at every turn of its
    /// loop, so they wait behind no command and no read; bounded across
    /// sessions to [`updates::RECYCLE_BOUND`] lists, beyond which the
    /// instance drops a list itself.
    recycle: RecycleSender,
}

impl SessionHandle {
    /// Sends a command; a session that already ended is not an error.
    pub fn send(&self, command: SessionCommand) {
        let _ = self.commands.send(command);
    }

    /// Hands back the list of an applied [`SessionEvent::Updates`] report;
    /// dropped here if the session has not taken the ones before it yet.
    pub fn recycle(&self, list: Vec<UpdateMessage>) {
        self.recycle.send(list);
    }
}

/// Starts the task of one neighbour.
pub fn spawn(params: SessionParams, events: mpsc::Sender<SessionReport>) -> SessionHandle {
    let (commands, receiver) = mpsc::unbounded_channel();
    let (recycle, recycled) = updates::recycle_channel(&params.recycling);
    let counters = SharedCounters::default();
    tokio::spawn(run(params, receiver, recycled, events, counters.clone()));
    SessionHandle { commands, counters, recycle }
}

struct Task {
    peer: PeerId,
    config: SessionConfig,
    connect: ConnectOptions,
    events: mpsc::Sender<SessionReport>,
    /// Batches encoded into the primary's write buffer, with the buffer length
    /// at which each one is completely written (counted from the front).
    written_marks: Vec<usize>,
    established: bool,
    /// RFC 8538 N bit negotiated on the established session.
    notification_negotiated: bool,
    counters: SharedCounters,
    /// A collision verdict taken on an OPEN during the current wakeup, for
    /// the primary (`true`) or the secondary connection.
    verdict: Option<(bool, OpenVerdict)>,
    /// The connection (primary or not) whose output is held until the peer
    /// shows which connection it kept.
    deferred: Option<bool>,
    /// Why the primary's TCP connection failed or closed (the io error, or
    /// the peer's close), for the INFO line of the session going down.
    tcp_cause: Option<String>,
    /// Our own OPEN came back (`self_connect`): stop, do not retry.
    self_connected: bool,
    /// UPDATEs of this wakeup not yet reported (see `updates`).
    pending: PendingUpdates,
    /// Applied report lists the instance hands back (see `updates`).
    recycled: RecycleInbox,
    /// The FSM's actions for one event (see `feed`), reused.
    actions: Vec<Action>,
}

async fn run(
    params: SessionParams,
    mut commands: mpsc::UnboundedReceiver<SessionCommand>,
    recycled: RecycleInbox,
    events: mpsc::Sender<SessionReport>,
    counters: SharedCounters,
) {
    let mut task = Task {
        peer: params.peer,
        connect: params.connect,
        events,
        written_marks: Vec::new(),
        established: false,
        notification_negotiated: false,
        config: params.config.clone(),
        counters,
        verdict: None,
        deferred: None,
        tcp_cause: None,
        self_connected: false,
        pending: PendingUpdates::default(),
        recycled,
        actions: Vec::new(),
    };
    let mut primary =
        Connection::new(Fsm::new(params.config), Direction::Outbound, task.counters.clone());
    let mut secondary: Option<Connection> = None;
    if params.enabled {
        task.start(&mut primary).await;
    }
    let mut received = Vec::new();
    loop {
        while let Some(list) = task.recycled.try_recv() {
            task.pending.recycle(list);
        }
        let flush_at = primary.outbox.flush_deadline();
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { return };
                if task.on_command(command, &mut primary, &mut secondary).await {
                    let _ = task.events.send(SessionReport { peer: task.peer, event: SessionEvent::Ended }).await;
                    return;
                }
            }
            wakeup = primary.wakeup() => {
                let other = secondary.as_ref().map(Connection::state);
                task.on_wakeup(wakeup, &mut primary, true, other, &mut received).await;
                task.settle_collision(&mut primary, &mut secondary).await;
            }
            wakeup = async {
                match secondary.as_mut() {
                    Some(connection) => connection.wakeup().await,
                    None => std::future::pending().await,
                }
            } => {
                let other = Some(primary.state());
                if let Some(connection) = secondary.as_mut() {
                    task.on_wakeup(wakeup, connection, false, other, &mut received).await;
                }
                task.settle_collision(&mut primary, &mut secondary).await;
            }
            _ = async {
                match flush_at {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        task.stop_if_self_connected(&mut primary, &mut secondary).await;
        // Held announcements go out once nothing else is being written or
        // waits to be encoded and no next batch came for a moment (see
        // `outbox`).
        if commands.is_empty() {
            primary.outbox.flush_if_due(tokio::time::Instant::now());
        }
    }
}

impl Task {
    async fn stop_if_self_connected(
        &mut self,
        primary: &mut Connection,
        secondary: &mut Option<Connection>,
    ) {
        if std::mem::take(&mut self.self_connected) {
            let cease = self_connect::report(self.connect.remote.ip());
            self.stop_all(primary, secondary, cease).await;
        }
    }

    fn note_tcp_cause(&mut self, is_primary: bool, cause: String) {
        if is_primary {
            self.tcp_cause = Some(cause);
        }
    }

    async fn start(&mut self, primary: &mut Connection) {
        let event = if self.config.passive {
            Event::ManualStartWithPassiveTcpEstablishment
        } else {
            Event::ManualStart
        };
        self.feed(primary, event, true).await;
    }

    /// Returns `true` when the task must end.
    async fn on_command(
        &mut self,
        command: SessionCommand,
        primary: &mut Connection,
        secondary: &mut Option<Connection>,
    ) -> bool {
        match command {
            SessionCommand::Start => self.start(primary).await,
            SessionCommand::Stop(cease) => {
                let cease = self.closing_notification(cease);
                self.stop_all(primary, secondary, cease).await;
            }
            SessionCommand::Shutdown(cease) => {
                let cease = self.closing_notification(cease);
                self.stop_all(primary, secondary, cease).await;
                return true;
            }
            SessionCommand::Close => {
                if let Some(mut connection) = secondary.take() {
                    connection.disconnect().await;
                }
                primary.disconnect().await;
                return true;
            }
            SessionCommand::SetGracefulRestart(capability) => {
                self.config.graceful_restart = capability.clone();
                primary.fsm.set_graceful_restart(capability);
            }
            SessionCommand::Inbound(stream) => self.on_inbound(stream, primary, secondary).await,
            SessionCommand::Export(batch) => self.on_export(&batch, primary).await,
            SessionCommand::EndOfRib(family) => {
                if self.established {
                    let end_of_rib = UpdateMessage::end_of_rib(family);
                    primary.outbox.push_after_routes(&Message::Update(Box::new(end_of_rib)));
                }
            }
            SessionCommand::RefreshMarker(family, subtype) => {
                if self.established {
                    let refresh = RouteRefresh { afi_safi: family.afi_safi(), subtype };
                    primary.outbox.push_after_routes(&Message::RouteRefresh(refresh));
                }
            }
        }
        false
    }

    /// Encodes an export batch into the primary's outbox and remembers where
    /// it ends, to tell the instance once it is written (`account_written`).
    async fn on_export(&mut self, batch: &ExportBatch, primary: &mut Connection) {
        if self.established {
            let mark = primary.outbox.push_batch(batch);
            if mark == 0 {
                // Nothing to write (already flushed or nothing encoded).
                self.notify(SessionEvent::Written).await;
            } else {
                self.written_marks.push(mark);
            }
        } else {
            // The session fell before the batch arrived: the instance
            // resets this peer's export state when it learns that.
            self.notify(SessionEvent::Written).await;
        }
    }

    /// With RFC 8538 negotiated, an administrative Cease travels in a Hard
    /// Reset, so the peer flushes instead of keeping our routes.
    fn closing_notification(&self, cease: Notification) -> Notification {
        crate::gr::hard_reset_for(cease, self.established && self.notification_negotiated)
    }

    async fn stop_all(
        &mut self,
        primary: &mut Connection,
        secondary: &mut Option<Connection>,
        cease: Notification,
    ) {
        if let Some(mut connection) = secondary.take() {
            self.feed(&mut connection, Event::ManualStop(cease.clone()), false).await;
        }
        self.feed(primary, Event::ManualStop(cease), true).await;
    }

    async fn on_inbound(
        &mut self,
        stream: TcpStream,
        primary: &mut Connection,
        secondary: &mut Option<Connection>,
    ) {
        if let Err(error) =
            socket::apply_ttl(&stream, self.connect.remote.is_ipv6(), self.connect.ttl)
        {
            tracing::warn!(peer = %self.connect.remote.ip(), %error, "cannot set TTL on an accepted connection");
        }
        let _ = stream.set_nodelay(true);
        match primary.state() {
            State::Idle if primary.fsm.timer_running(crate::fsm::Timer::IdleHold) => {
                // Waiting out the restart delay: the peer calling us is as good a
                // reason to restart as the delay running out, and it lets the
                // peer hear why we refuse it (e.g. Bad Peer AS) on its own
                // connection, where it records it.
                self.feed(primary, Event::AutomaticStartWithPassiveTcpEstablishment, true).await;
                primary.attach(stream);
                primary.direction = Direction::Inbound;
                self.feed(primary, Event::TcpConnectionConfirmed, true).await;
            }
            State::Idle => {
                tracing::info!(peer = %self.connect.remote.ip(), "refusing a connection while the session is stopped");
            }
            State::Connect | State::Active => {
                primary.disconnect().await;
                primary.attach(stream);
                primary.direction = Direction::Inbound;
                self.feed(primary, Event::TcpConnectionConfirmed, true).await;
            }
            State::OpenSent | State::OpenConfirm | State::Established => {
                if secondary.is_some() {
                    tracing::info!(peer = %self.connect.remote.ip(), "refusing a third connection");
                    return;
                }
                let config = self.config.clone();
                let mut connection =
                    Connection::new(Fsm::new(config), Direction::Inbound, self.counters.clone());
                connection.attach(stream);
                self.feed(&mut connection, Event::ManualStartWithPassiveTcpEstablishment, false)
                    .await;
                self.feed(&mut connection, Event::TcpConnectionConfirmed, false).await;
                *secondary = Some(connection);
            }
        }
    }

    /// Carries out the collision decisions (RFC 4271 §6.8, `fsm::collision`)
    /// after every wakeup: the verdict taken on an OPEN, a deferred decision
    /// the peer has now settled, and a secondary connection taking the place
    /// of a primary that is gone.
    async fn settle_collision(
        &mut self,
        primary: &mut Connection,
        secondary: &mut Option<Connection>,
    ) {
        match self.verdict.take() {
            Some((on_primary, OpenVerdict::DumpThis)) => {
                self.dump(on_primary, primary, secondary).await;
            }
            Some((on_primary, OpenVerdict::DumpOther)) => {
                self.dump(!on_primary, primary, secondary).await;
            }
            Some((on_primary, OpenVerdict::Defer)) => self.deferred = Some(on_primary),
            Some((_, OpenVerdict::Accept)) | None => {}
        }
        if let Some(on_primary) = self.deferred {
            let secondary_state = secondary.as_ref().map_or(State::Idle, Connection::state);
            let (this, other) = if on_primary {
                (primary.state(), secondary_state)
            } else {
                (secondary_state, primary.state())
            };
            let outcome = settle_deferred(this, other);
            if outcome != Deferred::Wait {
                self.deferred = None;
                tracing::info!(peer = %self.connect.remote.ip(), ?outcome, "connection collision: the peer chose");
            }
            let held = if on_primary { Some(&mut *primary) } else { secondary.as_mut() };
            match outcome {
                Deferred::Wait | Deferred::Gone => {}
                Deferred::DumpThis => {
                    if let Some(connection) = held {
                        // Our KEEPALIVE never left: the peer cannot be Established here.
                        connection.outbox.discard();
                    }
                    self.dump(on_primary, primary, secondary).await;
                }
                Deferred::DumpOtherAndRelease => {
                    if let Some(connection) = held {
                        connection.outbox.release();
                    }
                    self.dump(!on_primary, primary, secondary).await;
                }
                Deferred::Release => {
                    if let Some(connection) = held {
                        connection.outbox.release();
                    }
                }
            }
        }
        if secondary.as_ref().is_some_and(|c| c.state() == State::Idle) {
            *secondary = None;
        }
        // The primary failed or was closed by the peer while the secondary
        // lives on: the secondary becomes the session's connection.
        if primary.state() == State::Idle && secondary.is_some() && self.deferred.is_none() {
            self.promote(primary, secondary).await;
        }
    }

    /// Closes one connection with the Cease of a lost collision (subcode 7);
    /// when it is the primary, the secondary takes its place.
    async fn dump(
        &mut self,
        primary_loses: bool,
        primary: &mut Connection,
        secondary: &mut Option<Connection>,
    ) {
        tracing::info!(peer = %self.connect.remote.ip(), primary_loses, "connection collision: closing one connection");
        if primary_loses {
            self.feed(primary, Event::OpenCollisionDump, true).await;
            self.promote(primary, secondary).await;
        } else if let Some(mut second) = secondary.take() {
            self.feed(&mut second, Event::OpenCollisionDump, false).await;
        }
    }

    /// Puts the secondary connection in the place of the (closed) primary. The
    /// new primary's FSM restarts on its own if it later fails, as the old one
    /// would have; if it reached Established meanwhile, the instance hears it now.
    async fn promote(&mut self, primary: &mut Connection, secondary: &mut Option<Connection>) {
        let Some(mut second) = secondary.take() else { return };
        std::mem::swap(primary, &mut second);
        let from = second.state();
        let to = primary.state();
        if from != to {
            self.notify(SessionEvent::StateChanged { from, to }).await;
        }
        if let Some(negotiated) = primary.unannounced.take() {
            let addresses = primary.local_and_remote();
            self.announce_established(addresses, negotiated).await;
        }
    }

    async fn on_wakeup(
        &mut self,
        wakeup: Wakeup,
        connection: &mut Connection,
        is_primary: bool,
        other: Option<State>,
        received: &mut Vec<Received>,
    ) {
        match wakeup {
            Wakeup::Connected(Ok(stream)) => {
                connection.attach(stream);
                connection.direction = Direction::Outbound;
                self.feed(connection, Event::TcpCrAcked, is_primary).await;
            }
            Wakeup::Connected(Err(error)) => {
                tracing::debug!(peer = %self.connect.remote.ip(), %error, "connection attempt failed");
                self.note_tcp_cause(is_primary, error.to_string());
                self.feed(connection, Event::TcpConnectionFails, is_primary).await;
            }
            Wakeup::Timer(timer) => {
                self.feed(connection, Event::timer_expired(timer), is_primary).await;
            }
            Wakeup::Wrote(Ok(written)) => {
                connection.outbox.release_if_idle();
                if is_primary {
                    self.account_written(written).await;
                }
            }
            Wakeup::Wrote(Err(error)) | Wakeup::Read(Err(error)) => {
                tracing::debug!(peer = %self.connect.remote.ip(), %error, "connection failed");
                self.note_tcp_cause(is_primary, error.to_string());
                self.feed(connection, Event::TcpConnectionFails, is_primary).await;
            }
            Wakeup::Read(Ok(0)) => {
                tracing::debug!(peer = %self.connect.remote.ip(), "peer closed the connection");
                // Process what arrived before the EOF (a NOTIFICATION), then fail.
                self.process_input(connection, received, is_primary, other).await;
                if connection.is_connected() {
                    self.note_tcp_cause(is_primary, "the peer closed the connection".to_string());
                    self.feed(connection, Event::TcpConnectionFails, is_primary).await;
                }
            }
            Wakeup::Read(Ok(_)) => {
                self.process_input(connection, received, is_primary, other).await;
            }
        }
    }

    /// Decodes and delivers every complete message, in steps that let the FSM
    /// see each OPEN and KEEPALIVE before the bytes after it are decoded.
    /// `other` is the state of the session's other connection, if any.
    async fn process_input(
        &mut self,
        connection: &mut Connection,
        received: &mut Vec<Received>,
        is_primary: bool,
        other: Option<State>,
    ) {
        loop {
            connection.drain_frames(received);
            let dumped = matches!(self.verdict, Some((_, OpenVerdict::DumpThis)));
            if received.is_empty() || !connection.is_connected() || dumped {
                received.clear();
                received.shrink_to(64); // what a burst of UPDATEs grew goes back
                return;
            }
            self.deliver(connection, received, is_primary, other).await;
            self.report_updates().await;
        }
    }

    async fn deliver(
        &mut self,
        connection: &mut Connection,
        received: &mut Vec<Received>,
        is_primary: bool,
        other: Option<State>,
    ) {
        for item in received.drain(..) {
            if self_connect::is_own(&item, &self.config, connection) {
                self.self_connected = true;
                return;
            }
            match item {
                Received::Event(
                    ref event @ (Event::BgpOpen(ref open)
                    | Event::BgpOpenWithDelayOpenTimerRunning(ref open)),
                ) if other.is_some_and(|o| o != State::Idle) => {
                    let other = other.unwrap_or(State::Idle);
                    let verdict = on_open(
                        self.config.router_id,
                        self.config.local_asn,
                        open,
                        connection.direction,
                        other,
                    );
                    self.verdict = Some((is_primary, verdict));
                    match verdict {
                        // Answered by the Cease alone, in `settle_collision`.
                        OpenVerdict::DumpThis => return,
                        OpenVerdict::Defer => connection.outbox.defer(),
                        OpenVerdict::Accept | OpenVerdict::DumpOther => {}
                    }
                    self.feed(connection, event.clone(), is_primary).await;
                }
                Received::Event(event) => self.feed(connection, event, is_primary).await,
                Received::Update(decoded) => {
                    if !(is_primary && self.established) {
                        continue;
                    }
                    for error in &decoded.outcome.errors {
                        tracing::warn!(peer = %self.connect.remote.ip(), ?error, "UPDATE attribute error handled per RFC 7606");
                    }
                    self.counters.0.update_received(&decoded.update);
                    if let Some(full) = self.pending.push(decoded.update) {
                        self.report(SessionEvent::Updates(full)).await;
                    }
                }
                Received::RouteRefresh(refresh) => {
                    if is_primary && self.established {
                        self.notify(SessionEvent::RouteRefresh(refresh)).await;
                    }
                }
            }
        }
    }

    async fn account_written(&mut self, written: usize) {
        let mut done = 0;
        for mark in &mut self.written_marks {
            *mark = mark.saturating_sub(written);
            if *mark == 0 {
                done += 1;
            }
        }
        self.written_marks.retain(|mark| *mark > 0);
        for _ in 0..done {
            self.notify(SessionEvent::Written).await;
        }
    }

    /// Reports `event`, after the UPDATEs received before it.
    async fn notify(&mut self, event: SessionEvent) {
        self.report_updates().await;
        self.report(event).await;
    }

    async fn report_updates(&mut self) {
        if let Some(updates) = self.pending.take() {
            self.report(SessionEvent::Updates(updates)).await;
        }
    }

    /// Sends `event` to the instance once its queue has room, taking the
    /// lists it hands back meanwhile: a feeder waits here for most of a full
    /// table, and its lists would otherwise wait with it (see `updates`).
    async fn report(&mut self, event: SessionEvent) {
        let permit = loop {
            tokio::select! {
                biased;
                permit = self.events.reserve() => break permit,
                Some(list) = self.recycled.recv() => self.pending.recycle(list),
            }
        };
        if let Ok(permit) = permit {
            permit.send(SessionReport { peer: self.peer, event });
        }
    }

    /// Tells the instance the primary connection is Established; `addresses`
    /// are its local and remote ends.
    async fn announce_established(
        &mut self,
        addresses: Option<(SocketAddr, SocketAddr)>,
        negotiated: Box<NegotiatedSession>,
    ) {
        let (local, remote) = addresses.unwrap_or((self.connect.remote, self.connect.remote));
        self.established = true;
        self.notification_negotiated = crate::gr::Negotiated::from_opens(
            &negotiated.local_open,
            &negotiated.remote_open,
            &negotiated.families,
        )
        .is_some_and(|gr| gr.notification);
        self.written_marks.clear();
        tracing::info!(peer = %self.connect.remote.ip(), asn = negotiated.peer_asn, hold = negotiated.hold_time, "session established");
        self.notify(SessionEvent::Established { negotiated, local, remote }).await;
    }

    /// Feeds one event to a connection's FSM and executes the actions.
    async fn feed(&mut self, connection: &mut Connection, event: Event, is_primary: bool) {
        // One reused list: every UPDATE and KEEPALIVE is an event (the hold
        // timer restarts), so a new list each was an allocation per message.
        let mut actions = std::mem::take(&mut self.actions);
        connection.fsm.handle_into(event, &mut actions);
        for action in actions.drain(..) {
            if connection.execute_io(&action).await {
                continue;
            }
            match action {
                Action::Connect => {
                    let options = self.connect.clone();
                    connection
                        .start_connect(Box::pin(async move { socket::connect(&options).await }));
                }
                Action::Established(negotiated) => {
                    connection.codec =
                        CodecOptions::negotiated(&negotiated.local_open, &negotiated.remote_open);
                    connection.codec.skip_first_as_check = !self.config.enforce_first_as;
                    connection.outbox.set_options(connection.codec);
                    if is_primary {
                        let addresses = connection.local_and_remote();
                        self.announce_established(addresses, negotiated).await;
                    } else {
                        connection.unannounced = Some(negotiated);
                    }
                }
                Action::SessionDown { reason, established } if is_primary => {
                    let reason_text = describe_with_cause(&reason, self.tcp_cause.take());
                    tracing::info!(peer = %self.connect.remote.ip(), reason = %reason_text, "session down");
                    let was = self.established;
                    self.established = false;
                    let outstanding = self.written_marks.len();
                    self.written_marks.clear();
                    for _ in 0..outstanding {
                        self.notify(SessionEvent::Written).await;
                    }
                    self.notify(SessionEvent::Down { reason, established: established || was })
                        .await;
                }
                Action::StateChanged { from, to } if is_primary => {
                    tracing::debug!(peer = %self.connect.remote.ip(), %from, %to, "state change");
                    self.notify(SessionEvent::StateChanged { from, to }).await;
                }
                _ => {}
            }
        }
        self.actions = actions;
    }
}

mod describe;
pub(crate) mod updates;

#[cfg(test)]
mod tests;
