#!/usr/bin/env bash
# The flash-sale benchmark's tests: installs what the comparison adapters
# need (Debian's etcd-server and postgresql) when missing, then runs the
# smoke run against a local cluster, the etcd and PostgreSQL adapter runs,
# the side-by-side run, and the bad-input tests.
#
#   ./scripts/bench-smoke.sh                 # install if needed, run the tests
#   ./scripts/bench-smoke.sh --install-only  # only install (test.sh runs the tests itself)
set -euo pipefail
cd "$(dirname "$0")/.."

install_only=0
for arg in "$@"; do
  case "$arg" in
    --install-only) install_only=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "error: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (for ingressoja-bench --compare)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ "$install_only" = 1 ] && exit 0

. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"
# A missing etcd or PostgreSQL now fails the adapter tests instead of skipping them.
export INGRESSOJA_BENCH_REQUIRE_COMPARE=1
cargo test --workspace --locked --test bench_smoke --test bench_compare --test bench_bad_input -- --test-threads=1
