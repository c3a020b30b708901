//! Kubernetes objects → the plain views [`super::announce`] works on.
//!
//! Readiness follows the EndpointSlice API: `conditions.ready` unset means ready; a Service
//! with `publishNotReadyAddresses` counts every endpoint as ready, as kube-proxy does.

use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::allocator::{ClassPolicy, ServiceKey, status_addresses};
use crate::config::{Family, Labels};

/// Nodes with this label announce nothing (the well-known Kubernetes label).
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// The label tying an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// What the announcement function needs of a Node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub labels: Labels,
    /// Condition `NetworkUnavailable` is `True`.
    pub network_unavailable: bool,
    /// `status.addresses` of type `InternalIP`, in order: the next hop of a prefix sent
    /// over a session of the other family (`dualStackAddressFamily`).
    pub addresses: Vec<IpAddr>,
    /// `spec.unschedulable` (cordoned).
    pub cordoned: bool,
    /// Where this node is in a graceful drain; set by the speaker's runtime, which keeps
    /// the time ([`Drain`]).
    pub drain: Drain,
}

/// A node leaving service (cordoned or labelled with [`EXCLUDE_LABEL`]): first its BGP
/// routes are announced with GRACEFUL_SHUTDOWN (RFC 8326) so that routers move traffic
/// elsewhere while they still work, then they are withdrawn. Beyond MetalLB, which withdraws
/// at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Drain {
    /// Not draining (or drains are not timed here: the exclude label then withdraws at once,
    /// as MetalLB).
    #[default]
    Serving,
    /// Routes announced with GRACEFUL_SHUTDOWN until the drain time is over.
    Draining,
    /// Drain time over: nothing announced.
    Drained,
}

impl NodeView {
    pub fn from_node(node: &Node) -> Self {
        let network_unavailable = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "NetworkUnavailable" && c.status == "True");
        let addresses = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .into_iter()
            .flatten()
            .filter(|a| a.type_ == "InternalIP")
            .filter_map(|a| a.address.trim().parse().ok())
            .collect();
        Self {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            network_unavailable,
            addresses,
            cordoned: node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
            drain: Drain::Serving,
        }
    }

    /// Whether the node is leaving service: cordoned, or labelled [`EXCLUDE_LABEL`].
    pub fn leaving(&self) -> bool {
        self.cordoned || self.labels.contains_key(EXCLUDE_LABEL)
    }

    /// Whether the node announces over BGP, and with GRACEFUL_SHUTDOWN (`Some(true)`).
    pub fn bgp(&self) -> Option<bool> {
        if self.network_unavailable {
            return None;
        }
        match self.drain {
            Drain::Drained => None,
            Drain::Draining => Some(true),
            Drain::Serving if self.labels.contains_key(EXCLUDE_LABEL) => None,
            Drain::Serving => Some(false),
        }
    }

    /// The node's first `InternalIP` of `family`.
    pub fn address_of(&self, family: Family) -> Option<IpAddr> {
        self.addresses.iter().copied().find(|a| Family::of(*a) == family)
    }

    /// Whether this node answers for no layer2 address (and, without a drain, announces
    /// nothing): `NetworkUnavailable`, cordoned or excluded; layer2 addresses move at once.
    pub fn excluded(&self) -> bool {
        self.network_unavailable || self.leaving()
    }
}

/// What the announcement function needs of a Service and its endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceView {
    pub key: ServiceKey,
    /// From `status.loadBalancer.ingress`: what the controller assigned.
    pub addresses: Vec<IpAddr>,
    /// `externalTrafficPolicy: Local`.
    pub local: bool,
    /// Nodes hosting at least one ready endpoint.
    pub ready_nodes: BTreeSet<String>,
    /// At least one ready endpoint exists (some may carry no node name).
    pub ready_anywhere: bool,
}

impl ServiceView {
    /// The view of `service` with its EndpointSlices, or `None` when it is not a
    /// LoadBalancer Service of ours.
    pub fn from_k8s<'a>(
        service: &Service,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
        class: &ClassPolicy,
    ) -> Option<Self> {
        if !class.manages(service) {
            return None;
        }
        let spec = service.spec.as_ref()?;
        let all_ready = spec.publish_not_ready_addresses == Some(true);
        let mut view = Self {
            key: ServiceKey::new(
                service.metadata.namespace.clone().unwrap_or_default(),
                service.metadata.name.clone().unwrap_or_default(),
            ),
            addresses: status_addresses(service),
            local: spec.external_traffic_policy.as_deref() == Some("Local"),
            ..Self::default()
        };
        for endpoint in slices.into_iter().flat_map(|s| s.endpoints.iter()) {
            let ready =
                all_ready || endpoint.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !ready {
                continue;
            }
            view.ready_anywhere = true;
            if let Some(node) = &endpoint.node_name {
                view.ready_nodes.insert(node.clone());
            }
        }
        Some(view)
    }
}

/// The Service an EndpointSlice belongs to.
pub fn slice_service(slice: &EndpointSlice) -> Option<ServiceKey> {
    let name = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    Some(ServiceKey::new(slice.metadata.namespace.clone().unwrap_or_default(), name.clone()))
}
