/* app.js: gatewatch NOC dashboard: customer table, customer detail, probes, events; polls /api/v1. */
"use strict";
(function () {
  var REFRESH_MS = 2000, SERIES_REFRESH_MS = 10000, FETCH_TIMEOUT_MS = 8000;
  var PROBE_STALE_S = 15, PROBE_DEAD_S = 60, LIST_MAX = 100;
  /* SLA thresholds: warn / crit (values above are breaches). */
  var SLA = {
    rtt_wan: { warn: 100, crit: 200, label: "RTT WAN ms" },
    rtt_lan: { warn: 20, crit: 50, label: "RTT LAN ms" },
    jitter: { warn: 20, crit: 30, label: "jitter ms" },
    loss: { warn: 1, crit: 3, label: "RTP loss %" },
    dns: { warn: 100, crit: 300, label: "DNS ms" }
  };
  var RANGES = { "1h": 3600, "1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

  var state = {
    view: "customers", customer: null, range: "1h",
    sortKey: "id", sortDir: 1, filter: "",
    customers: [], probes: [], events: {}, eventMax: 0,
    seriesAt: 0, seriesKey: "", timer: null, lastOk: 0
  };

  function $(id) { return document.getElementById(id); }
  function now() { return Date.now() / 1000; }

  /* ---------- formatting ---------- */
  function fmtSI(v, unit) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var p = ["", "k", "M", "G", "T"], i = 0;
    while (Math.abs(v) >= 1000 && i < p.length - 1) { v /= 1000; i++; }
    return (v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2)) + " " + p[i] + unit;
  }
  function fmtBits(v) { return fmtSI(v, "bit/s"); }
  function fmtCount(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return v < 1000 ? String(Math.round(v * 10) / 10) : fmtSI(v, "").trim();
  }
  function fmtMs(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return v < 10 ? v.toFixed(1) : v.toFixed(0);
  }
  function fmtBytes(v) {
    if (!isFinite(v)) return "–";
    var p = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (v >= 1024 && i < p.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + p[i];
  }
  function fmtAge(s) {
    if (!isFinite(s)) return "–";
    if (s < 0) s = 0;
    if (s < 90) return s.toFixed(0) + " s";
    if (s < 5400) return (s / 60).toFixed(0) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }
  function fmtTime(t) {
    if (!t) return "–";
    var d = new Date(t * 1000);
    function p(n) { return n < 10 ? "0" + n : n; }
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
      p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function level(v, t) {
    if (v === null || !isFinite(v)) return "";
    return v > t.crit ? "crit" : v > t.warn ? "warn" : "";
  }

  /* ---------- API ---------- */
  function api(path) {
    var ctl = new AbortController(), t = setTimeout(function () { ctl.abort(); }, FETCH_TIMEOUT_MS);
    return fetch("api/v1/" + path, { signal: ctl.signal, cache: "no-store" }).then(function (r) {
      clearTimeout(t);
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { var e = new Error(body.error || ("HTTP " + r.status)); e.status = r.status; throw e; }
        return body;
      });
    }, function (e) { clearTimeout(t); throw e; });
  }

  function setStatus(err) {
    var s = $("status");
    if (err) {
      s.className = "status error";
      s.textContent = "API error: " + err.message + (state.lastOk ? " — data from " + fmtTime(state.lastOk) : "");
    } else {
      state.lastOk = now();
      s.className = "status";
      s.textContent = "updated " + fmtTime(state.lastOk).slice(11);
    }
  }

  /* ---------- derived customer values ---------- */
  function topApp(c) {
    var best = null, bestB = -1, total = 0;
    Object.keys(c.apps || {}).forEach(function (k) {
      var b = (c.apps[k].rx_bytes || 0) + (c.apps[k].tx_bytes || 0);
      total += b;
      if (b > bestB) { best = k; bestB = b; }
    });
    return best === null ? null : { name: best, share: total ? bestB / total : 0 };
  }
  function derive(c) {
    var iv = c.interval > 0 ? c.interval : 1, tcp = c.tcp || {}, rtp = c.rtp || {}, dns = c.dns || {};
    var ta = topApp(c), hs = tcp.handshakes > 0;
    return {
      id: c.id, probe: c.probe, ts: c.ts, rx_bps: c.rx_bps, tx_bps: c.tx_bps,
      pps: ((c.rx_packets || 0) + (c.tx_packets || 0)) / iv,
      flows: c.flows_active, top: ta ? ta.name : "", topShare: ta ? ta.share : 0,
      rtt_wan: hs ? tcp.rtt_wan_ms_avg : null, rtt_lan: hs ? tcp.rtt_lan_ms_avg : null,
      jitter: rtp.streams > 0 ? rtp.jitter_ms_avg : null,
      loss: rtp.packets_expected > 0 ? 100 * rtp.packets_lost / rtp.packets_expected : null,
      dns: dns.responses > 0 ? dns.latency_ms_avg : null, raw: c
    };
  }

  /* ---------- customer table ---------- */
  var COLS = [
    { key: "id", label: "Customer", cls: "id" },
    { key: "probe", label: "Probe" },
    { key: "rx_bps", label: "rx", num: true, fmt: fmtBits },
    { key: "tx_bps", label: "tx", num: true, fmt: fmtBits },
    { key: "pps", label: "pkt/s", num: true, fmt: fmtCount },
    { key: "flows", label: "Flows", num: true, fmt: fmtCount },
    { key: "top", label: "Top app", fmt: function (v, r) { return v ? v + " " + Math.round(r.topShare * 100) + "%" : "–"; } },
    { key: "rtt_wan", label: "RTT WAN ms", num: true, fmt: fmtMs, sla: SLA.rtt_wan },
    { key: "rtt_lan", label: "RTT LAN ms", num: true, fmt: fmtMs, sla: SLA.rtt_lan },
    { key: "jitter", label: "Jitter ms", num: true, fmt: fmtMs, sla: SLA.jitter },
    { key: "loss", label: "RTP loss %", num: true, fmt: function (v) { return v === null ? "–" : v.toFixed(v < 10 ? 2 : 1); }, sla: SLA.loss },
    { key: "dns", label: "DNS ms", num: true, fmt: fmtMs, sla: SLA.dns }
  ];

  function buildHead() {
    var tr = $("customers-head");
    COLS.forEach(function (c) {
      var th = document.createElement("th"), b = document.createElement("button");
      th.scope = "col";
      th.dataset.key = c.key;
      if (c.num) th.className = "num";
      b.type = "button";
      b.className = "sort";
      b.textContent = c.label;
      b.addEventListener("click", function () {
        if (state.sortKey === c.key) state.sortDir = -state.sortDir;
        else { state.sortKey = c.key; state.sortDir = c.num ? -1 : 1; }
        renderCustomers();
      });
      th.appendChild(b);
      tr.appendChild(th);
    });
    $("legend").textContent = "SLA thresholds (warn / critical, ▲ marks a breach): " + Object.keys(SLA).map(function (k) {
      return SLA[k].label + " > " + SLA[k].warn + " / " + SLA[k].crit;
    }).join(" · ");
  }

  function compare(a, b) {
    var k = state.sortKey, x = a[k], y = b[k];
    if (x === null || x === undefined || x === "") return 1;   /* unknown last either way */
    if (y === null || y === undefined || y === "") return -1;
    var r = typeof x === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return r * state.sortDir || String(a.id).localeCompare(String(b.id), undefined, { numeric: true });
  }

  function customerRow(r) {
    var tr = document.createElement("tr");
    tr.tabIndex = 0;
    tr.dataset.id = r.id;
    COLS.forEach(function (c) {
      var td = document.createElement("td"), v = r[c.key];
      td.textContent = c.fmt ? c.fmt(v, r) : (v === null || v === undefined ? "–" : String(v));
      var cls = [c.num ? "num" : "", c.cls || "", c.sla ? level(v, c.sla) : ""].join(" ").trim();
      if (cls) td.className = cls;
      td.dataset.key = c.key;
      if (c.sla && level(v, c.sla)) td.title = c.sla.label + " above " + (level(v, c.sla) === "crit" ? c.sla.crit : c.sla.warn);
      tr.appendChild(td);
    });
    return tr;
  }

  function breaches(r) {
    return ["rtt_wan", "rtt_lan", "jitter", "loss", "dns"].some(function (k) { return level(r[k], SLA[k]) !== ""; });
  }

  function renderTiles(rows) {
    var rx = 0, tx = 0, sla = 0;
    rows.forEach(function (r) { rx += r.rx_bps || 0; tx += r.tx_bps || 0; if (breaches(r)) sla++; });
    $("t-customers").textContent = String(rows.length);
    $("t-rx").textContent = fmtBits(rx);
    $("t-tx").textContent = fmtBits(tx);
    $("t-sla").textContent = String(sla);
    $("t-sla").className = "tile-value " + (sla ? "crit" : "ok");
    var stale = state.probes.filter(function (p) { return now() - p.last_seen > PROBE_STALE_S; }).length;
    $("t-probes").textContent = state.probes.length + " (" + stale + ")";
    $("t-probes").className = "tile-value " + (stale ? "warn" : "ok");
  }

  function renderCustomers() {
    var rows = state.customers.map(derive), f = state.filter.toLowerCase();
    var focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : null;
    renderTiles(rows);
    var shown = rows.filter(function (r) {
      return !f || [r.id, r.probe, r.top].some(function (s) { return String(s || "").toLowerCase().indexOf(f) >= 0; });
    }).sort(compare);
    var tbody = document.querySelector("#customers tbody"), frag = document.createDocumentFragment();
    shown.forEach(function (r) { frag.appendChild(customerRow(r)); });
    if (!shown.length) {
      var tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = COLS.length;
      td.className = "empty";
      td.textContent = rows.length ? "No customer matches the filter." : "No customer has reported yet.";
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    if (focused) {   /* keep keyboard focus on the same customer across refreshes */
      var again = tbody.querySelector('tr[data-id="' + CSS.escape(focused) + '"]');
      if (again) again.focus();
    }
    document.querySelectorAll("#customers-head th").forEach(function (th) {
      th.setAttribute("aria-sort", th.dataset.key === state.sortKey ? (state.sortDir > 0 ? "ascending" : "descending") : "none");
    });
    $("count").textContent = shown.length + " of " + rows.length + " customers";
  }

  /* ---------- customer detail ---------- */
  function tile(label, value, cls) {
    var d = document.createElement("div"), l = document.createElement("div"), v = document.createElement("div");
    d.className = "tile";
    l.className = "tile-label";
    l.textContent = label;
    v.className = "tile-value" + (cls ? " " + cls : "");
    v.textContent = value;
    d.appendChild(l);
    d.appendChild(v);
    return d;
  }

  function renderDetailLatest(c) {
    var r = derive(c);
    $("d-title").textContent = "Customer " + c.id;
    $("d-meta").textContent = "probe " + c.probe + " · last interval " + fmtTime(c.ts) + " (" + c.interval + " s)";
    $("d-tiles").replaceChildren(tile("rx", fmtBits(r.rx_bps)), tile("tx", fmtBits(r.tx_bps)),
      tile("pkt/s", fmtCount(r.pps)), tile("Flows", fmtCount(r.flows)),
      tile("RTT WAN ms", fmtMs(r.rtt_wan), level(r.rtt_wan, SLA.rtt_wan)),
      tile("Jitter ms", fmtMs(r.jitter), level(r.jitter, SLA.jitter)),
      tile("RTP loss %", r.loss === null ? "–" : r.loss.toFixed(2), level(r.loss, SLA.loss)),
      tile("DNS ms", fmtMs(r.dns), level(r.dns, SLA.dns)));
    renderApps(c);
  }

  function renderApps(c) {
    var iv = c.interval > 0 ? c.interval : 1, apps = c.apps || {}, total = 0;
    var list = Object.keys(apps).map(function (k) {
      var a = apps[k], b = (a.rx_bytes || 0) + (a.tx_bytes || 0);
      total += b;
      return { name: k, cat: a.category || "", rx: a.rx_bytes * 8 / iv, tx: a.tx_bytes * 8 / iv, b: b };
    }).sort(function (a, b) { return b.b - a.b; });
    var frag = document.createDocumentFragment();
    list.forEach(function (a) {
      var tr = document.createElement("tr"), share = total ? a.b / total : 0;
      [a.name, a.cat || "–", fmtBits(a.rx), fmtBits(a.tx), (share * 100).toFixed(1) + " %"].forEach(function (t, i) {
        var td = document.createElement("td");
        td.textContent = t;
        if (i >= 2) td.className = "num";
        tr.appendChild(td);
      });
      var td = document.createElement("td"), bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = (share * 100).toFixed(1) + "%";
      td.appendChild(bar);
      tr.appendChild(td);
      frag.appendChild(tr);
    });
    if (!list.length) {
      var tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = 6;
      td.className = "empty";
      td.textContent = "No application traffic in the latest interval.";
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    document.querySelector("#apps tbody").replaceChildren(frag);
  }

  /* The window to chart: ending now, or at the last report when it is older than the range (replays, silent customers). */
  function chartWindow(c) {
    var span = RANGES[state.range], t = now(), to = t;
    if (c && c.ts && c.ts < t - span) to = Math.ceil(c.ts) + 30;
    return { from: Math.floor(to - span), to: Math.ceil(to), anchored: to !== t };
  }

  function series(id, metric, w) {
    return api("customers/" + encodeURIComponent(id) + "/series?metric=" + metric + "&from=" + w.from + "&to=" + w.to)
      .then(function (s) { return s.points || []; }, function (e) { if (e.status === 404 || e.status === 400) return []; throw e; });
  }

  function scale(points, k) { return points.map(function (p) { return [p[0], p[1] === null ? null : p[1] * k]; }); }

  function loadCharts(c) {
    var w = chartWindow(c), id = c.id;
    $("d-note").textContent = w.anchored ? "No report in the last " + state.range + "; showing the " + state.range +
      " up to the last report (" + fmtTime(c.ts) + ")." : "";
    return Promise.all(["rx_bytes", "tx_bytes", "rtt_wan_ms", "jitter_ms", "dns_ms"].map(function (m) { return series(id, m, w); }))
      .then(function (s) {
        if (state.customer !== id) return;
        GwChart.render(document.querySelector("#c-bits .plot"), { title: "Throughput of " + id, from: w.from, to: w.to, format: fmtBits,
          series: [{ name: "rx", color: "#58a6ff", points: scale(s[0], 8) }, { name: "tx", color: "#f778ba", points: scale(s[1], 8) }] });
        [["#c-rtt .plot", "RTT WAN", s[2], "#3fb950"], ["#c-jitter .plot", "Jitter", s[3], "#f0b429"],
         ["#c-dns .plot", "DNS", s[4], "#d2a8ff"]].forEach(function (x) {
          GwChart.render(document.querySelector(x[0]), { title: x[1] + " of " + id, from: w.from, to: w.to,
            format: function (v) { return fmtMs(v) + " ms"; }, series: [{ name: x[1], color: x[3], points: x[2] }] });
        });
      });
  }

  function refreshDetail() {
    var id = state.customer;
    return api("customers/" + encodeURIComponent(id)).then(function (c) {
      if (state.customer !== id) return;
      renderDetailLatest(c);
      var key = id + "|" + state.range;
      if (key !== state.seriesKey || Date.now() - state.seriesAt > SERIES_REFRESH_MS) {
        state.seriesKey = key;
        state.seriesAt = Date.now();
        return loadCharts(c);
      }
    }, function (e) {
      if (e.status !== 404) throw e;
      $("d-title").textContent = "Customer " + id;
      $("d-meta").textContent = "unknown to the operator (no report since it started)";
      $("d-tiles").replaceChildren();
    });
  }

  /* ---------- probes ---------- */
  function cells(tr, values, numFrom) {
    values.forEach(function (v, i) {
      var td = document.createElement("td");
      td.textContent = v;
      if (i >= numFrom) td.className = "num";
      tr.appendChild(td);
    });
  }

  function renderProbes() {
    var frag = document.createDocumentFragment(), t = now();
    state.probes.forEach(function (p) {
      var h = p.health || {}, age = t - p.last_seen, tr = document.createElement("tr");
      if (age > PROBE_DEAD_S) tr.className = "dead";
      else if (age > PROBE_STALE_S) tr.className = "stale";
      cells(tr, [p.id, p.hostname || "–", p.address || "–"], 99);
      cells(tr, [fmtAge(age) + (age > PROBE_STALE_S ? " ⚠" : ""), fmtCount(p.messages), fmtCount(p.lost),
        fmtCount(p.duplicates), fmtCount(p.rejected), fmtCount(p.customers),
        h.cpu_pct === undefined ? "–" : h.cpu_pct.toFixed(1), h.rss_bytes === undefined ? "–" : fmtBytes(h.rss_bytes),
        h.pcap_dropped === undefined ? "–" : fmtCount(h.pcap_dropped), h.queue_dropped === undefined ? "–" : fmtCount(h.queue_dropped),
        h.decode_errors === undefined ? "–" : fmtCount(h.decode_errors)], 0);
      tr.cells[3].title = "last seen " + fmtTime(p.last_seen);
      if (p.lost > 0) tr.cells[5].classList.add("warn");
      if (h.pcap_dropped > 0) tr.cells[11].classList.add("warn");
      if (h.queue_dropped > 0) tr.cells[12].classList.add("warn");
      frag.appendChild(tr);
    });
    if (!state.probes.length) frag.appendChild(emptyRow(14, "No probe has connected yet."));
    document.querySelector("#probes tbody").replaceChildren(frag);
  }

  function emptyRow(span, text) {
    var tr = document.createElement("tr"), td = document.createElement("td");
    td.colSpan = span;
    td.className = "empty";
    td.textContent = text;
    tr.appendChild(td);
    return tr;
  }

  /* ---------- events and countermeasures ---------- */
  /* Fetches events newer than the newest seen (bounded pages), keeps the newest LIST_MAX by id. */
  function fetchEvents(pages) {
    return api("events?after=" + state.eventMax + "&limit=1000").then(function (b) {
      var list = b.events || [], max = state.eventMax;
      list.forEach(function (e) { state.events[e.id] = e; if (e.id > max) max = e.id; });
      var ids = Object.keys(state.events).map(Number).sort(function (a, b2) { return b2 - a; });
      ids.slice(LIST_MAX).forEach(function (id) { delete state.events[id]; });
      var more = list.length >= 1000 && max > state.eventMax && pages > 1;
      state.eventMax = max;
      return more ? fetchEvents(pages - 1) : null;
    });
  }

  function sevBadge(s) {
    var span = document.createElement("span");
    s = String(s || "info").toLowerCase();
    span.className = "sev sev-" + (/^(critical|high|medium|low|info)$/.test(s) ? s : "info");
    span.textContent = s;
    return span;
  }

  function renderEvents() {
    var frag = document.createDocumentFragment();
    var list = Object.keys(state.events).map(function (k) { return state.events[k]; })
      .sort(function (a, b) { return b.id - a.id; });
    list.forEach(function (e) {
      var tr = document.createElement("tr"), td;
      cells(tr, [fmtTime(e.ts)], 99);
      td = document.createElement("td");
      td.appendChild(sevBadge(e.severity));
      tr.appendChild(td);
      var rate = e.rate_pps ? fmtCount(e.rate_pps) + " pkt/s" : e.rate_bps ? fmtBits(e.rate_bps) : "–";
      cells(tr, [e.kind || "–", e.customer || "–", e.src || "–", e.dst || "–"], 99);
      cells(tr, [rate], 0);
      cells(tr, [e.probe || "–", e.cleared ? "cleared" : "active", e.detail || ""], 99);
      if (e.cleared) tr.className = "cleared";
      frag.appendChild(tr);
    });
    if (!list.length) frag.appendChild(emptyRow(10, "No events."));
    document.querySelector("#events tbody").replaceChildren(frag);
  }

  function cmState(s) {
    var names = ["pending", "active", "lifted", "expired", "failed"];
    return typeof s === "number" ? names[s] || String(s) : String(s || "–");
  }

  function renderCms(list) {
    var frag = document.createDocumentFragment();
    list.slice().sort(function (a, b) { return (b.id || 0) - (a.id || 0); }).slice(0, LIST_MAX).forEach(function (c) {
      var tr = document.createElement("tr"), st = cmState(c.state), td;
      cells(tr, [fmtTime(c.decided_ts || c.ts), String(c.action || "ban"),
        (c.address || "–") + (c.prefix_len ? "/" + c.prefix_len : ""), c.scope || c.probe || "*", c.customer || "–"], 99);
      td = document.createElement("td");
      td.appendChild(sevBadge(st === "active" ? "high" : st === "failed" ? "critical" : st === "pending" ? "medium" : "low"));
      td.firstChild.textContent = st;
      tr.appendChild(td);
      cells(tr, [c.expires_ts ? fmtTime(c.expires_ts) : "never", c.decided_by || "–", c.reason || c.result_message || ""], 99);
      frag.appendChild(tr);
    });
    if (!list.length) frag.appendChild(emptyRow(9, "No countermeasures."));
    document.querySelector("#cms tbody").replaceChildren(frag);
  }

  function refreshEvents() {
    var ev = fetchEvents(10).then(function () { $("events-note").textContent = ""; renderEvents(); }, function (e) {
      if (e.status !== 404) throw e;
      $("events-note").textContent = "This operator does not serve events (404).";
      renderEvents();
    });
    var cm = api("countermeasures?limit=" + LIST_MAX).then(function (b) {
      $("cm-note").textContent = "";
      renderCms(Array.isArray(b) ? b : b.countermeasures || []);
    }, function (e) {
      if (e.status !== 404) throw e;
      $("cm-note").textContent = "This operator does not serve countermeasures yet (404).";
      renderCms([]);
    });
    return Promise.all([ev, cm]);
  }

  /* ---------- views, routing, polling ---------- */
  function parseHash() {
    var h = location.hash.replace(/^#/, ""), m = /^customer=([A-Za-z0-9._:-]{1,64})(?:&range=(1h|1d|7d|30d))?$/.exec(h);
    if (m) { state.view = "detail"; state.customer = m[1]; if (m[2]) state.range = m[2]; }
    else { state.view = ["probes", "events"].indexOf(h) >= 0 ? h : "customers"; state.customer = null; }
  }

  function showView() {
    ["customers", "detail", "probes", "events"].forEach(function (v) { $("view-" + v).hidden = v !== state.view; });
    ["customers", "probes", "events"].forEach(function (v) {
      var a = $("nav-" + v);
      if (v === state.view || (v === "customers" && state.view === "detail")) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    document.querySelectorAll("button.range").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.range === state.range ? "true" : "false");
    });
  }

  function refresh() {
    var p;
    if (state.view === "detail") p = refreshDetail();
    else if (state.view === "events") p = refreshEvents();
    else {
      p = Promise.all([api("customers"), api("probes").catch(function () { return { probes: state.probes }; })])
        .then(function (r) {
          state.customers = r[0].customers || [];
          state.probes = r[1].probes || [];
          if (state.view === "probes") renderProbes(); else renderCustomers();
        });
    }
    return p.then(function () { setStatus(null); }, function (e) { setStatus(e); });
  }

  function loop() {
    clearTimeout(state.timer);
    refresh().then(function () { state.timer = setTimeout(loop, REFRESH_MS); });
  }

  function go() {
    parseHash();
    state.seriesKey = "";
    showView();
    loop();
  }

  function init() {
    buildHead();
    $("filter").addEventListener("input", function (e) { state.filter = e.target.value; renderCustomers(); });
    document.querySelector("#customers tbody").addEventListener("click", function (e) {
      var tr = e.target.closest("tr[data-id]");
      if (tr) location.hash = "customer=" + tr.dataset.id;
    });
    document.querySelector("#customers tbody").addEventListener("keydown", function (e) {
      var tr = e.target.closest("tr[data-id]");
      if (tr && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); location.hash = "customer=" + tr.dataset.id; }
    });
    document.querySelectorAll("button.range").forEach(function (b) {
      b.addEventListener("click", function () { location.hash = "customer=" + state.customer + "&range=" + b.dataset.range; });
    });
    window.addEventListener("hashchange", go);
    go();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
