//! The binary's offline subcommands, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_k8s-adapter"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn k8s-adapter");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or("").as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait")
}

fn docs(out: &Output) -> Vec<serde_json::Value> {
    serde_saphyr::from_multiple(&String::from_utf8_lossy(&out.stdout)).expect("YAML stream")
}

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/seed-lbconfig.yaml");

#[test]
fn crds_prints_the_definitions_with_schemas() {
    let out = run(&["crds"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs = docs(&out);
    let names: Vec<&str> =
        docs.iter().map(|d| d["metadata"]["name"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        names,
        [
            "ipaddresspools.ironlb.io",
            "bgppeers.ironlb.io",
            "bgpadvertisements.ironlb.io",
            "l2advertisements.ironlb.io",
            "communities.ironlb.io",
            "bfdprofiles.ironlb.io",
            "servicebgpstatuses.ironlb.io",
            "servicel2statuses.ironlb.io"
        ]
    );
    for d in &docs {
        assert_eq!(d["kind"], "CustomResourceDefinition");
        assert_eq!(d["spec"]["scope"], "Namespaced");
        let version = &d["spec"]["versions"][0];
        assert_eq!(version["name"], "v1beta1");
        assert!(version["schema"]["openAPIV3Schema"]["properties"]["spec"].is_object(), "{d}");
    }
    let pool_props = &docs[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    for field in ["addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation"] {
        assert!(pool_props[field].is_object(), "{field}");
    }
}

#[test]
fn migrate_seed_file() {
    let out = run(&["migrate", "--file", SEED], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let docs = docs(&out);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["kind"], "IPAddressPool");
    assert_eq!(docs[0]["apiVersion"], "ironlb.io/v1beta1");
    assert_eq!(docs[0]["metadata"]["name"], "lbpool");
    assert_eq!(docs[0]["metadata"]["namespace"], "ironlb-system");
    assert_eq!(docs[0]["spec"]["addresses"][0], "11.11.11.150-11.11.11.200");
    assert_eq!(docs[1]["kind"], "L2Advertisement");
    assert_eq!(docs[1]["spec"]["ipAddressPools"][0], "lbpool");
}

#[test]
fn migrate_reads_stdin_and_reports_bad_objects() {
    let doc = "address-pools:\n\
- name: good\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n\
- name: backwards\n  protocol: bgp\n  addresses: [203.0.113.20-203.0.113.10]\n";
    let out = run(&["migrate", "--namespace", "lb"], Some(doc));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: IPAddressPool lb/backwards: spec.addresses[0]: range 203.0.113.20-203.0.113.10 is written backwards"),
        "{stderr}"
    );
    // Everything is still printed, the good pool included.
    let docs = docs(&out);
    assert_eq!(docs[0]["metadata"]["name"], "good");
    assert_eq!(docs[0]["metadata"]["namespace"], "lb");
}

#[test]
fn migrate_refuses_unreadable_input() {
    let out = run(&["migrate", "-f", "-"], Some("address-pools: [[["));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid YAML"));
    assert!(out.stdout.is_empty());
}

#[test]
fn controller_and_speaker_need_their_identity() {
    for (cmd, flag) in [("controller", "--identity"), ("speaker", "--node-name")] {
        let out = Command::new(env!("CARGO_BIN_EXE_k8s-adapter"))
            .arg(cmd)
            .env_remove("POD_NAME")
            .env_remove("NODE_NAME")
            .output()
            .expect("run k8s-adapter");
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag), "{cmd}");
    }
}

/// `deploy/base/crds.yaml` (and so the all-in-one manifest's CRDs) is what `crds` prints.
#[test]
fn deploy_crds_yaml_is_the_generated_one() {
    let out = run(&["crds"], None);
    assert!(out.status.success());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/base/crds.yaml");
    let file = std::fs::read_to_string(path).expect("deploy/base/crds.yaml");
    assert!(
        file == String::from_utf8_lossy(&out.stdout),
        "deploy/base/crds.yaml is stale: cargo run -p k8s-adapter -- crds > deploy/base/crds.yaml"
    );
}

/// `deploy/ironlb.yaml` holds every part as it is now (deploy/build.sh concatenates them).
#[test]
fn all_in_one_manifest_is_up_to_date() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
    let all = std::fs::read_to_string(format!("{dir}/ironlb.yaml")).expect("deploy/ironlb.yaml");
    for part in ["namespace", "crds", "rbac", "controller", "webhook", "speaker"] {
        let text = std::fs::read_to_string(format!("{dir}/base/{part}.yaml")).expect("part");
        assert!(
            all.contains(text.trim_start_matches("---\n")),
            "deploy/ironlb.yaml lacks the current {part}.yaml: run deploy/build.sh"
        );
    }
    // Every document parses.
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&all).expect("YAML stream");
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "Role",
        "Deployment",
        "DaemonSet",
        "ConfigMap",
        "ValidatingWebhookConfiguration",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in deploy/ironlb.yaml");
    }
}
