#!/bin/bash
# demo.sh: gatewatch as a live lab, for a bounded time. Builds 4 gateway namespaces with
# deploy/lab/lab (homes behind NAT gateways, an internet namespace with servers, an
# attacker), runs a probe per gateway (--enforce on), rrdcached, the operator and the
# dashboard on this host, and drives real traffic: SIP calls with RTP, repeated HTTP
# downloads, DNS queries (some slow, some NXDOMAIN), TV-like UDP and a bulk TCP download.
# c102's WAN is impaired (delay, jitter, loss: its SLA breaks on purpose). At a fixed
# moment a SYN flood from one spoofed 198.51.100.0/24 source hits c103: it is detected,
# banned by the operator's policy, dropped in c103's gateway, and the ban expires before
# the end. A live table is printed every few seconds, then the story with real figures.
# Reads nothing outside the repository (no capture corpus).
#
# Usage: demo.sh [BUILD_DIR]   (as root; BUILD_DIR default ./build)
# Environment:
#   DEMO_SECONDS  traffic time, 40..3600 (default 90)
#   DEMO_HTTP     operator HTTP address for the API and dashboard (default 127.0.0.1:8080)
#   DEMO_PREFIX   lab namespace prefix (default gwdemo-)
#   DEMO_STATE    state directory (default /run/gatewatch-demo): lab/ (removed at the end)
#                 and run/ (database, RRD files, logs, lab-logs/, story.json; kept)
#   DEMO_CHECK    a command run after the story while everything is still up, with
#                 DEMO_API, DEMO_RUN, DEMO_STORY, DEMO_PREFIX, DEMO_LAB_STATE exported;
#                 its failure makes the demo fail
#   DEMO_QUIET=1  no live table (the story and the checks still run)
# Ctrl-C at any point stops everything and removes what the demo made. Exit status 0 when
# the stack ran, the check passed and nothing was left behind; 1 otherwise; 130 on Ctrl-C.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

B=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "demo: no build directory '${1:-build}'" >&2; exit 1; }
TOP=$(cd "$(dirname "$0")/.." && pwd)
LAB=$TOP/deploy/lab/lab
DUR=${DEMO_SECONDS:-90}
HTTP=${DEMO_HTTP:-127.0.0.1:8080}
PREFIX=${DEMO_PREFIX:-gwdemo-}
STATE=${DEMO_STATE:-/run/gatewatch-demo}
RUN=$STATE/run
PY=/usr/bin/python3
N=4                                 # customers c101..c104
NETEM_C=c102 NETEM_DELAY=20 NETEM_JITTER=8 NETEM_LOSS=5 NETEM_DIR=both
CLEAN_C=c104
VICTIM=c103 VICTIM_IDX=3 ATTACK_SRC=198.51.100.66 ATTACK_RATE=1500 ATTACK_S=8
BAN_TIMEOUT=12

die() { echo "demo: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, live capture, nftables)"
[[ $DUR =~ ^[0-9]+$ ]] && [ "$DUR" -ge 40 ] && [ "$DUR" -le 3600 ] || die "DEMO_SECONDS must be 40..3600, got '$DUR'"
[[ $HTTP =~ ^[0-9.]+:[0-9]+$ ]] || die "DEMO_HTTP must be ADDR:PORT, got '$HTTP'"
[[ $PREFIX =~ ^[a-z0-9][a-z0-9-]{0,11}$ ]] || die "DEMO_PREFIX must be 1-12 of [a-z0-9-], got '$PREFIX'"
for x in gatewatch-operator gatewatch-probe gatewatch-enforcer gatewatchctl tools/gw-udpgen tools/gw-netem; do
	[ -x "$B/$x" ] || die "missing $B/$x (run make)"
done
for c in ip nft rrdcached hping3 iperf3 curl "$PY"; do
	command -v "$c" >/dev/null || die "$c is not installed (make deps)"
done
if ss -Htln "sport = :${HTTP##*:}" | grep -q .; then die "port ${HTTP##*:} is in use (set DEMO_HTTP)"; fi

API=http://$HTTP
CTL=("$B/gatewatchctl" -u "$API")
export GW_LAB_PREFIX=$PREFIX GW_LAB_STATE=$STATE/lab GW_BUILD=$B
export GW_LAB_OPERATOR=ipc://$RUN/operator.sock
export GW_PROBE_ARGS="--enforce on --thresholds $RUN/thresholds --allow 100.64.255.254/32 --heartbeat 1"
T_START=$(date +%s.%N)
JOBS=()
OP_PID=""
STOPPING=0

now() { date +%s.%N; }
rel() { awk -v a="$(now)" -v b="$T_START" 'BEGIN { printf "t+%5.1fs", a - b }'; }
say() { echo "[$(rel)] $*"; }
fact() { echo "$1 $2" >>"$RUN/facts"; }
at() { awk -v k="$1" -v b="$T_START" '$1 == k { printf "t+%.1fs", $2 - b; exit }' "$RUN/facts"; }

# Everything the demo made, gone: background jobs, lab (namespaces, their processes and
# nft tables), operator, rrdcached, sockets. Then verify.
cleanup() {
	local p left="" t
	set +e
	[ $STOPPING = 1 ] && return
	STOPPING=1
	for p in "${JOBS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	# gw-netem prints its counters when stopped; keep the lab's logs before they go.
	for p in "$GW_LAB_STATE"/pids/netem-*.pid; do [ -f "$p" ] && kill -TERM "$(cat "$p")" 2>/dev/null; done
	sleep 0.3
	[ -d "$GW_LAB_STATE/logs" ] && rm -rf "$RUN/lab-logs" && cp -r "$GW_LAB_STATE/logs" "$RUN/lab-logs"
	"$LAB" down >/dev/null 2>&1 || "$LAB" down
	if [ -n "$OP_PID" ]; then
		kill -TERM "$OP_PID" 2>/dev/null
		for t in $(seq 50); do kill -0 "$OP_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$OP_PID" 2>/dev/null
	fi
	if [ -f "$RUN/rrdcached.pid" ]; then
		p=$(cat "$RUN/rrdcached.pid")
		kill -TERM "$p" 2>/dev/null
		for t in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	fi
	for p in "${JOBS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -f "$RUN/operator.sock" "$RUN/rrdcached.sock" "$RUN/rrdcached.pid"
	# Verify: no namespace with the prefix, no process we started, no socket.
	t=$(ip netns list | awk '{print $1}' | grep "^$PREFIX" | tr '\n' ' ')
	[ -n "$t" ] && left="$left namespaces: $t;"
	for p in "${JOBS[@]}" $OP_PID; do kill -0 "$p" 2>/dev/null && left="$left process $p;"; done
	t=$(find "$STATE" -type s 2>/dev/null | tr '\n' ' ')
	[ -n "$t" ] && left="$left sockets: $t;"
	if [ -n "$left" ]; then
		echo "demo: cleanup left:$left" >&2
		return 1
	fi
	echo "demo: stopped; nothing left behind (namespaces, processes, nft tables, sockets)." \
		"Data kept in $RUN (gatewatch.db, rrd/, logs, lab-logs/, story.json)"
}
on_signal() {
	echo
	echo "demo: interrupted, cleaning up"
	cleanup
	exit 130
}
trap on_signal INT TERM
trap 'cleanup || exit 1' EXIT

bg() { "$@" & JOBS+=($!); }   # a background job of ours, stopped by cleanup

# ---------------------------------------------------------------- stack
"$LAB" down >/dev/null 2>&1            # a crashed earlier demo with this prefix
rm -rf "$RUN"
mkdir -p "$RUN/rrd" "$RUN/journal"
: >"$RUN/facts"
fact t_start "$T_START"
cat >"$RUN/policy" <<EOF
# demo policy: floods are banned at the reporting probe for $BAN_TIMEOUT s
ban_timeout_s $BAN_TIMEOUT
EOF
cat >"$RUN/thresholds" <<EOF
# demo thresholds: a SYN flood is 500 packets/s toward a customer
syn_flood.rx.pps 500
EOF
rrdcached -l "unix:$RUN/rrdcached.sock" -p "$RUN/rrdcached.pid" -b "$RUN/rrd" -B \
	-j "$RUN/journal" -w 10 -z 2 -F 2>"$RUN/rrdcached.log" || die "rrdcached did not start ($RUN/rrdcached.log)"
"$B/gatewatch-operator" --listen "$GW_LAB_OPERATOR" --http "$HTTP" --rrd-dir "$RUN/rrd" \
	--rrdcached "unix:$RUN/rrdcached.sock" --db "$RUN/gatewatch.db" --policy "$RUN/policy" \
	--dashboard-dir "$TOP/dashboards" --history 3600 >"$RUN/operator.log" 2>&1 &
OP_PID=$!
for _ in $(seq 100); do curl -sf "$API/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$API/healthz" >/dev/null 2>&1 || die "operator not serving on $API ($RUN/operator.log)"
say "operator up: API $API, ZeroMQ $GW_LAB_OPERATOR"

"$LAB" up $N --probes 2>"$RUN/lab.log" || die "lab up failed: $(tail -n 5 "$RUN/lab.log")"
"$LAB" netem $NETEM_C --delay $NETEM_DELAY --jitter $NETEM_JITTER --loss $NETEM_LOSS \
	--dir $NETEM_DIR --seconds $((DUR + 60)) >>"$RUN/lab.jsonl" 2>>"$RUN/lab.log" || die "lab netem failed"
"$LAB" services $((DUR + 20)) >>"$RUN/lab.jsonl" 2>>"$RUN/lab.log" || die "lab services failed"
probes_up() {
	[ "$(curl -sf "$API/api/v1/probes" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["probes"]))' 2>/dev/null)" = $N ]
}
for _ in $(seq 100); do probes_up && break; sleep 0.1; done
probes_up || die "not all $N probes said hello ($GW_LAB_STATE/logs)"
fact netem_customer $NETEM_C; fact clean_customer $CLEAN_C
fact netem_delay_ms $NETEM_DELAY; fact netem_jitter_ms $NETEM_JITTER
fact netem_loss_pct $NETEM_LOSS; fact netem_dir $NETEM_DIR
fact victim $VICTIM; fact attack_src $ATTACK_SRC; fact ban_timeout_s $BAN_TIMEOUT
say "lab up: $N gateways (${PREFIX}g1..g$N), a probe in each (--enforce on); $NETEM_C's WAN:" \
	"delay ${NETEM_DELAY} ms, jitter +-${NETEM_JITTER} ms, loss ${NETEM_LOSS}% each way"
echo "    Dashboard: http://$HTTP/     API: $API/api/v1/customers     CLI: ${CTL[*]} customers"

# ---------------------------------------------------------------- traffic
TR=$((DUR - 6))                       # generators stop a little before the end
T_TRAFFIC=$(now); fact t_traffic "$T_TRAFFIC"
L() { "$LAB" "$@" >>"$RUN/lab.jsonl" 2>>"$RUN/lab.log"; }
bg L sip $NETEM_C $TR --calls 2
bg L sip $CLEAN_C $TR
bg L fetch $NETEM_C $TR --every 1
bg L fetch $CLEAN_C $TR --every 2
for c in c101 c102 c103 c104; do bg L dns $c $TR --rate 2 --slow-every 5 --nx-every 25; done
bg L traffic tv $TR --scale 0.1 --customers c101
bg L traffic web $TR --scale 0.2 --customers c103
bg $PY "$TOP/deploy/lab/demo-story.py" sample --api "$API" --out "$RUN/samples.jsonl" --seconds $((DUR + 2))
say "traffic: 2 SIP calls on $NETEM_C and 1 on $CLEAN_C (RTP PCMU 20 ms), HTTP downloads on" \
	"$NETEM_C/$CLEAN_C, DNS 2 q/s everywhere, TV-like UDP on c101, bulk TCP on c103"

# The attack at a fixed moment; a watcher notes when the ban appears in and leaves the
# victim gateway's nft set.
AT=$((DUR * 35 / 100))
attack() {
	sleep "$AT"
	echo "t_attack $(now)" >>"$RUN/facts"
	"$LAB" attack syn $VICTIM $ATTACK_S --rate $ATTACK_RATE --src $ATTACK_SRC >"$RUN/attack.json" 2>>"$RUN/lab.log"
	echo "t_attack_end $(now)" >>"$RUN/facts"
}
watch_ban() {
	local until inset=0 t
	sleep "$AT"
	until=$(( $(date +%s) + ATTACK_S + BAN_TIMEOUT + 20 ))
	while [ "$(date +%s)" -lt "$until" ]; do
		t=$(now)
		if ip netns exec "${PREFIX}g$VICTIM_IDX" nft list set inet gatewatch banned4 2>/dev/null | grep -qw "$ATTACK_SRC"; then
			[ $inset = 0 ] && { echo "t_nft_in $t" >>"$RUN/facts"; inset=1; }
		elif [ $inset = 1 ]; then
			echo "t_nft_out $t" >>"$RUN/facts"; return
		fi
		sleep 0.05
	done
}
bg attack
bg watch_ban

# ---------------------------------------------------------------- live table
END=$(awk -v a="$T_TRAFFIC" -v d="$DUR" 'BEGIN { printf "%d", a + d }')
said_attack=0 said_ban=0 said_lift=0
while [ "$(date +%s)" -lt "$END" ]; do
	sleep 5
	kill -0 "$OP_PID" 2>/dev/null || die "the operator died ($RUN/operator.log)"
	if [ $said_attack = 0 ] && grep -q '^t_attack ' "$RUN/facts"; then
		say "ATTACK at $(at t_attack): SYN flood $ATTACK_RATE pps from $ATTACK_SRC (spoofed) -> $VICTIM for ${ATTACK_S} s"
		said_attack=1
	fi
	if [ $said_ban = 0 ] && grep -q '^t_nft_in ' "$RUN/facts"; then
		say "BAN at $(at t_nft_in): $ATTACK_SRC is in ${PREFIX}g$VICTIM_IDX's nft set (operator policy, probe enforces)"
		said_ban=1
	fi
	if [ $said_lift = 0 ] && grep -q '^t_nft_out ' "$RUN/facts"; then
		say "BAN LIFTED at $(at t_nft_out): $ATTACK_SRC expired from the nft set"; said_lift=1
	fi
	[ "${DEMO_QUIET:-0}" = 1 ] && continue
	echo "---- $(rel) live per-customer table ----"
	"${CTL[@]}" customers 2>&1 || true
done

# ---------------------------------------------------------------- story
for p in "${JOBS[@]}"; do wait "$p" 2>/dev/null; done   # generators are bounded
JOBS=()
sleep 2                                                  # the last intervals arrive
FAIL=0
kill -0 "$OP_PID" 2>/dev/null || die "the operator died ($RUN/operator.log)"
for f in "$GW_LAB_STATE"/pids/probe-*.pid; do
	kill -0 "$(cat "$f")" 2>/dev/null || { echo "demo: probe $(basename "$f" .pid) died" >&2; FAIL=1; }
done
dropped=$(ip netns exec "${PREFIX}g$VICTIM_IDX" nft list chain inet gatewatch prerouting 2>/dev/null |
	awk '/saddr @banned4/ { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }')
fact nft_dropped "$dropped"
fact attack_packets "$(grep -o '"packets":[0-9]*' "$RUN/attack.json" 2>/dev/null | grep -o '[0-9]*$' || echo 0)"
# gw-netem's own counters for the impaired link (SIGUSR1: print and go on).
nf=$GW_LAB_STATE/pids/netem-$NETEM_C.pid
if [ -f "$nf" ] && kill -USR1 "$(cat "$nf")" 2>/dev/null; then
	sleep 0.3
	tail -n 1 "$GW_LAB_STATE/logs/netem-$NETEM_C.log" | $PY -c '
import json, sys
d = json.loads(sys.stdin.read())
for k in ("down", "up"):
    print("netem_%s_frames %d" % (k, d[k]["rx"]))
    print("netem_%s_lost %d" % (k, d[k]["lost"]))
    print("netem_%s_late_jitter_ms %.3f" % (k, d[k].get("late_jitter_ms", 0)))' >>"$RUN/facts" 2>/dev/null
fi
grep -q '^t_nft_in ' "$RUN/facts" || fact t_nft_in 0
grep -q '^t_nft_out ' "$RUN/facts" || fact t_nft_out 0
grep -q '^t_attack ' "$RUN/facts" || fact t_attack 0
echo
if ! $PY "$TOP/deploy/lab/demo-story.py" story --api "$API" --facts "$RUN/facts" \
	--samples "$RUN/samples.jsonl" --out "$RUN/story.json"; then
	FAIL=1
fi
echo "Dashboard: http://$HTTP/  (up until the demo ends)"
echo "Demo wall time so far: $(awk -v a="$(now)" -v b="$T_START" 'BEGIN { printf "%.1f s", a - b }')"

if [ -n "${DEMO_CHECK:-}" ]; then
	export DEMO_API=$API DEMO_RUN=$RUN DEMO_STORY=$RUN/story.json DEMO_PREFIX=$PREFIX DEMO_LAB_STATE=$GW_LAB_STATE
	echo "---- DEMO_CHECK: $DEMO_CHECK"
	bash -c "$DEMO_CHECK" || { echo "demo: DEMO_CHECK failed" >&2; FAIL=1; }
fi
trap - EXIT
cleanup || FAIL=1
echo "Demo wall time: $(awk -v a="$(now)" -v b="$T_START" 'BEGIN { printf "%.1f s", a - b }')"
exit $FAIL
