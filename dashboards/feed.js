/* feed.js: the events feed and the countermeasures panel (customers page) and the Events view (full tables); polls /api/v1/events and /countermeasures. */
"use strict";
(function () {
  var D = window.GwDash, F = D.fmt, node = D.node;
  var LIST_MAX = 100, FEED_ROWS = 6, CM_ROWS = 6, PAGE = 1000;
  var state = { events: {}, eventMax: 0, eventsErr: null, cms: [], cmErr: null, cmAt: 0 };

  function $(id) { return document.getElementById(id); }

  /* Fetches events newer than the newest seen (bounded pages), keeps the newest LIST_MAX by id. */
  function fetchEvents(pages) {
    return D.api("events?after=" + state.eventMax + "&limit=" + PAGE).then(function (b) {
      var list = b.events || [], max = state.eventMax;
      list.forEach(function (e) { state.events[e.id] = e; if (e.id > max) max = e.id; });
      var ids = Object.keys(state.events).map(Number).sort(function (a, b2) { return b2 - a; });
      ids.slice(LIST_MAX).forEach(function (id) { delete state.events[id]; });
      var more = list.length >= PAGE && max > state.eventMax && pages > 1;
      state.eventMax = max;
      state.eventsErr = null;
      return more ? fetchEvents(pages - 1) : null;
    }, function (e) { if (e.status !== 404) throw e; state.eventsErr = "This operator does not serve events (404)."; });
  }

  function fetchCms() {
    return D.api("countermeasures?limit=" + LIST_MAX).then(function (b) {
      state.cms = Array.isArray(b) ? b : b.countermeasures || [];
      state.cmAt = D.now();
      state.cmErr = null;
    }, function (e) {
      if (e.status !== 404 && e.status !== 503) throw e;
      state.cms = [];
      state.cmErr = e.status === 404 ? "This operator does not serve countermeasures yet (404)." :
        "Countermeasures are not enabled on this operator (" + e.message + ").";
    });
  }

  function sevBadge(s) {
    s = String(s || "info").toLowerCase();
    return node("span", "sev sev-" + (/^(critical|high|medium|low|info)$/.test(s) ? s : "info"), s);
  }

  /* ---------- events ---------- */
  function eventList() {
    return Object.keys(state.events).map(function (k) { return state.events[k]; }).sort(function (a, b) { return b.id - a.id; });
  }

  /* A raise is "ended" once a later clear of the same detector (probe, customer, kind, source, target) arrived. */
  function eventState(e, list) {
    if (e.cleared) return { name: "cleared", cls: "st-ok", title: e.detail || "" };
    for (var i = 0; i < list.length; i++) {
      var c = list[i];
      if (c.cleared && c.id > e.id && c.probe === e.probe && c.customer === e.customer && c.kind === e.kind &&
          c.src === e.src && c.dst === e.dst)
        return { name: "ended", cls: "st-muted", title: "cleared " + F.time(c.ts) + " (" + F.age(c.ts - e.ts) + " later)" };
    }
    return { name: "active", cls: "st-crit", title: "no clear received yet" };
  }

  function rate(e) { return e.rate_pps ? F.count(e.rate_pps) + " pkt/s" : e.rate_bps ? F.bits(e.rate_bps) : "–"; }

  function badgeCell(cls, text, title) {
    var td = document.createElement("td"), b = node("span", "state " + cls, text);
    if (title) td.title = title;
    td.appendChild(b);
    return td;
  }

  /* Long text cut with an ellipsis; the whole text in the title. */
  function clipCell(cls, text) {
    var td = node("td", cls);
    td.appendChild(node("span", "clip", text));
    td.title = text;
    return td;
  }

  function eventRow(e, list, compact) {
    var tr = document.createElement("tr"), st = eventState(e, list), td = document.createElement("td");
    tr.dataset.eventId = String(e.id);
    tr.dataset.state = st.name;
    if (e.cleared) tr.className = "cleared";
    tr.appendChild(node("td", "time", compact ? F.time(e.ts).slice(11) : F.time(e.ts))).title = F.time(e.ts);
    td.appendChild(sevBadge(e.severity));
    tr.appendChild(td);
    tr.appendChild(node("td", "kind", e.kind || "–"));
    tr.appendChild(node("td", "", e.customer || "–"));
    if (compact) {
      tr.appendChild(node("td", "addr", e.src || e.dst ? (e.src || "?") + " → " + (e.dst || "?") : "–"));
    } else {
      tr.appendChild(node("td", "addr", e.src || "–"));
      tr.appendChild(node("td", "addr", e.dst || "–"));
    }
    tr.appendChild(node("td", "num", rate(e)));
    if (!compact) tr.appendChild(node("td", "", e.probe || "–"));
    tr.appendChild(badgeCell(st.cls, st.name, st.title));
    if (!compact) tr.appendChild(clipCell("detail", e.detail || ""));
    return tr;
  }

  function renderEvents(tbody, rows, cols, compact) {
    var frag = document.createDocumentFragment(), list = eventList();
    list.slice(0, rows).forEach(function (e) { frag.appendChild(eventRow(e, list, compact)); });
    if (!list.length) frag.appendChild(D.emptyRow(cols, state.eventsErr || "No events."));
    tbody.replaceChildren(frag);
  }

  /* ---------- countermeasures ---------- */
  function inForce(c) { return c.state === "active" || c.state === "pending"; }
  var CM_CLS = { active: "st-crit", pending: "st-warn", failed: "st-fail", expired: "st-muted", lifted: "st-muted" };

  /* Seconds left by the operator's clock at fetch time, counted down on ours; null when no deadline. */
  function deadline(c) {
    if (!inForce(c) || c.action !== "ban") return null;
    if (typeof c.remaining_s === "number") return state.cmAt + c.remaining_s;
    return c.expires_ts ? c.expires_ts : null;
  }

  function remainingCell(c) {
    var d = deadline(c), td = node("td", d !== null ? "num left" : "num muted");
    if (d !== null) {
      td.dataset.deadline = String(d);
      if (typeof c.remaining_s === "number") td.dataset.remaining = String(c.remaining_s);
      td.textContent = F.left(d - D.now());
      td.title = "expires " + F.time(c.expires_ts);
    } else {
      td.textContent = inForce(c) ? "no timeout" : c.state === "expired" ? "expired" : "–";
    }
    return td;
  }

  function cmRow(c, compact) {
    var tr = document.createElement("tr"), st = String(c.state || "–");
    tr.dataset.cmId = String(c.id);
    tr.dataset.state = st;
    if (!compact) tr.appendChild(node("td", "time", F.time(c.decided_ts)));
    if (!compact) tr.appendChild(node("td", "", String(c.action || "ban")));
    tr.appendChild(node("td", "addr", (c.address || "–") + (c.prefix_len ? "/" + c.prefix_len : "")));
    tr.appendChild(node("td", "", c.scope === "*" ? "all probes" : c.scope || "–"));
    if (!compact) tr.appendChild(node("td", "", c.customer || "–"));
    tr.appendChild(badgeCell(CM_CLS[st] || "st-muted", st, c.result_message || ""));
    tr.appendChild(remainingCell(c));
    if (!compact) tr.appendChild(node("td", "time", c.expires_ts ? F.time(c.expires_ts) : "never"));
    if (!compact) tr.appendChild(node("td", "", c.decided_by || "–"));
    tr.appendChild(clipCell("reason", c.reason || c.result_message || ""));
    return tr;
  }

  function renderCms(tbody, rows, cols, compact) {
    var frag = document.createDocumentFragment();
    var list = state.cms.slice().sort(function (a, b) {
      return compact && inForce(a) !== inForce(b) ? (inForce(a) ? -1 : 1) : (b.id || 0) - (a.id || 0);
    });
    list.slice(0, rows).forEach(function (c) { frag.appendChild(cmRow(c, compact)); });
    if (!list.length) frag.appendChild(D.emptyRow(cols, state.cmErr || "No countermeasures."));
    tbody.replaceChildren(frag);
    var n = state.cms.filter(inForce).length, t = $("t-bans");
    if (t) { t.textContent = String(n); t.className = "tile-value " + (n ? "warn" : "ok"); }
    if ($("cm-count")) $("cm-count").textContent = state.cmErr ? "" : n + " in force";
  }

  /* Counts the remaining times down between refreshes. */
  function tick() {
    document.querySelectorAll("td[data-deadline]").forEach(function (td) {
      td.textContent = F.left(Number(td.dataset.deadline) - D.now());
    });
  }

  function overview() {
    return Promise.all([fetchEvents(2), fetchCms()]).then(function () {
      renderEvents(document.querySelector("#feed tbody"), FEED_ROWS, 7, true);
      renderCms(document.querySelector("#cm-panel tbody"), CM_ROWS, 5, true);
    });
  }

  function refresh() {
    return Promise.all([fetchEvents(10), fetchCms()]).then(function () {
      $("events-note").textContent = state.eventsErr || "";
      $("cm-note").textContent = state.cmErr || "";
      renderEvents(document.querySelector("#events tbody"), LIST_MAX, 10, false);
      renderCms(document.querySelector("#cms tbody"), LIST_MAX, 10, false);
    });
  }

  D.register("events", { refresh: refresh, overview: overview });
  setInterval(tick, 1000);
})();
