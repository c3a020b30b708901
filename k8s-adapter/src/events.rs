//! Kubernetes Events (events.k8s.io/v1) from the controller and the speakers.
//!
//! Written directly rather than through kube's `Recorder`: the Recorder folds Events with
//! the same reason on the same object into one series and keeps the first note, so a
//! Service that moves would still read "Assigned IP \[old\]". Our loops only publish on a
//! change of state, so there is nothing to fold. A failure to publish is logged and never
//! stops a loop: Events are for humans, the status is the record.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};

use crate::config::ObjectRef;
use crate::config::crd::{GROUP, VERSION};

/// Event reason: this node started announcing a Service (BGP: [`crate::speaker::runtime`];
/// layer2: [`crate::speaker::layer2::visible`]).
pub const ANNOUNCING: &str = "AnnouncingFromNode";
/// Event reason: this node stopped announcing a Service.
pub const WITHDRAWN: &str = "WithdrawnFromNode";

/// Publishes Events as one reporting component.
#[derive(Clone)]
pub struct Events {
    client: Client,
    controller: String,
    instance: String,
}

impl Events {
    /// `controller` names the component (`ironlb.io/controller`), `instance` the pod or node.
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        Self {
            client,
            controller: controller.to_owned(),
            instance: instance.unwrap_or_else(|| controller.to_owned()),
        }
    }

    /// A Normal Event.
    pub async fn normal(&self, on: &ObjectReference, reason: &str, action: &str, note: String) {
        self.publish(on, "Normal", reason, action, note).await;
    }

    /// A Warning Event.
    pub async fn warning(&self, on: &ObjectReference, reason: &str, action: &str, note: String) {
        self.publish(on, "Warning", reason, action, note).await;
    }

    async fn publish(
        &self,
        on: &ObjectReference,
        type_: &str,
        reason: &str,
        action: &str,
        note: String,
    ) {
        // Events of cluster-scoped objects go to `default`, as kubectl and kube do.
        let namespace = on.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.", on.name.as_deref().unwrap_or("object"))),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(Timestamp::now())),
            type_: Some(type_.to_owned()),
            reason: Some(reason.to_owned()),
            action: Some(action.to_owned()),
            note: Some(truncate(note)),
            regarding: Some(on.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        };
        let api = Api::<Event>::namespaced(self.client.clone(), &namespace);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            tracing::warn!(reason, object = ?on.name, error = %e, "publishing an Event failed");
        }
    }
}

/// Event notes are limited to 1 kB.
fn truncate(mut note: String) -> String {
    if note.len() > 1024 {
        let mut end = 1021;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str("...");
    }
    note
}

/// The reference of a config object named in a validation error.
pub fn config_object_ref(object: &ObjectRef) -> ObjectReference {
    let api_version =
        if object.kind == "ConfigMap" { "v1".to_owned() } else { format!("{GROUP}/{VERSION}") };
    ObjectReference {
        api_version: Some(api_version),
        kind: Some(object.kind.to_owned()),
        namespace: object.namespace.clone(),
        name: Some(object.name.clone()),
        ..ObjectReference::default()
    }
}
