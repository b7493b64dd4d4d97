#!/bin/bash
# test_fault_kill.sh: crashes under load, on loopback. gw-loadgen (simulated probes) feeds the
# operator through rrdcached (-w 3600: points stay in rrdcached's cache and journal).
# 1. rrdcached SIGKILL while another load runs: the RRD files themselves do not have the points
#    yet; a new rrdcached replays its journal and every point it had acknowledged to the
#    operator (rrd_updates) is there with the value sent; the operator reconnects and replays
#    what it produced while rrdcached was down (its backlog): every step of the load that ran
#    through the crash is in the RRD with the value sent (0 holes), none counted as an error,
#    and none dropped (the backlog is far from full; a dropped step would be a counted hole).
# 2. operator SIGKILL under load: events and bans in SQLite intact (every event seen before
#    the kill is there after the restart, the ban is still active, integrity_check ok), every
#    RRD point written before the kill is right, at least as many as were acknowledged.
set -u
B=${GW_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
OP=$B/gatewatch-operator
LG=$B/tools/gw-loadgen
CHECK=$(dirname "$0")/fault_lg_check.py
for c in rrdcached rrdtool curl python3; do
	command -v "$c" >/dev/null || { echo "SKIP: $c not installed"; exit 0; }
done
for x in "$OP" "$LG"; do [ -x "$x" ] || { echo "FAIL: missing $x"; exit 1; }; done

T=$(mktemp -d /tmp/gwkill.XXXXXX)
OP_PID=""; RC_PID=""; LG_PID=""
FAILS=0
START_S=$SECONDS
cleanup() {
	for p in $LG_PID $OP_PID $RC_PID; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $LG_PID $OP_PID $RC_PID; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib/checks.sh"
fatal() { echo "FAIL $*"; echo "--- operator log"; tail -n 30 "$T/op.log"; exit 1; }
wait_for() {
	local n=$(( $1 * 5 )); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.2; done
	return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ZPORT=$(free_port); HPORT=$(free_port)
[ "$ZPORT" != "$HPORT" ] || HPORT=$(free_port)
API=http://127.0.0.1:$HPORT
SOCK=unix:$T/rrdcached.sock
stat_of() { curl -sf "$API/api/v1/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

start_rrdcached() {
	rrdcached -l "$SOCK" -p "$T/rrdcached.pid" -b "$T/rrd" -B -j "$T/journal" -w 3600 -z 1 -F -g \
		>>"$T/rrdcached.log" 2>&1 &
	RC_PID=$!
	for _ in $(seq 50); do [ -S "$T/rrdcached.sock" ] && return 0; sleep 0.1; done
	fatal "rrdcached did not start"
}
start_operator() {
	"$OP" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" --rrd-dir "$T/rrd" \
		--rrdcached "$SOCK" --db "$T/gw.db" --seq-state "$T/seq.state" >>"$T/op.log" 2>&1 &
	OP_PID=$!
	for _ in $(seq 50); do curl -sf "$API/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
	fatal "operator not serving"
}
mkdir -p "$T/rrd" "$T/journal"
start_rrdcached
start_operator

# --- 1. rrdcached SIGKILL ---
# 20 probes x 5 customers, 61 reports each: steps ..010 .. ..060 complete (600 points).
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 20 --customers 5 --rate 0 --duration 61 \
	--prefix la --start-ts 1700000000 --log "$T/a.jsonl" >"$T/a.json" || fatal "loadgen a"
check "rrdcached acknowledged the 600 points" wait_for 20 bash -c "[ \$(curl -sf $API/api/v1/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"rrd_updates\"])') -ge 600 ]"
acked=$(stat_of rrd_updates)
# Load while rrdcached dies: 40 more probes x 2 customers, 2 reports/s for 12 s.
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 40 --customers 2 --rate 2 --duration 12 \
	--prefix lb --start-ts 1700002000 --log "$T/b.jsonl" >"$T/b.json" 2>&1 &
LG_PID=$!
sleep 3
kill -KILL "$RC_PID"; wait "$RC_PID" 2>/dev/null; RC_PID=""
t_kill=$(date +%s)
last=$(rrdtool last "$T/rrd/c000000.rrd")
echo "rrdcached killed; c000000.rrd on disk last updated at $last; $acked points acknowledged"
check "the points were only in rrdcached's cache and journal" test "$last" -lt 1700000060
ls "$T/journal" | grep -q . || fail "no journal file"
sleep 2
rm -f "$T/rrdcached.sock"
start_rrdcached
t_replayed=$(date +%s)
OUT=$(python3 "$CHECK" "$T/a.jsonl" "$SOCK" "$T/rrd" 1700000000 1700000060 all 2>&1); rc=$?
echo "after journal replay: $OUT" | tail -n 3
check "every acknowledged point is back after the journal replay" test "$rc" = 0
wait "$LG_PID"; LG_PID=""
check "operator reconnected to the new rrdcached" wait_for 40 bash -c "[ \$(curl -sf $API/api/v1/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"rrd_reconnects\"])') -ge 1 ]"
kill -0 "$OP_PID" 2>/dev/null || fatal "operator died with rrdcached"
# The last (partial) steps are written after 15 s idle: wait until every step of a (100 x 7)
# and b (80 x 3) is written or failed, so that phase 2 counts its own points only.
done_b() {
	curl -sf "$API/api/v1/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin)
sys.exit(0 if d["rrd_updates"] + d["rrd_errors"] + d["rrd_dropped"] >= 940 and d["rrd_pending"] == 0 else 1)'
}
check "every step of loads a and b handled" wait_for 60 done_b
errs=$(stat_of rrd_errors); dropped=$(stat_of rrd_dropped); retried=$(stat_of rrd_retried)
echo "store after the rrdcached crash: updates $(stat_of rrd_updates) errors $errs retried $retried" \
	"dropped $dropped reconnects $(stat_of rrd_reconnects)"
check "no step written while rrdcached was down counted as an error ($errs)" test "$errs" = 0
check "no step dropped from the backlog ($dropped)" test "$dropped" = 0
OUT_B=$(python3 "$CHECK" "$T/b.jsonl" "$SOCK" "$T/rrd" 1700002000 1700002030 all 2>&1); rc=$?
echo "load through the crash: $OUT_B" | tail -n 3
check "every step of the load through the crash is in the RRD (0 holes)" test "$rc" = 0
echo "FIGURES rrdcached_kill: acked_before=$acked restart_s=$((t_replayed - t_kill)) replay_check='$(tail -n 1 <<<"$OUT")' through_crash='$(tail -n 1 <<<"$OUT_B")' retried=$retried errors=$errs dropped=$dropped"

# --- 2. operator SIGKILL under load ---
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-d '{"address":"198.51.100.99","prefix_len":32,"timeout_s":3600,"reason":"survives a crash"}' \
	"$API/api/v1/bans")
check "ban accepted ($code)" test "$code" = 201
u0=$(stat_of rrd_updates)
"$LG" --connect "tcp://127.0.0.1:$ZPORT" --probes 30 --customers 4 --rate 5 --duration 8 \
	--prefix lc --start-ts 1700004000 --log "$T/c.jsonl" >"$T/c.json" 2>&1 &
LG_PID=$!
sleep 4
curl -sf "$API/api/v1/events?limit=1000" >"$T/events.json" || fatal "events"
curl -sf "$API/api/v1/bans" >"$T/bans.json" || fatal "bans"
u1=$(stat_of rrd_updates)
kill -KILL "$OP_PID"; wait "$OP_PID" 2>/dev/null; OP_PID=""
wait "$LG_PID"; LG_PID=""
n_ev=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["events"]))' "$T/events.json")
echo "operator killed under load: $n_ev events and $(grep -o '"id"' "$T/bans.json" | wc -l) bans seen before; $((u1 - u0)) points acknowledged in this phase"
check "integrity_check of the database after the crash" \
	bash -c "[ \"\$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"pragma integrity_check\").fetchone()[0])' $T/gw.db)\" = ok ]"
start_operator
python3 - "$T" "$API" <<'PY' || fail "events and bans intact after the crash"
import json, sys, urllib.request
T, API = sys.argv[1], sys.argv[2]
before = json.load(open(T + "/events.json"))["events"]
after = {e["id"]: e for e in json.load(urllib.request.urlopen(API + "/api/v1/events?limit=1000"))["events"]}
assert before, "no events before the kill"
for e in before:
    a = after.get(e["id"])
    assert a is not None, ("event lost", e)
    for k in ("kind", "customer", "probe", "ts"):
        assert a.get(k) == e.get(k), (k, e, a)
bans = {b["id"]: b for b in json.load(urllib.request.urlopen(API + "/api/v1/bans"))["bans"]}
old = json.load(open(T + "/bans.json"))["bans"]
assert [b["address"] for b in old] == ["198.51.100.99"], old
for b in old:   # still in force (pending: the simulated probes never apply it)
    a = bans.get(b["id"])
    assert a is not None and a["state"] in ("pending", "active"), (b, a)
    for k in ("address", "prefix_len", "scope", "expires_ts", "reason"):
        assert a[k] == b[k], (k, b, a)
print(f"{len(before)} events from before the crash intact ({len(after)} now); ban in force")
PY
[ $FAILS = 0 ] && ok "events and bans intact after the crash"
OUT=$(python3 "$CHECK" "$T/c.jsonl" "$SOCK" "$T/rrd" 1700004000 1700004040 some 2>&1); rc=$?
echo "$OUT" | tail -n 3
check "points written before the operator crash are right" test "$rc" = 0
present=$(sed -n 's/.*present \([0-9]*\).*/\1/p' <<<"$OUT")
check "at least the acknowledged points are there ($present >= $((u1 - u0)))" test "${present:-0}" -ge $((u1 - u0))
kill -TERM "$OP_PID"; wait "$OP_PID"; rc=$?; OP_PID=""
check "operator exits cleanly after all this ($rc)" test "$rc" = 0
echo "FIGURES operator_kill: events_before=$n_ev acked_in_phase=$((u1 - u0)) rrd_points_found=$present"
echo "elapsed $((SECONDS - START_S)) s"
[ "$FAILS" = 0 ] || { tail -n 30 "$T/op.log"; echo "FAIL: $FAILS checks failed"; exit 1; }
echo PASS
