#!/bin/bash
# test_pipeline.sh: rrdcached + operator + probe on loopback, end to end.
# What the probe computed (its own JSON Lines) is what the operator's API, the RRD files
# (rrdtool fetch through rrdcached) and gatewatchctl return.
. "$GW_TESTS/lib/common.sh"
T=$(gw_tmpdir)
gw_start_rrdcached "$T"
ZPORT=$(gw_free_port); HPORT=$(gw_free_port)
[ "$HPORT" = "$ZPORT" ] && HPORT=$((HPORT + 1))
API=http://127.0.0.1:$HPORT

"$GW_BUILD/gatewatch-operator" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" \
	--rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock" >"$T/operator.log" 2>&1 &
OP=$!
gw_cleanup_add "kill $OP 2>/dev/null; wait $OP 2>/dev/null"
gw_wait_http "$API/healthz"

# Two customers that both use 192.168.1.0/24 (the usual home LAN): c101 behind 802.1Q 101,
# c102 behind the Q-in-Q pair 200.10 (802.1ad outer tag). Their traffic is the project's
# own (tests/tools/gen_traffic.py): two homes browsing, calling, streaming, merged in time
# order as one trunk carries them.
GEN=$(gw_gen_corpus) || exit 1
python3 "$GW_TESTS/lib/pcap_vlan.py" "$GEN/mixed.pcap" "$T/a.pcap" 101
python3 "$GW_TESTS/lib/pcap_vlan.py" "$GEN/home2.pcap" "$T/b.pcap" 200.10
mergecap -F pcap -w "$T/trunk.pcap" "$T/a.pcap" "$T/b.pcap"
printf 'c101 vlan 101\nc102 vlan 200.10\nc102 prefix 192.168.1.0/24\n' >"$T/map"

"$GW_BUILD/gatewatch-probe" -r "$T/trunk.pcap" --probe-id p1 --customer-map "$T/map" \
	--operator "tcp://127.0.0.1:$ZPORT" --jsonl "$T/out.jsonl" 2>"$T/probe.log" \
	|| gw_fail "probe failed: $(cat "$T/probe.log")"

# Wait until the operator has every envelope the probe sent (the probe exits after flushing).
want=$(grep -c '"type":"stats"' "$T/out.jsonl")
[ "$want" -gt 50 ] || gw_fail "too few stats lines: $want"
for _ in $(seq 50); do
	curl -s "$API/api/v1/probes" >"$T/probes.json"
	python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probes"]; sys.exit(0 if p and p[0]["messages"]>0 else 1)' "$T/probes.json" && break
	sleep 0.2
done
python3 - "$T/probes.json" <<'PY' || gw_fail "probe state wrong: $(cat "$T/probes.json")"
import json, sys
p = json.load(open(sys.argv[1]))["probes"]
assert len(p) == 1 and p[0]["id"] == "p1", p
assert p[0]["lost"] == 0, p
PY
gw_ok "operator saw probe p1 with no loss"

# Latest values per customer: the API equals the probe's last stats line per customer.
curl -sf "$API/api/v1/customers" >"$T/customers.json" || gw_fail "customers API"
python3 - "$T/out.jsonl" "$T/customers.json" <<'PY' || gw_fail "API latest values differ"
import json, sys
last = {}
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o["type"] == "stats":
        last[o["customer"]] = o
api = {c["id"]: c for c in json.load(open(sys.argv[2]))["customers"]}
assert set(api) >= {"c101", "c102"}, api.keys()
for cid in ("c101", "c102"):
    for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "ts"):
        assert api[cid][k] == last[cid][k], (cid, k, api[cid][k], last[cid][k])
    apps = lambda d: {a: (v["rx_bytes"], v["tx_bytes"]) for a, v in d["apps"].items()}
    assert apps(api[cid]) == apps(last[cid]), (cid, apps(api[cid]), apps(last[cid]))
    for sect in ("tcp", "dns", "rtp"):
        for k, v in last[cid][sect].items():
            assert abs(api[cid][sect][k] - v) <= 1e-6 * max(1, abs(v)), (cid, sect, k)
print("latest values match for", sorted(last))
PY
gw_ok "API latest values = probe JSON Lines"

# The operator writes a customer's last step once that customer is idle (15 s of wall
# clock, store.h): wait (bounded) until every step of the JSON Lines is written, so the last
# step is compared too when the capture ends on a step boundary.
steps=$(python3 -c 'import json,math,sys; print(len({(o["customer"], math.ceil(o["ts"] / 10)) for o in map(json.loads, open(sys.argv[1])) if o["type"] == "stats"}))' "$T/out.jsonl")
for _ in $(seq 200); do
	curl -s "$API/api/v1/stats" >"$T/stats.json"
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["rrd_steps"] >= int(sys.argv[2]) and s["rrd_queue_len"] == 0 else 1)' "$T/stats.json" "$steps" 2>/dev/null && break
	sleep 0.2
done
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["rrd_steps"] >= int(sys.argv[2]) else 1)' "$T/stats.json" "$steps" ||
	gw_fail "operator wrote fewer than the $steps steps of the JSON Lines: $(cat "$T/stats.json")"
gw_ok "operator wrote all $steps steps"

# RRD: flush through rrdcached, then rrdtool fetch and the series API agree with the JSONL.
for c in c101 c102; do
	rrdtool flushcached --daemon "unix:$T/rrdcached.sock" "$T/rrd/$c.rrd" || gw_fail "flushcached $c"
	first=$(python3 -c 'import json,sys; print(min(int(json.loads(l)["ts"]) for l in open(sys.argv[1]) if "\"stats\"" in l and "\"'$c'\"" in l))' "$T/out.jsonl")
	last=$(python3 -c 'import json,sys; print(max(int(json.loads(l)["ts"]) for l in open(sys.argv[1]) if "\"stats\"" in l and "\"'$c'\"" in l))' "$T/out.jsonl")
	rrdtool fetch "$T/rrd/$c.rrd" AVERAGE -r 10 -s $((first - 20)) -e $((last + 20)) >"$T/$c.fetch" \
		|| gw_fail "rrdtool fetch $c"
	for m in rx_bytes tx_bytes rx_packets tx_packets; do
		python3 "$GW_TESTS/lib/rrd_expect.py" "$T/out.jsonl" $c $m --rrdtool "$T/$c.fetch" \
			|| gw_fail "rrdtool fetch disagrees for $c $m"
		curl -sf "$API/api/v1/customers/$c/series?metric=$m&from=$((first - 20))&to=$((last + 20))" \
			>"$T/$c.$m.json" || gw_fail "series API $c $m"
		python3 "$GW_TESTS/lib/rrd_expect.py" "$T/out.jsonl" $c $m "$T/$c.$m.json" \
			|| gw_fail "series API disagrees for $c $m"
	done
done
gw_ok "rrdtool fetch and series API = probe JSON Lines"

# QoS data sources: per 10 s step, the handshake-weighted TCP RTT and response-weighted DNS
# latency of the intervals ending in that step, as the probe reported them.
for m in rtt_wan_ms rtt_lan_ms dns_ms; do
	curl -sf "$API/api/v1/customers/c102/series?metric=$m&from=$((first - 20))&to=$((last + 20))" \
		>"$T/q.$m.json" || gw_fail "series API c102 $m"
	python3 - "$T/out.jsonl" "$T/q.$m.json" $m <<'PY' || gw_fail "QoS series $m differs"
import json, math, sys
jsonl, series, metric = sys.argv[1:4]
field, wfield, sect = {"rtt_wan_ms": ("rtt_wan_ms_avg", "handshakes", "tcp"),
                       "rtt_lan_ms": ("rtt_lan_ms_avg", "handshakes", "tcp"),
                       "dns_ms": ("latency_ms_avg", "responses", "dns")}[metric]
acc = {}
for l in open(jsonl):
    o = json.loads(l)
    if o["type"] != "stats" or o["customer"] != "c102" or not o[sect][wfield]:
        continue
    step = math.ceil(o["ts"] / 10) * 10
    ws, w = acc.get(step, (0.0, 0))
    acc[step] = (ws + o[sect][field] * o[sect][wfield], w + o[sect][wfield])
pts = {int(t): v for t, v in json.load(open(series))["points"]}
assert acc, "no QoS samples in the capture"
for step, (ws, w) in acc.items():
    v = pts.get(step)
    assert v is not None and abs(v - ws / w) <= 0.005 * ws / w + 1e-6, (metric, step, v, ws / w)
print(metric, len(acc), "steps with samples match")
PY
done
gw_ok "QoS series (RTT WAN/LAN, DNS latency) = probe JSON Lines"

# The CLI shows the same customers and the probe.
"$GW_BUILD/gatewatchctl" -u "$API" customers >"$T/ctl.txt" || gw_fail "gatewatchctl customers"
grep -q c101 "$T/ctl.txt" && grep -q c102 "$T/ctl.txt" || gw_fail "ctl output: $(cat "$T/ctl.txt")"
"$GW_BUILD/gatewatchctl" -u "$API" probes | grep -q p1 || gw_fail "gatewatchctl probes"
"$GW_BUILD/gatewatchctl" -u "$API" --json series c101 rx_bytes --from $((first - 20)) --to $((last + 20)) \
	| python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["points"]' || gw_fail "ctl series"
# Errors are JSON with proper status codes.
code=$(curl -s -o "$T/err.json" -w '%{http_code}' "$API/api/v1/customers/nosuch/series?metric=rx_bytes")
[ "$code" = 404 ] || gw_fail "unknown customer gave $code"
code=$(curl -s -o "$T/err.json" -w '%{http_code}' "$API/api/v1/customers/c101/series?metric=bogus")
[ "$code" = 400 ] || gw_fail "unknown metric gave $code"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["error"]' "$T/err.json" || gw_fail "error body"
gw_ok "CLI and error codes"
kill -0 $OP || gw_fail "operator died"
echo "pipeline: all checks passed"
