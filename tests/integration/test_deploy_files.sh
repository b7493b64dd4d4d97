#!/usr/bin/env bash
# test_deploy_files.sh: the deployment files under deploy/ agree with the real daemons: sample
# customer map and operator config load, options named anywhere exist, systemd units verify,
# compose and Dockerfiles are structurally sound and ship every library the binaries link.
set -euo pipefail

TESTS=${GW_TESTS:-$(cd "$(dirname "$0")/.." && pwd)}
REPO=$(cd "$TESTS/.." && pwd)
B=${GW_BUILD:-$REPO/build}
D=$REPO/deploy
PROBE=$B/gatewatch-probe
OPER=$B/gatewatch-operator
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/gw-test-deploy.XXXXXX)
pids=""
fails=0

cleanup() {
	local p
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -f "$TMP/rrdcached.pid" ] && kill "$(cat "$TMP/rrdcached.pid")" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }

for f in "$PROBE" "$OPER"; do [ -x "$f" ] || { echo "FAIL: $f not built"; exit 1; }; done

# --- 1. customers.map.sample, loaded by the probe, gives the documented split ---------------
"$PY" - "$TMP/map.pcap" <<'EOF' 2>/dev/null
import sys
from scapy.all import Ether, Dot1Q, Dot1AD, IP, IPv6, UDP, TCP, Raw, wrpcap
pk, t = [], 1700000000.0
E = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
for i in range(5):
    for p in (Ether(**E)/Dot1Q(vlan=101)/IP(src="192.168.1.2", dst="203.0.113.10")/UDP(sport=4000, dport=53)/Raw(b"x"*100),
              Ether(**E)/Dot1Q(vlan=101)/IP(src="203.0.113.10", dst="192.168.1.2")/UDP(sport=53, dport=4000)/Raw(b"y"*200),
              Ether(**E)/Dot1AD(vlan=200)/Dot1Q(vlan=10)/IP(src="192.168.1.2", dst="203.0.113.10")/UDP(sport=4001, dport=53)/Raw(b"x"*50),
              Ether(**E)/IP(src="203.0.113.10", dst="198.51.100.5")/TCP(sport=80, dport=40000, flags="A")/Raw(b"z"*300),
              Ether(**E)/IPv6(src="2001:db8:201::1", dst="2001:db8:ffff::1")/UDP(sport=5, dport=6)/Raw(b"q"*10)):
        p.time = t; t += 0.01; pk.append(p)
wrpcap(sys.argv[1], pk)
EOF
"$PROBE" -r "$TMP/map.pcap" --customer-map "$D/config/customers.map.sample" --jsonl "$TMP/map.jsonl" \
	--probe-id deploytest 2>"$TMP/map.err" || { bad "probe rejects customers.map.sample: $(cat "$TMP/map.err")"; }
stat_of() { # customer field -> value summed over stats lines
	"$PY" -c '
import json, sys
tot = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("type") == "stats" and o.get("customer") == sys.argv[2]:
        tot += o.get(sys.argv[3], 0)
print(tot)' "$TMP/map.jsonl" "$1" "$2"
}
# Expected IP bytes: 5 x (20+8+100) up / 5 x (20+8+200) down on VLAN 101; 5 x 78 up on
# Q-in-Q 200.10; prefix customer c201: 5 x 340 down (IPv4) + 5 x 58 up (IPv6 /48).
check "map: c101 by VLAN 101 (rx 1140, tx 640)" test "$(stat_of c101 rx_bytes) $(stat_of c101 tx_bytes)" = "1140 640"
check "map: c110 by Q-in-Q 200.10 (tx 390)" test "$(stat_of c110 tx_bytes)" = 390
check "map: c201 by IPv4 + IPv6 prefixes (rx 1700, tx 290)" test "$(stat_of c201 rx_bytes) $(stat_of c201 tx_bytes)" = "1700 290"
cp "$D/config/customers.map.sample" "$TMP/bad.map"
echo "c999 vlan 5000" >>"$TMP/bad.map"
badline=$(wc -l <"$TMP/bad.map")
if "$PROBE" -r "$TMP/map.pcap" --customer-map "$TMP/bad.map" --jsonl "$TMP/bad.jsonl" 2>"$TMP/bad.err"; then
	bad "probe accepted a map with VLAN 5000"
else
	check "bad map line reported as file:line" grep -q "bad.map:$badline" "$TMP/bad.err"
fi

# --- 2. operator.conf.sample is accepted by the operator ------------------------------------
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$TMP/rrd" "$TMP/journal"
rrdcached -l "unix:$TMP/rrdcached.sock" -p "$TMP/rrdcached.pid" -b "$TMP/rrd" -B -j "$TMP/journal" \
	-w 5 -z 1 2>"$TMP/rrdcached.log"
# The sample's addresses and paths are for a real host: the command line overrides them.
"$OPER" --config "$D/config/operator.conf.sample" --listen "ipc://$TMP/op.sock" \
	--http "127.0.0.1:$port" --rrd-dir "$TMP/rrd" --rrdcached "unix:$TMP/rrdcached.sock" --db "$TMP/gw.db" \
	--dashboard-dir "$D/../dashboards" \
	>"$TMP/oper.log" 2>&1 &
opid=$!
pids="$pids $opid"
up=0
for _ in $(seq 1 50); do
	if curl -fsS "http://127.0.0.1:$port/api/v1/probes" >/dev/null 2>&1; then up=1; break; fi
	kill -0 "$opid" 2>/dev/null || break
	sleep 0.1
done
check "operator runs with operator.conf.sample (HTTP answers)" test $up = 1
[ $up = 1 ] || sed 's/^/  | /' "$TMP/oper.log"
kill "$opid" 2>/dev/null || true
wait "$opid" 2>/dev/null || true
sed 's/^history .*/history lots/' "$D/config/operator.conf.sample" >"$TMP/bad.conf"
hl=$(grep -n '^history' "$TMP/bad.conf" | cut -d: -f1)
if timeout 5 "$OPER" --config "$TMP/bad.conf" --listen "ipc://$TMP/op2.sock" --http 127.0.0.1:0 \
	--rrd-dir "$TMP/rrd" >"$TMP/bad-oper.log" 2>&1; then
	bad "operator accepted 'history lots'"
else
	check "bad operator.conf line reported as file:line" grep -q "bad.conf:$hl" "$TMP/bad-oper.log"
fi

# --- 3. every option named in deploy files exists in the binaries' --help -------------------
"$PROBE" --help >"$TMP/probe.help" 2>&1 || true
"$OPER" --help >"$TMP/oper.help" 2>&1 || true
opts_known() { # helpfile options...
	local h=$1 o missing=""; shift
	for o in "$@"; do grep -q -- "$o\b" "$h" || missing="$missing $o"; done
	[ -z "$missing" ] || { echo "  unknown options:$missing"; return 1; }
}
probe_opts=$( { grep -v '^#[^#]*$' "$D/config/probe.env.sample" | grep -v '^# '; grep -h 'gatewatch-probe' "$D/systemd/gatewatch-probe@.service";
	sed -n '/probe-c101:/,/restart:/p' "$D/docker/compose.yaml"; grep -A3 'spawn.*gatewatch-probe\|"\$bin" -i' "$D/lab/lab"; } |
	grep -o -- '--[a-z][a-z-]*' | sort -u)
# shellcheck disable=SC2086
check "probe options used by deploy files exist ($(echo $probe_opts | wc -w))" opts_known "$TMP/probe.help" $probe_opts
oper_opts=$( { grep -o '^#\?[a-z][a-z-]*' "$D/config/operator.conf.sample" | tr -d '#' | sed 's/^/--/';
	sed -n '/^  operator:/,/restart:/p' "$D/docker/compose.yaml" | grep -o -- '--[a-z][a-z-]*';
	grep -h 'gatewatch-operator ' "$D/systemd/gatewatch-operator.service" | grep -o -- '--[a-z][a-z-]*'; } | sort -u)
# shellcheck disable=SC2086
check "operator options used by deploy files exist ($(echo $oper_opts | wc -w))" opts_known "$TMP/oper.help" $oper_opts

# --- 4. systemd units -----------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$TMP/units"
	for f in "$D"/systemd/*.service; do
		# ExecStart points at /usr/local/bin; verify against the build's binaries instead.
		sed "s#/usr/local/bin/#$B/#g" "$f" >"$TMP/units/$(basename "$f")"
	done
	ln -s gatewatch-probe@.service "$TMP/units/gatewatch-probe@c101.service"
	(cd "$TMP/units" && systemd-analyze verify ./gatewatch-operator.service ./gatewatch-probe@c101.service \
		./gatewatch-rrdcached.service) >"$TMP/verify.log" 2>&1 && vrc=0 || vrc=$?
	check "systemd-analyze verify: units clean" test "$vrc" = 0 -a ! -s "$TMP/verify.log"
	[ -s "$TMP/verify.log" ] && sed 's/^/  | /' "$TMP/verify.log"
	for u in gatewatch-operator gatewatch-probe@c101 gatewatch-rrdcached; do
		s=$(cd "$TMP/units" && systemd-analyze security --offline=true "./$u.service" 2>/dev/null |
			grep -o 'Overall exposure level.*' || true)
		echo "  $u: ${s:-no security score}"
	done
else
	echo "SKIP systemd unit verification: systemd-analyze is not installed"
fi
check "probe unit: CAP_NET_RAW only by default" grep -qx 'AmbientCapabilities=CAP_NET_RAW' "$D/systemd/gatewatch-probe@.service"
check "operator unit: no capabilities" grep -qx 'CapabilityBoundingSet=' "$D/systemd/gatewatch-operator.service"

# --- 5. compose file and Dockerfiles ---------------------------------------------------------
"$PY" - "$D/docker/compose.yaml" >"$TMP/compose.log" 2>&1 <<'EOF' && crc=0 || crc=$?
import os, sys, yaml
path = sys.argv[1]; here = os.path.dirname(path)
c = yaml.safe_load(open(path))
errs = []
svc = c.get("services", {})
for need in ("rrdcached", "operator", "gateway-c101", "probe-c101"):
    if need not in svc: errs.append("missing service " + need)
vols = set((c.get("volumes") or {}).keys()); nets = set((c.get("networks") or {}).keys())
for name, s in svc.items():
    b = s.get("build")
    if isinstance(b, dict) and "dockerfile" in b:
        df = os.path.join(here, b.get("context", "."), b["dockerfile"])
        if not os.path.isfile(df): errs.append(f"{name}: no {df}")
    for d in s.get("depends_on", []) or []:
        if d not in svc: errs.append(f"{name}: depends on unknown {d}")
    nm = s.get("network_mode", "")
    if nm.startswith("service:") and nm[8:] not in svc: errs.append(f"{name}: {nm} unknown")
    for n in (s.get("networks") or []):
        if n not in nets: errs.append(f"{name}: unknown network {n}")
    for v in s.get("volumes", []) or []:
        src = v.split(":")[0]
        if src.startswith("."):
            if not os.path.exists(os.path.join(here, src)) and not src.endswith("keys"):
                errs.append(f"{name}: mount source {src} missing")
        elif src not in vols: errs.append(f"{name}: unknown volume {src}")
    if "ALL" not in (s.get("cap_drop") or []): errs.append(f"{name}: does not drop all capabilities")
p = svc.get("probe-c101", {})
if p.get("cap_add") != ["NET_RAW"]: errs.append("probe: cap_add must be exactly [NET_RAW]")
if svc.get("operator", {}).get("cap_add"): errs.append("operator: must not add capabilities")
print("\n".join(errs) or "compose ok")
sys.exit(1 if errs else 0)
EOF
check "compose.yaml loads and is consistent" test "$crc" = 0
sed 's/^/  | /' "$TMP/compose.log"

# Dockerfile: build stage on debian:12, runtime on debian:12-slim, non-root USER, COPY sources
# exist, and the runtime packages provide every library the binary links (NEEDED entries).
dockerfile_ok() { # dockerfile binary
	local df=$1 bin=$2 rt pkgs closure lib f p missing=""
	grep -q '^FROM debian:12 AS build' "$df" || { echo "  no 'FROM debian:12 AS build'"; return 1; }
	[ "$(grep '^FROM' "$df" | tail -n 1)" = "FROM debian:12-slim" ] || { echo "  runtime is not debian:12-slim"; return 1; }
	[ "$(grep '^USER' "$df" | tail -n 1 | awk '{print $2}')" = gatewatch ] || { echo "  last USER is not gatewatch"; return 1; }
	for f in $(grep '^COPY ' "$df" | grep -v -- '--from' | awk '{for (i = 2; i < NF; i++) print $i}'); do
		[ "$f" = . ] || [ -e "$REPO/$f" ] || { echo "  COPY source $f missing"; return 1; }
	done
	rt=$(awk '/^FROM debian:12-slim/ {r = 1} r' "$df")
	pkgs=$(echo "$rt" | tr ' \\' '\n\n' | grep -E '^lib[a-z0-9.+-]+$' | sort -u)
	# shellcheck disable=SC2086
	closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances $pkgs 2>/dev/null | grep -v '^ ' | sed 's/:.*//' | sort -u)
	for lib in $(readelf -d "$bin" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
		f=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
		p=$(dpkg -S "$(readlink -f "$f")" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -n "$p" ] || p=$(dpkg -S "$f" 2>/dev/null | head -n 1 | cut -d: -f1)
		case $p in libc6 | libgcc-s1) continue ;; esac
		grep -qx "$p" <<<"$closure" || missing="$missing $lib($p)"
	done
	[ -z "$missing" ] || { echo "  runtime image lacks:$missing"; return 1; }
}
check "Dockerfile.probe: stages, user, COPY, runtime libs" dockerfile_ok "$D/docker/Dockerfile.probe" "$PROBE"
check "Dockerfile.operator: stages, user, COPY, runtime libs" dockerfile_ok "$D/docker/Dockerfile.operator" "$OPER"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "deploy files: all checks passed"
