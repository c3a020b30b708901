//! End to end: the controller's webhook serving (its certificate bootstrapped as the
//! controller's ServiceAccount under `deploy/base/rbac.yaml`), the configuration from
//! `deploy/base/webhook.yaml`, and the test API server calling it on create, update and
//! patch (apply and merge patches, reviewed as the object they would leave) of ironlb
//! objects: what the controller would leave out is refused at admission with the message,
//! as MetalLB's webhook does; the failure policy decides while it is down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{CONTROLLER, DEADLINE, NS};
use ironlb_test_apiserver::{Options, TestApiServer};
use k8s_adapter::config::crd::{BgpAdvertisement, IpAddressPool};
use k8s_adapter::controller::webhook;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

fn manifest(kind: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/base/webhook.yaml");
    common::yaml_doc(&std::fs::read_to_string(path).unwrap(), kind)
}

/// A server calling webhooks, with our CRDs, `NS`, deploy's RBAC and configuration, and the
/// webhook running; the server and the webhook task.
async fn world() -> (TestApiServer, tokio::task::JoinHandle<()>) {
    let server =
        TestApiServer::start_with(Options { admission: true, ..Options::default() }).await.unwrap();
    common::grant(&server, Vec::new()).await;
    for definition in k8s_adapter::config::crd::definitions() {
        server.insert(serde_json::to_value(definition).unwrap()).await.unwrap();
    }
    common::namespace(&server, NS).await;
    server.insert(manifest("ValidatingWebhookConfiguration")).await.unwrap();

    let listener = webhook::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    server.route_webhook_service(NS, webhook::DEFAULT_SERVICE, address).await.unwrap();
    let mut options = webhook::Options::new(NS);
    options.check_every = Duration::from_millis(200);
    let task = tokio::spawn(webhook::run(server.client_as(CONTROLLER).unwrap(), listener, options));
    server
        .wait_until(DEADLINE, |v| {
            let vwc = v.get(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                None,
                webhook::DEFAULT_CONFIGURATION,
            )?;
            vwc["webhooks"][0]["clientConfig"]["caBundle"].as_str().map(|_| ())
        })
        .await
        .expect("the controller publishes its CA");
    (server, task)
}

fn pool(name: &str, cidr: &str) -> IpAddressPool {
    serde_json::from_value(common::pool(name, &[cidr])).unwrap()
}

/// The refusal's message, or a panic when the create was not refused.
fn refused<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(status.message.starts_with("admission webhook \"config.ironlb.io\" denied"));
            status.message
        }
        other => panic!("expected a refusal at admission, got {other:?}"),
    }
}

/// Creates `object` until the webhook (whose caches follow the server's) refuses it; a
/// dry run, so that an admission before the caches caught up leaves nothing behind.
async fn refused_once_seen<K>(api: &Api<K>, object: &K) -> String
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    let dry = PostParams { dry_run: true, ..PostParams::default() };
    let start = Instant::now();
    while api.create(&dry, object).await.is_ok() {
        assert!(start.elapsed() < DEADLINE, "never refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    refused(api.create(&PostParams::default(), object).await)
}

#[tokio::test]
async fn bad_and_conflicting_objects_are_refused_at_create_and_update_with_the_message() {
    let (server, _webhook) = world().await;
    let client = server.client().unwrap();
    let pools: Api<IpAddressPool> = Api::namespaced(client.clone(), NS);
    let pp = PostParams::default();

    // A pool that cannot be parsed.
    let message = refused(pools.create(&pp, &pool("bad", "banana")).await);
    assert!(message.contains("banana"), "{message}");

    // A good pool is admitted; one overlapping it is not.
    pools.create(&pp, &pool("old", "198.51.100.0/24")).await.expect("a good pool is admitted");
    let message = refused_once_seen(&pools, &pool("new", "198.51.100.128/25")).await;
    assert!(message.contains("overlaps") && message.contains("old"), "{message}");
    assert!(
        server.get("ironlb.io/v1beta1", "IPAddressPool", Some(NS), "new").await.unwrap().is_none()
    );

    // An update that breaks the stored pool is refused; the pool stays as it was.
    let mut stored = pools.get("old").await.unwrap();
    stored.spec.addresses = vec!["198.51.100.0/99".into()];
    let message = refused(pools.replace("old", &pp, &stored).await);
    assert!(message.contains("198.51.100.0/99"), "{message}");
    assert_eq!(pools.get("old").await.unwrap().spec.addresses, ["198.51.100.0/24"]);

    // A BGPAdvertisement naming a Community alias that does not exist.
    let ads: Api<BgpAdvertisement> = Api::namespaced(client, NS);
    let ad: BgpAdvertisement = serde_json::from_value(json!({
        "apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
        "metadata": {"name": "ad", "namespace": NS},
        "spec": {"communities": ["no-such-alias"]}}))
    .unwrap();
    let message = refused(ads.create(&pp, &ad).await);
    assert!(message.contains("no-such-alias"), "{message}");
}

#[tokio::test]
async fn while_the_webhook_is_down_fail_refuses_and_ignore_admits() {
    let (server, webhook_task) = world().await;
    webhook_task.abort();
    let _ = webhook_task.await;
    let pools: Api<IpAddressPool> = Api::namespaced(server.client().unwrap(), NS);
    let pp = PostParams::default();
    match pools.create(&pp, &pool("a", "203.0.113.0/24")).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 500, "{status:?}");
            assert!(status.message.contains("failed calling webhook"), "{}", status.message);
        }
        other => panic!("failurePolicy Fail must refuse while the webhook is down: {other:?}"),
    }
    let mut vwc = server
        .get(
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
            None,
            webhook::DEFAULT_CONFIGURATION,
        )
        .await
        .unwrap()
        .unwrap();
    vwc["webhooks"][0]["failurePolicy"] = json!("Ignore");
    server.replace(vwc).await.unwrap();
    pools.create(&pp, &pool("a", "203.0.113.0/24")).await.expect("Ignore admits");
}

#[tokio::test]
async fn kubectl_apply_style_patches_of_bad_objects_are_refused_and_store_nothing() {
    use kube::api::{Patch, PatchParams};
    let (server, _webhook) = world().await;
    let pools: Api<IpAddressPool> = Api::namespaced(server.client().unwrap(), NS);
    let apply = PatchParams::apply("kubectl").force();
    let body = |name: &str, cidr: &str| {
        json!({"apiVersion": "ironlb.io/v1beta1", "kind": "IPAddressPool",
               "metadata": {"name": name, "namespace": NS}, "spec": {"addresses": [cidr]}})
    };

    // `kubectl apply --server-side` of a new, bad pool: reviewed as its CREATE.
    let message = refused(pools.patch("bad", &apply, &Patch::Apply(body("bad", "banana"))).await);
    assert!(message.contains("banana"), "{message}");
    assert!(
        server.get("ironlb.io/v1beta1", "IPAddressPool", Some(NS), "bad").await.unwrap().is_none()
    );

    // A good one is admitted the same way.
    pools
        .patch("ok", &apply, &Patch::Apply(body("ok", "198.51.100.0/24")))
        .await
        .expect("admitted");

    // Applying a broken version over it, and the merge patch client-side `kubectl apply`
    // sends for a custom resource: each reviewed as the pool the patch would leave.
    let broken = body("ok", "198.51.100.0/99");
    let message = refused(pools.patch("ok", &apply, &Patch::Apply(broken)).await);
    assert!(message.contains("198.51.100.0/99"), "{message}");
    let merge = json!({"spec": {"addresses": ["203.0.113.0/99"]}});
    let message = refused(pools.patch("ok", &PatchParams::default(), &Patch::Merge(merge)).await);
    assert!(message.contains("203.0.113.0/99"), "{message}");
    assert_eq!(pools.get("ok").await.unwrap().spec.addresses, ["198.51.100.0/24"], "unchanged");

    // A good merge patch still goes through.
    let merge = json!({"spec": {"addresses": ["198.51.100.0/25"]}});
    pools.patch("ok", &PatchParams::default(), &Patch::Merge(merge)).await.expect("admitted");
    assert_eq!(pools.get("ok").await.unwrap().spec.addresses, ["198.51.100.0/25"]);
}

/// Without the webhook (not installed, or failing open), the CRDs' CEL rules
/// (`config::crd_cel`) still refuse what they cover, with the rule's message, as a real API
/// server does; the test API server evaluates them on every write.
#[tokio::test]
async fn the_crds_cel_rules_refuse_without_the_webhook() {
    use k8s_adapter::config::crd::BgpPeer;
    let server = TestApiServer::start_with(Options::default()).await.unwrap();
    common::grant(&server, Vec::new()).await;
    for definition in k8s_adapter::config::crd::definitions() {
        server.insert(serde_json::to_value(definition).unwrap()).await.unwrap();
    }
    common::namespace(&server, NS).await;
    let peers: Api<BgpPeer> = Api::namespaced(server.client().unwrap(), NS);
    let peer = |name: &str, hold: &str| -> BgpPeer {
        serde_json::from_value(json!({
            "apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1",
                     "holdTime": hold}}))
        .unwrap()
    };
    let pp = PostParams::default();
    match peers.create(&pp, &peer("short", "2s")).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(status.message.contains("spec.holdTime: must be 0"), "{}", status.message);
        }
        other => panic!("the holdTime rule must refuse 2s: {other:?}"),
    }
    assert!(server.get("ironlb.io/v1beta1", "BGPPeer", Some(NS), "short").await.unwrap().is_none());
    let mut ok = peers.create(&pp, &peer("ok", "90s")).await.expect("a valid peer is stored");
    // On update too.
    ok.spec.keepalive_time = Some("120s".into());
    match peers.replace("ok", &pp, &ok).await {
        Err(kube::Error::Api(status)) => {
            assert!(status.message.contains("must not exceed holdTime"), "{}", status.message)
        }
        other => panic!("the keepalive rule must refuse 120s over 90s: {other:?}"),
    }
    // Exactly one of peerAddress and interface (BGP unnumbered).
    for (name, extra) in
        [("both", json!({"peerAddress": "192.0.2.1", "interface": "eth1"})), ("neither", json!({}))]
    {
        let mut spec = json!({"myASN": 64500, "peerASN": 64501});
        for (key, value) in extra.as_object().unwrap() {
            spec[key] = value.clone();
        }
        let object: BgpPeer = serde_json::from_value(json!({
            "apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}))
        .unwrap();
        match peers.create(&pp, &object).await {
            Err(kube::Error::Api(status)) => assert!(
                status.message.contains("exactly one of peerAddress and interface"),
                "{name}: {}",
                status.message
            ),
            other => panic!("{name}: the peerAddress/interface rule must refuse it: {other:?}"),
        }
    }
    let unnumbered: BgpPeer = serde_json::from_value(json!({
        "apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
        "metadata": {"name": "unnumbered", "namespace": NS},
        "spec": {"myASN": 64500, "peerASN": 64501, "interface": "eth1"}}))
    .unwrap();
    peers.create(&pp, &unnumbered).await.expect("an interface peer is stored");
}
