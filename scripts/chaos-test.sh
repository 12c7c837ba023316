#!/usr/bin/env bash
# The chaos tests run by ./scripts/test.sh, on Docker:
#
#  1. every nemesis in turn on a 3-node cluster under the flash-sale workload
#     (about a minute), then the wipe and clock-jump nemeses (half a
#     minute), then the disk faults (a minute), then two faults at a time
#     (40 s): every checker must be valid;
#  2. the planted-bug runs: nodes started with a known bug, and the checker
#     aimed at it must report the anomaly (a checker that never fails proves
#     nothing); every checker of the node's behaviour has one (the
#     well-formed-history checker judges the harness's own records, and its
#     unit tests feed it broken ones). They run the separately tagged image ingressoja-node:planted,
#     whose node is built with `--features planted-bugs`; the normal image's
#     node is first shown to carry no planted code, the planted one to carry it.
#
# Builds the node images (./scripts/build-images.sh --planted-bugs) and needs
# root for nsenter/iptables/tc in the containers' namespaces, and Docker.
# Runs are kept in $CARGO_TARGET_DIR/chaos-runs/ (history.jsonl, results.json,
# report.html, node logs).
set -euo pipefail
cd "$(dirname "$0")/.."
. "$(dirname "${BASH_SOURCE[0]}")/cargo-env.sh"

planted_image=ingressoja-node:planted
# Always (re)built, so the runs test this checkout's node and never an image
# left by an older one; with the binaries built, this is a minute at most.
./scripts/build-images.sh --planted-bugs
for tool in iptables tc nsenter fusermount3; do
  if ! command -v "$tool" >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables iproute2 util-linux fuse3 >/dev/null
    else
      echo "error: $tool is missing (apt-get install iptables iproute2 util-linux fuse3)" >&2
      exit 2
    fi
  fi
done
chaos="$CARGO_TARGET_DIR/debug/ingressoja-chaos"
[ -x "$chaos" ] || cargo test --workspace --locked --no-run --quiet
runs="$CARGO_TARGET_DIR/chaos-runs"
mkdir -p "$runs"
"$chaos" --cleanup

failed=0
# Copies the node binary out of image $1 into file $2.
node_binary_of() {
  local container
  container=$(docker create "$1")
  docker cp -q "$container:/usr/local/bin/ingressoja-node" "$2"
  docker rm "$container" >/dev/null
}

# The images' nodes: planted code only in the planted one (and the check can see it).
echo "-- chaos: planted bugs only in $planted_image"
node_binary_of ingressoja-node:local "$runs/node-local.bin"
node_binary_of "$planted_image" "$runs/node-planted.bin"
if ./scripts/check-planted-bugs.sh --absent "$runs/node-local.bin" \
  && ./scripts/check-planted-bugs.sh --present "$runs/node-planted.bin"; then
  echo "chaos planted-bug images: passed"
else
  echo "chaos planted-bug images: FAILED"
  failed=$((failed + 1))
fi
rm -f "$runs/node-local.bin" "$runs/node-planted.bin"

run() {
  local name="$1"
  shift
  echo "-- chaos: $name"
  if "$chaos" --out "$runs/$name" "$@"; then
    echo "chaos $name: passed"
  else
    echo "chaos $name: FAILED (see $runs/$name)"
    failed=$((failed + 1))
  fi
}

# Bad input: a missing image is refused up front with the fix, exit 2, and
# nothing is left behind.
echo "-- chaos: missing image"
set +e
out=$("$chaos" --image ingressoja-node:no-such-tag --time-limit 5 --out "$runs/missing-image" 2>&1)
code=$?
set -e
if [ "$code" = 2 ] && grep -q "build it with ./scripts/build-images.sh" <<<"$out" \
  && [ -z "$(docker ps -aq --filter name=^ijchaos)" ] && [ -z "$(docker network ls -q --filter name=^ijchaos)" ]; then
  echo "chaos missing-image: passed"
else
  echo "chaos missing-image: FAILED (exit $code): $out"
  failed=$((failed + 1))
fi

# Every process, network and clock fault in turn, 3 s each; a round takes
# about 6 s with starting and healing, so 14 kinds need 88 s (wipe, the clock
# jump and the disk faults run below, with room for their healing).
run all-nemeses --time-limit 88 --fault-secs 3 --calm-secs 2 --concurrency 12 \
  --nemesis kill,kill-leader,pause,pause-leader,partition-leader,leader-deaf,leader-mute,partition-halves,partition-ring,partition-bridge,flaky,slow,clock,membership
# A lost disk and the runbook that heals it (the wiped node must neither
# vote nor act as a voter until it is removed and added back), and the
# leader's clock jumping a day or an hour ahead (the sale's time must not
# move: `sale-clock`); and a follower crashed inside the snapshot-install
# window (`snapshot-crash`).
run wipe-and-clock-jump --nemesis wipe,clock-jump,snapshot-crash --time-limit 48 --fault-secs 5 --calm-secs 3 \
  --concurrency 12
# The disk faults: each node's /data on an ingressoja-faultfs mount; power
# cuts of one node, a majority and every node (unsynced writes lost), a
# full disk, failing and slow fsyncs. A power cut longer than a hold's
# lifetime makes holds expire under timed-out purchases: the event feed
# settles those outcomes for the linearizability search.
run disk-faults --nemesis power-loss,power-loss-majority,power-loss-all,disk-full,fsync-error,slow-fsync \
  --time-limit 56 --fault-secs 5 --calm-secs 3 --concurrency 12
# Two faults at once: each kind in turn plus another picked at random.
run overlapping --nemesis kill,kill-leader,pause,pause-leader,partition-leader,leader-deaf,leader-mute,partition-halves,flaky,slow,clock \
  --overlap 2 --time-limit 40 --fault-secs 4 --calm-secs 2 --concurrency 12
run planted-ack-before-commit --nemesis none --time-limit 12 --concurrency 8 --image "$planted_image" \
  --planted-bug ack-before-commit --expect-anomaly acknowledged-purchases
run planted-leader-clock --nemesis clock-jump --time-limit 16 --fault-secs 6 --calm-secs 3 --concurrency 8 \
  --image "$planted_image" --planted-bug leader-clock --expect-anomaly sale-clock
run planted-stale-read --nemesis none --time-limit 12 --concurrency 8 --image "$planted_image" \
  --planted-bug stale-read --expect-anomaly linearizable-categories
# The state machine's own bugs, one per checker of the end state.
planted_machine_bug() {
  run "planted-$1" --nemesis none --time-limit 10 --concurrency 8 --image "$planted_image" \
    --planted-bug "$1" --expect-anomaly "$2"
}
planted_machine_bug oversell no-oversell
planted_machine_bug duplicate-ticket unique-tickets
planted_machine_bug limit-bypass customer-limits
planted_machine_bug shared-queue-number fifo-admission
planted_machine_bug local-clock-in-apply convergence
planted_machine_bug forgotten-reply idempotency
# Every node's WatchEvents stream leaves out some purchase confirmations:
# the consumers (one per node) must see the gap and the missing purchase.
planted_machine_bug lost-watch-event watch-stream
# The queue admits its whole line at once, ignoring its rate.
planted_machine_bug admission-burst queue-admission
# Log appends without fsync: invisible to kill -9, caught after a power cut
# of every node.
run planted-unsynced-log --nemesis power-loss-all --time-limit 16 --fault-secs 3 --calm-secs 5 --concurrency 8 \
  --image "$planted_image" --planted-bug unsynced-log --expect-anomaly acknowledged-purchases

# A kept run checks the same again from its files (--check), planted bug included.
echo "-- chaos: re-check kept runs"
if "$chaos" --check "$runs/all-nemeses" >/dev/null \
  && "$chaos" --check "$runs/planted-stale-read" --expect-anomaly linearizable-categories >/dev/null; then
  echo "chaos re-check: passed"
else
  echo "chaos re-check: FAILED"
  failed=$((failed + 1))
fi

exit "$failed"
