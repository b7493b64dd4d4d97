#!/bin/bash
# test_dpi_corpus.sh: the probe's application classification against nDPI's own reader on
# the shared corpus: for every capture, the applications named in the probe's flow records
# equal those ndpiReader 4.2 listed (ndpi-expected/<file>.txt, see the corpus README),
# Unknown left out (tests/lib/dpi_compare.py). Skips (exit 77) without the shared corpus;
# test_dpi_generated_corpus.sh does the same on the generated corpus with a live ndpiReader.
# Known, explained differences (each still checked in the weaker form named):
#   4in4tunnel.pcap, 6in4tunnel.pcap  outer: ndpiReader looks into the tunnelled flows, the
#                 probe the outer header (IP_in_IP or Unknown), as the design says
#   synscan.pcap  subset: SYN-only flows; ndpiReader guesses more of them by port
#   fuzz-2021-10-13.pcap  outer: its one frame before the cut is not IP to decode.c nor to
#                 tshark (test_decode_tshark.sh); ndpiReader still calls it TLS
. "$GW_TESTS/lib/common.sh"
gw_need_corpus
T=$(gw_tmpdir)
E=$GW_PCAPS/ndpi-expected
[ -d "$E" ] || gw_fail "$E missing (the corpus README describes it)"
n=0; bad=0
for f in "$GW_PCAPS"/*.pcap "$GW_PCAPS"/*.pcapng; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	n=$((n + 1))
	case $name in
	4in4tunnel.pcap | 6in4tunnel.pcap | fuzz-2021-10-13.pcap) mode=outer ;;
	synscan.pcap) mode=subset ;;
	*) mode=exact ;;
	esac
	[ -f "$E/$name.txt" ] || { echo "FAIL $name: no $E/$name.txt"; bad=$((bad + 1)); continue; }
	"$GW_BUILD/gatewatch-probe" -r "$f" --flows --jsonl "$T/out.jsonl" 2>"$T/err" ||
		{ echo "FAIL $name: probe exited non-zero: $(tail -2 "$T/err")"; bad=$((bad + 1)); continue; }
	if out=$(python3 "$GW_TESTS/lib/dpi_compare.py" "$T/out.jsonl" "$E/$name.txt" --mode $mode); then
		echo "ok   $name: $out"
	else
		echo "FAIL $name: $out"; bad=$((bad + 1))
	fi
done
[ $n -ge 40 ] || gw_fail "expected the 40 shared captures, found $n"
[ $bad -eq 0 ] || gw_fail "$bad of $n captures classify differently from ndpi-expected/"
echo "shared corpus: all $n captures name the applications ndpiReader named"
