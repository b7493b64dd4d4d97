#!/usr/bin/env bash
# bench_shed.sh: graceful degradation under load: the probe's --shed-pps token bucket at 1x, 2x
# and 4x its own single-thread capacity. Prints table rows "shed<TAB>metric<TAB>value<TAB>note"
# (tests/bench/run.sh collects them) and, on stderr, the shedding table.
#   bench_shed.sh BUILD_DIR
# Offline: a capture of N concurrent new flows (mkbig.py mixed: TCP, UDP, DNS; every flow is
# work for DPI) is re-timed so that its packets arrive at k x C packets/s of packet time, where C
# is the probe's measured packets/s with shedding off; the probe runs with --shed-pps B
# (BENCH_SHED_PPS, default C/2), then with --shed-pps auto (budget from the thread's CPU time per
# 100 ms of packet time, target 80 % of a core: offline this simulates the capture arriving at its
# packet-time rate on this machine). Reported per k: offered pps, the probe's processing rate
# (wall clock, offline), the share of packets that got DPI/QoS, shed_packets (the probe's counter
# = sum of the JSON Lines field), the last auto budget, and whether every customer's bytes equal
# the unshed run's. The cost of auto when not under load: processing rate at 0.25x with
# --shed-pps 0 and auto (medians), and what auto shed there (nothing expected).
# Live (root): the same capture (homes moved to 198.51.100.0/24) from tcpreplay (bounded: --limit, once) in one sealed namespace
# over a veth into another where the probe captures; offered pps = k x the measured live rate at
# which the probe keeps up; reported: achieved pps, captured/sent, share with DPI/QoS.
# Live: --shed-pps 0 for the calibration, then fixed (base/2) and auto rows.
# Environment: BENCH_SHED_FLOWS (default 100000: 4 windows of 100 ms even at 4x), BENCH_SHED_PPS,
# BENCH_RUNS (default 3).
set -uo pipefail
B=${1:-build}; case $B in /*) ;; *) B=$(pwd)/$B ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
PROBE=$B/gatewatch-probe
CACHE=$B/bench
RUNS=${BENCH_RUNS:-3}
FLOWS=${BENCH_SHED_FLOWS:-100000}
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/gw-shed.XXXXXX)
NS_G=gwshed-g-$$; NS_P=gwshed-p-$$
cleanup() {
	ip netns del "$NS_G" 2>/dev/null; ip netns del "$NS_P" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
export LC_ALL=C
mkdir -p "$CACHE"
note() { echo "bench_shed: $*" >&2; }
row() { printf 'shed\t%s\t%s\t%s\n' "$1" "$2" "${3:-}"; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "nan"; exit} if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p" "$2" | tail -n 1; }   # from the probe's summary line

# retime IN OUT PPS: packet i at t0 + i / PPS (order kept, bytes untouched).
retime() {
	"$PY" - "$@" <<'EOF'
import struct, sys
src, dst, pps = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(src, "rb") as f, open(dst, "wb") as o:
    hdr = f.read(24)
    o.write(hdr)
    i, t0 = 0, 1700000000 * 1000000
    while True:
        rec = f.read(16)
        if len(rec) < 16:
            break
        _, _, incl, orig = struct.unpack("<IIII", rec)
        t = t0 + int(i * 1e6 / pps)
        o.write(struct.pack("<IIII", t // 1000000, t % 1000000, incl, orig))
        o.write(f.read(incl))
        i += 1
EOF
}

# relabel IN OUT: IPv4 192.168.1.x (the homes of mkbig mixed) -> 198.51.100.x, header
# checksum redone, so that what tcpreplay puts on the wire only uses the spoofing ranges
# (198.51.100.0/24 and the servers' 203.0.113.0/24).
relabel() {
	"$PY" - "$@" <<'EOF'
import struct, sys
home, new = bytes([192, 168, 1]), bytes([198, 51, 100])
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as o:
    o.write(f.read(24))
    while len(rec := f.read(16)) == 16:
        incl = struct.unpack("<IIII", rec)[2]
        d = bytearray(f.read(incl))
        if len(d) >= 34 and d[12:14] == b"\x08\x00" and d[14] >> 4 == 4:
            for off in (26, 30):
                if d[off:off + 3] == home:
                    d[off:off + 3] = new
            ihl = (d[14] & 15) * 4
            d[24:26] = b"\0\0"
            s = sum(struct.unpack("!%dH" % (ihl // 2), bytes(d[14:14 + ihl])))
            s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
            d[24:26] = struct.pack("!H", ~s & 0xffff)
        o.write(rec)
        o.write(d)
EOF
}

# offline_run PCAP OUT_PREFIX [probe options]: one offline run; summary line in OUT.err.
offline_run() {
	local pcap=$1 out=$2; shift 2
	"$PROBE" -r "$pcap" --jsonl "$out.jsonl" --idle-timeout 1h --max-flows 1048576 \
		--log-level warn "$@" 2>"$out.err" >/dev/null
}

# Per-customer rx/tx bytes and packets of a JSON Lines file, and the sum of shed_packets.
jsonl_sums() {
	"$PY" - "$1" <<'EOF'
import collections, json, sys
t = collections.defaultdict(lambda: [0, 0, 0, 0])
shed = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type") == "stats":
        v = t[o["customer"]]
        for i, k in enumerate(("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")):
            v[i] += o[k]
        shed += o.get("shed_packets", 0)
print(json.dumps({"customers": dict(t), "shed": shed}, sort_keys=True))
EOF
}

SRC=$CACHE/shed-mixed$FLOWS.pcap
if [ ! -s "$SRC" ]; then
	note "building $SRC (mkbig.py mixed $FLOWS, cached)"
	"$PY" "$HERE/mkbig.py" mixed "$SRC" "$FLOWS" >&2 || { row error "mkbig.py failed"; exit 0; }
fi
npk=$("$PY" -c 'import sys; f=open(sys.argv[1],"rb"); f.read(24); n=0
import struct
while True:
    r=f.read(16)
    if len(r)<16: break
    f.seek(struct.unpack("<IIII",r)[2],1); n+=1
print(n)' "$SRC")

# Capacity C: packets/s with shedding off (median of RUNS), at the capture's own timing.
: >"$TMP/cap2"
for _ in $(seq "$RUNS"); do
	offline_run "$SRC" "$TMP/full"
	sed -n 's/.* elapsed \([0-9.]*\) s \([0-9]*\) packets.*/\2/p' "$TMP/full.err" >>"$TMP/cap2"
done
C=$(median <"$TMP/cap2")
BUDGET=${BENCH_SHED_PPS:-$(( ${C%.*} / 2 ))}
ref=$(jsonl_sums "$TMP/full.jsonl")
note "capacity $C packets/s with everything on ($npk packets, $FLOWS flows); budget --shed-pps $BUDGET"
row "offline capacity, no shedding" "$C pps" "median of $RUNS runs, $npk packets, $FLOWS concurrent new flows (mkbig mixed)"
printf '\n%-8s %-12s %-14s %-12s %-14s %-10s %s\n' mode offered processed "DPI/QoS %" shed_packets bytes "note" >"$TMP/table"

# shed_row K OFFERED BUDGET_OPTION: RUNS offline runs of x$K.pcap, one table row and one bench row.
shed_row() {
	local k=$1 off=$2 opt=$3 tag
	tag=$(echo "$opt" | tr -c 'a-z0-9\n' _)
	: >"$TMP/pps$k$tag"
	for _ in $(seq "$RUNS"); do
		offline_run "$TMP/x$k.pcap" "$TMP/s$k$tag" --shed-pps "$opt" &&
			sed -n 's/.* elapsed \([0-9.]*\) s \([0-9]*\) packets.*/\2/p' "$TMP/s$k$tag.err" >>"$TMP/pps$k$tag"
	done
	local pps shed ip share got exact counted keep budget f=$TMP/s$k$tag
	pps=$(median <"$TMP/pps$k$tag")
	shed=$(field shed_packets "$f.err"); ip=$(sed -n 's/.* ip \([0-9]*\) .*/\1/p' "$f.err")
	budget=$(field shed_budget_pps "$f.err")
	share=$(awk -v s="$shed" -v n="$ip" 'BEGIN { printf "%.1f", n ? 100 * (n - s) / n : 0 }')
	got=$(jsonl_sums "$f.jsonl")
	exact=$("$PY" -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); print("exact" if a["customers"] == b["customers"] else "DIFFER")' "$ref" "$got")
	counted=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["shed"])' "$got")
	[ "$counted" = "$shed" ] || exact="$exact, jsonl shed_packets $counted != $shed"
	keep=$(awk -v p="$pps" -v o="$off" 'BEGIN { print (p >= o ? "keeps up" : "falls behind") }')
	printf '%-8s %-12s %-14s %-12s %-14s %-10s %s\n' "offline" "${k}x $off" "$pps" "$share" "$shed" "$exact" "$keep; --shed-pps $opt (last budget $budget)" >>"$TMP/table"
	local win; win=$(awk -v n="$npk" -v o="$off" 'BEGIN { printf "%.1f", n / o / 0.1 }')
	row "offline ${k}x ($off pps offered), --shed-pps $opt" "$share % DPI/QoS" "processed $pps pps ($keep); shed_packets $shed; last budget $budget pps; per-customer bytes vs unshed: $exact; the file spans $win windows of 100 ms (auto: the first has no budget yet)"
}

for k in 1 2 4; do
	off=$(( ${C%.*} * k ))
	retime "$SRC" "$TMP/x$k.pcap" "$off"
	shed_row "$k" "$off" "$BUDGET"
	shed_row "$k" "$off" auto
done

# What auto costs when there is no overload: 0.25x, --shed-pps 0 against auto.
q=$(( ${C%.*} / 4 ))
retime "$SRC" "$TMP/xq.pcap" "$q"
: >"$TMP/qshed"
for _ in $(seq "$RUNS"); do     # alternate, so that a neighbour's load hits both alike
	for opt in 0 auto; do
		offline_run "$TMP/xq.pcap" "$TMP/q$opt" --shed-pps "$opt" || continue
		sed -n 's/.* elapsed \([0-9.]*\) s \([0-9]*\) packets.*/\2/p' "$TMP/q$opt.err" >>"$TMP/ppsq$opt"
		field cpu "$TMP/q$opt.err" >>"$TMP/cpuq$opt"
		[ "$opt" = auto ] && field shed_packets "$TMP/qauto.err" >>"$TMP/qshed"
	done
done
pq0=$(median <"$TMP/ppsq0"); pqa=$(median <"$TMP/ppsqauto")
cq0=$(median <"$TMP/cpuq0"); cqa=$(median <"$TMP/cpuqauto")
qshed=$(sort -n "$TMP/qshed" | tail -n 1)
row "offline 0.25x ($q pps offered), auto vs 0" "cpu $cqa vs $cq0 s" "process CPU time with --shed-pps auto vs 0 (medians of $RUNS, alternated; wall-clock rate $pqa vs $pq0 pps); auto shed_packets at most $qshed"
printf '%-8s %-12s %-14s %-12s %-14s %-10s %s\n' offline "0.25x $q" "$pqa" "-" "$qshed" "-" "auto, cpu $cqa s; --shed-pps 0: $pq0 pps, cpu $cq0 s" >>"$TMP/table"

# ---- live: tcpreplay in a sealed namespace pair ----
live_ok=1
[ "$(id -u)" = 0 ] || { row "live" skipped "needs root (network namespaces)"; live_ok=0; }
command -v tcpreplay >/dev/null || { row "live" skipped "tcpreplay not installed"; live_ok=0; }
if [ $live_ok = 1 ]; then
	ip netns add "$NS_G" && ip netns add "$NS_P" || { row live error "namespaces"; live_ok=0; }
fi
if [ $live_ok = 1 ]; then
	ip link add g0 netns "$NS_G" type veth peer name p0 netns "$NS_P"
	for n in "$NS_G" "$NS_P"; do ip -n "$n" link set lo up; done
	ip -n "$NS_G" link set g0 up; ip -n "$NS_P" link set p0 up
	relabel "$SRC" "$TMP/live.pcap"
	# live_run PPS PACKETS [probe options] -> "sent captured shed ip" (tcpreplay bounded by --limit)
	live_run() {
		local pps=$1 lim=$2; shift 2
		ip netns exec "$NS_P" "$PROBE" -i p0 --snaplen 1600 --buffer-mb 64 --interval 1 \
			--idle-timeout 1h --max-flows 1048576 --jsonl "$TMP/live.jsonl" "$@" \
			--log-level warn 2>"$TMP/live.err" >/dev/null &
		local pid=$!
		sleep 1
		ip netns exec "$NS_G" timeout 120 tcpreplay -q -i g0 --pps "$pps" --limit "$lim" \
			"$TMP/live.pcap" >"$TMP/replay.out" 2>&1
		sleep 1.5
		kill -INT $pid; wait $pid
		local sent cap shed ip
		sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$TMP/replay.out" | head -n 1)
		local rate; rate=$(sed -n 's/.*Rated: [0-9.]* Bps, [0-9.]* Mbps, \([0-9.]*\) pps.*/\1/p' "$TMP/replay.out" | head -n 1)
		cap=$(sed -n 's/.*: packets \([0-9]*\) ip.*/\1/p' "$TMP/live.err")
		shed=$(field shed_packets "$TMP/live.err"); ip=$(sed -n 's/.* ip \([0-9]*\) .*/\1/p' "$TMP/live.err")
		echo "${sent:-0} ${cap:-0} ${shed:-0} ${ip:-0} ${rate:-0}"
	}
	lim=$(( npk < 200000 ? npk : 200000 ))
	# The live rate the probe keeps up with (no shedding): the highest of a few steps with
	# >= 99.9 % captured, starting from the offline capacity / 4.
	base=0
	for f in 1 2 4 8; do
		r=$(( ${C%.*} * f / 16 ))
		set -- $(live_run "$r" "$lim" --shed-pps 0)
		note "live calibration $r pps: sent $1 captured $2 achieved $5"
		awk -v s="$1" -v c="$2" 'BEGIN { exit !(s > 0 && c >= 0.999 * s) }' && base=$r
	done
	[ "$base" -gt 0 ] || base=$(( ${C%.*} / 16 ))
	row "live keeps up at (no shedding)" "$base pps" "probe -i on a veth, tcpreplay bounded to $lim packets"
	for k in 1 2 4; do
		r=$(( base * k ))
		set -- $(live_run "$r" "$lim" --shed-pps "$(( base / 2 ))")
		share=$(awk -v s="$3" -v n="$4" 'BEGIN { printf "%.1f", n ? 100 * (n - s) / n : 0 }')
		capt=$(awk -v s="$1" -v c="$2" 'BEGIN { printf "%.2f", s ? 100 * c / s : 0 }')
		printf '%-8s %-12s %-14s %-12s %-14s %-10s %s\n' live "${k}x $r" "$5" "$share" "$3" "-" "captured $capt % of $1" >>"$TMP/table"
		row "live ${k}x ($r pps asked)" "$share % DPI/QoS" "achieved $5 pps; captured $capt % of $1 sent; shed_packets $3; --shed-pps $(( base / 2 ))"
		set -- $(live_run "$r" "$lim" --shed-pps auto)
		share=$(awk -v s="$3" -v n="$4" 'BEGIN { printf "%.1f", n ? 100 * (n - s) / n : 0 }')
		capt=$(awk -v s="$1" -v c="$2" 'BEGIN { printf "%.2f", s ? 100 * c / s : 0 }')
		printf '%-8s %-12s %-14s %-12s %-14s %-10s %s\n' live "${k}x $r" "$5" "$share" "$3" "-" "captured $capt % of $1; auto" >>"$TMP/table"
		row "live ${k}x ($r pps asked), --shed-pps auto" "$share % DPI/QoS" "achieved $5 pps; captured $capt % of $1 sent; shed_packets $3"
	done
fi
cat "$TMP/table" >&2
