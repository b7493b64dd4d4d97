#!/bin/bash
# test_detect_offline.sh: the real probe on generated attack captures (tests/tools/gen_attacks.py;
# needs no shared corpus). For every expected event of a case (manifest.tsv: one line per attack):
# the right kind, customer, direction, source, target, port and IP protocol, fired once
# (hysteresis) within the case's latency bound (packet time) after the attack start, and a cleared
# event after the attack ended; no event kind or source the case does not expect (slow_scan_silent
# and slow_udp_silent hold a client whose own unanswered attempts are no scan). A case may hold two attacks
# (syn_then_udp: a SYN scan, then, while its alarm is held down, a UDP scan from the same scanner):
# both must be reported. Prints a table of detection latencies. The benign shared corpus is checked
# by test_detect_benign_corpus.sh.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
GW_TESTS=${GW_TESTS:-$(cd "$HERE/.." && pwd)}
GW_BUILD=${GW_BUILD:-$(cd "$GW_TESTS/.." && pwd)/build}
PROBE="$GW_BUILD/gatewatch-probe"
[ -x "$PROBE" ] || { echo "FAIL: $PROBE not built"; exit 1; }

TMP=$(mktemp -d /tmp/gw-detect-offline.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

/usr/bin/python3 "$GW_TESTS/tools/gen_attacks.py" "$TMP/gen" || { echo "FAIL: generator"; exit 1; }

# check.py MANIFEST CASE OUT: asserts every manifest row of CASE on the probe's JSON Lines.
cat > "$TMP/check.py" <<'EOF'
import json, sys
manifest, case, out = sys.argv[1:4]
rows = [l.rstrip("\n").split("\t") for l in open(manifest) if l.strip()]
rows = [r for r in rows if r[0] == case]
evs = [json.loads(l) for l in open(out) if l.strip()]
evs = [e for e in evs if e.get("type") == "event"]
errs = []
want_kinds = sorted(set(r[1] for r in rows))
kinds = sorted(set(e["kind"] for e in evs))
if kinds != want_kinds:
    errs.append("event kinds %s, expected only %s" % (kinds, want_kinds))
used = set()
for r in rows:
    _, kind, cust, direction, src, dst, dport, start, end, maxlat, proto = r
    start, end, maxlat = float(start), float(end), float(maxlat)
    def ok(e):
        return (not e["cleared"] and e["kind"] == kind and e["customer"] == cust and
                e["direction"] == direction and (src == "-" or e["src"] == src) and
                (dst == "-" or e["dst"] == dst) and
                (proto == "-" or int(e.get("ip_proto", 0)) == int(proto)))
    match = [e for e in evs if ok(e)]
    label = "%s/%s/%s proto %s from %s" % (kind, cust, direction, proto, src)
    if not match:
        errs.append("no %s event; got %s" % (label, [(e["kind"], e["customer"], e["direction"],
                    e["src"], e["dst"], e.get("ip_proto"), e["cleared"]) for e in evs]))
        print("row %s %s - -" % (kind, proto))
        continue
    e = match[0]
    lat = e["ts"] - start
    if not (0 <= lat <= maxlat):
        errs.append("%s: detection at %+.3f s from attack start (want 0..%g)" % (label, lat, maxlat))
    if dport != "-" and int(e["dport"]) != int(dport):
        errs.append("%s: dport %s, expected %s" % (label, e["dport"], dport))
    if len(match) != 1:
        errs.append("%s: %d fire events, expected 1 (hysteresis)" % (label, len(match)))
    if e["kind"].endswith("_flood") and e["src"] == "many" and not e.get("top_talkers"):
        errs.append("distributed flood without top talkers")
    clr = [c for c in evs if c["cleared"] and c["kind"] == kind and c["customer"] == cust and
           c["src"] == e["src"] and c.get("ip_proto") == e.get("ip_proto") and c["ts"] >= e["ts"]]
    if not clr:
        errs.append("%s: no cleared event" % label)
    elif clr[0]["ts"] < end:
        errs.append("%s: cleared at %.3f before the attack ended (%.3f)" % (label, clr[0]["ts"], end))
    print("row %s %s %.3f %s" % (kind, proto, lat, "%.1f" % (clr[0]["ts"] - end) if clr else "-"))
# The reply direction of an expected flow may score too (covert_timing: the server's ACKs
# carry the client's timing).
for e in evs:
    if not e["cleared"] and not any(r[1] == e["kind"] and (r[4] in ("-", e["src"]) or
                                    (r[5] == e["src"] and r[4] == e["dst"])) for r in rows):
        errs.append("unexpected %s event from %s (%s)" % (e["kind"], e["src"], e["detail"]))
for x in errs:
    print("  " + x)
sys.exit(1 if errs else 0)
EOF

printf '%-16s %-15s %-5s %12s %12s\n' case kind proto latency_s clear_after_s > "$TMP/table"
for CASE in $(cut -f1 "$TMP/gen/manifest.tsv" | uniq); do
	OUT="$TMP/$CASE.jsonl"
	if ! timeout 120 "$PROBE" -r "$TMP/gen/$CASE.pcap" --customer-map "$TMP/gen/customers.map" \
	    --jsonl "$OUT" --probe-id t1 2>"$TMP/$CASE.err"; then
		fail "$CASE: probe exited non-zero: $(tail -3 "$TMP/$CASE.err")"
		continue
	fi
	R=$(/usr/bin/python3 "$TMP/check.py" "$TMP/gen/manifest.tsv" "$CASE" "$OUT")
	RC=$?
	echo "$R" | awk -v c="$CASE" '$1 == "row" { printf "%-16s %-15s %-5s %12s %12s\n", c, $2, $3, $4, $5 }' >> "$TMP/table"
	if [ $RC -eq 0 ]; then
		echo "ok   $CASE: $(echo "$R" | awk '$1 == "row" { printf "%s(%s) %ss ", $2, $3, $4 }')"
	else
		fail "$CASE"
		echo "$R" | grep -v '^row '
	fi
done
echo "detection latency (packet time from attack start) and clear delay (after attack end):"
cat "$TMP/table"

if [ "$FAILS" -ne 0 ]; then echo "test_detect_offline: $FAILS failed"; exit 1; fi
echo "test_detect_offline: all passed"
exit 0
