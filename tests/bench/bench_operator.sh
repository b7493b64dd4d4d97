#!/bin/bash
# bench_operator.sh: operator ingest throughput with gw-loadgen on loopback, and RRD updates/s
# through a real rrdcached. Usage: bench_operator.sh [BUILD_DIR]. Prints one JSON line per case.
set -euo pipefail
B=${1:-${GW_BUILD:-build}}; case $B in /*) ;; *) B=$(pwd)/$B ;; esac
OP=$B/gatewatch-operator; LG=$B/tools/gw-loadgen
T=$(mktemp -d /tmp/gw-bench-op.XXXXXX)
OP_PID=""
cleanup() {
	[ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null || true
	[ -f "$T/rrdcached.pid" ] && kill "$(cat "$T/rrdcached.pid")" 2>/dev/null || true
	sleep 0.3; rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stat_field() { curl -sf "http://127.0.0.1:$HPORT/api/v1/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$OP_PID/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$OP_PID/status"; }

start_op() { # extra operator args...
	ZPORT=$(free_port); HPORT=$(free_port)
	"$OP" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" --log-level warn "$@" \
		>>"$T/op.log" 2>&1 &
	OP_PID=$!
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HPORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
}
stop_op() { kill -TERM "$OP_PID"; wait "$OP_PID" || true; OP_PID=""; }

# Case: N probes x M customers, R reports each, unpaced; waits until every envelope is accepted.
ingest_case() { # probes customers reports label
	local c0 t0 t1 want got lost
	c0=$(cpu_s); t0=$(date +%s.%N)
	"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes "$1" --customers "$2" --rate 0 \
		--duration "$3" --sockets "$1" --prefix "$4" >"$T/lg.json"
	want=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["hello_sent"]+d["stats_sent"])' "$T/lg.json")
	base=${BASE:-0}
	for _ in $(seq 1200); do got=$(( $(stat_field accepted) - base )); [ "$got" -ge "$want" ] && break; sleep 0.1; done
	t1=$(date +%s.%N); lost=$(stat_field lost)
	BASE=$((base + got))
	python3 -c 'import sys; p,m,r,w,g,l,t0,t1,c0,c1,rss=sys.argv[1:]; el=float(t1)-float(t0)-1.0
print("{\"case\":\"ingest %sx%s\",\"envelopes\":%s,\"accepted\":%s,\"lost\":%s,\"wall_s\":%.2f,\"envelopes_per_s\":%.0f,\"customer_intervals_per_s\":%.0f,\"operator_cpu_s\":%.2f,\"rss_kb\":%s}" % (p,m,w,g,l,el,int(g)/el,int(g)*int(m)/el,float(c1)-float(c0),rss))' \
		"$1" "$2" "$3" "$want" "$got" "$lost" "$t0" "$t1" "$c0" "$(cpu_s)" "$(rss_kb)"
}

# 1. Ingest + live + per-step aggregation; rrdcached deliberately absent (steps are dropped
#    and counted after the queue fills: ingest must not slow down or lose envelopes).
start_op --rrd-dir "$T/rrd-none" --rrdcached "unix:$T/absent.sock" --history 10
BASE=0
ingest_case 1000 10 20 a
ingest_case 10000 1 10 b
echo "{\"case\":\"store while rrdcached is down\",\"rrd_queue_dropped\":$(stat_field rrd_queue_dropped),\"rrd_steps\":$(stat_field rrd_steps)}"
stop_op

# 2. Real time: 10,000 probes x 1 customer at 1 report/s for 20 s; CPU share and RSS. (Without
#    rrdcached: 10,000 new RRD files would be 10,000 x 5.4 MB written once; case 3 measures RRD.)
start_op --rrd-dir "$T/rrd-none" --rrdcached "unix:$T/absent.sock" --history 10
c0=$(cpu_s); t0=$(date +%s.%N)
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 10000 --customers 1 --rate 1 --duration 20 \
	--sockets 10000 --prefix r >"$T/lg.json"
for _ in $(seq 100); do [ "$(stat_field accepted)" -ge 210000 ] && break; sleep 0.2; done
python3 -c 'import sys; a,l,c0,c1,t0,t1,rss=sys.argv[1:]; print("{\"case\":\"real time 10000 probes x 1 report/s, 20 s\",\"accepted\":%s,\"lost\":%s,\"operator_cpu_pct\":%.1f,\"rss_kb\":%s}" % (a,l,100*(float(c1)-float(c0))/(float(t1)-float(t0)),rss))' \
	"$(stat_field accepted)" "$(stat_field lost)" "$c0" "$(cpu_s)" "$t0" "$(date +%s.%N)" "$(rss_kb)"
stop_op

# 3. RRD updates/s through rrdcached: 200 customers, 3000 s of packet time (300 steps each).
mkdir -p "$T/rrd" "$T/journal"
rrdcached -l "unix:$T/rrdcached.sock" -p "$T/rrdcached.pid" -b "$T/rrd" -B -j "$T/journal" \
	-w 300 -z 60 -F 2>"$T/rrdcached.err"
for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && break; sleep 0.1; done
start_op --rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock"
t0=$(date +%s.%N)
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 20 --customers 10 --rate 0 --duration 3000 >/dev/null
want=$((200 * 299))
for _ in $(seq 1200); do u=$(stat_field rrd_updates); [ "$u" -ge "$want" ] && break; sleep 0.1; done
t1=$(date +%s.%N)
python3 -c 'import sys; u,e,t0,t1,sz=sys.argv[1:]; print("{\"case\":\"rrd via rrdcached\",\"rrd_updates\":%s,\"rrd_errors\":%s,\"wall_s\":%.2f,\"rrd_updates_per_s_incl_ingest\":%.0f,\"file_bytes\":%s}" % (u,e,float(t1)-float(t0),int(u)/(float(t1)-float(t0)),sz))' \
	"$u" "$(stat_field rrd_errors)" "$t0" "$t1" "$(stat_field rrd_file_bytes)"
stop_op
