//! The instance's neighbors and static routes: starting and stopping a
//! neighbor's session task, TCP MD5 keys on the listeners (RFC 2385),
//! accepting inbound connections, and applying a reloaded config file (SIGHUP)
//! as a diff of neighbors and routes.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use ipnet::IpNet;
use tokio::net::TcpStream;

use super::refusals::Refusal;
use super::status::{PeerView, SessionStatus};
use super::watch::PeerEvent;
use super::{Instance, PeerSlot, graceful};
use crate::config::{Config, ConfigDiff, GlobalChange, Neighbor, NeighborField, StaticRoute};
use crate::fsm::SessionConfig;
use crate::peer::socket::{self, ConnectOptions};
use crate::peer::{self, SessionCommand, SessionParams};
use crate::rib::{PeerId, Source};
use crate::wire::{AsPath, Notification, NotificationKind, PathAttributes};

impl Instance {
    pub(super) fn originate(&mut self, route: &StaticRoute) {
        let attributes = static_attributes(route, self.config.global.asn);
        if let Err(error) =
            self.rib.originate(Source::Static, route.prefix, attributes, route.next_hop)
        {
            tracing::error!(prefix = %route.prefix, %error, "cannot originate a static route");
        }
    }

    pub(super) fn withdraw_static(&mut self, prefix: IpNet) {
        if let Err(error) = self.rib.withdraw_local(Source::Static, prefix) {
            tracing::error!(%prefix, %error, "cannot withdraw a static route");
        }
    }

    pub(super) fn add_neighbor(&mut self, neighbor: Neighbor) {
        let id = PeerId(self.next_peer);
        self.next_peer += 1;
        if let Some(password) = &neighbor.password {
            self.set_listener_keys(neighbor.address, password.as_bytes());
        }
        let ibgp = neighbor.is_ibgp(self.config.global.asn);
        let mut config = session_config(&self.config, &neighbor);
        config.graceful_restart = self.gr_capability(neighbor.graceful_restart, &config.families);
        let params = SessionParams {
            peer: id,
            config,
            connect: ConnectOptions {
                remote: neighbor.remote_socket(),
                local_address: neighbor.local_address,
                password: neighbor.password.as_ref().map(|p| p.as_bytes().to_vec()),
                ttl: socket::TtlSettings {
                    send: neighbor.ttl.outgoing_ttl(ibgp),
                    minimum: neighbor.ttl.minimum_incoming_ttl(),
                },
                device: neighbor.vrf.clone(),
            },
            enabled: neighbor.enabled,
            recycling: self.recycling.clone(),
        };
        let neighbor_gr = neighbor.graceful_restart;
        let device = neighbor.vrf.clone();
        let session = peer::spawn(params, self.sessions.clone());
        let counters = session.counters.clone();
        tracing::info!(peer = %neighbor.display_name(), asn = neighbor.remote_asn, "neighbour configured");
        if !self.api.watchers.is_empty() {
            let view = PeerView::new(&neighbor, &SessionStatus::default(), &self.rib, id);
            self.watch_peer(PeerEvent::Added(Box::new(view)));
        }
        let address = neighbor.address;
        self.by_address.insert(address, id);
        self.peers.insert(
            id,
            PeerSlot {
                neighbor,
                session,
                established: false,
                in_flight: Default::default(),
                end_of_rib_due: Vec::new(),
                end_of_refresh_due: Vec::new(),
                enhanced_refresh: false,
                status: SessionStatus::with_counters(counters),
                from_api: false,
                helper: graceful::helper_for(neighbor_gr),
            },
        );
        if let Some(device) = &device {
            self.device_needed(address, device);
        }
        self.gr_neighbor_added(id);
        self.bfd_sync(id);
        if let Some(slot) = self.peers.get_mut(&id) {
            slot.status.rfc8212 = super::policies::expected_blocks(&self.config, &slot.neighbor);
        }
    }

    pub(super) fn remove_neighbor(&mut self, address: IpAddr, cease: Notification) {
        let Some(id) = self.by_address.remove(&address) else { return };
        self.watch_peer(PeerEvent::Removed(address));
        if let Some(slot) = self.peers.remove(&id) {
            self.export_budget.give_back(slot.in_flight.iter().sum());
            self.bfd_remove(slot.status.bfd.key());
            slot.session.send(SessionCommand::Shutdown(cease));
            if slot.neighbor.password.is_some() {
                self.set_listener_keys(address, &[]);
            }
            if let Some(device) = &slot.neighbor.vrf {
                self.device_released(device);
            }
        }
        if let Err(error) = self.rib.remove_peer(id) {
            tracing::debug!(%error, "peer had no RIB state");
        }
        self.gr_peer_removed(id);
        self.pump_all();
    }

    /// Installs (or with an empty key removes) a neighbour's MD5 key on every
    /// listening socket of a compatible family, the device listeners' too.
    pub(super) fn set_listener_keys(&self, address: IpAddr, key: &[u8]) {
        for listener in self.listeners.iter().chain(self.devices.listeners()) {
            let is_v6 = socket::is_v6_listener(listener);
            if address.is_ipv6() && !is_v6 {
                continue;
            }
            if let Err(error) = socket::set_md5_key(listener.as_raw_fd(), is_v6, address, key) {
                tracing::error!(%error, "cannot install the TCP MD5 key on a listener");
            }
        }
    }

    /// A connection accepted by a listener bound to `device` (`None`: a
    /// default listener) goes to the neighbor of its address: one with a
    /// `vrf` takes it only from that device's listener; one without takes it
    /// from any (it is bound to no device, and an ordinary interface's
    /// listener also receives the connections of other neighbors that arrive
    /// through it).
    pub(super) fn on_accepted(
        &mut self,
        stream: TcpStream,
        remote: SocketAddr,
        device: Option<&str>,
    ) {
        let address = socket::canonical_ip(remote.ip());
        match self.by_address.get(&address).and_then(|id| self.peers.get(id)) {
            Some(slot) if slot.neighbor.vrf.is_some() && slot.neighbor.vrf.as_deref() != device => {
                let vrf = slot.neighbor.vrf.as_deref().unwrap_or("none");
                let through = device.unwrap_or("a default listener");
                self.log_refusal(remote, &format!("a neighbor with vrf {vrf}, through {through}"))
            }
            Some(slot) if slot.neighbor.enabled => {
                slot.session.send(SessionCommand::Inbound(stream))
            }
            Some(_) => self.log_refusal(remote, "a disabled neighbor"),
            None => {
                if self.accept_on_interface(stream, remote).is_some() {
                    self.log_refusal(remote, "an unknown address");
                }
            }
        }
    }

    /// One INFO line per refused connection, at most
    /// `refusals::REFUSALS_LOGGED_PER_WINDOW` per `refusals::REFUSAL_WINDOW`;
    /// the first line after a suppressed stretch counts what was not logged.
    fn log_refusal(&mut self, remote: SocketAddr, from: &str) {
        match self.refusals.refused(std::time::Instant::now()) {
            Refusal::Log { suppressed: 0 } => {
                tracing::info!(%remote, "refusing a connection from {from}")
            }
            Refusal::Log { suppressed } => tracing::info!(
                %remote,
                suppressed,
                "refusing a connection from {from} ({suppressed} refused connections not logged before it)"
            ),
            Refusal::Suppress => {}
        }
    }

    pub(super) async fn reload(&mut self) {
        let path = self.config_path.clone();
        let loaded = tokio::task::spawn_blocking(move || Config::load(&path)).await;
        let mut new = match loaded {
            Ok(Ok(config)) => config,
            Ok(Err(errors)) => {
                // One line, every error in `reason` (they are one per line).
                let reason = errors.to_string().replace('\n', "; ");
                tracing::error!(%reason, "reload refused, the running config stays");
                return;
            }
            Err(error) => {
                tracing::error!(reason = %error, "reload failed");
                return;
            }
        };
        self.drop_api_conflicts(&mut new);
        let diff = ConfigDiff::between(&self.config, &new);
        let restart = diff.restart_changes(&self.config, &new);
        if !restart.is_empty() {
            // One line, the whole reload refused: nothing is half-applied.
            let reason = format!("{} needs a restart", restart.join(", "));
            tracing::error!(
                reason = %reason,
                "reload refused, the running config stays: {reason}"
            );
            return;
        }
        tracing::info!(
            added = diff.neighbors_added.len(),
            removed = diff.neighbors_removed.len(),
            changed = diff.neighbors_changed.len(),
            routes_added = diff.routes_added.len(),
            routes_removed = diff.routes_removed.len(),
            "applying reloaded config"
        );
        let deconfigured = Notification::new(NotificationKind::PeerDeconfigured, Vec::new());
        for address in &diff.neighbors_removed {
            self.remove_neighbor(*address, deconfigured.clone());
        }
        for change in &diff.neighbors_changed {
            let address = change.neighbor.address;
            if change.reset {
                let cease =
                    Notification::new(NotificationKind::OtherConfigurationChange, Vec::new());
                self.remove_neighbor(address, cease);
                self.add_neighbor(change.neighbor.clone());
            } else if let Some(slot) =
                self.by_address.get(&address).and_then(|id| self.peers.get_mut(id))
            {
                if slot.neighbor.enabled && !change.neighbor.enabled {
                    let cease = Notification::shutdown(
                        NotificationKind::AdministrativeShutdown,
                        "disabled by configuration",
                    );
                    slot.session.send(SessionCommand::Stop(cease));
                } else if !slot.neighbor.enabled && change.neighbor.enabled {
                    slot.session.send(SessionCommand::Start);
                }
                slot.neighbor = change.neighbor.clone();
                self.bfd_sync_address(address);
                if change.fields.contains(&NeighborField::MaxPrefixes)
                    && let Some(&id) = self.by_address.get(&address)
                {
                    self.max_prefix_changed(id);
                }
            }
        }
        for neighbor in &diff.neighbors_added {
            self.add_neighbor(neighbor.clone());
        }
        let interface_neighbors = std::mem::take(&mut new.interface_neighbors);
        new.interface_neighbors = self.reload_interface_neighbors(&interface_neighbors);
        for prefix in &diff.routes_removed {
            self.withdraw_static(*prefix);
        }
        for route in diff.routes_added.iter().chain(&diff.routes_changed) {
            self.originate(route);
        }
        if let Some(layer2) = &self.layer2
            && (new.layer2 != self.config.layer2
                || new.layer2_gratuitous != self.config.layer2_gratuitous)
        {
            let _ = layer2.configure(new.layer2.clone(), new.layer2_gratuitous).await;
        }
        let all = diff.global.contains(&GlobalChange::Policies);
        let changed: Vec<IpAddr> = diff
            .neighbors_changed
            .iter()
            .filter(|c| !c.reset && c.fields.iter().any(|f| f.changes_policy()))
            .map(|c| c.neighbor.address)
            .collect();
        self.config = new;
        let ids: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, slot)| all || changed.contains(&slot.neighbor.address))
            .map(|(id, _)| *id)
            .collect();
        self.reapply_policies(&ids);
        self.refresh_expected_blocks();
        self.pump_all();
    }
}

fn session_config(config: &Config, neighbor: &Neighbor) -> SessionConfig {
    // The neighbor's own AS and identifier, if it has them: the OPEN, the
    // checks of the peer's OPEN and collision resolution (RFC 4271 §6.8)
    // then all use what this session announced.
    let mut session = SessionConfig::new(
        neighbor.own_asn(config.global.asn),
        neighbor.remote_asn,
        neighbor.own_router_id(config.global.router_id),
    );
    session.hold_time = neighbor.hold_time;
    session.keepalive_time = Some(neighbor.keepalive_time);
    session.connect_retry_time = Duration::from_secs(u64::from(neighbor.connect_retry_time.max(1)));
    session.passive = neighbor.passive;
    session.delay_open_time = (neighbor.delay_open_time > 0)
        .then(|| Duration::from_secs(u64::from(neighbor.delay_open_time)));
    session.families = neighbor.families.clone();
    session.any_external_as = neighbor.any_external_as();
    session.enforce_first_as = neighbor.enforce_first_as;
    // Over an interface there is no IPv4 address: IPv4 routes need IPv6
    // next hops (RFC 8950), as FRR offers on `neighbor IFNAME interface`.
    session.extended_next_hop = neighbor.interface.is_some();
    session
}

fn static_attributes(route: &StaticRoute, local_asn: u32) -> PathAttributes {
    PathAttributes {
        origin: Some(route.origin),
        as_path: AsPath::from_sequence(std::iter::repeat_n(
            local_asn,
            usize::from(route.as_path_prepend),
        )),
        med: route.med,
        local_pref: Some(route.local_pref),
        communities: route.communities.clone(),
        large_communities: route.large_communities.clone(),
        extended_communities: route.extended_communities.clone(),
        ..PathAttributes::default()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn the_session_announces_the_neighbor_local_as_and_router_id() {
        let config: Config = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n\
             [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
             local_asn = 4200000000\nrouter_id = \"192.0.2.99\"\n\
             [[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65002\n"
            .parse()
            .unwrap();
        let own = session_config(&config, &config.neighbors[0]);
        assert_eq!((own.local_asn, own.router_id), (4_200_000_000, Ipv4Addr::new(192, 0, 2, 99)));
        let global = session_config(&config, &config.neighbors[1]);
        assert_eq!((global.local_asn, global.router_id), (65001, Ipv4Addr::new(192, 0, 2, 1)));
    }

    #[test]
    fn the_session_gets_the_neighbor_enforce_first_as() {
        let config: Config = "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n\
             [[neighbors]]\naddress = \"192.0.2.2\"\nremote_asn = 65002\n\
             enforce_first_as = false\n\
             [[neighbors]]\naddress = \"192.0.2.3\"\nremote_asn = 65002\n"
            .parse()
            .unwrap();
        assert!(!session_config(&config, &config.neighbors[0]).enforce_first_as);
        assert!(session_config(&config, &config.neighbors[1]).enforce_first_as);
    }
}
