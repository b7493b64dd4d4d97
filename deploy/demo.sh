#!/bin/sh
# demo.sh: the whole chain on one machine for a bounded time:
#   rrdcached + gatewatch-operator on this host, a VLAN trunk inside a sealed network
#   namespace, tcpreplay pacing real captures (one VLAN per customer) onto it, and a
#   gatewatch-probe capturing live there and reporting over ZeroMQ (ipc://).
# Usage: demo.sh BUILD_DIR   (env: DEMO_SECONDS=60, DEMO_HTTP=127.0.0.1:8080, DEMO_PPS=400)
set -eu
B=$(cd "${1:-build}" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
PCAPS=${GW_PCAPS:-$TOP/../shared/pcaps}
SECONDS_TOTAL=${DEMO_SECONDS:-60}
HTTP=${DEMO_HTTP:-127.0.0.1:8080}
PPS=${DEMO_PPS:-400}
NS=gw-demo
RUN=$(mktemp -d /tmp/gatewatch-demo.XXXXXX)
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespace, live capture)"; exit 1; }

cleanup() {
	set +e
	for p in probe tcpreplay operator rrdcached; do
		[ -f "$RUN/$p.pid" ] && kill "$(cat "$RUN/$p.pid")" 2>/dev/null
	done
	sleep 1
	[ -f "$RUN/rrdcached.pid" ] && kill -9 "$(cat "$RUN/rrdcached.pid")" 2>/dev/null
	ip netns del $NS 2>/dev/null
	echo "demo: stopped; data kept in $RUN (RRD files in $RUN/rrd, logs *.log)"
}
trap cleanup EXIT INT TERM

# 1. A trunk capture: three real captures, each tagged with its customer's VLAN.
mkdir -p "$RUN/rrd" "$B/demo"
# c103 sits behind a Q-in-Q pair (802.1ad 200 + 802.1Q 10), as on an aggregation trunk.
trunk=$B/demo/trunk-v3.pcap
if [ ! -s "$trunk" ]; then
	python3 "$TOP/tests/lib/pcap_vlan.py" "$PCAPS/netflix.pcap" "$B/demo/v101.pcap" 101
	python3 "$TOP/tests/lib/pcap_vlan.py" "$PCAPS/teams.pcap" "$B/demo/v102.pcap" 102
	python3 "$TOP/tests/lib/pcap_vlan.py" "$PCAPS/youtube_quic.pcap" "$B/demo/v103.pcap" 200.10
	python3 "$TOP/tests/lib/pcap_mix.py" "$trunk" "$B/demo/v101.pcap" "$B/demo/v102.pcap" "$B/demo/v103.pcap"
fi
cat > "$RUN/customers.map" <<MAP
# customer  kind    value
c101        vlan    101
c102        vlan    102
c103        vlan    200.10
MAP

# 2. rrdcached and the operator on this host.
rrdcached -l "unix:$RUN/rrdcached.sock" -p "$RUN/rrdcached.pid" -b "$RUN/rrd" -B \
	-j "$RUN/journal" -w 10 -z 2 -F 2>"$RUN/rrdcached.log" || { mkdir -p "$RUN/journal";
	rrdcached -l "unix:$RUN/rrdcached.sock" -p "$RUN/rrdcached.pid" -b "$RUN/rrd" -B \
	-j "$RUN/journal" -w 10 -z 2 -F; }
"$B/gatewatch-operator" --listen "ipc://$RUN/operator.sock" --http "$HTTP" \
	--rrd-dir "$RUN/rrd" --rrdcached "unix:$RUN/rrdcached.sock" --db "$RUN/gatewatch.db" \
	--dashboard-dir "$TOP/dashboards" >"$RUN/operator.log" 2>&1 &
echo $! >"$RUN/operator.pid"

# 3. A sealed namespace with a veth pair as the trunk; replay on one end, capture on the other.
ip netns del $NS 2>/dev/null || true
ip netns add $NS
ip -n $NS link add trunk0 type veth peer name trunk1
ip -n $NS link set trunk0 up; ip -n $NS link set trunk1 up; ip -n $NS link set lo up
ip netns exec $NS "$B/gatewatch-probe" -i trunk1 --probe-id demo-bridge \
	--customer-map "$RUN/customers.map" --operator "ipc://$RUN/operator.sock" \
	>"$RUN/probe.log" 2>&1 &
echo $! >"$RUN/probe.pid"
sleep 1
ip netns exec $NS tcpreplay -q -i trunk0 --pps "$PPS" --loop 0 --duration "$SECONDS_TOTAL" \
	"$trunk" >"$RUN/tcpreplay.log" 2>&1 &
echo $! >"$RUN/tcpreplay.pid"

echo "gatewatch demo running for ${SECONDS_TOTAL}s"
echo "  Dashboard: http://$HTTP/"
echo "  API:       http://$HTTP/api/v1/customers   (also /api/v1/probes, /metrics)"
echo "  CLI:       $B/gatewatchctl -u http://$HTTP customers"
echo "  RRD files: $RUN/rrd"
end=$(( $(date +%s) + SECONDS_TOTAL ))
while [ "$(date +%s)" -lt "$end" ]; do
	sleep 5
	echo "---- $(date +%T) per-customer link usage (latest interval) ----"
	"$B/gatewatchctl" -u "http://$HTTP" customers || true
done
"$B/gatewatchctl" -u "http://$HTTP" probes || true
