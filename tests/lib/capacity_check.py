#!/usr/bin/env python3
"""capacity_check.py: the independent oracle of tests/integration/test_capacity_report.sh.

1. Rebuilds the synthetic 10 s series of tests/tools/gw-capacity-feed.c from its integer
   definition and derives the 300 s rows librrd must hold (mean over the known seconds,
   unknown when more than 150 s of the 300 are unknown); checks them against `rrdtool xport`.
2. From the xport rows alone computes every report figure (totals, nearest-rank 95th,
   peaks, busy hour, unknown share, QoS, daily 95th, least-squares trend, saturation dates)
   and compares with the operator's /api/v1/reports answers: exactly (1e-9 relative, the
   float sums' order differs) where the definition is exact.
3. `rrdtool graph ... VDEF:...PERCENTNAN PRINT` at a width that keeps the 300 s step:
   checks the row count and that rrdtool's value is the 0-based index round(0.95 (N-1)),
   and reports where that differs from the nearest rank.
4. Top-N ordering, paging and CSV against the same figures.
usage: capacity_check.py API RRD_DIR SOCK T0 DAYS TZ FROM TO
"""
import csv, io, json, math, subprocess, sys, urllib.request, urllib.error
from datetime import datetime
from zoneinfo import ZoneInfo

API, RRD, SOCK = sys.argv[1], sys.argv[2], sys.argv[3]
T0, DAYS = int(sys.argv[4]), int(sys.argv[5])
TZ = ZoneInfo(sys.argv[6])
FROM, TO = int(sys.argv[7]), int(sys.argv[8])
SHAPE = [40, 30, 25, 20, 20, 25, 35, 50, 60, 65, 70, 75,
         80, 80, 85, 90, 100, 115, 130, 150, 160, 140, 100, 60]
CUST = {"grow": (50000000, 600000, 2000, 0, 0), "gap": (20000000, 100000, 5000, 1, 0),
        "shrink": (30000000, -200000, 1000, 0, 0), "qos": (10000000, 0, 3000, 0, 1)}
PLANS = {"grow": (100e6, 20e6), "shrink": (100e6, 20e6)}
DEFAULT_PLAN = (50e6, 10e6)
B0 = T0 + (DAYS - 30) * 86400
SLA = [(B0 + 3 * 86400 + 3600, B0 + 3 * 86400 + 9000), (B0 + 3 * 86400 + 20000, B0 + 3 * 86400 + 22100),
       (B0 + 86400 - 600, B0 + 86400 + 1200)]
checks = 0

def h(x):
    return (x * 2654435761) % (1 << 32)

def skip(c, t):
    if not CUST[c][3]:
        return False
    day = (t - T0) // 86400
    return day in (DAYS - 21, DAYS - 20) or h(t) % 50 == 0 or (day == DAYS - 26 and 10 <= t % 3600 <= 200)

def rx_tx(c, t):
    b, g, j = CUST[c][:3]
    day, hour = (t - T0) // 86400, (t // 3600) % 24
    v = (b + g * day) * SHAPE[hour]
    rx = (v // 100 if v >= 0 else -((-v) // 100)) + (h(t) % 1000) * j   # C truncates
    return rx, rx // 4 + h(t + 1) % 777

def close(a, b, rel=1e-9, what=""):
    global checks
    checks += 1
    if a is None or b is None:
        assert a is None and b is None, (what, a, b)
        return
    assert abs(a - b) <= rel * max(1.0, abs(a), abs(b)), (what, a, b)

def get(path):
    with urllib.request.urlopen(API + path) as r:
        return r.read(), r.headers.get("Content-Type")

def getj(path):
    return json.loads(get(path)[0])

def xport(c, start, end):
    f = f"{RRD}/5m/{c}.rrd"
    args = ["rrdtool", "xport", "--daemon", SOCK, "--json", "--start", str(start), "--end", str(end),
            "--step", "300", "--maxrows", "20000"]
    ds = ["rx_bytes", "tx_bytes", "rtt_wan_ms", "jitter_ms", "rtp_loss_pct", "dns_ms"]
    for i, d in enumerate(ds):
        args += [f"DEF:v{i}={f}:{d}:AVERAGE:step=300", f"XPORT:v{i}:{d}"]
    j = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    m = j["meta"]
    assert m["step"] == 300, m
    rows = {}
    for i, vals in enumerate(j["data"]):
        t = m["start"] + i * m["step"]          # the row's end time
        rows[t] = dict(zip(ds, [None if v is None else float(v) for v in vals]))
    return rows

def expected_rows(c, start, end):
    out = {}
    for e in range(start + 300, end + 1, 300):
        k, srx, stx = 0, 0.0, 0.0
        for t in range(e - 290, e + 1, 10):
            if t <= T0 or skip(c, t):
                continue
            rx, tx = rx_tx(c, t)
            k, srx, stx = k + 1, srx + rx / 10.0, stx + tx / 10.0
        out[e] = None if (30 - k) * 10 > 150 else (srx / k, stx / k)
    return out

def rrd_index(n):
    """rrdtool's PERCENTNAN index: C round() (half away from zero) of 0.95 (N - 1)."""
    return math.floor(0.95 * (n - 1) + 0.5)

def nearest_rank(v, p=95):
    v = sorted(v)
    return v[(p * len(v) + 99) // 100 - 1] if v else None

def local(t):
    return datetime.fromtimestamp(t, TZ)

def lsq(xs, ys):
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs); sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    syy = sum((y - my) ** 2 for y in ys)
    b = sxy / sxx
    return b, my - b * mx, sxy / math.sqrt(sxx * syy) if syy > 0 else 0.0

def oracle(c, rows, gen):
    """Every report figure of customer c for [FROM, TO) from the xport rows; daily 95th values
    (12 weeks, longer ago than the RRD's 32 days of 300 s rows) from the generator's rows."""
    per = [(t, r) for t, r in sorted(rows.items()) if FROM < t <= TO]
    known = [(t, r) for t, r in per if r["rx_bytes"] is not None and r["tx_bytes"] is not None]
    o = {"rows": len(per), "known_rows": len(known), "unknown_share": 1 - len(known) / len(per)}
    for d, key in (("rx", "rx_bytes"), ("tx", "tx_bytes"), ("max", None)):
        v = [(t, max(r["rx_bytes"], r["tx_bytes"]) * 8 if key is None else r[key] * 8) for t, r in known]
        peak = max(v, key=lambda x: (x[1], -x[0]))
        o[d] = {"p95_bps": nearest_rank([x for _, x in v]), "peak_bps": peak[1], "peak_ts": peak[0],
                "mean_bps": sum(x for _, x in v) / len(v),
                "total_bytes": None if key is None else sum(r[key] for _, r in known) * 300}
    hours = {}
    for t, r in known:
        hours.setdefault(local(t - 300).hour, []).append((r["rx_bytes"] + r["tx_bytes"]) * 8)
    means = {hh: sum(v) / len(v) for hh, v in hours.items()}
    o["busy_hour"] = max(sorted(means), key=lambda hh: means[hh])
    o["hour_mean_bps"] = [means.get(hh) for hh in range(24)]
    o["qos"] = {}
    for q in ("rtt_wan_ms", "jitter_ms", "rtp_loss_pct", "dns_ms"):
        v = [r[q] for _, r in per if r[q] is not None]
        o["qos"][q] = {"samples": len(v), "p95": nearest_rank(v), "mean": sum(v) / len(v) if v else None}
    # daily 95th of local days inside the 300 s rows (here: every day fed), >= half known
    days, d = [], local(T0).date()
    while True:
        d0 = int(datetime(d.year, d.month, d.day, tzinfo=TZ).timestamp())
        nd = local(d0 + 90000).date()          # the next local day
        d1 = int(datetime(nd.year, nd.month, nd.day, tzinfo=TZ).timestamp())
        if d1 > TO:
            break
        if d0 >= TO - 84 * 86400:
            kk = [r for t, r in gen.items() if d0 < t <= d1 and r is not None]
            if kk and 2 * len(kk) >= (d1 - d0) // 300:
                days.append((d0, nearest_rank([r[0] * 8 for r in kk]),
                             nearest_rank([r[1] * 8 for r in kk])))
        d = nd
    o["days"] = days
    plan = PLANS.get(c, DEFAULT_PLAN)
    o["trend"] = {}
    for i, dname in ((1, "rx"), (2, "tx")):
        xs = [(x[0] - days[0][0]) / 86400 for x in days]; ys = [x[i] for x in days]
        b, a, r = lsq(xs, ys)
        last = a + b * xs[-1]
        p = plan[0] if dname == "rx" else plan[1]
        o["trend"][dname] = {"slope_bps_per_day": b, "intercept_bps": a, "r": r, "days": len(days),
                             "growth_pct_month": 100 * b * 30.4375 / last if last > 0 else None,
                             "saturation_80_ts": days[0][0] + round((0.8 * p - a) / b * 86400) if b > 0 else None,
                             "saturation_100_ts": days[0][0] + round((p - a) / b * 86400) if b > 0 else None}
    sla = 0.0
    if c == "qos":
        for a, b in SLA:
            lo, hi = max(a, FROM), min(b, TO)
            sla += max(0, hi - lo)
    o["sla"] = sla / 60.0
    return o

def rrdtool_pct(c, ds, start=None, end=None):
    f = f"{RRD}/5m/{c}.rrd"
    start, end = start or FROM, end or TO
    width = (end - start) // 300 + 10      # >= one pixel per row: graph keeps the 300 s step
    # graph's rows are the ones whose interval starts in [start, end]: end - 300 gives (start, end]
    out = subprocess.run(["rrdtool", "graph", "/dev/null", "--daemon", SOCK, "--start", str(start),
                          "--end", str(end - 300), "--width", str(width),
                          f"DEF:x={f}:{ds}:AVERAGE", "CDEF:b=x,8,*", "VDEF:p=b,95,PERCENTNAN",
                          "PRINT:p:%.17le", "CDEF:one=x,UN,0,1,IF", "VDEF:n=one,TOTAL", "PRINT:n:%.1lf",
                          "VDEF:f=x,FIRST", "PRINT:f:%.0lf %s", "VDEF:l=x,LAST", "PRINT:l:%.0lf %s"],
                         check=True, capture_output=True, text=True).stdout.split("\n")
    return float(out[1]), round(float(out[2]) / 300), out[3], out[4]

def main():
    global checks
    notes = []
    for c in CUST:
        rows = xport(c, TO - 31 * 86400, T0 + DAYS * 86400)     # inside the 300 s archive
        exp = expected_rows(c, T0, T0 + DAYS * 86400)
        for t, e in exp.items():
            if t <= min(rows):
                continue                     # before the 300 s rows: daily values only
            r = rows.get(t)
            assert r is not None, (c, t, "row missing in xport")
            if e is None:
                assert r["rx_bytes"] is None, (c, t, r, "should be unknown")
            else:
                close(r["rx_bytes"], e[0], 1e-10, f"{c} rx row {t}")   # xport prints 11 digits
                close(r["tx_bytes"], e[1], 1e-10, f"{c} tx row {t}")
        o = oracle(c, rows, exp)
        rep = getj(f"/api/v1/reports/customers/{c}?from={FROM}&to={TO}")
        assert rep["step_s"] == 300 and rep["exact"] is True, rep
        for k in ("rows", "known_rows"):
            assert rep[k] == o[k], (c, k, rep[k], o[k])
        close(rep["unknown_share"], o["unknown_share"], 1e-12, "unknown")
        for d in ("rx", "tx", "max"):
            assert rep[d]["peak_ts"] == o[d]["peak_ts"], (c, d, rep[d]["peak_ts"], o[d]["peak_ts"])
            # the same sample (values are distinct far beyond xport's 11 printed digits)
            close(rep[d]["p95_bps"], o[d]["p95_bps"], 1e-10, f"{c} {d} p95")
            close(rep[d]["peak_bps"], o[d]["peak_bps"], 1e-10, f"{c} {d} peak")
            close(rep[d]["mean_bps"], o[d]["mean_bps"], 1e-9, f"{c} {d} mean")
            close(rep[d]["total_bytes"], o[d]["total_bytes"], 1e-9, f"{c} {d} total")
        assert rep["busy_hour"] == o["busy_hour"], (c, rep["busy_hour"], o["busy_hour"])
        for hh in range(24):
            close(rep["hour_mean_bps"][hh], o["hour_mean_bps"][hh], 1e-9, f"{c} hour {hh}")
        for q, v in o["qos"].items():
            assert rep["qos"][q]["samples"] == v["samples"], (c, q)
            close(rep["qos"][q]["p95"], v["p95"], 1e-10, f"{c} {q} p95")
            close(rep["qos"][q]["mean"], v["mean"], 1e-9, f"{c} {q} mean")
        close(rep["qos"]["sla_breach_minutes"], o["sla"], 1e-9, f"{c} sla")
        daily = getj(f"/api/v1/reports/customers/{c}/daily?from={FROM}&to={TO}")
        assert [d["day_ts"] for d in daily["days"]] == [d[0] for d in o["days"]], \
            (c, daily["days"][:3], o["days"][:3])
        for got, want in zip(daily["days"], o["days"]):
            close(got["rx_p95_bps"], want[1], 1e-10, f"{c} daily rx")
            close(got["tx_p95_bps"], want[2], 1e-10, f"{c} daily tx")
        for d in ("rx", "tx"):
            got, want = rep["trend"][d], o["trend"][d]
            assert got["fitted"] and got["days"] == want["days"], (c, d, got)
            # xport's 11 digits limit the daily values to ~1e-10 relative: scale by their level
            ymean = sum(x[1 if d == "rx" else 2] for x in o["days"]) / len(o["days"])
            for k, scale in (("slope_bps_per_day", ymean), ("intercept_bps", ymean), ("r", 1e-3 / 1e-9),
                             ("growth_pct_month", 1e-3 / 1e-9)):
                checks += 1
                assert abs(got[k] - want[k]) <= 1e-9 * scale, (c, d, k, got[k], want[k])
            for k in ("saturation_80_ts", "saturation_100_ts"):
                checks += 1
                assert (got[k] is None) == (want[k] is None), (c, d, k, got[k], want[k])
                if got[k] is not None:
                    assert abs(got[k] - want[k]) <= 1 + 1e-6 * abs(want[k] - got["t0"]), (c, d, k, got[k], want[k])
            verdict = "no saturation in sight" if want["slope_bps_per_day"] <= 0 else \
                "plan rate reached" if want["saturation_100_ts"] <= o["days"][-1][0] else "saturating"
            assert got["verdict"] == verdict, (c, d, got["verdict"])
        # rrdtool's own percentile at the native step
        for ds, d in (("rx_bytes", "rx"), ("tx_bytes", "tx")):
            p, n, first, last = rrdtool_pct(c, ds)
            vals = sorted(r[ds] * 8 for t, r in rows.items() if r[ds] is not None and FROM < t <= TO)
            assert n == len(vals) == o["known_rows"], (c, ds, n, len(vals), first, last)
            close(p, vals[rrd_index(n)], 1e-10, f"{c} {ds} rrdtool index")
            nr_index = (95 * n + 99) // 100 - 1
            if nr_index == rrd_index(n):
                close(p, rep[d]["p95_bps"], 1e-14, f"{c} {ds} rrdtool = API")   # the same sample, to an ulp
            if nr_index != rrd_index(n):
                notes.append(f"{c} {ds}: N={n} rrdtool PERCENTNAN {p:.6g} (index round(0.95(N-1))) "
                             f"vs nearest rank {o[d]['p95_bps']:.6g}")
            else:
                notes.append(f"{c} {ds}: N={n} rrdtool PERCENTNAN = nearest rank = {p:.6g}")
        # CSV of the report has the same figures
        body, ctype = get(f"/api/v1/reports/customers/{c}?from={FROM}&to={TO}&format=csv")
        assert ctype.startswith("text/csv"), ctype
        kv = dict(csv.reader(io.StringIO(body.decode())))
        assert float(kv["rx.p95_bps"]) == rep["rx"]["p95_bps"] and int(kv["busy_hour"]) == o["busy_hour"], kv
        close(float(kv["tx.total_bytes"]), o["tx"]["total_bytes"], 1e-9, "csv total")
        # top applications: the generator's per-step app bytes summed over the local days of the period
        apps = {"TLS": [0, 0], "DNS": [0, 0], "QUIC": [0, 0]}
        for t in range(FROM, TO, 10):
            if t <= T0 or skip(c, t):
                continue
            rx, tx = rx_tx(c, t)
            tls = (rx * 3 // 4, tx * 3 // 4); dns = (1000 + h(t + 6) % 100, 500)
            for name, v in (("TLS", tls), ("DNS", dns), ("QUIC", (rx - tls[0] - dns[0], tx - tls[1] - dns[1]))):
                apps[name][0] += v[0]; apps[name][1] += v[1]
        want = sorted(apps.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))
        got = [(a["app"], [a["rx_bytes"], a["tx_bytes"]]) for a in rep["top_apps"]]
        assert got == [(k, [float(v[0]), float(v[1])]) for k, v in want], (c, got, want)
        checks += 1
        assert float(kv["app.TLS.rx_bytes"]) == apps["TLS"][0], kv
        CUST[c] = CUST[c] + (o,)
    # A period of N = 8635 rows (N mod 20 = 15): rrdtool's PERCENTNAN is one rank below the
    # nearest rank; the report keeps the nearest rank.
    end = TO - 5 * 300
    rows = xport("grow", FROM - 300, end)
    vals = sorted(r["rx_bytes"] * 8 for t, r in rows.items() if FROM < t <= end)
    n = len(vals)
    rep = getj(f"/api/v1/reports/customers/grow?from={FROM}&to={end}")
    p, rn, _, _ = rrdtool_pct("grow", "rx_bytes", FROM, end)
    assert n == rn == 8635 and rep["known_rows"] == n, (n, rn)
    close(rep["rx"]["p95_bps"], vals[(95 * n + 99) // 100 - 1], 1e-10, "nearest rank N=8635")
    close(p, vals[rrd_index(n)], 1e-10, "rrdtool N=8635")
    assert p < rep["rx"]["p95_bps"], (p, rep["rx"]["p95_bps"])
    notes.append(f"grow rx_bytes to={end}: N={n} nearest rank (report) {rep['rx']['p95_bps']:.10g}, "
                 f"rrdtool PERCENTNAN {p:.10g} (rank {rrd_index(n) + 1} instead of {(95 * n + 99) // 100})")
    # top-N: every key, both orders, paging, CSV
    figs = {c: v[5] for c, v in CUST.items()}
    def key(c, by):
        o = figs[c]
        if by == "p95": return o["max"]["p95_bps"]
        if by == "total": return o["rx"]["total_bytes"] + o["tx"]["total_bytes"]
        if by == "growth": return max(o["trend"]["rx"]["growth_pct_month"], o["trend"]["tx"]["growth_pct_month"])
        if by == "sla": return o["sla"]
        s = [x for x in (o["trend"]["rx"]["saturation_100_ts"], o["trend"]["tx"]["saturation_100_ts"]) if x]
        return min(s) if s else None
    for by in ("p95", "total", "growth", "saturation", "sla"):
        for order in ("asc", "desc"):
            top = getj(f"/api/v1/reports/top?by={by}&order={order}&from={FROM}&to={TO}&limit=10")
            known = sorted((c for c in figs if key(c, by) is not None),
                           key=lambda c: (key(c, by) if order == "asc" else -key(c, by), c))
            want = known + sorted(c for c in figs if key(c, by) is None)
            got = [r["customer"] for r in top["rows"]]
            assert got == want and top["total"] == len(figs), (by, order, got, want)
            checks += 1
    page = getj(f"/api/v1/reports/top?by=p95&from={FROM}&to={TO}&offset=1&limit=2")
    full = getj(f"/api/v1/reports/top?by=p95&from={FROM}&to={TO}")
    assert [r["customer"] for r in page["rows"]] == [r["customer"] for r in full["rows"]][1:3], page
    body, ctype = get(f"/api/v1/reports/top?by=total&from={FROM}&to={TO}&format=csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert ctype.startswith("text/csv") and [r["customer"] for r in rows] == \
        [r["customer"] for r in getj(f"/api/v1/reports/top?by=total&from={FROM}&to={TO}")["rows"]], rows
    for r in rows:
        close(float(r["total_bytes"]), key(r["customer"], "total"), 1e-9, "top csv")
    print(f"capacity figures checked: {checks}")
    for n in notes:
        print("note:", n)

main()
