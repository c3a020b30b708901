//! Listeners bound to a device, for neighbors with a `vrf` (`SO_BINDTODEVICE`).
//!
//! Linux hands a connection that arrives through a VRF device to a socket of
//! the default VRF only when `net.ipv4.tcp_l3mdev_accept` is 1 (0 by
//! default), so a neighbor in a VRF needs a listener bound to that device.
//! There is one per distinct device, shared by the neighbors bound to it, on
//! `global.listen_port` and each of `global.listen_addresses` (the wildcards
//! by default); it is opened with the first neighbor that names the device
//! and closed with the last. Bound: one entry per distinct `vrf` among the
//! neighbors, one socket per listen address each, one retry timer each.
//!
//! A connection goes to a `vrf` neighbor only when it arrived through its
//! device's listener, so a session bound to a device never runs over another
//! path, in either direction. A neighbor without `vrf` takes connections from
//! any listener: a listener bound to an ordinary interface (not a VRF device)
//! also receives the connections of other neighbors arriving through it, as
//! Linux prefers the socket bound to the arrival device.
//!
//! The device may not exist (yet): the instance logs it (device, neighbors,
//! reason) when it first fails and whenever the reason changes, reports it in
//! each of its neighbors' status (`SessionStatus::device_problem`, GetPeer's
//! `device_error`), and tries again every [`DEVICE_RETRY`]. With
//! `listen_port = 0` there is no listener, but the device is still looked up
//! so that the status says why no session comes up. The sessions bind their
//! own connections to the device by name on each attempt
//! (`peer::socket::bind_device`), so they need no retry of their own.
//!
//! Not handled: a device deleted and created again while its listener is
//! open leaves the listener on the old device (bgpd does not watch netlink);
//! a reload or UpdatePeer that changes the neighbors' `vrf`, or removing and
//! adding them, opens it anew.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::{Instance, InstanceEvent};
use crate::config::Global;
use crate::peer::socket::{self, SocketError};

/// How often a device that could not be bound is tried again.
pub const DEVICE_RETRY: Duration = Duration::from_secs(5);

/// The device listeners, by device name.
#[derive(Default)]
pub(super) struct Devices {
    by_name: HashMap<String, DeviceListener>,
}

struct DeviceListener {
    /// One per listen address; empty while `problem` is set.
    listeners: Vec<Arc<TcpListener>>,
    accepting: Vec<AbortHandle>,
    /// Why the device has no listener; `None` once it has.
    problem: Option<String>,
}

impl Drop for DeviceListener {
    fn drop(&mut self) {
        for task in &self.accepting {
            task.abort();
        }
    }
}

impl Devices {
    /// Every device listener, for the neighbors' TCP MD5 keys.
    pub(super) fn listeners(&self) -> impl Iterator<Item = &Arc<TcpListener>> {
        self.by_name.values().flat_map(|entry| entry.listeners.iter())
    }

    /// Why `device` has no listener, if it is known and has none.
    pub(super) fn problem(&self, device: &str) -> Option<String> {
        self.by_name.get(device).and_then(|entry| entry.problem.clone())
    }
}

impl Instance {
    /// A neighbor bound to `device` was added: its device gets a listener if
    /// it has none yet, and the neighbor's status says whether it could.
    pub(super) fn device_needed(&mut self, address: IpAddr, device: &str) {
        if !self.devices.by_name.contains_key(device) {
            self.device_open(device.to_string());
        }
        let problem = self.devices.problem(device);
        if let Some(slot) = self.by_address.get(&address).and_then(|id| self.peers.get_mut(id)) {
            slot.status.device_problem = problem;
        }
    }

    /// A neighbor bound to `device` was removed: the listener closes when no
    /// other neighbor names the device.
    pub(super) fn device_released(&mut self, device: &str) {
        let used = self.peers.values().any(|slot| slot.neighbor.vrf.as_deref() == Some(device));
        if !used && self.devices.by_name.remove(device).is_some() {
            tracing::info!(device, "no neighbor is bound to the device any more: listener closed");
        }
    }

    /// The retry timer of `device` fired.
    pub(super) fn device_retry(&mut self, device: String) {
        if self.devices.by_name.get(&device).is_some_and(|entry| entry.problem.is_some()) {
            self.device_open(device);
        }
    }

    fn device_open(&mut self, device: String) {
        let previous = self.devices.by_name.remove(&device).and_then(|entry| entry.problem.clone());
        let neighbors: Vec<IpAddr> = self
            .peers
            .values()
            .filter(|slot| slot.neighbor.vrf.as_deref() == Some(device.as_str()))
            .map(|slot| slot.neighbor.address)
            .collect();
        let entry = match open_listeners(&self.config.global, &device) {
            Ok(listeners) => {
                tracing::info!(
                    device,
                    ?neighbors,
                    listeners = listeners.len(),
                    "sessions bound to the device (vrf)"
                );
                let name: Arc<str> = Arc::from(device.as_str());
                let accepting = listeners
                    .iter()
                    .map(|listener| {
                        let task = accept_loop(
                            Arc::clone(listener),
                            Some(Arc::clone(&name)),
                            self.events.clone(),
                        );
                        tokio::spawn(task).abort_handle()
                    })
                    .collect();
                DeviceListener { listeners, accepting, problem: None }
            }
            Err(error) => {
                let reason = error.to_string();
                if previous.as_deref() != Some(reason.as_str()) {
                    tracing::warn!(
                        device,
                        ?neighbors,
                        %reason,
                        retry_seconds = DEVICE_RETRY.as_secs(),
                        "cannot bind the sessions of the device's neighbors (vrf); retrying"
                    );
                }
                let events = self.events.clone();
                let name = device.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(DEVICE_RETRY).await;
                    let _ = events.send(InstanceEvent::DeviceRetry { device: name }).await;
                });
                DeviceListener {
                    listeners: Vec::new(),
                    accepting: Vec::new(),
                    problem: Some(reason),
                }
            }
        };
        let problem = entry.problem.clone();
        let listening = problem.is_none();
        self.devices.by_name.insert(device.clone(), entry);
        let mut keys = Vec::new();
        for slot in self.peers.values_mut() {
            if slot.neighbor.vrf.as_deref() == Some(device.as_str()) {
                slot.status.device_problem.clone_from(&problem);
                if let (true, Some(password)) = (listening, &slot.neighbor.password) {
                    keys.push((slot.neighbor.address, password.as_bytes().to_vec()));
                }
            }
        }
        for (address, key) in keys {
            self.set_listener_keys(address, &key);
        }
    }
}

/// Opens the listeners of `device` on the configured listen addresses and
/// port; with `listen_port = 0` none, but the device must exist.
fn open_listeners(global: &Global, device: &str) -> Result<Vec<Arc<TcpListener>>, SocketError> {
    if global.listen_port == 0 {
        return device_index(device).map(|_| Vec::new());
    }
    global
        .listen_addresses
        .iter()
        .map(|address| {
            let address = SocketAddr::new(*address, global.listen_port);
            socket::listen_on(address, Some(device)).map(Arc::new)
        })
        .collect()
}

/// The interface index of `device` (`if_nametoindex`), to tell whether it exists.
fn device_index(device: &str) -> Result<u32, SocketError> {
    let missing = |source| SocketError::Device { device: device.to_string(), source };
    let name = std::ffi::CString::new(device)
        .map_err(|_| missing(std::io::Error::from(std::io::ErrorKind::InvalidInput)))?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(missing(std::io::Error::last_os_error())),
        index => Ok(index),
    }
}

/// Hands every connection `listener` accepts to the instance, with the
/// device it is bound to (`None`: a default listener).
pub(crate) async fn accept_loop(
    listener: Arc<TcpListener>,
    device: Option<Arc<str>>,
    events: mpsc::Sender<InstanceEvent>,
) {
    // EMFILE and friends: back off (10 ms doubling to 1 s) instead of
    // spinning, and log once per burst.
    const BACKOFF_MIN: Duration = Duration::from_millis(10);
    const BACKOFF_MAX: Duration = Duration::from_secs(1);
    let mut backoff = BACKOFF_MIN;
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                backoff = BACKOFF_MIN;
                let device = device.clone();
                if events.send(InstanceEvent::Accepted { stream, remote, device }).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                if backoff == BACKOFF_MIN {
                    tracing::warn!(%error, ?device, "BGP accept failed; backing off");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_has_no_index() {
        assert!(device_index("lo").is_ok());
        let err = device_index("ironlb-none0").unwrap_err();
        assert!(err.to_string().contains("\"ironlb-none0\""), "{err}");
    }

    #[tokio::test]
    async fn without_a_listen_port_only_the_device_is_looked_up() {
        let config: crate::config::Config =
            "[global]\nasn = 65001\nrouter_id = \"192.0.2.1\"\nlisten_port = 0\n".parse().unwrap();
        assert!(open_listeners(&config.global, "lo").unwrap().is_empty());
        assert!(open_listeners(&config.global, "ironlb-none0").is_err());
    }
}
