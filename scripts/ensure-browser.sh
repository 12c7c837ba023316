#!/usr/bin/env bash
# Installs what the browser end-to-end test needs, or says what is missing:
#   - Debian's chromium at /usr/bin/chromium (Playwright's own browser builds
#     cannot be downloaded here, so the test drives the system one);
#   - a Python venv with Playwright, at ${INGRESSOJA_VENV:-$HOME/.cache/ingressoja-venv}.
# Idempotent: a second run only checks that headless chromium still starts.
#
#   ./scripts/ensure-browser.sh           # install if needed, then smoke-test
#   ./scripts/ensure-browser.sh --quiet   # just the final "ok" line, unless installing
set -euo pipefail

# Pinned: verified to drive Debian bookworm's chromium 156 over CDP.
PLAYWRIGHT_VERSION=1.65.2
CHROMIUM=/usr/bin/chromium
venv="${INGRESSOJA_VENV:-$HOME/.cache/ingressoja-venv}"
quiet=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "error: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done
say() { [ "$quiet" = 1 ] || echo "ensure-browser: $*"; }

# Never let Playwright fetch browsers of its own: there is no way to reach them.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  # Try with the package lists already on the machine first; refresh them only
  # if that fails (no lists yet, or a stale list naming a removed .deb).
  if ! apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    echo "ensure-browser: apt-get update (package lists missing or stale)..."
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

# 1. chromium (plus a font, or every page renders as boxes in screenshots).
if [ ! -x "$CHROMIUM" ] || ! fc-list 2>/dev/null | grep -qi liberation; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $CHROMIUM missing; install with: sudo apt-get install -y chromium fonts-liberation" >&2
    exit 1
  fi
  echo "ensure-browser: installing chromium + fonts-liberation from Debian (about a minute)..."
  apt_install chromium fonts-liberation fontconfig
fi
say "$("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM (version unknown)")"

# 2. The venv with Playwright (its pip package bundles the node driver).
have_version() {
  "$venv/bin/python" - "$PLAYWRIGHT_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("playwright") == sys.argv[1] else 1)
PY
}
if [ ! -x "$venv/bin/python" ] || ! have_version; then
  echo "ensure-browser: installing playwright==$PLAYWRIGHT_VERSION into $venv..."
  if [ ! -x "$venv/bin/python" ]; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
      # Debian's own python3 ships venv separately.
      if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        rm -rf "$venv"
        apt_install python3-venv
        python3 -m venv "$venv"
      else
        echo "error: python3 -m venv failed; install python3-venv" >&2
        exit 1
      fi
    fi
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "playwright==$PLAYWRIGHT_VERSION"
fi

# 3. Smoke test: the bundled driver starts the system chromium headless, offline.
say "checking that Playwright drives $CHROMIUM headless..."
"$venv/bin/python" - "$CHROMIUM" <<'PY'
import os, sys, tempfile
from urllib.parse import quote
from playwright.sync_api import sync_playwright

chromium = sys.argv[1]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, headless=True,
                                args=["--no-sandbox"])
    page = browser.new_page()
    html = "<meta charset=utf-8><h1 id=h>IngressoJá</h1>"
    page.goto("data:text/html;charset=utf-8," + quote(html))
    assert page.text_content("#h") == "IngressoJá", "page did not render"
    with tempfile.TemporaryDirectory() as d:
        shot = os.path.join(d, "smoke.png")
        page.screenshot(path=shot, full_page=True)
        assert os.path.getsize(shot) > 0, "empty screenshot"
    version = browser.version
    browser.close()
print(f"ensure-browser: ok (Playwright drives chromium {version} headless)")
PY
