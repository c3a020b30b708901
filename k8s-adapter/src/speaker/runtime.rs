//! The speaker's loop: watch Services, EndpointSlices, this Node and the config; on every
//! batch of changes compute this node's announcements ([`super::desired_from_k8s`]) and
//! hand the resulting bgpd state to the client task ([`super::client`]).
//!
//! Coalescing: the loop takes every trigger queued ([`crate::watch::drain`]) and computes
//! once per batch; the client task keeps only the newest state. Nothing waits on a timer.
//!
//! Visibility: which nodes announce a Service is shown by Events on the Service from each
//! speaker: `AnnouncingFromNode` when this node starts announcing it (with the peers) and
//! `WithdrawnFromNode` when it stops. Events rather than an annotation because every
//! node's speaker would write the same annotation, and N writers of one field conflict;
//! Events are per node and never conflict.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use thiserror::Error;
use tokio::sync::{mpsc, watch};

use super::bgpd::{bgpd_state, owner, peer_marker};
use super::client::{self, ClientOptions, Desired};
use super::layer2::{self, Layer2Options};
use super::view::slice_service;
use super::{Announcements, desired_from_k8s};
use crate::allocator::{ClassPolicy, ServiceKey, status_addresses};
use crate::config::Config;
use crate::events::Events;
use crate::watch::{ConfigSources, LegacySource, Trigger, drain, service_key, spawn_watch};

/// Event reasons.
pub const ANNOUNCING: &str = "AnnouncingFromNode";
pub const WITHDRAWN: &str = "WithdrawnFromNode";

/// How the speaker runs.
#[derive(Debug, Clone)]
pub struct SpeakerOptions {
    /// This node's name (downward API `spec.nodeName`).
    pub node_name: String,
    /// Namespace of our CRDs.
    pub namespace: String,
    pub legacy: Option<LegacySource>,
    pub class: ClassPolicy,
    /// bgpd's API: `host:port` or `unix:/path`.
    pub bgpd: String,
    /// How long bgpd keeps our paths when we are gone (restart without withdrawal).
    pub grace: Duration,
    /// bgpd session keepalive interval ([`client::KEEPALIVE`] by default).
    pub keepalive: Duration,
    /// The layer2 election's knobs ([`super::layer2`]).
    pub layer2: Layer2Options,
}

/// Why the speaker stopped.
#[derive(Debug, Error)]
pub enum SpeakerError {
    #[error("every watch stopped")]
    WatchesEnded,
    #[error("cannot watch for SIGTERM: {0}")]
    Signal(std::io::Error),
}

/// Runs the speaker until its watches end, or until SIGTERM: then the layer2 election's
/// clean stop (Lease deleted first, then withdrawal) runs and this returns `Ok`.
pub async fn run(client: Client, options: SpeakerOptions) -> Result<(), SpeakerError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let services: Store<Service> =
        spawn_watch(Api::all(client.clone()), watcher::Config::default(), tx.clone(), |s| {
            Trigger::Service(service_key(s))
        });
    // Only slices that belong to a Service (the label the EndpointSlice controller sets).
    let slices: Store<EndpointSlice> = spawn_watch(
        Api::all(client.clone()),
        watcher::Config::default().labels(super::view::SERVICE_NAME_LABEL),
        tx.clone(),
        |s| slice_service(s).map_or(Trigger::Resync, Trigger::Service),
    );
    let nodes: Store<Node> = spawn_watch(
        Api::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={}", options.node_name)),
        tx.clone(),
        |_| Trigger::Node,
    );
    let mut sources =
        ConfigSources::spawn(&client, &options.namespace, options.legacy.clone(), &tx);
    drop(tx);
    tracing::info!(node = %options.node_name, "waiting for the first lists");
    let _ = services.wait_until_ready().await;
    let _ = slices.wait_until_ready().await;
    let _ = nodes.wait_until_ready().await;
    sources.ready().await;

    let events = Events::new(client.clone(), "ironlb.io/speaker", Some(options.node_name.clone()));
    let mut speaker = Speaker { options: options.clone(), config: load(&mut sources) };
    let first = speaker.compute(&services, &slices, &nodes);
    let (desired_tx, desired_rx) = watch::channel(Arc::new(first.0));
    let client_options = ClientOptions {
        endpoint: options.bgpd.clone(),
        owner: owner(&options.node_name),
        marker: peer_marker(&options.node_name),
        grace: options.grace,
        keepalive: options.keepalive,
    };
    let (layer2_tx, layer2_rx) = watch::channel(Arc::default());
    let layer2 = layer2::spawn(layer2::Setup {
        client: client.clone(),
        node: options.node_name.clone(),
        namespace: options.namespace.clone(),
        class: options.class.clone(),
        options: options.layer2.clone(),
        bgpd: options.bgpd.clone(),
        owner: client_options.owner.clone(),
        services: services.clone(),
        slices: slices.clone(),
        events: events.clone(),
        desired: layer2_tx,
    });
    layer2.recompute(Arc::new(speaker.config.clone()));
    tokio::spawn(client::run(client_options, desired_rx, layer2_rx, events.clone()));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(SpeakerError::Signal)?;
    // Events go from their own task, so that publishing them never delays the next push.
    let (visible_tx, visible_rx) = watch::channel(first.1);
    tokio::spawn(visibility(visible_rx, services.clone(), events, options.node_name.clone()));

    loop {
        let batch = tokio::select! {
            batch = drain(&mut rx) => batch,
            _ = terminate.recv() => {
                tracing::info!("SIGTERM: stopping cleanly");
                layer2.stop().await;
                return Ok(());
            }
        };
        let Some(batch) = batch else { break };
        if batch.config || batch.resync {
            speaker.config = load(&mut sources);
        }
        layer2.recompute(Arc::new(speaker.config.clone()));
        let (desired, announced) = speaker.compute(&services, &slices, &nodes);
        desired_tx.send_if_modified(|current| {
            if **current == desired {
                false
            } else {
                *current = Arc::new(desired);
                true
            }
        });
        visible_tx.send_if_modified(|current| {
            if *current == announced {
                false
            } else {
                *current = announced;
                true
            }
        });
    }
    Err(SpeakerError::WatchesEnded)
}

fn load(sources: &mut ConfigSources) -> Config {
    let collected = sources.collect();
    // The controller publishes config errors as Events; speakers only log them.
    for e in &collected.built.errors {
        tracing::warn!(error = %e, "invalid config object left out");
    }
    if let Some(e) = &collected.legacy_error {
        tracing::warn!(error = %e, "legacy ConfigMap unreadable");
    }
    collected.built.config
}

struct Speaker {
    options: SpeakerOptions,
    config: Config,
}

impl Speaker {
    /// The bgpd state, and per announced Service the peers it goes to.
    fn compute(
        &self,
        services: &Store<Service>,
        slices: &Store<EndpointSlice>,
        nodes: &Store<Node>,
    ) -> (Desired, BTreeMap<ServiceKey, BTreeSet<String>>) {
        let services = services.state();
        let slices = slices.state();
        let nodes = nodes.state();
        let announcements = desired_from_k8s(
            services.iter().map(AsRef::as_ref),
            slices.iter().map(AsRef::as_ref),
            nodes.iter().map(AsRef::as_ref),
            &self.config,
            &self.options.node_name,
            &self.options.class,
        );
        let state = bgpd_state(&announcements, &self.config, &self.options.node_name);
        let announced = announced_services(
            services.iter().map(AsRef::as_ref).filter(|s| self.options.class.manages(s)),
            &announcements,
        );
        let refs = services
            .iter()
            .filter(|s| announced.contains_key(&service_key(s.as_ref())))
            .map(|s| s.object_ref(&()))
            .collect();
        (Desired { state, services: refs }, announced)
    }
}

/// Publishes Events for the Services this node starts or stops announcing (per BGPPeer
/// set), from the newest announced map; intermediate maps are skipped.
async fn visibility(
    mut announced: watch::Receiver<BTreeMap<ServiceKey, BTreeSet<String>>>,
    services: Store<Service>,
    events: Events,
    node: String,
) {
    let mut published: BTreeMap<ServiceKey, BTreeSet<String>> = BTreeMap::new();
    loop {
        let now = announced.borrow_and_update().clone();
        let lookup = |key: &ServiceKey| {
            services
                .get(&kube::runtime::reflector::ObjectRef::new(&key.name).within(&key.namespace))
        };
        for (key, peers) in &now {
            if published.get(key) == Some(peers) {
                continue;
            }
            if let Some(svc) = lookup(key) {
                let peers: Vec<&str> = peers.iter().map(String::as_str).collect();
                let note = format!("announced from node {node} over BGP to {}", peers.join(", "));
                events.normal(&svc.object_ref(&()), ANNOUNCING, "Announce", note).await;
            }
        }
        for key in published.keys().filter(|k| !now.contains_key(*k)) {
            if let Some(svc) = lookup(key) {
                let note = format!("no longer announced from node {node}");
                events.normal(&svc.object_ref(&()), WITHDRAWN, "Withdraw", note).await;
            }
        }
        published = now;
        if announced.changed().await.is_err() {
            return;
        }
    }
}

/// The Services whose addresses this node announces, with the BGPPeer names they go to.
/// An address counts as announced when a prefix sent to a peer covers it (exact host
/// routes by lookup, aggregates by scan; aggregates are few).
pub fn announced_services<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    announcements: &Announcements,
) -> BTreeMap<ServiceKey, BTreeSet<String>> {
    let mut hosts: BTreeMap<IpAddr, BTreeSet<&str>> = BTreeMap::new();
    let mut aggregates: Vec<(IpNet, &str)> = Vec::new();
    for (peer, paths) in &announcements.peers {
        for prefix in paths.keys() {
            if prefix.prefix_len() == prefix.max_prefix_len() {
                hosts.entry(prefix.addr()).or_default().insert(peer);
            } else {
                aggregates.push((*prefix, peer));
            }
        }
    }
    let mut out = BTreeMap::new();
    for svc in services {
        let mut peers: BTreeSet<String> = BTreeSet::new();
        for ip in status_addresses(svc) {
            peers.extend(hosts.get(&ip).into_iter().flatten().map(|p| (*p).to_owned()));
            peers.extend(
                aggregates.iter().filter(|(n, _)| n.contains(&ip)).map(|(_, p)| (*p).to_owned()),
            );
        }
        if !peers.is_empty() {
            out.insert(service_key(svc), peers);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::speaker::PathAttributes;

    fn svc(name: &str, ip: &str) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}
        }))
        .unwrap()
    }

    #[test]
    fn services_are_matched_by_host_route_or_aggregate() {
        let mut announcements = Announcements::default();
        let mut a = BTreeMap::new();
        a.insert("198.51.100.1/32".parse().unwrap(), PathAttributes::default());
        announcements.peers.insert("a".into(), a);
        let mut b = BTreeMap::new();
        b.insert("203.0.113.0/24".parse().unwrap(), PathAttributes::default());
        announcements.peers.insert("b".into(), b);
        let services =
            [svc("host", "198.51.100.1"), svc("agg", "203.0.113.7"), svc("none", "198.51.100.2")];
        let got = announced_services(services.iter(), &announcements);
        assert_eq!(got.len(), 2);
        assert_eq!(got[&ServiceKey::new("default", "host")], BTreeSet::from(["a".to_owned()]));
        assert_eq!(got[&ServiceKey::new("default", "agg")], BTreeSet::from(["b".to_owned()]));
    }
}
