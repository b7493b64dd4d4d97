#!/bin/bash
# bench_shards.sh: sharded operators (NATS JetStream) vs one operator; run by run.sh (section "shards").
#   bench_shards.sh BUILD_DIR TABLE_FILE
# Appends rows "shards<TAB>metric<TAB>value<TAB>note" to TABLE_FILE:
# - ingest: envelopes/s of 1 shard and of 3 shards (N simulated probes, gw-loadgen, unpaced; with 3
#   shards the probes are split over them), and the ratio, median of BENCH_RUNS;
# - probes held with zero loss: the largest N of BENCH_SHARDS_LADDER (paced 1 report/s per probe,
#   BENCH_SHARDS_SECONDS s) that 1 and 3 shards accept completely with no seq gap, and the ratio;
# - event-to-ban-everywhere latency: a SYN flood seen by probes on two shards until the global ban is
#   logged by all 6 probes of 3 shards (live probes in sealed namespaces; root only), median and
#   p99 over BENCH_SHARDS_BANS sources; resolution ~20 ms (log polling);
# - cluster-wide list latency: GET /api/v1/customers through one of 3 shards (BENCH_SHARDS_LIST_PROBES
#   simulated probes over them), merged vs that shard's own (?scope=local), and with one shard dead
#   (SIGKILL) or hung (SIGSTOP: bounded by the 1.5 s fan-out wait), medians of curl's time_total.
# Every simulated probe has one customer, i.e. one 1 MB RRD file: N and the ladder stay small
# (defaults 600 and 500/1000/2000) so disk use stays around 2 GB at most, freed after each step.
# All on loopback; every process and namespace it starts is removed at exit.
set -uo pipefail
B=${1:?build dir}
TABLE=${2:?table file}
HERE=$(cd "$(dirname "$0")" && pwd)
export GW_BUILD=$B GW_PCAPS=${GW_PCAPS:-/nonexistent}
. "$HERE/../lib/common.sh"
. "$HERE/../lib/nats.sh"
OPER=$B/gatewatch-operator
PROBE=$B/gatewatch-probe
GEN=$B/tools/gw-loadgen
PY=/usr/bin/python3
RUNS=${BENCH_RUNS:-3}
export LC_ALL=C

row() { printf 'shards\t%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$TABLE"; }
note() { echo "bench: shards: $*" >&2; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan"; exit} if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
pct() { sort -g | awk -v p="$1" '{v[NR] = $1} END {if (NR == 0) {print "nan"; exit} i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i]}'; }

for c in nats-server rrdcached curl; do
	command -v "$c" >/dev/null || { row skipped - "$c not installed"; exit 0; }
done
[ -x "$GEN" ] || { row skipped - "$GEN not built"; exit 0; }

T=$(gw_tmpdir)
# gw_tmpdir runs in a $(...) subshell, so its own removal hook is lost: register it here
# (first, so it runs last: after every process below is gone).
gw_cleanup_add "rm -rf '$T'"
reap() {
	local i
	for i in $(seq 50); do [ -z "$(jobs -pr)" ] && return 0; sleep 0.1; done
	kill -9 $(jobs -pr) 2>/dev/null; wait 2>/dev/null
}
gw_cleanup_add reap
gw_nats_start "$T/nats" || { row error - "NATS cluster did not form"; exit 0; }

declare -a HP OPID
# start_shards K TAG: K shards (own rrdcached, db; tests/lib/nats.sh); fills HP[1..K], OPID[1..K].
start_shards() {
	local k=$1 tag=$2 s d
	for s in $(seq 1 "$k"); do
		d=$T/$tag-s$s
		gw_shard_rrdcached "$d" 10 || { note "rrdcached $tag-s$s did not start"; return 1; }
	done
	for s in $(seq 1 "$k"); do
		d=$T/$tag-s$s
		GW_SHARD_HP[$s]=""   # a new port per measurement
		gw_shard_start "$s" "$tag-s$s" "$d" "$d/op.log" --listen "ipc://$d/op.sock" \
			--policy "$T/policy" --log-level warn ||
			{ note "shard $tag-s$s did not start: $(tail -n 2 "$d/op.log")"; return 1; }
		HP[$s]=${GW_SHARD_HP[$s]}; OPID[$s]=${GW_SHARD_PID[$s]}
	done
}

# After a measurement: SIGKILL (an orderly stop would first create every pending customer's RRD
# file, 1 MB each), then the RRD files go at once (disk use stays bounded).
stop_shards() {  # K TAG
	local s
	for s in $(seq 1 "$1"); do kill -9 "${OPID[$s]}" 2>/dev/null; done
	for s in $(seq 1 "$1"); do
		wait "${OPID[$s]}" 2>/dev/null
		kill "$(cat "$T/$2-s$s/rrdcached.pidof" 2>/dev/null)" 2>/dev/null
	done
	sleep 0.3
	rm -rf "$T/$2"-s*/rrd "$T/$2"-s*/journal
}
stat_sum() {  # K FIELD: sum of /api/v1/stats FIELD over shards 1..K
	local s sum=0 v
	for s in $(seq 1 "$1"); do
		v=$(curl -fsS "http://127.0.0.1:${HP[$s]}/api/v1/stats" 2>/dev/null |
			$PY -c "import json,sys; print(json.load(sys.stdin)['$2'])" 2>/dev/null || echo 0)
		sum=$((sum + v))
	done
	echo "$sum"
}
# load K TAG N RATE SECONDS: N probes split over K shards; waits until all is accepted (or 60 s).
# Prints "seconds accepted sent lost".
load() {
	local k=$1 tag=$2 n=$3 rate=$4 secs=$5 s per t0 t1 sent=0 acc=0 lost gens=""
	per=$((n / k))
	t0=$(now)
	for s in $(seq 1 "$k"); do
		"$GEN" --connect "ipc://$T/$tag-s$s/op.sock" --probes "$per" --rate "$rate" --duration "$secs" \
			--prefix "$tag$s-" >"$T/$tag-gen$s.json" 2>/dev/null &
		gens="$gens $!"
	done
	wait $gens 2>/dev/null
	for s in $(seq 1 "$k"); do
		sent=$((sent + $($PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["hello_sent"] + j["stats_sent"])' "$T/$tag-gen$s.json" 2>/dev/null || echo 0)))
	done
	for _ in $(seq 600); do
		acc=$(stat_sum "$k" accepted)
		[ "$acc" -ge "$sent" ] && break
		sleep 0.1
	done
	t1=$(now)
	lost=$(stat_sum "$k" lost)
	echo "$(calc "$t1 - $t0" 3) $acc $sent $lost"
}

printf 'ban_timeout_s 600\nglobal_min_probes 2\nglobal_window_s 60\n' >"$T/policy"

# ---- ingest, unpaced ----
N=${BENCH_SHARDS_PROBES:-600}
REPS=${BENCH_SHARDS_REPS:-100}
for k in 1 3; do
	: >"$T/ingest-$k"
	for r in $(seq 1 "$RUNS"); do
		start_shards "$k" "i$k$r" || { stop_shards "$k" "i$k$r"; continue; }
		res=$(load "$k" "i$k$r" "$N" 0 "$REPS")
		note "ingest $k shard(s) run $r: $res (s accepted sent lost)"
		echo "$res" >>"$T/ingest-$k"
		stop_shards "$k" "i$k$r"
	done
done
[ -s "$T/ingest-1" ] && [ -s "$T/ingest-3" ] || { row ingest error "no result"; exit 0; }
e1=$(awk '{print $2 / $1}' "$T/ingest-1" | median)
e3=$(awk '{print $2 / $1}' "$T/ingest-3" | median)
row "ingest 1 shard envelopes/s" "$(calc "$e1" 0)" "$N probes unpaced x $REPS reports + hello, until all accepted"
row "ingest 3 shards envelopes/s" "$(calc "$e3" 0)" "same probes split over 3 shards (one host: shards share its $(nproc) cores)"
row "ingest 3 shards / 1 shard" "$(calc "$e3 / $e1" 2)" "ratio within this run"

# ---- probes held with zero loss (paced 1 report/s) ----
SECS=${BENCH_SHARDS_SECONDS:-10}
for k in 1 3; do
	held=0
	for n in ${BENCH_SHARDS_LADDER:-500 1000 2000}; do
		start_shards "$k" "z$k-$n" || { stop_shards "$k" "z$k-$n"; break; }
		read -r t acc sent lost <<<"$(load "$k" "z$k-$n" "$n" 1 "$SECS")"
		stop_shards "$k" "z$k-$n"
		note "paced $k shard(s) N=$n: accepted $acc of $sent, lost $lost"
		[ "$acc" -ge "$sent" ] && [ "$lost" = 0 ] || break
		held=$n
	done
	eval "held$k=$held"
done
top=$(echo ${BENCH_SHARDS_LADDER:-500 1000 2000} | awk '{print $NF}')
atop() { [ "$1" = "$top" ] && echo ">= $1 (ladder top)" || echo "$1"; }
row "probes held, 1 shard" "$(atop "$held1")" "largest N of ladder (${BENCH_SHARDS_LADDER:-500 1000 2000}) at 1 report/s, ${SECS}s, all accepted, 0 lost"
row "probes held, 3 shards" "$(atop "$held3")" "same, probes split over 3 shards"
if [ "$held1" -gt 0 ] && [ "$held1" != "$top" ]; then
	row "probes held 3 shards / 1 shard" "$(calc "$held3 / $held1" 2)" "ladder resolution"
else
	row "probes held 3 shards / 1 shard" "n/a" "1 shard already held the ladder top; raise BENCH_SHARDS_LADDER (1 MB RRD per probe)"
fi

# ---- cluster-wide list latency: /api/v1/customers through one shard, merged vs its own ----
NC=${BENCH_SHARDS_LIST_PROBES:-300}
Q=${BENCH_SHARDS_LIST_REQS:-30}
if start_shards 3 list; then
	gens=""
	for s in 1 2 3; do
		"$GEN" --connect "ipc://$T/list-s$s/op.sock" --probes $((NC / 3)) --rate 1 --duration 3 \
			--prefix "l$s-" >/dev/null 2>&1 &
		gens="$gens $!"
	done
	wait $gens
	sleep 1
	lat() {  # PATH: Q request times (s), one a line
		local i
		for i in $(seq 1 "$Q"); do
			curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:${HP[2]}$1"
		done
	}
	n=$(curl -s "http://127.0.0.1:${HP[2]}/api/v1/customers" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["customers"]))')
	lat "/api/v1/customers?scope=local" >"$T/lat-local"
	lat "/api/v1/customers" >"$T/lat-merged"
	row "customers list, one shard's own, median" "$(calc "$(median <"$T/lat-local")" 3) s" "GET /api/v1/customers?scope=local at s2, $Q requests"
	row "customers list, cluster-wide, median" "$(calc "$(median <"$T/lat-merged")" 3) s" "GET /api/v1/customers at s2: 3 lists of $((NC / 3)) customers merged ($n distinct: gw-loadgen's customer ids coincide across shards), $Q requests; p90 $(calc "$(pct 90 <"$T/lat-merged")" 3) s"
	kill -9 "${OPID[3]}"; wait "${OPID[3]}" 2>/dev/null
	lat "/api/v1/customers" >"$T/lat-dead"
	row "customers list, one shard dead, median" "$(calc "$(median <"$T/lat-dead")" 3) s" "s3 killed: partial answer (s3 missing), connection refused"
	kill -STOP "${OPID[1]}"
	Q=5 lat "/api/v1/customers" >"$T/lat-hung"
	kill -CONT "${OPID[1]}"
	row "customers list, one shard hung, median" "$(calc "$(median <"$T/lat-hung")" 3) s" "s1 stopped (SIGSTOP): waits FORWARD_FANOUT_MS (1.5 s) for it, then partial; 5 requests"
	stop_shards 3 list
else
	row "customers list latency" error "shards did not start"
	stop_shards 3 list
fi

# ---- event to ban everywhere (live probes; root) ----
if [ "$(id -u)" != 0 ] || ! command -v hping3 >/dev/null; then
	row "event-to-ban latency" skipped "needs root and hping3"
	exit 0
fi
cat >"$T/thresholds" <<'EOF'
syn_flood.rx.pps 500
syn_flood.rx.bps 100000000
hysteresis.clear_s 0.5
hysteresis.holddown_s 0
unusual_port.enabled 0
EOF
start_shards 3 lat || { row "event-to-ban latency" error "shards did not start"; exit 0; }
OPS="ipc://$T/lat-s1/op.sock,ipc://$T/lat-s2/op.sock,ipc://$T/lat-s3/op.sock"
NSP=gwbsh-$$
IDS="b0 b1 b2 b3 b4 b5"
for id in $IDS; do
	ip netns add "$NSP-$id" || { row "event-to-ban latency" error "cannot create namespaces"; exit 0; }
	gw_cleanup_add "ip netns del $NSP-$id 2>/dev/null"
	ip -n "$NSP-$id" link set lo up
	ip -n "$NSP-$id" addr add 10.0.101.10/24 dev lo
	ip netns exec "$NSP-$id" "$PROBE" -i lo --immediate --customer "c-$id" --lan-prefix 10.0.101.0/24 \
		--probe-id "$id" --operator "$OPS" --thresholds "$T/thresholds" --interval 1 --heartbeat 1 \
		--enforce dry-run >"$T/p-$id.log" 2>&1 &
done
sleep 3
# Two probes on different shards (from their start-up log line).
owner() { grep -o 'lat-s[0-9]' "$T/p-$1.log" | head -1; }
X=""; Y=""
for id in $IDS; do
	[ -z "$X" ] && { X=$id; continue; }
	[ -z "$Y" ] && [ "$(owner "$id")" != "$(owner "$X")" ] && Y=$id
done
all_banned() {
	local id
	for id in $IDS; do grep -q "dry-run: $1/32 banned" "$T/p-$id.log" || return 1; done
}
: >"$T/lat"
K=${BENCH_SHARDS_BANS:-10}
for i in $(seq 1 "$K"); do
	src=198.51.100.$((100 + i))
	t0=$(now)
	floods=""
	for id in $X $Y; do
		ip netns exec "$NSP-$id" timeout 20 hping3 -q -S -p 80 -a "$src" -i u500 -c 4000 10.0.101.10 >/dev/null 2>&1 &
		floods="$floods $!"
	done
	for _ in $(seq 1000); do all_banned "$src" && break; sleep 0.02; done
	t1=$(now)
	all_banned "$src" && echo "$(calc "$t1 - $t0" 3)" >>"$T/lat"
	wait $floods 2>/dev/null
	sleep 2   # the detectors clear the flood before the next source
done
n=$(wc -l <"$T/lat")
row "flood start -> ban at all 6 probes, median" "$(median <"$T/lat") s" "$n of $K sources; probes on 2 of 3 shards see the flood (2000 pps SYN); includes detection"
row "flood start -> ban at all 6 probes, p99" "$(pct 99 <"$T/lat") s" "max of $n at this sample size"
