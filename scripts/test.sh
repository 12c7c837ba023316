#!/usr/bin/env bash
# Runs every test of IngressoJá: formatting, lints, unit, property, cluster,
# gateway HTTP tests, the real-browser test of the shop, the compose test and
# the chaos tests.
#
# Build artefacts go to CARGO_TARGET_DIR (default: ~/.cache/ingressoja-target,
# outside the clone, see scripts/cargo-env.sh), so a warm machine rebuilds only
# what changed. Each stage's time is printed at the end: the budget is 8
# minutes for fmt + clippy + cargo test warm, 30 minutes for all of it.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
stage_names=()
stage_secs=()
stage_start=$start
# Ends the running stage (named by its argument) and notes how long it took.
stage_done() {
  local now
  now=$(date +%s)
  stage_names+=("$1")
  stage_secs+=($((now - stage_start)))
  stage_start=$now
}

./scripts/ensure-deps.sh
# etcd and PostgreSQL for the flash-sale benchmark's comparison tests (Debian
# packages); with the variable set, a missing one fails those tests instead
# of skipping them.
./scripts/bench-smoke.sh --install-only
export INGRESSOJA_BENCH_REQUIRE_COMPARE=1
. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Property tests: a fixed number of cases, seeded afresh each run (failures print their seed).
export PROPTEST_CASES="${PROPTEST_CASES:-256}"
stage_done "install (apt, etcd, postgresql)"

echo "== cargo fmt --check"
cargo fmt --all -- --check
stage_done "fmt"
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
stage_done "clippy"
# The planted test bugs compile only with the node's `planted-bugs` feature,
# which no Cargo.toml turns on: lint them and run their unit tests here (the
# library test binary only, so no normal binary is replaced).
echo "== clippy and unit tests of the planted test bugs (--features planted-bugs)"
cargo clippy --locked -p ingressoja-node --features planted-bugs --all-targets -- -D warnings
cargo test --locked -p ingressoja-node --features planted-bugs --lib planted
# A release node, built as a release is (no feature), carries none of the
# planted code: shown on the binary itself, not only on the sources.
echo "== planted bugs absent from a release node"
cargo build --release --locked -p ingressoja-node --bin ingressoja-node
./scripts/check-planted-bugs.sh --absent "$CARGO_TARGET_DIR/release/ingressoja-node"
stage_done "planted bugs: clippy, unit tests, release node"
echo "== layout (crates by role)"
./scripts/check-layout.sh
./scripts/check-layout.sh --self-test
stage_done "layout"
echo "== promtool check (grafana/prometheus)"
./scripts/ensure-prometheus.sh
stage_done "promtool"
echo "== cargo test (build)"
cargo test --workspace --locked --no-run
stage_done "cargo test: build"
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked -- --test-threads=2 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
stage_done "cargo test: run"
# The real-browser test: three node processes, two gateways, headless Chromium
# (installed from Debian when missing) driving the shop end to end while the
# leader is killed. Screenshots: $CARGO_TARGET_DIR/browser-artifacts/.
echo "== browser test"
browser=0
./scripts/browser-test.sh 2>&1 | tee -a "$log"
browser=${PIPESTATUS[0]}
stage_done "browser test"
# The compose cluster (images built FROM scratch, 3 nodes, 2 gateways,
# Prometheus): buy through a gateway, check Prometheus scrapes every target.
echo "== compose test"
./scripts/compose-test.sh 2>&1 | tee -a "$log"
compose=${PIPESTATUS[0]}
stage_done "compose test"
# The chaos tests: every nemesis in turn on a 3-node cluster in
# containers, all checkers valid; the planted-bug runs must be caught.
echo "== chaos tests"
./scripts/chaos-test.sh 2>&1 | tee -a "$log"
chaos=${PIPESTATUS[0]}
stage_done "chaos tests"
set -e
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s += $1} END {print s + 0}')
echo "== stage times"
for i in "${!stage_names[@]}"; do
  printf '  %-32s %5d s\n' "${stage_names[$i]}" "${stage_secs[$i]}"
done
echo "== test.sh took $(( $(date +%s) - start )) s in all (fmt, clippy, tests, browser, compose, chaos)"
# One summary line over every test binary (cargo's own last line is a crate's doc tests).
echo "tests: $passed passed, $failed failed"
if [ "$browser" = 0 ]; then
  echo "browser test: passed (screenshots in $CARGO_TARGET_DIR/browser-artifacts)"
else
  echo "browser test: FAILED (exit $browser)"
  [ "$status" = 0 ] && status=$browser
fi
if [ "$compose" = 0 ]; then
  echo "compose test: passed"
else
  echo "compose test: FAILED (exit $compose)"
  [ "$status" = 0 ] && status=$compose
fi
if [ "$chaos" = 0 ]; then
  echo "chaos tests: passed (runs in $CARGO_TARGET_DIR/chaos-runs)"
else
  echo "chaos tests: FAILED ($chaos run(s); see $CARGO_TARGET_DIR/chaos-runs)"
  [ "$status" = 0 ] && status=1
fi
exit "$status"
