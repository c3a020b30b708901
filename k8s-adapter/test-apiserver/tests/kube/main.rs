//! The real kube client (and kube-runtime's watcher) against the test API server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crud;
mod leader;
mod misc;
mod rbac;
mod runtime;
mod watching;
mod writes;

use std::time::Duration;

use futures::{Stream, StreamExt};
use ironlb_test_apiserver::TestApiServer;
use kube::Client;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How long a test waits for something that should happen at once.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A server and a kube client pointed at it.
pub async fn setup() -> (TestApiServer, Client) {
    let server = TestApiServer::start().await.expect("server starts");
    let client = server.client().expect("client");
    (server, client)
}

/// The next item of a stream, failing the test if none comes before the deadline.
pub async fn next<S: Stream + Unpin>(s: &mut S) -> S::Item {
    tokio::time::timeout(DEADLINE, s.next())
        .await
        .expect("stream item before the deadline")
        .expect("stream still open")
}

/// A typed object from JSON.
pub fn obj<K: DeserializeOwned>(v: Value) -> K {
    serde_json::from_value(v).expect("valid object")
}

/// The HTTP code of a kube API error.
pub fn code<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> u16 {
    match r {
        Err(kube::Error::Api(s)) => s.code,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The reason of a kube API error.
pub fn reason<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> String {
    match r {
        Err(kube::Error::Api(s)) => s.reason.clone(),
        other => panic!("expected an API error, got {other:?}"),
    }
}
