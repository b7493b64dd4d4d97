#!/bin/bash
# test_fault_operator_down.sh: the operator is down for GW_FAULT_DOWN_S seconds (default 30;
# `make bench` uses 60) while a live probe keeps capturing a bounded generator in a sealed
# namespace. The probe keeps what fits in its --queue-bytes budget (GW_FAULT_BUDGET, default
# 12288 bytes: about 24 s of reports at --interval 0.25, so the rest of the outage is dropped)
# and sends it when the operator is back.
# Checks: the probe dropped some and sent some late; the restarted operator (--seq-state)
# counts exactly the probe's drops as lost and saw every other envelope; the RRD steps of the
# buffered part are there and equal the probe's own JSON Lines; the operator still serves.
DOWN_S=${GW_FAULT_DOWN_S:-30}
BUDGET=${GW_FAULT_BUDGET:-12288}
WARM_S=15
AFTER_S=12
. "$(dirname "$0")/fault_common.sh"

start_operator
start_generator $(( WARM_S + DOWN_S + AFTER_S + 30 ))
start_probe "$T/run1.jsonl" --interval 0.25 --queue-bytes "$BUDGET"
check "probe seen by the operator" wait_for 10 bash -c "curl -sf $API/api/v1/probes | grep -q '\"pf1\"'"
sleep "$WARM_S"

# Stop between two reports (they leave at multiples of 0.25 s): nothing in flight.
python3 -c 'import time; t=time.time(); time.sleep((0.125 - t % 0.25) % 0.25)'
t_down=$(date +%s.%N)
check "operator stops cleanly" stop_operator
read -r _ s1 lost1 _ < <(grep '^pf1 ' "$T/seq.state")
echo "first operator run: last seq $s1, lost $lost1 (from --seq-state)"
check "first run: every seq 0..$s1 arrived" test "$lost1" = 0
sleep "$DOWN_S"
t_up=$(date +%s.%N)
start_operator
check "probe reconnects" wait_for 10 bash -c "curl -sf $API/api/v1/probes | grep -q '\"pf1\"'"
sleep "$AFTER_S"
check "probe exits cleanly" stop_probe
kill "$GC_PID" "$GS_PID" 2>/dev/null; GC_PID=""; GS_PID=""

next_seq=$(probe_pub next_seq); dropped=$(probe_pub dropped); late=$(probe_pub late)
peak=$(probe_pub backlog_peak_bytes)
drop_from=$(sed -n 's/.*dropping from seq \([0-9]*\).*/\1/p' "$T/probe.log" | head -n 1)
echo "probe: next_seq $next_seq late $late dropped $dropped backlog_peak_bytes $peak" \
	"(budget $BUDGET) first dropped seq ${drop_from:-none}; outage ${DOWN_S} s"
check "the probe kept envelopes during the outage and sent them late" test "${late:-0}" -gt 0
check "the budget held" test "${peak:-0}" -le "$BUDGET"
check "part of the outage did not fit and was dropped" test "${dropped:-0}" -gt 0 -a -n "$drop_from"

# The operator got the last envelope (next_seq - 1); then its counters are final.
check "operator got the probe's last envelope" wait_for 10 \
	bash -c "[ \"\$(curl -sf $API/api/v1/probes | python3 -c 'import json,sys; print([p[\"seq\"] for p in json.load(sys.stdin)[\"probes\"] if p[\"id\"] == \"pf1\"][0])')\" = $((next_seq - 1)) ]"
lost=$(probe_field pf1 lost); dups=$(probe_field pf1 duplicates)
restarts=$(probe_field pf1 restarts)
echo "operator: lost $lost duplicates $dups restarts $restarts"
check "lost at the operator == dropped at the probe ($lost == $dropped)" test "$lost" = "$dropped"
check "no duplicates, no restart" test "$dups" = 0 -a "$restarts" = 0
# Every envelope after the first run's last: accepted by the second run, or counted lost.
m2=$(probe_field pf1 messages)
echo "operator (second run): messages $m2 for seqs $((s1 + 1))..$((next_seq - 1))"
check "second run: accepted + lost == envelopes sent after seq $s1" \
	test $((m2 + lost - lost1)) = $((next_seq - 1 - s1))
check "the JSON Lines hold every envelope but the Hello" \
	test $(( $(grep -c . "$T/run1.jsonl") + 1 )) = "$next_seq"

check "operator stops cleanly" stop_operator
RRD=$T/rrd/c1.rrd
rrdtool flushcached --daemon "unix:$T/rrdcached.sock" "$RRD" 2>/dev/null
rrdtool fetch "$RRD" AVERAGE -r 10 -s "$(( ${t_down%.*} - 60 ))" -e "$(( ${t_up%.*} + AFTER_S ))" \
	--daemon "unix:$T/rrdcached.sock" >"$T/fetch.txt" || fatal "rrdtool fetch"
OUT=$(python3 "$(dirname "$0")/fault_rrd_check.py" "$T/run1.jsonl" c1 "$T/fetch.txt" 1 \
	"$drop_from" "$dropped" "$t_down" "$t_down" "$t_up" 2>&1); rc=$?
echo "$OUT" | tail -n 5
check "RRD steps equal the probe's intervals, none missing for the buffered part" test "$rc" = 0
inside=$(sed -n 's/.*inside the outage \([0-9]*\).*/\1/p' <<<"$OUT")
check "at least one full RRD step of the outage came from the buffer ($inside)" test "${inside:-0}" -ge 1
echo "FIGURES operator_down_s=$DOWN_S budget_bytes=$BUDGET backlog_peak_bytes=$peak sent_late=$late" \
	"dropped=$dropped operator_lost=$lost rrd_steps_from_buffer=$inside"
fault_finish
