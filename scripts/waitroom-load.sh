#!/usr/bin/env bash
# Measures how many waiting-room SSE connections one gateway (release
# build) holds and its memory per connection (issue 14, item 6): a one-node
# in-process cluster, N fans queued, N waiting pages opened from several
# loopback source addresses, the gateway's RSS before and after.
#
#   ./scripts/waitroom-load.sh                   # as many as `ulimit -n` allows
#   ./scripts/waitroom-load.sh --connections 10000
#
# Each connection is one file descriptor in the gateway and one in the
# load process, so N is bounded by the hard `ulimit -n` (raised here as far
# as it goes; raising the hard limit itself needs CAP_SYS_RESOURCE).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cargo-env.sh

hard=$(ulimit -Hn)
ulimit -n "$hard"
connections=""
for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
  esac
done
if [[ " $* " != *" --connections "* ]]; then
  # Leave room for the cluster's files, sockets and the gateway's own.
  connections=$(( hard > 60000 ? 50000 : hard - 1000 ))
  set -- --connections "$connections" "$@"
fi
echo "open files limit: $hard (hard); measuring with: $*"
cargo build --release -p ingressoja-gateway --bin ingressoja-gateway --example waitroom_load
"$CARGO_TARGET_DIR/release/examples/waitroom_load" \
  --gateway-bin "$CARGO_TARGET_DIR/release/ingressoja-gateway" "$@"
