//! This node's [`Announcements`] → what its local `bgpd` should hold: the peers to
//! configure ([`Neighbor`]s) and the owner's whole path set for `SetPaths` ([`Path`]s keyed
//! by prefix), typed; their API messages (`ironlb.bgpd.v1`) are built only where they are
//! sent ([`super::client`], [`super::push`]). Pure, so it is table-tested.
//!
//! - Peers: every `BGPPeer` that selects this node, as a [`Neighbor`] whose description
//!   carries our marker ([`peer_marker`]); that marker is how the speaker tells the peers
//!   it configured from peers a human put in bgpd's config file, which it never touches.
//!   A peer we cannot express yet is skipped with a reason ([`PeerSkip`]).
//! - Paths: `SetPaths` takes one path per prefix and owner, with the list of peers it goes
//!   to, while announcements are per peer. A prefix going to several peers with the same
//!   attributes becomes one path. When advertisements give one prefix different
//!   attributes on different peers, each peer gets its own, as with MetalLB (no merging
//!   across peers): the peers are grouped by attributes, the group holding the lowest peer
//!   address goes to the main owner, the others to *variant* owners
//!   ([`variant_owner`]: `k8s-speaker/<node>#1`, `#2`, ...), one path each. bgpd sends each
//!   peer the best of the paths restricted to it (`Path.peers`), which is then its own.
//!   Variant owners exist only while some prefix needs them: with every advertisement
//!   agreeing, everything is in the main owner as before.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ipnet::IpNet;
use thiserror::Error;

use super::announce::{Announcements, PathAttributes};
use crate::config::{Config, Password, Peer, PeerKey};

/// The description prefix of the peers the speaker of `node` configured.
pub fn peer_marker(node: &str) -> String {
    format!("ironlb k8s-speaker/{node}")
}

/// The owner name of the speaker of `node` in bgpd.
pub fn owner(node: &str) -> String {
    format!("k8s-speaker/{node}")
}

/// The owner holding the `index`th attribute variant of prefixes whose peers get different
/// attributes (`index` ≥ 1; 0 is the main owner itself).
pub fn variant_owner(main: &str, index: usize) -> String {
    if index == 0 { main.to_owned() } else { format!("{main}#{index}") }
}

/// The variant index of `name` when it is a variant owner of `main` (`None` for the main
/// owner and for foreign names).
pub fn variant_index(main: &str, name: &str) -> Option<usize> {
    let rest = name.strip_prefix(main)?.strip_prefix('#')?;
    rest.parse().ok().filter(|i| *i >= 1)
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
    /// The peers, as bgpd names them (addresses, `%IFNAME` for a peer over an interface).
    pub peers: BTreeSet<PeerKey>,
}

/// What bgpd should hold for this node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BgpdState {
    /// By peer address, or `%IFNAME` for a peer over an interface (text form, as the API
    /// names peers).
    pub peers: BTreeMap<String, Neighbor>,
    /// The main owner's paths: sorted by prefix, one per prefix. Shared, so that handing a
    /// new state to the client task copies pointers, not paths.
    pub paths: Vec<Arc<Path>>,
    /// The variant owners' paths: `variants[i]` belongs to [`variant_owner`] `i + 1`,
    /// sorted by prefix. Empty unless some prefix goes to different peers with different
    /// attributes; no trailing empty set.
    pub variants: Vec<Vec<Arc<Path>>>,
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
    /// By peer address, or `%IFNAME` (text form, as the API names peers).
    pub configs: BTreeMap<String, Neighbor>,
    /// By `BGPPeer` name: the peer its paths go to (configured peers only).
    pub addresses: BTreeMap<String, PeerKey>,
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
                out.addresses.insert(name.to_owned(), peer.key());
                out.configs.insert(peer.key().to_string(), neighbor);
            }
            Err(skip) => out.skipped.push(skip),
        }
    }
    out
}

/// The paths of `prefix` towards each peer address: one per distinct attribute set, with
/// the peers that get it, ordered by their lowest peer address (so the first, which the
/// main owner holds, is the same whatever the order of `entries`). Empty when no peer gets
/// the prefix.
pub fn prefix_paths<'a>(
    prefix: IpNet,
    entries: impl IntoIterator<Item = (PeerKey, &'a PathAttributes)>,
) -> Vec<Path> {
    let mut groups: Vec<Path> = Vec::new();
    for (peer, attrs) in entries {
        match groups.iter_mut().find(|g| &g.attributes == attrs) {
            Some(group) => {
                group.peers.insert(peer);
            }
            None => groups.push(Path {
                prefix,
                attributes: attrs.clone(),
                peers: BTreeSet::from([peer]),
            }),
        }
    }
    groups.sort_by(|a, b| a.peers.first().cmp(&b.peers.first()));
    groups
}

/// Places the paths of one prefix ([`prefix_paths`], in order) into the main owner's set
/// (`main`) and the variants' (`variants`, grown as needed).
pub fn place(
    paths: impl IntoIterator<Item = Arc<Path>>,
    main: &mut Vec<Arc<Path>>,
    variants: &mut Vec<Vec<Arc<Path>>>,
) {
    for (index, path) in paths.into_iter().enumerate() {
        match index.checked_sub(1) {
            None => main.push(path),
            Some(v) => {
                if variants.len() <= v {
                    variants.resize_with(v + 1, Vec::new);
                }
                variants[v].push(path);
            }
        }
    }
}

/// What bgpd should hold, from this node's announcements.
pub fn bgpd_state(announcements: &Announcements, config: &Config, node: &str) -> BgpdState {
    let set = peer_set(announcements.peers.keys().map(String::as_str), config, node);
    let mut by_prefix: BTreeMap<IpNet, Vec<(PeerKey, &PathAttributes)>> = BTreeMap::new();
    for (name, paths) in &announcements.peers {
        let Some(key) = set.addresses.get(name) else { continue };
        for (prefix, attrs) in paths {
            by_prefix.entry(*prefix).or_default().push((key.clone(), attrs));
        }
    }
    let mut out = BgpdState { peers: set.configs, skipped: set.skipped, ..BgpdState::default() };
    for (prefix, entries) in by_prefix {
        let paths = prefix_paths(prefix, entries).into_iter().map(Arc::new);
        place(paths, &mut out.paths, &mut out.variants);
    }
    out
}

#[cfg(test)]
mod tests {
    use ironlb_proto::bgpd::v1::DynamicAsn;
    use std::net::IpAddr;

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
            interface: None,
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
            dual_stack: false,
            bfd: None,
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
            next_hop: None,
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
        assert!(state.variants.is_empty());
    }

    #[test]
    fn each_peer_gets_its_own_attributes_through_variant_owners() {
        let cfg = config(vec![
            peer("a", "192.0.2.1", PeerAs::Fixed(64501)),
            peer("b", "192.0.2.2", PeerAs::Fixed(64502)),
            peer("c", "192.0.2.3", PeerAs::Fixed(64503)),
        ]);
        let ann = announcements(&[
            ("a", "198.51.100.0/24", attrs(Some(50), &[1])),
            ("b", "198.51.100.0/24", attrs(Some(300), &[2])),
            ("c", "198.51.100.0/24", attrs(Some(50), &[1])),
            ("b", "198.51.100.7/32", attrs(None, &[])),
        ]);
        let state = bgpd_state(&ann, &cfg, "n1");
        let ip = |s: &str| PeerKey::Address(s.parse::<IpAddr>().unwrap());
        // The main owner: the group holding the lowest peer address (a and c), with their
        // own attributes, not merged with b's.
        assert_eq!(state.paths.len(), 2);
        assert_eq!(state.paths[0].attributes, attrs(Some(50), &[1]));
        assert_eq!(state.paths[0].peers, BTreeSet::from([ip("192.0.2.1"), ip("192.0.2.3")]));
        assert_eq!(state.paths[1].peers, BTreeSet::from([ip("192.0.2.2")]));
        // b's own attributes, in the first variant owner.
        assert_eq!(state.variants.len(), 1);
        assert_eq!(state.variants[0].len(), 1);
        assert_eq!(state.variants[0][0].prefix.to_string(), "198.51.100.0/24");
        assert_eq!(state.variants[0][0].attributes, attrs(Some(300), &[2]));
        assert_eq!(state.variants[0][0].peers, BTreeSet::from([ip("192.0.2.2")]));
    }

    #[test]
    fn the_grouping_does_not_depend_on_the_order_of_peers() {
        let ip = |s: &str| PeerKey::Address(s.parse::<IpAddr>().unwrap());
        let (x, y) = (attrs(Some(10), &[]), attrs(Some(20), &[]));
        let prefix: IpNet = "198.51.100.0/24".parse().unwrap();
        let one = prefix_paths(prefix, [(ip("192.0.2.9"), &y), (ip("192.0.2.1"), &x)]);
        let two = prefix_paths(prefix, [(ip("192.0.2.1"), &x), (ip("192.0.2.9"), &y)]);
        assert_eq!(one, two);
        assert_eq!(one[0].attributes, x);
    }

    #[test]
    fn variant_owner_names_round_trip() {
        assert_eq!(variant_owner("k8s-speaker/n1", 0), "k8s-speaker/n1");
        assert_eq!(variant_owner("k8s-speaker/n1", 2), "k8s-speaker/n1#2");
        assert_eq!(variant_index("k8s-speaker/n1", "k8s-speaker/n1#2"), Some(2));
        assert_eq!(variant_index("k8s-speaker/n1", "k8s-speaker/n1"), None);
        assert_eq!(variant_index("k8s-speaker/n1", "k8s-speaker/n1#0"), None);
        assert_eq!(variant_index("k8s-speaker/n1", "k8s-speaker/n10#1"), None);
        assert_eq!(variant_index("k8s-speaker/n1", "k8s-speaker/n1#x"), None);
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
    fn dual_stack_negotiates_both_families_and_bfd_profiles_become_bfd() {
        let mut p = peer("a", "192.0.2.1", PeerAs::Fixed(64501));
        assert!(config_of(&p, "m").families.is_empty(), "the address's family only");
        assert!(config_of(&p, "m").bfd.is_none());
        p.dual_stack = true;
        p.bfd = Some(crate::config::BfdSettings {
            receive_interval_ms: 100,
            transmit_interval_ms: 200,
            multiplier: 5,
            passive: true,
        });
        let pc = config_of(&p, "m");
        use ironlb_proto::bgpd::v1::Family;
        assert_eq!(pc.families, [Family::Ipv4Unicast as i32, Family::Ipv6Unicast as i32]);
        let bfd = pc.bfd.unwrap();
        assert!(bfd.enabled && bfd.passive && !bfd.echo);
        assert_eq!((bfd.min_rx_ms, bfd.min_tx_ms, bfd.multiplier), (Some(100), Some(200), Some(5)));
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

    #[test]
    fn my_asn_and_router_id_go_to_the_session() {
        let mut with_identity = peer("a", "192.0.2.1", PeerAs::Fixed(64501));
        with_identity.my_asn = 4_200_000_001;
        with_identity.router_id = Some("192.0.2.9".parse().unwrap());
        let config = config_of(&with_identity, "n1");
        assert_eq!((config.local_asn, config.router_id.as_str()), (4_200_000_001, "192.0.2.9"));
        let plain = config_of(&peer("b", "192.0.2.2", PeerAs::Fixed(64501)), "n1");
        assert_eq!(plain.router_id, "", "empty: bgpd's own router id");
    }

    #[test]
    fn vrf_goes_to_the_session() {
        let mut in_vrf = peer("a", "192.0.2.1", PeerAs::Fixed(64501));
        in_vrf.vrf = Some("red".into());
        assert_eq!(config_of(&in_vrf, "n1").vrf, "red");
        let plain = config_of(&peer("b", "192.0.2.2", PeerAs::Fixed(64501)), "n1");
        assert_eq!(plain.vrf, "", "empty: the default VRF");
    }

    #[test]
    fn interface_goes_to_the_session() {
        let mut unnumbered = peer("a", "::", PeerAs::Fixed(64501));
        unnumbered.interface = Some("eth1".into());
        let config = config_of(&unnumbered, "n1");
        assert_eq!((config.interface.as_str(), config.address.as_str()), ("eth1", ""));
        assert!(config.families.is_empty(), "bgpd's default over an interface: both");
        let plain = config_of(&peer("b", "192.0.2.2", PeerAs::Fixed(64501)), "n1");
        assert_eq!((plain.interface.as_str(), plain.address.as_str()), ("", "192.0.2.2"));
        // bgpd names it %eth1, in its peer map and in the paths it gets.
        let mut config = Config::default();
        config.peers = vec![unnumbered, peer("b", "192.0.2.2", PeerAs::Fixed(64501))];
        let set = peer_set(["a", "b"], &config, "n1");
        assert_eq!(set.configs.keys().collect::<Vec<_>>(), ["%eth1", "192.0.2.2"]);
        assert_eq!(set.addresses["a"], PeerKey::Interface("eth1".into()));
        let attrs = PathAttributes::default();
        let paths = prefix_paths(
            "198.51.100.1/32".parse().unwrap(),
            [(PeerKey::Interface("eth1".into()), &attrs)],
        );
        let message = crate::speaker::push::to_proto(&paths[0]);
        assert_eq!(message.peers, ["%eth1"]);
    }
}
