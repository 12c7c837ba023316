#!/usr/bin/env bash
# Proves whether a node binary carries the planted test bugs (node/src/planted/),
# which only a build with `--features planted-bugs` compiles in.
#
#   ./scripts/check-planted-bugs.sh --absent  BINARY...   # fails if any marker is in one
#   ./scripts/check-planted-bugs.sh --present BINARY...   # fails unless every marker is in each
#
# The markers are strings that exist only in the planted code: the ticket id
# prefix of purchases acknowledged without a commit, and the start-up warning.
# Running --present on a planted build shows the check itself can see them.
set -euo pipefail

markers=("TKT-PLANTED-" "PLANTED BUG ON")

usage() {
  echo "usage: $0 --absent|--present BINARY..." >&2
  exit 2
}
[ $# -ge 2 ] || usage
mode="$1"
shift
case "$mode" in
  --absent | --present) ;;
  *) usage ;;
esac

failed=0
for binary in "$@"; do
  if [ ! -r "$binary" ]; then
    echo "error: $binary: no such binary" >&2
    exit 2
  fi
  for marker in "${markers[@]}"; do
    if grep -qaF -- "$marker" "$binary"; then
      found=yes
    else
      found=no
    fi
    if [ "$mode" = --absent ] && [ "$found" = yes ]; then
      echo "FAIL: $binary contains the planted-bug marker \"$marker\": it was built with --features planted-bugs" >&2
      failed=1
    elif [ "$mode" = --present ] && [ "$found" = no ]; then
      echo "FAIL: $binary lacks the planted-bug marker \"$marker\": it was built without --features planted-bugs" >&2
      failed=1
    fi
  done
  if [ "$failed" = 0 ]; then
    echo "planted bugs ${mode#--}: $binary"
  fi
done
exit "$failed"
