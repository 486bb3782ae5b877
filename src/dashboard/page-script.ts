/**
 * The page's script, inlined with a CSP nonce. Plain ES2020 for evergreen browsers; it builds
 * the DOM with textContent (never innerHTML from data: keys and reasons come from clients), draws
 * charts on <canvas>, and talks only to its own origin (server-sent events and fetch).
 */
export const PAGE_SCRIPT = `(function () {
  "use strict";
  var meta = function (n) { return document.querySelector('meta[name="' + n + '"]').content; };
  var base = meta("tk-base");
  var csrf = meta("tk-csrf");
  var COLORS = { allowed: "#2e9d5b", limited: "#e0a100", blocked: "#d9473b", denied: "#8a4fd6", degraded: "#8b949e" };
  var OUTCOMES = ["allowed", "limited", "blocked", "denied", "degraded"];
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  var fmt = function (n) { return n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : String(n); };
  var time = function (ms) { return new Date(ms).toLocaleTimeString(); };
  var ago = function (ms, now) {
    var s = Math.max(0, Math.round((now - ms) / 1000));
    return s < 60 ? s + " s" : s < 3600 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h";
  };
  var left = function (ms, now) {
    if (ms === undefined || ms === null) return "never";
    var s = Math.max(0, Math.round((ms - now) / 1000));
    return s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : s < 172800 ? Math.round(s / 3600) + " h" : Math.round(s / 86400) + " d";
  };
  var last = null;

  function api(method, path, body) {
    var headers = { "x-throttlekit-csrf": csrf };
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(base + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" })
      .then(function (r) {
        return r.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
          if (r.status === 401) { location.reload(); }
          if (!r.ok) {
            var msg = (data && data.detail) || ("HTTP " + r.status);
            if (data && data.problems) msg += ": " + data.problems.map(function (p) { return p.field + " (" + p.expected + ")"; }).join("; ");
            throw new Error(msg);
          }
          return data;
        });
      });
  }

  function draw(canvas, series, n) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var max = 1;
    for (var i = 0; i < n; i++) {
      var sum = 0;
      for (var k = 0; k < OUTCOMES.length; k++) sum += series[OUTCOMES[k]][i] || 0;
      if (sum > max) max = sum;
    }
    var top = 14, bottom = h - 2, bw = w / n;
    ctx.strokeStyle = "rgba(127,127,127,0.25)"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(0, top + 0.5); ctx.lineTo(w, top + 0.5); ctx.moveTo(0, bottom + 0.5); ctx.lineTo(w, bottom + 0.5); ctx.stroke();
    for (var j = 0; j < n; j++) {
      var y = bottom;
      for (var m = 0; m < OUTCOMES.length; m++) {
        var v = series[OUTCOMES[m]][j] || 0;
        if (!v) continue;
        var bh = (v / max) * (bottom - top);
        ctx.fillStyle = COLORS[OUTCOMES[m]];
        ctx.fillRect(j * bw + 0.5, y - bh, Math.max(1, bw - 1), bh);
        y -= bh;
      }
    }
    ctx.fillStyle = "#8b949e"; ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(fmt(max) + "/s", 2, 11);
  }

  function rate(series, n, o) {
    // The last complete second: the current one is still being flushed by the collectors.
    return n > 1 ? (series[o][n - 2] || 0) : 0;
  }

  function cards(s) {
    var t = s.fleet.total;
    $("c-requests").textContent = fmt(t.requests);
    OUTCOMES.forEach(function (o) { $("c-" + o).textContent = fmt(t[o]); });
    $("c-rate").textContent = (t.blockRate * 100).toFixed(1) + "%";
    var n = s.fleet.seconds;
    var r = 0;
    OUTCOMES.forEach(function (o) { r += rate(s.fleet.series.total, n, o); });
    $("c-rps").textContent = fmt(r);
    $("window").textContent = n >= 120 ? Math.round(n / 60) + " min" : n + " s";
  }

  function status(s) {
    var box = $("status");
    box.textContent = "";
    var parts = [];
    if (!s.store.reachable) parts.push(["bad", "Store " + s.store.name + " unreachable from the dashboard (" + s.store.error + "); showing what could be read."]);
    if (s.outage.ongoing) parts.push(["bad", "Store outage in progress since " + time(s.outage.since) + " (" + (s.outage.store || "store") + ", onStoreError " + (s.outage.mode || "?") + ")" + (s.outage.error ? ": " + s.outage.error : "")]);
    if (s.outage.degradedInWindow > 0) parts.push(["warn", fmt(s.outage.degradedInWindow) + " decisions answered degraded (store outage) in this window."]);
    if (parts.length === 0) parts.push(["ok", "Store " + s.store.name + " healthy" + (s.outage.count > 0 ? " (" + s.outage.count + " outage(s) seen by this process, last at " + time(s.outage.since) + ")" : "")]);
    parts.forEach(function (p) { box.appendChild(el("div", p[1], "banner " + p[0])); });
  }

  function rules(s) {
    var box = $("rules");
    var names = Object.keys(s.fleet.rules).sort();
    box.textContent = "";
    if (names.length === 0) { box.appendChild(el("p", "No requests counted in this window yet. Limiters report here with metrics: { store } (see docs/dashboard.md).", "muted")); return; }
    names.forEach(function (name) {
      var r = s.fleet.rules[name];
      var card = el("div", null, "rule");
      card.setAttribute("data-rule", name);
      var head = el("div", null, "rule-head");
      head.appendChild(el("strong", name));
      var nums = el("span", null, "nums");
      OUTCOMES.forEach(function (o) {
        if (o === "degraded" && !r.degraded) return;
        var b = el("span", fmt(r[o]) + " " + o, "n " + o);
        b.setAttribute("data-outcome", o);
        nums.appendChild(b);
      });
      head.appendChild(nums);
      card.appendChild(head);
      var c = el("canvas", null, "spark");
      card.appendChild(c);
      box.appendChild(card);
      draw(c, s.fleet.series.rules[name], s.fleet.seconds);
    });
  }

  function table(id, head, rows, empty) {
    var t = $(id);
    t.textContent = "";
    var tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", h)); });
    var thead = el("thead"); thead.appendChild(tr); t.appendChild(thead);
    var body = el("tbody");
    if (rows.length === 0) { var r0 = el("tr"); var td = el("td", empty, "muted"); td.colSpan = head.length; r0.appendChild(td); body.appendChild(r0); }
    rows.forEach(function (cells) {
      var r = el("tr");
      cells.forEach(function (c) { if (c instanceof Node) { var d = el("td"); d.appendChild(c); r.appendChild(d); } else r.appendChild(el("td", c)); });
      body.appendChild(r);
    });
    t.appendChild(body);
  }

  function lists(s) {
    $("lists-off").hidden = s.lists.managed;
    $("list-form").hidden = !s.lists.managed;
    table("entries", ["list", "value", "expires in", "reason", "added", ""], s.lists.entries.map(function (e) {
      var b = el("button", "Remove", "small");
      b.type = "button";
      b.setAttribute("data-remove", e.list + ":" + e.value);
      b.addEventListener("click", function () {
        b.disabled = true;
        api("DELETE", "/api/lists?list=" + encodeURIComponent(e.list) + "&value=" + encodeURIComponent(e.value))
          .then(refreshLists, function (err) { b.disabled = false; $("list-msg").textContent = err.message; });
      });
      var tag = el("span", e.list, "tag " + e.list);
      return [tag, e.value, left(e.expiresAt, s.at), e.reason || "", ago(e.addedAt, s.at) + " ago", b];
    }), "No entries.");
  }

  function render(s) {
    last = s;
    cards(s);
    status(s);
    draw($("chart"), s.fleet.series.total, s.fleet.seconds);
    rules(s);
    table("offenders", ["key", "refusals", "± error"], s.fleet.topOffenders.map(function (o) { return [o.key, fmt(o.count), o.error ? "±" + o.error : ""]; }), "No refusals in this window.");
    table("violations", ["time", "rule", "who", "policy", "reason", "made / limit"], s.violations.slice(0, 30).map(function (v) {
      return [time(v.time), v.rule, v.who, v.policy, v.reason, v.limit === undefined || v.limit === null ? "" : v.requestsMade + " / " + v.limit];
    }), "No violations seen by this process.");
    lists(s);
    $("updated").textContent = "updated " + time(s.at);
  }

  function refreshLists() {
    return api("GET", "/api/lists").then(function (d) {
      if (last) { last.lists = d; last.at = Date.now(); lists(last); }
    });
  }

  $("list-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var msg = $("list-msg");
    msg.textContent = "";
    var body = { list: $("list-kind").value, value: $("list-value").value.trim() };
    if ($("list-for").value.trim()) body.for = $("list-for").value.trim();
    if ($("list-reason").value.trim()) body.reason = $("list-reason").value.trim();
    var btn = $("list-add"); btn.disabled = true;
    api("POST", "/api/lists", body).then(function () {
      $("list-value").value = ""; $("list-reason").value = "";
      msg.textContent = "Added " + body.value + " to the " + body.list + " list.";
      return refreshLists();
    }).catch(function (err) { msg.textContent = err.message; }).then(function () { btn.disabled = false; });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/logout").then(function () { location.href = base + "/"; }, function () { location.href = base + "/"; });
  });

  api("GET", "/api/config").then(function (d) {
    var pre = $("config");
    pre.textContent = d.config === null || d.config === undefined ? "No config was given to dashboard({ config })." : JSON.stringify(d.config, null, 2);
  }).catch(function () {});

  var conn = $("conn");
  function connect() {
    var es = new EventSource(base + "/api/events");
    es.addEventListener("snapshot", function (m) { conn.textContent = "live"; conn.className = "pill ok"; render(JSON.parse(m.data)); });
    es.addEventListener("error", function () {
      conn.textContent = "reconnecting"; conn.className = "pill warn";
      if (es.readyState === 2) { setTimeout(function () { fetch(base + "/api/lists", { credentials: "same-origin" }).then(function (r) { if (r.status === 401) location.reload(); else connect(); }, connect); }, 3000); }
    });
  }
  connect();
  window.addEventListener("resize", function () { if (last) render(last); });
})();`;
