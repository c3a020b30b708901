//! Ready-made topologies with fixed documentation addresses (RFC 5737, RFC 3849).
//!
//! Addresses repeat between tests on purpose: every topology lives in namespaces of its own.

use std::net::IpAddr;

use crate::Result;
use crate::netns::{Namespace, connect};

/// Two namespaces joined by one veth: `left` has `.1`/`::1`, `right` has `.2`/`::2`.
#[derive(Debug)]
pub struct Pair {
    pub left: Namespace,
    pub right: Namespace,
    pub left_v4: IpAddr,
    pub right_v4: IpAddr,
    pub left_v6: IpAddr,
    pub right_v6: IpAddr,
    /// Interface names: left side, right side.
    pub interfaces: (String, String),
}

/// `left` 192.0.2.1/24 2001:db8::1/64 ↔ `right` 192.0.2.2/24 2001:db8::2/64.
pub fn pair(left_tag: &str, right_tag: &str) -> Result<Pair> {
    let left = Namespace::new(left_tag)?;
    let right = Namespace::new(right_tag)?;
    connect(
        &left,
        "to-right",
        &["192.0.2.1/24", "2001:db8::1/64"],
        &right,
        "to-left",
        &["192.0.2.2/24", "2001:db8::2/64"],
    )?;
    Ok(Pair {
        left,
        right,
        left_v4: ip([192, 0, 2, 1]),
        right_v4: ip([192, 0, 2, 2]),
        left_v6: "2001:db8::1".parse().unwrap_or(ip([0, 0, 0, 0])),
        right_v6: "2001:db8::2".parse().unwrap_or(ip([0, 0, 0, 0])),
        interfaces: ("to-right".to_owned(), "to-left".to_owned()),
    })
}

/// Three namespaces in a line: `first` 192.0.2.1 ↔ 192.0.2.2 `middle` 198.51.100.1 ↔
/// 198.51.100.2 `last` (IPv6: 2001:db8:1::/64 and 2001:db8:2::/64 likewise).
#[derive(Debug)]
pub struct Line {
    pub first: Namespace,
    pub middle: Namespace,
    pub last: Namespace,
}

impl Line {
    pub const FIRST: [u8; 4] = [192, 0, 2, 1];
    pub const MIDDLE_FIRST: [u8; 4] = [192, 0, 2, 2];
    pub const MIDDLE_LAST: [u8; 4] = [198, 51, 100, 1];
    pub const LAST: [u8; 4] = [198, 51, 100, 2];
}

pub fn line(tags: [&str; 3]) -> Result<Line> {
    let first = Namespace::new(tags[0])?;
    let middle = Namespace::new(tags[1])?;
    let last = Namespace::new(tags[2])?;
    connect(
        &first,
        "to-middle",
        &["192.0.2.1/24", "2001:db8:1::1/64"],
        &middle,
        "to-first",
        &["192.0.2.2/24", "2001:db8:1::2/64"],
    )?;
    connect(
        &middle,
        "to-last",
        &["198.51.100.1/24", "2001:db8:2::1/64"],
        &last,
        "to-middle",
        &["198.51.100.2/24", "2001:db8:2::2/64"],
    )?;
    Ok(Line { first, middle, last })
}

/// An `IpAddr` from four octets.
pub fn ip(octets: [u8; 4]) -> IpAddr {
    IpAddr::from(octets)
}
