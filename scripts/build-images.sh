#!/usr/bin/env bash
# Builds the container images without pulling anything: each image is FROM
# scratch, holding a binary and the shared libraries `ldd` lists for it.
#
#   ./scripts/build-images.sh             # debug binaries (share the test build)
#   ./scripts/build-images.sh --release   # optimised (compiles RocksDB again, ~20 min)
#
# Images: ingressoja-node:local, ingressoja-gateway:local, ingressoja-prometheus:local
# (the last from Debian's prometheus package, installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"
profile=debug
[ "${1:-}" = --release ] && profile=release
if [ "$profile" = release ]; then
  cargo build --release --locked -p ingressoja-node -p ingressoja-gateway -p ingressoja-cli --bins
else
  cargo test --workspace --locked --no-run --quiet
fi
bin="$CARGO_TARGET_DIR/$profile"
command -v prometheus >/dev/null || ./scripts/ensure-prometheus.sh >/dev/null
# libfaketime (Debian) goes into the node image for the chaos tests' clock
# nemesis; it does nothing unless LD_PRELOAD names it.
faketime_lib=$(ls /usr/lib/*-linux-gnu/faketime/libfaketime.so.1 2>/dev/null | head -n 1 || true)
if [ -z "$faketime_lib" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing libfaketime (Debian) for the chaos tests' clock nemesis..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaketime >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfaketime >/dev/null; }
    faketime_lib=$(ls /usr/lib/*-linux-gnu/faketime/libfaketime.so.1 | head -n 1)
  else
    echo "warning: libfaketime is missing (apt-get install libfaketime); the clock nemesis will not work" >&2
  fi
fi

work="$CARGO_TARGET_DIR/images"
rm -rf "$work"
# Copies a binary (stripped of debug info) and its shared libraries into a root filesystem.
rootfs() {
  local dir="$1" binary="$2" dest="$3"
  mkdir -p "$dir$(dirname "$dest")" "$dir/tmp"
  chmod 1777 "$dir/tmp"
  objcopy --strip-debug "$binary" "$dir$dest"
  ldd "$binary" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
  done
}
rootfs "$work/node" "$bin/ingressoja-node" /usr/local/bin/ingressoja-node
rootfs "$work/node" "$bin/ingressoja" /usr/local/bin/ingressoja
mkdir -p "$work/node/data"
if [ -n "$faketime_lib" ]; then
  mkdir -p "$work/node/usr/lib/faketime"
  cp -L "$faketime_lib" "$work/node/usr/lib/faketime/libfaketime.so.1"
  ldd "$faketime_lib" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
    mkdir -p "$work/node$(dirname "$lib")"
    cp -L "$lib" "$work/node$lib"
  done
fi
rootfs "$work/gateway" "$bin/ingressoja-gateway" /usr/local/bin/ingressoja-gateway
rootfs "$work/prometheus" /usr/bin/prometheus /usr/bin/prometheus
mkdir -p "$work/prometheus/prometheus" "$work/prometheus/etc/prometheus"

docker build -q -f docker/node.Dockerfile -t ingressoja-node:local "$work/node"
docker build -q -f docker/gateway.Dockerfile -t ingressoja-gateway:local "$work/gateway"
docker build -q -f docker/prometheus.Dockerfile -t ingressoja-prometheus:local "$work/prometheus"
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^ingressoja-(node|gateway|prometheus):local'
