#!/usr/bin/env bash
# Builds the container images without pulling anything: each image is FROM
# scratch, holding a binary and the shared libraries `ldd` lists for it.
#
#   ./scripts/build-images.sh             # debug binaries (share the test build)
#   ./scripts/build-images.sh --release   # optimised binaries (a few minutes more)
#   ./scripts/build-images.sh --planted-bugs  # also ingressoja-node:planted (with --release too)
#
# Images: ingressoja-node:local, ingressoja-gateway:local, ingressoja-prometheus:local
# (the last from Debian's prometheus package, installed when missing); with
# --planted-bugs also ingressoja-node:planted, whose node is built with the
# planted test bugs (node feature `planted-bugs`, for the chaos checkers' own
# tests) into its own target directory, $CARGO_TARGET_DIR/planted, so it never
# replaces the normal binary. The normal node binary is checked to carry no
# planted code before it goes into an image, the planted one to carry it.
set -euo pipefail
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"
profile=debug
planted=no
for arg in "$@"; do
  case "$arg" in
    --release) profile=release ;;
    --planted-bugs) planted=yes ;;
    *) echo "error: unknown option $arg (--release, --planted-bugs)" >&2; exit 2 ;;
  esac
done
if [ "$profile" = release ]; then
  cargo build --release --locked -p ingressoja-node -p ingressoja-gateway -p ingressoja-cli --bins
else
  cargo test --workspace --locked --no-run --quiet
fi
bin="$CARGO_TARGET_DIR/$profile"
./scripts/check-planted-bugs.sh --absent "$bin/ingressoja-node"
if [ "$planted" = yes ]; then
  planted_target="$CARGO_TARGET_DIR/planted"
  release_flag=()
  [ "$profile" = release ] && release_flag=(--release)
  cargo build "${release_flag[@]}" --locked -p ingressoja-node --bin ingressoja-node \
    --features planted-bugs --target-dir "$planted_target"
  planted_bin="$planted_target/$profile/ingressoja-node"
  ./scripts/check-planted-bugs.sh --present "$planted_bin"
fi
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
# The node image's root filesystem in $1, around the node binary $2.
node_rootfs() {
  local dir="$1" node_binary="$2"
  rootfs "$dir" "$node_binary" /usr/local/bin/ingressoja-node
  rootfs "$dir" "$bin/ingressoja" /usr/local/bin/ingressoja
  mkdir -p "$dir/data"
  if [ -n "$faketime_lib" ]; then
    mkdir -p "$dir/usr/lib/faketime"
    cp -L "$faketime_lib" "$dir/usr/lib/faketime/libfaketime.so.1"
    ldd "$faketime_lib" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
      mkdir -p "$dir$(dirname "$lib")"
      cp -L "$lib" "$dir$lib"
    done
  fi
}
node_rootfs "$work/node" "$bin/ingressoja-node"
if [ "$planted" = yes ]; then
  node_rootfs "$work/node-planted" "$planted_bin"
fi
rootfs "$work/gateway" "$bin/ingressoja-gateway" /usr/local/bin/ingressoja-gateway
rootfs "$work/prometheus" /usr/bin/prometheus /usr/bin/prometheus
mkdir -p "$work/prometheus/prometheus" "$work/prometheus/etc/prometheus"

docker build -q -f docker/node.Dockerfile -t ingressoja-node:local "$work/node"
if [ "$planted" = yes ]; then
  docker build -q -f docker/node.Dockerfile -t ingressoja-node:planted "$work/node-planted"
fi
docker build -q -f docker/gateway.Dockerfile -t ingressoja-gateway:local "$work/gateway"
docker build -q -f docker/prometheus.Dockerfile -t ingressoja-prometheus:local "$work/prometheus"
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^ingressoja-(node|gateway|prometheus):(local|planted)'
