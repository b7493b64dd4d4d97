#!/usr/bin/env bash
# bench_soak.sh: soak. rrdcached + the operator on the host; 30 lab gateways (deploy/lab/lab,
# sealed namespaces) with probes at the reference profile scaled by BENCH_SOAK_SCALE (default
# 0.1); 1,000 simulated probes (gw-loadgen, 1 report/s each) on loopback; for
# BENCH_SOAK_SECONDS (default 600). Reports the RSS of every daemon at the start (after a
# 30 s warm-up) and at the end, crashes (processes gone) and loss (operator sequence gaps,
# pcap drops, loadgen envelopes not accepted). Prints rows "soak<TAB>metric<TAB>value<TAB>note".
#   bench_soak.sh BUILD_DIR
set -uo pipefail
B=${1:-build}; case $B in /*) ;; *) B=$(pwd)/$B ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
LAB=$REPO/deploy/lab/lab
OP=$B/gatewatch-operator
LG=$B/tools/gw-loadgen
SECS=${BENCH_SOAK_SECONDS:-600}
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
# snapshot: "operator rrdcached probe_min probe_median probe_max loadgen" RSS in KiB
snapshot() {
	local p
	for p in $(probe_pids); do rss_kb "$p"; done | sort -n >"$T/prss"
	echo "$(rss_kb "$OP_PID") $(rss_kb "$RC_PID") $(head -n 1 "$T/prss") \
$(awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}' "$T/prss") $(tail -n 1 "$T/prss") $(rss_kb "$LG_PID")"
}

mkdir -p "$T/rrd" "$T/journal"
rrdcached -l "unix:$T/rrdcached.sock" -p "$T/rrdcached.pid" -b "$T/rrd" -B -j "$T/journal" -w 60 -z 30 -F -g \
	>"$T/rrdcached.log" 2>&1 &
RC_PID=$!
for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && break; sleep 0.1; done
"$OP" --listen "tcp://127.0.0.1:$ZPORT,$GW_LAB_OPERATOR" --http "127.0.0.1:$HPORT" \
	--rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock" --db "$T/gw.db" \
	--log-level warn >"$T/op.log" 2>&1 &
OP_PID=$!
for _ in $(seq 50); do curl -sf "$API/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$LAB" up "$NGW" --probes >"$T/up.log" 2>&1 || { row soak error "lab up failed: $(tail -n 2 "$T/up.log")"; exit 0; }
LAB_UP=1
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes "$NLG" --customers 1 --rate 1 \
	--duration "$((SECS + 45))" --prefix soak --linger-ms 5000 >"$T/lg.json" 2>"$T/lg.err" &
LG_PID=$!
"$LAB" traffic reference "$((SECS + 40))" --scale "$SCALE" >"$T/traffic.jsonl" 2>"$T/traffic.err" &
TR_PID=$!
note "warm-up 30 s ($NGW gateways at scale $SCALE, $NLG simulated probes)"
sleep 30
n_probes0=$(probe_pids | wc -l)
s0=$(snapshot); t0=$(date +%s)
note "start RSS (KiB: operator rrdcached probe_min probe_med probe_max loadgen): $s0"
while [ $(( $(date +%s) - t0 )) -lt "$SECS" ]; do
	left=$(( SECS - ($(date +%s) - t0) ))
	sleep $(( left < 30 ? left : 30 ))
	note "$(( $(date +%s) - t0 )) s: RSS $(snapshot)"
done
s1=$(snapshot)
alive=0; for p in $(probe_pids); do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
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
qd=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("rrd_queue_dropped", -1))' "$T/stats.json")
set -- $s0; o0=$1 r0=$2 pmin0=$3 pmed0=$4 pmax0=$5 l0=$6
set -- $s1; o1=$1 r1=$2 pmin1=$3 pmed1=$4 pmax1=$5 l1=$6
row "duration" "$SECS s" "$NGW lab gateways at scale $SCALE + $NLG simulated probes (1 report/s)"
row "operator RSS start/end" "$o0 / $o1 KiB" "after 30 s warm-up / at the end"
row "rrdcached RSS start/end" "$r0 / $r1 KiB" ""
row "probe RSS start/end" "$pmed0 / $pmed1 KiB" "median of $n_probes0 probes; min $pmin0/$pmin1, max $pmax0/$pmax1"
row "gw-loadgen RSS start/end" "$l0 / $l1 KiB" ""
row "crashes" "$(( n_probes0 - alive + 1 - op_alive + 1 - rc_alive ))" "probes alive $alive/$n_probes0, operator $op_alive, rrdcached $rc_alive, loadgen exit $lg_rc"
row "loss: sequence gaps" "$lost" "sum over $lab_seen lab probes + $lg_seen simulated; duplicates $dups"
row "loss: pcap drops" "$pdrops" "sum over lab probes (last health)"
row "loss: loadgen accepted/sent" "$acc_lg / $sent" "RRD queue dropped $qd"
