//! CRD objects → validated [`Config`], one object at a time.
//!
//! Each object is checked on its own and either enters the model whole or is left out with
//! one [`ConfigError`] naming it and the field at fault. Objects are taken in creation order
//! (then by name), so when two pools overlap the newer one is refused and the addresses
//! already handed out from the older one stay valid.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use kube::ResourceExt;

use super::community::BgpCommunity;
use super::crd;
use super::selector::{self, Selector};
use super::{
    AddressRange, BfdSettings, BgpAdvertisement, Config, ConfigError, ConfigWarning, Family,
    L2Advertisement, ObjectRef, Password, Peer, PeerAs, Pool, PoolChoice, Problem,
    ServiceAllocation, Warning, duration,
};

/// The raw objects, as listed from the API server or converted from a legacy ConfigMap.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    pub pools: Vec<crd::IpAddressPool>,
    pub peers: Vec<crd::BgpPeer>,
    pub bgp_advertisements: Vec<crd::BgpAdvertisement>,
    pub l2_advertisements: Vec<crd::L2Advertisement>,
    pub communities: Vec<crd::Community>,
    pub bfd_profiles: Vec<crd::BfdProfile>,
}

impl Resources {
    /// Adds `other`'s objects, e.g. a legacy ConfigMap's beside the CRDs: both sources may be
    /// used at once during a migration.
    pub fn extend(&mut self, other: Resources) {
        self.pools.extend(other.pools);
        self.peers.extend(other.peers);
        self.bgp_advertisements.extend(other.bgp_advertisements);
        self.l2_advertisements.extend(other.l2_advertisements);
        self.communities.extend(other.communities);
        self.bfd_profiles.extend(other.bfd_profiles);
    }
}

/// The outcome of validation: the model of every valid object, and what was wrong with the
/// rest.
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub config: Config,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigWarning>,
}

/// Validates every object and builds the model from the valid ones.
pub fn build(resources: &Resources) -> Built {
    let mut out = Built::default();
    let aliases = community_aliases(&resources.communities, &mut out.errors);
    let pools = build_pools(&resources.pools, &mut out.errors);
    let profiles = bfd_profiles(&resources.bfd_profiles, &mut out.errors, &mut out.warnings);
    let peers = build_peers(&resources.peers, &profiles, &mut out.errors, &mut out.warnings);
    let peer_names: BTreeSet<&str> = peers.iter().map(|p| p.name.as_str()).collect();
    let mut bgp = Vec::new();
    for object in in_creation_order(&resources.bgp_advertisements) {
        let me = object_ref("BGPAdvertisement", object);
        match bgp_advertisement(object, &me, &aliases, &pools) {
            Ok(adv) => {
                warn_unknown(
                    &adv.pools.names,
                    &pools,
                    &me,
                    "spec.ipAddressPools",
                    &mut out.warnings,
                );
                for (i, peer) in adv.peers.iter().enumerate() {
                    if !peer_names.contains(peer.as_str()) {
                        out.warnings.push(ConfigWarning {
                            object: me.clone(),
                            field: format!("spec.peers[{i}]"),
                            warning: Warning::UnknownPeer(peer.clone()),
                        });
                    }
                }
                bgp.push(adv);
            }
            Err(e) => out.errors.push(e),
        }
    }
    let mut l2 = Vec::new();
    for object in in_creation_order(&resources.l2_advertisements) {
        let me = object_ref("L2Advertisement", object);
        let spec = &object.spec;
        let built = unsupported(!spec.service_selectors.is_empty(), "serviceSelectors", &me)
            .and_then(|()| {
                let preferred = !spec.preferred_node_selectors.is_empty();
                unsupported(preferred, "preferredNodeSelectors", &me)
            })
            .and_then(|()| {
                pool_choice(&spec.ip_address_pools, &spec.ip_address_pool_selectors, &me)
            })
            .and_then(|pools| {
                Ok(L2Advertisement {
                    name: object.name_any(),
                    pools,
                    node_selectors: selectors(&spec.node_selectors, &me, "spec.nodeSelectors")?,
                    interfaces: spec.interfaces.clone(),
                    bgp_fallback: spec.bgp_fallback,
                })
            });
        match built {
            Ok(adv) => {
                warn_unknown(
                    &adv.pools.names,
                    &pools,
                    &me,
                    "spec.ipAddressPools",
                    &mut out.warnings,
                );
                l2.push(adv);
            }
            Err(e) => out.errors.push(e),
        }
    }
    out.config = Config::new(pools, peers, bgp, l2);
    out
}

fn object_ref<K: kube::Resource<DynamicType = ()>>(kind: &'static str, object: &K) -> ObjectRef {
    ObjectRef {
        kind,
        namespace: object.meta().namespace.clone(),
        name: object.meta().name.clone().unwrap_or_default(),
    }
}

fn in_creation_order<K: kube::Resource>(objects: &[K]) -> Vec<&K> {
    let mut sorted: Vec<&K> = objects.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.meta().creation_timestamp, &a.meta().name)
            .cmp(&(&b.meta().creation_timestamp, &b.meta().name))
    });
    sorted
}

fn warn_unknown(
    names: &[String],
    pools: &[Pool],
    me: &ObjectRef,
    field: &str,
    warnings: &mut Vec<ConfigWarning>,
) {
    for (i, name) in names.iter().enumerate() {
        if !pools.iter().any(|p| p.name == *name) {
            warnings.push(ConfigWarning {
                object: me.clone(),
                field: format!("{field}[{i}]"),
                warning: Warning::UnknownPool(name.clone()),
            });
        }
    }
}

fn selectors(
    list: &[crd::LabelSelector],
    me: &ObjectRef,
    field: &str,
) -> Result<Vec<Selector>, ConfigError> {
    selector::from_crd_list(list).map_err(|(i, e)| Problem::from(e).at(me, format!("{field}[{i}]")))
}

/// Alias name → value, from every Community object; a bad or doubly defined alias is reported
/// and the object that brought it is skipped.
fn community_aliases(
    objects: &[crd::Community],
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, BgpCommunity> {
    let mut aliases: BTreeMap<String, BgpCommunity> = BTreeMap::new();
    'objects: for object in in_creation_order(objects) {
        let me = object_ref("Community", object);
        let mut mine = Vec::new();
        for (i, alias) in object.spec.communities.iter().enumerate() {
            let field = format!("spec.communities[{i}].value");
            match BgpCommunity::parse(&alias.value) {
                Ok(value) => match aliases.get(&alias.name) {
                    Some(first) if *first != value => {
                        errors.push(
                            Problem::DuplicateCommunityAlias {
                                name: alias.name.clone(),
                                first: first.to_string(),
                                second: value.to_string(),
                            }
                            .at(&me, format!("spec.communities[{i}].name")),
                        );
                        continue 'objects;
                    }
                    _ => mine.push((alias.name.clone(), value)),
                },
                Err(e) => {
                    errors.push(Problem::from(e).at(&me, field));
                    continue 'objects;
                }
            }
        }
        aliases.extend(mine);
    }
    aliases
}

fn build_pools(objects: &[crd::IpAddressPool], errors: &mut Vec<ConfigError>) -> Vec<Pool> {
    let mut accepted: Vec<Pool> = Vec::new();
    for object in in_creation_order(objects) {
        let me = object_ref("IPAddressPool", object);
        match pool(object, &me, &accepted) {
            Ok(p) => accepted.push(p),
            Err(e) => errors.push(e),
        }
    }
    accepted
}

fn pool(
    object: &crd::IpAddressPool,
    me: &ObjectRef,
    accepted: &[Pool],
) -> Result<Pool, ConfigError> {
    let name = object.name_any();
    if accepted.iter().any(|p| p.name == name) {
        return Err(Problem::DuplicateName { kind: "IPAddressPool", name }.at(me, "metadata.name"));
    }
    let spec = &object.spec;
    if spec.addresses.is_empty() {
        return Err(Problem::NoAddresses.at(me, "spec.addresses"));
    }
    let mut ranges: Vec<(usize, AddressRange)> = Vec::with_capacity(spec.addresses.len());
    for (i, text) in spec.addresses.iter().enumerate() {
        let field = format!("spec.addresses[{i}]");
        let range = AddressRange::parse(text).map_err(|e| Problem::from(e).at(me, &field))?;
        if let Some((_, other)) = ranges.iter().find(|(_, r)| r.overlaps(&range)) {
            return Err(Problem::OverlapWithinPool { range, other_range: *other }.at(me, field));
        }
        for other_pool in accepted {
            if let Some(other) = other_pool.ranges.iter().find(|r| r.overlaps(&range)) {
                return Err(Problem::Overlap {
                    range,
                    other_pool: other_pool.name.clone(),
                    other_range: *other,
                }
                .at(me, field));
            }
        }
        ranges.push((i, range));
    }
    let allocation = match &spec.service_allocation {
        None => None,
        Some(a) => Some(ServiceAllocation {
            priority: a.priority.filter(|p| *p != 0),
            namespaces: a.namespaces.clone(),
            namespace_selectors: selectors(
                &a.namespace_selectors,
                me,
                "spec.serviceAllocation.namespaceSelectors",
            )?,
            service_selectors: selectors(
                &a.service_selectors,
                me,
                "spec.serviceAllocation.serviceSelectors",
            )?,
        }),
    };
    let mut ranges: Vec<AddressRange> = ranges.into_iter().map(|(_, r)| r).collect();
    ranges.sort_by_key(|r| (r.family(), r.bounds().0));
    Ok(Pool {
        name,
        labels: object.labels().clone(),
        ranges,
        auto_assign: spec.auto_assign.unwrap_or(true),
        avoid_buggy_ips: spec.avoid_buggy_ips.unwrap_or(false),
        allocation,
    })
}

fn build_peers(
    objects: &[crd::BgpPeer],
    profiles: &BTreeMap<String, BfdSettings>,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigWarning>,
) -> Vec<Peer> {
    let mut accepted: Vec<Peer> = Vec::new();
    for object in in_creation_order(objects) {
        let me = object_ref("BGPPeer", object);
        if accepted.iter().any(|p| p.name == object.name_any()) {
            errors.push(
                Problem::DuplicateName { kind: "BGPPeer", name: object.name_any() }
                    .at(&me, "metadata.name"),
            );
            continue;
        }
        match peer(object, &me, profiles) {
            Ok(p) => {
                if object.spec.disable_mp == Some(true) {
                    warnings.push(ConfigWarning {
                        object: me.clone(),
                        field: "spec.disableMP".into(),
                        warning: Warning::DisableMpIsTheDefault,
                    });
                }
                accepted.push(p);
            }
            Err(e) => errors.push(e),
        }
    }
    accepted
}

fn peer(
    object: &crd::BgpPeer,
    me: &ObjectRef,
    profiles: &BTreeMap<String, BfdSettings>,
) -> Result<Peer, ConfigError> {
    let spec = &object.spec;
    // A name bgpd would refuse is refused here, with the object named.
    let vrf = spec.vrf.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    if let Some(vrf) = vrf.as_deref().filter(|v| !valid_device_name(v)) {
        return Err(Problem::InvalidVrf(vrf.to_owned()).at(me, "spec.vrf"));
    }
    // BGP unnumbered: exactly one of peerAddress and interface, as MetalLB.
    let interface = spec.interface.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    if let Some(interface) = &interface {
        if !spec.peer_address.trim().is_empty() {
            return Err(Problem::AddressOrInterface.at(me, "spec.interface"));
        }
        if !valid_device_name(interface) {
            return Err(Problem::InvalidInterface(interface.clone()).at(me, "spec.interface"));
        }
        // What bgpd refuses with an interface is refused here, with the object named.
        let with = |field: &'static str| {
            Problem::NotWithInterface { field, interface: interface.clone() }
                .at(me, format!("spec.{field}"))
        };
        if spec.source_address.as_deref().is_some_and(|s| !s.is_empty()) {
            return Err(with("sourceAddress"));
        }
        if spec.password.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(with("password"));
        }
        if spec.password_secret.is_some() {
            return Err(with("passwordSecret"));
        }
    } else if spec.peer_address.trim().is_empty() {
        return Err(Problem::AddressOrInterface.at(me, "spec.peerAddress"));
    }
    let dual_stack = spec.dual_stack_address_family.unwrap_or(false);
    if dual_stack && spec.disable_mp == Some(true) {
        return Err(Problem::DisableMpWithDualStack.at(me, "spec.disableMP"));
    }
    let bfd = match spec.bfd_profile.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(name) => Some(profiles.get(name).copied().ok_or_else(|| {
            Problem::UnknownBfdProfile(name.to_owned()).at(me, "spec.bfdProfile")
        })?),
    };
    if spec.my_asn == 0 {
        return Err(Problem::ZeroAsn.at(me, "spec.myASN"));
    }
    let peer_as = match (spec.peer_asn, spec.dynamic_asn.as_deref()) {
        (Some(0), None) => return Err(Problem::ZeroAsn.at(me, "spec.peerASN")),
        (Some(asn), None) => PeerAs::Fixed(asn),
        (None, Some("internal")) => PeerAs::Internal,
        (None, Some("external")) => PeerAs::External,
        (None, Some(other)) => {
            return Err(Problem::InvalidDynamicAsn(other.to_owned()).at(me, "spec.dynamicASN"));
        }
        _ => return Err(Problem::PeerAsnChoice.at(me, "spec.peerASN")),
    };
    let ip = |text: &str, field: &str| {
        text.trim().parse::<IpAddr>().map_err(|_| Problem::InvalidIp(text.to_owned()).at(me, field))
    };
    let address = match interface {
        Some(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        None => ip(&spec.peer_address, "spec.peerAddress")?,
    };
    let source_address = spec
        .source_address
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| ip(s, "spec.sourceAddress"))
        .transpose()?;
    let time = |text: &Option<String>, field: &str| -> Result<Option<Duration>, ConfigError> {
        text.as_deref()
            .map(|t| duration::parse(t).map_err(|e| Problem::from(e).at(me, field)))
            .transpose()
    };
    let hold_time = time(&spec.hold_time, "spec.holdTime")?;
    let keepalive_time = time(&spec.keepalive_time, "spec.keepaliveTime")?;
    let connect_time = time(&spec.connect_time, "spec.connectTime")?;
    if let Some(hold) = hold_time {
        if !hold.is_zero() && hold < Duration::from_secs(3) {
            return Err(Problem::HoldTimeTooShort(hold).at(me, "spec.holdTime"));
        }
        if let Some(keepalive) = keepalive_time.filter(|k| *k > hold) {
            return Err(
                Problem::KeepaliveAboveHold { keepalive, hold }.at(me, "spec.keepaliveTime")
            );
        }
    }
    let router_id = spec
        .router_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim()
                .parse::<Ipv4Addr>()
                .map_err(|_| Problem::InvalidRouterId(s.to_owned()).at(me, "spec.routerID"))
        })
        .transpose()?;
    let password = match (spec.password.as_deref().filter(|p| !p.is_empty()), &spec.password_secret)
    {
        (Some(_), Some(_)) => return Err(Problem::TwoPasswords.at(me, "spec.passwordSecret")),
        (Some(p), None) => Some(Password::Plain(p.to_owned())),
        (None, Some(secret)) => secret.name.as_ref().map(|name| Password::Secret {
            namespace: secret.namespace.clone(),
            name: name.clone(),
        }),
        (None, None) => None,
    };
    if spec.peer_port == Some(0) {
        return Err(Problem::ZeroPort.at(me, "spec.peerPort"));
    }
    Ok(Peer {
        name: object.name_any(),
        my_asn: spec.my_asn,
        peer_as,
        address,
        interface,
        port: spec.peer_port.unwrap_or(179),
        source_address,
        hold_time,
        keepalive_time,
        connect_time,
        router_id,
        node_selectors: selectors(&spec.node_selectors, me, "spec.nodeSelectors")?,
        password,
        ebgp_multihop: spec.ebgp_multi_hop.unwrap_or(false),
        graceful_restart: spec.enable_graceful_restart.unwrap_or(false),
        dual_stack,
        bfd,
        vrf,
    })
}

/// A Linux interface name, as bgpd checks a neighbor's `vrf`: 1..=15 bytes, not `.` or
/// `..`, no '/', ':' or whitespace.
fn valid_device_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

/// The valid `BFDProfile`s by name; the others are reported and left out (so the peers
/// naming them are refused as naming an unknown profile).
fn bfd_profiles(
    objects: &[crd::BfdProfile],
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigWarning>,
) -> BTreeMap<String, BfdSettings> {
    let mut out = BTreeMap::new();
    for object in in_creation_order(objects) {
        let me = object_ref("BFDProfile", object);
        if out.contains_key(&object.name_any()) {
            errors.push(
                Problem::DuplicateName { kind: "BFDProfile", name: object.name_any() }
                    .at(&me, "metadata.name"),
            );
            continue;
        }
        match bfd_profile(&object.spec, &me) {
            Ok(settings) => {
                if object.spec.echo_interval.is_some() {
                    warnings.push(ConfigWarning {
                        object: me.clone(),
                        field: "spec.echoInterval".into(),
                        warning: Warning::EchoIntervalWithoutEcho,
                    });
                }
                out.insert(object.name_any(), settings);
            }
            Err(e) => errors.push(e),
        }
    }
    out
}

fn bfd_profile(spec: &crd::BfdProfileSpec, me: &ObjectRef) -> Result<BfdSettings, ConfigError> {
    if spec.echo_mode == Some(true) {
        return Err(Problem::BfdEchoUnsupported.at(me, "spec.echoMode"));
    }
    if let Some(ttl) = spec.minimum_ttl {
        return Err(Problem::BfdMinimumTtlUnsupported(ttl).at(me, "spec.minimumTtl"));
    }
    let interval = |value: Option<u32>, field: &str| match value {
        None => Ok(BfdSettings::DEFAULT_INTERVAL_MS),
        Some(v) if (10..=60_000).contains(&v) => Ok(v),
        Some(v) => Err(Problem::BfdOutOfRange { value: v, min: 10, max: 60_000 }.at(me, field)),
    };
    let multiplier = match spec.detect_multiplier {
        None => BfdSettings::DEFAULT_MULTIPLIER,
        Some(v) => u8::try_from(v).ok().filter(|m| *m >= 2).ok_or_else(|| {
            Problem::BfdOutOfRange { value: v, min: 2, max: 255 }.at(me, "spec.detectMultiplier")
        })?,
    };
    Ok(BfdSettings {
        receive_interval_ms: interval(spec.receive_interval, "spec.receiveInterval")?,
        transmit_interval_ms: interval(spec.transmit_interval, "spec.transmitInterval")?,
        multiplier,
        passive: spec.passive_mode.unwrap_or(false),
    })
}

fn pool_choice(
    names: &[String],
    list: &[crd::LabelSelector],
    me: &ObjectRef,
) -> Result<PoolChoice, ConfigError> {
    Ok(PoolChoice {
        names: names.to_vec(),
        selectors: selectors(list, me, "spec.ipAddressPoolSelectors")?,
    })
}

fn aggregation(
    value: Option<i32>,
    family: Family,
    me: &ObjectRef,
    field: &str,
) -> Result<u8, ConfigError> {
    let max = family.max_prefix_len();
    match value {
        None => Ok(max),
        Some(v) => u8::try_from(v)
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| Problem::AggregationLength { value: v, max, family }.at(me, field)),
    }
}

/// A MetalLB field ironlb does not implement yet, set: refused, so the object is not taken
/// to mean something it does not.
fn unsupported(set: bool, field: &'static str, me: &ObjectRef) -> Result<(), ConfigError> {
    if set { Err(Problem::NotImplemented(field).at(me, format!("spec.{field}"))) } else { Ok(()) }
}

fn bgp_advertisement(
    object: &crd::BgpAdvertisement,
    me: &ObjectRef,
    aliases: &BTreeMap<String, BgpCommunity>,
    pools: &[Pool],
) -> Result<BgpAdvertisement, ConfigError> {
    let spec = &object.spec;
    unsupported(!spec.service_selectors.is_empty(), "serviceSelectors", me)?;
    let aggregation_length =
        aggregation(spec.aggregation_length, Family::V4, me, "spec.aggregationLength")?;
    let aggregation_length_v6 =
        aggregation(spec.aggregation_length_v6, Family::V6, me, "spec.aggregationLengthV6")?;
    let mut communities = Vec::with_capacity(spec.communities.len());
    for (i, text) in spec.communities.iter().enumerate() {
        let field = format!("spec.communities[{i}]");
        let value = if BgpCommunity::looks_like_value(text) {
            BgpCommunity::parse(text).map_err(|e| Problem::from(e).at(me, &field))?
        } else {
            *aliases
                .get(text.trim())
                .ok_or_else(|| Problem::UnknownCommunityAlias(text.clone()).at(me, &field))?
        };
        communities.push(value);
    }
    communities.sort_unstable();
    communities.dedup();
    let choice = pool_choice(&spec.ip_address_pools, &spec.ip_address_pool_selectors, me)?;
    // An aggregate should not cover addresses outside the pool it announces. MetalLB's rule,
    // kept for compatibility: per `addresses` entry, refuse when even the entry's widest CIDR
    // is more specific than the aggregation length (a range made of CIDRs of several sizes is
    // accepted when one of them fits).
    for pool in pools.iter().filter(|p| choice.selects(p)) {
        for range in &pool.ranges {
            let (length, field) = match range.family() {
                Family::V4 => (aggregation_length, "spec.aggregationLength"),
                Family::V6 => (aggregation_length_v6, "spec.aggregationLengthV6"),
            };
            let widest = range.to_cidrs().into_iter().min_by_key(ipnet::IpNet::prefix_len);
            if let Some(cidr) = widest.filter(|c| c.prefix_len() > length) {
                return Err(Problem::AggregationTooShort { length, cidr, pool: pool.name.clone() }
                    .at(me, field));
            }
        }
    }
    Ok(BgpAdvertisement {
        name: object.name_any(),
        aggregation_length,
        aggregation_length_v6,
        local_pref: spec.local_pref,
        communities,
        pools: choice,
        node_selectors: selectors(&spec.node_selectors, me, "spec.nodeSelectors")?,
        peers: spec.peers.clone(),
    })
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
