//! BGP unnumbered: a neighbor named by an interface instead of an address
//! (FRR's `neighbor IFNAME interface`), its session over IPv6 link-local
//! addresses, IPv4 routes with IPv6 next hops (RFC 8950).
//!
//! One std thread per interface neighbor ([`spawn`]) owns a raw ICMPv6
//! socket (blocking, off the async workers) and:
//! - reads the interface's index and our own link-local and global IPv6
//!   addresses from `/sys/class/net` and `/proc/net/if_inet6` (once a
//!   second: the interface may appear, vanish or be renumbered at any time;
//!   a missing interface is reported once and retried, never fatal);
//! - sends a Router Advertisement (RFC 4861 §4.2) with Router Lifetime 0
//!   every [`RA_INTERVAL`], so the peer learns our link-local address as
//!   FRR's does from the RAs its zebra sends (lifetime 0: no host takes us
//!   for a default router, RFC 4861 §6.2.3);
//! - takes the source of Router Advertisements received on that interface
//!   (type 134, a link-local source scoped to it) as the peer's address.
//!
//! What it finds goes to the instance as a [`Discovery`]; the instance
//! starts the session to `fe80::x%ifindex` port 179, and also takes an
//! incoming connection from any link-local source scoped to the interface
//! as the peer (see `instance::unnumbered`).

mod link;
mod radv;

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use link::{Link, read_link};

/// How often we send a Router Advertisement.
pub const RA_INTERVAL: Duration = Duration::from_secs(3);
/// How often the interface is looked at again (and how long a receive waits).
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// What a discovery thread found on its interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// The interface, as configured.
    pub interface: String,
    /// Its index and our addresses on it; `None` while it is missing or has
    /// no link-local address.
    pub link: Option<Link>,
    /// The peer's link-local address, from its last Router Advertisement.
    pub peer: Option<Ipv6Addr>,
}

/// Stops a discovery thread when dropped (or told to).
#[derive(Debug)]
pub struct DiscoveryHandle {
    stop: Arc<AtomicBool>,
}

impl Drop for DiscoveryHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the discovery thread of `interface`. `report` is called with every
/// change; it returns `false` when nobody listens any more, which ends the
/// thread (as does dropping the handle).
pub fn spawn(
    interface: String,
    report: impl FnMut(Discovery) -> bool + Send + 'static,
) -> std::io::Result<DiscoveryHandle> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::Builder::new()
        .name(format!("unnumbered-{interface}"))
        .spawn(move || run(&interface, &flag, report))?;
    Ok(DiscoveryHandle { stop })
}

fn run(interface: &str, stop: &AtomicBool, mut report: impl FnMut(Discovery) -> bool) {
    let mut last = Discovery { interface: interface.to_string(), link: None, peer: None };
    let mut socket: Option<(u32, radv::RaSocket)> = None;
    let mut next_ra = Instant::now();
    let mut warned = false;
    while !stop.load(Ordering::Relaxed) {
        let link = read_link(std::path::Path::new(link::SYS_CLASS_NET), interface);
        let mut now = last.clone();
        now.link = link;
        match link {
            None => {
                if !warned {
                    tracing::warn!(
                        interface,
                        "interface missing or without an IPv6 link-local address; looking again every second"
                    );
                    warned = true;
                }
                socket = None;
                now.peer = None;
                std::thread::sleep(POLL_INTERVAL);
            }
            Some(link) => {
                warned = false;
                if socket.as_ref().is_none_or(|(index, _)| *index != link.index) {
                    socket = match radv::RaSocket::open(link.index) {
                        Ok(s) => Some((link.index, s)),
                        Err(error) => {
                            tracing::warn!(interface, %error, "cannot open the ICMPv6 socket; retrying");
                            std::thread::sleep(POLL_INTERVAL);
                            continue;
                        }
                    };
                    next_ra = Instant::now();
                }
                if let Some((_, ra)) = &socket {
                    if Instant::now() >= next_ra {
                        if let Err(error) = ra.advertise() {
                            tracing::debug!(interface, %error, "cannot send a Router Advertisement");
                        }
                        next_ra = Instant::now() + RA_INTERVAL;
                    }
                    let wait = next_ra.saturating_duration_since(Instant::now()).min(POLL_INTERVAL);
                    match ra.receive(wait) {
                        Ok(Some(source)) if source != link.link_local => now.peer = Some(source),
                        Ok(_) => {}
                        Err(error) => {
                            tracing::debug!(interface, %error, "ICMPv6 receive failed");
                            std::thread::sleep(POLL_INTERVAL);
                        }
                    }
                }
            }
        }
        if now != last {
            // Stopped meanwhile (the neighbor deleted): nothing more to say.
            if stop.load(Ordering::Relaxed) || !report(now.clone()) {
                return;
            }
            last = now;
        }
    }
}
