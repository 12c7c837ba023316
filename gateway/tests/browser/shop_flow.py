#!/usr/bin/env python3
"""Browser end-to-end test of the IngressoJá web shop.

Drives Debian's chromium headless with Playwright through a whole purchase:
register, enrol TOTP, log out and back in (one wrong password first), join the
virtual queue, hold two tickets, SIGKILL the Raft leader, pay (the gateway
fails over), see the tickets (also on a second gateway) and the SSE
notifications. Saves a full-page screenshot after each step and, on failure,
failure.png + failure.html; writes summary.json in the artifacts directory.

Normally run by scripts/browser-test.sh, which starts its own cluster:

    python shop_flow.py --shop http://localhost:8080 --shop2 http://localhost:8081 \
        --artifacts /abs/dir --nodes 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103 \
        --cli /path/to/ingressoja --node-pids-dir /tmp/stack

    python shop_flow.py --self-test     # TOTP + CPF checks, no browser needed
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
QUEUE_EVENT = "rock-2026-fila"
CATEGORY = "pista"
QUANTITY = 2
TOTP_STEP = 30

# Selectors of the page contract.
REGISTER_FIELDS = {
    "customer id": ["input[name=customer]", "input[name=customer_id]", "input[name=login]",
                    "input[name=username]"],
    "cpf": ["input[name=cpf]"],
    "e-mail": ["input[name=email]"],
    "display name": ["input[name=name]", "input[name=display_name]", "input[name=full_name]"],
    "password": ["input[name=password]"],
}
REGISTER_CONFIRM = ["input[name=password_confirm]", "input[name=confirm_password]",
                    "input[name=password2]"]
REGISTER_SUBMIT = ["#register-submit", "form button[type=submit]", "form input[type=submit]"]
# The enrolment's success notice (the page already shows a welcome .notice before).
TOTP_ENABLED = "#totp-enabled"

# Reports every `.notification[data-kind]` the page ever shows to Python, so a
# notification is seen even if the page navigates away right after it.
NOTIFICATION_OBSERVER = """
(() => {
  const seen = new WeakSet();
  const report = (node) => {
    if (!(node instanceof Element)) return;
    const found = node.matches('.notification[data-kind]') ? [node] : [];
    found.push(...node.querySelectorAll('.notification[data-kind]'));
    for (const n of found) {
      if (seen.has(n)) continue;
      seen.add(n);
      const send = window.__e2eNotification;
      if (send) send({kind: n.dataset.kind, text: (n.textContent || '').trim().slice(0, 200),
                          page: location.pathname});
    }
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') report(m.target);
      for (const added of m.addedNodes) report(added);
    }
  }).observe(document, {childList: true, subtree: true, attributes: true,
                        attributeFilter: ['data-kind', 'class']});
  document.addEventListener('DOMContentLoaded', () => report(document.documentElement));
})();
"""


class TestFailure(Exception):
    """A check of the flow failed; the message says what was expected."""


# ---------------------------------------------------------------- TOTP + CPF


def b32_secret(text: str) -> bytes:
    """Decodes a base32 TOTP secret as shown to people: any case, spaces or
    dashes between groups, padding optional."""
    clean = "".join(ch for ch in text if ch.isalnum()).upper()
    clean += "=" * (-len(clean) % 8)
    return base64.b32decode(clean)


def hotp(key: bytes, counter: int, digits: int = 6, digest=hashlib.sha1) -> str:
    """RFC 4226 HOTP."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp(key: bytes, at: float | None = None, digits: int = 6, step: int = TOTP_STEP) -> str:
    """RFC 6238 TOTP (SHA-1) at unix time `at` (default: now)."""
    return hotp(key, int((time.time() if at is None else at) // step), digits)


def cpf_check_digits(base: str) -> str:
    """The two check digits of a 9-digit CPF base (Receita Federal's mod 11)."""
    digits = [int(c) for c in base]
    for _ in range(2):
        weights = range(len(digits) + 1, 1, -1)
        rest = sum(d * w for d, w in zip(digits, weights)) * 10 % 11
        digits.append(0 if rest == 10 else rest)
    return f"{digits[-2]}{digits[-1]}"


def random_cpf(rng: random.Random) -> str:
    """A valid CPF, formatted 000.000.000-00 (never all digits equal, which
    validators reject although the check digits work out)."""
    while True:
        base = "".join(str(rng.randrange(10)) for _ in range(9))
        if len(set(base)) > 1:
            break
    full = base + cpf_check_digits(base)
    return f"{full[0:3]}.{full[3:6]}.{full[6:9]}-{full[9:11]}"


def self_test() -> int:
    """Checks TOTP against RFC 6238's SHA-1 vectors and the CPF algorithm."""
    key = b"12345678901234567890"
    vectors = {59: "94287082", 1111111109: "07081804", 1111111111: "14050471",
               1234567890: "89005924", 2000000000: "69279037", 20000000000: "65353130"}
    for t, want in vectors.items():
        got = totp(key, at=t, digits=8)
        assert got == want, f"TOTP at T={t}: got {got}, want {want}"
    secret = base64.b32encode(key).decode()  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
    assert b32_secret(secret.lower()) == key
    assert b32_secret(" ".join(secret[i:i + 4] for i in range(0, len(secret), 4))) == key
    assert b32_secret("JBSWY3DPEHPK3PXP") == b"Hello!\xde\xad\xbe\xef"  # unpadded
    assert len(totp(key)) == 6
    assert cpf_check_digits("529982247") == "25", cpf_check_digits("529982247")
    assert cpf_check_digits("111444777") == "35"
    rng = random.Random(1)
    for _ in range(1000):
        cpf = random_cpf(rng)
        digits = cpf.replace(".", "").replace("-", "")
        assert len(cpf) == 14 and len(digits) == 11, cpf
        assert cpf_check_digits(digits[:9]) == digits[9:], cpf
    print("self-test ok: TOTP (RFC 6238 SHA-1 vectors), base32 secrets, CPF check digits")
    return 0


# ---------------------------------------------------------------- the shop


def log(msg: str) -> None:
    print(msg, flush=True)


class Shop:
    """One browser page on one gateway, plus what the run has recorded."""

    def __init__(self, page, base: str, artifacts: Path, summary: dict):
        self.page = page
        self.base = base.rstrip("/")
        self.artifacts = artifacts
        self.summary = summary
        self.notifications: list[dict] = summary["notifications"]
        page.expose_function("__e2eNotification", self._on_notification)
        page.add_init_script(NOTIFICATION_OBSERVER)
        page.on("console", self._on_console)
        page.on("pageerror", lambda err: self._problem(f"page error: {err}"))
        page.on("response", self._on_response)

    # -- recording
    def _on_notification(self, n: dict) -> None:
        n["t"] = round(time.time() - self.summary["started_at"], 1)
        self.notifications.append(n)
        log(f"    notification: {n.get('kind')} on {n.get('page')}: {n.get('text', '')[:80]!r}")

    def _on_console(self, msg) -> None:
        if msg.type in ("error", "warning"):
            self._problem(f"console {msg.type}: {msg.text}")

    def _on_response(self, resp) -> None:
        if resp.status >= 500:
            self._problem(f"HTTP {resp.status} {resp.request.method} {resp.url}")

    def _problem(self, text: str) -> None:
        self.summary["browser_problems"].append(text[:500])

    def kinds_seen(self) -> list[str]:
        return sorted({n.get("kind") for n in self.notifications})

    # -- navigation and checks
    def url(self, path: str) -> str:
        return self.base + path

    def path(self) -> str:
        return urlparse(self.page.url).path

    def goto(self, path: str) -> None:
        resp = self.page.goto(self.url(path), wait_until="load")
        if resp is not None and resp.status >= 400:
            raise TestFailure(f"GET {path} answered HTTP {resp.status}")

    def shot(self, name: str) -> str:
        file = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(file), full_page=True)
        self.summary["screenshots"].append(str(file))
        return str(file)

    def first(self, candidates: list[str], what: str):
        """The first selector of `candidates` present on the page."""
        for sel in candidates:
            loc = self.page.locator(sel)
            if loc.count() > 0:
                return loc.first
        raise TestFailure(f"no {what} on {self.path()} (tried {', '.join(candidates)})")

    def wait_path(self, predicate, what: str, timeout: float = 30.0) -> None:
        """Waits until the URL path satisfies `predicate`; on timeout says
        where the browser is and what error the page shows."""
        try:
            self.page.wait_for_url(lambda u: predicate(urlparse(u).path), timeout=timeout * 1000)
        except Exception:
            raise TestFailure(f"expected {what} within {timeout:.0f} s, still on {self.path()}"
                              f"{self.error_text()}") from None

    def error_text(self) -> str:
        """The visible `.error` text, if any, for failure messages."""
        try:
            errors = self.page.locator(".error:visible")
            if errors.count():
                return f" (page says: {errors.first.inner_text().strip()[:200]!r})"
        except Exception:
            pass
        return ""

    def text(self, sel: str) -> str:
        return self.page.locator(sel).first.inner_text().strip()

    def expect_visible(self, sel: str, timeout: float = 10.0) -> None:
        try:
            self.page.locator(sel).first.wait_for(state="visible", timeout=timeout * 1000)
        except Exception:
            raise TestFailure(f"expected {sel} on {self.path()} within {timeout:.0f} s"
                              f"{self.error_text()}") from None

    def wait_notification(self, kind: str, timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if kind in self.kinds_seen():
                return True
            self.page.wait_for_timeout(250)  # lets Playwright deliver callbacks
        return kind in self.kinds_seen()


# ---------------------------------------------------------------- the steps


class Run:
    """State carried from step to step."""

    def __init__(self, args, shop: Shop, browser):
        self.args = args
        self.shop = shop
        self.browser = browser
        stamp = int(time.time())
        self.customer = f"e2e-{stamp}"
        self.password = f"Senha-e2e-{stamp}!"
        self.cpf = random_cpf(random.Random())
        self.key: bytes = b""
        self.enrol_step = 0
        self.hold_id = ""
        self.ticket_ids: list[str] = []
        self.current = shop  # the page a failure screenshot is taken of


def step_register(run: Run) -> None:
    shop, page = run.shop, run.shop.page
    shop.goto("/register")
    values = {"customer id": run.customer, "cpf": run.cpf,
              "e-mail": f"{run.customer}@example.com",
              "display name": "Cliente E2E Navegador", "password": run.password}
    for what, value in values.items():
        shop.first(REGISTER_FIELDS[what], f"{what} field").fill(value)
    for sel in REGISTER_CONFIRM:
        if page.locator(sel).count():
            page.locator(sel).first.fill(run.password)
    log(f"    customer {run.customer}, CPF {run.cpf}")
    shop.shot("01-register")
    shop.first(REGISTER_SUBMIT, "register submit button").click()
    shop.wait_path(lambda p: p == "/account/2fa", "to land on /account/2fa after registering")


def step_enrol_2fa(run: Run) -> None:
    shop, page = run.shop, run.shop.page
    shop.expect_visible("#totp-secret")
    secret = page.locator("#totp-secret").first.inner_text()
    try:
        run.key = b32_secret(secret)
    except Exception:
        raise TestFailure(f"#totp-secret is not base32: {secret!r}") from None
    if not run.key:
        raise TestFailure("#totp-secret is empty")
    if page.locator("#totp-qr svg, svg#totp-qr").count() == 0:
        raise TestFailure("#totp-qr is missing or holds no <svg>")
    wait_fresh_step(min_step=0)
    run.enrol_step = int(time.time() // TOTP_STEP)
    code = hotp(run.key, run.enrol_step)
    log(f"    secret {len(run.key) * 8}-bit, enrolment code {code} (step {run.enrol_step})")
    page.locator("input[name=code]").first.fill(code)
    page.locator("#totp-submit").click()
    shop.expect_visible(TOTP_ENABLED, timeout=15)
    log(f"    notice: {shop.text(TOTP_ENABLED)[:100]!r}")
    shop.shot("02-2fa-enrol")


def wait_fresh_step(min_step: int) -> None:
    """Waits until the TOTP step is past `min_step` and has at least 3 s left,
    so a code is neither a replay nor about to expire in flight."""
    while True:
        now = time.time()
        current, left = int(now // TOTP_STEP), TOTP_STEP - now % TOTP_STEP
        if current > min_step and left >= 3:
            return
        wait = left + 0.2
        if current <= min_step:
            log(f"    waiting {wait:.0f} s for the next TOTP step (codes are single-use)...")
        time.sleep(wait)


def step_login(run: Run) -> None:
    shop, page = run.shop, run.shop.page
    logout = shop.first(["#logout"], "#logout button")
    try:
        with page.expect_navigation(timeout=15_000):
            logout.click()
    except Exception:
        raise TestFailure(f"clicking #logout on {shop.path()} did not submit a form") from None
    shop.goto("/login")

    # A wrong password first: an error, and still on the login page.
    page.locator("input[name=login]").fill(run.customer)
    page.locator("input[name=password]").fill(run.password + "-errada")
    page.locator("#login-submit").click()
    shop.expect_visible(".error", timeout=15)
    if shop.path() != "/login":
        raise TestFailure(f"a wrong password left the login page for {shop.path()}")
    log(f"    wrong password refused: {shop.text('.error')[:100]!r}")
    shop.shot("03-login-wrong-password")

    page.locator("input[name=login]").fill(run.customer)
    page.locator("input[name=password]").fill(run.password)
    page.locator("#login-submit").click()
    shop.wait_path(lambda p: p == "/login/2fa", "the second-factor page /login/2fa")
    wait_fresh_step(min_step=run.enrol_step)
    step = int(time.time() // TOTP_STEP)
    code = hotp(run.key, step)
    log(f"    login code {code} (step {step})")
    page.locator("input[name=code]").first.fill(code)
    page.locator("#code-submit").click()
    shop.wait_path(lambda p: not p.startswith("/login"), "to leave /login/2fa once logged in")
    if page.locator("#logout").count() == 0:
        log(f"    warning: no #logout on {shop.path()} after logging in")
    shop.shot("04-logged-in")


def step_queue(run: Run) -> None:
    shop, page = run.shop, run.shop.page
    event_path, queue_path = f"/events/{QUEUE_EVENT}", f"/events/{QUEUE_EVENT}/queue"
    shop.goto(event_path)
    shop.expect_visible("#join-queue")
    page.locator("#join-queue").click()
    log("    joining (the page solves a proof-of-work first)...")
    if not wait_waiting_room(shop, event_path, queue_path, timeout=60):
        log("    warning: admitted at once, no waiting room shown")
        shop.shot("05-admitted-at-once")
        return
    for sel in ("#queue-position", "#queue-ahead", "#queue-wait"):
        shop.expect_visible(sel)
    log(f"    position {shop.text('#queue-position')!r}, ahead {shop.text('#queue-ahead')!r}, "
        f"wait {shop.text('#queue-wait')!r}")
    shop.shot("05-waiting-room")

    deadline, last = time.time() + 90, None
    while True:
        try:
            if shop.path() == event_path:
                break
            button = page.locator("#go-to-event")
            if button.count() and button.first.is_visible():
                log("    admitted: clicking #go-to-event")
                button.first.click()
                shop.wait_path(lambda p: p == event_path, f"the event page {event_path}")
                break
            now = page.locator("#queue-position").first.inner_text(timeout=1000).strip()
            if now != last:
                log(f"    waiting room: position {now!r}")
                last = now
        except TestFailure:
            raise
        except Exception:
            pass  # the page navigated in the middle of a look: look again
        if time.time() > deadline:
            raise TestFailure(f"not admitted within 90 s (still on {shop.path()})")
        page.wait_for_timeout(500)
    page.wait_for_load_state("load")
    log(f"    admitted after {90 - (deadline - time.time()):.0f} s")


def wait_waiting_room(shop: Shop, event_path: str, queue_path: str, timeout: float) -> bool:
    """After #join-queue: True on reaching the waiting room, False if the
    event page came back already admitted (hold forms, no #join-queue)."""
    page, deadline = shop.page, time.time() + timeout
    while time.time() < deadline:
        try:
            path = shop.path()
            if path == queue_path:
                return True
            if (path == event_path and page.locator("form.hold-form").count()
                    and page.locator("#join-queue").count() == 0):
                return False
        except Exception:
            pass  # mid-navigation: look again
        page.wait_for_timeout(250)
    raise TestFailure(f"expected the waiting room {queue_path} within {timeout:.0f} s after "
                      f"#join-queue, still on {shop.path()}{shop.error_text()}")


def step_hold(run: Run) -> None:
    shop, page = run.shop, run.shop.page
    row = f'tr[data-category="{CATEGORY}"]'
    shop.expect_visible(row)
    log(f"    {CATEGORY} available: {page.locator(row + ' .available').first.inner_text().strip()!r}")
    shop.shot("06-event")
    form = page.locator(f'form.hold-form[data-category="{CATEGORY}"]')
    if form.count() == 0:
        raise TestFailure(f'no form.hold-form[data-category="{CATEGORY}"] on {shop.path()}')
    form.locator("select[name=quantity]").first.select_option(str(QUANTITY))
    form.locator(".hold-submit").first.click()
    shop.wait_path(lambda p: p.startswith("/checkout/"), "the checkout page /checkout/<hold_id>")
    run.hold_id = shop.path().rsplit("/", 1)[-1]
    shop.summary["hold_id"] = run.hold_id
    shop.expect_visible("#hold-countdown")
    first = shop.text("#hold-countdown")
    try:
        page.wait_for_function(
            "t => { const e = document.querySelector('#hold-countdown');"
            " return e && e.textContent.trim() !== t; }", arg=first, timeout=3000)
    except Exception:
        raise TestFailure(f"#hold-countdown did not change within 3 s (stuck at {first!r})") from None
    log(f"    hold {run.hold_id}: countdown {first!r} -> {shop.text('#hold-countdown')!r}")
    shop.shot("07-checkout")


def find_leader(cli: str, nodes: str) -> int:
    """The leader's Raft id from `ingressoja --json cluster status`."""
    deadline = time.time() + 20
    while True:
        proc = subprocess.run([cli, "--nodes", nodes, "--json", "cluster", "status"],
                              capture_output=True, text=True, timeout=30)
        try:
            status = json.loads(proc.stdout)
        except ValueError:
            status = None
        leader = leader_in(status) if status is not None else None
        if leader:
            return leader
        if time.time() > deadline:
            raise TestFailure(f"no leader in `cluster status` (exit {proc.returncode}):\n"
                              f"{proc.stdout[-2000:]}{proc.stderr[-1000:]}")
        time.sleep(0.5)


def leader_in(status) -> int | None:
    """Finds the leader id in a cluster-status JSON of any plausible shape:
    {"leader": {"id": N}}, else a node whose role/state says leader, else an
    agreed `leader_id`."""
    if isinstance(status, dict):
        leader = status.get("leader")
        if isinstance(leader, dict) and leader.get("id"):
            return int(leader["id"])
        if isinstance(leader, int) and leader:
            return leader
        if status.get("leader_id"):
            return int(status["leader_id"])
    nodes = status.get("nodes", []) if isinstance(status, dict) else status
    ids = []
    for node in nodes if isinstance(nodes, list) else []:
        inner = node.get("status", node) if isinstance(node, dict) else {}
        if not isinstance(inner, dict):
            continue
        role = str(inner.get("role", inner.get("state", ""))).lower()
        if role == "leader" and inner.get("id"):
            return int(inner["id"])
        if inner.get("leader_id"):
            ids.append(int(inner["leader_id"]))
    return max(set(ids), key=ids.count) if ids else None


def step_kill_leader(run: Run) -> None:
    args = run.args
    leader = find_leader(args.cli, args.nodes)
    pid_file = Path(args.node_pids_dir) / f"node{leader}.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError) as err:
        raise TestFailure(f"leader is node {leader} but {pid_file} is unusable: {err}") from None
    os.kill(pid, signal.SIGKILL)
    run.shop.summary["killed_node"] = {"id": leader, "pid": pid, "at": time.time()}
    log(f"    SIGKILLed the leader: node {leader} (pid {pid})")


def step_pay(run: Run) -> None:
    shop, page = run.shop, run.shop.page
    radio = page.locator("input[type=radio][name=payment_token][value=approve]")
    field = page.locator("[name=payment_token]")
    if radio.count():
        radio.first.check()
    elif field.count() == 0:
        raise TestFailure("no payment_token field on the checkout page")
    elif field.first.evaluate("e => e.tagName") == "SELECT":
        field.first.select_option("approve")
    else:
        field.first.fill("approve")
    started = time.time()
    page.locator("#pay-submit").click()
    confirmed = ('#purchase-outcome [data-outcome="confirmed"], '
                 '#purchase-outcome[data-outcome="confirmed"]')
    try:
        page.locator(confirmed).first.wait_for(state="attached", timeout=30_000)
    except Exception:
        outcome = page.locator("#purchase-outcome")
        seen = (outcome.first.evaluate("e => e.outerHTML")[:400] if outcome.count()
                else "no #purchase-outcome")
        raise TestFailure(f"purchase not confirmed within 30 s of paying (leader killed just "
                          f"before) on {shop.path()}: {seen}{shop.error_text()}") from None
    took = time.time() - started
    shop.summary["pay_seconds"] = round(took, 2)
    log(f"    confirmed in {took:.1f} s: {shop.text('#purchase-outcome')[:100]!r}")
    if page.locator("#notifications").count() == 0:
        raise TestFailure(f"no #notifications on {shop.path()}")
    if shop.wait_notification("purchase_confirmed", timeout=10):
        log("    purchase_confirmed notification shown")
    shop.shot("08-purchase-confirmed")


def read_tickets(shop: Shop, timeout: float = 15.0) -> list[str]:
    """Opens /tickets (reloading a few times) until QUANTITY tickets show;
    checks each has an id and a QR code; returns the ids."""
    deadline = time.time() + timeout
    while True:
        shop.goto("/tickets")
        tickets = shop.page.locator(".ticket")
        if tickets.count() >= QUANTITY or time.time() > deadline:
            break
        shop.page.wait_for_timeout(1000)
    n = tickets.count()
    if n < QUANTITY:
        raise TestFailure(f"{shop.base}/tickets lists {n} .ticket, want at least {QUANTITY}")
    ids = []
    for i in range(n):
        ticket = tickets.nth(i)
        tid = ticket.locator(".ticket-id").first.inner_text().strip() if \
            ticket.locator(".ticket-id").count() else ""
        if not tid:
            raise TestFailure(f"ticket #{i + 1} on {shop.base}/tickets has no .ticket-id text")
        if ticket.locator(".ticket-qr svg").count() == 0:
            raise TestFailure(f"ticket {tid} on {shop.base}/tickets has no .ticket-qr svg")
        ids.append(tid)
    return ids


def step_tickets(run: Run) -> None:
    shop = run.shop
    run.ticket_ids = read_tickets(shop)
    shop.summary["ticket_ids"] = run.ticket_ids
    log(f"    {len(run.ticket_ids)} tickets: {', '.join(run.ticket_ids)}")
    if shop.page.locator("#notifications").count() == 0:
        raise TestFailure("no #notifications on /tickets")
    shop.wait_notification("purchase_confirmed", timeout=5)
    shop.shot("09-tickets")


def step_notifications(run: Run) -> None:
    kinds = run.shop.kinds_seen()
    run.shop.summary["notification_kinds"] = kinds
    log(f"    kinds seen: {', '.join(kinds) or '(none)'}")
    if "admitted" not in kinds:
        log("    warning: no 'admitted' notification was seen")
    if "purchase_confirmed" not in kinds:
        raise TestFailure('no .notification[data-kind="purchase_confirmed"] appeared during the '
                          f"flow (kinds seen: {kinds or 'none'})")


def step_second_gateway(run: Run) -> None:
    """A fresh browser context carrying only the session cookies, on gateway 2."""
    cookies = run.shop.page.context.cookies(run.shop.base)
    if not cookies:
        raise TestFailure(f"no cookies for {run.shop.base} to carry to the second gateway")
    context = run.browser.new_context()
    context.add_cookies([{"name": c["name"], "value": c["value"], "url": run.args.shop2,
                          "httpOnly": c["httpOnly"], "secure": c["secure"],
                          "sameSite": c["sameSite"]} for c in cookies])
    shop2 = Shop(context.new_page(), run.args.shop2, run.shop.artifacts, run.shop.summary)
    run.current = shop2
    ids = read_tickets(shop2, timeout=10)
    missing = sorted(set(run.ticket_ids) - set(ids))
    if missing:
        raise TestFailure(f"{run.args.shop2}/tickets lacks tickets {', '.join(missing)}")
    log(f"    {run.args.shop2} lists the same {len(ids)} tickets")
    shop2.shot("10-tickets-gateway2")


STEPS = [
    ("a", "register", step_register),
    ("b", "enrol 2FA", step_enrol_2fa),
    ("c", "log out, wrong password, log in with 2FA", step_login),
    ("d", "virtual queue until admitted", step_queue),
    ("e", "hold tickets, checkout countdown", step_hold),
    ("f", "kill the Raft leader", step_kill_leader),
    ("g", "pay through the failover", step_pay),
    ("h", "tickets page", step_tickets),
    ("i", "notifications", step_notifications),
    ("j", "tickets on the second gateway", step_second_gateway),
]


# ---------------------------------------------------------------- main


def save_failure(page, artifacts: Path, summary: dict) -> None:
    try:
        page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        (artifacts / "failure.html").write_text(page.content())
        summary["failure_files"] = [str(artifacts / "failure.png"), str(artifacts / "failure.html")]
        summary["failure_url"] = page.url
    except Exception as err:  # the page itself may be gone
        log(f"(could not save the failing page: {err})")


def run_flow(args) -> int:
    from playwright.sync_api import sync_playwright

    artifacts = Path(args.artifacts).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    for old in [*artifacts.glob("*.png"), *artifacts.glob("failure.html")]:
        old.unlink()
    summary = {"started_at": time.time(), "shop": args.shop, "shop2": args.shop2,
               "artifacts": str(artifacts), "steps": [], "screenshots": [],
               "notifications": [], "browser_problems": [], "killed_node": None,
               "ok": False}
    failed = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, headless=True,
                                    args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pt-BR")
        context.set_default_timeout(30_000)
        shop = Shop(context.new_page(), args.shop, artifacts, summary)
        run = Run(args, shop, browser)
        summary["customer"] = run.customer
        for letter, title, fn in STEPS:
            if fn is step_kill_leader and args.skip_kill:
                log(f"==> {letter}. {title}: skipped (--skip-kill)")
                continue
            log(f"==> {letter}. {title}")
            started = time.time()
            record = {"step": letter, "name": title}
            try:
                fn(run)
                record["ok"] = True
            except Exception as err:
                kind = "" if isinstance(err, TestFailure) else f"{type(err).__name__}: "
                failed = f"step {letter} ({title}) failed: {kind}{err}"
                record.update(ok=False, error=failed)
                save_failure(run.current.page, artifacts, summary)
            record["seconds"] = round(time.time() - started, 2)
            summary["steps"].append(record)
            if failed:
                break
            log(f"    ok ({record['seconds']:.1f} s)")
        summary["notification_kinds"] = shop.kinds_seen()
        browser.close()
    summary["ok"] = failed is None
    summary["error"] = failed
    summary["seconds"] = round(time.time() - summary["started_at"], 1)
    (artifacts / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if failed:
        log(f"\nFAILED: {failed}")
        if summary["browser_problems"]:
            log("browser problems seen:\n  " + "\n  ".join(summary["browser_problems"][-10:]))
        log(f"see {artifacts}/failure.png, failure.html and summary.json")
        return 1
    log(f"\nall {len(summary['steps'])} steps passed in {summary['seconds']:.0f} s; "
        f"notifications: {', '.join(summary['notification_kinds'])}; artifacts in {artifacts}")
    return 0


def main() -> int:
    repo = Path(__file__).resolve().parents[3]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--self-test", action="store_true", help="check TOTP and CPF code only")
    ap.add_argument("--shop", default=os.environ.get("INGRESSOJA_SHOP", "http://localhost:8080"))
    ap.add_argument("--shop2", default=os.environ.get("INGRESSOJA_SHOP2", "http://localhost:8081"))
    ap.add_argument("--artifacts", default=str(repo / "target" / "browser-artifacts"))
    ap.add_argument("--nodes", default=os.environ.get(
        "INGRESSOJA_NODES", "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"))
    ap.add_argument("--cli", help="path to the ingressoja CLI (finds the leader)")
    ap.add_argument("--node-pids-dir", help="directory with nodeN.pid files")
    ap.add_argument("--skip-kill", action="store_true", help="do not kill the leader")
    ap.add_argument("--chromium", default=CHROMIUM)
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.skip_kill and not (args.cli and args.node_pids_dir):
        ap.error("--cli and --node-pids-dir are needed to kill the leader (or --skip-kill)")
    return run_flow(args)


if __name__ == "__main__":
    sys.exit(main())
