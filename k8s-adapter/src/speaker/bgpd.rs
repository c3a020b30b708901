//! This node's [`Announcements`] → what its local `bgpd` should hold: the peers to
//! configure ([`Neighbor`]s) and the owner's whole path set for `SetPaths` ([`Path`]s keyed
//! by prefix), typed; their API messages (`ironlb.bgpd.v1`) are built only where they are
//! sent ([`super::client`], [`super::push`]). Pure, so it is table-tested.
//!
//! - Peers: every `BGPPeer` that selects this node, as a [`Neighbor`] whose description
//!   carries our marker ([`peer_marker`]); that marker is how the speaker tells the peers
//!   it configured from peers a human put in bgpd's config file, which it never touches.
//!   A peer we cannot express yet is skipped with a reason ([`PeerSkip`]).
//! - Paths: `SetPaths` takes one path per prefix with the list of peers it goes to, while
//!   announcements are per peer. A prefix going to several peers with the same attributes
//!   becomes one path; when advertisements give one prefix different attributes on
//!   different peers, the attributes are merged (highest LOCAL_PREF, union of communities)
//!   and the prefix is reported in [`BgpdState::merged`], since one owner cannot hold two
//!   paths for one prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use thiserror::Error;

use super::announce::{Announcements, PathAttributes};
use crate::config::{Config, Password, Peer};

/// The description prefix of the peers the speaker of `node` configured.
pub fn peer_marker(node: &str) -> String {
    format!("ironlb k8s-speaker/{node}")
}

/// The owner name of the speaker of `node` in bgpd.
pub fn owner(node: &str) -> String {
    format!("k8s-speaker/{node}")
}

/// Why a `BGPPeer` is not configured in bgpd.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PeerSkip {
    #[error("BGPPeer {peer}: its passwordSecret {secret} cannot be read (see the log)")]
    PasswordUnreadable { peer: String, secret: String },
}

/// One path of our owner in bgpd: a prefix with its attributes and the peers it goes to.
/// The next hop is always bgpd's own address on each session ("next hop self"), so it is
/// not carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub prefix: IpNet,
    pub attributes: PathAttributes,
    /// The peers' addresses.
    pub peers: BTreeSet<IpAddr>,
}

/// What bgpd should hold for this node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BgpdState {
    /// By peer address (text form, as the API names peers).
    pub peers: BTreeMap<String, Neighbor>,
    /// Sorted by prefix, one per prefix. Shared, so that handing a new state to the
    /// client task copies pointers, not paths.
    pub paths: Vec<Arc<Path>>,
    /// Prefixes whose per-peer attributes had to be merged.
    pub merged: Vec<IpNet>,
    pub skipped: Vec<PeerSkip>,
}

/// A BGP session bgpd should hold for a `BGPPeer`: the peer as configured, its password
/// read, and the description that marks it as ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    pub peer: Peer,
    /// Empty: none.
    pub password: String,
    pub description: String,
}

/// The [`Neighbor`] for a `BGPPeer`, or why it cannot be configured.
pub fn neighbor(peer: &Peer, marker: &str) -> Result<Neighbor, PeerSkip> {
    let password = match &peer.password {
        None => String::new(),
        Some(Password::Plain(p)) => p.clone(),
        // Readable Secrets were replaced by their password ([`super::secrets::resolve`]).
        Some(Password::Secret { name, .. }) => {
            return Err(PeerSkip::PasswordUnreadable {
                peer: peer.name.clone(),
                secret: name.clone(),
            });
        }
    };
    Ok(Neighbor {
        peer: peer.clone(),
        password,
        description: format!("{marker}: BGPPeer {}", peer.name),
    })
}

/// The sessions bgpd should hold for some `BGPPeer` names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerSet {
    /// By peer address (text form, as the API names peers).
    pub configs: BTreeMap<String, Neighbor>,
    /// By `BGPPeer` name: the address its paths go to (configured peers only).
    pub addresses: BTreeMap<String, IpAddr>,
    pub skipped: Vec<PeerSkip>,
}

/// The [`PeerSet`] for the `BGPPeer`s named (in this order; names not in `config` are
/// ignored).
pub fn peer_set<'a>(
    names: impl IntoIterator<Item = &'a str>,
    config: &Config,
    node: &str,
) -> PeerSet {
    let marker = peer_marker(node);
    let mut out = PeerSet::default();
    let by_name: BTreeMap<&str, &Peer> =
        config.peers.iter().map(|p| (p.name.as_str(), p)).collect();
    for name in names {
        let Some(peer) = by_name.get(name) else { continue };
        match neighbor(peer, &marker) {
            Ok(neighbor) => {
                out.addresses.insert(name.to_owned(), peer.address);
                out.configs.insert(peer.address.to_string(), neighbor);
            }
            Err(skip) => out.skipped.push(skip),
        }
    }
    out
}

/// The one path of `prefix`, from its attributes towards each peer address (in `BGPPeer`
/// name order), and whether those attributes differed (and were merged). `None` when no
/// peer gets the prefix.
pub fn prefix_path<'a>(
    prefix: IpNet,
    entries: impl IntoIterator<Item = (IpAddr, &'a PathAttributes)>,
) -> Option<(Path, bool)> {
    let mut entries = entries.into_iter();
    let (first_peer, first) = entries.next()?;
    let mut merged = first.clone();
    let mut peers = BTreeSet::from([first_peer]);
    let mut differed = false;
    for (peer, attrs) in entries {
        if &merged != attrs {
            differed = true;
            merged.local_pref = merged.local_pref.max(attrs.local_pref);
            merged.communities.extend(attrs.communities.iter().copied());
        }
        peers.insert(peer);
    }
    Some((Path { prefix, attributes: merged, peers }, differed))
}

/// What bgpd should hold, from this node's announcements.
pub fn bgpd_state(announcements: &Announcements, config: &Config, node: &str) -> BgpdState {
    let set = peer_set(announcements.peers.keys().map(String::as_str), config, node);
    let mut by_prefix: BTreeMap<IpNet, Vec<(IpAddr, &PathAttributes)>> = BTreeMap::new();
    for (name, paths) in &announcements.peers {
        let Some(&address) = set.addresses.get(name) else { continue };
        for (prefix, attrs) in paths {
            by_prefix.entry(*prefix).or_default().push((address, attrs));
        }
    }
    let mut out = BgpdState { peers: set.configs, skipped: set.skipped, ..BgpdState::default() };
    for (prefix, entries) in by_prefix {
        if let Some((path, differed)) = prefix_path(prefix, entries) {
            if differed {
                out.merged.push(prefix);
            }
            out.paths.push(Arc::new(path));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use ironlb_proto::bgpd::v1::DynamicAsn;

    use super::*;
    use crate::config::{BgpCommunity, PeerAs};
    use crate::speaker::client::peer_config;

    fn config_of(peer: &Peer, marker: &str) -> ironlb_proto::bgpd::v1::PeerConfig {
        peer_config(&neighbor(peer, marker).unwrap())
    }

    fn peer(name: &str, address: &str, peer_as: PeerAs) -> Peer {
        Peer {
            name: name.into(),
            my_asn: 64500,
            peer_as,
            address: address.parse().unwrap(),
            port: 179,
            source_address: None,
            hold_time: None,
            keepalive_time: None,
            connect_time: None,
            router_id: None,
            node_selectors: Vec::new(),
            password: None,
            ebgp_multihop: false,
            graceful_restart: false,
            vrf: None,
        }
    }

    #[test]
    fn neighbors_import_nothing_and_export_our_paths() {
        let config = config_of(&peer("p", "192.0.2.2", PeerAs::Fixed(64501)), "m");
        assert_eq!(config.import_policy, ["reject-all"]);
        assert_eq!(config.export_policy, ["accept-all"]);
    }

    fn attrs(local_pref: Option<u32>, communities: &[u32]) -> PathAttributes {
        PathAttributes {
            local_pref,
            communities: communities.iter().map(|c| BgpCommunity::Standard(*c)).collect(),
        }
    }

    fn announcements(entries: &[(&str, &str, PathAttributes)]) -> Announcements {
        let mut a = Announcements::default();
        for (peer, prefix, attrs) in entries {
            a.peers
                .entry((*peer).into())
                .or_default()
                .insert(prefix.parse().unwrap(), attrs.clone());
        }
        a
    }

    fn config(peers: Vec<Peer>) -> Config {
        Config::new(Vec::new(), peers, Vec::new(), Vec::new())
    }

    #[test]
    fn one_path_per_prefix_with_its_peers() {
        let cfg = config(vec![
            peer("a", "192.0.2.1", PeerAs::Fixed(64501)),
            peer("b", "192.0.2.2", PeerAs::Internal),
        ]);
        let ann = announcements(&[
            ("a", "198.51.100.1/32", attrs(None, &[])),
            ("b", "198.51.100.1/32", attrs(None, &[])),
            ("b", "198.51.100.2/32", attrs(Some(200), &[(65000 << 16) | 100])),
        ]);
        let state = bgpd_state(&ann, &cfg, "n1");
        assert_eq!(state.peers.len(), 2);
        assert_eq!(peer_config(&state.peers["192.0.2.2"]).remote_asn, 64500);
        assert!(peer_config(&state.peers["192.0.2.1"]).description.starts_with(&peer_marker("n1")));
        assert_eq!(state.paths.len(), 2);
        assert_eq!(state.paths[0].prefix.to_string(), "198.51.100.1/32");
        let peers: Vec<String> = state.paths[0].peers.iter().map(ToString::to_string).collect();
        assert_eq!(peers, vec!["192.0.2.1".to_owned(), "192.0.2.2".to_owned()]);
        assert_eq!(state.paths[1].attributes, attrs(Some(200), &[(65000 << 16) | 100]));
        assert!(state.merged.is_empty());
    }

    #[test]
    fn differing_attributes_are_merged_and_reported() {
        let cfg = config(vec![
            peer("a", "192.0.2.1", PeerAs::Fixed(64501)),
            peer("b", "192.0.2.2", PeerAs::Fixed(64502)),
        ]);
        let ann = announcements(&[
            ("a", "198.51.100.0/24", attrs(Some(50), &[1])),
            ("b", "198.51.100.0/24", attrs(Some(300), &[2])),
        ]);
        let state = bgpd_state(&ann, &cfg, "n1");
        assert_eq!(state.paths.len(), 1);
        assert_eq!(state.paths[0].attributes, attrs(Some(300), &[1, 2]));
        assert_eq!(state.merged, vec!["198.51.100.0/24".parse::<IpNet>().unwrap()]);
    }

    #[test]
    fn peers_with_an_unread_password_secret_are_skipped_with_their_paths() {
        let mut secret = peer("s", "192.0.2.3", PeerAs::Fixed(64503));
        secret.password = Some(Password::Secret { namespace: None, name: "x".into() });
        let cfg = config(vec![secret]);
        let ann = announcements(&[("s", "198.51.100.1/32", attrs(None, &[]))]);
        let state = bgpd_state(&ann, &cfg, "n1");
        assert!(state.peers.is_empty() && state.paths.is_empty());
        assert_eq!(
            state.skipped,
            [PeerSkip::PasswordUnreadable { peer: "s".into(), secret: "x".into() }]
        );
    }

    #[test]
    fn dynamic_external_leaves_the_as_to_bgpd() {
        let pc = config_of(&peer("e", "192.0.2.4", PeerAs::External), "m");
        assert_eq!((pc.remote_asn, pc.dynamic_asn), (0, DynamicAsn::External as i32));
        let pc = config_of(&peer("i", "192.0.2.5", PeerAs::Internal), "m");
        assert_eq!((pc.remote_asn, pc.dynamic_asn), (64500, DynamicAsn::Unspecified as i32));
    }

    #[test]
    fn peer_fields_carry_over() {
        let mut p = peer("a", "2001:db8::1", PeerAs::Fixed(64501));
        p.source_address = Some("2001:db8::2".parse::<IpAddr>().unwrap());
        p.hold_time = Some(std::time::Duration::from_secs(9));
        p.ebgp_multihop = true;
        p.graceful_restart = true;
        p.password = Some(Password::Plain("pw".into()));
        let pc = config_of(&p, "m");
        assert_eq!(pc.local_address, "2001:db8::2");
        assert_eq!(pc.hold_time_seconds, Some(9));
        assert_eq!(pc.multihop_ttl, 255);
        assert_eq!(pc.password, "pw");
        assert!(pc.graceful_restart.is_some_and(|g| g.enabled));
    }
}
