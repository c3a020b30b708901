//! Interface state as the kernel shows it in `/sys/class/net/NAME/`:
//! `ifindex`, `address`, `flags` (`IFF_UP`, `IFF_NOARP`) and `operstate`
//! (RFC 2863 names). Reading files is blocking: call [`scan`] from a std
//! thread or `spawn_blocking`. Polled rather than followed over netlink: one
//! small directory walk a few times a second costs nothing and has no
//! missed-event failure mode.

use std::path::Path;

use super::announcer::LinkState;
use super::arp::MacAddress;

/// Where the kernel lists interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

const IFF_UP: u32 = 0x1;
const IFF_NOARP: u32 = 0x80;

/// Every Ethernet-like interface under `root` (normally [`SYS_CLASS_NET`]),
/// sorted by name. Interfaces that vanish mid-read or whose files do not
/// parse are left out: the next scan sees them again.
pub fn scan(root: &Path) -> Vec<LinkState> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut links: Vec<LinkState> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            read_link(&entry.path(), name)
        })
        .collect();
    links.sort_by(|a, b| a.name.cmp(&b.name));
    links
}

fn read(path: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(path.join(file)).ok().map(|s| s.trim().to_string())
}

fn read_link(path: &Path, name: String) -> Option<LinkState> {
    let index = read(path, "ifindex")?.parse().ok()?;
    let mac = parse_mac(&read(path, "address")?)?;
    let flags = u32::from_str_radix(read(path, "flags")?.trim_start_matches("0x"), 16).ok()?;
    let operstate = read(path, "operstate").unwrap_or_default();
    // "unknown" is what drivers without carrier reporting (dummy, some
    // tunnels) say while working; "down", "lowerlayerdown", "dormant" and
    // "notpresent" cannot carry frames.
    let carrier = matches!(operstate.as_str(), "up" | "unknown");
    Some(LinkState {
        name,
        index,
        mac,
        up: flags & IFF_UP != 0 && carrier,
        noarp: flags & IFF_NOARP != 0,
    })
}

/// `aa:bb:cc:dd:ee:ff`; anything else (loopback's, InfiniBand's 20 bytes)
/// is not an Ethernet address.
pub fn parse_mac(text: &str) -> Option<MacAddress> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(MacAddress(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_link(root: &Path, name: &str, files: &[(&str, &str)]) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, contents) in files {
            std::fs::write(dir.join(file), format!("{contents}\n")).unwrap();
        }
    }

    const INFINIBAND: &str = "80:00:00:48:fe:80:00:00:00:00:00:00:00:11:22:33:44:55:66:77";

    #[test]
    fn scan_reads_index_mac_and_flags() {
        let root = std::env::temp_dir().join(format!("ironlb-link-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let up = [("ifindex", "2"), ("address", "02:00:00:00:00:01"), ("flags", "0x1003")];
        fake_link(&root, "eth0", &[up[0], up[1], up[2], ("operstate", "up")]);
        fake_link(
            &root,
            "eth1",
            &[("ifindex", "3"), up[1], ("flags", "0x1002"), ("operstate", "down")],
        );
        fake_link(
            &root,
            "tun0",
            &[("ifindex", "4"), up[1], ("flags", "0x1091"), ("operstate", "unknown")],
        );
        fake_link(&root, "ib0", &[("ifindex", "5"), ("address", INFINIBAND), up[2]]);
        let links = scan(&root);
        let _ = std::fs::remove_dir_all(&root);
        let summary: Vec<(&str, u32, bool, bool)> =
            links.iter().map(|l| (l.name.as_str(), l.index, l.up, l.noarp)).collect();
        assert_eq!(
            summary,
            vec![("eth0", 2, true, false), ("eth1", 3, false, false), ("tun0", 4, true, true)]
        );
        assert_eq!(links[0].mac, MacAddress([2, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn macs_parse_strictly() {
        assert_eq!(parse_mac("0a:1b:2c:3d:4e:5f"), Some(MacAddress([10, 27, 44, 61, 78, 95])));
        assert_eq!(parse_mac("0a:1b:2c:3d:4e"), None);
        assert_eq!(parse_mac("0a:1b:2c:3d:4e:5f:00"), None);
        assert_eq!(parse_mac("zz:1b:2c:3d:4e:5f"), None);
    }
}
