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
