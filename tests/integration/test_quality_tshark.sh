#!/bin/bash
# test_quality_tshark.sh: RTP jitter/loss, TCP handshake RTT and DNS latency
# of the quality module (via build/tools/gw-quality-dump) against tshark on
# a generated capture with known jitter, loss, duplicates, reordering and
# sequence wrap-around (gen_rtp.py), on the generated corpus (gen_traffic.py:
# SIP calls with the G.711 RTP their SDP announces, TCP sessions, DNS, behind
# VLAN/Q-in-Q/PPPoE, SLL, pcapng; plus the exact facts its MANIFEST lists),
# and, when present, on the shared VoIP/TCP/DNS captures.
# Tolerances: jitter 1 % or 0.0015 ms (tshark prints 3 decimals), loss exact
# (tshark's loss counts duplicates as negative loss: compared as
# ours == tshark + duplicates), RTT and DNS time 1 % or 1 us.
. "$GW_TESTS/lib/common.sh"
B=$GW_BUILD
P=$GW_PCAPS
T=$GW_TESTS
DUMP=$B/tools/gw-quality-dump
TMP=$(gw_tmpdir)
GEN=$(gw_gen_corpus) || exit 1

[ -x "$DUMP" ] || { echo "missing $DUMP"; exit 1; }
command -v tshark >/dev/null || { echo "tshark missing"; exit 1; }

/usr/bin/python3 "$T/tools/gen_rtp.py" "$TMP/gen.pcap" 7 >/dev/null 2>&1 ||
	{ echo "gen_rtp.py failed"; exit 1; }

fail=0
check() {   # check NAME PCAP RTP(0/1) [-n NET]
	local name=$1 pcap=$2 rtp=$3; shift 3
	"$DUMP" "$@" "$pcap" >"$TMP/$name.ours" || { echo "$name: dump failed"; fail=1; return; }
	: >"$TMP/$name.rtp"
	[ "$rtp" = 1 ] && tshark --enable-heuristic rtp_udp -r "$pcap" -q -z rtp,streams \
	    >"$TMP/$name.rtp" 2>/dev/null
	# one pass: the first initial_rtt of every TCP stream, and dns.time. tshark also puts
	# an initial_rtt on a RST-ACK answering a SYN (a refused connection, no handshake):
	# left out (gen_traffic.py makes one; none is in the shared corpus)
	tshark -r "$pcap" -Y '(tcp.analysis.initial_rtt && tcp.flags.reset == 0) || (dns.time && udp.srcport==53)' \
	    -T fields -E separator=/t -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport \
	    -e ip.dst -e ipv6.dst -e tcp.dstport -e tcp.analysis.initial_rtt -e dns.id \
	    -e dns.time >"$TMP/$name.fields" 2>/dev/null
	/usr/bin/python3 - "$name" "$TMP" <<'EOF' || fail=1
import re, sys
name, tmp = sys.argv[1], sys.argv[2]
ours = open(f"{tmp}/{name}.ours").read().splitlines()
bad = 0
def close(a, b, rel=0.01, absol=0.0015):
    return abs(a - b) <= max(absol, rel * abs(b))
def kv(line):
    return dict(x.split("=", 1) for x in line.split() if "=" in x)

# RTP: tshark stream key -> (pkts, lost, mean jitter, max jitter)
rx = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-F]+)\s+.*?"
                r"\s(\d+)\s+(-?\d+) \(\S+%\)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)")
ref = {}
for l in open(f"{tmp}/{name}.rtp"):
    m = rx.match(l)
    if m:
        g = m.groups()
        ref[(g[0], g[1], g[2], g[3], int(g[4], 16))] = (int(g[5]), int(g[6]), float(g[11]), float(g[12]))
seen = 0
for l in ours:
    if not l.startswith("rtp "):
        continue
    f = l.split(); d = kv(l)
    key = (f[1], f[2], f[3], f[4], int(d["ssrc"], 16))
    if key not in ref:
        print(f"{name}: stream {key} not in tshark"); bad += 1; continue
    seen += 1
    pk, lost, jmean, jmax = ref[key]
    dups = int(d["dups"])
    # FAX call: tshark decodes the last 27 PCMA packets as T.38 (the SDP put
    # udptl on that port) and leaves them out of the stream; we count them
    extra = 27 if name.startswith("FAX") and key[4] == 0x0EAF0EAF else 0
    if int(d["packets"]) != pk + extra:
        print(f"{name}: {key} packets {d['packets']} tshark {pk}"); bad += 1
    if int(d["lost"]) != lost + dups:
        print(f"{name}: {key} lost {d['lost']} (+dups {dups}) tshark {lost}"); bad += 1
    if int(d["clock"]) == 0:
        if jmax != 0:
            print(f"{name}: {key} no clock but tshark jitter {jmax}"); bad += 1
        continue
    if not close(float(d["jitter_max_ms"]), jmax):
        print(f"{name}: {key} jitter max {d['jitter_max_ms']} tshark {jmax}"); bad += 1
    # tshark leaves reordered packets in its running mean; ours follows the
    # RFC's "in timestamp order" rule there (see quality_rtp.c)
    if int(d["reordered"]) == 0 and not close(float(d["jitter_mean_ms"]), jmean):
        print(f"{name}: {key} jitter mean {d['jitter_mean_ms']} tshark {jmean}"); bad += 1
# streams tshark has and we do not: only single-packet ones are acceptable
for key, v in ref.items():
    if v[0] > 1 and not any(l.startswith("rtp ") and l.split()[1:5] == list(key[:4]) and
                            int(kv(l)["ssrc"], 16) == key[4] for l in ours):
        print(f"{name}: tshark stream {key} ({v[0]} packets) missing"); bad += 1

# TCP: the first initial_rtt of each stream, keyed (client, cport, server, sport)
tref = {}
dref = []
streams = set()
for l in open(f"{tmp}/{name}.fields"):
    c = l.rstrip("\n").split("\t")
    if len(c) < 10:
        continue
    if c[7] and c[0] not in streams:
        streams.add(c[0])
        tref.setdefault((c[1] or c[2], c[3], c[4] or c[5], c[6]), []).append(float(c[7]) * 1000)
    elif c[8] and c[9]:
        dref.append((int(c[8], 16), float(c[9]) * 1000))
nt = 0
for l in ours:
    if not l.startswith("tcp "):
        continue
    f = l.split(); d = kv(l)
    key = (f[1], f[2], f[3], f[4])
    if key not in tref or not tref[key]:
        print(f"{name}: handshake {key} not in tshark"); bad += 1; continue
    r = tref[key].pop(0); nt += 1
    if not close(float(d["initial_rtt_ms"]), r, 0.01, 0.001):
        print(f"{name}: handshake {key} rtt {d['initial_rtt_ms']} tshark {r}"); bad += 1
left = sum(len(v) for v in tref.values())
if left:
    print(f"{name}: {left} tshark handshakes not found"); bad += 1

# DNS: multiset of (id, latency); answers later than our 5 s timeout are
# timeouts for us (counted, no latency sample)
late = [r for r in dref if r[1] > 5000]
dref = [r for r in dref if r[1] <= 5000]
nto = sum(1 for l in ours if l.startswith("dns ") and "timeout=1" in l)
if nto < len(late):
    print(f"{name}: {len(late)} answers after 5 s but only {nto} timeouts"); bad += 1
nd = 0
for l in ours:
    if not l.startswith("dns ") or "latency_ms" not in l:
        continue
    d = kv(l); qid = int(d["id"], 16); lat = float(d["latency_ms"])
    m = [i for i, (i2, r) in enumerate(dref) if i2 == qid and close(lat, r, 0.01, 0.001)]
    if not m:
        print(f"{name}: dns id {qid:#x} latency {lat} not in tshark"); bad += 1
    else:
        dref.pop(m[0]); nd += 1
if dref:
    print(f"{name}: {len(dref)} tshark dns.time values not matched: {dref[:3]}"); bad += 1
print(f"{name}: rtp streams {seen}, handshakes {nt}, dns {nd}: {'ok' if not bad else 'FAIL'}")
sys.exit(1 if bad else 0)
EOF
}

echo "== generated captures: gen_rtp.py and $GEN"
check gen "$TMP/gen.pcap" 1 -n 192.0.2.0/24
# (not tunnels.pcap: tshark measures the tunnelled handshakes, the probe sees the outer header)
for f in mixed.pcap home2.pcap voip.pcap vlan.pcap qinq_8021ad.pcap qinq_stacked.pcap pppoe.pcap \
    sll.pcap null.pcap spliced.pcap mixed.pcapng; do
	[ -r "$GEN/$f" ] || { echo "missing $GEN/$f"; fail=1; continue; }
	check "gen_${f%%.*}_${f##*.}" "$GEN/$f" 1 -n 192.168.1.0/24
done
# gen_traffic.py's own facts (independent of tshark): RTP expected/lost per stream, TCP
# handshake legs, DNS outcomes and latencies, summary counts
nexp=0
while read -r _ f pat; do
	out=$TMP/gen_${f%%.*}_${f##*.}.ours
	[ -f "$out" ] || { echo "no dump for $f"; fail=1; continue; }
	nexp=$((nexp + 1))
	grep -Eq -e "$pat" "$out" || { echo "$f: expected /$pat/ in the dump"; fail=1; }
done < <(grep '^expect ' "$GEN/MANIFEST" | sed 's/  */ /g')
[ $nexp -ge 30 ] || { echo "only $nexp MANIFEST facts"; fail=1; }
echo "generated corpus: $nexp MANIFEST facts checked"

if gw_have_corpus; then
	echo "== shared corpus: $P"
	for f in sip.pcap:1 skinny.pcap:1 FAX-Call-t38-CA-TDM-SIP-FB-1.pcap:1 rtp.pcapng:1 \
	    teams.pcap:1 wa_voice.pcap:1 discord_mid_flow.pcap:1 443-firefox.pcap:0 \
	    http_ipv6.pcap:0 windowsupdate_over_http.pcap:0 bad-dns-traffic.pcap:0 dns.pcap:0; do
		[ -r "$P/${f%:*}" ] || { echo "missing $P/${f%:*}"; fail=1; continue; }
		check "${f%%.*}" "$P/${f%:*}" "${f##*:}"
	done
else
	echo "shared corpus: not present ($P); generated captures only"
fi

# generated capture: exact expectations independent of tshark
grep -q 'ssrc=0x22222222 .* expected=149 lost=6 ' "$TMP/gen.ours" || { echo "gen: loss stream wrong"; fail=1; }
grep -q 'ssrc=0x33333333 .* expected=100 lost=1 ' "$TMP/gen.ours" || { echo "gen: wrap stream wrong"; fail=1; }
grep -q 'ssrc=0x44444444 .* lost=0 dups=3 reordered=2 ' "$TMP/gen.ours" || { echo "gen: dup stream wrong"; fail=1; }
grep -q '^tcp 192.0.2.10 40000 .* wan_ms=30.000000 lan_ms=2.000000' "$TMP/gen.ours" || { echo "gen: outbound split wrong"; fail=1; }
grep -q '^tcp 203.0.113.5 50000 .* wan_ms=40.000000 lan_ms=3.000000' "$TMP/gen.ours" || { echo "gen: inbound split wrong"; fail=1; }
grep -q 'id=0x3333 timeout=1' "$TMP/gen.ours" || { echo "gen: dns timeout missing"; fail=1; }
grep -q 'tcp.retransmits=1 ' "$TMP/gen.ours" || { echo "gen: retransmission missing"; fail=1; }
grep -q 'dns.queries=4 dns.responses=3 dns.failures=1 dns.timeouts=1 ' "$TMP/gen.ours" || { echo "gen: dns summary wrong"; fail=1; }

[ $fail -eq 0 ] && echo "test_quality_tshark: ok" || echo "test_quality_tshark: FAIL"
exit $fail
