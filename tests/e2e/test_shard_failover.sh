#!/bin/bash
# test_shard_failover.sh: exact sequence accounting across shard failover (issue 10). Two
# standalone operators A and B (no NATS), each with its own --seq-state, RRD dir and API, both
# on one rrdcached (fault_common.sh: namespace, generator, rrdcached); a live probe with
# --operator A,B over ipc:// reports to its owner (rendezvous rank 1). The owner is SIGSTOPped
# (its kernel still accepts: the probe must see the missing ZMTP greeting), SIGCONTed, later
# SIGKILLed and restarted with its --seq-state; each time the probe moves to the other shard and
# back. Checks, from both operators' APIs and the probe's own publish summary:
#   - the probe moved 4 times, and back to the owner at the end (it holds the last seq);
#   - duplicates 0 at both; each shard's forwarded_elsewhere > 0 (it was told what went away);
#   - accepted(A) + accepted(B) + lost(A) + lost(B) == envelopes the probe stamped: every seq
#     is counted once, as accepted or as lost, at exactly one shard (the old behaviour
#     counted the seqs that went to B as lost at A too, did not notice the SIGSTOP, and
#     forgot the accepted count at the restart: 8 of these checks failed);
#   - lost(A) + lost(B) >= the probe's own drops; the rest are envelopes in flight to a shard
#     that stopped or died (in ZeroMQ's queue or the kernel's buffers: no ack tells the probe)
#     and, after the SIGKILL, those the owner accepted after its last --seq-state write
#     (ingest.h): printed, and bounded here by 2 x ZeroMQ's queue (6) + 8;
#   - no stats interval (customer c1's ts) is in both shards' live history.
# Runs about 60 s. GW_SF_STOP_S (default 6) is each outage.
STOP_S=${GW_SF_STOP_S:-6}
. "$(dirname "$0")/fault_common.sh"

OPA=""; OPB=""
sf_cleanup() {
	for p in $OPA $OPB; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $OPA $OPB; do kill -9 "$p" 2>/dev/null; done
	fault_cleanup
}
trap sf_cleanup EXIT

PORT_A=$(free_port); PORT_B=$(free_port)
EP_A="ipc://$T/a.sock"; EP_B="ipc://$T/b.sock"
mkdir -p "$T/rrd/a" "$T/rrd/b"
# start_shard A|B: operator NAME on its own socket, port, RRD dir, database and seq state.
start_shard() {
	local n=$1 port ep lc
	lc=$(tr AB ab <<<"$n")
	if [ "$n" = A ]; then port=$PORT_A; ep=$EP_A; else port=$PORT_B; ep=$EP_B; fi
	"$OP" --listen "$ep" --http "127.0.0.1:$port" --rrd-dir "$T/rrd/$lc" \
		--rrdcached "unix:$T/rrdcached.sock" --db "$T/$lc.db" \
		--seq-state "$T/$lc.state" >>"$T/op-$lc.log" 2>&1 &
	if [ "$n" = A ]; then OPA=$!; else OPB=$!; fi
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done
	fatal "operator $n not serving"
}
# pf PORT FIELD: one field of that operator's view of probe pf1 (0 when it has none).
pf() {
	curl -sf "http://127.0.0.1:$1/api/v1/probes" | python3 -c '
import json, sys
v = [p for p in json.load(sys.stdin)["probes"] if p["id"] == "pf1"]
print(int(v[0][sys.argv[1]]) if v else 0)' "$2"
}
moves() { grep -c 'moving to' "$T/probe.log"; }
# current: the endpoint of the probe's last move (or its first one).
current() {
	{ sed -n 's/.*shard: reporting to \([^ ]*\) .*/\1/p' "$T/probe.log"
	  sed -n 's/.*moving to \([^ ]*\)$/\1/p' "$T/probe.log"; } | tail -n 1
}

start_shard A
start_shard B
start_generator 120
# --queue 6: ZeroMQ's queue is 6 too, and it holds envelopes only while connected
# (publish.h), so the probe drops (and counts) what it stamps while its shard is not taking
# them, until it has moved.
start_probe "$T/run.jsonl" --interval 0.25 --queue 6 --operator "$EP_A,$EP_B"
check "probe started" wait_for 10 grep -q 'shard: reporting to' "$T/probe.log"
OWNER_EP=$(current)
if [ "$OWNER_EP" = "$EP_A" ]; then OWN=A; OTH=B; OWN_PORT=$PORT_A; OTH_PORT=$PORT_B
else OWN=B; OTH=A; OWN_PORT=$PORT_B; OTH_PORT=$PORT_A; fi
own_pid() { if [ "$OWN" = A ]; then echo "$OPA"; else echo "$OPB"; fi; }
echo "owner (rank 1) of pf1: $OWN ($OWNER_EP)"
check "owner sees the probe" wait_for 10 bash -c "[ \$(curl -sf http://127.0.0.1:$OWN_PORT/api/v1/probes | grep -c '\"pf1\"') -gt 0 ]"
sleep 4

# 1. SIGSTOP: the kernel still accepts connections, the operator does not greet.
kill -STOP "$(own_pid)"
check "SIGSTOP: probe moves to $OTH" wait_for 10 bash -c "[ \$(grep -c 'moving to' $T/probe.log) -ge 1 ]"
sleep "$STOP_S"
kill -CONT "$(own_pid)"
check "SIGCONT: probe moves back to $OWN" wait_for 15 bash -c "[ \$(grep -c 'moving to' $T/probe.log) -ge 2 ]"
sleep 4

# 2. SIGKILL, restart with the same --seq-state.
kill -9 "$(own_pid)"; wait "$(own_pid)" 2>/dev/null
check "SIGKILL: probe moves to $OTH" wait_for 10 bash -c "[ \$(grep -c 'moving to' $T/probe.log) -ge 3 ]"
sleep "$STOP_S"
start_shard "$OWN"
check "restart: probe moves back to $OWN" wait_for 15 bash -c "[ \$(grep -c 'moving to' $T/probe.log) -ge 4 ]"
sleep 4
check "probe exits cleanly" stop_probe
kill "$GC_PID" "$GS_PID" 2>/dev/null; GC_PID=""; GS_PID=""

next_seq=$(probe_pub next_seq); dropped=$(probe_pub dropped); sent=$(probe_pub sent)
echo "probe: next_seq $next_seq sent $sent dropped $dropped moves $(moves) now at $(current)"
check "four moves, ending at the owner" test "$(moves)" = 4 -a "$(current)" = "$OWNER_EP"
check "owner got the probe's last envelope" wait_for 10 \
	bash -c "[ \"\$(curl -sf http://127.0.0.1:$OWN_PORT/api/v1/probes | python3 -c 'import json,sys; print([p[\"seq\"] for p in json.load(sys.stdin)[\"probes\"] if p[\"id\"] == \"pf1\"][0])')\" = $((next_seq - 1)) ]"
for f in accepted lost duplicates forwarded_elsewhere restarts; do
	eval "o_$f=\$(pf $OWN_PORT $f)"; eval "t_$f=\$(pf $OTH_PORT $f)"
done
echo "owner $OWN: accepted $o_accepted lost $o_lost duplicates $o_duplicates" \
	"forwarded_elsewhere $o_forwarded_elsewhere restarts $o_restarts"
echo "other $OTH: accepted $t_accepted lost $t_lost duplicates $t_duplicates" \
	"forwarded_elsewhere $t_forwarded_elsewhere restarts $t_restarts"
check "no duplicates at either shard" test "$o_duplicates" = 0 -a "$t_duplicates" = 0
check "no probe restart seen" test "$o_restarts" = 0 -a "$t_restarts" = 0
check "both shards were told what went elsewhere" \
	test "$o_forwarded_elsewhere" -gt 0 -a "$t_forwarded_elsewhere" -gt 0
total=$((o_accepted + t_accepted + o_lost + t_lost))
check "accepted + lost over both shards == seqs stamped ($total == $next_seq)" \
	test "$total" = "$next_seq"
lost=$((o_lost + t_lost)); inflight=$((lost - dropped))
echo "lost at A+B $lost = probe drops $dropped + in flight at a stop/kill $inflight"
check "lost at A+B >= the probe's drops" test "$lost" -ge "$dropped"
# Bound: ZeroMQ's queue (--queue 6) at each of the two moves away from a stopped or dead
# shard, plus what the killed operator accepted after its last seq-state write (about 1 s:
# 4 intervals; 8 leaves room for a loaded host).
check "in-flight loss bounded ($inflight <= 20)" test "$inflight" -le 20

# Intervals: none in both shards' live history (the killed owner's holds those since its restart).
series() {
	curl -sf "http://127.0.0.1:$1/api/v1/customers/c1" |
		python3 -c 'import json,sys; [print("%.3f" % h["ts"]) for h in json.load(sys.stdin)["history"]]'
}
series "$OWN_PORT" | sort >"$T/ts-own"; series "$OTH_PORT" | sort >"$T/ts-oth"
n_own=$(grep -c . "$T/ts-own"); n_oth=$(grep -c . "$T/ts-oth")
both=$(comm -12 "$T/ts-own" "$T/ts-oth" | grep -c .)
dup_own=$(uniq -d "$T/ts-own" | grep -c .); dup_oth=$(uniq -d "$T/ts-oth" | grep -c .)
echo "intervals in the live history: owner $n_own, other $n_oth, in both $both"
check "the other shard holds intervals" test "$n_oth" -gt 0
check "no interval in both shards, none twice in one" test "$both" = 0 -a "$dup_own" = 0 -a "$dup_oth" = 0
echo "--- the moves as the probe and the shards saw them"
grep -h 'shard:\|dropping from' "$T/probe.log"
for n in a b; do
	grep -h 'moves to another\|went to other shards\|were for this shard\|restarted\|sequence state' \
		"$T/op-$n.log" | sed "s/^/[$n] /"
done
echo "FIGURES next_seq=$next_seq dropped=$dropped lost=$lost in_flight=$inflight" \
	"accepted_owner=$o_accepted accepted_other=$t_accepted away_owner=$o_forwarded_elsewhere" \
	"away_other=$t_forwarded_elsewhere"
{ sed 's/^/[a] /' "$T/op-a.log"; sed 's/^/[b] /' "$T/op-b.log"; } >"$T/op.log" 2>/dev/null
fault_finish
