//! MetalLB's legacy configuration, the YAML document under key `config` of the ConfigMap
//! `metallb-system/config` (see `seed/lbconfig.yaml`), read as is and converted into our
//! CRD objects. `k8s-adapter migrate` prints that conversion; the controller feeds it to
//! the same validation as CRDs, so both sources mean exactly the same thing.
//!
//! Like MetalLB (which reads it with `yaml.UnmarshalStrict`), unknown keys are refused: a
//! misspelt `auto-assign` must not silently hand out expensive addresses.
//!
//! Conversion: each pool becomes an `IPAddressPool` of the same name; protocol `layer2`
//! adds an `L2Advertisement` named after the pool; protocol `bgp` adds one
//! `BGPAdvertisement` per entry of `bgp-advertisements` (one default one when there are
//! none), named after the pool (`pool`, or `pool-1`, `pool-2`, ... when there are several);
//! `peers` become `BGPPeer`s `peer-1`, `peer-2`, ...; `bgp-communities` becomes one
//! `Community` named `bgp-communities`, so aliases keep working.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde::Deserialize;
use thiserror::Error;

use super::crd::{self, LabelSelector, LabelSelectorRequirement};
use super::{ConfigError, ObjectRef, Problem, Resources};

/// The key MetalLB reads the document from.
pub const DEFAULT_KEY: &str = "config";

/// Why a legacy document could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LegacyError {
    #[error("{object}: not valid YAML for MetalLB's legacy format: {message}")]
    Yaml { object: ObjectRef, message: String },
    #[error("{object}: the ConfigMap has no key {key:?}")]
    MissingKey { object: ObjectRef, key: String },
}

/// The whole legacy document.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LegacyConfig {
    #[serde(default)]
    pub peers: Vec<LegacyPeer>,
    #[serde(default)]
    pub bgp_communities: BTreeMap<String, String>,
    #[serde(default)]
    pub address_pools: Vec<LegacyPool>,
    /// Become `BFDProfile`s, validated as those.
    #[serde(default)]
    pub bfd_profiles: Vec<LegacyBfdProfile>,
}

/// One entry of `bfd-profiles`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LegacyBfdProfile {
    pub name: String,
    pub receive_interval: Option<u32>,
    pub transmit_interval: Option<u32>,
    pub detect_multiplier: Option<u32>,
    pub echo_interval: Option<u32>,
    pub echo_mode: Option<bool>,
    pub passive_mode: Option<bool>,
    pub minimum_ttl: Option<u32>,
}

/// One entry of `peers`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LegacyPeer {
    pub my_asn: u32,
    pub peer_asn: u32,
    pub peer_address: String,
    pub source_address: Option<String>,
    pub peer_port: Option<u16>,
    pub hold_time: Option<String>,
    pub keepalive_time: Option<String>,
    pub router_id: Option<String>,
    #[serde(default)]
    pub node_selectors: Vec<LegacySelector>,
    pub password: Option<String>,
    pub bfd_profile: Option<String>,
    pub ebgp_multihop: Option<bool>,
}

/// A node selector in the legacy spelling.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LegacySelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LegacyRequirement>,
}

/// One `match-expressions` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

/// One entry of `address-pools`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LegacyPool {
    pub name: String,
    pub protocol: String,
    #[serde(default)]
    pub addresses: Vec<String>,
    pub avoid_buggy_ips: Option<bool>,
    pub auto_assign: Option<bool>,
    #[serde(default)]
    pub bgp_advertisements: Vec<LegacyAdvertisement>,
}

/// One entry of a pool's `bgp-advertisements`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LegacyAdvertisement {
    pub aggregation_length: Option<i32>,
    pub aggregation_length_v6: Option<i32>,
    pub localpref: Option<u32>,
    #[serde(default)]
    pub communities: Vec<String>,
}

/// The parts of a ConfigMap manifest we need, to take the document out of one.
#[derive(Debug, Deserialize)]
struct Manifest {
    kind: Option<String>,
    #[serde(default)]
    metadata: ManifestMeta,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct ManifestMeta {
    name: Option<String>,
    namespace: Option<String>,
}

/// The ConfigMap a document came from, for error messages.
pub fn config_map_ref(namespace: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef { kind: "ConfigMap", namespace: namespace.map(str::to_owned), name: name.to_owned() }
}

impl LegacyConfig {
    /// Parses the legacy document itself.
    pub fn parse(document: &str, source: &ObjectRef) -> Result<Self, LegacyError> {
        if document.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_saphyr::from_str(document)
            .map_err(|e| LegacyError::Yaml { object: source.clone(), message: e.to_string() })
    }

    /// Reads the document of a ConfigMap watched by the controller (configurable namespace
    /// and name; MetalLB's are `metallb-system/config`, key [`DEFAULT_KEY`]).
    pub fn from_config_map(
        config_map: &ConfigMap,
        key: &str,
    ) -> Result<(Self, ObjectRef), LegacyError> {
        let source = config_map_ref(
            config_map.metadata.namespace.as_deref(),
            config_map.metadata.name.as_deref().unwrap_or_default(),
        );
        let document = config_map.data.as_ref().and_then(|d| d.get(key)).ok_or_else(|| {
            LegacyError::MissingKey { object: source.clone(), key: key.to_owned() }
        })?;
        Ok((Self::parse(document, &source)?, source))
    }

    /// Parses either a ConfigMap manifest (taking the document under `key`) or a bare
    /// legacy document, as `k8s-adapter migrate` accepts both.
    pub fn parse_file(text: &str, key: &str) -> Result<(Self, ObjectRef), LegacyError> {
        let file = config_map_ref(None, "-");
        if let Ok(manifest) = serde_saphyr::from_str::<Manifest>(text)
            && manifest.kind.as_deref() == Some("ConfigMap")
        {
            let source = config_map_ref(
                manifest.metadata.namespace.as_deref(),
                manifest.metadata.name.as_deref().unwrap_or("-"),
            );
            let document = manifest.data.get(key).ok_or_else(|| LegacyError::MissingKey {
                object: source.clone(),
                key: key.to_owned(),
            })?;
            return Ok((Self::parse(document, &source)?, source));
        }
        Ok((Self::parse(text, &file)?, file))
    }

    /// Converts into our objects in `namespace`. A pool with an unknown protocol is
    /// reported and left out; everything else is carried over as written, to be validated
    /// with the CRDs' rules.
    pub fn to_resources(
        &self,
        namespace: &str,
        source: &ObjectRef,
    ) -> (Resources, Vec<ConfigError>) {
        let ns = |object| in_namespace(object, namespace);
        let mut out = Resources::default();
        let mut errors = Vec::new();
        for (i, p) in self.peers.iter().enumerate() {
            out.peers.push(ns(crd::BgpPeer::new(
                &format!("peer-{}", i + 1),
                crd::BgpPeerSpec {
                    my_asn: p.my_asn,
                    peer_asn: Some(p.peer_asn),
                    peer_address: p.peer_address.clone(),
                    source_address: p.source_address.clone(),
                    peer_port: p.peer_port,
                    hold_time: p.hold_time.clone(),
                    keepalive_time: p.keepalive_time.clone(),
                    router_id: p.router_id.clone(),
                    node_selectors: p.node_selectors.iter().map(selector).collect(),
                    password: p.password.clone(),
                    bfd_profile: p.bfd_profile.clone(),
                    ebgp_multi_hop: p.ebgp_multihop,
                    ..crd::BgpPeerSpec::default()
                },
            )));
        }
        for b in &self.bfd_profiles {
            out.bfd_profiles.push(in_namespace(
                crd::BfdProfile::new(
                    &b.name,
                    crd::BfdProfileSpec {
                        receive_interval: b.receive_interval,
                        transmit_interval: b.transmit_interval,
                        detect_multiplier: b.detect_multiplier,
                        echo_interval: b.echo_interval,
                        echo_mode: b.echo_mode,
                        passive_mode: b.passive_mode,
                        minimum_ttl: b.minimum_ttl,
                    },
                ),
                namespace,
            ));
        }
        if !self.bgp_communities.is_empty() {
            out.communities.push(in_namespace(
                crd::Community::new(
                    "bgp-communities",
                    crd::CommunitySpec {
                        communities: self
                            .bgp_communities
                            .iter()
                            .map(|(name, value)| crd::CommunityAlias {
                                name: name.clone(),
                                value: value.clone(),
                            })
                            .collect(),
                    },
                ),
                namespace,
            ));
        }
        for (i, p) in self.address_pools.iter().enumerate() {
            let pools = vec![p.name.clone()];
            match p.protocol.as_str() {
                "layer2" => out.l2_advertisements.push(in_namespace(
                    crd::L2Advertisement::new(
                        &p.name,
                        crd::L2AdvertisementSpec { ip_address_pools: pools, ..Default::default() },
                    ),
                    namespace,
                )),
                "bgp" => {
                    let default = [LegacyAdvertisement::default()];
                    let ads = if p.bgp_advertisements.is_empty() {
                        &default[..]
                    } else {
                        &p.bgp_advertisements
                    };
                    for (j, a) in ads.iter().enumerate() {
                        let name = if ads.len() == 1 {
                            p.name.clone()
                        } else {
                            format!("{}-{}", p.name, j + 1)
                        };
                        out.bgp_advertisements.push(in_namespace(
                            crd::BgpAdvertisement::new(
                                &name,
                                crd::BgpAdvertisementSpec {
                                    aggregation_length: a.aggregation_length,
                                    aggregation_length_v6: a.aggregation_length_v6,
                                    local_pref: a.localpref,
                                    communities: a.communities.clone(),
                                    ip_address_pools: pools.clone(),
                                    ..Default::default()
                                },
                            ),
                            namespace,
                        ));
                    }
                }
                other => {
                    errors.push(ConfigError {
                        object: source.clone(),
                        field: format!("address-pools[{i}].protocol"),
                        problem: Box::new(Problem::UnknownProtocol(other.to_owned())),
                    });
                    continue;
                }
            }
            out.pools.push(in_namespace(
                crd::IpAddressPool::new(
                    &p.name,
                    crd::IpAddressPoolSpec {
                        addresses: p.addresses.clone(),
                        auto_assign: p.auto_assign,
                        avoid_buggy_ips: p.avoid_buggy_ips,
                        service_allocation: None,
                    },
                ),
                namespace,
            ));
        }
        (out, errors)
    }
}

fn in_namespace<K: kube::Resource>(mut object: K, namespace: &str) -> K {
    object.meta_mut().namespace = Some(namespace.to_owned());
    object
}

fn selector(s: &LegacySelector) -> LabelSelector {
    LabelSelector {
        match_labels: s.match_labels.clone(),
        match_expressions: s
            .match_expressions
            .iter()
            .map(|e| LabelSelectorRequirement {
                key: e.key.clone(),
                operator: e.operator.clone(),
                values: e.values.clone(),
            })
            .collect(),
    }
}

/// The objects as a multi-document YAML stream, the output of `k8s-adapter migrate`:
/// pools, communities, peers, then advertisements.
pub fn to_yaml(resources: &Resources) -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    let mut push = |doc: String| {
        out.push_str("---\n");
        out.push_str(&doc);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    };
    for o in &resources.pools {
        push(serde_saphyr::to_string(o)?);
    }
    for o in &resources.communities {
        push(serde_saphyr::to_string(o)?);
    }
    for o in &resources.peers {
        push(serde_saphyr::to_string(o)?);
    }
    for o in &resources.bgp_advertisements {
        push(serde_saphyr::to_string(o)?);
    }
    for o in &resources.l2_advertisements {
        push(serde_saphyr::to_string(o)?);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "legacy_tests.rs"]
mod tests;
