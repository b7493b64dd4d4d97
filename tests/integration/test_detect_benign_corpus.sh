#!/bin/bash
# test_detect_benign_corpus.sh: the real probe on every capture of the shared corpus ($GW_PCAPS),
# with a map of private home prefixes and with the default catch-all customer. Benign captures give
# zero events of any kind (the false-positive check of every detector, covert_channel included).
# The attack captures give exactly their attack: synscan.pcap (nmap SYN scan) a port_scan from
# 172.16.0.8, dns-tunnel-iodine.pcap (iodine) a dns_tunnel from 10.0.2.30 for pirate.sea, and
# bad-dns-traffic.pcap, which is dnscat2 traffic (skullseclabs.org is dnscat2's domain), a
# dns_tunnel from 192.168.43.91. Prints events per capture. Without the corpus (a bare clone):
# "skipped: corpus not present", exit 77.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
GW_TESTS=${GW_TESTS:-$(cd "$HERE/.." && pwd)}
GW_BUILD=${GW_BUILD:-$(cd "$GW_TESTS/.." && pwd)/build}
GW_PCAPS=${GW_PCAPS:-$(cd "$GW_TESTS/../.." && pwd)/shared/pcaps}
PROBE="$GW_BUILD/gatewatch-probe"
if ! ls "$GW_PCAPS"/*.pcap >/dev/null 2>&1; then
	echo "skipped: corpus not present"
	exit 77
fi
[ -x "$PROBE" ] || { echo "FAIL: $PROBE not built"; exit 1; }

TMP=$(mktemp -d /tmp/gw-detect-corpus.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
N_FILES=0
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

# expect NAME: "kind src [detail-substring]" of the one attack a capture holds, or "" (benign).
expect() {
	case $1 in
	synscan.pcap) echo "port_scan 172.16.0.8" ;;
	dns-tunnel-iodine.pcap) echo "dns_tunnel 10.0.2.30 pirate.sea" ;;
	bad-dns-traffic.pcap) echo "dns_tunnel 192.168.43.91 skullseclabs.org" ;;
	*) echo "" ;;
	esac
}

printf 'home prefix 10.0.0.0/8\nhome prefix 172.16.0.0/12\nhome prefix 192.168.0.0/16\nhome prefix fc00::/7\ncgn prefix 100.64.0.0/10\n' > "$TMP/home.map"
for P in "$GW_PCAPS"/*.pcap "$GW_PCAPS"/*.pcapng; do
	[ -f "$P" ] || continue
	NAME=$(basename "$P")
	N_FILES=$((N_FILES + 1))
	read -r KIND SRC WHAT <<< "$(expect "$NAME")"
	for MODE in map catchall; do
		OUT="$TMP/benign.$MODE.jsonl"
		ARGS=(--customer-map "$TMP/home.map")
		[ "$MODE" = catchall ] && ARGS=()
		timeout 120 "$PROBE" -r "$P" "${ARGS[@]}" --jsonl "$OUT" --probe-id t1 2>/dev/null
		grep '"type":"event"' "$OUT" 2>/dev/null | grep -v '"cleared":true' > "$TMP/fired"
		N=$(wc -l < "$TMP/fired")
		if [ -z "$KIND" ]; then
			if [ "$N" -ne 0 ]; then
				fail "$NAME ($MODE): $N events on a benign capture"
				head -3 "$TMP/fired" | cut -c1-300
			fi
			continue
		fi
		[ "$KIND" = port_scan ] && [ "$MODE" = catchall ] && continue  # one customer: not judged
		OTHER=$(grep -vc "\"kind\":\"$KIND\"" "$TMP/fired")
		if grep "\"kind\":\"$KIND\"" "$TMP/fired" | grep "\"src\":\"$SRC\"" | grep -q "${WHAT:-.}" &&
		    [ "$OTHER" -eq 0 ]; then
			echo "ok   $NAME ($MODE): $KIND from $SRC${WHAT:+ ($WHAT)}, nothing else"
		else
			fail "$NAME ($MODE): expected only $KIND from $SRC${WHAT:+ ($WHAT)}; got:"
			cut -c1-300 "$TMP/fired" | head -5
		fi
	done
done
[ "$FAILS" -eq 0 ] && echo "ok   benign corpus: zero events on the $((N_FILES - 3)) benign captures (home map and catch-all)"

if [ "$FAILS" -ne 0 ]; then echo "test_detect_benign_corpus: $FAILS failed"; exit 1; fi
echo "test_detect_benign_corpus: all passed"
exit 0
