#!/bin/bash
# test_probe_totals.sh: for every capture in the shared corpus, the probe's JSON Lines totals
# (rx+tx bytes and packets over all customers, catch-all customer) equal the IP-layer totals
# tshark computes for the same file; and the probe survives every file (exit status 0).
. "$GW_TESTS/lib/common.sh"
T=$(gw_tmpdir)
n=0; bad=0
for f in "$GW_PCAPS"/*.pcap "$GW_PCAPS"/*.pcapng; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	n=$((n + 1))
	if ! "$GW_BUILD/gatewatch-probe" -r "$f" --jsonl "$T/$name.jsonl" 2>"$T/$name.log"; then
		echo "FAIL $name: probe exited non-zero: $(tail -3 "$T/$name.log")"; bad=$((bad + 1)); continue
	fi
	want=$(python3 "$GW_TESTS/lib/tshark_ip_totals.py" "$f")
	got=$(python3 "$GW_TESTS/lib/jsonl_totals.py" "$T/$name.jsonl")
	if [ "$want" = "$got" ]; then
		echo "ok   $name $got"
	else
		echo "FAIL $name: probe $got tshark $want"; bad=$((bad + 1))
	fi
done
[ $n -ge 40 ] || gw_fail "expected the 40 shared captures, found $n"
[ $bad -eq 0 ] || gw_fail "$bad of $n captures differ"
echo "all $n captures match tshark"
