/* app.js: gatewatch NOC dashboard core: API access, formatting, routing and polling, the customer table, customer detail and probes. */
"use strict";
(function () {
  var REFRESH_MS = 2000, SERIES_REFRESH_MS = 10000, FETCH_TIMEOUT_MS = 8000;
  var PROBE_STALE_S = 15, PROBE_DEAD_S = 60;
  var SPARK_N = 60;          /* intervals per customer for the rx/tx sparklines (one batched request) */
  var QUALITY_HOLD_S = 300;  /* a customer's last measured RTT/jitter/DNS is shown this long (packet time) */
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
    customers: [], probes: [], seriesAt: 0, seriesKey: "", timer: null, lastOk: 0
  };
  /* Views other files add (feed.js, capacity, ...): name -> { refresh() -> Promise, show() }. */
  var views = {};

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
  function fmtPct(v) { return v === null || v === undefined || !isFinite(v) ? "–" : v.toFixed(v < 10 ? 2 : 1); }
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
  /* A countdown: "45 s", "9 min 05 s", "2 h 03 min", "3 d 04 h". */
  function fmtLeft(s) {
    if (!isFinite(s)) return "–";
    s = Math.max(0, Math.round(s));
    function p(n) { return n < 10 ? "0" + n : String(n); }
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + p(s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + p(Math.floor(s % 3600 / 60)) + " min";
    return Math.floor(s / 86400) + " d " + p(Math.floor(s % 86400 / 3600)) + " h";
  }
  function fmtTime(t) {
    if (!t) return "–";
    var d = new Date(t * 1000);
    function p(n) { return n < 10 ? "0" + n : n; }
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
      p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function level(v, t) {
    if (v === null || v === undefined || !isFinite(v)) return "";
    return v > t.crit ? "crit" : v > t.warn ? "warn" : "";
  }
  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function emptyRow(span, text) {
    var tr = document.createElement("tr"), td = node("td", "empty", text);
    td.colSpan = span;
    tr.appendChild(td);
    return tr;
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

  /*
   * The quality summary to show for kind (rtp, tcp, dns): the latest interval's when it had
   * such traffic, else the last measured one (the API's last_measured) if at most
   * QUALITY_HOLD_S older than the latest interval; null when there is none.
   */
  var HAS = {
    rtp: function (s) { return s.streams > 0; },
    tcp: function (s) { return s.handshakes > 0; },
    dns: function (s) { return s.responses > 0; }
  };
  function measured(c, kind) {
    var cur = c[kind] || {}, last = c.last_measured ? c.last_measured[kind] : null;
    if (HAS[kind](cur)) return { s: cur, ts: c.ts, held: false };
    if (last && HAS[kind](last) && c.ts - last.ts <= QUALITY_HOLD_S) return { s: last, ts: last.ts, held: last.ts < c.ts };
    return null;
  }

  function derive(c) {
    var iv = c.interval > 0 ? c.interval : 1, ta = topApp(c);
    var tcp = measured(c, "tcp"), rtp = measured(c, "rtp"), dns = measured(c, "dns");
    return {
      id: c.id, probe: c.probe, ts: c.ts, rx_bps: c.rx_bps, tx_bps: c.tx_bps,
      pps: ((c.rx_packets || 0) + (c.tx_packets || 0)) / iv,
      flows: c.flows_active, top: ta ? ta.name : "", topShare: ta ? ta.share : 0,
      spark: c.recent ? c.recent.rx_bps.length : null,
      rtt_wan: tcp ? tcp.s.rtt_wan_ms_avg : null, rtt_lan: tcp ? tcp.s.rtt_lan_ms_avg : null,
      jitter: rtp ? rtp.s.jitter_ms_avg : null,
      loss: rtp && rtp.s.packets_expected > 0 ? 100 * rtp.s.packets_lost / rtp.s.packets_expected : null,
      dns: dns ? dns.s.latency_ms_avg : null,
      shed: c.shed_packets || 0,
      q: { tcp: tcp, rtp: rtp, dns: dns }, raw: c
    };
  }

  function breaches(r) {
    return ["rtt_wan", "rtt_lan", "jitter", "loss", "dns"].some(function (k) { return level(r[k], SLA[k]) !== ""; });
  }

  /* ---------- customer table ---------- */
  function sparkCell(td, r) {
    var rec = r.raw.recent;
    if (!rec || !rec.ts.length) { td.textContent = "–"; return; }
    td.appendChild(GwChart.sparkline({ ts: rec.ts, width: 100, height: 26,
      label: "rx and tx of " + r.id + ", last " + rec.ts.length + " intervals",
      series: [{ name: "rx", cls: "rx", values: rec.rx_bps }, { name: "tx", cls: "tx", values: rec.tx_bps }] }));
  }

  var COLS = [
    { key: "id", label: "Customer", cls: "id" },
    { key: "probe", label: "Probe" },
    { key: "rx_bps", label: "rx", num: true, fmt: fmtBits },
    { key: "tx_bps", label: "tx", num: true, fmt: fmtBits },
    { key: "spark", label: "Trend rx / tx", cell: sparkCell, nosort: true, cls: "sparkcol" },
    { key: "pps", label: "pkt/s", num: true, fmt: fmtCount },
    { key: "flows", label: "Flows", num: true, fmt: fmtCount },
    { key: "top", label: "Top app", cls: "app", fmt: function (v, r) { return v ? v + " " + Math.round(r.topShare * 100) + "%" : "–"; } },
    { key: "rtt_wan", label: "RTT WAN", unit: "ms", num: true, fmt: fmtMs, sla: SLA.rtt_wan, q: "tcp" },
    { key: "rtt_lan", label: "RTT LAN", unit: "ms", num: true, fmt: fmtMs, sla: SLA.rtt_lan, q: "tcp" },
    { key: "jitter", label: "Jitter", unit: "ms", num: true, fmt: fmtMs, sla: SLA.jitter, q: "rtp" },
    { key: "loss", label: "RTP loss", unit: "%", num: true, fmt: fmtPct, sla: SLA.loss, q: "rtp" },
    { key: "dns", label: "DNS", unit: "ms", num: true, fmt: fmtMs, sla: SLA.dns, q: "dns" }
  ];

  function buildHead() {
    var tr = $("customers-head");
    COLS.forEach(function (c) {
      var th = document.createElement("th");
      th.scope = "col";
      th.dataset.key = c.key;
      th.className = [c.num ? "num" : "", c.cls || ""].join(" ").trim();
      if (c.nosort) { th.textContent = c.label; tr.appendChild(th); return; }
      var b = node("button", "sort", c.label);
      b.type = "button";
      if (c.unit) b.appendChild(node("span", "unit", " " + c.unit));
      b.addEventListener("click", function () {
        if (state.sortKey === c.key) state.sortDir = -state.sortDir;
        else { state.sortKey = c.key; state.sortDir = c.num ? -1 : 1; }
        renderCustomers();
      });
      th.appendChild(b);
      tr.appendChild(th);
    });
    $("legend").textContent = "SLA thresholds (warn / critical; ▲ warn, ▲▲ critical marks a breach): " + Object.keys(SLA).map(function (k) {
      return SLA[k].label + " > " + SLA[k].warn + " / " + SLA[k].crit;
    }).join(" · ") + ". Grey italic: the last measured value, from an earlier interval (no such traffic since; hover for its time).";
  }

  function compare(a, b) {
    var k = state.sortKey, x = a[k], y = b[k];
    if (x === null || x === undefined || x === "") return 1;   /* unknown last either way */
    if (y === null || y === undefined || y === "") return -1;
    var r = typeof x === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return r * state.sortDir || String(a.id).localeCompare(String(b.id), undefined, { numeric: true });
  }

  /* A value cell with its SLA mark: a glyph and hidden text, so the breach is not told by colour alone. */
  function qualityCell(td, c, r) {
    var v = r[c.key], lv = c.sla ? level(v, c.sla) : "", m = c.q ? r.q[c.q] : null, title = [];
    if (lv) {
      td.appendChild(node("span", "flag", lv === "crit" ? "▲▲" : "▲")).setAttribute("aria-hidden", "true");
      td.classList.add(lv);
      title.push(c.sla.label + " above " + (lv === "crit" ? "critical " + c.sla.crit : "warning " + c.sla.warn));
    }
    td.appendChild(node("span", "v", c.fmt(v, r)));
    if (lv) td.appendChild(node("span", "vh", " (SLA " + (lv === "crit" ? "critical" : "warning") + ")"));
    if (m && m.held) {
      td.classList.add("held");
      td.dataset.measured = String(m.ts);
      title.push("last measured " + fmtTime(m.ts) + ", " + fmtAge(r.ts - m.ts) + " before the latest interval");
    }
    if (title.length) td.title = title.join("; ");
  }

  function customerRow(r) {
    var tr = document.createElement("tr");
    tr.tabIndex = 0;
    tr.dataset.id = r.id;
    tr.dataset.ts = String(r.ts);
    if (breaches(r)) tr.className = "breach";
    COLS.forEach(function (c) {
      var td = document.createElement("td"), v = r[c.key];
      td.className = [c.num ? "num" : "", c.cls || ""].join(" ").trim();
      td.dataset.key = c.key;
      if (c.cell) c.cell(td, r);
      else if (c.sla) qualityCell(td, c, r);
      else td.textContent = c.fmt ? c.fmt(v, r) : (v === null || v === undefined ? "–" : String(v));
      tr.appendChild(td);
    });
    return tr;
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
    $("t-probes").replaceChildren(String(state.probes.length));
    if (stale) $("t-probes").appendChild(node("span", "tile-sub", " " + stale + " stale"));
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
    if (!shown.length) frag.appendChild(emptyRow(COLS.length, rows.length ? "No customer matches the filter." : "No customer has reported yet."));
    tbody.replaceChildren(frag);
    if (focused) {   /* keep keyboard focus on the same customer across refreshes */
      var again = tbody.querySelector('tr[data-id="' + CSS.escape(focused) + '"]');
      if (again) again.focus();
    }
    document.querySelectorAll("#customers-head th").forEach(function (th) {
      if (!th.querySelector("button")) return;
      th.setAttribute("aria-sort", th.dataset.key === state.sortKey ? (state.sortDir > 0 ? "ascending" : "descending") : "none");
    });
    $("count").textContent = shown.length + " of " + rows.length + " customers";
  }

  /* ---------- customer detail ---------- */
  function tile(label, value, cls, title) {
    var d = node("div", "tile"), v = node("div", "tile-value" + (cls ? " " + cls : ""), value);
    d.appendChild(node("div", "tile-label", label));
    d.appendChild(v);
    if (title) d.title = title;
    return d;
  }

  function renderDetailLatest(c) {
    var r = derive(c);
    function q(label, key, fmt) {
      var lv = level(r[key], SLA[key]), m = r.q[{ rtt_wan: "tcp", jitter: "rtp", loss: "rtp", dns: "dns" }[key]];
      return tile(label, (lv === "crit" ? "▲▲ " : lv ? "▲ " : "") + fmt(r[key]), [lv, m && m.held ? "held" : ""].join(" ").trim(),
        m && m.held ? "last measured " + fmtTime(m.ts) : "");
    }
    $("d-title").textContent = "Customer " + c.id;
    $("d-meta").textContent = "probe " + c.probe + " · last interval " + fmtTime(c.ts) + " (" + c.interval + " s)";
    $("d-tiles").replaceChildren(tile("rx", fmtBits(r.rx_bps)), tile("tx", fmtBits(r.tx_bps)),
      tile("pkt/s", fmtCount(r.pps)), tile("Flows", fmtCount(r.flows)),
      q("RTT WAN ms", "rtt_wan", fmtMs), q("Jitter ms", "jitter", fmtMs), q("RTP loss %", "loss", fmtPct), q("DNS ms", "dns", fmtMs),
      tile("Shed pkt", fmtCount(r.shed), r.shed ? "warn" : "",
        "packets of the latest interval the probe counted but gave no DPI/QoS (load shedding)"));
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
        tr.appendChild(node("td", i >= 2 ? "num" : "", t));
      });
      var td = document.createElement("td"), bar = node("div", "bar");
      bar.style.width = (share * 100).toFixed(1) + "%";
      td.appendChild(bar);
      tr.appendChild(td);
      frag.appendChild(tr);
    });
    if (!list.length) frag.appendChild(emptyRow(6, "No application traffic in the latest interval."));
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

  var CHARTS = [
    { sel: "#c-rtt .plot", title: "RTT", unit: " ms", series: [["WAN", "rtt_wan_ms", "#3fb950"], ["LAN", "rtt_lan_ms", "#79c0ff"]] },
    { sel: "#c-jitter .plot", title: "RTP jitter", unit: " ms", series: [["jitter", "jitter_ms", "#f0b429"]] },
    { sel: "#c-loss .plot", title: "RTP loss", unit: " %", series: [["loss", "rtp_loss_pct", "#ff7b72"]] },
    { sel: "#c-dns .plot", title: "DNS", unit: " ms", series: [["DNS", "dns_ms", "#d2a8ff"]] }
  ];

  function loadCharts(c) {
    var w = chartWindow(c), id = c.id, metrics = ["rx_bytes", "tx_bytes"];
    CHARTS.forEach(function (ch) { ch.series.forEach(function (s) { metrics.push(s[1]); }); });
    $("d-note").textContent = w.anchored ? "No report in the last " + state.range + "; showing the " + state.range +
      " up to the last report (" + fmtTime(c.ts) + ")." : "";
    return Promise.all(metrics.map(function (m) { return series(id, m, w); })).then(function (s) {
      if (state.customer !== id) return;
      var got = {};
      metrics.forEach(function (m, i) { got[m] = s[i]; });
      GwChart.render(document.querySelector("#c-bits .plot"), { title: "Throughput of " + id, from: w.from, to: w.to, format: fmtBits,
        series: [{ name: "rx", color: "#58a6ff", points: scale(got.rx_bytes, 8) }, { name: "tx", color: "#f778ba", points: scale(got.tx_bytes, 8) }] });
      CHARTS.forEach(function (ch) {
        GwChart.render(document.querySelector(ch.sel), { title: ch.title + " of " + id, from: w.from, to: w.to, height: 200,
          format: function (v) { return (ch.unit === " %" ? fmtPct(v) : fmtMs(v)) + ch.unit; },
          series: ch.series.map(function (x) { return { name: x[0], color: x[2], points: got[x[1]] }; }) });
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
    values.forEach(function (v, i) { tr.appendChild(node("td", i >= numFrom ? "num" : "", v)); });
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

  function refreshCustomers() {
    return Promise.all([api("customers?recent=" + SPARK_N), api("probes").catch(function () { return { probes: state.probes }; })])
      .then(function (r) {
        state.customers = r[0].customers || [];
        state.probes = r[1].probes || [];
        if (state.view === "probes") renderProbes(); else renderCustomers();
      });
  }

  /* ---------- views, routing, polling ---------- */
  /* The views are the nav links' data-view names; "detail" is a customer's page (#customer=ID). */
  function navViews() {
    return Array.prototype.map.call(document.querySelectorAll("nav a[data-view]"), function (a) { return a.dataset.view; });
  }

  function parseHash() {
    var h = location.hash.replace(/^#/, ""), m = /^customer=([A-Za-z0-9._:-]{1,64})(?:&range=(1h|1d|7d|30d))?$/.exec(h);
    if (m) { state.view = "detail"; state.customer = m[1]; if (m[2]) state.range = m[2]; }
    else { state.view = navViews().indexOf(h) >= 0 ? h : "customers"; state.customer = null; }
  }

  function showView() {
    document.querySelectorAll("main > section.view").forEach(function (s) { s.hidden = s.id !== "view-" + state.view; });
    document.querySelectorAll("nav a[data-view]").forEach(function (a) {
      var v = a.dataset.view;
      if (v === state.view || (v === "customers" && state.view === "detail")) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    document.querySelectorAll("button.range").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.range === state.range ? "true" : "false");
    });
    if (views[state.view] && views[state.view].show) views[state.view].show();
  }

  function refresh() {
    var p, extra = [];
    if (state.view === "detail") p = refreshDetail();
    else if (state.view === "customers" || state.view === "probes") p = refreshCustomers();
    else p = views[state.view] ? views[state.view].refresh() : Promise.resolve();
    /* Panels shown on the customers page too (events feed, countermeasures). */
    if (state.view === "customers") Object.keys(views).forEach(function (k) { if (views[k].overview) extra.push(views[k].overview()); });
    return Promise.all([p].concat(extra)).then(function () { setStatus(null); }, function (e) { setStatus(e); })
      .then(recordLayout);
  }

  /*
   * The page's own layout measurement, for tests that read the DOM: scrollWidth wider than the
   * window means a horizontal scrollbar; data-rect ("left,top,width,height" CSS px in the
   * viewport) says where the main tables and charts were painted.
   */
  function recordLayout() {
    var se = document.scrollingElement || document.documentElement;
    document.body.dataset.scrollWidth = String(se.scrollWidth);
    document.body.dataset.windowWidth = String(window.innerWidth);
    document.querySelectorAll("main table[id], main figure[id], main tr[data-state]").forEach(function (e) {
      var r = e.getBoundingClientRect();
      e.dataset.rect = [r.left, r.top, r.width, r.height].map(Math.round).join(",");
    });
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

  /*
   * GwDash: what other dashboard files use. register(name, { refresh, overview, show }) adds the
   * view behind nav link a[data-view=name] and section#view-name: refresh() -> Promise runs every
   * REFRESH_MS while it is shown; overview() -> Promise, if given, also runs on the customers page.
   */
  window.GwDash = {
    register: function (name, v) { views[name] = v; },
    api: api, node: node, emptyRow: emptyRow, now: now,
    fmt: { si: fmtSI, bits: fmtBits, count: fmtCount, ms: fmtMs, pct: fmtPct, bytes: fmtBytes, age: fmtAge, left: fmtLeft, time: fmtTime }
  };

  /* Scripts after this one (feed.js, ...) register before DOMContentLoaded. */
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else setTimeout(init, 0);
})();
