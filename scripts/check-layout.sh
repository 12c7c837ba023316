#!/usr/bin/env bash
# Checks that the crates' dependencies still say their roles (ARCHITECTURE.md,
# "Crates by role"): the compiler enforces these only once they are true, so
# this script keeps them true.
#
#   - the gateway builds no storage engine: no rocksdb under it;
#   - the checkers see no workspace crate but the codes crate;
#   - the client library links neither the node nor the CLI's crates;
#   - the chaos harness and the benchmark do not link the node.
#
#   ./scripts/check-layout.sh              # check this checkout
#   ./scripts/check-layout.sh --self-test  # plant violations in a scratch
#                                          # worktree and require each caught
set -euo pipefail
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"

if [ "${1:-}" = --self-test ]; then
  scratch=$(mktemp -d)
  trap 'git worktree remove --force "$scratch/tree" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
  git worktree add -q --detach "$scratch/tree" HEAD
  (
    cd "$scratch/tree"
    # Three planted violations: the checkers see the node, the client takes
    # clap, the gateway reaches RocksDB through a dependency on the node.
    sed -i 's/^\[dependencies\]/[dependencies]\ningressoja-node = { workspace = true }/' chaos-tests/checkers/Cargo.toml
    sed -i 's/^\[dependencies\]/[dependencies]\nclap = { workspace = true }/' client/Cargo.toml
    sed -i 's/^\[dependencies\]/[dependencies]\ningressoja-node = { workspace = true }/' gateway/Cargo.toml
    cargo update --workspace --offline --quiet
    if out=$(./scripts/check-layout.sh 2>&1); then
      echo "layout self-test: FAILED: the planted violations passed the check" >&2
      exit 1
    fi
    for expected in "ingressoja-checkers depends on" "ingressoja-client depends on clap" "the gateway depends on rocksdb"; do
      if ! grep -qF "$expected" <<<"$out"; then
        echo "layout self-test: FAILED: not caught: $expected" >&2
        echo "$out" >&2
        exit 1
      fi
    done
  )
  echo "layout self-test: ok (each planted violation was caught)"
  exit 0
fi

fail=0
# Prints the dependency tree of a package, one crate name per line
# (deduplicated); `deps PACKAGE 1` only its own dependencies. A package that
# is not there fails the check.
deps() {
  local tree depth=()
  [ -n "${2:-}" ] && depth=(--depth "$2")
  if ! tree=$(cargo tree --locked --offline -p "$1" -e normal,build "${depth[@]}" --prefix none --format '{p}' 2>&1); then
    echo "layout: FAILED: cannot list the dependencies of $1: $tree" >&2
    echo "layout-check-failed"
    return
  fi
  echo "$tree" | awk '{print $1}' | sort -u
}
# Fails the check with a message.
refuse() {
  echo "layout: FAILED: $*" >&2
  fail=1
}

gateway_rocksdb=$(cargo tree --locked --offline -p ingressoja-gateway -e normal,build -i rocksdb 2>/dev/null || true)
if [ -n "$gateway_rocksdb" ]; then
  refuse "the gateway depends on rocksdb:"
  echo "$gateway_rocksdb" >&2
fi

workspace=$(cargo metadata --locked --offline --no-deps --format-version 1 \
  | python3 -c 'import json,sys; print("\n".join(p["name"] for p in json.load(sys.stdin)["packages"]))')

checker_deps=$(deps ingressoja-checkers)
grep -qx layout-check-failed <<<"$checker_deps" && fail=1
checker_ws=$(grep -Fxf <(echo "$workspace") <<<"$checker_deps" | grep -vx 'ingressoja-checkers' || true)
if [ -n "$checker_ws" ] && [ "$checker_ws" != ingressoja-codes ]; then
  refuse "ingressoja-checkers depends on workspace crates other than ingressoja-codes: $(echo "$checker_ws" | tr '\n' ' ')"
fi

# The node and RocksDB nowhere below the client; the CLI's crates not as its
# own dependencies (prost-derive, which the generated code needs, uses anyhow).
client_bad=$(deps ingressoja-client | grep -Ex 'ingressoja-node|rocksdb|layout-check-failed' || true)
client_direct=$(deps ingressoja-client 1)
client_bad="$client_bad $(grep -Ex 'clap|anyhow|tracing-subscriber' <<<"$client_direct" || true)"
client_bad=$(echo $client_bad)
if [ -n "$client_bad" ]; then
  refuse "ingressoja-client depends on $(echo "$client_bad" | tr '\n' ' ')"
fi

codes_deps=$(deps ingressoja-codes | grep -vx 'ingressoja-codes' || true)
[ "$codes_deps" = layout-check-failed ] && { fail=1; codes_deps=""; }
if [ -n "$codes_deps" ]; then
  refuse "ingressoja-codes must stay dependency-free, depends on: $(echo "$codes_deps" | tr '\n' ' ')"
fi

# The chaos harness and the benchmark drive nodes from outside (containers,
# processes): they must not link the node, or they could share its bugs.
for tool in ingressoja-chaos ingressoja-bench; do
  tool_bad=$(deps "$tool" | grep -Ex 'ingressoja-node|rocksdb|layout-check-failed' || true)
  [ -n "$tool_bad" ] && refuse "$tool depends on $(echo $tool_bad)"
done

# Certificates and roles are shared by every process: no storage, no node.
pki_bad=$(deps ingressoja-pki | grep -Ex 'ingressoja-.*|rocksdb|layout-check-failed' | grep -vx ingressoja-pki || true)
[ -n "$pki_bad" ] && refuse "ingressoja-pki depends on $(echo $pki_bad)"

# The fault-injecting disk under chaos nodes knows nothing of what runs on it.
faultfs_bad=$(deps ingressoja-faultfs | grep -Ex 'ingressoja-.*|rocksdb|layout-check-failed' | grep -vx ingressoja-faultfs || true)
[ -n "$faultfs_bad" ] && refuse "ingressoja-faultfs depends on $(echo $faultfs_bad)"

if [ "$fail" = 0 ]; then
  echo "layout: ok (gateway without rocksdb; checkers see only ingressoja-codes; client without node/clap/anyhow; codes dependency-free; harness and bench without the node; pki and faultfs on no workspace crate)"
fi
exit "$fail"
