#!/usr/bin/env bash
# bench_loss.sh: packet loss of the live capture path versus packet size and rate. tcpreplay
# (bounded: --limit, one pass) sends UDP packets of one IP size from 198.51.100.0/24 to
# 203.0.113.0/24 (256 flows) in a sealed namespace over a veth pair into another namespace where
# gatewatch-probe captures (-i, --snaplen 1600, BPF on the generator's prefix). Loss = 1 -
# captured / sent. Prints rows "loss<TAB>metric<TAB>value<TAB>note" (tests/bench/run.sh collects
# them) and the table (size x rate) on stderr.
#   bench_loss.sh BUILD_DIR
# Environment: BENCH_LOSS_SIZES (IP bytes, default "64 128 256 512 1024 1500"),
# BENCH_LOSS_RATES (pps, default "20000 50000 100000 200000 max"), BENCH_LOSS_SECONDS (per
# case, default 2; at most 400,000 packets per case).
set -uo pipefail
B=${1:-build}; case $B in /*) ;; *) B=$(pwd)/$B ;; esac
PROBE=$B/gatewatch-probe
PY=/usr/bin/python3
SIZES=${BENCH_LOSS_SIZES:-64 128 256 512 1024 1500}
RATES=${BENCH_LOSS_RATES:-20000 50000 100000 200000 max}
SECS=${BENCH_LOSS_SECONDS:-2}
TMP=$(mktemp -d /tmp/gw-loss.XXXXXX)
NS_G=gwloss-g-$$; NS_P=gwloss-p-$$
PR_PID=""
cleanup() {
	[ -n "$PR_PID" ] && kill "$PR_PID" 2>/dev/null
	ip netns del "$NS_G" 2>/dev/null; ip netns del "$NS_P" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
export LC_ALL=C
row() { printf 'loss\t%s\t%s\t%s\n' "$1" "$2" "${3:-}"; }
[ "$(id -u)" = 0 ] || { row "live capture loss" skipped "needs root (network namespaces)"; exit 0; }
command -v tcpreplay >/dev/null || { row "live capture loss" skipped "tcpreplay not installed"; exit 0; }

ip netns add "$NS_G" && ip netns add "$NS_P" || { row error "cannot create namespaces"; exit 0; }
ip link add g0 netns "$NS_G" type veth peer name p0 netns "$NS_P"
for n in "$NS_G" "$NS_P"; do
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip -n "$n" link set lo up
done
ip -n "$NS_G" link set g0 up; ip -n "$NS_P" link set p0 up

# mkpcap OUT IP_SIZE N: N UDP packets of IP_SIZE bytes over 256 flows.
mkpcap() {
	"$PY" - "$@" <<'EOF'
import struct, sys
out, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = max(28, min(size, 1500))
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    frames = []
    for k in range(256):
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, size, k, 0, 64, 17, 0,
                                   bytes([198, 51, 100, 1 + k % 200]), bytes([203, 0, 113, 1 + k % 50])))
        s = 0
        for i in range(0, 20, 2):
            s += (ip[i] << 8) | ip[i + 1]
        s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
        ip[10:12] = struct.pack("!H", ~s & 0xffff)
        udp = struct.pack("!HHHH", 40000 + k, 5004, size - 20, 0)
        eth = bytes.fromhex("02000000000202000000000108 00".replace(" ", ""))
        frames.append(eth + bytes(ip) + udp + bytes(size - 28))
    for i in range(n):
        fr = frames[i % 256]
        f.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(fr), len(fr)))
        f.write(fr)
EOF
}

printf '\n%-9s' "IP bytes" >"$TMP/table"
for r in $RATES; do printf ' %-22s' "$r pps" >>"$TMP/table"; done
printf '\n' >>"$TMP/table"
for size in $SIZES; do
	printf '%-9s' "$size" >>"$TMP/table"
	for r in $RATES; do
		if [ "$r" = max ]; then n=400000; rate_opt=(--topspeed); else
			n=$(( r * SECS )); [ $n -gt 400000 ] && n=400000; rate_opt=(--pps "$r"); fi
		mkpcap "$TMP/gen.pcap" "$size" "$n" || { row error "mkpcap failed"; exit 0; }
		ip netns exec "$NS_P" "$PROBE" -i p0 --snaplen 1600 -f "net 203.0.113.0/24" \
			--interval 1 --log-level warn >/dev/null 2>"$TMP/probe.err" &
		PR_PID=$!
		sleep 1
		ip netns exec "$NS_G" timeout 60 tcpreplay -q -i g0 "${rate_opt[@]}" --limit "$n" \
			"$TMP/gen.pcap" >"$TMP/replay.out" 2>&1
		sleep 1
		kill -INT "$PR_PID"; wait "$PR_PID"; PR_PID=""
		sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$TMP/replay.out" | head -n 1)
		ach=$(sed -n 's/.*Rated: .* Mbps, \([0-9.]*\) pps.*/\1/p' "$TMP/replay.out" | head -n 1)
		cap=$(sed -n 's/.*: packets \([0-9]*\) ip.*/\1/p' "$TMP/probe.err")
		loss=$(awk -v s="${sent:-0}" -v c="${cap:-0}" 'BEGIN { if (s == 0) print "n/a"; else printf "%.3f", 100 * (s - c) / s }')
		cell="$loss % @ ${ach%.*}"
		printf ' %-22s' "$cell" >>"$TMP/table"
		row "loss ${size} B at $r pps" "$loss %" "sent ${sent:-0} captured ${cap:-0}, generator achieved ${ach:-0} pps"
	done
	printf '\n' >>"$TMP/table"
done
{ echo "packet loss % of the live capture path @ achieved generator pps (tcpreplay over a veth):"; cat "$TMP/table"; } >&2
