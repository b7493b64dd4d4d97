#!/usr/bin/env bash
# bench_soak.sh: soak. rrdcached + the operator on the host; 30 lab gateways (deploy/lab/lab,
# sealed namespaces) with probes at the reference profile scaled by BENCH_SOAK_SCALE (default
# 0.1); 1,000 simulated probes (gw-loadgen, 1 report/s each) on loopback; a warm-up of
# BENCH_SOAK_WARMUP s (default 540), then BENCH_SOAK_SECONDS (default 600) of steady state.
# The warm-up is that long because libzmq's pipes (operator and gw-loadgen alike) grow by one
# 16 KiB chunk per 256 messages until a connection has seen 512 (then the spare chunk is
# reused): at 1 report/s both RSS rise by ~30 KiB per connection (~30 MiB for 1,000) during
# the first ~8.5 minutes, and only then is "flat" meaningful (issue 11).
# The RSS of every process is sampled every BENCH_SOAK_SAMPLE_S (default 15) s. Reported:
# RSS at the start of the steady state, at the end, and its slope (least squares over the
# steady-state samples, KiB/min) of the operator, rrdcached, the probes (median and worst
# slope) and gw-loadgen; "RSS flat": the operator's, rrdcached's and every probe's slope is at
# most BENCH_SOAK_SLOPE_MAX_KB KiB/min (default 64; before issue 11 the operator still grew
# ~1,000 KiB/min at the end of a 600 s soak: its preallocated RRD queue being touched;
# gw-loadgen is a test tool: reported, not bounded); crashes (processes gone); loss (operator
# sequence gaps, pcap drops, loadgen envelopes not accepted, RRD steps dropped).
# Prints rows "soak<TAB>metric<TAB>value<TAB>note"; exits 1 when the RSS is not flat, on a
# crash or on lost envelopes. BENCH_SOAK_SAMPLES=FILE keeps the samples ("t operator
# rrdcached loadgen probe...", KiB); BENCH_SOAK_OPERATOR_ENV="K=V ..." sets environment
# variables of the operator only (e.g. MALLOC_ARENA_MAX=1 to compare).
#   bench_soak.sh BUILD_DIR
set -uo pipefail
B=${1:-build}; case $B in /*) ;; *) B=$(pwd)/$B ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LAB=$REPO/deploy/lab/lab
OP=$B/gatewatch-operator
LG=$B/tools/gw-loadgen
SECS=${BENCH_SOAK_SECONDS:-600}
WARM=${BENCH_SOAK_WARMUP:-540}
EVERY=${BENCH_SOAK_SAMPLE_S:-15}
SLOPE_MAX=${BENCH_SOAK_SLOPE_MAX_KB:-64}
SCALE=${BENCH_SOAK_SCALE:-0.1}
NGW=${BENCH_SOAK_GATEWAYS:-30}
NLG=${BENCH_SOAK_PROBES:-1000}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/gw-soak.XXXXXX)
OP_PID=""; RC_PID=""; LG_PID=""; TR_PID=""
export GW_LAB_STATE=$T/lab GW_LAB_PREFIX=gw-soak$$- GW_BUILD=$B
export GW_LAB_OPERATOR=ipc://$T/op.sock
LAB_UP=""
cleanup() {
	[ -n "$TR_PID" ] && kill "$TR_PID" 2>/dev/null
	[ -n "$LG_PID" ] && kill "$LG_PID" 2>/dev/null
	[ -n "$LAB_UP" ] && "$LAB" down >/dev/null 2>&1
	[ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null
	[ -n "$RC_PID" ] && kill "$RC_PID" 2>/dev/null
	sleep 0.5
	rm -rf "$T"
}
trap cleanup EXIT
export LC_ALL=C
row() { printf 'soak\t%s\t%s\t%s\n' "$1" "$2" "${3:-}"; }
note() { echo "bench_soak: $*" >&2; }
[ "$(id -u)" = 0 ] || { row soak skipped "needs root (network namespaces)"; exit 0; }
for x in "$OP" "$LG" "$LAB"; do [ -x "$x" ] || { row soak error "missing $x"; exit 0; }; done
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ZPORT=$(free_port); HPORT=$(free_port)
API=http://127.0.0.1:$HPORT
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
probe_pids() { for f in "$GW_LAB_STATE"/pids/probe-*.pid; do [ -f "$f" ] && cat "$f"; done; }
# sample T: appends "T operator rrdcached loadgen probe..." (RSS KiB; T = s since the start of
# the steady state) to $T/samples
sample() {
	local line p
	line="$1 $(rss_kb "$OP_PID") $(rss_kb "$RC_PID") $(rss_kb "$LG_PID")"
	for p in $PROBES; do line="$line $(rss_kb "$p")"; done
	echo "$line" >>"$T/samples"
}

mkdir -p "$T/rrd" "$T/journal"
rrdcached -l "unix:$T/rrdcached.sock" -p "$T/rrdcached.pid" -b "$T/rrd" -B -j "$T/journal" -w 60 -z 30 -F -g \
	>"$T/rrdcached.log" 2>&1 &
RC_PID=$!
for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && break; sleep 0.1; done
env ${BENCH_SOAK_OPERATOR_ENV:-} "$OP" --listen "tcp://127.0.0.1:$ZPORT,$GW_LAB_OPERATOR" --http "127.0.0.1:$HPORT" \
	--rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock" --db "$T/gw.db" \
	--log-level warn >"$T/op.log" 2>&1 &
OP_PID=$!
for _ in $(seq 50); do curl -sf "$API/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$LAB" up "$NGW" --probes >"$T/up.log" 2>&1 || { row soak error "lab up failed: $(tail -n 2 "$T/up.log")"; exit 0; }
LAB_UP=1
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes "$NLG" --customers 1 --rate 1 \
	--duration "$((WARM + SECS + 15))" --prefix soak --linger-ms 5000 >"$T/lg.json" 2>"$T/lg.err" &
LG_PID=$!
"$LAB" traffic reference "$((WARM + SECS + 10))" --scale "$SCALE" >"$T/traffic.jsonl" 2>"$T/traffic.err" &
TR_PID=$!
note "warm-up $WARM s ($NGW gateways at scale $SCALE, $NLG simulated probes)"
sleep "$WARM"
PROBES=$(probe_pids | tr '\n' ' ')
n_probes0=$(wc -w <<<"$PROBES")
t0=$(date +%s)
sample 0
note "steady state: RSS KiB (t operator rrdcached loadgen probes...): $(tail -n 1 "$T/samples" | cut -d' ' -f1-6) ..."
while [ $(( $(date +%s) - t0 )) -lt "$SECS" ]; do
	left=$(( SECS - ($(date +%s) - t0) ))
	sleep $(( left < EVERY ? left : EVERY ))
	sample $(( $(date +%s) - t0 ))
	note "$(tail -n 1 "$T/samples" | cut -d' ' -f1-6) ..."
done
[ -n "${BENCH_SOAK_SAMPLES:-}" ] && cp "$T/samples" "$BENCH_SOAK_SAMPLES"
# the API while every probe is still connected (> 1,024 descriptors in the operator)
api_t0=$(date +%s.%N)
if curl -sf -m 10 "$API/api/v1/stats" >"$T/stats-load.json"; then
	api_load="ok in $("$PY" -c "import sys,time; print('%.2f' % (time.time() - float(sys.argv[1])))" "$api_t0") s"
else
	api_load=failed
fi
alive=0; for p in $PROBES; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
kill -0 "$OP_PID" 2>/dev/null && op_alive=1 || op_alive=0
kill -0 "$RC_PID" 2>/dev/null && rc_alive=1 || rc_alive=0
wait "$TR_PID"; TR_PID=""
wait "$LG_PID"; lg_rc=$?; LG_PID=""
sleep 5
curl -sf "$API/api/v1/probes" >"$T/probes.json" || echo '{"probes":[]}' >"$T/probes.json"
curl -sf "$API/api/v1/stats" >"$T/stats.json" || echo '{}' >"$T/stats.json"
read -r lost dups pdrops lab_seen lg_seen < <("$PY" - "$T/probes.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))["probes"]
lost = sum(x["lost"] for x in p); dups = sum(x["duplicates"] for x in p)
drops = sum(x.get("health", {}).get("pcap_dropped", 0) + x.get("health", {}).get("pcap_if_dropped", 0) for x in p)
print(lost, dups, drops, sum(1 for x in p if not x["id"].startswith("soak")), sum(1 for x in p if x["id"].startswith("soak")))
EOF
)
sent=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["hello_sent"] + d["stats_sent"])' "$T/lg.json" 2>/dev/null || echo 0)
acc_lg=$("$PY" -c 'import json,sys; print(sum(x["messages"] for x in json.load(open(sys.argv[1]))["probes"] if x["id"].startswith("soak")))' "$T/probes.json")
qd=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("rrd_dropped", -1))' "$T/stats.json")
# start / end / slope (KiB/min, least squares) per process from the samples
"$PY" - "$T/samples" "$SLOPE_MAX" >"$T/rss" <<'EOF'
import statistics, sys
rows = [[float(x) for x in l.split()] for l in open(sys.argv[1]) if l.strip()]
bound = float(sys.argv[2])
t = [r[0] / 60.0 for r in rows]
def slope(y):
    mt, my = statistics.fmean(t), statistics.fmean(y)
    d = sum((a - mt) ** 2 for a in t)
    return sum((a - mt) * (b - my) for a, b in zip(t, y)) / d if d else 0.0
def col(i):
    return [r[i] for r in rows]
res = {n: (col(i)[0], col(i)[-1], slope(col(i)))
       for n, i in (("operator", 1), ("rrdcached", 2), ("loadgen", 3))}
probes = sorted(((col(i)[0], col(i)[-1], slope(col(i))) for i in range(4, len(rows[0]))),
                key=lambda p: p[2]) or [(0, 0, 0)]
res["probe_median"] = probes[len(probes) // 2]
res["probe_worst"] = probes[-1]
for n, (a, b, s) in res.items():
    print(f"{n} {a:.0f} {b:.0f} {s:.1f}")
bad = [n for n in ("operator", "rrdcached", "probe_worst") if res[n][2] > bound]
print("flat " + ("yes" if not bad else "NO:" + ",".join(bad)))
EOF
rss_row() {   # key label note
	local a b sl
	read -r _ a b sl < <(grep "^$1 " "$T/rss")
	row "$2 RSS start/end/slope" "$a / $b KiB, $sl KiB/min" "$3"
}
flat=$(sed -n 's/^flat //p' "$T/rss")
crashes=$(( n_probes0 - alive + 1 - op_alive + 1 - rc_alive ))
row "duration" "$SECS s" "after a $WARM s warm-up; $NGW lab gateways at scale $SCALE + $NLG simulated probes (1 report/s); RSS sampled every $EVERY s"
rss_row operator "operator" "steady-state start / end / least-squares slope"
rss_row rrdcached "rrdcached" ""
rss_row probe_median "probe (median slope)" "of $n_probes0 probes"
rss_row probe_worst "probe (worst slope)" ""
rss_row loadgen "gw-loadgen" "test tool: reported, not bounded"
row "RSS flat" "${flat:-unknown}" "operator, rrdcached and every probe: slope <= $SLOPE_MAX KiB/min"
row "crashes" "$crashes" "probes alive $alive/$n_probes0, operator $op_alive, rrdcached $rc_alive, loadgen exit $lg_rc"
row "API under load" "$api_load" "GET /api/v1/stats with $((NLG + n_probes0)) probes connected"
row "loss: sequence gaps" "$lost" "sum over $lab_seen lab probes + $lg_seen simulated; duplicates $dups"
row "loss: pcap drops" "$pdrops" "sum over lab probes (last health)"
row "loss: loadgen accepted/sent" "$acc_lg / $sent" "RRD steps dropped $qd"
[ "$flat" = yes ] && [ "$api_load" != failed ] && [ "$crashes" = 0 ] && [ "$lost" = 0 ] && [ "$acc_lg" = "$sent" ]
