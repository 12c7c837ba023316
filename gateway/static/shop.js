// IngressoJá shop: live notifications (SSE), the hold countdown, the
// anti-bot proof of work, the waiting room and live availability.
// Plain JavaScript, no framework; every feature degrades to a working page.
(function () {
  "use strict";
  var texts = {};
  try { texts = JSON.parse(document.getElementById("texts").textContent); } catch (e) { texts = {}; }
  var customer = document.body.getAttribute("data-customer") || "";

  // ---- notifications on screen -------------------------------------------
  var box = document.getElementById("notifications");
  // `key` names what the toast is about (e.g. "purchase_confirmed:12"): the
  // page may announce an outcome it rendered, and the stream may bring the
  // same news a moment later; it is shown once.
  function toast(kind, text, key) {
    if (!box) return;
    if (key && box.querySelector('[data-key="' + CSS.escape(key) + '"]')) return;
    var note = document.createElement("div");
    note.className = "notification";
    note.setAttribute("data-kind", kind);
    if (key) note.setAttribute("data-key", key);
    note.setAttribute("role", "status");
    note.textContent = text;
    note.title = "×";
    note.addEventListener("click", function () { note.remove(); });
    box.appendChild(note);
    while (box.children.length > 5) box.removeChild(box.firstChild);
  }

  // Outcomes the server rendered into the page (e.g. a confirmed purchase).
  Array.prototype.forEach.call(document.querySelectorAll("[data-server-notification]"), function (el) {
    toast(el.getAttribute("data-server-notification"), el.textContent, el.getAttribute("data-key"));
    el.remove();
  });

  // ---- the buyer's event stream -----------------------------------------
  var seqKey = "ij_seq:" + customer;
  var room = document.getElementById("waiting-room");
  function admittedNow(eventId) {
    var shown = document.getElementById("queue-admitted");
    if (shown) shown.hidden = false;
    setTimeout(function () { window.location.href = "/events/" + encodeURIComponent(eventId); }, 1500);
  }
  if (customer && window.EventSource) {
    var params = [];
    var last = sessionStorage.getItem(seqKey);
    if (last !== null) params.push("from=" + (parseInt(last, 10) + 1));
    if (room) params.push("queue=" + encodeURIComponent(room.getAttribute("data-event")));
    var source = new EventSource("/api/v1/notifications" + (params.length ? "?" + params.join("&") : ""));
    var kinds = ["admitted", "hold_created", "hold_expired", "hold_released", "purchase_confirmed",
                 "payment_declined", "rejected", "hold_expiring", "stream_error"];
    kinds.forEach(function (kind) {
      source.addEventListener(kind, function (message) {
        var data = {};
        try { data = JSON.parse(message.data); } catch (e) { return; }
        if (message.lastEventId) sessionStorage.setItem(seqKey, message.lastEventId);
        if (data.replay) return;
        var text = texts["n." + kind] || kind;
        if (kind === "rejected" && data.reason) text = texts["err." + data.reason] || (text + " " + data.reason);
        toast(kind, text, data.hold_id ? kind + ":" + data.hold_id : null);
        if (kind === "admitted" && room && data.event_id === room.getAttribute("data-event")) admittedNow(data.event_id);
      });
    });
    source.addEventListener("queue", function (message) {
      var q = {};
      try { q = JSON.parse(message.data); } catch (e) { return; }
      if (!room) return;
      setText("queue-position", q.position);
      setText("queue-ahead", q.people_ahead);
      setText("queue-wait", formatWait(q.estimated_wait_ms));
      var pre = document.getElementById("pre-queue");
      if (pre) pre.hidden = !q.in_pre_queue;
      if (q.admission_over) { var over = document.getElementById("queue-over"); if (over) over.hidden = false; }
      if (q.admitted) admittedNow(q.event_id);
    });
  }
  function setText(id, value) { var el = document.getElementById(id); if (el) el.textContent = String(value); }
  function formatWait(ms) {
    var s = Math.ceil(ms / 1000);
    return s >= 120 ? "~" + Math.ceil(s / 60) + " min" : "~" + s + " s";
  }

  // ---- hold countdown -----------------------------------------------------
  var countdown = document.getElementById("hold-countdown");
  if (countdown) {
    var expires = parseInt(countdown.getAttribute("data-expires-at-ms"), 10);
    var offset = parseInt(countdown.getAttribute("data-server-now-ms"), 10) - Date.now();
    var warned = false;
    var tick = function () {
      var left = expires - (Date.now() + offset);
      if (left <= 0) {
        countdown.textContent = "00:00";
        var gone = document.getElementById("hold-expired");
        if (gone) gone.hidden = false;
        var pay = document.getElementById("pay-submit");
        if (pay) pay.disabled = true;
        return;
      }
      var s = Math.ceil(left / 1000);
      countdown.textContent = String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
      countdown.classList.toggle("urgent", s <= 60);
      if (s <= 60 && !warned) { warned = true; toast("hold_expiring", texts["n.hold_expiring"] || "hold_expiring"); }
      setTimeout(tick, 250);
    };
    tick();
  }
  var payForm = document.getElementById("pay-form");
  if (payForm) payForm.addEventListener("submit", function () {
    var pay = document.getElementById("pay-submit");
    if (pay) setTimeout(function () { pay.disabled = true; }, 0);
  });

  // ---- proof of work before joining a queue -------------------------------
  var queueForm = document.getElementById("queue-form");
  if (queueForm) queueForm.addEventListener("submit", function (event) {
    // form.submit() below does not fire this handler: every click solves afresh.
    event.preventDefault();
    var button = document.getElementById("join-queue");
    var status = document.getElementById("pow-status");
    button.disabled = true;
    if (status) status.hidden = false;
    var eventId = queueForm.getAttribute("data-event");
    fetch("/api/v1/events/" + encodeURIComponent(eventId) + "/queue/challenge", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("challenge " + r.status); return r.json(); })
      .then(function (c) {
        // Yield to the browser every few thousand hashes so the page stays responsive.
        var counter = 0;
        var step = function () {
          for (var i = 0; i < 4000; i++, counter++) {
            if (leadingZeroBits(sha256(c.challenge + ":" + counter)) >= c.difficulty_bits) {
              queueForm.elements.challenge.value = c.challenge;
              queueForm.elements.solution.value = String(counter);
              queueForm.submit();
              return;
            }
          }
          setTimeout(step, 0);
        };
        step();
      })
      .catch(function () { button.disabled = false; if (status) status.hidden = true; toast("rejected", texts["err.unavailable"] || "error"); });
  });

  // ---- live availability on the event page ---------------------------------
  var table = document.querySelector("table.categories[data-event]");
  if (table) {
    var refresh = function () {
      fetch("/api/v1/events/" + encodeURIComponent(table.getAttribute("data-event")), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (e) {
          if (!e) return;
          e.categories.forEach(function (c) {
            var cell = table.querySelector('tr[data-category="' + CSS.escape(c.category_id) + '"] .available');
            if (cell) cell.textContent = String(c.available);
          });
        })
        .catch(function () {})
        .then(function () { setTimeout(refresh, 5000); });
    };
    setTimeout(refresh, 5000);
  }

  // ---- SHA-256 (FIPS 180-4) of an ASCII/UTF-8 string, as bytes --------------
  var K = [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2];
  var encoder = new TextEncoder();
  function sha256(text) {
    var bytes = encoder.encode(text);
    var bitLen = bytes.length * 8;
    var padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 4, bitLen >>> 0);
    view.setUint32(padded.length - 8, Math.floor(bitLen / 0x100000000));
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var w = new Uint32Array(64);
    for (var off = 0; off < padded.length; off += 64) {
      for (var i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
      for (i = 16; i < 64; i++) {
        var x = w[i - 15], y = w[i - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var ch = (e & f) ^ (~e & g);
        var t1 = (hh + S1 + ch + K[i] + w[i]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) | 0;
        hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
    }
    var out = new Uint8Array(32);
    var outView = new DataView(out.buffer);
    for (i = 0; i < 8; i++) outView.setUint32(i * 4, h[i] >>> 0);
    return out;
  }
  function leadingZeroBits(hash) {
    var bits = 0;
    for (var i = 0; i < hash.length; i++) {
      if (hash[i] === 0) { bits += 8; continue; }
      return bits + Math.clz32(hash[i]) - 24;
    }
    return bits;
  }
  // Back/forward cache: forms carry one-time request ids, so reload instead.
  window.addEventListener("pageshow", function (event) { if (event.persisted) window.location.reload(); });
  window.ingressoja = { sha256: sha256, leadingZeroBits: leadingZeroBits };
})();
