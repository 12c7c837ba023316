#!/usr/bin/env bash
# Builds and starts a local 3-node IngressoJá cluster on loopback with two
# gateways serving the shop, creates demo events, and stops everything on Ctrl-C.
#
#   ./scripts/run-local.sh            # keep data in .data/ between runs
#   ./scripts/run-local.sh --fresh    # wipe .data/ first
#   ./scripts/run-local.sh --release  # optimised build (slower first build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

profile=debug
fresh=0
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    --release) profile=release ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "error: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

./scripts/ensure-deps.sh
. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"
if [ -z "${ROCKSDB_COMPILE:-}" ]; then
  echo "building (a fresh machine's first build takes about 9 minutes on 2 cores; RocksDB is Debian's)..."
else
  echo "building (no librocksdb-dev: the first build compiles RocksDB's C++, about 35 minutes on 2 cores)..."
fi
if [ "$profile" = release ]; then
  cargo build --release --locked -p ingressoja-node -p ingressoja-cli -p ingressoja-gateway --bins
else
  # Same command (and features) as the test run builds the binaries with, so
  # running the tests afterwards (or before) reuses every artefact.
  cargo test --workspace --locked --no-run --quiet
fi
bin="$CARGO_TARGET_DIR/$profile"

for port in 7101 7102 7103 8080 8081; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port is already in use (another cluster running?)" >&2
    exit 1
  fi
done

[ "$fresh" = 1 ] && rm -rf .data
mkdir -p .data
# Mutual TLS between every process: the cluster's CA and certificates (the
# nodes, spares 4 and 5, the gateways' "web", the CLI's "admin"), made on the
# first start and kept in .data/pki/local-3 (never committed). ca.key stays
# there so a spare's certificate can be made later; keep it offline in production.
"$bin/ingressoja" pki init --dir .data/pki/local-3 --cluster local \
  --node-ids 1,2,3,4,5 --gateways web --operators admin >/dev/null
pids=()
stop() {
  echo
  echo "stopping the cluster..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Nodes restarted by hand from the hint below are ours too.
  pkill -TERM -f "ingressoja-node --config cluster-config/configs/local-3/" 2>/dev/null || true
  pkill -TERM -f "ingressoja-gateway --config cluster-config/configs/local-3/" 2>/dev/null || true
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped. Data kept in $root/.data (use --fresh to start over)."
}
trap stop EXIT
trap 'exit 130' INT TERM

for n in 1 2 3; do
  "$bin/ingressoja-node" --config "cluster-config/configs/local-3/node$n.toml" >".data/node$n.log" 2>&1 &
  pids+=($!)
done

export INGRESSOJA_NODES=127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
cli="$bin/ingressoja"
echo "waiting for a leader..."
for _ in $(seq 1 60); do
  # Formed: all three nodes lead or follow (node 1 adds the others as
  # learners first, then makes them voters).
  formed=$("$cli" cluster status 2>/dev/null | grep -Ec '^ *[0-9]+ +[^ ]+ +(leader|follower) ' || true)
  if [ "$formed" -ge 3 ]; then break; fi
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "error: node $((i + 1)) exited; its log:" >&2
      tail -20 ".data/node$((i + 1)).log" >&2
      exit 1
    fi
  done
  sleep 0.5
done
"$cli" cluster status

# Runs a setup command; "already exists" answers are fine on a second start.
setup() {
  local out
  if ! out=$("$@" 2>&1); then
    case "$out" in
      *event_exists*|*customer_exists*) echo "(already there) $out" ;;
      *) echo "$out" >&2; exit 1 ;;
    esac
  else
    echo "$out"
  fi
}
# The Rock in Rio rule: at most 4 tickets per CPF for the day, one live hold at a time.
setup "$cli" event create --event rock-2026 --name "Festival de Rock 2026 — dia 1" \
    --category pista:Pista:1000:45000:4 \
    --category premium:Pista-Premium:200:95000:4 \
    --category cadeira:Cadeira:500:65000:4 \
    --event-limit 4 --one-live-hold
# The same day sold through the virtual queue: 60 admissions a minute, 100 shoppers at once.
setup "$cli" event create --event rock-2026-fila --name "Festival de Rock 2026 — dia 2 (fila)" \
    --category pista:Pista:1000:45000:4 \
    --event-limit 4 --one-live-hold --queue --admit-per-minute 60 --max-active 100
setup "$cli" register --customer ana --email ana@example.com --cpf 529.982.247-25 \
    --name "Ana Souza" --password demo-password-ana

for g in 1 2; do
  "$bin/ingressoja-gateway" --config "cluster-config/configs/local-3/gateway$g.toml" >".data/gateway$g.log" 2>&1 &
  pids+=($!)
done
for port in 8080 8081; do
  for _ in $(seq 1 40); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.25
  done
done

cat <<INFO

IngressoJá is running: 3 nodes on 127.0.0.1:7101, :7102, :7103 (logs in .data/nodeN.log)
and two gateways (logs in .data/gatewayN.log).

  ==> The shop: http://localhost:8080   (second gateway: http://localhost:8081)
      Register, turn on two-step verification, and buy. Demo account: ana /
      demo-password-ana (no 2FA). The JSON API is described at
      http://localhost:8080/api/v1/openapi.json

From the command line, in another terminal:

  export INGRESSOJA_NODES=$INGRESSOJA_NODES
  alias ingressoja=$cli
  ingressoja availability --event rock-2026
  ingressoja hold --event rock-2026 --category pista --customer ana --quantity 2
  ingressoja purchase --hold <HOLD_ID> --customer ana        # --payment-token decline to see a refusal
  ingressoja tickets --customer ana
  ingressoja queue join --event rock-2026-fila --customer ana
  ingressoja queue status --event rock-2026-fila --customer ana --wait
  ingressoja events watch --customer ana
  ingressoja audit verify
  ingressoja cluster status

Try a failure: kill one node (e.g. pkill -KILL -f local-3/node2.toml) and keep
buying; restart it with:
  $bin/ingressoja-node --config cluster-config/configs/local-3/node2.toml >>.data/node2.log 2>&1 &

Press Ctrl-C to stop the cluster.
INFO
# Keep running while nodes die and come back: only Ctrl-C (or TERM) stops the cluster.
while true; do sleep 1; done
