#!/usr/bin/env bash
# test_lab.sh: deploy/lab/lab builds sealed gateway labs (plain and VLAN trunk), NAT works, and
# `lab down` removes everything, also after the script was killed midway.
set -euo pipefail

TESTS=${GW_TESTS:-$(cd "$(dirname "$0")/.." && pwd)}
REPO=$(cd "$TESTS/.." && pwd)
LAB=$REPO/deploy/lab/lab
BUILD=${GW_BUILD:-$REPO/build}
TMP=$(mktemp -d /tmp/gw-test-lab.XXXXXX)
export GW_LAB_STATE=$TMP/state
export GW_LAB_PREFIX=gw-e$$-
export GW_BUILD=$BUILD
fails=0

cleanup() {
	"$LAB" down >/dev/null 2>&1 || true
	# Belt and braces: nothing with our unique prefix may survive the test.
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$GW_LAB_PREFIX" || true); do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # description command...
	local d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

if ! ip netns add "${GW_LAB_PREFIX}probe" 2>/dev/null; then
	echo "SKIP: cannot create network namespaces here (needs root and CONFIG_NET_NS)"
	exit 0
fi
ip netns del "${GW_LAB_PREFIX}probe"

# The stream generator: the build's, or compiled here (plain libc).
GEN=$BUILD/tools/gw-udpgen
if [ ! -x "$GEN" ]; then
	GEN=$TMP/gw-udpgen
	cc -O2 -std=gnu11 -o "$GEN" "$TESTS/tools/gw-udpgen.c"
fi

our_netns() { ip netns list | awk '{print $1}' | grep "^$GW_LAB_PREFIX" || true; }

# Every veth in every lab netns must have its peer in a lab netns; the root ns none.
sealed() {
	local n line
	for n in $(our_netns); do
		while read -r line; do
			[ -n "$line" ] || continue
			case $line in
			*"link-netns $GW_LAB_PREFIX"*) ;;
			*) echo "  unsealed link in $n: ${line:0:80}"; return 1 ;;
			esac
		done < <(ip -n "$n" -o link show type veth)
	done
	if ip -o link | grep -q "link-netns $GW_LAB_PREFIX"; then
		echo "  root namespace has a link into the lab"; return 1
	fi
}

# Host IPv4 addresses (outside lab ranges) must not be routable: homes and gateways only
# reach gw-inet, and gw-inet has no default route (spoof ranges are blackholed).
host_unreachable() {
	local a r
	for a in $(ip -4 -o addr | awk '$4 !~ /^127\./ {split($4, x, "/"); print x[1]}'); do
		case $a in 192.168.1.* | 100.64.* | 203.0.113.*) continue ;; esac
		if r=$(ip -n "${GW_LAB_PREFIX}inet" route get "$a" 2>&1) && ! grep -q blackhole <<<"$r"; then
			echo "  host address $a routable from inet: $r"; return 1
		fi
		ip -n "${GW_LAB_PREFIX}inet" route show default | grep -q . && { echo "  inet has a default route"; return 1; }
	done
	return 0
}

# Runs one short RTP exchange from each home to the stream server; prints server JSON.
exchange() { # n
	local n=$1 i out=$TMP/srv.jsonl pids=""
	timeout 10 ip netns exec "${GW_LAB_PREFIX}inet" "$GEN" serve --bind 203.0.113.10:5000 --seconds 4 >"$out" &
	local spid=$!
	sleep 0.3
	for i in $(seq 1 "$n"); do
		timeout 10 "$LAB" exec "c$((100 + i))" "$GEN" client --server 203.0.113.10:5000 --seconds 1 \
			--stream 1:80000:80000:200:0 >"$TMP/cli-$i.jsonl" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	wait $pids || true
	kill "$spid" 2>/dev/null || true
}

nat_ok() { # n: server saw each home as its gateway's WAN address; both sides got packets
	local n=$1 i
	for i in $(seq 1 "$n"); do
		grep -q "\"peer\":\"100.64.0.$i:" "$TMP/srv.jsonl" || { echo "  no stream from 100.64.0.$i"; return 1; }
		grep -q '"rx_packets":[1-9]' "$TMP/cli-$i.jsonl" || { echo "  home $i received nothing"; return 1; }
	done
	! grep -q '"peer":"192.168' "$TMP/srv.jsonl" || { echo "  private address leaked"; return 1; }
	grep -q '"rx_packets":[1-9]' "$TMP/srv.jsonl"
}

nothing_left() {
	[ -z "$(our_netns)" ] && [ ! -e "$GW_LAB_STATE" ]
}

start=$(date +%s)

# 1. Plain lab: two homes with the same private LAN, NAT to the internet namespace.
check "lab up 2" "$LAB" up 2
check "6 namespaces" test "$(our_netns | wc -l)" -eq 6
check "every home is 192.168.1.2/24" bash -c "for i in 1 2; do ip -n ${GW_LAB_PREFIX}h\$i -4 -o addr show lan0 | grep -q 192.168.1.2/24 || exit 1; done"
check "second 'lab up' refused" bash -c "! '$LAB' up 1 2>/dev/null"
check "sealed (veth peers inside the lab only)" sealed
check "home default route via its gateway" bash -c "ip -n ${GW_LAB_PREFIX}h1 route | grep -q 'default via 192.168.1.1 dev lan0'"
check "spoof ranges blackholed in inet" bash -c "ip -n ${GW_LAB_PREFIX}inet route | grep -q 'blackhole 198.51.100.0/24'"
check "host addresses unreachable from the lab" host_unreachable
exchange 2
check "home -> server through NAT (plain)" nat_ok 2
check "status" bash -c "'$LAB' status | grep -q 'mode: plain'"
check "lab down" "$LAB" down
check "nothing left after down" nothing_left

# 2. Trunk: c101 on 802.1Q VID 101, c102 on Q-in-Q 802.1ad 200 / 802.1Q 10.
check "lab up 2 --trunk" "$LAB" up 2 --trunk
check "customer map written" bash -c "grep -qx 'c101 vlan 101' '$GW_LAB_STATE/customers.map' && grep -qx 'c102 vlan 200.10' '$GW_LAB_STATE/customers.map'"
check "sealed (trunk)" sealed
timeout 8 ip netns exec "${GW_LAB_PREFIX}br" dumpcap -q -i trunk -a duration:3 -w "$TMP/trunk.pcap" >/dev/null 2>&1 &
cap=$!
sleep 1
exchange 2
wait "$cap" || true
check "home -> server through the trunk and NAT" nat_ok 2
tags=$(tshark -r "$TMP/trunk.pcap" -T fields -e eth.type -e ieee8021ad.id -e vlan.id 2>/dev/null | sort | uniq -c)
echo "$tags" | sed 's/^/  trunk frames: /'
check "trunk carries 802.1Q VID 101" grep -Eq '0x8100[[:space:]]+101' <<<"$tags"
check "trunk carries 802.1ad 200 + 802.1Q 10" grep -Eq '0x88a8[[:space:]]+200[[:space:]]+10' <<<"$tags"
if [ -x "$BUILD/gatewatch-probe" ]; then
	# One probe reading the trunk splits the customers by VLAN with the lab's map.
	if "$BUILD/gatewatch-probe" -r "$TMP/trunk.pcap" --customer-map "$GW_LAB_STATE/customers.map" \
		--jsonl "$TMP/trunk.jsonl" >"$TMP/probe.log" 2>&1; then
		check "probe splits c101 by VLAN" grep -q '"customer":"c101".*"rx_bytes":[1-9]' "$TMP/trunk.jsonl"
		check "probe splits c102 by Q-in-Q" grep -q '"customer":"c102".*"rx_bytes":[1-9]' "$TMP/trunk.jsonl"
	else
		bad "probe -r trunk.pcap --customer-map: $(tail -n 3 "$TMP/probe.log")"
	fi
else
	echo "note: $BUILD/gatewatch-probe not built; trunk split checked on the wire only"
fi
check "lab down (trunk)" "$LAB" down
check "nothing left after down (trunk)" nothing_left

# 3. Crash: kill `lab up` midway, then `lab down` must still remove everything.
"$LAB" up 6 --trunk >/dev/null 2>&1 &
up=$!
for _ in $(seq 1 200); do
	[ -f "$GW_LAB_STATE/netns" ] && [ "$(wc -l <"$GW_LAB_STATE/netns")" -ge 5 ] && break
	sleep 0.01
done
kill -KILL "$up" 2>/dev/null || true
wait "$up" 2>/dev/null || true
echo "  killed 'lab up' with $(our_netns | wc -l) namespace(s) made"
check "crash left a partial lab" test -n "$(our_netns)"
check "lab down after crash" "$LAB" down
check "nothing left after crash cleanup" nothing_left

echo "elapsed $(($(date +%s) - start)) s"
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all lab checks passed"
