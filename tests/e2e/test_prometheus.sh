#!/bin/bash
# test_prometheus.sh: Debian's Prometheus scrapes the operator's /metrics on loopback and every
# query of dashboards/grafana/gatewatch.json returns data; values equal /api/v1/customers;
# `promtool check metrics` accepts the exposition; the --metrics-max-customers cap holds.
# Data: tests/tools/gen_rtp.py (RTP jitter/loss, TCP handshakes, DNS) replayed by three probes
# with a 60 s interval, so each customer's one (latest) interval has every kind of traffic:
# p1 -> c101 and p2 -> c102 (the whole capture), p3 -> c103 (its DNS only, lower rx bit/s).
# The operator runs with --metrics-max-customers 2: c102 arrives last and pushes c103 out.
. "$GW_TESTS/lib/common.sh"
PY=/usr/bin/python3
DASH=$GW_TESTS/../dashboards/grafana/gatewatch.json
for b in prometheus promtool; do
	command -v $b >/dev/null || gw_fail "$b not installed (Debian package prometheus: make deps)"
done
[ -f "$DASH" ] || gw_fail "no $DASH"

T=$(gw_tmpdir)
gw_cleanup_add "rm -rf '$T'"   # gw_tmpdir runs in a subshell: its own cleanup entry is lost
gw_start_rrdcached "$T"
ZPORT=$(gw_free_port)
HPORT=$(gw_free_port); while [ "$HPORT" = "$ZPORT" ]; do HPORT=$((HPORT + 1)); done
PPORT=$(gw_free_port); while [ "$PPORT" = "$ZPORT" ] || [ "$PPORT" = "$HPORT" ]; do PPORT=$((PPORT + 1)); done
API=http://127.0.0.1:$HPORT
PROM=http://127.0.0.1:$PPORT

"$GW_BUILD/gatewatch-operator" --listen "tcp://127.0.0.1:$ZPORT" --http "127.0.0.1:$HPORT" \
	--rrd-dir "$T/rrd" --rrdcached "unix:$T/rrdcached.sock" --metrics-max-customers 2 \
	>"$T/operator.log" 2>&1 &
OP=$!
gw_cleanup_add "kill $OP 2>/dev/null; wait $OP 2>/dev/null"
gw_wait_http "$API/healthz"

$PY "$GW_TESTS/tools/gen_rtp.py" "$T/rtp.pcap" >/dev/null 2>&1 || gw_fail "gen_rtp.py failed"
# feed PROBE CUSTOMER [BPF]: one offline replay to the operator, then wait until it is live there.
feed() {
	"$GW_BUILD/gatewatch-probe" -r "$T/rtp.pcap" ${3:+-f "$3"} --probe-id "$1" --customer "$2" \
		--lan-prefix 192.0.2.0/24 --interval 60 --operator "tcp://127.0.0.1:$ZPORT" \
		--jsonl "$T/$1.jsonl" 2>"$T/$1.log" || gw_fail "probe $1 failed: $(cat "$T/$1.log")"
	for _ in $(seq 100); do
		curl -sf "$API/api/v1/customers/$2" >/dev/null && return 0
		sleep 0.1
	done
	gw_fail "operator never showed $2"
}
feed p1 c101
feed p3 c103 "udp port 53"

# Prometheus on loopback with its own config and storage, scraping every second.
mkdir -p "$T/prom"
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: gatewatch
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$HPORT']
EOF
promtool check config "$T/prometheus.yml" >"$T/promtool-config.log" 2>&1 \
	|| gw_fail "promtool check config: $(cat "$T/promtool-config.log")"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address="127.0.0.1:$PPORT" --storage.tsdb.retention.time=1h \
	--log.level=warn >"$T/prometheus.log" 2>&1 &
PR=$!
gw_cleanup_add "kill $PR 2>/dev/null; wait $PR 2>/dev/null"

# scrapes N: waits (up to 60 s) until Prometheus holds >= N successful scrapes of the operator.
scrapes() {
	for _ in $(seq 120); do
		kill -0 $PR 2>/dev/null || gw_fail "prometheus exited: $(tail -5 "$T/prometheus.log")"
		n=$(curl -sf "$PROM/api/v1/query" --data-urlencode \
			'query=sum_over_time(up{job="gatewatch"}[10m])' 2>/dev/null |
			$PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)' 2>/dev/null)
		[ "${n:-0}" -ge "$1" ] && return 0
		sleep 0.5
	done
	gw_fail "fewer than $1 successful scrapes: $(tail -5 "$T/prometheus.log")"
}
scrapes 3
c0=$(curl -sf "$API/metrics" | grep -c '^gatewatch_customer_rx_bits_per_second{')
[ "$c0" = 2 ] || gw_fail "before c102: $c0 customers on /metrics, want 2 (c101, c103)"
feed p2 c102       # arrives while Prometheus watches: ingest shows up in rate()/increase()
scrapes 8
gw_ok "prometheus 127.0.0.1:$PPORT scraped the operator"

# /metrics passes promtool's lint. The one finding allowed is the unit of *_bits_per_second:
# link rates are in bit/s on purpose (DESIGN.md: link usage is defined on IP-layer bits).
curl -sf "$API/metrics" >"$T/metrics.txt" || gw_fail "GET /metrics"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.log" 2>&1
rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || gw_fail "promtool check metrics exit $rc: $(cat "$T/promtool.log")"
grep -v 'bits_per_second use base unit "bytes" instead of "bits"' "$T/promtool.log" | grep . \
	&& gw_fail "promtool check metrics found problems (above)"
gw_ok "promtool check metrics: no findings beyond the deliberate bit/s unit"

curl -sf "$API/api/v1/customers" >"$T/customers.json" || gw_fail "customers API"
$PY - "$DASH" "$PROM" "$T/customers.json" "$T/metrics.txt" <<'PY' || gw_fail "dashboard queries"
import json, re, sys, urllib.parse, urllib.request
dash, prom = json.load(open(sys.argv[1])), sys.argv[2]
api = {c["id"]: c for c in json.load(open(sys.argv[3]))["customers"]}
metrics = open(sys.argv[4]).read()

def query(expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    r = json.load(urllib.request.urlopen(url, timeout=10))
    assert r["status"] == "success", (expr, r)
    return r["data"]["result"]

# The dashboard's shape: schema, datasource variable, customer variable.
assert dash["schemaVersion"] >= 36, dash["schemaVersion"]
tv = {v["name"]: v for v in dash["templating"]["list"]}
assert tv["DS_PROMETHEUS"]["type"] == "datasource" and tv["DS_PROMETHEUS"]["query"] == "prometheus"
assert tv["customer"]["query"] == "label_values(gatewatch_customer_rx_bits_per_second, customer)"
m = re.fullmatch(r"label_values\((\w+), (\w+)\)", tv["customer"]["query"])
url = prom + "/api/v1/label/%s/values?%s" % (m[2], urllib.parse.urlencode({"match[]": m[1]}))
values = json.load(urllib.request.urlopen(url, timeout=10))["data"]
assert {"c101", "c102", "c103"} <= set(values), values   # c103 was shown before c102 came

panels = []
for p in dash["panels"]:
    panels += [p] + p.get("panels", [])
targets = [(p, t) for p in panels if p["type"] != "row" for t in p["targets"]]
assert len(targets) >= 14, len(targets)
want = {"rx_bits_per_second", "tx_bits_per_second", "rtt_wan_seconds", "rtt_lan_seconds",
        "jitter_seconds", "rtp_loss_ratio", "dns_latency_seconds"}
seen = set()
# Grafana's substitutions: one customer, and "All" (allValue); 1 s scrapes -> 4 s rate window.
for sel in ("c101", tv["customer"]["allValue"]):
    sub = {"$__rate_interval": "10s", "$__interval": "1s", "$__range": "5m",
           "${customer}": sel, "$customer": sel}
    for p, t in targets:
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
        assert t["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
        expr = t["expr"]
        for k in sorted(sub, key=len, reverse=True):
            expr = expr.replace(k, sub[k])
        assert "$" not in expr, expr
        res = query(expr)
        assert res, "panel %r: %s returned nothing" % (p["title"], expr)
        names = {r["metric"].get("__name__", "") for r in res}
        seen |= {n[len("gatewatch_customer_"):] for n in names}
        if "$customer" in t["expr"] and sel == "c101":
            assert {r["metric"]["customer"] for r in res} == {"c101"}, (expr, res)
        print("ok %-32s %-70s %d series" % (p["title"][:32], expr[:70], len(res)))
assert want <= seen, want - seen

# Spot checks: what Prometheus stored equals what the operator's JSON API says.
def value(metric, cust):
    r = query('%s{customer="%s"}' % (metric, cust))
    assert len(r) == 1, (metric, cust, r)
    return float(r[0]["value"][1])

def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))

for cid in ("c101", "c102"):
    c = api[cid]
    assert c["rtp"]["streams"] > 0 and c["tcp"]["handshakes"] > 0 and c["dns"]["responses"] > 0, c
    checks = {
        "gatewatch_customer_rx_bits_per_second": c["rx_bps"],
        "gatewatch_customer_tx_bits_per_second": c["tx_bps"],
        "gatewatch_customer_rtt_wan_seconds": c["tcp"]["rtt_wan_ms_avg"] / 1000,
        "gatewatch_customer_rtt_lan_seconds": c["tcp"]["rtt_lan_ms_avg"] / 1000,
        "gatewatch_customer_jitter_seconds": c["rtp"]["jitter_ms_avg"] / 1000,
        "gatewatch_customer_rtp_loss_ratio": c["rtp"]["packets_lost"] / c["rtp"]["packets_expected"],
        "gatewatch_customer_dns_latency_seconds": c["dns"]["latency_ms_avg"] / 1000,
        "gatewatch_customer_rx_bytes_total": c["rx_bytes"],
    }
    for metric, want_v in checks.items():
        got = value(metric, cid)
        assert close(got, want_v), (cid, metric, got, want_v)
print("spot checks equal /api/v1/customers for c101, c102")

# The cap: c103 (lowest rx bit/s) is left out now and counted.
assert "c103" in api, api.keys()
assert 'customer="c103"' not in metrics
assert re.search(r"^gatewatch_metrics_customers_omitted 1$", metrics, re.M), "omitted gauge"
assert not query('gatewatch_customer_rx_bits_per_second{customer="c103"}')
assert float(query("gatewatch_metrics_customers_omitted")[0]["value"][1]) == 1
# Prometheus saw c102's envelopes arrive.
inc = float(query('increase(gatewatch_envelopes_total[5m])')[0]["value"][1])
assert inc > 0, inc
PY
gw_ok "every dashboard query returns data; values equal the API; cap keeps the top 2"
