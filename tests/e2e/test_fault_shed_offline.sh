#!/bin/bash
# test_fault_shed_offline.sh: load shedding keeps the counters exact. A capture of 5000
# concurrent new flows (mkbig.py mixed) re-timed to 200,000 packets/s runs through the probe
# with shedding off and with --shed-pps 20000. Checks: some flows were shed (shed_packets > 0,
# the JSON Lines field sums to the probe's own counter), every customer's rx/tx bytes and
# packets are identical to the unshed run, flows_new too, and shedding off sheds nothing.
# Automatic budget: the same capture re-timed to 20,000 packets/s (1.1 s of packet time, 11
# windows of 100 ms): with --shed-pps auto:1 (target 1 % of a core; the probe needs several %
# for that rate on any machine slower than ~2 M packets/s) it sheds, says why once (log line
# "shed: ... auto budget"), reports its budget, and the counters equal the unshed run's; with
# the default target (auto = 80 %) at that rate it sheds nothing.
set -u
B=${GW_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
TESTS=${GW_TESTS:-$(cd "$(dirname "$0")/.." && pwd)}
PROBE=$B/gatewatch-probe
PY=/usr/bin/python3
[ -x "$PROBE" ] || { echo "FAIL: missing $PROBE"; exit 1; }
T=$(mktemp -d /tmp/gwshed.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$PY" "$TESTS/bench/mkbig.py" mixed "$T/mixed.pcap" 5000 >/dev/null || fail "mkbig.py"
retime() { # in out pps
"$PY" - "$@" <<'PY'
import struct, sys
src, dst, pps = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(src, "rb") as f, open(dst, "wb") as o:
    o.write(f.read(24))
    i, t0 = 0, 1700000000 * 1000000
    while len(rec := f.read(16)) == 16:
        incl = struct.unpack("<IIII", rec)[2]
        t = t0 + int(i * 1e6 / pps)
        o.write(struct.pack("<IIII", t // 1000000, t % 1000000, incl, struct.unpack("<IIII", rec)[3]))
        o.write(f.read(incl))
        i += 1
PY
}
retime "$T/mixed.pcap" "$T/fast.pcap" 200000 || fail "retime"
retime "$T/mixed.pcap" "$T/slow.pcap" 20000 || fail "retime"
printf "h1 prefix 192.168.1.0/25\nh2 prefix 192.168.1.128/25\n" >"$T/map"
run() { # out shed_pps [pcap] -> shed_packets shed_flows shed_starts shed_budget_pps
	"$PROBE" -r "${3:-$T/fast.pcap}" --customer-map "$T/map" --jsonl "$T/$1.jsonl" --idle-timeout 1h \
		--interval 0.1 --shed-pps "$2" 2>"$T/$1.err" >/dev/null || fail "probe: $(cat "$T/$1.err")"
	sed -n 's/.* shed_packets \([0-9]*\) shed_flows \([0-9]*\) shed_starts \([0-9]*\) shed_budget_pps \([0-9]*\).*/\1 \2 \3 \4/p' "$T/$1.err"
}
read -r off_pk off_fl _ < <(run off 0)
read -r on_pk on_fl _ < <(run on 20000)
echo "shedding off: shed_packets $off_pk shed_flows $off_fl; --shed-pps 20000: shed_packets $on_pk shed_flows $on_fl"
[ "$off_pk" = 0 ] && [ "$off_fl" = 0 ] || fail "shedding off shed something"
[ "${on_pk:-0}" -gt 0 ] && [ "${on_fl:-0}" -gt 0 ] || fail "nothing shed at 10x the budget"
same() { # unshed.jsonl shed.jsonl shed_packets
"$PY" - "$@" <<'PY'
import collections, json, sys
def sums(path):
    t = collections.defaultdict(lambda: collections.Counter())
    shed = 0
    for line in open(path):
        o = json.loads(line)
        if o["type"] != "stats":
            continue
        for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "flows_new"):
            t[o["customer"]][k] += o[k]
        shed += o.get("shed_packets", 0)
    return t, shed
a, shed_a = sums(sys.argv[1])
b, shed_b = sums(sys.argv[2])
assert a and a == b, (a, b)
assert shed_a == 0 and shed_b == int(sys.argv[3]), (shed_a, shed_b, sys.argv[3])
pk = sum(v["rx_packets"] + v["tx_packets"] for v in b.values())
assert shed_b < pk, (shed_b, pk)
print(f"{len(a)} customers: bytes, packets and new flows identical; {shed_b} of {pk} packets shed "
      f"({100 * (pk - shed_b) / pk:.1f} % got DPI/QoS)")
PY
}
same "$T/off.jsonl" "$T/on.jsonl" "$on_pk" || fail "counters differ (--shed-pps 20000)"

# Automatic budget, at 20,000 packets/s of packet time.
read -r soff_pk _ < <(run slow_off 0 "$T/slow.pcap")
read -r a1_pk a1_fl a1_st a1_b < <(run auto1 auto:1 "$T/slow.pcap")
read -r a80_pk a80_fl a80_st a80_b < <(run auto80 auto "$T/slow.pcap")
echo "20,000 packets/s: --shed-pps auto:1: shed_packets $a1_pk shed_flows $a1_fl starts $a1_st budget $a1_b pps; auto (80 %): shed_packets $a80_pk"
grep -h "shed: new flows get no DPI/QoS" "$T/auto1.err" | head -1
[ "$soff_pk" = 0 ] || fail "shedding off shed something"
[ "${a1_pk:-0}" -gt 0 ] && [ "${a1_st:-0}" -ge 1 ] && [ "${a1_b:-0}" -gt 0 ] ||
	fail "auto:1 did not shed (or no budget reported)"
n=$(grep -c "shed: new flows get no DPI/QoS: auto budget [0-9]* packets/s: capture thread needed" "$T/auto1.err")
[ "$n" = "$a1_st" ] || fail "$n reason lines for $a1_st episodes of shedding"
same "$T/slow_off.jsonl" "$T/auto1.jsonl" "$a1_pk" || fail "counters differ (--shed-pps auto:1)"
[ "$a80_pk" = 0 ] && [ "$a80_st" = 0 ] || fail "auto (80 %) shed at a light load"
same "$T/slow_off.jsonl" "$T/auto80.jsonl" 0 || fail "counters differ (--shed-pps auto)"
echo PASS
