//! kube-runtime's watcher and raw watches: ordering, resume, 410 relist, bookmarks, selectors.

use futures::StreamExt;
use ironlb_test_apiserver::Verb;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, Event, watcher};
use serde_json::json;

use crate::{DEADLINE, next, obj, setup};

fn cm(name: &str) -> ConfigMap {
    obj(json!({"metadata": {"name": name, "labels": {"app": "web"}}, "data": {"k": "v"}}))
}

/// Names from watcher events, `+name` for Apply/InitApply, `-name` for Delete, markers for the rest.
fn describe(ev: &Result<Event<ConfigMap>, watcher::Error>) -> String {
    match ev {
        Ok(Event::Init) => "init".to_owned(),
        Ok(Event::InitApply(o)) => format!("init+{}", o.name_any()),
        Ok(Event::InitDone) => "done".to_owned(),
        Ok(Event::Apply(o)) => format!("+{}", o.name_any()),
        Ok(Event::Delete(o)) => format!("-{}", o.name_any()),
        Err(e) => format!("error: {e}"),
    }
}

#[tokio::test]
async fn watcher_sees_events_in_order() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(describe(&next(&mut stream).await));
    }
    assert_eq!(seen, ["init", "init+a", "done"]);

    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    api.patch("b", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "w"}})))
        .await
        .unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    server.insert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}})).await.unwrap();
    let mut live = Vec::new();
    for _ in 0..4 {
        live.push(describe(&next(&mut stream).await));
    }
    assert_eq!(live, ["+b", "+b", "-a", "+c"]);
}

#[tokio::test]
async fn watcher_resumes_without_relist_when_streams_close() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    assert_eq!(describe(&next(&mut stream).await), "init");
    assert_eq!(describe(&next(&mut stream).await), "done");
    // A live event proves the watch request is open.
    api.create(&PostParams::default(), &cm("before-close")).await.unwrap();
    assert_eq!(describe(&next(&mut stream).await), "+before-close");
    assert_eq!(server.open_watches().await.unwrap(), 1);
    server.close_watches().await.unwrap();
    api.create(&PostParams::default(), &cm("after-close")).await.unwrap();
    assert_eq!(describe(&next(&mut stream).await), "+after-close");
    assert_eq!(server.request_count("configmaps", Verb::List).await.unwrap(), 1);
    assert_eq!(server.request_count("configmaps", Verb::Watch).await.unwrap(), 2);
}

#[tokio::test]
async fn watcher_relists_after_410_gone() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    for want in ["init", "init+a", "done"] {
        assert_eq!(describe(&next(&mut stream).await), want);
    }
    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    assert_eq!(describe(&next(&mut stream).await), "+b");
    // While the client is not reading: its stream ends, an event it never sees happens, and the
    // history is compacted past it, so re-watching from its resourceVersion is 410 Gone.
    server.close_watches().await.unwrap();
    server
        .insert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "missed"}}))
        .await
        .unwrap();
    server.compact().await.unwrap();
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("done") {
        seen.push(describe(&next(&mut stream).await));
    }
    let errors = seen.iter().filter(|s| s.starts_with("error")).count();
    let rest: Vec<&str> =
        seen.iter().filter(|s| !s.starts_with("error")).map(String::as_str).collect();
    assert_eq!(rest, ["init", "init+a", "init+b", "init+missed", "done"], "{seen:?}");
    assert_eq!(errors, 1, "{seen:?}");
    assert_eq!(server.request_count("configmaps", Verb::List).await.unwrap(), 2);
}

#[tokio::test]
async fn streaming_list_watcher() {
    let (_server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let mut stream = watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    for want in ["init", "init+a", "done"] {
        assert_eq!(describe(&next(&mut stream).await), want);
    }
    api.create(&PostParams::default(), &cm("b")).await.unwrap();
    assert_eq!(describe(&next(&mut stream).await), "+b");
}

#[tokio::test]
async fn raw_watch_bookmarks_and_gone() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let mut stream = api.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    assert!(
        matches!(next(&mut stream).await.unwrap(), WatchEvent::Added(o) if o.name_any() == "a")
    );
    server.send_bookmarks().await.unwrap();
    let rv = server.resource_version().await.unwrap().to_string();
    match next(&mut stream).await.unwrap() {
        WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected a bookmark, got {other:?}"),
    }

    server.compact().await.unwrap();
    let mut stale = api.watch(&WatchParams::default(), "1").await.unwrap().boxed();
    match next(&mut stale).await.unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected a 410 error event, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_with_selector_sees_objects_leave_and_enter() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let rv = server.resource_version().await.unwrap().to_string();
    let wp = WatchParams::default().labels("app=web");
    let mut stream = api.watch(&wp, &rv).await.unwrap().boxed();
    let relabel = |v: &'static str| {
        move |o: &mut serde_json::Value| o["metadata"]["labels"]["app"] = json!(v)
    };
    server.modify("v1", "ConfigMap", Some("default"), "a", relabel("db")).await.unwrap();
    server.modify("v1", "ConfigMap", Some("default"), "a", relabel("web")).await.unwrap();
    assert!(matches!(next(&mut stream).await.unwrap(), WatchEvent::Deleted(_)));
    assert!(matches!(next(&mut stream).await.unwrap(), WatchEvent::Added(_)));
}

#[tokio::test]
async fn watch_ends_at_timeout_seconds() {
    let (_server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut stream = api
        .watch(&WatchParams::default().timeout(1).disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    let end =
        tokio::time::timeout(DEADLINE, stream.next()).await.expect("the server ends the watch");
    assert!(end.is_none());
}

/// A thousand concurrent creates reach a watcher exactly once each, as the benchmark of the
/// issue (1,000 Services) will drive the server.
#[tokio::test]
async fn a_thousand_objects_reach_the_watcher() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    assert_eq!(describe(&next(&mut stream).await), "init");
    assert_eq!(describe(&next(&mut stream).await), "done");
    let writer = {
        let api = api.clone();
        tokio::spawn(async move {
            futures::stream::iter(0..1000)
                .map(|i| {
                    let api = api.clone();
                    async move { api.create(&PostParams::default(), &cm(&format!("cm-{i}"))).await }
                })
                .buffer_unordered(32)
                .for_each(|r| async move { assert!(r.is_ok()) })
                .await;
        })
    };
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 1000 {
        let ev = describe(&next(&mut stream).await);
        assert!(ev.starts_with('+'), "{ev}");
        assert!(seen.insert(ev.clone()), "duplicate {ev}");
    }
    writer.await.unwrap();
    assert_eq!(server.list("v1", "ConfigMap", Some("default")).await.unwrap().len(), 1000);
}

#[tokio::test]
async fn injected_410_on_watch_makes_the_watcher_relist() {
    let (server, client) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let failure = ironlb_test_apiserver::Failure::code(410).on("configmaps").verb(Verb::Watch);
    server.inject_failure(failure).await.unwrap();
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut seen = Vec::new();
    while seen.iter().filter(|s| *s == "done").count() < 2 {
        seen.push(describe(&next(&mut stream).await));
    }
    let rest: Vec<&str> =
        seen.iter().filter(|s| !s.starts_with("error")).map(String::as_str).collect();
    assert_eq!(rest, ["init", "init+a", "done", "init", "init+a", "done"], "{seen:?}");
    assert_eq!(server.request_count("configmaps", Verb::List).await.unwrap(), 2);
}
