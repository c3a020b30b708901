//! The built `k8s-adapter` binary's long-running subcommands, run as the manifests run
//! them (configuration through `KUBECONFIG` and flags), against the in-process API server:
//! `controller` gives a Service its address and, on SIGTERM, exits cleanly after
//! releasing its Lease; `speaker` reads the same world and shows that it announces the
//! Service (its Events), with no bgpd to talk to (it keeps retrying that link).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// A child process killed (by its PID) when the test ends, whatever happens.
struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    fn start(kubeconfig: &PathBuf, log: PathBuf, args: &[&str]) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_k8s-adapter"))
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn k8s-adapter");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (polling, with a deadline) for the exit status.
    async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the child is not reaped yet,
        // so the PID is still ours.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
        let limit = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < limit, "no exit after SIGTERM; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("k8s-adapter-binary-{}-{name}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_and_speaker_subcommands_run_against_the_api_server() {
    let server = server().await;
    server.insert(pool("p", &["198.51.100.10-198.51.100.20"])).await.unwrap();
    server
        .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPPeer",
            "metadata": {"name": "tor", "namespace": NS},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "192.0.2.1"}}))
        .await
        .unwrap();
    server
        .insert(json!({"apiVersion": "ironlb.io/v1beta1", "kind": "BGPAdvertisement",
            "metadata": {"name": "all", "namespace": NS}, "spec": {}}))
        .await
        .unwrap();
    server
        .insert(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}))
        .await
        .unwrap();
    server.insert(lb_service("default", "a", json!({}))).await.unwrap();
    server
        .insert(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "a-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "a"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true},
                           "nodeName": "n1"}]}))
        .await
        .unwrap();
    // Each runs as its ServiceAccount, with the permissions deploy/base/rbac.yaml grants it.
    let kubeconfig = scratch("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig_as(None, CONTROLLER)).unwrap();
    let speaker_kubeconfig = scratch("kubeconfig-speaker");
    std::fs::write(&speaker_kubeconfig, server.kubeconfig_as(None, SPEAKER)).unwrap();

    let mut controller = Running::start(
        &kubeconfig,
        scratch("controller.log"),
        // A free port each: both would take MetalLB's 7472 by default.
        &["controller", "--namespace", NS, "--identity", "bin-0", "--metrics-address=127.0.0.1:0"],
    );
    let speaker = Running::start(
        &speaker_kubeconfig,
        scratch("speaker.log"),
        &[
            "speaker",
            "--namespace",
            NS,
            "--node-name",
            "n1",
            "--bgpd-api",
            "unix:/nonexistent/bgpd.sock",
            "--metrics-address=127.0.0.1:0",
        ],
    );
    let svc = server
        .wait_for_object("v1", "Service", Some("default"), "a", DEADLINE, |o| {
            o.is_some_and(|o| ingress(o) == ["198.51.100.10"])
        })
        .await;
    assert!(
        matches!(svc, Ok(Some(_))),
        "no address: {svc:?}\ncontroller log:\n{}",
        controller.log()
    );
    let note = wait_event(&server, "Service", "a", "AnnouncingFromNode", "node n1").await;
    assert!(note.contains("tor"), "{note}; speaker log:\n{}", speaker.log());

    let status = controller.terminate().await;
    assert!(status.success(), "{status:?}; log:\n{}", controller.log());
    let lease = server
        .get("coordination.k8s.io/v1", "Lease", Some(NS), "ironlb-controller")
        .await
        .unwrap()
        .unwrap();
    assert!(lease["spec"]["holderIdentity"].is_null(), "{lease}");
    let _ = std::fs::remove_file(&kubeconfig);
    let _ = std::fs::remove_file(&speaker_kubeconfig);
}
