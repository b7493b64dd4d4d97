#!/bin/bash
# test_dashboard.sh: the operator serves dashboards/ and headless Chromium renders what the API says.
# Corpus-free: rrdcached + operator (--dashboard-dir, a 4 s policy ban timeout) + the probe
# replaying generated traffic on four VLANs: c101 RTP jitter/loss, TCP handshakes and DNS
# (tests/tools/gen_rtp.py), c102 a UDP flood from one source and its clear, c103 a spoofed SYN
# flood (tests/tools/gen_attacks.py), c104 slow handshakes and DNS (an SLA breach,
# tests/lib/gen_sla_breach.py). The policy bans the UDP flood's source and the ban expires;
# a manual ban stays in force and another is lifted. Then tests/lib/dashboard_check.sh
# (table values = API, sparklines, events feed, countermeasures countdown, detail charts,
# no horizontal scroll at 1280 px, screenshots in $GW_BUILD/dashboard-check/).
. "$GW_TESTS/lib/common.sh"
DASH=$(cd "$GW_TESTS/../dashboards" && pwd) || gw_fail "no dashboards/ directory"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || gw_fail "$CHROMIUM not installed (Debian package chromium)"
"$GW_BUILD/gatewatch-operator" --help 2>&1 | grep -q -- '--dashboard-dir' \
	|| gw_fail "gatewatch-operator has no --dashboard-dir option: operator/static.c is not wired into http.c/main.c yet"

/usr/bin/python3 -c 'import scapy' 2>/dev/null || gw_fail "/usr/bin/python3 has no scapy (Debian package python3-scapy)"

T=$(gw_tmpdir)
gw_start_rrdcached "$T"
printf 'ban_timeout_s 4\n' >"$T/policy"
ZPORT=$(gw_free_port); HPORT=$(gw_free_port)
[ "$HPORT" = "$ZPORT" ] && HPORT=$((HPORT + 1))
API=http://127.0.0.1:$HPORT

"$GW_BUILD/gatewatch-operator" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" \
	--rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock" --dashboard-dir "$DASH" \
	--db "$T/gw.db" --policy "$T/policy" >"$T/operator.log" 2>&1 &
OP=$!
gw_cleanup_add "kill $OP 2>/dev/null; wait $OP 2>/dev/null"
gw_wait_http "$API/healthz"

# --- static files: layout, MIME types, security headers, refusals ---
for u in / /index.html /ui/app.js /ui/feed.js /ui/style.css /ui/chart.js; do
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

# --- data: generated captures, one VLAN per customer, merged into one trunk ---
/usr/bin/python3 "$GW_TESTS/tools/gen_rtp.py" "$T/rtp.pcap" 7 >/dev/null 2>&1 || gw_fail "gen_rtp.py failed"
/usr/bin/python3 "$GW_TESTS/tools/gen_attacks.py" "$T/att" >/dev/null 2>&1 || gw_fail "gen_attacks.py failed"
/usr/bin/python3 "$GW_TESTS/lib/gen_sla_breach.py" "$T/sla.pcap" >/dev/null 2>&1 || gw_fail "gen_sla_breach.py failed"
python3 "$GW_TESTS/lib/pcap_vlan.py" "$T/rtp.pcap" "$T/a.pcap" 101
python3 "$GW_TESTS/lib/pcap_vlan.py" "$T/att/udp_flood.pcap" "$T/b.pcap" 102
python3 "$GW_TESTS/lib/pcap_vlan.py" "$T/att/syn_flood.pcap" "$T/c.pcap" 103
python3 "$GW_TESTS/lib/pcap_vlan.py" "$T/sla.pcap" "$T/d.pcap" 104
mergecap -F pcap -w "$T/trunk.pcap" "$T/a.pcap" "$T/b.pcap" "$T/c.pcap" "$T/d.pcap" || gw_fail "mergecap"
# gen_rtp's customer side is 192.0.2.0/24 (not a home network): its prefix gives direction.
printf 'c101 vlan 101\nc101 prefix 192.0.2.0/24\nc102 vlan 102\nc103 vlan 103\nc104 vlan 104\n' >"$T/map"
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
python3 -c 'import json,sys; ids=[c["id"] for c in json.load(open(sys.argv[1]))["customers"]]; assert ids==["c101","c102","c103","c104"], ids' \
	"$T/customers.json" || gw_fail "API customers: $(head -c 300 "$T/customers.json")"
for c in c101 c102 c103 c104; do
	rrdtool flushcached --daemon "unix:$T/rrdcached.sock" "$T/rrd/$c.rrd" || gw_fail "flushcached $c"
done
gw_ok "generated traffic of 4 customers ingested ($want stats reports)"

# --- countermeasures: the policy's ban of the UDP flood source expires (4 s), one manual ban
# stays in force with a long timeout, another is lifted ---
cms() { curl -s "$API/api/v1/countermeasures" | python3 -c 'import json,sys; print(" ".join("%s:%s:%s" % (c["address"], c["decided_by"], c["state"]) for c in json.load(sys.stdin)["countermeasures"]))'; }
for _ in $(seq 100); do
	cms | grep -q '198.51.100.7:policy:flood:expired' && break
	sleep 0.2
done
cms | grep -q '198.51.100.7:policy:flood:expired' || gw_fail "the policy ban of 198.51.100.7 did not expire: $(cms)"
ban() { curl -s -o "$T/ban.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$1" "$API/api/v1/bans"; }
[ "$(ban '{"address":"203.0.113.66","timeout_s":7200,"reason":"manual: scanner seen by the NOC"}')" = 201 ] \
	|| gw_fail "manual ban: $(cat "$T/ban.json")"
[ "$(ban '{"address":"203.0.113.67","timeout_s":600,"reason":"manual: mistaken"}')" = 201 ] \
	|| gw_fail "second manual ban: $(cat "$T/ban.json")"
code=$(curl -s -o "$T/unban.json" -w '%{http_code}' -X DELETE "$API/api/v1/bans/203.0.113.67")
[ "$code" = 200 ] || gw_fail "unban: $code $(cat "$T/unban.json")"
gw_ok "countermeasures: $(cms)"

# --- the dashboard in headless Chromium against this stack ---
OUT=$GW_BUILD/dashboard-check
rm -rf "$OUT"
bash "$GW_TESTS/lib/dashboard_check.sh" "$API" "$OUT" || gw_fail "dashboard check failed (DOM dumps, screenshots: $OUT)"
# What this stack holds beyond the generic checks: c104's breaches are marked, with text.
python3 - "$OUT/overview.html" <<'PY' || gw_fail "SLA breach of c104 not marked (DOM in $OUT/overview.html)"
import re, sys
html = open(sys.argv[1], encoding="utf-8").read()
row = re.search(r'<tr[^>]*data-id="c104".*?</tr>', html, re.S).group(0)
cell = lambda k: re.search(r'<td class="([^"]*)" data-key="%s"[^>]*>(.*?)</td>' % k, row, re.S)
wan, dns = cell("rtt_wan"), cell("dns")
assert "crit" in wan.group(1).split() and "SLA critical" in wan.group(2) and "\u25b2\u25b2" in wan.group(2), wan.groups()
assert "warn" in dns.group(1).split() and "SLA warning" in dns.group(2), dns.groups()
assert 'class="tile-value crit" id="t-sla">1<' in html, "SLA tile"
for other in ("c101", "c102", "c103"):
    r = re.search(r'<tr[^>]*data-id="%s".*?</tr>' % other, html, re.S).group(0)
    assert "SLA " not in r, other
print("c104: RTT WAN critical, DNS warning, marked with glyph and text; 1 SLA breach tile")
PY
for s in overview detail events; do [ -s "$OUT/dashboard-$s.png" ] || gw_fail "no screenshot dashboard-$s.png"; done
gw_ok "dashboard: table, sparklines, events feed, countermeasures, detail charts = API; screenshots checked"
kill -0 $OP || gw_fail "operator died"
echo "dashboard: all checks passed (screenshots: $OUT/dashboard-overview.png, dashboard-detail.png, dashboard-events.png)"
