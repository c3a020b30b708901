#!/usr/bin/env bash
# Runs every check of the workspace: formatting and clippy first (they fail
# fast), then unit, property and golden tests, the README's main command as
# printed (tests/readme_command.rs) and the interop tests against real FRR and
# BIRD inside network namespaces.
# Installs what the tests need on a fresh Debian machine (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR=never
# The workspace's lints (unwrap_used, expect_used, ...) are enforced here.
echo "checking formatting: cargo fmt --all -- --check"
cargo fmt --all -- --check
echo "checking lints: cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

missing=()
[ -x /usr/lib/frr/bgpd ] || missing+=(frr)
command -v bird >/dev/null 2>&1 || missing+=(bird2)
# GoBGP: a fourth DUT of the table benchmark, crossed by tests/bench_rig.rs.
command -v gobgpd >/dev/null 2>&1 || missing+=(gobgpd)
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
command -v arping >/dev/null 2>&1 || missing+=(arping)
command -v ndisc6 >/dev/null 2>&1 || missing+=(ndisc6)
command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
# `kubectl kustomize` renders deploy/'s base and overlays (k8s-adapter/tests/manifests.rs).
# Debian's kubernetes-client is kubectl 1.20 with kustomize 2.0, which the overlays are
# written for as well as for today's kustomize 5.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The interop tests start the binaries built here.
cargo build --workspace --bins
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast 2>&1 | tee "$log" || status=$?
# One closing line for the whole run: cargo's own last lines are the (empty)
# doc-test summaries, which say nothing about the hundreds of tests above them.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?/) p += $i; if ($(i+1) ~ /^failed;?/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
