/* capacity.js: the Capacity page: top-N table (paged, sortable), one customer's report with its chart, CSV links. */
(function () {
  "use strict";
  var PAGE = 25;
  var API = "../api/v1/reports/";   /* relative: the page is served as /ui/capacity.html */
  var state = { by: "p95", order: "desc", offset: 0, month: "", customer: "" };

  function $(id) { return document.getElementById(id); }
  function fmtSI(v, unit) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    var p = ["", "k", "M", "G", "T", "P"], i = 0;
    while (Math.abs(v) >= 999.95 && i < 5) { v /= 1000; i++; }
    return v.toFixed(2) + " " + p[i] + unit;
  }
  function fmtTime(t) {
    if (!t) return "–";
    var d = new Date(t * 1000);
    function p(n) { return n < 10 ? "0" + n : "" + n; }
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
      p(d.getHours()) + ":" + p(d.getMinutes());
  }
  function fmtNum(v, digits) {
    return v === null || v === undefined ? "–" : Number(v).toFixed(digits);
  }
  function lastMonth() {
    var d = new Date(); d.setDate(1); d.setMonth(d.getMonth() - 1);
    var m = d.getMonth() + 1;
    return d.getFullYear() + "-" + (m < 10 ? "0" + m : m);
  }
  function cell(tr, text, raw) {
    var td = document.createElement("td");
    td.textContent = text;
    if (raw !== undefined && raw !== null) td.setAttribute("data-v", String(raw));
    tr.appendChild(td);
    return td;
  }
  function status(msg) { $("cap-status").textContent = msg; }
  function api(path) {
    return fetch(API + path, { cache: "no-store" }).then(function (r) {
      return r.json().then(function (b) {
        if (!r.ok) throw new Error(b.error || ("HTTP " + r.status));
        return b;
      });
    });
  }
  function readHash() {
    var h = location.hash.replace(/^#/, "").split("&");
    h.forEach(function (kv) {
      var p = kv.split("=");
      if (p[0] === "c") state.customer = decodeURIComponent(p[1] || "");
      if (p[0] === "month" && /^\d{4}-\d{2}$/.test(p[1] || "")) state.month = p[1];
      if (p[0] === "by") state.by = p[1];
    });
  }
  function writeHash() {
    var h = "month=" + state.month + "&by=" + state.by;
    if (state.customer) h += "&c=" + encodeURIComponent(state.customer);
    history.replaceState(null, "", "#" + h);
  }
  function topQuery() {
    return "top?by=" + state.by + "&order=" + state.order + "&offset=" + state.offset +
      "&limit=" + PAGE + "&month=" + state.month;
  }
  function loadTop() {
    $("cap-top-csv").href = API + topQuery() + "&format=csv";
    $("cap-order").textContent = "order: " + state.order;
    return api(topQuery()).then(function (j) {
      var tb = $("cap-top").querySelector("tbody");
      tb.textContent = "";
      j.rows.forEach(function (r) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-customer", r.customer);
        tr.tabIndex = 0;
        cell(tr, r.customer);
        cell(tr, fmtSI(r.p95_bps, "bit/s"), r.p95_bps);
        cell(tr, fmtSI(r.rx_p95_bps, "bit/s"), r.rx_p95_bps);
        cell(tr, fmtSI(r.tx_p95_bps, "bit/s"), r.tx_p95_bps);
        cell(tr, fmtSI(r.total_bytes, "B"), r.total_bytes);
        cell(tr, r.growth_pct_month === null ? "–" : fmtNum(r.growth_pct_month, 2) + " %", r.growth_pct_month);
        cell(tr, fmtTime(r.saturation_ts), r.saturation_ts);
        cell(tr, fmtNum(r.sla_breach_minutes, 1), r.sla_breach_minutes);
        cell(tr, fmtNum(100 * r.unknown_share, 2) + " %", r.unknown_share);
        tr.addEventListener("click", function () { select(r.customer); });
        tr.addEventListener("keydown", function (e) { if (e.key === "Enter") select(r.customer); });
        tb.appendChild(tr);
      });
      $("cap-page").textContent = (j.total ? (j.offset + 1) + "–" + (j.offset + j.rows.length) : "0") +
        " of " + j.total;
      $("cap-prev").disabled = j.offset === 0;
      $("cap-next").disabled = j.offset + j.rows.length >= j.total;
      status("ok");
    }).catch(function (e) { status("error: " + e.message); });
  }
  function fact(dl, name, text, id) {
    var dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = name; dd.textContent = text; dd.id = id;
    dl.appendChild(dt); dl.appendChild(dd);
  }
  function trendText(t) {
    if (!t.fitted) return t.verdict;
    var s = fmtSI(t.slope_bps_per_day, "bit/s") + "/day, " + fmtNum(t.growth_pct_month, 2) +
      " %/month, r " + fmtNum(t.r, 4) + " (" + t.days + " days); " + t.verdict;
    if (t.saturation_100_ts) s += ": 80 % " + fmtTime(t.saturation_80_ts) + ", 100 % " + fmtTime(t.saturation_100_ts);
    return s;
  }
  function loadReport() {
    if (!state.customer) { $("cap-report").hidden = true; return Promise.resolve(); }
    var base = "customers/" + encodeURIComponent(state.customer), q = "?month=" + state.month;
    return api(base + q).then(function (j) {
      $("cap-report").hidden = false;
      $("r-customer").textContent = j.customer;
      $("r-period").textContent = fmtTime(j.from) + " – " + fmtTime(j.to) + ", step " + j.step_s + " s" +
        (j.exact ? "" : " (" + j.warning + ")");
      $("r-csv").href = API + base + q + "&format=csv";
      $("r-daily-csv").href = API + base + "/daily" + q + "&format=csv";
      var tb = $("r-table").querySelector("tbody");
      tb.textContent = "";
      [["rx", j.rx], ["tx", j.tx], ["max(rx,tx)", j.max]].forEach(function (d) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-dir", d[0]);
        cell(tr, d[0]);
        cell(tr, fmtSI(d[1].p95_bps, "bit/s"), d[1].p95_bps);
        cell(tr, fmtSI(d[1].peak_bps, "bit/s"), d[1].peak_bps);
        cell(tr, fmtTime(d[1].peak_ts), d[1].peak_ts);
        cell(tr, fmtSI(d[1].total_bytes, "B"), d[1].total_bytes);
        tb.appendChild(tr);
      });
      var dl = $("r-facts"), q2 = j.qos;
      dl.textContent = "";
      fact(dl, "Busy hour", j.busy_hour === null ? "–" : j.busy_hour + ":00 (" + fmtSI(j.busy_hour_bps, "bit/s") + ")", "r-busy");
      fact(dl, "Unknown", fmtNum(100 * j.unknown_share, 2) + " % of " + j.rows + " rows", "r-unknown");
      fact(dl, "RTT WAN p95", fmtNum(q2.rtt_wan_ms.p95, 1) + " ms", "r-rtt");
      fact(dl, "Jitter p95", fmtNum(q2.jitter_ms.p95, 1) + " ms", "r-jitter");
      fact(dl, "RTP loss p95", fmtNum(q2.rtp_loss_pct.p95, 2) + " %", "r-loss");
      fact(dl, "DNS p95", fmtNum(q2.dns_ms.p95, 1) + " ms", "r-dns");
      fact(dl, "SLA breach", fmtNum(q2.sla_breach_minutes, 1) + " min", "r-sla");
      fact(dl, "Top apps", (j.top_apps || []).map(function (a) {
        return a.app + " " + fmtSI(a.rx_bytes + a.tx_bytes, "B");
      }).join(", ") || "–", "r-apps");
      fact(dl, "Trend rx", trendText(j.trend.rx), "r-trend-rx");
      fact(dl, "Trend tx", trendText(j.trend.tx), "r-trend-tx");
      $("r-chart").src = API + base + "/chart.svg" + q;
    }).catch(function (e) { status("error: " + e.message); $("cap-report").hidden = true; });
  }
  function select(c) { state.customer = c; writeHash(); loadReport(); }
  function reload() { state.offset = 0; writeHash(); loadTop(); loadReport(); }

  readHash();
  if (!state.month) state.month = lastMonth();
  $("cap-month").value = state.month;
  $("cap-by").value = state.by;
  $("cap-month").addEventListener("change", function () {
    if (/^\d{4}-\d{2}$/.test(this.value)) { state.month = this.value; reload(); }
  });
  $("cap-by").addEventListener("change", function () {
    state.by = this.value; state.order = state.by === "saturation" ? "asc" : "desc"; reload();
  });
  $("cap-order").addEventListener("click", function () {
    state.order = state.order === "desc" ? "asc" : "desc"; state.offset = 0; loadTop();
  });
  $("cap-prev").addEventListener("click", function () { state.offset = Math.max(0, state.offset - PAGE); loadTop(); });
  $("cap-next").addEventListener("click", function () { state.offset += PAGE; loadTop(); });
  writeHash();
  loadTop();
  loadReport();
})();
