#!/bin/bash
# test_fault_probe_restart.sh: a live probe (--enforce on, in a sealed namespace) restarts while
# the operator runs. Checks: a ban in force is back in the new run's nftables set (the operator
# re-sends it on the new Hello), the operator sees one restart (sequence back to 0) and counts
# no loss and no duplicates, every envelope of both runs is counted once, and the RRD steps
# equal the two runs' JSON Lines (no double counting across the restart).
RUN_S=20
. "$(dirname "$0")/fault_common.sh"
command -v nft >/dev/null || { echo "SKIP: nft not installed"; exit 0; }
in_set() { ip netns exec "$NS" nft list set inet gatewatch banned4 2>/dev/null | grep -qw "$1"; }

start_operator
start_generator $(( 2 * RUN_S + 30 ))
start_probe "$T/run1.jsonl" --interval 0.5 --enforce on --allow 127.0.0.1/32
check "probe seen by the operator" wait_for 10 bash -c "curl -sf $API/api/v1/probes | grep -q '\"pf1\"'"
code=$(curl -s -o "$T/ban.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	-d '{"address":"192.0.2.55","prefix_len":32,"timeout_s":600,"probe":"pf1","reason":"fault test"}' \
	"$API/api/v1/bans")
check "ban accepted ($code)" test "$code" = 201
check "ban in the probe's nftables set" wait_for 5 in_set 192.0.2.55
sleep "$RUN_S"
t_stop=$(date +%s.%N)
check "probe exits cleanly" stop_probe
n1=$(probe_pub next_seq); d1=$(probe_pub dropped)
check "clean exit removed table inet gatewatch" \
	bash -c "! ip netns exec $NS nft list table inet gatewatch >/dev/null 2>&1"
start_probe "$T/run2.jsonl" --interval 0.5 --enforce on --allow 127.0.0.1/32
t_start=$(date +%s.%N)
check "the restarted probe's new table gets the ban again" wait_for 8 in_set 192.0.2.55
sleep "$RUN_S"
check "probe exits cleanly again" stop_probe
n2=$(probe_pub next_seq); d2=$(probe_pub dropped)
echo "probe runs: next_seq $n1 and $n2, dropped $d1 and $d2"
check "operator got the second run's last envelope" wait_for 10 \
	bash -c "[ \"\$(curl -sf $API/api/v1/probes | python3 -c 'import json,sys; print([p[\"seq\"] for p in json.load(sys.stdin)[\"probes\"] if p[\"id\"] == \"pf1\"][0])')\" = $((n2 - 1)) ]"
msgs=$(probe_field pf1 messages); lost=$(probe_field pf1 lost)
dups=$(probe_field pf1 duplicates); restarts=$(probe_field pf1 restarts)
echo "operator: messages $msgs lost $lost duplicates $dups restarts $restarts"
check "one restart seen" test "$restarts" = 1
check "no loss, no duplicates across the restart" test "$lost" = 0 -a "$dups" = 0 -a "$d1$d2" = 00
check "every envelope of both runs counted once ($msgs == $n1 + $n2)" test "$msgs" = $((n1 + n2))
check "operator stops cleanly" stop_operator
kill "$GC_PID" "$GS_PID" 2>/dev/null; GC_PID=""; GS_PID=""

RRD=$T/rrd/c1.rrd
cat "$T/run1.jsonl" "$T/run2.jsonl" >"$T/both.jsonl"
rrdtool flushcached --daemon "unix:$T/rrdcached.sock" "$RRD" 2>/dev/null
rrdtool fetch "$RRD" AVERAGE -r 10 -s "$(( ${t_stop%.*} - RUN_S - 20 ))" -e "$(( ${t_start%.*} + RUN_S + 10 ))" \
	--daemon "unix:$T/rrdcached.sock" >"$T/fetch.txt" || fatal "rrdtool fetch"
OUT=$(python3 "$(dirname "$0")/fault_rrd_check.py" "$T/both.jsonl" c1 "$T/fetch.txt" 1 0 0 \
	"$t_stop:$t_start" 0 0 2>&1); rc=$?
echo "$OUT" | tail -n 5
check "RRD steps equal the sum of both runs' intervals" test "$rc" = 0
fault_finish
