//! kube-runtime on top of the server: a reflector's store converges, and a `Controller`
//! reconciles Services by applying their status, as the ironlb controller will.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::{DEADLINE, obj, setup};

fn lb(name: &str) -> Service {
    obj(
        json!({"metadata": {"name": name}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
    )
}

#[tokio::test]
async fn reflector_store_follows_the_server() {
    let (server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &lb("a")).await.unwrap();
    let (reader, writer) = reflector::store::<Service>();
    let stream =
        reflector(writer, watcher(api.clone(), watcher::Config::default())).applied_objects();
    let task = tokio::spawn(stream.for_each(|_| async {}));
    tokio::time::timeout(DEADLINE, reader.wait_until_ready()).await.unwrap().unwrap();
    assert_eq!(reader.state().len(), 1);
    api.create(&PostParams::default(), &lb("b")).await.unwrap();
    server.remove("v1", "Service", Some("default"), "a").await.unwrap();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let names: Vec<String> = reader.state().iter().map(|s| s.name_any()).collect();
        if names == ["b"] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "reflector never converged: {names:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

async fn reconcile(svc: Arc<Service>, client: Arc<Client>) -> Result<Action, ReconcileError> {
    let api: Api<Service> =
        Api::namespaced((*client).clone(), &svc.namespace().unwrap_or_default());
    let status = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc.name_any()},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.150"}]}}});
    api.patch_status(
        &svc.name_any(),
        &PatchParams::apply("test-controller").force(),
        &Patch::Apply(&status),
    )
    .await?;
    Ok(Action::await_change())
}

fn error_policy(_svc: Arc<Service>, _e: &ReconcileError, _client: Arc<Client>) -> Action {
    Action::requeue(Duration::from_millis(50))
}

#[tokio::test]
async fn controller_reconciles_service_status() {
    let (server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &lb("nginx-service")).await.unwrap();
    let controller = Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(client))
        .for_each(|_| async {});
    let task = tokio::spawn(controller);
    let svc = server
        .wait_for_object("v1", "Service", Some("default"), "nginx-service", DEADLINE, |o| {
            o.is_some_and(|o| o["status"]["loadBalancer"]["ingress"][0]["ip"] == "198.51.100.150")
        })
        .await
        .unwrap();
    assert!(svc.is_some());
    task.abort();
}

#[tokio::test]
async fn metadata_watcher_and_list_metadata() {
    let (_server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &lb("a")).await.unwrap();
    let metas = api.list_metadata(&kube::api::ListParams::default()).await.unwrap();
    assert_eq!(metas.items.len(), 1);
    assert_eq!(
        metas.items[0].types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let one = api.get_metadata("a").await.unwrap();
    assert_eq!(one.name_any(), "a");

    let mut stream = watcher(
        Api::<kube::core::PartialObjectMeta<Service>>::namespaced(client, "default"),
        watcher::Config::default(),
    )
    .boxed();
    let mut seen = Vec::new();
    while !matches!(seen.last(), Some(watcher::Event::InitDone)) {
        seen.push(crate::next(&mut stream).await.unwrap());
    }
    api.create(&PostParams::default(), &lb("b")).await.unwrap();
    match crate::next(&mut stream).await.unwrap() {
        watcher::Event::Apply(m) => {
            assert_eq!(m.name_any(), "b");
            assert_eq!(m.types.map(|t| t.kind), Some("PartialObjectMetadata".to_owned()));
        }
        other => panic!("expected an apply, got {other:?}"),
    }
}
