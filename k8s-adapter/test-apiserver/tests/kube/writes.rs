//! Writes: optimistic concurrency, status subresource, patches, server-side apply, Leases,
//! finalizers.

use ironlb_test_apiserver::ResourceType;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use crate::{code, obj, reason, setup};

fn service(name: &str) -> Service {
    obj(
        json!({"metadata": {"name": name}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}),
    )
}

#[tokio::test]
async fn stale_update_conflicts() {
    let (server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &service("web")).await.unwrap();
    let mine = api.get("web").await.unwrap();
    server
        .modify("v1", "Service", Some("default"), "web", |o| {
            o["metadata"]["labels"] = json!({"by": "other"})
        })
        .await
        .unwrap();
    let res = api.replace("web", &PostParams::default(), &mine).await;
    assert_eq!(reason(res), "Conflict");
    // A merge patch carrying the stale resourceVersion is a precondition too.
    let rv = mine.metadata.resource_version.clone().unwrap();
    let patch = json!({"metadata": {"resourceVersion": rv, "labels": {"by": "me"}}});
    assert_eq!(code(api.patch("web", &PatchParams::default(), &Patch::Merge(patch)).await), 409);
}

#[tokio::test]
async fn status_subresource() {
    let (_server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &service("web")).await.unwrap();
    let ingress = json!({"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}}});
    let patched =
        api.patch_status("web", &PatchParams::default(), &Patch::Merge(&ingress)).await.unwrap();
    let ip = |s: &Service| {
        s.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .and_then(|i| i[0].ip.clone())
    };
    assert_eq!(ip(&patched).as_deref(), Some("198.51.100.10"));

    // The main resource ignores status; the status subresource ignores everything else.
    let mut changed = patched.clone();
    changed.status = None;
    changed.spec.as_mut().unwrap().load_balancer_ip = Some("198.51.100.20".to_owned());
    let main = api.replace("web", &PostParams::default(), &changed).await.unwrap();
    assert_eq!(ip(&main).as_deref(), Some("198.51.100.10"));
    assert_eq!(main.spec.as_ref().unwrap().load_balancer_ip.as_deref(), Some("198.51.100.20"));

    let mut status_only = main.clone();
    status_only.spec.as_mut().unwrap().load_balancer_ip = None;
    status_only.status = Some(obj(json!({"loadBalancer": {}})));
    let after = api.replace_status("web", &PostParams::default(), &status_only).await.unwrap();
    assert_eq!(ip(&after), None);
    assert_eq!(after.spec.as_ref().unwrap().load_balancer_ip.as_deref(), Some("198.51.100.20"));

    // Strategic merge on a built-in type is accepted.
    let p = Patch::Strategic(json!({"metadata": {"labels": {"s": "1"}}}));
    let s = api.patch("web", &PatchParams::default(), &p).await.unwrap();
    assert_eq!(s.metadata.labels.unwrap()["s"], "1");
}

#[tokio::test]
async fn custom_resource_status_and_patch_types() {
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
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("ironlb.io", "v1beta1", "IPAddressPool"),
        "ipaddresspools",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &ar);
    let pool: DynamicObject = obj(
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "p"}, "spec": {"addresses": ["198.51.100.0/24"]}, "status": {"ignored": true}}),
    );
    let created = api.create(&PostParams::default(), &pool).await.unwrap();
    assert!(created.data.get("status").is_none(), "create drops status when it is a subresource");
    let st = api
        .patch_status(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"assignedIPv4": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(st.data["status"]["assignedIPv4"], 1);
    assert_eq!(st.metadata.generation, Some(1), "status writes do not bump generation");
    let p = Patch::Strategic(json!({"spec": {"autoAssign": false}}));
    assert_eq!(code(api.patch("p", &PatchParams::default(), &p).await), 415);
}

#[tokio::test]
async fn server_side_apply() {
    let (_server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let applied = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": data});
    let a = PatchParams::apply("manager-a");
    let made =
        api.patch("cfg", &a, &Patch::Apply(applied(json!({"x": "1", "y": "2"})))).await.unwrap();
    assert_eq!(made.data.as_ref().unwrap().len(), 2);
    assert_eq!(
        made.metadata.managed_fields.as_ref().unwrap()[0].manager.as_deref(),
        Some("manager-a")
    );

    let b = PatchParams::apply("manager-b");
    let clash = api.patch("cfg", &b, &Patch::Apply(applied(json!({"x": "other"})))).await;
    assert_eq!(reason(clash), "Conflict");
    let forced = api
        .patch("cfg", &b.clone().force(), &Patch::Apply(applied(json!({"x": "other"}))))
        .await
        .unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["x"], "other");

    // manager-a stops applying y (it alone owns it: removed) and x (now manager-b's: kept).
    let last = api.patch("cfg", &a, &Patch::Apply(applied(json!({"z": "3"})))).await.unwrap();
    let data = last.data.unwrap();
    assert_eq!(data.get("x").map(String::as_str), Some("other"));
    assert!(!data.contains_key("y"));
    assert_eq!(data.get("z").map(String::as_str), Some("3"));
}

#[tokio::test]
async fn status_apply_on_service() {
    let (_server, client) = setup().await;
    let api: Api<Service> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &service("web")).await.unwrap();
    let status = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}});
    let pp = PatchParams::apply("ironlb-controller").force();
    let s = api.patch_status("web", &pp, &Patch::Apply(&status)).await.unwrap();
    assert_eq!(
        s.status.unwrap().load_balancer.unwrap().ingress.unwrap()[0].ip.as_deref(),
        Some("198.51.100.7")
    );
    assert_eq!(s.spec.unwrap().type_.as_deref(), Some("LoadBalancer"));
}

#[tokio::test]
async fn lease_create_renew_conflict() {
    let (_server, client) = setup().await;
    let api: Api<Lease> = Api::namespaced(client, "kube-system");
    let lease: Lease = obj(json!({"metadata": {"name": "ironlb-controller"},
        "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15, "acquireTime": "2026-01-01T00:00:00.000000Z",
                 "renewTime": "2026-01-01T00:00:00.000000Z", "leaseTransitions": 0}}));
    api.create(&PostParams::default(), &lease).await.unwrap();
    let seen_by_b = api.get("ironlb-controller").await.unwrap();

    let mut renew = api.get("ironlb-controller").await.unwrap();
    renew.spec.as_mut().unwrap().renew_time = Some(obj(json!("2026-01-01T00:00:10.000000Z")));
    api.replace("ironlb-controller", &PostParams::default(), &renew).await.unwrap();

    let mut takeover = seen_by_b;
    takeover.spec.as_mut().unwrap().holder_identity = Some("pod-b".to_owned());
    assert_eq!(
        code(api.replace("ironlb-controller", &PostParams::default(), &takeover).await),
        409
    );
    let holder = api.get("ironlb-controller").await.unwrap().spec.unwrap().holder_identity;
    assert_eq!(holder.as_deref(), Some("pod-a"));
}

#[tokio::test]
async fn finalizers_delay_deletion() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap =
        obj(json!({"metadata": {"name": "held", "finalizers": ["ironlb.io/hold"]}}));
    api.create(&PostParams::default(), &cm).await.unwrap();
    let marked = api.delete("held", &DeleteParams::default()).await.unwrap();
    assert!(marked.left().unwrap().metadata.deletion_timestamp.is_some());
    assert!(api.get_opt("held").await.unwrap().is_some());
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert!(api.get_opt("held").await.unwrap().is_none());
    assert!(server.get("v1", "ConfigMap", Some("default"), "held").await.unwrap().is_none());
}

#[tokio::test]
async fn delete_preconditions() {
    let (_server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &obj(json!({"metadata": {"name": "c"}}))).await.unwrap();
    let dp = DeleteParams {
        preconditions: Some(Preconditions { resource_version: Some("1".to_owned()), uid: None }),
        ..DeleteParams::default()
    };
    assert_eq!(code(api.delete("c", &dp).await), 409);
    assert!(api.delete("c", &DeleteParams::default()).await.is_ok());
}
