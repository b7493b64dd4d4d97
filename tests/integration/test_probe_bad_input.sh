#!/bin/bash
# test_probe_bad_input.sh: bad input to the probe gets a clear error (or, for a cut capture,
# a logged error with every whole packet before the cut still accounted), never a crash.
# Valid, cut and garbage inputs come from the generated corpus (tests/tools/gen_traffic.py),
# so this runs the same with or without the shared corpus.
. "$GW_TESTS/lib/common.sh"
T=$(gw_tmpdir)
GEN=$(gw_gen_corpus) || exit 1
OK=$GEN/qinq_8021ad.pcap
P=$GW_BUILD/gatewatch-probe

expect_fail() { # name, expected-message-regex, args...
	name=$1 re=$2; shift 2
	"$P" "$@" >"$T/out" 2>"$T/err"; rc=$?
	[ $rc -ne 0 ] && [ $rc -lt 128 ] || gw_fail "$name: exit $rc (want a clean failure)"
	grep -Eq -e "$re" "$T/err" || gw_fail "$name: message does not match /$re/: $(cat "$T/err")"
	gw_ok "$name: exit $rc, $(head -1 "$T/err")"
}

echo "this is not a capture" >"$T/notpcap"
expect_fail "non-pcap file" "unknown file format|bad dump file format" -r "$T/notpcap" --jsonl /dev/null
expect_fail "missing file" "No such file" -r "$T/nosuch.pcap" --jsonl /dev/null
: >"$T/empty.pcap"
expect_fail "empty file" "capture" -r "$T/empty.pcap" --jsonl /dev/null
expect_fail "bad BPF filter" "bad filter" -r "$OK" -f "port (((" --jsonl /dev/null
expect_fail "bad interval" "--interval" -r "$OK" --interval 0
expect_fail "unknown option" "unrecognized option|usage" --no-such-option

# Customer map errors name file:line and quote the bad value.
printf 'c1 vlan 101\nc2 vlan 5000\n' >"$T/bad1.map"
expect_fail "VLAN out of range" "bad1.map:2: .*'5000'" -r "$OK" --customer-map "$T/bad1.map"
printf 'c1 prefix 10.0.0.0/33\n' >"$T/bad2.map"
expect_fail "bad CIDR" "bad2.map:1: .*10.0.0.0/33" -r "$OK" --customer-map "$T/bad2.map"
printf 'c1 vlan 101\nc2 vlan 101\n' >"$T/bad3.map"
expect_fail "VLAN owned twice" "bad3.map:2:" -r "$OK" --customer-map "$T/bad3.map"
printf 'c/1 vlan 7\n' >"$T/bad4.map"
expect_fail "invalid customer id" "bad4.map:1:" -r "$OK" --customer-map "$T/bad4.map"
printf 'c1 colour blue\n' >"$T/bad5.map"
expect_fail "unknown rule kind" "bad5.map:1:.*colour" -r "$OK" --customer-map "$T/bad5.map"

# A capture cut in the middle of a packet: an error is logged, the whole packets before the
# cut are all accounted (compared with tshark on the same cut file), exit status 0. Three
# cuts: the generator's own cut.pcap, 30000 bytes of a pcap, 20000 bytes of a pcapng.
head -c 30000 "$GEN/mixed.pcap" >"$T/cut30k.pcap"
head -c 20000 "$GEN/mixed.pcapng" >"$T/cut20k.pcapng"
for c in "$GEN/cut.pcap" "$T/cut30k.pcap" "$T/cut20k.pcapng"; do
	name=$(basename "$c")
	"$P" -r "$c" --jsonl "$T/cut.jsonl" 2>"$T/cut.err" || gw_fail "cut capture $name: exit $?"
	grep -qi "truncated" "$T/cut.err" || gw_fail "cut capture $name: no error logged: $(cat "$T/cut.err")"
	want=$(python3 "$GW_TESTS/lib/tshark_ip_totals.py" "$c")
	got=$(python3 "$GW_TESTS/lib/jsonl_totals.py" "$T/cut.jsonl")
	[ "$want" = "$got" ] || gw_fail "cut capture $name: probe $got, tshark $want"
	case $got in '{"packets": 0,'*) gw_fail "cut capture $name: nothing accounted before the cut" ;; esac
	gw_ok "cut capture $name: error logged, $got accounted = tshark"
done

# Malformed packets and snaplen-truncated frames: counted, exit status 0.
for c in "$GEN/malformed.pcap" "$GEN"/divergent/*.pcap "$GEN/snaplen.pcap"; do
	"$P" -r "$c" --jsonl /dev/null 2>"$T/m.err" || gw_fail "$(basename "$c"): exit $?: $(tail -2 "$T/m.err")"
	gw_ok "$(basename "$c"): exit 0, $(grep -o 'errors: .*' "$T/m.err" | tail -1 | cut -c1-100)"
done

# Random garbage after a valid pcap header: counted, never a crash.
head -c 24 "$GEN/mixed.pcap" >"$T/garbage.pcap"
head -c 200000 /dev/urandom >>"$T/garbage.pcap"
"$P" -r "$T/garbage.pcap" --jsonl /dev/null 2>"$T/g.err"; rc=$?
[ $rc -lt 128 ] || gw_fail "garbage capture: killed by signal $((rc - 128))"
gw_ok "garbage after a pcap header: exit $rc, $(tail -1 "$T/g.err" | cut -c1-100)"
# The same after a pcapng section header and interface block.
shb=$(od -An -tu4 -j4 -N4 "$GEN/mixed.pcapng" | tr -d ' ')
idb=$(od -An -tu4 -j$((shb + 4)) -N4 "$GEN/mixed.pcapng" | tr -d ' ')
head -c $((shb + idb)) "$GEN/mixed.pcapng" >"$T/garbage.pcapng"
head -c 200000 /dev/urandom >>"$T/garbage.pcapng"
"$P" -r "$T/garbage.pcapng" --jsonl /dev/null 2>"$T/g.err"; rc=$?
[ $rc -lt 128 ] || gw_fail "garbage pcapng: killed by signal $((rc - 128))"
gw_ok "garbage after pcapng headers: exit $rc, $(tail -1 "$T/g.err" | cut -c1-100)"
echo "bad input: all checks passed"
