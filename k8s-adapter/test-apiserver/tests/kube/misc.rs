//! Selectors, Events, failure injection, request counts, waiting, discovery.

use std::time::Duration;

use ironlb_test_apiserver::{Failure, ResourceType, ServerError, Verb};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Namespace, ObjectReference, Service};
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use kube::discovery::Discovery;
use kube::runtime::events::{Event as RecorderEvent, EventType, Recorder, Reporter};
use serde_json::json;

use crate::{DEADLINE, code, obj, reason, setup};

#[tokio::test]
async fn label_and_field_selectors() {
    let (_server, client) = setup().await;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &obj(json!({"metadata": {"name": "other"}})))
        .await
        .unwrap();
    for (ns, name, labels) in [
        ("default", "a", json!({"app": "web", "tier": "front"})),
        ("default", "b", json!({"app": "db"})),
        ("default", "c", json!({})),
        ("other", "d", json!({"app": "web"})),
    ] {
        let svc: Service = obj(json!({"metadata": {"name": name, "labels": labels}}));
        Api::<Service>::namespaced(client.clone(), ns)
            .create(&PostParams::default(), &svc)
            .await
            .unwrap();
    }
    let default: Api<Service> = Api::namespaced(client.clone(), "default");
    let names = |lp: ListParams| {
        let api = default.clone();
        async move {
            let items = api.list(&lp).await.unwrap().items;
            items.iter().map(|s| s.name_any()).collect::<Vec<_>>().join(",")
        }
    };
    assert_eq!(names(ListParams::default().labels("app=web")).await, "a");
    assert_eq!(names(ListParams::default().labels("app!=web")).await, "b,c");
    assert_eq!(names(ListParams::default().labels("app in (web,db)")).await, "a,b");
    assert_eq!(names(ListParams::default().labels("app notin (web)")).await, "b,c");
    assert_eq!(names(ListParams::default().labels("app")).await, "a,b");
    assert_eq!(names(ListParams::default().labels("!app")).await, "c");
    assert_eq!(names(ListParams::default().labels("app,tier=front")).await, "a");
    assert_eq!(names(ListParams::default().fields("metadata.name=b")).await, "b");
    assert_eq!(names(ListParams::default().fields("metadata.name!=b")).await, "a,c");
    let page = default.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().unwrap();
    let rest = default.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    assert_eq!(rest.items.iter().map(|s| s.name_any()).collect::<Vec<_>>(), ["c"]);
    assert!(rest.metadata.continue_.is_none_or(|c| c.is_empty()));
    let bad = default.list(&ListParams::default().continue_token("zz")).await;
    assert_eq!(code(bad), 400);
    assert_eq!(code(default.list(&ListParams::default().labels("app in (x")).await), 400);

    let all: Api<Service> = Api::all(client);
    let everywhere = all.list(&ListParams::default().labels("app=web")).await.unwrap().items;
    assert_eq!(everywhere.iter().map(|s| s.name_any()).collect::<Vec<_>>(), ["a", "d"]);
    let in_other =
        all.list(&ListParams::default().fields("metadata.namespace=other")).await.unwrap();
    assert_eq!(in_other.items.len(), 1);
}

#[tokio::test]
async fn events_core_and_events_k8s_io() {
    let (server, client) = setup().await;
    let core: CoreEvent = obj(
        json!({"metadata": {"name": "web.1"}, "reason": "IPAllocated", "message": "198.51.100.1",
        "type": "Normal", "involvedObject": {"kind": "Service", "name": "web", "namespace": "default"}}),
    );
    Api::<CoreEvent>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &core)
        .await
        .unwrap();

    let recorder = Recorder::new(
        client.clone(),
        Reporter { controller: "ironlb-controller".to_owned(), instance: None },
    );
    let reference = ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Service".to_owned()),
        name: Some("web".to_owned()),
        namespace: Some("default".to_owned()),
        ..ObjectReference::default()
    };
    let ev = RecorderEvent {
        type_: EventType::Normal,
        reason: "IPAllocated".to_owned(),
        note: Some("198.51.100.1".to_owned()),
        action: "Allocate".to_owned(),
        secondary: None,
    };
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events = Api::<Event>::namespaced(client, "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason.as_deref(), Some("IPAllocated"));
    assert_eq!(events[0].series.as_ref().map(|s| s.count), Some(2));
    assert_eq!(server.list("v1", "Event", Some("default")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn injected_failures_and_counts() {
    let (server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &obj(json!({"metadata": {"name": "web"}}))).await.unwrap();
    server
        .inject_failure(Failure::code(500).on("services").verb(Verb::Get).times(2))
        .await
        .unwrap();
    assert_eq!(reason(api.get("web").await), "InternalError");
    assert_eq!(code(api.get("web").await), 500);
    assert!(api.get("web").await.is_ok());
    assert_eq!(server.request_count("services", Verb::Get).await.unwrap(), 3);
    assert_eq!(server.request_count("services", Verb::Create).await.unwrap(), 1);
    server.inject_failure(Failure::code(409).on("services")).await.unwrap();
    assert_eq!(reason(api.get("web").await), "Conflict");
}

#[tokio::test]
async fn waiting_for_a_condition() {
    let (server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    let writer = tokio::spawn(async move {
        for i in 0..5 {
            let svc: Service = obj(json!({"metadata": {"name": format!("s{i}")}}));
            api.create(&PostParams::default(), &svc).await.unwrap();
        }
    });
    let n = server
        .wait_until(DEADLINE, |v| {
            let n = v.list("v1", "Service", Some("default")).len();
            (n == 5).then_some(n)
        })
        .await
        .unwrap();
    assert_eq!(n, 5);
    writer.await.unwrap();
    let gone = server
        .wait_for_object(
            "v1",
            "Service",
            Some("default"),
            "never",
            Duration::from_millis(50),
            |o| o.is_some(),
        )
        .await;
    assert!(matches!(gone, Err(ServerError::Timeout(_))));
}

#[tokio::test]
async fn discovery_and_version() {
    let (server, client) = setup().await;
    server
        .register(ResourceType::custom(
            "ironlb.io",
            "v1beta1",
            "BGPAdvertisement",
            "bgpadvertisements",
            true,
        ))
        .await
        .unwrap();
    let info = client.apiserver_version().await.unwrap();
    assert_eq!(info.major, "1");
    let discovery = Discovery::new(client).run().await.unwrap();
    assert!(discovery.has_group("ironlb.io"));
    assert!(discovery.has_group("coordination.k8s.io"));
}

#[tokio::test]
async fn kubeconfig_points_at_the_server() {
    let (server, _client) = setup().await;
    let yaml = server.kubeconfig(None);
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    assert_eq!(config.cluster_url.to_string().trim_end_matches('/'), server.url());
    assert_eq!(config.default_namespace, "default");
    let other = server.kubeconfig(Some("http://192.0.2.1:6443"));
    assert!(other.contains("server: http://192.0.2.1:6443"));
}
