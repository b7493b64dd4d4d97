#!/usr/bin/env python3
"""dashboard_check.py: checks the NOC dashboard of a running operator in headless Chromium.

usage: dashboard_check.py API_BASE_URL OUTDIR      (normally through dashboard_check.sh)

Renders the customers page, a customer's detail page, the events view and the probes view
at a 1280 x 900 window (--dump-dom after a virtual-time budget, and --screenshot into
OUTDIR/dashboard-*.png) while a thread polls the API every POLL_S, and asserts:
  - no horizontal scrolling at 1280 px (the page records scrollingElement.scrollWidth);
  - one table row per API customer, each row's values (rx, tx, pkt/s, flows, RTT WAN/LAN,
    jitter, RTP loss, DNS) equal to the API's as rendered, for the interval the row shows
    (its data-ts), SLA marks where the values pass the thresholds the legend states, held
    (older) quality values marked as such; a sparkline with the API's recent points per row;
  - the events feed and the events view match the API (kind, severity, customer, source,
    target, state raised/ended/cleared), with a flood and its clear;
  - the countermeasures panel and table show the API's state, and bans in force a remaining
    time that agrees with the API's remaining_s;
  - the detail page's charts are SVGs with points (throughput; RTT, jitter, DNS where the
    customer has them);
  - the screenshots (taken in the same Chromium run as the DOM) are 1280 x 900 PNGs, not
    blank, and inside the rectangles where the page says it put the tables and charts (their
    data-rect) the sparkline/chart line colours and the rows' state badge colours are painted.
Environment: CHROMIUM (default /usr/bin/chromium), DASH_BUDGET_MS (virtual time per page,
default 6000), DASH_CUSTOMER (detail page; default the customer with the most quality data),
DASH_EXPECT (words, default "rtt jitter dns flood clear ban countdown": some row shows RTT,
jitter/loss, DNS; the events view has a flood and its clear; a ban is shown; a ban in force
counts down. An empty value checks only what is there). Stdlib only. Exit 0 when all checks pass, else 1.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from html.parser import HTMLParser

WIDTH, HEIGHT = 1280, 900
POLL_S = 0.4
QUALITY_HOLD_S = 300          # as dashboards/app.js
FLOOD_KINDS = ("syn_flood", "udp_flood", "icmp_flood")
FAILS = []
DEFAULT_EXPECT = "rtt jitter dns flood clear ban countdown"


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def ok(msg):
    print("ok: " + msg)


# ---------- API polling ----------
class Poller(threading.Thread):
    """Snapshots customers, events and countermeasures until stopped (bounded by max_s)."""

    def __init__(self, base, max_s=300):
        super().__init__(daemon=True)
        self.base, self.max_s, self.stop = base.rstrip("/"), max_s, threading.Event()
        self.customers = []      # (wall time, [customer...])
        self.events = {}         # id -> event (latest copy)
        self.cms = []            # (wall time, [countermeasure...])
        self.errors = 0
        self.lock = threading.Lock()

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=5) as r:
            return json.loads(r.read().decode())

    def poll(self):
        t = time.time()
        try:
            c = self.get("/api/v1/customers?recent=60")["customers"]
            e = self.get("/api/v1/events?limit=200").get("events", [])
        except (OSError, ValueError, KeyError):
            self.errors += 1
            return
        try:
            cm = self.get("/api/v1/countermeasures?limit=100").get("countermeasures", [])
        except (OSError, ValueError):
            cm = None
        with self.lock:
            self.customers.append((t, c))
            for x in e:
                self.events[x["id"]] = x
            if cm is not None:
                self.cms.append((time.time(), cm))

    def run(self):
        end = time.time() + self.max_s
        while not self.stop.is_set() and time.time() < end:
            self.poll()
            self.stop.wait(POLL_S)


# ---------- DOM ----------
class Dom(HTMLParser):
    """Tables (rows with attrs and cells), chart SVGs, a few texts, body attributes."""

    def __init__(self):
        super().__init__()
        self.tables, self.svgs, self.text_of, self.body, self.rects = {}, [], {}, {}, {}
        self.table = self.row = self.cell = self.svg = self.capture = self.figure = None
        self.in_tbody, self.skip = False, 0
        self.spans = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if a.get("id") and a.get("data-rect"):
            try:
                self.rects[a["id"]] = tuple(int(v) for v in a["data-rect"].split(","))
            except ValueError:
                pass
        if tag == "table":
            self.table = a.get("id")
            self.tables.setdefault(self.table, [])
        elif tag == "tbody":
            self.in_tbody = True
        elif tag == "tr" and self.table and self.in_tbody:
            self.row = {"attrs": a, "cells": []}
        elif tag in ("td", "th") and self.row is not None:
            self.cell = {"attrs": a, "text": "", "value": "", "spans": [], "svgs": []}
        elif tag == "figure":
            self.figure = a.get("id")
        elif tag == "svg":
            self.svg = {"attrs": a, "lines": [], "parent": self.figure}
            if self.cell is not None:
                self.cell["svgs"].append(self.svg)
        elif tag == "polyline" and self.svg is not None:
            self.svg["lines"].append((a.get("data-series", ""), a.get("points", "")))
        if tag == "span":
            cls = a.get("class", "").split()
            self.spans.append(cls)
            if self.cell is not None:
                self.cell["spans"].append(a)
        if a.get("id") in ("d-title", "legend", "count", "status", "d-tiles"):
            self.capture = a["id"]
            self.text_of[self.capture] = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.row["cells"].append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.table].append(self.row)
            self.row = None
        elif tag == "tbody":
            self.in_tbody = False
        elif tag == "table":
            self.table = None
        elif tag == "figure":
            self.figure = None
        elif tag == "svg" and self.svg is not None:
            if self.svg not in [s for s in self.svgs]:
                self.svgs.append(self.svg)
            self.svg = None
        elif tag == "span" and self.spans:
            self.spans.pop()
        elif tag in ("h2", "p", "div") and self.capture and self.capture != "d-tiles":
            self.capture = None
        elif tag == "section" and self.capture == "d-tiles":
            self.capture = None

    def handle_data(self, d):
        if self.cell is not None:
            self.cell["text"] += d
            hidden = any(("vh" in c or "flag" in c) for c in self.spans)
            if not hidden:
                self.cell["value"] += d
        if self.capture:
            self.text_of[self.capture] += d


def body_rows(dom, table):
    return [r for r in dom.tables.get(table, []) if r["cells"] and
            "empty" not in r["cells"][0]["attrs"].get("class", "")]


# ---------- expected values (the rules of dashboards/app.js) ----------
HAS = {"rtp": lambda s: s.get("streams", 0) > 0, "tcp": lambda s: s.get("handshakes", 0) > 0,
       "dns": lambda s: s.get("responses", 0) > 0}


def measured(c, kind):
    cur, last = c.get(kind) or {}, (c.get("last_measured") or {}).get(kind)
    if HAS[kind](cur):
        return cur, False
    if last and HAS[kind](last) and c["ts"] - last["ts"] <= QUALITY_HOLD_S:
        return last, last["ts"] < c["ts"]
    return None, False


def expect(c):
    iv = c["interval"] if c["interval"] > 0 else 1
    tcp, tcp_held = measured(c, "tcp")
    rtp, rtp_held = measured(c, "rtp")
    dns, dns_held = measured(c, "dns")
    loss = None
    if rtp and rtp.get("packets_expected", 0) > 0:
        loss = 100.0 * rtp["packets_lost"] / rtp["packets_expected"]
    return {"rx": c["rx_bps"], "tx": c["tx_bps"], "pps": (c["rx_packets"] + c["tx_packets"]) / iv,
            "flows": c["flows_active"],
            "rtt_wan": tcp["rtt_wan_ms_avg"] if tcp else None, "rtt_lan": tcp["rtt_lan_ms_avg"] if tcp else None,
            "jitter": rtp["jitter_ms_avg"] if rtp else None, "loss": loss,
            "dns": dns["latency_ms_avg"] if dns else None,
            "held": {"rtt_wan": tcp_held, "rtt_lan": tcp_held, "jitter": rtp_held, "loss": rtp_held,
                     "dns": dns_held}}


PREFIX = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def matches(shown, want):
    """shown: the cell text ("4.56 Mbit/s", "12.5", "–"); want: the API number or None."""
    shown = shown.strip().replace("\u00a0", " ")
    if want is None:
        return shown == "\u2013"
    m = re.match(r"^(-?[0-9.]+) ?([kMGT]?)", shown)
    if not m:
        return False
    num, mult = m.group(1), PREFIX[m.group(2)]
    dec = len(num.split(".")[1]) if "." in num else 0
    tol = 0.5 * 10 ** -dec * mult * 1.0001 + 1e-9
    return abs(float(num) * mult - want) <= tol


def fmt_want(v):
    return "none" if v is None else "%.6g" % v


# ---------- checks ----------
COLS = ["id", "probe", "rx", "tx", "spark", "pps", "flows", "top", "rtt_wan", "rtt_lan", "jitter", "loss", "dns"]
QCOLS = ["rtt_wan", "rtt_lan", "jitter", "loss", "dns"]
LEGEND = {"rtt_wan": "RTT WAN ms", "rtt_lan": "RTT LAN ms", "jitter": "jitter ms", "loss": "RTP loss %",
          "dns": "DNS ms"}


def check_scroll(dom, what):
    sw, ww = dom.body.get("data-scroll-width"), dom.body.get("data-window-width")
    if sw is None:
        fail("%s: the page recorded no data-scroll-width (dashboard did not finish a refresh)" % what)
    elif int(ww) != WIDTH:
        fail("%s: window is %s px wide, want %d" % (what, ww, WIDTH))
    elif int(sw) > WIDTH:
        fail("%s: horizontal scrolling at %d px: scrollWidth %s" % (what, WIDTH, sw))
    else:
        ok("%s: no horizontal scroll at %d px (scrollWidth %s)" % (what, WIDTH, sw))


def check_customers(dom, poller, want, final=True):
    """Checks the customer table against the API snapshots. Returns "retry" (and fails nothing
    for it) when not final and most rows show an interval no poll caught: on a loaded host the
    page can fetch an interval the poller, polling every POLL_S, never saw."""
    with poller.lock:
        snaps = list(poller.customers)
    if not snaps:
        fail("customers: no API snapshot")
        return
    by_ts = {}
    for _, lst in snaps:
        for c in lst:
            by_ts[(c["id"], c["ts"])] = c
    first_ids = {c["id"] for c in snaps[0][1]}
    last_ids = {c["id"] for c in snaps[-1][1]}
    rows = [r for r in dom.tables.get("customers", []) if "data-id" in r["attrs"]]
    ids = {r["attrs"]["data-id"] for r in rows}
    if not (first_ids <= ids <= last_ids) or len(ids) != len(rows):
        fail("customers: table rows %s, API customers %s" % (sorted(ids), sorted(last_ids)))
        return
    m = re.search(r"\b(\d+) of (\d+) customers", dom.text_of.get("count", ""))
    if not m or int(m.group(1)) != len(rows) or int(m.group(2)) != len(rows):
        fail("customers: count line %r, %d rows" % (dom.text_of.get("count"), len(rows)))
    legend = dom.text_of.get("legend", "")
    thr = {}
    for k, label in LEGEND.items():
        mm = re.search(re.escape(label) + r" > ([0-9.]+) / ([0-9.]+)", legend)
        if not mm:
            fail("customers: legend does not state the %s thresholds: %r" % (label, legend))
            return
        thr[k] = (float(mm.group(1)), float(mm.group(2)))
    filled = {k: 0 for k in QCOLS}
    sparks, bad, unseen = 0, 0, []
    for r in rows:
        cid, ts = r["attrs"]["data-id"], float(r["attrs"].get("data-ts", "nan"))
        c = by_ts.get((cid, ts))
        if c is None:   # a live stack moved on between two polls: cannot compare this row
            unseen.append("%s@%s" % (cid, ts))
            continue
        if len(r["cells"]) != len(COLS):
            fail("customers: row %s has %d cells, want %d" % (cid, len(r["cells"]), len(COLS)))
            bad += 1
            continue
        cells = dict(zip(COLS, r["cells"]))
        exp = expect(c)
        if cells["id"]["value"] != cid or cells["probe"]["value"] != c["probe"]:
            fail("customers: row %s id/probe cells %r %r" % (cid, cells["id"]["value"], cells["probe"]["value"]))
        for k in ("rx", "tx", "pps", "flows") + tuple(QCOLS):
            if not matches(cells[k]["value"], exp[k]):
                fail("customers: %s %s shows %r, API %s" % (cid, k, cells[k]["value"], fmt_want(exp[k])))
                bad += 1
        for k in QCOLS:
            cls = cells[k]["attrs"].get("class", "").split()
            v = exp[k]
            if v is not None:
                filled[k] += 1
            lv = "" if v is None or v <= thr[k][0] else "warn" if v <= thr[k][1] else "crit"
            has = "crit" if "crit" in cls else "warn" if "warn" in cls else ""
            text_mark = "SLA critical" in cells[k]["text"] if lv == "crit" else "SLA warning" in cells[k]["text"] if lv else \
                "SLA" not in cells[k]["text"]
            if has != lv or not text_mark:
                fail("customers: %s %s = %s: SLA mark %r (text %r), want %r" % (cid, k, fmt_want(v), has, cells[k]["text"], lv))
                bad += 1
            if ("held" in cls) != exp["held"][k]:
                fail("customers: %s %s held mark %s, want %s" % (cid, k, "held" in cls, exp["held"][k]))
                bad += 1
        rec = c.get("recent") or {}
        svg = cells["spark"]["svgs"][0] if cells["spark"]["svgs"] else None
        n = len(rec.get("rx_bps", []))
        if n:
            if svg is None or "spark" not in svg["attrs"].get("class", ""):
                fail("customers: %s has %d recent intervals but no sparkline" % (cid, n))
                bad += 1
                continue
            lines = dict(svg["lines"])
            for s in ("rx", "tx"):
                pts = lines.get(s, "").split()
                if len(pts) != max(n, 2) or not all(re.match(r"^[0-9.]+,[0-9.]+$", p) for p in pts):
                    fail("customers: %s sparkline %s has %d points, API %d intervals" % (cid, s, len(pts), n))
                    bad += 1
            sparks += 1
    if unseen:
        print("note: customers: %d row(s) show an interval no API poll caught: %s" % (len(unseen), " ".join(unseen[:10])))
    if len(unseen) * 2 > len(rows):
        if not final:
            return "retry"
        fail("customers: %d of %d rows show intervals the API never served during the run" % (len(unseen), len(rows)))
        return
    if not bad:
        ok("customers: %d rows = API (rx, tx, pkt/s, flows, RTT WAN/LAN, jitter, loss, DNS, SLA and held marks); "
           "%d sparklines; filled: %s" % (len(rows) - len(unseen), sparks, ", ".join("%s %d" % kv for kv in filled.items())))
    for word, keys in (("rtt", ("rtt_wan", "rtt_lan")), ("jitter", ("jitter", "loss")), ("dns", ("dns",))):
        if word in want and not all(filled[k] for k in keys):
            fail("customers: no row shows %s (DASH_EXPECT has %r)" % ("/".join(keys), word))
    if rows and not sparks:
        fail("customers: no sparkline with points")


def event_state(e, evs):
    if e.get("cleared"):
        return "cleared"
    for c in evs:
        if (c.get("cleared") and c["id"] > e["id"] and c["probe"] == e["probe"] and c["customer"] == e["customer"]
                and c["kind"] == e["kind"] and c["src"] == e["src"] and c["dst"] == e["dst"]):
            return "ended"
    return "active"


def check_events(dom, poller, table, compact, want):
    with poller.lock:
        evs = sorted(poller.events.values(), key=lambda e: -e["id"])
    byid = {e["id"]: e for e in evs}
    rows = body_rows(dom, table)
    bad, kinds = 0, {}
    for r in rows:
        eid = int(r["attrs"].get("data-event-id", "0"))
        e = byid.get(eid)
        if e is None:
            fail("%s: row for event %d that the API never listed" % (table, eid))
            bad += 1
            continue
        v = [c["value"].strip() for c in r["cells"]]
        st = event_state(e, evs)
        if compact:
            route = "%s \u2192 %s" % (e["src"] or "?", e["dst"] or "?") if e["src"] or e["dst"] else "\u2013"
            want_cells = {2: e["kind"] or "\u2013", 3: e["customer"] or "\u2013", 4: route, 6: st}
        else:
            want_cells = {2: e["kind"] or "\u2013", 3: e["customer"] or "\u2013", 4: e["src"] or "\u2013",
                          5: e["dst"] or "\u2013", 7: e["probe"] or "\u2013", 8: st}
        if v[1] != (e["severity"] or "info").lower():
            fail("%s: event %d severity %r, API %r" % (table, eid, v[1], e["severity"]))
            bad += 1
        for i, w in want_cells.items():
            if v[i] != w:
                fail("%s: event %d cell %d %r, API %r" % (table, eid, i, v[i], w))
                bad += 1
        kinds.setdefault(e["kind"], set()).add(st)
    limit = 6 if compact else 100     # FEED_ROWS and LIST_MAX of feed.js
    if (evs and not rows) or len(rows) > min(limit, len(evs)):
        fail("%s: %d event rows, API has %d (page shows up to %d)" % (table, len(rows), len(evs), limit))
        bad += 1
    floods = {k: s for k, s in kinds.items() if k in FLOOD_KINDS}
    if not compact and "flood" in want and not floods:
        fail("%s: no flood event shown (kinds %s)" % (table, sorted(kinds)))
    if not compact and "clear" in want and not any("cleared" in s and "ended" in s for s in floods.values()):
        fail("%s: no flood shown with its clear (states %s)" % (table, floods))
    if not bad:
        ok("%s: %d event rows = API (kind, severity, customer, source, target, state); floods %s" % (
            table, len(rows), {k: sorted(s) for k, s in floods.items()}))


def parse_left(text):
    """ "45 s", "9 min 05 s", "2 h 03 min", "3 d 04 h" -> (seconds, resolution of the text) or None.
    The page rounds to whole seconds, then cuts the smaller units off (floor)."""
    m = re.match(r"^(?:(\d+) d )?(?:(\d+) h ?)?(?:(\d+) min ?)?(?:(\d+) s)?$", text.strip())
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    res = 3600 if m.group(1) else 60 if m.group(2) else 1
    return d * 86400 + h * 3600 + mi * 60 + s, res


def check_cms(dom, poller, table, compact, budget_s, want):
    with poller.lock:
        snaps = list(poller.cms)
    if not snaps:
        if "ban" in want or "countdown" in want:
            fail("%s: the API served no countermeasures" % table)
        return
    states, remaining, byid = {}, {}, {}
    for t, lst in snaps:
        for c in lst:
            states.setdefault(c["id"], set()).add(c["state"])
            byid[c["id"]] = c
            if isinstance(c.get("remaining_s"), int):
                remaining.setdefault(c["id"], []).append(c["remaining_s"])
    rows = body_rows(dom, table)
    st_col, left_col = (2, 3) if compact else (5, 6)
    bad, counted = 0, 0
    for r in rows:
        cid = int(r["attrs"].get("data-cm-id", "0"))
        c = byid.get(cid)
        v = [x["value"].strip() for x in r["cells"]]
        if c is None:
            fail("%s: row for countermeasure %d that the API never listed" % (table, cid))
            bad += 1
            continue
        addr = c["address"] + ("/%d" % c["prefix_len"] if c["prefix_len"] else "")
        if v[0 if compact else 2] != addr:
            fail("%s: countermeasure %d address %r, API %r" % (table, cid, v[0 if compact else 2], addr))
            bad += 1
        if v[st_col] not in states[cid]:
            fail("%s: countermeasure %d state %r, API %s" % (table, cid, v[st_col], sorted(states[cid])))
            bad += 1
        if v[st_col] in ("active", "pending") and c["action"] == "ban" and c.get("expires_ts"):
            cell = r["cells"][left_col]
            parsed = parse_left(v[left_col])
            left, res = parsed if parsed else (None, 1)
            api_left = remaining.get(cid, [])
            claimed = cell["attrs"].get("data-remaining")
            if left is None or not api_left or claimed is None:
                fail("%s: ban %d in force: remaining %r (API remaining_s %s)" % (table, cid, v[left_col], api_left[-1:]))
                bad += 1
                continue
            # The page counts down from the remaining_s it fetched (one of the API's answers).
            if not any(abs(int(claimed) - a) <= 1 for a in api_left):
                fail("%s: ban %d: page fetched remaining_s %s, API answered %s..%s" % (
                    table, cid, claimed, min(api_left), max(api_left)))
                bad += 1
            # It counts down on the page's clock (virtual time: up to the budget) from the fetch.
            if not (int(claimed) - budget_s - 3 - res < left <= int(claimed) + 1):
                fail("%s: ban %d shows %r (%d s) left, fetched %s s" % (table, cid, v[left_col], left, claimed))
                bad += 1
            counted += 1
    bans = [r for r in rows if byid.get(int(r["attrs"].get("data-cm-id", "0")), {}).get("action") == "ban"]
    if "ban" in want and not bans:
        fail("%s: no ban shown (DASH_EXPECT has 'ban')" % table)
    if "countdown" in want and not counted:
        fail("%s: no ban in force with a remaining time (states %s; DASH_EXPECT has 'countdown')" % (
            table, {k: sorted(s) for k, s in states.items()}))
    if not bad:
        ok("%s: %d countermeasure rows = API (address, state); %d in force count down with the API's remaining_s" % (
            table, len(rows), counted))


def check_detail(dom, c, want):
    if dom.text_of.get("d-title", "").strip() != "Customer " + c["id"]:
        fail("detail: title %r" % dom.text_of.get("d-title"))
        return
    charts = {s["parent"]: s for s in dom.svgs if "gw-chart" in s["attrs"].get("class", "")}
    need = {"c-bits", "c-rtt", "c-jitter", "c-loss", "c-dns"}
    if not need <= set(charts):
        fail("detail: charts %s, want %s" % (sorted(charts), sorted(need)))
        return
    bits = charts["c-bits"]
    pts = [p for _, l in bits["lines"] for p in l.split()]
    if int(bits["attrs"].get("data-points", 0)) < 2 or len(pts) < 2 or \
            not all(re.match(r"^[0-9.]+,[0-9.]+$", p) for p in pts):
        fail("detail: throughput chart has %s points" % bits["attrs"].get("data-points"))
        return
    exp = expect(c)
    counts = {k: int(charts[k]["attrs"].get("data-points", 0)) for k in need}
    for chart, key, word in (("c-rtt", "rtt_wan", "rtt"), ("c-jitter", "jitter", "jitter"), ("c-dns", "dns", "dns")):
        if exp[key] is not None and word in want and counts[chart] < 1:
            fail("detail: %s has no points though the customer has %s" % (chart, key))
            return
    tiles = dom.text_of.get("d-tiles", "")
    if "Shed pkt" not in tiles:
        fail("detail %s: no 'Shed pkt' tile (load-shedding count) in %r" % (c["id"], tiles[:200]))
        return
    ok("detail %s: charts with points %s; tiles %r" % (c["id"], counts, re.sub(r"\s+", " ", tiles)[:120]))


def check_probes(dom, poller_base):
    try:
        with urllib.request.urlopen(poller_base + "/api/v1/probes", timeout=5) as r:
            api = json.loads(r.read().decode())["probes"]
    except (OSError, ValueError, KeyError) as e:
        fail("probes: API: %s" % e)
        return
    rows = body_rows(dom, "probes")
    if [r["cells"][0]["value"] for r in rows] != [p["id"] for p in api]:
        fail("probes: rows %s, API %s" % ([r["cells"][0]["value"] for r in rows], [p["id"] for p in api]))
    else:
        ok("probes: %d rows = API" % len(rows))


# ---------- screenshots ----------
def png_read(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG: (width, height, bytes per pixel, rows)."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos + 8 <= len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if typ == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat.append(body)
        elif typ == b"IEND":
            break
    if hdr is None:
        raise ValueError("no IHDR")
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError("unsupported PNG (depth %d, colour type %d, interlace %d)" % (depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if f == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for x in range(stride):
                line[x] = (line[x] + (((line[x - bpp] if x >= bpp else 0) + prev[x]) >> 1)) & 255
        elif f == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def hexrgb(s):
    return tuple(int(s[i:i + 2], 16) for i in (1, 3, 5))


def near(px, rgb, dist=60):
    return abs(px[0] - rgb[0]) + abs(px[1] - rgb[1]) + abs(px[2] - rgb[2]) <= dist


def region_stats(rows, bpp, box):
    """Luminance sd, distinct colours and the colour set of box (x0, y0, x1, y1), every pixel."""
    x0, y0, x1, y1 = box
    cols, n, s, s2 = {}, 0, 0.0, 0.0
    for y in range(y0, y1):
        row = rows[y]
        for x in range(x0 * bpp, x1 * bpp, bpp):
            px = (row[x], row[x + 1], row[x + 2])
            cols[px] = cols.get(px, 0) + 1
            lum = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]
            n += 1
            s += lum
            s2 += lum * lum
    sd = (max(0.0, s2 / n - (s / n) ** 2)) ** 0.5 if n else 0.0
    return sd, cols, n


def check_png(path, what, dom, regions):
    """The screenshot is WIDTH x HEIGHT and not blank; every region (label, element id, {name:
    "#rrggbb"}, skip_top px) that the page says is in the viewport (its data-rect) is not blank
    either and has those colours painted inside it, below its first skip_top pixels (table
    header, chart caption and legend: they use the same colours)."""
    try:
        w, h, bpp, rows = png_read(path)
    except (OSError, ValueError, zlib.error) as e:
        fail("%s screenshot %s: %s" % (what, path, e))
        return
    if (w, h) != (WIDTH, HEIGHT):
        fail("%s screenshot is %dx%d, want %dx%d" % (what, w, h, WIDTH, HEIGHT))
        return
    sd, cols, n = region_stats(rows, bpp, (0, 0, w, h))
    top = max(cols.values()) / n
    if sd < 8 or top > 0.97 or len(cols) < 50:
        fail("%s screenshot looks blank: luminance sd %.1f, top colour %.0f%%, %d colours" % (what, sd, top * 100, len(cols)))
        return
    seen = []
    for label, eid, colours, skip in regions:
        r = dom.rects.get(eid) if dom else None
        if r is None:
            fail("%s screenshot: the page recorded no position of #%s" % (what, eid))
            continue
        box = (max(0, r[0]), max(0, r[1] + skip), min(w, r[0] + r[2]), min(h, r[1] + r[3]))
        if box[2] - box[0] < 20 or box[3] - box[1] < 10:
            print("note: %s screenshot: #%s is outside the %dx%d viewport (%s), not checked" % (what, eid, w, h, r))
            continue
        rsd, rcols, _ = region_stats(rows, bpp, box)
        if rsd < 3 or len(rcols) < 10:
            fail("%s screenshot: %s (#%s at %s) is blank: sd %.1f, %d colours" % (what, label, eid, r, rsd, len(rcols)))
            continue
        missing = [name for name, hx in colours.items() if not any(near(px, hexrgb(hx)) for px in rcols)]
        if missing:
            fail("%s screenshot: %s (#%s at %s) lacks %s" % (what, label, eid, r, ", ".join(missing)))
            continue
        seen.append("%s%s" % (label, " (" + ", ".join(colours) + ")" if colours else ""))
    ok("%s screenshot %s: %dx%d, luminance sd %.1f, %d colours; regions painted: %s" % (
        what, os.path.basename(path), w, h, sd, len(cols), "; ".join(seen) or "-"))


# ---------- Chromium ----------
class Chrome:
    def __init__(self, outdir, budget_ms):
        self.exe = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        self.outdir, self.budget_ms = outdir, budget_ms
        self.log = open(os.path.join(outdir, "chromium.log"), "ab")

    def run(self, url, args):
        prof = tempfile.mkdtemp(prefix="gw-dash-chrome.")
        try:
            cmd = [self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   "--disable-dev-shm-usage", "--no-default-browser-check",
                   "--user-data-dir=" + prof, "--window-size=%d,%d" % (WIDTH, HEIGHT),
                   "--virtual-time-budget=%d" % self.budget_ms] + args + [url]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=self.log, timeout=90)
            return p.returncode, p.stdout
        except subprocess.TimeoutExpired:
            return -1, b""
        finally:
            shutil.rmtree(prof, ignore_errors=True)

    def page(self, url, name):
        """One Chromium run: the DOM after the budget and a screenshot of the same page.
        Returns (Dom or None, screenshot path or None)."""
        png = os.path.join(self.outdir, "dashboard-%s.png" % name)
        if os.path.exists(png):
            os.unlink(png)
        rc, out = self.run(url, ["--dump-dom", "--screenshot=" + png])
        open(os.path.join(self.outdir, name + ".html"), "wb").write(out)
        d = None
        if rc != 0 or b"<body" not in out:
            fail("chromium --dump-dom %s failed (rc %d; log %s)" % (url, rc, self.log.name))
        else:
            d = Dom()
            d.feed(out.decode("utf-8", "replace"))
        if not os.path.exists(png):
            fail("chromium --screenshot %s wrote nothing (rc %d)" % (url, rc))
            png = None
        return d, png


STATE_COLOURS = {"active": "#ff5c5c", "pending": "#f0b429", "failed": "#a40e26", "cleared": "#3fb950"}


def badge_colours(dom, table):
    """The state badge colours of the rows of table that the page painted inside the viewport."""
    out = {}
    for r in body_rows(dom, table) if dom else []:
        st, rect = r["attrs"].get("data-state"), r["attrs"].get("data-rect", "")
        try:
            top, height = [int(v) for v in rect.split(",")][1::2]
        except ValueError:
            continue
        if st in STATE_COLOURS and 0 <= top and top + height <= HEIGHT:
            out[st + " badge"] = STATE_COLOURS[st]
    return out


def chart_points(dom, fid):
    return any(int(s["attrs"].get("data-points", 0)) > 0 for s in dom.svgs if s["parent"] == fid)


def pick_customer(poller):
    with poller.lock:
        lst = poller.customers[-1][1] if poller.customers else []
    forced = os.environ.get("DASH_CUSTOMER")
    if forced:
        return next((c for c in lst if c["id"] == forced), None)

    def score(c):
        e = expect(c)
        return sum(e[k] is not None for k in QCOLS), c["rx_bps"] + c["tx_bps"]
    return max(lst, key=score) if lst else None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    base, outdir = sys.argv[1].rstrip("/"), sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    want = set(os.environ.get("DASH_EXPECT", DEFAULT_EXPECT).split())
    budget_ms = int(os.environ.get("DASH_BUDGET_MS", "6000"))
    try:
        with urllib.request.urlopen(base + "/api/v1/customers", timeout=5) as r:
            if not json.loads(r.read().decode()).get("customers"):
                fail("the API at %s lists no customer: nothing to show" % base)
        with urllib.request.urlopen(base + "/", timeout=5) as r:
            if b"gatewatch" not in r.read():
                fail("%s/ does not serve the dashboard" % base)
    except (OSError, ValueError) as e:
        fail("cannot reach the operator at %s: %s" % (base, e))
    if FAILS:
        return 1
    if not os.access(os.environ.get("CHROMIUM", "/usr/bin/chromium"), os.X_OK):
        fail("no Chromium at %s (Debian package chromium)" % os.environ.get("CHROMIUM", "/usr/bin/chromium"))
        return 1
    poller = Poller(base)
    poller.poll()
    poller.start()
    ch = Chrome(outdir, budget_ms)
    budget_s = budget_ms / 1000.0
    rx, tx = {"rx": "#58a6ff"}, {"tx": "#f778ba"}
    try:
        for attempt in range(3):
            d, png = ch.page(base + "/", "overview")
            if not d or check_customers(d, poller, want, final=attempt == 2) != "retry":
                break
            print("note: customers page showed intervals no API poll caught; rendering it again")
        if d:
            check_scroll(d, "customers page")
            check_events(d, poller, "feed", True, want)
            check_cms(d, poller, "cm-panel", True, budget_s, want)
        if png:
            check_png(png, "customers page", d, [("customer table with sparklines", "customers", dict(rx, **tx), 46),
                                                 ("events feed", "feed", badge_colours(d, "feed"), 28),
                                                 ("countermeasures", "cm-panel", badge_colours(d, "cm-panel"), 28)])
        cust = pick_customer(poller)
        if cust:
            d, png = ch.page(base + "/#customer=" + cust["id"], "detail")
            if d:
                check_scroll(d, "detail page")
                check_detail(d, cust, want)
            if png:
                check_png(png, "detail page", d, [("throughput chart", "c-bits", dict(rx, **tx), 56)] + [
                    (name, fid, {name: colour}, 56) for name, fid, colour in
                    (("RTT chart", "c-rtt", "#3fb950"), ("jitter chart", "c-jitter", "#f0b429"),
                     ("DNS chart", "c-dns", "#d2a8ff")) if d and chart_points(d, fid)])
        d, png = ch.page(base + "/#events", "events")
        if d:
            check_scroll(d, "events page")
            check_events(d, poller, "events", False, want)
            check_cms(d, poller, "cms", False, budget_s, want)
        if png:
            check_png(png, "events page", d, [("events table", "events", badge_colours(d, "events"), 28),
                                              ("countermeasures table", "cms", badge_colours(d, "cms"), 28)])
        d, png = ch.page(base + "/#probes", "probes")
        if d:
            check_scroll(d, "probes page")
            check_probes(d, base)
    finally:
        poller.stop.set()
        poller.join(10)
        with open(os.path.join(outdir, "api-snapshots.json"), "w") as f:
            json.dump({"customers": poller.customers[-3:], "events": list(poller.events.values()),
                       "countermeasures": poller.cms[-3:]}, f)
    if FAILS:
        print("dashboard check: %d failure(s); DOM dumps, screenshots and API snapshots in %s" % (len(FAILS), outdir),
              file=sys.stderr)
        return 1
    print("dashboard check: all passed (screenshots %s/dashboard-*.png)" % outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
