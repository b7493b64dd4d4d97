#!/bin/bash
# test_dpi_generated_corpus.sh: the probe's application classification against nDPI's own
# reader on the generated corpus (tests/tools/gen_traffic.py): for every capture, the
# applications named in the probe's flow records equal those `ndpiReader -v 1` lists for the
# same file, Unknown left out (tests/lib/dpi_compare.py). Captures ndpiReader 4.2 prints no
# summary for (qinq_8021ad.pcap: it accounts none of its 802.1ad frames) are reported and
# not compared (at most one). tunnels.pcap is compared in dpi_compare.py's "outer" form
# (ndpiReader looks into 6in4 and IP-in-IP, the probe classifies the outer header, as on the
# shared corpus). The home mix must also be classified beyond ports: SNI, Host headers,
# SIP/SDP, MPEG-TS, QUIC.
# test_dpi_corpus.sh does the same on the shared corpus.
. "$GW_TESTS/lib/common.sh"
T=$(gw_tmpdir)
GEN=$(gw_gen_corpus) || exit 1
command -v ndpiReader >/dev/null || gw_fail "ndpiReader not installed (libndpi-bin, deploy/deps.sh)"
n=0; bad=0; compared=0
for f in "$GEN"/*.pcap "$GEN"/*.pcapng; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	n=$((n + 1))
	"$GW_BUILD/gatewatch-probe" -r "$f" --flows --jsonl "$T/$name.jsonl" 2>"$T/err" ||
		{ echo "FAIL $name: probe exited non-zero: $(tail -2 "$T/err")"; bad=$((bad + 1)); continue; }
	ndpiReader -i "$f" -v 1 >"$T/$name.ndpi" 2>&1
	mode=exact
	[ "$name" = tunnels.pcap ] && mode=outer
	out=$(python3 "$GW_TESTS/lib/dpi_compare.py" "$T/$name.jsonl" "$T/$name.ndpi" --mode $mode); rc=$?
	case $rc in
	0) echo "ok   $name: $out"; compared=$((compared + 1)) ;;
	2) echo "--   $name: $out" ;;
	*) echo "FAIL $name: $out"; bad=$((bad + 1)) ;;
	esac
done
[ $bad -eq 0 ] || gw_fail "$bad of $n generated captures classify differently from ndpiReader"
[ $compared -ge $((n - 1)) ] || gw_fail "only $compared of $n captures compared"
apps=$(python3 -c 'import json,sys; print(" ".join(sorted({o["app"] for o in map(json.loads, open(sys.argv[1])) if o["type"] == "flow"})))' "$T/mixed.pcap.jsonl")
for a in DNS TLS QUIC SIP RTP RTCP MPEG_TS ICMP ICMPV6 NetFlix YouTube Wikipedia Facebook; do
	case " $apps " in *" $a "*) ;; *) gw_fail "mixed.pcap: no flow classified $a (got: $apps)" ;; esac
done
echo "generated corpus: $compared of $n captures name the applications ndpiReader names; mixed.pcap: $apps"
