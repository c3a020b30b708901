//! Reading a Kubernetes `Service` into an allocation [`Request`]: the only part of the
//! allocator that knows Kubernetes types.
//!
//! Annotations are read in three spellings, ours first, then MetalLB's current and legacy
//! ones, so Services written for MetalLB keep working: `ironlb.io/X`, `metallb.io/X`,
//! `metallb.universe.tf/X` for X in `loadBalancerIPs`, `address-pool`, `allow-shared-ip`.
//! Two spellings present with different values is an error rather than a silent choice.
//!
//! `spec.loadBalancerClass`: we serve Services of class [`DEFAULT_CLASS`] (`ironlb.io/lb`,
//! configurable) and, unless turned off, Services with no class, which is what a cluster
//! without a cloud load balancer has (the seed's `lb.yaml` sets none).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use thiserror::Error;

use super::{FamilyPolicy, PortKey, Protocol, Request, ServiceKey};
use crate::config::{Family, Labels};

/// The `spec.loadBalancerClass` we answer to by default.
pub const DEFAULT_CLASS: &str = "ironlb.io/lb";

/// Annotation prefixes, in order of precedence.
pub const ANNOTATION_PREFIXES: [&str; 3] = ["ironlb.io/", "metallb.io/", "metallb.universe.tf/"];

/// Which Services are ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassPolicy {
    /// `spec.loadBalancerClass` value we serve.
    pub class: String,
    /// Also serve Services without a class.
    pub classless: bool,
}

impl Default for ClassPolicy {
    fn default() -> Self {
        Self { class: DEFAULT_CLASS.to_owned(), classless: true }
    }
}

impl ClassPolicy {
    /// Whether `service` is a LoadBalancer Service this adapter should serve.
    pub fn manages(&self, service: &Service) -> bool {
        let Some(spec) = &service.spec else { return false };
        spec.type_.as_deref() == Some("LoadBalancer")
            && match spec.load_balancer_class.as_deref() {
                Some(class) => class == self.class,
                None => self.classless,
            }
    }
}

/// Why a Service's request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("annotation {annotation}: {value:?} is not a list of IP addresses")]
    BadAddresses { annotation: String, value: String },
    #[error("annotation {annotation}: {value:?} names two addresses of the same family")]
    SameFamilyTwice { annotation: String, value: String },
    #[error("spec.loadBalancerIP {spec:?} disagrees with annotation {annotation} {value:?}")]
    SpecAndAnnotation { spec: String, annotation: String, value: String },
    #[error("spec.loadBalancerIP: {0:?} is not an IP address")]
    BadLoadBalancerIp(String),
    #[error("annotations {first} and {second} disagree ({first_value:?} vs {second_value:?})")]
    Disagree { first: String, first_value: String, second: String, second_value: String },
    #[error("spec.ipFamilies: unknown family {0:?}")]
    UnknownFamily(String),
    #[error("spec.ports[{index}]: port {port} is out of range")]
    BadPort { index: usize, port: i32 },
    #[error("spec.ports[{index}]: unknown protocol {protocol:?}")]
    BadProtocol { index: usize, protocol: String },
}

impl RequestError {
    /// A short CamelCase reason for Events and the Service condition.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BadAddresses { .. } | Self::SameFamilyTwice { .. } | Self::Disagree { .. } => {
                "InvalidAnnotation"
            }
            Self::SpecAndAnnotation { .. } | Self::BadLoadBalancerIp(_) => "InvalidLoadBalancerIP",
            Self::UnknownFamily(_) | Self::BadPort { .. } | Self::BadProtocol { .. } => {
                "InvalidServiceSpec"
            }
        }
    }
}

/// The value of annotation `suffix` in the first spelling present, with its full name.
fn annotation(service: &Service, suffix: &str) -> Result<Option<(String, String)>, RequestError> {
    let Some(annotations) = &service.metadata.annotations else { return Ok(None) };
    let mut found: Option<(String, String)> = None;
    for prefix in ANNOTATION_PREFIXES {
        let name = format!("{prefix}{suffix}");
        if let Some(value) = annotations.get(&name) {
            match &found {
                Some((first, first_value)) if first_value.trim() != value.trim() => {
                    return Err(RequestError::Disagree {
                        first: first.clone(),
                        first_value: first_value.clone(),
                        second: name,
                        second_value: value.clone(),
                    });
                }
                Some(_) => {}
                None => found = Some((name, value.clone())),
            }
        }
    }
    Ok(found)
}

fn family(name: &str) -> Result<Family, RequestError> {
    match name {
        "IPv4" => Ok(Family::V4),
        "IPv6" => Ok(Family::V6),
        other => Err(RequestError::UnknownFamily(other.to_owned())),
    }
}

/// Reads what `service` asks for. `namespace_labels` are its Namespace's labels.
pub fn request(service: &Service, namespace_labels: &Labels) -> Result<Request, RequestError> {
    let meta = &service.metadata;
    let key = ServiceKey::new(
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    );
    let spec = service.spec.clone().unwrap_or_default();

    // Requested addresses.
    let mut addresses: Vec<IpAddr> = Vec::new();
    if let Some((name, value)) = annotation(service, "loadBalancerIPs")? {
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let ip = part.parse::<IpAddr>().map_err(|_| RequestError::BadAddresses {
                annotation: name.clone(),
                value: value.clone(),
            })?;
            if addresses.iter().any(|a| Family::of(*a) == Family::of(ip)) {
                return Err(RequestError::SameFamilyTwice { annotation: name, value });
            }
            addresses.push(ip);
        }
        if addresses.is_empty() {
            return Err(RequestError::BadAddresses { annotation: name, value });
        }
        if let Some(spec_ip) = spec.load_balancer_ip.as_deref().filter(|s| !s.is_empty())
            && !spec_ip.parse::<IpAddr>().is_ok_and(|ip| addresses.contains(&ip))
        {
            return Err(RequestError::SpecAndAnnotation {
                spec: spec_ip.to_owned(),
                annotation: name,
                value,
            });
        }
    } else if let Some(spec_ip) = spec.load_balancer_ip.as_deref().filter(|s| !s.is_empty()) {
        let ip = spec_ip
            .trim()
            .parse::<IpAddr>()
            .map_err(|_| RequestError::BadLoadBalancerIp(spec_ip.to_owned()))?;
        addresses.push(ip);
    }

    // Families: spec.ipFamilies as the API server filled it, else the cluster IPs, else
    // the requested addresses, else IPv4.
    let mut families: Vec<Family> = Vec::new();
    for name in spec.ip_families.iter().flatten() {
        families.push(family(name)?);
    }
    if families.is_empty() {
        let cluster_ips = spec.cluster_ips.iter().flatten().chain(spec.cluster_ip.iter());
        for ip in cluster_ips.filter_map(|s| s.parse::<IpAddr>().ok()) {
            if !families.contains(&Family::of(ip)) {
                families.push(Family::of(ip));
            }
        }
    }
    if families.is_empty() {
        families.extend(addresses.iter().map(|ip| Family::of(*ip)));
    }
    let primary = families.first().copied().unwrap_or(Family::V4);
    let families = match (spec.ip_family_policy.as_deref(), families.len()) {
        (Some("RequireDualStack"), _) => FamilyPolicy::RequireDual(primary),
        (Some("PreferDualStack"), 2) => FamilyPolicy::PreferDual(primary),
        (_, 2) => FamilyPolicy::RequireDual(primary),
        _ => FamilyPolicy::Single(primary),
    };

    let mut ports = Vec::new();
    for (index, p) in spec.ports.iter().flatten().enumerate() {
        let protocol = match p.protocol.as_deref().unwrap_or("TCP") {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "SCTP" => Protocol::Sctp,
            other => return Err(RequestError::BadProtocol { index, protocol: other.to_owned() }),
        };
        let port =
            u16::try_from(p.port).map_err(|_| RequestError::BadPort { index, port: p.port })?;
        ports.push(PortKey { protocol, port });
    }
    ports.sort_unstable();
    ports.dedup();

    let backend_key = (spec.external_traffic_policy.as_deref() == Some("Local")).then(|| {
        spec.selector
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    });

    Ok(Request {
        key,
        labels: meta.labels.clone().unwrap_or_default(),
        namespace_labels: namespace_labels.clone(),
        families,
        addresses,
        pool: annotation(service, "address-pool")?
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty()),
        sharing_key: annotation(service, "allow-shared-ip")?
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty()),
        ports,
        backend_key,
    })
}

/// The addresses in `status.loadBalancer.ingress`, for [`super::Allocator::restore`].
/// Hostnames and unparsable entries are skipped: the controller rewrites the status anyway.
pub fn status_addresses(service: &Service) -> Vec<IpAddr> {
    service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(annotations: serde_json::Value, spec: serde_json::Value) -> Service {
        let mut spec_obj = json!({"type": "LoadBalancer", "ports": [{"port": 80}]});
        if let (Some(base), Some(extra)) = (spec_obj.as_object_mut(), spec.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "metadata": {"name": "s", "namespace": "n", "annotations": annotations, "labels": {"app": "web"}},
            "spec": spec_obj
        }))
        .unwrap()
    }

    fn req(
        annotations: serde_json::Value,
        spec: serde_json::Value,
    ) -> Result<Request, RequestError> {
        request(&service(annotations, spec), &Labels::new())
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn annotations_in_every_spelling() {
        for prefix in ANNOTATION_PREFIXES {
            let r = req(
                json!({
                    format!("{prefix}loadBalancerIPs"): "198.51.100.7, 2001:db8::7",
                    format!("{prefix}address-pool"): "gold",
                    format!("{prefix}allow-shared-ip"): "key-1",
                }),
                json!({}),
            )
            .unwrap();
            assert_eq!(r.addresses, ips(&["198.51.100.7", "2001:db8::7"]), "{prefix}");
            assert_eq!(r.pool.as_deref(), Some("gold"));
            assert_eq!(r.sharing_key.as_deref(), Some("key-1"));
        }
        // Two spellings that agree are fine.
        let r = req(
            json!({"ironlb.io/address-pool": "gold", "metallb.universe.tf/address-pool": "gold"}),
            json!({}),
        );
        assert_eq!(r.unwrap().pool.as_deref(), Some("gold"));
    }

    #[test]
    fn malformed_requests_are_errors_naming_the_annotation() {
        let e =
            req(json!({"metallb.io/loadBalancerIPs": "198.51.100.300"}), json!({})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "annotation metallb.io/loadBalancerIPs: \"198.51.100.300\" is not a list of IP addresses"
        );
        let e = req(json!({"ironlb.io/loadBalancerIPs": "198.51.100.1,198.51.100.2"}), json!({}))
            .unwrap_err();
        assert!(matches!(e, RequestError::SameFamilyTwice { .. }));
        assert_eq!(e.reason(), "InvalidAnnotation");
        let e =
            req(json!({"ironlb.io/address-pool": "a", "metallb.io/address-pool": "b"}), json!({}))
                .unwrap_err();
        assert!(matches!(e, RequestError::Disagree { .. }), "{e}");
        let e = req(
            json!({"ironlb.io/loadBalancerIPs": "198.51.100.1"}),
            json!({"loadBalancerIP": "198.51.100.2"}),
        )
        .unwrap_err();
        assert!(matches!(e, RequestError::SpecAndAnnotation { .. }));
        let e = req(json!({}), json!({"loadBalancerIP": "nope"})).unwrap_err();
        assert_eq!(e, RequestError::BadLoadBalancerIp("nope".into()));
        let e = req(json!({}), json!({"ports": [{"port": 80, "protocol": "QUIC"}]})).unwrap_err();
        assert!(matches!(e, RequestError::BadProtocol { index: 0, .. }));
    }

    #[test]
    fn spec_fields() {
        let r = req(json!({}), json!({"loadBalancerIP": "198.51.100.9"})).unwrap();
        assert_eq!(r.addresses, ips(&["198.51.100.9"]));
        assert_eq!(r.families, FamilyPolicy::Single(Family::V4));
        assert_eq!(r.key, ServiceKey::new("n", "s"));
        assert_eq!(r.labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(r.ports, vec![PortKey { protocol: Protocol::Tcp, port: 80 }]);
        assert_eq!(r.backend_key, None);

        let r = req(
            json!({}),
            json!({"ipFamilies": ["IPv6", "IPv4"], "ipFamilyPolicy": "RequireDualStack",
                   "externalTrafficPolicy": "Local", "selector": {"b": "2", "a": "1"},
                   "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}),
        )
        .unwrap();
        assert_eq!(r.families, FamilyPolicy::RequireDual(Family::V6));
        assert_eq!(r.backend_key.as_deref(), Some("a=1,b=2"));
        assert_eq!(r.ports.len(), 2);
        let r = req(
            json!({}),
            json!({"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack"}),
        )
        .unwrap();
        assert_eq!(r.families, FamilyPolicy::PreferDual(Family::V4));
        let r =
            req(json!({}), json!({"ipFamilies": ["IPv6"], "ipFamilyPolicy": "PreferDualStack"}))
                .unwrap();
        assert_eq!(r.families, FamilyPolicy::Single(Family::V6));
        let r = req(json!({}), json!({"clusterIPs": ["fd00::1"]})).unwrap();
        assert_eq!(r.families, FamilyPolicy::Single(Family::V6));
    }

    #[test]
    fn class_policy() {
        let ours = ClassPolicy::default();
        let only_class = ClassPolicy { classless: false, ..ClassPolicy::default() };
        let classless = service(json!({}), json!({}));
        let classed = service(json!({}), json!({"loadBalancerClass": "ironlb.io/lb"}));
        let foreign = service(json!({}), json!({"loadBalancerClass": "example.com/lb"}));
        let cluster_ip = service(json!({}), json!({"type": "ClusterIP"}));
        assert!(ours.manages(&classless) && ours.manages(&classed));
        assert!(!ours.manages(&foreign) && !ours.manages(&cluster_ip));
        assert!(!only_class.manages(&classless) && only_class.manages(&classed));
    }

    #[test]
    fn status_addresses_skip_hostnames() {
        let mut s = service(json!({}), json!({}));
        s.status = serde_json::from_value(
            json!({"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}, {"hostname": "lb.example"}, {"ip": "x"}]}}),
        )
        .unwrap();
        assert_eq!(status_addresses(&s), ips(&["198.51.100.1"]));
    }
}
