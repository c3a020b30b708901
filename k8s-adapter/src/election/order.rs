//! Who answers for a layer2 address: the first candidate in the order of
//! `sha256(node name + "#" + address text)`, compared as bytes, smallest first.
//!
//! This is MetalLB's order (its speaker's `ShouldAnnounce`: the hashed text is the node name,
//! `#`, and Go's `net.IP.String()` of the Service's first address; `bytes.Compare` of the two
//! digests). Using the same order means every speaker agrees without talking, and a
//! cluster migrating from MetalLB keeps each address on the node that had it. Because each
//! node's rank for an address is independent of the other candidates (rendezvous hashing),
//! a node joining or leaving moves only the addresses it wins or won; nothing else moves.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// A node's rank for an address: smaller wins.
pub type Rank = [u8; 32];

/// What one layer2 address is elected over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressCandidates {
    /// The address whose text is hashed. MetalLB hashes the Service's first address for
    /// all of the Service's addresses, so both families of a dual-stack Service land on
    /// the same node; [`super::candidates()`] does the same.
    pub key: IpAddr,
    /// Nodes that may answer for the address when alive (selected by an `L2Advertisement`,
    /// not excluded, hosting a ready endpoint under `externalTrafficPolicy: Local`).
    pub candidates: BTreeSet<String>,
}

/// The longest text [`go_ip_text`] writes (`ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff`).
const MAX_TEXT: usize = 39;

/// Go's `net.IP.String()` of `ip`, written into `buf`: dotted quad for IPv4 and for
/// IPv4-mapped IPv6 (Go stores IPv4 as mapped IPv6 and prints it as IPv4), RFC 5952
/// otherwise (which Rust's `Display` also follows for every other IPv6 address).
pub fn go_ip_text(ip: IpAddr, buf: &mut [u8; MAX_TEXT]) -> &[u8] {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    // Cannot fail: the longest text fits the buffer.
    let _ = write!(cursor, "{ip}");
    let len = usize::try_from(cursor.position()).unwrap_or(MAX_TEXT);
    &buf[..len]
}

/// `node`'s rank for the address whose Go text is `key_text`.
pub fn rank(node: &str, key_text: &[u8]) -> Rank {
    let mut hasher = Sha256::new();
    hasher.update(node.as_bytes());
    hasher.update(b"#");
    hasher.update(key_text);
    hasher.finalize().into()
}

/// `candidates` in election order for `key`, best first (ties, which need a hash
/// collision, go by name so the order is total).
pub fn ordered<'a>(key: IpAddr, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut buf = [0; MAX_TEXT];
    let text = go_ip_text(key, &mut buf);
    let mut ranked: Vec<(Rank, &str)> =
        candidates.into_iter().map(|node| (rank(node, text), node)).collect();
    ranked.sort_unstable();
    ranked.dedup();
    ranked.into_iter().map(|(_, node)| node).collect()
}

/// The winner for `key` among `candidates`, or `None` when there are none.
pub fn elect<'a>(key: IpAddr, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut buf = [0; MAX_TEXT];
    let text = go_ip_text(key, &mut buf);
    candidates.into_iter().map(|node| (rank(node, text), node)).min().map(|(_, node)| node)
}

/// The winner of every address whose candidates include an `eligible` node (alive by its
/// Lease and not suspected by the failover); addresses without one are absent.
pub fn assignments(
    addresses: &BTreeMap<IpAddr, AddressCandidates>,
    eligible: impl Fn(&str) -> bool,
) -> BTreeMap<IpAddr, String> {
    addresses
        .iter()
        .filter_map(|(address, c)| {
            let winner =
                elect(c.key, c.candidates.iter().map(String::as_str).filter(|n| eligible(n)))?;
            Some((*address, winner.to_owned()))
        })
        .collect()
}

#[cfg(test)]
#[path = "order_tests.rs"]
mod tests;
