//! Optional authentication of failover heartbeats: HMAC-SHA256 (RFC 2104, FIPS 180-4) with a
//! key shared by every speaker, appended to the datagram of [`super::wire`] as a 32-octet
//! tag over everything before it. Without a key a host on the segment can forge heartbeats
//! and keep a dead node "alive" or make a live one yield; with one it cannot.
//!
//! Keys: the first of [`HeartbeatKeys`] signs, every one of them verifies, so a key is
//! rotated without a window where nodes reject each other: (1) add the new key as a second
//! key and roll the speakers, (2) swap the two and roll again, (3) drop the old one. With
//! keys configured, a datagram without a valid tag is dropped (logged at debug level as
//! "not a heartbeat"), including an unauthenticated one: enable keys on every speaker at once.
//!
//! Limits: the tag proves who sent a heartbeat, not when; a host that recorded one can replay
//! it on the segment (it can as well answer ARP for any address, which layer2 mode cannot
//! prevent either). Keys are at least [`MIN_KEY`] octets; at most [`MAX_KEYS`] are held.

use std::path::Path;

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Length of the tag appended to each datagram.
pub const TAG: usize = 32;
/// Shortest key accepted, octets (half SHA-256's block, RFC 2104 §3 recommends at least the
/// output length; 16 random octets are already far beyond guessing).
pub const MIN_KEY: usize = 16;
/// Keys held at once: the signing key and one more during a rotation.
pub const MAX_KEYS: usize = 2;
/// SHA-256's block size.
const BLOCK: usize = 64;

/// The file names read from a key directory ([`HeartbeatKeys::from_dir`]): `current` signs,
/// `previous` verifies too (the keys of a Secret mounted as a volume).
pub const CURRENT: &str = "current";
pub const PREVIOUS: &str = "previous";

/// Why keys could not be loaded.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("heartbeat key {name:?} is {len} octets, fewer than {MIN_KEY}")]
    TooShort { name: String, len: usize },
    #[error("reading heartbeat key {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("heartbeat key {PREVIOUS:?} without {CURRENT:?}: nothing would sign")]
    PreviousOnly,
}

/// A datagram that fails authentication.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("{len} octets: too short to carry a {TAG}-octet tag")]
    Untagged { len: usize },
    #[error("the tag matches no heartbeat key")]
    BadTag,
}

/// The keys in force; empty: heartbeats are neither signed nor checked.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeartbeatKeys {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for HeartbeatKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeartbeatKeys({} keys)", self.keys.len())
    }
}

impl HeartbeatKeys {
    /// `keys`, the first signing; each at least [`MIN_KEY`] octets, at most [`MAX_KEYS`]
    /// kept (the rest ignored).
    pub fn new(keys: impl IntoIterator<Item = (String, Vec<u8>)>) -> Result<Self, KeyError> {
        let mut out = Vec::new();
        for (name, key) in keys.into_iter().take(MAX_KEYS) {
            if key.len() < MIN_KEY {
                return Err(KeyError::TooShort { name, len: key.len() });
            }
            out.push(key);
        }
        Ok(Self { keys: out })
    }

    /// The keys in `dir`: files [`CURRENT`] and, optionally, [`PREVIOUS`], used as raw
    /// octets. No `current` file (an optional Secret that does not exist): no keys.
    pub fn from_dir(dir: &Path) -> Result<Self, KeyError> {
        let read = |name: &str| -> Result<Option<(String, Vec<u8>)>, KeyError> {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(key) => Ok(Some((name.to_owned(), key))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(KeyError::Read { path: path.display().to_string(), source }),
            }
        };
        match (read(CURRENT)?, read(PREVIOUS)?) {
            (None, None) => Ok(Self::default()),
            (None, Some(_)) => Err(KeyError::PreviousOnly),
            (Some(current), previous) => Self::new(std::iter::once(current).chain(previous)),
        }
    }

    /// Whether heartbeats are authenticated.
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Appends the tag of `datagram` under the signing key (nothing without keys).
    pub fn seal(&self, datagram: &mut Vec<u8>) {
        if let Some(key) = self.keys.first() {
            let tag = hmac_sha256(key, datagram);
            datagram.extend_from_slice(&tag);
        }
    }

    /// The heartbeat part of `datagram` when its tag verifies under one of the keys (all of
    /// it without keys).
    pub fn open<'a>(&self, datagram: &'a [u8]) -> Result<&'a [u8], AuthError> {
        if self.keys.is_empty() {
            return Ok(datagram);
        }
        let split =
            datagram.len().checked_sub(TAG).ok_or(AuthError::Untagged { len: datagram.len() })?;
        let (body, tag) = datagram.split_at(split);
        let valid = self.keys.iter().any(|key| equal(&hmac_sha256(key, body), tag));
        if valid { Ok(body) } else { Err(AuthError::BadTag) }
    }
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; TAG] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        let digest: [u8; TAG] = Sha256::digest(key).into();
        block[..TAG].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    inner.update(message);
    let inner: [u8; TAG] = inner.finalize().into();
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// Compares in time independent of where the inputs differ.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 (a short key) and 6 (a key longer than the block).
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    fn keys(list: &[&[u8]]) -> HeartbeatKeys {
        HeartbeatKeys::new(list.iter().map(|k| ("k".to_owned(), k.to_vec()))).unwrap()
    }

    const OLD: &[u8] = b"0123456789abcdef-old";
    const NEW: &[u8] = b"0123456789abcdef-new";

    #[test]
    fn sealed_heartbeats_open_under_either_key_and_nothing_else_does() {
        let body = b"ILB\x01 a heartbeat, longer than a tag on its own".to_vec();
        let mut sealed = body.clone();
        keys(&[OLD]).seal(&mut sealed);
        assert_eq!(sealed.len(), body.len() + TAG);
        // During a rotation a node holding both verifies either.
        assert_eq!(keys(&[NEW, OLD]).open(&sealed), Ok(&body[..]));
        assert_eq!(keys(&[OLD]).open(&sealed), Ok(&body[..]));
        assert_eq!(keys(&[NEW]).open(&sealed), Err(AuthError::BadTag));
        // Forged, altered or unauthenticated datagrams are refused.
        let mut altered = sealed.clone();
        altered[0] ^= 1;
        assert_eq!(keys(&[OLD]).open(&altered), Err(AuthError::BadTag));
        assert_eq!(keys(&[OLD]).open(&body), Err(AuthError::BadTag));
        assert_eq!(keys(&[OLD]).open(b"short"), Err(AuthError::Untagged { len: 5 }));
        // Without keys nothing is added or checked.
        let mut plain = body.clone();
        HeartbeatKeys::default().seal(&mut plain);
        assert_eq!(plain, body);
        assert_eq!(HeartbeatKeys::default().open(&body), Ok(&body[..]));
    }

    #[test]
    fn keys_come_from_a_mounted_secret() {
        let dir = std::env::temp_dir().join(format!("ironlb-hb-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!HeartbeatKeys::from_dir(&dir).unwrap().enabled(), "no Secret: no keys");
        std::fs::write(dir.join(PREVIOUS), OLD).unwrap();
        assert!(matches!(HeartbeatKeys::from_dir(&dir), Err(KeyError::PreviousOnly)));
        std::fs::write(dir.join(CURRENT), NEW).unwrap();
        assert_eq!(HeartbeatKeys::from_dir(&dir).unwrap(), keys(&[NEW, OLD]));
        std::fs::write(dir.join(CURRENT), b"short").unwrap();
        assert!(matches!(HeartbeatKeys::from_dir(&dir), Err(KeyError::TooShort { len: 5, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
