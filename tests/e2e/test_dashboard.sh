#!/bin/bash
# test_dashboard.sh: the operator serves dashboards/ and headless Chromium renders what the API says.
# rrdcached + operator (--dashboard-dir) + the probe replaying real captures on two VLANs; then
# Chromium --dump-dom of the customer table, the detail view (chart SVG with points, apps), the
# probes and events views, and a screenshot kept in $GW_BUILD/dashboard-*.png for a look.
. "$GW_TESTS/lib/common.sh"
DASH=$(cd "$GW_TESTS/../dashboards" && pwd) || gw_fail "no dashboards/ directory"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || gw_fail "$CHROMIUM not installed (Debian package chromium)"
"$GW_BUILD/gatewatch-operator" --help 2>&1 | grep -q -- '--dashboard-dir' \
	|| gw_fail "gatewatch-operator has no --dashboard-dir option: operator/static.c is not wired into http.c/main.c yet"

T=$(gw_tmpdir)
gw_start_rrdcached "$T"
ZPORT=$(gw_free_port); HPORT=$(gw_free_port)
[ "$HPORT" = "$ZPORT" ] && HPORT=$((HPORT + 1))
API=http://127.0.0.1:$HPORT

"$GW_BUILD/gatewatch-operator" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" \
	--rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock" --dashboard-dir "$DASH" \
	>"$T/operator.log" 2>&1 &
OP=$!
gw_cleanup_add "kill $OP 2>/dev/null; wait $OP 2>/dev/null"
gw_wait_http "$API/healthz"

# --- static files: layout, MIME types, security headers, refusals ---
for u in / /index.html /ui/app.js /ui/style.css /ui/chart.js; do
	curl -s -D "$T/h" -o "$T/body" "$API$u" >/dev/null || gw_fail "GET $u"
	head -1 "$T/h" | grep -q ' 200' || gw_fail "GET $u: $(head -1 "$T/h")"
	cmp -s "$T/body" "$DASH/$( [ "$u" = / ] && echo index.html || basename "$u")" || gw_fail "GET $u: content differs from the file"
	grep -qi '^content-security-policy: default-src .self.' "$T/h" || gw_fail "GET $u: no CSP header"
	grep -qi '^x-content-type-options: nosniff' "$T/h" || gw_fail "GET $u: no nosniff"
done
ctype() { curl -s -o /dev/null -w '%{content_type}' "$API$1"; }
[ "$(ctype /)" = "text/html; charset=utf-8" ] || gw_fail "/ type $(ctype /)"
[ "$(ctype /ui/app.js)" = "text/javascript; charset=utf-8" ] || gw_fail "app.js type $(ctype /ui/app.js)"
[ "$(ctype /ui/style.css)" = "text/css; charset=utf-8" ] || gw_fail "style.css type"
[ "$(ctype /api/v1/customers)" = "application/json" ] || gw_fail "API type changed by the static routes"
for u in /ui/../Makefile /ui/%2e%2e/Makefile /ui/..%2fMakefile /ui/%2e%2e%2f%2e%2e%2fetc%2fpasswd \
	/ui/.hidden /ui/ /ui/nosuch.js /ui/sub/app.js /app.js; do
	code=$(curl -s --path-as-is -o "$T/body" -w '%{http_code}' "$API$u")
	[ "$code" = 404 ] || gw_fail "GET $u gave $code, want 404"
	grep -q root: "$T/body" && gw_fail "GET $u leaked /etc/passwd"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "$API/ui/app.js")
[ "$code" = 405 ] || gw_fail "POST /ui/app.js gave $code, want 405"
# No external resource: the only URL allowed is the SVG namespace name (an identifier, never fetched).
grep -rEo 'https?://[^"'"'"' )]*' "$DASH"/*.html "$DASH"/*.js "$DASH"/*.css | grep -v ':http://www.w3.org/2000/svg$' \
	&& gw_fail "dashboards/ references an external URL"
gw_ok "static files: layout, MIME types, CSP, traversal refused"

# --- data: c101 (netflix), c102 (WhatsApp voice), c103 (Teams: TCP RTT, DNS) on VLANs 101-103 ---
python3 "$GW_TESTS/lib/pcap_vlan.py" "$GW_PCAPS/netflix.pcap" "$T/a.pcap" 101
python3 "$GW_TESTS/lib/pcap_vlan.py" "$GW_PCAPS/wa_voice.pcap" "$T/b.pcap" 102
python3 "$GW_TESTS/lib/pcap_vlan.py" "$GW_PCAPS/teams.pcap" "$T/c.pcap" 103
mergecap -a -F pcap -w "$T/trunk.pcap" "$T/a.pcap" "$T/b.pcap" "$T/c.pcap"
printf 'c101 vlan 101\nc102 vlan 102\nc103 vlan 103\n' >"$T/map"
"$GW_BUILD/gatewatch-probe" -r "$T/trunk.pcap" --probe-id p1 --customer-map "$T/map" \
	--operator "tcp://127.0.0.1:$ZPORT" --jsonl "$T/out.jsonl" 2>"$T/probe.log" \
	|| gw_fail "probe failed: $(cat "$T/probe.log")"
want=$(grep -c '"type":"stats"' "$T/out.jsonl")
for _ in $(seq 50); do
	curl -s "$API/api/v1/probes" >"$T/probes.json"
	got=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probes"]; print(p[0]["messages"] if p else 0)' "$T/probes.json")
	[ "$got" -gt "$want" ] && break   # hello + every stats report
	sleep 0.2
done
curl -sf "$API/api/v1/customers" >"$T/customers.json" || gw_fail "customers API"
python3 -c 'import json,sys; ids=[c["id"] for c in json.load(open(sys.argv[1]))["customers"]]; assert ids==["c101","c102","c103"], ids' \
	"$T/customers.json" || gw_fail "API customers: $(head -c 300 "$T/customers.json")"
rrdtool flushcached --daemon "unix:$T/rrdcached.sock" "$T/rrd/c101.rrd" || gw_fail "flushcached"

# The DOM checks (python3, stdlib only): written out once, run per view.
cat >"$T/check.py" <<'PY'
import json, re, sys
from html.parser import HTMLParser

class Dom(HTMLParser):
    """Collects table rows (per table id) and chart SVGs from Chromium's --dump-dom."""
    def __init__(self):
        super().__init__()
        self.stack, self.tables, self.svgs, self.text_of = [], {}, [], {}
        self.table = None; self.row = None; self.cell = None; self.svg = None; self.capture = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table": self.table = a.get("id"); self.tables.setdefault(self.table, [])
        elif tag == "tr" and self.table and self.in_tbody: self.row = {"attrs": a, "cells": []}
        elif tag in ("td", "th") and self.row is not None: self.cell = {"attrs": a, "text": "", "html": []}
        elif tag == "svg": self.svg = {"attrs": a, "lines": [], "parent": self.figure}
        elif tag == "polyline" and self.svg is not None: self.svg["lines"].append(a.get("points", ""))
        elif tag == "figure": self.figure = a.get("id")
        if tag == "tbody": self.in_tbody = True
        if self.cell is not None and tag == "span": self.cell["html"].append(a)
        if a.get("id") in ("d-title", "d-note", "cm-note", "events-note", "count", "legend", "status"):
            self.capture = a["id"]; self.text_of[self.capture] = ""
    in_tbody = False; figure = None
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None: self.row["cells"].append(self.cell); self.cell = None
        elif tag == "tr" and self.row is not None: self.tables[self.table].append(self.row); self.row = None
        elif tag == "tbody": self.in_tbody = False
        elif tag == "table": self.table = None
        elif tag == "svg" and self.svg is not None: self.svgs.append(self.svg); self.svg = None
        elif tag in ("h2", "span", "p", "div") and self.capture: self.capture = None
    def handle_data(self, d):
        if self.cell is not None: self.cell["text"] += d
        if self.capture: self.text_of[self.capture] += d

def load(path):
    d = Dom(); d.feed(open(path, encoding="utf-8").read()); return d

PREFIX = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
def close(shown, want, what):
    """shown: the cell text ("4.56 Mbit/s", "12.5", "–"); want: the API number or None."""
    shown = shown.strip().replace("\u00a0", " ")
    if want is None:
        assert shown == "\u2013", (what, shown, want); return
    m = re.match(r"^(-?[0-9.]+) ?([kMGT]?)", shown)
    assert m, (what, shown, want)
    num, mult = m.group(1), PREFIX[m.group(2)]
    dec = len(num.split(".")[1]) if "." in num else 0
    tol = 0.5 * 10 ** -dec * mult * 1.0001 + 1e-9
    assert abs(float(num) * mult - want) <= tol, (what, shown, want)

def customer_expect(c):
    iv = c["interval"] if c["interval"] > 0 else 1
    tcp, rtp, dns = c["tcp"], c["rtp"], c["dns"]
    return {"rx": c["rx_bps"], "tx": c["tx_bps"],
            "pps": (c["rx_packets"] + c["tx_packets"]) / iv, "flows": c["flows_active"],
            "rtt_wan": tcp["rtt_wan_ms_avg"] if tcp["handshakes"] else None,
            "rtt_lan": tcp["rtt_lan_ms_avg"] if tcp["handshakes"] else None,
            "jitter": rtp["jitter_ms_avg"] if rtp["streams"] else None,
            "loss": 100.0 * rtp["packets_lost"] / rtp["packets_expected"] if rtp["packets_expected"] else None,
            "dns": dns["latency_ms_avg"] if dns["responses"] else None}

def top_app(c):
    apps = c.get("apps") or {}
    return max(apps, key=lambda k: apps[k]["rx_bytes"] + apps[k]["tx_bytes"]) if apps else None

def check_table(dom, customers, probes):
    api = json.load(open(customers))["customers"]
    rows = [r for r in dom.tables["customers"] if "data-id" in r["attrs"]]
    ids = [r["attrs"]["data-id"] for r in rows]
    assert ids == [c["id"] for c in api], ("rows", ids)
    cols = ["id", "probe", "rx", "tx", "pps", "flows", "top", "rtt_wan", "rtt_lan", "jitter", "loss", "dns"]
    legend = dom.text_of.get("legend", "")
    for r, c in zip(rows, api):
        cells = {k: x for k, x in zip(cols, r["cells"])}
        assert len(r["cells"]) == len(cols), r
        assert cells["id"]["text"] == c["id"] and cells["probe"]["text"] == c["probe"], r
        exp = customer_expect(c)
        for k in ("rx", "tx", "pps", "flows", "rtt_wan", "rtt_lan", "jitter", "loss", "dns"):
            close(cells[k]["text"], exp[k], (c["id"], k))
        ta = top_app(c)
        assert (cells["top"]["text"].split(" ")[0] if ta else cells["top"]["text"]) == (ta or "\u2013"), (cells["top"], ta)
        # A cell marked warn/crit holds a value above the threshold the legend states, and vice versa.
        for k, label in (("rtt_wan", "RTT WAN ms"), ("jitter", "jitter ms"), ("dns", "DNS ms")):
            m = re.search(re.escape(label) + r" > ([0-9.]+) / ([0-9.]+)", legend)
            assert m, ("legend", legend)
            warn, crit = float(m.group(1)), float(m.group(2))
            cls, v = cells[k]["attrs"].get("class", ""), exp[k]
            want = "" if v is None or v <= warn else "warn" if v <= crit else "crit"
            assert (want in cls.split()) if want else ("warn" not in cls and "crit" not in cls), (c["id"], k, v, cls)
    assert re.search(r"\b%d of %d customers" % (len(api), len(api)), dom.text_of.get("count", "")), dom.text_of
    print("table ok:", ", ".join("%s rx %s tx %s" % (r["attrs"]["data-id"], r["cells"][2]["text"], r["cells"][3]["text"]) for r in rows))

def check_detail(dom, cjson, jsonl=None):
    c = json.load(open(cjson))
    assert dom.text_of.get("d-title", "").strip() == "Customer " + c["id"], dom.text_of
    charts = {s["parent"]: s for s in dom.svgs if "gw-chart" in s["attrs"].get("class", "")}
    assert set(charts) >= {"c-bits", "c-rtt", "c-jitter", "c-dns"}, charts.keys()
    bits = charts["c-bits"]
    # rx and tx, at least one 10 s step each (c103's capture is 25 s long).
    assert int(bits["attrs"]["data-points"]) >= 2, bits["attrs"]
    pairs = sum(len(l.split()) for l in bits["lines"])
    assert pairs >= 2 and all(re.match(r"^[0-9.]+,[0-9.]+$", p) for l in bits["lines"] for p in l.split()), bits["lines"][:2]
    if c["tcp"]["handshakes"]:
        assert int(charts["c-rtt"]["attrs"]["data-points"]) >= 1, charts["c-rtt"]["attrs"]
    if jsonl:   # the probe measured DNS for this customer at some point: the DNS chart shows it
        dns = [json.loads(l) for l in open(jsonl)]
        if any(o["type"] == "stats" and o["customer"] == c["id"] and o["dns"]["responses"] for o in dns):
            assert int(charts["c-dns"]["attrs"]["data-points"]) >= 1, charts["c-dns"]["attrs"]
        else:
            assert charts["c-dns"]["attrs"]["data-points"] == "0", charts["c-dns"]["attrs"]
    apps = [r["cells"][0]["text"] for r in dom.tables["apps"] if r["cells"] and "empty" not in r["cells"][0]["attrs"].get("class", "")]
    assert sorted(apps) == sorted(c["apps"]), (apps, list(c["apps"]))
    if apps:
        assert apps[0] == top_app(c), (apps[0], top_app(c))
    print("detail ok: %d throughput points in %d line(s), rtt points %s, apps %s" % (
        int(bits["attrs"]["data-points"]), len(bits["lines"]), charts["c-rtt"]["attrs"]["data-points"], apps))

def check_probes(dom, pjson):
    api = json.load(open(pjson))["probes"]
    rows = [r for r in dom.tables["probes"] if r["cells"] and "empty" not in r["cells"][0]["attrs"].get("class", "")]
    assert [r["cells"][0]["text"] for r in rows] == [p["id"] for p in api], rows
    for r, p in zip(rows, api):
        close(r["cells"][4]["text"], p["messages"], "messages")
        close(r["cells"][5]["text"], p["lost"], "lost")
        close(r["cells"][8]["text"], p["customers"], "customers")
    print("probes ok:", [(r["cells"][0]["text"], r["cells"][3]["text"], r["cells"][4]["text"]) for r in rows])

def check_events(dom, ejson, cm_code):
    try:
        ev = json.load(open(ejson)).get("events", [])
    except ValueError:
        ev = []
    rows = [r for r in dom.tables["events"] if r["cells"] and "empty" not in r["cells"][0]["attrs"].get("class", "")]
    assert len(rows) == min(100, len(ev)), (len(rows), len(ev))
    for r in rows:
        badge = r["cells"][1]["html"][0]["class"]
        assert badge.startswith("sev sev-"), badge
    if cm_code == "404":
        assert "404" in dom.text_of.get("cm-note", ""), dom.text_of
    print("events ok: %d event rows, countermeasures HTTP %s" % (len(rows), cm_code))

what = sys.argv[1]
dom = load(sys.argv[2])
{"table": lambda: check_table(dom, sys.argv[3], sys.argv[4]), "detail": lambda: check_detail(dom, sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None),
 "probes": lambda: check_probes(dom, sys.argv[3]), "events": lambda: check_events(dom, sys.argv[3], sys.argv[4])}[what]()
PY

# Headless Chromium: fresh profile, no network but loopback; dump the DOM after 5 s of virtual time.
chrome() {
	local prof
	prof=$(mktemp -d "$T/chrome.XXXXXX")
	timeout 40 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-dev-shm-usage --user-data-dir="$prof" --virtual-time-budget=5000 "$@" 2>>"$T/chrome.log"
}
chrome --dump-dom "$API/" >"$T/table.html" || gw_fail "chromium --dump-dom failed: $(tail -5 "$T/chrome.log")"
python3 "$T/check.py" table "$T/table.html" "$T/customers.json" "$T/probes.json" \
	|| gw_fail "customer table differs from the API (DOM in $T/table.html)"
gw_ok "customer table rows and values = API"

chrome --screenshot="$GW_BUILD/dashboard-table.png" --window-size=1600,1000 "$API/" >/dev/null \
	|| gw_fail "screenshot failed"
[ -s "$GW_BUILD/dashboard-table.png" ] || gw_fail "no screenshot written"

chrome --dump-dom "$API/#customer=c101" >"$T/detail.html" || gw_fail "chromium detail"
curl -sf "$API/api/v1/customers/c101" >"$T/c101.json" || gw_fail "customer API"
python3 "$T/check.py" detail "$T/detail.html" "$T/c101.json" "$T/out.jsonl" \
	|| gw_fail "detail view wrong (DOM in $T/detail.html)"
rrdtool flushcached --daemon "unix:$T/rrdcached.sock" "$T/rrd/c103.rrd" || gw_fail "flushcached c103"
chrome --dump-dom "$API/#customer=c103&range=1d" >"$T/detail3.html" || gw_fail "chromium detail c103"
curl -sf "$API/api/v1/customers/c103" >"$T/c103.json" || gw_fail "customer API c103"
python3 "$T/check.py" detail "$T/detail3.html" "$T/c103.json" "$T/out.jsonl" \
	|| gw_fail "detail view of c103 (1d) wrong (DOM in $T/detail3.html)"
chrome --screenshot="$GW_BUILD/dashboard-detail.png" --window-size=1600,1000 "$API/#customer=c101" >/dev/null \
	|| gw_fail "detail screenshot failed"
gw_ok "detail view: throughput chart with points, QoS charts, apps = API"

chrome --dump-dom "$API/#probes" >"$T/probes.html" || gw_fail "chromium probes"
python3 "$T/check.py" probes "$T/probes.html" "$T/probes.json" \
	|| gw_fail "probes view wrong (DOM in $T/probes.html)"
chrome --dump-dom "$API/#events" >"$T/events.html" || gw_fail "chromium events"
curl -s "$API/api/v1/events?limit=1000" >"$T/events.json"
cm_code=$(curl -s -o "$T/cms.json" -w '%{http_code}' "$API/api/v1/countermeasures")
python3 "$T/check.py" events "$T/events.html" "$T/events.json" "$cm_code" \
	|| gw_fail "events view wrong (DOM in $T/events.html)"
gw_ok "probes and events views"
kill -0 $OP || gw_fail "operator died"
echo "dashboard: all checks passed (screenshots: $GW_BUILD/dashboard-table.png, dashboard-detail.png)"
