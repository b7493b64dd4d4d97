#!/usr/bin/env bash
# bench_latency.sh: attack start -> event at the operator -> nft set element in place, live, in
# sealed namespaces (the brief's targets: event < 50 ms, nft entry < 100 ms). Prints table rows
# "latency<TAB>metric<TAB>value<TAB>note" (tests/bench/run.sh collects them) and, on stderr, one
# line per run with every hop.
#   bench_latency.sh BUILD_DIR
# Topology (as tests/e2e/test_countermeasure_live.sh): attacker ns -> gateway ns (forwards;
# gatewatch-probe -i wan0 --enforce on) -> victim ns 10.0.101.10; the operator in the root
# namespace over ipc://. Each run: a bounded SYN flood (synpace.py: BENCH_LAT_PPS packets/s on an
# absolute schedule, default 1500 as in deploy/demo.sh, at most 4 s) from its own spoofed source
# 198.51.100.(20+i) against
# the demo's threshold (syn_flood.rx.pps BENCH_LAT_THRESHOLD, default 500). Time stamps:
#   first  kernel receive time of the first attack packet on the gateway's wan0 (latwatch.py,
#          an AF_PACKET socket with SO_TIMESTAMPNS: the same clock the probe's capture uses)
#   detect the event's ts (packet time of the packet that fired the alarm, probe side)
#   event  the operator's receive time of the event (API: events.received)
#   nft    `nft monitor` in the gateway namespace shows the element added (latwatch.py)
# Medians and p90 over BENCH_LAT_RUNS runs (default 10). No assertion: figures only.
# Environment: BENCH_LAT_RUNS, BENCH_LAT_PPS, BENCH_LAT_THRESHOLD, BENCH_LAT_GAP_S (quiet seconds
# between runs, default 3), BENCH_LAT_PROBE_ARGS (extra probe options).
set -uo pipefail
B=${1:-build}; case $B in /*) ;; *) B=$(pwd)/$B ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
OP=$B/gatewatch-operator
PROBE=$B/gatewatch-probe
RUNS=${BENCH_LAT_RUNS:-10}
PPS=${BENCH_LAT_PPS:-1500}
THR=${BENCH_LAT_THRESHOLD:-500}
GAP=${BENCH_LAT_GAP_S:-3}
PY=/usr/bin/python3
export LC_ALL=C

row() { printf 'latency\t%s\t%s\t%s\n' "$1" "$2" "${3:-}"; }
note() { echo "bench_latency: $*" >&2; }
if [ "$(id -u)" != 0 ]; then row skipped "needs root" "network namespaces, nftables"; exit 0; fi
for c in ip nft rrdcached curl stdbuf timeout "$PY"; do
	command -v "$c" >/dev/null || { row skipped "$c not installed" ""; exit 0; }
done
for x in "$OP" "$PROBE"; do [ -x "$x" ] || { row error "missing $x" ""; exit 0; }; done

ID=$$
NA=gwlat-a-$ID; NG=gwlat-g-$ID; NV=gwlat-v-$ID
T=$(mktemp -d /tmp/gwlat.XXXXXX)
OP_PID=""; PR_PID=""; HP_PID=""; W_PID=""
cleanup() {
	for p in $HP_PID $W_PID $PR_PID $OP_PID; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $HP_PID $W_PID $PR_PID $OP_PID; do kill -9 "$p" 2>/dev/null; done
	[ -f "$T/rrdcached.pid" ] && kill "$(cat "$T/rrdcached.pid")" 2>/dev/null
	for n in "$NA" "$NG" "$NV"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { row error "$1" "$(tail -n 3 "$T/op.log" "$T/probe.log" 2>/dev/null | tr '\n' ' ' | cut -c1-200)"; exit 0; }

HPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
API=http://127.0.0.1:$HPORT

# --- sealed topology: veth pairs between our own namespaces only ---
. "$HERE/../lib/netlab.sh"
gw_netlab3 "$NA" "$NG" "$NV" wan0 lan0 sealed || fail "cannot create the namespace lab"

printf 'ban_timeout_s 2\n' >"$T/policy"
cat >"$T/thresholds" <<EOF
syn_flood.rx.pps $THR
hysteresis.clear_s 0.5
hysteresis.holddown_s 0
unusual_port.enabled 0
EOF
mkdir -p "$T/rrd" "$T/journal"
rrdcached -l "unix:$T/rrdcached.sock" -p "$T/rrdcached.pid" -b "$T/rrd" -B \
	-j "$T/journal" -w 5 -z 1 -F 2>"$T/rrdcached.err" || fail "rrdcached did not start"
for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && break; sleep 0.1; done
"$OP" --listen "ipc://$T/op.sock" --http "127.0.0.1:$HPORT" --rrd-dir "$T/rrd" \
	--rrdcached "unix:$T/rrdcached.sock" --db "$T/gw.db" --policy "$T/policy" >"$T/op.log" 2>&1 &
OP_PID=$!
for _ in $(seq 100); do curl -sf "$API/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$API/healthz" >/dev/null 2>&1 || fail "operator not serving"
# shellcheck disable=SC2086
ip netns exec "$NG" "$PROBE" -i wan0 --customer c1 --lan-prefix 10.0.101.0/24 --enforce on \
	--operator "ipc://$T/op.sock" --probe-id lat1 --thresholds "$T/thresholds" --interval 1 \
	--heartbeat 1 ${BENCH_LAT_PROBE_ARGS:-} >"$T/probe.log" 2>&1 &
PR_PID=$!
q() { curl -sf "$API$1" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"; }
for _ in $(seq 100); do
	[ "$(q /api/v1/probes 'sum(1 for p in d["probes"] if p["id"] == "lat1" and p["software"])' 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
[ "$(q /api/v1/probes 'sum(1 for p in d["probes"] if p["id"] == "lat1" and p["software"])')" = 1 ] ||
	fail "probe never said hello"
ip netns exec "$NG" nft list set inet gatewatch banned4 >/dev/null 2>&1 || fail "probe has no nft set"

# One run: prints "first detect event decided nft n100" (seconds since the epoch; 0 = not seen;
# n100 = attack packets in the first 100 ms).
one_run() { # SRC
	local src=$1 first nft n100
	ip netns exec "$NG" "$PY" "$HERE/latwatch.py" wan0 "$src" 8 >"$T/w.out" 2>"$T/w.err" &
	W_PID=$!
	for _ in $(seq 500); do grep -q ready "$T/w.out" && break; sleep 0.02; done
	if ! grep -q ready "$T/w.out"; then
		note "$src: latwatch not ready after 10 s: $(tail -c 200 "$T/w.err")"
		kill "$W_PID" 2>/dev/null; wait "$W_PID" 2>/dev/null; W_PID=""
		echo "0 0 0 0 0 0"
		return
	fi
	ip netns exec "$NA" timeout 6 "$PY" "$HERE/synpace.py" "$src" 10.0.101.10 80 "$PPS" 4 \
		>/dev/null 2>&1 &
	HP_PID=$!
	wait "$W_PID"; W_PID=""
	kill "$HP_PID" 2>/dev/null; wait "$HP_PID" 2>/dev/null; HP_PID=""
	read -r first nft n100 < <(tail -n 1 "$T/w.out")
	[ "${first:-0}" = 0.000000 ] && note "$src: latwatch saw no attack packet: $(tail -c 200 "$T/w.err")"
	sleep 0.3     # the countermeasure row's result arrives
	echo "${first:-0} $(q "/api/v1/events?kind=syn_flood&limit=1000" \
		"(lambda v: '%.6f %.6f' % min(v, key=lambda x: x[1]) if v else '0 0')([(e['ts'], e['received']) for e in d['events'] if e['src'] == '$src' and not e['cleared']])") \
		$(q "/api/v1/countermeasures?action=ban&limit=1000" \
		"([('%.6f' % c['decided_ts']) for c in d['countermeasures'] if c['address'] == '$src'] or ['0'])[0]") ${nft:-0} ${n100:-0}"
}

: >"$T/runs"
for i in $(seq 1 "$RUNS"); do
	src=198.51.100.$((20 + i))
	[ "$i" -gt 1 ] && sleep "$GAP"
	r=$(one_run "$src")
	echo "$r" >>"$T/runs"
	echo "$r" | awk -v i="$i" -v s="$src" '{
		if ($1 == 0 || $3 == 0) { printf "bench_latency: run %d %s: event not seen (first %s)\n", i, s, $1; next }
		if ($2 < $1) { printf "bench_latency: run %d %s: event %.1f ms before the first packet latwatch saw (watcher missed the start): left out\n", i, s, ($1 - $2) * 1e3; next }
		printf "bench_latency: run %d %s: attack %d pps in its first 100 ms; detect %.1f ms, event at operator %.1f ms, decided %.1f ms, nft %s ms\n",
		    i, s, $6 * 10, ($2 - $1) * 1e3, ($3 - $1) * 1e3, ($4 - $1) * 1e3, ($5 > 0) ? sprintf("%.1f", ($5 - $1) * 1e3) : "never" }' >&2
done

# Manual bans through the API (what gatewatchctl ban does): POST -> nft element, MANUAL runs.
: >"$T/manual"
for i in $(seq 1 "${BENCH_LAT_MANUAL:-5}"); do
	src=192.0.2.$((100 + i))
	ip netns exec "$NG" "$PY" "$HERE/latwatch.py" - "$src" 5 >"$T/w.out" 2>"$T/w.err" &
	W_PID=$!
	for _ in $(seq 500); do grep -q ready "$T/w.out" && break; sleep 0.02; done
	t0=$("$PY" -c 'import time; print("%.6f" % time.time())')
	curl -sf -X POST -d "{\"address\":\"$src\",\"timeout_s\":5,\"reason\":\"bench\"}" \
		"$API/api/v1/bans" >/dev/null || note "manual ban of $src refused"
	wait "$W_PID"; W_PID=""
	read -r _ nft _ < <(tail -n 1 "$T/w.out")
	[ "${nft:-0}" = 0.000000 ] && note "manual ban of $src: no element seen in 5 s ($(tail -c 200 "$T/w.err"))"
	echo "$t0 ${nft:-0}" >>"$T/manual"
	sleep 0.5
done

# stat COLUMN [MIN_N100]: "median p90 n" in ms of column - first, over runs where both were seen
# (and whose attack sent at least MIN_N100 packets in its first 100 ms). A run whose event is
# older than the first packet latwatch saw (the watcher was descheduled and missed the start)
# is left out and counted in the note.
stat() {
	awk -v c="$1" -v m="${2:-0}" '$1 > 0 && $c > 0 && $2 >= $1 && $6 >= m { print ($c - $1) * 1e3 }' "$T/runs" | sort -g | awk '
		{ v[NR] = $1 }
		END { if (NR == 0) { print "nan nan 0"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			k = int(0.9 * NR + 0.999999); if (k < 1) k = 1
			printf "%.1f %.1f %d\n", m, v[k], NR }'
}
ratio() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "nan") print "nan"; else printf "%.2f", v / t }'; }
# On a loaded 2-core host a generator does not always reach its rate: a flood that sends less than
# the threshold in its first 100 ms cannot be detected within them. The figures are given over
# all runs and over the runs whose attack reached at least 2x the threshold in its first 100 ms.
FULL=$(awk -v t="$THR" 'BEGIN { printf "%d", t * 2 / 10 }')
missed=$(awk '$1 > 0 && $2 > 0 && $2 < $1' "$T/runs" | wc -l)
sent=$(awk '$1 > 0 { print $6 * 10 }' "$T/runs" | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "nan" }')
for set in all full; do
	min=0; label="all runs"
	[ $set = full ] && { min=$FULL; label="runs at >= $((THR * 2)) pps in the first 100 ms"; }
	read -r dm dp dn < <(stat 2 "$min")
	read -r em ep en < <(stat 3 "$min")
	read -r nm np nn < <(stat 5 "$min")
	row "attack start -> probe detection (packet time), $set" "median ${dm} ms, p90 ${dp} ms" \
		"SYN flood ${PPS} pps (reached: median ${sent} pps in its first 100 ms) vs threshold ${THR} pps; $label: $dn/$RUNS"
	row "attack start -> event at operator, $set" "median ${em} ms, p90 ${ep} ms" \
		"target 50 ms: median/target $(ratio "$em" 50), p90/target $(ratio "$ep" 50); $label: $en/$RUNS ($missed left out: watcher missed the start)"
	row "attack start -> nft element in place, $set" "median ${nm} ms, p90 ${np} ms" \
		"target 100 ms: median/target $(ratio "$nm" 100), p90/target $(ratio "$np" 100); $label: $nn/$RUNS"
done
read -r mm mp mn < <(awk '$2 > 0 { print ($2 - $1) * 1e3 }' "$T/manual" | sort -g | awk '
	{ v[NR] = $1 }
	END { if (NR == 0) { print "nan nan 0"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		k = int(0.9 * NR + 0.999999); printf "%.1f %.1f %d\n", m, v[k], NR }')
row "manual ban (API POST) -> nft element in place" "median ${mm} ms, p90 ${mp} ms" \
	"$mn/${BENCH_LAT_MANUAL:-5} runs; from just before curl starts (its start-up included)"
exit 0
