#!/usr/bin/env bash
# run.sh: `make bench`. Prints ONE table; every figure is the median of BENCH_RUNS runs (default 3)
# and every comparison a ratio measured within the same run.
#   run.sh BUILD_DIR [--only throughput|memory|ingest|lab|report|shed|loss|faults|soak|shards|latency[,...]]
# Sections (report: tests/bench/bench_report.sh): throughput (probe vs ndpiReader vs bare libpcap
# loop on a >1M-packet capture: copies of the shared corpus, or of the generated home mix when
# the corpus is absent),
# memory (peak RSS at 10k/100k concurrent flows, a TCP/UDP/DNS mix and UDP-only, and under a
# 1M-packet random-source SYN flood),
# ingest (operator under N simulated probes, tests/tools/gw-loadgen), lab (10 and 30 customers
# in network namespaces at the reference profile, scaled to fit the machine), shards (3 operator
# shards over a 3-node NATS JetStream cluster vs 1: ingest ratio, probes held, event-to-ban
# latency across shards; tests/bench/bench_shards.sh), latency (attack start -> event at the
# operator -> nft element in place, live in namespaces, median and p90: tests/bench/bench_latency.sh).
# Environment: BENCH_RUNS, BENCH_LAB_SCALE (default 0.1), BENCH_LAB_FULL_N (default 3), BENCH_LAB_SECONDS (default 20),
# BENCH_INGEST_SECONDS (default 10), BENCH_FLOOD_PKTS (default 250000), GW_PCAPS.
set -uo pipefail

B=${1:-build}
shift || true
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
ONLY=throughput,memory,ingest,lab,report,shed,loss,faults,soak,shards,latency
[ "${1:-}" = --only ] && ONLY=${2:?--only needs a section list}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PCAPS=${GW_PCAPS:-$REPO/../shared/pcaps}
RUNS=${BENCH_RUNS:-3}
CACHE=$B/bench
PROBE=$B/gatewatch-probe
OPER=$B/gatewatch-operator
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/gw-bench.XXXXXX)
TABLE=$TMP/table
mkdir -p "$CACHE"
export LC_ALL=C

cleanup() {
	[ -n "${LAB_UP:-}" ] && "$REPO/deploy/lab/lab" down >/dev/null 2>&1
	for f in "$TMP"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

note() { echo "bench: $*" >&2; }
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$TABLE"; } # section metric value note
want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan"; exit} if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }

# Builds a libc/libpcap tool from tests/tools when the Makefile's copy is absent.
tool() { # name libs...
	local name=$1; shift
	if [ -x "$B/tools/$name" ]; then echo "$B/tools/$name"; return; fi
	cc -O2 -std=gnu11 -o "$CACHE/$name" "$REPO/tests/tools/$name.c" "$@" || return 1
	echo "$CACHE/$name"
}

# ---- 1. offline throughput ------------------------------------------------------------------
bench_throughput() {
	local big=$CACHE/big.pcap count info pk bytes r t0 t1 tb tp tn have=0 f
	count=$(tool gw-pcap-count -lpcap) || { row throughput error "cannot build gw-pcap-count"; return; }
	for f in "$PCAPS"/*.pcap "$PCAPS"/*.pcapng; do [ -f "$f" ] && have=1 && break; done
	if [ $have = 0 ]; then
		# Bare clone: copies of the generated home mix (tests/tools/gen_traffic.py --big).
		note "skipped: corpus not present ($PCAPS): throughput on a generated capture instead"
		big=$CACHE/big-gen.pcap
		if [ ! -s "$big" ]; then
			t0=$(now)
			"$PY" "$REPO/tests/tools/gen_traffic.py" --big "$big" 1000000 >"$CACHE/big-gen.info" ||
				{ row throughput error "gen_traffic.py --big failed"; return; }
			note "built $big in $(calc "$(now) - $t0" 1) s: $(cat "$CACHE/big-gen.info")"
		fi
	elif [ ! -s "$big" ]; then
		note "building $big from $PCAPS (cached)"
		mkdir -p "$CACHE/src"
		for f in "$PCAPS"/*.pcap "$PCAPS"/*.pcapng; do
			editcap -F pcap "$f" "$CACHE/src/$(basename "${f%.*}").pcap" 2>/dev/null || rm -f "$CACHE/src/$(basename "${f%.*}").pcap"
		done
		t0=$(now)
		"$PY" "$HERE/mkbig.py" big "$big" "$CACHE/src" 1000000 >"$CACHE/big.info" ||
			{ row throughput error "mkbig.py big failed"; return; }
		note "built in $(calc "$(now) - $t0" 1) s: $(cat "$CACHE/big.info")"
	fi
	info=$("$count" "$big")
	pk=$(echo "$info" | awk '{print $2}'); bytes=$(echo "$info" | awk '{print $4}')
	for r in $(seq 1 "$RUNS"); do
		t0=$(now); "$count" "$big" >/dev/null; t1=$(now); tb=$(calc "$t1 - $t0" 6)
		t0=$(now); "$PROBE" -r "$big" --jsonl /dev/null 2>"$TMP/probe-tp.err"; t1=$(now); tp=$(calc "$t1 - $t0" 6)
		t0=$(now); ndpiReader -i "$big" -n 1 -q >/dev/null 2>&1; t1=$(now); tn=$(calc "$t1 - $t0" 6)
		echo "$tb $tp $tn" >>"$TMP/tp.runs"
		note "throughput run $r: bare ${tb}s probe ${tp}s ndpiReader ${tn}s"
	done
	tb=$(awk '{print $1}' "$TMP/tp.runs" | median); tp=$(awk '{print $2}' "$TMP/tp.runs" | median)
	tn=$(awk '{print $3}' "$TMP/tp.runs" | median)
	row throughput "capture" "$pk pkts" "$(calc "$bytes / 1e6" 0) MB wire, $(basename "$big")$([ $have = 0 ] && echo " (generated home mix: corpus not present)"), flows distinct per copy"
	row throughput "probe pkts/s (1 thread)" "$(calc "$pk / $tp" 0)" "$(calc "$bytes * 8 / $tp / 1e9" 3) Gbit/s, wall ${tp}s"
	row throughput "ndpiReader -n 1 pkts/s" "$(calc "$pk / $tn" 0)" "$(calc "$bytes * 8 / $tn / 1e9" 3) Gbit/s, wall ${tn}s"
	row throughput "bare libpcap loop pkts/s" "$(calc "$pk / $tb" 0)" "$(calc "$bytes * 8 / $tb / 1e9" 3) Gbit/s, wall ${tb}s"
	row throughput "ratio probe/ndpiReader" "$(awk '{print $3 / $2}' "$TMP/tp.runs" | median)" "target >= 3 (speed, same file, per-run ratio)"
	row throughput "ratio probe/bare loop" "$(awk '{print $1 / $2}' "$TMP/tp.runs" | median)" "share of the read-loop limit"
	row throughput "probe summary" "-" "$(grep -o 'flows [0-9]*' "$TMP/probe-tp.err" | head -1), $(grep -o 'errors: [^f]*' "$TMP/probe-tp.err" | head -1)"
	bench_flood_throughput
}

# Under a spoofed SYN flood (every packet a new flow): probe vs ndpiReader on the same file,
# and the probe's peak RSS at FLOOD_PKTS and at 4x as many packets (flat = ratio near 1).
# ndpiReader keeps every flow (3.4 GB at 1M SYNs), hence the smaller default file.
bench_flood_throughput() {
	local n=${BENCH_FLOOD_PKTS:-250000} f f4 r t0 tp tn m1 m4
	f=$CACHE/synflood$n.pcap; f4=$CACHE/synflood$((n * 4)).pcap
	[ -s "$f" ] || "$PY" "$HERE/mkbig.py" synflood "$f" "$n" >/dev/null || { row throughput error "mkbig.py synflood failed"; return; }
	[ -s "$f4" ] || "$PY" "$HERE/mkbig.py" synflood "$f4" $((n * 4)) >/dev/null || { row throughput error "mkbig.py synflood failed"; return; }
	for r in $(seq 1 "$RUNS"); do
		t0=$(now); /usr/bin/time -f "%M" -o "$TMP/flood.rss1" "$PROBE" -r "$f" --jsonl /dev/null 2>/dev/null; tp=$(calc "$(now) - $t0" 6)
		t0=$(now); ndpiReader -i "$f" -n 1 -q >/dev/null 2>&1; tn=$(calc "$(now) - $t0" 6)
		/usr/bin/time -f "%M" -o "$TMP/flood.rss4" "$PROBE" -r "$f4" --jsonl /dev/null 2>/dev/null
		echo "$tp $tn $(cat "$TMP/flood.rss1") $(cat "$TMP/flood.rss4")" >>"$TMP/flood.runs"
		note "flood run $r: probe ${tp}s ndpiReader ${tn}s"
	done
	tp=$(awk '{print $1}' "$TMP/flood.runs" | median); tn=$(awk '{print $2}' "$TMP/flood.runs" | median)
	m1=$(awk '{print $3}' "$TMP/flood.runs" | median); m4=$(awk '{print $4}' "$TMP/flood.runs" | median)
	row throughput "SYN flood: probe pkts/s" "$(calc "$n / $tp" 0)" "$n SYNs from random 198.51.100.0/24 sources (mkbig.py synflood), wall ${tp}s"
	row throughput "SYN flood: ndpiReader pkts/s" "$(calc "$n / $tn" 0)" "wall ${tn}s"
	row throughput "SYN flood: ratio probe/ndpiReader" "$(awk '{print $2 / $1}' "$TMP/flood.runs" | median)" "target >= 10 (per-run ratio)"
	row throughput "SYN flood: probe peak RSS" "$(calc "$m1 / 1024" 1) -> $(calc "$m4 / 1024" 1) MiB" "at $n and $((n * 4)) packets; ratio $(calc "$m4 / $m1" 2) (flat if near 1)"
}

# ---- 2. memory ------------------------------------------------------------------------------
peak_rss_kb() { # pcap extra-args... -> median VmHWM (KB) of RUNS runs; flows of the last run in $TMP/flows
	local f=$1 r; shift
	for r in $(seq 1 "$RUNS"); do
		/usr/bin/time -f "%M" -o "$TMP/rss" "$PROBE" -r "$f" --jsonl /dev/null "$@" 2>"$TMP/mem.err"
		cat "$TMP/rss"
	done | median
	grep -o 'flows [0-9]*' "$TMP/mem.err" | head -1 | awk '{print $2}' >"$TMP/flows"
}

bench_memory() {
	local n f base u10 u100 m10 m100 syn fu10 fu100 fm10 fm100 fsyn
	for n in 10000 100000; do
		f=$CACHE/flows$n.pcap
		[ -s "$f" ] || "$PY" "$HERE/mkbig.py" flows "$f" "$n" >/dev/null
		f=$CACHE/mixed$n.pcap
		[ -s "$f" ] || "$PY" "$HERE/mkbig.py" mixed "$f" "$n" >/dev/null
	done
	[ -s "$CACHE/syn1m.pcap" ] || "$PY" "$HERE/mkbig.py" synflood "$CACHE/syn1m.pcap" 1000000 >/dev/null
	"$PY" "$HERE/mkbig.py" flows "$TMP/flows1.pcap" 1 >/dev/null
	base=$(peak_rss_kb "$TMP/flows1.pcap" --idle-timeout 1h)
	# Headline: a home gateway's mix (mkbig.py mixed): 60% TCP (handshake, request
	# and answer, left open), 30% UDP (3-4 datagrams), 10% DNS; all concurrent.
	m10=$(peak_rss_kb "$CACHE/mixed10000.pcap" --idle-timeout 1h); fm10=$(cat "$TMP/flows")
	m100=$(peak_rss_kb "$CACHE/mixed100000.pcap" --idle-timeout 1h); fm100=$(cat "$TMP/flows")
	# The cheapest flows there are: one UDP datagram each way.
	u10=$(peak_rss_kb "$CACHE/flows10000.pcap" --idle-timeout 1h); fu10=$(cat "$TMP/flows")
	u100=$(peak_rss_kb "$CACHE/flows100000.pcap" --idle-timeout 1h); fu100=$(cat "$TMP/flows")
	syn=$(peak_rss_kb "$CACHE/syn1m.pcap" --idle-timeout 1h); fsyn=$(cat "$TMP/flows")
	row memory "peak RSS, 1 flow (floor)" "$(calc "$base / 1024" 1) MiB" "VmHWM via /usr/bin/time"
	row memory "peak RSS, 10k mixed flows" "$(calc "$m10 / 1024" 1) MiB" "target <= 16 MiB; 60% TCP 30% UDP 10% DNS, all open; probe counted $fm10 flows, --idle-timeout 1h"
	row memory "peak RSS, 100k mixed flows" "$(calc "$m100 / 1024" 1) MiB" "target <= 48 MiB; probe counted $fm100 flows"
	row memory "bytes per mixed flow" "$(calc "($m100 - $m10) * 1024 / 90000" 0)" "(RSS100k - RSS10k) / 90k"
	row memory "peak RSS, 10k UDP 1-packet flows" "$(calc "$u10 / 1024" 1) MiB" "one datagram each way; probe counted $fu10 flows"
	row memory "peak RSS, 100k UDP 1-packet flows" "$(calc "$u100 / 1024" 1) MiB" "probe counted $fu100 flows"
	row memory "bytes per UDP 1-packet flow" "$(calc "($u100 - $u10) * 1024 / 90000" 0)" "(RSS100k - RSS10k) / 90k"
	row memory "peak RSS, 1M-SYN flood" "$(calc "$syn / 1024" 1) MiB" "random src in 198.51.100.0/24 + ports; $fsyn flows (cap --max-flows)"
	row memory "ratio RSS flood/100k mixed" "$(calc "$syn / $m100" 2)" "flat (bounded) if ~ cap/100k or less"
}

# ---- 3. operator ingest ---------------------------------------------------------------------
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_operator() { # dir listen -> http port in $TMP/http.port
	local dir=$1 listen=$2 port
	port=$(free_port)
	mkdir -p "$dir/rrd" "$dir/journal"
	rrdcached -l "unix:$dir/rrdcached.sock" -p "$dir/rrdcached.pid" -b "$dir/rrd" -B -j "$dir/journal" \
		-w 10 -z 2 -F -g >"$dir/rrdcached.log" 2>&1 &
	echo $! >"$TMP/rrdcached-$(basename "$dir").pid"
	disown $!
	for _ in $(seq 1 50); do [ -S "$dir/rrdcached.sock" ] && break; sleep 0.1; done
	"$OPER" --listen "$listen" --http "127.0.0.1:$port" --rrd-dir "$dir/rrd" \
		--rrdcached "unix:$dir/rrdcached.sock" --log-level warn >"$dir/operator.log" 2>&1 &
	echo $! >"$TMP/operator-$(basename "$dir").pid"
	disown $!
	for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/api/v1/stats" >/dev/null 2>&1 && break; sleep 0.1; done
	echo "$port" >"$TMP/http.port"
}

stop_operator() { # dir
	local f
	for f in "$TMP/operator-$(basename "$1").pid" "$TMP/rrdcached-$(basename "$1").pid"; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null; sleep 0.5; kill -9 "$(cat "$f")" 2>/dev/null; rm -f "$f"
	done
}

rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Polls the operator until it accepted `want` envelopes (or 60 s); prints the stats JSON.
wait_accepted() { # port want pid
	local j
	for _ in $(seq 1 600); do
		kill -0 "$3" 2>/dev/null || { note "operator died (see its log)"; break; }
		j=$(curl -fsS "http://127.0.0.1:$1/api/v1/stats" 2>/dev/null) || { sleep 0.1; continue; }
		if [ "$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["accepted"])' "$j")" -ge "$2" ]; then break; fi
		sleep 0.1
	done
	echo "$j"
}

# RRD rates over RRD_WINDOW seconds, stopping early past RRD_MAX_MB on disk:
# prints "updates_per_s/creates_per_s/MB_per_file".
RRD_WINDOW=${BENCH_RRD_WINDOW:-10}
RRD_MAX_MB=${BENCH_RRD_MAX_MB:-2000}
rrd_stats() { curl -fsS "http://127.0.0.1:$1/api/v1/stats" 2>/dev/null | "$PY" -c '
import json, sys
s = json.load(sys.stdin); print(s["rrd_updates"], s["rrd_creates"], s.get("rrd_file_bytes", 0))' 2>/dev/null || echo "0 0 0"; }
rrd_window() { # port dir
	local a b t0 t1 k
	a=$(rrd_stats "$1"); t0=$(now)
	for k in $(seq 1 $((RRD_WINDOW * 5))); do
		sleep 0.2
		[ "$(du -sm "$2/rrd" | cut -f1)" -lt "$RRD_MAX_MB" ] || break
	done
	b=$(rrd_stats "$1"); t1=$(now)
	echo "$a $b" | awk -v dt="$(calc "$t1 - $t0" 3)" '{printf "%.1f/%.1f/%.2f", ($4 - $1) / dt, ($5 - $2) / dt, $6 / 1e6}'
}

bench_ingest() {
	local gen=$B/tools/gw-loadgen n r dir port reps t0 t1 sent st opid
	if [ ! -x "$gen" ]; then
		row ingest "skipped" "-" "$gen not built (tests/tools/gw-loadgen.c)"
		return
	fi
	for n in 1000 10000; do
		# Faster than real time: unpaced, packet time advances 1 s per report.
		reps=$((200000 / n)); [ "$reps" -ge 10 ] || reps=10
		: >"$TMP/ingest-$n"
		for r in $(seq 1 "$RUNS"); do
			dir=$TMP/ingest-$n-$r; mkdir -p "$dir"
			start_operator "$dir" "ipc://$dir/op.sock"
			port=$(cat "$TMP/http.port"); opid=$(cat "$TMP/operator-$(basename "$dir").pid")
			t0=$(now)
			"$gen" --connect "ipc://$dir/op.sock" --probes "$n" --rate 0 --duration "$reps" >"$dir/gen.json" 2>"$dir/gen.err"
			sent=$("$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["hello_sent"] + j["stats_sent"])' "$dir/gen.json" 2>/dev/null || echo 0)
			st=$(wait_accepted "$port" "$sent" "$opid")
			t1=$(now)
			# RRD through rrdcached: rates over a bounded window after ingest (each new
			# customer's RRD file is created first; disk use is capped).
			rrd_window "$port" "$dir" >"$dir/rrd.rates"
			echo "$st" | "$PY" -c '
import json, sys
s = json.loads(sys.stdin.read() or "{}")
print(s.get("accepted", 0), s.get("lost", -1), sys.argv[4], s.get("rrd_queue_dropped", 0), sys.argv[1], sys.argv[2], sys.argv[3])' \
				"$sent" "$(rss_kb "$opid")" "$(calc "$t1 - $t0" 3)" "$(cat "$dir/rrd.rates")" >>"$TMP/ingest-$n" 2>/dev/null
			note "ingest N=$n run $r: $(tail -n 1 "$TMP/ingest-$n") (accepted lost rrd qdrop sent rss_kb s)"
			stop_operator "$dir"
			rm -rf "$dir/rrd"
		done
		[ -s "$TMP/ingest-$n" ] || { row ingest "N=$n" error "no result (see $dir)"; continue; }
		row ingest "N=$n envelopes/s" "$(awk '{print $1 / $7}' "$TMP/ingest-$n" | median)" "$reps reports/probe unpaced + hello; until all accepted"
		row ingest "N=$n accepted/sent" "$(awk '{print $1 / $5}' "$TMP/ingest-$n" | median)" "lost (seq gaps) median $(awk '{print $2}' "$TMP/ingest-$n" | median); zero loss = 1.0 and 0"
		row ingest "N=$n RRD updates/s" "$(awk '{split($3, a, "/"); print a[1]}' "$TMP/ingest-$n" | median)" "through rrdcached, ${RRD_WINDOW}s window; creates/s $(awk '{split($3, a, "/"); print a[2]}' "$TMP/ingest-$n" | median), MB/file $(awk '{split($3, a, "/"); print a[3]}' "$TMP/ingest-$n" | median)"
		row ingest "N=$n operator peak RSS" "$(calc "$(awk '{print $6}' "$TMP/ingest-$n" | median) / 1024" 1) MiB" "VmHWM"
	done
}

# ---- 4. live lab ----------------------------------------------------------------------------
# Environment: BENCH_LAB_SCALE (default 0.1: 30 customers x 5 Mbit/s, what a shared 2-core
# host generates without loss; the "generator achieved" row tells when it did not),
# BENCH_LAB_FULL_N (gateways at the full reference profile, default 3; 0 skips the row),
# BENCH_LAB_SIZES (default "10 30").
# CPU time of a process, all threads, in ns (schedstat: exact, unlike 10 ms ticks).
proc_cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'; }

lab_run() { # customers scale
	local n=$1 scale=${2:-0.1} secs=${BENCH_LAB_SECONDS:-20} dir port lab=$REPO/deploy/lab/lab
	local t0 t1 f i
	dir=$TMP/lab-$n-$scale; rm -rf "$dir"; mkdir -p "$dir"
	export GW_LAB_STATE=$dir/state GW_LAB_PREFIX=gw-bench- GW_BUILD=$B
	export GW_LAB_OPERATOR=ipc://$dir/operator.sock
	start_operator "$dir" "$GW_LAB_OPERATOR"
	port=$(cat "$TMP/http.port")
	"$lab" up "$n" --probes >"$dir/up.log" 2>&1 || { row lab "$n customers" error "lab up failed: $(tail -n 2 "$dir/up.log")"; stop_operator "$dir"; return; }
	LAB_UP=1
	sleep 3
	cpu_snap() { for f in "$GW_LAB_STATE"/pids/probe-*.pid; do echo "$(cat "$f") $(proc_cpu_ns "$(cat "$f")")"; done; }
	curl -fsS "http://127.0.0.1:$port/api/v1/probes" >"$dir/probes0.json" 2>/dev/null || echo '{"probes":[]}' >"$dir/probes0.json"
	cpu_snap >"$dir/cpu0"
	t0=$(now)
	"$lab" traffic reference "$secs" --scale "$scale" >"$dir/traffic.jsonl" 2>"$dir/traffic.err"
	t1=$(now)
	cpu_snap >"$dir/cpu1"
	sleep 4 # last intervals close on the wall-clock tick and reach the operator
	for i in $(seq 1 "$n"); do
		curl -fsS "http://127.0.0.1:$port/api/v1/customers/c$((100 + i))" >"$dir/op-c$((100 + i)).json" 2>/dev/null || echo '{}' >"$dir/op-c$((100 + i)).json"
	done
	curl -fsS "http://127.0.0.1:$port/api/v1/probes" >"$dir/probes.json" 2>/dev/null || echo '{"probes":[]}' >"$dir/probes.json"
	# -> cpu_med cpu_max drops ratio_med ratio_min ratio_max n_ratios offered_mbit n_probes pps_med gen_min
	"$PY" - "$dir" "$(calc "$t1 - $t0" 3)" "$scale" "${GW_LAB_LINE_BPS:-50000000}" >"$dir/result" <<'EOF'
import json, sys, statistics as st
d, wall, scale, line = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
c0 = dict(l.split() for l in open(d + "/cpu0")); c1 = dict(l.split() for l in open(d + "/cpu1"))
cpu = [(int(c1[p]) - int(c0[p])) / 1e9 / wall * 100 for p in c1 if p in c0]
truth = {}
for l in open(d + "/traffic.jsonl"):
    o = json.loads(l); truth[o["customer"]] = o
ratios = []
for c, o in truth.items():
    try: j = json.load(open("%s/op-%s.json" % (d, c)))
    except Exception: j = {}
    seen = sum(h.get("rx_bytes", 0) for h in j.get("history", []))
    if o["rx_ip_bytes"] > 0: ratios.append(seen / o["rx_ip_bytes"])
health = lambda f: {p.get("id"): p.get("health", {}) for p in json.load(open(d + f)).get("probes", [])}
h0, h1 = health("/probes0.json"), health("/probes.json")
drops = sum(h.get("pcap_dropped", 0) + h.get("pcap_if_dropped", 0) for h in h1.values())
# packets the probe's capture saw during the run (health counters are cumulative)
pps = [(h.get("pcap_received", 0) - h0.get(p, {}).get("pcap_received", 0)) / wall for p, h in h1.items()]
# generators: rx (toward the customer) achieved / the profile's line rate at this scale
gen = [o["rx_ip_bytes"] * 8 / float(o["seconds"]) / (line * scale) for o in truth.values()]
rx = sum(o["rx_ip_bytes"] for o in truth.values())
m = lambda v: st.median(v) if v else -1
print("%.3f %.3f %d %.4f %.4f %.4f %d %.3f %d %.0f %.3f" % (m(cpu), max(cpu) if cpu else -1, drops,
      m(ratios), min(ratios) if ratios else 0, max(ratios) if ratios else 0,
      len(ratios), rx * 8 / 1e6 / float(next(iter(truth.values()))["seconds"]) if truth else 0,
      len(h1), m(pps), min(gen) if gen else 0))
EOF
	"$lab" down >/dev/null 2>&1; LAB_UP=
	stop_operator "$dir"
	cat "$dir/result"
}

lab_rows() { # label runs_file scale
	local l=$1 f=$2 sc=$3
	col() { awk -v k="$1" '{print $k}' "$f" | median; }
	row lab "$l: probe CPU % per gw" "$(col 1)" "median gw; max gw $(col 2) % (worst run $(awk '{print $2}' "$f" | sort -g | tail -n 1)); target < 1 %; scale $sc of the reference profile, ${BENCH_LAB_SECONDS:-20}s"
	row lab "$l: pps per gw" "$(col 10)" "median gw, packets the probe's capture received (health pcap_received)"
	row lab "$l: pcap drops" "$(col 3)" "sum over probes (worst run $(awk '{print $3}' "$f" | sort -g | tail -n 1)); probes seen $(col 9); target 0"
	row lab "$l: offered load" "$(col 8) Mbit/s" "sum of lan0 rx over all gateways (oracle); generator achieved/target min gw $(col 11)"
	row lab "$l: operator/actual rx bytes" "$(col 4)" "median customer; min $(col 5) max $(col 6); target within 0.98..1.02"
}

bench_lab() {
	local n r res sc=${BENCH_LAB_SCALE:-0.1} full=${BENCH_LAB_FULL_N:-3}
	[ "$(id -u)" = 0 ] || { row lab skipped - "needs root (network namespaces)"; return; }
	for n in ${BENCH_LAB_SIZES:-10 30}; do
		: >"$TMP/lab-$n.runs"
		for r in $(seq 1 "$RUNS"); do
			res=$(lab_run "$n" "$sc") && echo "$res" >>"$TMP/lab-$n.runs"
			note "lab $n customers scale $sc run $r: $res"
		done
		[ -s "$TMP/lab-$n.runs" ] && lab_rows "$n cust x $sc" "$TMP/lab-$n.runs" "$sc"
	done
	# The full reference profile (~50 Mbit/s, ~3.7k pps per gateway) on as many gateways as
	# the host generates: probe CPU per gateway does not depend on how many gateways there are.
	[ "$full" -ge 1 ] 2>/dev/null || return 0
	: >"$TMP/lab-full.runs"
	for r in $(seq 1 "$RUNS"); do
		res=$(lab_run "$full" 1) && echo "$res" >>"$TMP/lab-full.runs"
		note "lab full reference profile, $full gateways, run $r: $res"
	done
	[ -s "$TMP/lab-full.runs" ] && lab_rows "full ref profile, $full gw" "$TMP/lab-full.runs" 1
}

# ---- 5. capacity reports (tests/bench/bench_report.sh) ---------------------------------------
bench_report() {
	local m v n
	while IFS="$(printf '\t')" read -r m v n; do row report "$m" "$v" "$n"; done < <(bash "$HERE/bench_report.sh" "$B")
}

# ---- 5.-8. degradation and faults (own scripts; they print the table rows) -----------------
# shed: bench_shed.sh (1x/2x/4x capacity), loss: bench_loss.sh (loss vs packet size and rate),
# faults: the fault tests with the issue's figures (operator down 60 s), soak: bench_soak.sh
# (BENCH_SOAK_SECONDS, default 600).
bench_shed() { bash "$HERE/bench_shed.sh" "$B" >>"$TABLE"; }
bench_loss() { bash "$HERE/bench_loss.sh" "$B" >>"$TABLE"; }
bench_soak() { bash "$HERE/bench_soak.sh" "$B" >>"$TABLE"; }
bench_faults() {
	local t res
	for t in test_fault_operator_down test_fault_kill; do
		GW_FAULT_DOWN_S=60 GW_FAULT_BUDGET=16384 GW_BUILD=$B GW_TESTS=$REPO/tests \
			bash "$REPO/tests/e2e/$t.sh" >"$TMP/$t.log" 2>&1 && res=PASS || res=FAIL
		grep '^FIGURES' "$TMP/$t.log" | sed 's/^FIGURES //' | while read -r l; do
			row faults "$t" "$res" "$l"
		done
		grep -q '^FIGURES' "$TMP/$t.log" || row faults "$t" "$res" "$(tail -n 1 "$TMP/$t.log")"
	done
}

# ---- 9. sharded operators (NATS JetStream) ----------------------------------------------------
bench_shards() { bash "$HERE/bench_shards.sh" "$B" "$TABLE"; }

# ---- 10. attack-to-countermeasure latency (tests/bench/bench_latency.sh) ----------------------
bench_latency() { bash "$HERE/bench_latency.sh" "$B" >>"$TABLE"; }

[ -x "$PROBE" ] || { echo "bench: $PROBE not built"; exit 1; }
for s in throughput memory ingest lab report shed loss faults soak shards latency; do
	want "$s" || continue
	note "section $s"
	t0=$(now)
	"bench_$s"
	row "$s" "section wall time" "$(calc "$(now) - $t0" 0) s" ""
done
echo
echo "gatewatch bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, medians of $RUNS runs)"
{ printf 'section\tmetric\tvalue\tnote\n'; cat "$TABLE"; } | column -t -s "$(printf '\t')"
