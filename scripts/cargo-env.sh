# Sourced (not run) by every script that calls cargo, so they all build into
# one place with the same settings and never rebuild each other's artefacts.
#
# - CARGO_TARGET_DIR: outside the clone (default ~/.cache/ingressoja-target),
#   so a fresh clone on the same machine starts warm.
# - RocksDB: when Debian's librocksdb-dev 7.8/7.9 is installed (ensure-deps.sh
#   installs it as root), the `rocksdb` crate links it instead of compiling
#   RocksDB's C++ (about 35 minutes per profile on 2 cores). The crate version
#   in Cargo.toml (0.20, RocksDB 7.9 C API) is chosen to match it. Without the
#   package the bundled sources are compiled as before: slower, same result.
#   Set INGRESSOJA_BUNDLED_ROCKSDB=1 to force the bundled build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ingressoja-target}"
if [ -z "${ROCKSDB_LIB_DIR:-}" ] && [ -z "${INGRESSOJA_BUNDLED_ROCKSDB:-}" ] \
  && [ -r /usr/include/rocksdb/version.h ] && [ -r /usr/include/rocksdb/c.h ]; then
  _rocksdb_major=$(awk '/#define ROCKSDB_MAJOR/ {print $3}' /usr/include/rocksdb/version.h)
  _rocksdb_minor=$(awk '/#define ROCKSDB_MINOR/ {print $3}' /usr/include/rocksdb/version.h)
  _rocksdb_so=$(ldconfig -p 2>/dev/null | awk '/librocksdb\.so / {print $NF; exit}')
  if [ "$_rocksdb_major" = 7 ] && [ "${_rocksdb_minor:-0}" -ge 8 ] && [ -n "$_rocksdb_so" ]; then
    export ROCKSDB_LIB_DIR="${_rocksdb_so%/*}"
    export ROCKSDB_INCLUDE_DIR=/usr/include
  fi
  unset _rocksdb_major _rocksdb_minor _rocksdb_so
fi
