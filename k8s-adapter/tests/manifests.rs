//! What `deploy/` grants, read from the manifests themselves: each container's privileges
//! (least privilege, issue #14) and bgpd's graceful restart state on a volume that outlives
//! the container; the probes of every workload at paths and ports the adapter serves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

/// The documents of `deploy/base/PART.yaml`, or of `deploy/PATH.yaml` for a path with a `/`.
fn documents(part: &str) -> Vec<Value> {
    let path = format!("{}/../deploy/{part}.yaml", env!("CARGO_MANIFEST_DIR"));
    let path = if part.contains('/') { path } else { path.replace("/deploy/", "/deploy/base/") };
    let text = std::fs::read_to_string(&path).expect("manifest");
    serde_saphyr::from_multiple(&text).expect("YAML stream")
}

fn speaker_pod() -> Value {
    let docs = documents("speaker");
    let ds = docs.iter().find(|d| d["kind"] == "DaemonSet").expect("the speaker DaemonSet");
    ds["spec"]["template"]["spec"].clone()
}

fn container<'a>(pod: &'a Value, list: &str, name: &str) -> &'a Value {
    pod[list]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {list} {name}"))
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

#[test]
fn every_speaker_pod_container_drops_everything_it_does_not_use() {
    let pod = speaker_pod();
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let all = [
        ("initContainers", "render-bgpd-config"),
        ("containers", "speaker"),
        ("containers", "bgpd"),
    ];
    for (list, name) in all {
        let sc = &container(&pod, list, name)["securityContext"];
        assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{name}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}");
        assert_ne!(sc["privileged"], true, "{name}");
    }
    // Not root, no capability: the speaker's sockets need none (Linux 5.7 and later).
    for name in ["render-bgpd-config", "speaker"] {
        let list = if name == "speaker" { "containers" } else { "initContainers" };
        let sc = &container(&pod, list, name)["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true, "{name}");
        assert_ne!(sc["runAsUser"], 0, "{name}");
        assert!(sc["capabilities"]["add"].is_null(), "{name} adds capabilities");
    }
    // bgpd: port 179 and packet sockets, nothing more (no NET_ADMIN); its group is the
    // speaker's, which is how the speaker may use its API socket (mode 0660).
    let bgpd = &container(&pod, "containers", "bgpd")["securityContext"];
    assert_eq!(strings(&bgpd["capabilities"]["add"]), ["NET_BIND_SERVICE", "NET_RAW"]);
    let speaker = &container(&pod, "containers", "speaker")["securityContext"];
    assert_eq!(bgpd["runAsGroup"], speaker["runAsGroup"]);
}

#[test]
fn the_speaker_reads_heartbeat_keys_from_an_optional_secret() {
    let pod = speaker_pod();
    let speaker = container(&pod, "containers", "speaker");
    let args = strings(&speaker["args"]);
    let flag = args
        .iter()
        .find_map(|a| a.strip_prefix("--layer2-heartbeat-key-dir="))
        .expect("the key directory flag");
    let mount = speaker["volumeMounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["mountPath"] == flag))
        .expect("the key directory is mounted");
    let volume = pod["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == mount["name"]))
        .expect("its volume");
    assert_eq!(volume["secret"]["secretName"], "ironlb-heartbeat-key");
    assert_eq!(volume["secret"]["optional"], true, "no Secret: unauthenticated heartbeats");
}

#[test]
fn bgpd_keeps_its_restart_state_on_the_node() {
    let pod = speaker_pod();
    let mounts = &container(&pod, "containers", "bgpd")["volumeMounts"];
    let state = mounts
        .as_array()
        .and_then(|m| m.iter().find(|m| m["mountPath"] == "/var/lib/ironlb"))
        .expect("bgpd mounts /var/lib/ironlb");
    assert_ne!(state["readOnly"], true);
    let volume = pod["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == state["name"]))
        .expect("the state volume");
    assert_eq!(volume["hostPath"]["path"], "/var/lib/ironlb", "survives the pod: {volume}");
    assert_eq!(volume["hostPath"]["type"], "DirectoryOrCreate");
    // Only bgpd has it.
    let speaker_mounts = &container(&pod, "containers", "speaker")["volumeMounts"];
    assert!(speaker_mounts.as_array().into_iter().flatten().all(|m| m["name"] != state["name"]));
    // And bgpd's config points its state there.
    let docs = documents("speaker");
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("bgpd's ConfigMap");
    let toml = cm["data"]["bgpd.toml"].as_str().expect("bgpd.toml");
    assert!(toml.lines().any(|l| l.trim() == r#"state_dir = "/var/lib/ironlb""#), "{toml}");
}

#[test]
fn a_speaker_may_write_only_its_own_lease() {
    let docs = documents("rbac");
    let role = docs
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["name"] == "ironlb:speaker-leases")
        .expect("the speakers' Lease role");
    let verbs = strings(&role["rules"][0]["verbs"]);
    assert!(!verbs.contains(&"update") && !verbs.contains(&"*"), "{verbs:?}");
    let policy = docs
        .iter()
        .find(|d| d["kind"] == "ValidatingAdmissionPolicy")
        .expect("the own-Lease policy");
    let rule = policy["spec"]["validations"][0]["expression"].as_str().expect("CEL");
    assert!(rule.contains("'ironlb-speaker-' + request.userInfo.extra"), "{rule}");
    assert!(rule.contains("oldObject.metadata.name"), "DELETE checks the old object: {rule}");
    assert_eq!(policy["spec"]["failurePolicy"], "Fail");
    let binding =
        docs.iter().find(|d| d["kind"] == "ValidatingAdmissionPolicyBinding").expect("its binding");
    assert_eq!(binding["spec"]["policyName"], policy["metadata"]["name"]);
    assert_eq!(strings(&binding["spec"]["validationActions"]), ["Deny"]);
}

#[test]
fn the_speaker_only_reads_services_and_writes_its_status_objects() {
    let docs = documents("rbac");
    let role = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .clone()
    };
    let cluster = role("ClusterRole", "ironlb:speaker");
    for rule in cluster["rules"].as_array().expect("rules") {
        if strings(&rule["resources"]).iter().any(|r| r.starts_with("services")) {
            assert_eq!(strings(&rule["verbs"]), ["list", "watch"], "{rule}");
        }
    }
    let status = role("Role", "ironlb:speaker-status");
    let resources: Vec<&str> = status["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .flat_map(|r| strings(&r["resources"]))
        .collect();
    for kind in ["servicebgpstatuses", "servicel2statuses", "servicebgpstatuses/status"] {
        assert!(resources.contains(&kind), "{kind}: {resources:?}");
    }
    let pools = role("Role", "ironlb:pool-status");
    assert_eq!(strings(&pools["rules"][0]["resources"]), ["ipaddresspools/status"]);
}

/// The probes of every workload point at a port the container opens and a path the
/// adapter's listener serves (asked over HTTP of the real listener).
#[tokio::test]
async fn every_probe_points_at_a_served_path_and_port() {
    use k8s_adapter::metrics::{ControllerMetrics, SpeakerMetrics, http};
    let listener = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let served =
        tokio::spawn(http::serve(listener, std::sync::Arc::new(SpeakerMetrics::default())));
    let listener = http::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let controller_address = listener.local_addr().unwrap();
    let served_too =
        tokio::spawn(http::serve(listener, std::sync::Arc::new(ControllerMetrics::default())));

    let controller = documents("controller");
    let deployment =
        controller.iter().find(|d| d["kind"] == "Deployment").expect("the controller Deployment");
    let workloads = [
        (deployment["spec"]["template"]["spec"].clone(), "controller", controller_address),
        (speaker_pod(), "speaker", address),
    ];
    for (pod, name, served_at) in workloads {
        let c = container(&pod, "containers", name);
        let flag = strings(&c["args"])
            .iter()
            .find_map(|a| a.strip_prefix("--metrics-address="))
            .map_or(k8s_adapter::metrics::DEFAULT_ADDRESS.to_owned(), str::to_owned);
        let port: u16 = flag.rsplit_once(':').unwrap().1.parse().unwrap();
        for kind in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let probe = &c[kind]["httpGet"];
            assert!(probe.is_object(), "{name} has no {kind}");
            let probe_port = match &probe["port"] {
                Value::Number(n) => n.as_u64().unwrap(),
                Value::String(named) => c["ports"]
                    .as_array()
                    .and_then(|p| p.iter().find(|p| &p["name"] == named))
                    .unwrap_or_else(|| panic!("{name} {kind}: no port named {named}"))["containerPort"]
                    .as_u64()
                    .unwrap(),
                other => panic!("{name} {kind}: port {other}"),
            };
            assert_eq!(probe_port, u64::from(port), "{name} {kind} vs --metrics-address");
            let path = probe["path"].as_str().expect("a path");
            let status = get_status(served_at, path).await;
            assert_ne!(status, 404, "{name} {kind}: {path} is not served");
            if kind != "readinessProbe" {
                assert_eq!(status, 200, "{name} {kind}: {path} must answer while alive");
            }
        }
    }
    // bgpd: its probes run `bgpctl status` against the API socket its config names, in a
    // volume it mounts (the command itself, against a running and a stopped bgpd:
    // bgpd/tests/bgpctl.rs, the_deployed_probe_command_tells_a_serving_bgpd_from_a_gone_one).
    let docs = documents("speaker");
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").expect("bgpd's ConfigMap");
    let toml = cm["data"]["bgpd.toml"].as_str().expect("bgpd.toml");
    let api = toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen = \"unix:"))
        .and_then(|l| l.strip_suffix('"'))
        .expect("bgpd's API on a Unix socket");
    let pod = speaker_pod();
    let bgpd = container(&pod, "containers", "bgpd");
    for kind in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let command = strings(&bgpd[kind]["exec"]["command"]);
        assert_eq!(command.first().copied(), Some("bgpctl"), "bgpd {kind}: {command:?}");
        assert_eq!(command.last().copied(), Some("status"), "bgpd {kind}: {command:?}");
        let at = command.iter().position(|a| *a == "--api").expect("--api");
        assert_eq!(command[at + 1], format!("unix:{api}"), "bgpd {kind}");
        let timeout: f64 =
            command[command.iter().position(|a| *a == "--timeout").unwrap() + 1].parse().unwrap();
        let allowed = bgpd[kind]["timeoutSeconds"].as_f64().expect("timeoutSeconds");
        assert!(timeout < allowed, "bgpd {kind}: bgpctl waits {timeout} s of {allowed} s");
    }
    let mounts = bgpd["volumeMounts"].as_array().expect("mounts");
    let dir = std::path::Path::new(api).parent().unwrap().to_str().unwrap();
    assert!(mounts.iter().any(|m| m["mountPath"] == dir), "bgpd mounts {dir}");
    served.abort();
    served_too.abort();
}

async fn get_status(address: std::net::SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

/// The kustomize base lists exactly the parts deploy/build.sh concatenates into ironlb.yaml,
/// in its order, and it, both overlays and deploy/monitoring render with `kubectl kustomize`.
#[test]
fn kustomize_base_is_the_all_in_one_parts_and_renders() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
    let build = std::fs::read_to_string(format!("{dir}/build.sh")).unwrap();
    let parts: Vec<String> = build
        .lines()
        .find_map(|l| l.trim().strip_prefix("for part in "))
        .and_then(|l| l.strip_suffix("; do"))
        .expect("build.sh's loop over the parts")
        .split_whitespace()
        .map(|p| format!("{p}.yaml"))
        .collect();
    let base = &documents("base/kustomization")[0];
    assert_eq!(strings(&base["resources"]), parts, "deploy/base/kustomization.yaml vs build.sh");
    let roots = ["base", "overlays/bgp-only", "overlays/with-monitoring", "monitoring"];
    for root in roots.map(|r| format!("{dir}/{r}")) {
        let out = std::process::Command::new("kubectl")
            .args(["kustomize", &root])
            .output()
            .expect("kubectl (with its built-in kustomize) must be installed for this test");
        assert!(out.status.success(), "{root}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let rendered: Vec<Value> = serde_saphyr::from_multiple(&text).expect("YAML stream");
        assert!(!rendered.is_empty(), "{root} renders nothing");
        if root.ends_with("bgp-only") {
            assert!(!text.contains("heartbeat-key"), "bgp-only keeps layer2 heartbeat keys");
        }
        // Every variant's speaker still reaches bgpd's API socket (an earlier bgp-only patch
        // deleted all the speaker's mounts with the heartbeat key's).
        if let Some(ds) = rendered.iter().find(|d| d["kind"] == "DaemonSet") {
            let speaker = container(&ds["spec"]["template"]["spec"], "containers", "speaker");
            let mounts: Vec<&str> = speaker["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["mountPath"].as_str())
                .collect();
            assert!(mounts.contains(&"/run/ironlb"), "{root}: speaker mounts {mounts:?}");
        }
        if root.ends_with("with-monitoring") {
            assert!(rendered.iter().any(|d| d["kind"] == "PrometheusRule"), "no alerts");
            assert!(rendered.iter().any(|d| d["kind"] == "DaemonSet"), "no speakers");
            with_monitoring_scrapes_bgpd(&rendered);
        }
    }
}

/// The with-monitoring overlay turns bgpd's metrics on: its config is the base's plus a
/// [metrics] listener on the node's address, the bgpd container opens that port, and the
/// PodMonitor scrapes it beside the adapter's.
fn with_monitoring_scrapes_bgpd(rendered: &[Value]) {
    let toml = |docs: &[Value]| -> String {
        docs.iter()
            .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "ironlb-bgpd")
            .and_then(|d| d["data"]["bgpd.toml"].as_str())
            .expect("bgpd's ConfigMap")
            .to_owned()
    };
    let base = toml(&documents("speaker"));
    let overlay = toml(rendered);
    let listen = "@NODE_IP@:9179";
    assert_eq!(
        overlay.trim_end(),
        format!("{}\n\n[metrics]\nlisten = \"{listen}\"", base.trim_end()),
        "the overlay's bgpd.toml is the base's plus [metrics]"
    );
    let daemonset = rendered.iter().find(|d| d["kind"] == "DaemonSet").expect("speakers");
    let bgpd = container(&daemonset["spec"]["template"]["spec"], "containers", "bgpd");
    let port = bgpd["ports"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "bgpd-metrics"))
        .expect("bgpd's metrics port");
    assert_eq!(port["containerPort"], 9179);
    let monitor = rendered.iter().find(|d| d["kind"] == "PodMonitor").expect("a PodMonitor");
    let ports: Vec<&str> = monitor["spec"]["podMetricsEndpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter_map(|e| e["port"].as_str())
        .collect();
    assert_eq!(ports, ["monitoring", "bgpd-metrics"]);
}

/// Every metric the alerts and the dashboard use is in the README's tables, and those the
/// adapter serves are in its real exposition.
#[test]
fn monitoring_uses_only_metrics_that_exist() {
    use k8s_adapter::metrics::{ControllerMetrics, SpeakerMetrics, http};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/monitoring");
    let rule = &documents("monitoring/prometheusrule")[0];
    let mut exprs: Vec<String> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["expr"].as_str().expect("an expr").to_owned())
        .collect();
    let alerts: Vec<&str> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["alert"].as_str())
        .collect();
    for wanted in ["IronlbBGPSessionDown", "IronlbAddressPoolExhausted", "IronlbConfigStale"] {
        assert!(alerts.contains(&wanted), "{wanted}: {alerts:?}");
    }
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/ironlb-dashboard.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            exprs.push(target["expr"].as_str().expect("an expr").to_owned());
        }
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    // A family shows only once it has a series: one pool.
    let controller = ControllerMetrics::default();
    let usage = k8s_adapter::allocator::PoolUsage { assigned: [1, 0], total: [51, 0] };
    controller.pool_gauges().set([(&"lbpool".to_owned(), &usage)]);
    let served = format!(
        "{}{}",
        http::scrape(&SpeakerMetrics::default()).unwrap(),
        http::scrape(&controller).unwrap()
    );
    let mut names: Vec<&str> = exprs
        .iter()
        .flat_map(|e| e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| w.starts_with("ironlb_"))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(readme.contains(&format!("`{name}`")), "{name} is not in README's tables");
        let adapter = ["ironlb_allocator_", "ironlb_k8s_client_", "ironlb_controller_"]
            .iter()
            .any(|p| name.starts_with(p))
            || name == "ironlb_layer2_addresses_won";
        // Counters show in the exposition by their family name (without `_total`); gauges
        // named `..._total` (MetalLB's) by their whole name.
        let family = name.strip_suffix("_total").unwrap_or(name);
        if adapter {
            let typed = |n: &str| served.contains(&format!("# TYPE {n} "));
            assert!(typed(name) || typed(family), "{name} not served:\n{served}");
        }
    }
}

/// The webhook's Service reaches the controller's `--webhook-address` port; the
/// configuration names that Service, the path served and the defaults the controller
/// patches, and reviews every kind `admission::respond` decides, at create and update.
#[test]
fn the_webhook_configuration_reaches_the_served_path_for_every_kind() {
    use k8s_adapter::config::admission::REVIEWED;
    use k8s_adapter::controller::webhook;
    let docs = documents("webhook");
    let service = docs.iter().find(|d| d["kind"] == "Service").expect("the webhook Service");
    let vwc = docs
        .iter()
        .find(|d| d["kind"] == "ValidatingWebhookConfiguration")
        .expect("the ValidatingWebhookConfiguration");
    assert_eq!(service["metadata"]["name"], webhook::DEFAULT_SERVICE);
    assert_eq!(vwc["metadata"]["name"], webhook::DEFAULT_CONFIGURATION);

    let controller = documents("controller");
    let deployment = controller.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"]);
    let c = container(pod, "containers", "controller");
    let address = strings(&c["args"])
        .iter()
        .find_map(|a| a.strip_prefix("--webhook-address="))
        .expect("the controller serves the webhook")
        .to_owned();
    assert_eq!(address, "0.0.0.0:9443");
    let target = service["spec"]["ports"][0]["targetPort"].as_str().expect("a named port");
    let port = c["ports"].as_array().unwrap().iter().find(|p| p["name"] == target).unwrap();
    assert_eq!(port["containerPort"], 9443);

    let webhooks = vwc["webhooks"].as_array().expect("webhooks");
    assert!(!webhooks.is_empty());
    let mut kinds = Vec::new();
    for w in webhooks {
        assert_eq!(strings(&w["admissionReviewVersions"]), ["v1"]);
        assert_eq!(w["sideEffects"], "None");
        assert_eq!(w["failurePolicy"], "Fail", "closed by default, as MetalLB");
        assert_eq!(w["timeoutSeconds"], 5);
        let svc = &w["clientConfig"]["service"];
        assert_eq!(svc["name"], webhook::DEFAULT_SERVICE);
        assert_eq!(svc["namespace"], "ironlb-system");
        assert_eq!(svc["path"], webhook::server::PATH);
        assert_eq!(svc["port"], service["spec"]["ports"][0]["port"]);
        assert_eq!(
            w["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "ironlb-system"
        );
        for rule in w["rules"].as_array().expect("rules") {
            assert_eq!(strings(&rule["apiGroups"]), ["ironlb.io"]);
            assert_eq!(strings(&rule["operations"]), ["CREATE", "UPDATE"]);
            kinds.extend(strings(&rule["resources"]));
        }
    }
    for kind in REVIEWED {
        assert!(kinds.contains(&kind), "{kind} is not reviewed: {kinds:?}");
    }
}

/// The controller may touch the webhook's Secret and configuration by name only (create
/// aside, which RBAC cannot limit by name), and nothing else of either kind.
#[test]
fn the_controller_keeps_only_its_webhook_secret_and_configuration() {
    use k8s_adapter::controller::webhook;
    let docs = documents("rbac");
    let bound_to_controller = |role: &Value| {
        docs.iter().any(|b| {
            b["kind"].as_str().is_some_and(|k| k.ends_with("Binding"))
                && b["roleRef"]["name"] == role["metadata"]["name"]
                && b["subjects"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["name"] == "ironlb-controller"))
        })
    };
    let mut secret_rules = Vec::new();
    let mut vwc_rules = Vec::new();
    for role in docs.iter().filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole") {
        if !bound_to_controller(role) {
            continue;
        }
        for rule in role["rules"].as_array().into_iter().flatten() {
            let resources = strings(&rule["resources"]);
            if resources.contains(&"secrets") {
                assert_eq!(role["kind"], "Role", "Secrets of ironlb-system only");
                secret_rules.push(rule.clone());
            }
            if resources.contains(&"validatingwebhookconfigurations") {
                vwc_rules.push(rule.clone());
            }
        }
    }
    for rule in &secret_rules {
        let verbs = strings(&rule["verbs"]);
        if verbs == ["create"] {
            continue;
        }
        assert_eq!(strings(&rule["resourceNames"]), [webhook::DEFAULT_SECRET], "{rule}");
        assert_eq!(verbs, ["get", "update"], "{rule}");
    }
    assert_eq!(secret_rules.len(), 2, "{secret_rules:?}");
    assert_eq!(vwc_rules.len(), 1, "{vwc_rules:?}");
    assert_eq!(strings(&vwc_rules[0]["resourceNames"]), [webhook::DEFAULT_CONFIGURATION]);
    assert_eq!(strings(&vwc_rules[0]["verbs"]), ["get", "patch"]);
}
