#!/usr/bin/env bash
# Installs what building IngressoJá needs on a Debian machine, or says what is missing.
#
# RocksDB's Rust bindings need libclang (Debian: libclang-dev), and the build
# links Debian's librocksdb-dev when it is there. Run as root to install them;
# otherwise this prints the command to run for libclang and exits non-zero.
set -euo pipefail

need=()
# ldconfig's list is read whole first: piped into `grep -q` under pipefail it
# fails at random (grep quits early, ldconfig gets SIGPIPE).
libs=$(ldconfig -p 2>/dev/null || true)
if ! grep -q 'libclang\(-[0-9.]*\)\?\.so' <<<"$libs"; then
  need+=(libclang-dev)
fi
# Debian's RocksDB (7.8), linked instead of compiling RocksDB's C++ (see
# cargo-env.sh): optional, so only installed where apt-get can.
if [ ! -r /usr/include/rocksdb/c.h ] && [ -z "${INGRESSOJA_BUNDLED_ROCKSDB:-}" ] \
  && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  need+=(librocksdb-dev)
fi
if ! command -v cc >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
  need+=(build-essential)
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} (RocksDB's bindings and library)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "error: missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
