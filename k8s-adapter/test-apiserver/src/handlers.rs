//! HTTP front: URL routing as the API server lays it out, query parameters, content types, and
//! the mapping of each request to a verb on the store.
//!
//! Paths: `/api/v1/...` (core group) and `/apis/{group}/{version}/...`, then
//! `{plural}`, `{plural}/{name}`, `{plural}/{name}/status`, or the same under
//! `namespaces/{ns}/`. Watches are `GET` lists with `watch=true` and stream JSON lines.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::actor::StoreHandle;
use crate::discovery;
use crate::errors::ApiError;
use crate::hooks::Verb;
use crate::patch;
use crate::resources::ResId;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{Part, WriteOpts};
use crate::watch::{Filter, line};

/// Decodes `application/x-www-form-urlencoded` query pairs.
fn query_pairs(q: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    match u8::from_str_radix(
                        std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                        16,
                    ) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
}

fn json_response(code: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.code(), &e.to_status())
}

fn stopped() -> Response {
    json_response(503, &ApiError::Injected { plural: String::new(), code: 503 }.to_status())
}

/// A resource URL, split.
struct Target {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let t = |ns: Option<&str>, p: &str, name: Option<&&str>, sub: Option<&&str>| Target {
        group: group.to_owned(),
        version: version.to_owned(),
        namespace: ns.map(str::to_owned),
        plural: p.to_owned(),
        name: name.map(|s| (*s).to_owned()),
        sub: sub.map(|s| (*s).to_owned()),
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..]
            if !matches!(*plural, "status" | "finalize") && tail.len() <= 2 =>
        {
            Some(t(Some(ns), plural, tail.first(), tail.get(1)))
        }
        [plural, tail @ ..] if tail.len() <= 2 => Some(t(None, plural, tail.first(), tail.get(1))),
        _ => None,
    }
}

/// The user a request authenticates as: its bearer token (see [`crate::rbac`]).
fn user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

/// Forbidden unless the request has no user or the enforced RBAC allows it.
async fn authorize(
    store: &StoreHandle,
    headers: &HeaderMap,
    t: &Target,
    verb: Verb,
) -> Result<(), ApiError> {
    let Some(user) = user(headers) else { return Ok(()) };
    let resource = match &t.sub {
        Some(sub) => format!("{}/{sub}", t.plural),
        None => t.plural.clone(),
    };
    let (group, namespace, name) = (t.group.clone(), t.namespace.clone(), t.name.clone());
    let forbidden = ApiError::Forbidden {
        user: user.clone(),
        verb: verb.rbac_name().to_owned(),
        group: group.clone(),
        resource: resource.clone(),
        namespace: namespace.clone(),
    };
    let allowed = store
        .call(move |s| {
            s.hooks.rbac.as_mut().is_none_or(|rbac| {
                rbac.authorize(&crate::rbac::Access {
                    user: &user,
                    verb: verb.rbac_name(),
                    group: &group,
                    resource: &resource,
                    namespace: namespace.as_deref(),
                    name: name.as_deref(),
                })
            })
        })
        .await
        .unwrap_or(false);
    if allowed {
        Ok(())
    } else {
        tracing::warn!(error = %forbidden, "forbidden");
        Err(forbidden)
    }
}

/// The single handler behind every path.
pub(crate) async fn handle(
    State(store): State<StoreHandle>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_matches('/').to_owned();
    let segs: Vec<&str> = path.split('/').collect();
    let query = Query(query_pairs(uri.query().unwrap_or("")));
    let types = || store.call(|s| s.registry.all().to_vec());
    let target = match segs.as_slice() {
        ["version"] => return json_response(200, &discovery::version()),
        ["api"] => return json_response(200, &discovery::core_versions()),
        ["apis"] => {
            return types()
                .await
                .map_or_else(|_| stopped(), |t| json_response(200, &discovery::groups(&t)));
        }
        ["api", v] | ["apis", _, v] => {
            let group = if segs[0] == "api" { "" } else { segs[1] };
            return match types().await {
                Ok(t) => match discovery::resources(&t, group, v) {
                    Some(doc) => json_response(200, &doc),
                    None => error_response(&ApiError::UnknownPath { path }),
                },
                Err(_) => stopped(),
            };
        }
        ["api", v, rest @ ..] => parse_target("", v, rest),
        ["apis", g, v, rest @ ..] => parse_target(g, v, rest),
        _ => None,
    };
    let Some(target) = target else { return error_response(&ApiError::UnknownPath { path }) };
    match serve(&store, target, method, &query, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        message: format!("the request body is not valid JSON: {e}"),
    })
}

fn filter(namespace: Option<String>, query: &Query) -> Result<Filter, ApiError> {
    Ok(Filter {
        namespace,
        labels: LabelSelector::parse(query.get("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(query.get("fieldSelector").unwrap_or(""))?,
        partial: false,
    })
}

/// Whether the client asked for `PartialObjectMetadata[List]` through `Accept`.
fn wants_partial(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=PartialObjectMetadata"))
}

/// An object or a list as `PartialObjectMetadata[List]`.
fn to_partial(v: Value) -> Value {
    match v.get("items").and_then(Value::as_array) {
        Some(items) => {
            let items: Vec<Value> = items.iter().map(crate::watch::partial).collect();
            serde_json::json!({ "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                "metadata": v["metadata"], "items": items })
        }
        None => crate::watch::partial(&v),
    }
}

/// The field manager of a write: `fieldManager`, else the user agent's first word, as upstream.
fn manager(query: &Query, headers: &HeaderMap) -> String {
    if let Some(m) = query.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_owned();
    }
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    ua.split('/').next().unwrap_or("unknown").to_owned()
}

async fn serve(
    store: &StoreHandle,
    t: Target,
    method: Method,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (g, v, p) = (t.group.clone(), t.version.clone(), t.plural.clone());
    let unknown =
        || ApiError::UnknownPath { path: format!("{}/{}/{}", t.group, t.version, t.plural) };
    let (res, namespaced) = store
        .call(move |s| s.registry.by_path(&g, &v, &p).map(|id| (id, s.registry.get(id).namespaced)))
        .await
        .map_err(|_| unknown())?
        .ok_or_else(unknown)?;
    if t.namespace.is_some() && !namespaced
        || t.namespace.is_none() && namespaced && t.name.is_some()
    {
        return Err(unknown());
    }
    let part = match t.sub.as_deref() {
        None => Part::Main,
        Some("status") => Part::Status,
        Some(_) => return Err(unknown()),
    };
    let opts = WriteOpts {
        dry_run: query.get("dryRun").is_some_and(|d| !d.is_empty()),
        manager: manager(query, headers),
        force: query.flag("force"),
        raw: false,
    };
    let ns = t.namespace.clone();
    let verb = match (&method, t.name.is_some()) {
        (&Method::GET, true) => Verb::Get,
        (&Method::GET, false) if query.flag("watch") => Verb::Watch,
        (&Method::GET, false) => Verb::List,
        (&Method::POST, false) => Verb::Create,
        (&Method::PUT, true) => Verb::Update,
        (&Method::PATCH, true) => Verb::Patch,
        (&Method::DELETE, true) => Verb::Delete,
        (&Method::DELETE, false) => Verb::DeleteCollection,
        _ => return Err(ApiError::MethodNotAllowed { method: method.to_string() }),
    };
    if part == Part::Status && !matches!(verb, Verb::Get | Verb::Update | Verb::Patch) {
        return Err(ApiError::MethodNotAllowed { method: method.to_string() });
    }
    authorize(store, headers, &t, verb).await?;
    let name = t.name.clone().unwrap_or_default();
    let code = if verb == Verb::Create { 201 } else { 200 };
    let result: Result<Value, ApiError> = match verb {
        Verb::Watch => return watch(store, res, ns, query, wants_partial(headers)).await,
        Verb::Get => run(store, res, verb, move |s| s.get(res, ns.as_deref(), &name)).await,
        Verb::List => {
            let f = filter(ns, query)?;
            let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok());
            let cont = query.get("continue").map(str::to_owned);
            run(store, res, verb, move |s| s.list(res, &f, limit, cont.as_deref())).await
        }
        Verb::DeleteCollection => {
            let f = filter(ns, query)?;
            let dry = opts.dry_run;
            run(store, res, verb, move |s| s.delete_collection(res, &f, dry)).await
        }
        Verb::Create => {
            let obj = parse_body(&body)?;
            let name = obj["metadata"]["name"].as_str().unwrap_or_default();
            review(store, res, (ns.as_deref(), name), "CREATE", &obj, headers, &opts).await?;
            run(store, res, verb, move |s| s.create(res, ns.as_deref(), obj, &opts)).await
        }
        Verb::Update => {
            let obj = parse_body(&body)?;
            if part == Part::Main {
                review(store, res, (ns.as_deref(), &name), "UPDATE", &obj, headers, &opts).await?;
            }
            run(store, res, verb, move |s| s.update(res, ns.as_deref(), &name, obj, part, &opts))
                .await
        }
        Verb::Delete => {
            let options = if body.is_empty() { Value::Null } else { parse_body(&body)? };
            let dry = opts.dry_run;
            run(store, res, verb, move |s| s.delete(res, ns.as_deref(), &name, &options, dry)).await
        }
        Verb::Patch => {
            let ctype = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let ctype = ctype.split(';').next().unwrap_or("").trim().to_owned();
            let patch_body = parse_body(&body)?;
            if ctype == "application/apply-patch+yaml"
                && query.get("fieldManager").is_none_or(str::is_empty)
            {
                return Err(ApiError::BadRequest { message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".to_owned() });
            }
            // As upstream: an apply that creates the object needs `create` as well as `patch`.
            if ctype == "application/apply-patch+yaml" && part == Part::Main {
                let (ns, name) = (ns.clone(), name.clone());
                let exists = store
                    .call(move |s| s.get(res, ns.as_deref(), &name).is_ok())
                    .await
                    .unwrap_or(true);
                if !exists {
                    authorize(store, headers, &t, Verb::Create).await?;
                }
            }
            let target = (ns, name);
            patch_reviewed(store, res, target, part, &opts, &ctype, &patch_body, headers).await
        }
    };
    let partial = wants_partial(headers) && matches!(verb, Verb::Get | Verb::List);
    result.map(|v| json_response(code, &if partial { to_partial(v) } else { v }))
}

/// The validating admission webhooks' verdict on a write ([`crate::admission`]).
async fn review(
    store: &StoreHandle,
    res: ResId,
    (namespace, name): (Option<&str>, &str),
    operation: &'static str,
    object: &Value,
    headers: &HeaderMap,
    opts: &WriteOpts,
) -> Result<(), ApiError> {
    let user = user(headers);
    let write = crate::admission::Write {
        res,
        namespace,
        name,
        operation,
        object,
        user: user.as_deref(),
        dry_run: opts.dry_run,
    };
    crate::admission::admit(store, write).await
}

/// How often a PATCH is reviewed again because the object changed between its review and
/// its write (upstream retries the same way on a conflict).
const PATCH_ATTEMPTS: usize = 5;

/// PATCH, with the validating admission webhooks shown the object as the patch would leave
/// it (an `UPDATE`, or a `CREATE` when an apply creates it): the patch is first applied as
/// a dry run, the webhooks see the result, and the write happens only if the stored object
/// is still the one that result was computed from; otherwise review and write are tried
/// again. A denied patch stores nothing. Status patches are not reviewed, as status PUTs.
#[allow(clippy::too_many_arguments)]
async fn patch_reviewed(
    store: &StoreHandle,
    res: ResId,
    (ns, name): (Option<String>, String),
    part: Part,
    opts: &WriteOpts,
    ctype: &str,
    body: &Value,
    headers: &HeaderMap,
) -> Result<Value, ApiError> {
    for _ in 0..PATCH_ATTEMPTS {
        let mut reviewed = None;
        if part == Part::Main {
            let (n, nm, c, b) = (ns.clone(), name.clone(), ctype.to_owned(), body.clone());
            let dry = WriteOpts { dry_run: true, ..opts.clone() };
            let preview = store
                .call(move |s| {
                    s.hooks.admission.as_ref()?;
                    let version = stored_version(s, res, n.as_deref(), &nm);
                    Some(
                        apply_patch(s, res, n.as_deref(), &nm, part, &dry, &c, b)
                            .map(|object| (version, object)),
                    )
                })
                .await
                .map_err(|_| ApiError::Injected { plural: String::new(), code: 503 })?;
            if let Some(preview) = preview {
                let (version, object) = preview?;
                let operation = if version.is_some() { "UPDATE" } else { "CREATE" };
                review(store, res, (ns.as_deref(), &name), operation, &object, headers, opts)
                    .await?;
                reviewed = Some(version);
            }
        }
        let (n, nm, c, b, o) =
            (ns.clone(), name.clone(), ctype.to_owned(), body.clone(), opts.clone());
        let written = store
            .call(move |s| {
                if reviewed
                    .as_ref()
                    .is_some_and(|v| *v != stored_version(s, res, n.as_deref(), &nm))
                {
                    return None;
                }
                let resource = s.resource_name(res);
                Some(match s.hooks.on_request(&resource, Verb::Patch) {
                    Some(e) => Err(e),
                    None => apply_patch(s, res, n.as_deref(), &nm, part, &o, &c, b),
                })
            })
            .await
            .map_err(|_| ApiError::Injected { plural: String::new(), code: 503 })?;
        if let Some(written) = written {
            return written;
        }
    }
    let (group, plural) = store
        .call(move |s| {
            let t = s.registry.get(res);
            (t.group.clone(), t.plural.clone())
        })
        .await
        .map_err(|_| ApiError::Injected { plural: String::new(), code: 503 })?;
    Err(ApiError::Conflict { group, plural, name })
}

/// The stored object's `resourceVersion`; `None` when there is none.
fn stored_version(
    s: &crate::store::Store,
    res: ResId,
    ns: Option<&str>,
    name: &str,
) -> Option<String> {
    s.get(res, ns, name)
        .ok()
        .and_then(|o| o["metadata"]["resourceVersion"].as_str().map(str::to_owned))
}

/// Applies a PATCH body of media type `ctype` (with `opts.dry_run`: only computes the result).
#[allow(clippy::too_many_arguments)]
fn apply_patch(
    s: &mut crate::store::Store,
    res: ResId,
    ns: Option<&str>,
    name: &str,
    part: Part,
    opts: &WriteOpts,
    ctype: &str,
    patch_body: Value,
) -> Result<Value, ApiError> {
    let builtin = s.registry.get(res).builtin;
    match ctype {
        "application/merge-patch+json" => s.patch(res, ns, name, part, opts, |o| {
            patch::merge_patch(o, &patch_body);
            Ok(())
        }),
        "application/strategic-merge-patch+json" if builtin => s.patch(res, ns, name, part, opts, |o| {
            patch::strategic_merge_patch(o, &patch_body);
            Ok(())
        }),
        "application/json-patch+json" => {
            s.patch(res, ns, name, part, opts, |o| patch::json_patch(o, &patch_body))
        }
        "application/apply-patch+yaml" => s.apply(res, ns, name, patch_body, part, opts),
        other => Err(ApiError::UnsupportedMediaType {
            content_type: other.to_owned(),
            accepted: if builtin {
                "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
            } else {
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            }
            .to_owned(),
        }),
    }
}

/// Counts the request, answers an injected failure if one is armed, else runs `op`.
async fn run(
    store: &StoreHandle,
    res: ResId,
    verb: Verb,
    op: impl FnOnce(&mut crate::store::Store) -> Result<Value, ApiError> + Send + 'static,
) -> Result<Value, ApiError> {
    store
        .call(move |s| {
            let resource = s.resource_name(res);
            match s.hooks.on_request(&resource, verb) {
                Some(e) => Err(e),
                None => op(s),
            }
        })
        .await
        .map_err(|_| ApiError::Injected { plural: String::new(), code: 503 })?
}

async fn watch(
    store: &StoreHandle,
    res: ResId,
    ns: Option<String>,
    query: &Query,
    partial: bool,
) -> Result<Response, ApiError> {
    let f = Filter { partial, ..filter(ns, query)? };
    let from = match query.get("resourceVersion").filter(|v| !v.is_empty()) {
        Some(v) => Some(v.parse::<u64>().map_err(|_| ApiError::BadRequest {
            message: format!("invalid resource version {v:?}"),
        })?),
        None => None,
    };
    let bookmarks = query.flag("allowWatchBookmarks");
    let initial = query.flag("sendInitialEvents");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(1_800);
    let opened = store
        .call(move |s| {
            let resource = s.resource_name(res);
            match s.hooks.on_request(&resource, Verb::Watch) {
                // An injected 410 comes the way the real server sends it: in the stream.
                Some(e) if e.code() == 410 => {
                    Ok(Err(ApiError::Gone { requested: from.unwrap_or(0), oldest: s.rv() + 1 }))
                }
                Some(e) => Err(e),
                None => Ok(s.watch(res, f, from, bookmarks, initial)),
            }
        })
        .await
        .map_err(|_| ApiError::Injected { plural: String::new(), code: 503 })??;
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Bytes>();
    match opened {
        // As upstream: the watch is accepted, then fails with an ERROR event carrying the Status.
        Err(e @ ApiError::Gone { .. }) => {
            let _ = out_tx.send(line("ERROR", &e.to_status()));
        }
        Err(e) => return Err(e),
        Ok(mut rx) => {
            tokio::spawn(async move {
                let deadline = tokio::time::sleep(Duration::from_secs(timeout));
                tokio::pin!(deadline);
                loop {
                    tokio::select! {
                        item = rx.recv() => match item {
                            Some(bytes) => if out_tx.send(bytes).is_err() { break },
                            None => break,
                        },
                        () = &mut deadline => break,
                        () = out_tx.closed() => break,
                    }
                }
            });
        }
    }
    let stream = UnboundedReceiverStream::new(out_rx).map(Ok::<_, Infallible>);
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query() {
        let q = query_pairs("labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&watch=true&x");
        assert_eq!(q[0], ("labelSelector".to_owned(), "app=web,tier in (a,b)".to_owned()));
        assert_eq!(q[1].1, "true");
        assert_eq!(q[2], ("x".to_owned(), String::new()));
        assert_eq!(query_pairs("a=%zz%4")[0].1, "%zz%4");
    }

    #[test]
    fn routes_paths() {
        let t = parse_target("", "v1", &["namespaces", "ns", "services", "web", "status"]);
        assert!(t.is_some_and(
            |t| t.namespace.as_deref() == Some("ns") && t.sub.as_deref() == Some("status")
        ));
        let t = parse_target("", "v1", &["namespaces", "ns"]);
        assert!(t.is_some_and(|t| t.plural == "namespaces" && t.name.as_deref() == Some("ns")));
        let t = parse_target("", "v1", &["namespaces", "ns", "status"]);
        assert!(t.is_some_and(|t| t.plural == "namespaces" && t.sub.as_deref() == Some("status")));
        assert!(parse_target("", "v1", &["a", "b", "c", "d"]).is_none());
    }
}
