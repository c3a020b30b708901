//! The layer2 links' state for [`crate::election::failover::Failover::set_link`]: read
//! from sysfs (`/sys/class/net/<if>/carrier` and `operstate`) on a thread of its own, once
//! per heartbeat interval, and reported only when it changes.
//!
//! Why a periodic read rather than netlink: one file read per interface per interval is
//! cheap, needs no netlink dependency, and the failover only needs the state within a
//! heartbeat interval. Blocking file reads stay off the async worker threads.
//!
//! Up means: some layer2 interface is operationally up (or `unknown`, what drivers without
//! operational state report) with carrier. A node that keeps one live interface still
//! answers on it and is heard there.

use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;

/// Whether one interface is up, from its `operstate` and `carrier` files' contents
/// (`None` when unreadable: absent interface, or `carrier` of an administratively down
/// one).
pub fn interface_up(operstate: Option<&str>, carrier: Option<&str>) -> bool {
    let oper = matches!(operstate.map(str::trim), Some("up" | "unknown"));
    oper && carrier.map(str::trim) == Some("1")
}

fn read(root: &Path, interface: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(root.join(interface).join(file)).ok()
}

/// Whether any of `interfaces` is up, under a sysfs `root` (`/sys/class/net`).
pub fn any_up(root: &Path, interfaces: &[String]) -> bool {
    interfaces.iter().any(|i| {
        interface_up(read(root, i, "operstate").as_deref(), read(root, i, "carrier").as_deref())
    })
}

/// Starts the reader thread: sends the state at once, then each change. Ends when the
/// receiver is dropped.
pub fn spawn(interfaces: Vec<String>, every: Duration, tx: mpsc::Sender<bool>) {
    let spawned = std::thread::Builder::new().name("layer2-link".into()).spawn(move || {
        let root = Path::new("/sys/class/net");
        let mut last = None;
        loop {
            let up = any_up(root, &interfaces);
            if last != Some(up) {
                if tx.blocking_send(up).is_err() {
                    return;
                }
                last = Some(up);
            }
            if tx.is_closed() {
                return;
            }
            std::thread::sleep(every);
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the link state reader; links count as up");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operstate_and_carrier() {
        let cases = [
            (Some("up\n"), Some("1\n"), true),
            (Some("unknown\n"), Some("1\n"), true),
            (Some("down\n"), Some("0\n"), false),
            (Some("up\n"), Some("0\n"), false),
            (Some("lowerlayerdown\n"), Some("0\n"), false),
            // Administratively down: carrier is unreadable.
            (Some("down\n"), None, false),
            (None, None, false),
        ];
        for (oper, carrier, want) in cases {
            assert_eq!(interface_up(oper, carrier), want, "{oper:?} {carrier:?}");
        }
    }

    #[test]
    fn any_interface_up_counts() {
        let root = std::env::temp_dir().join(format!("ironlb-link-{}", std::process::id()));
        let write = |i: &str, oper: &str, carrier: &str| {
            let dir = root.join(i);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("operstate"), oper).unwrap();
            std::fs::write(dir.join("carrier"), carrier).unwrap();
        };
        write("a", "down\n", "0\n");
        write("b", "up\n", "1\n");
        assert!(any_up(&root, &["a".into(), "b".into()]));
        assert!(!any_up(&root, &["a".into(), "missing".into()]));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
