#!/usr/bin/env bash
# Brings the compose cluster up (3 nodes, 2 gateways, Prometheus, images built
# from scratch), buys two tickets through a gateway, checks that Prometheus
# scrapes every node and gateway, and tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."
compose=(docker-compose -f cluster-config/compose/docker-compose.yml -p ingressoja-test)
for port in 18080 18081 19090; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port is in use (another compose cluster running?)" >&2
    exit 1
  fi
done
build_log=$(mktemp)
./scripts/build-images.sh >"$build_log" 2>&1 || { cat "$build_log" >&2; exit 1; }
rm -f "$build_log"
cleanup() {
  status=$?
  if [ "$status" != 0 ]; then
    echo "compose test FAILED; last logs:" >&2
    "${compose[@]}" logs --no-color --tail 20 >&2 || true
  fi
  "${compose[@]}" down -v >/dev/null 2>&1 || true
  exit "$status"
}
trap cleanup EXIT
"${compose[@]}" up -d >/dev/null 2>&1
echo "compose cluster up; waiting for the gateway..."
for _ in $(seq 1 60); do
  curl -sf -m 2 http://127.0.0.1:18080/healthz >/dev/null && break
  sleep 0.5
done
# The CLI runs in the pki service, the only one holding an operator's key.
cli=("${compose[@]}" run --rm -T pki --pki-dir /pki --nodes node1:7101,node2:7101,node3:7101)
# Each node and gateway holds its own key and no one else's: no CA key, no
# operator's key (read through `docker cp`, as the images have no shell).
holds() { docker cp "$("${compose[@]}" ps -q "$1"):/pki/$2" - >/dev/null 2>&1; }
holds node1 node-1.key || { echo "error: node1 has no /pki/node-1.key" >&2; exit 1; }
holds gateway1 session.key || { echo "error: gateway1 has no /pki/session.key" >&2; exit 1; }
for service in node1 node2 gateway1; do
  for secret in ca.key operator-admin.key node-3.key; do
    if holds "$service" "$secret"; then
      echo "error: $service holds /pki/$secret" >&2
      exit 1
    fi
  done
done
echo "each container holds its own key only"
for _ in $(seq 1 60); do
  if "${cli[@]}" event create --event show --name "Show no compose" \
      --category pista:Pista:100:45000:4 >/dev/null 2>&1; then
    break
  fi
  sleep 0.5
done
"${cli[@]}" availability --event show

api=http://127.0.0.1:18080/api/v1
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sf -X POST "$api/register" -H 'content-type: application/json' \
  -d '{"customer_id":"compose","email":"compose@example.com","cpf":"111.444.777-35","display_name":"Compose","password":"compose-password"}' | json "['token']")
hold=$(curl -sf -X POST "$api/holds" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"event_id":"show","category_id":"pista","quantity":2}' | json "['hold_id']")
sold=$(curl -sf -X POST "$api/holds/$hold/purchase" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"payment_token":"approve"}' | json "['tickets'].__len__()")
# The second gateway sees the same tickets.
listed=$(curl -sf http://127.0.0.1:18081/api/v1/tickets -H "authorization: Bearer $token" | json "['tickets'].__len__()")
echo "bought $sold tickets through gateway 1; gateway 2 lists $listed"
[ "$sold" = 2 ] && [ "$listed" = 2 ]

echo "waiting for Prometheus to scrape every target..."
up=0
for _ in $(seq 1 40); do
  up=$(curl -sf 'http://127.0.0.1:19090/api/v1/query?query=sum(up)' | json "['data']['result'][0]['value'][1]" 2>/dev/null || echo 0)
  [ "$up" = 5 ] && break
  sleep 1
done
echo "Prometheus: $up of 5 targets up"
[ "$up" = 5 ]
sold_metric=0
for _ in $(seq 1 30); do
  sold_metric=$(curl -sfG http://127.0.0.1:19090/api/v1/query \
      --data-urlencode 'query=max(ingressoja_sale_tickets{state="sold"})' \
    | json "['data']['result'][0]['value'][1]" 2>/dev/null || echo 0)
  [ "$sold_metric" = 2 ] && break
  sleep 1
done
echo "Prometheus sees ingressoja_sale_tickets{state=\"sold\"} = $sold_metric"
[ "$sold_metric" = 2 ]
echo "compose test passed"
