//! The default layer2 interface: the one holding this node's `InternalIP` (what kubelet
//! reports as the node's address on the cluster network, where layer2 Service addresses
//! are expected to live). `--layer2-interfaces` overrides it.
//!
//! The interface list comes from `getifaddrs(3)`, read off the async threads.

use std::collections::BTreeSet;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::core::v1::Node;

/// The node's `InternalIP` addresses.
pub fn internal_ips(node: &Node) -> Vec<IpAddr> {
    node.status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .filter(|a| a.type_ == "InternalIP")
        .filter_map(|a| a.address.parse().ok())
        .collect()
}

/// Every (interface name, address) pair of this host.
pub fn host_addresses() -> std::io::Result<Vec<(String, IpAddr)>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a non-null node of the list getifaddrs returned, alive until
        // freeifaddrs; its name is a NUL-terminated string and its address, when not null,
        // a sockaddr whose family says its true type.
        unsafe {
            let entry = &*cursor;
            let address = entry.ifa_addr;
            if !address.is_null() && !entry.ifa_name.is_null() {
                let ip = match i32::from((*address).sa_family) {
                    libc::AF_INET => {
                        let v4 = &*(address as *const libc::sockaddr_in);
                        Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))))
                    }
                    libc::AF_INET6 => {
                        let v6 = &*(address as *const libc::sockaddr_in6);
                        Some(IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)))
                    }
                    _ => None,
                };
                if let Some(ip) = ip {
                    let name = CStr::from_ptr(entry.ifa_name).to_string_lossy().into_owned();
                    out.push((name, ip));
                }
            }
            cursor = entry.ifa_next;
        }
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The interfaces holding any of `ips`, among `host` (name, address) pairs.
pub fn holding(ips: &[IpAddr], host: &[(String, IpAddr)]) -> Vec<String> {
    let names: BTreeSet<&str> =
        host.iter().filter(|(_, a)| ips.contains(a)).map(|(n, _)| n.as_str()).collect();
    names.into_iter().map(str::to_owned).collect()
}

/// [`holding`] on this host's addresses, read on a blocking thread.
pub async fn holding_blocking(ips: Vec<IpAddr>) -> Vec<String> {
    let found = tokio::task::spawn_blocking(move || host_addresses().map(|h| holding(&ips, &h)));
    match found.await {
        Ok(Ok(names)) => names,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "getifaddrs failed");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interface_holding_the_internal_ip() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let host = [
            ("lo".to_owned(), ip("127.0.0.1")),
            ("eth0".to_owned(), ip("192.0.2.11")),
            ("eth0".to_owned(), ip("2001:db8::11")),
            ("eth1".to_owned(), ip("198.51.100.11")),
        ];
        assert_eq!(holding(&[ip("192.0.2.11"), ip("2001:db8::11")], &host), ["eth0"]);
        assert!(holding(&[ip("203.0.113.1")], &host).is_empty());
    }

    #[test]
    fn loopback_is_among_this_hosts_addresses() {
        let host = host_addresses().unwrap();
        assert!(host.iter().any(|(_, a)| a.is_loopback()), "{host:?}");
    }

    #[test]
    fn internal_ips_only() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "status": {"addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "192.0.2.11"},
                {"type": "ExternalIP", "address": "203.0.113.11"}
            ]}
        }))
        .unwrap();
        assert_eq!(internal_ips(&node), ["192.0.2.11".parse::<IpAddr>().unwrap()]);
    }
}
