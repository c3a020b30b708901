//! Leader election with kube-lease-manager (server-side apply conflicts on a Lease decide who
//! holds it) against the server.

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};

use crate::{DEADLINE, setup};

async fn manager(client: kube::Client, identity: &str) -> LeaseManager {
    LeaseManagerBuilder::new(client, "ironlb-controller")
        .with_namespace("default")
        .with_identity(identity)
        .with_duration(2)
        .with_grace(1)
        .build()
        .await
        .unwrap()
}

async fn holder(client: &kube::Client) -> Option<String> {
    let lease =
        Api::<Lease>::namespaced(client.clone(), "default").get("ironlb-controller").await.unwrap();
    lease.spec.and_then(|s| s.holder_identity)
}

#[tokio::test]
async fn one_leader_then_takeover_after_release() {
    let (_server, client) = setup().await;
    let a = manager(client.clone(), "pod-a").await;
    let b = manager(client.clone(), "pod-b").await;
    let a_leads = tokio::time::timeout(DEADLINE, a.changed()).await.unwrap().unwrap();
    assert!(a_leads);
    assert_eq!(holder(&client).await.as_deref(), Some("pod-a"));
    // b tries while a holds the lease: it must not get it.
    let b_try = tokio::time::timeout(std::time::Duration::from_millis(300), b.changed()).await;
    assert!(b_try.is_err() || b_try.is_ok_and(|r| !r.unwrap()));
    assert_eq!(holder(&client).await.as_deref(), Some("pod-a"));
    a.release().await.unwrap();
    let b_leads = tokio::time::timeout(DEADLINE, b.changed()).await.unwrap().unwrap();
    assert!(b_leads);
    assert_eq!(holder(&client).await.as_deref(), Some("pod-b"));
}

#[tokio::test]
async fn takeover_after_the_leader_stops_renewing() {
    let (_server, client) = setup().await;
    let a = manager(client.clone(), "pod-a").await;
    assert!(tokio::time::timeout(DEADLINE, a.changed()).await.unwrap().unwrap());
    drop(a);
    let b = manager(client.clone(), "pod-b").await;
    let b_leads = tokio::time::timeout(DEADLINE, b.changed()).await.unwrap().unwrap();
    assert!(b_leads);
    assert_eq!(holder(&client).await.as_deref(), Some("pod-b"));
}
