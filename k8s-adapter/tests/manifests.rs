//! What `deploy/` grants, read from the manifests themselves: each container's privileges
//! (least privilege, issue #14) and bgpd's graceful restart state on a volume that outlives
//! the container.

use serde_json::Value;

fn documents(part: &str) -> Vec<Value> {
    let path = format!("{}/../deploy/{part}.yaml", env!("CARGO_MANIFEST_DIR"));
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
            assert_eq!(strings(&rule["verbs"]), ["get", "list", "watch"], "{rule}");
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
