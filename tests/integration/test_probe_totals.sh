#!/bin/bash
# test_probe_totals.sh: for every capture of the generated corpus (tests/tools/gen_traffic.py,
# always) and of the shared corpus $GW_PCAPS (when present), the probe's JSON Lines totals
# (rx+tx bytes and packets over all customers, catch-all customer) equal the IP-layer totals
# tshark computes for the same file; and the probe survives every file (exit status 0).
# gen-pcaps/divergent/ is left out: it holds the frames tshark and decode.c see differently
# on purpose (test_decode_tshark.sh checks them); there the probe must only survive.
. "$GW_TESTS/lib/common.sh"
T=$(gw_tmpdir)
GEN=$(gw_gen_corpus) || exit 1

check_file() { # pcap -> 0 when the totals match
	local f=$1 name want got
	name=$(basename "$f")
	if ! "$GW_BUILD/gatewatch-probe" -r "$f" --jsonl "$T/$name.jsonl" 2>"$T/$name.log"; then
		echo "FAIL $name: probe exited non-zero: $(tail -3 "$T/$name.log")"; return 1
	fi
	want=$(python3 "$GW_TESTS/lib/tshark_ip_totals.py" "$f")
	got=$(python3 "$GW_TESTS/lib/jsonl_totals.py" "$T/$name.jsonl")
	if [ "$want" = "$got" ]; then
		echo "ok   $name $got"
	else
		echo "FAIL $name: probe $got tshark $want"; return 1
	fi
}

echo "== generated corpus: $GEN"
n=0; bad=0
for f in "$GEN"/*.pcap "$GEN"/*.pcapng; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	check_file "$f" || bad=$((bad + 1))
done
want=$(grep -c '^file [^/ ]* ' "$GEN/MANIFEST")
[ $n -eq "$want" ] || gw_fail "generated corpus: $n captures, MANIFEST lists $want"
for f in "$GEN"/divergent/*.pcap; do
	"$GW_BUILD/gatewatch-probe" -r "$f" --jsonl /dev/null 2>"$T/div.log" ||
		{ echo "FAIL $(basename "$f"): probe exited non-zero: $(tail -3 "$T/div.log")"; bad=$((bad + 1)); }
done
[ $bad -eq 0 ] || gw_fail "$bad of $n generated captures differ"
# Time jumps of hours and years: intervals for the empty time between are not emitted.
lines=$(grep -c '"type":"stats"' "$T/spliced.pcap.jsonl")
[ "$lines" -le 100 ] || gw_fail "spliced.pcap: $lines stats lines for 30 s of traffic"
gw_ok "spliced.pcap: $lines stats lines across jumps of 3 h and 2 years"
echo "generated corpus: all $n captures match tshark"

if ! gw_have_corpus; then
	echo "shared corpus: not present ($GW_PCAPS); generated corpus only"
	exit 0
fi
echo "== shared corpus: $GW_PCAPS"
n=0; bad=0
for f in "$GW_PCAPS"/*.pcap "$GW_PCAPS"/*.pcapng; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	check_file "$f" || bad=$((bad + 1))
done
[ $n -ge 40 ] || gw_fail "expected the 40 shared captures, found $n"
[ $bad -eq 0 ] || gw_fail "$bad of $n captures differ"
echo "all $n captures match tshark"
