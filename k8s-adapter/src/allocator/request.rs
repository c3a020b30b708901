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
