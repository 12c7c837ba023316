#!/usr/bin/env bash
# Restarts the nodes of the local cluster (scripts/run-local.sh) one at a time,
# followers first and the leader last, waiting after each until it is back and
# caught up: how to roll out a new binary without stopping the sale.
# In production, pass your service manager's command instead, e.g.
#   ingressoja cluster rolling-restart --restart-command 'systemctl restart ingressoja-node@{id}'
set -euo pipefail
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"
bin="$CARGO_TARGET_DIR/debug"
export INGRESSOJA_NODES="${INGRESSOJA_NODES:-127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103}"
# Stop node {id} (wait until its process is gone: RocksDB allows one opener),
# then start it again from the same config and data directory.
restart='cfg=$(ls cluster-config/configs/local-3/node{id}.toml cluster-config/configs/local-3/spare/node{id}.toml 2>/dev/null | head -1)
pkill -TERM -f "ingressoja-node --config $cfg" || true
while pgrep -f "ingressoja-node --config $cfg" >/dev/null; do sleep 0.1; done
nohup '"$bin"'/ingressoja-node --config "$cfg" >>.data/node{id}.log 2>&1 &'
exec "$bin/ingressoja" cluster rolling-restart --restart-command "$restart" "$@"
