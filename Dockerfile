# syntax=docker/dockerfile:1
# ironlb: one image with the binaries `bgpd`, `bgpctl` (also bgpd's probe in deploy/) and
# `k8s-adapter` (controller and speaker).
#   docker build -t ghcr.io/ironlb/ironlb:latest .
# The manifests in deploy/ run it with the binary name as the first argument.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and build artifacts between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p bgpd -p k8s-adapter \
 && install -D -m 0755 target/release/bgpd /out/bgpd \
 && install -D -m 0755 target/release/bgpctl /out/bgpctl \
 && install -D -m 0755 target/release/k8s-adapter /out/k8s-adapter

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY conf/bgpd.toml /etc/ironlb/bgpd.toml
CMD ["k8s-adapter", "--help"]
