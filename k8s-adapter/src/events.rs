//! Kubernetes Events (events.k8s.io/v1) from the controller and the speakers, through
//! kube's [`Recorder`] (which also aggregates repeats into series). A failure to publish is
//! logged and never stops a loop: Events are for humans, the status is the record.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::config::ObjectRef;
use crate::config::crd::{GROUP, VERSION};

/// Publishes Events as one reporting component.
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
}

impl Events {
    /// `controller` names the component (`ironlb.io/controller`), `instance` the pod or node.
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        let reporter = Reporter { controller: controller.to_owned(), instance };
        Self { recorder: Recorder::new(client, reporter) }
    }

    /// A Normal Event.
    pub async fn normal(&self, on: &ObjectReference, reason: &str, action: &str, note: String) {
        self.publish(on, EventType::Normal, reason, action, note).await;
    }

    /// A Warning Event.
    pub async fn warning(&self, on: &ObjectReference, reason: &str, action: &str, note: String) {
        self.publish(on, EventType::Warning, reason, action, note).await;
    }

    async fn publish(
        &self,
        on: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(truncate(note)),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, on).await {
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
