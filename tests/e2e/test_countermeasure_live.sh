#!/bin/bash
# test_countermeasure_live.sh: the whole countermeasure loop with real parts, in sealed namespaces.
# attacker ns (198.51.100.0/24) -> gateway ns (forwards; gatewatch-probe --enforce on, CURVE, ipc://)
# -> victim ns (10.0.101.10); rrdcached + gatewatch-operator in the root namespace (ipc socket on
# the file system + tcp on loopback for the API tools). hping3 SYN floods with a fixed spoofed
# source from 198.51.100.0/24. Checks: event at the operator, policy ban (decided_by policy:flood),
# the element in the probe's nft set, packets at the victim stop, detection/reaction latency
# (median of several runs), an unlisted CURVE key refused, the probe's allowlist holds (row
# failed with the reason), bans expire, manual ban/unban with gatewatchctl, an operator restart
# with the same --db re-sends the bans in force, a probe restart gets them again, and a clean
# probe exit removes its table.
set -u
B=${GW_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
OP=$B/gatewatch-operator
PROBE=$B/gatewatch-probe
CTL=$B/gatewatchctl
RUNS=${GW_CM_RUNS:-3}

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces, nftables)"; exit 0; fi
for c in ip nft hping3 rrdcached curl python3; do
	command -v "$c" >/dev/null || { echo "SKIP: $c not installed"; exit 0; }
done
for x in "$OP" "$PROBE" "$CTL"; do [ -x "$x" ] || { echo "FAIL: missing $x"; exit 1; }; done

ID=$$
NA=gwcm-a-$ID; NG=gwcm-g-$ID; NV=gwcm-v-$ID
T=$(mktemp -d /tmp/gwcm.XXXXXX)
OP_PID=""; PR_PID=""; ROGUE_PID=""; HP_PID=""
FAILS=0
START_S=$SECONDS

cleanup() {
	for p in $HP_PID $ROGUE_PID $PR_PID $OP_PID; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $HP_PID $ROGUE_PID $PR_PID $OP_PID; do kill -9 "$p" 2>/dev/null; done
	[ -f "$T/rrdcached.pid" ] && kill "$(cat "$T/rrdcached.pid")" 2>/dev/null
	for n in "$NA" "$NG" "$NV"; do ip netns del "$n" 2>/dev/null; done
	sleep 0.1
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib/checks.sh"
fatal() {
	echo "FAIL $*"
	echo "--- operator log"; tail -n 25 "$T/op.log" 2>/dev/null
	echo "--- probe log"; tail -n 25 "$T/probe.log" 2>/dev/null
	exit 1
}
now() { date +%s.%N; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ZPORT=$(free_port); HPORT=$(free_port)
[ "$ZPORT" != "$HPORT" ] || HPORT=$(free_port)
API=http://127.0.0.1:$HPORT
export GATEWATCH_URL=$API

# --- sealed topology: veth pairs between our own namespaces only ---
# The victim never answers the spoofed sources (their replies would go nowhere useful).
. "$(dirname "$0")/../lib/netlab.sh"
gw_netlab3 "$NA" "$NG" "$NV" wan0 lan0 sealed || fatal "cannot create the namespace lab"
# Attack packets reaching the victim, counted before routing.
ip netns exec "$NV" nft -f - <<'EOF' || fatal "victim counter"
table inet cnt {
	counter attack { }
	chain pre {
		type filter hook prerouting priority -400; policy accept;
		ip saddr { 198.51.100.0/24, 192.0.2.0/24 } tcp dport 80 counter name attack
	}
}
EOF
victim_packets() {
	ip netns exec "$NV" nft list counter inet cnt attack | grep -o 'packets [0-9]*' | grep -o '[0-9]*'
}

# --- keys, policy, thresholds ---
"$OP" --keygen "$T" op >/dev/null 2>&1 && "$OP" --keygen "$T" g1 >/dev/null 2>&1 &&
	"$OP" --keygen "$T" rogue >/dev/null 2>&1 || fatal "keygen"
pub() { awk '$1 == "public" {print $2}' "$1"; }
echo "g1 $(pub "$T/g1.pub")" >"$T/probe-keys"
printf 'ban_timeout_s 3\n' >"$T/policy"
cat >"$T/thresholds" <<'EOF'
syn_flood.rx.pps 500
syn_flood.rx.bps 100000000
hysteresis.clear_s 0.5
hysteresis.holddown_s 0
unusual_port.enabled 0
EOF

# --- rrdcached and the operator (root namespace) ---
mkdir -p "$T/rrd" "$T/journal"
rrdcached -l "unix:$T/rrdcached.sock" -p "$T/rrdcached.pid" -b "$T/rrd" -B \
	-j "$T/journal" -w 5 -z 1 -F 2>"$T/rrdcached.err" || fatal "rrdcached did not start"
for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && break; sleep 0.1; done

start_operator() {
	"$OP" --listen "tcp://127.0.0.1:$ZPORT,ipc://$T/op.sock" --http "127.0.0.1:$HPORT" \
		--rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock" --db "$T/gw.db" \
		--policy "$T/policy" --curve-secret-file "$T/op.key" --probe-keys "$T/probe-keys" \
		>>"$T/op.log" 2>&1 &
	OP_PID=$!
	for _ in $(seq 50); do curl -sf "$API/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
	fatal "operator not serving"
}
start_probe() {
	ip netns exec "$NG" "$PROBE" -i wan0 --customer c1 --lan-prefix 10.0.101.0/24 \
		--enforce on --allow 198.51.100.50/32 --operator "ipc://$T/op.sock" --probe-id g1 \
		--curve-server-key "$T/op.pub" --curve-key "$T/g1.key" --thresholds "$T/thresholds" \
		--interval 1 --heartbeat 1 >>"$T/probe.log" 2>&1 &
	PR_PID=$!
}
# jq-like access to the API with python: q PATH EXPR (EXPR sees d = the JSON reply).
q() {
	curl -sf "$API$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}
probe_known() { [ "$(q /api/v1/probes 'sum(1 for p in d["probes"] if p["id"] == "g1" and p["software"])')" = 1 ]; }
in_set() { ip netns exec "$NG" nft list set inet gatewatch banned4 2>/dev/null | grep -qw "$1"; }
wait_for() {  # wait_for SECONDS CMD...: polls every 20 ms
	local until=$(( $(date +%s%N) + ${1%.*} * 1000000000 ))
	shift
	while [ "$(date +%s%N)" -lt "$until" ]; do "$@" && return 0; sleep 0.02; done
	return 1
}

start_operator
start_probe
wait_for 10 probe_known || fatal "probe g1 never said hello over ipc:// with CURVE"
ok "probe g1 connected over ipc:// (CURVE) and said hello"
check "probe created table inet gatewatch with set banned4" \
	bash -c "ip netns exec $NG nft list set inet gatewatch banned4 >/dev/null"

# --- an unlisted CURVE key is refused ---
ip netns exec "$NG" "$PROBE" -i lo --probe-id rogue --enforce off --operator "ipc://$T/op.sock" \
	--curve-server-key "$T/op.pub" --curve-key "$T/rogue.key" --interval 1 --heartbeat 1 \
	>"$T/rogue.log" 2>&1 &
ROGUE_PID=$!
zap_denied() { [ "$(q /api/v1/stats 'd["zap_denied"]')" -gt 0 ]; }
check "unlisted CURVE key refused (zap_denied counted)" wait_for 6 zap_denied
check "no envelope from the unlisted key accepted" \
	test "$(q /api/v1/probes 'sum(1 for p in d["probes"] if p["id"] == "rogue")')" = 0
kill "$ROGUE_PID" 2>/dev/null; wait "$ROGUE_PID" 2>/dev/null; ROGUE_PID=""

# --- floods: detection, policy ban, nft element, packets stop; latencies over RUNS runs ---
# The probe names a flood's source from its top-talker sketch, which halves once a second: a
# source that flooded a few seconds ago can still outweigh a new one. Floods start at least
# QUIET_S after the previous one stopped, so each run is attributed to its own source.
QUIET_S=8
LAST_STOP=0
quiet_gap() { sleep "$(python3 -c "print(max(0, $LAST_STOP + $QUIET_S - $(now)))")"; }
flood() {  # flood SRC SECONDS: bounded SYN flood from spoofed SRC to the victim
	ip netns exec "$NA" timeout "$2" hping3 -q -S -p 80 -i u150 -c 40000 -a "$1" 10.0.101.10 \
		>/dev/null 2>&1 &
	HP_PID=$!
}
stop_flood() {
	[ -n "$HP_PID" ] && kill "$HP_PID" 2>/dev/null
	wait "$HP_PID" 2>/dev/null
	HP_PID=""
	LAST_STOP=$(now)
}
# event_received SRC SINCE: operator receive time of the first syn_flood event from SRC
event_received() {
	q "/api/v1/events?kind=syn_flood&since=$2&limit=1000" \
		"min([e['received'] for e in d['events'] if e['src'] == '$1' and not e['cleared']] or [0])"
}
# cm FIELD SRC: a field of the newest ban countermeasure of SRC
cm() { q "/api/v1/countermeasures?action=ban&limit=1000" \
	"([c['$1'] for c in d['countermeasures'] if c['address'] == '$2'] or ['none'])[0]"; }
cm_state_is() { [ "$(cm state "$1")" = "$2" ]; }
cm_acknowledged() {
	case $(cm state "$1") in active | expired) test "$(cm applied_ts "$1")" != None ;; *) return 1 ;; esac
}
flood_cleared() {
	[ "$(q "/api/v1/events?kind=syn_flood&since=$1" 'sum(1 for e in d["events"] if e["cleared"])')" -gt 0 ]
}

DET=(); REACT=()
for i in $(seq 1 "$RUNS"); do
	SRC=198.51.100.$((10 + i))
	quiet_gap
	v0=$(victim_packets)
	t0=$(now)
	flood "$SRC" 12
	if ! wait_for 5 in_set "$SRC"; then
		stop_flood
		fail "run $i: $SRC never reached the nft set"
		continue
	fi
	t_nft=$(now)
	v_ban=$(victim_packets)
	sleep 0.3                      # packets already in flight are through
	v1=$(victim_packets); sleep 1; v2=$(victim_packets)
	stop_flood
	det=$(event_received "$SRC" "${t0%.*}")
	d=$(python3 -c "print('%.3f' % ($det - $t0))"); r=$(python3 -c "print('%.3f' % ($t_nft - $t0))")
	DET+=("$d"); REACT+=("$r")
	echo "     run $i: src $SRC detection ${d}s reaction ${r}s; victim got $((v_ban - v0)) attack" \
		"packets before the ban, $((v2 - v1)) in the second after"
	check "run $i: syn_flood event from $SRC at the operator" test "$det" != 0
	check "run $i: attack packets reached the victim before the ban ($((v_ban - v0)))" \
		test $((v_ban - v0)) -ge 50
	check "run $i: fewer than 20 attack packets/s reach the victim after the ban ($((v2 - v1)))" \
		test $((v2 - v1)) -lt 20
	check "run $i: decided by the policy" test "$(cm decided_by "$SRC")" = policy:flood
	# The ban lasts 3 s: on a loaded machine the row may already say expired when this looks.
	# Either way the probe must have acknowledged it (applied_ts set by the probe's reply).
	check "run $i: countermeasure applied (acknowledged; active, or expired after its 3 s)" \
		wait_for 2 cm_acknowledged "$SRC"
	if [ "$i" = 1 ]; then
		# Policy ban timeout 3 s: the element goes and the row says expired.
		check "ban expires: element gone from the nft set" wait_for 6 bash -c "! ip netns exec $NG nft list set inet gatewatch banned4 | grep -qw $SRC"
		check "ban expires: countermeasure row expired" wait_for 3 cm_state_is "$SRC" expired
		check "expired row has lifted_ts" test "$(cm lifted_ts "$SRC")" != None
	fi
	wait_for 4 flood_cleared "${t_nft%.*}" || echo "     (no clear event yet)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
MD=$(median "${DET[@]}"); MR=$(median "${REACT[@]}")
echo "LATENCY detection (attack start -> event at operator) median ${MD}s over ${#DET[@]} runs [${DET[*]}] (target < 0.5 s)"
echo "LATENCY reaction (attack start -> nft element present) median ${MR}s over ${#REACT[@]} runs [${REACT[*]}] (target < 1 s)"
check "detection median < 2 s" python3 -c "import sys; sys.exit(0 if float('$MD') < 2 else 1)"
check "reaction median < 2 s" python3 -c "import sys; sys.exit(0 if float('$MR') < 2 else 1)"

# --- the probe's allowlist holds: event, no element, row failed with the reason ---
ALLOWED=198.51.100.50
quiet_gap
t0=$(now)
flood "$ALLOWED" 5
got_event() { [ "$(event_received "$ALLOWED" "${t0%.*}")" != 0 ]; }
check "allowlisted flood still yields an event" wait_for 5 got_event
check "allowlisted source refused: countermeasure failed" wait_for 3 cm_state_is "$ALLOWED" failed
MSG=$(cm result_message "$ALLOWED")
check "failure reason recorded ($MSG)" grep -qi allow <<<"$MSG"
check "allowlisted source never in the nft set" bash -c "! ip netns exec $NG nft list set inet gatewatch banned4 | grep -qw $ALLOWED"
stop_flood

# --- manual ban/unban with gatewatchctl ---
OUT=$("$CTL" ban 192.0.2.77 --timeout 60 --probe g1 --reason "e2e manual" 2>&1)
check "gatewatchctl ban accepted" grep -q 'ban requested' <<<"$OUT"
check "manual ban: element in the nft set" wait_for 3 in_set 192.0.2.77
check "gatewatchctl bans lists it" bash -c "'$CTL' bans | grep -q 192.0.2.77"
check "gatewatchctl events lists the floods" bash -c "'$CTL' events --since ${t0%.*} | grep -q syn_flood"
OUT=$("$CTL" unban 192.0.2.77 2>&1)
check "gatewatchctl unban accepted" grep -q 'unban requested' <<<"$OUT"
check "manual unban: element gone" wait_for 3 bash -c "! ip netns exec $NG nft list set inet gatewatch banned4 | grep -qw 192.0.2.77"
check "manual ban row lifted" test "$(cm state 192.0.2.77)" = lifted

# --- operator crash (SIGKILL) and restart with the same --db: bans in force are re-sent ---
"$CTL" ban 192.0.2.88 --timeout 120 --reason "survives restarts" >/dev/null 2>&1
check "global ban in place before the restart" wait_for 3 in_set 192.0.2.88
kill -KILL "$OP_PID"; wait "$OP_PID" 2>/dev/null; OP_PID=""   # a crash, not a clean exit
# Lose the element while the operator is away: only a re-send can bring it back.
ip netns exec "$NG" nft delete element inet gatewatch banned4 '{ 192.0.2.88 }'
check "element removed while the operator is down" bash -c "! ip netns exec $NG nft list set inet gatewatch banned4 | grep -qw 192.0.2.88"
start_operator
check "probe reconnects to the restarted operator" wait_for 8 bash -c "curl -sf $API/api/v1/probes | grep -q '\"g1\"'"
check "restarted operator re-sent the ban in force" wait_for 5 in_set 192.0.2.88
check "ban still active in the database after the restart" test "$(cm state 192.0.2.88)" = active

# --- probe restart: clean exit removes the table, the new run gets the ban again ---
kill -TERM "$PR_PID"; wait "$PR_PID" 2>/dev/null; PR_PID=""
check "clean probe exit removed table inet gatewatch" bash -c "! ip netns exec $NG nft list table inet gatewatch >/dev/null 2>&1"
start_probe
check "restarted probe's new table gets the ban again" wait_for 8 in_set 192.0.2.88
"$CTL" unban 192.0.2.88 >/dev/null 2>&1
check "unban after restarts" wait_for 3 bash -c "! ip netns exec $NG nft list set inet gatewatch banned4 | grep -qw 192.0.2.88"
kill -TERM "$PR_PID"; wait "$PR_PID" 2>/dev/null; PR_PID=""
check "final clean exit removed the table" bash -c "! ip netns exec $NG nft list table inet gatewatch >/dev/null 2>&1"
kill -TERM "$OP_PID"; wait "$OP_PID"; rc=$?; OP_PID=""
check "operator exits cleanly ($rc)" test "$rc" = 0

echo "elapsed $((SECONDS - START_S)) s"
if [ "$FAILS" -gt 0 ]; then
	echo "--- operator log"; tail -n 40 "$T/op.log"
	echo "--- probe log"; tail -n 40 "$T/probe.log"
	echo "FAIL: $FAILS checks failed"; exit 1
fi
echo "PASS"
