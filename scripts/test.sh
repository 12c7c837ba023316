#!/usr/bin/env bash
# Runs every test of IngressoJá: formatting, lints, unit, property and cluster tests.
#
# Build artefacts go to CARGO_TARGET_DIR (default: ~/.cache/ingressoja-target,
# outside the clone) so RocksDB's 7-minute compile is paid once per machine.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/ensure-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ingressoja-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Property tests: a fixed number of cases, seeded afresh each run (failures print their seed).
export PROPTEST_CASES="${PROPTEST_CASES:-256}"

start=$(date +%s)
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked -- --test-threads=2
echo "== all tests passed in $(( $(date +%s) - start )) s"
