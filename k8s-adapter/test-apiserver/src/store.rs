//! The object store: every resource as JSON, keyed by namespace and name, with one global
//! resourceVersion counter (as etcd's revision), and the write semantics of the API server's
//! generic registry: creation metadata, optimistic concurrency on `metadata.resourceVersion`,
//! status subresources, generation, finalizers, no-op writes that change nothing.
//!
//! Owned by one task (see `actor`); everything here is synchronous.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch as notify};

use crate::defaults::Defaults;
use crate::errors::{ApiError, FieldError};
use crate::hooks::Hooks;
use crate::managed::Managers;
use crate::meta;
use crate::resources::{Registry, ResId, ResourceType, builtin_resources};
use crate::watch::{Change, Filter, HistEvent, Watcher, Watches, bookmark, line, view_line};

/// A validation hook: field errors make a write fail with 422 `Invalid`.
pub type Validator = Box<dyn Fn(&Value) -> Vec<FieldError> + Send>;

pub(crate) struct Stored {
    pub(crate) obj: Value,
    managers: Managers,
}

/// Options of a write request.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriteOpts {
    pub(crate) dry_run: bool,
    pub(crate) manager: String,
    pub(crate) force: bool,
    /// Direct store writes from tests: status is taken as given on every path.
    pub(crate) raw: bool,
}

/// Which part of an object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Main,
    Status,
}

type Key = (String, String);

pub(crate) struct Store {
    pub(crate) registry: Registry,
    objects: Vec<BTreeMap<Key, Stored>>,
    rv: u64,
    seq: u64,
    pub(crate) watches: Watches,
    pub(crate) hooks: Hooks,
    validators: Vec<(ResId, Validator)>,
    enforce_namespaces: bool,
    defaults: Defaults,
    notify: notify::Sender<u64>,
}

fn rv_of(obj: &Value) -> &str {
    obj["metadata"]["resourceVersion"].as_str().unwrap_or("")
}

/// An object with server-owned metadata removed, to tell a no-op write.
fn user_view(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    v
}

/// Everything except metadata and status: a change here bumps `metadata.generation`.
fn spec_view(obj: &Value) -> Map<String, Value> {
    let mut m = obj.as_object().cloned().unwrap_or_default();
    m.remove("metadata");
    m.remove("status");
    m
}

fn set_meta(obj: &mut Value, key: &str, v: Value) {
    if !obj["metadata"].is_object()
        && let Some(o) = obj.as_object_mut()
    {
        o.insert("metadata".to_owned(), json!({}));
    }
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if v.is_null() {
            m.remove(key);
        } else {
            m.insert(key.to_owned(), v);
        }
    }
}

/// A continue token: the last key served, hex-encoded so it is opaque and URL-safe.
fn encode_continue((ns, name): &Key) -> String {
    format!("{ns}/{name}").bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Result<Key, ApiError> {
    let bad = || ApiError::BadRequest { message: format!("invalid continue token {token:?}") };
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (ns, name) = text.split_once('/').ok_or_else(bad)?;
    Ok((ns.to_owned(), name.to_owned()))
}

impl Store {
    pub(crate) fn new(
        window: usize,
        enforce_namespaces: bool,
        ip_families: Vec<String>,
        notify: notify::Sender<u64>,
    ) -> Self {
        let mut s = Store {
            registry: Registry::default(),
            objects: Vec::new(),
            rv: 0,
            seq: 0,
            watches: Watches::new(window),
            hooks: Hooks::default(),
            validators: Vec::new(),
            enforce_namespaces,
            defaults: Defaults::new(ip_families),
            notify,
        };
        for rt in builtin_resources() {
            s.register(rt);
        }
        let opts =
            WriteOpts { manager: "kube-apiserver".to_owned(), raw: true, ..WriteOpts::default() };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            if let Some(id) = s.registry.by_path("", "v1", "namespaces") {
                let _ = s.create(id, None, body, &opts);
            }
        }
        s
    }

    pub(crate) fn register(&mut self, rt: ResourceType) -> ResId {
        let (id, fresh) = self.registry.register(rt);
        if fresh {
            self.objects.push(BTreeMap::new());
        }
        id
    }

    pub(crate) fn add_validator(&mut self, res: ResId, v: Validator) {
        self.validators.push((res, v));
    }

    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    fn rt(&self, res: ResId) -> &ResourceType {
        self.registry.get(res)
    }

    /// `services` or `leases.coordination.k8s.io`.
    pub(crate) fn resource_name(&self, res: ResId) -> String {
        let rt = self.rt(res);
        if rt.group.is_empty() { rt.plural.clone() } else { format!("{}.{}", rt.plural, rt.group) }
    }

    fn key(&self, res: ResId, ns: Option<&str>, name: &str) -> Key {
        let ns = if self.rt(res).namespaced { ns.unwrap_or("") } else { "" };
        (ns.to_owned(), name.to_owned())
    }

    fn not_found(&self, res: ResId, name: &str) -> ApiError {
        let rt = self.rt(res);
        ApiError::NotFound {
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            name: name.to_owned(),
        }
    }

    fn conflict(&self, res: ResId, name: &str) -> ApiError {
        let rt = self.rt(res);
        ApiError::Conflict {
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            name: name.to_owned(),
        }
    }

    pub(crate) fn get(&self, res: ResId, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.objects[res]
            .get(&self.key(res, ns, name))
            .map(|s| s.obj.clone())
            .ok_or_else(|| self.not_found(res, name))
    }

    /// Objects of `res` that `filter` selects, in key order (as etcd lists them).
    pub(crate) fn select<'a>(
        &'a self,
        res: ResId,
        filter: &'a Filter,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects[res].values().map(|s| &s.obj).filter(move |o| filter.matches(o))
    }

    /// A `<Kind>List` at the current resourceVersion, paged by `limit` and `continue` as
    /// upstream (the token names the last key served; later pages see the current state rather
    /// than a snapshot, a documented difference).
    pub(crate) fn list(
        &self,
        res: ResId,
        filter: &Filter,
        limit: Option<usize>,
        cont: Option<&str>,
    ) -> Result<Value, ApiError> {
        let after = match cont.filter(|c| !c.is_empty()) {
            Some(token) => Some(decode_continue(token)?),
            None => None,
        };
        let mut items = Vec::new();
        let mut next = None;
        let mut last: Option<&Key> = None;
        let candidates =
            self.objects[res].iter().filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a));
        for (key, stored) in candidates {
            if !filter.matches(&stored.obj) {
                continue;
            }
            if limit.is_some_and(|l| l > 0 && items.len() == l) {
                next = last.map(encode_continue);
                break;
            }
            items.push(stored.obj.clone());
            last = Some(key);
        }
        let rt = self.rt(res);
        let mut meta = json!({ "resourceVersion": self.rv.to_string() });
        if let (Some(token), Some(m)) = (next, meta.as_object_mut()) {
            m.insert("continue".to_owned(), json!(token));
        }
        Ok(json!({
            "kind": format!("{}List", rt.kind),
            "apiVersion": rt.api_version(),
            "metadata": meta,
            "items": items,
        }))
    }

    /// Opens a watch from `from` (None or 0: synthetic ADDED for current objects first).
    pub(crate) fn watch(
        &mut self,
        res: ResId,
        filter: Filter,
        from: Option<u64>,
        bookmarks: bool,
        initial_events: bool,
    ) -> Result<mpsc::UnboundedReceiver<bytes::Bytes>, ApiError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let replay = match from.filter(|rv| *rv > 0 && !initial_events) {
            Some(rv) => self
                .watches
                .replay(res, &filter, rv)
                .map_err(|oldest| ApiError::Gone { requested: rv, oldest })?,
            None => {
                let mut lines: Vec<bytes::Bytes> =
                    self.select(res, &filter).map(|o| view_line("ADDED", o, &filter)).collect();
                if initial_events {
                    lines.push(line("BOOKMARK", &bookmark(self.rt(res), self.rv, true)));
                }
                lines
            }
        };
        for l in replay {
            let _ = tx.send(l);
        }
        self.watches.add(Watcher { res, filter, bookmarks, tx });
        Ok(rx)
    }

    /// Bookmarks at the current resourceVersion to every watcher that allows them.
    pub(crate) fn send_bookmarks(&mut self) {
        for res in self.watches.bookmark_resources() {
            let rt = self.registry.get(res).clone();
            self.watches.bookmark(res, &rt, self.rv);
        }
    }

    fn validate(&self, res: ResId, obj: &Value) -> Result<(), ApiError> {
        let rt = self.rt(res);
        let mut causes = meta::validate_meta(obj, rt.kind == "Namespace" && rt.group.is_empty());
        for (id, v) in &self.validators {
            if *id == res {
                causes.extend(v(obj));
            }
        }
        if let Some(schema) = &rt.schema {
            causes.extend(crate::cel::check(schema, obj));
        }
        if causes.is_empty() {
            return Ok(());
        }
        Err(ApiError::Invalid {
            group: rt.group.clone(),
            kind: rt.kind.clone(),
            name: obj["metadata"]["name"].as_str().unwrap_or("").to_owned(),
            causes,
        })
    }

    /// Checks `apiVersion`/`kind` of a body against the URL's type and fills them in.
    fn check_type(&self, res: ResId, body: &mut Value) -> Result<(), ApiError> {
        let rt = self.rt(res);
        let (api_version, kind) = (rt.api_version(), rt.kind.clone());
        let Some(obj) = body.as_object_mut() else {
            return Err(ApiError::BadRequest {
                message: "the request body must be a JSON object".to_owned(),
            });
        };
        for (field, want) in [("apiVersion", &api_version), ("kind", &kind)] {
            match obj.get(field).and_then(Value::as_str) {
                Some(got) if got != want => {
                    return Err(ApiError::BadRequest {
                        message: format!(
                            "the {field} of the object ({got}) does not match the expected {field} ({want})"
                        ),
                    });
                }
                _ => {
                    obj.insert(field.to_owned(), json!(want));
                }
            }
        }
        if !obj.get("metadata").is_some_and(Value::is_object) {
            obj.insert("metadata".to_owned(), json!({}));
        }
        Ok(())
    }

    /// Checks the body's namespace against the URL's and sets it.
    fn check_namespace(
        &self,
        res: ResId,
        ns: Option<&str>,
        body: &mut Value,
    ) -> Result<(), ApiError> {
        if !self.rt(res).namespaced {
            set_meta(body, "namespace", Value::Null);
            return Ok(());
        }
        let url_ns = ns.unwrap_or("");
        match body["metadata"]["namespace"].as_str() {
            Some(got) if !got.is_empty() && got != url_ns => Err(ApiError::BadRequest {
                message: format!(
                    "the namespace of the provided object ({got}) does not match the namespace sent on the request ({url_ns})"
                ),
            }),
            _ => {
                set_meta(body, "namespace", json!(url_ns));
                Ok(())
            }
        }
    }

    fn namespace_exists(&self, ns: &str) -> Result<(), ApiError> {
        if !self.enforce_namespaces {
            return Ok(());
        }
        match self.registry.by_path("", "v1", "namespaces") {
            Some(id) if !self.objects[id].contains_key(&(String::new(), ns.to_owned())) => {
                Err(ApiError::NotFound {
                    group: String::new(),
                    plural: "namespaces".to_owned(),
                    name: ns.to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn create(
        &mut self,
        res: ResId,
        ns: Option<&str>,
        mut body: Value,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        self.check_type(res, &mut body)?;
        self.check_namespace(res, ns, &mut body)?;
        let rt = self.rt(res).clone();
        if rt.namespaced {
            self.namespace_exists(ns.unwrap_or(""))?;
        }
        let name =
            match (body["metadata"]["name"].as_str(), body["metadata"]["generateName"].as_str()) {
                (Some(n), _) if !n.is_empty() => n.to_owned(),
                (_, Some(prefix)) if !prefix.is_empty() => loop {
                    self.seq += 1;
                    let candidate = format!("{prefix}{}", meta::name_suffix(self.seq));
                    if !self.objects[res].contains_key(&self.key(res, ns, &candidate)) {
                        break candidate;
                    }
                },
                _ => {
                    return Err(ApiError::Invalid {
                        group: rt.group.clone(),
                        kind: rt.kind.clone(),
                        name: String::new(),
                        causes: vec![FieldError {
                            field: "metadata.name".to_owned(),
                            detail: "Required value: name or generateName is required".to_owned(),
                        }],
                    });
                }
            };
        set_meta(&mut body, "name", json!(name));
        if self.objects[res].contains_key(&self.key(res, ns, &name)) {
            return Err(ApiError::AlreadyExists {
                group: rt.group.clone(),
                plural: rt.plural.clone(),
                name,
            });
        }
        self.seq += 1;
        set_meta(&mut body, "uid", json!(meta::uid(self.seq)));
        set_meta(&mut body, "creationTimestamp", json!(meta::now_rfc3339()));
        for k in
            ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"]
        {
            set_meta(&mut body, k, Value::Null);
        }
        if !rt.builtin || rt.status_subresource {
            set_meta(&mut body, "generation", json!(1));
        }
        if rt.status_subresource
            && !opts.raw
            && let Some(o) = body.as_object_mut()
        {
            o.remove("status");
        }
        let mut managers = Managers::default();
        managers.record_update(&opts.manager, "", &json!({}), &body, &meta::now_rfc3339());
        self.commit(res, None, body, managers, opts)
    }

    /// Writes `new` over `old` (None: create): validation, no-op detection, generation,
    /// finalizer completion, resourceVersion, history and watchers.
    fn commit(
        &mut self,
        res: ResId,
        old: Option<&Value>,
        mut new: Value,
        managers: Managers,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let rt = self.rt(res).clone();
        if rt.group.is_empty() {
            self.defaults.apply(&rt.kind, old, &mut new);
        }
        self.validate(res, &new)?;
        if let Some(old) = old {
            for k in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                set_meta(&mut new, k, old["metadata"][k].clone());
            }
            if let Some(g) = old["metadata"]["generation"].as_i64()
                && spec_view(old) != spec_view(&new)
            {
                set_meta(&mut new, "generation", json!(g + 1));
            }
            set_meta(&mut new, "managedFields", managers.render(&rt.api_version()));
            set_meta(&mut new, "resourceVersion", old["metadata"]["resourceVersion"].clone());
            if user_view(old) == user_view(&new) {
                return Ok(old.clone());
            }
        } else {
            set_meta(&mut new, "managedFields", managers.render(&rt.api_version()));
        }
        if opts.dry_run {
            return Ok(new);
        }
        let finished = new["metadata"]["deletionTimestamp"].is_string()
            && new["metadata"]["finalizers"].as_array().is_none_or(Vec::is_empty);
        self.rv += 1;
        set_meta(&mut new, "resourceVersion", json!(self.rv.to_string()));
        let name = new["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let key = self.key(res, new["metadata"]["namespace"].as_str(), &name);
        let change = match (old.is_some(), finished) {
            (_, true) => Change::Deleted,
            (true, false) => Change::Modified,
            (false, false) => Change::Added,
        };
        if finished {
            self.objects[res].remove(&key);
        } else {
            self.objects[res].insert(key, Stored { obj: new.clone(), managers });
        }
        if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" && !finished
        {
            for t in ResourceType::from_crd(&new) {
                self.register(t);
            }
        }
        self.watches.publish(HistEvent {
            rv: self.rv,
            res,
            change,
            old: old.cloned(),
            new: new.clone(),
        });
        self.notify.send_replace(self.rv);
        Ok(new)
    }

    fn precondition(
        &self,
        res: ResId,
        name: &str,
        current: &Value,
        wanted: &Value,
    ) -> Result<(), ApiError> {
        let want = rv_of(wanted);
        if !want.is_empty() && want != rv_of(current) {
            return Err(self.conflict(res, name));
        }
        let uid = wanted["metadata"]["uid"].as_str().filter(|u| !u.is_empty());
        if let Some(uid) = uid
            && Some(uid) != current["metadata"]["uid"].as_str()
        {
            let rt = self.rt(res);
            return Err(ApiError::Precondition {
                group: rt.group.clone(),
                plural: rt.plural.clone(),
                name: name.to_owned(),
                detail: format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    current["metadata"]["uid"].as_str().unwrap_or("")
                ),
            });
        }
        Ok(())
    }

    fn stored(
        &self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
    ) -> Result<(Value, Managers), ApiError> {
        self.objects[res]
            .get(&self.key(res, ns, name))
            .map(|s| (s.obj.clone(), s.managers.clone()))
            .ok_or_else(|| self.not_found(res, name))
    }

    /// Merges a written body into the current object by `part`: a status write takes only the
    /// status; a main write keeps the stored status when the type has a status subresource.
    fn scoped(
        &self,
        res: ResId,
        current: &Value,
        mut written: Value,
        part: Part,
        raw: bool,
    ) -> Value {
        let has_status = self.rt(res).status_subresource && !raw;
        match part {
            Part::Status => {
                let mut out = current.clone();
                if let Some(o) = out.as_object_mut() {
                    match written.get_mut("status").map(Value::take) {
                        Some(s) if !s.is_null() => o.insert("status".to_owned(), s),
                        _ => o.remove("status"),
                    };
                }
                out
            }
            Part::Main if has_status => {
                if let Some(o) = written.as_object_mut() {
                    match current.get("status") {
                        Some(s) => o.insert("status".to_owned(), s.clone()),
                        None => o.remove("status"),
                    };
                }
                written
            }
            Part::Main => written,
        }
    }

    /// PUT of a whole object (or of its status).
    pub(crate) fn update(
        &mut self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        part: Part,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        self.check_type(res, &mut body)?;
        self.check_namespace(res, ns, &mut body)?;
        if let Some(got) = body["metadata"]["name"].as_str().filter(|n| *n != name) {
            return Err(ApiError::BadRequest {
                message: format!(
                    "the name of the object ({got}) does not match the name on the URL ({name})"
                ),
            });
        }
        set_meta(&mut body, "name", json!(name));
        let (current, mut managers) = self.stored(res, ns, name)?;
        self.precondition(res, name, &current, &body)?;
        let new = self.scoped(res, &current, body, part, opts.raw);
        let sub = if part == Part::Status { "status" } else { "" };
        managers.record_update(&opts.manager, sub, &current, &new, &meta::now_rfc3339());
        self.commit(res, Some(&current), new, managers, opts)
    }

    /// PATCH with an already-applied non-apply patch function.
    pub(crate) fn patch(
        &mut self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        part: Part,
        opts: &WriteOpts,
        apply_patch: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let (current, mut managers) = self.stored(res, ns, name)?;
        let mut patched = current.clone();
        apply_patch(&mut patched)?;
        self.check_type(res, &mut patched)?;
        if patched["metadata"]["name"].as_str() != Some(name) {
            return Err(ApiError::BadRequest {
                message: format!("the patch may not change the name of {name:?}"),
            });
        }
        self.precondition(res, name, &current, &patched)?;
        let new = self.scoped(res, &current, patched, part, opts.raw);
        let sub = if part == Part::Status { "status" } else { "" };
        managers.record_update(&opts.manager, sub, &current, &new, &meta::now_rfc3339());
        self.commit(res, Some(&current), new, managers, opts)
    }

    /// Server-side apply (`application/apply-patch+yaml`): creates the object when absent.
    pub(crate) fn apply(
        &mut self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        mut applied: Value,
        part: Part,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        if applied["apiVersion"].as_str().is_none() || applied["kind"].as_str().is_none() {
            return Err(ApiError::BadRequest {
                message: "apply patches must set apiVersion and kind".to_owned(),
            });
        }
        self.check_type(res, &mut applied)?;
        self.check_namespace(res, ns, &mut applied)?;
        if applied["metadata"]["name"].as_str().is_some_and(|n| n != name) {
            return Err(ApiError::BadRequest {
                message: format!(
                    "the name of the object does not match the name on the URL ({name})"
                ),
            });
        }
        set_meta(&mut applied, "name", json!(name));
        let existing = self.stored(res, ns, name).ok();
        if let Some((current, _)) = &existing {
            self.precondition(res, name, current, &applied)?;
        }
        set_meta(&mut applied, "resourceVersion", Value::Null);
        let rt = self.rt(res).clone();
        // The fields an apply to this part may own: a status apply owns only status; a main
        // apply never owns status when status is a subresource.
        let scoped = match part {
            Part::Status => {
                json!({ "status": applied.get("status").cloned().unwrap_or(Value::Null) })
            }
            Part::Main if rt.status_subresource => {
                let mut a = applied.clone();
                if let Some(o) = a.as_object_mut() {
                    o.remove("status");
                }
                a
            }
            Part::Main => applied.clone(),
        };
        let sub = if part == Part::Status { "status" } else { "" };
        let time = meta::now_rfc3339();
        match existing {
            Some((current, mut managers)) => {
                let new = managers
                    .apply(&opts.manager, sub, &current, &scoped, opts.force, &time)
                    .map_err(|fields| ApiError::ApplyConflict {
                        group: rt.group.clone(),
                        plural: rt.plural.clone(),
                        name: name.to_owned(),
                        fields,
                    })?;
                self.commit(res, Some(&current), new, managers, opts)
            }
            None if part == Part::Status => Err(self.not_found(res, name)),
            None => {
                let created = self.create(
                    res,
                    ns,
                    scoped.clone(),
                    &WriteOpts { dry_run: true, ..opts.clone() },
                )?;
                let mut managers = Managers::default();
                let base = json!({});
                let _ = managers.apply(&opts.manager, sub, &base, &scoped, true, &time);
                self.commit(res, None, created, managers, opts)
            }
        }
    }

    /// DELETE: immediate without finalizers, else marks `deletionTimestamp` and waits for the
    /// finalizers to be removed by updates.
    pub(crate) fn delete(
        &mut self,
        res: ResId,
        ns: Option<&str>,
        name: &str,
        options: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let (current, managers) = self.stored(res, ns, name)?;
        let pre = &options["preconditions"];
        let rt = self.rt(res).clone();
        let uid_ok =
            pre["uid"].as_str().is_none_or(|u| Some(u) == current["metadata"]["uid"].as_str());
        let rv_ok = pre["resourceVersion"].as_str().is_none_or(|v| v == rv_of(&current));
        if !uid_ok || !rv_ok {
            return Err(ApiError::Precondition {
                group: rt.group.clone(),
                plural: rt.plural.clone(),
                name: name.to_owned(),
                detail: "the precondition on uid or resourceVersion does not hold".to_owned(),
            });
        }
        if dry_run {
            return Ok(current);
        }
        let has_finalizers =
            current["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if current["metadata"]["deletionTimestamp"].is_string() {
                return Ok(current);
            }
            let mut marked = current.clone();
            set_meta(&mut marked, "deletionTimestamp", json!(meta::now_rfc3339()));
            set_meta(&mut marked, "deletionGracePeriodSeconds", json!(0));
            // commit() keeps the old deletionTimestamp; write through the stored entry instead.
            return self.commit_marked(res, &current, marked, managers);
        }
        let key = self.key(res, ns, name);
        self.objects[res].remove(&key);
        self.rv += 1;
        let mut gone = current.clone();
        set_meta(&mut gone, "resourceVersion", json!(self.rv.to_string()));
        self.watches.publish(HistEvent {
            rv: self.rv,
            res,
            change: Change::Deleted,
            old: Some(current),
            new: gone.clone(),
        });
        self.notify.send_replace(self.rv);
        if rt.kind == "Namespace" && rt.group.is_empty() {
            self.delete_namespace_contents(name);
        }
        Ok(gone)
    }

    fn commit_marked(
        &mut self,
        res: ResId,
        current: &Value,
        mut marked: Value,
        managers: Managers,
    ) -> Result<Value, ApiError> {
        self.rv += 1;
        set_meta(&mut marked, "resourceVersion", json!(self.rv.to_string()));
        let key = self.key(
            res,
            marked["metadata"]["namespace"].as_str(),
            marked["metadata"]["name"].as_str().unwrap_or(""),
        );
        self.objects[res].insert(key, Stored { obj: marked.clone(), managers });
        self.watches.publish(HistEvent {
            rv: self.rv,
            res,
            change: Change::Modified,
            old: Some(current.clone()),
            new: marked.clone(),
        });
        self.notify.send_replace(self.rv);
        Ok(marked)
    }

    /// What the namespace controller does, at once: every object in the namespace goes.
    fn delete_namespace_contents(&mut self, ns: &str) {
        for res in 0..self.objects.len() {
            if !self.rt(res).namespaced {
                continue;
            }
            let names: Vec<String> = self.objects[res]
                .keys()
                .filter(|(n, _)| n == ns)
                .map(|(_, name)| name.clone())
                .collect();
            for name in names {
                let _ = self.delete(res, Some(ns), &name, &Value::Null, false);
            }
        }
    }

    /// DELETE on a collection: every selected object, as a list of what was deleted.
    pub(crate) fn delete_collection(
        &mut self,
        res: ResId,
        filter: &Filter,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let keys: Vec<(Option<String>, String)> = self
            .select(res, filter)
            .map(|o| {
                (
                    o["metadata"]["namespace"].as_str().map(str::to_owned),
                    o["metadata"]["name"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let mut items = Vec::with_capacity(keys.len());
        for (ns, name) in keys {
            items.push(self.delete(res, ns.as_deref(), &name, &Value::Null, dry_run)?);
        }
        let rt = self.rt(res);
        Ok(json!({ "kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
            "metadata": { "resourceVersion": self.rv.to_string() }, "items": items }))
    }
}
