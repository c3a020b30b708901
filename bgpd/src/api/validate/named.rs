//! The peers a path names (`Path.peers`): by address, or `%IFNAME` for a
//! peer over an interface (BGP unnumbered). Parsed here, looked up by the
//! instance ([`PeerLookup`] for the callers that look them up themselves).

use std::net::IpAddr;

use crate::api::error::ValidationError;
use crate::instance::requests::{PeerRef, first_unknown};
use crate::rib::PeerKey;

/// Which peers exist, as far as validation needs to know.
pub trait PeerLookup {
    fn is_peer(&self, address: IpAddr) -> bool;
    /// Whether a peer over `interface` (BGP unnumbered) is configured.
    fn is_interface_peer(&self, _interface: &str) -> bool {
        false
    }

    /// Whether the peer `key` names is configured.
    fn knows(&self, key: &PeerKey) -> bool {
        match key {
            PeerKey::Address(address) => self.is_peer(*address),
            PeerKey::Interface(name) => self.is_interface_peer(name),
        }
    }
}

impl<F: Fn(IpAddr) -> bool> PeerLookup for F {
    fn is_peer(&self, address: IpAddr) -> bool {
        self(address)
    }
}

/// The peers the paths of a request name, in the order validation read them,
/// with the text the client sent (for the error naming an unknown one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamedPeers {
    pub refs: Vec<PeerRef>,
    texts: Vec<String>,
}

impl NamedPeers {
    fn push(&mut self, path: usize, peer: usize, key: PeerKey, text: &str) {
        self.refs.push(PeerRef { path, peer, key });
        self.texts.push(text.to_string());
    }

    /// The rejection of `unknown`, one of [`NamedPeers::refs`], as the
    /// client named it.
    pub fn unknown_peer(&self, unknown: PeerRef) -> ValidationError {
        let value = self
            .refs
            .iter()
            .position(|named| *named == unknown)
            .and_then(|index| self.texts.get(index).cloned())
            .unwrap_or_else(|| unknown.key.to_string());
        unknown_peer(unknown, value)
    }

    /// The rejection of the first peer `lookup` does not know.
    pub fn check(&self, lookup: &impl PeerLookup) -> Option<ValidationError> {
        first_unknown(&self.refs, |key| lookup.knows(key)).map(|unknown| self.unknown_peer(unknown))
    }
}

pub(super) fn unknown_peer(unknown: PeerRef, value: String) -> ValidationError {
    ValidationError::UnknownPeer {
        field: format!("paths[{}].peers[{}]", unknown.path, unknown.peer),
        value,
    }
}

/// `Path.peers`: each parsed and recorded in `named` for the instance to
/// look up, in the order (and up to the point) the check would have run. A
/// peer over an interface is named `%IFNAME`, as in the peer RPCs.
pub(super) fn peers(
    index: usize,
    values: &[String],
    named: &mut NamedPeers,
) -> Result<Vec<PeerKey>, ValidationError> {
    let mut parsed: Vec<(PeerKey, usize)> = Vec::with_capacity(values.len());
    for (i, text) in values.iter().enumerate() {
        let field = format!("paths[{index}].peers[{i}]");
        let peer = match crate::api::peer::peer_name(&field, text)? {
            crate::instance::peer_ops::PeerName::Address(address) => PeerKey::Address(address),
            crate::instance::peer_ops::PeerName::Interface(name) => PeerKey::Interface(name.into()),
        };
        named.push(index, i, peer.clone(), text);
        parsed.push((peer, i));
    }
    parsed.sort();
    if let Some(pair) = parsed.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        let i = pair[1].1;
        return Err(ValidationError::Duplicate {
            field: format!("paths[{index}].peers[{i}]"),
            value: values[i].clone(),
        });
    }
    Ok(parsed.into_iter().map(|(peer, _)| peer).collect())
}
