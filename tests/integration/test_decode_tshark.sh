#!/bin/bash
# test_decode_tshark.sh: decode.c against tshark, frame by frame, for every capture of the
# generated corpus (tests/tools/gen_traffic.py, always) and of the shared corpus $GW_PCAPS
# (when present): the same frames must be IP and carry the same IP-layer byte count.
#
# Oracle (the same rule as tests/lib/tshark_ip_totals.py): a frame is IP when the
# outermost network layer tshark lists in frame.protocols is "ip" with an ip.len, or
# "ipv6" with an ipv6.plen; bytes = ip.len, or 40 + ipv6.plen (first occurrence, i.e.
# the outer header of tunnels and of ICMP errors quoting a header).
# Ours: gw-decode-totals -p, IP when decode_is_ip(result), bytes = pkt.ip_bytes.
#
# Known, legitimate differences. Each is accepted ONLY for a frame whose decode result
# is the one named and where tshark itself flags the header with the expert message
# named; anything else is a failure. None of them occurs in the shared corpus today, so
# every file must also match exactly in total (as the probe's totals test requires).
#   bad_ip_len    IPv4 total length < header length: tshark prints ip.len but says
#                 "Bogus IP length"; we cannot find the payload, so it is not IP.
#   trunc_ip      the IPv4/IPv6 header itself is cut by the capture: tshark prints the
#                 length field it could read, then "Malformed Packet"; we have no
#                 complete addresses, so it is not IP.
#   bad_ipv6_ext  an extension header runs past the IPv6 payload length, or the chain
#                 is longer than decode.c follows: tshark prints ipv6.plen, then
#                 "Malformed Packet"; we count it as a bad packet.
. "$GW_TESTS/lib/common.sh"
T=$(gw_tmpdir)
GEN=$(gw_gen_corpus) || exit 1
tool="$GW_BUILD/tools/gw-decode-totals"
[ -x "$tool" ] || gw_fail "$tool not built"
command -v tshark >/dev/null || gw_fail "tshark not installed"

# Compares one capture; prints one line; sets acc to the number of accepted divergences.
check_file() {
	local f=$1 name out rc
	acc=0
	name=$(basename "$f")
	"$tool" -p "$f" >"$T/ours" 2>"$T/err" || {
		echo "FAIL $name: gw-decode-totals failed: $(head -3 "$T/err")"; return 1; }
	tshark -r "$f" -T fields -E separator='|' -E occurrence=a -E aggregator='~' \
		-e frame.number -e frame.protocols -e ip.len -e ipv6.plen -e _ws.expert.message \
		>"$T/theirs" 2>/dev/null
	out=$(python3 - "$T/ours" "$T/theirs" <<'EOF'
import sys
ours = {}
summary = None
for line in open(sys.argv[1]):
    w = line.split()
    if w[0] == "frame":
        ours[int(w[1])] = (w[3], int(w[5]))
    else:
        summary = line.strip()
IP_RESULTS = ("ok", "trunc_l4", "bad_l4")
ALLOWED = {  # our result -> expert text tshark must show for the same frame
    "bad_ip_len": "Bogus IP length",
    "trunc_ip": "Malformed Packet",
    "bad_ipv6_ext": "Malformed Packet",
}
fails, accepted, tp, tb, op, ob = [], 0, 0, 0, 0, 0
for line in open(sys.argv[2]):
    num, protos, ip_len, plen, expert = (line.rstrip("\n").split("|") + [""] * 5)[:5]
    if not num:
        continue
    num = int(num)
    first = next((p for p in protos.split(":") if p in ("ip", "ipv6")), None)
    want = None
    if first == "ip" and ip_len:
        want = int(ip_len.split("~")[0])
    elif first == "ipv6" and plen:
        want = 40 + int(plen.split("~")[0])
    res, got = ours.pop(num, ("missing", 0))
    is_ip = res in IP_RESULTS
    if want is not None:
        tp += 1; tb += want
    if is_ip:
        op += 1; ob += got
    if (want is None and not is_ip) or (is_ip and want == got):
        continue
    if want is not None and not is_ip and res in ALLOWED and ALLOWED[res] in expert:
        accepted += 1
        continue
    fails.append("frame %d: ours %s %s, tshark %s (%s; %s)" %
                 (num, res, got if is_ip else "-", want if want is not None else "-",
                  protos, expert[:80]))
for num, (res, got) in ours.items():
    fails.append("frame %d: decoded by us (%s) but not listed by tshark" % (num, res))
print("totals ours %d/%d tshark %d/%d accepted %d" % (op, ob, tp, tb, accepted))
for f in fails[:10]:
    print("  " + f)
sys.exit(1 if fails or (op, ob) != (tp, tb) and accepted == 0 else 0)
EOF
	)
	rc=$?
	acc=$(echo "$out" | sed -n 's/.* accepted \([0-9]*\).*/\1/p')
	acc=${acc:-0}
	if [ $rc -eq 0 ]; then
		echo "ok   $name: $(echo "$out" | head -1)"
	else
		echo "FAIL $name: $out"; return 1
	fi
}

echo "== generated corpus: $GEN"
n=0; bad=0
for f in "$GEN"/*.pcap "$GEN"/*.pcapng; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	check_file "$f" || { bad=$((bad + 1)); continue; }
	[ "$acc" -eq 0 ] || { echo "FAIL $(basename "$f"): $acc divergences in a file that must have none"; bad=$((bad + 1)); }
done
want=$(grep -c '^file [^/ ]* ' "$GEN/MANIFEST")
[ $n -eq "$want" ] || gw_fail "generated corpus: $n captures, MANIFEST lists $want"
div=0
for f in "$GEN"/divergent/*.pcap; do
	check_file "$f" || { bad=$((bad + 1)); continue; }
	frames=$(tshark -r "$f" 2>/dev/null | wc -l)
	[ "$acc" -eq "$frames" ] || { echo "FAIL $(basename "$f"): $acc of $frames frames accepted as documented divergences"; bad=$((bad + 1)); }
	div=$((div + acc))
done
[ $div -ge 4 ] || gw_fail "generated corpus: only $div documented divergences exercised (want 4)"
[ $bad -eq 0 ] || gw_fail "$bad generated captures differ from tshark"
echo "generated corpus: all $n captures agree with tshark frame by frame; $div documented divergences seen as such"

if ! gw_have_corpus; then
	echo "shared corpus: not present ($GW_PCAPS); generated corpus only"
	exit 0
fi
echo "== shared corpus: $GW_PCAPS"
n=0; bad=0; accepted=0
for f in "$GW_PCAPS"/*.pcap "$GW_PCAPS"/*.pcapng; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	check_file "$f" || { bad=$((bad + 1)); continue; }
	accepted=$((accepted + acc))
done
[ $n -ge 40 ] || gw_fail "expected the 40 shared captures, found $n"
[ $bad -eq 0 ] || gw_fail "$bad of $n captures differ from tshark"
echo "all $n captures agree with tshark frame by frame ($accepted documented divergences)"
