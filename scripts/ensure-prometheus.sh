#!/usr/bin/env bash
# Installs Debian's prometheus package (for promtool) when missing, then checks
# the shipped Prometheus config and alert rules.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: promtool is missing; install it with: sudo apt-get install prometheus" >&2
    exit 1
  fi
  echo "installing prometheus (for promtool)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
fi
promtool check config grafana/prometheus/prometheus.yml
promtool check rules grafana/prometheus/alerts.yml
promtool check config grafana/prometheus/prometheus-compose.yml
