//! An interface's index and IPv6 addresses as the kernel lists them:
//! `/sys/class/net/NAME/ifindex` and `/proc/net/if_inet6` (one line per
//! address: address, index, prefix length, scope, flags, name; all hex).
//! Blocking reads: the discovery thread's.

use std::net::Ipv6Addr;
use std::path::Path;

/// Where the kernel lists interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";
/// Where the kernel lists IPv6 addresses.
const IF_INET6: &str = "/proc/net/if_inet6";
/// `IFA_F_TENTATIVE`: duplicate address detection is not done; the address
/// cannot be used yet.
const TENTATIVE: u32 = 0x40;
/// `IFA_F_DADFAILED`.
const DAD_FAILED: u32 = 0x08;

/// One interface as BGP unnumbered needs it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The kernel's index: the scope id of link-local addresses on it.
    pub index: u32,
    /// Our link-local address on it (the session's local end, a next hop).
    pub link_local: Ipv6Addr,
    /// A global address of ours on it, if any (the first next hop of RFC
    /// 2545 §3 then, the link-local one the second).
    pub global: Option<Ipv6Addr>,
}

/// The interface `name` under `root` (normally [`SYS_CLASS_NET`]), if it
/// exists and has a usable link-local address.
pub fn read_link(root: &Path, name: &str) -> Option<Link> {
    let index = std::fs::read_to_string(root.join(name).join("ifindex")).ok()?;
    let index: u32 = index.trim().parse().ok()?;
    let table = std::fs::read_to_string(IF_INET6).ok()?;
    addresses(&table, index)
}

/// Our link-local and first global address on interface `index`, from the
/// text of `/proc/net/if_inet6`.
pub fn addresses(table: &str, index: u32) -> Option<Link> {
    let mut link_local = None;
    let mut global = None;
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [address, line_index, _, _, flags, ..] = fields[..] else { continue };
        if u32::from_str_radix(line_index, 16).ok() != Some(index) {
            continue;
        }
        let Ok(flags) = u32::from_str_radix(flags, 16) else { continue };
        if flags & (TENTATIVE | DAD_FAILED) != 0 {
            continue;
        }
        let Ok(bits) = u128::from_str_radix(address, 16) else { continue };
        let address = Ipv6Addr::from(bits);
        if address.is_unicast_link_local() {
            link_local.get_or_insert(address);
        } else if !address.is_loopback() && !address.is_multicast() {
            global.get_or_insert(address);
        }
    }
    Some(Link { index, link_local: link_local?, global })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000a8c1abfffe123456 05 40 20 80     veth1
20010db8000000000000000000000001 05 40 00 80     veth1
fe800000000000000000000000000002 06 40 20 c0     veth2
fe800000000000000000000000000009 07 40 20 80     veth3
";

    #[test]
    fn link_local_and_global_of_one_interface() {
        let link = addresses(TABLE, 5).unwrap();
        assert_eq!(link.link_local, "fe80::a8c1:abff:fe12:3456".parse::<Ipv6Addr>().unwrap());
        assert_eq!(link.global, Some("2001:db8::1".parse().unwrap()));
        let only_link_local = addresses(TABLE, 7).unwrap();
        assert_eq!(only_link_local.global, None);
    }

    #[test]
    fn a_tentative_or_missing_link_local_address_is_no_link() {
        assert_eq!(addresses(TABLE, 6), None, "tentative (DAD not done)");
        assert_eq!(addresses(TABLE, 9), None, "no such interface");
        assert_eq!(addresses("garbage line\n", 5), None);
    }

    #[test]
    fn a_missing_interface_is_none_not_a_panic() {
        assert_eq!(read_link(Path::new("/nonexistent"), "eth1"), None);
    }
}
