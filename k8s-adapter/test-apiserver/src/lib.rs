//! An in-process Kubernetes API server over HTTP, for testing kube-rs controllers with the real
//! `kube` client: list and watch with resourceVersions, bookmarks and 410 Gone, optimistic
//! concurrency, status subresources, merge/strategic/JSON patches, server-side apply, finalizers,
//! label and field selectors, errors as `Status` objects. README.md says what is faithful and what
//! is not.
//!
//! ```text
//! let server = TestApiServer::start().await?;
//! let client = server.client()?; // feature `kube`
//! server.insert(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "default"}})).await?;
//! ```

// No `unwrap` or `expect` outside tests (clippy runs with `-D warnings`; `unwrap_used` is set
// for the workspace, `expect_used` here; clippy.toml lets tests use both).
#![warn(clippy::expect_used)]

mod actor;
mod admission;
mod cel;
mod defaults;
mod discovery;
mod errors;
mod handlers;
mod hooks;
mod managed;
mod meta;
mod patch;
mod rbac;
mod resources;
mod selectors;
mod store;
mod watch;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

pub use actor::Stopped;
pub use errors::{ApiError, FieldError};
pub use hooks::{Failure, Verb};
pub use rbac::{Access, Rbac, Unused};
pub use resources::{ResourceType, builtin_resources};
pub use selectors::{FieldSelector, LabelSelector};
pub use store::Validator;

use actor::StoreHandle;
use store::{Part, Store, WriteOpts};

/// Server settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Events retained for watches; a watch from an older resourceVersion gets 410 Gone.
    pub history_window: usize,
    /// Period of BOOKMARK events to watchers that allow them (upstream: about a minute).
    pub bookmark_interval: Duration,
    /// Creating a namespaced object in a namespace that does not exist fails with 404, as
    /// upstream. `default`, `kube-system`, `kube-public` and `kube-node-lease` exist at start.
    pub enforce_namespaces: bool,
    /// Custom resource types served from the start (more with [`TestApiServer::register`]).
    pub resources: Vec<ResourceType>,
    /// The cluster's Service IP families, primary first: `["IPv4"]` (default), `["IPv6"]`, or
    /// both for a dual-stack cluster. Services get `spec.ipFamilies` and cluster IPs from it.
    pub ip_families: Vec<String>,
    /// Where to listen. The default, `127.0.0.1:0`, serves this process only; an end-to-end test
    /// whose controller or speaker runs in another network namespace binds an address reachable
    /// from there (a veth address) and hands them [`TestApiServer::kubeconfig`].
    pub listen: SocketAddr,
    /// Call the validating admission webhooks of stored `ValidatingWebhookConfiguration`s
    /// on create and update (`src/admission.rs` says what is modelled). Off by default.
    pub admission: bool,
    /// Where a webhook's `clientConfig.service` is reached, by `NAMESPACE/NAME` (the
    /// certificate is still checked for `NAME.NAMESPACE.svc`); more with
    /// [`TestApiServer::route_webhook_service`].
    pub webhook_services: std::collections::BTreeMap<String, SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            history_window: 10_000,
            bookmark_interval: Duration::from_secs(5),
            enforce_namespaces: true,
            resources: Vec::new(),
            ip_families: vec!["IPv4".to_owned()],
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admission: false,
            webhook_services: std::collections::BTreeMap::new(),
        }
    }
}

/// Errors of the test-side API.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Stopped(#[from] Stopped),
    #[error("no resource type is registered for apiVersion {api_version:?} kind {kind:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the condition did not hold within {0:?}")]
    Timeout(Duration),
    #[error("invalid server URL: {0}")]
    Url(#[from] axum::http::uri::InvalidUri),
    #[error("{0:?} cannot be sent as a bearer token")]
    BadUser(String),
}

/// A read-only view of the store, for [`TestApiServer::wait_until`] predicates.
pub struct View<'a> {
    store: &'a Store,
}

impl View<'_> {
    /// The object, if it exists.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let res = self.store.registry.by_kind(api_version, kind)?;
        self.store.get(res, namespace, name).ok()
    }

    /// Objects of a kind, in one namespace or (None) all.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(res) = self.store.registry.by_kind(api_version, kind) else { return Vec::new() };
        let f =
            watch::Filter { namespace: namespace.map(str::to_owned), ..watch::Filter::default() };
        self.store.select(res, &f).cloned().collect()
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.store.rv()
    }
}

/// A running server on 127.0.0.1 (plain HTTP); stops when dropped.
pub struct TestApiServer {
    url: String,
    addr: SocketAddr,
    store: StoreHandle,
    rv: tokio::sync::watch::Receiver<u64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn by_kind(s: &Store, api_version: &str, kind: &str) -> Result<resources::ResId, ServerError> {
    s.registry.by_kind(api_version, kind).ok_or_else(|| ServerError::UnknownKind {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
    })
}

fn test_opts() -> WriteOpts {
    WriteOpts { manager: "test".to_owned(), raw: true, ..WriteOpts::default() }
}

impl TestApiServer {
    /// Starts a server with default [`Options`].
    pub async fn start() -> Result<Self, ServerError> {
        Self::start_with(Options::default()).await
    }

    /// Starts a server.
    pub async fn start_with(opts: Options) -> Result<Self, ServerError> {
        let (rv_tx, rv_rx) = tokio::sync::watch::channel(0);
        let mut store =
            Store::new(opts.history_window, opts.enforce_namespaces, opts.ip_families, rv_tx);
        for rt in opts.resources {
            store.register(rt);
        }
        if opts.admission {
            store.hooks.admission = Some(opts.webhook_services);
        }
        let (handle, store_task) = StoreHandle::spawn(store);
        let listen = opts.listen;
        let bind_err = |source| ServerError::Bind { addr: listen, source };
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let app = axum::Router::new().fallback(handlers::handle).with_state(handle.clone());
        let http_task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "test API server stopped");
            }
        });
        let ticker = handle.clone();
        let interval = opts.bookmark_interval;
        let bookmark_task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                if ticker.call(Store::send_bookmarks).await.is_err() {
                    break;
                }
            }
        });
        Ok(TestApiServer {
            url: format!("http://{addr}"),
            addr,
            store: handle,
            rv: rv_rx,
            tasks: vec![store_task, http_task, bookmark_task],
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig (YAML) for processes that find their API server through `KUBECONFIG`:
    /// no credentials, namespace `default`, server [`TestApiServer::url`] or `server` when given
    /// (e.g. `http://192.0.2.1:PORT` for a process in another network namespace).
    pub fn kubeconfig(&self, server: Option<&str>) -> String {
        let server = server.unwrap_or(&self.url);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n\
             users:\n- name: test\n  user: {{}}\ncontexts:\n- name: test\n  context:\n    cluster: test\n\
             \x20   user: test\n    namespace: default\ncurrent-context: test\n"
        )
    }

    /// [`Self::kubeconfig`] authenticated as `user` ([`Self::client_as`]).
    pub fn kubeconfig_as(&self, server: Option<&str>, user: &str) -> String {
        self.kubeconfig(server).replace("  user: {}", &format!("  user:\n    token: \"{user}\""))
    }

    /// A kube client for this server, default namespace `default`, over plain HTTP.
    ///
    /// Built on its own hyper client rather than `Client::try_from(Config)`, whose default stack
    /// sets up rustls even for `http://` and panics when no crypto provider is selected.
    #[cfg(feature = "kube")]
    pub fn client(&self) -> Result<kube::Client, ServerError> {
        use kube::client::ConfigExt;
        let config = kube::Config::new(self.url.parse()?);
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let service = tower::ServiceBuilder::new()
            .layer(config.base_uri_layer())
            .map_err(tower::BoxError::from)
            .service(http);
        Ok(kube::Client::new(service, config.default_namespace))
    }

    /// A kube client for this server authenticated as `user` (a bearer token naming it,
    /// `system:serviceaccount:NS:NAME` for a ServiceAccount): with [`Self::enforce_rbac`], it
    /// may do only what the roles bound to that user allow.
    #[cfg(feature = "kube")]
    pub fn client_as(&self, user: &str) -> Result<kube::Client, ServerError> {
        use kube::client::ConfigExt;
        let config = kube::Config::new(self.url.parse()?);
        let token = axum::http::HeaderValue::from_str(&format!("Bearer {user}"))
            .map_err(|_| ServerError::BadUser(user.to_owned()))?;
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let service = tower::ServiceBuilder::new()
            .layer(config.base_uri_layer())
            .map_request(move |mut request: axum::http::Request<kube::client::Body>| {
                request.headers_mut().insert(axum::http::header::AUTHORIZATION, token.clone());
                request
            })
            .map_err(tower::BoxError::from)
            .service(http);
        Ok(kube::Client::new(service, config.default_namespace))
    }

    /// Enforces `rbac` from now on on every request that carries a bearer token (clients from
    /// [`Self::client_as`]); requests without one (the test's own) are not checked.
    pub async fn enforce_rbac(&self, rbac: Rbac) -> Result<(), ServerError> {
        self.store.call(move |s| s.hooks.rbac = Some(rbac)).await?;
        Ok(())
    }

    /// The permissions of the enforced RBAC that no request used since it was enforced
    /// ([`Rbac::unused`]); empty without enforcement.
    pub async fn rbac_unused(&self) -> Result<Vec<Unused>, ServerError> {
        Ok(self.store.call(|s| s.hooks.rbac.as_ref().map(Rbac::unused).unwrap_or_default()).await?)
    }

    /// Reaches the webhook Service `namespace/name` at `address` from now on (with
    /// [`Options::admission`]; without it, nothing is called).
    pub async fn route_webhook_service(
        &self,
        namespace: &str,
        name: &str,
        address: SocketAddr,
    ) -> Result<(), ServerError> {
        let key = format!("{namespace}/{name}");
        self.store
            .call(move |s| {
                if let Some(routes) = s.hooks.admission.as_mut() {
                    routes.insert(key, address);
                }
            })
            .await?;
        Ok(())
    }

    /// Serves a custom resource type from now on.
    pub async fn register(&self, rt: ResourceType) -> Result<(), ServerError> {
        self.store.call(move |s| s.register(rt)).await?;
        Ok(())
    }

    /// Adds a validation hook for a kind (as a CRD schema or an admission webhook would reject).
    pub async fn add_validator(
        &self,
        api_version: &str,
        kind: &str,
        v: Validator,
    ) -> Result<(), ServerError> {
        let (av, k) = (api_version.to_owned(), kind.to_owned());
        self.store.call(move |s| by_kind(s, &av, &k).map(|res| s.add_validator(res, v))).await?
    }

    /// Creates an object as given, status included (the type comes from apiVersion and kind,
    /// the namespace from metadata, `default` when absent).
    pub async fn insert(&self, obj: Value) -> Result<Value, ServerError> {
        self.store
            .call(move |s| {
                let res = by_kind(
                    s,
                    obj["apiVersion"].as_str().unwrap_or(""),
                    obj["kind"].as_str().unwrap_or(""),
                )?;
                let ns = obj["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
                let ns = s.registry.get(res).namespaced.then_some(ns);
                Ok(s.create(res, ns.as_deref(), obj, &test_opts())?)
            })
            .await?
    }

    /// Replaces an object as given, status included, without a resourceVersion check unless the
    /// object carries one.
    pub async fn replace(&self, obj: Value) -> Result<Value, ServerError> {
        self.store
            .call(move |s| {
                let res = by_kind(
                    s,
                    obj["apiVersion"].as_str().unwrap_or(""),
                    obj["kind"].as_str().unwrap_or(""),
                )?;
                let ns = obj["metadata"]["namespace"].as_str().map(str::to_owned);
                let name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
                Ok(s.update(res, ns.as_deref(), &name, obj, Part::Main, &test_opts())?)
            })
            .await?
    }

    /// Reads, changes with `f` and writes an object atomically, status included, as another
    /// client (field manager `test`) would.
    pub async fn modify(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        f: impl FnOnce(&mut Value) + Send + 'static,
    ) -> Result<Value, ServerError> {
        let (av, k, ns, n) = (
            api_version.to_owned(),
            kind.to_owned(),
            namespace.map(str::to_owned),
            name.to_owned(),
        );
        self.store
            .call(move |s| {
                let res = by_kind(s, &av, &k)?;
                let mut obj = s.get(res, ns.as_deref(), &n)?;
                f(&mut obj);
                Ok(s.update(res, ns.as_deref(), &n, obj, Part::Main, &test_opts())?)
            })
            .await?
    }

    /// Deletes an object (finalizers respected: then it only gets a deletionTimestamp).
    pub async fn remove(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ServerError> {
        let (av, k, ns, n) = (
            api_version.to_owned(),
            kind.to_owned(),
            namespace.map(str::to_owned),
            name.to_owned(),
        );
        self.store
            .call(move |s| {
                let res = by_kind(s, &av, &k)?;
                Ok(s.delete(res, ns.as_deref(), &n, &Value::Null, false)?)
            })
            .await?
    }

    /// The object, if it exists.
    pub async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ServerError> {
        let (av, k, ns, n) = (
            api_version.to_owned(),
            kind.to_owned(),
            namespace.map(str::to_owned),
            name.to_owned(),
        );
        self.store.call(move |s| Ok(View { store: s }.get(&av, &k, ns.as_deref(), &n))).await?
    }

    /// Objects of a kind, in one namespace or (None) all, in namespace/name order.
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, ServerError> {
        let (av, k, ns) = (api_version.to_owned(), kind.to_owned(), namespace.map(str::to_owned));
        self.store
            .call(move |s| {
                by_kind(s, &av, &k)?;
                Ok(View { store: s }.list(&av, &k, ns.as_deref()))
            })
            .await?
    }

    /// The current global resourceVersion.
    pub async fn resource_version(&self) -> Result<u64, ServerError> {
        Ok(self.store.call(|s| s.rv()).await?)
    }

    /// Arms a failure for the next matching requests.
    pub async fn inject_failure(&self, f: Failure) -> Result<(), ServerError> {
        Ok(self.store.call(move |s| s.hooks.inject(f)).await?)
    }

    /// Requests served (or failed) on `resource` (`services`, `leases.coordination.k8s.io`).
    pub async fn request_count(&self, resource: &str, verb: Verb) -> Result<u64, ServerError> {
        let r = resource.to_owned();
        Ok(self.store.call(move |s| s.hooks.count(&r, verb)).await?)
    }

    pub async fn reset_counts(&self) -> Result<(), ServerError> {
        Ok(self.store.call(|s| s.hooks.reset_counts()).await?)
    }

    /// Forgets the watch history: every watch from an older resourceVersion gets 410 Gone.
    pub async fn compact(&self) -> Result<(), ServerError> {
        Ok(self.store.call(|s| s.watches.compact(s.rv())).await?)
    }

    /// Ends every open watch stream; clients re-watch from their last resourceVersion.
    pub async fn close_watches(&self) -> Result<(), ServerError> {
        Ok(self.store.call(|s| s.watches.close_all()).await?)
    }

    /// Sends a BOOKMARK now to every watcher that allows them.
    pub async fn send_bookmarks(&self) -> Result<(), ServerError> {
        Ok(self.store.call(Store::send_bookmarks).await?)
    }

    /// Open watch streams.
    pub async fn open_watches(&self) -> Result<usize, ServerError> {
        Ok(self.store.call(|s| s.watches.open()).await?)
    }

    /// Evaluates `pred` on the store after every change until it returns `Some`, or fails with
    /// [`ServerError::Timeout`] after `timeout`.
    pub async fn wait_until<T: Send + 'static>(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&View<'_>) -> Option<T> + Send + 'static,
    ) -> Result<T, ServerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rv = self.rv.clone();
        loop {
            rv.borrow_and_update();
            let (p, found) = self
                .store
                .call(move |s| {
                    let found = pred(&View { store: s });
                    (pred, found)
                })
                .await?;
            if let Some(v) = found {
                return Ok(v);
            }
            pred = p;
            match tokio::time::timeout_at(deadline, rv.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Stopped.into()),
                Err(_) => return Err(ServerError::Timeout(timeout)),
            }
        }
    }

    /// Waits until `pred` holds for the object (None: absent) and returns it.
    pub async fn wait_for_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        timeout: Duration,
        pred: impl Fn(Option<&Value>) -> bool + Send + 'static,
    ) -> Result<Option<Value>, ServerError> {
        let (av, k, ns, n) = (
            api_version.to_owned(),
            kind.to_owned(),
            namespace.map(str::to_owned),
            name.to_owned(),
        );
        self.wait_until(timeout, move |v| {
            let obj = v.get(&av, &k, ns.as_deref(), &n);
            pred(obj.as_ref()).then_some(obj)
        })
        .await
    }
}
