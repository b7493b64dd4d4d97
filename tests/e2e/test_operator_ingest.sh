#!/bin/bash
# test_operator_ingest.sh: real rrdcached + real operator; gw-loadgen sends known reports with seq
# gaps, garbage, an oversized frame and an unknown probe; checks the API, the RRD files and errors.
set -euo pipefail
B=${GW_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
OP=$B/gatewatch-operator
LG=$B/tools/gw-loadgen
for x in "$OP" "$LG"; do [ -x "$x" ] || { echo "missing $x"; exit 1; }; done
command -v rrdcached >/dev/null || { echo "rrdcached not installed"; exit 1; }

T=$(mktemp -d /tmp/gw-e2e-op.XXXXXX)
OP_PID=""
cleanup() {
	[ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null || true
	[ -f "$T/rrdcached.pid" ] && kill "$(cat "$T/rrdcached.pid")" 2>/dev/null || true
	sleep 0.2
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- operator log"; tail -n 30 "$T/op.log" || true; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ZPORT=$(free_port); HPORT=$(free_port)
[ "$ZPORT" != "$HPORT" ] || HPORT=$(free_port)
API=http://127.0.0.1:$HPORT
mkdir -p "$T/rrd" "$T/journal"
rrdcached -l "unix:$T/rrdcached.sock" -p "$T/rrdcached.pid" -b "$T/rrd" -B \
	-j "$T/journal" -w 5 -z 1 -F 2>"$T/rrdcached.err" || fail "rrdcached did not start"
for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && break; sleep 0.1; done
[ -S "$T/rrdcached.sock" ] || fail "no rrdcached socket"

printf 'p00000 p00001\np00002\n' >"$T/probes"
"$OP" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" --rrd-dir "$T/rrd" \
	--rrdcached "unix:$T/rrdcached.sock" --probes "$T/probes" --history 20 \
	>"$T/op.log" 2>&1 &
OP_PID=$!
for _ in $(seq 50); do curl -sf "$API/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$API/healthz" | grep -q '"ok":true' || fail "operator not serving"

# 3 probes x 4 customers, 45 reports each (packet time 1700000001..045), every 6th seq skipped.
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 3 --customers 4 --rate 0 --duration 45 \
	--drop-every 6 --garbage 7 --oversized 1 --unknown 5 --log "$T/sent.jsonl" >"$T/lg.json" \
	|| fail "gw-loadgen failed"
cat "$T/lg.json"
want=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["hello_sent"]+d["stats_sent"])' "$T/lg.json")
for _ in $(seq 100); do
	got=$(curl -sf "$API/api/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accepted"])')
	[ "$got" = "$want" ] && break; sleep 0.1
done
[ "$got" = "$want" ] || fail "accepted $got != sent $want"

# Operator state checked against what was sent (and an independent count of the gaps).
python3 - "$T" "$API" <<'PY' || fail "API checks"
import json, sys, urllib.request, urllib.error, collections
T, API = sys.argv[1], sys.argv[2]
def get(path):
    try:
        with urllib.request.urlopen(API + path) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
lg = json.load(open(T + "/lg.json"))
rows = [json.loads(l) for l in open(T + "/sent.jsonl")]
skipped = collections.defaultdict(set)
sent = collections.defaultdict(set)
for r in rows:
    (skipped if r["skipped"] else sent)[r["probe"]].add(r["seq"])
st, probes = get("/api/v1/probes")
assert st == 200
probes = {p["id"]: p for p in probes["probes"]}
assert sorted(probes) == ["p00000", "p00001", "p00002"], sorted(probes)
for pid, p in probes.items():
    assert p["lost"] == len(skipped[pid]), (pid, p["lost"], len(skipped[pid]))
    assert p["messages"] == len(sent[pid]) + 1, (pid, p["messages"])  # + Hello
    assert p["duplicates"] == 0 and p["customers"] == 4 and p["seq"] == 46, p
st, s = get("/api/v1/stats")
assert s["garbage"] == lg["garbage_sent"] == 7, s
assert s["unknown_probe"] == lg["unknown_sent"] == 5, s
assert s["rejected"] == 12, s
assert s["lost"] == sum(len(v) for v in skipped.values()), s
# Latest interval per customer == last one sent.
last = {}
for r in rows:
    if not r["skipped"]:
        last[r["customer"]] = r
st, cs = get("/api/v1/customers")
ids = [c["id"] for c in cs["customers"]]
assert ids == sorted(last), ids
for c in cs["customers"]:
    want = last[c["id"]]
    for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "flows_active", "flows_new", "ts"):
        assert c[k] == want[k], (c["id"], k, c[k], want[k])
    assert c["probe"] == want["probe"]
st, one = get("/api/v1/customers/c000005")
assert st == 200 and len(one["history"]) == 20 and one["history"][-1]["ts"] == last["c000005"]["ts"], one["history"][-1]
# Expected per-second rates per 10 s step (GAUGE of rate: counts / covered seconds).
exp = collections.defaultdict(lambda: collections.defaultdict(list))
for r in rows:
    if not r["skipped"]:
        step = int(-(-r["ts"] // 10) * 10)
        exp[(r["customer"], step)]["n"].append(1)
        for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "flows_active", "flows_new"):
            exp[(r["customer"], step)][k].append(r[k])
json.dump({f"{c}|{s}": {k: sum(v) / len(e["n"]) for k, v in e.items() if k != "n"}
           for (c, s), e in exp.items()}, open(T + "/expected.json", "w"))
checked = 0
for cust in sorted(last):
    for metric in ("rx_bytes", "tx_packets", "flows_active", "flows_new"):
        st, ser = get(f"/api/v1/customers/{cust}/series?metric={metric}&from=1700000000&to=1700000040")
        assert st == 200 and ser["step"] == 10 and ser["cf"] == "AVERAGE", ser
        pts = {int(t): v for t, v in ser["points"]}
        for step in (1700000010, 1700000020, 1700000030, 1700000040):
            want = sum(exp[(cust, step)][metric]) / len(exp[(cust, step)]["n"])
            got = pts.get(step)
            assert got is not None and abs(got - want) <= 1e-9 * max(1, want), (cust, metric, step, got, want)
            checked += 1
print("series points checked:", checked)
# Error codes.
for path, code in [("/api/v1/customers/nobody", 404),
                   ("/api/v1/customers/nobody/series?metric=rx_bytes", 404),
                   ("/api/v1/customers/c000001/series?metric=bogus", 400),
                   ("/api/v1/customers/c000001/series?metric=rx_bytes&cf=MIN", 400),
                   ("/api/v1/customers/c000001/series?metric=rx_bytes&from=yesterday", 400),
                   ("/api/v1/customers/c000001/series", 400),
                   ("/api/v1/nothing", 404), ("/ui/nosuch.js", 404), ("/nothing", 404)]:
    st, body = get(path)
    assert st == code and "error" in body, (path, st, body)
req = urllib.request.Request(API + "/api/v1/customers", method="DELETE")
try:
    urllib.request.urlopen(req); assert False
except urllib.error.HTTPError as e:
    assert e.code == 405 and "error" in json.load(e), e.code
# RRD graph: a real PNG of the requested size class, errors as JSON.
with urllib.request.urlopen(API + "/api/v1/customers/c000001/graph.png?metric=rx_bytes,tx_bytes"
                            "&from=1700000000&to=1700000060&width=400&height=120") as r:
    png = r.read()
    assert r.status == 200 and r.headers["Content-Type"] == "image/png", r.headers
import struct
assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", png[:16]
w, h = struct.unpack(">II", png[16:24])
assert w >= 400 and h >= 120 and len(png) > 1000, (w, h, len(png))
for path, code in [("/api/v1/customers/c000001/graph.png?metric=bogus", 400),
                   ("/api/v1/customers/nobody/graph.png", 404),
                   ("/api/v1/customers/c000001/graph.png?width=5", 400)]:
    st, body = get(path)
    assert st == code and "error" in body, (path, st, body)
# Events/countermeasures come from the database (empty here); bad filters are 400.
ev = get("/api/v1/events")[1]["events"]
# loadgen reports 4% RTP loss: correlate's SLA rule fires once per customer (probe = reporter).
assert sorted(e["customer"] for e in ev) == sorted(last) and \
    all(e["kind"] == "sla_violation" and not e["cleared"] for e in ev), ev
assert [e["id"] for e in ev] == sorted((e["id"] for e in ev), reverse=True)   # newest first
assert len(get("/api/v1/events?kind=sla_violation&customer=c000001")[1]["events"]) == 1
assert get("/api/v1/events?kind=syn_flood")[1] == {"events": []}
assert get("/api/v1/countermeasures?state=active")[1] == {"countermeasures": []}
assert get("/api/v1/bans")[1] == {"bans": []}
for path in ("/api/v1/events?limit=0", "/api/v1/events?since=yesterday",
             "/api/v1/countermeasures?state=bogus"):
    assert get(path)[0] == 400, path
def send(method, path, body=None):
    req = urllib.request.Request(API + path, method=method, data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
assert send("POST", "/api/v1/bans", b"{not json")[0] == 400
assert send("POST", "/api/v1/bans", b'{"address":"nonsense"}')[0] == 400
assert send("POST", "/api/v1/bans", b'{"address":"127.0.0.1"}')[0] == 403
assert send("POST", "/api/v1/bans", b'{"address":"198.51.100.7","probe":"nosuch"}')[0] == 404
assert send("DELETE", "/api/v1/bans/198.51.100.7")[0] == 404
st, b = send("POST", "/api/v1/bans", b'{"address":"198.51.100.7/32","timeout_s":60,"reason":"t"}')
assert st == 201 and b["address"] == "198.51.100.7" and b["scope"] == "*" and b["probe"] is None \
    and b["decided_by"] == "api:http" and b["state"] in ("pending", "active"), (st, b)
assert [x["id"] for x in get("/api/v1/bans")[1]["bans"]] == [b["id"]]
st, u = send("DELETE", "/api/v1/bans/198.51.100.7/32")
assert st == 200 and u["action"] == "unban", (st, u)
assert get("/api/v1/bans")[1] == {"bans": []}
cms = get("/api/v1/countermeasures")[1]["countermeasures"]
assert [c["action"] for c in cms] == ["unban", "ban"] and cms[1]["state"] == "lifted", cms
st, m = 200, urllib.request.urlopen(API + "/metrics").read().decode()
assert 'gatewatch_customer_rx_bytes_total{customer="c000000"}' in m
assert "gatewatch_rejected_total{reason=\"garbage\"} 7" in m
print("API checks passed")
PY

# Still serving after more garbage, and no crash on a burst of bad frames.
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 1 --customers 1 --rate 0 --duration 1 \
	--prefix zz --garbage 50 --oversized 2 >/dev/null || fail "second loadgen"
sleep 0.5
kill -0 "$OP_PID" || fail "operator died"
curl -sf "$API/healthz" | grep -q '"ok":true' || fail "not serving after garbage"
for _ in $(seq 50); do  # counters are published once a second
	g=$(curl -sf "$API/api/v1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["garbage"])')
	[ "$g" = 57 ] && break; sleep 0.1
done
[ "$g" = 57 ] || fail "garbage count $g != 57"

# A probe restart (Hello with seq 1 again) starts a new run: no loss counted, restarts = 1.
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 1 --customers 4 --rate 0 --duration 3 \
	--start-ts 1700000100 >/dev/null || fail "restart loadgen"
for _ in $(seq 50); do
	curl -sf "$API/api/v1/probes" >"$T/probes.json"
	python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probes"][0]; sys.exit(0 if p["messages"] == 43 else 1)' "$T/probes.json" && break
	sleep 0.1
done
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probes"][0]
assert p["id"] == "p00000" and p["messages"] == 43 and p["restarts"] == 1 and p["lost"] == 7 and p["seq"] == 4, p' "$T/probes.json" \
	|| fail "probe restart accounting"

# Orderly shutdown writes the pending last step; rrdtool reads every step through the daemon.
kill -TERM "$OP_PID"; wait "$OP_PID" || fail "operator exit status $?"; OP_PID=""
python3 - "$T" <<'PY' || fail "rrdtool fetch checks"
import json, subprocess, sys, glob, os
T = sys.argv[1]
exp = json.load(open(T + "/expected.json"))
sock = "unix:" + T + "/rrdcached.sock"
files = sorted(glob.glob(T + "/rrd/*.rrd"))
assert len(files) == 12, files
n = 0
for f in files:
    cust = os.path.basename(f)[:-4]
    subprocess.run(["rrdtool", "flushcached", "--daemon", sock, f], check=True)
    out = subprocess.run(["rrdtool", "fetch", f, "AVERAGE", "-s", "1700000000", "-e", "1700000050",
                          "--daemon", sock], check=True, capture_output=True, text=True).stdout.split("\n")
    names = out[0].split()
    for line in out[2:]:
        if ":" not in line:
            continue
        t, vals = line.split(":", 1)
        key = f"{cust}|{int(t)}"
        if key not in exp or int(t) > 1700000050:
            continue
        vals = dict(zip(names, vals.split()))
        for k, want in exp[key].items():
            got = float(vals[k])
            assert abs(got - want) <= 1e-6 * max(1, want), (key, k, got, want)
            n += 1
assert n == 12 * 5 * 6, n     # 12 customers x 5 steps (incl. the partial last) x 6 DS
print("rrdtool values checked:", n, "file size", os.path.getsize(files[0]))
PY

# CURVE: only listed keys connect, and each key only as its own probe id.
K=$T/keys; mkdir -p "$K" "$T/lgkeys" "$T/rrd2"
for n in operator p00000 p00001 p00002; do "$OP" --keygen "$K" $n || fail "keygen $n"; done
[ "$(stat -c %a "$K/operator.key")" = 600 ] || fail "secret key file mode"
"$OP" --keygen "$K" p00000 2>/dev/null && fail "keygen overwrote a key"
pub() { awk '$1 == "public" {print $2}' "$1"; }
printf 'p00000 %s\np00001 %s\n' "$(pub "$K/p00000.pub")" "$(pub "$K/p00001.pub")" >"$T/probe-keys"
cp "$K/p00000.key" "$T/lgkeys/p00000.key"
cp "$K/p00000.key" "$T/lgkeys/p00001.key"   # p00001 uses p00000's key: key_mismatch
cp "$K/p00002.key" "$T/lgkeys/p00002.key"   # not listed: refused by ZAP
"$OP" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" --rrd-dir "$T/rrd2" \
	--curve-secret-file "$K/operator.key" --probe-keys "$T/probe-keys" >"$T/op.log" 2>&1 &
OP_PID=$!
for _ in $(seq 50); do curl -sf "$API/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 3 --customers 1 --rate 0 --duration 5 \
	--curve-server "$K/operator.pub" --curve-keys "$T/lgkeys" --linger-ms 2000 >/dev/null || true
for _ in $(seq 50); do
	curl -sf "$API/api/v1/stats" >"$T/stats.json"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["key_mismatch"] == 6 and d["zap_denied"] >= 1 else 1)' "$T/stats.json" && break
	sleep 0.1
done
python3 - "$T" "$API" <<'PY' || fail "CURVE checks"
import json, sys, urllib.request
T, API = sys.argv[1], sys.argv[2]
s = json.load(open(T + "/stats.json"))
assert s["key_mismatch"] == 6 and s["zap_denied"] >= 1 and s["accepted"] == 6, s
p = json.load(urllib.request.urlopen(API + "/api/v1/probes"))["probes"]
assert [x["id"] for x in p] == ["p00000"] and p[0]["messages"] == 6 and p[0]["rejected"] == 6, p
print("CURVE checks passed")
PY
kill -TERM "$OP_PID"; wait "$OP_PID" || fail "operator exit status $?"; OP_PID=""
[ -f "$T/rrd2/c000000.rrd" ] || fail "direct RRD write (no rrdcached) missing"
echo "PASS test_operator_ingest"
