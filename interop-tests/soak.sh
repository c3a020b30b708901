#!/bin/sh
# The soak of issue #17: bgpd with FRR and BIRD peers for --minutes N (default 30) under
# 10,000 API prefix changes a second, misbehaving API clients and a link with 5 % loss and
# 200 ms delay each way. Run as root from the workspace root:
#
#   interop-tests/soak.sh [--release] [--minutes N] [--netem] [other flags of the soak binary]
#
# --release builds and runs bgpd's release binary (niced), otherwise the debug one.
# --netem impairs the link with `tc netem` instead of the userspace wire (needs sch_netem).
# The samples go to ironlb-soak.csv in the temporary directory unless --csv FILE is given.
set -eu
profile=debug
cargo_flags=""
if [ "${1:-}" = "--release" ]; then
    profile=release
    cargo_flags="--release"
    shift
fi
nice -n 10 cargo build $cargo_flags -p bgpd --bin bgpd
nice -n 10 cargo build -p interop-tests --bin soak
target="${CARGO_TARGET_DIR:-target}"
exec "$target/debug/soak" --bgpd "$target/$profile/bgpd" "$@"
