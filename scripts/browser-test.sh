#!/usr/bin/env bash
# Real-browser end-to-end test of the web shop: starts its own 3-node cluster
# (fresh data in a temp dir) and 2 gateways, then drives headless chromium
# through register -> 2FA -> login -> queue -> hold -> (leader SIGKILLed) ->
# pay -> tickets on both gateways (gateway/tests/browser/shop_flow.py).
#
#   ./scripts/browser-test.sh
#
# Screenshots and summary.json go to ${INGRESSOJA_ARTIFACTS:-$CARGO_TARGET_DIR/browser-artifacts}.
# Needs ports 7101-7103, 9101-9103 (nodes) and 8080-8081 (gateways) free.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  "") ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "error: unknown option $1 (try --help)" >&2; exit 2 ;;
esac

. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"
venv="${INGRESSOJA_VENV:-$HOME/.cache/ingressoja-venv}"
artifacts="${INGRESSOJA_ARTIFACTS:-$CARGO_TARGET_DIR/browser-artifacts}"
bin="$CARGO_TARGET_DIR/debug"
cfg=cluster-config/configs/local-3
nodes=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
shops=(http://localhost:8080 http://localhost:8081)

check_ports() {
  local port
  for port in 7101 7102 7103 9101 9102 9103 8080 8081; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "error: port $port is already in use (run-local.sh or another test running?)" >&2
      exit 1
    fi
  done
}
check_ports
for n in 1 2; do
  if [ ! -f "$cfg/gateway$n.toml" ]; then
    echo "error: $cfg/gateway$n.toml is missing" >&2
    exit 1
  fi
done

./scripts/ensure-browser.sh
./scripts/ensure-deps.sh
. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh" # again: ensure-deps may have just installed RocksDB
echo "building (a no-op when up to date)..."
# `cargo test --no-run` builds the binaries with the same features as the test
# run, so this reuses its artefacts (a `cargo build -p ...` may resolve other
# features and recompile RocksDB).
cargo test --workspace --locked --no-run --quiet
check_ports

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ingressoja-browser.XXXXXX")
pids=()
logs=()
status_file="$tmp/ok"
ran=0
cleanup() {
  local rc=$? pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -f "$status_file" ]; then
    rm -rf "$tmp"
  else
    [ "$rc" = 0 ] && rc=1
    local log
    for log in "${logs[@]}"; do
      echo "----- last 30 lines of $log" >&2
      tail -n 30 "$log" >&2 || true
    done
    echo "browser test FAILED; stack logs kept in $tmp" >&2
  fi
  if [ "$ran" = 1 ]; then echo "screenshots and summary.json: $artifacts"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Started processes must still run; else show why not.
alive_or_die() {
  local what=$1 pid=$2 log=$3
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: $what exited; see its log below ($log)" >&2
    exit 1
  fi
}

# Mutual TLS as run-local.sh has it, with the run's own certificates; the
# CLI (here and in shop_flow.py) finds its operator certificate through
# INGRESSOJA_PKI_DIR.
"$bin/ingressoja" pki init --dir "$tmp/pki" --cluster local --node-ids 1,2,3 \
  --gateways web --operators admin >/dev/null
export INGRESSOJA_PKI_DIR="$tmp/pki"
echo "starting 3 nodes (data in $tmp)..."
for n in 1 2 3; do
  sed -E -e "s|^data_dir[[:space:]]*=.*|data_dir = \"$tmp/node$n\"|" \
    -e "s|\.data/pki/local-3|$tmp/pki|" "$cfg/node$n.toml" >"$tmp/node$n.toml"
  grep -q "$tmp/pki/node-$n.pem" "$tmp/node$n.toml" ||
    { echo "error: no [tls] cert_file to rewrite in $cfg/node$n.toml" >&2; exit 1; }
  grep -q "^data_dir = \"$tmp/node$n\"" "$tmp/node$n.toml" ||
    { echo "error: no data_dir line to rewrite in $cfg/node$n.toml" >&2; exit 1; }
  "$bin/ingressoja-node" --config "$tmp/node$n.toml" >"$tmp/node$n.log" 2>&1 &
  pids+=($!)
  disown  # no "Killed" job notice when the test SIGKILLs the leader
  logs+=("$tmp/node$n.log")
  echo $! >"$tmp/node$n.pid"
done

cli=("$bin/ingressoja" --nodes "$nodes")
echo "waiting for a leader..."
for i in $(seq 1 60); do
  # Formed: all three nodes lead or follow (node 1 adds the others as
  # learners first, then makes them voters).
  formed=$("${cli[@]}" cluster status 2>/dev/null | grep -Ec '^ *[0-9]+ +[^ ]+ +(leader|follower) ' || true)
  if [ "$formed" -ge 3 ]; then break; fi
  for n in 1 2 3; do alive_or_die "node $n" "$(cat "$tmp/node$n.pid")" "$tmp/node$n.log"; done
  if [ "$i" = 60 ]; then echo "error: no leader after 30 s" >&2; exit 1; fi
  sleep 0.5
done
"${cli[@]}" cluster status

echo "creating events..."
"${cli[@]}" event create --event rock-2026 --name "Festival de Rock 2026 — dia 1" \
    --category pista:Pista:1000:45000:4 \
    --category premium:Pista-Premium:200:95000:4 \
    --category cadeira:Cadeira:500:65000:4 \
    --event-limit 4 --one-live-hold
# As in run-local.sh, but admitting 10 a second so the test is not kept waiting.
"${cli[@]}" event create --event rock-2026-fila --name "Festival de Rock 2026 — dia 2 (fila)" \
    --category pista:Pista:1000:45000:4 \
    --event-limit 4 --one-live-hold --queue --admit-per-minute 600 --max-active 100

echo "starting 2 gateways..."
for n in 1 2; do
  sed -e "s|\.data/pki/local-3|$tmp/pki|" "$cfg/gateway$n.toml" >"$tmp/gateway$n.toml"
  "$bin/ingressoja-gateway" --config "$tmp/gateway$n.toml" >"$tmp/gateway$n.log" 2>&1 &
  pids+=($!)
  logs+=("$tmp/gateway$n.log")
  echo $! >"$tmp/gateway$n.pid"
done
for n in 1 2; do
  url="${shops[$((n - 1))]}/healthz"
  for i in $(seq 1 60); do
    if "$venv/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
        "$url" 2>/dev/null; then
      break
    fi
    alive_or_die "gateway $n" "$(cat "$tmp/gateway$n.pid")" "$tmp/gateway$n.log"
    if [ "$i" = 60 ]; then echo "error: $url not healthy after 30 s" >&2; exit 1; fi
    sleep 0.5
  done
  echo "gateway $n healthy: $url"
done

echo "running the browser test..."
ran=1
"$venv/bin/python" gateway/tests/browser/shop_flow.py \
  --shop "${shops[0]}" --shop2 "${shops[1]}" --artifacts "$artifacts" \
  --nodes "$nodes" --cli "$bin/ingressoja" --node-pids-dir "$tmp"
touch "$status_file"
echo "browser test passed"
