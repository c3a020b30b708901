//! RBAC: a client authenticated as a ServiceAccount may do what its bindings allow, and is
//! answered 403 Forbidden (as upstream) for the rest; the test's own requests are not checked.

use ironlb_test_apiserver::Rbac;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::{code, obj, reason, setup};

const READER: &str = "system:serviceaccount:default:reader";

#[tokio::test]
async fn a_service_account_gets_what_its_roles_grant_and_403_for_the_rest() {
    let (server, admin) = setup().await;
    let svc: Service = obj(json!({"metadata": {"name": "web"}}));
    Api::<Service>::namespaced(admin.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    let manifests = vec![
        json!({"kind": "Role", "metadata": {"name": "read", "namespace": "default"},
               "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]}]}),
        json!({"kind": "RoleBinding", "metadata": {"name": "read", "namespace": "default"},
               "roleRef": {"kind": "Role", "name": "read"},
               "subjects": [{"kind": "ServiceAccount", "name": "reader"}]}),
    ];
    server.enforce_rbac(Rbac::from_manifests(&manifests)).await.unwrap();
    let client = server.client_as(READER).unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    assert_eq!(services.list(&ListParams::default()).await.unwrap().items.len(), 1);
    services.get("web").await.unwrap();
    let patch = Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}));
    let denied = services.patch("web", &PatchParams::default(), &patch).await;
    assert_eq!(reason(services.patch("web", &PatchParams::default(), &patch).await), "Forbidden");
    assert_eq!(code(denied), 403);
    assert_eq!(code(services.patch_status("web", &PatchParams::default(), &patch).await), 403);
    // Not in another namespace, where no binding applies.
    let elsewhere: Api<Service> = Api::namespaced(client, "kube-system");
    assert_eq!(code(elsewhere.list(&ListParams::default()).await), 403);
    // The test's own client is not checked.
    Api::<Service>::namespaced(admin, "default")
        .patch("web", &PatchParams::default(), &patch)
        .await
        .unwrap();
}

/// As upstream: a server-side apply that creates the object is authorized as `create` as
/// well as `patch`; one that changes an existing object needs `patch` alone.
#[tokio::test]
async fn an_apply_that_creates_needs_create_too() {
    let (server, admin) = setup().await;
    let manifests = vec![
        json!({"kind": "Role", "metadata": {"name": "apply", "namespace": "default"},
               "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["patch"]}]}),
        json!({"kind": "RoleBinding", "metadata": {"name": "apply", "namespace": "default"},
               "roleRef": {"kind": "Role", "name": "apply"},
               "subjects": [{"kind": "ServiceAccount", "name": "reader"}]}),
    ];
    server.enforce_rbac(Rbac::from_manifests(&manifests)).await.unwrap();
    let services: Api<Service> = Api::namespaced(server.client_as(READER).unwrap(), "default");
    let apply = Patch::Apply(json!({"apiVersion": "v1", "kind": "Service",
                                    "metadata": {"name": "web", "labels": {"a": "b"}}}));
    let params = PatchParams::apply("test");
    assert_eq!(code(services.patch("web", &params, &apply).await), 403);
    let svc: Service = obj(json!({"metadata": {"name": "web"}}));
    Api::<Service>::namespaced(admin, "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    services.patch("web", &params, &apply).await.unwrap();
}
