# fault_common.sh: shared set-up of the fault tests (sourced by test_fault_*.sh, bash).
# One sealed namespace (loopback only) with a bounded UDP generator and a live probe on its lo;
# rrdcached and the operator in the root namespace, the probe reaching it over ipc:// on the
# file system, the API on 127.0.0.1. Everything is killed and removed on exit.
set -u
B=${GW_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
OP=$B/gatewatch-operator
PROBE=$B/gatewatch-probe
UDPGEN=$B/tools/gw-udpgen

if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (network namespaces)"; exit 0; fi
for c in ip rrdcached rrdtool curl python3; do
	command -v "$c" >/dev/null || { echo "SKIP: $c not installed"; exit 0; }
done
for x in "$OP" "$PROBE" "$UDPGEN"; do [ -x "$x" ] || { echo "FAIL: missing $x"; exit 1; }; done

NS=gwflt-$$
T=$(mktemp -d /tmp/gwflt.XXXXXX)
OP_PID=""; PR_PID=""; GS_PID=""; GC_PID=""
FAILS=0
START_S=$SECONDS

fault_cleanup() {
	for p in $GC_PID $GS_PID $PR_PID $OP_PID; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $GC_PID $GS_PID $PR_PID $OP_PID; do kill -9 "$p" 2>/dev/null; done
	[ -f "$T/rrdcached.pid" ] && kill "$(cat "$T/rrdcached.pid")" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	sleep 0.1
	rm -rf "$T"
}
trap fault_cleanup EXIT

. "$(dirname "${BASH_SOURCE[0]}")/../lib/checks.sh"
fatal() {
	echo "FAIL $*"
	echo "--- operator log"; tail -n 25 "$T/op.log" 2>/dev/null
	echo "--- probe log"; tail -n 25 "$T/probe.log" 2>/dev/null
	exit 1
}
# wait_for SECONDS CMD...: true as soon as CMD succeeds (polled every 0.2 s).
wait_for() {
	local n=$(( $1 * 5 )); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.2; done
	return 1
}
fault_finish() {
	echo "elapsed $((SECONDS - START_S)) s"
	if [ "$FAILS" -gt 0 ]; then
		echo "--- operator log"; tail -n 40 "$T/op.log"
		echo "--- probe log"; tail -n 40 "$T/probe.log"
		echo "FAIL: $FAILS checks failed"; exit 1
	fi
	echo "PASS"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HPORT=$(free_port)
API=http://127.0.0.1:$HPORT
# q PATH EXPR: EXPR evaluated with d = the API's JSON reply.
q() {
	curl -sf "$API$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}
# probe_field PROBE FIELD: one field of the operator's view of a probe.
probe_field() {
	q /api/v1/probes "[p['$2'] for p in d['probes'] if p['id'] == '$1'][0]"
}

ip netns add "$NS" || fatal "cannot create the namespace"
ip -n "$NS" link set lo up

mkdir -p "$T/rrd" "$T/journal"
rrdcached -l "unix:$T/rrdcached.sock" -p "$T/rrdcached.pid" -b "$T/rrd" -B \
	-j "$T/journal" -w 5 -z 1 -F 2>"$T/rrdcached.err" || fatal "rrdcached did not start"
for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && break; sleep 0.1; done

start_operator() {
	"$OP" --listen "ipc://$T/op.sock" --http "127.0.0.1:$HPORT" \
		--rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock" --db "$T/gw.db" \
		--seq-state "$T/seq.state" >>"$T/op.log" 2>&1 &
	OP_PID=$!
	for _ in $(seq 50); do curl -sf "$API/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
	fatal "operator not serving"
}
stop_operator() {
	kill -TERM "$OP_PID"; wait "$OP_PID"; local rc=$?; OP_PID=""
	return $rc
}
# start_generator SECONDS: 1 RTP-like stream each way on the namespace's loopback.
start_generator() {
	local port=$(( 30000 + $$ % 20000 ))
	ip netns exec "$NS" "$UDPGEN" serve --bind "127.0.0.1:$port" --seconds "$1" \
		>"$T/gen-serve.json" 2>"$T/gen-serve.err" &
	GS_PID=$!
	sleep 0.3
	ip netns exec "$NS" "$UDPGEN" client --server "127.0.0.1:$port" --seconds "$1" \
		--stream 1:400000:120000:200:0 >"$T/gen-client.json" 2>"$T/gen-client.err" &
	GC_PID=$!
}
# start_probe JSONL [extra options...]: the live probe pf1 on the namespace's lo.
start_probe() {
	local out=$1; shift
	ip netns exec "$NS" "$PROBE" -i lo --snaplen 256 --customer c1 \
		--lan-prefix 127.0.0.0/8 --operator "ipc://$T/op.sock" --probe-id pf1 \
		--heartbeat 3600 --jsonl "$out" "$@" >>"$T/probe.log" 2>&1 &
	PR_PID=$!
}
stop_probe() {
	kill -INT "$PR_PID"; wait "$PR_PID"; local rc=$?; PR_PID=""
	return $rc
}
# The probe's last publish summary: "next_seq N sent N late N dropped N backlog_peak_bytes N".
probe_pub() {
	grep 'publish: next_seq' "$T/probe.log" | tail -n 1 |
		sed -n "s/.* $1 \([0-9]*\).*/\1/p"
}
