//! Create, read, update and delete with the typed and dynamic kube APIs.

use ironlb_test_apiserver::ResourceType;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use crate::{code, obj, reason, setup};

fn service(name: &str) -> Service {
    obj(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]}}))
}

#[tokio::test]
async fn service_crud() {
    let (server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    let created = api.create(&PostParams::default(), &service("web")).await.unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    let rv1: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();

    assert_eq!(reason(api.create(&PostParams::default(), &service("web")).await), "AlreadyExists");

    let mut got = api.get("web").await.unwrap();
    got.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
    let replaced = api.replace("web", &PostParams::default(), &got).await.unwrap();
    let rv2: u64 = replaced.metadata.resource_version.as_deref().unwrap().parse().unwrap();
    assert!(rv2 > rv1);
    assert_eq!(api.list(&ListParams::default()).await.unwrap().items.len(), 1);

    let deleted = api.delete("web", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_left());
    assert_eq!(code(api.get("web").await), 404);
    assert!(api.get_opt("web").await.unwrap().is_none());
    assert!(server.get("v1", "Service", Some("default"), "web").await.unwrap().is_none());
}

#[tokio::test]
async fn create_checks_namespace_and_name() {
    let (_server, client) = setup().await;
    let missing: Api<Service> = Api::namespaced(client.clone(), "nowhere");
    assert_eq!(code(missing.create(&PostParams::default(), &service("web")).await), 404);
    let api: Api<Service> = Api::namespaced(client, "default");
    assert_eq!(code(api.create(&PostParams::default(), &service("Not_Valid")).await), 422);
}

#[tokio::test]
async fn generate_name_and_dry_run() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap = obj(json!({"metadata": {"generateName": "cm-"}, "data": {"a": "1"}}));
    let made = api.create(&PostParams::default(), &cm).await.unwrap();
    let name = made.metadata.name.unwrap();
    assert!(name.starts_with("cm-") && name.len() == 8, "{name}");
    let dry = PostParams { dry_run: true, ..PostParams::default() };
    let cm: ConfigMap = obj(json!({"metadata": {"name": "dry"}}));
    api.create(&dry, &cm).await.unwrap();
    assert!(server.get("v1", "ConfigMap", Some("default"), "dry").await.unwrap().is_none());
}

fn pool_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("ironlb.io", "v1beta1", "IPAddressPool"),
        "ipaddresspools",
    )
}

#[tokio::test]
async fn custom_resource_crud() {
    let (server, client) = setup().await;
    server
        .register(ResourceType::custom(
            "ironlb.io",
            "v1beta1",
            "IPAddressPool",
            "ipaddresspools",
            true,
        ))
        .await
        .unwrap();
    let ar = pool_resource();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let pool: DynamicObject =
        obj(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "pool-a"}, "spec": {"addresses": ["198.51.100.0/24"]}}));
    let created = api.create(&PostParams::default(), &pool).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.data["spec"]["addresses"][0], "198.51.100.0/24");

    let mut got = api.get("pool-a").await.unwrap();
    got.data["spec"]["autoAssign"] = json!(false);
    let updated = api.replace("pool-a", &PostParams::default(), &got).await.unwrap();
    assert_eq!(updated.metadata.generation, Some(2));

    let all: Api<DynamicObject> = Api::all_with(client, &ar);
    assert_eq!(all.list(&ListParams::default()).await.unwrap().items.len(), 1);
    api.delete("pool-a", &DeleteParams::default()).await.unwrap();
    assert!(api.get_opt("pool-a").await.unwrap().is_none());
}

#[tokio::test]
async fn creating_a_crd_serves_its_type() {
    let (_server, client) = setup().await;
    let crd: CustomResourceDefinition = obj(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "bgppeers.ironlb.io"},
        "spec": {"group": "ironlb.io", "scope": "Namespaced",
            "names": {"kind": "BGPPeer", "plural": "bgppeers", "singular": "bgppeer", "listKind": "BGPPeerList"},
            "versions": [{"name": "v1beta1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }));
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("ironlb.io", "v1beta1", "BGPPeer"),
        "bgppeers",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let peer: DynamicObject = obj(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
        "metadata": {"name": "frr"}, "spec": {"peerAddress": "192.0.2.1", "peerASN": 64512, "myASN": 64513}}));
    api.create(&PostParams::default(), &peer).await.unwrap();
    assert_eq!(api.get("frr").await.unwrap().data["spec"]["peerASN"], 64512);
}

#[tokio::test]
async fn service_defaults_single_and_dual_stack() {
    let (_server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    let spec = api.create(&PostParams::default(), &service("web")).await.unwrap().spec.unwrap();
    assert_eq!(spec.ip_families, Some(vec!["IPv4".to_owned()]));
    assert_eq!(spec.ip_family_policy.as_deref(), Some("SingleStack"));
    assert!(spec.cluster_ip.is_some());
    assert!(spec.ports.unwrap()[0].node_port.is_some());
    assert_eq!(spec.external_traffic_policy.as_deref(), Some("Cluster"));

    let opts = ironlb_test_apiserver::Options {
        ip_families: vec!["IPv6".to_owned(), "IPv4".to_owned()],
        ..ironlb_test_apiserver::Options::default()
    };
    let server = ironlb_test_apiserver::TestApiServer::start_with(opts).await.unwrap();
    let client = server.client().unwrap();
    let api: Api<Service> = Api::namespaced(client, "default");
    let mut svc = service("dual");
    svc.spec.as_mut().unwrap().ip_family_policy = Some("RequireDualStack".to_owned());
    let spec = api.create(&PostParams::default(), &svc).await.unwrap().spec.unwrap();
    assert_eq!(spec.ip_families, Some(vec!["IPv6".to_owned(), "IPv4".to_owned()]));
    assert_eq!(spec.cluster_ips.map(|ips| ips.len()), Some(2));
}
