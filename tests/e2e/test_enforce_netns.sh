#!/bin/bash
# test_enforce_netns.sh: the enforcer against real nftables in sealed network namespaces.
# attacker ns (198.51.100.7, .9, 203.0.113.5) -> gateway ns (forwards; enforce on) -> victim ns (10.0.101.10)
# Checks: table inet <ours> with banned4/banned6 sets (interval,timeout) and a drop rule in a
# prerouting hook; a ban drops forwarded traffic; allowlisted and loopback addresses are refused;
# the cap holds; unban restores traffic; nft expires a ban by its timeout; enforce_free removes
# only our table (a table/rule we add ourselves stays untouched).
set -u
GW_BUILD=${GW_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
CTL="$GW_BUILD/tools/gw-enforce-ctl"

if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
	echo "SKIP: needs root, nft and ip"; exit 0
fi
[ -x "$CTL" ] || { echo "FAIL: $CTL not built"; exit 1; }

ID=$$
NA=gwA$ID; NG=gwG$ID; NV=gwV$ID
TABLE=gwtest$ID
FAILS=0
CTL_PID=""

ECHO_PID=""
cleanup() {
	[ -n "$ECHO_PID" ] && kill "$ECHO_PID" 2>/dev/null
	if [ -n "$CTL_PID" ] && kill -0 "$CTL_PID" 2>/dev/null; then
		echo quit >&"${COP[1]}" 2>/dev/null
		sleep 0.5
		kill "$CTL_PID" 2>/dev/null
	fi
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NG" 2>/dev/null
	ip netns del "$NV" 2>/dev/null
}
trap cleanup EXIT

. "$(dirname "$0")/../lib/checks.sh"

# --- sealed topology: only veth pairs between our own namespaces ---
. "$(dirname "$0")/../lib/netlab.sh"
gw_netlab3 "$NA" "$NG" "$NV" ga gv || { echo "FAIL: netns"; exit 1; }
ip -n "$NA" addr add 198.51.100.9/24 dev a0
ip -n "$NA" addr add 198.51.100.20/24 dev a0

# UDP echo in the victim namespace (bounded lifetime); reach SRC sends 3 datagrams from SRC
# through the gateway and is true when an echo comes back.
ECHO_PY='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.101.10", 9999))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
'
REACH_PY='
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.settimeout(0.4)
for i in range(3):
    s.sendto(b"probe", ("10.0.101.10", 9999))
    try:
        s.recvfrom(64)
        sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)
'
ip netns exec "$NV" timeout 110 /usr/bin/python3 -c "$ECHO_PY" &
ECHO_PID=$!
sleep 0.3
reach() { ip netns exec "$NA" /usr/bin/python3 -c "$REACH_PY" "$1"; }

# A table and rule that are not ours: must survive everything below.
ip netns exec "$NG" nft -f - <<EOF
add table inet other$ID
add chain inet other$ID fwdchain { type filter hook forward priority 0; policy accept; }
add rule inet other$ID fwdchain counter comment "not ours"
add table ip gatewatch_lookalike$ID
EOF
BEFORE_OTHER=$(ip netns exec "$NG" nft list table inet other$ID | grep -v counter)

check "baseline: attacker reaches victim through the gateway" reach 198.51.100.7

# --- start the enforcer (mode on) inside the gateway namespace ---
coproc COP { ip netns exec "$NG" "$CTL" --mode on --table "$TABLE" --max 3 --timeout 60 \
	--allow 198.51.100.9/32 2>/dev/null; }
CTL_PID=$COP_PID
cmd() {  # sends one command, prints the reply lines up to the final ok/err line
	local line
	echo "$*" >&"${COP[1]}"
	while IFS= read -r -t 10 line <&"${COP[0]}"; do
		echo "$line"
		case $line in ok*|err*) return 0 ;; esac
	done
	echo "err timeout"
}
read -r -t 10 READY <&"${COP[0]}"
[ "$READY" = ready ] || { fail "enforcer did not start ($READY)"; exit 1; }

RULES=$(ip netns exec "$NG" nft list table inet "$TABLE")
check "table inet $TABLE exists" test -n "$RULES"
check "set banned4 ipv4_addr interval,timeout" grep -qE 'set banned4 \{' <<<"$RULES"
check "set flags interval,timeout" grep -q 'flags interval,timeout' <<<"$RULES"
check "set banned6 ipv6_addr" grep -q 'type ipv6_addr' <<<"$RULES"
check "prerouting hook at raw priority" grep -qE 'hook prerouting priority (raw|-300)' <<<"$RULES"
check "drop rule for banned4" grep -q 'ip saddr @banned4 counter packets [0-9]* bytes [0-9]* drop' <<<"$RULES"
check "drop rule for banned6" grep -q 'ip6 saddr @banned6 counter' <<<"$RULES"

R=$(cmd ban 198.51.100.7/32 30)
check "ban accepted ($R)" grep -q '^ok' <<<"$R"
check "element in the kernel set" bash -c "ip netns exec $NG nft list set inet $TABLE banned4 | grep -q '198.51.100.7 timeout'"
if reach 198.51.100.7; then fail "banned source still reaches the victim"; else ok "banned source no longer reaches the victim (forwarded traffic dropped)"; fi
check "other source still reaches the victim" reach 198.51.100.20
DROPS=$(ip netns exec "$NG" nft list chain inet "$TABLE" prerouting | grep -o 'banned4 counter packets [0-9]*' | grep -o '[0-9]*$')
check "drop counter counted the attack packets (${DROPS:-0})" test "${DROPS:-0}" -ge 2

R=$(cmd ban 198.51.100.9 30)
check "allowlisted address refused ($R)" grep -q '^err.*allowlisted' <<<"$R"
check "allowlisted address still reaches the victim" reach 198.51.100.9
R=$(cmd ban 198.51.100.0/24 30)
check "prefix covering an allowlisted address refused" grep -q '^err.*allowlisted' <<<"$R"
R=$(cmd ban 127.0.0.1 30)
check "loopback refused" grep -q '^err.*allowlisted' <<<"$R"
R=$(cmd ban ::1 30)
check "::1 refused" grep -q '^err.*allowlisted' <<<"$R"
R=$(cmd ban 0.0.0.0/0 30)
check "0.0.0.0/0 refused" grep -q '^err' <<<"$R"

R=$(cmd ban 2001:db8::66 30)
check "IPv6 ban accepted" grep -q '^ok' <<<"$R"
check "IPv6 element in banned6" bash -c "ip netns exec $NG nft list set inet $TABLE banned6 | grep -q '2001:db8::66'"
R=$(cmd ban 203.0.113.0/24 2)
check "short ban accepted" grep -q '^ok' <<<"$R"
R=$(cmd ban 192.0.2.44 30)
check "cap of 3 entries enforced ($R)" grep -q '^err.*cap' <<<"$R"
check "capped element not in the kernel" bash -c "! ip netns exec $NG nft list set inet $TABLE banned4 | grep -q 192.0.2.44"

L=$(cmd list)
check "list reads 3 entries back from the kernel" grep -q '^ok 3 entries' <<<"$L"
check "list line format ADDR/LEN seconds ($(grep 198.51 <<<"$L"))" grep -qE '^entry 198\.51\.100\.7/32 (2[0-9]|30)$' <<<"$L"
check "list shows the IPv6 entry" grep -qE '^entry 2001:db8::66/128 [0-9]+$' <<<"$L"

sleep 3
check "nft expired the 2 s ban by itself" bash -c "! ip netns exec $NG nft list set inet $TABLE banned4 | grep -q 203.0.113.0"
L=$(cmd list)
check "list after expiry shows 2 entries" grep -q '^ok 2 entries' <<<"$L"
R=$(cmd count)
check "bookkeeping forgot the expired ban ($R)" grep -q '^ok 2$' <<<"$R"
R=$(cmd ban 192.0.2.44 30)
check "a slot freed by expiry can be used again" grep -q '^ok' <<<"$R"

R=$(cmd unban 198.51.100.7/32)
check "unban ($R)" grep -q '^ok' <<<"$R"
check "unbanned source reaches the victim again" reach 198.51.100.7
R=$(cmd unban 198.51.100.7/32)
check "second unban reports not banned" grep -q '^err.*not banned' <<<"$R"

echo quit >&"${COP[1]}"
wait "$CTL_PID" 2>/dev/null
CTL_PID=""
check "enforce_free removed table inet $TABLE" bash -c "! ip netns exec $NG nft list table inet $TABLE >/dev/null 2>&1"
AFTER_OTHER=$(ip netns exec "$NG" nft list table inet other$ID | grep -v counter)
check "foreign table and rule untouched" test "$BEFORE_OTHER" = "$AFTER_OTHER"
check "foreign rule still present" bash -c "ip netns exec $NG nft list table inet other$ID | grep -q 'not ours'"
check "look-alike table untouched" bash -c "ip netns exec $NG nft list table ip gatewatch_lookalike$ID >/dev/null"

# dry-run never touches nftables
OUT=$(printf 'ban 198.51.100.7 30\nlist\nquit\n' | ip netns exec "$NG" "$CTL" --mode dry-run --table "$TABLE" 2>/dev/null)
check "dry-run ban is only logged" grep -q '^ok dry-run' <<<"$OUT"
check "dry-run created no table" bash -c "! ip netns exec $NG nft list table inet $TABLE >/dev/null 2>&1"

if [ "$FAILS" -ne 0 ]; then echo "test_enforce_netns: $FAILS failed"; exit 1; fi
echo "test_enforce_netns: all passed"
exit 0
