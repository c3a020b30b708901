//! The failover heartbeat on the wire: one UDP datagram per heartbeat interval per node,
//! sent on each layer2 interface to a link-local multicast group (the runtime's choice of
//! group and port; it needs no reply and crosses no router, like VRRP's advertisements,
//! RFC 9568). Our own format, versioned: no standard covers this.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      'I'      |      'L'      |      'B'      |  Version (1)  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Flags     |  Name length  |         Suspect count         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Name (Name length octets, UTF-8) ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Length (1)   |  Suspect name (Length octets) ...   (Suspect count times)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Flags: bit 0 (0x01) Yielding; the others are sent as zero and ignored on receipt.
//! Names are node names, 1 to 253 octets. Integers are big-endian.
//!
//! Heartbeats are authenticated when the speakers share a key ([`super::auth`]: an
//! HMAC-SHA256 tag after the datagram); without one, a host on the segment can forge them.

use std::collections::BTreeSet;

use thiserror::Error;

const MAGIC: [u8; 3] = *b"ILB";
const VERSION: u8 = 1;
const FLAG_YIELDING: u8 = 0x01;
const HEADER: usize = 8;
/// Longest node name (a DNS subdomain).
pub const MAX_NAME: usize = 253;
/// Largest UDP payload over IPv4.
pub const MAX_DATAGRAM: usize = 65_507;

/// What a speaker says on the segment every heartbeat interval (the datagram
/// below; [`super::failover`] decides what it says).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heartbeat {
    pub node: String,
    /// The sender announces nothing: it heard itself suspected, or it is starting and
    /// still listening.
    pub yielding: bool,
    /// Peers the sender suspects.
    pub suspects: BTreeSet<String>,
}

/// A heartbeat that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("node name {name:?} is {len} octets, not 1 to {MAX_NAME}")]
    BadName { name: String, len: usize },
    #[error("heartbeat of {len} octets exceeds a datagram ({MAX_DATAGRAM})")]
    TooLarge { len: usize },
}

/// A datagram that is not a heartbeat we understand.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("truncated at offset {offset}: {needed} more octets needed")]
    Truncated { offset: usize, needed: usize },
    #[error("not a heartbeat: magic {found:02x?}")]
    BadMagic { found: [u8; 3] },
    #[error("heartbeat version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("empty name at offset {offset}")]
    EmptyName { offset: usize },
    #[error("name at offset {offset} is not UTF-8")]
    NotUtf8 { offset: usize },
    #[error("{extra} octets after the last suspect, at offset {offset}")]
    TrailingBytes { offset: usize, extra: usize },
}

/// A heartbeat borrowed from a datagram (or from a [`Heartbeat`]): what
/// [`super::failover::Failover::heard`] reads, without allocating per heartbeat.
#[derive(Debug, Clone, Copy)]
pub struct HeartbeatRef<'a> {
    pub node: &'a str,
    pub yielding: bool,
    suspects: Suspects<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Suspects<'a> {
    /// Validated length-prefixed names.
    Wire(&'a [u8]),
    Set(&'a BTreeSet<String>),
}

impl<'a> HeartbeatRef<'a> {
    /// The suspects' names.
    pub fn suspects(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (mut wire, set) = match self.suspects {
            Suspects::Wire(bytes) => (bytes, None),
            Suspects::Set(set) => (&[][..], Some(set.iter().map(String::as_str))),
        };
        let from_wire = std::iter::from_fn(move || {
            let (&len, rest) = wire.split_first()?;
            let (name, rest) = rest.split_at_checked(usize::from(len))?;
            wire = rest;
            std::str::from_utf8(name).ok()
        });
        from_wire.chain(set.into_iter().flatten())
    }

    pub fn suspects_node(&self, node: &str) -> bool {
        match self.suspects {
            Suspects::Set(set) => set.contains(node),
            Suspects::Wire(_) => self.suspects().any(|s| s == node),
        }
    }

    pub fn to_owned(&self) -> Heartbeat {
        Heartbeat {
            node: self.node.to_owned(),
            yielding: self.yielding,
            suspects: self.suspects().map(str::to_owned).collect(),
        }
    }
}

impl<'a> From<&'a Heartbeat> for HeartbeatRef<'a> {
    fn from(h: &'a Heartbeat) -> Self {
        Self { node: &h.node, yielding: h.yielding, suspects: Suspects::Set(&h.suspects) }
    }
}

fn check_name(name: &str) -> Result<u8, EncodeError> {
    u8::try_from(name.len())
        .ok()
        .filter(|l| (1..=MAX_NAME).contains(&usize::from(*l)))
        .ok_or_else(|| EncodeError::BadName { name: name.to_owned(), len: name.len() })
}

/// Appends `heartbeat`'s datagram to `out` (cleared first), reusing its buffer.
pub fn encode(heartbeat: &Heartbeat, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    out.clear();
    let name_len = check_name(&heartbeat.node)?;
    let count = u16::try_from(heartbeat.suspects.len())
        .map_err(|_| EncodeError::TooLarge { len: usize::MAX })?;
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(if heartbeat.yielding { FLAG_YIELDING } else { 0 });
    out.push(name_len);
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(heartbeat.node.as_bytes());
    for suspect in &heartbeat.suspects {
        out.push(check_name(suspect)?);
        out.extend_from_slice(suspect.as_bytes());
    }
    if out.len() > MAX_DATAGRAM {
        let len = out.len();
        out.clear();
        return Err(EncodeError::TooLarge { len });
    }
    Ok(())
}

fn take(bytes: &[u8], offset: usize, len: usize) -> Result<&[u8], DecodeError> {
    let end = offset.saturating_add(len);
    bytes
        .get(offset..end)
        .ok_or(DecodeError::Truncated { offset, needed: end - bytes.len().min(end) })
}

fn name(bytes: &[u8], offset: usize, len: usize) -> Result<&str, DecodeError> {
    if len == 0 {
        return Err(DecodeError::EmptyName { offset });
    }
    std::str::from_utf8(take(bytes, offset, len)?).map_err(|_| DecodeError::NotUtf8 { offset })
}

/// Reads a datagram, validating every name.
pub fn decode(bytes: &[u8]) -> Result<HeartbeatRef<'_>, DecodeError> {
    let header = take(bytes, 0, HEADER)?;
    let found = [header[0], header[1], header[2]];
    if found != MAGIC {
        return Err(DecodeError::BadMagic { found });
    }
    if header[3] != VERSION {
        return Err(DecodeError::UnsupportedVersion(header[3]));
    }
    let yielding = header[4] & FLAG_YIELDING != 0;
    let name_len = usize::from(header[5]);
    let count = u16::from_be_bytes([header[6], header[7]]);
    let node = name(bytes, HEADER, name_len)?;
    let suspects_at = HEADER + name_len;
    let mut offset = suspects_at;
    for _ in 0..count {
        let len = usize::from(take(bytes, offset, 1)?[0]);
        name(bytes, offset + 1, len)?;
        offset += 1 + len;
    }
    if offset != bytes.len() {
        return Err(DecodeError::TrailingBytes { offset, extra: bytes.len() - offset });
    }
    Ok(HeartbeatRef { node, yielding, suspects: Suspects::Wire(&bytes[suspects_at..offset]) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat(node: &str, yielding: bool, suspects: &[&str]) -> Heartbeat {
        Heartbeat {
            node: node.into(),
            yielding,
            suspects: suspects.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    const GOLDEN: &[u8] = &[
        b'I', b'L', b'B', 1, // magic, version
        0x01, 2, 0, 2, // yielding, name length 2, two suspects
        b'n', b'1', // name
        2, b'n', b'2', // suspect
        3, b'n', b'3', b'x', // suspect
    ];

    #[test]
    fn golden_bytes_both_ways() {
        let hb = heartbeat("n1", true, &["n3x", "n2"]);
        let mut out = Vec::new();
        encode(&hb, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, GOLDEN);
        let got = decode(GOLDEN).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((got.node, got.yielding), ("n1", true));
        assert_eq!(got.suspects().collect::<Vec<_>>(), ["n2", "n3x"]);
        assert!(got.suspects_node("n3x") && !got.suspects_node("n3"));
        assert_eq!(got.to_owned(), hb);
        let plain = heartbeat("node-a", false, &[]);
        encode(&plain, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, b"ILB\x01\x00\x06\x00\x00node-a");
        assert_eq!(decode(&out).map(|h| h.to_owned()), Ok(plain));
    }

    #[test]
    fn bad_datagrams_are_refused_with_the_offset() {
        let mut unknown_flags = GOLDEN.to_vec();
        unknown_flags[4] = 0xfe;
        assert_eq!(decode(&unknown_flags).map(|h| h.yielding), Ok(false), "other flags ignored");
        let cases: [(&[u8], DecodeError); 8] = [
            (&GOLDEN[..5], DecodeError::Truncated { offset: 0, needed: 3 }),
            (b"VRRP\x01\x00\x00\x00", DecodeError::BadMagic { found: *b"VRR" }),
            (b"ILB\x02\x00\x01\x00\x00a", DecodeError::UnsupportedVersion(2)),
            (b"ILB\x01\x00\x00\x00\x00", DecodeError::EmptyName { offset: 8 }),
            (b"ILB\x01\x00\x02\x00\x00\xff\xfe", DecodeError::NotUtf8 { offset: 8 }),
            (&GOLDEN[..12], DecodeError::Truncated { offset: 11, needed: 1 }),
            (b"ILB\x01\x00\x01\x00\x01a\x00", DecodeError::EmptyName { offset: 10 }),
            (b"ILB\x01\x00\x01\x00\x00ab", DecodeError::TrailingBytes { offset: 9, extra: 1 }),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode(bytes).map(|h| h.to_owned()), Err(want.clone()), "{want}");
        }
    }

    #[test]
    fn unsendable_heartbeats_are_refused() {
        let mut out = vec![1, 2, 3];
        let long = "x".repeat(254);
        assert_eq!(
            encode(&heartbeat(&long, false, &[]), &mut out),
            Err(EncodeError::BadName { name: long.clone(), len: 254 })
        );
        assert_eq!(
            encode(&heartbeat("", false, &[]), &mut out),
            Err(EncodeError::BadName { name: String::new(), len: 0 })
        );
        assert!(matches!(
            encode(&heartbeat("n1", false, &["ok", &long]), &mut out),
            Err(EncodeError::BadName { len: 254, .. })
        ));
        let many: Vec<String> = (0..300).map(|i| format!("{i:0>250}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(matches!(
            encode(&heartbeat("n1", false, &refs), &mut out),
            Err(EncodeError::TooLarge { .. })
        ));
        assert!(out.is_empty());
    }
}
