# Sourced (not run) by every script that calls cargo, so they all build into
# one place with the same settings and never rebuild each other's artefacts.
#
# - CARGO_TARGET_DIR: outside the clone (default ~/.cache/ingressoja-target),
#   so a fresh clone on the same machine starts warm.
# - RocksDB: .cargo/config.toml links Debian's librocksdb-dev (ensure-deps.sh
#   installs it as root). When it is not installed (or not a 7.8/7.9 that
#   matches the `rocksdb` crate), or INGRESSOJA_BUNDLED_ROCKSDB=1 is set, the
#   bundled sources are compiled instead: slower (about 35 minutes on 2
#   cores), same result.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ingressoja-target}"
_rocksdb_system=no
if [ -r /usr/include/rocksdb/version.h ] && [ -r /usr/include/rocksdb/c.h ]; then
  _rocksdb_major=$(awk '/#define ROCKSDB_MAJOR/ {print $3}' /usr/include/rocksdb/version.h)
  _rocksdb_minor=$(awk '/#define ROCKSDB_MINOR/ {print $3}' /usr/include/rocksdb/version.h)
  # Read ldconfig's list whole first: `ldconfig -p | grep -q` under the
  # callers' `set -o pipefail` fails at random (grep quits early, ldconfig
  # gets SIGPIPE), which once sent a build to the bundled sources.
  _rocksdb_libs=$(ldconfig -p 2>/dev/null || true)
  if [ "$_rocksdb_major" = 7 ] && [ "${_rocksdb_minor:-0}" -ge 8 ] \
    && grep -q 'librocksdb\.so ' <<<"$_rocksdb_libs"; then
    _rocksdb_system=yes
  fi
  unset _rocksdb_major _rocksdb_minor _rocksdb_libs
fi
if [ "$_rocksdb_system" = no ] || [ -n "${INGRESSOJA_BUNDLED_ROCKSDB:-}" ]; then
  export ROCKSDB_COMPILE=1 ROCKSDB_INCLUDE_DIR=rocksdb/include
  echo "note: building RocksDB from its bundled sources (no librocksdb-dev 7.8/7.9 found in /usr/include/rocksdb, or INGRESSOJA_BUNDLED_ROCKSDB is set): the first build takes about 35 minutes longer; to avoid it, run as root: apt-get install -y librocksdb-dev" >&2
fi
unset _rocksdb_system
