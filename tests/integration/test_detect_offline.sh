#!/bin/bash
# test_detect_offline.sh: the real probe on generated attack captures and on the benign corpus.
# For each generated case (tests/tools/gen_attacks.py): exactly the expected event kind, with the
# right customer, direction, source, target and port, fired within 0.5 s (packet time) of the
# attack start, and a cleared event after the attack ends. Every benign capture in $GW_PCAPS gives
# zero events, with a map of private home prefixes and with the default catch-all customer;
# synscan.pcap (an nmap SYN scan) must give a port_scan from the scanner.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
GW_TESTS=${GW_TESTS:-$(cd "$HERE/.." && pwd)}
GW_BUILD=${GW_BUILD:-$(cd "$GW_TESTS/.." && pwd)/build}
GW_PCAPS=${GW_PCAPS:-$(cd "$GW_TESTS/../.." && pwd)/shared/pcaps}
PROBE="$GW_BUILD/gatewatch-probe"
[ -x "$PROBE" ] || { echo "FAIL: $PROBE not built"; exit 1; }

TMP=$(mktemp -d /tmp/gw-detect-offline.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

/usr/bin/python3 "$GW_TESTS/tools/gen_attacks.py" "$TMP/gen" || { echo "FAIL: generator"; exit 1; }

# check.py OUT KIND CUSTOMER DIR SRC DST DPORT START END: asserts on the probe's JSON Lines.
cat > "$TMP/check.py" <<'EOF'
import json, sys
out, kind, cust, direction, src, dst, dport, start, end = sys.argv[1:10]
start, end = float(start), float(end)
evs = [json.loads(l) for l in open(out) if l.strip()]
evs = [e for e in evs if e.get("type") == "event"]
errs = []
fired = [e for e in evs if not e["cleared"]]
kinds = sorted(set(e["kind"] for e in evs))
if kinds != [kind]:
    errs.append("event kinds %s, expected only %s" % (kinds, kind))
match = [e for e in fired if e["kind"] == kind and e["customer"] == cust
         and e["direction"] == direction]
if not match:
    errs.append("no %s event for %s/%s; got %s" % (kind, cust, direction,
                [(e["kind"], e["customer"], e["direction"]) for e in fired]))
else:
    e = match[0]
    lat = e["ts"] - start
    if not (0 <= lat <= 0.5):
        errs.append("detection at %+.3f s from attack start (want 0..0.5)" % lat)
    if src != "-" and e["src"] != src:
        errs.append("src %s, expected %s" % (e["src"], src))
    if dst != "-" and e["dst"] != dst:
        errs.append("dst %s, expected %s" % (e["dst"], dst))
    if dport != "-" and int(e["dport"]) != int(dport):
        errs.append("dport %s, expected %s" % (e["dport"], dport))
    if len(match) != 1:
        errs.append("%d fire events, expected 1 (hysteresis)" % len(match))
    if e["kind"].endswith("_flood") and e["src"] == "many" and not e.get("top_talkers"):
        errs.append("distributed flood without top talkers")
    clr = [c for c in evs if c["cleared"] and c["kind"] == kind and c["customer"] == cust]
    if not clr:
        errs.append("no cleared event")
    elif clr[0]["ts"] < end:
        errs.append("cleared at %.3f before the attack ended (%.3f)" % (clr[0]["ts"], end))
    print("latency_s=%.3f clear_after_end_s=%s" % (lat, "%.1f" % (clr[0]["ts"] - end) if clr else "-"))
for x in errs:
    print("  " + x)
sys.exit(1 if errs else 0)
EOF

while IFS=$'\t' read -r CASE KIND CUST DIR SRC DST DPORT START END; do
	OUT="$TMP/$CASE.jsonl"
	if ! timeout 120 "$PROBE" -r "$TMP/gen/$CASE.pcap" --customer-map "$TMP/gen/customers.map" \
	    --jsonl "$OUT" --probe-id t1 2>"$TMP/$CASE.err"; then
		fail "$CASE: probe exited non-zero: $(tail -3 "$TMP/$CASE.err")"
		continue
	fi
	if R=$(/usr/bin/python3 "$TMP/check.py" "$OUT" "$KIND" "$CUST" "$DIR" "$SRC" "$DST" \
	    "$DPORT" "$START" "$END"); then
		echo "ok   $CASE: $KIND $CUST $DIR $R"
	else
		fail "$CASE: $KIND $CUST $DIR"
		echo "$R"
	fi
done < "$TMP/gen/manifest.tsv"

# Benign corpus: zero events. Home map: private ranges are customers, the rest is the Internet.
printf 'home prefix 10.0.0.0/8\nhome prefix 172.16.0.0/12\nhome prefix 192.168.0.0/16\nhome prefix fc00::/7\ncgn prefix 100.64.0.0/10\n' > "$TMP/home.map"
for P in "$GW_PCAPS"/*.pcap "$GW_PCAPS"/*.pcapng; do
	[ -f "$P" ] || continue
	NAME=$(basename "$P")
	for MODE in map catchall; do
		OUT="$TMP/benign.$MODE.jsonl"
		ARGS=(--customer-map "$TMP/home.map")
		[ "$MODE" = catchall ] && ARGS=()
		timeout 120 "$PROBE" -r "$P" "${ARGS[@]}" --jsonl "$OUT" --probe-id t1 2>/dev/null
		N=$(grep -c '"type":"event"' "$OUT" 2>/dev/null)
		if [ "$NAME" = synscan.pcap ]; then
			[ "$MODE" = map ] || continue
			if grep '"type":"event"' "$OUT" | grep '"kind":"port_scan"' | grep -q '"src":"172.16.0.8"'; then
				echo "ok   $NAME ($MODE): port_scan from 172.16.0.8"
			else
				fail "$NAME: no port_scan from 172.16.0.8"
			fi
		elif [ "${N:-0}" -ne 0 ]; then
			fail "$NAME ($MODE): $N events on a benign capture"
			grep '"type":"event"' "$OUT" | head -3 | cut -c1-300
		fi
	done
done
[ "$FAILS" -eq 0 ] && echo "ok   benign corpus: zero events (home map and catch-all)"

if [ "$FAILS" -ne 0 ]; then echo "test_detect_offline: $FAILS failed"; exit 1; fi
echo "test_detect_offline: all passed"
exit 0
