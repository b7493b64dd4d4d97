#!/bin/bash
# bench_report.sh: capacity-report cost and RRD footprint. Usage: bench_report.sh [BUILD_DIR]
# Prints "metric<TAB>value<TAB>note" lines (tests/bench/run.sh turns them into its table).
#  1. bytes per customer and file creates/s, old single-file layout vs the two-file layout
#     (rrdtool create in one `rrdtool -` process, BENCH_REPORT_CREATES files each);
#  2. a month of 10 s data for one customer through the operator's store and rrdcached, the
#     files hard-linked for BENCH_REPORT_CUSTOMERS customers (default 10000; the disk holds one
#     copy, so reads come from the page cache), then the time and operator peak RSS of the
#     top-N report over all of them (GET /api/v1/reports/top: one report per customer) and of
#     one customer's report.
set -uo pipefail
B=${1:-${GW_BUILD:-build}}; case $B in /*) ;; *) B=$(pwd)/$B ;; esac
N=${BENCH_REPORT_CUSTOMERS:-10000}
NC=${BENCH_REPORT_CREATES:-200}
TZNAME=${BENCH_TZ:-UTC}
T=$(mktemp -d /tmp/gw-bench-report.XXXXXX)
OP_PID=""; RC_PID=""
cleanup() {
	[ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null
	[ -n "$RC_PID" ] && kill "$RC_PID" 2>/dev/null
	sleep 0.3; rm -rf "$T"
}
trap cleanup EXIT
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
out() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}"; }
ds() { for d in rx_bytes tx_bytes rx_packets tx_packets flows_active flows_new rtt_wan_ms \
	rtt_lan_ms rtt_p95_ms jitter_ms rtp_loss_pct retrans_pct dns_ms; do printf ' DS:%s:GAUGE:30:0:U' $d; done; }

# ---- 1. layouts ----
OLD_RRA="RRA:AVERAGE:0.5:1:8640 RRA:AVERAGE:0.5:30:10080 RRA:AVERAGE:0.5:360:9600 RRA:MAX:0.5:360:9600 RRA:AVERAGE:0.5:8640:1827 RRA:MAX:0.5:8640:1827"
mkdir -p "$T/old" "$T/new/5m"
for i in $(seq 1 "$NC"); do echo "create $T/old/c$i.rrd --start 1700000000 --step 10$(ds) $OLD_RRA"; done >"$T/old.cmds"
for i in $(seq 1 "$NC"); do
	echo "create $T/new/5m/c$i.rrd --start 1700000000 --step 300$(ds) RRA:AVERAGE:0.5:1:9216 RRA:AVERAGE:0.5:288:1096"
	echo "create $T/new/c$i.rrd --start 1700000000 --step 10$(ds) RRA:AVERAGE:0.5:1:8640"
done >"$T/new.cmds"
t0=$(now); rrdtool - <"$T/old.cmds" >/dev/null; t1=$(now); told=$(calc "$t1 - $t0" 3)
t0=$(now); rrdtool - <"$T/new.cmds" >/dev/null; t1=$(now); tnew=$(calc "$t1 - $t0" 3)
bold=$(stat -c %s "$T/old/c1.rrd"); bnew=$(( $(stat -c %s "$T/new/c1.rrd") + $(stat -c %s "$T/new/5m/c1.rrd") ))
out "bytes per customer, old layout" "$bold" "one file: 13 DS x (10 s 1 d, 5 min 35 d, 1 h 400 d AVG+MAX, 1 d 5 y AVG+MAX)"
out "bytes per customer, new layout" "$bnew" "10 s x 1 d file + 300 s file (5 min x 32 d, 1 d x 3 y); target <= 2 MB"
out "customer creates/s, old layout" "$(calc "$NC / $told" 1)" "$NC customers, rrdtool create in one process"
out "customer creates/s, new layout" "$(calc "$NC / $tnew" 1)" "two files per customer"
rm -rf "$T/old" "$T/new"

# ---- 2. reports ----
mkdir -p "$T/rrd" "$T/journal"
rrdcached -l "unix:$T/rrdcached.sock" -p "$T/rrdcached.pid" -b "$T/rrd" -B -j "$T/journal" -w 3600 -z 1 -F -g \
	>"$T/rrdcached.log" 2>&1 &
RC_PID=$!
for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && break; sleep 0.1; done
MONTH=$(TZ=$TZNAME date -d "$(TZ=$TZNAME date +%Y-%m-01) -1 month" +%Y-%m)
TO=$(TZ=$TZNAME date -d "$(TZ=$TZNAME date +%Y-%m-01) 00:00" +%s)
DAYS=32; T0=$((TO - DAYS * 86400))
t0=$(now)
TZ=$TZNAME "$B/tools/gw-capacity-feed" "$T/rrd" "unix:$T/rrdcached.sock" "$T/gw.db" $T0 $DAYS 1 >"$T/feed.out" \
	|| { out "report" error "feed failed: $(cat "$T/feed.out")"; exit 0; }
t1=$(now)
out "feed: 32 days x 1 customer" "$(calc "$t1 - $t0" 1) s" "$(cat "$T/feed.out")"
rrdtool flushcached --daemon "unix:$T/rrdcached.sock" "$T/rrd/grow.rrd" "$T/rrd/5m/grow.rrd"
for i in $(seq -w 1 "$N"); do
	ln "$T/rrd/grow.rrd" "$T/rrd/b$i.rrd"; ln "$T/rrd/5m/grow.rrd" "$T/rrd/5m/b$i.rrd"
done
HPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ZPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B/gatewatch-operator" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" --rrd-dir "$T/rrd" \
	--rrdcached "unix:$T/rrdcached.sock" --db "$T/gw.db" --tz "$TZNAME" --log-level warn >"$T/op.log" 2>&1 &
OP_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HPORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
API=http://127.0.0.1:$HPORT/api/v1/reports
rss0=$(awk '/VmHWM/ {print $2}' "/proc/$OP_PID/status")
t0=$(now)
curl -sf --max-time 900 "$API/top?by=p95&month=$MONTH&limit=10" >"$T/top.json" || { out "report" error "top failed"; exit 0; }
t1=$(now); ttop=$(calc "$t1 - $t0" 2)
rss1=$(awk '/VmHWM/ {print $2}' "/proc/$OP_PID/status")
total=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$T/top.json")
t0=$(now); curl -sf "$API/top?by=growth&month=$MONTH&limit=10" >/dev/null; t1=$(now); tcache=$(calc "($t1 - $t0) * 1000" 1)
t0=$(now); for i in $(seq 1 20); do curl -sf "$API/customers/grow?month=$MONTH" >/dev/null; done; t1=$(now)
tone=$(calc "($t1 - $t0) * 1000 / 20" 1)
out "top-N over $total customers, month $MONTH" "$ttop s" "every customer's report (300 s rows, trend, SQLite); target < 60 s; $(nproc) cores, hot page cache"
out "per customer report (in top-N)" "$(calc "$ttop * 1000 / $total" 2) ms" ""
out "top-N again (cached), other key" "$tcache ms" "reports cached per period for 300 s"
out "one customer report" "$tone ms" "mean of 20 GET /api/v1/reports/customers/ID"
out "operator peak RSS before/after top-N" "$(calc "$rss0 / 1024" 1) / $(calc "$rss1 / 1024" 1) MiB" "VmHWM"
