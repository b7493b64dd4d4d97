#!/bin/bash
# test_capacity_report.sh: 86 days of synthetic 10 s stats for four customers (growth, gaps,
# decline, QoS) go through the operator's real store path into rrdcached; the operator's
# /api/v1/reports figures must equal an independent Python computation over `rrdtool xport`
# rows at 300 s and rrdtool graph's PERCENTNAN (tests/lib/capacity_check.py). Also: footprint
# per customer, error answers, coarser-step labelling, charts. Needs no capture corpus.
. "$GW_TESTS/lib/common.sh"
T=$(gw_tmpdir)
gw_start_rrdcached "$T"
SOCK=unix:$T/rrdcached.sock
TZNAME=Europe/Zurich
# The report period is last calendar month (local), so that the operator's retention (daily
# values 120 days, application bytes 62 days, by wall clock) keeps the synthetic history.
# 86 days of data end at this month's first midnight (crossing a DST change in spring or
# autumn); the trend takes 12 weeks of daily 95th values, most of them from the daily roll-up
# in SQLite (the RRD keeps 32 days of 300 s rows).
MONTH=$(TZ=$TZNAME date -d "$(TZ=$TZNAME date +%Y-%m-01) -1 month" +%Y-%m)
OLDMONTH=$(TZ=$TZNAME date -d "$(TZ=$TZNAME date +%Y-%m-01) -4 months" +%Y-%m)
FROM=$(TZ=$TZNAME date -d "$MONTH-01 00:00" +%s); TO=$(TZ=$TZNAME date -d "$(TZ=$TZNAME date +%Y-%m-01) 00:00" +%s)
DAYS=86; T0=$((TO - DAYS * 86400))
[ $((T0 % 300)) = 0 ] && [ $((TO - FROM)) -ge $((28 * 86400)) ] || gw_fail "period $FROM..$TO"

TZ=$TZNAME "$GW_BUILD/tools/gw-capacity-feed" "$T/rrd" "$SOCK" "$T/gw.db" $T0 $DAYS >"$T/feed.out" \
	|| gw_fail "feed failed: $(cat "$T/feed.out")"
cat "$T/feed.out"
bytes=$(sed -n 's/.*bytes_per_customer \([0-9]*\).*/\1/p' "$T/feed.out")
[ "$bytes" -le 2000000 ] || gw_fail "footprint $bytes bytes per customer > 2 MB"
real=$(( $(stat -c %s "$T/rrd/grow.rrd") + $(stat -c %s "$T/rrd/5m/grow.rrd") ))
[ "$real" = "$bytes" ] || gw_fail "file sizes $real != counter $bytes"
gw_ok "footprint $bytes bytes per customer (two files)"

printf 'grow 100M/20M\nshrink 100M/20M\ndefault 50M/10M\n' >"$T/plans"
ZPORT=$(gw_free_port); HPORT=$(gw_free_port)
[ "$HPORT" = "$ZPORT" ] && HPORT=$((HPORT + 1))
API=http://127.0.0.1:$HPORT
"$GW_BUILD/gatewatch-operator" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" \
	--rrd-dir "$T/rrd" --rrdcached "$SOCK" --db "$T/gw.db" --tz $TZNAME --plans "$T/plans" \
	--dashboard-dir "$GW_TESTS/../dashboards" >"$T/operator.log" 2>&1 &
OP=$!
gw_cleanup_add "kill $OP 2>/dev/null; wait $OP 2>/dev/null"
gw_wait_http "$API/healthz"

/usr/bin/python3 "$GW_TESTS/lib/capacity_check.py" "$API" "$T/rrd" "$SOCK" $T0 $DAYS $TZNAME $FROM $TO \
	|| gw_fail "report figures differ from the independent computation"
gw_ok "report figures = Python over rrdtool xport and rrdtool PERCENTNAN"

# month= and the default period; a month the 300 s rows no longer cover is labelled, not hidden.
curl -sf "$API/api/v1/reports/customers/grow?month=$MONTH" >"$T/m.json" || gw_fail "month="
/usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert a["from"]==int(sys.argv[2]) and a["to"]==int(sys.argv[3]), a' \
	"$T/m.json" $FROM $TO || gw_fail "month=$MONTH is not that month in $TZNAME"
curl -sf "$API/api/v1/reports/customers/grow?month=$OLDMONTH" >"$T/old.json" || gw_fail "old month"
/usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert a["exact"] is False and a["step_s"] > 300 and "warning" in a, a' \
	"$T/old.json" || gw_fail "coarser step not labelled"
curl -sf "$API/api/v1/reports/customers/grow" >/dev/null || gw_fail "default period"
gw_ok "month=, default period, coarser step labelled"

# Errors: clear messages, right status, the operator still serves.
code() { curl -s -o "$T/err.json" -w '%{http_code}' "$API$1"; }
[ "$(code /api/v1/reports/customers/nobody?month=$MONTH)" = 404 ] || gw_fail "unknown customer not 404"
[ "$(code /api/v1/reports/customers/grow?month=2025-13)" = 400 ] || gw_fail "bad month not 400"
[ "$(code '/api/v1/reports/customers/grow?from=2025-11-31')" = 400 ] || gw_fail "bad date not 400"
[ "$(code '/api/v1/reports/top?by=nonsense')" = 400 ] || gw_fail "bad key not 400"
grep -q "p95, total, growth" "$T/err.json" || gw_fail "bad key message: $(cat "$T/err.json")"
[ "$(code '/api/v1/reports/top?limit=0')" = 400 ] || gw_fail "limit 0 not 400"
[ "$(code '/api/v1/reports/nothing')" = 404 ] || gw_fail "unknown report route not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/api/v1/reports/top")" = 405 ] || gw_fail "POST not 405"
curl -sf "$API/healthz" >/dev/null || gw_fail "operator died"
gw_ok "error answers"

# Charts: PNG and SVG with the 95th rule and the trend line.
curl -sf -o "$T/c.png" "$API/api/v1/reports/customers/grow/chart.png?month=$MONTH" || gw_fail "chart.png"
[ "$(head -c 4 "$T/c.png" | od -An -c | tr -d ' ')" = "211PNG" ] || gw_fail "not a PNG"
curl -sf -o "$T/c.svg" "$API/api/v1/reports/customers/grow/chart.svg?month=$MONTH" || gw_fail "chart.svg"
# cairo draws text as glyphs: find the lines by colour (rule #ff8000, trend #ff00ff, store.c)
grep -q 'stroke:rgb(100%,50.196078%,0%)' "$T/c.svg" || gw_fail "SVG lacks the 95th percentile rule"
grep -q 'stroke:rgb(100%,0%,100%)' "$T/c.svg" || gw_fail "SVG lacks the trend line"
gw_ok "charts"

# /series still serves both resolutions from the new layout.
curl -sf "$API/api/v1/customers/grow/series?metric=rx_bytes&from=$((TO - 3600))&to=$TO" >"$T/s10.json" || gw_fail "series 10 s"
curl -sf "$API/api/v1/customers/grow/series?metric=rx_bytes&from=$FROM&to=$TO&resolution=300" >"$T/s300.json" || gw_fail "series 300 s"
/usr/bin/python3 - "$T/s10.json" "$T/s300.json" <<'PY' || gw_fail "series steps"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["step"] == 10 and sum(v is not None for _, v in a["points"]) >= 350, a["step"]
assert b["step"] == 300 and sum(v is not None for _, v in b["points"]) >= 8600, b["step"]
PY
gw_ok "series at 10 s and 300 s"
# gatewatchctl report / top: the same figures, usage errors exit 2, API errors 1.
CTL="$GW_BUILD/gatewatchctl -u $API"
$CTL --json report grow --month $MONTH >"$T/ctl.json" || gw_fail "gatewatchctl report --json"
/usr/bin/python3 - "$T/ctl.json" "$T/m.json" <<'PY' || gw_fail "gatewatchctl report differs from the API"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["rx"] == b["rx"] and a["max"]["p95_bps"] == b["max"]["p95_bps"], (a["rx"], b["rx"])
PY
$CTL report grow --month $MONTH >"$T/ctl.txt" || gw_fail "gatewatchctl report"
p95=$(/usr/bin/python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["rx"]["p95_bps"] / 1e6))' "$T/m.json")
grep -q "rx   95th $p95 Mbit/s" "$T/ctl.txt" || gw_fail "report text lacks rx 95th $p95: $(cat "$T/ctl.txt")"
$CTL top --by total --month $MONTH --limit 2 >"$T/top.txt" || gw_fail "gatewatchctl top"
[ "$(grep -c 'B ' "$T/top.txt")" -ge 2 ] && grep -q "2 of 4 customers" "$T/top.txt" || gw_fail "top text: $(cat "$T/top.txt")"
$CTL top --by bogus 2>/dev/null; [ $? = 1 ] || gw_fail "top --by bogus did not exit 1"
$CTL report 2>/dev/null; [ $? = 2 ] || gw_fail "report without ID did not exit 2"
gw_ok "gatewatchctl report and top"
# Dashboard Capacity page in headless Chromium: top-N table and the report = the API.
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || gw_fail "$CHROMIUM not installed (Debian package chromium)"
chrome() {
	local prof
	prof=$(mktemp -d "$T/chrome.XXXXXX")
	TZ=$TZNAME timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-dev-shm-usage --user-data-dir="$prof" --virtual-time-budget=8000 "$@" 2>>"$T/chrome.log"
}
chrome --dump-dom "$API/ui/capacity.html#month=$MONTH&by=total&c=qos" >"$T/cap.html" \
	|| gw_fail "chromium --dump-dom failed: $(tail -5 "$T/chrome.log")"
curl -sf "$API/api/v1/reports/top?by=total&month=$MONTH&limit=25" >"$T/top.json" || gw_fail "top API"
curl -sf "$API/api/v1/reports/customers/qos?month=$MONTH" >"$T/qos.json" || gw_fail "qos report"
/usr/bin/python3 - "$T/cap.html" "$T/top.json" "$T/qos.json" <<'PY' || gw_fail "Capacity page differs from the API (DOM in $T/cap.html)"
import json, sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.top = []; self.dirs = {}; self.ids = {}; self.cur = None; self.where = None
        self.stack = []; self.text = {}; self.img = None
    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "table": self.where = a.get("id")
        if tag == "tr" and self.where == "cap-top" and "data-customer" in a:
            self.cur = [a["data-customer"]]; self.top.append(self.cur)
        if tag == "tr" and self.where == "r-table" and "data-dir" in a:
            self.cur = [a["data-dir"]]; self.dirs[a["data-dir"]] = self.cur
        if tag == "td" and self.cur is not None and "data-v" in a:
            self.cur.append(float(a["data-v"]))
        if "id" in a: self.stack.append(a["id"])
        if tag == "img" and a.get("id") == "r-chart": self.img = a.get("src")
    def handle_data(self, d):
        if self.stack: self.text[self.stack[-1]] = self.text.get(self.stack[-1], "") + d
p = P(); p.feed(open(sys.argv[1]).read())
top, rep = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
assert [r[0] for r in p.top] == [r["customer"] for r in top["rows"]], (p.top, top["rows"])
for row, r in zip(p.top, top["rows"]):
    assert row[1:5] == [r["p95_bps"], r["rx_p95_bps"], r["tx_p95_bps"], r["total_bytes"]], (row, r)
assert p.dirs["rx"][1:4] == [rep["rx"]["p95_bps"], rep["rx"]["peak_bps"], rep["rx"]["peak_ts"]], p.dirs
assert p.dirs["max(rx,tx)"][1] == rep["max"]["p95_bps"], p.dirs
assert "TLS" in p.text.get("r-apps", "") and "%.1f min" % rep["qos"]["sla_breach_minutes"] in p.text.get("r-sla", ""), p.text
assert p.text.get("r-busy", "").startswith("%d:00" % rep["busy_hour"]), p.text.get("r-busy")
assert p.img and "/reports/customers/qos/chart.svg" in p.img, p.img
print("capacity page: %d top rows, report figures = API" % len(p.top))
PY
chrome --screenshot="$GW_BUILD/dashboard-capacity.png" --window-size=1400,1600 \
	"$API/ui/capacity.html#month=$MONTH&c=grow" >/dev/null || gw_fail "screenshot failed"
[ -s "$GW_BUILD/dashboard-capacity.png" ] || gw_fail "no screenshot written"
gw_ok "Capacity page in headless Chromium (screenshot $GW_BUILD/dashboard-capacity.png)"
echo "PASS test_capacity_report"
